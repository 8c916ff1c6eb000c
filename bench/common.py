"""Shared benchmark helpers: machine description, percentiles, Markdown tables, results files."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(os.environ.get("SANGAM_BENCH_DIR", "/tmp/sangam-bench"))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine() -> str:
    flags = cpu_flags()
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    load = os.getloadavg()
    return (f"{cpu_model()}, {os.cpu_count()} cores ({', '.join(simd) or 'no AVX2'}), "
            f"Python {platform.python_version()}, load average at start {load[0]:.2f}")


def speed_probe(seconds: float = 0.3) -> str:
    """How fast this machine runs right now, so tables from a slow and a fast hour of a VM can be told
    apart: an fp32 matrix product on every core (numpy's BLAS) and a pure-Python loop."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).standard_normal((768, 768), dtype=np.float32)
    with threadpool_limits(limits=os.cpu_count(), user_api="blas"):
        a @ a  # warm-up
        runs, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            a @ a
            runs += 1
        gflops = 2 * 768 ** 3 * runs / (time.perf_counter() - t0) / 1e9
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        total = 0
        for i in range(100_000):
            total += i
        steps += 100_000
    python = steps / (time.perf_counter() - t0) / 1e6
    return f"speed probe at the end: fp32 matrix product {gflops:.0f} GFLOP/s, Python loop {python:.0f} M steps/s"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(q / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def table(headers: list[str], rows: list[list]) -> str:
    def cell(x) -> str:
        if isinstance(x, float):
            return f"{x:,.2f}" if abs(x) < 100 else f"{x:,.0f}"
        return str(x)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def report(name: str, title: str, body: str, notes: list[str] = ()) -> str:
    """Print a section and append it to ``bench/results/<name>.md``."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"## {title}\n\n{stamp} · {machine()}; {speed_probe()}\n\n{body}\n"
    if notes:
        text += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"{name}.md", "a", encoding="utf-8") as out:
        out.write(text + "\n")
    return text
