"""The dense retriever: the query's vector (with the words the expander needs, in one model pass) and
the passages nearest to it, exactly or through the nearest-neighbour graph, grouped to documents."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .generation import LoadedGeneration


@dataclass(frozen=True)
class DenseConfig:
    #: Passages fetched before grouping to documents.
    passage_fetch: int = 300
    #: From this many passages the exact product is computed in two halves on two threads.
    split_rows: int = 16384
    #: Query vectors remembered (a page of results re-asked, a popular query): 1.5 KB each; 0: none.
    vectors_kept: int = 2048


@dataclass(frozen=True)
class QueryVector:
    vector: np.ndarray
    ms: float
    #: Vectors of the words the expander asked for, made in the query's own pass (None: none asked).
    words: np.ndarray | None = None


@dataclass(frozen=True)
class DenseResult:
    scores: dict[str, float] = field(default_factory=dict)  # doc id -> best passage's cosine
    best: dict[str, int] = field(default_factory=dict)  # doc id -> that passage's row
    #: Every passage's cosine, the scope not applied (exact search); None through the graph, which sees
    #: only the passages it returns.
    passage_sims: np.ndarray | None = None
    #: The query's vector (honest matching asks whether it is an everyday query).
    query_vector: np.ndarray | None = None


class DenseRetriever:
    """Thread-safe; ``pool`` runs the model pass beside BM25 (ONNX Runtime and torch let go of the GIL)."""

    def __init__(self, embedder, pool: ThreadPoolExecutor, config: DenseConfig | None = None):
        self.embedder = embedder
        self.config = config or DenseConfig()
        self._pool = pool
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()  # recent queries, newest last
        self._kept_lock = threading.Lock()

    def embed_async(self, text: str, words: list[str]) -> Future:
        """Start the query's model pass (a :class:`QueryVector` when done)."""
        return self._pool.submit(self.embed, text, words)

    def embed(self, text: str, words: list[str] = ()) -> QueryVector:
        t = time.perf_counter()
        with self._kept_lock:
            qvec = self._kept.get(text)
            if qvec is not None:
                self._kept.move_to_end(text)
        word_vectors = None
        if words:
            qvec, word_vectors = self.embedder.encode_query_with_words(text, list(words))
        elif qvec is None:
            qvec = self.embedder.encode_queries([text])[0]
        with self._kept_lock:
            self._kept[text] = qvec
            while len(self._kept) > self.config.vectors_kept:
                self._kept.popitem(last=False)
        return QueryVector(qvec, round((time.perf_counter() - t) * 1000, 3), word_vectors)

    def forget(self) -> None:
        """Drop the remembered query vectors (benchmarks time cold queries with it)."""
        with self._kept_lock:
            self._kept.clear()

    def retrieve(self, data: LoadedGeneration, qvec: np.ndarray, docs: np.ndarray | None = None) -> DenseResult:
        """Documents by their best passage's cosine to ``qvec``; ``docs``: the documents in scope (a mask;
        None: all)."""
        vectors = data.vectors
        rows_in = None if docs is None else docs[data.passage_doc]
        if len(vectors) == 0 or (rows_in is not None and not rows_in.any()):
            return DenseResult(query_vector=qvec)
        qvec = qvec.astype(np.float32)
        fetch = self.config.passage_fetch
        if data.graph is not None:
            return best_passages(data, *data.graph.search(qvec, fetch, rows_in), query_vector=qvec)
        if len(vectors) >= self.config.split_rows:  # two halves on two cores (numpy lets go of the GIL)
            half = len(vectors) // 2
            other = self._pool.submit(np.dot, vectors[half:], qvec)
            sims = np.concatenate([vectors[:half] @ qvec, other.result()])
        else:
            sims = vectors @ qvec
        every = sims  # unscoped: whether the query has strong evidence at all does not depend on the filters
        if rows_in is not None:
            sims = np.where(rows_in, sims, np.float32(-np.inf))
        n = min(fetch, int(rows_in.sum()) if rows_in is not None else len(sims))
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        return best_passages(data, top, sims[top], every, qvec)


def best_passages(data: LoadedGeneration, rows: np.ndarray, sims: np.ndarray,
                  passage_sims: np.ndarray | None = None, query_vector: np.ndarray | None = None) -> DenseResult:
    """Each document's best passage among ``rows`` (ties: the lower row) and its cosine."""
    order = np.lexsort((rows, -sims))
    result = DenseResult(passage_sims=passage_sims, query_vector=query_vector)
    for row, sim in zip(rows[order].tolist(), sims[order].tolist()):
        doc_id = data.doc_of_row(row)
        if doc_id not in result.scores:
            result.scores[doc_id] = float(sim)
            result.best[doc_id] = int(row)
    return result
