"""Deterministic synthetic Hindi news corpus: real sentences recombined into N dated, titled documents.

Sentences come from ``seeds/`` and the XQuAD Hindi paragraphs (``bench/data``). A plain recombination has a
fixed vocabulary (a few thousand terms), so posting lists would grow without bound as N grows; real news
vocabulary grows roughly as Heaps' law (V ≈ K·N^β). We imitate that by swapping a fraction of the content
words for words from a Hindi word list (Debian's hunspell-hi, read at run time), drawn from a pool whose size
grows as √N (about 500·√N words: ~16k at 1k documents, ~50k at 10k, ~110k at 50k) with a power-law
preference for the pool's head. Past the word list's ~13k entries, pool words are compounds of two list
words (as Hindi names and compounds are), so the vocabulary keeps growing.

    python -m bench.corpus 10000 -o /tmp/bench-10k.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HUNSPELL = Path("/usr/share/hunspell/hi_IN.dic")
SEED = 20240607
SWAP_RATE = 0.12  # share of content words replaced by word-list words
_SENT = re.compile(r"[^।॥?!]+[।॥?!]?")
_DEV_WORD = re.compile(r"^[\u0900-\u097F]{3,}$")


def source_sentences() -> list[str]:
    """Every sentence (≥ 5 words) of the seeds and the XQuAD paragraphs, in a fixed order."""
    texts = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        lines = path.read_text("utf-8").splitlines()
        texts.append(" ".join(lines[1:]))  # the first line is the headline
    with open(DATA / "xquad_hi_paragraphs.jsonl", encoding="utf-8") as handle:
        texts += [json.loads(line)["text"] for line in handle if line.strip()]
    out = []
    for text in texts:
        for match in _SENT.finditer(text):
            sentence = " ".join(match.group(0).split())
            if len(sentence.split()) >= 5:
                out.append(sentence)
    return out


def word_list() -> list[str]:
    """Devanagari words of the hunspell dictionary in a fixed pseudo-random order ([] if absent)."""
    if not HUNSPELL.is_file():
        return []
    words = []
    for line in HUNSPELL.read_text("utf-8", errors="replace").splitlines()[1:]:
        word = line.split("/")[0].strip()
        if _DEV_WORD.match(word):
            words.append(word)
    words = sorted(set(words))
    random.Random(SEED).shuffle(words)
    return words


def generate(n: int, words_per_doc: int = 150, seed: int = SEED):
    """Yield ``n`` documents as dicts (id, title, date, source, text, lang); same ``n`` and seed, same output."""
    rng = random.Random(seed)
    sentences = source_sentences()
    pool = word_list()
    if not pool:
        raise SystemExit(f"bench: no Hindi word list at {HUNSPELL}: without it the vocabulary would not grow "
                         f"with N and the corpus would not be the one in bench/results; install it with "
                         f"`sudo apt-get install hunspell-hi`")
    pool_size = int(500 * math.sqrt(n))

    def pool_word(u: float) -> str:
        j = int(pool_size * u ** 2.5)  # P(index < x) = (x / pool_size) ** 0.4: a long head, a real tail
        if j < len(pool):
            return pool[j]
        return pool[j % len(pool)] + pool[(j // len(pool) * 7919) % len(pool)]

    start = dt.date(2019, 1, 1)
    for i in range(n):
        body: list[str] = []
        count = 0
        while count < words_per_doc:
            words = [pool_word(rng.random())
                     if len(w) >= 4 and rng.random() < SWAP_RATE and _DEV_WORD.match(w) else w
                     for w in rng.choice(sentences).split()]
            body.append(" ".join(words))
            count += len(words)
        title = " ".join(body[0].split()[:8]).rstrip("।,")
        yield {"id": f"bench-{i:06d}", "title": title, "date": (start + dt.timedelta(days=rng.randrange(2000))).isoformat(),
               "source": "bench", "lang": "hi", "text": " ".join(body)}


def write(n: int, path: Path, seed: int = SEED) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        for doc in generate(n, seed=seed):
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return path


def vocabulary_size(path: Path) -> int:
    from search.analysis import analyze

    terms: set[str] = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            terms.update(analyze(json.loads(line)["text"]))
    return len(terms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--vocab", action="store_true", help="also print the number of distinct index terms")
    args = parser.parse_args()
    write(args.n, args.output)
    print(f"wrote {args.n} documents to {args.output}")
    if args.vocab:
        print(f"distinct index terms: {vocabulary_size(args.output)}")


if __name__ == "__main__":
    main()
