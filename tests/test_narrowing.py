"""Narrowing a search over the dated test corpus (tests/data/dated: 292 documents over 24 months and 6
outlets, with 24 planted groups of syndicated copies): filters, sort and facet counts against a brute-force
computation from the corpus's own truth file, near-duplicate folding against the planted groups, and the
query syntax in Hindi, English and romanized Hindi, on the real model, Whoosh and the real service."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from search.analysis import analyze
from search.scope import Filters

TRUTH = json.loads((Path(__file__).parent / "data" / "dated" / "truth.json").read_text("utf-8"))
DOCS = TRUTH["documents"]
QUERIES = ["उत्तर कोरिया रूस", "Panthers defense points", "पैंथर्स की डिफ़ेन्स", "uttar korea rus sandhi"]


def all_matches(service, query: str, **kwargs) -> list[str]:
    """Every matching document, in the order of ``sort`` (paged through, k=100)."""
    out, page = [], 1
    while True:
        response = service.search(query, k=100, page=page, collapse=False, **kwargs)
        out += [h.doc_id for h in response.hits]
        if len(response.hits) < 100:
            return out
        page += 1


def day(doc_id: str) -> str:
    return DOCS[doc_id]["date"][:10]


@pytest.fixture(scope="module")
def matched(dated_service) -> dict[str, set[str]]:
    """Each query's matches, unfiltered, by date order (which lists every match)."""
    return {q: set(all_matches(dated_service, q, sort="date")) for q in QUERIES}


@pytest.mark.parametrize("query", QUERIES)
def test_total_is_the_number_of_matches(dated_service, matched, query):
    response = dated_service.search(query, k=10, collapse=False)
    assert response.total_exact and response.total == len(matched[query]) > 0


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("lo, hi, sources", [
    ("2024-01-01", "2024-06-30", ()),
    ("2023-11", "2023-11", ()),
    ("", "2023-03-15", ("bbc.com",)),
    ("2024", "", ("Amar Ujala", "जनसत्ता")),
    ("", "", ("दैनिक भास्कर",)),
])
def test_filters_match_brute_force(dated_service, matched, query, lo, hi, sources):
    filters = Filters.checked(lo, hi, sources)
    keys = {s.casefold() for s in sources}
    want = {d for d in matched[query]
            if (not lo or (day(d) and day(d) >= lo))
            and (not hi or (day(d) and day(d)[:len(hi)] <= hi))
            and (not sources or DOCS[d]["source_id"].casefold() in keys)}
    got = all_matches(dated_service, query, sort="date", filters=filters)
    assert set(got) == want and len(got) == len(want)
    assert dated_service.search(query, filters=filters, collapse=False).total == len(want)
    # relevance order over the same filter returns only documents the filter keeps
    ranked = dated_service.search(query, k=100, filters=filters, collapse=False)
    assert {h.doc_id for h in ranked.hits} <= want


@pytest.mark.parametrize("query", QUERIES)
def test_sort_by_date_is_newest_first(dated_service, matched, query):
    got = all_matches(dated_service, query, sort="date")
    days = [day(d) for d in got]
    dated = [d for d in days if d]
    assert dated == sorted(dated, reverse=True)
    assert days == dated + [""] * (len(days) - len(dated))  # undated last


@pytest.mark.parametrize("query", QUERIES)
def test_facets_count_every_match(dated_service, matched, query):
    response = dated_service.search(query, k=5, facets=True, collapse=False)
    by_source = collections.Counter(DOCS[d]["source"] for d in matched[query])
    by_month = collections.Counter(day(d)[:7] for d in matched[query] if day(d))
    assert {f["value"]: f["count"] for f in response.facets["source"]} == dict(by_source)
    assert {f["value"]: f["count"] for f in response.facets["month"]} == dict(by_month)
    months = [f["value"] for f in response.facets["month"]]
    assert months == sorted(months, reverse=True)


@pytest.mark.parametrize("group", TRUTH["groups"], ids=lambda g: g["representative"])
def test_folding_groups_exactly_the_planted_copies(dated_service, group):
    members = set(group["members"])
    title = next(json.loads(line)["title"] for line in
                 (Path(__file__).parent / "data" / "dated" / "corpus.jsonl").read_text("utf-8").splitlines()
                 if json.loads(line)["id"] == group["representative"])
    folded = dated_service.search(title, k=20)
    ours = [h for h in folded.hits if h.doc_id in members or {s["doc_id"] for s in h.similar} & members]
    assert len(ours) == 1, "a group is one result"
    hit = ours[0]
    assert {hit.doc_id} | {s["doc_id"] for s in hit.similar} == members
    for h in folded.hits:  # nothing else is folded with them, and no other hit holds a copy of another group
        assert h is hit or not {s["doc_id"] for s in h.similar} & members
    spread = dated_service.search(title, k=20, collapse=False)
    assert members <= {h.doc_id for h in spread.hits} and all(not h.similar for h in spread.hits)


def text_of(service, doc_id: str) -> list[str]:
    doc = service.document(doc_id)
    return analyze(doc.get("title", "") + "\n" + doc.get("text", ""))


def contains_run(terms: list[str], run: list[str]) -> bool:
    return any(terms[i:i + len(run)] == run for i in range(len(terms) - len(run) + 1))


@pytest.mark.parametrize("query, phrase", [
    ('"उत्तर कोरिया" सेना', "उत्तर कोरिया"),
    ('"uttar korea" sena', "उत्तर कोरिया"),
])
def test_a_phrase_must_occur_in_order(dated_service, query, phrase):
    response = dated_service.search(query, k=100, collapse=False)
    run = analyze(phrase)
    assert response.hits and response.operators["phrases"]
    for hit in response.hits:
        passage = dated_service._data.passages[dated_service._data.passage_row[hit.passage_id]]
        assert contains_run(text_of(dated_service, hit.doc_id), run), hit.doc_id
        assert passage["doc_id"] == hit.doc_id
    # and every document holding the phrase is found (brute force over the corpus)
    want = {d for d in dated_service._data.doc_ids if contains_run(text_of(dated_service, d), run)}
    assert {h.doc_id for h in response.hits} == want


def test_an_english_phrase_needs_its_expansions_in_one_passage(dated_service):
    phrase = dated_service.search('"north korea"', k=100, collapse=False)
    loose = dated_service.search("north korea", k=100, collapse=False)
    assert phrase.hits and phrase.total <= loose.total
    korea = analyze("कोरिया")[0]
    for hit in phrase.hits:
        row = dated_service._data.passages[dated_service._data.passage_row[hit.passage_id]]
        assert korea in analyze(row["title"] + " " + row["text"]) or korea in text_of(dated_service, hit.doc_id)


@pytest.mark.parametrize("query, excluded", [
    ("कोरिया सेना -रूस", "रूस"),
    ("korea army -russia", "रूस"),
    ("uttar korea sena -rus", "रूस"),
])
def test_an_excluded_word_leaves_out_its_documents(dated_service, query, excluded):
    response = dated_service.search(query, k=100, collapse=False)
    term = analyze(excluded)[0]
    assert response.operators["excluded"]
    for hit in response.hits:
        assert term not in text_of(dated_service, hit.doc_id), hit.doc_id
    assert not any(term in analyze(hit.snippet) for hit in response.hits)  # nor highlighted
    got = set(all_matches(dated_service, query, sort="date"))
    kept = {d for d in all_matches(dated_service, query.rsplit(" -", 1)[0], sort="date")
            if term not in text_of(dated_service, d)}
    # the word's expansions and transliterations are left out too: an English or romanized one may leave
    # out more than the documents holding its one Devanagari term
    assert got == kept if query.split()[0] == "कोरिया" else got <= kept


@pytest.mark.parametrize("query", ["source:bbc.com कोरिया", 'source:"Amar Ujala" korea', "source:aajtak.in uttar korea"])
def test_source_in_the_query_filters(dated_service, query):
    response = dated_service.search(query, k=100, collapse=False)
    wanted = {"bbc.com": "bbc.com", "Amar Ujala": "amar ujala", "aajtak.in": "aajtak.in"}
    name = next(k for k in wanted if k in query)
    assert response.filters["source"] == [name]
    assert all(DOCS[h.doc_id]["source_id"] == wanted[name] for h in response.hits)


def test_operators_alone_list_their_scope_by_date(dated_service):
    response = dated_service.search("source:bbc.com", k=100)
    assert response.total == sum(1 for d in DOCS.values() if d["source_id"] == "bbc.com")
    days = [day(h.doc_id) for h in response.hits if day(h.doc_id)]
    assert days == sorted(days, reverse=True)


def test_a_filter_that_matches_nothing_is_empty(dated_service):
    response = dated_service.search("कोरिया", filters=Filters.checked("1999-01-01", "1999-12-31"))
    assert response.total == 0 and response.hits == ()
