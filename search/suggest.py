"""Suggestions as you type: completions of a prefix from the index's titles and frequent words.

A Devanagari prefix completes against the index's words as written; a romanized prefix (``uttar kor``)
is read like a query (:mod:`search.understanding`) for its finished words and completed, for its last
word, against the words' loose Latin forms (:func:`search.transliteration.fold_latin`), so the
suggestions come back in Devanagari whatever scheme was typed. Titles that contain the completed words
come first, then the completed phrases, most frequent words first. Lookups are binary searches over
sorted arrays, built once per generation.
"""

from __future__ import annotations

import bisect
import re
from typing import Iterable

from .analysis import normalize_word
from .transliteration import devanagari_to_latin, fold_latin

MAX_SUGGESTIONS = 8
_DEVANAGARI_WORD = re.compile(r"[\u0900-\u097f]+")


class Suggester:
    """Completions over one generation's words (``(surface, passages containing it)``) and titles."""

    def __init__(self, words: Iterable[tuple[str, int]], titles: Iterable[str]):
        freq: dict[str, int] = {}
        for word, df in words:
            if _DEVANAGARI_WORD.fullmatch(word):
                freq[word] = max(freq.get(word, 0), int(df))
        self._freq = freq
        self._by_word = sorted(freq)  # Devanagari words, sorted: a prefix is a contiguous run
        self._by_latin = sorted((fold_latin(devanagari_to_latin(w)), w) for w in freq)
        self._latin_keys = [k for k, _w in self._by_latin]
        self._titles = [t.strip() for t in dict.fromkeys(titles) if t and t.strip()]

    def _complete_devanagari(self, prefix: str, limit: int) -> list[str]:
        start = bisect.bisect_left(self._by_word, prefix)
        found = []
        for word in self._by_word[start:start + 2000]:
            if not word.startswith(prefix):
                break
            found.append(word)
        return sorted(found, key=lambda w: (-self._freq[w], w))[:limit]

    def _complete_latin(self, prefix: str, limit: int) -> list[str]:
        key = fold_latin(prefix)
        if not key:
            return []
        start = bisect.bisect_left(self._latin_keys, key)
        found = []
        for folded, word in self._by_latin[start:start + 2000]:
            if not folded.startswith(key):
                break
            found.append(word)
        return sorted(set(found), key=lambda w: (-self._freq[w], w))[:limit]

    def suggest(self, prefix: str, head: str = "", limit: int = MAX_SUGGESTIONS) -> list[str]:
        """Up to ``limit`` completions of ``prefix`` (the last, unfinished word), after ``head`` (the
        finished words, already in Devanagari where they were romanized)."""
        prefix = prefix.strip()
        if not prefix:
            return []
        if _DEVANAGARI_WORD.fullmatch(prefix):
            words = self._complete_devanagari(normalize_word(prefix) or prefix, limit)
        else:
            words = self._complete_latin(prefix, limit)
        head = " ".join(head.split())
        out: list[str] = []
        phrase_words = [f"{head} {w}".strip() for w in words]
        for title in self._titles:  # titles holding the whole phrase first
            if len(out) >= limit // 2:
                break
            if any(p in title for p in phrase_words[:3]) and title not in out:
                out.append(title)
        for phrase in phrase_words:
            if phrase not in out:
                out.append(phrase)
        return out[:limit]
