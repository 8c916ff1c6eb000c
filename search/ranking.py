"""From the retrievers' lists to the ranked result list: which documents match at all (honest matching,
:mod:`search.matching`), their order (fused relevance or newest first), near-duplicates folded under
the best of them, and facet counts over every match."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fusion
from .dense import DenseResult
from .generation import LoadedGeneration
from .lexical import LexicalResult
from .scope import metadata


@dataclass(frozen=True)
class Matches:
    """The documents that match the query (a mask over the generation's documents)."""

    docs: np.ndarray
    exact: bool  # False: counted from the candidates the graph returned (more may match)
    reason: str = ""  # why nothing matches, when nothing does
    guessed: bool = False  # nothing matches because the query's words were only guesses at words

    @property
    def total(self) -> int:
        return int(self.docs.sum())


@dataclass(frozen=True)
class Ranked:
    """A result: a document, its score, and the near-duplicates folded under it."""

    doc_id: str
    score: float
    similar: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facets:
    sources: tuple[tuple[str, int], ...] = ()  # (display name, matching documents), most first
    months: tuple[tuple[str, int], ...] = ()  # ("2024-11", matching documents), newest first

    def to_dict(self) -> dict:
        return {"source": [{"value": v, "count": c} for v, c in self.sources],
                "month": [{"value": v, "count": c} for v, c in self.months]}


def by_date(data: LoadedGeneration, matches: Matches, fused: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Every matching document, newest first (undated last); ties by relevance, then doc id."""
    meta = metadata(data)
    relevance = np.zeros(len(data.doc_ids), dtype=np.float64)
    index = data.doc_index()
    for doc_id, score in fused:
        relevance[index[doc_id]] = score
    chosen = np.flatnonzero(matches.docs)
    by_id = data.doc_id_rank()[chosen]
    order = chosen[np.lexsort((by_id, -relevance[chosen], -meta.when[chosen]))]
    return [(data.doc_ids[i], float(relevance[i])) for i in order.tolist()]


def fold(data: LoadedGeneration, ranked: list[tuple[str, float]], collapse: bool) -> list[Ranked]:
    """``ranked`` with each near-duplicate group (``dup_group``, decided at index time) folded under its
    best-ranked member; with ``collapse`` off, every document on its own."""
    if not collapse:
        return [Ranked(d, s) for d, s in ranked]
    first: dict[str, int] = {}
    out: list[Ranked] = []
    for doc_id, score in ranked:
        group = data.documents[doc_id].get("dup_group") or doc_id
        at = first.get(group)
        if at is None:
            first[group] = len(out)
            out.append(Ranked(doc_id, score))
        else:
            best = out[at]
            out[at] = Ranked(best.doc_id, best.score, (*best.similar, doc_id))
    return out


def facets(data: LoadedGeneration, matches: Matches) -> Facets:
    """Matching documents counted by source and by month."""
    meta = metadata(data)
    chosen = matches.docs
    by_source = np.bincount(meta.source[chosen], minlength=len(meta.source_keys))
    sources = sorted(((meta.source_names[i], int(c)) for i, c in enumerate(by_source)
                      if c and meta.source_keys[i]),
                     key=lambda item: (-item[1], item[0]))
    months_of = meta.month[chosen]
    by_month = np.bincount(months_of[months_of >= 0], minlength=len(meta.month_names))
    months = [(meta.month_names[i], int(c)) for i, c in enumerate(by_month) if c]
    return Facets(tuple(sources), tuple(reversed(months)))


def ranked_candidates(lexical: LexicalResult, dense: DenseResult, mode: str, fusion_method: str,
                      w_lex: float) -> list[tuple[str, float]]:
    """The retrievers' candidates fused (or one retriever's, in its mode)."""
    if mode == "bm25":
        return fusion.ranked(lexical.scores)
    if mode == "dense":
        return fusion.ranked(dense.scores)
    if fusion_method == "rrf":
        return fusion.rrf(lexical.scores, dense.scores,
                          lexical_weight=max(w_lex, 1e-9) if lexical.scores else 0.0)
    return fusion.convex(lexical.scores, dense.scores, w_lex)
