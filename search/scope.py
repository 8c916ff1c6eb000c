"""Which documents a search may return: the filters (a date range, sources) and the query's operators
(a phrase that must occur, words whose documents are left out), as one boolean mask over a generation's
documents that both retrievers apply inside retrieval (BM25's scores, the exact dense product and the
HNSW graph's search), not to the hits they return."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .analysis import normalize
from .errors import BadQuery
from .generation import LoadedGeneration

_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_WHEN = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")
MAX_SOURCES = 20


def source_key(name: str) -> str:
    """What a source is matched by: its name normalised (case, nukta, nasals, digits), spaces collapsed,
    without ``www.``; the same for every spelling of one outlet (and what the index stores as
    ``source_id``)."""
    key = " ".join(normalize(name).split())
    return key[4:] if key.startswith("www.") else key


def check_date(value: str, name: str) -> str:
    """``value`` as an ISO date prefix (``2024``, ``2024-11`` or ``2024-11-22``), or :class:`BadQuery`."""
    value = (value or "").strip()
    if not value:
        return ""
    if not _DATE.fullmatch(value):
        raise BadQuery(f"{name} must be a date like 2024-11-22 (or 2024-11, or 2024), not {value[:40]!r}",
                       f"give {name} as e.g. 2024-11-01")
    month = int(value[5:7]) if len(value) >= 7 else 1
    day = int(value[8:10]) if len(value) == 10 else 1
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise BadQuery(f"{name} {value!r} is not a calendar date", f"give {name} as e.g. 2024-11-01")
    return value


@dataclass(frozen=True)
class Filters:
    """A date range (inclusive, by ISO prefix: ``to=2024-11`` takes all of November) and sources."""

    date_from: str = ""
    date_to: str = ""
    sources: tuple[str, ...] = ()

    @classmethod
    def checked(cls, date_from: str = "", date_to: str = "", sources=()) -> "Filters":
        if isinstance(sources, str):
            sources = (sources,)
        sources = tuple(dict.fromkeys(s.strip() for s in sources if s and s.strip()))
        if len(sources) > MAX_SOURCES:
            raise BadQuery(f"at most {MAX_SOURCES} sources can be chosen, not {len(sources)}",
                           "choose fewer sources")
        lo, hi = check_date(date_from, "from"), check_date(date_to, "to")
        if lo and hi and lo > hi[:len(lo)]:
            raise BadQuery(f"from ({lo}) is after to ({hi})", "swap the two dates")
        return cls(lo, hi, sources)

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.sources)

    def with_sources(self, more) -> "Filters":
        return Filters(self.date_from, self.date_to, tuple(dict.fromkeys((*self.sources, *more))))


class Metadata:
    """A generation's documents' dates, months and sources as arrays (made once per generation)."""

    def __init__(self, data: LoadedGeneration):
        docs = [data.documents[d] for d in data.doc_ids]
        self.dates = np.array([(d.get("date") or "")[:10] for d in docs], dtype="U10")
        self.dated = self.dates != ""
        #: when, as a number to sort by (-1: undated): the day, then the time of day when it has one
        self.when = np.array([_sort_key(d.get("date") or "") for d in docs], dtype=np.int64)
        keys = [d.get("source_id") or source_key(d.get("source") or "") for d in docs]
        self.source_keys = sorted(set(keys))
        index = {k: i for i, k in enumerate(self.source_keys)}
        self.source = np.array([index[k] for k in keys], dtype=np.int32)
        names: dict[str, str] = {}
        for key, doc in zip(keys, docs):
            names.setdefault(key, doc.get("source") or key)
        self.source_names = [names[k] for k in self.source_keys]
        months = np.array([d[:7] if len(d) >= 7 else "" for d in self.dates], dtype="U7")
        self.month_names = sorted(set(months.tolist()) - {""})
        month_index = {m: i for i, m in enumerate(self.month_names)}
        self.month = np.array([month_index.get(m, -1) for m in months.tolist()], dtype=np.int32)

    def mask(self, filters: Filters) -> np.ndarray | None:
        """Documents the filters keep (None: all)."""
        if not filters.active:
            return None
        keep = np.ones(len(self.dates), dtype=bool)
        if filters.date_from or filters.date_to:
            keep &= self.dated
        if filters.date_from:
            keep &= self.dates >= filters.date_from
        if filters.date_to:
            # an inclusive prefix: everything up to the end of that year, month or day
            keep &= self.dates <= _end_of(filters.date_to)
        if filters.sources:
            wanted = {source_key(s) for s in filters.sources}
            chosen = [i for i, k in enumerate(self.source_keys) if k in wanted]
            keep &= np.isin(self.source, chosen)
        return keep


def _sort_key(date: str) -> int:
    """``YYYYMMDD`` × 100000, plus 1 + the second of the day when ``date`` has a time; -1 when undated.
    Newest first, a day without a time (``2024-11-22``) comes after that day's timed stories. Every
    datetime of an index is written in one zone, so its local day and time order it."""
    found = _WHEN.match(date)
    if not found:
        return -1
    year, month, day, hour, minute, second = found.groups()
    key = int(year + month + day) * 100000
    if hour is not None:
        key += 1 + int(hour) * 3600 + int(minute) * 60 + int(second or 0)
    return key


def _end_of(prefix: str) -> str:
    """The greatest ISO date string with this prefix (``2024-11`` -> ``2024-11-99``)."""
    return prefix + "-99-99"[len(prefix) - 4:] if len(prefix) < 10 else prefix


def metadata(data: LoadedGeneration) -> Metadata:
    return data.once("metadata", lambda: Metadata(data))
