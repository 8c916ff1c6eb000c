"""Tests for sentence-aware passages, with a whitespace token counter standing in for the model tokenizer."""

from pathlib import Path

import pytest

from index.chunking import CHUNKER_VERSION, chunk_document
from index.corpus import read_corpus
from search.analysis import split_sentences
from search.types import Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def words(text: str) -> int:
    return len(text.split())


def counting_with_specials(text: str) -> int:
    """Like a real tokenizer call: two special tokens ([CLS], [SEP]) on every call."""
    return len(text.split()) + 2


def sentence(n: int, words_in_it: int) -> str:
    return " ".join(f"w{n}_{i}" for i in range(words_in_it - 1)) + " अंत।"


def doc_of(text: str, doc_id: str = "d") -> Document:
    return Document(doc_id=doc_id, title="शीर्षक", text=text)


def check_spans(doc, passages):
    for n, passage in enumerate(passages):
        assert passage.passage_id == f"{doc.doc_id}#{n}"
        assert (passage.doc_id, passage.n, passage.title) == (doc.doc_id, n, doc.title)
        assert passage.text == doc.text[passage.start:passage.end]
        assert passage.text == passage.text.strip()


@pytest.mark.parametrize(
    "sizes, max_tokens, expected",
    [
        # words per sentence, budget, sentence indexes in each passage (overlap of one)
        ([5, 5, 5, 5], 10, [[0, 1], [1, 2], [2, 3]]),
        ([5, 5, 5, 5], 100, [[0, 1, 2, 3]]),
        ([8, 8, 8], 10, [[0], [1], [2]]),  # no room for overlap
        ([3, 3, 3, 3, 3], 9, [[0, 1, 2], [2, 3, 4]]),
        ([4], 10, [[0]]),
    ],
)
def test_packing_and_overlap(sizes, max_tokens, expected):
    text = "\n".join(sentence(n, size) for n, size in enumerate(sizes))
    doc = doc_of(text)
    spans = split_sentences(text)
    passages = chunk_document(doc, words, max_tokens=max_tokens, overlap_sentences=1)
    check_spans(doc, passages)
    got = [[i for i, (s, e) in enumerate(spans) if p.start <= s and e <= p.end] for p in passages]
    assert got == expected
    assert all(words(p.text) <= max_tokens for p in passages)


def test_no_overlap():
    text = " ".join(sentence(n, 5) for n in range(4))
    passages = chunk_document(doc_of(text), words, max_tokens=10, overlap_sentences=0)
    assert [words(p.text) for p in passages] == [10, 10]
    assert passages[0].end < passages[1].start


def test_special_tokens_are_counted_once_per_passage():
    text = " ".join(sentence(n, 4) for n in range(6))
    passages = chunk_document(doc_of(text), counting_with_specials, max_tokens=10, overlap_sentences=0)
    assert [words(p.text) for p in passages] == [8, 8, 8]
    assert all(counting_with_specials(p.text) <= 10 for p in passages)


def test_long_sentence_is_split_at_whitespace():
    long = " ".join(f"शब्द{i}" for i in range(25)) + "।"
    text = f"छोटा वाक्य है। {long} आखिरी वाक्य।"
    doc = doc_of(text)
    passages = chunk_document(doc, words, max_tokens=10)
    check_spans(doc, passages)
    assert all(words(p.text) <= 10 for p in passages)
    covered = " ".join(p.text for p in passages).split()
    assert set(covered) == set(text.split())  # every word lands in some passage


def test_one_word_longer_than_the_budget_still_makes_progress():
    doc = doc_of("a b " + "x" * 50 + " c d")
    passages = chunk_document(doc, lambda t: len(t), max_tokens=10, overlap_sentences=3)
    check_spans(doc, passages)
    assert any("x" * 50 in p.text for p in passages)
    assert passages[-1].text.endswith("d")


@pytest.mark.parametrize("overlap", [0, 1, 2, 5])
def test_progress_and_coverage_on_seeds(overlap):
    for doc in read_corpus([SEEDS]).documents:
        passages = chunk_document(doc, words, max_tokens=40, overlap_sentences=overlap)
        check_spans(doc, passages)
        assert all(words(p.text) <= 40 for p in passages)
        assert [p.start for p in passages] == sorted({p.start for p in passages})  # always moves on
        assert passages[0].start == 0 and passages[-1].end == len(doc.text)
        for a, b in zip(passages, passages[1:]):
            assert b.start <= a.end or doc.text[a.end:b.start].isspace()  # no text skipped


def test_count_tokens_is_called_sparingly():
    calls = []

    def counter(text):
        calls.append(text)
        return words(text)

    text = " ".join(sentence(n, 5) for n in range(40))
    passages = chunk_document(doc_of(text), counter, max_tokens=50)
    assert len(calls) <= 40 + 3 * len(passages) + 1


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_empty_body_gives_no_passages(text):
    assert chunk_document(doc_of(text), words) == []


@pytest.mark.parametrize("kwargs", [{"max_tokens": 0}, {"overlap_sentences": -1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        chunk_document(doc_of("क ख।"), words, **kwargs)


def test_version():
    assert CHUNKER_VERSION == "sent-1"


def test_a_passage_is_embedded_as_its_own_text():
    from index.chunking import EMBED_TEXT, embed_text

    doc = doc_of("पहला वाक्य। दूसरा वाक्य।")
    passages = chunk_document(doc, words, max_tokens=3, overlap_sentences=0)
    assert EMBED_TEXT == "passage"
    assert [embed_text(p) for p in passages] == [p.text for p in passages]
    assert all(doc.title not in embed_text(p) for p in passages)
