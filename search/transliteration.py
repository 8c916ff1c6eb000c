"""Romanized Hindi, spelled any way: one loose form and one matching key for Latin and Devanagari words.

People write Hindi in Latin letters in many ways: standard schemes (ITRANS ``koriyA``, IAST ``koriyā``,
Hunterian ``koriya``) and phone-keyboard spellings with no rules (``korea``, ``saath``/``sath``,
``samjhauta``/``samjhota``). Both a typed Latin word and a Devanagari index word are brought to the same
loose form here, so that spelling variants land on the same key:

* :func:`fold_latin`: any romanization (ITRANS capitals and IAST diacritics included) in lower-case
  ASCII with the distinctions people drop merged: long and short vowels (aa/a, ee/i, oo/u), aspiration
  (kh/k, th/t), retroflex and dental (ट/त), sh/s, w/v, z/j, ph/f, doubled letters, nasal before a
  consonant (n/m), ai/e and au/o.
* :func:`devanagari_to_latin`: a Devanagari word's reading in Latin letters (inherent vowel written,
  final one silent), which :func:`fold_latin` then folds like any typed word.
* :func:`match_key`: the folded form without its ``a`` s. Whether a schwa is pronounced (and typed) is
  the least reliable part of a romanization (``samajhauta``/``samjhauta``, ``uttara``/``uttar``), and
  ``a``/``aa`` are already one letter.
* :func:`aksharas`: a Devanagari word as its written syllables, for an edit distance that counts a
  wrong matra as one edit, not as a broken character.

Pure functions, no state; everything that looks words up is in :mod:`search.understanding`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CONSONANTS = {
    "क": "k", "ख": "kh", "ग": "g", "घ": "gh", "ङ": "n", "च": "ch", "छ": "chh", "ज": "j", "झ": "jh",
    "ञ": "n", "ट": "t", "ठ": "th", "ड": "d", "ढ": "dh", "ण": "n", "त": "t", "थ": "th", "द": "d",
    "ध": "dh", "न": "n", "प": "p", "फ": "ph", "ब": "b", "भ": "bh", "म": "m", "य": "y", "र": "r",
    "ल": "l", "ळ": "l", "व": "v", "श": "sh", "ष": "sh", "स": "s", "ह": "h",
}
_WITH_NUKTA = {"क": "q", "ख": "kh", "ग": "g", "ज": "z", "ड": "r", "ढ": "rh", "फ": "f", "य": "y"}
#: Devanagari consonants and nukta letters in Latin letters (shared with search.expansion's sound keys).
CONSONANT_LETTERS, NUKTA_LETTERS = _CONSONANTS, _WITH_NUKTA
_VOWELS = {"अ": "a", "आ": "aa", "इ": "i", "ई": "ee", "उ": "u", "ऊ": "oo", "ऋ": "ri", "ए": "e", "ऐ": "ai",
           "ओ": "o", "औ": "au", "ऑ": "o", "ऍ": "e"}
_SIGNS = {"ा": "aa", "ि": "i", "ी": "ee", "ु": "u", "ू": "oo", "ृ": "ri", "े": "e", "ै": "ai", "ो": "o",
          "ौ": "au", "ॉ": "o", "ॅ": "e"}
_NASALS = {"ं": "n", "ँ": "n", "ः": "h"}
_VIRAMA, _NUKTA = "\u094d", "\u093c"
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")


@lru_cache(maxsize=262144)
def devanagari_to_latin(word: str) -> str:
    """A Devanagari word in Latin letters, as a Hindi speaker would say it: संधि -> "sandhi",
    उत्तर -> "uttar", समझौता -> "samajhautaa" (folding then merges what typists merge)."""
    chars = unicodedata.normalize("NFD", word).replace("ज्ञ", "ग्य")
    out: list[str] = []
    i = 0
    while i < len(chars):
        ch = chars[i]
        if ch in _CONSONANTS:
            if i + 1 < len(chars) and chars[i + 1] == _NUKTA:
                out.append(_WITH_NUKTA.get(ch, _CONSONANTS[ch]))
                i += 1
            else:
                out.append(_CONSONANTS[ch])
            following = chars[i + 1] if i + 1 < len(chars) else ""
            if following == _VIRAMA:
                i += 1
            elif following and following not in _SIGNS:
                out.append("a")  # the inherent vowel; silent at the end of a word
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])
        elif ch in _SIGNS:
            out.append(_SIGNS[ch])
        elif ch in _NASALS:
            out.append(_NASALS[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch.lower())
        else:
            digit = ch.translate(_DIGITS)
            if digit.isascii() and digit.isdigit():
                out.append(digit)
        i += 1
    return "".join(out)


# ITRANS / Harvard-Kyoto / Velthuis pieces whose case or punctuation carries meaning, before lower-casing.
_SCHEME_PIECES = [
    ("RRi", "ri"), ("RRI", "ri"), ("R^i", "ri"), ("LLi", "li"), ("~N", "n"), ("~n", "n"), ("j~n", "gy"),
    ("kSh", "ksh"), ("Sh", "sh"), ("shh", "sh"), ("Ch", "chh"), (".N", "n"), (".n", "n"), (".m", "n"),
    (".h", ""), (".a", ""), ("^", ""), ("M", "n"), ("H", "h"), ("A", "aa"), ("I", "ee"), ("U", "oo"),
    ("T", "t"), ("D", "d"), ("N", "n"), ("S", "sh"), ("z", "z"), ("G", "g"), ("J", "j"), ("L", "l"),
    ("x", "ksh"), ("R", "r"),
]
_SCHEME_RE = re.compile("|".join(re.escape(k) for k, _v in sorted(_SCHEME_PIECES, key=lambda p: -len(p[0]))))
_SCHEME_MAP = dict(_SCHEME_PIECES)
# IAST / ISO 15919 letters with diacritics that a plain accent strip would get wrong.
_DIACRITICS = {"ś": "sh", "ṣ": "sh", "ṃ": "n", "ṁ": "n", "ṅ": "n", "ñ": "n", "ṇ": "n", "ṛ": "ri",
               "ṝ": "ri", "ḷ": "li", "ḥ": "h", "ā": "aa", "ī": "ee", "ū": "oo", "ē": "e", "ō": "o",
               "Ś": "sh", "Ṣ": "sh", "Ā": "aa", "Ī": "ee", "Ū": "oo"}
# Loose-spelling merges, applied in order on lower-case ASCII.
_MERGES = [
    (re.compile(r"chh|ch"), "C"), (re.compile(r"c"), "k"), (re.compile(r"ksh|x"), "ks"),
    (re.compile(r"sh"), "s"), (re.compile(r"ph|f"), "f"), (re.compile(r"w"), "v"), (re.compile(r"z"), "j"),
    (re.compile(r"q"), "k"), (re.compile(r"([kgjtdpbC])h"), r"\1"),
    (re.compile(r"iy(?=a)|e(?=a)"), "i"),  # kiya/kia (किया), koriya/korea (कोरिया)
    (re.compile(r"ee|ii|ie|ey"), "i"), (re.compile(r"oo|uu"), "u"), (re.compile(r"aa"), "a"),
    (re.compile(r"ai|ei|ae|[ae]y(?![aeiou])"), "e"), (re.compile(r"au|ou|[ao]w(?![aeiou])"), "o"),
    (re.compile(r"([a-zC])\1+"), r"\1"), (re.compile(r"C"), "c"),
]
_NOT_LETTER = re.compile(r"[^a-z0-9]")


def has_scheme_marks(word: str) -> bool:
    """Whether a Latin word is written in a scheme with diacritics or inner capitals (IAST ``puṣṭi``,
    ITRANS ``koriyA``): nobody writes English that way, so the word is romanized Hindi."""
    if any(ord(ch) > 127 and unicodedata.category(ch).startswith("L") for ch in word):
        return True
    return bool(re.search(r"[a-z][A-Z]|[a-z]~|\.[hnNma]", word))


@lru_cache(maxsize=262144)
def fold_latin(word: str) -> str:
    """A romanized word in its loose form: ``koriyA``, ``koriyā``, ``Koriya`` -> "koriya";
    ``saath``/``sath`` -> "sat"; ``pushti`` -> "pusti"."""
    text = "".join(_DIACRITICS.get(ch, ch) for ch in word)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    if has_scheme_marks(word) or re.search(r"[a-z][A-Z]", text):
        text = _SCHEME_RE.sub(lambda m: _SCHEME_MAP[m.group()], text)
    text = _NOT_LETTER.sub("", text.lower())
    for pattern, replacement in _MERGES:
        text = pattern.sub(replacement, text)
    return text


def match_key(folded: str) -> str:
    """The key a folded word is looked up by: its letters without ``a`` (see the module notes)."""
    return folded.replace("a", "").replace("m", "n") or folded


@lru_cache(maxsize=262144)
def latin_key(word: str) -> str:
    return match_key(fold_latin(word))


@lru_cache(maxsize=262144)
def devanagari_key(word: str) -> str:
    return match_key(fold_latin(devanagari_to_latin(word)))


def deletes(key: str) -> set[str]:
    """The key with one letter left out, each way (a SymSpell-style neighbourhood of edit distance 1)."""
    return {key[:i] + key[i + 1:] for i in range(len(key))} if len(key) > 2 else set()


_AKSHARA = re.compile(
    r"(?:[\u0915-\u0939\u0958-\u095f]\u093c?\u094d)*[\u0915-\u0939\u0958-\u095f]\u093c?"
    r"[\u093e-\u094c\u0962\u0963]?[\u0900-\u0903]?"
    r"|[\u0904-\u0914\u0960\u0961\u0972-\u0977][\u0900-\u0903]?|.", re.S)


def aksharas(word: str) -> tuple[str, ...]:
    """A Devanagari word as written syllables: "प्रधानमंत्री" -> ("प्र", "धा", "न", "मं", "त्री")."""
    return tuple(_AKSHARA.findall(unicodedata.normalize("NFC", word)))


# ------------------------------------------------------------ reading queries

_MATRAS = re.compile(r"[\u093e-\u094c\u0900-\u0903]")


def akshara_distance(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Edit distance over aksharas; an akshara that differs only in its matra costs half."""
    from rapidfuzz.distance import Levenshtein

    dist = Levenshtein.distance(a, b)
    if dist and len(a) == len(b):
        diff = [(x, y) for x, y in zip(a, b) if x != y]
        if all(_MATRAS.sub("", x) == _MATRAS.sub("", y) for x, y in diff):
            return 0.5 * len(diff)
    return float(dist)


def plain_latin(word: str) -> str:
    """A Latin word in lower-case ASCII with its diacritics stripped (no loose merges)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", word.lower())
    return "".join(ch for ch in text if ch.isascii() and ch.isalpha())


def query_scheme(words: list[str]) -> str | None:
    """"iast" or "itrans" when some word of the query shows that scheme's marks, else None."""
    if any(any(ord(ch) > 127 for ch in w) for w in words):
        return "iast"
    if any(has_scheme_marks(w) for w in words):
        return "itrans"
    return None


@lru_cache(maxsize=65536)
def scheme_reading(word: str, scheme: str) -> str | None:
    """The word's exact transliteration into Devanagari in ``scheme`` (indic-transliteration), with a
    final virama (a schwa the scheme writes as dropped: ``uttar``) taken off; None if not Devanagari."""
    from indic_transliteration import sanscript

    source = sanscript.IAST if scheme == "iast" else sanscript.ITRANS
    out = sanscript.transliterate(word, source, sanscript.DEVANAGARI)
    if out.endswith("\u094d"):
        out = out[:-1]
    return out if re.fullmatch(r"[\u0900-\u097f]+", out) else None
