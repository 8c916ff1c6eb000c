"""The word lists query understanding reads against: Devanagari words by loose matching key (the index's
and ``wordfreq``'s most frequent Hindi words), frequent English words by their one-letter deletions, and
word frequencies in both languages."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from .transliteration import deletes, devanagari_to_latin, fold_latin, match_key


@dataclass(frozen=True)
class Entry:
    word: str  # Devanagari
    folded: str  # its loose Latin form
    zipf: float  # how common (wordfreq's zipf; index-only words get a floor raised by their df)
    indexed: bool  # the index has it (its term can match)


class HindiWords:
    """Devanagari words by loose matching key (and by the key with one letter left out)."""

    def __init__(self, entries: Iterable[Entry]):
        self.entries: dict[str, Entry] = {}
        for e in entries:
            old = self.entries.get(e.word)
            if old is None or (e.indexed and not old.indexed) or e.zipf > old.zipf:
                self.entries[e.word] = Entry(e.word, e.folded, max(e.zipf, old.zipf if old else 0.0),
                                              e.indexed or (old.indexed if old else False))
        self._by_key: dict[str, list[Entry]] = defaultdict(list)
        self._by_delete: dict[str, list[Entry]] = defaultdict(list)
        for e in self.entries.values():
            key = match_key(e.folded)
            self._by_key[key].append(e)
            for d in deletes(key):
                self._by_delete[d].append(e)

    def candidates(self, key: str) -> list[Entry]:
        found = {id(e): e for e in self._by_key.get(key, ())}
        near = deletes(key)
        for e in self._by_delete.get(key, ()):
            found[id(e)] = e
        for d in near:
            for e in self._by_key.get(d, ()):
                found[id(e)] = e
            for e in self._by_delete.get(d, ()):
                found[id(e)] = e
        return list(found.values())

    def __contains__(self, word: str) -> bool:
        return word in self.entries

    def __len__(self) -> int:
        return len(self.entries)


@lru_cache(maxsize=4)
def lexicon_entries(n: int) -> tuple[Entry, ...]:
    """The ``n`` most frequent Hindi words of ``wordfreq``'s list, as entries (built once a process)."""
    from wordfreq import top_n_list

    out = []
    for word in top_n_list("hi", n):
        if not re.fullmatch(r"[\u0900-\u097f]+", word):
            continue
        out.append(Entry(word, fold_latin(devanagari_to_latin(word)), zipf(word, "hi"), False))
    return tuple(out)


class EnglishWords:
    """Frequent English words, looked up by their one-letter deletions (SymSpell's idea: a word within
    one edit of a typo shares a deletion with it), for corrections."""

    def __init__(self, words: Iterable[str]):
        self.known: set[str] = set()
        self._by_delete: dict[str, list[str]] = defaultdict(list)
        for w in words:
            if len(w) >= 3 and w.isascii() and w.isalpha() and w not in self.known:
                self.known.add(w)
                self._by_delete[w].append(w)
                for d in deletes(w):
                    self._by_delete[d].append(w)

    def correct(self, word: str, max_distance: int) -> list[tuple[str, int]]:
        """English words within ``max_distance`` (1 or 2) edits (OSA: a swap of neighbours is one edit)."""
        from rapidfuzz.distance import OSA

        lower = word.lower()
        probes = {lower} | deletes(lower)
        if max_distance >= 2:
            probes |= {dd for d in deletes(lower) for dd in deletes(d)}
        found = {w for p in probes for w in self._by_delete.get(p, ())}
        out = [(w, OSA.distance(lower, w)) for w in found]
        return [(w, d) for w, d in out if d <= max_distance]


@lru_cache(maxsize=4)
def english_words(n: int) -> EnglishWords:
    from wordfreq import top_n_list

    return EnglishWords(top_n_list("en", n))


@lru_cache(maxsize=2)
def _frequencies(lang: str) -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict(lang)


def zipf(word: str, lang: str) -> float:
    """wordfreq's zipf frequency (log10 of uses per billion words; 0 for an unknown word), read from
    its table directly: its own ``zipf_frequency`` re-tokenizes every word (~0.1 ms)."""
    freq = _frequencies(lang).get(word)
    return round(math.log10(freq) + 9.0, 2) if freq else 0.0
