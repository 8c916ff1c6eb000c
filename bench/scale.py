"""Scale benchmark: memory per passage and query latency against corpus size, with the fits docs/scaling.md uses.

    python -m bench.scale --full 10000 30000 100000 --dense 10000 100000 300000 1000000 --hnsw-max 100000

``--full N``: a real index of N synthetic documents built by ``index.builder.build_index`` (Whoosh BM25,
passages, documents, vectors, the HNSW graph from 32,768 passages on), then opened in a fresh process as
the server opens it (``LoadedGeneration``): resident memory, opening time, BM25 and dense latency.
``--dense N``: random unit vectors alone, to 1M: exact search (one matrix-vector product) and, up to
``--hnsw-max``, the faiss HNSW graph the builder writes (search/ann.py), with its size in memory.

No model is used. Documents are synthetic Hindi: words drawn by their frequency in the dev corpus
(tests/data/xquad/xquad_hi_corpus.jsonl), 15-word sentences. Vectors are random unit vectors (blake2b of the
passage text seeds them): no relevance, and a harder case for HNSW than real embeddings, which cluster. A
vocabulary of one corpus's words makes posting lists grow in proportion to N (real news keeps adding new
words), so the BM25 figures are pessimistic.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench import common

DEV_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "xquad" / "xquad_hi_corpus.jsonl"
DEV_QUERIES = DEV_CORPUS.with_name("xquad_hi_queries.dev.tsv")
DIM = 384  # multilingual-e5-small
TOP = 300  # passages each retriever fetches, as the service does
WORDS_PER_DOC = 90  # about 180 model tokens: one passage per document
SEED = 20


class RandomEmbedder:
    """Deterministic random unit vectors and whitespace token counts: what the builder asks of a model."""

    dim = DIM
    max_seq_length = 512
    precision = "fp32"

    def describe(self) -> dict:
        return {"id": "random-unit-vectors", "fingerprint": "0" * 32, "dimension": DIM,
                "prompts": {"query": "", "passage": ""}, "max_seq_length": 512, "precision": "fp32"}

    def count_tokens(self, texts):
        return [len(t.split()) * 2 for t in texts]  # ~2 model tokens per Hindi word

    def encode_passages(self, texts, batch_size=32, progress=None):
        out = np.stack([_unit(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)
        if progress:
            progress(len(texts))
        return out


def _unit(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def random_unit(n: int, seed: int = SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):  # in pieces: no float64 copy of a million rows
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def vocabulary() -> tuple[list[str], np.ndarray]:
    counts: Counter[str] = Counter()
    for line in DEV_CORPUS.read_text("utf-8").splitlines():
        text = json.loads(line)["text"]
        counts.update(w for w in re.findall(r"[\w\u0900-\u097F]+", text) if not w.isdigit())
    words = sorted(counts)
    freq = np.array([counts[w] for w in words], np.float64)
    return words, freq / freq.sum()


def write_corpus(n: int, path: Path) -> Path:
    words, p = vocabulary()
    rng = np.random.default_rng(SEED)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            drawn = [words[j] for j in rng.choice(len(words), size=WORDS_PER_DOC + 6, p=p)]
            body = "। ".join(" ".join(drawn[6 + k:6 + k + 15]) for k in range(0, WORDS_PER_DOC, 15)) + "।"
            out.write(json.dumps({"id": f"s{i}", "title": " ".join(drawn[:6]), "text": body},
                                 ensure_ascii=False) + "\n")
    return path


def queries(limit: int = 200) -> list[str]:
    rows = [line.split("\t", 1) for line in DEV_QUERIES.read_text("utf-8").splitlines() if "\t" in line]
    return [text for _qid, text in rows][:limit]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


# ------------------------------------------------------------------ a whole index, opened as the server does
def build_full(n: int, work: Path) -> dict:
    """Build an index of ``n`` synthetic documents with the real builder; probe it in a fresh process."""
    from index.builder import build_index
    from search.settings import Settings

    corpus = write_corpus(n, work / f"scale-{n}.jsonl")
    index_dir = work / f"index-{n}"
    shutil.rmtree(index_dir, ignore_errors=True)
    settings = Settings.from_env(expansion=False, index_dir=str(index_dir))
    t = time.perf_counter()
    summary = build_index([corpus], index_dir, settings, embedder=RandomEmbedder(), progress=False)
    built = time.perf_counter() - t
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    probe = subprocess.run([sys.executable, "-m", "bench.scale", "--probe", str(index_dir)], env=env,
                           capture_output=True, text=True, check=True)
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    return {"docs": n, "passages": summary.passages, "build_s": built, **result}


def probe(index_dir: Path) -> dict:
    """Open the index as ``search serve`` does; memory, opening time and per-query latency (one thread)."""
    from search import storage
    from search.analysis import analyze
    from search.generation import LoadedGeneration

    base = rss_mb()
    t = time.perf_counter()
    gen = LoadedGeneration(storage.open_generation(index_dir))
    open_s = time.perf_counter() - t
    opened_mb = rss_mb() - base
    qs = queries()
    terms = [[(term, 1.0) for term in dict.fromkeys(analyze(q))] for q in qs]
    vectors = [_unit(q) for q in qs]
    for ts in terms[:10]:
        gen.bm25.search(ts, TOP)
    bm25 = _timed(lambda ts: gen.bm25.search(ts, TOP), terms)
    exact = _timed(lambda v: np.argpartition(-(gen.vectors @ v), TOP)[:TOP], vectors)
    graph = _timed(lambda v: gen.graph.search(v, TOP), vectors) if gen.graph is not None else []
    files = {name: _disk(gen.gen / name) for name in
             ("bm25", "vectors.npy", "vectors.hnsw", "passages.jsonl", "documents.jsonl")}
    return {"open_s": open_s, "opened_mb": opened_mb, "end_mb": rss_mb() - base,
            "bm25_p50": common.percentile(bm25, 50), "bm25_p95": common.percentile(bm25, 95),
            "exact_p50": common.percentile(exact, 50), "graph_p50": common.percentile(graph, 50) if graph else None,
            "files_mb": {k: v / 2**20 for k, v in files.items()}}


def _disk(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


# ------------------------------------------------------------------ vectors alone, to a million
def dense(n: int, hnsw_max: int) -> dict:
    import faiss

    from search import ann

    faiss.omp_set_num_threads(1)
    vectors = random_unit(n)
    qs = random_unit(100, seed=SEED + 1)
    exact = _timed(lambda q: np.argpartition(-(vectors @ q), TOP)[:TOP], qs)
    row = {"n": n, "vectors_mb": vectors.nbytes / 2**20, "exact_p50": common.percentile(exact, 50),
           "exact_p95": common.percentile(exact, 95)}
    if n <= hnsw_max:
        faiss.omp_set_num_threads(2)
        config = ann.AnnConfig()
        index = faiss.IndexHNSWFlat(DIM, config.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        t = time.perf_counter()
        index.add(vectors)
        row["hnsw_build_s"] = time.perf_counter() - t
        faiss.omp_set_num_threads(1)
        row["hnsw_links_mb"] = (faiss.serialize_index(index).nbytes - vectors.nbytes) / 2**20
        graph = ann.Graph(index, n)
        found = [graph.search(q, TOP)[0] for q in qs[:20]]
        truth = [np.argsort(-(vectors @ q))[:10] for q in qs[:20]]
        row["hnsw_recall10"] = float(np.mean([len(set(f[:10]) & set(t)) / 10 for f, t in zip(found, truth)]))
        lat = _timed(lambda q: graph.search(q, TOP), qs)
        row["hnsw_p50"], row["hnsw_p95"] = common.percentile(lat, 50), common.percentile(lat, 95)
    return row


# ------------------------------------------------------------------ fits and the report
def fit(xs: list[float], ys: list[float], log_x: bool = False) -> tuple[float, float]:
    """Least squares ``y = a + b·x`` (or ``a + b·log10 x``); returns (a, b)."""
    x = np.log10(xs) if log_x else np.asarray(xs, float)
    b, a = np.polyfit(x, np.asarray(ys, float), 1)
    return float(a), float(b)


def at(a: float, b: float, x: float, log_x: bool = False) -> float:
    return a + b * (np.log10(x) if log_x else x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    parser.add_argument("--dense", type=int, nargs="*", default=[10_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--hnsw-max", type=int, default=100_000)
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one thread per query, as one of the server's request threads
    if args.probe:
        print(json.dumps(probe(args.probe)))
        return
    load = os.getloadavg()[0]
    work = common.WORK / "scale"
    work.mkdir(parents=True, exist_ok=True)
    full = []
    for n in args.full:
        full.append(build_full(n, work))
        print(json.dumps(full[-1]), flush=True)
    rows = []
    for n in args.dense:
        rows.append(dense(n, args.hnsw_max))
        print(json.dumps(rows[-1]), flush=True)
    report(full, rows, load, os.getloadavg()[0])


def report(full: list[dict], rows: list[dict], load_start: float, load_end: float) -> None:
    notes = [f"Load average {load_start:.1f} at the start and {load_end:.1f} at the end (2 cores shared with "
             "other builds and tests): latencies are upper bounds.",
             "Synthetic Hindi documents of 90 words (one passage each) drawn from the dev corpus' word frequencies; random unit "
             "vectors (no model). One thread per query (OMP/BLAS threads 1).", ]
    body = ""
    if full:
        body += "Whole indexes built by `build_index`, opened as `search serve` opens them:\n\n" + common.table(
            ["docs", "passages", "build s", "open s", "RSS after open MB", "RSS after queries MB",
             "BM25 top-300 p50 / p95 ms", "exact dense p50 ms", "HNSW p50 ms", "disk MB (bm25, vectors, hnsw, passages, documents)"],
            [[f"{r['docs']:,}", f"{r['passages']:,}", r["build_s"], r["open_s"], r["opened_mb"], r["end_mb"],
              f"{r['bm25_p50']:.2f} / {r['bm25_p95']:.2f}", r["exact_p50"],
              "-" if r["graph_p50"] is None else r["graph_p50"],
              ", ".join(f"{v:.0f}" for v in r["files_mb"].values())] for r in full]) + "\n\n"
        if len(full) >= 2:
            ns = [r["passages"] for r in full]
            for key, label in (("bm25_p50", "BM25 p50 ms"), ("end_mb", "RSS MB"), ("open_s", "open s")):
                a, b = fit(ns, [r[key] for r in full])
                notes.append(f"fit {label} = {a:.3g} + {b * 1e6:.3g} per million passages -> "
                             f"{at(a, b, 1e6):.3g} at 1M, {at(a, b, 1e7):.3g} at 10M")
    if rows:
        body += "Vectors alone (random unit, 384-d float32):\n\n" + common.table(
            ["passages", "vectors MB", "exact p50 / p95 ms", "HNSW build s", "HNSW links MB", "HNSW p50 / p95 ms",
             "HNSW recall@10"],
            [[f"{r['n']:,}", r["vectors_mb"], f"{r['exact_p50']:.2f} / {r['exact_p95']:.2f}",
              r.get("hnsw_build_s", "-"), r.get("hnsw_links_mb", "-"),
              f"{r['hnsw_p50']:.2f} / {r['hnsw_p95']:.2f}" if "hnsw_p50" in r else "-",
              r.get("hnsw_recall10", "-")] for r in rows])
        if len(rows) >= 2:
            a, b = fit([r["n"] for r in rows], [r["exact_p50"] for r in rows])
            notes.append(f"fit exact dense p50 ms = {a:.3g} + {b * 1e6:.3g} per million -> {at(a, b, 1e7):.3g} at 10M")
        graphs = [r for r in rows if "hnsw_p50" in r]
        if len(graphs) >= 2:
            a, b = fit([r["n"] for r in graphs], [r["hnsw_p50"] for r in graphs], log_x=True)
            notes.append(f"fit HNSW p50 ms = {a:.3g} + {b:.3g}·log10(passages) -> {at(a, b, 1e6, True):.3g} at 1M, "
                         f"{at(a, b, 1e7, True):.3g} at 10M")
    common.report("scale", "Scale: memory and latency against corpus size", body, notes)


if __name__ == "__main__":
    main()
