"""Bounded load check: the real server on 127.0.0.1, N client threads, a fixed number of English and Hindi searches.

Prints a Markdown table of latency percentiles and errors (zero expected) and appends it, with the machine's
CPU model and core count, to bench/results/load.md. It stops by itself: after --requests searches, or at
--max-seconds, whichever comes first. It only ever talks to 127.0.0.1.

Example:
  python bench/load.py                      # builds a seed index in a temp dir first
  python bench/load.py --index ~/.local/share/sangam/index --threads 16 --requests 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HOST = "127.0.0.1"  # never anything else
RESULTS = Path(__file__).resolve().parent / "results" / "load.md"

ENGLISH = [
    "treaty ratification",
    "North Korea Russia defence pact",
    "Kim Jong Un meets Russian defence minister",
    "North Korean troops in Ukraine",
    "Putin visit to Pyongyang",
    "Zelensky says North Korea sends civilians",
]
HINDI = [
    "उत्तर कोरिया रूस संधि की पुष्टि",
    "किम जोंग उन रक्षा मंत्री बैठक",
    "यूक्रेन युद्ध में उत्तर कोरियाई सैनिक",
    "पुतिन की प्योंगयांग यात्रा",
    "ज़ेलेंस्की नागरिक रूसी सेना",
    "रणनीतिक साझेदारी",
]


@dataclass(frozen=True)
class Sample:
    language: str
    ms: float
    ok: bool
    error: str = ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def percentile(values: list[float], p: int) -> float:
    """Nearest-rank percentile (no interpolation): a latency some request actually had."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, -(-p * len(ordered) // 100) - 1))
    return ordered[index]


def run_clients(port: int, *, threads: int, requests: int, k: int, mode: str, max_seconds: float) -> tuple:
    """Send ``requests`` searches from ``threads`` threads (keep-alive connections); return samples, seconds."""
    plan = [("en", q) for q in ENGLISH] + [("hi", q) for q in HINDI]
    counter = itertools.count()
    lock = threading.Lock()
    samples: list[Sample] = []
    deadline = time.perf_counter() + max_seconds

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter)
                if i >= requests:
                    return
                language, q = plan[i % len(plan)]
                path = "/api/search?" + urlencode({"q": q, "k": k, "mode": mode})
                t = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    body = response.read()
                    ms = (time.perf_counter() - t) * 1000
                    if response.status != 200:
                        sample = Sample(language, ms, False, f"HTTP {response.status}")
                    elif not json.loads(body).get("hits"):
                        sample = Sample(language, ms, False, "no hits")
                    else:
                        sample = Sample(language, ms, True)
                except (OSError, http.client.HTTPException, ValueError) as e:
                    sample = Sample(language, (time.perf_counter() - t) * 1000, False, type(e).__name__)
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=60)
                with lock:
                    samples.append(sample)
        finally:
            conn.close()

    t0 = time.perf_counter()
    workers = [threading.Thread(target=client, name=f"client-{n}", daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(max_seconds + 90)
    return samples, time.perf_counter() - t0


def table(samples: list[Sample], seconds: float) -> list[str]:
    rows = ["| queries | requests | errors | p50 ms | p95 ms | p99 ms | max ms | req/s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, language in (("all", None), ("English", "en"), ("Hindi", "hi")):
        group = [s for s in samples if language is None or s.language == language]
        if not group:
            continue
        ms = [s.ms for s in group]
        errors = sum(not s.ok for s in group)
        rate = f"{len(group) / seconds:.1f}" if language is None and seconds > 0 else ""
        rows.append(f"| {label} | {len(group)} | {errors} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | "
                    f"{percentile(ms, 99):.1f} | {max(ms):.1f} | {rate} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: python bench/load.py --threads 8 --requests 400",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="index directory (default: build one over seeds/ in a temp dir)")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--requests", type=int, default=400, help="searches to send in all (default 400)")
    parser.add_argument("--server-threads", type=int, default=4,
                        help="waitress worker threads (default 4, as `search serve`)")
    parser.add_argument("--k", type=int, default=10, help="results per search (default 10)")
    parser.add_argument("--mode", default="hybrid", choices=("hybrid", "bm25", "dense"))
    parser.add_argument("--max-seconds", type=float, default=300.0, help="stop sending after this long (default 300)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"Markdown file to append to (default {RESULTS})")
    parser.add_argument("--no-save", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.requests < 1:
        parser.error("--threads and --requests must be at least 1")

    from search.embedding import Embedder
    from search.service import SearchService
    from search.dense import DenseConfig
    from search.service import ServiceConfig

    COLD = ServiceConfig(dense=DenseConfig(vectors_kept=0))  # time every query's embedding: they repeat
    from search.settings import Settings, seeds_dir
    from web.app import create_app
    from web.server import BackgroundServer

    # with more clients than server threads, requests queue by design; waitress would warn on every one
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    settings = Settings.from_env()
    note = lambda m: print(m, file=sys.stderr)  # noqa: E731
    embedder = Embedder.load(settings)
    with tempfile.TemporaryDirectory(prefix="sangam-load-") as tmp:
        index_dir = args.index
        if index_dir is None:
            from index.builder import build_index

            index_dir = Path(tmp) / "index"
            build_index([seeds_dir()], index_dir, settings, embedder=embedder, progress=False)
        service = SearchService.open(index_dir, settings, embedder=embedder, config=COLD)
        app = create_app(settings=settings, service=service)
        with BackgroundServer(app, threads=args.server_threads, host=HOST) as server:
            note(f"warming up on {server.url} ...")
            run_clients(server.port, threads=1, requests=len(ENGLISH) + len(HINDI), k=args.k, mode=args.mode,
                        max_seconds=args.max_seconds)
            note(f"{args.requests} searches from {args.threads} threads ...")
            samples, seconds = run_clients(server.port, threads=args.threads, requests=args.requests, k=args.k,
                                           mode=args.mode, max_seconds=args.max_seconds)
        counts = service.manifest["counts"]
        model = service.manifest["model"]["id"]

    errors = [s for s in samples if not s.ok]
    missing = args.requests - len(samples)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Load check, {when}",
        "",
        f"- machine: {cpu_model()}, {usable_cores()} usable cores ({os.cpu_count()} logical), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- index: {counts['documents']} documents, {counts['passages']} passages; model {model}; "
        f"expansion {'on' if getattr(service, 'expander', None) is not None else 'off'}",
        f"- load: {args.threads} client threads, {len(samples)} of {args.requests} requests sent in {seconds:.1f}s, "
        f"mode {args.mode}, k={args.k}, {args.server_threads} server threads, 127.0.0.1 keep-alive",
        "",
        *table(samples, seconds),
        "",
    ]
    if errors:
        kinds = sorted({s.error for s in errors})
        lines.insert(-1, f"- errors: {len(errors)} ({', '.join(kinds)})")
    if missing:
        lines.insert(-1, f"- not sent: {missing} (stopped at --max-seconds {args.max_seconds:g})")
    text = "\n".join(lines)
    print(text)
    if not args.no_save:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        new = not args.out.exists()
        with args.out.open("a", encoding="utf-8") as f:
            if new:
                f.write("# Load check results\n\nAppended by `python bench/load.py`; newest last.\n\n")
            f.write(text + "\n")
        note(f"appended to {args.out}")
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
