"""Plain data passed between the parts: documents, passages, hits and responses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    """One article as indexed.

    ``text`` is the body that is indexed (title line removed, trailing site
    boilerplate stripped); the source file itself is never modified.
    """

    doc_id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    url: str = ""
    lang: str = "hi"
    origin: str = ""  # where it came from: a file path, or "file.jsonl:LINE"
    # News metadata (index/corpus.py, index/dates.py): ``date`` is ISO-8601 ("2024-11-22", or
    # "2024-11-22T14:30:00+05:30": every datetime in one zone, so strings sort in time order and
    # date[:10] is the local day), "" when unknown or invalid; ``date_raw`` is the date as written.
    # ``source`` is the outlet's display name, ``source_id`` what it is matched and counted by.
    date_raw: str = ""
    source_id: str = ""
    # Near-duplicates (index/neardup.py): the doc_id of its group's representative, for every member
    # of a group of near-identical documents (the representative included); "" when it has none.
    dup_group: str = ""


@dataclass(frozen=True)
class Passage:
    """A sentence-aligned chunk of a document body; ``start``/``end`` index ``Document.text``."""

    passage_id: str  # "doc_id#n"
    doc_id: str
    n: int
    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Report:
    """A problem with one input (skipped file, malformed line, ...)."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Explanation:
    bm25_rank: int | None
    bm25_score: float | None
    dense_rank: int | None
    dense_score: float | None
    lexical_weight: float
    fusion: str


@dataclass(frozen=True)
class Hit:
    rank: int
    doc_id: str
    title: str
    date: str
    source: str
    url: str
    score: float
    passage_id: str
    snippet: str  # HTML: escaped text, matched terms in <mark>
    explanation: Explanation
    #: Near-duplicates folded under this hit (syndicated copies): [{"doc_id", "title", "source"}, ...].
    similar: tuple[dict, ...] = ()


@dataclass(frozen=True)
class SearchResponse:
    query: str
    mode: str
    language: str
    script: str
    terms: tuple[str, ...]
    expansion: tuple[tuple[str, float], ...]
    k: int
    page: int
    total: int
    hits: tuple[Hit, ...]
    timings_ms: dict = field(default_factory=dict)
    #: How each expansion term is most often written in the index (संध -> संधि), to show people.
    expansion_surface: tuple[str, ...] = ()
    #: The query as searched: romanized Hindi in Devanagari, misspellings corrected (= query when neither).
    searched_as: str = ""
    #: "Hindi", "Hindi (romanized)", "English", ...: how the query was read, to show people.
    language_label: str = ""
    #: True when some word was corrected ("showing results for ... · search instead for ...").
    corrected: bool = False
    #: With ``exact``: the corrected query, when it differs ("did you mean ..."); or, when nothing
    #: matched because the query's words were only guesses at words, how it was read ("yuiop": यूरोप).
    did_you_mean: str = ""
    #: Each word as typed, how it was read (english | hindi | romanized | corrected | other) and as what.
    readings: tuple[dict, ...] = ()
    #: False when ``total`` is counted from the nearest-neighbour graph's candidates (more may match).
    total_exact: bool = True
    #: Results ranked (after near-duplicates are folded): pages end here.
    ranked: int = 0
    sort: str = "relevance"
    #: The filters applied: {"from", "to", "source": [...]} (empty values when unset).
    filters: dict = field(default_factory=dict)
    #: The query's operators: {"phrases": [...], "excluded": [...]}.
    operators: dict = field(default_factory=dict)
    #: With ``facets``: matching documents by source and by month ({"source": [...], "month": [...]}).
    facets: dict | None = None
    #: Why nothing matched, when nothing did ("no word of the query is in the index", ...).
    empty_reason: str = ""

    def shown_expansion(self) -> list[str]:
        return list(self.expansion_surface) or [t for t, _w in self.expansion]

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("expansion_surface")
        out["terms"] = list(self.terms)
        out["readings"] = list(self.readings)
        for hit in out["hits"]:
            hit["similar"] = list(hit["similar"])
        out["expansion"] = [{"term": t, "surface": shown, "weight": round(w, 4)}
                            for (t, w), shown in zip(self.expansion, self.shown_expansion())]
        return out
