"""Query-expansion cost: vocabulary embedding at index time, dictionary load, and time added per query.

    python -m bench.expansion                      # builds WORK/index-xquad from bench/data first
    python -m bench.expansion --index DIR -q 200

Queries are the XQuAD English dev questions (bench/data), cycled. "cold" words were never seen by
the expander (its per-word cache is emptied before each query), so each query pays one batched model
call over its content words; "warm" words are cached. The hybrid rows time ``service.search`` end
to end with the expander and without it, on the same queries.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import common

DATA = Path(__file__).resolve().parent / "data"


def queries(limit: int) -> list[str]:
    rows = (DATA / "xquad_en_queries.dev.tsv").read_text("utf-8").splitlines()
    texts = [r.split("\t", 1)[1] for r in rows if "\t" in r]
    return [texts[i % len(texts)] for i in range(limit)]


def ensure_index(index_dir: Path, settings) -> None:
    from search import storage

    try:
        storage.live_generation(index_dir)
    except Exception:  # noqa: BLE001 - not built yet
        from index.builder import build_index

        build_index([DATA / "xquad_hi_paragraphs.jsonl"], index_dir, settings, progress=False)


def stats(values: list[float]) -> tuple[float, float]:
    return common.percentile(values, 50), common.percentile(values, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=str(common.WORK / "index-xquad"))
    parser.add_argument("-q", "--queries", type=int, default=100, help="queries per measurement")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import shutil

    from search import storage
    from search.embedding import Embedder
    from index.vocabulary import build_vocabulary
    from search.expansion import Expander, content_words
    from search.query import parse_query
    from search.service import SearchService
    from search.dense import DenseConfig
    from search.service import ServiceConfig

    COLD = ServiceConfig(dense=DenseConfig(vectors_kept=0))  # time every query's embedding: they repeat
    from search.settings import Settings

    settings = Settings.from_env(expansion=True)
    embedder = Embedder.load(settings)
    index_dir = Path(args.index)
    ensure_index(index_dir, settings)
    gen = storage.live_generation(index_dir)
    qs = queries(args.queries)

    # index time: the vocabulary of this index, embedded from scratch (no previous build to reuse)
    with tempfile.TemporaryDirectory() as tmp:
        aside = Path(tmp) / "gen"
        aside.mkdir()
        shutil.copy(gen / storage.PASSAGES, aside / storage.PASSAGES)
        t = time.perf_counter()
        vocab = build_vocabulary(aside, embedder, settings)
        vocab_s = time.perf_counter() - t
    manifest = storage.read_manifest(gen)
    embedded = len(vocab.vectors)

    t = time.perf_counter()
    expander = Expander.open(gen, embedder, settings)
    open_ms = (time.perf_counter() - t) * 1000

    parsed = [parse_query(q) for q in qs]
    words = [len(content_words(p.text)) for p in parsed]
    expander.clear_cache()
    unseen = [len(expander.unseen(p)) for p in parsed]  # neither cached nor in the English lexicon
    expander.expand(parsed[0])  # warm-up: torch's first call
    cold, warm = [], []
    for p in parsed:
        expander.clear_cache()  # every word unseen: one model call per query
        t = time.perf_counter()
        expander.expand(p)
        expander.strength(p)
        cold.append((time.perf_counter() - t) * 1000)
    for p in parsed:  # fill the cache: every word seen once
        expander.expand(p)
    for p in parsed:
        t = time.perf_counter()
        expander.expand(p)
        expander.strength(p)
        warm.append((time.perf_counter() - t) * 1000)

    with_exp = SearchService(index_dir, embedder, settings, expander, config=COLD)
    without = SearchService(index_dir, embedder, settings.replace(expansion=False), None, config=COLD)
    for q in qs[:5]:
        with_exp.search(q)
        without.search(q)
    totals: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
    for q in qs:
        for name, service in (("off", without), ("cold", with_exp), ("warm", with_exp)):
            if name == "cold":
                expander.clear_cache()
            t = time.perf_counter()
            service.search(q, k=10, mode="hybrid")
            totals[name].append((time.perf_counter() - t) * 1000)

    rows = [
        ["index time: embed the vocabulary", f"{embedded:,} terms", f"{vocab_s:.1f} s",
         f"{embedded / vocab_s:.0f} terms/s"],
        ["index open: dictionary + vocabulary", f"{expander.status.dictionary_headwords:,} headwords",
         f"{open_ms:.0f} ms", ""],
        ["expand, cold words (p50 / p95)", f"{len(qs)} queries, {sum(words) / len(words):.1f} words",
         "%.1f / %.1f ms" % stats(cold), "a model call of their own"],
        ["English lexicon (embedded once per model)", f"{expander.status.lexicon:,} words",
         f"{sum(unseen) / len(unseen):.1f} words per query left to embed", "names, mostly"],
        ["expand, cached words (p50 / p95)", f"{len(qs)} queries", "%.2f / %.2f ms" % stats(warm), ""],
        ["hybrid search, expansion off (p50 / p95)", f"{len(qs)} queries", "%.0f / %.0f ms" % stats(totals["off"]), ""],
        ["hybrid search, cold words (p50 / p95)", f"{len(qs)} queries", "%.0f / %.0f ms" % stats(totals["cold"]), ""],
        ["hybrid search, cached words (p50 / p95)", f"{len(qs)} queries", "%.0f / %.0f ms" % stats(totals["warm"]), ""],
    ]
    common.report("expansion", "Query expansion cost",
                  common.table(["what", "size", "time", "note"], rows),
                  [f"Index: {index_dir} ({manifest['counts']['documents']:,} documents, "
                   f"{len(vocab.terms):,} Devanagari terms, all embedded; "
                   f"{manifest['counts']['passages']:,} passages); model {manifest['model']['id']}.",
                   "Queries: XQuAD English dev questions, k=10; 5 warm-up queries first.",
                   "Cold words: the expander's per-word cache emptied before each query. Words in the "
                   "English lexicon need no model call; \"expand, cold words\" embeds the others in a call "
                   "of their own, a hybrid search in the query's own pass (packed into its row, each word "
                   "attending only to itself). Meanwhile BM25 scores the query's other terms; the new "
                   "words' neighbours are found and added to those scores after.",
                   "Hybrid with cached words still does more BM25 work than with expansion off: an English "
                   "question then has Hindi terms to look up, where before BM25 had none."])


if __name__ == "__main__":
    main()
