"""Honest matching (``search/matching.py``): the calibration of an index, and what the rule does to
off-topic queries and to the dev questions.

    python -m bench.calibrate --index /tmp/xq      # an index of tests/data/xquad/xquad_hi_corpus.jsonl
    python -m bench.calibrate --index /tmp/xq --calibration-only
    python -m bench.calibrate --index /tmp/xq --sets hi_clean en_clean --quantiles 0.5 0.75 1.0

Prints the calibration (floors per script, from :data:`search.matching.PROBES`), then, for each strong
quantile asked for: how many queries of the two off-topic sets (``tests/data/offtopic/queries.tsv``,
``bench/offtopic_queries.py``) return nothing in each mode, and dev nDCG@10 of hybrid search without and
with the rule for each question set (``bench/typed.py``'s sets). Appends the tables to
``bench/results/matching.md``.

Each query is searched once (hybrid, k=100); the rule is applied to the fused ranking afterwards, as
the service does, so the ranking of the documents kept is the service's. The lexical and dense
evidence are read with :func:`evidence`, the one place that knows the service's insides.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace

import numpy as np

from bench.common import report, table
from bench.offtopic_queries import read as read_offtopic
from bench.typed import SETS, ndcg_at_10, qrels_for, topics_for
from search import matching

MODES = ("hybrid", "bm25", "dense")
PASSAGE_FETCH = 300  # as the service: passages the dense retriever fetches


@dataclass(frozen=True)
class Evidence:
    ranking: dict[str, list[str]]  # mode -> the service's documents, best first
    words: tuple[matching.QueryWord, ...]
    doc_terms: dict[str, set[str]]
    doc_frequency: dict[str, int]
    excess: dict[str, float]
    script: str


def evidence(service, text: str, hub: np.ndarray, modes=MODES) -> Evidence:
    """Search ``text`` in each mode and read the inputs of :func:`search.matching.decide` from the
    service (its query reader, expander, BM25 postings and the query's vector)."""
    from search.analysis import analyze
    from search.expansion import content_words
    from search.query import parse_query

    ranking = {}
    for mode in modes:
        with service._query_vectors_lock:
            service._query_vectors.clear()
        ranking[mode] = [h.doc_id for h in service.search(text, k=100, mode=mode).hits]
        if mode == "hybrid":
            with service._query_vectors_lock:
                qvec = next(reversed(service._query_vectors.values()))
    data = service._data
    typed = parse_query(text)
    understood = service._understander(data).read(typed.text)
    dense_text = understood.dense_text or typed.text
    searched = understood.dense_text if understood.language == "en" else understood.text
    english = set(content_words(searched)) | set(content_words(typed.text))
    expander = service.expander
    lookups = expander._lookup(sorted(english)) if expander is not None and english else []
    expansions = dict(zip(sorted(english), lookups))
    bm25 = data.bm25

    def indexed(term: str) -> bool:
        return any(bm25.doc_frequency(f, term) for f in bm25.fields)

    words = matching.query_words(understood.words, expansions, analyze, indexed, english,
                                 service._understander(data).config.alternative_share)
    doc_terms: dict[str, set[str]] = {}
    doc_frequency: dict[str, int] = {}
    for term in {t for w in words for t, _w in w.terms}:
        rows: set[int] = set()
        for f in bm25.fields:
            ids, _tfs = bm25.postings(f, term)
            found = data.bm25_rows[ids]
            rows.update(found[found >= 0].tolist())
        doc_frequency[term] = len(rows)
        for row in rows:
            doc_terms.setdefault(data.doc_ids[data.passage_doc[row]], set()).add(term)
    sims = data.vectors @ qvec.astype(np.float32)
    top = np.argsort(-sims, kind="stable")[:PASSAGE_FETCH]
    script = matching.script_of(dense_text)
    col = matching.SCRIPTS.index(script)
    excess = matching.dense_excess([data.doc_ids[data.passage_doc[r]] for r in top], sims[top], hub[top, col])
    return Evidence(ranking, words, doc_terms, doc_frequency, excess, script)


def kept(ev: Evidence, calibration: matching.Calibration, passages: int, config: matching.MatchConfig,
         mode: str = "hybrid") -> list[str]:
    """The service's ranking in ``mode`` with only the matching documents."""
    doc_terms = ev.doc_terms if mode != "dense" else {}
    excess = ev.excess if mode != "bm25" else {}
    floors = floors_for(calibration, config)[ev.script] if mode != "bm25" else None
    match = matching.decide(ev.words, doc_terms, ev.doc_frequency, passages, excess, floors, config)
    return [d for d in ev.ranking[mode] if d in match]


def floors_for(calibration: matching.Calibration, config: matching.MatchConfig) -> dict:
    out = {}
    for script, values in calibration.excess.items():
        v = np.asarray(values)
        out[script] = (float(np.quantile(v, config.strong_quantile)), float(np.quantile(v, config.weak_quantile)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--quantiles", nargs="+", type=float, default=[matching.MatchConfig().strong_quantile])
    parser.add_argument("--calibration-only", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="print, do not append to bench/results")
    args = parser.parse_args()
    from search.service import SearchService
    from search.settings import Settings

    service = SearchService.open(args.index, Settings.from_env())
    data = service._data
    model = service.embedder.describe()
    t = time.perf_counter()
    calibration, hub, _probes = matching.calibrate(np.asarray(data.vectors, np.float32), service.embedder.encode_queries,
                                                   f"{model['id']}@{model['fingerprint']}")
    ms = (time.perf_counter() - t) * 1000
    rows = [[s, calibration.probes[s], f"{calibration.floors[s][0]:.4f}", f"{calibration.floors[s][1]:.4f}",
             " ".join(f"{v:.3f}" for v in np.quantile(calibration.excess[s], [0, 0.25, 0.5, 0.75, 1]))]
            for s in matching.SCRIPTS]
    body = table(["script", "probes", "strong floor", "weak floor", "probe excess min/q1/median/q3/max"], rows)
    body += f"\n\n{calibration.passages} passages, model {calibration.model}, measured in {ms:.0f} ms"
    print(body, flush=True)
    if args.calibration_only:
        return
    passages = data.bm25.size
    configs = [replace(matching.MatchConfig(), strong_quantile=q) for q in args.quantiles]
    off_rows = []
    for which in ("1", "2"):
        queries = read_offtopic(which=which)
        evs = [evidence(service, q, hub) for _qid, _s, _k, q in queries]
        for config in configs:
            empty = [sum(not kept(ev, calibration, passages, config, m) for ev in evs) for m in MODES]
            before = [sum(not ev.ranking[m] for ev in evs) for m in MODES]
            off_rows.append([f"set {which}", config.strong_quantile, len(evs),
                             *(f"{b} -> {a}" for b, a in zip(before, empty))])
            print(off_rows[-1], flush=True)
    dev_rows = []
    for name in args.sets:
        qrels = qrels_for(name)
        evs = [(qid, evidence(service, text, hub, ("hybrid",))) for qid, text in topics_for(name)]
        base = sum(ndcg_at_10(ev.ranking["hybrid"], qrels[qid]) for qid, ev in evs) / len(evs)
        for config in configs:
            after = sum(ndcg_at_10(kept(ev, calibration, passages, config), qrels[qid]) for qid, ev in evs) / len(evs)
            empty = sum(not kept(ev, calibration, passages, config) for _qid, ev in evs)
            dev_rows.append([name, config.strong_quantile, f"{base:.4f}", f"{after:.4f}", f"{after - base:+.4f}",
                             empty])
            print(dev_rows[-1], flush=True)
    body += "\n\nOff-topic queries returning nothing (before -> with the rule):\n\n"
    body += table(["set", "strong quantile", "queries", "hybrid", "bm25", "dense"], off_rows)
    body += "\n\nDev nDCG@10, hybrid:\n\n"
    body += table(["questions", "strong quantile", "without", "with", "change", "left empty"], dev_rows)
    if args.no_report:
        print(body)
    else:
        report("matching", "Honest matching: calibration, off-topic queries, dev nDCG@10", body,
               [f"index: {args.index}", "machine shared with other work (loaded)"])


if __name__ == "__main__":
    main()
