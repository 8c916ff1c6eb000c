"""A page of hits: each fused document with its snippet (the passage that earned it the most) and the
explanation of its score."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

from . import fusion
from .dense import DenseResult
from .generation import LoadedGeneration
from .lexical import LexicalResult
from .snippets import make_snippet
from .types import Explanation, Hit


@dataclass(frozen=True)
class Page:
    k: int
    number: int  # from 1
    marked: set[str]  # the terms snippets mark

    @property
    def first(self) -> int:
        return (self.number - 1) * self.k


def early_snippets(data: LoadedGeneration, lexical: LexicalResult, page: Page, vector: Future) -> dict[int, str]:
    """While the query is still being embedded, the snippets of BM25's best documents: most of them are
    on the page, showing their best lexical passage when BM25 leads."""
    early: dict[int, str] = {}
    for doc_id, _s in fusion.ranked(lexical.scores)[page.first:page.first + page.k]:
        if vector.done():
            break
        row = lexical.best[doc_id]
        early[row] = make_snippet(data.passages[row]["text"], page.marked)
    return early


def make_hits(data: LoadedGeneration, results, lexical: LexicalResult, dense: DenseResult, w_lex: float,
              how: str, page: Page, early: dict[int, str]) -> list[Hit]:
    """The page's hits from the ranked ``results`` (:class:`search.ranking.Ranked`); ``how``: the fusion
    (or the one retriever) used."""
    lex_rank = {d: i for i, (d, _s) in enumerate(fusion.ranked(lexical.scores), start=1)}
    dense_rank = {d: i for i, (d, _s) in enumerate(fusion.ranked(dense.scores), start=1)}
    hits = []
    for rank, result in enumerate(results[page.first:page.first + page.k], start=page.first + 1):
        doc_id, score = result.doc_id, result.score
        row = lexical.best.get(doc_id) if (w_lex >= 0.5 or doc_id not in dense.best) else dense.best[doc_id]
        if row is None:
            row = dense.best.get(doc_id, data.first_row(doc_id))
        passage = data.passages[row]
        doc = data.documents[doc_id]
        hits.append(Hit(
            rank=rank, doc_id=doc_id, title=doc.get("title", ""), date=doc.get("date", ""),
            source=doc.get("source", ""), url=doc.get("url", ""), score=round(float(score), 6),
            passage_id=passage["passage_id"],
            snippet=early.get(row) or make_snippet(passage["text"], page.marked),
            explanation=Explanation(
                bm25_rank=lex_rank.get(doc_id), bm25_score=_round(lexical.scores.get(doc_id)),
                dense_rank=dense_rank.get(doc_id), dense_score=_round(dense.scores.get(doc_id)),
                lexical_weight=round(w_lex, 4), fusion=how),
            similar=tuple(_similar(data, d) for d in result.similar)))
    return hits


def _similar(data: LoadedGeneration, doc_id: str) -> dict:
    doc = data.documents[doc_id]
    return {"doc_id": doc_id, "title": doc.get("title", ""), "source": doc.get("source", ""),
            "url": doc.get("url", "")}


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)
