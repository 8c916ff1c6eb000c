"""The English–Hindi dictionary, read at run time: FreeDict (GPL-2+, Debian's ``dict-freedict-eng-hin``)
in dictd format (an ``.index`` of base-64 offsets beside a ``.dict`` or dictzip ``.dict.dz``), from
``settings.dict_path`` (``SANGAM_DICT``); never copied into this repository."""

from __future__ import annotations

import gzip
import re
import threading
import zlib
from pathlib import Path

from .analysis import stem

#: Entries' senses remembered (the dictionary's headwords looked up by queries).
_CACHE_WORDS = 4096

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_SENSE = re.compile(r"^\s*\d+\.\s*(.*?)\s*$")
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_DEVANAGARI = re.compile(r"[\u0900-\u097f]")
# Spellings the dictionary may list under the other variety of English.
_SPELLINGS = ((re.compile(r"ense$"), "ence"), (re.compile(r"ence$"), "ense"), (re.compile(r"or$"), "our"),
              (re.compile(r"our$"), "or"), (re.compile(r"ize$"), "ise"), (re.compile(r"ise$"), "ize"),
              (re.compile(r"er$"), "re"), (re.compile(r"re$"), "er"))


def decode_b64(text: str) -> int:
    """A dictd index number: base 64, most significant digit first, alphabet ``A-Za-z0-9+/``."""
    if not text:
        raise ValueError("empty number")
    value = 0
    for ch in text:
        digit = _B64.get(ch)
        if digit is None:
            raise ValueError(f"{text!r} is not a dictd number")
        value = value * 64 + digit
    return value


def parse_entry(text: str) -> list[list[str]]:
    """The Hindi senses of one FreeDict entry, each a list of phrases (``~`` becomes a space).

    An entry is a headword line (``treaty /tɹˈiːti/ <N>``), then numbered senses
    (``1. संधि``, ``1. दृढ़ीकरण, पुष्टीकरण``) each followed by quoted example sentences.
    Bracketed alternatives and phrases without Devanagari (``?``) are dropped.
    """
    senses = []
    for line in text.split("\n")[1:]:
        match = _SENSE.match(line)
        if not match:
            continue
        phrases = []
        for part in match.group(1).split(","):
            part = " ".join(_BRACKETED.sub(" ", part).replace("~", " ").split())
            if _DEVANAGARI.search(part):
                phrases.append(part)
        if phrases:
            senses.append(phrases)
    return senses


class Dictionary:
    """An English→Hindi dictd dictionary held in memory: the ``.index`` parsed, the ``.dict.dz`` inflated.

    Corrupt index lines and entries are skipped (and counted in ``skipped``), never fatal.
    """

    def __init__(self, path: Path, offsets: dict[str, list[tuple[int, int]]], data: bytes, skipped: int):
        self.path = path
        self._offsets = offsets
        self._data = data
        self.skipped = skipped
        self._by_stem: dict[str, list[str]] = {}
        for headword in offsets:
            if " " not in headword:
                self._by_stem.setdefault(stem(headword), []).append(headword)
        self._cache: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_path: str | Path) -> "Dictionary":
        """Read ``NAME.index`` and ``NAME.dict.dz`` (or ``NAME.dict``); ``OSError`` if they cannot be read."""
        index_path = Path(index_path)
        base = str(index_path)[:-len(".index")] if index_path.suffix == ".index" else str(index_path)
        with open(index_path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split("\n")
        dz, plain = Path(base + ".dict.dz"), Path(base + ".dict")
        try:
            if dz.is_file():
                # dictzip is gzip with a random-access table in an extra field: gzip reads it whole.
                data = gzip.decompress(dz.read_bytes())
            else:
                data = plain.read_bytes()
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise OSError(f"cannot inflate {dz}: {err}") from None
        offsets: dict[str, list[tuple[int, int]]] = {}
        skipped = 0
        for line in lines:
            if not line.strip():
                continue
            fields = line.split("\t")
            try:
                if len(fields) != 3:
                    raise ValueError(line)
                start, length = decode_b64(fields[1]), decode_b64(fields[2])
            except ValueError:
                skipped += 1
                continue
            headword = fields[0].strip().lower()
            if headword.startswith("00database"):  # dictd's own metadata, not a word
                continue
            if not headword or start + length > len(data):
                skipped += 1
                continue
            offsets.setdefault(headword, []).append((start, length))
        return cls(index_path, offsets, data, skipped)

    def __len__(self) -> int:
        return len(self._offsets)

    def __iter__(self):
        """The headwords (lower case)."""
        return iter(self._offsets)

    def __contains__(self, headword: str) -> bool:
        return headword in self._offsets

    def headwords(self, word: str) -> list[str]:
        """The headwords to look ``word`` up under: itself, else a spelling variant, else its stem's."""
        word = word.lower()
        if word in self._offsets:
            return [word]
        for variant in spelling_variants(word):
            if variant in self._offsets:
                return [variant]
        return sorted(self._by_stem.get(stem(word), ()))[:3]

    def senses(self, headword: str) -> tuple[tuple[str, ...], ...]:
        """The Hindi senses listed under ``headword``, all its entries together, first sense first."""
        with self._lock:
            cached = self._cache.get(headword)
        if cached is not None:
            return cached
        senses: list[tuple[str, ...]] = []
        for start, length in self._offsets.get(headword, ()):
            try:
                text = self._data[start:start + length].decode("utf-8")
            except UnicodeDecodeError:
                continue  # a corrupt entry: skip it
            senses += [tuple(s) for s in parse_entry(text)]
        result = tuple(senses)
        with self._lock:
            if len(self._cache) >= _CACHE_WORDS:
                self._cache.clear()
            self._cache[headword] = result
        return result


def spelling_variants(word: str) -> list[str]:
    """The word in the other variety of English's spelling, where a rule applies (defense -> defence,
    color -> colour, organize -> organise, center -> centre)."""
    out: list[str] = []
    for pattern, replacement in _SPELLINGS:
        variant = pattern.sub(replacement, word)
        if variant != word and variant not in out:
            out.append(variant)
    return out
