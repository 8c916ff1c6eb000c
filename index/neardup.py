"""Near-duplicate documents, decided at index time: syndicated copies of one story grouped together.

Two documents are near-identical when the Jaccard similarity of their bodies' word shingles (runs of
``shingle_words`` analysed terms: normalised, stemmed, stopwords dropped, as BM25 indexes them) is at
least ``threshold``. A wire story reprinted with another headline, a dateline or a source line added
and a few words changed stays far above it; two reports of the same event written separately share
few shingles and stay far below. Candidates come from MinHash-LSH (datasketch), so the cost grows
with the corpus rather than with its pairs; every candidate pair is then checked on the exact
shingle sets, so no pair is grouped on the sketches' estimate alone. A group is a representative and
the documents near-identical to it (:func:`find_groups`).

Each group has a representative, the copy that stands for it: the earliest dated, then the longest
body, then the smallest ``doc_id`` (:func:`representative_order`). Every member's ``dup_group`` is the
representative's ``doc_id``; a document with no near-duplicate has ``dup_group == ""``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

from search.analysis import tokens_with_offsets
from search.types import Document

logger = logging.getLogger(__name__)

_MASK = np.uint64(0xFFFFFFFF)
_MIX = (np.uint64(0x9E3779B1), np.uint64(0x85EBCA77), np.uint64(0xC2B2AE3D))


@dataclass(frozen=True)
class NearDupConfig:
    """How near-duplicates are found."""

    shingle_words: int = 3
    #: exact Jaccard of two bodies' shingle sets from which they are near-identical (planted wire copies:
    #: 0.72 and up; separate stories on one topic: under 0.04; bench/corpus.py documents that reuse most
    #: of another's sentences: up to 0.62)
    threshold: float = 0.6
    #: the LSH bands are tuned to this lower similarity, so that pairs near ``threshold`` are still
    #: proposed (and then checked exactly)
    candidate_threshold: float = 0.3
    #: how much the LSH bands weigh a missed pair against a needless check: at 0.8 (128 permutations), a
    #: pair at 0.5 is proposed with probability 0.996, one at the threshold (0.6) with 0.99996
    miss_weight: float = 0.8
    num_perm: int = 128
    seed: int = 1
    #: a body with fewer shingles is grouped only with bodies identical to it (too short to judge)
    min_shingles: int = 5


def representative_order(doc: Document) -> tuple:
    """Sort key of a group's members, the representative first: earliest date (undated last), then the
    longest body, then the smallest ``doc_id``."""
    return (doc.date == "", doc.date[:10], -len(doc.text), doc.doc_id)


def shingles(text: str, words: int = 3) -> np.ndarray:
    """The sorted, distinct 32-bit hashes of ``text``'s runs of ``words`` analysed terms."""
    terms = np.array([_term_hash(term) for term, _, _ in tokens_with_offsets(text)], dtype=np.uint64)
    if len(terms) < words:
        return np.zeros(0, np.uint64)
    mixed = np.zeros(len(terms) - words + 1, np.uint64)
    for i in range(words):  # an order-sensitive mix of the terms' hashes (wrapping uint64 arithmetic)
        mixed = (mixed ^ terms[i:len(terms) - words + 1 + i]) * _MIX[i % len(_MIX)]
    return np.unique((mixed >> np.uint64(29)) & _MASK)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted arrays of distinct values."""
    if not len(a) and not len(b):
        return 1.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


def find_groups(docs: Sequence[Document], config: NearDupConfig | None = None) -> list[list[str]]:
    """The groups of near-identical documents (two or more each), each as doc_ids with its
    representative first; groups ordered by their representative's ``doc_id``.

    Every member is near-identical to its representative, not merely to another member: in
    :func:`representative_order`, a document not yet in a group starts one, and takes each near-identical
    document after it that is in none (so copies of copies do not chain different stories together).
    """
    config = config or NearDupConfig()
    sets = [shingles(d.text, config.shingle_words) for d in docs]
    near: dict[int, list[int]] = {}
    for i, j in _near_pairs(sets, config):
        near.setdefault(i, []).append(j)
        near.setdefault(j, []).append(i)
    rank = {i: r for r, i in enumerate(sorted(near, key=lambda i: representative_order(docs[i])))}
    taken: set[int] = set()
    groups = []
    for leader in sorted(near, key=rank.__getitem__):
        if leader in taken:
            continue
        members = sorted((j for j in near[leader] if j not in taken and rank[j] > rank[leader]), key=rank.__getitem__)
        taken.update(members)
        if members:
            groups.append([docs[i].doc_id for i in [leader, *members]])
    return sorted(groups)


def mark_near_duplicates(docs: Iterable[Document], config: NearDupConfig | None = None) -> list[Document]:
    """``docs`` with ``dup_group`` set: the representative's ``doc_id`` for every member of a group of
    near-identical documents, ``""`` for the rest. Their order is kept."""
    docs = list(docs)
    t0 = time.perf_counter()
    groups = find_groups(docs, config)
    group_of = {doc_id: group[0] for group in groups for doc_id in group}
    seconds = time.perf_counter() - t0
    logger.info("Near-duplicates: %d documents in %d groups (%.1fs)", sum(len(g) for g in groups), len(groups),
                seconds)
    return [dataclasses.replace(d, dup_group=group_of.get(d.doc_id, "")) for d in docs]


def _near_pairs(sets: list[np.ndarray], config: NearDupConfig) -> Iterable[tuple[int, int]]:
    """Every pair ``(i, j)``, ``i < j``, whose shingle sets are near-identical."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=config.candidate_threshold, num_perm=config.num_perm,
                     weights=(1 - config.miss_weight, config.miss_weight))
    short: dict[bytes, int] = {}
    # one set of permutations for every sketch (drawing them costs more than the sketch)
    template = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=int)
    for i, found in enumerate(sets):
        if len(found) < config.min_shingles:
            if len(found):  # short bodies: only identical ones are grouped
                first = short.setdefault(found.tobytes(), i)
                if first != i:
                    yield first, i
            continue
        sketch = MinHash(num_perm=config.num_perm, hashfunc=int, permutations=template.permutations,
                         scheme=template.scheme)
        sketch.update_batch(found.tolist())
        for j in lsh.query(sketch):
            if jaccard(sets[j], found) >= config.threshold:
                yield j, i
        lsh.insert(i, sketch)


@lru_cache(maxsize=262144)
def _term_hash(term: str) -> int:
    # blake2b, not hash(): the same groups on every run and machine
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little")
