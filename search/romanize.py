"""How a Devanagari word sounds to an English reader: a rough Latin spelling and consonant-class keys,
so that a transliterated name in the index (बेलौसोव) is found from its English spelling (Belousov)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

from .transliteration import CONSONANT_LETTERS, NUKTA_LETTERS

# The consonants as query understanding reads them; vowels here are one letter each (आ -> "a"), which
# is all a consonant-class key needs.
_CONSONANTS, _WITH_NUKTA = CONSONANT_LETTERS, NUKTA_LETTERS
_VOWELS = {"अ": "a", "आ": "a", "इ": "i", "ई": "i", "उ": "u", "ऊ": "u", "ऋ": "ri", "ए": "e", "ऐ": "ai",
           "ओ": "o", "औ": "au", "ऑ": "o", "ऍ": "e"}
_SIGNS = {"ा": "a", "ि": "i", "ी": "i", "ु": "u", "ू": "u", "ृ": "ri", "े": "e", "ै": "ai", "ो": "o",
          "ौ": "au", "ॉ": "o", "ॅ": "e", "ं": "n", "ँ": "n", "ः": "h"}
# Soundex's consonant classes (w folded into v, h and y dropped like vowels).
_SOUND_CLASS = {c: d for letters, d in (("bfpvw", "1"), ("cgjkqsxz", "2"), ("dt", "3"), ("l", "4"),
                                         ("mn", "5"), ("r", "6")) for c in letters}


@lru_cache(maxsize=65536)
def romanize(word: str) -> str:
    """A rough Latin spelling of a Devanagari word (बेलौसोव -> "belausov"), for :func:`sounds_alike`."""
    chars = unicodedata.normalize("NFD", word)
    out = []
    i = 0
    while i < len(chars):
        ch = chars[i]
        if ch in _CONSONANTS:
            if i + 1 < len(chars) and chars[i + 1] == "\u093c":  # nukta: ज़ -> z
                out.append(_WITH_NUKTA.get(ch, _CONSONANTS[ch]))
                i += 1
            else:
                out.append(_CONSONANTS[ch])
            following = chars[i + 1] if i + 1 < len(chars) else ""
            if following == "\u094d":  # virama: no vowel
                i += 1
            elif following and (following not in _SIGNS or following in "ंँः"):
                out.append("a")  # the inherent vowel, silent at the end of a word
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])
        elif ch in _SIGNS:
            out.append(_SIGNS[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch.lower())
        i += 1
    return "".join(out)


@lru_cache(maxsize=65536)
def sound_key(latin: str) -> str:
    """The word's consonants as Soundex classes, repeats merged: "Belousov" -> "1421"."""
    key = []
    last = None
    for ch in latin.lower().replace("ph", "f"):
        code = _SOUND_CLASS.get(ch)
        if code is None:
            if ch in "aeiouy":
                last = None  # a vowel separates two equal consonants
            continue
        if code != last:
            key.append(code)
        last = code
    return "".join(key)


def sounds_alike(english: str, hindi: str) -> float:
    """How alike an English word and a Devanagari word sound, in [0, 1] (1: same consonant classes).

    ``Panthers``/``पैंथर्स`` and ``Belousov``/``बेलौसोव`` score 1; a transliterated name in the index
    matches its English spelling even when the model ranks it below other names. Keys shorter
    than three classes match too easily by chance and score 0.
    """
    a, b = sound_key(english), sound_key(romanize(hindi))
    if min(len(a), len(b)) < 3:
        return 0.0
    return 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))


def sounds_like(english: str, hindi: str, match: float = 1.0) -> bool:
    """``sounds_alike(english, hindi) >= match``, without the edit distance when only equal consonant
    classes count (``match`` 1.0): a cold English word checks about ten neighbours."""
    if match >= 1.0:
        key = sound_key(english)
        return len(key) >= 3 and key == sound_key(romanize(hindi))
    return sounds_alike(english, hindi) >= match
