"""HTML helpers for templates (pure functions): snippet sanitising, paragraphs, safe links, lang."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from search.analysis import detect_script

_MARK = re.compile(r"(</?mark>)")


def safe_snippet(snippet: str) -> Markup:
    """The engine's snippet HTML with every tag but ``<mark>``/``</mark>`` escaped, marks balanced.

    The engine already escapes the text; this does not trust that. Text between marks is
    unescaped and escaped again (so entities survive and any raw ``<`` does not), and marks
    are only emitted where they open or close a highlight.
    """
    out: list[str] = []
    open_ = False
    for part in _MARK.split(snippet or ""):
        if part == "<mark>":
            if not open_:
                out.append(part)
                open_ = True
        elif part == "</mark>":
            if open_:
                out.append(part)
                open_ = False
        else:
            out.append(str(escape(html.unescape(part))))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def paragraphs(text: str) -> list[str]:
    """The non-empty lines of a document body, each a paragraph."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def safe_url(url: str) -> str:
    """``url`` if it is an http(s) link, else "" (a corpus could hold ``javascript:`` URLs)."""
    url = (url or "").strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    return url if scheme in ("http", "https") else ""


def lang_of(text: str, default: str = "") -> str:
    """A ``lang`` value for ``text``: "hi" when it is (mostly) Devanagari, "en" for Latin script."""
    script = detect_script(text or "")
    return {"devanagari": "hi", "mixed": "hi", "latin": "en"}.get(script, default)
