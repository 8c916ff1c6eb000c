"""What a SOURCE names: an RSS/Atom feed, a sitemap (news sitemaps and sitemap indexes), an article page,
or a local file of URLs; each becomes the article URLs to fetch."""

from __future__ import annotations

import gzip
import io
import logging
import re
import xml.sax
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from .fetch import FetchError, Fetcher, Page

logger = logging.getLogger(__name__)

_SNIFF = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?(rss|feed|RDF|urlset|sitemapindex)[\s>]")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS_NS = "{http://www.google.com/schemas/sitemap-news/0.9}"


@dataclass(frozen=True)
class Link:
    """An article URL found in a source, with what the source said of it."""

    url: str
    source: str
    page: Page | None = None  # the page itself, when the source was an article already fetched
    modified: str = ""  # when the source says the article last changed (sitemap lastmod, feed updated)


@dataclass
class Expanded:
    """The links a run's sources gave, and the sources (or parts of them) that failed, with why."""

    links: list[Link] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    validators: dict[str, dict] = field(default_factory=dict)  # feed/sitemap URL -> etag, last_modified, links


def expand(sources: list[str], fetcher: Fetcher, known: dict[str, dict] | None = None,
           max_depth: int = 3) -> Expanded:
    """Every article URL the ``sources`` name (deduplicated, in order). ``known`` holds the validators
    (and, for feeds and sitemaps, the links) from the last run, by URL: an unchanged feed (304) gives
    its links again, an unchanged article page comes back as a 304 page."""
    out = Expanded()
    known = known or {}
    for source in sources:
        path = Path(source)
        if "://" not in source and path.is_file():
            for line in path.read_text("utf-8", errors="replace").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    _expand_url(line, str(path), fetcher, known, out, max_depth)
        elif "://" not in source:
            out.failed.append((source, "neither a URL nor a file of URLs (check the spelling; URLs start "
                                       "with http:// or https://)"))
        else:
            _expand_url(source, source, fetcher, known, out, max_depth)
    seen: set[str] = set()
    unique = []
    for link in out.links:
        if link.url not in seen:
            seen.add(link.url)
            unique.append(link)
    out.links = unique
    return out


def _expand_url(url: str, origin: str, fetcher: Fetcher, known: dict, out: Expanded, depth: int) -> None:
    before = known.get(url, {})
    try:
        page = fetcher.get(url, etag=before.get("etag", ""), last_modified=before.get("last_modified", ""))
    except FetchError as err:
        out.failed.append((url, str(err)))
        return
    if page.not_modified and "links" in before:
        out.validators[url] = before
        links = before["links"]
        for child in before.get("sitemaps", []):
            if depth > 0:
                _expand_url(child, url, fetcher, known, out, depth - 1)
        out.links += [Link(u, url, modified=m) for u, m in links]
        return
    if page.not_modified:  # an article page fetched before, unchanged since
        out.links.append(Link(url, origin, page))
        return
    body = page.body
    if body.startswith(b"\x1f\x8b"):  # a .xml.gz sitemap served as a file
        try:
            body = _gunzip(body, fetcher.settings.max_page_bytes)
        except (OSError, EOFError) as err:
            out.failed.append((url, f"not a readable gzip file ({err})"))
            return
    kind = _sniff(body)
    try:
        if kind in ("rss", "feed", "RDF"):
            links, children = _feed_links(body, page), []
        elif kind in ("urlset", "sitemapindex"):
            links, children = _sitemap_links(body, page)
        else:
            out.links.append(Link(page.url, origin, page))
            return
    except FetchError as err:
        out.failed.append((url, str(err)))
        return
    except Exception as err:  # noqa: BLE001 (a feed parser's surprise is this source's failure, not the run's)
        logger.debug("reading %s failed", url, exc_info=True)
        out.failed.append((url, f"could not be read as a {kind} document ({type(err).__name__}: {err})"))
        return
    out.validators[url] = {"etag": page.etag, "last_modified": page.last_modified, "links": links,
                           "sitemaps": children}
    out.links += [Link(u, url, modified=m) for u, m in links]
    for child in children:
        if depth <= 0:
            out.failed.append((child, "sitemap index nested too deeply; not followed"))
        else:
            _expand_url(child, url, fetcher, known, out, depth - 1)


def _sniff(body: bytes) -> str:
    head = body[:2048]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="replace").encode("utf-8")
    match = _SNIFF.search(head)
    if not match or b"<html" in head[:match.start()].lower():
        return ""
    return match.group(1).decode("ascii")


def _feed_links(body: bytes, page: Page) -> list[tuple[str, str]]:
    """An RSS or Atom feed's entry links, resolved against the feed's URL (relative links are common),
    each with the entry's date as written (updated, else published; "" when it has none)."""
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": page.url,
                                                      "content-type": page.content_type or "application/xml"})
    links = []
    for entry in parsed.entries:
        link = entry.get("link") or next((l.get("href") for l in entry.get("links", []) if l.get("href")), "")
        if link:
            links.append((urljoin(page.url, link.strip()), entry.get("updated") or entry.get("published") or ""))
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        error = parsed["bozo_exception"]
        where = f"line {error.getLineNumber()}" if hasattr(error, "getLineNumber") else "somewhere"
        message = error.getMessage() if hasattr(error, "getMessage") else str(error)
        raise FetchError(f"malformed feed: not well-formed XML ({message} at {where})"
                         + (f"; {len(links)} links recovered were not trusted" if links else ""))
    if not links:
        raise FetchError("the feed lists no entries with links")
    return links


def _sitemap_links(body: bytes, page: Page) -> tuple[list[tuple[str, str]], list[str]]:
    """A sitemap's page URLs with their lastmod (or news:publication_date), or a sitemap index's
    sitemaps. Parsed without DTDs, entities or network access (a sitemap is untrusted XML)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        raise FetchError(f"malformed sitemap: not well-formed XML ({err})") from None

    def child(el, ns: str, name: str) -> str:
        found = el.find(f"{ns}{name}")
        if found is None:
            found = el.find(name)
        return (found.text or "").strip() if found is not None else ""

    if etree.QName(root).localname == "sitemapindex":
        return [], [urljoin(page.url, loc) for el in root.iter(f"{_SITEMAP_NS}sitemap", "sitemap")
                    if (loc := child(el, _SITEMAP_NS, "loc"))]
    links = []
    for el in root.iter(f"{_SITEMAP_NS}url", "url"):
        loc = child(el, _SITEMAP_NS, "loc")
        if not loc:
            continue
        news = el.find(f"{_NEWS_NS}news")
        published = child(news, _NEWS_NS, "publication_date") if news is not None else ""
        links.append((urljoin(page.url, loc), child(el, _SITEMAP_NS, "lastmod") or published))
    return links, []


def _gunzip(data: bytes, limit: int) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        out = f.read(limit + 1)
    if len(out) > limit:
        raise OSError(f"more than {limit:,} bytes unpacked")
    return out

