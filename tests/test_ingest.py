"""Ingest from feeds, sitemaps and article pages, against a local HTTP server serving tests/data/ingest/."""

from __future__ import annotations

import collections
import http.server
import json
import os
import random
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from index.ingest.extract import NotAnArticle, extract_article
from index.ingest.fetch import FetchError, Fetcher, decode
from index.ingest.settings import IngestSettings
from index.ingest.sources import expand

DATA = Path(__file__).parent / "data" / "ingest"
EXPECTED = json.loads((DATA / "expected.json").read_text("utf-8"))
HUGE_BYTES = 30 * 1024 * 1024
#: Fast failures: short timeouts, one retry without backoff, no pause between requests.
FAST = IngestSettings(connect_timeout=2, read_timeout=0.5, retries=1, backoff=0, host_interval=0,
                      max_redirects=5)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files (feeds get the server's address filled in), plus the failures a crawler meets."""

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path == "/errors/500":
            return self._send(500, b"<h1>Internal Server Error</h1>", "text/html")
        if path == "/errors/slow":
            time.sleep(2)
            return self._send(200, b"<html><body>too late</body></html>", "text/html")
        if path.startswith("/errors/loop"):
            other = "/errors/loop-b" if path == "/errors/loop" else "/errors/loop"
            self.send_response(302)
            self.send_header("Location", other)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path == "/errors/huge":
            return self._send_huge()
        if path == "/errors/binary.html":
            return self._send(200, random.Random(19).randbytes(64 * 1024), "text/html")
        if path.endswith(".xml"):
            file = Path(self.directory) / path.lstrip("/")
            if file.is_file():
                base = f"http://127.0.0.1:{self.server.server_port}"
                body = file.read_text("utf-8").replace("{base}", base).encode("utf-8")
                return self._send(200, body, "application/xml; charset=utf-8")
        return super().do_GET()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass

    def _send_huge(self) -> None:
        """30 MB of HTML with no Content-Length: only reading it shows how large it is."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = ("<p>" + "बहुत लंबा पन्ना " * 400 + "</p>\n").encode("utf-8")
        sent = 0
        try:
            while sent < HUGE_BYTES:
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of the fixture site (tests may change a page), served on 127.0.0.1 in a thread."""
    root = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(DATA / "site", root)

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    server = _Server(("127.0.0.1", 0), handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_port}"
    server.root = root
    yield server
    server.shutdown()
    server.server_close()


def _tokens(text: str) -> list[str]:
    return re.findall(r"[\w\u0900-\u097F]+", text)


def token_f1(got: str, want: str) -> float:
    a, b = collections.Counter(_tokens(got)), collections.Counter(_tokens(want))
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


# ------------------------------------------------------------------ extraction

@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_extracted_article_matches_its_body(site, path):
    want = EXPECTED[path]
    with Fetcher(FAST) as fetcher:
        page = fetcher.get(site.base + path)
    article = extract_article(decode(page.body, page.content_type), page.url)
    assert token_f1(article.text, want["text"]) >= 0.95
    assert article.title == want["title"]
    assert article.date == want["date"]
    assert article.author == want["author"]
    assert article.site_name == "समाचार दर्पण"
    assert article.text.split("\n")[0] != article.title  # the headline is the title, not the body's first line
    assert article.lang == want.get("lang", "hi")
    assert article.canonical_url == site.base + want.get("canonical", path)
    assert "विज्ञापन" not in article.text and "Advertisement" not in article.text  # ads
    assert "टिप्पणियाँ" not in article.text and "Great article" not in article.text  # comments
    assert "संबंधित खबरें" not in article.text and "ब्रेकिंग" not in article.text  # related links, nav


def test_fixtures_cover_the_page_kinds():
    pages = [p for p in EXPECTED if not p.startswith("/world/")]
    assert len(pages) >= 10
    charsets = {EXPECTED[p]["charset"] for p in pages}
    assert charsets - {"utf-8"}, "a non-UTF-8 page"
    html = {p: (DATA / "site" / p.lstrip("/")).read_bytes() for p in pages}
    assert any(b"<html amp" in body for body in html.values())
    assert any(b'"NewsArticle"' in body for body in html.values())


@pytest.mark.parametrize("path, reason", [
    ("/videsh/", "not an article"),
    ("/video/clip.html", "a video page"),
])
def test_non_articles_are_skipped_with_a_reason(site, path, reason):
    with Fetcher(FAST) as fetcher:
        page = fetcher.get(site.base + path)
    with pytest.raises(NotAnArticle, match=reason):
        extract_article(decode(page.body, page.content_type), page.url)


def test_decode_reads_declared_and_detected_charsets():
    text = "<html><head><meta charset='utf-16'></head><body><p>उत्तर कोरिया ने रूस</p></body></html>"
    assert "उत्तर कोरिया" in decode(text.encode("utf-16"), "text/html")
    assert "उत्तर कोरिया" in decode(text.encode("utf-16-le"), "text/html; charset=utf-16-le")
    assert "उत्तर कोरिया" in decode(text.replace("utf-16", "utf-8").encode("utf-8"), "text/html")
    undeclared = "<html><body><p>उत्तर कोरिया ने रूस में सेना की तैनाती के दावों का जवाब दिया</p></body></html>"
    for encoding in ("utf-16-le", "utf-16-be"):  # no BOM, no charset anywhere: charset-normalizer's guess
        assert decode(undeclared.encode(encoding), "text/html") == undeclared
    with pytest.raises(FetchError, match="binary content"):
        decode(b"\x89PNG\r\n\x1a\n" + bytes(100), "text/html")


# ------------------------------------------------------------------ fetching

@pytest.mark.parametrize("path, reason", [
    ("/videsh/deleted-story.html", "HTTP 404"),
    ("/errors/500", "HTTP 500|gave up after 1 retries"),
    ("/errors/slow", "timed out"),
    ("/errors/loop", "more than 5 redirects"),
    ("/errors/huge", "page too large"),
    ("/private/secret.html", "disallowed by robots.txt"),
])
def test_fetch_failures_have_reasons(site, path, reason):
    with Fetcher(FAST) as fetcher:
        with pytest.raises(FetchError, match=reason):
            fetcher.get(site.base + path)


def test_binary_served_as_html_is_refused(site):
    with Fetcher(FAST) as fetcher:
        page = fetcher.get(site.base + "/errors/binary.html")
    with pytest.raises(FetchError, match="binary content"):
        decode(page.body, page.content_type)


def test_fetcher_names_sangam_and_revalidates(site):
    with Fetcher(FAST) as fetcher:
        first = fetcher.get(site.base + "/gyan/xquad-0.html")
        again = fetcher.get(site.base + "/gyan/xquad-0.html", last_modified=first.last_modified)
    assert first.status == 200 and first.last_modified
    assert again.not_modified and again.body == b""
    assert fetcher.session.headers["User-Agent"].startswith("Sangam/")


def test_requests_to_one_host_are_spaced():
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    fetcher = Fetcher(IngestSettings(host_interval=2.0), clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        fetcher._wait_turn("news.example")
    fetcher._wait_turn("other.example")
    fetcher.close()
    assert slept == [2.0, 2.0]


# ------------------------------------------------------------------ sources

def test_sources_expand_into_article_urls(site):
    sources = [f"{site.base}/feeds/{name}" for name in ("rss.xml", "atom.xml", "sitemap-index.xml", "malformed.xml")]
    with Fetcher(FAST) as fetcher:
        found = expand(sources, fetcher)
    urls = [link.url for link in found.links]
    base = site.base
    assert f"{base}/videsh/seed-0.html" in urls
    # the Atom feed's links are relative ("../gyan/x.html", "/gyan/x.html"), resolved against the feed
    assert [u for u in urls if "/gyan/xquad-" in u][:4] == [f"{base}/gyan/xquad-{n}.html" for n in range(4)]
    # the sitemap index leads to the news sitemap
    assert f"{base}/gyan/xquad-6.html" in urls and f"{base}/videsh/seed-1.amp.html" in urls
    assert len(urls) == len(set(urls))
    modified = {link.url: link.modified for link in found.links}
    assert modified[f"{base}/gyan/xquad-4.html"] == "2024-10-14T09:30:00+05:30"  # news:publication_date
    assert modified[f"{base}/gyan/xquad-1.html"] == "2024-10-11T09:30:00+05:30"  # Atom updated
    assert modified[f"{base}/videsh/seed-2.html"] == ""  # an RSS item without a date
    failed = dict(found.failed)
    assert "malformed feed" in failed[f"{base}/feeds/malformed.xml"]
    assert "HTTP 404" in failed[f"{base}/feeds/missing-sitemap.xml"]


def test_a_file_of_urls_is_a_source(site, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# today's stories\n{site.base}/gyan/xquad-1.html\n\n{site.base}/gyan/xquad-2.html\n", "utf-8")
    with Fetcher(FAST) as fetcher:
        found = expand([str(listing), "no-such-file.txt"], fetcher)
    assert [link.url for link in found.links] == [f"{site.base}/gyan/xquad-{n}.html" for n in (1, 2)]
    assert "neither a URL nor a file of URLs" in dict(found.failed)["no-such-file.txt"]


# ------------------------------------------------------------------ schedule

def test_intervals():
    from index.ingest.schedule import parse_interval
    from search.errors import SangamError

    assert [parse_interval(t) for t in ("15m", "1h", "90s", "2")] == [900, 3600, 90, 120]
    with pytest.raises(SangamError, match="write it like 15m"):
        parse_interval("soon")


def test_repeat_stops_between_runs():
    from index.ingest.schedule import repeat

    stop = threading.Event()
    runs = []

    def run_once():
        runs.append(1)
        if len(runs) == 3:
            stop.set()  # as SIGTERM would, during the third run

    assert repeat(run_once, 0.001, stop) == 3


# ------------------------------------------------------------------ end to end

def _generation(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text("utf-8").strip()


def test_ingest_builds_then_only_what_changed(site, tmp_path, embedder, settings):
    """One run over every source kind with every failure; a re-run with nothing new; one page changed."""
    from index.ingest.run import ingest
    from search import storage

    base = site.base
    sources = [f"{base}/feeds/{name}" for name in ("rss.xml", "atom.xml", "sitemap-index.xml", "malformed.xml")]
    index_dir = tmp_path / "index"
    run = dict(settings=settings, ingest_settings=FAST, embedder=embedder)

    first = ingest(sources, index_dir, **run)
    articles = {p for p in EXPECTED if not p.endswith(".amp.html")}
    assert sorted(first.new) == sorted(base + p for p in articles)
    failed = dict(first.failed)
    assert {url.removeprefix(base): reason.split(" (")[0] for url, reason in failed.items()} == {
        "/videsh/deleted-story.html": "HTTP 404 File not found",
        "/errors/500": "HTTP 500 Internal Server Error",
        "/errors/slow": "timed out",
        "/errors/loop": "more than 5 redirects",
        "/errors/huge": "page too large",
        "/errors/binary.html": "binary content",
        "/private/secret.html": "disallowed by robots.txt",
        "/feeds/malformed.xml": failed[f"{base}/feeds/malformed.xml"].split(" (")[0],
        "/feeds/missing-sitemap.xml": "HTTP 404 File not found",
    }
    assert failed[f"{base}/feeds/malformed.xml"].startswith("malformed feed")
    skipped = dict(first.skipped)
    assert set(skipped) == {f"{base}/videsh/", f"{base}/video/clip.html", f"{base}/videsh/seed-1.amp.html"}
    assert "the same article as" in skipped[f"{base}/videsh/seed-1.amp.html"]
    assert first.built is not None and first.built.documents == len(articles)

    opened = storage.open_generation(index_dir)
    docs = {d["url"]: d for d in opened.documents}
    assert set(docs) == {base + p for p in articles}
    english = docs[f"{base}/world/english.html"]
    assert english["lang"] == "en" and english["source"] == "समाचार दर्पण"
    seed = docs[f"{base}/videsh/seed-0.html"]
    # the page's published time as it gives it, with its offset: same-day stories sort by it
    assert (seed["title"], seed["date"], seed["lang"]) == (EXPECTED["/videsh/seed-0.html"]["title"],
                                                           "2024-11-18T09:30:00+05:30", "hi")
    state = json.loads((index_dir / "ingest-state.json").read_text("utf-8"))
    assert state["urls"][f"{base}/videsh/seed-0.html"]["last_modified"]
    generation = _generation(index_dir)

    # nothing new: no build, no new generation, and the summary says so
    site.requests.clear()
    second = ingest(sources, index_dir, **run)
    # pages the feeds and sitemaps date as before are not even revalidated; undated ones are (304)
    assert "/gyan/xquad-0.html" not in site.requests and "/gyan/xquad-6.html" not in site.requests
    assert "/videsh/seed-2.html" in site.requests
    assert second.built is None and not second.new and not second.changed
    assert second.unchanged == len(articles) + 1  # and the AMP copy of one of them
    assert _generation(index_dir) == generation
    assert dict(second.failed).keys() == failed.keys()  # reported again, and the index still opens
    assert storage.open_generation(index_dir).manifest["counts"]["documents"] == len(articles)
    assert any("nothing new: no new index generation, nothing embedded" in line for line in second.lines())

    # one page changes: only its passages are embedded
    page = site.root / "gyan" / "xquad-2.html"
    body = page.read_text("utf-8")
    assert body.count("</p>\n</div>") == 1  # the end of the story's body
    page.write_text(body.replace("</p>\n</div>", "</p>\n<p>यह अनुच्छेद बाद में जोड़ा गया, जब सरकार ने "
                                                 "इस विषय पर नई जानकारी जारी की।</p>\n</div>"), "utf-8")
    later = time.time() + 5
    os.utime(page, (later, later))
    atom = site.root / "feeds" / "atom.xml"  # and the feed says so, as a site's feed would
    atom.write_text(atom.read_text("utf-8").replace("<updated>2024-10-12T09:30:00+05:30</updated>",
                                                    "<updated>2024-12-01T18:00:00+05:30</updated>"), "utf-8")
    third = ingest(sources, index_dir, **run)
    assert third.changed == [f"{base}/gyan/xquad-2.html"] and not third.new
    assert _generation(index_dir) != generation
    reopened = storage.open_generation(index_dir)
    changed_passages = sum(1 for p in reopened.passages if p["doc_id"] == docs[f"{base}/gyan/xquad-2.html"]["doc_id"])
    assert third.built.embedded == changed_passages
    assert third.built.reused == reopened.manifest["counts"]["passages"] - changed_passages
    text = next(d["text"] for d in reopened.documents if d["url"] == f"{base}/gyan/xquad-2.html")
    assert text.endswith("यह अनुच्छेद बाद में जोड़ा गया, जब सरकार ने इस विषय पर नई जानकारी जारी की।")


def test_cli_ingest_lang_hi_skips_other_languages(site, tmp_path):
    from click.testing import CliRunner

    from sangam.cli import cli

    index_dir = tmp_path / "index"
    result = CliRunner().invoke(cli, ["ingest", f"{site.base}/world/english.html", "--lang", "hi",
                                      "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "in language 'en', not 'hi' (--lang)" in result.output
    assert "nothing new: no new index generation" in result.output
    assert not (index_dir / "CURRENT").exists()


def test_cli_ingest_bad_interval(tmp_path):
    from click.testing import CliRunner

    from sangam.cli import cli

    result = CliRunner().invoke(cli, ["ingest", "http://127.0.0.1:9/feed", "--every", "often",
                                      "--index", str(tmp_path)])
    assert result.exit_code != 0
    assert "Error: --every 'often' is not an interval (write it like 15m, 1h or 90s)" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ saved pages in search index

def test_saved_html_pages_are_read_like_fetched_ones(tmp_path, seeds):
    from index.corpus import read_corpus

    folder = tmp_path / "saved"
    shutil.copytree(DATA / "site" / "videsh", folder / "videsh")
    shutil.copy(DATA / "site" / "feeds" / "rss.xml", folder / "rss.xml")  # not read: not a corpus file type
    shutil.copytree(seeds, folder / "seeds")  # .txt scrapes keep their own cleanup
    corpus = read_corpus([folder])
    docs = {d.doc_id: d for d in corpus.documents}
    for n in range(5):
        want = EXPECTED[f"/videsh/seed-{n}.html"]
        doc = docs[f"videsh/seed-{n}"]
        assert (doc.title, doc.date, doc.source, doc.lang) == (want["title"], want["date"], "समाचार दर्पण", "hi")
        assert token_f1(doc.text, want["text"]) >= 0.95
    assert docs["videsh/seed-3"].origin.endswith("seed-3.html")  # the UTF-16 page
    assert docs["videsh/seed-1.amp"].title == docs["videsh/seed-1"].title
    assert [str(r).split(": ", 1)[1].split(" (")[0] for r in corpus.reports] == ["not an article"]  # index.html
    seed_docs = read_corpus([seeds]).documents
    for seed in seed_docs:  # the seeds' titles and dates as before
        assert docs[f"seeds/{seed.doc_id}"].title == seed.title and docs[f"seeds/{seed.doc_id}"].date == seed.date


def test_ingesting_into_a_folder_index_keeps_its_documents():
    from index.ingest.run import corpus_rows

    article = {"id": "news.example/desh/a", "title": "क", "text": "ख", "date": "2024-11-01", "lang": "hi",
               "source": "S", "url": "https://news.example/desh/a", "hash": "h"}
    live = [{"doc_id": "news.example/desh/a", "title": "old", "text": "old", "hash": "x"},
            {"doc_id": "seed-1", "title": "T", "text": "पाठ", "date": "2024-11-22", "source": "", "url": "",
             "lang": "hi", "origin": "seeds/seed-1.txt", "hash": "y"}]
    rows = corpus_rows([article], live)
    assert rows == [article, {"id": "seed-1", "title": "T", "text": "पाठ", "date": "2024-11-22", "date_raw": "", "source": "",
                              "url": "", "lang": "hi"}]


def test_gzipped_sitemap_file(site):
    import gzip

    xml = (DATA / "site" / "feeds" / "news-sitemap.xml").read_text("utf-8").replace("{base}", site.base)
    (site.root / "feeds" / "news-sitemap.xml.gz").write_bytes(gzip.compress(xml.encode("utf-8")))
    with Fetcher(FAST) as fetcher:
        found = expand([f"{site.base}/feeds/news-sitemap.xml.gz"], fetcher)
    assert [link.url for link in found.links][:3] == [f"{site.base}/gyan/xquad-{n}.html" for n in (4, 5, 6)]
    assert not found.failed


def test_one_ingest_at_a_time(tmp_path):
    from index.ingest.run import _ingest_lock
    from search.errors import SangamError

    with _ingest_lock(tmp_path):
        with pytest.raises(SangamError, match="another `search ingest` is running"):
            with _ingest_lock(tmp_path):
                pass
    with _ingest_lock(tmp_path):  # free again
        pass


def test_a_stopped_run_writes_nothing(site, tmp_path, settings):
    from index.ingest.run import ingest

    stop = threading.Event()
    stop.set()  # SIGTERM arrived before the first page
    summary = ingest([f"{site.base}/feeds/atom.xml"], tmp_path / "index", settings, FAST, stop=stop)
    assert summary.stopped and summary.built is None
    assert "stopped before indexing" in summary.lines()[1]
    assert not (tmp_path / "index" / "CURRENT").exists() and not (tmp_path / "index" / "ingest-state.json").exists()


def test_cli_ingest_fails_when_nothing_could_be_had(site, tmp_path):
    from click.testing import CliRunner

    from sangam.cli import cli

    result = CliRunner().invoke(cli, ["ingest", f"{site.base}/videsh/deleted-story.html", "no-such-list.txt",
                                      "--index", str(tmp_path / "index"), "--quiet"])
    assert result.exit_code == 1
    assert f"failed {site.base}/videsh/deleted-story.html: HTTP 404" in result.output
    assert "failed no-such-list.txt: neither a URL nor a file of URLs" in result.output
    assert "Error: nothing could be ingested (see the failures above)" in result.output
    assert "Traceback" not in result.output


def test_a_page_that_breaks_the_extractor_is_a_reported_failure(site, tmp_path, settings, monkeypatch):
    from index.ingest import run

    def broken(*_args, **_kwargs):
        raise ValueError("unexpected markup")

    monkeypatch.setattr(run, "extract_article", broken)
    summary = run.ingest([f"{site.base}/gyan/xquad-0.html"], tmp_path / "index", settings, FAST)
    assert summary.failed == [(f"{site.base}/gyan/xquad-0.html", "extraction failed (ValueError: unexpected markup)")]
    assert summary.built is None


def test_cli_ingest_page_limit_follows_max_document_mb(site, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sangam.cli import cli

    monkeypatch.setenv("SANGAM_MAX_DOCUMENT_MB", "0.005")  # 5 KB: smaller than any article page here
    result = CliRunner().invoke(cli, ["ingest", f"{site.base}/gyan/xquad-0.html", "--index", str(tmp_path / "i"),
                                      "--quiet"])
    assert result.exit_code == 1
    assert "page too large" in result.output and "the limit is 5,242" in result.output
