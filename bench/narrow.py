"""What narrowing costs: hybrid latency with a date filter, with facets, and with both, against the same
query unfiltered, in one run (the same queries, interleaved, so the machine's load falls on all alike).

    python -m bench.build 10000 --embed-sample 256 --expansion    # /tmp/sangam-bench/index-10000
    python -m bench.narrow 10000 -q 200

Appends a table to bench/results/narrow.md.
"""

from __future__ import annotations

import argparse
import os
import time

from bench import common
from bench.query import queries

VARIANTS = {
    "unfiltered": {},
    "date filter (one year)": {"filters": ("2021-01-01", "2021-12-31")},
    "facets": {"facets": True},
    "date filter + facets": {"filters": ("2021-01-01", "2021-12-31"), "facets": True},
    "sort by date": {"sort": "date"},
}


def measure(n: int, qs: list[str]) -> list[list]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from search.dense import DenseConfig
    from search.scope import Filters
    from search.service import SearchService, ServiceConfig
    from search.settings import Settings

    index_dir = common.WORK / f"index-{n}"
    settings = Settings.from_env(index_dir=str(index_dir), expansion=False)
    service = SearchService.open(index_dir, settings, config=ServiceConfig(dense=DenseConfig(vectors_kept=0)))
    kwargs = {}
    for name, spec in VARIANTS.items():
        kw = dict(spec)
        if "filters" in kw:
            kw["filters"] = Filters.checked(*kw["filters"])
        kwargs[name] = kw
    for q in qs[:5]:  # warm-up: searcher, page cache, metadata arrays
        for kw in kwargs.values():
            service.search(q, k=10, mode="hybrid", **kw)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    totals: dict[str, list[int]] = {name: [] for name in VARIANTS}
    for q in qs:
        for name, kw in kwargs.items():
            t = time.perf_counter()
            response = service.search(q, k=10, mode="hybrid", **kw)
            times[name].append((time.perf_counter() - t) * 1000)
            totals[name].append(response.total)
    base50, base95 = common.percentile(times["unfiltered"], 50), common.percentile(times["unfiltered"], 95)
    rows = []
    for name in VARIANTS:
        p50, p95 = common.percentile(times[name], 50), common.percentile(times[name], 95)
        rows.append([f"{n:,}", name, len(qs), p50, p95, f"{p50 / base50:.2f}×", f"{p95 / base95:.2f}×",
                     f"{sum(totals[name]) / len(qs):,.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10000])
    parser.add_argument("-q", "--queries", type=int, default=200)
    args = parser.parse_args()
    qs = queries(args.queries)
    rows = []
    for n in args.sizes:
        rows += measure(n, qs)
    header = ["documents", "hybrid query", "queries", "p50 ms", "p95 ms", "p50 vs unfiltered",
              "p95 vs unfiltered", "mean total"]
    common.report("narrow", "Narrowing: filters, facets and sort against the unfiltered query",
                  common.table(header, rows), [
                      "Queries: XQuAD Hindi dev questions, k=10, expansion off, hybrid; each query is asked in "
                      "every variant in turn (interleaved), after 5 warm-up queries.",
                      "Index vectors are sampled/tiled (bench/build.py); query embedding is real.",
                      "Target: a date filter and facets each at most 1.3× the unfiltered query."])


if __name__ == "__main__":
    main()
