"""The dev questions typed the way people type them: romanized Hindi and misspellings.

Writes ``tests/data/typed/*.tsv`` (``qid<TAB>question``, the same qids as the clean dev questions, so
the clean qrels score them) from the XQuAD dev split in ``tests/data/xquad``::

    python -m bench.typed_queries            # rewrite every set (deterministic: same bytes each run)

Sets:

* ``hi_itrans``: a standard scheme, ITRANS (indic-transliteration), with its final schwa dropped as
  Hindi is pronounced (``uttara`` -> ``uttar``) and its capitals kept (``koriyA``, ``puShTi``).
* ``hi_iast``: IAST with its diacritics (``koriyā``, ``puṣṭi``).
* ``hi_loose``: a loose phone-keyboard style, lower case and no diacritics: schwa dropped at the end
  and mostly inside words (``samajhautA`` -> ``samjhauta``), long vowels written either way
  (aa/a, ee/i, oo/u), w/v and sh/s mixed, nasals as n or m, nuktas dropped.
* ``hi_typos`` / ``en_typos``: about every other word of 4+ characters has one typo (swap, drop,
  double, a neighbouring key, and for Hindi a wrong matra).

Every choice comes from a random generator seeded by the qid, so each set is stable and a question's
variants do not depend on the others.
"""

from __future__ import annotations

import argparse
import random
import re
import unicodedata
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "data" / "xquad"
OUT = ROOT / "tests" / "data" / "typed"
TYPO_SHARE = 0.5  # share of the words of 4+ characters that get a typo

_VOWELS = "aeiouAEIOU"
_QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS = {}
for _r, _row in enumerate(_QWERTY):
    for _c, _ch in enumerate(_row):
        _near = [_row[_c + d] for d in (-1, 1) if 0 <= _c + d < len(_row)]
        _near += [_QWERTY[_r + d][_c] for d in (-1, 1) if 0 <= _r + d < 3 and _c < len(_QWERTY[_r + d])]
        _NEIGHBOURS[_ch] = _near
# Matras people confuse, and consonants next to each other on the InScript keyboard or in sound.
_MATRA_SWAPS = {"ि": "ी", "ी": "ि", "ु": "ू", "ू": "ु", "े": "ै", "ै": "े", "ो": "ौ", "ौ": "ो", "ा": ""}
_HINDI_NEAR = {"त": "ट", "ट": "त", "द": "ड", "ड": "द", "स": "श", "श": "स", "ब": "भ", "भ": "ब", "न": "ण",
               "क": "ख", "ग": "घ", "ज": "झ", "प": "फ", "र": "ड़", "व": "ब", "ष": "श"}


def rng_for(qid: str, salt: str) -> random.Random:
    return random.Random(zlib.crc32(f"{salt}:{qid}".encode()))


def _itrans_words(text: str) -> str:
    from indic_transliteration import sanscript

    text = text.replace("ऑ", "ओ").replace("ॉ", "ो").replace("ॅ", "े").replace("ऍ", "ए")
    return sanscript.transliterate(text, sanscript.DEVANAGARI, sanscript.ITRANS)


def _drop_final_schwa(word: str) -> str:
    # uttara -> uttar, but not after a conjunct-final cluster that needs it (mitra) or a short word (na)
    if len(word) > 3 and word.endswith("a") and not word.endswith(("aa", "A")) and word[-2] not in _VOWELS:
        if not re.search(r"[^aeiouAEIOU][^aeiouAEIOU]a$", word) or word.endswith(("ha", "Sha")):
            return word[:-1]
    return word


def itrans(text: str) -> str:
    return re.sub(r"[A-Za-z~.^]+", lambda m: _drop_final_schwa(m.group()), _itrans_words(text))


def iast(text: str) -> str:
    from indic_transliteration import sanscript

    text = text.replace("ऑ", "ओ").replace("ॉ", "ो").replace("ॅ", "े").replace("ऍ", "ए")
    out = sanscript.transliterate(text, sanscript.DEVANAGARI, sanscript.IAST)
    return re.sub(r"[^\W\d_]+", lambda m: _drop_final_schwa(m.group()), out)


# ITRANS pieces -> loose spellings (each a list of choices; the first is the most common)
_LOOSE = [
    ("RRi", ["ri"]), ("~N", ["n"]), ("~n", ["n"]), ("Ch", ["chh", "ch"]), ("chh", ["chh", "ch"]),
    ("Sh", ["sh", "s"]), ("sh", ["sh", "s"]), ("kSh", ["ksh", "x"]), ("j~n", ["gy", "gya"]),
    ("A", ["aa", "a", "a"]), ("I", ["ee", "i", "i"]), ("U", ["oo", "u", "u"]), ("ii", ["ee", "i"]),
    ("uu", ["oo", "u"]), ("aa", ["aa", "a"]), ("T", ["t"]), ("D", ["d"]), ("N", ["n"]), ("M", ["n", "m"]),
    (".N", ["n"]), (".n", ["n"]), (".h", [""]), ("^", [""]), (".a", [""]), ("H", ["h"]), ("L", ["l"]),
    ("K", ["kh"]), ("G", ["gh"]), ("J", ["z"]), ("q", ["k", "q"]), ("v", ["v", "w"]), ("w", ["w", "v"]),
    ("R", ["r"]), ("x", ["ksh"]), ("z", ["z", "j"]), ("f", ["f", "ph"]), ("Y", ["y"]),
]
_LOOSE.sort(key=lambda item: -len(item[0]))
_LOOSE_RE = re.compile("|".join(re.escape(k) for k, _v in _LOOSE))
_LOOSE_MAP = dict(_LOOSE)


def _loose_word(word: str, rng: random.Random) -> str:
    word = _drop_final_schwa(word)
    # medial schwa: "samajhautA" -> "samjhauta" (a between consonants, after a vowel-consonant)
    chars = list(word)
    for i in range(2, len(chars) - 2):
        if (chars[i] == "a" and chars[i - 1] not in _VOWELS and chars[i - 2] in _VOWELS
                and chars[i + 1] not in _VOWELS and chars[i + 2] in _VOWELS and rng.random() < 0.8):
            chars[i] = ""
    word = "".join(chars)
    out = _LOOSE_RE.sub(lambda m: rng.choice(_LOOSE_MAP[m.group()]), word)
    return out.lower()


def loose(text: str, rng: random.Random) -> str:
    return re.sub(r"[A-Za-z~.^]+", lambda m: _loose_word(m.group(), rng), _itrans_words(text))


def _typo_latin(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "near"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    near = _NEIGHBOURS.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1:] if near else word[:i] + word[i + 1:]


def _typo_hindi(word: str, rng: random.Random) -> str:
    chars = list(word)
    op = rng.choice(("matra", "matra", "swap", "drop", "double", "near"))
    matras = [i for i, c in enumerate(chars) if c in _MATRA_SWAPS]
    if op == "matra" and matras:
        i = rng.choice(matras)
        chars[i] = _MATRA_SWAPS[chars[i]]
        return "".join(chars)
    i = rng.randrange(len(chars) - 1)
    if op == "swap":
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    elif op == "drop" or (op == "matra" and not matras):
        del chars[i]
    elif op == "double":
        chars.insert(i, chars[i])
    else:
        near = [j for j, c in enumerate(chars) if c in _HINDI_NEAR]
        if not near:
            del chars[i]
        else:
            j = rng.choice(near)
            chars[j] = _HINDI_NEAR[chars[j]]
    return "".join(chars)


def typos(text: str, rng: random.Random, hindi: bool) -> str:
    def one(m: re.Match) -> str:
        word = m.group()
        if len(word) < 4 or rng.random() >= TYPO_SHARE:
            return word
        return _typo_hindi(word, rng) if hindi else _typo_latin(word, rng)

    pattern = r"[\u0900-\u097f]+" if hindi else r"[A-Za-z]+"
    return unicodedata.normalize("NFC", re.sub(pattern, one, text))


def read_topics(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in path.read_text("utf-8").splitlines() if line.strip()]


def make_sets(source: Path = SOURCE) -> dict[str, list[tuple[str, str]]]:
    hi = read_topics(source / "xquad_hi_queries.dev.tsv")
    en = read_topics(source / "xquad_en_queries.dev.tsv")
    return {
        "hi_itrans": [(q, itrans(t)) for q, t in hi],
        "hi_iast": [(q, iast(t)) for q, t in hi],
        "hi_loose": [(q, loose(t, rng_for(q, "loose"))) for q, t in hi],
        "hi_typos": [(q, typos(t, rng_for(q, "typo"), hindi=True)) for q, t in hi],
        "en_typos": [(q, typos(t, rng_for(q, "typo"), hindi=False)) for q, t in en],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in make_sets().items():
        path = args.out / f"{name}.tsv"
        path.write_text("".join(f"{q}\t{t}\n" for q, t in rows), "utf-8")
        print(f"{path}: {len(rows)} questions")


if __name__ == "__main__":
    main()
