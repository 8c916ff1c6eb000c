"""Build benchmark: analysis / BM25 / embedding split, --update of 1% of documents, size on disk, peak memory.

    python -m bench.build 1000 10000 50000 --embed-sample 64

Embedding every passage at 50k documents would take hours on a small CPU, so the embedder here encodes a
real sample of ``--embed-sample`` passages (timed: that is the passages/s column) and fills the other rows
by tiling the sample's vectors with a small perturbation. Those indexes are fine for *latency* benchmarks,
not for relevance; every table says so. ``--embed-all`` embeds everything for real.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import common, corpus


class SampledEmbedder:
    """The real model for token counting, identity and a timed sample; tiled vectors for the rest."""

    def __init__(self, real, sample: int):
        self.real, self.sample = real, sample
        self.dim, self.max_seq_length = real.dim, real.max_seq_length
        self.embedded = 0
        self.seconds = 0.0

    def describe(self):
        return self.real.describe()

    def __getattr__(self, name):  # the rest (fingerprint, word embeddings for expansion) as the real model
        return getattr(self.real, name)

    def count_tokens(self, texts):
        return self.real.count_tokens(texts)

    def token_ids(self, text, prompt=""):
        return self.real.token_ids(text, prompt)

    def encode_queries(self, texts):
        return self.real.encode_queries(texts)

    def encode_passages(self, texts, batch_size=32, progress=None):
        if not self.sample:
            t = time.perf_counter()
            out = self.real.encode_passages(texts, batch_size=batch_size, progress=progress)
            self.seconds += time.perf_counter() - t
            self.embedded += len(texts)
            return out
        take = texts[: self.sample]
        t = time.perf_counter()
        head = self.real.encode_passages(take, batch_size=batch_size)
        self.seconds += time.perf_counter() - t
        self.embedded += len(take)
        rng = np.random.default_rng(len(texts))
        out = np.resize(head, (len(texts), self.dim)) + rng.normal(0, 0.02, (len(texts), self.dim)).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        if progress:
            progress(len(texts))
        return out.astype(np.float32)


def measure(n: int, sample: int, work: Path) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from index import builder
    from search.analysis import hindi_analyzer
    from search.embedding import Embedder
    from search.settings import Settings
    from search import storage

    work.mkdir(parents=True, exist_ok=True)
    path = corpus.write(n, work / f"corpus-{n}.jsonl")
    docs = [json.loads(line) for line in open(path, encoding="utf-8")]
    # expansion (its vocabulary, which query understanding also reads) only when asked: it is not timed
    settings = Settings.from_env(index_dir=str(work / f"index-{n}"), expansion=os.environ.get("SANGAM_BENCH_EXPANSION") == "1")
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    embedder = SampledEmbedder(Embedder.load(settings), sample)

    analyzer = hindi_analyzer()
    t = time.perf_counter()
    for d in docs:
        for _tok in analyzer(d["title"] + "\n" + d["text"]):
            pass
    analysis_s = time.perf_counter() - t

    timed = {"bm25": 0.0}
    write_bm25 = builder._write_bm25

    def timed_write(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return write_bm25(*args, **kwargs)
        finally:
            timed["bm25"] += time.perf_counter() - t0

    builder._write_bm25 = timed_write
    summary = builder.build_index([path], settings.index_dir, settings, embedder=embedder, progress=False)
    gen = storage.live_generation(settings.index_dir)
    size = storage.disk_size(gen)
    build = {"seconds": summary.seconds, "passages": summary.passages, "bm25_s": timed["bm25"],
             "embed_rate": embedder.embedded / embedder.seconds if embedder.seconds else 0.0}

    # --update with 1% of documents changed (a sentence appended)
    step = 100
    changed = work / f"corpus-{n}-changed.jsonl"
    with open(changed, "w", encoding="utf-8") as out:
        for i, d in enumerate(docs):
            if i % step == 0:
                d = {**d, "text": d["text"] + " यह समाचार अद्यतन किया गया है।"}
            out.write(json.dumps(d, ensure_ascii=False) + "\n")
    timed["bm25"] = 0.0
    # on a copy: the query benchmark runs on the fresh build, as the peers' indexes are fresh builds
    copy = work / f"index-{n}-update"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(settings.index_dir, copy, symlinks=True)
    upd = builder.build_index([changed], copy, settings.replace(index_dir=str(copy)), embedder=embedder,
                              update=True, progress=False)
    shutil.rmtree(copy, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    peer = bm25s_build(docs, analyzer) if n <= 50000 else None
    return {"n": n, "passages": build["passages"], "analysis_docs_s": n / analysis_s,
            "bm25_s": build["bm25_s"], "bm25_docs_s": n / build["bm25_s"], "embed_rate": build["embed_rate"],
            "build_s": build["seconds"], "update_s": upd.seconds, "update_changed": upd.changed,
            "update_embedded": upd.embedded, "size_mb": size / 1e6, "peak_mb": peak_mb, "sample": sample,
            "bm25s": peer}


def bm25s_build(docs: list[dict], analyzer) -> dict | None:
    """bm25s over the same documents and the same analyzer's tokens (analysis timed separately)."""
    try:
        import bm25s
    except ImportError:
        return None
    tokens = [[t.text for t in analyzer(d["title"] + "\n" + d["text"])] for d in docs]
    t = time.perf_counter()
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(tok, len(vocab)) for tok in doc] for doc in tokens]
    model = bm25s.BM25()
    model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return {"seconds": time.perf_counter() - t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="+")
    parser.add_argument("--embed-sample", type=int, default=64, help="passages embedded for real (0: all)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--expansion", action="store_true",
                        help="also write the expansion vocabulary (for bench/typed.py --latency)")
    args = parser.parse_args()
    if args.expansion:
        os.environ["SANGAM_BENCH_EXPANSION"] = "1"  # the per-size processes read it
    if args.one:
        print("RESULT " + json.dumps(measure(args.sizes[0], args.embed_sample, common.WORK)))
        return
    rows, results = [], []
    for n in args.sizes:  # one process per size, so peak memory is that size's own
        out = subprocess.run([sys.executable, "-m", "bench.build", str(n), "--embed-sample", str(args.embed_sample),
                              "--one"], capture_output=True, text=True, check=True)
        r = json.loads(next(l for l in out.stdout.splitlines() if l.startswith("RESULT "))[7:])
        results.append(r)
        # with every passage embedded the measured build is the full build; else add the passages not embedded
        est = 0.0 if args.embed_sample == 0 else (r["passages"] / r["embed_rate"] if r["embed_rate"] else float("nan"))
        rows.append([f"{n:,}", f"{r['passages']:,}", f"{r['analysis_docs_s']:,.0f}", f"{r['bm25_docs_s']:,.0f}",
                     f"{r['bm25s']['seconds'] and n / r['bm25s']['seconds']:,.0f}" if r["bm25s"] else "n/a",
                     f"{r['embed_rate']:.1f}", f"{r['build_s']:.1f}", f"{(r['build_s'] + est) / 60:.1f}",
                     f"{r['update_s']:.1f} ({r['update_changed']} docs, {r['update_embedded']} passages)",
                     f"{r['size_mb']:.1f}", f"{r['peak_mb']:.0f}"])
    label = "all passages embedded" if args.embed_sample == 0 else f"{args.embed_sample} passages embedded for real"
    common.report("build", f"Index build ({label})", common.table(
        ["docs", "passages", "analysis docs/s", "Whoosh BM25 docs/s (incl. analysis)", "bm25s docs/s (indexing only)",
         "embed passages/s", "build s (measured)", "full build min (est.)", "--update 1% s", "size MB", "peak RSS MB"],
        rows), [
        "Corpus: `bench/corpus.py` (real Hindi sentences recombined, vocabulary grown from hunspell-hi).",
        f"Embedding: {label}" + ("." if args.embed_sample == 0 else "; the rest of the vectors are the sample tiled "
                                 "and perturbed (latency only, not relevance). 'full build min (est.)' = measured "
                                 "build + passages / measured passages/s."),
        "--update re-embeds only the changed documents' passages (a sentence appended to 1% of documents).",
        "bm25s indexes the same analyzer's tokens; its analysis time is the 'analysis' column.",
    ])


if __name__ == "__main__":
    main()
