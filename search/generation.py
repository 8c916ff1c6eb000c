"""One index generation in memory: documents, passages, vectors, the nearest-neighbour graph and BM25,
read once (a generation never changes) and shared by the retrievers of :mod:`search.service`."""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

import numpy as np

from . import ann, storage
from .bm25 import WhooshBM25

T = TypeVar("T")


class LoadedGeneration:
    """Everything read from one index generation (checked by ``storage.open_generation``)."""

    def __init__(self, opened: storage.Generation, use_graph: bool = True):
        self.gen = opened.path
        self.manifest = opened.manifest
        self.passages = opened.passages
        docs = opened.documents
        self.documents = {d["doc_id"]: d for d in docs}
        doc_index = {d["doc_id"]: i for i, d in enumerate(docs)}
        self.doc_ids = [d["doc_id"] for d in docs]
        self.passage_doc = np.array([doc_index[p["doc_id"]] for p in self.passages], dtype=np.int32)
        self.passage_row = {p["passage_id"]: i for i, p in enumerate(self.passages)}
        self.vectors = opened.vectors
        # None: exact search (a small index, no graph, or SANGAM_ANN=0)
        self.graph = ann.Graph.open(self.gen, self.manifest, len(self.passages)) if use_graph else None
        self.ix = opened.bm25
        self.bm25 = WhooshBM25(self.ix, storage.BM25_FIELDS)
        self.bm25_rows = self._bm25_rows()
        self._made: dict[str, object] = {}
        self._lock = threading.RLock()  # a made thing may need another (the reader needs the words)

    def _bm25_rows(self) -> np.ndarray:
        """Whoosh document number -> passage row (-1: deleted)."""
        rows = np.full(self.bm25.size, -1, dtype=np.int64)
        try:
            stored = list(self.bm25.searcher().reader().iter_docs())
        except Exception as err:  # noqa: BLE001 - Whoosh raises anything on a damaged stored-fields file
            raise storage.damaged(self.gen, f"{storage.BM25}/ cannot be read ({type(err).__name__})") from None
        for docnum, fields in stored:
            row = self.passage_row.get(fields.get("passage_id"))
            if row is None:
                raise storage.damaged(self.gen, f"{storage.BM25}/ holds a passage that is not in {storage.PASSAGES}")
            rows[docnum] = row
        return rows

    def bm25_allowed(self, docs: np.ndarray | None) -> np.ndarray | None:
        """A mask over Whoosh document numbers from one over documents (None: all)."""
        if docs is None:
            return None
        rows = self.bm25_rows
        return (rows >= 0) & docs[self.passage_doc[np.maximum(rows, 0)]]

    def doc_index(self) -> dict[str, int]:
        """doc id -> its position in :attr:`doc_ids`."""
        return self.once("doc_index", lambda: {d: i for i, d in enumerate(self.doc_ids)})

    def doc_id_rank(self) -> np.ndarray:
        """Each document's rank among the doc ids in sorted order (to break ties by doc id)."""
        return self.once("doc_id_rank", lambda: np.argsort(np.argsort(np.array(self.doc_ids, dtype=object))))

    def first_row(self, doc_id: str) -> int:
        """The row of a document's first passage (a result found by neither retriever: sorted by date)."""
        rows = self.once("first_rows", self._first_rows)
        return rows[doc_id]

    def _first_rows(self) -> dict[str, int]:
        first: dict[str, int] = {}
        for row, p in enumerate(self.passages):
            first.setdefault(p["doc_id"], row)
        return first

    def doc_of_row(self, row: int) -> str:
        return self.doc_ids[self.passage_doc[row]]

    def indexed(self, term: str) -> bool:
        """Whether BM25 knows ``term`` in any field."""
        return any(self.bm25.doc_frequency(f, term) for f in self.bm25.fields)

    def once(self, name: str, make: Callable[[], T]) -> T:
        """This generation's ``name`` (a query reader, a suggester, its word list), made on first use, once."""
        found = self._made.get(name)
        if found is None:
            with self._lock:
                found = self._made.get(name)
                if found is None:
                    found = make()
                    self._made[name] = found
        return found  # type: ignore[return-value]

    def index_words(self) -> list[tuple[str, int]]:
        """The generation's Devanagari words: its expansion vocabulary (each term's most frequent written
        form and how many passages hold it); empty for an index built without expansion."""
        return self.once("index_words", self._read_index_words)

    def _read_index_words(self) -> list[tuple[str, int]]:
        try:
            return [(r["surface"], int(r.get("df") or 1)) for r in storage.read_jsonl(self.gen / storage.VOCAB)]
        except (OSError, ValueError, KeyError, TypeError):
            return []  # built without expansion: the Hindi lexicon alone proposes readings
