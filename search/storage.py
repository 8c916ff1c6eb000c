"""The index directory, described in one place: generations, manifest, JSONL, vectors, Whoosh.

Layout of an index directory ``DIR``::

    DIR/CURRENT                  name of the live generation (replaced atomically)
    DIR/.lock                    held by the one process building (flock)
    DIR/.leases/<generation>     shared flocks of the servers reading a generation: never pruned while held
    DIR/gen-<time>-<pid>/        one complete, never-modified build
        manifest.json            what built it: format, model, analyzer, chunking, counts, sources, and
                                 the size + sha256 of every other file (checked on open: open_generation)
        documents.jsonl          one document per line (doc_id, title, text, date, source, url, lang, origin, hash)
        passages.jsonl           row i = passage i (passage_id, doc_id, n, title, start, end, text, hash)
        vectors.npy              float32 [passages, dim], L2-normalised, row i = passage i
        vocab.jsonl, vocab.npy   Devanagari index terms and their embeddings (query expansion)
        vocab-lexicon.json       English lexicon words -> their nearest of those terms (query expansion)
        bm25/                    the Whoosh index over the same passages (BM25F on title + body), written
                                 with search/whoosh_adapter.py (W3 with packed posting blocks)

A build writes a sibling ``DIR/.building-*`` directory, renames it to ``gen-*`` and only then
points ``CURRENT`` at it, so a failed or interrupted build never touches the live index.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .errors import IndexBusy, IndexNotFound
from .schema import (BM25, BM25_FIELDS, DOCUMENT_KEYS, DOCUMENTS, FORMAT_VERSION, LEXICON_NEIGHBOURS,  # noqa: F401
                     MANIFEST, MANIFEST_SCHEMA, PASSAGE_KEYS, PASSAGES, VECTORS, VOCAB, VOCAB_VECTORS,
                     DocumentRow, PassageRow, bm25_schema, build_hint, check_manifest, check_schema, damaged,
                     read_jsonl, read_manifest, read_rows, rebuild_hint, write_json, write_jsonl)

logger = logging.getLogger(__name__)

KEEP_GENERATIONS = 2  # the live one and the one before (a reader may still hold it open)


#: What ``CURRENT`` may name: a ``gen-*`` directory beside it (never a path, ``..`` or an absolute name).
_GENERATION_NAME = re.compile(r"gen-[0-9A-Za-z-]{1,100}")
#: What a build leaves in an index directory before its first generation is published.
_BUILD_LEFTOVERS = (".lock", ".building-*", ".CURRENT.tmp", ".leases")


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
        if not any(root.glob("gen-*")):
            raise IndexNotFound(f"no index at {root} (it holds other files)", build_hint(root)) from None
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
    root.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new index folder is its owner's alone
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
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
    building.mkdir(mode=0o700, parents=True)  # owner-only: Whoosh unpickles what it finds there
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
    """Remove the generations older than the :data:`KEEP_GENERATIONS` newest, except those a reader
    still holds a lease on (a server that has not switched yet, or is finishing requests on it)."""
    gens = sorted((p for p in root.glob("gen-*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    old = [p for p in gens if p.name != live]
    for path in old[:max(0, len(old) - (KEEP_GENERATIONS - 1))]:
        lease_file = root / LEASES / path.name
        try:
            fd = os.open(lease_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            fd = None  # no leases can be taken here either (a read-only folder for others)
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    logger.info("kept %s: a reader still holds it", path.name)
                    continue
            shutil.rmtree(path, ignore_errors=True)
            if fd is not None:
                lease_file.unlink(missing_ok=True)
        finally:
            if fd is not None:
                os.close(fd)


# --------------------------------------------------------------------- leases
#
# A process that serves a generation holds a shared flock on ``DIR/.leases/<generation>`` for as long as
# it may read it; a build prunes an old generation only when it can take that lock exclusively. The kernel
# drops a dead process's locks, so a crashed server never pins a generation.

LEASES = ".leases"


class Lease:
    """A shared lock on one generation's lease file; :meth:`release` (or garbage collection) drops it."""

    def __init__(self, gen: Path, fd: int | None):
        self.gen, self._fd = gen, fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __del__(self):
        self.release()


def check_owner_only(index_dir: str | os.PathLike) -> None:
    """:class:`UnsafeIndex` when users other than the owner can write the index folder, its ``CURRENT``
    or the build it names: an index is trusted input (Whoosh unpickles its files), so a server refuses
    one that someone else could have changed."""
    import stat

    from .errors import UnsafeIndex

    root = Path(index_dir)
    places = [root, root / "CURRENT"]
    name = current_name(root)
    if name:
        places.append(root / name)
    for place in places:
        try:
            mode = place.stat().st_mode
        except OSError:
            continue
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UnsafeIndex(f"{place} can be written by users other than its owner "
                              f"(mode {stat.filemode(mode)}), and an index folder is trusted input",
                              f"run `chmod -R go-w {root}`, then start the server again")


def lease(gen: Path) -> Lease:
    """Keep ``gen`` from being pruned while this process reads it. Where the index folder cannot be
    written (served read-only) the lease holds nothing, and nothing there is pruned by this process."""
    folder = gen.parent / LEASES
    try:
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / gen.name, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        logger.debug("no lease on %s: %s", gen, err)
        return Lease(gen, None)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return Lease(gen, fd)


def current_name(index_dir: str | os.PathLike) -> str | None:
    """What ``CURRENT`` names now (a cheap read, to notice a new build), or None when it cannot be read."""
    try:
        return (Path(index_dir) / "CURRENT").read_bytes().decode("utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


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


# ----------------------------------------------------------------- integrity
#
# Checked whenever an index is opened (``open_generation``): CURRENT, the manifest against its schema,
# every file's size against the manifest, the vectors' shape, type and finiteness, every JSONL line,
# the counts of documents, passages, vectors and Whoosh documents against each other. ``search info
# --verify`` also compares every file's sha256 with the one recorded at build time.

def file_table(gen: Path) -> dict[str, dict]:
    """Size and sha256 of every file of a generation but its manifest, by path relative to it."""
    table = {}
    for path in sorted(p for p in gen.rglob("*") if p.is_file()):
        rel = path.relative_to(gen).as_posix()
        if rel != MANIFEST:
            table[rel] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return table


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_files(gen: Path, manifest: dict, *, hashes: bool = False) -> None:
    """Every file the manifest lists is there with its recorded size (and, with ``hashes``, sha256)."""
    for rel, meta in manifest["files"].items():
        path = gen / rel
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise damaged(gen, f"{rel} is missing") from None
        if size != meta["size"]:
            raise damaged(gen, f"{rel} is {size:,} bytes, the build wrote {meta['size']:,}")
        if hashes and _sha256(path) != meta["sha256"]:
            raise damaged(gen, f"{rel} has changed since it was built (its sha256 differs)")


@dataclass
class Generation:
    """One generation's contents, read and checked against each other (see :func:`open_generation`)."""

    path: Path
    manifest: dict
    documents: list[dict]
    passages: list[dict]
    vectors: np.ndarray  # memory-mapped
    bm25: object  # whoosh.index.Index

    @property
    def name(self) -> str:
        return self.path.name


def open_generation(index_dir: str | os.PathLike, *, hashes: bool = False) -> Generation:
    """The live generation of ``index_dir``, every part of it checked; :class:`IndexNotFound` (damage)
    or :class:`IndexMismatch` (another format) with one line naming what is wrong and the rebuild."""
    gen = live_generation(index_dir)
    manifest = read_manifest(gen)
    check_schema(gen, manifest)
    check_files(gen, manifest, hashes=hashes)
    counts = manifest["counts"]
    documents = read_rows(gen, DOCUMENTS, DOCUMENT_KEYS)
    passages = read_rows(gen, PASSAGES, PASSAGE_KEYS)
    if len(documents) != counts["documents"]:
        raise damaged(gen, f"{DOCUMENTS} holds {len(documents):,} documents, the manifest counts "
                            f"{counts['documents']:,}")
    if len(passages) != counts["passages"]:
        raise damaged(gen, f"{PASSAGES} holds {len(passages):,} passages, the manifest counts "
                            f"{counts['passages']:,}")
    doc_ids = {d["doc_id"] for d in documents}
    if len(doc_ids) != len(documents):
        raise damaged(gen, f"{DOCUMENTS} repeats a doc_id")
    if len({p["passage_id"] for p in passages}) != len(passages):
        raise damaged(gen, f"{PASSAGES} repeats a passage_id")
    stray = next((n for n, p in enumerate(passages, 1) if p["doc_id"] not in doc_ids), None)
    if stray is not None:
        raise damaged(gen, f"{PASSAGES} line {stray} belongs to a document that is not in {DOCUMENTS}")
    vectors = load_vectors(gen, mmap=True, rows=counts["passages"], dimension=manifest["model"]["dimension"])
    bm25 = open_bm25(gen, counts["passages"])
    return Generation(gen, manifest, documents, passages, vectors, bm25)


#: Rows of the vectors checked for NaN/inf at a time (a bounded temporary, whatever the index's size).
_FINITE_BLOCK = 1 << 16


def load_vectors(gen: Path, mmap: bool = True, *, rows: int | None = None,
                 dimension: int | None = None) -> np.ndarray:
    """``vectors.npy``; with ``rows`` / ``dimension`` also checked: 2-D float32 of that shape, finite."""
    try:
        vectors = np.load(gen / VECTORS, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise damaged(gen, f"{VECTORS} is missing") from None
    except (ValueError, OSError, EOFError) as err:
        raise damaged(gen, f"{VECTORS} is not a readable numpy array ({type(err).__name__})") from None
    if rows is None and dimension is None:
        return vectors
    if vectors.dtype != np.float32:
        raise damaged(gen, f"{VECTORS} holds {vectors.dtype}, not float32")
    if vectors.ndim != 2 or vectors.shape != (rows, dimension):
        raise damaged(gen, f"{VECTORS} has shape {vectors.shape}, not ({rows}, {dimension}) "
                            f"(passages × model dimension)")
    for start in range(0, len(vectors), _FINITE_BLOCK):
        if not np.isfinite(vectors[start:start + _FINITE_BLOCK]).all():
            raise damaged(gen, f"{VECTORS} holds NaN or infinite values")
    return vectors


def open_bm25(gen: Path, passages: int):
    """The generation's Whoosh index, opened with its segments' readers, holding ``passages`` documents."""
    from whoosh import index as whoosh_index

    try:
        ix = whoosh_index.open_dir(str(gen / BM25))
        with ix.reader() as reader:
            held = reader.doc_count()  # not the deleted ones an update left until its next merge
    except Exception as err:  # noqa: BLE001 - Whoosh raises anything (pickle, struct, EOF) on a damaged file
        raise damaged(gen, f"{BM25}/ cannot be read ({type(err).__name__})") from None
    if held != passages:
        raise damaged(gen, f"{BM25}/ holds {held:,} passages, the manifest counts {passages:,}")
    return ix


def disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


#: Postings per block in the Whoosh index (Whoosh's default is 128). ``search/bm25.py`` decodes a term's
#: postings block by block, and most of that cost is per block: at 50k documents, 1,024 took a first-time
#: query's p95 from 10.3 to 5.6 ms and the index from 71 to 66 MB (``bench/results/query.md``).
BM25_BLOCK_POSTINGS = 1024


def bm25_codec():
    """The codec a Whoosh writer of this project uses: W3 with packed blocks (``search/whoosh_adapter.py``).
    Reading works with any block size, and with segments plain W3 wrote."""
    from .whoosh_adapter import PackedCodec

    return PackedCodec(blocklimit=BM25_BLOCK_POSTINGS)
