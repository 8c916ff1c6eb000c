"""The query service over the real seed index: ranking, pagination, errors, explanations, threads."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from search.errors import BadQuery
from search.service import SearchService

SEED_QUERIES = {
    "Zelensky says North Korea is sending citizens to help Russia": "002",
    "Putin praises Pyongyang support before visit": "004",
    "North Korea denies sending troops to Russia": "000",
    "किम जोंग उन रूसी रक्षा मंत्री बेलौसोव": "001",
    "उत्तर कोरिया रूस संधि की पुष्टि": "003",
    "treaty ratification": "003",
    "defence minister Belousov visit": "001",
}


@pytest.mark.parametrize("query,expected", SEED_QUERIES.items())
def test_seed_queries_rank_their_article_first(service, query, expected):
    response = service.search(query, k=5, mode="hybrid")
    assert response.hits[0].doc_id.startswith(expected), [h.doc_id for h in response.hits]


TYPED_SEED_QUERIES = {
    # romanized Hindi, loose phone-keyboard style
    "uttar korea ne rus ke saath raksha sandhi ki pushti ki": ("003", "hi-Latn", False),
    "putin ne pyongyang ke samarthan ki tareef ki": ("004", "hi-Latn", False),
    # misspelled English, misspelled Hindi
    "tretay ratifcation": ("003", "en", True),
    "उत्तर कोरीया रूस संधी": ("003", "hi", True),
    # code-mixed
    "NATO का बयान उत्तर कोरिया": ("", "mixed", False),
    "पुतिन की visit": ("004", "mixed", False),
}


@pytest.mark.parametrize("query,expected", TYPED_SEED_QUERIES.items())
def test_queries_typed_as_people_type_them(service, query, expected):
    doc, language, corrected = expected
    response = service.search(query, k=5, mode="hybrid")
    assert response.language == language
    assert response.corrected == corrected
    if doc:
        assert response.hits[0].doc_id.startswith(doc), [h.doc_id for h in response.hits]


def test_romanized_query_is_searched_in_devanagari(service):
    response = service.search("uttar korea ne rus ke saath raksha sandhi ki pushti ki", k=3)
    assert response.language_label == "Hindi (romanized)"
    assert response.searched_as.startswith("उत्तर कोरिया ने रूस के साथ रक्षा संधि")
    assert "संध" in response.terms and "पुष्ट" in response.terms  # BM25 searched the Devanagari terms
    assert response.hits[0].explanation.bm25_rank == 1  # and found the article with them


def test_correction_can_be_turned_off(service):
    corrected = service.search("tretay ratifcation", k=3)
    assert corrected.searched_as == "treaty ratification" and corrected.corrected
    exact = service.search("tretay ratifcation", k=3, exact=True)
    assert exact.searched_as == "tretay ratifcation" and not exact.corrected
    assert exact.did_you_mean == "treaty ratification"


@pytest.mark.parametrize("query,language,script", [
    ("treaty ratification", "en", "latin"),
    ("उत्तर कोरिया रूस संधि", "hi", "devanagari"),
    ("रूस की संधि पर लंबी बातचीत (AP)", "hi", "devanagari"),
    ("Kim Jong Un ने Russia का दौरा किया, says report", "mixed", "mixed"),
])
def test_language_is_detected(service, query, language, script):
    response = service.search(query, k=1)
    assert (response.language, response.script) == (language, script)


@pytest.mark.parametrize("query,words", [
    ("", "empty"),
    ("   \t ", "empty"),
    ("x" * 1001, "1,001 characters"),
    ("treaty\x00ratification", "control character"),
    ("bad\x1bquery", "control character"),
    (None, "missing"),
])
def test_bad_queries_are_named(service, query, words):
    with pytest.raises(BadQuery) as err:
        service.search(query)
    assert words in str(err.value)


@pytest.mark.parametrize("kwargs,words", [
    ({"k": 0}, "k must"), ({"k": 101}, "k must"), ({"page": 0}, "page must"),
    ({"mode": "fuzzy"}, "unknown mode"), ({"fusion_method": "magic"}, "unknown fusion"),
])
def test_bad_parameters_are_named(service, kwargs, words):
    with pytest.raises(BadQuery) as err:
        service.search("संधि", **kwargs)
    assert words in str(err.value)


def test_query_syntax_is_not_parsed(service):
    for text in ['title:संधि OR body:*', 'संधि AND NOT "रूस"', "(((", "*:*"]:
        service.search(text, k=3)  # never a Whoosh parse error


def test_pagination_is_stable_over_the_fusion_window(service):
    full = service.search("उत्तर कोरिया रूस", k=4)
    first, second = service.search("उत्तर कोरिया रूस", k=2, page=1), service.search("उत्तर कोरिया रूस", k=2, page=2)
    assert [h.doc_id for h in first.hits + second.hits] == [h.doc_id for h in full.hits]
    assert [h.rank for h in second.hits] == [3, 4]
    assert first.total == second.total == full.total == 5
    assert service.search("उत्तर कोरिया रूस", k=10, page=9).hits == ()


def test_hits_carry_snippet_and_explanation(service):
    response = service.search("संधि की पुष्टि", k=5)
    hit = response.hits[0]
    assert hit.title and hit.snippet and "<mark>" in hit.snippet
    e = hit.explanation
    assert e.bm25_rank == 1 and e.dense_rank is not None and e.fusion == "convex"
    assert 0 < e.lexical_weight <= 1
    assert set(response.timings_ms) >= {"analyze", "bm25", "embed", "dense", "fuse", "snippets", "total"}
    data = response.to_dict()
    assert data["hits"][0]["explanation"]["bm25_rank"] == 1


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_modes(service, mode):
    response = service.search("उत्तर कोरिया रूस संधि की पुष्टि", k=3, mode=mode)
    assert response.mode == mode and response.hits[0].doc_id.startswith("003")
    if mode == "bm25":
        assert "embed" not in response.timings_ms
    if mode == "dense":
        assert "bm25" not in response.timings_ms


def test_rrf_is_available(service):
    response = service.search("उत्तर कोरिया रूस संधि की पुष्टि", k=3, fusion_method="rrf")
    assert response.hits[0].doc_id.startswith("003") and response.hits[0].explanation.fusion == "rrf"


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
@pytest.mark.parametrize("query", ["xyzzyplugh", "xyzzy qwertyuiop", "!!!", "chocolate cake recipe", "-- -- --",
                                   # read as guesses ("lorem ipsum door sit met", यूरोप, "corp") that no
                                   # document holds two of: each found all five seeds before
                                   "lorem ipsum dolor sit amet", "yuiop", "zorp"])
def test_nonsense_and_off_topic_queries_match_nothing(service, query, mode):
    """Honest matching: no lexical support and no dense evidence over the index's floors, no results
    (the dense side alone would return its nearest neighbours for anything)."""
    response = service.search(query, k=3, mode=mode)
    assert response.total == 0 and response.hits == () and response.empty_reason


def test_a_query_of_guesses_says_how_it_was_read(service):
    read = service.search("yuiop", k=3)  # romanized, and not the loose key of यूरोप: a guess
    assert read.total == 0 and read.did_you_mean == "यूरोप" and "guess" in read.empty_reason
    corrected = service.search("zorp", k=3)  # "showing results for: corp" names it already
    assert corrected.total == 0 and corrected.corrected and corrected.did_you_mean == ""
    assert service.search("यूरोप", k=3).total  # the word itself is no guess
    exact = service.search("yuiop", k=3, exact=True)  # romanized words are read as Hindi even so
    assert exact.total == 0 and exact.did_you_mean == "यूरोप"
    from search.scope import Filters

    narrowed = service.search("yuiop", k=3, filters=Filters.checked("2024", "2024"))
    assert narrowed.total == 0 and "guess" in narrowed.empty_reason  # the reason is the words', not the filter's


def test_guesses_that_meet_in_one_document_are_vouched_for(service):
    # "putn kimm" reads as "put kim", both guesses at short words; the seeds hold both: that is evidence
    response = service.search("putn kimm", k=5)
    assert [r["typed"] for r in response.readings] == ["guess", "guess"] and response.total == 5
    # a word typed once as itself is a word, however often it was guessed besides ("zorp corp zorp")
    assert service.search("zorp corp zorp", k=5).total == 5


@pytest.mark.parametrize("query", ["रूस यूक्रेन", "Ukraine war", "defence minister Belousov visit",
                                   "uttar korea ne rus ke saath sandhi ki"])
def test_real_queries_keep_their_results(service, query):
    for mode in ("hybrid", "bm25", "dense"):
        response = service.search(query, k=5, mode=mode)
        assert response.total == 5 and len(response.hits) == 5, (query, mode)
    assert service.search("xyzzyplugh", k=3, mode="bm25").hits == ()


def test_safe_from_several_threads(service):
    queries = list(SEED_QUERIES) * 3
    expected = {q: [h.doc_id for h in service.search(q, k=5).hits] for q in SEED_QUERIES}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda q: (q, [h.doc_id for h in service.search(q, k=5).hits]), queries))
    assert all(ids == expected[q] for q, ids in results)


def test_document_lookup(service):
    from search.errors import DocumentNotFound

    hit = service.search("संधि", k=1).hits[0]
    doc = service.document(hit.doc_id)
    assert doc["title"] == hit.title and len(doc["text"]) > 500
    with pytest.raises(DocumentNotFound):
        service.document("nope")


def test_the_dense_product_in_two_halves_is_the_same(service, seed_index, embedder, settings):
    from search.dense import DenseConfig
    from search.service import ServiceConfig

    query = "North Korea denies sending troops to Russia"
    whole = service.search(query, mode="dense", k=5)
    split = SearchService.open(seed_index, settings, embedder=embedder,
                               config=ServiceConfig(dense=DenseConfig(split_rows=2)))
    halves = split.search(query, mode="dense", k=5)
    assert [(h.doc_id, h.passage_id) for h in halves.hits] == [(h.doc_id, h.passage_id) for h in whole.hits]
    # BLAS may sum a row in another order when the matrix starts elsewhere: the last digit can differ
    assert [h.score for h in halves.hits] == pytest.approx([h.score for h in whole.hits], abs=1e-5)


def test_a_repeated_query_reuses_its_vector(seed_index, embedder, settings):
    class Counting:
        def __init__(self):
            self.calls = 0

        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode_queries(self, texts):
            self.calls += 1
            return embedder.encode_queries(texts)

    counting = Counting()
    fresh = SearchService.open(seed_index, settings, embedder=counting)
    first = fresh.search("उत्तर कोरिया रूस संधि", k=2)
    second_page = fresh.search("उत्तर कोरिया रूस संधि", k=2, page=2)
    again = fresh.search("उत्तर कोरिया रूस संधि", k=2)
    assert counting.calls == 1
    assert [h.doc_id for h in again.hits] == [h.doc_id for h in first.hits]
    assert not {h.doc_id for h in second_page.hits} & {h.doc_id for h in first.hits}
