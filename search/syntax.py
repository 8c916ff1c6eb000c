"""A small query syntax, read by a tolerant parser that never fails:

* ``"quoted phrase"``: the words must occur together, in this order, in one passage (for an English
  phrase: its words' Hindi expansions, together in one passage);
* ``-word`` (or ``-"a phrase"``): documents holding the word, its expansions or its transliterations
  are left out;
* ``source:NAME`` (``source:"Dainik Jagran"``): only documents from that source.

Anything else is a plain word. An unbalanced quote is a plain character (``"treaty`` searches
``treaty``), a lone ``-`` or an empty ``source:`` are plain words, and a query of nothing but operators
searches nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One token: an optional operator, then a quoted run or a bare run of non-space characters.
_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<field>source):)?(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"]+))|(?P<other>\S)')


def _worded(value: str) -> bool:
    """Holds a letter or a digit (``--`` is punctuation, not an exclusion)."""
    return any(ch.isalnum() for ch in value)


@dataclass(frozen=True)
class Syntax:
    """A query, read: its text to search and its operators."""

    text: str  # the words to rank by (phrases' words included, operators removed)
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()  # words or phrases whose documents are left out
    sources: tuple[str, ...] = ()

    @property
    def has_operators(self) -> bool:
        return bool(self.phrases or self.excluded or self.sources)


def parse_syntax(query: str) -> Syntax:
    """Read ``query``'s operators; never raises. ``text`` keeps the query's spacing collapsed."""
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    sources: list[str] = []
    balanced = query.count('"') % 2 == 0
    source = query if balanced else query.replace('"', " ")
    for m in _TOKEN.finditer(source):
        quoted = m.group("quoted")
        value = " ".join((quoted if quoted is not None else m.group("bare") or "").split())
        if m.group("other"):
            words.append(m.group("other"))
        elif m.group("field"):
            if value:
                sources.append(value)
            else:
                words.append(m.group(0))
        elif m.group("neg"):
            if _worded(value) and (not m.start() or source[m.start() - 1].isspace()):
                excluded.append(value)
            else:  # "well-known" inside a word, or a lone "-": plain
                words.append(m.group(0).strip('"'))
        elif quoted is not None:
            if value:
                phrases.append(value)
                words.append(value)
        else:
            words.append(value)
    return Syntax(" ".join(w for w in words if w), tuple(dict.fromkeys(phrases)),
                  tuple(dict.fromkeys(excluded)), tuple(dict.fromkeys(sources)))
