"""Fusion of ranked lists: a query-aware convex combination (default) and reciprocal rank fusion.

All functions are pure: they take ``{doc_id: score}`` mappings and return a ranked list of
``(doc_id, fused_score)``, ties broken by doc id so results are stable.

Convex combination of normalised scores: Bruch, Gai & Ingber, "An Analysis of Fusion Functions
for Hybrid Retrieval", ACM TOIS 2023. RRF: Cormack, Clarke & Büttcher, SIGIR 2009.

Why query-aware weights: BM25 over Hindi text has no evidence for an English query (XQuAD dev:
nDCG@10 0.15), and any fixed fusion then drags the dense ranking down. The lexical weight is
therefore scaled by how much of the query the index actually knows (see :func:`lexical_weight`);
the values below were tuned on the XQuAD *dev* split only (numbers in docs/ and the README).
Expanded into Hindi index terms (:mod:`search.expansion`), English questions reach BM25 nDCG@10
0.84 and hybrid 0.955 (dense alone 0.926); Hindi questions: hybrid 0.965 (BM25 0.941, dense 0.950).
"""

from __future__ import annotations

import math
from typing import Mapping

Scores = Mapping[str, float]
Ranked = list[tuple[str, float]]

#: Lexical weight for a query whose terms the index knows completely (tuned on dev).
LEXICAL_WEIGHT = 0.5
RRF_K = 60
#: Cosine spread below which dense scores are not stretched to the full [0, 1] range (see ``normalize``).
#: Over a handful of near-identical articles the model's best-passage cosines differ by ~0.01, and plain
#: min-max turned that into as strong a vote as BM25's clear preference ("defence minister Belousov
#: visit" over the seeds). XQuAD dev hybrid nDCG@10 is unchanged for 0.0-0.07 (hi 0.9654, en
#: 0.9536-0.9544) and the seed queries rank right for 0.05-0.10; 0.07 is in the middle.
DENSE_MIN_SPREAD = 0.07


def normalize(scores: Scores, min_spread: float = 0.0) -> dict[str, float]:
    """Min-max normalise into [0, 1]; a single score or all-equal scores map to 1.0 (no division by zero).

    ``min_spread`` floors the range: scores closer together than it are not stretched apart. The best
    still maps to 1.0, the others fall by ``gap / min_spread`` (instead of ``gap / (hi - lo)``).
    """
    if not scores:
        return {}
    values = [v for v in scores.values() if math.isfinite(v)]
    if not values:
        return {d: 0.0 for d in scores}
    hi = max(values)
    spread = max(hi - min(values), min_spread)
    if spread <= 1e-12:
        return {d: 1.0 if math.isfinite(v) else 0.0 for d, v in scores.items()}
    return {d: (v - hi) / spread + 1.0 if math.isfinite(v) else 0.0 for d, v in scores.items()}


def ranked(scores: Scores) -> Ranked:
    """Sort by score descending, ties by doc id ascending."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def convex(lexical: Scores, dense: Scores, lexical_weight: float,
           dense_min_spread: float = DENSE_MIN_SPREAD) -> Ranked:
    """``w * norm(lexical) + (1 - w) * norm(dense)``; a document missing from a list scores 0 there."""
    w = min(max(lexical_weight, 0.0), 1.0)
    a, b = normalize(lexical), normalize(dense, dense_min_spread)
    fused = {d: w * a.get(d, 0.0) + (1.0 - w) * b.get(d, 0.0) for d in set(a) | set(b)}
    return ranked(fused)


def rrf(lexical: Scores, dense: Scores, k: int = RRF_K, lexical_weight: float = 0.5) -> Ranked:
    """Weighted reciprocal rank fusion: ``sum w_i / (k + rank_i)`` (ranks from 1)."""
    fused: dict[str, float] = {}
    for scores, weight in ((lexical, lexical_weight), (dense, 1.0 - lexical_weight)):
        for rank, (doc_id, _score) in enumerate(ranked(scores), start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    return ranked(fused)


def lexical_weight(known_fraction: float, script: str, expansion_strength: float = 0.0,
                   base: float = LEXICAL_WEIGHT) -> float:
    """How much to trust BM25 for this query.

    ``known_fraction``: share of the query's analysed terms found in the index vocabulary.
    ``script``: "devanagari", "latin", "mixed" or "none". A Latin-script query over Hindi text
    only has lexical evidence through its known terms or its Hindi expansion;
    ``expansion_strength`` in [0, 1] is the share of its words the expansion found Hindi terms
    for (stopwords count as not found, so a keyword query earns more weight than a question:
    XQuAD dev English hybrid nDCG@10 0.955 with this share, 0.927 with the best term's weight).
    """
    known = min(max(known_fraction, 0.0), 1.0)
    if script == "latin":
        return base * max(known * known, min(max(expansion_strength, 0.0), 1.0))
    return base * known
