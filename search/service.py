"""The one way in: ``SearchService.open(index_dir).search(query, k, mode, page) -> SearchResponse``."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import ann, fusion, storage
from .analysis import ANALYZER_VERSION, analyze
from .bm25 import WhooshBM25
from .errors import BadQuery, DocumentNotFound
from .query import ParsedQuery, parse_query
from .settings import Settings
from .snippets import make_snippet
from .understanding import Understander
from .expansion import content_words

MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("convex", "rrf")
FUSION_WINDOW = 100  # documents ranked per query; pages are cut from this fixed window
PASSAGE_FETCH = 300  # passages each retriever over-fetches before grouping to documents
MAX_K = 100


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
    #: With ``exact``: the corrected query, when it differs ("did you mean ...").
    did_you_mean: str = ""
    #: Each word as typed, how it was read (english | hindi | romanized | corrected | other) and as what.
    readings: tuple[dict, ...] = ()

    def shown_expansion(self) -> list[str]:
        return list(self.expansion_surface) or [t for t, _w in self.expansion]

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("expansion_surface")
        out["terms"] = list(self.terms)
        out["readings"] = list(self.readings)
        out["expansion"] = [{"term": t, "surface": shown, "weight": round(w, 4)}
                            for (t, w), shown in zip(self.expansion, self.shown_expansion())]
        return out


class _Loaded:
    """Everything read from one index generation (checked by ``storage.open_generation``)."""

    def __init__(self, opened: storage.Generation, use_graph: bool = True):
        gen = opened.path
        self.gen = gen
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
        self.graph = ann.Graph.open(gen, self.manifest, len(self.passages)) if use_graph else None
        self.ix = opened.bm25
        self.bm25 = WhooshBM25(self.ix, storage.BM25_FIELDS)
        # Whoosh document number -> passage row (-1: deleted), read once: a generation never changes.
        self.bm25_rows = np.full(self.bm25.size, -1, dtype=np.int64)
        try:
            stored = list(self.bm25.searcher().reader().iter_docs())
        except Exception as err:  # noqa: BLE001 - Whoosh raises anything on a damaged stored-fields file
            raise storage.damaged(gen, f"{storage.BM25}/ cannot be read ({type(err).__name__})") from None
        for docnum, fields in stored:
            row = self.passage_row.get(fields.get("passage_id"))
            if row is None:
                raise storage.damaged(gen, f"{storage.BM25}/ holds a passage that is not in {storage.PASSAGES}")
            self.bm25_rows[docnum] = row


#: Query vectors remembered (a page of results re-asked, a popular query): 1.5 KB each.
QUERY_VECTORS_KEPT = 2048
#: From this many passages the dense product is computed in two halves on two threads.
SPLIT_DENSE_ROWS = 16384


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
                 opened: storage.Generation | None = None):
        _single_threaded_blas()
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.embedder = embedder
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sangam-embed")
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # recent queries, newest last
        self._query_vectors_lock = threading.Lock()
        self._data = self._load(opened or storage.open_generation(self.index_dir))
        self.expander = expander

    @classmethod
    def open(cls, index_dir: str | Path | None = None, settings: Settings | None = None, *,
             embedder=None, log=lambda _m: None) -> "SearchService":
        settings = settings or Settings.from_env()
        index_dir = Path(index_dir or settings.index_dir)
        opened = storage.open_generation(index_dir)  # every part checked, before loading the model
        gen = opened.path
        storage.check_manifest(opened.manifest, index_dir, analyzer_version=ANALYZER_VERSION)
        if embedder is None:
            from .embedding import Embedder

            embedder = Embedder.load_for_queries(settings, log=log)
        expander = None
        if settings.expansion:
            from .expansion import Expander

            expander = Expander.open(gen, embedder, settings)
        return cls(index_dir, embedder, settings, expander, opened=opened)

    def _load(self, opened: storage.Generation) -> _Loaded:
        data = _Loaded(opened, use_graph=self.settings.ann)
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
                gen = opened.path
                self._data = self._load(opened)
                if self.expander is not None:
                    from .expansion import Expander

                    self.expander = Expander.open(gen, self.embedder, self.settings)
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
               fusion_method: str = "convex", exact: bool = False) -> SearchResponse:
        """Rank documents for ``query``. Words are read as people type them (romanized Hindi in
        Devanagari, misspellings corrected: :mod:`search.understanding`); ``exact`` corrects nothing."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if mode not in MODES:
            raise BadQuery(f"unknown mode {mode!r}", f"use one of: {', '.join(MODES)}")
        if fusion_method not in FUSIONS:
            raise BadQuery(f"unknown fusion {fusion_method!r}", f"use one of: {', '.join(FUSIONS)}")
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise BadQuery(f"k must be a whole number from 1 to {MAX_K}, not {k!r}", "pass e.g. k=10")
        if not isinstance(page, int) or page < 1:
            raise BadQuery(f"page must be a whole number from 1, not {page!r}", "pass e.g. page=1")
        typed = parse_query(query)
        data = self._data
        reader = self._understander(data)
        understood = reader.read(typed.text, exact=exact)
        # An English query stays English for expansion and fusion (a name read in Devanagari only adds
        # its BM25 term); a romanized or corrected Hindi one is searched as the Hindi it means.
        searched = understood.dense_text if understood.language == "en" else understood.text
        parsed = typed if searched == typed.text else parse_query(searched)
        readings = understood.weighted_readings(reader.config.alternative_share)
        timings["analyze"] = _ms(t0)
        # English words left in a romanized query ("korea") are expanded too
        expanding = self.expander is not None and mode != "dense" and (
            parsed.script in ("latin", "mixed") or bool(understood.romanized and content_words(parsed.text)))
        # English words the expander has not embedded yet ride along in the query's own model pass.
        unseen = self.expander.unseen(parsed) if expanding and mode == "hybrid" else []
        # The query embedding (ONNX Runtime or torch, which release the GIL) runs while BM25 does.
        query_vector = self._pool.submit(self._embed_query, understood.dense_text or parsed.text, unseen) \
            if mode != "bm25" else None

        expansion: tuple[tuple[str, float], ...] = ()
        strength = 0.0  # share of the query's words the expansion found Hindi terms for
        partial = None  # BM25 of the query before its unseen words' neighbours are known
        given = None  # the unseen words' vectors, made in the query's own model pass
        if expanding and unseen:
            # While the unseen words are embedded: their dictionary translations, the other words'
            # expansions and BM25 over all of those. Their neighbours are added to the scores after.
            t = time.perf_counter()
            self.expander.prepare(parsed)
            first_terms = tuple(self.expander.expand(parsed, pending=unseen))
            weighted, _known = self._bm25_terms(data, parsed, first_terms, readings)
            partial = (weighted, data.bm25.scores(weighted))
            timings["bm25"] = _ms(t)
            given = dict(zip(unseen, query_vector.result()[2]))
        if expanding:
            t = time.perf_counter()
            expansion = tuple(self.expander.expand(parsed, given))
            strength = self.expander.strength(parsed) if expansion else 0.0
            timings["expand"] = _ms(t)

        lexical: dict[str, float] = {}
        lex_best: dict[str, int] = {}
        known = 0.0
        if mode in ("hybrid", "bm25"):
            t = time.perf_counter()
            lexical, lex_best, known = self._bm25(data, parsed, expansion, partial, readings)
            timings["bm25"] = timings.get("bm25", 0.0) + _ms(t)
        mark_terms = set(parsed.terms) | {term for term, _w in expansion}
        first = (page - 1) * k
        w_lex = {"bm25": 1.0, "dense": 0.0}.get(mode, fusion.lexical_weight(known, parsed.script, strength))
        # While the query is still being embedded, make the snippets of BM25's best documents: most of
        # them are on the page, showing their best lexical passage when BM25 leads (w_lex >= 0.5).
        early: dict[int, str] = {}
        lex_ranked = fusion.ranked(lexical)
        if query_vector is not None and lexical and w_lex >= 0.5:
            for doc_id, _s in lex_ranked[first:first + k]:
                if query_vector.done():
                    break
                row = lex_best[doc_id]
                early[row] = make_snippet(data.passages[row]["text"], mark_terms)
        dense: dict[str, float] = {}
        dense_best: dict[str, int] = {}
        if mode in ("hybrid", "dense"):
            qvec, timings["embed"], _words = query_vector.result()
            t = time.perf_counter()
            dense, dense_best = self._dense(data, qvec)
            timings["dense"] = _ms(t)

        t = time.perf_counter()
        if mode == "bm25":
            fused = fusion.ranked(lexical)
        elif mode == "dense":
            fused = fusion.ranked(dense)
        elif fusion_method == "rrf":
            fused = fusion.rrf(lexical, dense, lexical_weight=max(w_lex, 1e-9) if lexical else 0.0)
        else:
            fused = fusion.convex(lexical, dense, w_lex)
        fused = fused[:FUSION_WINDOW]
        timings["fuse"] = _ms(t)

        t = time.perf_counter()
        lex_rank = {d: i for i, (d, _s) in enumerate(lex_ranked, start=1)}
        dense_rank = {d: i for i, (d, _s) in enumerate(fusion.ranked(dense), start=1)}
        hits = []
        for rank, (doc_id, score) in enumerate(fused[first:first + k], start=first + 1):
            row = lex_best.get(doc_id) if (w_lex >= 0.5 or doc_id not in dense_best) else dense_best[doc_id]
            if row is None:
                row = dense_best[doc_id]
            passage = data.passages[row]
            doc = data.documents[doc_id]
            hits.append(Hit(
                rank=rank, doc_id=doc_id, title=doc.get("title", ""), date=doc.get("date", ""),
                source=doc.get("source", ""), url=doc.get("url", ""), score=round(float(score), 6),
                passage_id=passage["passage_id"],
                snippet=early.get(row) or make_snippet(passage["text"], mark_terms),
                explanation=Explanation(
                    bm25_rank=lex_rank.get(doc_id), bm25_score=_round(lexical.get(doc_id)),
                    dense_rank=dense_rank.get(doc_id), dense_score=_round(dense.get(doc_id)),
                    lexical_weight=round(w_lex, 4), fusion=fusion_method if mode == "hybrid" else mode)))
        timings["snippets"] = _ms(t)
        timings["total"] = _ms(t0)
        surfaces = tuple(self.expander.surface(t) for t, _w in expansion) if expansion else ()
        return SearchResponse(typed.text, mode, understood.language,
                              parsed.script, parsed.terms, expansion, k, page, len(fused), tuple(hits),
                              timings, surfaces, searched_as=searched, language_label=understood.label,
                              corrected=understood.corrected, did_you_mean=understood.suggestion,
                              readings=tuple(r.to_dict() for r in understood.words))

    def warm(self) -> None:
        """Build the word lists that romanized and misspelled queries and suggestions need (a second or
        two), so that the first such request does not wait for them; a server calls it at start."""
        data = self._data
        self._understander(data).warm()
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
            reader = self._understander(data)
            head = reader.read(head).text
        from .suggest import Suggester

        suggester = self._per_generation(data, "suggester", lambda: Suggester(
            _index_words(data), (d.get("title", "") for d in data.documents.values())))
        return suggester.suggest(words[-1], head, limit)

    def _understander(self, data: _Loaded) -> Understander:
        """The query reader over ``data``'s words."""
        return self._per_generation(data, "understander", lambda: _make_understander(data, self.expander))

    def _per_generation(self, data: _Loaded, name: str, make):
        """``data``'s ``name`` (a query reader, a suggester), made by ``make()`` on first use, once."""
        found = getattr(data, name, None)
        if found is None:
            with self._lock:
                found = getattr(data, name, None)
                if found is None:
                    found = make()
                    setattr(data, name, found)
        return found

    def _embed_query(self, text: str, words: list[str]) -> tuple[np.ndarray, float, np.ndarray | None]:
        """The query's vector (remembered for the next page or the next asker), the time it took, and
        vectors of the expansion ``words`` when asked for."""
        t = time.perf_counter()
        with self._query_vectors_lock:
            qvec = self._query_vectors.get(text)
            if qvec is not None:
                self._query_vectors.move_to_end(text)
        word_vectors = None
        if words:
            qvec, word_vectors = self.embedder.encode_query_with_words(text, words)
        elif qvec is None:
            qvec = self.embedder.encode_queries([text])[0]
        with self._query_vectors_lock:
            self._query_vectors[text] = qvec
            while len(self._query_vectors) > QUERY_VECTORS_KEPT:
                self._query_vectors.popitem(last=False)
        return qvec, _ms(t), word_vectors

    def _bm25(self, data: _Loaded, parsed: ParsedQuery, expansion, partial=None,
              readings=()) -> tuple[dict, dict, float]:
        """Documents' BM25 scores (their best passage's), best passages, and the share of the query's
        terms the index knows. ``partial``: (weighted terms, score array) of a first expansion that
        ``expansion`` only adds terms or weight to; only the difference is scored."""
        weighted, known_fraction = self._bm25_terms(data, parsed, expansion, readings)
        bm25 = data.bm25
        if partial is not None:
            first = dict(partial[0])
            final = dict(weighted)
            delta = [(t, w - first.get(t, 0.0)) for t, w in final.items() if w != first.get(t, 0.0)]
            delta += [(t, -w) for t, w in first.items() if t not in final]
            if all(w > 0 for _t, w in delta):  # else (a term fell off the list): score afresh
                scores = partial[1]
                if delta:
                    scores = bm25.scores(delta, into=None if scores is None else scores.copy())
                return (*self._bm25_documents(data, *bm25.top(scores, PASSAGE_FETCH)), known_fraction)
        if not weighted:
            return {}, {}, known_fraction
        return (*self._bm25_documents(data, *bm25.search(weighted, PASSAGE_FETCH)), known_fraction)

    @staticmethod
    def _bm25_terms(data: _Loaded, parsed: ParsedQuery, expansion,
                    readings=()) -> tuple[list[tuple[str, float]], float]:
        """(term, boost) to search: the query's terms the index knows (a term read from a romanized or
        misspelled word weighs its reading's confidence; weaker readings follow), then new expansion
        terms."""
        bm25 = data.bm25
        terms = list(parsed.terms)
        known = [t for t in terms if any(bm25.doc_frequency(f, t) for f in bm25.fields)]
        known_fraction = len(known) / len(terms) if terms else 0.0
        boost: dict[str, float] = {}
        for text, weight in readings:
            for term in analyze(text):
                boost[term] = max(boost.get(term, 0.0), weight)
        weighted = [(t, boost.get(t, 1.0)) for t in known]
        seen = set(known)
        for term, weight in boost.items():
            if term not in seen and any(bm25.doc_frequency(f, term) for f in bm25.fields):
                seen.add(term)
                weighted.append((term, weight))
        for term, weight in expansion:
            if term not in seen:
                seen.add(term)
                weighted.append((term, weight))
        return weighted, known_fraction

    @staticmethod
    def _bm25_documents(data: _Loaded, docnums: np.ndarray, doc_scores: np.ndarray) -> tuple[dict, dict]:
        """Each document's best passage among BM25's (best first) and its score."""
        scores: dict[str, float] = {}
        best: dict[str, int] = {}
        for row, score in zip(data.bm25_rows[docnums].tolist(), doc_scores.tolist()):
            doc_id = data.doc_ids[data.passage_doc[row]]
            if doc_id not in scores:  # results come best first: the first passage wins
                scores[doc_id] = float(score)
                best[doc_id] = row
        return scores, best

    def _dense(self, data: _Loaded, qvec: np.ndarray) -> tuple[dict, dict]:
        vectors = data.vectors
        if len(vectors) == 0:
            return {}, {}
        qvec = qvec.astype(np.float32)
        if data.graph is not None:
            rows, row_sims = data.graph.search(qvec, PASSAGE_FETCH)
            return self._best_passages(data, rows, row_sims)
        if len(vectors) >= SPLIT_DENSE_ROWS:  # two halves on two cores (numpy lets go of the GIL)
            half = len(vectors) // 2
            other = self._pool.submit(np.dot, vectors[half:], qvec)
            sims = np.concatenate([vectors[:half] @ qvec, other.result()])
        else:
            sims = vectors @ qvec
        n = min(PASSAGE_FETCH, len(sims))
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        return self._best_passages(data, top, sims[top])

    @staticmethod
    def _best_passages(data: _Loaded, rows: np.ndarray, sims: np.ndarray) -> tuple[dict, dict]:
        """Each document's best passage among ``rows`` (ties: the lower row) and its cosine."""
        order = np.lexsort((rows, -sims))
        scores: dict[str, float] = {}
        best: dict[str, int] = {}
        for row, sim in zip(rows[order].tolist(), sims[order].tolist()):
            doc_id = data.doc_ids[data.passage_doc[row]]
            if doc_id not in scores:
                scores[doc_id] = float(sim)
                best[doc_id] = int(row)
        return scores, best


MAX_SUGGEST_CHARS = 200


def _index_words(data: _Loaded) -> list[tuple[str, int]]:
    """The generation's Devanagari words: its expansion vocabulary (each term's most frequent written
    form and how many passages hold it); empty for an index built without expansion."""
    words = getattr(data, "index_words", None)
    if words is None:
        try:
            words = [(r["surface"], int(r.get("df") or 1)) for r in storage.read_jsonl(data.gen / storage.VOCAB)]
        except (OSError, ValueError, KeyError, TypeError):
            words = []  # built without expansion: the Hindi lexicon alone proposes readings
        data.index_words = words
    return words


def _make_understander(data: _Loaded, expander) -> Understander:
    """An :class:`Understander` over the generation's Devanagari words, checking terms against its BM25
    index."""
    words = _index_words(data)
    bm25 = data.bm25

    def indexed(term: str) -> bool:
        return any(bm25.doc_frequency(f, term) for f in bm25.fields)

    dictionary = getattr(expander, "dictionary", None)
    headword = (lambda w: w in dictionary) if dictionary is not None else None
    return Understander(words, indexed, english_headwords=headword)


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
