"""Build throughput: passages/s cut and embedded in this process against a local Ray actor pool, at equal cores.

    python -m bench.ray_build --copies 2 --rounds 1

Both sides run the function the builder calls (``index.builder.cut_and_embed`` here,
``index.distributed.cut_and_embed`` on Ray) over the dev corpus (240 Hindi paragraphs; ``--copies`` repeats
it under new ids for a longer run). In-process with N threads is compared with N Ray actors of one CPU
each, on a local Ray instance of N CPUs started once. A Ray run pays a fixed start (actors spawned, each
loading the model) that a long build amortises: it is measured alone (an input of one document per actor)
and reported beside the steady-state rate, ``passages / (run − start)``. Rounds alternate the two sides so
that other work on the machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

from bench import common

DEV_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "xquad" / "xquad_hi_corpus.jsonl"


def documents(copies: int):
    from search.types import Document

    rows = [json.loads(line) for line in DEV_CORPUS.read_text("utf-8").splitlines() if line.strip()]
    return [Document(doc_id=f"{r['id']}-{c}", title=r.get("title", ""), text=r["text"], origin="bench")
            for c in range(copies) for r in rows]


def encoder(settings, threads: int):
    """The model with ``threads`` intra-op threads (torch's, which ONNX Runtime sessions follow)."""
    import torch

    from search.embedding import Embedder
    from search.settings import Settings

    torch.set_num_threads(threads)
    if "threads" in {f.name for f in dataclasses.fields(Settings)}:
        settings = settings.replace(threads=threads)
    return Embedder.load(settings), settings


def in_process(docs, embedder, settings, threads: int) -> tuple[int, float]:
    import torch

    from index.builder import cut_and_embed

    torch.set_num_threads(threads)
    t = time.perf_counter()
    cut, _ = cut_and_embed(docs, embedder, settings, False)
    return sum(map(len, cut)), time.perf_counter() - t


def on_ray(docs, embedder, settings, workers: int) -> tuple[int, float, float]:
    from index.distributed import cut_and_embed

    ray_settings = settings.replace(ray="local", ray_workers=workers, ray_cpus_per_worker=1)
    t = time.perf_counter()
    cut_and_embed(docs[:workers], embedder, ray_settings, False)  # the fixed start alone
    start = time.perf_counter() - t
    t = time.perf_counter()
    cut, _ = cut_and_embed(docs, embedder, ray_settings, False)
    return sum(map(len, cut)), time.perf_counter() - t, start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cores", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    import ray

    from index.distributed import start_local
    from search.settings import Settings

    load_start = os.getloadavg()[0]
    base = Settings.from_env(precision=args.precision, expansion=False)
    docs = documents(args.copies)
    rows = []
    for cores in args.cores:
        embedder, settings = encoder(base, cores)
        start_local(ray, cores)
        try:
            for _ in range(args.rounds):
                passages, here = in_process(docs, embedder, settings, cores)
                _, there, start = on_ray(docs, embedder, settings, cores)
                steady = passages / max(there - start, 1e-9)
                rows.append([cores, f"{passages:,}", passages / here, there, start, steady,
                             f"{(1 - steady / (passages / here)) * 100:+.1f}%",
                             f"{(1 - (passages / there) / (passages / here)) * 100:+.1f}%", f"{os.getloadavg()[0]:.1f}"])
                print(rows[-1], flush=True)
        finally:
            ray.shutdown()
    common.report("ray_build", f"Build throughput: in-process against Ray actors ({args.precision})", common.table(
        ["cores", "passages", "in-process passages/s", "Ray run s", "Ray start s", "Ray steady passages/s",
         "Ray overhead, steady", "Ray overhead, whole run", "load after"], rows), [
        f"Dev corpus ({len(docs)} documents: 240 paragraphs × {args.copies}); cut and embedded by the builder's "
        f"function on both sides, precision {args.precision}; in-process with N torch/ONNX Runtime threads "
        "against N Ray actors of 1 CPU on a local Ray instance of N CPUs.",
        "Ray start: spawning the actors and loading the model in each (measured with one document per actor); "
        "steady = passages / (run − start). Overhead = 1 − Ray rate / in-process rate.",
        f"Load average {load_start:.1f} at the start: the 2 cores were shared with other engineers' tests.",
        "No GPU machine was available: GPU actors (--ray-gpus) were not measured."])


if __name__ == "__main__":
    main()
