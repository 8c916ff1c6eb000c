"""In-process query latency (p50/p95/p99) for bm25, dense and hybrid, with bm25s on the same corpus.

    python -m bench.build 10000          # builds /tmp/sangam-bench/index-10000 first
    python -m bench.query 1000 10000 -q 200   # with Lucene too when Pyserini is installed (bench/lucene.py)

Queries are the 612 XQuAD Hindi dev questions (bench/data), cycled; each mode gets the same ones after a
warm-up. Query embedding is always the real model; the index's passage vectors may be sampled and tiled
(see bench/build.py), which changes nothing about the cost of a query.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench import common, lucene

DATA = Path(__file__).resolve().parent / "data"


def queries(limit: int) -> list[str]:
    rows = (DATA / "xquad_hi_queries.dev.tsv").read_text("utf-8").splitlines()
    texts = [r.split("\t", 1)[1] for r in rows if "\t" in r]
    return [texts[i % len(texts)] for i in range(limit)]


def measure(n: int, qs: list[str]) -> tuple[list[list], dict]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from search.service import SearchService
    from search.dense import DenseConfig
    from search.service import ServiceConfig

    COLD = ServiceConfig(dense=DenseConfig(vectors_kept=0))  # time every query's embedding: they repeat
    from search.settings import Settings
    from search import storage

    index_dir = common.WORK / f"index-{n}"
    settings = Settings.from_env(index_dir=str(index_dir), expansion=False)
    service = SearchService.open(index_dir, settings, config=COLD)
    for q in qs[:5]:  # warm-up: searcher, page cache, the query runtime switch
        service.search(q, k=10, mode="hybrid")
    rows, parts = [], {}
    for mode in ("bm25", "dense", "hybrid"):
        totals, comp = [], {}
        for q in qs:
            t = time.perf_counter()
            response = service.search(q, k=10, mode=mode)
            totals.append((time.perf_counter() - t) * 1000)
            for key, ms in response.timings_ms.items():
                comp.setdefault(key, []).append(ms)
        rows.append([f"{n:,}", f"Sangam {mode}", len(qs), common.percentile(totals, 50),
                     common.percentile(totals, 95), common.percentile(totals, 99)])
        parts[mode] = {k: (common.percentile(v, 50), common.percentile(v, 95)) for k, v in comp.items()
                       if k != "total"}
    peer = bm25s_latency(storage.live_generation(index_dir), qs)
    if peer:
        rows.append([f"{n:,}", "bm25s (same tokens, k=300 passages)", len(qs), *peer])
    why_not = lucene.available()
    if why_not is None:
        index, seconds, count = lucene.build(storage.live_generation(index_dir))
        LUCENE_BUILDS.append(f"{n:,} docs: Lucene indexed {count:,} passages in {seconds:.0f} s "
                             f"({count / seconds:,.0f} passages/s, 2 threads)")
        for k in (10, 300):
            times = lucene.latency(index, qs, k)
            rows.append([f"{n:,}", f"Lucene (Pyserini, HindiAnalyzer, k={k} passages)", len(qs),
                         *(common.percentile(times, q) for q in (50, 95, 99))])
    else:
        LUCENE_BUILDS.append(f"Lucene not run: {why_not}")
    return rows, parts


#: Notes on the Lucene peer, one per size, printed under the table.
LUCENE_BUILDS: list[str] = []


def bm25s_latency(gen: Path, qs: list[str]):
    try:
        import bm25s
    except ImportError:
        return None
    from search import storage
    from search.analysis import analyze

    passages = storage.read_jsonl(gen / storage.PASSAGES)
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in analyze(p["title"] + "\n" + p["text"])] for p in passages]
    model = bm25s.BM25()
    model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    times = []
    for q in qs:
        t = time.perf_counter()
        tokens = [[vocab[x] for x in analyze(q) if x in vocab]]
        if tokens[0]:
            model.retrieve(tokens, k=min(300, len(passages)), show_progress=False, n_threads=1)
        times.append((time.perf_counter() - t) * 1000)
    return [common.percentile(times, 50), common.percentile(times, 95), common.percentile(times, 99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("-q", "--queries", type=int, default=200)
    args = parser.parse_args()
    qs = queries(args.queries)
    rows, breakdown = [], []
    for n in args.sizes:
        r, parts = measure(n, qs)
        rows += r
        for mode, comp in parts.items():
            breakdown.append([f"{n:,}", mode] + [", ".join(f"{k} {p50:.1f}/{p95:.1f}" for k, (p50, p95) in comp.items())])
    body = common.table(["docs", "system", "queries", "p50 ms", "p95 ms", "p99 ms"], rows)
    body += "\n\nWhere the time goes (p50/p95 ms per stage, from `SearchResponse.timings_ms`):\n\n"
    body += common.table(["docs", "mode", "stages"], breakdown)
    common.report("query", "Query latency, in-process", body, [
        "Queries: XQuAD Hindi dev questions, k=10, expansion off; 5 warm-up queries first.",
        "Index vectors are sampled/tiled unless bench/build.py ran with --embed-sample 0; query embedding is real.",
        "bm25s: same passages and analyzer tokens, top 300 passages (Sangam's over-fetch), 1 thread.",
        "Lucene: the same passages, its own Hindi analyzer and BM25, `LuceneSearcher.search` from Python "
        "(see bench/lucene.py); Sangam's bm25 row also makes snippets.",
        *LUCENE_BUILDS,
    ])


if __name__ == "__main__":
    main()
