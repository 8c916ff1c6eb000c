"""Articles out of HTML pages, with trafilatura: title, author, date, site name, main text, language."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_LATIN = re.compile(r"[A-Za-z]")
_VIDEO_TYPES = {"video", "video.other", "video.movie", "video.episode", "videoobject"}


@dataclass(frozen=True)
class Article:
    """One extracted news article (``url``: where it was fetched; ``canonical_url``: its own address)."""

    url: str
    canonical_url: str
    title: str
    text: str
    date: str = ""
    author: str = ""
    site_name: str = ""
    lang: str = ""
    fetched_at: str = ""


class NotAnArticle(Exception):
    """A page that holds no article (an index page, a video page); ``str()`` says why."""


def extract_article(html: str, url: str, *, min_chars: int = 250, fetched_at: str = "") -> Article:
    """The article on the page at ``url``, or :class:`NotAnArticle` with the reason."""
    import trafilatura
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(html)
    except (ValueError, lxml_html.etree.ParserError) as err:
        raise NotAnArticle(f"not an HTML page ({err})") from None
    meta = _page_metadata(tree, url)
    if meta["type"] in _VIDEO_TYPES:
        raise NotAnArticle(f"a video page (type {meta['type']}), not an article")
    doc = trafilatura.bare_extraction(tree, url=url, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_precision=True)
    found = doc.as_dict() if doc is not None and hasattr(doc, "as_dict") else (doc or {})
    text = _tidy(found.get("text") or "")
    if len(text) < min_chars:
        raise NotAnArticle(f"not an article ({len(text)} characters of main text, fewer than {min_chars}: "
                           f"an index or video page?)")
    linked = _linked_share(tree, text)
    if linked > 0.5:
        raise NotAnArticle(f"not an article ({linked:.0%} of its main text is link text: an index page)")
    title = meta["title"] or (found.get("title") or "").strip()
    first, _, rest = text.partition("\n")
    if title and rest and " ".join(first.split()) == " ".join(title.split()):
        text = rest  # the headline, repeated at the top of the main text
    return Article(
        url=url,
        canonical_url=meta["canonical"] or canonical_form(url),
        title=title,
        text=text,
        # as written, time and offset included (the build reads it: index/dates.py), so that same-day
        # stories sort by their time
        date=" ".join((meta["date"] or found.get("date") or "").split()),
        author=meta["author"] or (found.get("author") or ""),
        site_name=meta["site_name"] or (found.get("sitename") or ""),
        lang=meta["lang"] or detect_language(text),
        fetched_at=fetched_at,
    )


def detect_language(text: str) -> str:
    """``hi`` for text mostly in Devanagari, ``en`` for text mostly in Latin letters, else ``und``: a page
    that does not say its language is nearly always one of these two here."""
    dev, lat = len(_DEVANAGARI.findall(text)), len(_LATIN.findall(text))
    if dev + lat == 0:
        return "und"
    return "hi" if dev >= lat else "en"


def canonical_form(url: str) -> str:
    """``url`` without its fragment, with a lower-case scheme and host."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def _page_metadata(tree, url: str) -> dict:
    """What the page says about itself: JSON-LD NewsArticle first, then Open Graph and meta tags.
    (trafilatura finds these too, but cuts Devanagari author names and keeps a site suffix on some
    titles; these fields are read as written.)"""
    out = {"title": "", "date": "", "author": "", "site_name": "", "type": "", "canonical": "", "lang": ""}
    for ld in _json_ld(tree):
        kind = ld.get("@type")
        kind = (kind[0] if isinstance(kind, list) and kind else kind) or ""
        if str(kind).lower() == "videoobject":
            out["type"] = "videoobject"
        if str(kind) not in ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting"):
            continue
        out["title"] = out["title"] or _text(ld.get("headline"))
        out["date"] = out["date"] or _text(ld.get("datePublished"))
        author = ld.get("author")
        if isinstance(author, list) and author:
            author = author[0]
        out["author"] = out["author"] or _text(author.get("name") if isinstance(author, dict) else author)
        publisher = ld.get("publisher")
        out["site_name"] = out["site_name"] or _text(publisher.get("name") if isinstance(publisher, dict) else "")

    def meta(*names: str) -> str:
        for name in names:
            for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}"]'):
                value = (el.get("content") or "").strip()
                if value:
                    return value
        return ""

    out["title"] = out["title"] or meta("og:title", "twitter:title")
    out["date"] = out["date"] or meta("article:published_time", "datePublished", "pubdate", "date")
    out["author"] = out["author"] or meta("author", "article:author")
    out["site_name"] = out["site_name"] or meta("og:site_name")
    out["type"] = out["type"] or meta("og:type").lower()
    for el in tree.xpath('//link[@rel="canonical"][@href]'):
        out["canonical"] = canonical_form(urljoin(url, el.get("href").strip()))
        break
    lang = (tree.get("lang") or meta("content-language", "og:locale") or "").strip().lower()
    out["lang"] = re.split(r"[-_]", lang)[0] if lang else ""
    return out


def _linked_share(tree, text: str) -> float:
    """The share of the extracted text's characters on lines that are a link's text: high on section
    fronts and lists of headlines, low on an article."""
    anchors = {" ".join(a.text_content().split()) for a in tree.iter("a")}
    anchors.discard("")
    total = linked = 0
    for line in text.splitlines():
        total += len(line)
        line = line.lstrip("-•* ")
        if line in anchors or any(len(a) > 0.6 * len(line) and a in line for a in anchors):
            linked += len(line)
    return linked / total if total else 0.0


def _json_ld(tree) -> list[dict]:
    items: list[dict] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, RecursionError):
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                graph = item.get("@graph")
                items += [g for g in graph if isinstance(g, dict)] if isinstance(graph, list) else [item]
    return items


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def read_saved_page(data: bytes, where: str, doc_id: str, min_chars: int = 250):
    """A saved ``.html`` file as a corpus :class:`~search.types.Document`, or a
    :class:`~search.types.Report` saying why it was skipped (``search index`` reads saved pages
    through the same extractor as ``search ingest``)."""
    from pathlib import Path

    from search.types import Document, Report

    from .fetch import FetchError, decode

    try:
        page_url = Path(where).resolve().as_uri()
        article = extract_article(decode(data, "text/html"), page_url, min_chars=min_chars)
    except (FetchError, NotAnArticle) as err:
        return Report(where, f"{err}; skipped (save the article page itself, as HTML)")
    url = article.canonical_url if article.canonical_url.startswith(("http://", "https://")) else ""
    return Document(doc_id=doc_id, title=article.title, text=article.text, date=article.date,
                    source=article.site_name, url=url, lang=article.lang or "hi", origin=where)
