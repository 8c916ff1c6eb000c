"""One ingest run: expand the sources, fetch and extract new or changed articles, index them through
the atomic build, and remember what was fetched (``DIR/ingest-state.json``, ``DIR/ingest-articles.jsonl``)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from search.errors import SangamError
from search.settings import Settings

from .extract import Article, NotAnArticle, extract_article
from .fetch import FetchError, Fetcher, decode
from .settings import IngestSettings
from .sources import expand

logger = logging.getLogger(__name__)

STATE = "ingest-state.json"
ARTICLES = "ingest-articles.jsonl"
LOCK = ".ingest.lock"
STATE_VERSION = 1


@dataclass
class IngestSummary:
    """What one run did. ``built`` is the index build's summary, or None when nothing was new."""

    fetched: int = 0  # pages downloaded (not 304)
    unchanged: int = 0  # articles already indexed as they are (304, or the same content)
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    built: object | None = None  # index.builder.BuildSummary
    stopped: bool = False
    fetch_seconds: float = 0.0  # fetching article pages (feeds and sitemaps not included)
    extract_seconds: float = 0.0  # decoding and extracting them

    def lines(self) -> list[str]:
        out = [f"Ingest: fetched {self.fetched} article pages; {len(self.new)} new, {len(self.changed)} changed, "
               f"{self.unchanged} unchanged, {len(self.skipped)} skipped, {len(self.failed)} failed"]
        if self.stopped:
            out.append("  stopped before indexing: nothing was written (the next run fetches them again)")
        elif self.built is None:
            out.append("  nothing new: no new index generation, nothing embedded")
        else:
            out.append(f"  new generation: {self.built.documents} documents, embedded {self.built.embedded} "
                       f"passages, reused {self.built.reused}")
        for label, items in (("skipped", self.skipped), ("failed", self.failed)):
            out += [f"  {label} {url}: {reason}" for url, reason in items]
        return out


def ingest(sources: list[str], index_dir: str | Path, settings: Settings | None = None,
           ingest_settings: IngestSettings | None = None, *, embedder=None, load_embedder=None,
           progress: bool = False, stop: threading.Event | None = None) -> IngestSummary:
    """Fetch what ``sources`` name and index the new and changed articles into ``index_dir``.

    A run with nothing new builds nothing. The index is only ever replaced by a complete new
    generation (``index.builder.build_index``); the state is written after it, atomically. A run
    that is asked to ``stop`` while it fetches returns before building and writes nothing.
    ``load_embedder`` (called only when there is something to embed) lets a caller that runs
    again and again load the model once.
    """
    index_dir = Path(index_dir)
    with _ingest_lock(index_dir):
        return _ingest(sources, index_dir, settings or Settings.from_env(), ingest_settings or IngestSettings(),
                       embedder, load_embedder, progress, stop or threading.Event())


@contextlib.contextmanager
def _ingest_lock(index_dir: Path):
    """One ingest at a time per index: two would each write the state without the other's articles."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SangamError(f"another `search ingest` is running on {index_dir}",
                              "wait for it to finish, or stop it first") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ingest(sources, index_dir: Path, settings: Settings, config: IngestSettings, embedder, load_embedder,
            progress: bool, stop: threading.Event) -> IngestSummary:
    state = _load_state(index_dir)
    articles = _load_articles(index_dir)
    summary = IngestSummary()
    with Fetcher(config) as fetcher:
        found = expand(list(sources), fetcher, {**state["urls"], **state["sources"]}, config.max_sitemap_depth)
        summary.failed += found.failed
        logger.info("%d article URLs from %d source(s)", len(found.links), len(sources))
        seen_canonical: dict[str, str] = {}
        for n, link in enumerate(found.links, start=1):
            if stop.is_set():
                summary.stopped = True
                return summary
            if progress:
                logger.info("[%d/%d] %s", n, len(found.links), link.url)
            _ingest_one(link, fetcher, config, state, articles, seen_canonical, summary)
    if summary.new or summary.changed:
        if stop.is_set():
            summary.stopped = True
            return summary
        if embedder is None and load_embedder is not None:
            embedder = load_embedder()
        summary.built = _build(articles, index_dir, settings, embedder, progress)
    state["sources"].update(found.validators)
    if summary.built is not None:
        _write_articles(index_dir, articles)
    _write_json(index_dir / STATE, state)
    return summary


def _ingest_one(link, fetcher: Fetcher, config: IngestSettings, state: dict, articles: dict,
                seen_canonical: dict, summary: IngestSummary) -> None:
    url = link.url
    before = state["urls"].get(url, {})
    if (link.page is None and link.modified and before.get("modified") == link.modified
            and before.get("canonical") in articles):
        # the feed or sitemap dates the article as when it was last fetched: not even revalidated
        summary.unchanged += 1
        seen_canonical.setdefault(before["canonical"], url)
        return
    got = _fetch_article(link, before, fetcher, config, state, articles, seen_canonical, summary)
    if got is not None:
        _keep_article(link, *got, config, state, articles, seen_canonical, summary)


def _fetch_article(link, before: dict, fetcher: Fetcher, config: IngestSettings, state: dict, articles: dict,
                   seen_canonical: dict, summary: IngestSummary):
    """(page, article) fetched (revalidated) and extracted, or None when there is nothing new to keep
    (unchanged, skipped or failed: counted in ``summary``)."""
    url = link.url
    t0 = time.perf_counter()
    try:
        page = link.page or fetcher.get(url, etag=before.get("etag", ""),
                                         last_modified=before.get("last_modified", ""))
        summary.fetch_seconds += time.perf_counter() - t0
        if page.not_modified and before.get("canonical") in articles:
            state["urls"][url]["modified"] = link.modified
            summary.unchanged += 1
            seen_canonical.setdefault(before["canonical"], url)
            return None
        if page.not_modified and before.get("skipped"):
            summary.skipped.append((url, before["skipped"]))
            return None
        if page.not_modified:  # validators outlived the article (its state was lost): fetch it afresh
            t0 = time.perf_counter()
            page = fetcher.get(url)
            summary.fetch_seconds += time.perf_counter() - t0
        summary.fetched += 1
        t1 = time.perf_counter()
        try:
            article = extract_article(decode(page.body, page.content_type), page.url,
                                      min_chars=config.min_article_chars, fetched_at=page.fetched_at)
        finally:
            summary.extract_seconds += time.perf_counter() - t1
    except FetchError as err:
        summary.failed.append((url, str(err)))
        return None
    except NotAnArticle as err:
        summary.skipped.append((url, str(err)))
        state["urls"][url] = {"etag": page.etag, "last_modified": page.last_modified, "skipped": str(err)}
        return None
    except Exception as err:  # noqa: BLE001 (one odd page must not end the run: it is reported, with its URL)
        logger.debug("extracting %s failed", url, exc_info=True)
        summary.failed.append((url, f"extraction failed ({type(err).__name__}: {err})"))
        return None
    return page, article


def _keep_article(link, page, article: Article, config: IngestSettings, state: dict, articles: dict,
                  seen_canonical: dict, summary: IngestSummary) -> None:
    """Keep ``article`` (new, changed or the same) unless it is in another language or a copy of one
    already seen under another URL."""
    url = link.url
    if config.lang and article.lang != config.lang:
        summary.skipped.append((url, f"in language {article.lang!r}, not {config.lang!r} (--lang)"))
        return
    canonical = article.canonical_url
    if canonical in seen_canonical and seen_canonical[canonical] != url:
        summary.skipped.append((url, f"the same article as {seen_canonical[canonical]} (canonical URL {canonical})"))
        state["urls"][url] = {"etag": page.etag, "last_modified": page.last_modified, "canonical": canonical}
        return
    seen_canonical[canonical] = url
    record = _record(article)
    old = articles.get(canonical)
    if old is None:
        summary.new.append(canonical)
    elif old["hash"] != record["hash"]:
        summary.changed.append(canonical)
    else:
        summary.unchanged += 1
    if old is None or old["hash"] != record["hash"]:
        articles[canonical] = record
    state["urls"][url] = {"etag": page.etag, "last_modified": page.last_modified, "canonical": canonical,
                          "modified": link.modified}


def _record(article: Article) -> dict:
    """The article as a JSONL corpus line (``search index``'s format) plus what only ingest keeps."""
    fields = {"title": article.title, "text": article.text, "date": article.date, "lang": article.lang}
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return {"id": doc_id(article.canonical_url), **fields, "source": article.site_name,
            "url": article.canonical_url, "author": article.author, "fetched_url": article.url,
            "fetched_at": article.fetched_at, "hash": digest}


def doc_id(url: str) -> str:
    """A readable, stable document id from a canonical URL: host and path (``example.com/desh/story``),
    with a short hash of the URL when it has a query or is very long."""
    parts = urlsplit(url)
    path = re.sub(r"\.(s?html?|php|aspx?)$", "", parts.path.strip("/"))
    base = re.sub(r"[^\w./-]+", "_", f"{parts.netloc}/{path}".strip("/")).strip("_")
    if parts.query or len(base) > 150:
        base = f"{base[:150]}~{hashlib.sha1(url.encode('utf-8')).hexdigest()[:10]}"
    return base


def _build(articles: dict, index_dir: Path, settings: Settings, embedder, progress: bool):
    """A new generation over every article ingested so far, and every other document the live index
    holds (built by ``search index``); unchanged ones keep their vectors."""
    from index.builder import build_index

    with tempfile.TemporaryDirectory(prefix="sangam-ingest-") as tmp:
        corpus = Path(tmp) / ARTICLES
        _write_jsonl(corpus, corpus_rows(articles.values(), _live_documents(index_dir)))
        return build_index([corpus], index_dir, settings, embedder=embedder, update=True, progress=progress)


def corpus_rows(articles, live_documents) -> list[dict]:
    """The JSONL corpus a build reads: the ingested articles, then the live index's other documents as
    they are (so that ingesting into an index built from folders keeps those documents)."""
    rows = list(articles)
    ours = {row["id"] for row in rows}
    for doc in live_documents:
        if doc["doc_id"] not in ours:
            rows.append({"id": doc["doc_id"], **{k: doc.get(k, "") for k in ("title", "text", "date", "date_raw",
                                                                             "source", "url")},
                         "lang": doc.get("lang") or "hi"})
    return rows


def _live_documents(index_dir: Path) -> list[dict]:
    from search import storage
    from search.errors import SangamError

    if storage.nothing_built(index_dir):
        return []
    try:
        return list(storage.open_generation(index_dir).documents)
    except SangamError as err:  # a damaged index: the build says so and builds the articles anew
        logger.warning("could not read the documents of the index at %s (%s)", index_dir, err)
        return []


# ---------------------------------------------------------------- state on disk

def _load_state(index_dir: Path) -> dict:
    path = index_dir / STATE
    empty = {"version": STATE_VERSION, "urls": {}, "sources": {}}
    try:
        state = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError) as err:
        logger.warning("ignoring unreadable %s (%s): every page is fetched again", path, err)
        return empty
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        return empty
    state.setdefault("urls", {})
    state.setdefault("sources", {})
    return state


def _load_articles(index_dir: Path) -> dict[str, dict]:
    path = index_dir / ARTICLES
    out: dict[str, dict] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            row = json.loads(line)
            out[row["url"]] = row
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed line of %s", path)
    return out


def _write_articles(index_dir: Path, articles: dict) -> None:
    _write_atomic(index_dir / ARTICLES, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in articles.values()))


def _write_jsonl(path: Path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def _write_json(path: Path, data: dict) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

