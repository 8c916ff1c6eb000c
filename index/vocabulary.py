"""The query-expansion vocabulary, written into each index generation at build time: the index's
Devanagari terms with their most frequent written form, embedded (:func:`build_vocabulary`), and every
English lexicon word's neighbours among them (:func:`write_lexicon_neighbours`). Files (see
:mod:`search.storage`)::

    vocab.jsonl   one line per Devanagari index term, most frequent first:
                  {"term": analysed term, "surface": word embedded for it,
                   "df": passages containing it, "row": its row in vocab.npy or null}
    vocab.npy     float32 [rows, dim], L2-normalised embeddings of the surfaces (passage prompt)
    lexicon-neighbours.json   {"lexicon": cache name, "words": {english word: [[term, weight], ...]}}
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from search import storage
from search.analysis import tokens_with_offsets
from search.lexicon import load_lexicon
from search.neighbours import nearest, pick_neighbours

logger = logging.getLogger(__name__)


# Embedding every term (df >= 1: 4,801 on XQuAD) beats df >= 2 (2,461) on dev, English nDCG@10 hybrid
# 0.955 vs 0.947, BM25 0.840 vs 0.802: names, which expansion finds best, are rare.
@dataclass(frozen=True)
class VocabularyConfig:
    #: Terms in fewer passages are not embedded (they are still kept for dictionary matches).
    min_df: int = 1
    #: At most this many index terms are embedded (the most frequent): ~100 words/s on 2 CPU cores.
    limit: int = 20000
    #: Surface words per embedding call: they are a few tokens long.
    batch: int = 256


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


def build_vocabulary(gen: Path, embedder, settings,
                     config: VocabularyConfig = VocabularyConfig()) -> Vocabulary | None:
    """Write ``vocab.jsonl`` and ``vocab.npy`` into the generation ``gen`` (its passages already written).

    Vectors of surfaces embedded by the live build with the same model are reused, so an
    incremental update embeds only new words. Skipped when ``settings.expansion`` is off.
    """
    if not settings.expansion:
        logger.info("Query expansion is off: no vocabulary written")
        return None
    t0 = time.perf_counter()
    df, surfaces = count_terms(storage.read_jsonl(gen / storage.PASSAGES))
    terms = sorted(df, key=lambda t: (-df[t], t))
    embedded = [t for t in terms if df[t] >= config.min_df][:config.limit]
    texts = [surfaces[t] for t in embedded]
    vectors = np.zeros((len(texts), embedder.dim), np.float32)
    previous = _previous_vectors(gen, embedder)
    todo = [i for i, s in enumerate(texts) if s not in previous]
    for i, s in enumerate(texts):
        if s in previous:
            vectors[i] = previous[s]
    if todo:
        vectors[todo] = embedder.encode_passages([texts[i] for i in todo], batch_size=config.batch)
    rows = {t: i for i, t in enumerate(embedded)}
    storage.write_jsonl(gen / storage.VOCAB, (
        {"term": t, "surface": surfaces[t], "df": df[t], "row": rows.get(t)} for t in terms))
    np.save(gen / storage.VOCAB_VECTORS, vectors)
    logger.info(f"Embedded {len(todo)} index terms for query expansion (reused {len(texts) - len(todo)}, "
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


def write_lexicon_neighbours(gen: Path, vocabulary: Vocabulary, embedder, settings) -> int | None:
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
        for j, row in enumerate(nearest(sims)):
            found = pick_neighbours(words[start + j], *row, terms, surfaces)
            if found:
                table[words[start + j]] = found
    storage.write_json(gen / storage.LEXICON_NEIGHBOURS, {"lexicon": lexicon.name, "words": table})
    logger.info(f"Found index-term neighbours for {len(table):,} of {len(words):,} English lexicon words "
                f"in {time.perf_counter() - t0:.1f}s")
    return len(table)
