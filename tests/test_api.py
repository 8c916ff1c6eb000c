"""The REST API through a real waitress server on 127.0.0.1: every status, Devanagari, limits, hostile input,
and every successful body held to the OpenAPI schemas the API publishes."""

from __future__ import annotations

import json
import logging
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from web.app import create_app
from web.server import BackgroundServer

TREATY_HI = "उत्तर कोरिया रूस संधि की पुष्टि"
TREATY_DOC = "003_f3897ac51716b5c2"
SEED_IDS = ["000_0cf4e35214cd62f5", "001_dbe0a019a329728a", "002_30ac033969362ad4",
            "003_f3897ac51716b5c2", "004_d52dbd3aa86ea457"]
SECRET = "secret /internal/path"
SPEC_URI = "urn:sangam:openapi"


# ----------------------------------------------------------------------------- helpers
@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def json(self):
        return json.loads(self.body)


def call(base: str, path: str, *, method: str = "GET", data: bytes | None = None, headers=None) -> Reply:
    """One request with the stdlib; HTTP errors come back as replies, not exceptions."""
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def raw_call(srv, request: bytes, *, timeout: float = 10) -> Reply:
    """Send the bytes of ``request`` on a fresh socket and read what the server answers."""
    with socket.create_connection((srv.host, srv.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return Reply(int(lines[0].split()[1]), headers, body)


def search_path(q: str | None = None, **params) -> str:
    if q is not None:
        params = {"q": q, **params}
    return "/api/search?" + urllib.parse.urlencode(params)


def assert_error(reply: Reply, status: int, validate) -> str:
    """The one JSON error body, with the HTTP status repeated and a message; returns the message."""
    assert reply.status == status, reply.text
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    body = reply.json
    assert body == {"ok": False, "status": status, "error": body["error"]}
    assert body["error"].strip()
    validate("Error", body)
    assert "Traceback" not in reply.text
    return body["error"]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def spec(server) -> dict:
    reply = call(server.url, "/api/openapi.json")
    assert reply.status == 200
    return reply.json


@pytest.fixture(scope="module")
def validate(spec):
    """``validate(name, instance)``: check ``instance`` against ``#/components/schemas/<name>``."""
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))

    def check(name: str, instance) -> None:
        schema = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
        Draft202012Validator(schema, registry=registry).validate(instance)

    return check


class ExplodingService:
    """A service whose every call fails the way a bug would: with a message naming internals."""

    manifest = {"counts": {"documents": 0, "passages": 0}, "model": {"id": "stub"}}

    def search(self, *args, **kwargs):
        raise RuntimeError(SECRET)

    def document(self, doc_id):
        raise RuntimeError(SECRET)


@pytest.fixture(scope="module")
def broken_server(settings):
    with BackgroundServer(create_app(settings=settings, service=ExplodingService())) as srv:
        yield srv


# ----------------------------------------------------------------------------- 200s
def test_hindi_query_finds_the_treaty_article_first(server, validate):
    reply = call(server.url, search_path(TREATY_HI, k=5))
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    # raw UTF-8 Devanagari in the body, not \u escapes
    assert TREATY_HI.encode("utf-8") in reply.body
    assert b"\\u09" not in reply.body and b"\\u0" not in reply.body
    body = reply.json
    validate("SearchResponse", body)
    assert body["query"] == TREATY_HI
    assert body["language"] == "hi" and body["script"] == "devanagari"
    assert body["hits"][0]["doc_id"] == TREATY_DOC
    assert "<mark>" in body["hits"][0]["snippet"]
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))


def test_english_query_is_detected_and_answered(server, validate):
    body = call(server.url, search_path("treaty ratification", k=5)).json
    validate("SearchResponse", body)
    assert body["language"] == "en"
    assert body["hits"], "dense retrieval should answer an English query over Hindi news"
    from search.analysis import analyze

    for term in body["expansion"]:
        assert re.search("[\u0900-\u097f]", term["term"])
        assert analyze(term["surface"]) == [term["term"]]  # a written word of the index, shown to people


@pytest.mark.parametrize("params", [
    {"mode": "hybrid"}, {"mode": "bm25"}, {"mode": "dense"}, {"mode": "hybrid", "fusion": "rrf"},
])
def test_every_mode_answers_with_the_schema(server, validate, params):
    body = call(server.url, search_path(TREATY_HI, **params)).json
    validate("SearchResponse", body)
    assert body["mode"] == params["mode"]
    assert body["hits"][0]["doc_id"] == TREATY_DOC


def test_k_and_page_bounds(server, validate):
    one = call(server.url, search_path(TREATY_HI, k=1)).json
    validate("SearchResponse", one)
    assert len(one["hits"]) == 1 and one["k"] == 1
    most = call(server.url, search_path(TREATY_HI, k=100)).json
    validate("SearchResponse", most)
    assert len(most["hits"]) == most["total"] == len(SEED_IDS)
    second = call(server.url, search_path(TREATY_HI, k=2, page=2)).json
    validate("SearchResponse", second)
    assert second["page"] == 2
    assert [h["rank"] for h in second["hits"]] == [3, 4]
    assert [h["doc_id"] for h in second["hits"]] == [h["doc_id"] for h in most["hits"][2:4]]
    beyond = call(server.url, search_path(TREATY_HI, k=10, page=7)).json
    validate("SearchResponse", beyond)
    assert beyond["hits"] == [] and beyond["total"] == most["total"]


@pytest.mark.parametrize("doc_id", SEED_IDS)
def test_documents_come_back_whole(server, service, validate, doc_id):
    reply = call(server.url, f"/api/documents/{doc_id}")
    assert reply.status == 200
    body = reply.json
    validate("Document", body)
    assert body == service.document(doc_id)
    first_line = body["text"].strip().splitlines()[0]
    assert first_line.encode("utf-8") in reply.body  # raw Devanagari, not \u escapes


def test_health(server, validate):
    body = call(server.url, "/api/health").json
    validate("Health", body)
    assert body["ok"] is True and body["documents"] == len(SEED_IDS)
    assert body["generation"].startswith("gen-") and body["age_seconds"] >= 0


def test_info_summarises_the_manifest_without_server_paths(server, service, seed_index, validate):
    reply = call(server.url, "/api/info")
    body = reply.json
    validate("Info", body)
    manifest = service.manifest
    assert body["counts"] == manifest["counts"]
    assert body["model"] == manifest["model"]
    assert body["limits"]["max_k"] == 100
    assert body["date_warnings"] == (manifest.get("date_warnings") or {}).get("count", 0) == 0  # seeds' dates read
    assert "sources" not in body
    assert str(seed_index) not in reply.text


def test_openapi_document_is_valid_and_matches_the_routes(server, spec):
    assert spec["openapi"].startswith("3.1")
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    app = create_app(service=ExplodingService())
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/")}
    assert set(spec["paths"]) == routes


def test_filters_facets_and_folding_over_the_seeds(server, validate):
    """The new parameters on the seed index (the dated index in test_faces.py checks them against a truth)."""
    body = call(server.url, search_path(TREATY_HI, k=100, facets=1, collapse=0, sort="date")).json
    validate("SearchResponse", body)
    assert body["sort"] == "date" and body["facets"] is not None
    assert body["total_exact"] and len(body["hits"]) == body["total"]  # every match is on this page
    from collections import Counter

    months = Counter(h["date"][:7] for h in body["hits"] if h["date"])
    assert {f["value"]: f["count"] for f in body["facets"]["month"]} == months
    sources = Counter(h["source"] for h in body["hits"] if h["source"])
    assert {f["value"]: f["count"] for f in body["facets"]["source"]} == sources
    dates = [h["date"] for h in body["hits"] if h["date"]]
    assert dates and dates == sorted(dates, reverse=True)
    month = body["facets"]["month"][0]
    narrowed = call(server.url, search_path(TREATY_HI, k=100, **{"from": month["value"], "to": month["value"]})).json
    validate("SearchResponse", narrowed)
    assert len(narrowed["hits"]) == month["count"] and all(h["date"].startswith(month["value"])
                                                          for h in narrowed["hits"])
    assert narrowed["filters"] == {"from": month["value"], "to": month["value"], "source": []}
    assert narrowed["facets"] is None
    elsewhere = call(server.url, search_path(TREATY_HI, source="no such outlet")).json
    assert elsewhere["hits"] == [] and elsewhere["filters"]["source"] == ["no such outlet"]
    none = call(server.url, search_path(TREATY_HI, **{"from": "1990", "to": "1990"})).json
    validate("SearchResponse", none)
    assert none["total"] == none["ranked"] == 0 and none["hits"] == []


def test_related_over_the_seeds(server, service, validate):
    reply = call(server.url, f"/api/documents/{TREATY_DOC}/related?k=2")
    assert reply.status == 200
    validate("RelatedList", reply.json)
    assert reply.json["related"] == service.related(TREATY_DOC, k=2)
    assert TREATY_DOC not in {r["doc_id"] for r in reply.json["related"]}
    assert "no-such-doc" in assert_error(call(server.url, "/api/documents/no-such-doc/related"), 404, validate)
    assert "k must be" in assert_error(call(server.url, f"/api/documents/{TREATY_DOC}/related?k=0"), 400, validate)


def test_schemas_catch_drift(server, validate):
    """additionalProperties: false means a field added to a response must be added to the spec too."""
    from jsonschema import ValidationError

    body = call(server.url, search_path(TREATY_HI, k=1)).json
    with pytest.raises(ValidationError):
        validate("SearchResponse", {**body, "unexpected": 1})
    with pytest.raises(ValidationError):
        validate("Hit", {**body["hits"][0], "unexpected": 1})
    with pytest.raises(ValidationError):
        validate("Explanation", {**body["hits"][0]["explanation"], "unexpected": 1})


# ----------------------------------------------------------------------------- 400s
@pytest.mark.parametrize("path, needle", [
    (search_path(), "missing"),
    (search_path(""), "empty"),
    (search_path("   "), "empty"),
    (search_path("क" * 1001), "limit is 1,000"),
    (search_path("x" * 1001), "limit is 1,000"),
    (search_path("treaty", k="abc"), "k must be"),
    (search_path("treaty", k="1.5"), "k must be"),
    (search_path("treaty", k=0), "k must be"),
    (search_path("treaty", k=-1), "k must be"),
    (search_path("treaty", k=101), "k must be"),
    (search_path("treaty", k=1000), "k must be"),
    (search_path("treaty", k="9" * 5000), "k must be"),
    (search_path("treaty", mode="fast"), "unknown mode"),
    (search_path("treaty", fusion="max"), "unknown fusion"),
    (search_path("treaty", page=0), "page must be"),
    (search_path("treaty", page=-2), "page must be"),
    (search_path("treaty", page="abc"), "page must be"),
    (search_path("treaty", filter="x"), "unknown parameter 'filter'"),
    (search_path("treaty", sort_by="date"), "known ones are: q, k, page, mode, fusion, exact, from, to, source"),
    (search_path("treaty", sort="newest"), "unknown sort"),
    (search_path("treaty", **{"from": "not-a-date"}), "from must be a date"),
    (search_path("treaty", to="2024-02-30x"), "to must be a date"),
    (search_path("treaty", collapse="2"), "collapse must be 1 or 0"),
    (search_path("treaty", facets="yes please"), "facets must be 1 or 0"),
])
def test_bad_requests_get_400_with_message_and_fix(server, validate, path, needle):
    message = assert_error(call(server.url, path), 400, validate)
    assert needle in message
    assert re.search(r"\(.+\)$", message), "the message ends with the fix in parentheses"


# ----------------------------------------------------------------------------- 404, 405, 413
@pytest.mark.parametrize("path", ["/api/nope", "/api", "/api/", "/api/search/extra", "/api/documents/",
                                  "/api/documents/no-such-doc", "/api/documents/%3Cscript%3E"])
def test_not_found_is_json_under_api(server, validate, path):
    reply = call(server.url, path)
    message = assert_error(reply, 404, validate)
    assert reply.headers["x-content-type-options"] == "nosniff"  # JSON that echoes "<script>" stays JSON
    if "no-such-doc" in path:
        assert "no-such-doc" in message


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/search?q=treaty"), ("PUT", "/api/search?q=treaty"),
    ("DELETE", f"/api/documents/{TREATY_DOC}"), ("POST", "/api/health"),
])
def test_wrong_method_is_405_with_allow(server, validate, method, path):
    reply = call(server.url, path, method=method, data=b"" if method in ("POST", "PUT") else None)
    message = assert_error(reply, 405, validate)
    assert method in message
    assert "GET" in reply.headers["allow"]


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_megabyte_body_is_413(server, validate, method):
    # The server answers as soon as it has the headers and closes the connection without reading the
    # body, so the client sends only its start (a client that insists on sending it all sees a reset).
    head = (f"{method} /api/search?q=treaty HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {1 << 20}\r\n\r\n").encode()
    reply = raw_call(server, head + b"x" * 4096)
    assert "64 KB" in assert_error(reply, 413, validate)


# ----------------------------------------------------------------------------- 500
def test_unexpected_errors_are_500_with_no_internals(broken_server, caplog):
    with caplog.at_level(logging.ERROR):
        reply = call(broken_server.url, search_path("treaty"))
        page = call(broken_server.url, "/?q=treaty")
    assert reply.status == 500
    body = reply.json
    assert body["ok"] is False and body["status"] == 500
    for text in (reply.text, page.text):
        assert "secret" not in text and "/internal/path" not in text
        assert "Traceback" not in text and "RuntimeError" not in text and ".py" not in text
    assert page.status == 500 and page.headers["content-type"].startswith("text/html")
    # ... while the server log has the whole story
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and SECRET in str(logged[0].exc_info[1])


# ----------------------------------------------------------------------------- hostile input
HOSTILE_OK = ["<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "' OR 1=1 --",
              "title:treaty AND NOT body:*", "संधि\" OR \"पुष्टि"]


@pytest.mark.parametrize("q", HOSTILE_OK)
def test_hostile_queries_come_back_as_plain_data(server, validate, q):
    reply = call(server.url, search_path(q))
    assert reply.status == 200
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    body = reply.json
    validate("SearchResponse", body)
    assert body["query"] == q  # echoed as a JSON string, never parsed as query syntax
    for hit in body["hits"]:
        assert "<script" not in hit["snippet"] and "<img" not in hit["snippet"]


@pytest.mark.parametrize("q", ["treaty\x00", "\x00", "a\x1bb", "a\x7fb", "\x08"])
def test_control_characters_are_rejected(server, validate, q):
    assert "control character" in assert_error(call(server.url, search_path(q)), 400, validate)


def test_html_page_escapes_the_query(server):
    q = "<script>alert(1)</script>"
    reply = call(server.url, "/?" + urllib.parse.urlencode({"q": q}))
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text
    assert "<script>" not in reply.text
    csp = reply.headers["content-security-policy"]
    # scripts only from our own static folder: never inline, never another origin
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_html_pages_escape_errors_and_unknown_documents(server):
    bad = call(server.url, "/?" + urllib.parse.urlencode({"q": "<b>x</b>", "mode": "<i>fast</i>"}))
    assert bad.status == 400 and bad.headers["content-type"].startswith("text/html")
    assert "&lt;i&gt;fast&lt;/i&gt;" in bad.text and "<i>fast</i>" not in bad.text
    missing = call(server.url, "/documents/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/html")
    assert "<script>" not in missing.text
    nowhere = call(server.url, "/no/such/page")
    assert nowhere.status == 404 and nowhere.headers["content-type"].startswith("text/html")


# ----------------------------------------------------------------------------- 503
def test_a_missing_index_is_503_without_its_path(settings, tmp_path, validate):
    """With no service given the app opens one on first use; a missing index is the operator's problem."""
    missing = tmp_path / "no-index-here"
    app = create_app(settings=settings.replace(index_dir=str(missing)))
    with BackgroundServer(app) as srv:
        reply = call(srv.url, "/api/health")
        page = call(srv.url, "/?q=treaty")
    assert "index is not available" in assert_error(reply, 503, validate)
    assert page.status == 503 and page.headers["content-type"].startswith("text/html")
    for text in (reply.text, page.text):
        assert str(missing) not in text and "no-index-here" not in text


# ----------------------------------------------------------------------------- typed as people type
def test_romanized_and_misspelled_queries_say_how_they_were_read(server, validate):
    romanized = call(server.url, search_path("uttar korea ne rus ke saath raksha sandhi ki pushti ki", k=3))
    assert romanized.status == 200
    body = romanized.json
    validate("SearchResponse", body)
    assert body["language"] == "hi-Latn" and body["language_label"] == "Hindi (romanized)"
    assert body["searched_as"].startswith("उत्तर कोरिया ने रूस")
    assert body["hits"][0]["doc_id"] == TREATY_DOC
    assert {r["word"]: r["kind"] for r in body["readings"]}["sandhi"] == "romanized"

    fixed = call(server.url, search_path("tretay ratifcation", k=3)).json
    validate("SearchResponse", fixed)
    assert fixed["corrected"] and fixed["searched_as"] == "treaty ratification"
    assert fixed["hits"][0]["doc_id"] == TREATY_DOC
    exact = call(server.url, search_path("tretay ratifcation", k=3, exact=1)).json
    validate("SearchResponse", exact)
    assert not exact["corrected"] and exact["did_you_mean"] == "treaty ratification"
    assert_error(call(server.url, search_path("treaty", exact="maybe")), 400, validate)


@pytest.mark.parametrize("prefix,expected", [
    ("उत्तर को", "उत्तर कोरिया"),
    ("uttar kor", "उत्तर कोरिया"),  # romanized: suggestions in Devanagari
    ("रक्षा मं", "रक्षा मंत्री"),
])
def test_suggest_completes_in_devanagari(server, validate, prefix, expected):
    reply = call(server.url, "/api/suggest?" + urllib.parse.urlencode({"q": prefix}))
    assert reply.status == 200, reply.text
    validate("Suggestions", reply.json)
    suggestions = reply.json["suggestions"]
    assert 1 <= len(suggestions) <= 8
    assert any(expected in s for s in suggestions), suggestions


def test_suggest_errors(server, validate):
    assert_error(call(server.url, "/api/suggest"), 400, validate)
    assert_error(call(server.url, "/api/suggest?" + urllib.parse.urlencode({"q": "क" * 201})), 400, validate)
    assert call(server.url, "/api/suggest?q=").json["suggestions"] == []


def test_cache_control_and_gzip(server):
    import gzip as gzip_lib

    plain = call(server.url, search_path(TREATY_HI, k=5))
    assert plain.status == 200 and "content-encoding" not in plain.headers
    assert plain.headers["cache-control"] == "public, max-age=60"
    packed = call(server.url, search_path(TREATY_HI, k=5), headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and "Accept-Encoding" in packed.headers["vary"]
    assert json.loads(gzip_lib.decompress(packed.body)) == plain.json | {"timings_ms": json.loads(
        gzip_lib.decompress(packed.body))["timings_ms"]}
    assert call(server.url, "/api/health").headers["cache-control"] == "no-store"
    assert call(server.url, search_path("")).headers["cache-control"] == "no-store"  # an error


def test_query_strings_that_are_not_utf8_are_refused(server, validate):
    message = assert_error(call(server.url, "/api/search?q=%C3%28%FF"), 400, validate)
    assert "UTF-8" in message
    assert call(server.url, "/api/search?q=%E0%A4%B8%E0%A4%82%E0%A4%A7%E0%A4%BF").status == 200  # संधि


class SlowService:
    """A service whose searches take two seconds."""

    manifest = {"counts": {"documents": 0, "passages": 0}, "model": {"id": "stub"}}

    def search(self, *args, **kwargs):
        import time

        time.sleep(2.0)
        raise RuntimeError("never reached in time")


def test_a_search_past_its_deadline_is_503_with_retry_after(settings, validate):
    import time

    app = create_app(settings=settings, service=SlowService(), config={"SEARCH_DEADLINE_S": 0.3})
    with BackgroundServer(app) as srv:
        t = time.monotonic()
        reply = call(srv.url, search_path("treaty"))
        assert time.monotonic() - t < 1.5  # the request's thread was not held for the whole search
        assert_error(reply, 503, validate)
        assert reply.headers["retry-after"] == "5"


def test_a_deadline_does_not_limit_how_many_searches_run_at_once(settings, service):
    from concurrent.futures import ThreadPoolExecutor

    app = create_app(settings=settings, service=service, config={"SEARCH_DEADLINE_S": 60})
    with BackgroundServer(app, threads=12) as srv:
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda i: call(srv.url, search_path(TREATY_HI, k=3, page=1 + i % 3)).status,
                                  range(36)))
    assert codes == [200] * 36
