"""Cold start per passage precision: a first `search query`, and `search serve` until it answers.

    python -m bench.cold_start --index fp32=/tmp/xq-fp32 --index bf16=/tmp/xq-bf16 --index int8=/tmp/xq-int8 -r 3

Each precision path is forced twice over: the index was built at that precision (its manifest says so,
which is what a query-only process reads) and ``SANGAM_PRECISION`` names it. Every run is a new process;
the model and its ONNX graph are already in the cache. Each run also records whether torch was imported
(it never should be: a query-only process encodes on ONNX Runtime). Targets (issue 20): a first
`search query` ≤ 2 s, `search serve` ready ≤ 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import common

QUERY = "उत्तर कोरिया रूस संधि"
#: Runs `search` and reports at exit whether torch was imported (on stderr, after everything else).
DRIVER = ("import atexit, sys\n"
          "atexit.register(lambda: print('TORCH', 'torch' in sys.modules, file=sys.stderr))\n"
          "from sangam.cli import main\n"
          "sys.argv = ['search', *sys.argv[1:]]\n"
          "main()\n")


def timed_query(index: str, env: dict, mode: str) -> tuple[float, bool]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", DRIVER, "query", QUERY, "--mode", mode, "--index", index],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - t, "TORCH True" in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def timed_serve(index: str, env: dict, limit: float = 120.0) -> tuple[float, float, bool]:
    """Seconds until /api/health answers 200, and until a first hybrid search does; torch imported?"""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, "serve", "--port", str(port), "--index", index],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while not _get(base + "/api/health"):
            if proc.poll() is not None or time.perf_counter() - t > limit:
                raise RuntimeError(f"search serve did not start: {proc.stderr.read()[-500:]}")
            time.sleep(0.02)
        health = time.perf_counter() - t
        q = urllib.request.quote(QUERY)
        if not _get(f"{base}/api/search?q={q}&k=10", timeout=60):
            raise RuntimeError("the first search failed")
        first = time.perf_counter() - t
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    return health, first, "TORCH True" in err


def precision_of(index: str) -> str:
    from search import storage

    return storage.open_generation(Path(index)).manifest["model"].get("precision", "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", required=True, metavar="PRECISION=DIR",
                        help="an index built at PRECISION (fp32, bf16, int8); repeat for each")
    parser.add_argument("-r", "--repeat", type=int, default=3)
    parser.add_argument("--expansion", action="store_true", help="leave query expansion on (its start is "
                        "search/expansion.py's: the FreeDict dictionary, the lexicon)")
    args = parser.parse_args()
    rows = []
    for item in args.index:
        precision, index = item.split("=", 1)
        recorded = precision_of(index)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SANGAM_PRECISION": precision,
               "SANGAM_EXPANSION": "1" if args.expansion else "0"}
        runs = {"first `search query` (hybrid, k=10)": lambda: timed_query(index, env, "hybrid"),
                "first `search query --mode bm25`": lambda: timed_query(index, env, "bm25")}
        for name, run in runs.items():
            got = [run() for _ in range(args.repeat)]
            times = [s for s, _ in got]
            rows.append([f"{precision} (manifest: {recorded})", name, len(times), min(times),
                         common.percentile(times, 50), max(times), any(t for _, t in got)])
        served = [timed_serve(index, env) for _ in range(args.repeat)]
        for label, values in (("`search serve`: /api/health 200", [h for h, _, _ in served]),
                              ("`search serve`: first search answered", [f for _, f, _ in served])):
            rows.append([f"{precision} (manifest: {recorded})", label, len(values), min(values),
                         common.percentile(values, 50), max(values), any(t for _, _, t in served)])
        print(json.dumps(rows[-4:], default=str), flush=True)
    common.report("cold_start", "Cold start per passage precision (wall seconds, new process each run)",
                  common.table(["passages", "command", "runs", "min s", "median s", "max s", "torch imported"],
                               rows),
                  [f"expansion {'on' if args.expansion else 'off'}; the model and its ONNX graph already in the cache",
                   "targets: first `search query` ≤ 2 s, serve ready ≤ 5 s; the machine was shared (load above)"])


if __name__ == "__main__":
    main()
