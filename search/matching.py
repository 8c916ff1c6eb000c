"""Honest matching: which of a query's candidate documents are results at all.

Dense retrieval always returns neighbours, so without a rule every query, "xyzzy qwertyuiop" included,
"finds" the whole index. Here a document is a result only when it has lexical support or its dense
similarity clears a floor calibrated on the index itself, and only for a query that has some strong
evidence somewhere (else the query matches nothing: the empty state).

**Dense evidence, hub-corrected.** multilingual-e5-small puts every query at cosine 0.76-0.83 from its
best passage, on topic or not, so raw cosines cannot be thresholded. Some passages are near every query
("hubs"); a passage's cosine is therefore measured against how near it is to queries about nothing in
particular: at build time a fixed list of everyday probe queries (:data:`PROBES`, one list per script,
since English queries over a Hindi index score lower across the board) is embedded and each passage's
mean cosine to them is stored (the *hub*). A query's *excess* at a passage is ``cosine - hub``. This is
the hubness correction of CSLS (Conneau, Lample, Ranzato, Denoyer & Jégou, "Word Translation Without
Parallel Data", ICLR 2018), with probe queries as the reference set. The floors are quantiles of the
probes' own best excess, each probe left out of the hub it is measured against, so they follow the
model and the index and are recorded with it (:class:`Calibration`).

**Lexical evidence, per query word.** A BM25 hit on one common word, or on one weak sound-alike
expansion, is not evidence that a document is about the query. Each query word (its Devanagari reading,
its alternatives, its English expansions) counts for a document when the document holds one of its
*telling* terms: weight at least ``min_term_weight``, at least two characters, in at most
``max_term_share`` of the passages (of an index of ``min_passages_for_share`` passages or more).

**The rule** (:func:`decide`):

1. a query none of whose words has a term that some passage holds matches nothing (keyboard mash
   in any script, punctuation);
2. *strong* documents: a telling match on ``min(min_words, words)`` query words, or an idf-weighted
   coverage of the query of at least ``strong_coverage``, or a dense excess over the strong floor;
   a query with no strong document matches nothing;
3. otherwise the results are the strong documents and every document with a telling match on one
   word or a dense excess over the weak floor.

**Everyday queries need agreement.** The probes also say what an everyday query looks like to the
model: a query as near to one of them as the probes are to each other (its best cosine at or above a
low quantile of each probe's best cosine to the other probes, :class:`Calibration`'s ``near``) is about
cooking, weather, shopping or the like. Such a query has strong evidence only where one document holds
both: telling words of two of its words (of those the index has any term for: a mixed "पुतिन की visit"
needs one) and a dense excess over the dense-alone floor; or where one document holds nearly all of it
(``everyday_coverage``: an article's title typed as the query). Any other query may be
strong on dense evidence alone at a lower quantile (``far_alone_quantile``), so a question whose words
the index does not hold ("What is septicemia?") can still find its answer. Measured in
``bench/results/matching.md``.

**A query of guesses needs two of its words together.** The query reader corrects made-up words as
readily as typos ("zorp glibber fnord" reads as "corp glider ford", "lorem ipsum dolor" as "lorem
ipsum door", the keyboard row "yuiop" as यूरोप), and the model finds such readings and nonsense itself
near some passage. Guesses at made-up words have nothing to do with each other, so a query more of
whose words are guesses than words (:func:`mostly_guessed`; a one-edit correction of a long word is a
word: :class:`search.understanding.UnderstandingConfig`) matches only where one document holds
telling terms of two of its words; a query whose one word with index terms is a guess matches nothing.

Everything here is pure: plain inputs in, a :class:`Match` out; :func:`calibrate` needs only the
passage vectors and a query encoder.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Collection, Iterable, Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

#: Bump when the probes or the way floors are measured change: a stored calibration of another
#: version is measured again.
CALIBRATION_VERSION = 2
#: The hub (passages x scripts, float32) beside the vectors in an index generation.
HUB_FILE = "matching_hub.npy"
#: The probes' query vectors (the Latin ones, then the Devanagari ones; float32) beside the hub.
PROBES_FILE = "matching_probes.npy"
SCRIPTS = ("latin", "devanagari")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")

#: Everyday queries about nothing a news index is likely to be about, per script of the text the model
#: embeds (romanized Hindi is embedded as the Devanagari it is read as). Kept apart from the off-topic
#: evaluation sets of ``bench/offtopic_queries.py``.
PROBES: dict[str, tuple[str, ...]] = {
    "latin": (
        "how to fold a paper airplane", "best shampoo for dry hair", "funny cat videos",
        "how to cook rice in a pressure cooker", "cheap hotels near the beach", "how to fix a leaking tap",
        "birthday gift ideas for my sister", "is it going to rain this weekend",
        "how many calories in a banana", "wedding dress shopping", "video game cheat codes",
        "how to grow roses in pots", "easy card tricks for kids", "which sofa fabric is easiest to clean",
        "how long to boil an egg", "best running shoes for flat feet", "how to unclog a kitchen sink",
        "homemade face mask for glowing skin", "what to pack for a picnic", "how to stop a dog barking",
        "cute names for a goldfish", "how to iron a shirt quickly", "songs to sing at a karaoke night",
        "how to make cold coffee at home",
    ),
    "devanagari": (
        "पतंग उड़ाने का तरीका", "गुलाब जामुन बनाने की विधि", "बारिश में कपड़े कैसे सुखाएं", "सस्ते जूते कहां मिलेंगे",
        "चाय के साथ पकौड़े", "नए साल की पार्टी के खेल", "चेहरे पर मुंहासे का इलाज", "बिल्ली का बच्चा दूध नहीं पी रहा",
        "मोबाइल में गाने कैसे डाउनलोड करें", "दादी माँ के घरेलू नुस्खे", "गुलाब जामुन कैसे बनाये", "पतंग उड़ाने का तरीका बताओ",
        "नये साल की पार्टी", "सस्ता होटल कहाँ मिलेगा", "बच्चे को सुला दो", "घघघघ छछछ", "झटपट फटफट खटखट",
        "रसोई की चिमनी कैसे साफ करें", "कुत्ते का नाम क्या रखें", "सर्दी में गर्म पानी से नहाना", "साड़ी पहनने का आसान तरीका",
        "पुराने कपड़ों से थैला बनाना", "अंडा कितनी देर उबालें", "मेहमानों के लिए नाश्ता",
    ),
}


#: Probes that stand for keyboard mash, not for an everyday query: they count for the hub and the floors,
#: not for what "near the everyday probes" means (a garbled real question is near them).
NONSENSE_PROBES = frozenset({"घघघघ छछछ", "झटपट फटफट खटखट"})


@dataclass(frozen=True)
class MatchConfig:
    """Tunables of :func:`decide` and :func:`calibrate` (measured in ``bench/results/matching.md``)."""

    #: Quantile of the probes' best excess that makes a document strong on dense evidence alone. Higher
    #: empties more off-topic queries and cuts more real answers (``bench/results/matching.md``: 0.5
    #: keeps XQuAD dev nDCG@10 within 0.0016 (hi) / 0.0032 (en) of no rule).
    strong_quantile: float = 0.5
    #: Quantile of the same for the weak floor (a document of a query that has strong evidence).
    weak_quantile: float = 0.0
    #: Quantile of the same that makes dense evidence strong with no telling query word beside it ...
    dense_alone_quantile: float = 0.9
    #: ... for a query that is not near the everyday probes.
    far_alone_quantile: float = 0.7
    #: Per script, the quantile of the probes' best cosine to each other at or above which a query's best
    #: cosine to them makes it an everyday query (the Devanagari probes hold near-paraphrases, so their
    #: distribution sits higher: XQuAD dev, off-topic set 1 and 2 in bench/results/matching.md).
    near_quantile: Mapping[str, float] = field(default_factory=lambda: {"latin": 0.2, "devanagari": 0.15})
    #: An everyday query may also match on words alone: where one document covers this share of its idf
    #: weight (an article's own title, typed as the query).
    everyday_coverage: float = 0.85
    #: A strong lexical match holds telling terms of this many query words (or all, if fewer).
    min_words: int = 2
    #: ... or covers this share of the query's idf weight.
    strong_coverage: float = 0.6
    min_term_weight: float = 0.5
    #: A term in more than this share of the passages is too common to tell documents apart (0.05 took
    #: the words of a big story for common ones: XQuAD dev English hybrid 0.9480, 0.15 0.9501, 0.3 no
    #: better and two more off-topic queries answered) ...
    max_term_share: float = 0.15
    #: ... in an index of at least this many passages: in a smaller one (five articles on one story)
    #: the words of its story are in nearly every passage and still count.
    min_passages_for_share: int = 100
    min_term_chars: int = 2
    #: Passages scored against the probes at a time when calibrating (memory, not results).
    chunk_rows: int = 65536


@dataclass(frozen=True)
class QueryWord:
    """One word of the query and the index terms that stand for it, each with its weight in (0, 1]."""

    word: str
    terms: tuple[tuple[str, float], ...] = ()
    #: how it stood as typed (:attr:`search.understanding.Reading.typed`): word, sure, guess, unknown, other
    typed: str = "word"


@dataclass(frozen=True)
class Calibration:
    """What the floors were measured on, and the floors (per script: strong, weak); kept in the manifest."""

    model: str
    passages: int
    probes: dict[str, int]
    floors: dict[str, tuple[float, float]]
    #: Each probe's best excess (left out of its own hub), sorted: the distribution the floors come from.
    excess: dict[str, tuple[float, ...]] = field(default_factory=dict)
    #: Each everyday probe's best cosine to the other everyday probes of its script, sorted (what "near
    #: the probes" means; :data:`NONSENSE_PROBES` left out).
    near: dict[str, tuple[float, ...]] = field(default_factory=dict)
    version: int = CALIBRATION_VERSION

    def to_dict(self) -> dict:
        out = asdict(self)
        out["floors"] = {s: [round(v, 6) for v in f] for s, f in self.floors.items()}
        out["excess"] = {s: [round(v, 6) for v in e] for s, e in self.excess.items()}
        out["near"] = {s: [round(v, 6) for v in e] for s, e in self.near.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "Calibration":
        return cls(model=str(data["model"]), passages=int(data["passages"]),
                   probes={s: int(n) for s, n in data["probes"].items()},
                   floors={s: (float(f[0]), float(f[1])) for s, f in data["floors"].items()},
                   excess={s: tuple(float(v) for v in e) for s, e in data.get("excess", {}).items()},
                   near={s: tuple(float(v) for v in e) for s, e in data.get("near", {}).items()},
                   version=int(data.get("version", 0)))

    def fits(self, model: str, passages: int) -> bool:
        """True when this calibration was measured for ``model`` over an index of ``passages``."""
        return self.version == CALIBRATION_VERSION and self.model == model and self.passages == passages


@dataclass(frozen=True)
class Match:
    """The documents that are results (empty: the empty state), and why."""

    docs: frozenset[str]
    strong: frozenset[str] = frozenset()
    reason: str = ""

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self.docs


def script_of(text: str) -> str:
    """The probe list a query embedded as ``text`` is measured against."""
    return "devanagari" if _DEVANAGARI.search(text or "") else "latin"


def idf(df: int, passages: int) -> float:
    """Whoosh's BM25 idf, ``log(N / (df + 1)) + 1`` (an unknown term: df 0)."""
    return math.log(max(passages, 1) / (df + 1)) + 1.0


# ---------------------------------------------------------------------------- lexical
def query_words(readings: Iterable, expansions: Mapping[str, Sequence[tuple[str, float]]],
                analyze: Callable[[str], Sequence[str]], indexed: Callable[[str], bool],
                english: Collection[str], alternative_share: float = 0.5) -> tuple[QueryWord, ...]:
    """The query's words with their index terms, from the query reader's readings (objects with
    ``word``, ``kind``, ``text``, ``confidence``, ``alternatives`` and optionally ``typed``:
    :class:`search.understanding.Reading`).

    A Latin word read as English counts when it is one of the ``english`` content words (stopwords and
    question words do not): its own analysed terms the index holds (names, "NFL"), weight 1, and its
    ``expansions`` (word -> (term, weight)). Any other word: its reading's terms at the reading's
    confidence, its alternatives' at ``alternative_share`` of it; a word that analyses to nothing
    (a stopword) does not count. Words repeated (any case) count once, as firmly as they were typed
    once ("zorp corp": corp typed as a word)."""
    out: list[QueryWord] = []
    seen: dict[str, int] = {}  # word (lower case) -> its place in out
    for r in readings:
        latin = not _DEVANAGARI.search(r.text) and bool(re.search(r"[A-Za-z]", r.text))
        terms: dict[str, float] = {}
        if r.kind in ("english", "corrected") and latin:
            word = _clean(r.text)
            if word not in english:
                continue
            terms.update((t, 1.0) for t in analyze(word) if indexed(t))
            for term, weight in expansions.get(word, ()):
                terms[term] = max(terms.get(term, 0.0), float(weight))
        else:
            word = r.text
            main = list(analyze(r.text))
            if not main:
                continue
            terms.update((t, float(r.confidence)) for t in main)
            for alt in r.alternatives:
                for t in analyze(alt):
                    terms[t] = max(terms.get(t, 0.0), float(r.confidence) * alternative_share)
        typed = getattr(r, "typed", "word")
        if word.lower() in seen:
            i = seen[word.lower()]
            if _FIRMNESS.get(typed, 0) > _FIRMNESS.get(out[i].typed, 0):
                out[i] = QueryWord(out[i].word, out[i].terms, typed)
            continue
        seen[word.lower()] = len(out)
        out.append(QueryWord(word, tuple(sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))), typed))
    return tuple(out)


#: How firmly a word stood as typed, for a word typed twice.
_FIRMNESS = {"word": 4, "sure": 3, "unknown": 2, "other": 1, "guess": 0}


def lexical_evidence(words: Sequence[QueryWord], doc_terms: Mapping[str, Collection[str]],
                     doc_frequency: Mapping[str, int], passages: int,
                     config: MatchConfig) -> dict[str, tuple[int, float]]:
    """Per document holding any telling term: (query words it matches, idf-weighted coverage)."""
    n = max(passages, 1)
    common = config.max_term_share * n if n >= config.min_passages_for_share else math.inf
    weights, telling = [], []
    for w in words:
        top = max((wt for _t, wt in w.terms), default=0.0)
        main = [idf(doc_frequency.get(t, 0), n) for t, wt in w.terms if wt >= top]
        weights.append(max(main) if main else idf(0, n))
        telling.append({t: wt for t, wt in w.terms if wt >= config.min_term_weight
                        and len(t) >= config.min_term_chars
                        and doc_frequency.get(t, 0) <= common})
    total = sum(weights) or 1.0
    out: dict[str, tuple[int, float]] = {}
    for doc_id, held in doc_terms.items():
        held = set(held)
        matched, covered = 0, 0.0
        for weight, terms in zip(weights, telling):
            best = max((wt for t, wt in terms.items() if t in held), default=0.0)
            if best > 0:
                matched += 1
                covered += weight * best
        if matched:
            out[doc_id] = (matched, covered / total)
    return out


# ------------------------------------------------------------------------------ dense
def dense_excess(row_docs: Sequence[str], sims: Sequence[float], hubs: Sequence[float]) -> dict[str, float]:
    """Each document's best excess (``cosine - hub``) over its retrieved passages: ``row_docs[i]``
    owns the passage of cosine ``sims[i]`` and hub ``hubs[i]``."""
    out: dict[str, float] = {}
    for doc_id, sim, hub in zip(row_docs, np.asarray(sims, np.float64).tolist(),
                                np.asarray(hubs, np.float64).tolist()):
        excess = sim - hub
        if excess > out.get(doc_id, -math.inf):
            out[doc_id] = excess
    return out


# ----------------------------------------------------------------------------- decide
def decide(words: Sequence[QueryWord], doc_terms: Mapping[str, Collection[str]],
           doc_frequency: Mapping[str, int], passages: int, excess: Mapping[str, float],
           floors: tuple[float, float] | None, config: MatchConfig | None = None) -> Match:
    """The documents that match (see the module docstring for the rule).

    ``words``: :func:`query_words`. ``doc_terms``: each BM25 candidate document's query terms (any of
    its passages; empty in dense-only mode). ``doc_frequency``: passages holding each term.
    ``excess``: :func:`dense_excess` of the dense candidates (empty in BM25-only mode). ``floors``: the
    calibration's (strong, weak) for the query's script; None: dense evidence is not used."""
    config = config or MatchConfig()
    if not any(doc_frequency.get(t, 0) for w in words for t, _w in w.terms):
        return Match(frozenset(), reason="no word of the query is in the index")
    lexical = lexical_evidence(words, doc_terms, doc_frequency, passages, config)
    need = min(config.min_words, len(words))
    strong = {d for d, (m, cov) in lexical.items() if m >= need or cov >= config.strong_coverage}
    weak = set(lexical)
    if floors is not None:
        strong |= {d for d, e in excess.items() if e >= floors[0]}
        weak |= {d for d, e in excess.items() if e >= floors[1]}
    if not strong:
        return Match(frozenset(), reason="no document has strong lexical or dense evidence")
    return Match(frozenset(strong | weak), frozenset(strong), "matched")


# -------------------------------------------------------------------------- calibrate
def calibrate(vectors: np.ndarray, encode_queries: Callable[[list[str]], np.ndarray], model: str,
              probes: Mapping[str, Sequence[str]] | None = None,
              config: MatchConfig | None = None) -> tuple[Calibration, np.ndarray, np.ndarray]:
    """Measure the hub of every passage and the floors, from the probe queries (deterministic).

    ``vectors``: the index's normalised passage vectors (rows); ``encode_queries``: texts -> normalised
    query vectors (the model's query prompt). Returns the calibration, the hub
    (``len(vectors) x len(SCRIPTS)`` float32, columns in :data:`SCRIPTS` order) and the probes' vectors
    of the everyday probes (:data:`SCRIPTS` order, ``len(calibration.near[script])`` rows each)."""
    config = config or MatchConfig()
    probes = probes or PROBES
    n = len(vectors)
    hub = np.zeros((n, len(SCRIPTS)), np.float32)
    floors: dict[str, tuple[float, float]] = {}
    excess: dict[str, tuple[float, ...]] = {}
    near: dict[str, tuple[float, ...]] = {}
    probe_vectors = []
    for col, script in enumerate(SCRIPTS):
        texts = list(probes.get(script, ()))
        if n == 0 or len(texts) < 2:
            floors[script] = (math.inf, math.inf)  # nothing to measure: dense evidence never counts
            continue
        queries = np.asarray(encode_queries(texts), np.float32)
        everyday = queries[[i for i, t in enumerate(texts) if t not in NONSENSE_PROBES]]
        if len(everyday) >= 2:
            between = everyday @ everyday.T
            np.fill_diagonal(between, -np.inf)
            near[script] = tuple(float(v) for v in np.sort(between.max(axis=1)))
            probe_vectors.append(everyday)
        sums = np.zeros(n, np.float64)
        for start in range(0, n, config.chunk_rows):
            sums[start:start + config.chunk_rows] = (queries @ vectors[start:start + config.chunk_rows].T).sum(0)
        hub[:, col] = sums / len(texts)
        best = np.full(len(texts), -np.inf)
        for start in range(0, n, config.chunk_rows):
            sims = (queries @ vectors[start:start + config.chunk_rows].T).astype(np.float64)
            left_out = (sums[start:start + config.chunk_rows] - sims) / (len(texts) - 1)
            best = np.maximum(best, (sims - left_out).max(axis=1))
        values = np.sort(best)
        floors[script] = (float(np.quantile(values, config.strong_quantile)),
                          float(np.quantile(values, config.weak_quantile)))
        excess[script] = tuple(float(v) for v in values)
    calibration = Calibration(model, n, {s: len(probes.get(s, ())) for s in SCRIPTS}, floors, excess, near)
    logger.debug("matching floors for %s over %d passages: %s", model, n,
                {s: tuple(round(v, 4) for v in f) for s, f in floors.items()})
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    stacked = np.concatenate(probe_vectors) if probe_vectors else np.zeros((0, dim), np.float32)
    return calibration, hub, stacked.astype(np.float32)


def mostly_guessed(words: Sequence[QueryWord], typed: Sequence[str]) -> tuple[QueryWord, ...] | None:
    """For a query more of whose words are guesses than words (typed as words, or surely corrected):
    "zorp glibber fnord" read as "corp glider ford", "yuiop" as यूरोप. ``typed``: how each word of
    the query stood as typed (:attr:`search.understanding.Reading.typed`), small words included, so
    that a misspelled question ("In what year did Dewar experiiment on liqudi xygen?") is still
    mostly words. Returns the query's words that have index terms (None for any other query).

    Guesses at made-up words are words that have nothing to do with each other, so such a query
    matches only where one document holds telling terms of two of these words (a query of one such
    word: only if it is no guess): :meth:`search.honest.Evidence.match`."""
    guesses = sum(1 for t in typed if t == "guess")
    if guesses <= sum(1 for t in typed if t in ("word", "sure")):
        return None
    return tuple(w for w in words if w.terms)


def is_everyday(qvec: np.ndarray, probe_vectors: np.ndarray, near: Sequence[float], quantile: float) -> bool:
    """Whether a query (its vector) is as near one of its script's probes as the probes are to each
    other: its best cosine to them at or above the ``quantile`` of ``near`` (:class:`Calibration`)."""
    if not len(near) or not len(probe_vectors):
        return False
    return float(np.max(probe_vectors @ np.asarray(qvec, np.float32))) >= float(np.quantile(near, quantile))


def _clean(token: str) -> str:
    """A word without trailing apostrophes or possessive 's, as :func:`search.expansion.content_words`
    writes it."""
    word = token.rstrip("'’")
    if word.lower().endswith(("'s", "’s")) and len(word) > 3:
        word = word[:-2]
    return word
