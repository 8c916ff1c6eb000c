"""Query understanding: how to read each word of a query, as people really type it.

``Understander.read(text)`` decides, word by word, whether a word is English, Hindi in Devanagari,
romanized Hindi, or misspelled, with a confidence, and gives each its reading:

* a **romanized** Hindi word its Devanagari spelling (``sandhi`` -> संधि, ``koriyA`` -> कोरिया), found
  among the words the index or the Hindi lexicon knows by a loose matching key
  (:mod:`search.transliteration`: every romanization scheme and phone-keyboard habit folds to it);
* a **misspelled** Devanagari word the index word it most likely meant (``कोरीया`` -> कोरिया), ranked
  by an edit distance over aksharas, so a wrong matra is one edit;
* a **misspelled** English word its English spelling (``tretay`` -> ``treaty``), against the English
  lexicon, ranked by edit distance (transpositions count one) and word frequency.

Whether a Latin-script query is English or romanized Hindi is decided for the whole query, since many
short words are both ("men"/में, "the"/थे, "par"/पर): each word votes with how much more often it is
seen as that Hindi word than as an English word (word frequencies from ``wordfreq``, in both
languages), and a word in a scheme nobody uses for English (IAST diacritics, ITRANS inner capitals)
votes Hindi outright. In a romanized query every word with a good Hindi reading is read as Hindi; in
an English query only words that are not English at all (a misspelling, or a transliterated name such
as ``pyongyang``) get another reading. Candidates only ever come from words the index or the lexicons
know, and with ``exact`` nothing is corrected (romanized words are still read as Hindi).

The service makes one call and reads one result (:class:`Understanding`): the query as searched
(``text``), each word's reading with its confidence (BM25 weighs the Devanagari terms by it), and
what to show ("Searched as: …", "Showing results for … · search instead for …").
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from .analysis import analyze, detect_script, normalize_word
from .transliteration import (akshara_distance, aksharas, devanagari_key, devanagari_to_latin, fold_latin,
                              has_scheme_marks, latin_key, match_key, plain_latin, query_scheme,
                              scheme_reading)
from .wordlists import Entry, HindiWords, english_words, lexicon_entries, zipf as zipf_of

log = logging.getLogger(__name__)

LABELS = {"hi": "Hindi", "hi-Latn": "Hindi (romanized)", "en": "English", "mixed": "mixed Hindi/English",
          "unknown": "unknown language"}


@dataclass(frozen=True)
class UnderstandingConfig:
    """Tunables of query understanding (defaults chosen on the dev sets, ``bench/typed_queries.py``)."""

    #: Hindi words taken from the general Hindi word list (``wordfreq``), besides the index's own words.
    hindi_lexicon_words: int = 12000
    #: English words a misspelling may be corrected to (the most frequent first).
    english_lexicon_words: int = 40000
    #: A romanized word's vote: zipf_of(Hindi reading) - penalty * (1 - similarity) - zipf_of(English) - bias.
    #: Romanized Hindi is rarer in Latin script than English is, hence the bias.
    language_bias: float = 1.5
    similarity_penalty: float = 5.0
    #: A word in IAST diacritics or ITRANS capitals votes this much for Hindi.
    scheme_vote: float = 4.0
    #: Least similarity (of folded spellings, 0-1) for a romanized reading.
    min_romanized_similarity: float = 0.7
    #: An English word at least this frequent (zipf) is never corrected; one below is a candidate.
    english_known_zipf: float = 3.0
    #: A correction must be at least this frequent (zipf) ...
    english_correction_zipf: float = 3.0
    #: ... and this much more frequent than the word as typed.
    correction_gap: float = 2.5
    #: A romanized reading this similar to a known word's spelling (its loose key: only vowel length or
    #: schwa differ) is that word as typed; a less similar one is a guess.
    romanized_as_typed: float = 0.85
    #: Per script, the shortest word (letters; aksharas) whose one-edit correction is evidence of a typo.
    #: Made-up words are corrected as readily below it: of pronounceable Latin nonsense, 66% of 4-letter,
    #: 17% of 5-letter and 1% of 6-letter strings are one edit from a common English word (and 8% of
    #: 7-letter ones two edits); of random Devanagari, 44% of 2-akshara and 2% of 3-akshara strings one
    #: edit from a word of the XQuAD dev index, none of 4 or more (``bench/guesses.py``,
    #: ``bench/results/matching.md``).
    sure_length: Mapping[str, int] = field(default_factory=lambda: {"latin": 6, "devanagari": 3})
    #: Weight of a second-best romanized reading in BM25, relative to the best's.
    alternative_share: float = 0.5
    #: At most this many Latin words of one query are read (longer queries keep the rest as typed).
    max_words: int = 32


@dataclass(frozen=True)
class Reading:
    """One query word: as typed, how it was read, what is searched for it, and how sure that is."""

    word: str
    kind: str  # english | hindi | romanized | corrected | other
    text: str  # as searched: Devanagari for romanized Hindi, the correction for a misspelling
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()  # weaker readings (Devanagari), searched at a lower weight
    #: how the word stood as typed: a ``word`` of its language (or romanized as the key of one); a
    #: correction made ``sure`` by its length (one edit in a long word: "ratifcation" -> ratification),
    #: or a ``guess`` a made-up word gets as easily ("zorp" -> corp, "yuiop" -> यूरोप:
    #: :attr:`UnderstandingConfig.sure_length`); ``unknown`` (kept as typed: a rare name, "lorem");
    #: ``other`` (a number, a sign). :mod:`search.honest` asks a query made mostly of guesses for more
    #: evidence.
    typed: str = "word"

    def to_dict(self) -> dict:
        return {"word": self.word, "kind": self.kind, "text": self.text,
                "confidence": round(self.confidence, 3), "alternatives": list(self.alternatives),
                "typed": self.typed}


@dataclass(frozen=True)
class Understanding:
    """The whole query as understood: one result the service reads."""

    original: str  # as typed (whitespace collapsed)
    text: str  # as searched
    language: str  # hi | hi-Latn | en | mixed | unknown
    words: tuple[Reading, ...] = field(default=())
    #: the query as it would be searched with every correction (shown as "did you mean" under exact)
    suggestion: str = ""
    #: what the model embeds: ``text`` for romanized Hindi; otherwise only the corrections applied (a
    #: name transliterated for BM25 stays as typed: the model reads "Belousov" well enough)
    dense_text: str = ""

    @property
    def romanized(self) -> bool:
        return any(r.kind == "romanized" for r in self.words)

    @property
    def corrected(self) -> bool:
        return any(r.kind == "corrected" for r in self.words)

    @property
    def label(self) -> str:
        return LABELS.get(self.language, self.language)

    def weighted_readings(self, share: float = 0.5) -> list[tuple[str, float]]:
        """(Devanagari or corrected text, weight) for every word read differently from how it was typed."""
        out: list[tuple[str, float]] = []
        for r in self.words:
            if r.kind in ("romanized", "corrected"):
                out.append((r.text, r.confidence))
                out += [(alt, r.confidence * share) for alt in r.alternatives]
        return out

    def to_dict(self) -> dict:
        return {"original": self.original, "searched_as": self.text, "language": self.language,
                "label": self.label, "romanized": self.romanized, "corrected": self.corrected,
                "suggestion": self.suggestion, "words": [r.to_dict() for r in self.words]}


# ------------------------------------------------------------------ word lists

_LATIN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_TOKEN = re.compile(r"[\u0900-\u0963\u0966-\u097f]+|[^\W\d_]+(?:['’][^\W\d_]+)?|\d+|\S")


def _similarity(a: str, b: str) -> float:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_similarity(a, b)


def _is_devanagari_word(token: str) -> bool:
    return "\u0900" <= token[0] <= "\u097f"


def _is_latin_word(token: str) -> bool:
    """A word in letters other than Devanagari (Latin, with or without IAST diacritics)."""
    return token[0].isalpha() and not _is_devanagari_word(token)


class Understander:
    """Reads queries against one index's words (thread-safe; word lists are built on first use)."""

    def __init__(self, index_words: Iterable[tuple[str, int]], is_indexed_term: Callable[[str], bool],
                 config: UnderstandingConfig | None = None, english_headwords: Callable[[str], bool] | None = None):
        self.config = config or UnderstandingConfig()
        self._index_words = list(index_words)  # (surface, passages containing it)
        self._is_indexed_term = is_indexed_term
        self._english_headword = english_headwords or (lambda _w: False)
        self._hindi: HindiWords | None = None
        self._lock = threading.Lock()
        self._word_cache: dict[tuple, tuple] = {}  # (word, scheme) -> its romanized vote, oldest first

    # -------------------------------------------------------------- word lists
    @property
    def hindi(self) -> HindiWords:
        if self._hindi is None:
            with self._lock:
                if self._hindi is None:
                    self._hindi = self._build_hindi()
        return self._hindi

    def _build_hindi(self) -> HindiWords:
        entries = list(lexicon_entries(self.config.hindi_lexicon_words))
        for surface, df in self._index_words:
            if re.fullmatch(r"[\u0900-\u097f]+", surface):
                zipf = zipf_of(surface, "hi")
                # an index word unknown to the lexicon: rare in general, common here in proportion to df
                zipf = max(zipf, 2.0 + 0.5 * math.log10(1 + df))
                entries.append(Entry(surface, fold_latin(devanagari_to_latin(surface)), zipf, True))
        words = HindiWords(entries)
        log.debug("Hindi word list: %d words (%d from the index)", len(words), len(self._index_words))
        return words

    def warm(self) -> None:
        """Build the word lists now (a server does it at start, not on its first romanized query)."""
        _ = self.hindi
        english_words(self.config.english_lexicon_words)

    # -------------------------------------------------------------- reading
    def read(self, text: str, exact: bool = False) -> Understanding:
        """How to read ``text`` (already validated: see :func:`search.query.parse_query`)."""
        text = " ".join(text.split())
        spans = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
        tokens = [text[a:b] for a, b in spans]
        latin = [t for t in tokens if _is_latin_word(t)]
        scheme = query_scheme(latin)
        latin_votes: dict[str, tuple[float, Entry | None, float, list[Entry]]] = {}
        for word in latin[: self.config.max_words]:
            if word not in latin_votes:
                latin_votes[word] = self._romanized_cached(word, scheme)
        # a Devanagari query's Latin words are English or names ("NATO का बयान")
        romanized_query = detect_script(text) != "devanagari" and self._is_romanized(latin_votes)
        readings: list[Reading] = []
        for token in tokens:
            if _is_devanagari_word(token):
                r = self._devanagari(token, exact)
            elif token in latin_votes:
                r = self._latin(token, latin_votes[token], romanized_query, exact)
            else:
                r = Reading(token, "other", token, typed="other")
            readings.append(r)
        if exact:  # nothing was corrected: what would have been is the suggestion
            fixed = [self._devanagari(t, False) if _is_devanagari_word(t) else
                     (self._latin(t, latin_votes[t], romanized_query, False) if t in latin_votes else None)
                     for t in tokens]
            suggestion = _rewrite(text, spans, [(f.text if f is not None else t) for f, t in zip(fixed, tokens)])
        else:
            suggestion = ""
        searched = _rewrite(text, spans, [r.text for r in readings])
        dense = searched if romanized_query else _rewrite(
            text, spans, [r.text if r.kind == "corrected" else r.word for r in readings])
        language = self._language(readings, text, romanized_query)
        if suggestion == searched:
            suggestion = ""
        return Understanding(text, searched, language, tuple(readings), suggestion, dense)

    def _language(self, readings: list[Reading], text: str, romanized_query: bool) -> str:
        script = detect_script(text)
        if script == "devanagari":
            return "hi"
        if script == "latin":
            return "hi-Latn" if romanized_query and any(r.kind == "romanized" for r in readings) else "en"
        if script == "mixed":
            return "mixed"
        return "unknown"

    def _is_romanized(self, votes: dict) -> bool:
        if not votes:
            return False
        total = sum(v[0] for v in votes.values())
        return total > 0 and any(v[1] is not None for v in votes.values())

    def _romanized_cached(self, word: str, scheme: str | None):
        key = (word, scheme)
        with self._lock:
            hit = self._word_cache.get(key)
        if hit is None:
            hit = self._romanized(word, scheme)
            with self._lock:
                self._word_cache[key] = hit
                if len(self._word_cache) > 8192:
                    self._word_cache.pop(next(iter(self._word_cache)))
        return hit

    def _romanized(self, word: str, scheme: str | None) -> tuple[float, Entry | None, float, list[Entry]]:
        """(vote for Hindi, best Hindi reading or None, its similarity, the runner-up readings).

        ``scheme``: "itrans" or "iast" when the query is written in one (some word shows its marks):
        the word's exact transliteration in that scheme then leads, where a known word has it."""
        cfg = self.config
        folded = fold_latin(word)
        key = latin_key(word)
        marked = has_scheme_marks(word)
        plain = plain_latin(word)
        exact = scheme_reading(word, scheme) if scheme else None
        best, best_sim, ranked = None, 0.0, []
        # no spelling of Hindi repeats a letter three times ("aaaa", "bbbb"), or folds to one letter
        plausible = not re.search(r"(.)\1\1", word.lower()) and (len(folded) >= 2 or len(word) <= 2)
        if folded and len(folded) <= 30 and plausible:
            scored = []
            candidates = self.hindi.candidates(key)
            if exact is not None and exact in self.hindi and all(e.word != exact for e in candidates):
                candidates.append(self.hindi.entries[exact])
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein

            sims = process.cdist([folded], [e.folded for e in candidates],
                                 scorer=Levenshtein.normalized_similarity)[0] if candidates else ()
            for e, sim in zip(candidates, sims):
                sim = float(sim)
                if sim < cfg.min_romanized_similarity - 0.15:
                    continue
                if match_key(e.folded) == key:
                    sim = max(sim, cfg.romanized_as_typed)  # the same loose key: only vowel length or schwa differ
                if e.word == exact:
                    sim = 1.0
                if sim >= cfg.min_romanized_similarity:
                    # ties: the closer unfolded spelling (aspiration, vowel length), then the commoner word
                    fine = _similarity(plain, devanagari_to_latin(e.word))
                    score = sim + 0.1 * fine + 0.03 * e.zipf + (0.02 if e.indexed else 0.0)
                    scored.append((score + (0.2 if e.word == exact else 0.0), sim, e))
            scored.sort(key=lambda x: (-x[0], x[2].word))
            if scored:
                _s, best_sim, best = scored[0]
                ranked = [e for _s2, sim2, e in scored[1:3] if sim2 >= best_sim - 0.1 and e.indexed]
        # a good Hindi reading needs no English correction to outvote (it costs a lookup)
        english = self._english_evidence(word, correct=best is None or best_sim < 0.95)
        if word.isupper() and len(word) > 1:  # an acronym (NATO, UPT) is not romanized Hindi
            return -4.0, None, 0.0, []
        if best is None:  # no Hindi reading: a name ("korea") or an English word; half a vote
            vote = (cfg.scheme_vote if marked else 0.0) - 0.5 * english
        else:
            hindi = best.zipf - cfg.similarity_penalty * (1.0 - best_sim)
            if min(hindi, english) >= 3.0 and abs(hindi - english) < 1.0:
                vote = 0.0  # as common in both: a name both languages write (putin, korea)
            else:
                vote = hindi - english - cfg.language_bias
            if marked:
                vote += cfg.scheme_vote
        return max(-4.0, min(4.0, vote)), best, best_sim, ranked

    def _english_evidence(self, word: str, correct: bool = True) -> float:
        """How English a word looks (zipf scale): its frequency, or its correction's less two per edit."""
        if not word.isascii():
            return 0.0
        lower = _base_word(word).lower()
        zen = zipf_of(lower, "en")
        if zen >= self.config.english_known_zipf or len(word) < 4 or not correct:
            return min(zen, 6.0)
        fix = self._english_correction(word)
        if fix is None:
            return zen
        return max(zen, zipf_of(fix.text.lower(), "en") - 2.0 * (1 + int(fix.confidence < 0.85)))

    def _latin(self, word: str, vote: tuple, romanized_query: bool, exact: bool) -> Reading:
        cfg = self.config
        score, best, sim, ranked = vote
        if romanized_query and best is not None and (score > -2.0 or has_scheme_marks(word)):
            confidence = sim if score >= 0 else sim * 0.7
            # the same loose key as a known word (romanized_as_typed and up) is how that word is
            # romanized; less is a guess at it ("yuiop" -> यूरोप)
            typed = "word" if sim >= cfg.romanized_as_typed else "guess"
            return Reading(word, "romanized", best.word, round(confidence, 3), tuple(e.word for e in ranked),
                           typed)
        lower = _base_word(word).lower()
        zen = zipf_of(lower, "en") if word.isascii() else 0.0
        known = zen >= cfg.english_known_zipf or self._english_headword(lower)
        if known or len(word) < 4 or not word.isascii() or word.isupper():
            return Reading(word, "english", word, typed="word" if known or self._held(word) else "unknown")
        # Not English as typed: a misspelling of an English word, or a transliterated name or word.
        if not exact:
            fix = self._english_correction(word)
            if fix is not None:
                return fix
        if best is not None and best.indexed and sim >= 0.9:
            return Reading(word, "romanized", best.word, round(sim * 0.8, 3), typed="word")  # a name
        return Reading(word, "english", word, typed="word" if self._held(word) else "unknown")

    def _held(self, word: str) -> bool:
        """Whether the index holds the word as typed (a name or an acronym in Latin letters: "NFL")."""
        terms = analyze(word)
        return bool(terms) and self._all_indexed(terms)

    def _all_indexed(self, terms) -> bool:
        return all(self._is_indexed_term(t) for t in terms)

    def _english_correction(self, word: str) -> Reading | None:
        """The English word ``word`` most likely misspells: within one edit (two from 7 letters), common,
        and far commoner than ``word`` itself, which may be a rare word ("divisor" is no "advisor") or
        a common misspelling ("recieve"): wordfreq lists both."""
        cfg = self.config
        own = zipf_of(_base_word(word).lower(), "en")
        max_distance = 1 if len(word) < 7 else 2
        best = None
        for cand, dist in english_words(cfg.english_lexicon_words).correct(word, max_distance):
            zipf = zipf_of(cand, "en")
            # A capitalised word is often a name: only a common word, and not a short one, replaces it
            least = max(cfg.english_correction_zipf + (1.0 if word[0].isupper() else 0.0),
                        own + cfg.correction_gap)
            if zipf < least or (word[0].isupper() and len(word) < 5):
                continue
            score = zipf - 2.0 * dist
            if best is None or score > best[0]:
                best = (score, cand, dist)
        if best is None:
            return None
        _score, cand, dist = best
        if word[0].isupper():
            cand = cand[0].upper() + cand[1:]
        return Reading(word, "corrected", cand, round(1.0 - 0.15 * dist, 3),
                       typed=self._guess(dist, len(word), "latin"))

    def _devanagari(self, word: str, exact: bool) -> Reading:
        terms = analyze(word)
        if not terms or self._all_indexed(terms):
            return Reading(word, "hindi", word)
        if zipf_of(normalize_word(word), "hi") > 0 or zipf_of(word, "hi") > 0:  # a word Hindi knows
            return Reading(word, "hindi", word)
        target = aksharas(word)
        if len(target) < 2 or exact:
            return Reading(word, "hindi", word, typed="unknown")
        best = None
        for e in self.hindi.candidates(devanagari_key(word)):
            if not e.indexed:
                continue
            dist = akshara_distance(target, aksharas(e.word))
            limit = 1 if len(target) < 5 else 2
            if dist > limit:
                continue
            score = -dist + 0.1 * e.zipf
            if best is None or score > best[0]:
                best = (score, e, dist)
        if best is None:
            return Reading(word, "hindi", word, typed="unknown")
        _s, e, dist = best
        return Reading(word, "corrected", e.word, round(1.0 - 0.2 * dist, 3),
                       typed=self._guess(dist, len(target), "devanagari"))

    def _guess(self, distance: int, length: int, script: str) -> str:
        """``sure`` for a correction one edit from a word at least ``sure_length`` long (letters;
        aksharas in Devanagari), else ``guess``."""
        return "sure" if distance <= 1 and length >= self.config.sure_length[script] else "guess"


def _base_word(word: str) -> str:
    """A word without its possessive ending: "Luther's" -> "Luther"."""
    return re.sub(r"['’]s?$", "", word) if len(word) > 3 else word


def _rewrite(text: str, spans: list[tuple[int, int]], words: list[str]) -> str:
    """``text`` with the token at each span replaced by the matching word (spacing and punctuation kept)."""
    out, last = [], 0
    for (start, end), word in zip(spans, words):
        out.append(text[last:start])
        out.append(word)
        last = end
    out.append(text[last:])
    return "".join(out)
