"""Embedding throughput per graph and thread count: passages/s as the builder encodes them, one-query latency.

    python -m bench.embed -n 128 -q 100

Passages are real ones from the synthetic corpus's chunker (``bench/corpus.py`` + ``index/chunking.py``), title
line included, as ``index/builder.py`` encodes them. Queries are XQuAD Hindi dev questions. Graphs, measured
in the same run on the same inputs:

* ``fused``: today's graph, emitted operator by operator (``onnx_export.write_fused_graph``);
* ``optimizer``: ``torch.onnx.export`` + ONNX Runtime's transformers optimizer (``write_optimized_export``),
  written once into ``$SANGAM_BENCH_DIR``;
* ``int8``: the fused graph quantized by ``onnxruntime.quantization.quantize_dynamic``;
* ``torch``: sentence-transformers.

Threads: 1 and every core this process may use (``SANGAM_THREADS`` sets it for a build or a server).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench import common

DATA = Path(__file__).resolve().parent / "data"
LINEAR_PARAMS = 21.3e6  # weights in the 12 transformer layers of multilingual-e5-small (no embeddings)


def sample_passages(n: int, settings, embedder) -> list[str]:
    from bench import corpus
    from index.chunking import embed_text
    from index.chunking import chunk_document
    from search.types import Document

    def count(text: str) -> int:
        return embedder.count_tokens([text])[0]

    texts: list[str] = []
    for row in corpus.generate(max(20, n // 2)):
        doc = Document(doc_id=row["id"], title=row["title"], text=row["text"], date=row["date"])
        for p in chunk_document(doc, count, settings.max_passage_tokens, settings.overlap_sentences):
            texts.append(embed_text(p))
        if len(texts) >= n:
            break
    return texts[:n]


def query_ms(encoders: dict, queries: list[str]) -> dict:
    """p50 and p95 ms of one query at a time on each encoder, interleaved (each query on every encoder in
    turn), so that a shared machine's load falls on all of them alike."""
    times: dict = {name: [] for name in encoders}
    for q in queries[:5]:
        for encode in encoders.values():
            encode([q])
    for q in queries:
        for name, encode in encoders.items():
            t = time.perf_counter()
            encode([q])
            times[name].append((time.perf_counter() - t) * 1000)
    return {name: (common.percentile(v, 50), common.percentile(v, 95)) for name, v in times.items()}


def passage_rate(encode, passages: list[str], tokens: list[int]) -> tuple[float, float]:
    encode(passages[:8])
    t = time.perf_counter()
    encode(passages)
    seconds = time.perf_counter() - t
    return len(passages) / seconds, sum(tokens) * 2 * LINEAR_PARAMS / seconds / 1e9


def graphs(embedder) -> dict[str, Path]:
    from search import onnx_export

    fused = embedder._onnx.path
    optimized = common.WORK / "embed" / f"optimizer-{embedder.fingerprint[:20]}.onnx"
    if not optimized.exists():
        transformer = embedder.model[0].auto_model.eval()
        onnx_export.write_atomically(optimized, lambda tmp: onnx_export.write_optimized_export(transformer, tmp))
    int8 = onnx_export.int8_path(fused)
    if not int8.exists():
        onnx_export.quantize_int8(fused, int8)
    return {"fused": fused, "optimizer": optimized, "int8": int8}


def node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=128, help="passages to encode (default 128)")
    parser.add_argument("-q", type=int, default=100, help="queries to encode one at a time (default 100)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np

    from search.embedding import Embedder
    from search.precision import default_threads
    from search.settings import Settings

    settings = Settings.from_env().replace(precision="fp32")
    embedder = Embedder.load(settings)
    passages = sample_passages(args.n, settings, embedder)
    tokens = embedder.count_tokens(passages)
    qs = [r.split("\t", 1)[1] for r in (DATA / "xquad_hi_queries.dev.tsv").read_text("utf-8").splitlines()
          if "\t" in r][:args.q]
    q_tokens = np.mean([len(embedder.token_ids(q, embedder.query_prompt)) for q in qs])
    configs = [(name, path, threads) for name, path in graphs(embedder).items()
               for threads in sorted({1, default_threads()})]
    queries = {(name, threads): embedder._onnx.with_graph(path, spinning=False, threads=threads)
               for name, path, threads in configs}
    encoders = {key: (lambda texts, e=e: e.encode(texts, embedder.query_prompt)) for key, e in queries.items()}
    encoders["torch", 0] = lambda texts: embedder._encode_torch(texts, embedder.query_prompt, 1, "fp32")
    latency = query_ms(encoders, qs)
    rows = []
    for name, path, threads in configs:
        bulk = embedder._onnx.with_graph(path, spinning=True, threads=threads)
        rate, gflops = passage_rate(lambda texts: bulk.encode_many(texts, embedder.passage_prompt), passages, tokens)
        p50, p95 = latency[name, threads]
        rows.append([name, node_count(path), threads, f"{p50:.1f}", f"{p95:.1f}", f"{rate:.1f}", f"{gflops:.0f}"])
        print(rows[-1], flush=True)
    rate, gflops = passage_rate(lambda texts: embedder._encode_torch(texts, embedder.passage_prompt,
                                                                     settings.batch_size, "fp32"), passages, tokens)
    import torch

    p50, p95 = latency["torch", 0]
    rows.append(["torch", "", torch.get_num_threads(), f"{p50:.1f}", f"{p95:.1f}", f"{rate:.1f}", f"{gflops:.0f}"])
    common.report("embed", "Embedding: graphs and threads, same run", common.table(
        ["graph", "nodes", "threads", "query p50 ms", "query p95 ms", "passages/s", "GFLOP/s (dense layers)"], rows), [
        f"Passages: {len(passages)} real chunks of the synthetic corpus with their title line (mean "
        f"{np.mean(tokens):.0f} tokens), batches of ~1600 tokens on ONNX Runtime, {settings.batch_size} on torch.",
        f"Queries: {len(qs)} XQuAD Hindi dev questions with the query prompt (mean {q_tokens:.0f} tokens), one call "
        "each, interleaved over the graphs (each question on every graph in turn).",
        "The machine was shared with other work (load average above).",
    ])


if __name__ == "__main__":
    main()
