"""How readily the query reader "corrects" made-up words, by their length: what
``UnderstandingConfig.sure_length`` (:mod:`search.understanding`) is measured on.

    python -m bench.guesses                       # Latin: the English corrector alone
    python -m bench.guesses --index /tmp/xq       # and Devanagari, against that index's words

Made-up words that no word list holds are generated at random (seeded): Latin ones uniform over the
alphabet and *pronounceable* (consonants and vowels mostly alternating, like "zorp", "glibber",
"fnord"), Devanagari ones as consonant + matra aksharas. Each is read as a misspelling would be
(:meth:`Understander._english_correction`, :meth:`Understander._devanagari`), and the table gives the
share that comes back as a word one edit away, or any correction at all. A correction that nonsense
gets as often as not is no evidence that the user meant that word. (A bench: it calls the reader's
private correctors directly, to read each word as a misspelling whatever the rest of a query says.)
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from bench.common import report, table

VOWELS, CONSONANTS = "aeiou", "bcdfghjklmnprstvwyz"
DEVANAGARI_CONSONANTS = [chr(c) for c in range(0x915, 0x939)]
MATRAS = ["", "", "ा", "ि", "ी", "ु", "े", "ो", "ं"]


def pronounceable(rng: random.Random, n: int) -> str:
    """A made-up word of ``n`` letters that could be said: consonants and vowels mostly alternating."""
    out, consonant = [], rng.random() < 0.7
    while len(out) < n:
        out.append(rng.choice(CONSONANTS if consonant else VOWELS))
        consonant = not consonant if rng.random() < 0.8 else consonant
    return "".join(out)


def uniform(rng: random.Random, n: int) -> str:
    """``n`` letters drawn uniformly."""
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def latin_rates(reader, lengths, per_length: int, seed: int) -> list[list]:
    """Table rows: per kind and length, the share of made-up Latin words the English corrector reads as
    a word one edit away, and as any word."""
    from search.wordlists import zipf

    rows = []
    for kind, make in (("pronounceable", pronounceable), ("uniform", uniform)):
        rng = random.Random(seed)
        for n in lengths:
            tried = corrected = one_edit = 0
            while tried < per_length:
                word = make(rng, n)
                if zipf(word, "en") > 0:  # a real word: not made up
                    continue
                tried += 1
                fix = reader._english_correction(word)
                if fix is not None:
                    corrected += 1
                    one_edit += fix.confidence >= 0.85  # 1 - 0.15 per edit
            rows.append([f"Latin, {kind}", n, tried, f"{one_edit / tried:.2f}", f"{corrected / tried:.2f}"])
    return rows


def devanagari_rates(reader, lengths, per_length: int, seed: int) -> list[list]:
    """Table rows: per length in aksharas, the share of made-up Devanagari words read as an index word
    one akshara edit away, and as any."""
    from search.transliteration import akshara_distance, aksharas

    rng = random.Random(seed)
    rows = []
    for n in lengths:
        tried = corrected = one_edit = 0
        while tried < per_length:
            word = "".join(rng.choice(DEVANAGARI_CONSONANTS) + rng.choice(MATRAS) for _ in range(n))
            reading = reader._devanagari(word, False)
            if reading.typed == "word":  # a word the index or Hindi knows
                continue
            tried += 1
            if reading.kind == "corrected":
                corrected += 1
                one_edit += akshara_distance(aksharas(word), aksharas(reading.text)) <= 1
        rows.append(["Devanagari", n, tried, f"{one_edit / tried:.2f}", f"{corrected / tried:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="an index whose words Devanagari corrections come from")
    parser.add_argument("-n", "--per-length", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-report", action="store_true", help="print, do not append to bench/results")
    args = parser.parse_args()
    from search.understanding import Understander

    reader = Understander([], lambda _t: False)
    rows = latin_rates(reader, range(3, 10), args.per_length, args.seed)
    notes = [f"UnderstandingConfig.sure_length (search/understanding.py): {dict(reader.config.sure_length)}",
             "one edit: made-up words read as a word one edit away; any: read as any word (two edits "
             "from 7 letters)"]
    if args.index:
        from search.service import SearchService
        from search.settings import Settings

        service = SearchService.open(args.index, Settings.from_env())
        rows += devanagari_rates(service._understander(service._data), range(2, 8), args.per_length, args.seed)
        notes.append(f"Devanagari corrections: the words of {args.index} "
                     f"({service.manifest.get('counts', {}).get('documents', 0):,} documents)")
    body = table(["made-up words", "length", "tried", "corrected, one edit", "corrected, any"], rows)
    if args.no_report:
        print(body)
    else:
        report("matching", "How readily made-up words are corrected, by length", body, notes)


if __name__ == "__main__":
    main()
