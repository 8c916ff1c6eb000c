"""TREC run files: one ``qid Q0 docid rank score tag`` line per hit, each field one word whatever the ids."""

from __future__ import annotations

import re

#: What would split a field or a line: whitespace (any Unicode space, newlines) and control characters.
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def field(value: str) -> str:
    """``value`` as one TREC field: as it is when it holds no whitespace or control character (every
    file id, and most ids), else with those characters and its ``%`` percent-encoded as UTF-8, so that
    ``urllib.parse.unquote`` gives the id back. An empty value is ``-``, never an empty column."""
    if not value:
        return "-"
    if not _UNSAFE.search(value):
        return value
    return "".join(_quote(ch) if ch == "%" or _UNSAFE.fullmatch(ch) else ch for ch in value)


def _quote(ch: str) -> str:
    return "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))


def run_line(qid: str, doc_id: str, rank: int, score: float, tag: str) -> str:
    """One line of a TREC run file, ending in a newline."""
    return f"{field(qid)} Q0 {field(doc_id)} {rank} {score:.6f} {field(tag)}\n"
