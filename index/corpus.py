"""Corpus readers: folders of .txt/.md articles and JSONL files become Documents, bad inputs become Reports.

Each document's news metadata is normalised here: its date to ISO-8601 (``index/dates.py``; the string
as written is kept in ``date_raw``), its source to one display name per outlet, its language to a short
BCP-47 tag."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, Union
from urllib.parse import urlsplit

from search.analysis import detect_script, normalize
from search.errors import CorpusError
from search.scope import source_key
from search.settings import MAX_DOCUMENT_BYTES
from search.types import Document, Report

from .dates import DateConfig, crawl_time_of, looks_like_date, parse_date

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".md"})
JSONL_SUFFIXES = frozenset({".jsonl"})
HTML_SUFFIXES = frozenset({".html", ".htm"})  # saved pages: read by the ingest extractor (index/ingest/extract.py)
#: ``date_raw``: the date as first written, when ``date`` is already its ISO form (a re-built index's rows)
JSONL_FIELDS = ("title", "date", "date_raw", "source", "url", "lang")

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

@dataclass(frozen=True)
class CorpusRead:
    """What reading a corpus gave: the documents, and a report for every input that was skipped."""

    documents: tuple[Document, ...]
    reports: tuple[Report, ...]
    #: documents read with a problem in their metadata (an invalid date, left empty): not skipped
    warnings: tuple[Report, ...] = ()


PathLike = Union[str, Path]


def read_corpus(paths: Iterable[PathLike], strict: bool = False,
                max_document_bytes: int = MAX_DOCUMENT_BYTES, dates: DateConfig | None = None) -> CorpusRead:
    """Read folders (recursively), ``.txt``/``.md`` files and ``.jsonl`` files into documents.

    A file in a folder is identified by its path relative to that folder, without the suffix
    (``a/report``), with whitespace and control characters replaced by ``_``; a file named alone by its
    stem; a JSONL line by its ``id``. Bad inputs (not UTF-8, binary, empty, malformed or too deeply nested
    JSONL lines, larger than ``max_document_bytes``, gone or unreadable by the time they are read,
    duplicate ids) are skipped and reported by name; with ``strict=True`` any report raises
    :class:`CorpusError` instead. A missing path or an unsupported file type raises :class:`CorpusError`.

    Dates are parsed with ``dates``; a relative one ("2 घंटे पहले") counts back from the crawl time: a
    JSONL line's ``fetched_at`` (``search ingest`` writes it), else the file's modification time (when it
    was saved, and stable from build to build, unlike the build time). A date that cannot be read is
    left empty, logged and listed in ``warnings``; the document is still read.
    """
    files = list(_corpus_files([Path(p) for p in paths]))
    documents: list[Document] = []
    reports: list[Report] = []
    warnings: list[Report] = []
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
                continue
            item, warning = with_news_metadata(*item, dates)
            if warning is not None:
                warnings.append(warning)
            if item.doc_id in seen:
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
    return CorpusRead(tuple(stable_source_names(documents)), tuple(reports), tuple(warnings))


#: Fields that never change what is indexed: where the document was read, the date as written (its ISO
#: form is hashed), and what is derived from the whole corpus (the display name's key, near-duplicates).
_UNHASHED = ("origin", "date_raw", "source_id", "dup_group")


def content_hash(doc: Document) -> str:
    """SHA-256 (hex) of every field except those in ``_UNHASHED``: equal hashes mean nothing to re-index."""
    fields = asdict(doc)
    for name in _UNHASHED:
        fields.pop(name, None)
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
    found = Report(str(path), reason) if data is None else read_saved_page(data, str(path), doc_id)
    yield found if isinstance(found, Report) else (found, _modified(path))


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
    yield Document(doc_id=doc_id, title=title, text=body, date=date, lang="", origin=where), _modified(path)


def parse_article(text: str, markdown: bool = False) -> tuple[str, str, str]:
    """``(title, date, body)`` of a scraped article: leading date line (as written), headline, cleaned body."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    i, date, title = 0, "", ""
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if looks_like_date(line):
            date = date or line
            continue
        title = _clean_title(line.lstrip("#").strip() if markdown else line)
        break
    # Drop repeats of the headline (and a date line) at the top of the body.
    while i < len(lines):
        line = lines[i].strip()
        if not line or _same_headline(line, title):
            i += 1
        elif not date and looks_like_date(line):
            date = line
            i += 1
        else:
            break
    body = _strip_boilerplate(lines[i:])
    return title, date, _tidy(body)


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
    saved = _modified(path)
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
        yield _jsonl_document(line, where, saved)


def _jsonl_document(line: str, where: str,
                    saved: dt.datetime | None = None) -> tuple[Document, dt.datetime | None] | Report:
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
    extra.setdefault("lang", "")
    fetched = crawl_time_of(obj["fetched_at"]) if isinstance(obj.get("fetched_at"), str) else None
    return Document(doc_id=obj["id"], text=obj["text"], origin=where, **{"title": "", **extra}), fetched or saved


# ---------------------------------------------------------------- news metadata

_LANG_NAMES = {"hindi": "hi", "हिंदी": "hi", "हिन्दी": "hi", "hin": "hi", "english": "en", "eng": "en"}
_LANG_TAG = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-(?:[a-z]{2}|\d{3}))?(?:-.*)?")
_DEFAULT_SCRIPT = {"hi": "deva", "en": "latn"}  # a tag naming its language's usual script drops it
_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^\s/:?#]+\.[^\s/:?#]+)(?:[:/?#]\S*)?", re.IGNORECASE)


def with_news_metadata(doc: Document, crawl_time: dt.datetime | None,
                       config: DateConfig | None = None) -> tuple[Document, Report | None]:
    """``doc`` with its date as ISO-8601 (``date``; as written in ``date_raw``), its source named
    (``source``, ``source_id``) and its language tagged; and a :class:`Report` when its date cannot be read."""
    parsed = parse_date(doc.date, crawl_time, config)
    source = source_name(doc.source, doc.url)
    doc = dataclasses.replace(doc, date=parsed.iso, date_raw=doc.date_raw or doc.date, source=source,
                              source_id=source_key(source),
                              lang=language_tag(doc.lang, doc.title + "\n" + doc.text[:2000]))
    if not parsed.problem:
        return doc, None
    logger.warning("document %s: date %r is %s; left empty", doc.doc_id, parsed.raw, parsed.problem)
    return doc, Report(doc.origin, f"document {doc.doc_id!r}: date {parsed.raw!r} is {parsed.problem}; "
                                   "left empty (the document is indexed; write the date as YYYY-MM-DD)")


def source_name(raw: str, url: str = "") -> str:
    """The outlet's display name: trimmed, inner spaces collapsed; a web address as its host, without
    ``www.`` and in lower case; when none is given, the host of ``url``."""
    name = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not name and url.startswith(("http://", "https://")):
        name = urlsplit(url).hostname or ""
    host = _HOST.fullmatch(name)
    if host and " " not in name:
        return host.group(1).lower().rstrip(".")
    return name


def stable_source_names(documents: list[Document]) -> list[Document]:
    """Every document of one outlet (one :func:`source_key`) with the same display name: a spelling in
    mixed case ("Amar Ujala", not "AMAR UJALA") before one in a single case, then the one most of them use,
    then the first in sorted order."""
    counts: dict[str, Counter] = {}
    for doc in documents:
        counts.setdefault(doc.source_id, Counter())[doc.source] += 1
    names = {key: min(c, key=lambda name: (name.isupper() or name.islower(), -c[name], name))
             for key, c in counts.items()}
    return [doc if names[doc.source_id] == doc.source else dataclasses.replace(doc, source=names[doc.source_id])
            for doc in documents]


def language_tag(raw: str, text: str = "") -> str:
    """A short BCP-47 tag: ``hi``, ``en``, ``hi-Latn`` (romanized Hindi). Regions are dropped (``hi-IN``
    is ``hi``), names and three-letter codes mapped (``Hindi``, ``hin``); none given, or one that is not
    a tag, is read from the text's script (Latin: ``en``, else ``hi``)."""
    value = " ".join((raw or "").split()).replace("_", "-")
    value = _LANG_NAMES.get(value.casefold(), value).lower()
    match = _LANG_TAG.fullmatch(value)
    if not match or match.group(1) == "und":
        return "en" if detect_script(text) == "latin" else "hi"
    language, script = _LANG_NAMES.get(match.group(1), match.group(1)), match.group(2)
    if not script or _DEFAULT_SCRIPT.get(language) == script:
        return language
    return f"{language}-{script.title()}"


def _modified(path: Path) -> dt.datetime | None:
    """When the file was last written (UTC): the crawl time of a saved page or scrape."""
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except OSError:
        return None
