"""Cross-lingual query expansion: English query words become weighted Hindi terms the index contains.

BM25 over Hindi text cannot match English words, so an English (or mixed) query is also searched
with Hindi index terms found two ways:

* **The embedding model.** At index time :mod:`index.vocabulary` embeds the index's Devanagari
  vocabulary: one representative surface word (the most frequent spelling) per analysed term. At
  query time each English content word is embedded (cached per word; looked up in the English
  lexicon, :mod:`search.lexicon`, embedded once per model, where "defense" is found as "defence"; a
  hybrid search embeds the rest in the query's own model pass, see :class:`ExpansionJob`) and mapped
  to its nearest index terms that are very similar, stand out from its other neighbours, or sound
  like it (:mod:`search.neighbours`). This finds translations (minister → मंत्री) and, usefully for
  news, transliterated names (Belousov → बेलौसोव).
* **A bilingual dictionary**, when installed (:mod:`search.dictionary`). It knows words the model
  misses (treaty → संधि, defence → रक्षा).

Dictionary translations are analysed with the index's own analyzer (normalisation, stopwords,
stemming), and from both sources only terms the index contains are kept, so every expansion
term can match. The one way in at query time is :meth:`Expander.begin`.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Collection, Mapping

import numpy as np

from . import storage
from .analysis import ENGLISH_STOPWORDS, analyze
from .dictionary import Dictionary, spelling_variants
from .lexicon import Lexicon, load_lexicon
from .neighbours import NeighbourConfig, nearest, pick_neighbours, similarities


@dataclass(frozen=True)
class ExpansionConfig:
    """Query-time tunables (tuned on the XQuAD dev split)."""

    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)
    #: Weight of a dictionary translation. Only an entry's first sense is used: later ones are other
    #: parts of speech or rare uses (minister -> सेवा करना, "to minister to"); dev agrees.
    dictionary_weight: float = 0.7
    #: A translation the index lacks that is a Hindi noun of action in "-ीकरण" (पुष्टीकरण,
    #: "ratification"; दृढ़ीकरण, "consolidation") is looked for by its base (पुष्टि, दृढ़) at this share.
    action_base_share: float = 0.8
    #: Expansion terms returned per query, best first.
    max_terms: int = 16
    #: A query's first this many content words are expanded; the rest are searched as typed. It bounds a
    #: query's cost: each word not met before is embedded (a 150-word query of new words took 25 s).
    max_query_words: int = 24
    #: Words whose expansions are remembered.
    cache_words: int = 4096


# Words that carry no topic in a question ("How many ...", "What kind of ...").
_QUERY_STOPWORDS = frozenset("""
many much kind type name named called did does do done also whose one ones first
""".split())
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


@dataclass(frozen=True)
class ExpanderStatus:
    """What the expander works with, and why a source is missing (``notes``)."""

    vocabulary: int  # Devanagari index terms known
    embedded: int  # of them with a vector (model expansion)
    dictionary: str | None  # path of the dictionary in use, None when absent
    dictionary_headwords: int
    dictionary_skipped: int  # corrupt index lines skipped
    notes: tuple[str, ...]
    lexicon: int = 0  # English words embedded ahead of time (ensure_lexicon)


@dataclass(frozen=True)
class Expansion:
    """Weighted Hindi index terms for a query's English words, best first."""

    terms: tuple[tuple[str, float], ...] = ()
    #: Share of the query's words that found terms (``fusion.lexical_weight`` uses it).
    strength: float = 0.0
    #: How each term is most often written in the index (संध -> संधि), to show people.
    surfaces: tuple[str, ...] = ()
    #: Each expanded English word's own terms (honest matching counts a query's words one by one).
    by_word: dict = field(default_factory=dict)


class ExpansionJob:
    """One query's expansion, around its model pass: the words the pass must embed (:attr:`unseen`),
    a first expansion while it runs (:meth:`first`), the final one with their vectors (:meth:`finish`)."""

    def __init__(self, expander: "Expander", parsed, ride_along: bool):
        self._expander = expander
        self._parsed = parsed
        self.unseen: list[str] = expander.unseen(parsed) if ride_along else []

    def first(self) -> list[tuple[str, float]]:
        """What is known before the unseen words' vectors: their dictionary translations, the other
        words' expansions; the final expansion only adds to it."""
        self._expander.prepare(self._parsed)
        return self._expander.expand(self._parsed, pending=self.unseen)

    def finish(self, word_vectors) -> Expansion:
        """The expansion, given the vectors of :attr:`unseen` (rows in its order; None: embed here)."""
        expander, parsed = self._expander, self._parsed
        given = dict(zip(self.unseen, word_vectors)) if self.unseen and word_vectors is not None else None
        terms = tuple(expander.expand(parsed, given))
        if not terms:
            return Expansion()
        return Expansion(terms, expander.strength(parsed), tuple(expander.surface(t) for t, _w in terms),
                         expander.by_word(parsed))


class Expander:
    """Maps the English words of a query to weighted Hindi index terms; thread-safe."""

    def __init__(self, embedder, surfaces: dict[str, str], terms: list[str], vectors: np.ndarray,
                 dictionary: Dictionary | str | None, status: ExpanderStatus, lexicon: Lexicon | None = None,
                 lexicon_near: Mapping[str, list] | None = None, config: ExpansionConfig | None = None):
        self.embedder = embedder
        self.config = config or ExpansionConfig()
        self._surface = surfaces  # every Devanagari index term -> its most frequent written form
        self._known = frozenset(surfaces)
        self._terms = terms  # terms[i] owns vectors[i]
        self._surfaces = [surfaces[t] for t in terms]
        self._vectors = vectors
        self._dictionary = dictionary  # a Dictionary, None, or the path of one opened on first use
        self._status = status
        self._lexicon = lexicon
        # lexicon word -> its neighbours among this index's terms (write_lexicon_neighbours); absent: none
        self._lexicon_near = lexicon_near if lexicon is not None else None
        self._cache: collections.OrderedDict[str, tuple[tuple[str, float], ...]] = collections.OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, gen: str | Path, embedder, settings, config: ExpansionConfig | None = None) -> "Expander":
        """Load the generation's vocabulary (once); the dictionary, if installed, on first use.

        Nothing here is fatal: without a vocabulary nothing is expanded, without a dictionary the
        model alone expands; ``status.notes`` says which.
        """
        gen = Path(gen)
        notes: list[str] = []
        rows: list[dict] = []
        embedded: list[dict] = []
        vectors = np.zeros((0, embedder.dim), np.float32)
        try:
            rows = storage.read_jsonl(gen / storage.VOCAB)
            matrix = np.load(gen / storage.VOCAB_VECTORS)
        except (OSError, ValueError) as err:
            notes.append(f"this index has no expansion vocabulary ({type(err).__name__}): "
                         f"rebuild it with expansion on to expand English queries")
            rows, matrix = [], None
        if matrix is not None:
            embedded = sorted((r for r in rows if r.get("row") is not None), key=lambda r: r["row"])
            if matrix.ndim == 2 and matrix.shape[1] == embedder.dim and len(embedded) == len(matrix):
                vectors = np.ascontiguousarray(matrix, dtype=np.float32)
            else:
                embedded = []
                notes.append("the vocabulary vectors do not fit the model: dictionary expansion only")
        lexicon = load_lexicon(settings, embedder) if len(vectors) else None
        if len(vectors) and lexicon is None:
            notes.append("no English lexicon for this model yet: new English words are embedded at query "
                         "time (building an index prepares it)")
        lexicon_near = None
        if lexicon is not None:
            try:
                table = json.loads((gen / storage.LEXICON_NEIGHBOURS).read_text("utf-8"))
                if table.get("lexicon") == lexicon.name and isinstance(table.get("words"), dict):
                    lexicon_near = table["words"]
            except (OSError, ValueError, AttributeError):
                pass  # an older build: lexicon words are compared with the vocabulary at query time
        status = ExpanderStatus(len(rows), len(embedded), None, 0, 0, tuple(notes),
                                len(lexicon.rows) if lexicon else 0)
        return cls(embedder, {r["term"]: r["surface"] for r in rows}, [r["term"] for r in embedded],
                   vectors, str(settings.dict_path), status, lexicon, lexicon_near, config)

    @property
    def dictionary(self) -> Dictionary | None:
        """The English–Hindi dictionary, opened on first use (half a second: a Hindi query never needs it)."""
        if isinstance(self._dictionary, str):
            with self._lock:
                if isinstance(self._dictionary, str):
                    path, self._dictionary = self._dictionary, None
                    try:
                        self._dictionary = Dictionary.open(path)
                    except OSError as err:
                        self._status = dataclasses.replace(self._status, notes=(*self._status.notes, (
                            f"no dictionary at {path} ({err.strerror or err}): expanding with the model only")))
        return self._dictionary

    @property
    def status(self) -> ExpanderStatus:
        """What the expander works with (opening the dictionary to say)."""
        dictionary = self.dictionary
        if dictionary is None:
            return self._status
        return dataclasses.replace(self._status, dictionary=str(dictionary.path), dictionary_headwords=len(dictionary),
                                   dictionary_skipped=dictionary.skipped)

    def surface(self, term: str) -> str:
        """How ``term`` is most often written in the index (संध -> संधि), to show an expansion to people."""
        return self._surface.get(term, term)

    # ---------------------------------------------------------------- expand
    def begin(self, parsed, ride_along: bool = False) -> ExpansionJob:
        """Expand ``parsed`` (a :class:`ParsedQuery`): the one way in at query time. ``ride_along``:
        the words that need embedding go in the query's own model pass (:attr:`ExpansionJob.unseen`)."""
        return ExpansionJob(self, parsed, ride_along)

    def prepare(self, parsed) -> None:
        """Look up (and cache) the query's words whose vectors need no model call: cached or in the
        English lexicon. The service calls it while the query, with its :meth:`unseen` words, is embedded."""
        if self._lexicon is None:
            return
        words = [w for w in content_words(parsed.text)[:self.config.max_query_words] if self._lexicon_form(w)]
        if words:
            self._lookup(words)

    def unseen(self, parsed) -> list[str]:
        """The query's content words that need embedding (not looked up yet), for
        :meth:`Embedder.encode_query_with_words` to embed beside the query."""
        if not len(self._vectors) or not self._known:
            return []
        words = content_words(parsed.text)[:self.config.max_query_words]
        with self._lock:
            words = [w for w in words if w not in self._cache]
        return [w for w in words if not self._lexicon_form(w)]

    def _lexicon_form(self, word: str) -> str | None:
        """The English lexicon word that stands for ``word``: itself, else, for a lower-case word, its
        other spelling ("defense" -> "defence", :func:`spelling_variants`); None when there is none
        or no lexicon. A capitalised word may be a name, so only its own spelling counts.

        Only the same word in another spelling stands in: an inflected form is embedded as written,
        since the model places it elsewhere ("troops" is near सैनिक, "troop" is not)."""
        rows = self._lexicon.rows if self._lexicon is not None else None
        if not rows:
            return None
        if word in rows:
            return word
        if word != word.lower():
            return None
        # The lexicon also holds the tokenizer's Latin words of other languages: with a dictionary, a
        # variant must be one of its English headwords too.
        english = self.dictionary
        return next((variant for variant in spelling_variants(word)
                     if variant in rows and (english is None or variant in english)), None)

    def expand(self, parsed, vectors: Mapping[str, np.ndarray] | None = None,
               pending: Collection[str] = ()) -> list[tuple[str, float]]:
        """Weighted Hindi index terms for the Latin words of ``parsed`` (a :class:`ParsedQuery`).

        Each term's weight in (0, 1] is the best over the words it came from; an unknown word
        adds nothing. ``vectors`` may hold embeddings of words (:meth:`unseen`) made elsewhere.
        ``pending`` words, whose embeddings are still being made, get their dictionary translations
        only and are not remembered: a first, partial expansion that the final one only adds to.
        """
        words = content_words(parsed.text)[:self.config.max_query_words]
        if not words or not self._known:
            return []
        best: dict[str, float] = {}
        waiting = [w for w in words if w in pending]
        ready = [w for w in words if w not in pending]
        found_lists = [*self._lookup(ready, vectors), *(tuple(self._translations(w)) for w in waiting)]
        for found in [*found_lists, self._phrases(parsed.text)]:
            for term, weight in found:
                if weight > best.get(term, 0.0):
                    best[term] = weight
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [(t, round(w, 4)) for t, w in ranked[:self.config.max_terms]]

    def by_word(self, parsed) -> dict[str, tuple[tuple[str, float], ...]]:
        """Each content word's terms (as looked up: cached by :meth:`expand`)."""
        words = content_words(parsed.text)[:self.config.max_query_words]
        if not words or not self._known:
            return {}
        return dict(zip(words, self._lookup(words)))

    def strength(self, parsed) -> float:
        """How much of the query the expansion covers: the share of its Latin-script words
        (stopwords included) that found Hindi index terms; ``fusion.lexical_weight`` uses it.

        A keyword query ("defence minister Belousov visit") is covered fully and gets the lexical
        weight of a Hindi query the index knows; a question ("How many points did the Panthers
        defense surrender?") is covered about half and leans on the dense model, as dev wants.
        """
        tokens = _LATIN_WORD.findall(parsed.text)
        words = content_words(parsed.text)[:self.config.max_query_words]
        if not tokens or not words or not self._known:
            return 0.0
        covered = {w for w, found in zip(words, self._lookup(words)) if found}
        return min(1.0, sum(1 for t in tokens if _clean(t) in covered) / len(tokens))

    def clear_cache(self) -> None:
        """Forget the words looked up so far (benchmarks time cold lookups with it)."""
        with self._lock:
            self._cache.clear()

    def _lookup(self, words: list[str], given: Mapping[str, np.ndarray] | None = None
                ) -> list[tuple[tuple[str, float], ...]]:
        with self._lock:
            cached = {w: self._cache[w] for w in words if w in self._cache}
            for w in cached:
                self._cache.move_to_end(w)
        missing = [w for w in dict.fromkeys(words) if w not in cached]
        if missing:
            vectors = dict(given or {}) if len(self._vectors) else {}
            near: dict[str, list[tuple[str, float]]] = {}
            if self._lexicon is not None and len(self._vectors):
                for w in missing:
                    form = None if w in vectors else self._lexicon_form(w)
                    if form is None:
                        continue
                    if self._lexicon_near is not None:  # worked out when the index was built
                        near[w] = [(term, float(weight)) for term, weight in self._lexicon_near.get(form, ())]
                    else:
                        vectors[w] = self._lexicon.get(form)
            rest = [w for w in missing if w not in vectors and w not in near]
            if rest and len(self._vectors):
                vectors.update(zip(rest, self._embed(rest)))
            with_vectors = [w for w in missing if vectors.get(w) is not None]
            # one matrix product over the vocabulary for all the words (it is read once, not per word)
            sims = similarities(np.stack([vectors[w] for w in with_vectors]), self._vectors,
                                self.config.neighbours.split_rows) \
                if with_vectors else None
            near.update((w, self._neighbours(w, sims[j])) for j, w in enumerate(with_vectors))
            for w in missing:
                found = dict(self._translations(w))
                for term, weight in near.get(w, ()):
                    found[term] = max(found.get(term, 0.0), weight)
                cached[w] = tuple(sorted(found.items(), key=lambda item: (-item[1], item[0])))
            with self._lock:
                for w in missing:
                    self._cache[w] = cached[w]
                while len(self._cache) > self.config.cache_words:
                    self._cache.popitem(last=False)
        return [cached[w] for w in words]

    def _embed(self, words: list[str]) -> np.ndarray:
        """The words' embeddings (one batched model call)."""
        # The vocabulary was embedded as passages; the same prompt on both sides keeps it symmetric.
        return self.embedder.encode_short(words)

    def _neighbours(self, word: str, sims: np.ndarray) -> list[tuple[str, float]]:
        """Index terms near a word (``sims``: its cosine to every embedded index term); see
        :func:`search.neighbours.pick_neighbours`."""
        cfg = self.config.neighbours
        return pick_neighbours(word, *next(nearest(sims[None], cfg.candidates)), self._terms, self._surfaces, cfg)

    def _phrases(self, text: str) -> list[tuple[str, float]]:
        """Dictionary translations of the query's two-word phrases ("human rights", "world war")."""
        if self.dictionary is None:
            return []
        tokens = [_clean(t).lower() for t in _LATIN_WORD.findall(text)]
        found: list[tuple[str, float]] = []
        for pair in zip(tokens, tokens[1:]):
            phrase = " ".join(pair)
            if self.dictionary.senses(phrase):
                found += self._translations(phrase)
        return found

    def _translations(self, word: str) -> list[tuple[str, float]]:
        """Index terms of the dictionary's first-sense translations of ``word``."""
        if self.dictionary is None:
            return []
        found: dict[str, float] = {}
        for headword in self.dictionary.headwords(word):
            senses = self.dictionary.senses(headword)
            for phrase in senses[0] if senses else ():
                terms = analyze(phrase)
                # A phrase's words share its weight: "बात काटना" (deny) must not search for बात (talk).
                weight = self.config.dictionary_weight / len(terms) if terms else 0.0
                for term in terms:
                    share = 1.0
                    if term not in self._known:
                        term, share = action_base(term), self.config.action_base_share
                        if term not in self._known:  # None is not a term either
                            continue
                    found[term] = max(found.get(term, 0.0), weight * share)
        return list(found.items())


_ACTION_NOUN = re.compile(r"[\u0900-\u097f]{2,}[िी]करण$")


@lru_cache(maxsize=4096)
def action_base(term: str) -> str | None:
    """The analysed base of an analysed Hindi noun of action in "-ीकरण"/"-िकरण" ("making …"):
    पुष्टीकरण -> पुष्ट (as पुष्टि is analysed), सरलीकरण -> सरल, सशक्तिकरण -> सशक्त; None for any other
    term. Only the "ी/ि + करण" form is taken: a bare "करण" ending is often no suffix at all (उपकरण,
    "equipment"; व्याकरण, "grammar")."""
    if not _ACTION_NOUN.fullmatch(term):
        return None
    base = analyze(term[:-len("करण")])
    return base[0] if len(base) == 1 and base[0] != term else None


def content_words(text: str) -> list[str]:
    """The Latin-script words of a query worth translating: no stopwords, no question words, unique."""
    words = []
    for token in _LATIN_WORD.findall(text):
        word = _clean(token)
        lower = word.lower()
        if len(lower) < 2 or lower in ENGLISH_STOPWORDS or lower in _QUERY_STOPWORDS:
            continue
        words.append(word)
    return list(dict.fromkeys(words))


def _clean(token: str) -> str:
    """A word without trailing apostrophes or possessive ``'s`` ("Panthers'" -> "Panthers")."""
    word = token.rstrip("'’")
    if word.lower().endswith(("'s", "’s")) and len(word) > 3:
        word = word[:-2]
    return word
