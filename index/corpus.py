"""Corpus readers: folders of .txt/.md articles and JSONL files become Documents, bad inputs become Reports."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Union

from search.analysis import normalize
from search.errors import CorpusError
from search.settings import MAX_DOCUMENT_BYTES
from search.types import Document, Report

TEXT_SUFFIXES = frozenset({".txt", ".md"})
JSONL_SUFFIXES = frozenset({".jsonl"})
HTML_SUFFIXES = frozenset({".html", ".htm"})  # saved pages: read by the ingest extractor (index/ingest/extract.py)
JSONL_FIELDS = ("title", "date", "source", "url", "lang")

# Lines that end a scraped article: the line and everything after it are dropped,
# when found among the last lines of the file.
_CUT_MARKERS = re.compile(
    r"(leave a (reply|comment)|(share|like) this:?$|related( posts?| articles?| news)?:?$|"
    r"इसे शेयर करें\s*:?$|संबंधित (खबरें|ख़बरें|पोस्ट)\s*:?$)",
    re.IGNORECASE,
)
# Single boilerplate lines stripped from the end of the body, repeatedly.
_TRAILING_BOILERPLATE = re.compile(
    r"(back to top( button)?|source link|source|credit by .*|"
    r"this post was first published on .*|your email address will not be published.*|"
    r"हमें यहां व्हाट्सएप पर फॉलो करें.*|.*follow us on (whatsapp|twitter|facebook|google news).*)$",
    re.IGNORECASE,
)
_TAIL_LINES = 15  # boilerplate is looked for only among this many last non-empty lines

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_HINDI_MONTHS = {
    "जनवरी": 1, "फरवरी": 2, "फ़रवरी": 2, "मार्च": 3, "अप्रैल": 4, "अप्रेल": 4, "मई": 5, "जून": 6,
    "जुलाई": 7, "अगस्त": 8, "सितंबर": 9, "सितम्बर": 9, "अक्टूबर": 10, "अक्तूबर": 10, "नवंबर": 11,
    "नवम्बर": 11, "दिसंबर": 12, "दिसम्बर": 12,
}
_WEEKDAY = (
    r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|rsday|urday)?\.?"
    r"|सोमवार|मंगलवार|बुधवार|गुरुवार|बृहस्पतिवार|शुक्रवार|शनिवार|रविवार),?\s+"
)
_ORD = r"(?:st|nd|rd|th)?"
_DATE_MDY = re.compile(rf"(?:{_WEEKDAY})?(?P<month>[^\s\d.,]+)\.?\s+(?P<day>\d{{1,2}}){_ORD},?\s+(?P<year>\d{{4}})")
_DATE_DMY = re.compile(rf"(?:{_WEEKDAY})?(?P<day>\d{{1,2}}){_ORD}\s+(?P<month>[^\s\d.,]+)\.?,?\s+(?P<year>\d{{4}})")
_DATE_ISO = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})(?:[T ][\d:.+Z-]*)?")
_DATE_NUMERIC = re.compile(r"(?P<day>\d{1,2})[/.](?P<month>\d{1,2})[/.](?P<year>\d{4})")  # day first


@dataclass(frozen=True)
class CorpusRead:
    """What reading a corpus gave: the documents, and a report for every input that was skipped."""

    documents: tuple[Document, ...]
    reports: tuple[Report, ...]


PathLike = Union[str, Path]


def read_corpus(paths: Iterable[PathLike], strict: bool = False,
                max_document_bytes: int = MAX_DOCUMENT_BYTES) -> CorpusRead:
    """Read folders (recursively), ``.txt``/``.md`` files and ``.jsonl`` files into documents.

    A file in a folder is identified by its path relative to that folder, without the suffix
    (``a/report``), with whitespace and control characters replaced by ``_``; a file named alone by its
    stem; a JSONL line by its ``id``. Bad inputs (not UTF-8, binary, empty, malformed or too deeply nested
    JSONL lines, larger than ``max_document_bytes``, gone or unreadable by the time they are read,
    duplicate ids) are skipped and reported by name; with ``strict=True`` any report raises
    :class:`CorpusError` instead. A missing path or an unsupported file type raises :class:`CorpusError`.
    """
    files = list(_corpus_files([Path(p) for p in paths]))
    documents: list[Document] = []
    reports: list[Report] = []
    seen: dict[str, str] = {}
    for path, doc_id in files:
        if path.suffix.lower() in JSONL_SUFFIXES:
            items = _read_jsonl(path, max_document_bytes)
        elif path.suffix.lower() in HTML_SUFFIXES:
            items = _read_html_file(path, doc_id, max_document_bytes)
        else:
            items = _read_text_file(path, doc_id, max_document_bytes)
        for item in items:
            if isinstance(item, Report):
                reports.append(item)
            elif item.doc_id in seen:
                reports.append(Report(item.origin, f"duplicate id {item.doc_id!r} (first seen in {seen[item.doc_id]}); "
                                                   "skipped, give each document a unique id"))
            else:
                seen[item.doc_id] = item.origin
                documents.append(item)
    if strict and reports:
        shown = "; ".join(str(r) for r in reports[:3])
        more = f" and {len(reports) - 3} more" if len(reports) > 3 else ""
        raise CorpusError(f"{len(reports)} problem(s) reading the corpus: {shown}{more}",
                          "fix or remove those inputs, or read without strict mode to skip them")
    return CorpusRead(tuple(documents), tuple(reports))


def content_hash(doc: Document) -> str:
    """SHA-256 (hex) of every field except ``origin``: equal hashes mean nothing to re-index."""
    fields = asdict(doc)
    fields.pop("origin", None)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _corpus_files(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """Each file to read, with the id a text file gets: its path in the folder named, or its stem."""
    if not paths:
        raise CorpusError("no corpus paths given", "name a folder, a .txt/.md file or a .jsonl file")
    for path in paths:
        if not path.exists():
            raise CorpusError(f"corpus path not found: {path}", "check the spelling, or give a folder of .txt files")
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and _wanted(p, path)]
            for p in sorted(found, key=lambda p: p.relative_to(path).as_posix()):
                yield p, file_id(p.relative_to(path).with_suffix("").as_posix())
        elif path.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES | HTML_SUFFIXES:
            yield path, file_id(path.stem)
        else:
            raise CorpusError(f"unsupported corpus file type: {path}",
                              "give .txt, .md, .html or .jsonl files, or a folder")


_UNSAFE_IN_ID = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def file_id(name: str) -> str:
    """A file's document id: its name with runs of whitespace and control characters as ``_``, so that
    the id is one word wherever it is written (a TREC run, a URL, a log line)."""
    return _UNSAFE_IN_ID.sub("_", name).strip("_") or "_"


def _too_large(size: int, limit: int) -> str:
    return (f"larger than the {limit / 2**20:g} MB a document may be ({size:,} bytes); split it into "
            f"several documents, or raise the limit (SANGAM_MAX_DOCUMENT_MB)")


def _read_bytes(path: Path, limit: int) -> tuple[bytes | None, str]:
    """The file's bytes, or ``None`` and why not: gone (deleted while the corpus was read), unreadable,
    or larger than ``limit`` (not read at all)."""
    try:
        size = path.stat().st_size
        if limit and size > limit and path.suffix.lower() not in JSONL_SUFFIXES:
            return None, _too_large(size, limit)
        return path.read_bytes(), ""
    except FileNotFoundError:
        return None, "the file was removed while the corpus was being read; skipped (index again to include it)"
    except OSError as err:
        return None, f"cannot be read ({err.strerror or err}); check its permissions"


def _wanted(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    if any(part.startswith(".") for part in parts):
        return False  # .git, editor backups, ...
    return path.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES | HTML_SUFFIXES


def _read_html_file(path: Path, doc_id: str, limit: int = MAX_DOCUMENT_BYTES) -> Iterator[Document | Report]:
    from index.ingest.extract import read_saved_page

    data, reason = _read_bytes(path, limit)
    yield Report(str(path), reason) if data is None else read_saved_page(data, str(path), doc_id)


def _decode(data: bytes) -> tuple[str | None, str]:
    """The text of ``data``, or ``None`` and the reason it is not usable text."""
    if b"\x00" in data:
        return None, "binary file (contains NUL bytes); give a UTF-8 text file"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, (f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                      "re-save it as UTF-8")
    if text:
        controls = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch not in "\t\n\r\f")
        if controls > 0.1 * len(text):
            return None, "binary file (mostly control characters); give a UTF-8 text file"
    return text, ""


def _read_text_file(path: Path, doc_id: str, limit: int = MAX_DOCUMENT_BYTES) -> Iterator[Document | Report]:
    where = str(path)
    data, reason = _read_bytes(path, limit)
    if data is None:
        yield Report(where, reason)
        return
    text, reason = _decode(data)
    if text is None:
        yield Report(where, reason)
        return
    if not text.strip():
        yield Report(where, "empty document (no text); remove the file or add the article text")
        return
    title, date, body = parse_article(text, markdown=path.suffix.lower() == ".md")
    if not body:
        yield Report(where, "empty document (only a title, no body text); add the article text")
        return
    yield Document(doc_id=doc_id, title=title, text=body, date=date, origin=where)


def parse_article(text: str, markdown: bool = False) -> tuple[str, str, str]:
    """``(title, date, body)`` of a scraped article: leading date line, headline, cleaned body."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    i, date, title = 0, "", ""
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        found = parse_date(line)
        if found:
            date = date or found
            continue
        title = _clean_title(line.lstrip("#").strip() if markdown else line)
        break
    # Drop repeats of the headline (and a date line) at the top of the body.
    while i < len(lines):
        line = lines[i].strip()
        if not line or _same_headline(line, title):
            i += 1
        elif not date and parse_date(line):
            date = parse_date(line)
            i += 1
        else:
            break
    body = _strip_boilerplate(lines[i:])
    return title, date, _tidy(body)


def parse_date(line: str) -> str:
    """ISO ``YYYY-MM-DD`` if the whole line is a date ("Fri. Nov 22nd, 2024", "22 नवंबर 2024"), else ``""``.

    A line that looks like a date but is not a valid one is returned as written.
    """
    line = line.strip()
    if len(line) > 40:
        return ""
    digits = line.translate(str.maketrans("०१२३४५६७८९", "0123456789"))
    for pattern in (_DATE_MDY, _DATE_DMY, _DATE_ISO, _DATE_NUMERIC):
        match = pattern.fullmatch(digits) or pattern.fullmatch(digits.lower())
        if not match:
            continue
        month = _month(match.group("month"))
        if month is None:
            continue
        try:
            return datetime.date(int(match.group("year")), month, int(match.group("day"))).isoformat()
        except ValueError:
            return line
    return ""


def _month(name: str) -> int | None:
    if name.isdigit():
        return int(name)
    lowered = name.lower()
    if lowered in _MONTHS:
        return _MONTHS[lowered]
    return _hindi_months().get(normalize(name))


@lru_cache(maxsize=1)
def _hindi_months() -> dict[str, int]:
    # Compared normalised, so "नवम्बर", "नवंबर" and nukta variants all match.
    return {normalize(name): number for name, number in _HINDI_MONTHS.items()}


def _clean_title(line: str) -> str:
    # "Headline – #INA" (a site hashtag) and "Headline | Section name" (a site label).
    line = re.sub(r"\s+[-–—]\s+#\w+$", "", line)
    head, sep, tail = line.rpartition(" | ")
    if sep and len(tail) < len(head):
        line = head
    return line.strip()


def _same_headline(line: str, title: str) -> bool:
    """Whether ``line`` repeats the headline, perhaps with a site prefix or suffix added or dropped."""
    a, b = normalize(_clean_title(line)), normalize(title)
    a, b = " ".join(a.split()), " ".join(b.split())
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return short in long and len(short) >= 0.6 * len(long)


def _strip_boilerplate(lines: list[str]) -> list[str]:
    nonempty = [n for n, line in enumerate(lines) if line.strip()]
    tail = nonempty[-_TAIL_LINES:]
    for n in tail:
        if _CUT_MARKERS.match(lines[n].strip()):
            lines = lines[:n]
            break
    while True:
        while lines and not lines[-1].strip():
            lines.pop()
        if lines and _TRAILING_BOILERPLATE.fullmatch(lines[-1].strip()):
            lines.pop()
        else:
            return lines


def _tidy(lines: list[str]) -> str:
    """Join lines, keeping paragraph breaks but at most one blank line in a row."""
    out: list[str] = []
    for line in lines:
        if line.strip() or (out and out[-1].strip()):
            out.append(line)
    return "\n".join(out).strip()


def _read_jsonl(path: Path, limit: int = MAX_DOCUMENT_BYTES) -> Iterator[Document | Report]:
    data, reason = _read_bytes(path, limit)
    if data is None:
        yield Report(str(path), reason)
        return
    if b"\x00" in data:
        yield Report(str(path), "binary file (contains NUL bytes); give a UTF-8 JSONL file")
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{path}:{number}"
        if not raw.strip():
            continue
        if limit and len(raw) > limit:
            yield Report(where, _too_large(len(raw), limit))
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield Report(where, f"not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start} of the line); "
                                "re-save the file as UTF-8")
            continue
        yield _jsonl_document(line, where)


def _jsonl_document(line: str, where: str) -> Document | Report:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return Report(where, f"malformed JSON ({err.msg} at column {err.colno}); "
                             'write one object per line, e.g. {"id": "a1", "text": "..."}')
    except RecursionError:
        return Report(where, "JSON nested too deeply to read; "
                             'write one flat object per line, e.g. {"id": "a1", "text": "..."}')
    if not isinstance(obj, dict):
        return Report(where, f"not a JSON object (got {type(obj).__name__}); "
                             'write one object per line, e.g. {"id": "a1", "text": "..."}')
    for key in ("id", "text"):
        if key not in obj:
            return Report(where, f'missing "{key}"; every line needs "id" and "text" strings')
        if not isinstance(obj[key], str):
            return Report(where, f'"{key}" must be a string, not {type(obj[key]).__name__}')
    if not obj["id"].strip():
        return Report(where, 'empty "id"; give every document a unique non-empty id')
    if not obj["text"].strip():
        return Report(where, f'empty document ("text" is empty) for id {obj["id"]!r}; add the text or drop the line')
    extra = {}
    for key in JSONL_FIELDS:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return Report(where, f'"{key}" must be a string, not {type(value).__name__}')
        extra[key] = value
    extra.setdefault("lang", "hi")
    return Document(doc_id=obj["id"], text=obj["text"], origin=where, **{"title": "", **extra})
