"""Honest matching in the service: :mod:`search.matching`'s rule fed from one request's retrievers, over
every document of the scope (not only the candidates), so that ``total`` counts every match.

The lexical evidence is read from BM25's postings of the query's terms (each term's documents, in numpy);
the dense evidence from every passage's cosine on exact search (or the graph's candidates), less the
passage's hub; the calibration (floors and hub) is the index's own, written at build time, or measured
once when the generation is opened (an index built before it)."""

from __future__ import annotations

import logging

import numpy as np

from . import matching
from .analysis import analyze
from .dense import DenseResult
from .expansion import content_words
from .generation import LoadedGeneration
from .matching import Calibration, MatchConfig, QueryWord

logger = logging.getLogger(__name__)

#: Query terms whose documents are remembered per generation (then forgotten all at once).
TERMS_KEPT = 4096


def _passages_by_doc(data: LoadedGeneration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Passage rows ordered by document, where each document's run starts, and its document."""
    order = np.argsort(data.passage_doc, kind="stable")
    owners, starts = np.unique(data.passage_doc[order], return_index=True)
    return order, starts, owners


def model_name(manifest: dict) -> str:
    model = manifest["model"]
    return f"{model['id']}@{model['fingerprint']}"


def write_calibration(gen, vectors: np.ndarray, embedder) -> dict:
    """Measure the index's matching floors and passage hubs at build time: the hub beside the vectors
    (:data:`search.matching.HUB_FILE`), the calibration returned for the manifest (``"matching"``)."""
    described = embedder.describe()
    calibration, hub, probes = matching.calibrate(np.asarray(vectors, np.float32), embedder.encode_queries,
                                                  f"{described['id']}@{described['fingerprint']}")
    np.save(gen / matching.HUB_FILE, hub)
    np.save(gen / matching.PROBES_FILE, probes)
    return calibration.to_dict()


class Evidence:
    """A generation's calibration and hub, and the rule over one request's retrievers."""

    def __init__(self, calibration: Calibration, hub: np.ndarray, config: MatchConfig | None = None,
                 probes: np.ndarray | None = None):
        self.calibration = calibration
        self.hub = hub
        self.config = config or MatchConfig()
        self.probes: dict[str, np.ndarray] = {}  # script -> its probes' vectors (calibrate's order)
        start = 0
        for script in matching.SCRIPTS:
            if probes is not None and script in calibration.near:
                count = len(calibration.near[script])
                self.probes[script] = np.asarray(probes[start:start + count], np.float32)
                start += count
        # what each request compares with, worked out once per generation
        self._script_floors = {s: self._measure_floors(s) for s in calibration.floors}

    @classmethod
    def for_generation(cls, data: LoadedGeneration, encode_queries, config: MatchConfig | None = None
                       ) -> "Evidence":
        """The index's stored calibration when it fits, else one measured now (about 2 s)."""
        model, passages = model_name(data.manifest), len(data.passages)
        stored = data.manifest.get("matching")
        if stored:
            try:
                calibration = Calibration.from_dict(stored)
                hub = np.load(data.gen / matching.HUB_FILE, mmap_mode="r")
                probes = np.load(data.gen / matching.PROBES_FILE)
                if (calibration.fits(model, passages) and hub.shape == (passages, len(matching.SCRIPTS))
                        and len(probes) == sum(len(v) for v in calibration.near.values())):
                    return cls(calibration, hub, config, probes)
            except (OSError, ValueError, KeyError, TypeError):
                pass
        logger.info("measuring the matching floors of %s (built before they were stored)", data.gen.name)
        calibration, hub, probes = matching.calibrate(np.asarray(data.vectors, np.float32), encode_queries, model,
                                                      config=config)
        return cls(calibration, hub, config, probes)

    # ------------------------------------------------------------------ per request
    def words(self, data: LoadedGeneration, reading, typed_text: str, by_word, share: float) -> tuple[QueryWord, ...]:
        english = set(content_words(reading.searched)) | set(content_words(typed_text))
        return matching.query_words(reading.understood.words, by_word, analyze, data.indexed, english, share)

    def lexical(self, data: LoadedGeneration, words) -> tuple[np.ndarray, np.ndarray, bool]:
        """Per document: query words it holds a telling term of, and its idf-weighted coverage; and
        whether any word's term is in the index at all."""
        bm25, cfg = data.bm25, self.config
        n_passages = max(bm25.size, 1)
        common = cfg.max_term_share * n_passages if n_passages >= cfg.min_passages_for_share else np.inf
        n_docs = len(data.doc_ids)
        matched = np.zeros(n_docs, np.int32)
        covered = np.zeros(n_docs, np.float64)
        weights, any_known = [], False
        for word in words:
            best = np.zeros(n_docs, np.float64)
            top = max((wt for _t, wt in word.terms), default=0.0)
            idfs = [0.0]
            for term, weight in word.terms:
                docs, df = self._term_docs(data, term)
                any_known = any_known or df > 0
                if weight >= top:
                    idfs.append(matching.idf(df, n_passages))
                if weight >= cfg.min_term_weight and len(term) >= cfg.min_term_chars and 0 < df <= common:
                    best[docs] = np.maximum(best[docs], weight)
            weight_w = max(idfs) if len(idfs) > 1 else matching.idf(0, n_passages)
            weights.append(weight_w)
            matched += best > 0
            covered += weight_w * best
        return matched, covered / (sum(weights) or 1.0), any_known

    @staticmethod
    def _term_docs(data: LoadedGeneration, term: str) -> tuple[np.ndarray, int]:
        """The documents holding ``term`` (any field) and the passages that hold it (its df); remembered
        per generation (the postings are scattered into masks, not sorted)."""
        cache = data.once("term_docs", dict)
        found = cache.get(term)
        if found is not None:
            return found
        bm25 = data.bm25
        held = np.zeros(bm25.size, dtype=bool)
        for f in bm25.fields:
            held[bm25.postings(f, term)[0]] = True
        rows = data.bm25_rows[held & bm25.live]
        rows = rows[rows >= 0]
        docs = np.zeros(len(data.doc_ids), dtype=bool)
        docs[data.passage_doc[rows]] = True
        found = (np.flatnonzero(docs), len(rows))
        if len(cache) >= TERMS_KEPT:
            cache.clear()
        cache[term] = found
        return found

    def excess(self, data: LoadedGeneration, dense: DenseResult, text: str) -> tuple[np.ndarray, bool]:
        """Each document's best ``cosine - hub`` (-inf: not seen), and whether every passage was seen."""
        col = matching.SCRIPTS.index(matching.script_of(text))
        best = np.full(len(data.doc_ids), -np.inf)
        if dense.passage_sims is not None:
            values = dense.passage_sims - np.asarray(self.hub[:, col], np.float32)
            order, starts, owners = data.once("passages_by_doc", lambda: _passages_by_doc(data))
            best[owners] = np.maximum.reduceat(values[order], starts)
            return best, True
        for doc_id, row in dense.best.items():  # through the graph: its candidates' best passages
            i = data.doc_index()[doc_id]
            best[i] = max(best[i], dense.scores[doc_id] - float(self.hub[row, col]))
        return best, not dense.scores

    def _floors(self, script: str) -> tuple[float, float, float, float] | None:
        return self._script_floors.get(script)

    def _measure_floors(self, script: str) -> tuple[float, float, float, float]:
        """(strong, weak, alone, far alone) floors of ``script``: the calibration's two, and the quantiles
        ``dense_alone_quantile`` and ``far_alone_quantile`` of its probes' best excess."""
        floors = self.calibration.floors[script]
        values = self.calibration.excess.get(script) or (floors[0],)
        return (floors[0], floors[1], float(np.quantile(values, self.config.dense_alone_quantile)),
                float(np.quantile(values, self.config.far_alone_quantile)))

    def everyday(self, dense: DenseResult | None, text: str) -> bool:
        """Whether the query (as embedded: ``text``) is as near the everyday probes as they are to each
        other (:func:`search.matching.is_everyday`)."""
        script = matching.script_of(text)
        if dense is None or dense.query_vector is None or script not in self.probes:
            return False
        return matching.is_everyday(dense.query_vector, self.probes[script], self.calibration.near[script],
                                    self.config.near_quantile.get(script, 1.0))

    def decide(self, lexical, excess, floors, n_words: int, everyday: bool = False,
               n_known: int | None = None) -> tuple[np.ndarray, str]:
        """:func:`search.matching.decide` over arrays, with the everyday-query rule of
        :mod:`search.matching`: the documents that match, and why (a reason for an empty result).
        ``n_known``: the query words that have any index term at all (default: all of them)."""
        matched, coverage, any_known = lexical
        if not any_known:
            return np.zeros(len(matched), dtype=bool), "no word of the query is in the index"
        cfg = self.config
        need = max(1, min(cfg.min_words, n_words))
        strong = (matched >= need) | ((matched > 0) & (coverage >= cfg.strong_coverage))
        weak = matched > 0
        if floors is not None and excess is not None:
            # dense evidence is strong beside a telling word of the query, or alone when it clears the
            # probes' high quantile (a lower one for a query unlike them): nonsense and everyday queries
            # reach the median floor by the model's closeness alone (bench/results/matching.md)
            strong |= (excess >= floors[0]) & (matched > 0)
            strong |= excess >= (floors[2] if everyday else floors[3])
            weak |= excess >= floors[1]
        if floors is None:  # words only (no dense evidence to weigh): every telling match is a result
            return weak, "matched" if weak.any() else "no document holds a telling word of the query"
        if not strong.any():
            return np.zeros(len(matched), dtype=bool), "no document has strong lexical or dense evidence"
        if everyday and not self._agrees(matched, coverage, excess, floors,
                                         max(1, min(cfg.min_words, n_words if n_known is None else n_known))):
            return (np.zeros(len(matched), dtype=bool),
                    "an everyday query, and no document both holds its words and is near it")
        return strong | weak, "matched"

    def _agrees(self, matched, coverage, excess, floors, need: int) -> bool:
        """An everyday query's evidence: one document with telling words of ``need`` of its words (or
        their idf share) and a dense excess over the dense-alone floor, or one that holds nearly all of
        the query (its title, say: ``everyday_coverage``)."""
        cfg = self.config
        telling = (matched >= need) | ((matched > 0) & (coverage >= cfg.strong_coverage))
        return bool((telling & (excess >= floors[2])).any()
                    or ((matched >= need) & (coverage >= cfg.everyday_coverage)).any())

    def _vouched(self, matched: np.ndarray, words) -> bool:
        """Whether one document holds telling terms of ``min_words`` (2) of the query's words (``matched``:
        per document, as :meth:`lexical` counts them; guesses at made-up words rarely meet in one
        document), or, for a query of one word with index terms, whether it is no guess
        (:func:`search.matching.mostly_guessed`)."""
        if len(words) == 1:
            return words[0].typed != "guess"
        return bool((matched >= self.config.min_words).any())

    def match(self, data: LoadedGeneration, words, dense: DenseResult | None, dense_text: str,
              scope: np.ndarray | None, *, typed: tuple[str, ...]) -> tuple[np.ndarray, bool, str, bool]:
        """(documents that match, counted exactly, reason, whether the query's guesses were refused) for
        one request. The lexical evidence is read in every mode (a mode chooses how results are ranked,
        not what matches): a dense-only search keeps the dense candidates that have a telling word of
        the query beside their similarity. ``typed``: how each word of the query stood as typed (a query
        of guesses must be vouched for: :func:`search.matching.mostly_guessed`)."""
        # the evidence over every document: whether the query has strong evidence at all is the same with
        # or without filters; the scope then keeps its own matches
        lexical = self.lexical(data, words)
        excess, exact = (None, True) if dense is None else self.excess(data, dense, dense_text)
        floors = self._floors(matching.script_of(dense_text)) if dense is not None else None
        docs, reason = self.decide(lexical, excess, floors, len(words), self.everyday(dense, dense_text),
                                   sum(1 for w in words if w.terms))
        vouching = matching.mostly_guessed(words, typed)
        guessed = vouching is not None and bool(docs.any()) and not self._vouched(lexical[0], vouching)
        if guessed:  # refused on the query's own words: a count of nothing that is exact
            docs, exact = np.zeros(len(docs), dtype=bool), True
            reason = ("its words are mostly guesses at other words, and no document holds two of them"
                      if len(vouching) > 1 else "its word is only a guess at another word")
        if scope is not None:
            docs &= scope
            if reason == "matched" and not docs.any():
                reason = "what matches lies outside the filters and operators"
        return docs, exact, reason, guessed

