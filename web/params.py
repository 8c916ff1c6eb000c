"""Read search parameters from a query string into the types ``SearchService.search`` takes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from search.errors import BadQuery
from search.scope import Filters

DEFAULT_K = 10
DEFAULT_MODE = "hybrid"
DEFAULT_FUSION = "convex"
DEFAULT_SORT = "relevance"
DEFAULT_RELATED_K = 5
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}")  # nine digits: big enough, and int() never sees a huge string

#: Every parameter /api/search and the search page read; any other is refused (a misspelt filter that
#: was silently ignored would answer a different question than the one asked).
SEARCH_PARAMS = ("q", "k", "page", "mode", "fusion", "exact", "from", "to", "source", "sort", "collapse",
                 "facets")
RELATED_PARAMS = ("k",)


@dataclass(frozen=True)
class SearchArgs:
    q: str | None
    k: int
    mode: str
    page: int
    fusion: str
    exact: bool = False  # exact=1: search the words as typed (no spelling correction)
    filters: Filters = field(default_factory=Filters)
    sort: str = DEFAULT_SORT
    collapse: bool = True  # collapse=0: near-duplicates each on their own
    facets: bool = False  # facets=1: counts by source and month

    def as_kwargs(self) -> dict:
        return {"query": self.q, "k": self.k, "mode": self.mode, "page": self.page, "fusion_method": self.fusion,
                "exact": self.exact, "filters": self.filters, "sort": self.sort, "collapse": self.collapse,
                "facets": self.facets}


def only_known(args, known: tuple[str, ...]) -> None:
    """:class:`BadQuery` naming the first parameter of ``args`` that is not in ``known``."""
    for name in args.keys():
        if name not in known:
            raise BadQuery(f"unknown parameter {name[:40]!r}", f"the known ones are: {', '.join(known)}")


def whole_number(args, name: str, default: int) -> int:
    """``args[name]`` as an int; the range is checked by the service, which knows the limits."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not _WHOLE.fullmatch(raw.strip()):
        raise BadQuery(f"{name} must be a whole number, not {raw[:40]!r}", f"pass e.g. {name}={default}")
    return int(raw)


def flag(args, name: str, default: bool = False) -> bool:
    """``args[name]`` as a yes/no flag: 1/true/yes/on or 0/false/no/off (absent or empty: ``default``)."""
    raw = (args.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BadQuery(f"{name} must be 1 or 0, not {raw[:40]!r}", f"pass e.g. {name}={int(not default)}")


def filters(args) -> Filters:
    """``from``, ``to`` (ISO dates or prefixes) and every ``source``, checked."""
    return Filters.checked(args.get("from") or "", args.get("to") or "", tuple(args.getlist("source")))


def search_args(args) -> SearchArgs:
    """Parse every parameter of :data:`SEARCH_PARAMS` from a request's query string (any other: 400)."""
    only_known(args, SEARCH_PARAMS)
    return SearchArgs(
        q=args.get("q"),
        k=whole_number(args, "k", DEFAULT_K),
        mode=(args.get("mode") or DEFAULT_MODE).strip(),
        page=whole_number(args, "page", 1),
        fusion=(args.get("fusion") or DEFAULT_FUSION).strip(),
        exact=flag(args, "exact"),
        filters=filters(args),
        sort=(args.get("sort") or DEFAULT_SORT).strip(),
        collapse=flag(args, "collapse", default=True),
        facets=flag(args, "facets"),
    )


def related_k(args) -> int:
    """``k`` of /api/documents/<id>/related (its range is checked by the service)."""
    only_known(args, RELATED_PARAMS)
    return whole_number(args, "k", DEFAULT_RELATED_K)
