"""Exact dense search against the HNSW graph (search/ann.py) on a benchmark index: speed and agreement.

    python -m bench.ann 10000 50000 -q 200     # indexes from bench/build.py

The graph is built in a temporary directory from the index's vectors (timed) and swapped into the
query service in-process, so the same index is searched both ways with the same query vectors.
Agreement: the share of exact search's top-10 document scores that the graph's top 10 also holds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import common
from bench.query import queries


def _agreement(want: dict, got: dict, k: int = 10) -> float:
    """Share of exact search's top-k document scores that the graph's top k also holds.

    Scores, not ids: a graph that returns another document with the same score has found an
    equally good one.
    """
    import collections

    def top(scores: dict) -> collections.Counter:
        return collections.Counter(round(s, 5) for s in sorted(scores.values(), reverse=True)[:k])

    expected = top(want)
    return sum((expected & top(got)).values()) / max(1, sum(expected.values()))


def measure(n: int, qs: list[str]) -> list:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np

    from search import ann
    from search.service import SearchService
    from search.dense import DenseConfig
    from search.service import ServiceConfig

    COLD = ServiceConfig(dense=DenseConfig(vectors_kept=0))  # time every query's embedding: they repeat
    from search.settings import Settings

    index_dir = common.WORK / f"index-{n}"
    service = SearchService.open(index_dir, Settings.from_env(index_dir=str(index_dir), expansion=False), config=COLD)
    data = service._data
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        info = ann.build(Path(tmp), vectors, ann.AnnConfig(min_passages=0))
        build_s = time.perf_counter() - t
        graph = ann.Graph.open(Path(tmp), {"ann": info}, len(vectors))
        size_mb = (Path(tmp) / ann.FILE).stat().st_size / 1e6
    qvecs = service.embedder.encode_queries(qs)
    exact_ms, graph_ms, agree = [], [], []
    hybrid = {"exact": [], "graph": []}
    for q, qvec in zip(qs, qvecs):
        data.graph = None
        t = time.perf_counter()
        want = service.dense.retrieve(data, qvec).scores
        exact_ms.append((time.perf_counter() - t) * 1000)
        data.graph = graph
        t = time.perf_counter()
        got = service.dense.retrieve(data, qvec).scores
        graph_ms.append((time.perf_counter() - t) * 1000)
        agree.append(_agreement(want, got))
    for g in (None, graph):  # warm-up, each way
        data.graph = g
        for q in qs[:5]:
            service.search(q, k=10)
    for q in qs:  # alternate, so drift in machine speed hits both alike
        for name, g in (("exact", None), ("graph", graph)):
            data.graph = g
            t = time.perf_counter()
            service.search(q, k=10)
            hybrid[name].append((time.perf_counter() - t) * 1000)
    p = common.percentile
    return [f"{n:,} ({len(vectors):,})", f"{build_s:.1f} s", f"{size_mb:.0f} MB",
            f"{p(exact_ms, 50):.2f} / {p(exact_ms, 95):.2f}", f"{p(graph_ms, 50):.2f} / {p(graph_ms, 95):.2f}",
            f"{100 * sum(agree) / len(agree):.1f}%",
            f"{p(hybrid['exact'], 50):.1f} / {p(hybrid['exact'], 95):.1f}",
            f"{p(hybrid['graph'], 50):.1f} / {p(hybrid['graph'], 95):.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("-q", "--queries", type=int, default=200)
    args = parser.parse_args()
    from search import ann

    config = ann.AnnConfig()
    qs = queries(args.queries)
    rows = [measure(n, qs) for n in args.sizes]
    common.report("ann", "Dense search: exact product vs HNSW graph", common.table(
        ["docs (passages)", "graph build", "graph size", "exact p50 / p95 ms", "graph p50 / p95 ms",
         "top-10 docs agree", "hybrid exact p50 / p95 ms", "hybrid graph p50 / p95 ms"], rows),
        [f"XQuAD Hindi dev questions, k=10, expansion off; graph M={config.m}, efConstruction="
         f"{config.ef_construction}, efSearch={ann.EF_SEARCH}; top 300 passages per query as in the service.",
         f"The service uses the graph from {config.min_passages:,} passages on (built by `search index`).",
         "Agreement compares top-10 document scores (rounded to 1e-5). The benchmark vectors are a sample of "
         "real ones tiled with a small perturbation (bench/build.py): tight clusters of near-duplicates, the "
         "hardest case for a graph, whose order inside a cluster is noise. Real corpora are unmeasured here "
         "(embedding 110k passages takes hours on this CPU)."])


if __name__ == "__main__":
    main()
