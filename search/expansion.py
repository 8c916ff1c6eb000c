"""Cross-lingual query expansion: English query words become weighted Hindi terms the index contains.

BM25 over Hindi text cannot match English words, so an English (or mixed) query is also searched
with Hindi index terms found two ways:

* **The embedding model.** At index time :func:`build_vocabulary` embeds the index's Devanagari
  vocabulary: one representative surface word (the most frequent spelling) per analysed term,
  the most frequent terms first, at most :data:`VOCAB_LIMIT`. At query time each English content
  word is embedded (cached per word; looked up in the English lexicon, :func:`ensure_lexicon`,
  embedded once per model, where "defense" is found as "defence"; a hybrid search embeds the rest
  in the query's own model pass, see
  ``Embedder.encode_query_with_words``) and mapped to its nearest index terms
  that are very similar, stand out from its other neighbours, or sound like it. This finds
  translations (minister → मंत्री) and, usefully for news, transliterated names
  (Belousov → बेलौसोव).
* **A bilingual dictionary**, when installed: FreeDict English–Hindi (GPL-2+, Debian's
  ``dict-freedict-eng-hin``) in dictd format, read at run time from ``settings.dict_path``
  (``SANGAM_DICT``) and never copied into this repository. It knows words the model misses
  (treaty → संधि, defence → रक्षा).

Dictionary translations are analysed with the index's own analyzer (normalisation, stopwords,
stemming), and from both sources only terms the index contains are kept, so every expansion
term can match. Files written into an index generation (see :mod:`search.storage`)::

    vocab.jsonl   one line per Devanagari index term, most frequent first:
                  {"term": analysed term, "surface": word embedded for it,
                   "df": passages containing it, "row": its row in vocab.npy or null}
    vocab.npy     float32 [rows, dim], L2-normalised embeddings of the surfaces (passage prompt)
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import re
import threading
import time
import unicodedata
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Collection, Iterable, Mapping

import numpy as np

from . import storage
from .analysis import ENGLISH_STOPWORDS, analyze, stem, tokens_with_offsets
from .transliteration import CONSONANT_LETTERS, NUKTA_LETTERS

Log = Callable[[str], None]

# Index time. Embedding every term (df >= 1: 4,801 on XQuAD) beats df >= 2 (2,461) on dev, English
# nDCG@10 hybrid 0.955 vs 0.947, BM25 0.840 vs 0.802: names, which expansion finds best, are rare.
#: Terms in fewer passages are not embedded (they are still kept for dictionary matches).
VOCAB_MIN_DF = 1
#: At most this many index terms are embedded (the most frequent): ~100 words/s on 2 CPU cores.
VOCAB_LIMIT = 20000
#: Surface words per embedding call at index time: they are a few tokens long.
VOCAB_BATCH = 256

# Query time, tuned on the XQuAD dev split. English questions, nDCG@10 hybrid / BM25: model and
# dictionary 0.955 / 0.840; model only 0.947 / 0.789; dictionary only 0.940 / 0.527; any neighbour
# above 0.87 (no lead or sound test) 0.947 / 0.842, but then every made-up word is expanded
# (315 of 315 tried; 27 with the tests below).
#: A model neighbour needs at least this cosine similarity to the English word, and then ...
MIN_SIMILARITY = 0.86
#: ... this much to count as a translation outright, ...
SEMANTIC_SIMILARITY = 0.95
#: ... or to lead the mean similarity of the word's other nearest terms by this much, ...
MIN_LEAD = 0.025
#: ... or to sound like the word this much (:func:`sounds_alike`; 1.0: same consonant classes).
SOUND_MATCH = 1.0
#: Nearest terms examined per word (the first leads the other ten).
CANDIDATES = 11
#: Model neighbours kept per English word.
NEIGHBOURS = 2
#: Similarity that maps to weight 1.0; ``MIN_SIMILARITY`` maps to :data:`MIN_WEIGHT`.
FULL_SIMILARITY = 0.92
MIN_WEIGHT = 0.3
#: Weight of a dictionary translation. Only an entry's first sense is used: later ones are other
#: parts of speech or rare uses (minister -> सेवा करना, "to minister to"); dev agrees.
DICTIONARY_WEIGHT = 0.7
#: A translation the index lacks that is a Hindi noun of action in "-ीकरण" (पुष्टीकरण, "ratification";
#: दृढ़ीकरण, "consolidation") is looked for by its base (पुष्टि, दृढ़) at this share of its weight.
ACTION_BASE_SHARE = 0.8
#: Expansion terms returned per query, best first.
MAX_TERMS = 16
#: A query's first this many content words are expanded; the rest are searched as typed. It bounds a
#: query's cost: each word not met before is embedded (a 150-word query of new words took 25 s).
MAX_QUERY_WORDS = 24

# Words that carry no topic in a question ("How many ...", "What kind of ...").
_QUERY_STOPWORDS = frozenset("""
many much kind type name named called did does do done also whose one ones first
""".split())
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_CACHE_WORDS = 4096


# ------------------------------------------------------------------ dictionary

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
        for pattern, replacement in _SPELLINGS:
            variant = pattern.sub(replacement, word)
            if variant != word and variant in self._offsets:
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


# ------------------------------------------------------------------ vocabulary (index time)

@dataclass(frozen=True)
class Vocabulary:
    """What :func:`build_vocabulary` wrote: every term, most frequent first; vectors for the first ones."""

    terms: list[str]
    surfaces: list[str]
    df: list[int]
    vectors: np.ndarray  # float32 [embedded, dim]; row i belongs to terms[i]


def count_terms(passages: Iterable[dict]) -> tuple[collections.Counter, dict[str, str]]:
    """Passage frequency of every Devanagari index term and its most frequent surface word."""
    df: collections.Counter = collections.Counter()
    forms: dict[str, collections.Counter] = {}
    for p in passages:
        seen = set()
        for text in (p.get("title") or "", p.get("text") or ""):
            for term, start, end in tokens_with_offsets(text):
                if not _is_devanagari_term(term):
                    continue
                seen.add(term)
                counter = forms.get(term)
                if counter is None:
                    counter = forms[term] = collections.Counter()
                counter[text[start:end]] += 1
        df.update(seen)
    return df, {t: c.most_common(1)[0][0] for t, c in forms.items()}


def build_vocabulary(gen: Path, embedder, settings, log: Log = lambda _m: None) -> Vocabulary | None:
    """Write ``vocab.jsonl`` and ``vocab.npy`` into the generation ``gen`` (its passages already written).

    Vectors of surfaces embedded by the live build with the same model are reused, so an
    incremental update embeds only new words. Skipped when ``settings.expansion`` is off.
    """
    if not settings.expansion:
        log("Query expansion is off: no vocabulary written")
        return None
    t0 = time.perf_counter()
    df, surfaces = count_terms(storage.read_jsonl(gen / storage.PASSAGES))
    terms = sorted(df, key=lambda t: (-df[t], t))
    embedded = [t for t in terms if df[t] >= VOCAB_MIN_DF][:VOCAB_LIMIT]
    texts = [surfaces[t] for t in embedded]
    vectors = np.zeros((len(texts), embedder.dim), np.float32)
    previous = _previous_vectors(gen, embedder)
    todo = [i for i, s in enumerate(texts) if s not in previous]
    for i, s in enumerate(texts):
        if s in previous:
            vectors[i] = previous[s]
    if todo:
        vectors[todo] = embedder.encode_passages([texts[i] for i in todo], batch_size=VOCAB_BATCH)
    rows = {t: i for i, t in enumerate(embedded)}
    storage.write_jsonl(gen / storage.VOCAB, (
        {"term": t, "surface": surfaces[t], "df": df[t], "row": rows.get(t)} for t in terms))
    np.save(gen / storage.VOCAB_VECTORS, vectors)
    log(f"Embedded {len(todo)} index terms for query expansion (reused {len(texts) - len(todo)}, "
        f"{len(terms)} terms in all) in {time.perf_counter() - t0:.1f}s")
    return Vocabulary(terms, [surfaces[t] for t in terms], [df[t] for t in terms], vectors)


def _previous_vectors(gen: Path, embedder) -> dict[str, np.ndarray]:
    """Surface → vector from the live generation beside ``gen``, when the same model built it."""
    try:
        live = storage.live_generation(gen.parent)
        if live == gen or storage.read_manifest(live)["model"] != embedder.describe():
            return {}
        rows = storage.read_jsonl(live / storage.VOCAB)
        vectors = np.load(live / storage.VOCAB_VECTORS)
    except Exception:  # noqa: BLE001 - no usable previous vocabulary: embed everything
        return {}
    if vectors.ndim != 2 or vectors.shape[1] != embedder.dim:
        return {}
    return {r["surface"]: vectors[r["row"]] for r in rows
            if r.get("row") is not None and 0 <= r["row"] < len(vectors)}


def _is_devanagari_term(term: str) -> bool:
    return bool(term) and "\u0900" <= term[0] <= "\u097f"


# ------------------------------------------------------------------ English lexicon (once per model)

#: English words embedded ahead of time, so that a query's words are rarely embedded at query time:
#: the dictionary's one-word headwords plus the model vocabulary's most probable whole Latin words.
#: On the XQuAD English dev questions this leaves 1.7 of 5.5 content words per question to embed
#: (the dictionary alone: 2.7; the 60k most probable vocabulary words as well: 1.3).
LEXICON_VOCAB_WORDS = 30000
_LEXICON_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Lexicon:
    """English words and their embeddings (passage prompt, as the index vocabulary)."""

    rows: dict[str, int]
    vectors: np.ndarray
    name: str = ""  # the cache file's name: which model, dictionary and word list made it

    def get(self, word: str) -> np.ndarray | None:
        row = self.rows.get(word)
        return None if row is None else self.vectors[row]


def lexicon_words(embedder, dictionary: "Dictionary | None") -> list[str]:
    """Sorted: the dictionary's one-word headwords and the tokenizer's most probable whole Latin words."""
    words = set()
    if dictionary is not None:
        words.update(h for h in dictionary if _LEXICON_WORD.fullmatch(h))
    words.update(_vocabulary_words(embedder, LEXICON_VOCAB_WORDS))
    return sorted(w for w in words if w.lower() not in ENGLISH_STOPWORDS)


def _vocabulary_words(embedder, limit: int) -> list[str]:
    """Whole-word Latin pieces of a SentencePiece (Unigram) tokenizer, most probable first; [] otherwise."""
    import json

    backend = getattr(getattr(getattr(embedder, "model", None), "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        return []
    try:
        model = json.loads(backend.to_str())["model"]
    except (ValueError, KeyError):
        return []
    if model.get("type") != "Unigram":
        return []
    pieces = [(score, piece[1:]) for piece, score in model["vocab"]
              if piece.startswith("\u2581") and _LEXICON_WORD.fullmatch(piece[1:])]
    pieces.sort(key=lambda item: (-item[0], item[1]))
    return [word for _score, word in pieces[:limit]]


def lexicon_path(settings, embedder) -> Path:
    """Where the lexicon of this model and this dictionary file (path, size, time) is cached."""
    import hashlib

    try:
        st = os.stat(settings.dict_path)
        dictionary = f"{os.path.abspath(settings.dict_path)}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        dictionary = "none"
    key = f"v1|{embedder.fingerprint}|{dictionary}|{LEXICON_VOCAB_WORDS}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(settings.cache_dir) / "lexicon" / f"en-{embedder.fingerprint[:20]}-{digest}.npz"


def ensure_lexicon(embedder, settings, log: Log = lambda _m: None) -> Path | None:
    """Embed the English lexicon into the cache unless it is there: once per model and dictionary
    (~48k words, about 2 minutes on two CPU cores). Written aside, then renamed."""
    if not settings.expansion:
        return None
    path = lexicon_path(settings, embedder)
    if path.exists():
        return path
    try:
        dictionary = Dictionary.open(settings.dict_path)
    except OSError:
        dictionary = None
    words = lexicon_words(embedder, dictionary)
    if not words:
        return None
    log(f"Embedding {len(words):,} English words for query expansion (once per model) ...")
    t0 = time.perf_counter()
    vectors = embedder.encode_passages(words, batch_size=VOCAB_BATCH)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, words=np.array(words), vectors=vectors.astype(np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log(f"Embedded the English lexicon in {time.perf_counter() - t0:.0f}s")
    return path


def load_lexicon(settings, embedder) -> Lexicon | None:
    """The cached lexicon of this model and dictionary, or None (not built yet, or unreadable)."""
    if not getattr(embedder, "fingerprint", None):
        return None
    try:
        with np.load(lexicon_path(settings, embedder)) as data:
            words, vectors = data["words"].tolist(), np.ascontiguousarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None
    if vectors.shape != (len(words), embedder.dim):
        return None
    return Lexicon({w: i for i, w in enumerate(words)}, vectors, lexicon_path(settings, embedder).name)


def write_lexicon_neighbours(gen: Path, vocabulary: Vocabulary, embedder, settings,
                             log: Log = lambda _m: None) -> int | None:
    """Every English lexicon word's model neighbours among the index's embedded terms (``vocabulary``,
    as :func:`build_vocabulary` wrote it into ``gen``), worked out once per build: a query's lexicon
    words then need no pass over the whole embedded vocabulary (30 MB at 10k documents). Returns the
    number of words with neighbours, or None without a lexicon or embedded terms."""
    lexicon = load_lexicon(settings, embedder)
    vectors = vocabulary.vectors
    if lexicon is None or not len(vectors):
        return None
    t0 = time.perf_counter()
    terms, surfaces = vocabulary.terms[:len(vectors)], vocabulary.surfaces[:len(vectors)]
    words = sorted(lexicon.rows, key=lexicon.rows.get)
    table: dict[str, list] = {}
    for start in range(0, len(words), 2048):
        sims = lexicon.vectors[start:start + 2048] @ vectors.T
        for j, row in enumerate(_nearest(sims)):
            found = _pick_neighbours(words[start + j], *row, terms, surfaces)
            if found:
                table[words[start + j]] = found
    storage.write_json(gen / storage.LEXICON_NEIGHBOURS, {"lexicon": lexicon.name, "words": table})
    log(f"Found index-term neighbours for {len(table):,} of {len(words):,} English lexicon words "
        f"in {time.perf_counter() - t0:.1f}s")
    return len(table)


#: Vocabulary rows from which a query's word-to-term similarities are worked out on two threads.
SPLIT_ROWS = 4096
_split_pool: ThreadPoolExecutor | None = None
_split_lock = threading.Lock()


def _similarities(words: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``words @ vectors.T``. A query's few words against the whole vocabulary (30 MB at 20,000
    terms) is bound by memory, not arithmetic, and runs when the query's model pass is done, so
    both cores are free: a large vocabulary is read in two halves at once (about twice as fast)."""
    global _split_pool
    rows = len(vectors)
    if rows < SPLIT_ROWS or len(words) > 64:
        return words @ vectors.T
    with _split_lock:
        if _split_pool is None:
            _split_pool = ThreadPoolExecutor(1, thread_name_prefix="sangam-vocab")
    out = np.empty((len(words), rows), np.float32)
    half = rows // 2

    def part(start: int, stop: int) -> None:
        np.matmul(words, vectors[start:stop].T, out=out[:, start:stop])

    other = _split_pool.submit(part, half, rows)
    part(0, half)
    other.result()
    return out


def _nearest(sims: np.ndarray):
    """Per row of ``sims`` (words × embedded terms): the :data:`CANDIDATES` nearest term indexes and
    their similarities, best first (ties: lower index first), and the mean of the others."""
    n = min(CANDIDATES, sims.shape[1])
    top = np.argpartition(-sims, n - 1, axis=1)[:, :n] if n < sims.shape[1] else \
        np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    for row, idx in zip(sims, top):
        idx = idx[np.lexsort((idx, -row[idx]))]
        near = row[idx]
        yield idx, near, (float(near[1:].mean()) if n > 1 else 0.0)


def _pick_neighbours(word: str, idx: np.ndarray, near: np.ndarray, crowd: float, terms: list[str],
                     surfaces: list[str]) -> list[tuple[str, float]]:
    """Index terms near a word that are translations or transliterations of it.

    Cosine similarity alone cannot tell a translation from noise with this model: a made-up
    word's nearest Hindi term scores as high as a real translation does (0.88-0.94). So a
    neighbour must also be very similar, stand out from the word's other neighbours (``crowd``: a
    made-up word is close to many terms), or sound like the word (names, loanwords).
    """
    out: list[tuple[str, float]] = []
    for i, sim in zip(idx.tolist(), near.tolist()):
        if sim < MIN_SIMILARITY or len(out) >= NEIGHBOURS:
            break
        if sim >= SEMANTIC_SIMILARITY or sim - crowd >= MIN_LEAD or _sounds_like(word, surfaces[i]):
            out.append((terms[i], similarity_weight(sim)))
    return out


# ------------------------------------------------------------------ expansion (query time)

@dataclass(frozen=True)
class ExpanderStatus:
    """What the expander works with, and why a source is missing (``notes``)."""

    vocabulary: int  # Devanagari index terms known
    embedded: int  # of them with a vector (model expansion)
    dictionary: str | None  # path of the dictionary in use, None when absent
    dictionary_headwords: int
    dictionary_skipped: int  # corrupt index lines skipped
    notes: tuple[str, ...]
    lexicon: int = 0  # English words embedded ahead of time (ensure_lexicon)


@dataclass(frozen=True)
class Expansion:
    """Weighted Hindi index terms for a query's English words, best first."""

    terms: tuple[tuple[str, float], ...] = ()
    #: Share of the query's words that found terms (``fusion.lexical_weight`` uses it).
    strength: float = 0.0
    #: How each term is most often written in the index (संध -> संधि), to show people.
    surfaces: tuple[str, ...] = ()


class ExpansionJob:
    """One query's expansion, around its model pass: the words the pass must embed (:attr:`unseen`),
    a first expansion while it runs (:meth:`first`), the final one with their vectors (:meth:`finish`)."""

    def __init__(self, expander: "Expander", parsed, ride_along: bool):
        self._expander = expander
        self._parsed = parsed
        self.unseen: list[str] = expander.unseen(parsed) if ride_along else []

    def first(self) -> list[tuple[str, float]]:
        """What is known before the unseen words' vectors: their dictionary translations, the other
        words' expansions; the final expansion only adds to it."""
        self._expander.prepare(self._parsed)
        return self._expander.expand(self._parsed, pending=self.unseen)

    def finish(self, word_vectors) -> Expansion:
        """The expansion, given the vectors of :attr:`unseen` (rows in its order; None: embed here)."""
        expander, parsed = self._expander, self._parsed
        given = dict(zip(self.unseen, word_vectors)) if self.unseen and word_vectors is not None else None
        terms = tuple(expander.expand(parsed, given))
        if not terms:
            return Expansion()
        return Expansion(terms, expander.strength(parsed), tuple(expander.surface(t) for t, _w in terms))


class Expander:
    """Maps the English words of a query to weighted Hindi index terms; thread-safe."""

    def __init__(self, embedder, surfaces: dict[str, str], terms: list[str], vectors: np.ndarray,
                 dictionary: Dictionary | None, status: ExpanderStatus, lexicon: Lexicon | None = None,
                 lexicon_near: Mapping[str, list] | None = None):
        self.embedder = embedder
        self._surface = surfaces  # every Devanagari index term -> its most frequent written form
        self._known = frozenset(surfaces)
        self._terms = terms  # terms[i] owns vectors[i]
        self._surfaces = [surfaces[t] for t in terms]
        self._vectors = vectors
        self.dictionary = dictionary
        self.status = status
        self._lexicon = lexicon
        # lexicon word -> its neighbours among this index's terms (write_lexicon_neighbours); absent: none
        self._lexicon_near = lexicon_near if lexicon is not None else None
        self._cache: collections.OrderedDict[str, tuple[tuple[str, float], ...]] = collections.OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, gen: str | Path, embedder, settings) -> "Expander":
        """Load the generation's vocabulary and, if installed, the dictionary (once).

        Nothing here is fatal: without a vocabulary nothing is expanded, without a dictionary the
        model alone expands; ``status.notes`` says which.
        """
        gen = Path(gen)
        notes: list[str] = []
        rows: list[dict] = []
        embedded: list[dict] = []
        vectors = np.zeros((0, embedder.dim), np.float32)
        try:
            rows = storage.read_jsonl(gen / storage.VOCAB)
            matrix = np.load(gen / storage.VOCAB_VECTORS)
        except (OSError, ValueError) as err:
            notes.append(f"this index has no expansion vocabulary ({type(err).__name__}): "
                         f"rebuild it with expansion on to expand English queries")
            rows, matrix = [], None
        if matrix is not None:
            embedded = sorted((r for r in rows if r.get("row") is not None), key=lambda r: r["row"])
            if matrix.ndim == 2 and matrix.shape[1] == embedder.dim and len(embedded) == len(matrix):
                vectors = np.ascontiguousarray(matrix, dtype=np.float32)
            else:
                embedded = []
                notes.append("the vocabulary vectors do not fit the model: dictionary expansion only")
        dictionary = None
        try:
            dictionary = Dictionary.open(settings.dict_path)
        except OSError as err:
            notes.append(f"no dictionary at {settings.dict_path} ({err.strerror or err}): "
                         f"expanding with the model only")
        lexicon = load_lexicon(settings, embedder) if len(vectors) else None
        if len(vectors) and lexicon is None:
            notes.append("no English lexicon for this model yet: new English words are embedded at query "
                         "time (building an index prepares it)")
        lexicon_near = None
        if lexicon is not None:
            try:
                table = json.loads((gen / storage.LEXICON_NEIGHBOURS).read_text("utf-8"))
                if table.get("lexicon") == lexicon.name and isinstance(table.get("words"), dict):
                    lexicon_near = table["words"]
            except (OSError, ValueError, AttributeError):
                pass  # an older build: lexicon words are compared with the vocabulary at query time
        status = ExpanderStatus(len(rows), len(embedded), str(dictionary.path) if dictionary else None,
                                len(dictionary) if dictionary else 0,
                                dictionary.skipped if dictionary else 0, tuple(notes),
                                len(lexicon.rows) if lexicon else 0)
        return cls(embedder, {r["term"]: r["surface"] for r in rows}, [r["term"] for r in embedded],
                   vectors, dictionary, status, lexicon, lexicon_near)

    def surface(self, term: str) -> str:
        """How ``term`` is most often written in the index (संध -> संधि), to show an expansion to people."""
        return self._surface.get(term, term)

    # ---------------------------------------------------------------- expand
    def begin(self, parsed, ride_along: bool = False) -> ExpansionJob:
        """Expand ``parsed`` (a :class:`ParsedQuery`): the one way in at query time. ``ride_along``:
        the words that need embedding go in the query's own model pass (:attr:`ExpansionJob.unseen`)."""
        return ExpansionJob(self, parsed, ride_along)

    def prepare(self, parsed) -> None:
        """Look up (and cache) the query's words whose vectors need no model call: cached or in the
        English lexicon. The service calls it while the query, with its :meth:`unseen` words, is embedded."""
        if self._lexicon is None:
            return
        words = [w for w in content_words(parsed.text)[:MAX_QUERY_WORDS] if self._lexicon_form(w)]
        if words:
            self._lookup(words)

    def unseen(self, parsed) -> list[str]:
        """The query's content words that need embedding (not looked up yet), for
        :meth:`Embedder.encode_query_with_words` to embed beside the query."""
        if not len(self._vectors) or not self._known:
            return []
        words = content_words(parsed.text)[:MAX_QUERY_WORDS]
        with self._lock:
            words = [w for w in words if w not in self._cache]
        return [w for w in words if not self._lexicon_form(w)]

    def _lexicon_form(self, word: str) -> str | None:
        """The English lexicon word that stands for ``word``: itself, else, for a lower-case word, its
        other spelling ("defense" -> "defence", :func:`spelling_variants`); None when there is none
        or no lexicon. A capitalised word may be a name, so only its own spelling counts.

        Only the same word in another spelling stands in: an inflected form is embedded as written,
        since the model places it elsewhere ("troops" is near सैनिक, "troop" is not)."""
        rows = self._lexicon.rows if self._lexicon is not None else None
        if not rows:
            return None
        if word in rows:
            return word
        if word != word.lower():
            return None
        # The lexicon also holds the tokenizer's Latin words of other languages: with a dictionary, a
        # variant must be one of its English headwords too.
        english = self.dictionary
        return next((variant for variant in spelling_variants(word)
                     if variant in rows and (english is None or variant in english)), None)

    def expand(self, parsed, vectors: Mapping[str, np.ndarray] | None = None,
               pending: Collection[str] = ()) -> list[tuple[str, float]]:
        """Weighted Hindi index terms for the Latin words of ``parsed`` (a :class:`ParsedQuery`).

        Each term's weight in (0, 1] is the best over the words it came from; an unknown word
        adds nothing. ``vectors`` may hold embeddings of words (:meth:`unseen`) made elsewhere.
        ``pending`` words, whose embeddings are still being made, get their dictionary translations
        only and are not remembered: a first, partial expansion that the final one only adds to.
        """
        words = content_words(parsed.text)[:MAX_QUERY_WORDS]
        if not words or not self._known:
            return []
        best: dict[str, float] = {}
        waiting = [w for w in words if w in pending]
        ready = [w for w in words if w not in pending]
        found_lists = [*self._lookup(ready, vectors), *(tuple(self._translations(w)) for w in waiting)]
        for found in [*found_lists, self._phrases(parsed.text)]:
            for term, weight in found:
                if weight > best.get(term, 0.0):
                    best[term] = weight
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [(t, round(w, 4)) for t, w in ranked[:MAX_TERMS]]

    def strength(self, parsed) -> float:
        """How much of the query the expansion covers: the share of its Latin-script words
        (stopwords included) that found Hindi index terms; ``fusion.lexical_weight`` uses it.

        A keyword query ("defence minister Belousov visit") is covered fully and gets the lexical
        weight of a Hindi query the index knows; a question ("How many points did the Panthers
        defense surrender?") is covered about half and leans on the dense model, as dev wants.
        """
        tokens = _LATIN_WORD.findall(parsed.text)
        words = content_words(parsed.text)[:MAX_QUERY_WORDS]
        if not tokens or not words or not self._known:
            return 0.0
        covered = {w for w, found in zip(words, self._lookup(words)) if found}
        return min(1.0, sum(1 for t in tokens if _clean(t) in covered) / len(tokens))

    def clear_cache(self) -> None:
        """Forget the words looked up so far (benchmarks time cold lookups with it)."""
        with self._lock:
            self._cache.clear()

    def _lookup(self, words: list[str], given: Mapping[str, np.ndarray] | None = None
                ) -> list[tuple[tuple[str, float], ...]]:
        with self._lock:
            cached = {w: self._cache[w] for w in words if w in self._cache}
            for w in cached:
                self._cache.move_to_end(w)
        missing = [w for w in dict.fromkeys(words) if w not in cached]
        if missing:
            vectors = dict(given or {}) if len(self._vectors) else {}
            near: dict[str, list[tuple[str, float]]] = {}
            if self._lexicon is not None and len(self._vectors):
                for w in missing:
                    form = None if w in vectors else self._lexicon_form(w)
                    if form is None:
                        continue
                    if self._lexicon_near is not None:  # worked out when the index was built
                        near[w] = [(term, float(weight)) for term, weight in self._lexicon_near.get(form, ())]
                    else:
                        vectors[w] = self._lexicon.get(form)
            rest = [w for w in missing if w not in vectors and w not in near]
            if rest and len(self._vectors):
                vectors.update(zip(rest, self._embed(rest)))
            with_vectors = [w for w in missing if vectors.get(w) is not None]
            # one matrix product over the vocabulary for all the words (it is read once, not per word)
            sims = _similarities(np.stack([vectors[w] for w in with_vectors]), self._vectors) \
                if with_vectors else None
            near.update((w, self._neighbours(w, sims[j])) for j, w in enumerate(with_vectors))
            for w in missing:
                found = dict(self._translations(w))
                for term, weight in near.get(w, ()):
                    found[term] = max(found.get(term, 0.0), weight)
                cached[w] = tuple(sorted(found.items(), key=lambda item: (-item[1], item[0])))
            with self._lock:
                for w in missing:
                    self._cache[w] = cached[w]
                while len(self._cache) > _CACHE_WORDS:
                    self._cache.popitem(last=False)
        return [cached[w] for w in words]

    def _embed(self, words: list[str]) -> np.ndarray:
        """The words' embeddings (one batched model call)."""
        # The vocabulary was embedded as passages; the same prompt on both sides keeps it symmetric.
        return self.embedder.encode_short(words)

    def _neighbours(self, word: str, sims: np.ndarray) -> list[tuple[str, float]]:
        """Index terms near a word (``sims``: its cosine to every embedded index term); see
        :func:`_pick_neighbours`."""
        return _pick_neighbours(word, *next(_nearest(sims[None])), self._terms, self._surfaces)

    def _phrases(self, text: str) -> list[tuple[str, float]]:
        """Dictionary translations of the query's two-word phrases ("human rights", "world war")."""
        if self.dictionary is None:
            return []
        tokens = [_clean(t).lower() for t in _LATIN_WORD.findall(text)]
        found: list[tuple[str, float]] = []
        for pair in zip(tokens, tokens[1:]):
            phrase = " ".join(pair)
            if self.dictionary.senses(phrase):
                found += self._translations(phrase)
        return found

    def _translations(self, word: str) -> list[tuple[str, float]]:
        """Index terms of the dictionary's first-sense translations of ``word``."""
        if self.dictionary is None:
            return []
        found: dict[str, float] = {}
        for headword in self.dictionary.headwords(word):
            senses = self.dictionary.senses(headword)
            for phrase in senses[0] if senses else ():
                terms = analyze(phrase)
                # A phrase's words share its weight: "बात काटना" (deny) must not search for बात (talk).
                weight = DICTIONARY_WEIGHT / len(terms) if terms else 0.0
                for term in terms:
                    share = 1.0
                    if term not in self._known:
                        term, share = action_base(term), ACTION_BASE_SHARE
                        if term not in self._known:  # None is not a term either
                            continue
                    found[term] = max(found.get(term, 0.0), weight * share)
        return list(found.items())


_ACTION_NOUN = re.compile(r"[\u0900-\u097f]{2,}[िी]करण$")


@lru_cache(maxsize=4096)
def action_base(term: str) -> str | None:
    """The analysed base of an analysed Hindi noun of action in "-ीकरण"/"-िकरण" ("making …"):
    पुष्टीकरण -> पुष्ट (as पुष्टि is analysed), सरलीकरण -> सरल, सशक्तिकरण -> सशक्त; None for any other
    term. Only the "ी/ि + करण" form is taken: a bare "करण" ending is often no suffix at all (उपकरण,
    "equipment"; व्याकरण, "grammar")."""
    if not _ACTION_NOUN.fullmatch(term):
        return None
    base = analyze(term[:-len("करण")])
    return base[0] if len(base) == 1 and base[0] != term else None


def similarity_weight(similarity: float) -> float:
    """Map a cosine similarity in [MIN_SIMILARITY, FULL_SIMILARITY] linearly onto [MIN_WEIGHT, 1]."""
    span = max(FULL_SIMILARITY - MIN_SIMILARITY, 1e-9)
    x = min(max((similarity - MIN_SIMILARITY) / span, 0.0), 1.0)
    return MIN_WEIGHT + (1.0 - MIN_WEIGHT) * x


def spelling_variants(word: str) -> list[str]:
    """The word in the other variety of English's spelling, where a rule applies (defense -> defence,
    color -> colour, organize -> organise, center -> centre)."""
    out: list[str] = []
    for pattern, replacement in _SPELLINGS:
        variant = pattern.sub(replacement, word)
        if variant != word and variant not in out:
            out.append(variant)
    return out


def content_words(text: str) -> list[str]:
    """The Latin-script words of a query worth translating: no stopwords, no question words, unique."""
    words = []
    for token in _LATIN_WORD.findall(text):
        word = _clean(token)
        lower = word.lower()
        if len(lower) < 2 or lower in ENGLISH_STOPWORDS or lower in _QUERY_STOPWORDS:
            continue
        words.append(word)
    return list(dict.fromkeys(words))


def _clean(token: str) -> str:
    """A word without trailing apostrophes or possessive ``'s`` ("Panthers'" -> "Panthers")."""
    word = token.rstrip("'’")
    if word.lower().endswith(("'s", "’s")) and len(word) > 3:
        word = word[:-2]
    return word


# ------------------------------------------------------------------ sound

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
    return 1.0 - _edit_distance(a, b) / max(len(a), len(b))


def _sounds_like(english: str, hindi: str) -> bool:
    """``sounds_alike(english, hindi) >= SOUND_MATCH``, without the edit distance when only equal
    consonant classes count (SOUND_MATCH 1.0): a cold English word checks about ten neighbours."""
    if SOUND_MATCH >= 1.0:
        key = sound_key(english)
        return len(key) >= 3 and key == sound_key(romanize(hindi))
    return sounds_alike(english, hindi) >= SOUND_MATCH


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]
