"""Tests for near-duplicate groups (index/neardup.py): the dated corpus's planted copies, exactly."""

import json
import logging
import random
from pathlib import Path

import pytest

from index.corpus import read_corpus
from index.neardup import NearDupConfig, find_groups, jaccard, mark_near_duplicates, representative_order, shingles
from search.types import Document

DATA = Path(__file__).parent / "data"
DATED = DATA / "dated"


@pytest.fixture(scope="module")
def dated() -> tuple[list[Document], dict]:
    truth = json.loads((DATED / "truth.json").read_text("utf-8"))
    return list(read_corpus([DATED / "corpus.jsonl"]).documents), truth


def _as_sets(groups) -> set[tuple[str, frozenset]]:
    return {(group[0], frozenset(group)) for group in groups}


def test_the_planted_copies_are_grouped_exactly(dated):
    docs, truth = dated
    found = find_groups(docs)
    planted = {(g["representative"], frozenset(g["members"])) for g in truth["groups"]}
    assert _as_sets(found) == planted  # no copy missed, none added, the same representative
    assert len(planted) == 24 and all(2 <= len(members) <= 4 for _, members in planted)


def test_copies_are_far_above_the_threshold_and_other_stories_far_below(dated):
    docs, truth = dated
    sets = {d.doc_id: shingles(d.text) for d in docs}
    threshold = NearDupConfig().threshold
    copies = [jaccard(sets[g["representative"]], sets[m]) for g in truth["groups"] for m in g["members"]]
    assert min(copies) > threshold + 0.1
    # the paragraphs of one XQuAD article, and the five seeds, are stories on one topic, not copies
    group_of = {m: g["representative"] for g in truth["groups"] for m in g["members"]}
    topic = {doc_id: doc_id.split("-")[1] if doc_id.startswith("xq-") else "seed" for doc_id in sets}
    same_topic = [jaccard(sets[a], sets[b]) for a in sets for b in sets
                  if a < b and topic[a] == topic[b] and (a not in group_of or group_of.get(b) != group_of[a])]
    assert len(same_topic) > 600 and max(same_topic) < threshold - 0.3


def test_groups_do_not_depend_on_input_order(dated):
    docs, _ = dated
    shuffled = docs[:]
    random.Random(7).shuffle(shuffled)
    assert _as_sets(find_groups(shuffled)) == _as_sets(find_groups(docs))


def test_no_groups_among_stories_on_one_topic():
    rows = [json.loads(line) for line in (DATA / "xquad" / "xquad_hi_corpus.jsonl").read_text("utf-8").splitlines()]
    docs = [Document(r["id"], "", r["text"]) for r in rows]
    seeds = read_corpus([Path(__file__).parent.parent / "seeds"]).documents
    assert find_groups(docs + list(seeds)) == []


def _doc(doc_id: str, text: str, date: str = "", title: str = "") -> Document:
    return Document(doc_id, title, text, date=date)


STORY = ("उत्तर कोरिया ने रूस के साथ एक ऐतिहासिक पारस्परिक रक्षा संधि की पुष्टि की है, राज्य मीडिया ने घोषणा की है, "
         "क्योंकि मॉस्को और प्योंगयांग के बीच बढ़ते सैन्य सहयोग पर अंतरराष्ट्रीय चिंता बढ़ रही है। "
         "यह संधि यूक्रेन के खिलाफ रूस के युद्ध में लड़ने के लिए लगभग 11,000 उत्तर कोरियाई सैनिकों को तैनात किए "
         "जाने की खबरों के बीच आई है।")
OTHER = ("रूस और उत्तर कोरिया के बीच रक्षा सहयोग पर दक्षिण कोरिया ने चिंता जताई और सियोल में रूसी राजदूत को "
         "बुलाया। दक्षिण कोरियाई अधिकारियों ने कहा कि उत्तर कोरिया के सैनिक यूक्रेन के मोर्चे पर भेजे गए हैं।")


def test_a_wire_copy_with_a_dateline_a_credit_and_a_headline_is_grouped():
    docs = [_doc("a", STORY, "2024-11-20", "संधि की पुष्टि"),
            _doc("b", "नई दिल्ली, (भाषा)। " + STORY.replace("ऐतिहासिक ", "") + " (इनपुट: एजेंसी)", "2024-11-21",
                 "बड़ी ख़बर: उत्तर कोरिया ने संधि की पुष्टि की"),
            _doc("c", OTHER, "2024-11-20")]  # the same topic, written separately
    assert find_groups(docs) == [["a", "b"]]


def test_the_representative_is_the_earliest_then_the_longest():
    longer = STORY + " (भाषा)"
    assert find_groups([_doc("b", STORY, "2024-11-21"), _doc("a", longer, "2024-11-22")]) == [["b", "a"]]
    # the same day (a time does not count): the longest
    assert find_groups([_doc("b", STORY, "2024-11-21T08:00:00+05:30"),
                        _doc("a", longer, "2024-11-21T20:00:00+05:30")]) == [["a", "b"]]
    # undated copies come last; then the doc_id decides
    assert find_groups([_doc("z", STORY, ""), _doc("y", STORY, "2024-01-01")]) == [["y", "z"]]
    assert find_groups([_doc("n", STORY), _doc("m", STORY)]) == [["m", "n"]]
    assert representative_order(_doc("x", STORY, "2024-01-01")) < representative_order(_doc("w", STORY))


def test_short_documents_are_grouped_only_when_identical():
    short = "रूस उत्तर कोरिया रक्षा संधि पुष्टि"  # fewer shingles than min_shingles
    assert 0 < len(shingles(short)) < NearDupConfig().min_shingles
    docs = [_doc("a", short), _doc("b", short), _doc("c", short + " सैनिक"), _doc("d", "")]
    assert find_groups(docs) == [["a", "b"]]


def test_mark_sets_dup_group_and_keeps_the_order(caplog):
    docs = [_doc("c", OTHER), _doc("b", STORY, "2024-11-21"), _doc("a", STORY + " (भाषा)", "2024-11-22")]
    with caplog.at_level(logging.INFO, logger="index.neardup"):
        marked = mark_near_duplicates(docs)
    assert [(d.doc_id, d.dup_group) for d in marked] == [("c", ""), ("b", "b"), ("a", "b")]
    logged = [r.getMessage() for r in caplog.records if r.name == "index.neardup"]
    assert logged and logged[0].startswith("Near-duplicates: 2 documents in 1 groups")
    again = mark_near_duplicates([_doc("a", STORY), _doc("c", OTHER)])  # a stale group is cleared
    assert [d.dup_group for d in again] == ["", ""]


def test_the_threshold_is_a_setting():
    docs = [_doc("a", STORY), _doc("b", "नई दिल्ली, (भाषा)। " + STORY.replace("ऐतिहासिक ", ""))]
    assert find_groups(docs, NearDupConfig(threshold=0.99)) == []
    assert find_groups(docs, NearDupConfig(threshold=0.5)) == [["b", "a"]]
    assert find_groups(docs, NearDupConfig(threshold=0.5, num_perm=64)) == [["b", "a"]]


def test_fewer_permutations_find_the_same_planted_groups(dated):
    docs, truth = dated
    planted = {(g["representative"], frozenset(g["members"])) for g in truth["groups"]}
    assert _as_sets(find_groups(docs, NearDupConfig(num_perm=64))) == planted


def test_shingles_are_deterministic_and_read_analysed_words():
    assert shingles("हिन्दी समाचार पत्र").tolist() == shingles("हिंदी समाचार पत्र").tolist()  # normalised
    assert len(shingles("एक दो")) == 0
    assert shingles(STORY).tolist() == shingles(STORY).tolist()
    assert jaccard(shingles(STORY), shingles(STORY)) == 1.0


def test_an_index_stores_the_groups_and_the_metadata(tmp_path, embedder, settings):
    from index.builder import build_index
    from search import storage

    rows = [json.loads(line) for line in (DATED / "corpus.jsonl").read_text("utf-8").splitlines()]
    truth = json.loads((DATED / "truth.json").read_text("utf-8"))
    group = truth["groups"][0]
    picked = [r for r in rows if r["id"] in group["members"]] + rows[:3]
    corpus = tmp_path / "dated.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), "utf-8")
    build_index([corpus], tmp_path / "index", settings, embedder=embedder, progress=False)
    stored = {d["doc_id"]: d for d in storage.open_generation(tmp_path / "index").documents}
    assert set(stored) == {r["id"] for r in picked}
    for doc_id, doc in stored.items():
        want = dict(truth["documents"][doc_id])
        # the display name is the outlet's spelling in this smaller corpus ("AMAR UJALA" may be its only one)
        assert doc.pop("source").casefold() == want.pop("source").casefold()
        assert {k: doc[k] for k in want} == want
        assert doc["dup_group"] == (group["representative"] if doc_id in group["members"] else "")
