"""Build or update an index: read the corpus, cut passages, embed them, write BM25 + vectors, swap in."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from search import ann, storage
from search.analysis import ANALYZER_VERSION
from search.errors import CorpusError, IndexMismatch, IndexNotFound
from search.honest import write_calibration
from search.settings import Settings
from search.types import Document, Passage, Report

from .chunking import CHUNKER_VERSION, EMBED_TEXT, chunk_document, embed_text
from .corpus import CorpusRead, content_hash, read_corpus
from .dates import DateWarnings, date_warnings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    #: When the nearest-neighbour graph is written, and how (``search/ann.py``).
    ann: ann.AnnConfig = field(default_factory=ann.AnnConfig)
    #: An update merges the BM25 index into one segment once deleted passages would pass this share of
    #: all it holds: Whoosh keeps a deleted passage's postings, scored and then dropped, and counts them
    #: in its document frequencies, until their segment is merged.
    max_deleted_share: float = 0.1


@dataclass(frozen=True)
class BuildSummary:
    index_dir: str
    documents: int
    passages: int
    embedded: int  # passages embedded by this build
    reused: int  # passages whose vectors were kept from the previous build
    added: int
    changed: int
    removed: int
    reports: tuple[Report, ...]
    seconds: float
    embed_seconds: float
    #: documents whose date could not be read (left empty): the exact count and the first of them
    date_warnings: DateWarnings = DateWarnings()

    def lines(self) -> list[str]:
        rate = self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
        out = [
            f"Indexed {self.documents} documents as {self.passages} passages in {self.seconds:.1f}s "
            f"into {self.index_dir}",
            f"  embedded {self.embedded} passages ({rate:.1f} passages/s), reused {self.reused}; "
            f"documents added {self.added}, changed {self.changed}, removed {self.removed}",
        ]
        if self.date_warnings.count:
            out.append(f"  {self.date_warnings.line()}")
        if self.reports:
            out.append(f"  skipped {len(self.reports)} input(s):")
            out += [f"    {r}" for r in self.reports]
        return out


@dataclass(frozen=True)
class Plan:
    """What a build does with each document: keep its passages and vectors, or cut and embed it anew."""

    docs: list[Document]
    hashes: dict[str, str]
    unchanged: set[str]
    added: int
    changed: int
    removed: int

    @property
    def todo(self) -> list[Document]:
        return [d for d in self.docs if d.doc_id not in self.unchanged]


#: Cuts and embeds documents: ``(docs, embedder, settings, progress)`` -> each document's passages
#: and their vectors, in order (:func:`cut_and_embed` here, :func:`index.distributed.cut_and_embed` on Ray).
Encoder = Callable[..., tuple[list[list[Passage]], np.ndarray]]


def passage_hash(passage: Passage) -> str:
    return hashlib.sha256(embed_text(passage).encode("utf-8")).hexdigest()[:32]


def build_index(paths: Sequence[str | Path], index_dir: str | Path, settings: Settings | None = None, *,
                embedder=None, update: bool = False, strict: bool = False, progress: bool = True,
                config: BuildConfig | None = None) -> BuildSummary:
    """Build (or with ``update=True`` incrementally update) the index at ``index_dir``.

    The new index is assembled aside and swapped in only when complete; the build lock keeps
    two builders apart. With ``update``, unchanged documents keep their passages and vectors,
    changed ones are re-embedded, deleted ones removed. With ``settings.ray`` set, passages are cut
    and embedded on a Ray cluster (:mod:`index.distributed`); everything else happens here. Progress
    is logged (``index.builder``); the returned summary's ``lines()`` say what was built.
    """
    settings = settings or Settings.from_env()
    config = config or BuildConfig()
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    corpus = _read(paths, settings, strict)
    if embedder is None:
        from search.embedding import Embedder

        embedder = Embedder.load(settings)
    model = embedder.describe()
    encoder = _encoder(settings)
    with storage.build_lock(index_dir):
        old = _previous(index_dir, model, _chunking(settings)) if update else None
        # near-duplicates (index/neardup.py): each document's dup_group, decided over the whole corpus
        from .neardup import mark_near_duplicates

        plan = _plan(mark_near_duplicates(corpus.documents), old)
        logger.info(f"Embedding the passages of {len(plan.todo)} documents with {model['id']} ...")
        t_embed = time.perf_counter()
        passages, vectors, embedded = _passages_and_vectors(plan, old, encoder, embedder, settings, progress)
        embed_seconds = time.perf_counter() - t_embed
        with storage.new_generation(index_dir) as gen:
            _write_generation(gen, paths, corpus, plan, old, passages, vectors, embedder, settings, config, t0)
    summary = BuildSummary(str(index_dir), len(plan.docs), len(passages), embedded, len(passages) - embedded,
                           plan.added, plan.changed, plan.removed, corpus.reports, time.perf_counter() - t0,
                           embed_seconds, date_warnings(plan.docs))
    return summary


def _read(paths: Sequence[str | Path], settings: Settings, strict: bool) -> CorpusRead:
    corpus = read_corpus(list(paths), strict=strict, max_document_bytes=settings.max_document_bytes)
    for report in corpus.reports:
        logger.warning(f"skipped {report}")
    if not corpus.documents:
        raise CorpusError(f"no usable documents in {', '.join(map(str, paths))}",
                          "give a folder of .txt/.md files or a JSONL file with id and text")
    return corpus


def _chunking(settings: Settings) -> dict:
    return {"version": CHUNKER_VERSION, "max_tokens": settings.max_passage_tokens,
            "overlap_sentences": settings.overlap_sentences, "embed_text": EMBED_TEXT}


def _encoder(settings: Settings) -> Encoder:
    from . import distributed  # imports Ray only when it is used

    return distributed.cut_and_embed if distributed.enabled(settings) else cut_and_embed


def _plan(docs: list[Document], old: dict | None) -> Plan:
    hashes = {d.doc_id: content_hash(d) for d in docs}
    old_hashes = old["hashes"] if old else {}
    unchanged = {d.doc_id for d in docs if old_hashes.get(d.doc_id) == hashes[d.doc_id]}
    added = sum(1 for d in docs if d.doc_id not in old_hashes)
    return Plan(docs, hashes, unchanged, added, len(docs) - added - len(unchanged),
                len(set(old_hashes) - set(hashes)))


def _passages_and_vectors(plan: Plan, old: dict | None, encoder: Encoder, embedder, settings: Settings,
                          progress: bool) -> tuple[list[Passage], np.ndarray, int]:
    """Every passage in document order with its vector: kept as they were for unchanged documents, cut
    and embedded anew (by ``encoder``) for the rest. Also returns how many were embedded."""
    cut, new_vectors = encoder(plan.todo, embedder, settings, progress)
    fresh = iter(cut)
    passages: list[Passage] = []
    sources: list[int] = []  # old row, or -1 - (row of new_vectors)
    next_new = 0
    for doc in plan.docs:
        if doc.doc_id in plan.unchanged:
            for row in old["rows_by_doc"][doc.doc_id]:
                passages.append(old["passages"][row])
                sources.append(row)
            continue
        for p in next(fresh):
            passages.append(p)
            sources.append(-1 - next_new)
            next_new += 1
    vectors = np.zeros((len(passages), embedder.dim), np.float32)
    src = np.asarray(sources, np.int64)
    if old is not None and (src >= 0).any():
        vectors[src >= 0] = old["vectors"][src[src >= 0]]
    if next_new:
        vectors[src < 0] = new_vectors[-1 - src[src < 0]]
    return passages, vectors, next_new


def cut_and_embed(docs: list[Document], embedder, settings: Settings,
                  progress: bool) -> tuple[list[list[Passage]], np.ndarray]:
    """Each document's passages and their vectors (in order), in this process."""
    count = _token_counter(embedder)
    cut = [chunk_document(d, count, settings.max_passage_tokens, settings.overlap_sentences) for d in docs]
    texts = [embed_text(p) for passages in cut for p in passages]
    logger.info(f"  {len(texts)} passages")
    return cut, _embed(embedder, texts, settings, progress)


def _write_generation(gen: Path, paths: Sequence[str | Path], corpus: CorpusRead, plan: Plan, old: dict | None,
                      passages: list[Passage], vectors: np.ndarray, embedder, settings: Settings,
                      config: BuildConfig, t0: float) -> None:
    """Every file of a generation, the manifest last."""
    _write_bm25(gen, passages, plan.docs, plan.unchanged, old, config.max_deleted_share)
    np.save(gen / storage.VECTORS, vectors)
    graph = ann.build(gen, vectors, config.ann)
    storage.write_jsonl(gen / storage.PASSAGES, (
        {"passage_id": p.passage_id, "doc_id": p.doc_id, "n": p.n, "title": p.title,
         "start": p.start, "end": p.end, "text": p.text, "hash": passage_hash(p)} for p in passages))
    storage.write_jsonl(gen / storage.DOCUMENTS, (
        {**dataclasses.asdict(d), "hash": plan.hashes[d.doc_id]} for d in plan.docs))
    _write_vocab(gen, embedder, settings)
    matching = write_calibration(gen, vectors, embedder)  # honest matching's floors and hub (search/honest.py)
    storage.write_json(gen / storage.MANIFEST, {
        "format_version": storage.FORMAT_VERSION,
        "model": embedder.describe(),
        "analyzer": {"version": ANALYZER_VERSION},
        "chunking": _chunking(settings),
        "counts": {"documents": len(plan.docs), "passages": len(passages)},
        "ann": graph,
        "matching": matching,
        "sources": [str(Path(p).resolve()) for p in paths],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - t0, 2),
        "skipped": [str(r) for r in corpus.reports],
        "date_warnings": date_warnings(plan.docs).to_json(),  # dates that could not be read (left empty)
        # written last, over every other file: checked (sizes) whenever the index is opened
        "files": storage.file_table(gen),
    })


def _token_counter(embedder) -> Callable[[str], int]:
    def count(text: str) -> int:
        return embedder.count_tokens([text])[0]

    return count


def _embed(embedder, texts: list[str], settings: Settings, progress: bool) -> np.ndarray:
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    from tqdm import tqdm

    with tqdm(total=len(texts), unit="passage", desc="embedding", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        return embedder.encode_passages(texts, batch_size=settings.batch_size, progress=bar.update)


def _previous(index_dir: Path, model: dict, chunking: dict) -> dict | None:
    """The live index's passages, vectors and document hashes, for an incremental update (None: there is
    none, or it is damaged, and the update builds everything anew)."""
    try:
        opened = storage.open_generation(index_dir)
    except IndexNotFound as err:
        if not storage.nothing_built(index_dir):
            logger.warning(f"{err.message}: building every document anew")
        return None
    manifest = opened.manifest
    storage.check_manifest(manifest, index_dir, model=model, analyzer_version=ANALYZER_VERSION)
    if manifest["chunking"] != chunking:
        raise IndexMismatch(f"the index at {index_dir} was chunked with {manifest['chunking']}, "
                            f"not {chunking}", "rebuild it without --update")
    passages = [Passage(r["passage_id"], r["doc_id"], r["n"], r["title"], r["text"], r["start"], r["end"])
                for r in opened.passages]
    rows_by_doc: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        rows_by_doc.setdefault(p.doc_id, []).append(i)
    hashes = {r["doc_id"]: r["hash"] for r in opened.documents}
    return {"gen": opened.path, "passages": passages, "rows_by_doc": rows_by_doc, "hashes": hashes,
            "vectors": opened.vectors}


def _write_bm25(gen: Path, passages: list[Passage], docs: list[Document], unchanged: set[str],
                old: dict | None, max_deleted_share: float) -> None:
    from whoosh import index as whoosh_index

    target = gen / storage.BM25
    merge = old is None
    if old is not None:
        # incremental: copy the live Whoosh index, then delete and add only what changed
        shutil.copytree(old["gen"] / storage.BM25, target)
        ix = whoosh_index.open_dir(str(target))
        writer = ix.writer(codec=storage.bm25_codec())
        current = {d.doc_id for d in docs}
        deleted = ix.doc_count_all() - ix.doc_count()
        for doc_id in old["hashes"]:
            if doc_id not in unchanged or doc_id not in current:
                deleted += writer.delete_by_term("doc_id", doc_id)
        held = ix.doc_count_all() + sum(1 for p in passages if p.doc_id not in unchanged)
        merge = deleted > max_deleted_share * held
        if merge:
            logger.info(f"Merging the BM25 index: {deleted:,} of its {held:,} passages are deleted ones")
    else:
        target.mkdir()
        ix = whoosh_index.create_in(str(target), storage.bm25_schema())
        writer = ix.writer(codec=storage.bm25_codec())
    try:
        for p in passages:
            if p.doc_id in unchanged:
                continue
            writer.add_document(passage_id=p.passage_id, doc_id=p.doc_id, title=p.title, body=p.text)
        writer.commit(optimize=merge)
    except BaseException:
        writer.cancel()
        raise


def _write_vocab(gen: Path, embedder, settings: Settings) -> None:
    """The query-expansion vocabulary: the index's Devanagari terms and their embeddings."""
    from index.vocabulary import build_vocabulary, write_lexicon_neighbours
    from search.lexicon import ensure_lexicon

    vocabulary = build_vocabulary(gen, embedder, settings)
    if vocabulary is not None and len(vocabulary.vectors):
        try:  # once per model: English words embedded ahead of time (a speed-up, never worth a failed build)
            ensure_lexicon(embedder, settings)
        except OSError as err:
            logger.warning(f"could not write the English lexicon to {settings.cache_dir} ({err}): new English "
                           f"words will be embedded at query time")
        write_lexicon_neighbours(gen, vocabulary, embedder, settings)
