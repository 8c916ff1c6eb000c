"""Snippets: the best window of a passage with matched terms marked, HTML-safe (pure functions)."""

from __future__ import annotations

import html
from typing import Iterable

from .analysis import tokens_with_offsets

MARK_OPEN, MARK_CLOSE = "<mark>", "</mark>"


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans in ``text`` whose analysed term is one of ``terms``."""
    wanted = set(terms)
    if not wanted:
        return []
    return [(start, end) for term, start, end in tokens_with_offsets(text) if term in wanted]


def _window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    if len(text) <= max_chars:
        return 0, len(text)
    if not spans:
        start = 0
    else:  # the window holding the most matches (earliest on ties)
        best, start, j = -1, spans[0][0], 0
        for i, (s, _e) in enumerate(spans):
            while j < len(spans) and spans[j][1] <= s + max_chars:
                j += 1
            if j - i > best:
                best, start = j - i, s
        start = max(0, start - max_chars // 6)  # a little left context
    end = min(len(text), start + max_chars)
    # snap to whitespace so no word (or akshara) is cut
    if start > 0:
        space = text.find(" ", start, start + 40)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", max(start, end - 40), end)
        end = space if space != -1 else end
    return start, end


def make_snippet(text: str, terms: Iterable[str], max_chars: int = 300) -> str:
    """HTML: the text escaped, matched terms wrapped in ``<mark>``, ellipses where cut."""
    spans = match_spans(text, terms)
    start, end = _window(text, spans, max_chars)
    out: list[str] = ["…" if start > 0 else ""]
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(MARK_OPEN + html.escape(text[s:e]) + MARK_CLOSE)
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return " ".join("".join(out).split())  # one line: newlines and runs of spaces collapsed
