"""Passage precision side by side: fp32, bf16 and int8 passages/s and dev nDCG@10 (dense and hybrid, hi and en).

    python -m bench.precision                                     # builds the three dev indexes (~3 min each)
    python -m bench.precision --index fp32=/tmp/xq-fp32 --index int8=/tmp/xq-int8   # reuse built ones

Each precision is forced (``Settings.precision``) and must be what the loaded model reports; one that is
not faithful on this machine is reported as such. Passages/s is timed on the same sample of dev
passages for each. The dev index is ``tests/data/xquad/xquad_hi_corpus.jsonl`` (240 paragraphs), scored
as ``bench/typed.py`` scores the clean questions. ``int8 + int8 queries`` also encodes the questions
(and expansion words) on the int8 graph. Appends the table to ``bench/results/precision.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import WORK, report, table
from bench.typed import XQUAD, ndcg_at_10, qrels_for, topics_for

CORPUS = XQUAD / "xquad_hi_corpus.jsonl"
PRECISIONS = ("fp32", "bf16", "int8")
COLUMNS = [("hi_clean", "dense"), ("hi_clean", "hybrid"), ("en_clean", "dense"), ("en_clean", "hybrid")]


def sample_passages(embedder, settings, n: int) -> list[str]:
    """The first ``n`` dev passages, cut as a build cuts them."""
    from index.chunking import chunk_document
    from index.corpus import read_corpus

    texts: list[str] = []
    for doc in read_corpus([CORPUS]).documents:
        for p in chunk_document(doc, lambda t: embedder.count_tokens([t])[0], settings.max_passage_tokens,
                                settings.overlap_sentences):
            texts.append(f"{p.title}\n{p.text}" if p.title else p.text)
        if len(texts) >= n:
            return texts[:n]
    return texts


def passages_per_second(embedder, texts: list[str], batch_size: int) -> float:
    embedder.encode_passages(texts[:8], batch_size=batch_size)  # warm-up (and the runtime's first check)
    t = time.perf_counter()
    embedder.encode_passages(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - t)


def dev_scores(index: Path, settings, embedder=None) -> dict[tuple[str, str], float]:
    """Dense and hybrid nDCG@10 of the clean hi/en dev questions (``bench/typed.py``'s topics and qrels).

    A question with double quotes is a phrase search, which an index built without word positions
    refuses: it is asked without the quotes (the same for every precision)."""
    from search.errors import BadQuery
    from search.service import SearchService

    service = SearchService.open(index, settings, embedder=embedder)
    out = {}
    for name in ("hi_clean", "en_clean"):
        topics, qrels = topics_for(name), qrels_for(name)
        for mode in ("dense", "hybrid"):
            total = 0.0
            for qid, text in topics:
                try:
                    hits = service.search(text, k=10, mode=mode).hits
                except BadQuery:
                    hits = service.search(text.replace('"', " "), k=10, mode=mode).hits
                total += ndcg_at_10([h.doc_id for h in hits], qrels[qid])
            out[name, mode] = total / len(topics)
    return out


def int8_queries(settings, precision: str):
    """The query-only encoder with its graph swapped for the int8 copy (queries and expansion words)."""
    from search import onnx_export
    from search.precision import query_threads
    from search.query_embedder import QueryEmbedder

    light = QueryEmbedder.open(settings, precision)
    graph = onnx_export.int8_path(light.encoder.path)
    return QueryEmbedder(light.identity, light.encoder.with_graph(graph, False, query_threads(settings.threads)),
                         precision)


def measure(precision: str, settings, index: Path | None, work: Path, sample: int) -> dict:
    from index.builder import build_index
    from search.embedding import Embedder

    forced = settings.replace(precision=precision)
    embedder = Embedder.load(forced)
    row = {"precision": precision, "got": embedder.precision, "runtime": None, "build": None}
    if embedder.precision != precision:
        return row
    row["pps"] = passages_per_second(embedder, sample_passages(embedder, forced, sample), forced.batch_size)
    row["runtime"] = embedder.passage_runtime
    if index is None:
        index = work / f"xq-{precision}"
        t = time.perf_counter()
        build_index([CORPUS], index, forced, embedder=embedder, progress=False)
        row["build"] = time.perf_counter() - t
    row["index"] = index
    row["scores"] = dev_scores(index, forced)
    return row


def cells(row: dict, base: dict | None) -> list:
    if "scores" not in row:
        return [row["precision"], f"not faithful here ({row['got']})", "", ""] + [""] * (len(COLUMNS) + 1)
    scores = row["scores"]
    delta = (f"{max(abs(scores[c] - base['scores'][c]) for c in COLUMNS):.4f}" if base and "scores" in base
             else "n/a (no fp32 row)")
    return ([row["precision"], row["runtime"] or "", f"{row['pps']:.1f}" if "pps" in row else "",
             f"{row['build']:.0f}" if row["build"] else "reused"]
            + [f"{scores[c]:.4f}" for c in COLUMNS] + [delta])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", action="append", default=[], metavar="PRECISION=DIR",
                        help="a dev index already built at PRECISION (else it is built)")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--sample", type=int, default=96, help="dev passages timed per precision")
    parser.add_argument("--work", type=Path, default=WORK / "precision")
    args = parser.parse_args()
    from search.settings import Settings

    given = {k: Path(v) for k, v in (item.split("=", 1) for item in args.index)}
    settings = Settings.from_env()
    rows = []
    for precision in args.precisions:
        rows.append(measure(precision, settings, given.get(precision), args.work, args.sample))
        print(rows[-1], flush=True)
    int8 = next((r for r in rows if r["precision"] == "int8" and "scores" in r), None)
    if int8:
        rows.append({**int8, "precision": "int8 + int8 queries", "pps": int8["pps"], "build": None,
                     "scores": dev_scores(int8["index"], settings, int8_queries(settings, "int8"))})
    base = next((r for r in rows if r["precision"] == "fp32"), None)
    headers = (["passages", "runtime", "passages/s", "build s"] + [f"{n[:2]} {m}" for n, m in COLUMNS]
               + ["max |Δ| vs fp32"])
    print(report("precision", "Passage precision: throughput and dev nDCG@10",
                 table(headers, [cells(r, base) for r in rows]),
                 [f"dev index: {CORPUS.name} (240 paragraphs, 402 passages); questions: the clean hi/en dev sets",
                  f"passages/s: {args.sample} dev passages per precision, after a warm-up, in one process; "
                  "builds include BM25 and the expansion vocabulary",
                  "queries are fp32 on ONNX Runtime except in the last row; the machine was shared (load in the "
                  "header)"]))


if __name__ == "__main__":
    main()
