"""BM25F over the Whoosh index, scored a posting block at a time with numpy.

Whoosh's own ``Searcher.search`` walks every matching posting through a tree of Python matcher objects:
about ten microseconds a posting, so a Hindi question whose terms match a few thousand passages costs tens
of milliseconds (``bench/results/query.md``). This module reads the same postings from the same Whoosh
index (its term dictionary, its codec's posting blocks, its field lengths, deletions and statistics) and
applies Whoosh's own BM25F formula, idf and average field lengths, but term at a time: each block's ids
and term frequencies become numpy arrays, and one vectorised expression scores a whole posting list.

The scores are Whoosh's scores (``tests/test_bm25.py`` checks them against ``Searcher.search`` to 1e-5).
Decoded posting lists are kept in a bounded LRU cache shared by all threads; the Whoosh readers are
per thread, because they seek in shared files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable, Sequence

import numpy as np

from .whoosh_adapter import field_b, read_matcher

#: Decoded postings kept in memory, counted in postings (8 bytes each).
CACHE_POSTINGS = 4_000_000


class WhooshBM25:
    """Vectorised BM25F retrieval over one (never changing) Whoosh index generation."""

    def __init__(self, ix, fields: Sequence[str], cache_postings: int = CACHE_POSTINGS):
        self.ix = ix
        self.fields = tuple(fields)
        self._local = threading.local()
        self._cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached = 0
        self._cache_limit = cache_postings
        self._cache_lock = threading.Lock()
        searcher = self.searcher()
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        weighting = searcher.weighting
        self.k1 = float(weighting.K1)
        self.b = {f: field_b(weighting, f) for f in self.fields}
        self.avg_length = {f: float(searcher.avg_field_length(f) or 1) for f in self.fields}
        self.live = np.ones(self.size, dtype=bool)
        self.lengths = {f: np.ones(self.size, dtype=np.float32) for f in self.fields}
        for leaf, base in reader.leaf_readers():
            if leaf.has_deletions():
                for doc in range(leaf.doc_count_all()):
                    self.live[base + doc] = not leaf.is_deleted(doc)
            for f in self.fields:
                column = self.lengths[f]
                for doc in range(leaf.doc_count_all()):
                    column[base + doc] = leaf.doc_field_length(doc, f, 1) or 1
        self._all_live = bool(self.live.all())
        # BM25's length normalisation of every document, per field: k1 · ((1 − b) + b · length / average)
        self._norm = {f: (self.k1 * ((1.0 - self.b[f]) + self.b[f] * self.lengths[f] / self.avg_length[f])
                          ).astype(np.float32) for f in self.fields}

    def searcher(self):
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = self._local.searcher = self.ix.searcher()
        return s

    def doc_frequency(self, field: str, term: str) -> int:
        return self.searcher().reader().doc_frequency(field, term)

    # ------------------------------------------------------------------ postings
    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Global Whoosh document numbers and term frequencies of ``term`` in ``field`` (deleted ones kept)."""
        key = (field, term)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        ids, tfs = self._read(field, term)
        if len(ids) <= self._cache_limit:
            with self._cache_lock:
                if key not in self._cache:
                    self._cache[key] = (ids, tfs)
                    self._cached += len(ids)
                    while self._cached > self._cache_limit:
                        _k, (old, _t) = self._cache.popitem(last=False)
                        self._cached -= len(old)
        return ids, tfs

    def _read(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        reader = self.searcher().reader()
        id_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        for leaf, base in reader.leaf_readers():
            if not leaf.doc_frequency(field, term):
                continue
            matcher = leaf.postings(field, term)
            matcher = getattr(matcher, "child", matcher)  # deletions are masked later, all at once
            ids, tfs = read_matcher(matcher)
            id_parts.append(ids + base)
            tf_parts.append(tfs)
        if not id_parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        return np.concatenate(id_parts).astype(np.int32), np.concatenate(tf_parts).astype(np.float32)

    # ------------------------------------------------------------------- search
    def search(self, weighted_terms: Iterable[tuple[str, float]], limit: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The best ``limit`` (document number, BM25F score) pairs, best first; ties by document number.

        Each (term, boost) is searched in every field; a document's score is the sum over terms and fields
        of boost × Whoosh's BM25F, as ``Or([Term(field, term, boost=boost) …])`` would give.
        """
        return self.top(self.scores(weighted_terms), limit, allowed)

    def scores(self, weighted_terms: Iterable[tuple[str, float]], into: np.ndarray | None = None
               ) -> np.ndarray | None:
        """Every document's summed BM25F score for ``weighted_terms`` (added to ``into`` when given), or
        None when no term occurs and nothing was given. A score is linear in each boost, so a query's terms
        can be scored in parts (the service adds late expansion terms to an earlier array)."""
        searcher = self.searcher()
        scores = into
        for term, boost in weighted_terms:
            for field in self.fields:
                ids, tfs = self.postings(field, term)
                if not len(ids):
                    continue
                if scores is None:
                    scores = np.zeros(self.size, dtype=np.float32)
                idf = searcher.idf(field, term)
                part = tfs * np.float32(self.k1 + 1.0)
                part *= np.float32(boost * idf)
                part /= tfs + self._norm[field][ids]
                scores[ids] += part
        return scores

    def top(self, scores: np.ndarray | None, limit: int, allowed: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``limit`` (document number, score) pairs of a :meth:`scores` array, best first; only
        live documents with a positive score, and only ``allowed`` ones (a mask over document numbers)."""
        if scores is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if not self._all_live:
            scores = np.where(self.live, scores, np.float32(0.0))
        if allowed is not None:
            scores = np.where(allowed, scores, np.float32(0.0))
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > limit:
            part = np.argpartition(-scores[candidates], limit - 1)[:limit]
            candidates = candidates[part]
        order = np.lexsort((candidates, -scores[candidates]))
        top = candidates[order]
        return top, scores[top]
