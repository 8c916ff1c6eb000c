"""Embedding throughput: passages/s as the index builder encodes them, and single-query latency per runtime.

    python -m bench.embed -n 256

Passages are real ones from the synthetic corpus's chunker (``bench/corpus.py`` + ``index/chunking.py``), title
line included, exactly as ``index/builder.py`` encodes them (length-sorted batches). Queries are XQuAD Hindi
dev questions. The FLOP column is the transformer's dense layers only (2 × 21M parameters per token), to show how
close a run comes to what the CPU can multiply.
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
    from index.builder import embed_text
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=256, help="passages to encode (default 256)")
    parser.add_argument("-q", type=int, default=100, help="queries to encode one at a time (default 100)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np

    from search.embedding import Embedder, _OnnxEncoder
    from search.settings import Settings

    settings = Settings.from_env()
    embedder = Embedder.load(settings)
    passages = sample_passages(args.n, settings, embedder)
    tokens = embedder.count_tokens(passages)
    embedder.encode_passages(passages[:32])  # warm-up
    t = time.perf_counter()
    embedder.encode_passages(passages, batch_size=settings.batch_size)
    seconds = time.perf_counter() - t
    rate = len(passages) / seconds
    gflops = sum(tokens) * 2 * LINEAR_PARAMS / seconds / 1e9
    batches = (f"batches of ~{_OnnxEncoder.BATCH_TOKENS} tokens" if embedder.passage_runtime == "onnx"
               else f"batches of {settings.batch_size}")
    rows = [[f"passages ({embedder.precision}, {embedder.passage_runtime}, {batches})", len(passages),
             f"{np.mean(tokens):.0f}", f"{rate:.1f} passages/s", f"{gflops:.0f}"]]

    qs = [r.split("\t", 1)[1] for r in (DATA / "xquad_hi_queries.dev.tsv").read_text("utf-8").splitlines()
          if "\t" in r][:args.q]
    q_tokens = [len(embedder.token_ids(q, embedder.query_prompt)) for q in qs]
    for runtime in dict.fromkeys([embedder.query_runtime, "torch"]):
        encode = (embedder.encode_queries if runtime == embedder.query_runtime
                  else lambda texts: embedder._encode(texts, embedder.query_prompt, batch_size=1))
        for q in qs[:5]:
            encode([q])
        times = []
        for q in qs:
            t = time.perf_counter()
            encode([q])
            times.append((time.perf_counter() - t) * 1000)
        rows.append([f"one query at a time ({runtime})", len(qs), f"{np.mean(q_tokens):.0f}",
                     f"p50 {common.percentile(times, 50):.1f} ms, p95 {common.percentile(times, 95):.1f} ms", ""])
    common.report("embed", "Embedding throughput", common.table(
        ["what", "texts", "mean tokens", "speed", "GFLOP/s (dense layers)"], rows), [
        "Passages: real chunks of the synthetic corpus with their title line, as the builder encodes them.",
        "Queries: XQuAD Hindi dev questions with the query prompt, one call each.",
    ])


if __name__ == "__main__":
    main()
