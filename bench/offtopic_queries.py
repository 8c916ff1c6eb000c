"""Off-topic and nonsense queries against the XQuAD Hindi dev corpus, for honest matching.

Writes ``tests/data/offtopic/queries.tsv`` (``qid<TAB>set<TAB>kind<TAB>query``)::

    python -m bench.offtopic_queries          # deterministic: the same bytes every run

The corpus (``tests/data/xquad/xquad_hi_corpus.jsonl``) holds 48 Wikipedia articles: Super Bowl 50,
Warsaw, the Normans, Tesla, complexity theory, teaching, Luther, southern California, BSkyB, Victoria,
the Huguenots, steam engines, oxygen, the 1973 oil crisis, Apollo, EU law, the Amazon, ctenophores,
Fresno, packet switching, the Black Death, geology, Newcastle, the V&A, ABC, Genghis Khan, pharmacy,
the immune system, civil disobedience, construction, private schools, Harvard, Jacksonville, economic
inequality, Doctor Who, Chicago university, the Yuan dynasty, Kenya, the IPCC, chloroplasts, primes,
the Rhine, the Scottish Parliament, Islamism, imperialism, Methodism, the French and Indian War and
force in physics. The queries below ask about everyday things none of those answer (cooking, shopping,
weather, films, cricket, phones, beauty), in English, Hindi and romanized Hindi, plus keyboard mash,
punctuation and nonsense words.

Two sets, written separately and never mixed:

* set ``1``: the 50 queries the issue asks for;
* set ``2``: 40 more, only to check that a rule chosen while looking at set 1 carries over (the
  matching rule itself is calibrated with :data:`search.matching.PROBES`, which is neither).

Curated lists plus keyboard mash from a ``random.Random`` with a fixed seed.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "offtopic" / "queries.tsv"
SEED = 18

SET1 = {
    "en": [
        "chocolate cake recipe", "how to bake sourdough bread at home", "best smartphone under 20000 rupees",
        "weather forecast for Mumbai tomorrow", "IPL 2024 final score", "how to learn guitar chords",
        "cheap flights to Goa", "how to train a puppy", "yoga poses for beginners",
        "Bollywood movie box office collection", "how to remove coffee stains from a carpet",
        "knitting pattern for a wool scarf", "best pizza toppings",
    ],
    "hi": [
        "पनीर बटर मसाला बनाने की विधि", "आज दिल्ली का मौसम कैसा रहेगा", "सबसे सस्ता मोबाइल फोन कौन सा है",
        "बॉलीवुड की नई फिल्में", "क्रिकेट मैच का स्कोर", "मेहंदी के डिज़ाइन", "गाजर का हलवा कैसे बनाएं",
        "बालों का झड़ना कैसे रोकें", "शादी के लिए लहंगा", "दिवाली पर रंगोली",
    ],
    "romanized": [
        "paneer butter masala recipe", "aaj ka mausam kaisa hai", "sasta mobile phone kaun sa hai",
        "gajar ka halwa kaise banaye", "baal jhadna kaise roke", "shaadi ke liye lehenga",
        "bollywood ke naye gaane", "chai banane ka tarika", "diwali rangoli design",
    ],
    "nonsense": ["xyzzy qwertyuiop", "blorf snizzle wump", "lorem ipsum dolor sit amet", "ककककक खखख",
                 "zorp glibber fnord"],
    "punct": ["!!!", "???", "...", "@#$%^&*"],
}
SET2 = {
    "en": [
        "how to make masala dosa", "best laptop for gaming", "vegan protein sources", "how to tie a tie",
        "how do I reset my wifi router password", "crossword puzzle answers today", "download instagram reels",
        "tomato plant yellow leaves", "gym workout plan for beginners", "lipstick shades for dark skin",
    ],
    "hi": [
        "नींबू पानी के फायदे", "मोटापा कम करने के उपाय", "होली की शुभकामनाएं", "ऑनलाइन शॉपिंग पर छूट",
        "सर्दियों में त्वचा की देखभाल", "बच्चों के लिए लोरी", "घर पर पिज़्ज़ा कैसे बनाएं", "पुराने गानों की प्लेलिस्ट",
    ],
    "romanized": [
        "kal ka match kisne jeeta", "mera phone charge nahi ho raha", "sabse achhi biryani kahan milti hai",
        "pyaar ki shayari", "aloo paratha kaise banate hain", "nayi web series kaunsi dekhein",
    ],
    "nonsense": ["wibble wobble flimflam", "ठठठठ ढढढ", "quux frobnicate"],
    "punct": ["&&&", "???!!!", "-- -- --"],
}
_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
_DEVANAGARI_KEYS = "कखगघचछजझटठडढतथदधनपफबभमयरलवशसह"


def mash(rng: random.Random, devanagari: bool = False) -> str:
    """One or two words of keyboard mash: a run along a keyboard row, or random keys."""
    words = []
    for _ in range(rng.choice((1, 2))):
        n = rng.randint(4, 9)
        if devanagari:
            words.append("".join(rng.choice(_DEVANAGARI_KEYS) for _ in range(n)))
        elif rng.random() < 0.5:
            row = rng.choice(_ROWS)
            start = rng.randint(0, max(0, len(row) - n))
            words.append(row[start:start + n])
        else:
            words.append("".join(rng.choice("".join(_ROWS)) for _ in range(n)))
    return " ".join(words)


def build() -> list[tuple[str, str, str, str]]:
    """(qid, set, kind, query) rows: set 1 then set 2, each topped up with keyboard mash."""
    rng = random.Random(SEED)
    rows: list[tuple[str, str, str, str]] = []
    for name, table, total in (("1", SET1, 50), ("2", SET2, 40)):
        queries = [(kind, q) for kind, items in table.items() for q in items]
        while len(queries) < total:
            queries.append(("mash", mash(rng, devanagari=len(queries) % 3 == 0)))
        rows += [(f"off{name}-{i:02d}", name, kind, q) for i, (kind, q) in enumerate(queries, start=1)]
    return rows


def read(path: Path = OUT, which: str | None = None) -> list[tuple[str, str, str, str]]:
    """The rows of ``path``, only set ``which`` when given."""
    rows = [tuple(line.split("\t", 3)) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [r for r in rows if which is None or r[1] == which]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join("\t".join(r) + "\n" for r in rows), "utf-8")
    for name in ("1", "2"):
        kinds: dict[str, int] = {}
        for _q, s, kind, _t in rows:
            if s == name:
                kinds[kind] = kinds.get(kind, 0) + 1
        print(f"set {name}: {sum(kinds.values())} queries ({', '.join(f'{k} {n}' for k, n in kinds.items())})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
