"""Read search parameters from a query string into the types ``SearchService.search`` takes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.errors import BadQuery

DEFAULT_K = 10
DEFAULT_MODE = "hybrid"
DEFAULT_FUSION = "convex"
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}")  # nine digits: big enough, and int() never sees a huge string


@dataclass(frozen=True)
class SearchArgs:
    q: str | None
    k: int
    mode: str
    page: int
    fusion: str
    exact: bool = False  # exact=1: search the words as typed (no spelling correction)

    def as_kwargs(self) -> dict:
        return {"query": self.q, "k": self.k, "mode": self.mode, "page": self.page, "fusion_method": self.fusion,
                "exact": self.exact}


def whole_number(args, name: str, default: int) -> int:
    """``args[name]`` as an int; the range is checked by the service, which knows the limits."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not _WHOLE.fullmatch(raw.strip()):
        raise BadQuery(f"{name} must be a whole number, not {raw[:40]!r}", f"pass e.g. {name}={default}")
    return int(raw)


def flag(args, name: str) -> bool:
    """``args[name]`` as a yes/no flag: 1/true/yes/on or 0/false/no/off (absent or empty: no)."""
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise BadQuery(f"{name} must be 1 or 0, not {raw[:40]!r}", f"pass e.g. {name}=1")


def search_args(args) -> SearchArgs:
    """Parse ``q``, ``k``, ``mode``, ``page``, ``fusion`` and ``exact`` from a request's query string."""
    return SearchArgs(
        q=args.get("q"),
        k=whole_number(args, "k", DEFAULT_K),
        mode=(args.get("mode") or DEFAULT_MODE).strip(),
        page=whole_number(args, "page", 1),
        fusion=(args.get("fusion") or DEFAULT_FUSION).strip(),
        exact=flag(args, "exact"),
    )
