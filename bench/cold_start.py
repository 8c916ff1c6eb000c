"""CLI cold start: `search --help`, and a first `search query` (model load + index open + one query).

    python -m bench.cold_start --index /tmp/sangam-bench/index-1000 -r 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import common


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=str(common.WORK / "index-1000"))
    parser.add_argument("-r", "--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = shutil.which("search") or str(Path(sys.executable).with_name("search"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SANGAM_EXPANSION": "0"}
    runs = {
        "search --help": [exe, "--help"],
        "search --version": [exe, "--version"],
        "python -c 'import sangam.cli'": [sys.executable, "-c", "import sangam.cli"],
        "first `search query` (hybrid, k=10)": [exe, "query", "उत्तर कोरिया रूस संधि", "--index", args.index],
        "first `search query --mode bm25`": [exe, "query", "उत्तर कोरिया रूस संधि", "--mode", "bm25", "--index", args.index],
    }
    rows = []
    for name, cmd in runs.items():
        times = [timed(cmd, env) for _ in range(args.repeat)]
        rows.append([name, len(times), min(times), common.percentile(times, 50), max(times)])
    common.report("cold_start", "CLI cold start (wall seconds, new process each run)",
                  common.table(["command", "runs", "min s", "median s", "max s"], rows),
                  [f"Index: {args.index}; expansion off; the model is already built in the cache."])


if __name__ == "__main__":
    main()
