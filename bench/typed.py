"""Dev nDCG@10 of the questions typed as people type them (``bench/typed_queries.py`` makes the sets).

    python -m bench.typed --index /tmp/xq          # an index of tests/data/xquad/xquad_hi_corpus.jsonl
    python -m bench.typed --index /tmp/xq --every 3 --sets hi_loose en_typos   # a quicker look
    python -m bench.typed --latency --index /tmp/sangam-bench/index-10000 -q 200

``--latency`` times hybrid queries of each set instead (any index: relevance is not scored, so the
synthetic bench corpus of ``bench/build.py --expansion`` serves), with the ratio of each typed set's
p50/p95 to the clean questions' of the same language in the same run, and ``/api/suggest``'s lookup
(``SearchService.suggest``) on prefixes cut from the questions.

Scores BM25, dense and hybrid on each set against the clean questions' qrels, and the clean questions
themselves for comparison; prints a Markdown table and appends it to ``bench/results/typed.md``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from bench.common import percentile, report, table
from bench.typed_queries import read_topics

ROOT = Path(__file__).resolve().parents[1]
XQUAD = ROOT / "tests" / "data" / "xquad"
TYPED = ROOT / "tests" / "data" / "typed"
SETS = ["hi_clean", "en_clean", "hi_loose", "hi_itrans", "hi_iast", "hi_typos", "en_typos"]
MODES = ("bm25", "dense", "hybrid")


def read_qrels(path: Path) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = {}
    for line in path.read_text("utf-8").splitlines():
        qid, _iter, doc_id, rel = line.split()
        if int(rel) > 0:
            qrels.setdefault(qid, set()).add(doc_id)
    return qrels


def ndcg_at_10(ranking: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranking[:10]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal


def topics_for(name: str) -> list[tuple[str, str]]:
    lang, kind = name.split("_", 1)
    if kind == "clean":
        return read_topics(XQUAD / f"xquad_{lang}_queries.dev.tsv")
    return read_topics(TYPED / f"{name}.tsv")


def qrels_for(name: str) -> dict[str, set[str]]:
    return read_qrels(XQUAD / f"xquad_{name.split('_', 1)[0]}_qrels.dev.txt")


def score(service, name: str, every: int = 1, modes=MODES) -> dict[str, float]:
    topics = topics_for(name)[::every]
    qrels = qrels_for(name)
    out: dict[str, float] = {}
    for mode in modes:
        total, times = 0.0, []
        for qid, text in topics:
            t = time.perf_counter()
            hits = service.search(text, k=10, mode=mode).hits
            times.append((time.perf_counter() - t) * 1000)
            total += ndcg_at_10([h.doc_id for h in hits], qrels[qid])
        out[mode] = total / len(topics)
        out[mode + "_p50"] = percentile(times, 50)
    return out


def latency(service, sets: list[str], limit: int) -> str:
    service.warm()
    for _qid, text in topics_for("hi_clean")[-5:]:  # warm-up
        service.search(text, k=10)
    rows, clean = [], {}
    for name in sets:
        # romanized questions read as the clean ones would reuse their remembered query vectors
        service.dense.forget()
        times = []
        for _qid, text in topics_for(name)[:limit]:
            t = time.perf_counter()
            service.search(text, k=10, mode="hybrid")
            times.append((time.perf_counter() - t) * 1000)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        lang = name.split("_")[0]
        if name.endswith("_clean"):
            clean[lang] = (p50, p95)
        base = clean.get(lang)
        ratio = f"{p50 / base[0]:.2f} / {p95 / base[1]:.2f}" if base else "n/a"
        rows.append([name, len(times), f"{p50:.1f}", f"{p95:.1f}", ratio])
        print(rows[-1], flush=True)
    prefixes = []
    for name in ("hi_clean", "hi_loose", "hi_itrans"):
        for _qid, text in topics_for(name)[:limit // 2]:
            words = text.split()
            if len(words) >= 2:
                prefixes.append(f"{words[0]} {words[1][:3]}")
    times = []
    for prefix in prefixes:
        t = time.perf_counter()
        service.suggest(prefix)
        times.append((time.perf_counter() - t) * 1000)
    rows.append(["suggest (prefixes)", len(times), f"{percentile(times, 50):.1f}", f"{percentile(times, 95):.1f}",
                 "n/a"])
    return table(["queries", "n", "hybrid p50 ms", "hybrid p95 ms", "p50 / p95 vs clean"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--every", type=int, default=1, help="score every N-th question only")
    parser.add_argument("--no-report", action="store_true", help="print, do not append to bench/results")
    parser.add_argument("--latency", action="store_true", help="time hybrid queries per set instead")
    parser.add_argument("-q", "--queries", type=int, default=200, help="with --latency: questions per set")
    args = parser.parse_args()
    from search.service import SearchService
    from search.settings import Settings

    service = SearchService.open(args.index, Settings.from_env())
    if args.latency:
        order = ["hi_clean", "hi_loose", "hi_itrans", "hi_iast", "hi_typos", "en_clean", "en_typos"]
        body = latency(service, [s for s in order if s in args.sets], args.queries)
        docs = service.manifest.get("counts", {}).get("documents", 0)
        report("typed", f"Latency of typed questions at {docs:,} documents", body,
               [f"index: {args.index}; in-process, k=10, expansion on, each question asked once",
                "ratios: a typed set's p50 / p95 over the clean questions' of its language, same run"])
        return
    rows = []
    for name in args.sets:
        s = score(service, name, args.every)
        rows.append([name, f"{s['bm25']:.4f}", f"{s['dense']:.4f}", f"{s['hybrid']:.4f}",
                     f"{s['hybrid_p50']:.1f}"])
        print(rows[-1], flush=True)
    body = table(["questions", "BM25", "dense", "hybrid", "hybrid p50 ms"], rows)
    if args.no_report:
        print(body)
    else:
        report("typed", f"Dev nDCG@10 of typed questions (every {args.every})", body,
               [f"index: {args.index}", "sets: tests/data/typed (bench/typed_queries.py)"])


if __name__ == "__main__":
    main()
