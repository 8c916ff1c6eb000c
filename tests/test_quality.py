"""Quality regression: the XQuAD Hindi dev split end to end (real model, real index), nDCG@10 bars."""

import math
from pathlib import Path

import pytest

from conftest import DATA

XQUAD = DATA / "xquad"
# hybrid nDCG@10 must stay at or above these. Honest matching (search/matching.py) may cost real answers
# at most 0.003 (Hindi 0.9654 -> 0.9638 measured; English 0.9526 -> 0.9505 in the same run, against a bar
# set lower).
BARS = {"hi": 0.962, "en": 0.925}
BM25_HINDI_BAR = 0.94


def read_topics(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text("utf-8").splitlines() if line.strip()]


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


@pytest.fixture(scope="module")
def xquad_service(tmp_path_factory, embedder, settings):
    from index.builder import build_index
    from search.service import SearchService

    index_dir = tmp_path_factory.mktemp("xquad-index")
    build_index([XQUAD / "xquad_hi_corpus.jsonl"], index_dir, settings, embedder=embedder, progress=False)
    return SearchService.open(index_dir, settings, embedder=embedder)


@pytest.fixture(scope="module")
def scores(xquad_service):
    out = {}
    for lang in ("hi", "en"):
        topics = read_topics(XQUAD / f"xquad_{lang}_queries.dev.tsv")
        qrels = read_qrels(XQUAD / f"xquad_{lang}_qrels.dev.txt")
        for mode in ("bm25", "dense", "hybrid"):
            total = 0.0
            for qid, text in topics:
                ranking = [h.doc_id for h in xquad_service.search(text, k=10, mode=mode).hits]
                total += ndcg_at_10(ranking, qrels[qid])
            out[lang, mode] = total / len(topics)
    print("\n".join(f"{lang} {mode}: nDCG@10 {v:.4f}" for (lang, mode), v in sorted(out.items())))
    return out


@pytest.mark.parametrize("lang", ["hi", "en"])
def test_hybrid_meets_the_bar(scores, lang):
    assert scores[lang, "hybrid"] >= BARS[lang], scores


@pytest.mark.parametrize("lang", ["hi", "en"])
def test_hybrid_never_loses_to_its_best_part(scores, lang):
    assert scores[lang, "hybrid"] >= max(scores[lang, "bm25"], scores[lang, "dense"]) - 0.005, scores


def test_expansion_lifts_english_above_dense(scores):
    assert scores["en", "hybrid"] >= scores["en", "dense"] + 0.01, scores


def test_hindi_bm25_alone(scores):
    assert scores["hi", "bm25"] >= BM25_HINDI_BAR, scores


def test_offtopic_queries_find_nothing(xquad_service):
    """Issue bar: at least 45 of the 50 off-topic and nonsense queries of set 1 (bench/offtopic_queries.py)
    return no results in hybrid over the dev corpus; set 2 (never tuned on) at least 32 of its 40 (33
    measured: bench/results/matching.md)."""
    from bench.offtopic_queries import read

    for which, least in (("1", 45), ("2", 32)):
        rows = read(which=which)
        answered = [q for _id, _s, _kind, q in rows if xquad_service.search(q, k=10).total]
        assert len(rows) - len(answered) >= least, (which, answered)


# Questions typed as people type them (bench/typed_queries.py; every second one, to keep the suite short;
# bench/typed.py scores them all): romanized Hindi in two styles and misspellings in both languages.
TYPED = DATA / "typed"
TYPED_BARS = {"hi_loose": 0.85, "hi_itrans": 0.85, "hi_iast": 0.85, "hi_typos": 0.85, "en_typos": 0.90}


@pytest.fixture(scope="module")
def typed_scores(xquad_service):
    out = {}
    for name in TYPED_BARS:
        topics = read_topics(TYPED / f"{name}.tsv")[::2]
        qrels = read_qrels(XQUAD / f"xquad_{name.split('_')[0]}_qrels.dev.txt")
        for mode in ("bm25", "dense", "hybrid"):
            total = 0.0
            for qid, text in topics:
                ranking = [h.doc_id for h in xquad_service.search(text, k=10, mode=mode).hits]
                total += ndcg_at_10(ranking, qrels[qid])
            out[name, mode] = total / len(topics)
    print("\n".join(f"{name} {mode}: nDCG@10 {v:.4f}" for (name, mode), v in sorted(out.items())))
    return out


@pytest.mark.parametrize("name", TYPED_BARS)
def test_typed_questions_meet_the_bar(typed_scores, name):
    assert typed_scores[name, "hybrid"] >= TYPED_BARS[name], typed_scores


@pytest.mark.parametrize("name", TYPED_BARS)
def test_typed_hybrid_never_loses_to_its_best_part(typed_scores, name):
    best = max(typed_scores[name, "bm25"], typed_scores[name, "dense"])
    assert typed_scores[name, "hybrid"] >= best - 0.01, typed_scores
