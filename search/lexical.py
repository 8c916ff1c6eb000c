"""The lexical retriever: BM25 (Whoosh) over the query's terms as read, weighted by their readings'
confidence, and their Hindi expansions (:mod:`search.expansion`), grouped to documents.

An English query whose words the expander has not embedded yet is scored twice: first with what is
known before the query's model pass ends (dictionary translations, cached words), then only the
difference once the pass has brought the words' vectors."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from .analysis import analyze
from .expansion import Expansion, ExpansionJob
from .generation import LoadedGeneration
from .query import ParsedQuery

Weighted = list[tuple[str, float]]


@dataclass(frozen=True)
class LexicalConfig:
    #: Passages fetched before grouping to documents.
    passage_fetch: int = 300


@dataclass(frozen=True)
class LexicalResult:
    scores: dict[str, float] = field(default_factory=dict)  # doc id -> best passage's BM25
    best: dict[str, int] = field(default_factory=dict)  # doc id -> that passage's row
    known: float = 0.0  # share of the query's terms the index knows
    expansion: Expansion = field(default_factory=Expansion)
    ms: dict[str, float] = field(default_factory=dict)  # "bm25", "expand"
    #: Every Whoosh document's (passage's) score, the scope applied (None: no term matched).
    passage_scores: np.ndarray | None = None
    terms: tuple[tuple[str, float], ...] = ()  # (term, boost) searched


class LexicalRetriever:
    def __init__(self, config: LexicalConfig | None = None):
        self.config = config or LexicalConfig()

    def retrieve(self, data: LoadedGeneration, parsed: ParsedQuery, readings: Weighted,
                 job: ExpansionJob | None = None, vector: Future | None = None,
                 docs: np.ndarray | None = None) -> LexicalResult:
        """BM25 for ``parsed``; ``job`` expands its English words, ``vector`` (the query's model pass)
        brings the vectors of the words ``job.unseen`` names; ``docs``: the documents in scope (a mask;
        None: all)."""
        ms = {"bm25": 0.0, "expand": 0.0}
        t = time.perf_counter()
        partial = None
        if job is not None and job.unseen:  # score what is known while the words are embedded
            first, _known = self.terms(data, parsed, job.first(), readings)
            partial = (first, data.bm25.scores(first))
            ms["bm25"] = _ms(t)
            words = vector.result().words
            t = time.perf_counter()
            expansion = job.finish(words)
        else:
            expansion = job.finish(None) if job is not None else Expansion()
        ms["expand"] = _ms(t) if job is not None else 0.0
        t = time.perf_counter()
        weighted, known = self.terms(data, parsed, expansion.terms, readings)
        passage_scores = self._score(data, weighted, partial)
        allowed = data.bm25_allowed(docs)
        if passage_scores is not None and allowed is not None:
            passage_scores = np.where(allowed, passage_scores, np.float32(0.0))
        scores, best = best_documents(data, *data.bm25.top(passage_scores, self.config.passage_fetch))
        ms["bm25"] += _ms(t)
        return LexicalResult(scores, best, known, expansion, ms, passage_scores, tuple(weighted))

    @staticmethod
    def terms(data: LoadedGeneration, parsed: ParsedQuery, expansion, readings: Weighted = ()
              ) -> tuple[Weighted, float]:
        """(term, boost) to search, and the share of the query's terms the index knows: the query's
        known terms (a term read from a romanized or misspelled word weighs its reading's
        confidence; weaker readings follow), then new expansion terms."""
        terms = list(parsed.terms)
        known = [t for t in terms if data.indexed(t)]
        boost: dict[str, float] = {}
        for text, weight in readings:
            for term in analyze(text):
                boost[term] = max(boost.get(term, 0.0), weight)
        weighted = [(t, boost.get(t, 1.0)) for t in known]
        seen = set(known)
        readings_known = [(t, w) for t, w in boost.items() if t not in seen and data.indexed(t)]
        for term, weight in [*readings_known, *expansion]:
            if term not in seen:
                seen.add(term)
                weighted.append((term, weight))
        return weighted, (len(known) / len(terms) if terms else 0.0)

    @staticmethod
    def _score(data: LoadedGeneration, weighted: Weighted, partial) -> np.ndarray | None:
        """Every passage's BM25 score (None: no term occurs). ``partial``: (weighted terms, score array)
        of a first expansion that ``weighted`` only adds terms or weight to; only the difference is
        scored."""
        bm25 = data.bm25
        if partial is not None:
            first, final = dict(partial[0]), dict(weighted)
            delta = [(t, w - first.get(t, 0.0)) for t, w in final.items() if w != first.get(t, 0.0)]
            delta += [(t, -w) for t, w in first.items() if t not in final]
            if all(w > 0 for _t, w in delta):  # else (a term fell off the list): score afresh
                scores = partial[1]
                if delta:
                    scores = bm25.scores(delta, into=None if scores is None else scores.copy())
                return scores
        return bm25.scores(weighted) if weighted else None


def best_documents(data: LoadedGeneration, docnums: np.ndarray, doc_scores: np.ndarray) -> tuple[dict, dict]:
    """Each document's best passage among BM25's (best first) and its score."""
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    for row, score in zip(data.bm25_rows[docnums].tolist(), doc_scores.tolist()):
        doc_id = data.doc_of_row(row)
        if doc_id not in scores:  # results come best first: the first passage wins
            scores[doc_id] = float(score)
            best[doc_id] = row
    return scores, best


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)
