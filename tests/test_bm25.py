"""The vectorised BM25F scorer gives Whoosh's own scores and ranking, on one segment or several with deletions."""

from __future__ import annotations

import pytest
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.codec.whoosh3 import W3Codec

from search import storage
from search.analysis import analyze
from search.bm25 import WhooshBM25
from search.whoosh_adapter import PackedCodec
from search.settings import seeds_dir


def _paragraphs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(seeds_dir().glob("*.txt")):
        title, *rest = path.read_text("utf-8").splitlines()
        body = [line for line in rest if line.strip()]
        for i, para in enumerate(body):
            out.append((f"{path.stem}-{i}", title if i == 0 else "", para))
    return out


@pytest.fixture(scope="module")
def paragraphs():
    return _paragraphs()


def _codec(kind: str, block: int | None):
    """The project's codec, or Whoosh's plain W3 (segments an older build wrote), maybe with tiny blocks."""
    if kind == "w3":
        return W3Codec(blocklimit=block or 128)
    return PackedCodec(blocklimit=block) if block else storage.bm25_codec()


def _build(directory, paragraphs, segments: int = 1, block: int | None = None, kinds=("packed",)):
    ix = whoosh_index.create_in(str(directory), storage.bm25_schema())
    chunks = [paragraphs[i::segments] for i in range(segments)]
    for n, chunk in enumerate(chunks):
        writer = ix.writer(codec=_codec(kinds[n % len(kinds)], block))
        for pid, title, body in chunk:
            writer.add_document(passage_id=pid, doc_id=pid.split("-")[0], title=title, body=body)
        writer.commit(merge=False)
    return ix


QUERIES = ["उत्तर कोरिया रूस संधि", "रक्षा मंत्री की यात्रा", "सैनिकों की तैनाती", "परमाणु हथियार",
           "किम जोंग उन पुतिन", "संयुक्त राष्ट्र प्रतिबंध"]


def _whoosh(ix, terms, limit):
    with ix.searcher() as searcher:
        clauses = [Q.Term(f, t, boost=w) for t, w in terms for f in storage.BM25_FIELDS]
        return [(docnum, score) for score, docnum in searcher.search(Q.Or(clauses), limit=limit).top_n]


def _same(ours, theirs):
    docnums, scores = ours
    assert len(docnums) == len(theirs)
    assert sorted(round(float(s), 4) for s in scores) == sorted(round(s, 4) for _d, s in theirs)
    by_doc = dict(theirs)
    cutoff = min(s for _d, s in theirs) if theirs else 0.0
    for docnum, score in zip(docnums.tolist(), scores.tolist()):
        if docnum in by_doc:
            assert score == pytest.approx(by_doc[docnum], rel=1e-5, abs=1e-5)
        else:  # only a tie at the cut-off may pick a different document
            assert score == pytest.approx(cutoff, rel=1e-5, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("segments,block,kinds", [(1, None, ("packed",)), (3, None, ("packed",)),
                                                  (1, 4, ("packed",)), (2, 3, ("packed",)),
                                                  (1, 4, ("w3",)), (3, 3, ("w3", "packed"))])
@pytest.mark.parametrize("query", QUERIES)
def test_scores_and_ranking_are_whooshs(tmp_path, paragraphs, segments, block, kinds, query):
    """On the project's codec, on Whoosh's plain W3 and on both mixed, and with tiny posting blocks so
    that every list spans many blocks. Whoosh's own search reads the packed blocks with the codec's
    matcher, so the comparison checks that matcher too."""
    ix = _build(tmp_path, paragraphs, segments, block, kinds)
    assert len(ix._segments()) == segments
    terms = [(t, 1.0) for t in dict.fromkeys(analyze(query))]
    _same(WhooshBM25(ix, storage.BM25_FIELDS).search(terms, limit=1000), _whoosh(ix, terms, 1000))
    _same(WhooshBM25(ix, storage.BM25_FIELDS).search(terms, limit=5), _whoosh(ix, terms, 5))


def test_boosts_and_deleted_documents(tmp_path, paragraphs):
    ix = _build(tmp_path, paragraphs, segments=2)
    writer = ix.writer()
    writer.delete_by_term("doc_id", "003")
    writer.commit(merge=False)
    terms = [("संध", 1.0), ("पुष्ट", 0.6), ("रूस", 0.3), ("कोरिय", 1.5)]
    bm25 = WhooshBM25(ix, storage.BM25_FIELDS)
    ours = bm25.search(terms, limit=1000)
    _same(ours, _whoosh(ix, terms, 1000))
    with ix.searcher() as searcher:
        assert all(searcher.stored_fields(d)["doc_id"] != "003" for d in ours[0].tolist())


def test_scores_added_in_parts_equal_scoring_at_once(tmp_path, paragraphs):
    """The service scores a query's first terms while late expansion terms are still being found,
    then adds those (or more weight for a term it had): the result is the same search."""
    ix = _build(tmp_path, paragraphs, segments=2)
    writer = ix.writer()
    writer.delete_by_term("doc_id", "004")
    writer.commit(merge=False)
    bm25 = WhooshBM25(ix, storage.BM25_FIELDS)
    first = [("संध", 1.0), ("रूस", 0.3)]
    later = [("रूस", 0.4), ("कोरिय", 1.5), ("zzzz", 1.0)]  # more weight for one term, one new, one unknown
    whole = [("संध", 1.0), ("रूस", 0.7), ("कोरिय", 1.5)]
    parts = bm25.scores(later, into=bm25.scores(first))
    at_once = bm25.search(whole, limit=1000)
    in_parts = bm25.top(parts, limit=1000)
    assert in_parts[0].tolist() == at_once[0].tolist()
    assert in_parts[1] == pytest.approx(at_once[1], rel=1e-5)
    assert bm25.scores([("zzzz", 1.0)]) is None
    assert len(bm25.top(None, 10)[0]) == 0


def test_unknown_terms_and_empty_queries_find_nothing(tmp_path, paragraphs):
    bm25 = WhooshBM25(_build(tmp_path, paragraphs), storage.BM25_FIELDS)
    for terms in ([], [("क्वांटमयांत्रिकी", 1.0)], [("zzzz", 2.0)]):
        docnums, scores = bm25.search(terms, limit=10)
        assert len(docnums) == 0 and len(scores) == 0


def test_the_cache_is_bounded_and_returns_the_same_postings(tmp_path, paragraphs):
    ix = _build(tmp_path, paragraphs)
    bm25 = WhooshBM25(ix, storage.BM25_FIELDS, cache_postings=50)
    first = bm25.postings("body", "रूस")
    assert len(first[0]) > 0
    for term in ("कोरिय", "संध", "सैनिक", "मंत्र", "परमाण"):
        bm25.postings("body", term)
    assert bm25._cached <= 50
    again = bm25.postings("body", "रूस")
    assert again[0].tolist() == first[0].tolist() and again[1].tolist() == first[1].tolist()


def test_merging_segments_of_both_codecs_keeps_every_posting(tmp_path, paragraphs):
    """An optimize reads W3 and packed segments through Whoosh's matchers and rewrites them packed.
    (Whoosh's merge recounts the average body length from its byte-coded lengths, so scores move a
    little either way; the passages found and the agreement with Whoosh's own search must not.)"""
    ix = _build(tmp_path, paragraphs, segments=3, block=3, kinds=("w3", "packed"))
    terms = [(t, 1.0) for t in dict.fromkeys(analyze(QUERIES[0] + " " + QUERIES[3]))]
    def by_passage(ix, found):
        with ix.searcher() as searcher:
            return {searcher.stored_fields(d)["passage_id"] for d in found[0].tolist()}

    before = by_passage(ix, WhooshBM25(ix, storage.BM25_FIELDS).search(terms, limit=1000))
    writer = ix.writer(codec=PackedCodec(blocklimit=4))
    writer.commit(optimize=True)
    ix = whoosh_index.open_dir(str(tmp_path))
    assert len(ix._segments()) == 1 and isinstance(ix._segments()[0].codec(), PackedCodec)
    after = WhooshBM25(ix, storage.BM25_FIELDS).search(terms, limit=1000)
    assert by_passage(ix, after) == before and len(before) > 10
    _same(after, _whoosh(ix, terms, 1000))
