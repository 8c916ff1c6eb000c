"""The index directory, described in one place: generations, manifest, JSONL, vectors, Whoosh.

Layout of an index directory ``DIR``::

    DIR/CURRENT                  name of the live generation (replaced atomically)
    DIR/.lock                    held by the one process building (flock)
    DIR/gen-<time>-<pid>/        one complete, never-modified build
        manifest.json            what built it: format, model, analyzer, chunking, counts, sources
        documents.jsonl          one document per line (doc_id, title, text, date, source, url, lang, origin, hash)
        passages.jsonl           row i = passage i (passage_id, doc_id, n, title, start, end, text, hash)
        vectors.npy              float32 [passages, dim], L2-normalised, row i = passage i
        vocab.jsonl, vocab.npy   Devanagari index terms and their embeddings (query expansion)
        vocab-lexicon.json       English lexicon words -> their nearest of those terms (query expansion)
        bm25/                    the Whoosh index over the same passages (BM25F on title + body), written
                                 with search/bm25codec.py (W3 with packed posting blocks)

A build writes a sibling ``DIR/.building-*`` directory, renames it to ``gen-*`` and only then
points ``CURRENT`` at it, so a failed or interrupted build never touches the live index.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import IndexBusy, IndexMismatch, IndexNotFound

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
VECTORS = "vectors.npy"
VOCAB = "vocab.jsonl"
VOCAB_VECTORS = "vocab.npy"
LEXICON_NEIGHBOURS = "vocab-lexicon.json"
BM25 = "bm25"
KEEP_GENERATIONS = 2  # the live one and the one before (a reader may still hold it open)


def rebuild_hint(index_dir: str | os.PathLike) -> str:
    return f"rebuild it: `search index DOCS… --index {index_dir}`"


def build_hint(index_dir: str | os.PathLike) -> str:
    return f"build one first: `search index DOCS… --index {index_dir}`"


#: What ``CURRENT`` may name: a ``gen-*`` directory beside it (never a path, ``..`` or an absolute name).
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z-]{1,100}")
#: What a build leaves in an index directory before its first generation is published.
_BUILD_LEFTOVERS = (".lock", ".building-*", ".CURRENT.tmp")


# --------------------------------------------------------------------- generations

def nothing_built(index_dir: str | os.PathLike) -> bool:
    """True when ``index_dir`` holds no index at all: absent, empty, or only what a first build that
    never finished leaves (its lock and its half-written ``.building-*``)."""
    root = Path(index_dir)
    if not root.exists():
        return True
    if not root.is_dir():
        return False
    return all(any(entry.match(pattern) for pattern in _BUILD_LEFTOVERS) for entry in root.iterdir())


def live_generation(index_dir: str | os.PathLike) -> Path:
    """The directory of the live build, or :class:`IndexNotFound` saying what is missing or damaged."""
    root = Path(index_dir)
    if root.exists() and not root.is_dir():
        raise IndexNotFound(f"{root} is a file, not an index directory", "pass the index directory as --index")
    try:
        raw = (root / "CURRENT").read_bytes()
    except FileNotFoundError:
        if nothing_built(root):
            unfinished = root.is_dir() and any(root.glob(".building-*"))
            where = f"no index at {root}" + (" (a build there did not finish)" if unfinished else "")
            raise IndexNotFound(where, build_hint(root)) from None
        raise IndexNotFound(f"the index at {root} is damaged (its CURRENT pointer is missing)",
                            rebuild_hint(root)) from None
    except OSError as err:
        raise IndexNotFound(f"cannot read the index at {root}: {err.strerror}", "check the path and its permissions") from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        name = None
    if not name:
        what = "is empty" if name == "" else "is not text"
        raise IndexNotFound(f"the index at {root} is damaged (its CURRENT pointer {what})", rebuild_hint(root))
    if not _GENERATION_NAME.fullmatch(name):
        raise IndexNotFound(f"the index at {root} is damaged (CURRENT names {name[:60]!r}, not a build in it)",
                            rebuild_hint(root))
    gen = root / name
    if not gen.is_dir():
        raise IndexNotFound(f"the index at {root} is damaged (CURRENT names {name}, which is missing)",
                            rebuild_hint(root))
    if not (gen / MANIFEST).is_file():
        raise IndexNotFound(f"the index at {root} is damaged ({name} has no manifest)", rebuild_hint(root))
    return gen


@contextlib.contextmanager
def build_lock(index_dir: str | os.PathLike) -> Iterator[None]:
    """Hold ``DIR/.lock`` for the duration of a build; :class:`IndexBusy` if someone else does."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("utf-8", "replace").strip() or "another process"
            raise IndexBusy(f"the index at {root} is being built by {holder}",
                            "wait for that build to finish, then try again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def new_generation(index_dir: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty directory to build into; publish it only if the block completes.

    Call inside :func:`build_lock`. On any exception (or interrupt) the half-built directory is
    removed and ``CURRENT`` still names the previous build.
    """
    root = Path(index_dir)
    for stale in root.glob(".building-*"):  # left by a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    building = root / f".building-{stamp}-{os.getpid()}"
    building.mkdir(parents=True)
    try:
        yield building
        _fsync_tree(building)
        final = root / f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        os.rename(building, final)
        pointer = root / ".CURRENT.tmp"
        pointer.write_text(final.name + "\n", "utf-8")
        os.replace(pointer, root / "CURRENT")
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _prune(root, final.name)


def _prune(root: Path, live: str) -> None:
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    old = [p for p in gens if p.name != live]
    for path in old[:max(0, len(old) - (KEEP_GENERATIONS - 1))]:
        shutil.rmtree(path, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for sub in path.rglob("*"):
        if sub.is_file():
            with open(sub, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(path)


# ------------------------------------------------------------------------ files

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
    try:
        return json.loads((gen / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as err:
        raise IndexNotFound(f"cannot read {gen / MANIFEST}: {err}", rebuild_hint(gen.parent)) from None


def load_vectors(gen: Path, mmap: bool = True) -> np.ndarray:
    return np.load(gen / VECTORS, mmap_mode="r" if mmap else None)


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


def disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


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
        title=fields.TEXT(analyzer=analyzer, phrase=False),
        body=fields.TEXT(analyzer=analyzer, phrase=False),
    )


#: Postings per block in the Whoosh index (Whoosh's default is 128). ``search/bm25.py`` decodes a term's
#: postings block by block, and most of that cost is per block: at 50k documents, 1,024 took a first-time
#: query's p95 from 10.3 to 5.6 ms and the index from 71 to 66 MB (``bench/results/query.md``).
BM25_BLOCK_POSTINGS = 1024


def bm25_codec():
    """The codec a Whoosh writer of this project uses: W3 with packed blocks (``search/bm25codec.py``).
    Reading works with any block size, and with segments plain W3 wrote."""
    from .bm25codec import PackedCodec

    return PackedCodec(blocklimit=BM25_BLOCK_POSTINGS)
