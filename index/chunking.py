"""Sentence-aware passages: consecutive sentences packed up to a token budget, overlapping by a sentence."""

from __future__ import annotations

from typing import Callable

from search.analysis import split_sentences
from search.types import Document, Passage

#: Bump whenever the passages cut from a document change; the index manifest stores it.
CHUNKER_VERSION = "sent-1"

#: What the embedding model sees of a passage (the manifest's ``chunking.embed_text``): the passage alone.
#: Repeating the document's title in every passage was measured (``bench/results/precision.md``): the dev
#: set's nDCG cannot change (its paragraphs have no titles) and every seed check still ranks its article
#: first in hybrid mode; BM25 still indexes the title with each passage.
EMBED_TEXT = "passage"


def embed_text(passage: Passage) -> str:
    """The text a passage is embedded as (:data:`EMBED_TEXT`)."""
    return passage.text


def chunk_document(
    doc: Document,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_sentences: int = 1,
) -> list[Passage]:
    """Cut ``doc.text`` into passages of whole sentences, each at most ``max_tokens`` tokens.

    Each passage after the first starts with the last ``overlap_sentences`` sentences of the
    one before, when they fit.  A sentence longer than ``max_tokens`` is split at whitespace.
    ``count_tokens`` is the embedding model's tokenizer; it is called about once per sentence
    and once per passage.  An empty body gives no passages.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    text = doc.text
    # Tokenizers may add special tokens to every call ([CLS], [SEP]); count them once,
    # not once per sentence, when summing sentence counts.
    overhead = count_tokens("")
    units = _units(text, count_tokens, max_tokens, overhead)
    if not units:
        return []

    def estimate(first: int, last: int) -> int:
        return overhead + sum(units[i][2] for i in range(first, last))

    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(units):
        last = first + 1
        while last < len(units) and estimate(first, last + 1) <= max_tokens:
            last += 1
        # The estimate ignores how tokens merge across sentence boundaries: verify.
        while last - first > 1 and count_tokens(text[units[first][0]:units[last - 1][1]]) > max_tokens:
            last -= 1
        spans.append((units[first][0], units[last - 1][1]))
        if last >= len(units):
            break
        # Overlap: back up, but always past the previous start, and only as far as still
        # leaves room for the next new unit.
        nxt = max(last - overlap_sentences, first + 1)
        while nxt < last and (estimate(nxt, last + 1) > max_tokens
                              or count_tokens(text[units[nxt][0]:units[last][1]]) > max_tokens):
            nxt += 1
        first = nxt

    return [
        Passage(passage_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, n=n, title=doc.title,
                text=text[start:end], start=start, end=end)
        for n, (start, end) in enumerate(spans)
    ]


def _units(text: str, count_tokens: Callable[[str], int], max_tokens: int, overhead: int) -> list[tuple[int, int, int]]:
    """``(start, end, tokens)`` per sentence, long sentences already split into pieces that fit."""
    units: list[tuple[int, int, int]] = []
    for start, end in split_sentences(text):
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            units.append((start, end, tokens - overhead))
        else:
            units.extend(_split_long(text, start, end, count_tokens, max_tokens, overhead))
    return units


def _split_long(text: str, start: int, end: int, count_tokens: Callable[[str], int], max_tokens: int,
                overhead: int) -> list[tuple[int, int, int]]:
    """Split one over-long sentence at whitespace into pieces of at most ``max_tokens``.

    A single word longer than the budget (a URL, a blob) becomes a piece of its own.
    """
    words: list[tuple[int, int, int]] = []
    pos = start
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        word_start = pos
        while pos < end and not text[pos].isspace():
            pos += 1
        if word_start < pos:
            words.append((word_start, pos, count_tokens(text[word_start:pos]) - overhead))
    pieces: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        j, total = i + 1, overhead + words[i][2]
        while j < len(words) and total + words[j][2] <= max_tokens:
            total += words[j][2]
            j += 1
        while j - i > 1:
            actual = count_tokens(text[words[i][0]:words[j - 1][1]])
            if actual <= max_tokens:
                total = actual
                break
            j -= 1
        else:
            total = count_tokens(text[words[i][0]:words[i][1]])
        pieces.append((words[i][0], words[j - 1][1], total - overhead))
        i = j
    return pieces
