"""A search request, checked, and the query as it will be searched."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadQuery
from .query import ParsedQuery, parse_query
from .scope import Filters
from .syntax import Syntax, parse_syntax
from .understanding import Understanding

MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("convex", "rrf")
SORTS = ("relevance", "date")
MAX_K = 100


@dataclass(frozen=True)
class Request:
    query: ParsedQuery  # as typed
    k: int
    mode: str
    page: int
    fusion: str
    exact: bool
    syntax: Syntax
    filters: Filters
    sort: str = "relevance"
    collapse: bool = True  # near-duplicates folded under the best of them
    facets: bool = False  # count the matches by source and month

    @classmethod
    def checked(cls, query, k=10, mode="hybrid", page=1, fusion_method="convex", exact=False,
                filters: Filters | None = None, sort="relevance", collapse=True, facets=False) -> "Request":
        if mode not in MODES:
            raise BadQuery(f"unknown mode {mode!r}", f"use one of: {', '.join(MODES)}")
        if fusion_method not in FUSIONS:
            raise BadQuery(f"unknown fusion {fusion_method!r}", f"use one of: {', '.join(FUSIONS)}")
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise BadQuery(f"k must be a whole number from 1 to {MAX_K}, not {k!r}", "pass e.g. k=10")
        if not isinstance(page, int) or page < 1:
            raise BadQuery(f"page must be a whole number from 1, not {page!r}", "pass e.g. page=1")
        if sort not in SORTS:
            raise BadQuery(f"unknown sort {sort!r}", f"use one of: {', '.join(SORTS)}")
        typed = parse_query(query)
        syntax = parse_syntax(typed.text)
        filters = (filters or Filters()).with_sources(syntax.sources)
        return cls(typed, k, mode, page, fusion_method, bool(exact), syntax, filters, sort, bool(collapse),
                   bool(facets))

    @property
    def lexical(self) -> bool:
        return self.mode != "dense"

    @property
    def dense(self) -> bool:
        return self.mode != "bm25"


@dataclass(frozen=True)
class Reading:
    """The query as it will be searched."""

    understood: Understanding
    parsed: ParsedQuery  # as searched
    searched: str  # the text searched (the model's reading for an English query)
    readings: list[tuple[str, float]]  # BM25 weights of words read differently from how they were typed
    expanding: bool  # its English words are expanded into Hindi terms

    @property
    def text(self) -> str:
        """What is ranked by ("" for a query of operators only)."""
        return self.searched
