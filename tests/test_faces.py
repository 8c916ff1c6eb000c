"""The three faces (REST API, search page, CLI) over a small dated index: dates, sources, sort, facets,
near-duplicate folding, the query syntax and related stories, each checked against the dated corpus's
own truth (tests/data/dated/truth.json, written by its generator, not by the indexing code)."""

from __future__ import annotations

import html as html_lib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DATED = Path(__file__).parent / "data" / "dated"
#: Planted groups of copies taken (the shortest ones) and stories printed once: a small index, built once.
GROUPS = 4
SINGLES = 24
#: Stories about North Korea and Russia: the query with lexical support in several sources and months.
SEEDS = ("seed-000@bbc", "seed-001@bhaskar", "seed-002@bhaskar", "seed-003@amar")
QUERY = "उत्तर कोरिया"
#: A query of operators only (the excluded word occurs nowhere): with sources chosen, every document in
#: scope matches (a source alone lists its scope), so totals and facets can be compared with the truth
#: exactly; ``every_source`` chooses them all.
EVERYTHING = "-qqzzxxyy"
SPEC_URI = "urn:sangam:openapi"


# ----------------------------------------------------------------------------- the corpus and its truth
def _subset() -> tuple[list[dict], dict]:
    rows = [json.loads(line) for line in (DATED / "corpus.jsonl").open(encoding="utf-8")]
    truth = json.loads((DATED / "truth.json").read_text(encoding="utf-8"))
    by_id = {r["id"]: r for r in rows}
    groups = sorted(truth["groups"], key=lambda g: (max(len(by_id[m]["text"]) for m in g["members"]),
                                                    g["representative"]))[:GROUPS]
    seed_group = next(g for g in truth["groups"] if g["representative"].startswith("seed-"))
    groups.append(seed_group)
    grouped = {m for g in truth["groups"] for m in g["members"]}
    singles = sorted((r for r in rows if r["id"] not in grouped and not r["id"].startswith("seed-")),
                     key=lambda r: (len(r["text"]), r["id"]))[:SINGLES]
    chosen = {m for g in groups for m in g["members"]} | {r["id"] for r in singles} | set(SEEDS)
    docs = {d: truth["documents"][d] for d in chosen}
    return [r for r in rows if r["id"] in chosen], {"documents": docs, "groups": groups}


@pytest.fixture(scope="module")
def truth() -> dict:
    return _subset()[1]


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, embedder, settings) -> Path:
    """A real index over part of the dated corpus: planted copies, seeds, short single stories."""
    from index.builder import build_index

    rows, _ = _subset()
    folder = tmp_path_factory.mktemp("dated")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    build_index([corpus], folder / "index", settings, embedder=embedder, progress=False)
    return folder / "index"


@pytest.fixture(scope="module")
def dated_service(dated_index, embedder, settings):
    from search.service import SearchService

    return SearchService.open(dated_index, settings, embedder=embedder)


@pytest.fixture(scope="module")
def dated_server(dated_service, settings):
    from web.app import create_app
    from web.server import BackgroundServer

    with BackgroundServer(create_app(settings=settings, service=dated_service)) as srv:
        yield srv


def day(meta: dict) -> str:
    return (meta.get("date") or "")[:10]


def end_of(prefix: str) -> str:
    """The last day string an inclusive ``to`` prefix takes (``2024`` -> after every day of 2024)."""
    return prefix if len(prefix) in (0, 10) else prefix + "-99-99"[len(prefix) - 4:]


def in_range(meta: dict, lo: str, hi: str) -> bool:
    d = day(meta)
    return bool(d) and (not lo or d >= lo) and (not hi or d <= hi)


def brute_facets(truth: dict, ids) -> dict:
    """Facets computed from the truth: documents by source (most first, then by name) and by month."""
    metas = [truth["documents"][d] for d in ids]
    sources = Counter(m["source"] for m in metas)
    months = Counter(day(m)[:7] for m in metas if day(m))
    return {"source": [{"value": v, "count": c} for v, c in sorted(sources.items(), key=lambda x: (-x[1], x[0]))],
            "month": [{"value": v, "count": c} for v, c in sorted(months.items(), reverse=True)]}


def every_source(truth: dict) -> list[str]:
    return sorted({m["source"] for m in truth["documents"].values()})


def group_of(truth: dict) -> dict[str, frozenset]:
    return {m: frozenset(g["members"]) for g in truth["groups"] for m in g["members"]}


# ----------------------------------------------------------------------------- HTTP helpers
class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def call(base: str, path: str) -> Reply:
    try:
        with urllib.request.urlopen(base + path, timeout=60) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Reply(e.code, e.headers, e.read())


def api(srv, q: str = QUERY, **params) -> Reply:
    items = [("q", q)] + [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    return call(srv.url, "/api/search?" + urllib.parse.urlencode(items))


@pytest.fixture(scope="module")
def validate(dated_server):
    spec = call(dated_server.url, "/api/openapi.json").json
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))

    def check(name: str, instance) -> None:
        Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{name}"}, registry=registry).validate(instance)

    return check


def ok(reply: Reply, validate) -> dict:
    assert reply.status == 200, reply.text
    validate("SearchResponse", reply.json)
    return reply.json


def error(reply: Reply, status: int, validate) -> str:
    assert reply.status == status, reply.text
    validate("Error", reply.json)
    message = reply.json["error"]
    assert "\n" not in message and "Traceback" not in message
    return message


# ----------------------------------------------------------------------------- API: filters, against the truth
@pytest.mark.parametrize("lo, hi", [("2024-01-01", "2024-06-30"), ("2023", "2023"), ("2024-11", ""),
                                    ("", "2023-04-30")])
def test_a_date_range_keeps_exactly_the_documents_in_it(dated_server, validate, truth, lo, hi):
    body = ok(api(dated_server, EVERYTHING, **{"from": lo, "to": hi, "k": 100, "collapse": 0, "facets": 1,
                                               "source": every_source(truth)}), validate)
    expected = {d for d, m in truth["documents"].items() if in_range(m, lo, end_of(hi))}
    assert body["total"] == len(expected) and body["total_exact"]
    assert {h["doc_id"] for h in body["hits"]} == expected
    assert body["filters"] == {"from": lo, "to": hi, "source": every_source(truth)}
    assert body["facets"] == brute_facets(truth, expected)


@pytest.mark.parametrize("sources", [["Amar Ujala"], ["  amar   UJALA "], ["bbc.com", "जनसत्ता"]])
def test_sources_keep_exactly_their_documents_by_any_spelling(dated_server, validate, truth, sources):
    from search.scope import source_key

    body = ok(api(dated_server, EVERYTHING, source=sources, k=100, collapse=0, facets=1), validate)
    wanted = {source_key(s) for s in sources}
    expected = {d for d, m in truth["documents"].items() if m["source_id"] in wanted}
    assert expected and {h["doc_id"] for h in body["hits"]} == expected
    assert body["total"] == len(expected)
    assert body["facets"] == brute_facets(truth, expected)


def test_a_ranked_query_is_filtered_inside_retrieval(dated_server, validate, truth):
    everything = ok(api(dated_server, k=100, collapse=0), validate)
    assert everything["hits"], "the North Korea stories match their own words"
    narrowed = ok(api(dated_server, k=100, collapse=0, facets=1, source="दैनिक भास्कर", **{"from": "2023-01-01"}),
                  validate)
    assert narrowed["hits"] and len(narrowed["hits"]) < len(everything["hits"])
    for hit in narrowed["hits"]:
        meta = truth["documents"][hit["doc_id"]]
        assert meta["source"] == "दैनिक भास्कर" and day(meta) >= "2023-01-01"
        assert hit["source"] == "दैनिक भास्कर"
    # the facets count every match, and these are all of them
    assert narrowed["total"] == narrowed["ranked"] == len(narrowed["hits"])
    assert narrowed["facets"] == brute_facets(truth, [h["doc_id"] for h in narrowed["hits"]])


def test_sort_by_date_is_newest_first_and_undated_last(dated_server, validate, truth):
    body = ok(api(dated_server, EVERYTHING, sort="date", k=100, collapse=0, source=every_source(truth)), validate)
    assert body["sort"] == "date"
    days = [day(truth["documents"][h["doc_id"]]) for h in body["hits"]]
    dated = [d for d in days if d]
    assert dated == sorted(dated, reverse=True)
    assert days == dated + [""] * (len(days) - len(dated))
    ranked = ok(api(dated_server, sort="date", k=100), validate)
    shown = [h["date"] for h in ranked["hits"] if h["date"]]
    assert shown == sorted(shown, reverse=True)


def test_near_duplicates_fold_exactly_the_planted_copies(dated_server, validate, truth):
    folded = ok(api(dated_server, EVERYTHING, k=100, source=every_source(truth)), validate)
    groups = group_of(truth)
    seen = set()
    for hit in folded["hits"]:
        copies = {hit["doc_id"], *(s["doc_id"] for s in hit["similar"])}
        assert copies == groups.get(hit["doc_id"], {hit["doc_id"]}), hit["doc_id"]
        for s in hit["similar"]:
            assert s["source"] == truth["documents"][s["doc_id"]]["source"]
        seen |= copies
    assert seen == set(truth["documents"])
    assert folded["ranked"] == len(folded["hits"]) == len(truth["documents"]) - sum(
        len(g["members"]) - 1 for g in truth["groups"])
    assert folded["total"] == len(truth["documents"])  # total counts documents, folded or not
    unfolded = ok(api(dated_server, EVERYTHING, k=100, collapse=0, source=every_source(truth)), validate)
    assert unfolded["ranked"] == len(truth["documents"]) and all(h["similar"] == [] for h in unfolded["hits"])


def test_the_query_syntax_is_read_and_reported(dated_server, validate, truth):
    body = ok(api(dated_server, f'"{QUERY}" -यूक्रेन source:"Amar Ujala"', k=100, collapse=0), validate)
    assert body["operators"] == {"phrases": [QUERY], "excluded": ["यूक्रेन"]}
    assert body["filters"]["source"] == ["Amar Ujala"]
    for hit in body["hits"]:
        assert truth["documents"][hit["doc_id"]]["source"] == "Amar Ujala"


def test_an_empty_range_is_an_empty_answer(dated_server, validate):
    body = ok(api(dated_server, **{"from": "1990", "to": "1991-06", "facets": 1}), validate)
    assert body["total"] == body["ranked"] == 0 and body["hits"] == []
    assert body["facets"] == {"source": [], "month": []}


# ----------------------------------------------------------------------------- API: parameters refused
@pytest.mark.parametrize("params, needle", [
    ({"from": "not-a-date"}, "from must be a date"),
    ({"to": "2024-13"}, "not a calendar date"),
    ({"from": "2024-12", "to": "2024-01"}, "after"),
    ({"sort": "newest"}, "unknown sort"),
    ({"collapse": "maybe"}, "collapse must be 1 or 0"),
    ({"facets": "2"}, "facets must be 1 or 0"),
    ({"source": [f"s{i}" for i in range(21)]}, "at most 20 sources"),
])
def test_bad_filter_values_are_400_with_the_fix(dated_server, validate, params, needle):
    message = error(api(dated_server, **params), 400, validate)
    assert needle in message and re.search(r"\(.+\)$", message), message


@pytest.mark.parametrize("name", ["filter", "sort_by", "Source", "date"])
def test_an_unknown_parameter_is_400_naming_it_and_the_known_ones(dated_server, validate, name):
    message = error(api(dated_server, **{name: "x"}), 400, validate)
    assert f"unknown parameter '{name}'" in message
    from web.params import SEARCH_PARAMS

    assert ", ".join(SEARCH_PARAMS) in message


def test_facets_are_null_unless_asked(dated_server, validate):
    assert ok(api(dated_server), validate)["facets"] is None


# ----------------------------------------------------------------------------- API: related
def test_related_leaves_out_the_document_and_its_copies(dated_server, dated_service, validate, truth):
    doc_id = truth["groups"][-1]["representative"]  # the seed story printed by four outlets
    reply = call(dated_server.url, f"/api/documents/{urllib.parse.quote(doc_id)}/related?k=3")
    assert reply.status == 200, reply.text
    body = reply.json
    validate("RelatedList", body)
    assert body["doc_id"] == doc_id and 1 <= len(body["related"]) <= 3
    assert body["related"] == dated_service.related(doc_id, k=3)
    copies = group_of(truth)[doc_id]
    assert not copies & {r["doc_id"] for r in body["related"]}
    sims = [r["similarity"] for r in body["related"]]
    assert sims == sorted(sims, reverse=True)
    default = call(dated_server.url, f"/api/documents/{urllib.parse.quote(doc_id)}/related").json
    assert len(default["related"]) == 5


@pytest.mark.parametrize("path, status, needle", [
    ("/api/documents/no-such-doc/related", 404, "no-such-doc"),
    ("/api/documents/seed-000@bbc/related?k=0", 400, "k must be"),
    ("/api/documents/seed-000@bbc/related?k=21", 400, "k must be"),
    ("/api/documents/seed-000@bbc/related?k=abc", 400, "k must be"),
    ("/api/documents/seed-000@bbc/related?n=3", 400, "unknown parameter 'n'"),
])
def test_related_errors(dated_server, validate, path, status, needle):
    assert needle in error(call(dated_server.url, path), status, validate)


def test_documents_carry_their_dates_and_groups(dated_server, validate, truth):
    body = call(dated_server.url, "/api/documents/seed-004@amar").json
    validate("Document", body)
    meta = truth["documents"]["seed-004@amar"]
    assert body["date"] == meta["date"] and body["date_raw"] == meta["date_raw"]
    assert body["dup_group"] == next(g["representative"] for g in truth["groups"] if "seed-004@amar" in g["members"])


# ----------------------------------------------------------------------------- the page, as HTML
def page_html(srv, **params) -> tuple[int, str]:
    items = [(k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list) else [vs])]
    reply = call(srv.url, "/?" + urllib.parse.urlencode(items))
    return reply.status, reply.text


def links(html: str, pattern: str) -> list[dict]:
    """The query parameters of every link whose tag matches ``pattern``."""
    found = []
    for tag in re.findall(r"<a [^>]*>", html):
        if re.search(pattern, tag):
            href = html_lib.unescape(re.search(r'href="([^"]+)"', tag).group(1))
            found.append(urllib.parse.parse_qs(urllib.parse.urlsplit(href).query))
    return found


def test_the_pager_and_links_carry_the_filters(dated_server):
    status, html = page_html(dated_server, q=QUERY, k=1, sort="date", source=["Amar Ujala", "bbc.com"],
                             **{"from": "2023-01-01", "to": "2024-12-31"})
    assert status == 200
    (nxt,) = links(html, 'rel="next"')
    assert nxt == {"q": [QUERY], "k": ["1"], "sort": ["date"], "source": ["Amar Ujala", "bbc.com"],
                   "from": ["2023-01-01"], "to": ["2024-12-31"], "page": ["2"]}
    for doc_link in links(html, r'href="/documents/'):
        assert doc_link["source"] == ["Amar Ujala", "bbc.com"] and doc_link["sort"] == ["date"]
    assert 'value="2023-01-01"' in html and 'value="2024-12-31"' in html
    assert '<option value="date" selected>' in html
    assert re.search(r'<input type="checkbox" name="source" value="Amar Ujala" checked>', html)


def test_facet_chips_filter_and_clear(dated_server, truth):
    status, html = page_html(dated_server, q=QUERY)
    assert status == 200 and 'class="facets"' in html
    chips = links(html, r'class="chip')
    sources = [c for c in chips if "source" in c]
    months = [c for c in chips if "from" in c]
    assert sources and months
    assert all(c["q"] == [QUERY] and len(c["source"]) == 1 for c in sources)
    for c in months:  # a month chip is that month's first and last day (what a date input shows)
        lo, hi = c["from"][0], c["to"][0]
        assert lo[:7] == hi[:7] and lo.endswith("-01") and int(hi[8:]) >= 28
    # the chosen one links back to the search without it
    chosen_source = sources[0]["source"][0]
    _, narrowed = page_html(dated_server, q=QUERY, source=chosen_source)
    (on,) = links(narrowed, r'class="chip on"')
    assert "source" not in on and on["q"] == [QUERY]


def test_a_folded_hit_says_how_many_copies_and_links_to_all(dated_server, truth):
    _, html = page_html(dated_server, q=QUERY, k=20)
    lines = [line for line in re.findall(r'<p class="similar">(.*?)</p>', html, flags=re.S)
             if "/documents/seed-004" in line]
    assert len(lines) == 1, "the seed story is printed by four outlets"
    text = re.sub(r"<[^>]+>", "", lines[0])
    assert re.match(r"\s*\+3 similar:", text)
    names = {n.strip() for n in text.split(":", 1)[1].split("·")[0].split(",")}
    copies = [m for m in truth["groups"][-1]["members"]]
    assert names <= {truth["documents"][m]["source"] for m in copies} and len(names) == 3
    (show_all,) = links(lines[0], r'class="show-all"')
    assert show_all["collapse"] == ["0"]


def test_the_empty_state_has_a_hint_and_a_way_out(dated_server):
    status, html = page_html(dated_server, q=QUERY, **{"from": "1990-01-01", "to": "1990-12-31"})
    assert status == 200
    assert 'class="empty"' in html and "with these filters" in html
    (clear,) = links(html, r'class="clear-filters"')
    assert clear == {"q": [QUERY]}


def test_the_page_explains_the_syntax_and_refuses_unknown_parameters(dated_server):
    _, bare = page_html(dated_server)
    assert "Search tips" in bare and "source:" in bare and "-ukraine" in bare
    status, html = page_html(dated_server, q=QUERY, bogus="1")
    assert status == 400 and "unknown parameter &#39;bogus&#39;" in html and "the known ones are" in html
    status, html = page_html(dated_server, q=QUERY, **{"from": "yesterday"})
    assert status == 400 and "from must be a date" in html


def test_the_document_page_lists_related_stories(dated_server, dated_service):
    doc_id = "seed-000@bbc"
    reply = call(dated_server.url, f"/documents/{doc_id}?q={urllib.parse.quote(QUERY)}&source=bbc.com")
    assert reply.status == 200
    related = re.search(r'<section class="related".*?</section>', reply.text, flags=re.S).group(0)
    expected = [r["doc_id"] for r in dated_service.related(doc_id, k=5)]
    shown = [urllib.parse.unquote(m) for m in re.findall(r'href="/documents/([^"?]+)', related)]
    assert shown == expected
    assert all(link["source"] == ["bbc.com"] for link in links(related, r'href="/documents/'))


# ----------------------------------------------------------------------------- the CLI
@pytest.fixture
def runner(embedder, monkeypatch):
    from click.testing import CliRunner

    from search.embedding import Embedder

    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, *a, **k: embedder))
    return CliRunner()


def cli(runner, dated_index, text, *options):
    from sangam.cli import cli as command

    # "--": a query may start with -word
    result = runner.invoke(command, ["query", *options, "--index", str(dated_index), "--", text])
    assert "Traceback" not in result.output
    return result


def test_cli_filters_and_json(runner, dated_index, truth):
    result = cli(runner, dated_index, EVERYTHING, "--from", "2024-01", "--to", "2024-06", "--source", "Amar Ujala",
                 "--source", "bbc.com", "--sort", "date", "--no-collapse", "--facets", "-k", "100", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    expected = {d for d, m in truth["documents"].items()
                if in_range(m, "2024-01-01", "2024-06-30") and m["source"] in ("Amar Ujala", "bbc.com")}
    assert {h["doc_id"] for h in body["hits"]} == expected and body["total"] == len(expected)
    assert body["sort"] == "date" and body["filters"] == {"from": "2024-01", "to": "2024-06",
                                                          "source": ["Amar Ujala", "bbc.com"]}
    assert body["facets"] == brute_facets(truth, expected)
    dates = [h["date"] for h in body["hits"]]
    assert dates == sorted(dates, reverse=True)


def test_cli_readable_output_folds_counts_and_facets(runner, dated_index, truth):
    result = cli(runner, dated_index, QUERY, "--facets", "-k", "20")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert re.match(r"(about )?\d+ results for ", first)
    assert re.search(r"^sources: .+\(\d+\)", result.output, flags=re.M)
    assert re.search(r"^months: \d{4}-\d{2} \(\d+\)", result.output, flags=re.M)
    similar = re.findall(r"^\s+\+(\d+) similar: (.+) \(--no-collapse", result.output, flags=re.M)
    seed_sources = {truth["documents"][m]["source"] for m in truth["groups"][-1]["members"]}
    assert any(n == "3" and set(names.split(", ")) <= seed_sources for n, names in similar), similar
    unfolded = cli(runner, dated_index, QUERY, "--no-collapse", "-k", "20")
    assert "similar:" not in unfolded.output


def test_cli_empty_state_and_bad_dates(runner, dated_index):
    empty = cli(runner, dated_index, QUERY, "--from", "1990", "--to", "1990")
    assert empty.exit_code == 0, empty.output
    assert re.search(r"^No results(: .+)? \(try a wider --from/--to", empty.output, flags=re.M), empty.output
    assert re.match(r"(about )?0 results", empty.output)
    bad = cli(runner, dated_index, QUERY, "--from", "22/11/2024")
    assert bad.exit_code != 0 and "from must be a date like 2024-11-22" in bad.output
    assert len([line for line in bad.output.splitlines() if line.strip()]) == 1
    wrong = cli(runner, dated_index, QUERY, "--sort", "newest")
    assert wrong.exit_code != 0 and "newest" in wrong.output


def test_cli_help_documents_the_syntax(runner):
    from sangam.cli import cli as command

    text = runner.invoke(command, ["query", "--help"]).output
    for needle in ("Query syntax", '"a phrase"', "-word", "source:NAME", "--from", "--source", "--sort",
                   "--no-collapse", "--facets", "Example:"):
        assert needle in text, needle


# ----------------------------------------------------------------------------- the page in a browser
ARTIFACTS = Path(__file__).parent / "artifacts"


def _params(url: str) -> dict:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def test_filters_sort_facets_and_related_in_a_browser(dated_server, dated_service, truth, page):
    from playwright.sync_api import expect

    page.goto(dated_server.url + "/?" + urllib.parse.urlencode({"q": QUERY}))
    hits = page.locator("ol.hits > li")
    expect(hits.first).to_be_visible()
    # a facet chip filters: a plain link, reflected in the URL and in the form's checkboxes
    chip = page.locator(".facet-source a.chip", has_text="Amar Ujala")
    chip.click()
    page.wait_for_url(re.compile(r"source=Amar\+Ujala"))
    expect(page.locator('input[name="source"][value="Amar Ujala"]')).to_be_checked()
    for source in page.locator("ol.hits .meta .source").all_inner_texts():
        assert source == "Amar Ujala"
    # the date range and the sort, from the form
    page.locator('input[name="source"][value="Amar Ujala"]').uncheck()
    page.locator("#from").fill("2023-01-01")
    page.locator("#to").fill("2024-12-31")
    page.select_option("#sort", "date")
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"sort=date"))
    params = _params(page.url)
    assert params["from"] == ["2023-01-01"] and params["to"] == ["2024-12-31"] and "source" not in params
    dates = page.locator("ol.hits time.date").evaluate_all("els => els.map(e => e.getAttribute('datetime'))")
    assert dates and dates == sorted(dates, reverse=True)
    assert all("2023-01-01" <= d[:10] <= "2024-12-31" for d in dates)
    # a month chip narrows to that month
    month = page.locator(".facet-month a.chip").first
    label = month.inner_text().split()[0]
    month.click()
    page.wait_for_url(re.compile(rf"from={label}-01"))
    for d in page.locator("ol.hits time.date").evaluate_all("els => els.map(e => e.getAttribute('datetime'))"):
        assert d.startswith(label)
    expect(page.locator(".facet-month a.chip.on")).to_contain_text(label)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "filtered.png"), full_page=True)
    # folded copies, then all of them
    page.goto(dated_server.url + "/?" + urllib.parse.urlencode({"q": QUERY, "k": 100}))
    similar = page.locator("p.similar", has=page.locator("a[href*='/documents/seed-004']"))
    expect(similar).to_contain_text("+3 similar:")
    before = hits.count()
    similar.get_by_role("link", name="show all copies").click()
    page.wait_for_url(re.compile(r"collapse=0"))
    expect(page.locator("p.collapse-note")).to_be_visible()
    assert hits.count() > before
    # the document page's related stories, and one of them opened
    hits.first.locator(".hit-title a").click()
    page.wait_for_url(re.compile(r"/documents/"))
    doc_id = urllib.parse.unquote(urllib.parse.urlsplit(page.url).path.rsplit("/", 1)[1])
    related = page.locator("section.related li a")
    expected = dated_service.related(doc_id, k=5)
    expect(related).to_have_count(len(expected))
    assert [r["title"] for r in expected] == [t.strip() for t in related.all_inner_texts()]
    related.first.click()
    page.wait_for_url(lambda url: urllib.parse.unquote(urllib.parse.urlsplit(url).path).endswith(expected[0]["doc_id"]))
    expect(page.locator("article h1")).to_have_text(expected[0]["title"])
    page.get_by_role("link", name="Back to results").click()
    assert _params(page.url)["collapse"] == ["0"]
    # the empty state, and the way out of it
    page.goto(dated_server.url + "/?" + urllib.parse.urlencode({"q": QUERY, "from": "1990-01-01", "to": "1990-12-31"}))
    expect(page.locator(".empty")).to_contain_text("with these filters")
    page.locator("a.clear-filters").click()
    expect(hits.first).to_be_visible()
    assert page.problems == [], page.problems
