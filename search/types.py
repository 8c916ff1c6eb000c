"""Plain data passed between the parts: documents, passages, hits and responses."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One article as indexed.

    ``text`` is the body that is indexed (title line removed, trailing site
    boilerplate stripped); the source file itself is never modified.
    """

    doc_id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    url: str = ""
    lang: str = "hi"
    origin: str = ""  # where it came from: a file path, or "file.jsonl:LINE"


@dataclass(frozen=True)
class Passage:
    """A sentence-aligned chunk of a document body; ``start``/``end`` index ``Document.text``."""

    passage_id: str  # "doc_id#n"
    doc_id: str
    n: int
    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Report:
    """A problem with one input (skipped file, malformed line, ...)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"
