"""The one way in: ``SearchService.open(index_dir).search(query, k, mode, page) -> SearchResponse``.

:meth:`SearchService.search` reads top to bottom: the request is checked, the query read
(:mod:`search.understanding`), the lexical (:mod:`search.lexical`) and dense (:mod:`search.dense`)
retrievers run side by side, their lists are fused (:mod:`search.fusion`) and the page's hits made
with snippets and an explanation of every score (:mod:`search.hits`)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import fusion, ranking, storage
from .analysis import ANALYZER_VERSION
from .dense import DenseConfig, DenseResult, DenseRetriever
from .errors import BadQuery, DocumentNotFound
from .expansion import content_words
from .generation import LoadedGeneration
from .hits import Page, early_snippets, make_hits
from .lexical import LexicalConfig, LexicalResult, LexicalRetriever
from .operators import Operators
from .honest import Evidence
from .query import parse_query
from .request import FUSIONS, MAX_K, MODES, SORTS, Reading, Request  # noqa: F401 - the faces read these here
from .scope import Filters, metadata
from .settings import Settings
from .types import SearchResponse
from .understanding import Understander, Understanding

MAX_SUGGEST_CHARS = 200


@dataclass(frozen=True)
class ServiceConfig:
    lexical: LexicalConfig = LexicalConfig()
    dense: DenseConfig = DenseConfig()
    #: Documents ranked per query; pages are cut from this fixed window.
    fusion_window: int = 100


@lru_cache(maxsize=1)
def _single_threaded_blas() -> None:
    """numpy's BLAS is used only for the dense matrix-vector product, which is memory-bound; its idle
    threads busy-wait, and on a two-core machine that starved the query encoder (hybrid p50 62 -> 28 ms
    at 10k documents, ``bench/results/query.md``)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        return
    threadpool_limits(limits=1, user_api="blas")


class SearchService:
    """Loads the model and the index once; thread-safe ``search``."""

    def __init__(self, index_dir: str | Path, embedder, settings: Settings, expander=None, *,
                 opened: storage.Generation | None = None, config: ServiceConfig | None = None):
        _single_threaded_blas()
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.config = config or ServiceConfig()
        self.embedder = embedder
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sangam-embed")
        self.lexical = LexicalRetriever(self.config.lexical)
        self.dense = DenseRetriever(embedder, self._pool, self.config.dense)
        self._data = self._load(opened or storage.open_generation(self.index_dir))
        self.expander = expander

    @classmethod
    def open(cls, index_dir: str | Path | None = None, settings: Settings | None = None, *,
             embedder=None, config: ServiceConfig | None = None) -> "SearchService":
        settings = settings or Settings.from_env()
        index_dir = Path(index_dir or settings.index_dir)
        opened = storage.open_generation(index_dir)  # every part checked, before loading the model
        storage.check_manifest(opened.manifest, index_dir, analyzer_version=ANALYZER_VERSION)
        if embedder is None:
            from .embedding import Embedder

            embedder = Embedder.load_for_queries(settings, precision=opened.manifest["model"].get("precision"))
        return cls(index_dir, embedder, settings, _open_expander(opened.path, embedder, settings),
                   opened=opened, config=config)

    def _load(self, opened: storage.Generation) -> LoadedGeneration:
        data = LoadedGeneration(opened, use_graph=self.settings.ann)
        storage.check_manifest(data.manifest, self.index_dir, model=self.embedder.describe(),
                               analyzer_version=ANALYZER_VERSION)
        return data

    def refresh(self) -> bool:
        """Switch to a newer build of the index if one was swapped in; True if it did."""
        gen = storage.live_generation(self.index_dir)
        if gen == self._data.gen:
            return False
        with self._lock:
            if gen != self._data.gen:
                opened = storage.open_generation(self.index_dir)
                self._data = self._load(opened)
                if self.expander is not None:
                    self.expander = _open_expander(opened.path, self.embedder, self.settings)
        return True

    @property
    def manifest(self) -> dict:
        return self._data.manifest

    def document(self, doc_id: str) -> dict:
        doc = self._data.documents.get(doc_id)
        if doc is None:
            raise DocumentNotFound(f"no document {doc_id!r} in the index", "check the id in a search result")
        return {k: v for k, v in doc.items() if k not in ("hash", "origin")}

    # ------------------------------------------------------------------ search
    def search(self, query: str, k: int = 10, mode: str = "hybrid", page: int = 1,
               fusion_method: str = "convex", exact: bool = False, *, filters: Filters | None = None,
               sort: str = "relevance", collapse: bool = True, facets: bool = False) -> SearchResponse:
        """Rank the documents that match ``query`` (:mod:`search.syntax`: phrases, -words, source:).
        Words are read as people type them (romanized Hindi in Devanagari, misspellings corrected:
        :mod:`search.understanding`); ``exact`` corrects nothing. ``filters`` narrow it inside
        retrieval, ``sort`` orders it, ``collapse`` folds near-duplicates, ``facets`` counts it."""
        t0 = time.perf_counter()
        request = Request.checked(query, k, mode, page, fusion_method, exact, filters, sort, collapse, facets)
        data = self._data  # one generation for the whole request, even if a new one is swapped in
        reading = self._read(data, request)
        scope = self._scope(data, request)
        timings = {"analyze": _ms(t0)}
        job = self.expander.begin(reading.parsed, ride_along=request.mode == "hybrid") \
            if reading.expanding else None
        # The query's model pass (ONNX Runtime or torch, which let go of the GIL) runs while BM25 does.
        vector = self.dense.embed_async(reading.understood.dense_text or reading.parsed.text,
                                        job.unseen if job else []) if request.dense and reading.text else None
        lexical = self.lexical.retrieve(data, reading.parsed, reading.readings, job, vector, scope) \
            if request.lexical and reading.text else LexicalResult()
        timings.update(lexical.ms)
        w_lex = self._lexical_weight(request, reading, lexical)
        page_of = Page(request.k, request.page, _marked(reading, lexical))
        early = early_snippets(data, lexical, page_of, vector) if vector is not None and w_lex >= 0.5 else {}
        dense = self._dense(data, vector, scope, timings) if vector is not None else DenseResult()
        t = time.perf_counter()
        matches = self._matches(data, request, reading, lexical, dense, scope)
        results = ranking.fold(data, self._rank(data, request, lexical, dense, w_lex, matches), request.collapse)
        timings["fuse"] = _ms(t)
        t = time.perf_counter()
        how = request.fusion if request.mode == "hybrid" else request.mode
        hits = make_hits(data, results, lexical, dense, w_lex, how, page_of, early)
        counted = ranking.facets(data, matches) if request.facets else None
        timings["snippets"] = _ms(t)
        timings["total"] = _ms(t0)
        return _response(request, reading, lexical, matches, len(results), hits, counted, timings)

    def _scope(self, data: LoadedGeneration, request: Request) -> np.ndarray | None:
        """The documents the filters and the query's operators allow (None: all)."""
        masks = [metadata(data).mask(request.filters),
                 Operators(data, self._understander(data), self.expander).mask(request.syntax)]
        masks = [m for m in masks if m is not None]
        return np.logical_and.reduce(masks) if masks else None

    def _matches(self, data: LoadedGeneration, request: Request, reading: Reading, lexical: LexicalResult,
                 dense: DenseResult, scope: np.ndarray | None) -> ranking.Matches:
        """The documents that match (:mod:`search.honest`): telling lexical support, or a dense similarity
        over the index's calibrated floors. A query of operators only (``source:X``, ``-word``) matches
        everything in scope."""
        if not reading.text:  # a source or a phrase alone lists its scope; an exclusion alone, nothing
            if not (request.syntax.phrases or request.filters.sources):
                return ranking.Matches(np.zeros(len(data.doc_ids), dtype=bool), True, "nothing to search for")
            docs = scope if scope is not None else np.ones(len(data.doc_ids), dtype=bool)
            return ranking.Matches(docs.copy(), True)
        evidence = data.once("evidence", lambda: Evidence.for_generation(data, self.embedder.encode_queries))
        share = self._understander(data).config.alternative_share
        words = evidence.words(data, reading, request.syntax.text, self._by_word(request, reading, lexical), share)
        typed = tuple(r.typed for r in reading.understood.words)
        docs, exact, reason, guessed = evidence.match(data, words, dense if request.dense else None,
                                                      reading.understood.dense_text or reading.parsed.text,
                                                      scope, typed=typed)
        return ranking.Matches(docs, exact, reason, guessed)

    def _by_word(self, request: Request, reading: Reading, lexical: LexicalResult) -> dict:
        """The query's English words' Hindi terms, one word at a time (the lexical side expanded them)."""
        if request.lexical or self.expander is None or not content_words(reading.parsed.text):
            return lexical.expansion.by_word
        return self.expander.by_word(reading.parsed)  # dense mode: looked up (and cached) here

    def _rank(self, data: LoadedGeneration, request: Request, lexical: LexicalResult, dense: DenseResult,
              w_lex: float, matches: ranking.Matches) -> list[tuple[str, float]]:
        fused = ranking.ranked_candidates(lexical, dense, request.mode, request.fusion, w_lex)
        index = data.doc_index()
        fused = [(d, s) for d, s in fused if matches.docs[index[d]]]
        if request.sort == "date" or not request.syntax.text:
            return ranking.by_date(data, matches, fused)
        return fused[:self.config.fusion_window]

    def _read(self, data: LoadedGeneration, request: Request) -> Reading:
        """How the query is searched. An English query stays English for expansion and fusion (a name
        read in Devanagari only adds its BM25 term); a romanized or corrected Hindi one is searched as
        the Hindi it means. English words left in a romanized query ("korea") are expanded too."""
        reader = self._understander(data)
        text = request.syntax.text
        if not text.strip():  # operators only: nothing to rank by
            return Reading(Understanding(request.query.text, "", "unknown"), request.query, "", [], False)
        typed = request.query if text == request.query.text else parse_query(text)
        understood = reader.read(typed.text, exact=request.exact)
        searched = understood.dense_text if understood.language == "en" else understood.text
        parsed = typed if searched == typed.text else parse_query(searched)
        expanding = self.expander is not None and request.mode != "dense" and (
            parsed.script in ("latin", "mixed") or bool(understood.romanized and content_words(parsed.text)))
        return Reading(understood, parsed, searched, understood.weighted_readings(reader.config.alternative_share),
                       expanding)

    @staticmethod
    def _lexical_weight(request: Request, reading: Reading, lexical: LexicalResult) -> float:
        if request.mode != "hybrid":
            return 1.0 if request.mode == "bm25" else 0.0
        return fusion.lexical_weight(lexical.known, reading.parsed.script, lexical.expansion.strength)

    def _dense(self, data: LoadedGeneration, vector, scope, timings: dict) -> DenseResult:
        qvec = vector.result()
        timings["embed"] = qvec.ms
        t = time.perf_counter()
        dense = self.dense.retrieve(data, qvec.vector, scope)
        timings["dense"] = _ms(t)
        return dense

    def related(self, doc_id: str, k: int = 5) -> list[dict]:
        """Up to ``k`` other stories nearest ``doc_id`` by its passages' mean vector, leaving out the document
        and its near-duplicates (one story syndicated is not a related one), best first."""
        if not isinstance(k, int) or not 1 <= k <= 20:
            raise BadQuery(f"k must be a whole number from 1 to 20, not {k!r}", "pass e.g. k=5")
        data = self._data
        doc = self.document(doc_id)
        rows = np.flatnonzero(data.passage_doc == data.doc_index()[doc_id])
        centroid = np.asarray(data.vectors[rows], dtype=np.float32).mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        group = doc.get("dup_group") or doc_id
        keep = np.array([d != doc_id and (data.documents[d].get("dup_group") or d) != group
                         for d in data.doc_ids], dtype=bool)
        found = self.dense.retrieve(data, centroid, keep)
        out, groups = [], set()
        for other, sim in fusion.ranked(found.scores):
            row = data.documents[other]
            if (row.get("dup_group") or other) in groups:
                continue  # one story syndicated is listed once
            groups.add(row.get("dup_group") or other)
            if len(out) == k:
                break
            out.append({"doc_id": other, "title": row.get("title", ""), "date": row.get("date", ""),
                        "source": row.get("source", ""), "url": row.get("url", ""), "similarity": round(sim, 4)})
        return out

    # ------------------------------------------------------------ suggestions
    def warm(self) -> None:
        """Build the word lists that romanized and misspelled queries and suggestions need (a second or
        two), so that the first such request does not wait for them; a server calls it at start."""
        self._understander(self._data).warm()
        self.suggest("क")

    def suggest(self, text: str, limit: int = 8) -> list[str]:
        """Completions of a query being typed: its last word completed (in Devanagari, also from a
        romanized prefix), after its finished words as they would be searched."""
        if not isinstance(text, str) or len(text) > MAX_SUGGEST_CHARS:
            raise BadQuery(f"a suggestion prefix is at most {MAX_SUGGEST_CHARS} characters",
                           "send the words typed so far")
        if not 1 <= limit <= 8:
            raise BadQuery(f"limit must be from 1 to 8, not {limit!r}", "pass e.g. limit=8")
        data = self._data
        words = text.split()
        if not words or text[-1:].isspace():
            return []
        head = " ".join(words[:-1])
        if head:
            head = self._understander(data).read(head).text
        from .suggest import Suggester

        suggester = data.once("suggester", lambda: Suggester(
            data.index_words(), (d.get("title", "") for d in data.documents.values())))
        return suggester.suggest(words[-1], head, limit)

    def _understander(self, data: LoadedGeneration) -> Understander:
        """The query reader over ``data``'s words."""
        return data.once("understander", lambda: _make_understander(data, self.expander))


def _open_expander(gen: Path, embedder, settings: Settings):
    if not settings.expansion:
        return None
    from .expansion import Expander

    return Expander.open(gen, embedder, settings)


def _marked(reading: Reading, lexical: LexicalResult) -> set[str]:
    """The terms a snippet marks: the query's and its expansion's."""
    return set(reading.parsed.terms) | {term for term, _w in lexical.expansion.terms}


def _response(request: Request, reading: Reading, lexical: LexicalResult, matches: ranking.Matches,
              ranked: int, hits, counted: ranking.Facets | None, timings: dict) -> SearchResponse:
    understood, parsed, expansion = reading.understood, reading.parsed, lexical.expansion
    filters, syntax = request.filters, request.syntax
    return SearchResponse(request.query.text, request.mode, understood.language, parsed.script, parsed.terms,
                          expansion.terms, request.k, request.page, matches.total, tuple(hits), timings,
                          expansion.surfaces, searched_as=reading.searched, language_label=understood.label,
                          corrected=understood.corrected, did_you_mean=_did_you_mean(reading, matches),
                          readings=tuple(r.to_dict() for r in understood.words), total_exact=matches.exact,
                          ranked=ranked, sort=request.sort,
                          filters={"from": filters.date_from, "to": filters.date_to, "source": list(filters.sources)},
                          operators={"phrases": list(syntax.phrases), "excluded": list(syntax.excluded)},
                          facets=counted.to_dict() if counted is not None else None,
                          empty_reason="" if matches.total else (matches.reason or "nothing matched"))


def _did_you_mean(reading: Reading, matches: ranking.Matches) -> str:
    """With ``exact``, the query corrected; when the query's guesses were refused (:mod:`search.honest`)
    and no "showing results for" names them, how it was read ("yuiop": यूरोप)."""
    understood = reading.understood
    if understood.suggestion or not matches.guessed or understood.corrected:
        return understood.suggestion
    return reading.searched if reading.searched != understood.original else ""


def _make_understander(data: LoadedGeneration, expander) -> Understander:
    """An :class:`Understander` over the generation's Devanagari words, checking terms against its BM25
    index."""
    def headword(word: str) -> bool:  # the dictionary is opened by the first English word that asks
        dictionary = expander.dictionary
        return dictionary is not None and word in dictionary

    headword = headword if expander is not None else None
    return Understander(data.index_words(), data.indexed, english_headwords=headword)


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)
