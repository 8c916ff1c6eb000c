"""Publication dates as written ("Fri. Nov 22nd, 2024", "22 नवंबर 2024", "2 घंटे पहले") into ISO-8601.

Parsing is dateparser's (maintained, Hindi month names and relative forms built in), run strictly: a
date needs its day, month and year, and a bare number is never a date. Around it, only what dateparser
lacks: a few Hindi spellings and number words, "कल" read as yesterday (a published date is never in
the future), "IST" as +05:30 rather than Israel's zone, "Updated:"-style labels, and ISO strings read
directly (the common case, and 1000 times faster).

Every datetime is written in one zone (:attr:`DateConfig.utc_offset_minutes`, India's by default), so
that the first ten characters are the local day and the strings sort in time order.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from functools import lru_cache

from search.analysis import normalize

logger = logging.getLogger(__name__)

#: Spellings dateparser does not know, and words it reads otherwise, as it should read them (the
#: text is first normalised with :func:`search.analysis.normalize`: no nukta, anusvara for nasals).
_WORDS = {
    "जनवरि": "जनवरी", "एप्रिल": "अप्रैल", "जुलाइ": "जुलाई",
    "हफ्ते": "सप्ताह", "हफ्ता": "सप्ताह", "हफ्तों": "सप्ताह", "कल": "1 दिन पहले",
    "एक": "1", "दो": "2", "तीन": "3", "चार": "4", "पांच": "5", "छह": "6", "छः": "6", "सात": "7",
    "आठ": "8", "नौ": "9", "दस": "10", "ist": "+0530",
}
_LABEL = re.compile(r"^(?:last\s+)?(?:updated|published|posted|अपडेट(?:ेड)?|प्रकाशित|पब्लिश(?:्ड)?)"
                    r"(?:\s+(?:on|at|किया गया|हुआ))?\s*[:\-–—]?\s*")
_RELATIVE = re.compile(r"पहले|पूर्व|\bago\b|आज|परसों|\byesterday\b|\btoday\b")
_TIME = re.compile(r"\d{1,2}[:.]\d{2}")
_DIGIT = re.compile(r"\d")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
                  re.IGNORECASE)
_SMALL_NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")
# Relative forms are read once against this base and the distance moved back from the crawl time (a
# parser per crawl time costs 20 ms to make).
_BASE = dt.datetime(2001, 3, 15, 12, 0)


@dataclass(frozen=True)
class DateConfig:
    """How dates are read and written."""

    languages: tuple[str, ...] = ("hi", "en")
    #: the zone every datetime is written in, and a time without a zone is read in (India: +05:30)
    utc_offset_minutes: int = 330
    max_chars: int = 80  # a longer string is not a date
    #: a line of a text file is its date line only if it is this short (headlines are longer)
    max_line_chars: int = 40
    #: how many unreadable dates a build lists by document (the count is always exact)
    max_warnings_listed: int = 50

    @property
    def zone(self) -> dt.timezone:
        return dt.timezone(dt.timedelta(minutes=self.utc_offset_minutes))


@dataclass(frozen=True)
class ParsedDate:
    """A date as written (``raw``) and as ISO-8601 (``iso``: ``YYYY-MM-DD``, or
    ``YYYY-MM-DDTHH:MM:SS+05:30`` when the string gives a time); ``problem`` says why a non-empty
    ``raw`` has no ``iso``."""

    raw: str
    iso: str = ""
    problem: str = ""


@dataclass(frozen=True)
class DateWarning:
    """A document whose date, as written (``raw``), could not be read: its ``date`` was left empty."""

    doc_id: str
    raw: str
    problem: str = ""

    def __str__(self) -> str:
        return f"{self.doc_id} {self.raw!r}"


@dataclass(frozen=True)
class DateWarnings:
    """How many documents have a date that could not be read (``count``, exact), and the first of them."""

    count: int = 0
    first: tuple[DateWarning, ...] = ()

    def line(self, shown: int = 3) -> str:
        """One line for a build's summary ("" when every date was read)."""
        if not self.count:
            return ""
        listed = ", ".join(str(w) for w in self.first[:shown]) + (", …" if self.count > shown else "")
        have = "document has a date" if self.count == 1 else "documents have dates"
        return f"{self.count} {have} that could not be read (left empty): {listed}"

    def to_json(self) -> dict:
        """As a manifest writes it: ``{"count": n, "first": [{"doc_id", "raw", "problem"}, …]}``."""
        return {"count": self.count,
                "first": [{"doc_id": w.doc_id, "raw": w.raw, "problem": w.problem} for w in self.first]}


def date_warnings(docs, config: DateConfig | None = None) -> DateWarnings:
    """The documents (:class:`search.types.Document`, read by :mod:`index.corpus`) that were written with
    a date (``date_raw``) and have none (``date``): the date could not be read. Each one's problem is
    read again without a crawl time, which reads every date as the corpus did (a relative form that
    failed had no crawl time)."""
    config = config or DateConfig()
    found: list[DateWarning] = []
    count = 0
    for doc in docs:
        raw = doc.date_raw or ""
        if doc.date or not raw.strip():
            continue
        count += 1
        if len(found) < config.max_warnings_listed:
            problem = parse_date(raw, None, config).problem or "not a date"
            shown = raw if len(raw) <= config.max_chars else raw[:config.max_chars] + "…"
            found.append(DateWarning(doc.doc_id, shown, problem))
    return DateWarnings(count, tuple(found))


def parse_date(raw: str, crawl_time: dt.datetime | None = None, config: DateConfig | None = None) -> ParsedDate:
    """``raw`` as an ISO-8601 date or datetime; relative forms ("2 घंटे पहले", "3 days ago", "कल")
    count back from ``crawl_time`` (when the page was fetched), and without one are not dates."""
    config = config or DateConfig()
    raw = raw or ""
    text = " ".join(raw.split())
    if not text:
        return ParsedDate(raw)
    if len(text) > config.max_chars:
        return ParsedDate(raw, problem=f"longer than {config.max_chars} characters")
    if _ISO.fullmatch(text):
        return _from_iso(raw, text, config)
    read = _prepare(text)
    relative = _RELATIVE.search(read)
    if not relative and not _DIGIT.search(read):  # a headline, most often: no need to ask dateparser
        return ParsedDate(raw, problem="not a date")
    if relative:
        delta = _relative(read, config)
        if delta is not None:
            if crawl_time is None:
                return ParsedDate(raw, problem="a relative date, and no crawl time to count back from")
            return ParsedDate(raw, _count_back(crawl_time, delta, config))
    found = _absolute(read, config)
    if found is None:
        why = "not a valid date" if _absolute(_SMALL_NUMBER.sub("1", read), config) else "not a date"
        return ParsedDate(raw, problem=why)
    return ParsedDate(raw, _write(found, bool(_TIME.search(read)), config))


def looks_like_date(line: str, config: DateConfig | None = None) -> bool:
    """Whether ``line`` is a date line (valid or not: "Feb 30, 2024" is one), not a headline."""
    config = config or DateConfig()
    line = " ".join(line.split())
    if not line or len(line) > config.max_line_chars:
        return False
    parsed = parse_date(line, _BASE, config)
    return bool(parsed.iso) or parsed.problem == "not a valid date"


def crawl_time_of(value: str) -> dt.datetime | None:
    """An ISO timestamp (ingest's ``fetched_at``) as an aware datetime (UTC when it names no zone)."""
    try:
        found = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return found if found.tzinfo else found.replace(tzinfo=dt.timezone.utc)


def _from_iso(raw: str, text: str, config: DateConfig) -> ParsedDate:
    try:
        found = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return ParsedDate(raw, problem="not a valid date")
    if len(text) == 10:
        return ParsedDate(raw, found.date().isoformat())
    if found.tzinfo is None:
        found = found.replace(tzinfo=config.zone)
    return ParsedDate(raw, _write(found, True, config))


def _prepare(text: str) -> str:
    text = _LABEL.sub("", normalize(text))
    return " ".join(_WORDS.get(word.strip(",."), word) for word in text.split())


def _write(found: dt.datetime, with_time: bool, config: DateConfig) -> str:
    if not with_time:
        return found.date().isoformat()
    if found.tzinfo is None:
        found = found.replace(tzinfo=config.zone)
    return found.astimezone(config.zone).replace(microsecond=0).isoformat()


def _count_back(crawl_time: dt.datetime, delta, config: DateConfig) -> str:
    if crawl_time.tzinfo is None:
        crawl_time = crawl_time.replace(tzinfo=config.zone)
    local = crawl_time.astimezone(config.zone)
    if isinstance(delta, dt.timedelta):
        with_time = delta % dt.timedelta(days=1) != dt.timedelta(0)
        return _write(local - delta, with_time, config)
    from dateutil.relativedelta import relativedelta

    return (local.date() - relativedelta(months=delta)).isoformat()


@lru_cache(maxsize=4096)
def _relative(read: str, config: DateConfig) -> dt.timedelta | int | None:
    """How far back a relative form reaches: a time, or a number of calendar months; ``None``: not one."""
    data = _parser(config, _BASE).get_date_data(read)
    if data.date_obj is None:
        return None
    start = data.date_obj.replace(tzinfo=None)
    if data.period in ("month", "year"):  # calendar units: "2 महीने पहले" is two months back, not 61 days
        return (_BASE.year - start.year) * 12 + _BASE.month - start.month
    return _BASE - start


@lru_cache(maxsize=16384)
def _absolute(read: str, config: DateConfig) -> dt.datetime | None:
    return _parser(config, None).get_date_data(read).date_obj


@lru_cache(maxsize=8)
def _parser(config: DateConfig, base: dt.datetime | None):
    from dateparser.date import DateDataParser

    offset = config.utc_offset_minutes
    settings = {"STRICT_PARSING": True, "DATE_ORDER": "DMY", "RETURN_AS_TIMEZONE_AWARE": True,
                "TIMEZONE": f"{'+' if offset >= 0 else '-'}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"}
    if base is None:
        settings.update(PARSERS=["absolute-time"], REQUIRE_PARTS=["day", "month", "year"])
    else:
        settings.update(PARSERS=["relative-time"], RELATIVE_BASE=base)
    return DateDataParser(languages=list(config.languages), settings=settings)
