"""An English word's nearest Hindi index terms by the model, and which of them are its translations or
transliterations. Used at query time (:mod:`search.expansion`) and at index time, where every English
lexicon word's neighbours are worked out once per build (:mod:`index.vocabulary`)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .romanize import sounds_like


# Tuned on the XQuAD dev split. English questions, nDCG@10 hybrid / BM25: model and dictionary
# 0.955 / 0.840; model only 0.947 / 0.789; dictionary only 0.940 / 0.527; any neighbour above 0.87 (no
# lead or sound test) 0.947 / 0.842, but then every made-up word is expanded (315 of 315 tried; 27 with
# the tests below).
@dataclass(frozen=True)
class NeighbourConfig:
    #: A model neighbour needs at least this cosine similarity to the English word, and then ...
    min_similarity: float = 0.86
    #: ... this much to count as a translation outright, ...
    semantic_similarity: float = 0.95
    #: ... or to lead the mean similarity of the word's other nearest terms by this much, ...
    min_lead: float = 0.025
    #: ... or to sound like the word this much (:func:`search.romanize.sounds_alike`; 1.0: same
    #: consonant classes).
    sound_match: float = 1.0
    #: Nearest terms examined per word (the first leads the other ten).
    candidates: int = 11
    #: Model neighbours kept per English word.
    neighbours: int = 2
    #: Similarity that maps to weight 1.0; ``min_similarity`` maps to ``min_weight``.
    full_similarity: float = 0.92
    min_weight: float = 0.3
    #: Vocabulary rows from which a query's word-to-term similarities are worked out on two threads.
    split_rows: int = 4096


DEFAULT = NeighbourConfig()
_split_pool: ThreadPoolExecutor | None = None
_split_lock = threading.Lock()


def similarities(words: np.ndarray, vectors: np.ndarray, split_rows: int = DEFAULT.split_rows) -> np.ndarray:
    """``words @ vectors.T``. A query's few words against the whole vocabulary (30 MB at 20,000
    terms) is bound by memory, not arithmetic, and runs when the query's model pass is done, so
    both cores are free: a large vocabulary is read in two halves at once (about twice as fast)."""
    global _split_pool
    rows = len(vectors)
    if rows < split_rows or len(words) > 64:
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


def nearest(sims: np.ndarray, candidates: int = DEFAULT.candidates):
    """Per row of ``sims`` (words × embedded terms): the ``candidates`` nearest term indexes and
    their similarities, best first (ties: lower index first), and the mean of the others."""
    n = min(candidates, sims.shape[1])
    top = np.argpartition(-sims, n - 1, axis=1)[:, :n] if n < sims.shape[1] else \
        np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
    for row, idx in zip(sims, top):
        idx = idx[np.lexsort((idx, -row[idx]))]
        near = row[idx]
        yield idx, near, (float(near[1:].mean()) if n > 1 else 0.0)


def pick_neighbours(word: str, idx: np.ndarray, near: np.ndarray, crowd: float, terms: list[str],
                    surfaces: list[str], config: NeighbourConfig = DEFAULT) -> list[tuple[str, float]]:
    """Index terms near a word that are translations or transliterations of it.

    Cosine similarity alone cannot tell a translation from noise with this model: a made-up
    word's nearest Hindi term scores as high as a real translation does (0.88-0.94). So a
    neighbour must also be very similar, stand out from the word's other neighbours (``crowd``: a
    made-up word is close to many terms), or sound like the word (names, loanwords).
    """
    out: list[tuple[str, float]] = []
    for i, sim in zip(idx.tolist(), near.tolist()):
        if sim < config.min_similarity or len(out) >= config.neighbours:
            break
        if (sim >= config.semantic_similarity or sim - crowd >= config.min_lead
                or sounds_like(word, surfaces[i], config.sound_match)):
            out.append((terms[i], similarity_weight(sim, config)))
    return out


def similarity_weight(similarity: float, config: NeighbourConfig = DEFAULT) -> float:
    """Map a cosine similarity in [min_similarity, full_similarity] linearly onto [min_weight, 1]."""
    lo, full, floor = config.min_similarity, config.full_similarity, config.min_weight
    x = min(max((similarity - lo) / max(full - lo, 1e-9), 0.0), 1.0)
    return floor + (1.0 - floor) * x
