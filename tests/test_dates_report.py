"""Dates through the whole pipeline: an unreadable date is reported (build summary, manifest, `search info`),
and a full timestamp (a page's published time) is kept, sorts same-day stories by their time, and falls
inside a day-granular date filter."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from index.dates import DateConfig, DateWarning, DateWarnings, date_warnings, parse_date
from search.scope import Filters, Metadata
from search.types import Document

DATA = Path(__file__).parent / "data"
TRUTH = json.loads((DATA / "dated" / "truth.json").read_text("utf-8"))["documents"]


def doc(doc_id: str, raw: str) -> Document:
    """A document as the corpus reader leaves it: ``date`` parsed from ``raw`` (empty when unreadable)."""
    return Document(doc_id, "t", "x", date=parse_date(raw).iso, date_raw=raw)


# ------------------------------------------------------------------ reporting unreadable dates

def test_unreadable_dates_are_counted_with_their_raw_string_and_why():
    docs = [doc("doc-1", "2024-11-22T18:30:00+05:30"), doc("doc-17", "not-a-date"), doc("doc-2", ""),
            doc("doc-30", "31 फ़रवरी 2024"), doc("doc-4", "22 नवंबर 2024")]
    found = date_warnings(docs)
    assert found == DateWarnings(2, (DateWarning("doc-17", "not-a-date", "not a date"),
                                     DateWarning("doc-30", "31 फ़रवरी 2024", "not a valid date")))
    assert found.line() == ("2 documents have dates that could not be read (left empty): "
                            "doc-17 'not-a-date', doc-30 '31 फ़रवरी 2024'")
    assert found.to_json() == {"count": 2, "first": [
        {"doc_id": "doc-17", "raw": "not-a-date", "problem": "not a date"},
        {"doc_id": "doc-30", "raw": "31 फ़रवरी 2024", "problem": "not a valid date"}]}


def test_the_list_is_capped_and_the_count_exact():
    docs = [doc(f"doc-{n}", f"{30 + n} फ़रवरी 2024") for n in range(7)]
    found = date_warnings(docs, DateConfig(max_warnings_listed=4))
    assert found.count == 7 and [w.doc_id for w in found.first] == ["doc-0", "doc-1", "doc-2", "doc-3"]
    assert found.line().startswith("7 documents have dates that could not be read (left empty): doc-0 ")
    assert found.line().endswith("doc-2 '32 फ़रवरी 2024', …")
    one = date_warnings(docs[:1])
    assert one.line() == "1 document has a date that could not be read (left empty): doc-0 '30 फ़रवरी 2024'"
    assert date_warnings([doc("a", "2024-11-22")]).line() == "" and date_warnings([]).count == 0


def test_a_long_raw_string_is_shortened_in_the_report():
    found = date_warnings([doc("long", "x" * 500)], DateConfig(max_chars=80))
    assert found.first[0].raw == "x" * 80 + "…" and found.first[0].problem == "longer than 80 characters"


def test_the_corpus_reader_and_the_report_agree(tmp_path):
    from index.corpus import read_corpus

    rows = [{"id": "a", "text": "पाठ", "date": "Feb 30, 2024"}, {"id": "b", "text": "पाठ", "date": "कभी नहीं"},
            {"id": "c", "text": "पाठ", "date": "2 घंटे पहले", "fetched_at": "2024-11-22T04:30:00Z"},
            {"id": "d", "text": "पाठ", "date": "2024-11-22T18:30:00+05:30"}, {"id": "e", "text": "पाठ"}]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    read = read_corpus([corpus])
    found = date_warnings(read.documents)
    assert [(w.doc_id, w.raw, w.problem) for w in found.first] == [
        ("a", "Feb 30, 2024", "not a valid date"),
        ("b", "कभी नहीं", "not a date")]
    assert found.count == len(read.warnings) == 2  # what the reader logged, document by document
    dates = {d.doc_id: d.date for d in read.documents}
    assert dates["c"] == "2024-11-22T08:00:00+05:30" and dates["d"] == "2024-11-22T18:30:00+05:30"


def test_the_build_summary_says_how_many_dates_were_left_empty():
    from index.builder import BuildSummary

    warnings = date_warnings([doc("doc-17", "not-a-date"), doc("doc-18", "2024-13-05")])
    lines = BuildSummary("ix", 2, 2, 2, 0, 2, 0, 0, (), 1.0, 1.0, warnings).lines()
    assert ("  2 documents have dates that could not be read (left empty): doc-17 'not-a-date', "
            "doc-18 '2024-13-05'") in lines
    assert not any("could not be read" in line for line in BuildSummary("ix", 1, 1, 1, 0, 1, 0, 0, (), 1.0,
                                                                          1.0).lines())


def _manifest(**extra) -> dict:
    sha = {"size": 1, "sha256": "0" * 64}
    return {"format_version": 2, "model": {"id": "m", "fingerprint": "f", "dimension": 3},
            "analyzer": {"version": "a"},
            "chunking": {"version": "c", "max_tokens": 1, "overlap_sentences": 0, "embed_text": "t"},
            "counts": {"documents": 1, "passages": 1}, "sources": [], "built_at": "2024-11-22T00:00:00Z",
            "build_seconds": 1.0, "skipped": [],
            "files": {"documents.jsonl": sha, "passages.jsonl": sha, "vectors.npy": sha, "bm25/x.seg": sha},
            **extra}


@pytest.mark.parametrize("extra, problem", [
    ({}, None),  # an index built before date warnings were recorded still opens
    ({"date_warnings": {"count": 0, "first": []}}, None),
    ({"date_warnings": {"count": 2, "first": [{"doc_id": "a", "raw": "x", "problem": "not a date"}]}}, None),
    ({"date_warnings": {"count": "2", "first": []}}, "date_warnings.count is a str, not a whole number"),
    ({"date_warnings": {"count": 2}}, "date_warnings.first is missing"),
    ({"date_warnings": []}, "date_warnings is a list, not an object"),
])
def test_the_manifest_schema_holds_date_warnings_when_present(tmp_path, extra, problem):
    from search.errors import IndexNotFound
    from search.schema import check_schema

    gen = tmp_path / "gen-1"
    if problem is None:
        check_schema(gen, _manifest(**extra))
        return
    with pytest.raises(IndexNotFound) as err:
        check_schema(gen, _manifest(**extra))
    assert problem in err.value.message


# ------------------------------------------------------------------ full timestamps

PAGE = """<html lang="en"><head><title>T</title>
<meta property="og:title" content="Late night vote in the assembly">
<meta property="article:published_time" content="{date}">
</head><body><article><h1>Late night vote in the assembly</h1>
{paragraphs}
</article></body></html>"""
PARAGRAPHS = [
    "The assembly voted late at night on the new water bill after a long debate in which members of every "
    "party spoke about the districts that have gone without rain for three seasons.",
    "The minister said the first tankers would reach the driest villages within a week, and that the canal "
    "work stopped last year would start again before the monsoon.",
    "Farmers' groups outside the building welcomed the vote but asked for the compensation promised in the "
    "spring to be paid before any new scheme is announced.",
]


@pytest.mark.parametrize("written, kept", [
    ("2024-11-22T18:30:00+05:30", "2024-11-22T18:30:00+05:30"),  # the time and its offset
    ("2024-11-22T13:00:00Z", "2024-11-22T13:00:00Z"),  # as written: the build writes it in India's zone
    ("Fri. Nov 22nd, 2024", "Fri. Nov 22nd, 2024"),  # not cut to "Fri. Nov 2"
    ("  2024-11-22  ", "2024-11-22"),
])
def test_an_article_keeps_its_published_time(written, kept):
    from index.ingest.extract import extract_article

    html = PAGE.format(date=written, paragraphs="\n".join(f"<p>{p}</p>" for p in PARAGRAPHS))
    article = extract_article(html, "https://news.example/vote")
    assert article.date == kept
    assert parse_date(article.date).iso[:10] == "2024-11-22"


class _Generation:
    """The few parts of a loaded generation that dates are read from (pure logic: no index needed)."""

    def __init__(self, dates: dict[str, str]):
        self.doc_ids = list(dates)
        self.documents = {d: {"doc_id": d, "date": parse_date(raw).iso, "source": "s"} for d, raw in dates.items()}

    def once(self, _name, make):
        return make()

    def doc_index(self):
        return {d: i for i, d in enumerate(self.doc_ids)}

    def doc_id_rank(self):
        return np.argsort(np.argsort(np.array(self.doc_ids, dtype=object)))


SAME_DAY = {"morning": "2024-11-22T09:30:00+05:30", "evening": "2024-11-22T18:30:00+05:30",
            "utc-night": "2024-11-22T17:00:00Z",  # 22:30 in India, the latest that day
            "next-utc": "2024-11-22T20:00:00Z",  # 01:30 on the 23rd in India
            "day-only": "2024-11-22", "midnight": "2024-11-22T00:00:00+05:30", "before": "2024-11-21T23:59:00+05:30",
            "undated": ""}


@pytest.mark.parametrize("lo, hi, want", [
    ("", "2024-11-22", {"morning", "evening", "utc-night", "day-only", "midnight", "before"}),
    ("2024-11-22", "2024-11-22", {"morning", "evening", "utc-night", "day-only", "midnight"}),
    ("2024-11-22", "", {"morning", "evening", "utc-night", "day-only", "midnight", "next-utc"}),
    ("2024-11-23", "", {"next-utc"}),
    ("", "2024-11", {"morning", "evening", "utc-night", "day-only", "midnight", "before", "next-utc"}),
    ("", "2024-11-21", {"before"}),
])
def test_a_day_filter_takes_the_whole_day(lo, hi, want):
    data = _Generation(SAME_DAY)
    keep = Metadata(data).mask(Filters.checked(lo, hi))
    assert {d for d, k in zip(data.doc_ids, keep) if k} == want


def test_sort_by_date_orders_same_day_stories_by_time():
    from search.ranking import Matches, by_date

    data = _Generation(SAME_DAY)
    everything = Matches(np.ones(len(data.doc_ids), dtype=bool), exact=True)
    flat = [(d, 0.0) for d in data.doc_ids]
    order = [d for d, _ in by_date(data, everything, flat)]
    assert order == ["next-utc", "utc-night", "evening", "morning", "midnight", "day-only", "before", "undated"]
    # relevance still breaks a tie of equal times
    tied = _Generation({"a": "2024-11-22T10:00:00+05:30", "b": "2024-11-22T04:30:00Z", "c": "2024-11-22"})
    ranked = by_date(tied, Matches(np.ones(3, dtype=bool), exact=True), [("a", 0.1), ("b", 0.9), ("c", 0.5)])
    assert [d for d, _ in ranked] == ["b", "a", "c"]


# ------------------------------------------------------------------ end to end, real model and Whoosh

def _order_key(date: str) -> tuple:
    """Newest first: the local day, then a known time before an unknown one, then the time."""
    if not date:
        return ("",)
    if len(date) == 10:
        return (date, 0, "")
    return (date[:10], 1, dt.datetime.fromisoformat(date).time().isoformat())


def test_the_dated_index_reports_its_unreadable_dates(dated_index):
    from click.testing import CliRunner

    from sangam.cli import cli
    from search import storage

    rows = [json.loads(line) for line in (DATA / "dated" / "corpus.jsonl").read_text("utf-8").splitlines()]
    want = [(r["id"], r["date"]) for r in rows if (r.get("date") or "").strip() and not TRUTH[r["id"]]["date"]]
    assert len(want) == 6
    recorded = storage.open_generation(dated_index).manifest["date_warnings"]
    assert recorded["count"] == len(want)
    assert [(w["doc_id"], w["raw"]) for w in recorded["first"]] == want
    info = CliRunner().invoke(cli, ["info", "--index", str(dated_index)])
    assert info.exit_code == 0, info.output
    assert "dates      6 document(s) with a date that could not be read (left empty; --json shows which)" \
        in info.output


def test_the_dated_index_sorts_same_day_stories_by_time(dated_service):
    same_day_times = 0
    for source in sorted({t["source"] for t in TRUTH.values()}):
        response = dated_service.search(f'source:"{source}"', k=100, sort="date", collapse=False)
        got = [TRUTH[h.doc_id]["date"] for h in response.hits]
        assert response.total == len(got) == sum(1 for t in TRUTH.values() if t["source"] == source)
        keys = [_order_key(d) for d in got]
        dated = [k for k in keys if k != ("",)]
        assert dated == sorted(dated, reverse=True), source
        assert keys == dated + [("",)] * (len(keys) - len(dated))  # undated last
        same_day_times += sum(1 for a, b in zip(dated, dated[1:]) if a[0] == b[0] and a[1] == b[1] == 1)
    assert same_day_times, "the corpus holds timed stories of one day from one outlet: their order is tested"


def test_a_day_filter_keeps_a_story_published_late_that_day(dated_service):
    late = max((d for d, t in TRUTH.items() if len(t["date"]) > 10), key=lambda d: TRUTH[d]["date"][11:19])
    day, source = TRUTH[late]["date"][:10], TRUTH[late]["source"]
    assert TRUTH[late]["date"][11:13] >= "18"
    want = {d for d, t in TRUTH.items() if t["date"][:10] == day and t["source_id"] == TRUTH[late]["source_id"]}
    response = dated_service.search(f'source:"{source}"', k=100, collapse=False, filters=Filters.checked(day, day))
    assert late in {h.doc_id for h in response.hits}
    assert {h.doc_id for h in response.hits} == want


def test_a_build_reports_its_unreadable_dates(tmp_path, embedder, settings):
    from index.builder import build_index
    from search import storage

    rows = [{"id": "doc-16", "title": "सुबह की खबर", "text": "नदी का जल स्तर सुबह बढ़ा।", "date": "2024-11-22T09:30:00+05:30"},
            {"id": "doc-17", "title": "बिना तारीख", "text": "बारिश के बाद सड़कें बंद रहीं।", "date": "not-a-date"},
            {"id": "doc-18", "title": "रात की खबर", "text": "देर रात बांध के द्वार खोले गए।", "date": "31 फ़रवरी 2024"}]
    corpus = tmp_path / "news.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    summary = build_index([corpus], tmp_path / "index", settings, embedder=embedder, progress=False)
    assert summary.date_warnings.count == 2
    assert ("  2 documents have dates that could not be read (left empty): doc-17 'not-a-date', "
            "doc-18 '31 फ़रवरी 2024'") in summary.lines()
    opened = storage.open_generation(tmp_path / "index")
    assert opened.manifest["date_warnings"] == summary.date_warnings.to_json()
    assert {r["doc_id"]: r["date"] for r in opened.documents} == {
        "doc-16": "2024-11-22T09:30:00+05:30", "doc-17": "", "doc-18": ""}
