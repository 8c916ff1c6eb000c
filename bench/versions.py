"""Query latency of two versions of Sangam in one run: each version's code (a git commit, checked out
into a temporary worktree) answers the same queries over the same index, in alternating rounds, so the
machine's load falls on both alike.

    python -m bench.build 10000 --embed-sample 256 --expansion    # /tmp/sangam-bench/index-10000
    python -m bench.versions cf94176 HEAD -q 200 --rounds 3

Appends a table to bench/results/versions.md: p50/p95 per mode and version, the median over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common
from bench.query import queries

ROOT = Path(__file__).resolve().parents[1]
MODES = ("bm25", "dense", "hybrid")

# Run inside a version's worktree: time each mode over the queries (5 warm-up queries first).
PROBE = r"""
import json, sys, time
from search.service import SearchService
from search.settings import Settings
index, qs = sys.argv[1], json.load(open(sys.argv[2]))
settings = Settings.from_env(index_dir=index, expansion=True)
service = SearchService.open(index, settings)
for q in qs[:5]:
    service.search(q, k=10, mode="hybrid")
out = {}
for mode in ("bm25", "dense", "hybrid"):
    times = []
    for q in qs:
        t = time.perf_counter()
        service.search(q, k=10, mode=mode)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    out[mode] = (times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))])
print(json.dumps(out))
"""


def worktree(commit: str, into: Path) -> Path:
    path = into / commit.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
                   check=True, capture_output=True)
    return path


def run(tree: Path, index: Path, query_file: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(index), str(query_file)], cwd=tree, check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--docs", type=int, default=10000)
    parser.add_argument("-q", "--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    index = common.WORK / f"index-{args.docs}"
    results: dict[str, list[dict]] = {args.before: [], args.after: []}
    with tempfile.TemporaryDirectory() as tmp:
        query_file = Path(tmp) / "queries.json"
        query_file.write_text(json.dumps(queries(args.queries)), "utf-8")
        trees = {c: worktree(c, Path(tmp)) for c in results}
        try:
            for round_ in range(args.rounds):  # ABBA: neither version always runs first
                order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
                for commit, tree in order:
                    results[commit].append(run(tree, index, query_file))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    rows = []
    for mode in MODES:
        med = {c: [statistics.median(r[mode][i] for r in rs) for i in (0, 1)] for c, rs in results.items()}
        before, after = med[args.before], med[args.after]
        rows.append([mode, before[0], after[0], f"{after[0] / before[0]:.3f}×", before[1], after[1],
                     f"{after[1] / before[1]:.3f}×"])
    common.report("versions", f"Query latency, {args.before} against {args.after} (same run)", common.table(
        ["mode", f"p50 ms {args.before}", f"p50 ms {args.after}", "p50 ratio", f"p95 ms {args.before}",
         f"p95 ms {args.after}", "p95 ratio"], rows), [
        f"{args.docs:,}-document bench index, {args.queries} XQuAD Hindi dev questions, k=10, expansion on; "
        f"{args.rounds} rounds in alternating order (ABBA), the median of each version's p50 and p95 over them."])


if __name__ == "__main__":
    main()
