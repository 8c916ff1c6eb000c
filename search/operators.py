"""The query's operators as document masks: ``"a phrase"`` (its words together, in order, in one passage:
BM25's word positions in Whoosh; an English phrase: its words' Hindi expansions together in one
passage) and ``-word`` (documents holding the word, its transliteration or its expansions left out).
Words are read as the query is (:mod:`search.understanding`): ``-rus`` leaves out रूस."""

from __future__ import annotations

import logging

import numpy as np

from .analysis import analyze
from .expansion import content_words
from .generation import LoadedGeneration
from .query import parse_query
from .syntax import Syntax

logger = logging.getLogger(__name__)


class Operators:
    """Masks over ``data``'s documents for a query's phrases and exclusions."""

    def __init__(self, data: LoadedGeneration, reader, expander=None):
        self.data = data
        self.reader = reader  # an Understander
        self.expander = expander

    def mask(self, syntax: Syntax) -> np.ndarray | None:
        """Documents the operators keep (None: all)."""
        if not (syntax.phrases or syntax.excluded):
            return None
        keep = np.ones(len(self.data.doc_ids), dtype=bool)
        for phrase in syntax.phrases:
            rows = self.phrase_passages(phrase)
            if rows is not None:
                keep &= self.documents(rows)
        for word in syntax.excluded:
            found = self.phrase_passages(word) if len(word.split()) > 1 else self.word_passages(word)
            if found is not None:
                keep &= ~self.documents(found)
        return keep

    # ----------------------------------------------------------------- words
    def word_passages(self, word: str) -> np.ndarray:
        """Passage rows holding ``word`` as typed, as read (transliterated or corrected) or, for an English
        word, any of its Hindi expansions."""
        understood = self.reader.read(word)
        terms = set(analyze(word)) | set(analyze(understood.text))
        if understood.language == "en":
            terms |= self._expansions(word)
        return self._passages_with_any(terms)

    def phrase_passages(self, phrase: str) -> np.ndarray | None:
        """Passage rows holding the phrase: in order over word positions, or (English) each word's
        expansions in one passage; None when no word of an English phrase has a term in the index to
        hold it to (then it is only searched for)."""
        understood = self.reader.read(phrase)
        if understood.language == "en":
            words = content_words(phrase) or phrase.split()
            found = [terms for terms in (self._indexed(set(analyze(w)) | self._expansions(w)) for w in words) if terms]
            return self._together(found) if found else None
        terms = analyze(understood.text)
        if len(terms) <= 1:
            return self._passages_with_any(set(terms))
        if not all(self.data.ix.schema[f].supports("positions") for f in self.data.bm25.fields):
            logger.warning("%s has no word positions (built before phrases): a quoted phrase is searched as "
                           "its words together in one passage; rebuild the index for exact phrases", self.data.gen)
            return self._together(terms)
        return self._phrase_rows(terms)

    def _together(self, alternatives) -> np.ndarray:
        """Passage rows holding, for every item, one of its terms (an item: a term, or a set of them)."""
        rows = None
        for item in alternatives:
            found = self._passages_with_any({item} if isinstance(item, str) else set(item))
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        return rows if rows is not None else np.zeros(0, np.int64)

    def _indexed(self, terms: set[str]) -> set[str]:
        return {t for t in terms if self.data.indexed(t)}

    def _expansions(self, word: str) -> set[str]:
        if self.expander is None:
            return set()
        return {term for term, _w in self.expander.begin(parse_query(word)).finish(None).terms}

    def _passages_with_any(self, terms: set[str]) -> np.ndarray:
        bm25 = self.data.bm25
        parts = [bm25.postings(field, term)[0] for term in terms for field in bm25.fields]
        docnums = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        return self._rows(docnums)

    def _phrase_rows(self, terms: list[str]) -> np.ndarray:
        from whoosh.query import Or, Phrase

        data = self.data
        query = Or([Phrase(field, terms) for field in data.bm25.fields])
        docnums = np.fromiter(data.bm25.searcher().docs_for_query(query), dtype=np.int64)
        return self._rows(docnums)

    def _rows(self, docnums: np.ndarray) -> np.ndarray:
        rows = self.data.bm25_rows[docnums.astype(np.int64)] if len(docnums) else np.zeros(0, np.int64)
        rows = rows[rows >= 0]
        return np.unique(rows)

    def documents(self, rows: np.ndarray) -> np.ndarray:
        """A mask over documents: those with a passage among ``rows``."""
        mask = np.zeros(len(self.data.doc_ids), dtype=bool)
        if len(rows):
            mask[self.data.passage_doc[rows]] = True
        return mask
