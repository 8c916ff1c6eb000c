"""The index's schema, written and read in one place: the files of a generation, the manifest (what
built it, held to :data:`MANIFEST_SCHEMA` on open), the document and passage rows, and the Whoosh
fields. :mod:`search.storage` places, publishes and checks generations built to it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, TypedDict

from .errors import IndexMismatch, IndexNotFound

#: 2: the manifest records the size and sha256 of every file of the generation (``files``).
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
VOCAB = "vocab.jsonl"
VOCAB_VECTORS = "vocab.npy"
LEXICON_NEIGHBOURS = "vocab-lexicon.json"
BM25 = "bm25"


class DocumentRow(TypedDict, total=False):
    """A line of ``documents.jsonl`` (``doc_id``, ``title``, ``text`` and ``hash`` always there)."""

    doc_id: str
    title: str
    text: str
    hash: str  # sha256 of what was indexed: an update re-embeds a document only when it changes
    date: str
    source: str
    url: str
    lang: str
    origin: str
    date_raw: str  # the date as written ("Fri. Nov 22nd, 2024", "2 घंटे पहले"); ``date`` is ISO-8601
    source_id: str  # what the source is matched and counted by (search.scope.source_key)
    dup_group: str  # its near-duplicate group's representative's doc_id ("" when it has none)


class PassageRow(TypedDict, total=False):
    """A line of ``passages.jsonl``: row i is passage i, and row i of ``vectors.npy`` its embedding."""

    passage_id: str  # "doc_id#n"
    doc_id: str
    n: int
    title: str
    start: int  # offsets into the document's text
    end: int
    text: str
    hash: str


DOCUMENT_KEYS = ("doc_id", "title", "text", "hash")
PASSAGE_KEYS = ("passage_id", "doc_id", "n", "title", "start", "end", "text")


def rebuild_hint(index_dir: str | os.PathLike) -> str:
    return f"rebuild it: `search index DOCS… --index {index_dir}`"


def build_hint(index_dir: str | os.PathLike) -> str:
    return f"build one first: `search index DOCS… --index {index_dir}`"


# ------------------------------------------------------------------------ rows

def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", "utf-8")


def read_manifest(gen: Path) -> dict:
    """The generation's manifest: a JSON object of this format version (:class:`IndexNotFound` /
    :class:`IndexMismatch` otherwise). :func:`open_generation` also holds it to :data:`MANIFEST_SCHEMA`."""
    root = gen.parent
    try:
        manifest = json.loads((gen / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise damaged(gen, "has no manifest") from None
    except OSError as err:
        raise IndexNotFound(f"cannot read {gen / MANIFEST}: {err.strerror}", "check the path and its permissions") from None
    except ValueError:  # not UTF-8, not JSON
        raise damaged(gen, f"{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict):
        raise damaged(gen, f"{MANIFEST} holds a {type(manifest).__name__}, not an object")
    if "format_version" in manifest and manifest["format_version"] != FORMAT_VERSION:
        raise IndexMismatch(f"the index at {root} has format {manifest['format_version']!r}, "
                            f"this Sangam reads format {FORMAT_VERSION}", rebuild_hint(root))
    return manifest


def check_schema(gen: Path, manifest: dict) -> None:
    """:class:`IndexNotFound` naming the first field of ``manifest`` that :data:`MANIFEST_SCHEMA` refuses."""
    problem = _schema_problem(manifest, MANIFEST_SCHEMA)
    for key, sub in MANIFEST_OPTIONAL.items():
        if not problem and key in manifest:
            problem = _schema_problem(manifest[key], sub, key)
    if not problem and not isinstance(manifest.get("ann"), (dict, type(None))):
        problem = f"ann is {_kind(manifest['ann'])}, not an object or null"
    if problem:
        raise damaged(gen, f"{MANIFEST}: {problem}")
    for rel in manifest["files"]:
        if rel.startswith("/") or ".." in rel.split("/") or rel == MANIFEST:
            raise damaged(gen, f"{MANIFEST}: files names {rel[:60]!r}, not a file of the build")
    missing = [name for name in (DOCUMENTS, PASSAGES, VECTORS) if name not in manifest["files"]]
    if missing or not any(rel.startswith(BM25 + "/") for rel in manifest["files"]):
        raise damaged(gen, f"{MANIFEST}: files does not list {', '.join(missing) or BM25 + '/'}")


def read_rows(gen: Path, name: str, keys: tuple[str, ...]) -> list[dict]:
    """A JSONL file of the generation whose every line is an object with ``keys``."""
    rows = []
    try:
        with open(gen / name, "rb") as handle:
            for n, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line.decode("utf-8"))
                except ValueError:
                    raise damaged(gen, f"{name} line {n} is not valid JSON") from None
                if not isinstance(row, dict) or any(k not in row for k in keys):
                    raise damaged(gen, f"{name} line {n} is not an object with {', '.join(keys)}")
                bad = next((k for k in keys if k.endswith("_id") and not isinstance(row[k], str)), None)
                if bad:
                    raise damaged(gen, f"{name} line {n}: {bad} is not a string")
                rows.append(row)
    except FileNotFoundError:
        raise damaged(gen, f"{name} is missing") from None
    return rows


# --------------------------------------------------------------- manifest

_INT, _STR, _NUM = "int", "str", "number"
_SHA256 = re.compile(r"[0-9a-f]{64}")

#: Required manifest fields and their types (nested dicts are objects with those fields).
MANIFEST_SCHEMA = {
    "format_version": _INT,
    "model": {"id": _STR, "fingerprint": _STR, "dimension": _INT},
    "analyzer": {"version": _STR},
    "chunking": {"version": _STR, "max_tokens": _INT, "overlap_sentences": _INT, "embed_text": _STR},
    "counts": {"documents": _INT, "passages": _INT},
    "files": "files",
    "sources": "strings",
    "built_at": _STR,
    "build_seconds": _NUM,
    "skipped": list,
}
#: Fields an index built before them lacks, held to their types when present.
MANIFEST_OPTIONAL = {
    # documents whose date could not be read (left empty): the exact count, and the first of them as
    # {"doc_id", "raw", "problem"}
    "date_warnings": {"count": _INT, "first": list},
}


def _schema_problem(value, schema, where: str = "") -> str | None:
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return f"{where or 'the manifest'} is {_kind(value)}, not an object"
        for key, sub in schema.items():
            name = f"{where}.{key}" if where else key
            if key not in value:
                return f"{name} is missing"
            problem = _schema_problem(value[key], sub, name)
            if problem:
                return problem
        return None
    if schema == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else f"{where} is {_kind(value)}, not a whole number"
    if schema == _NUM:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"{where} is {_kind(value)}, not a number"
    if schema == _STR:
        return None if isinstance(value, str) else f"{where} is {_kind(value)}, not a string"
    if schema is list:
        return None if isinstance(value, list) else f"{where} is {_kind(value)}, not a list"
    if schema == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"{where} is not a list of strings"
    if schema == "files":
        if not isinstance(value, dict):
            return f"{where} is {_kind(value)}, not an object"
        for rel, meta in value.items():
            if not (isinstance(meta, dict) and isinstance(meta.get("size"), int) and meta["size"] >= 0
                    and isinstance(meta.get("sha256"), str) and _SHA256.fullmatch(meta["sha256"])):
                return f"{where}[{rel[:60]!r}] is not {{size, sha256}}"
        return None
    raise AssertionError(schema)  # pragma: no cover


def _kind(value) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def damaged(gen: Path, what: str) -> IndexNotFound:
    """The error for a damaged generation: what is wrong with it, and the command that rebuilds it."""
    return IndexNotFound(f"the index at {gen.parent} is damaged ({gen.name}: {what})", rebuild_hint(gen.parent))


def check_manifest(manifest: dict, index_dir: str | os.PathLike, *, model: dict | None = None,
                   analyzer_version: str | None = None) -> None:
    """Raise :class:`IndexMismatch` when the index was built by something else than what reads it."""
    hint = rebuild_hint(index_dir)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"the index at {index_dir} has format {manifest.get('format_version')}, "
                            f"this Sangam reads format {FORMAT_VERSION}", hint)
    if analyzer_version is not None and manifest["analyzer"]["version"] != analyzer_version:
        raise IndexMismatch(f"the index at {index_dir} was analysed with {manifest['analyzer']['version']!r}, "
                            f"this Sangam uses {analyzer_version!r}", hint)
    if model is not None:
        built = manifest["model"]
        if built["fingerprint"] != model["fingerprint"] or built["dimension"] != model["dimension"]:
            raise IndexMismatch(
                f"the index at {index_dir} was built with model {built['id']!r} "
                f"(fingerprint {built['fingerprint'][:12]}), not the configured {model['id']!r} "
                f"(fingerprint {model['fingerprint'][:12]})",
                f"use --model {built['id']!r} or {hint}")


# ------------------------------------------------------------------------ whoosh

#: The Whoosh fields a query searches (BM25F: each term is scored in each field, then summed).
BM25_FIELDS = ("title", "body")


def bm25_schema():
    from whoosh import fields

    from .analysis import hindi_analyzer

    analyzer = hindi_analyzer()
    return fields.Schema(
        passage_id=fields.ID(stored=True, unique=True),
        doc_id=fields.ID(stored=True),
        title=fields.TEXT(analyzer=analyzer, phrase=True),  # positions: "quoted phrases"
        body=fields.TEXT(analyzer=analyzer, phrase=True),
    )
