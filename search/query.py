"""Query handling: validate user text, detect its script and language, analyse it into terms."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .analysis import analyze, detect_script
from .errors import BadQuery

MAX_QUERY_CHARS = 1000
LANGUAGES = {"devanagari": "hi", "latin": "en", "mixed": "mixed", "none": "unknown"}


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    script: str  # devanagari | latin | mixed | none
    language: str  # hi | en | mixed | unknown
    terms: tuple[str, ...]  # analysed, unique, in query order


def parse_query(text) -> ParsedQuery:
    """Validate and analyse ``text``; raise :class:`BadQuery` naming the problem and the fix."""
    if text is None or not isinstance(text, str):
        raise BadQuery("the query is missing", "give the words to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}",
                       "shorten it to its key words")
    bad = [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t\n\r"]
    if bad:
        raise BadQuery(f"the query contains a control character (U+{ord(bad[0]):04X})",
                       "remove it and search again")
    clean = " ".join(text.split())
    if not clean:
        raise BadQuery("the query is empty", "type some words to search for")
    script = detect_script(clean)
    terms = tuple(dict.fromkeys(analyze(clean)))
    return ParsedQuery(clean, script, LANGUAGES.get(script, "unknown"), terms)
