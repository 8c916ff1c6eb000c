"""Honest matching (search/matching.py): the rule on small fakes, the calibration against brute force,
and the off-topic query sets."""

import hashlib
import math

import numpy as np
import pytest

from search import matching
from search.matching import Calibration, MatchConfig, QueryWord, decide
from search.understanding import Reading

DIM = 64


def fake_vector(text: str) -> np.ndarray:
    """A deterministic unit vector for ``text`` (blake2b-seeded), unrelated to its meaning."""
    seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def fake_encode(texts):
    return np.stack([fake_vector(t) for t in texts])


def corpus(n: int = 40) -> np.ndarray:
    return fake_encode([f"passage {i}" for i in range(n)])


# ------------------------------------------------------------------------------- basics
@pytest.mark.parametrize("text, script", [
    ("सुपर बाउल 50", "devanagari"), ("Super Bowl 50", "latin"), ("mixed शब्द", "devanagari"),
    ("!!!", "latin"), ("", "latin"),
])
def test_script_of(text, script):
    assert matching.script_of(text) == script


def test_idf_is_whooshs(tmp_path):
    from whoosh import fields, index

    ix = index.create_in(tmp_path, fields.Schema(body=fields.TEXT))
    with ix.writer() as w:
        for i in range(10):
            w.add_document(body="common" + (" rare" if i == 0 else "") + (" half" if i < 5 else ""))
    with ix.searcher() as s:
        for term in ("common", "rare", "half"):
            df = s.doc_frequency("body", term)
            assert matching.idf(df, 10) == pytest.approx(s.idf("body", term))
    assert matching.idf(0, 10) == pytest.approx(math.log(10) + 1)


def test_dense_excess_takes_each_documents_best_passage():
    got = matching.dense_excess(["a", "a", "b"], [0.80, 0.82, 0.79], [0.70, 0.75, 0.60])
    assert got == pytest.approx({"a": 0.10, "b": 0.19})


# --------------------------------------------------------------------------- query words
def _indexed(term):
    return term in {"nfl", "सुपर", "बाउल"}


def test_query_words_reads_each_kind_of_word():
    readings = [
        Reading("NFL", "english", "NFL"),
        Reading("the", "english", "the"),  # a stopword: not among the content words
        Reading("anthem", "english", "anthem"),
        Reading("super", "romanized", "सुपर", 0.8, ("सूपर",)),
        Reading("का", "hindi", "का"),  # analyses to nothing
        Reading("SUPER", "romanized", "सुपर"),  # the same word again
    ]
    expansions = {"anthem": [("राष्ट्रगान", 0.9), ("गान", 0.4)], "NFL": [("nfl", 0.5)]}
    analyze = {"NFL": ["nfl"], "anthem": ["anthem"], "सुपर": ["सुपर"], "सूपर": ["सूपर"], "का": []}.get
    words = matching.query_words(readings, expansions, analyze, _indexed, {"NFL", "anthem"})
    assert words == (
        QueryWord("NFL", (("nfl", 1.0),)),  # its own indexed term beats the weaker expansion
        QueryWord("anthem", (("राष्ट्रगान", 0.9), ("गान", 0.4))),  # "anthem" itself is not in the index
        QueryWord("सुपर", (("सुपर", 0.8), ("सूपर", 0.4))),
    )


def test_a_corrected_english_word_is_read_as_its_correction():
    words = matching.query_words([Reading("defnce", "corrected", "defence", 0.9)], {"defence": [("रक्षा", 1.0)]},
                                 lambda w: [w.lower()], lambda t: False, {"defence"})
    assert words == (QueryWord("defence", (("रक्षा", 1.0),)),)


# ------------------------------------------------------------------------------ lexical
DF = {"सुपर": 2, "बाउल": 5, "राष्ट्रगान": 1, "रूप": 175, "न": 3, "गान": 2}
N = 400


def test_only_telling_terms_count():
    words = (QueryWord("w1", (("रूप", 1.0),)),  # in 44% of passages: too common
             QueryWord("w2", (("गान", 0.4),)),  # too weak an expansion
             QueryWord("w3", (("न", 1.0),)),  # one character
             QueryWord("w4", (("राष्ट्रगान", 1.0),)))
    ev = matching.lexical_evidence(words, {"d1": {"रूप", "गान", "न"}, "d2": {"राष्ट्रगान", "रूप"}}, DF, N,
                                   MatchConfig())
    assert set(ev) == {"d2"}
    assert ev["d2"][0] == 1


def test_in_a_small_index_the_words_of_its_story_still_count():
    words = (QueryWord("रूस", (("रूस", 1.0),)), QueryWord("यूक्रेन", (("यूक्रेन", 1.0),)))
    df = {"रूस": 28, "यूक्रेन": 25}  # the seeds: five articles about the war, 28 passages
    assert decide(words, {"d1": {"रूस", "यूक्रेन"}}, df, 28, {}, None).docs == {"d1"}
    assert not decide(words, {"d1": {"रूस", "यूक्रेन"}}, df, 28, {}, None,
                      MatchConfig(min_passages_for_share=10)).docs


def test_coverage_weighs_words_by_idf_and_weight():
    words = (QueryWord("a", (("सुपर", 1.0),)), QueryWord("b", (("बाउल", 0.5),)), QueryWord("c", ()))
    ev = matching.lexical_evidence(words, {"d": {"सुपर", "बाउल"}}, DF, N, MatchConfig())
    wa, wb, wc = matching.idf(2, N), matching.idf(5, N), matching.idf(0, N)
    assert ev["d"] == (2, pytest.approx((wa + 0.5 * wb) / (wa + wb + wc)))


# ------------------------------------------------------------------------------- decide
WORDS = (QueryWord("सुपर", (("सुपर", 1.0),)), QueryWord("बाउल", (("बाउल", 1.0),)),
         QueryWord("राष्ट्रगान", (("राष्ट्रगान", 1.0),)))
FLOORS = (0.05, 0.02)


def test_a_query_no_word_of_which_the_index_knows_matches_nothing():
    m = decide((QueryWord("xyzzy"), QueryWord("qwertyuiop")), {}, {}, N, {"d1": 0.5}, FLOORS)
    assert not m.docs and "no word" in m.reason
    assert not decide((), {}, {}, N, {"d1": 0.5}, FLOORS).docs  # "!!!": no words at all
    # Devanagari keyboard mash reads as Hindi words, but no passage holds them
    mash = (QueryWord("ढफफनटशटब", (("ढफफनटशटब", 1.0),)), QueryWord("ठपघठ", (("ठपघठ", 1.0),)))
    assert not decide(mash, {}, DF, N, {"d1": 0.5}, FLOORS).docs


def test_strong_lexical_evidence_lets_weaker_documents_in():
    doc_terms = {"d1": {"सुपर", "बाउल"}, "d2": {"राष्ट्रगान"}, "d3": {"रूप"}}
    excess = {"d1": 0.01, "d4": 0.03, "d5": 0.001}
    m = decide(WORDS, doc_terms, DF, N, excess, FLOORS)
    assert m.strong == {"d1"}  # two of the three words
    assert m.docs == {"d1", "d2", "d4"}  # d2: one word; d4: over the weak floor; d3, d5: nothing


def test_one_word_matches_alone_are_not_enough():
    doc_terms = {"d1": {"सुपर"}, "d2": {"बाउल"}, "d3": {"राष्ट्रगान"}}
    m = decide(WORDS, doc_terms, DF, N, {"d1": 0.04}, FLOORS)
    assert not m.docs and "strong" in m.reason
    # ... unless the query has one word only
    assert decide(WORDS[:1], doc_terms, DF, N, {}, FLOORS).docs == {"d1"}


def test_dense_evidence_over_the_strong_floor_is_enough():
    m = decide(WORDS, {}, DF, N, {"d1": 0.06, "d2": 0.03, "d3": 0.01}, FLOORS)
    assert m.strong == {"d1"} and m.docs == {"d1", "d2"}
    assert not decide(WORDS, {}, DF, N, {"d1": 0.06}, None).docs  # no floors: dense evidence unused


def test_coverage_alone_can_be_strong():
    words = (QueryWord("a", (("राष्ट्रगान", 1.0),)), QueryWord("b", (("रूप", 1.0),)), QueryWord("c", (("न", 1.0),)))
    m = decide(words, {"d1": {"राष्ट्रगान"}}, DF, N, {}, None, MatchConfig(strong_coverage=0.4))
    assert m.docs == {"d1"}  # the rare word carries most of the query's idf weight
    assert not decide(words, {"d1": {"राष्ट्रगान"}}, DF, N, {}, None, MatchConfig(strong_coverage=0.9)).docs


# ---------------------------------------------------------------------------- calibrate
def test_calibration_is_what_brute_force_gives():
    vectors = corpus(30)
    probes = {"latin": [f"probe {i}" for i in range(7)], "devanagari": [f"जांच {i}" for i in range(5)]}
    config = MatchConfig(strong_quantile=0.75, weak_quantile=0.0, chunk_rows=4)  # chunks of 4 rows
    cal, hub, _probes = matching.calibrate(vectors, fake_encode, "fake@1", probes, config)
    assert hub.shape == (30, 2) and hub.dtype == np.float32
    for col, script in enumerate(matching.SCRIPTS):
        sims = fake_encode(probes[script]) @ vectors.T
        assert np.allclose(hub[:, col], sims.mean(0), atol=1e-6)
        n = len(sims)
        best = sorted(max(sims[i, p] - (sims[:, p].sum() - sims[i, p]) / (n - 1) for p in range(30))
                      for i in range(n))
        assert cal.excess[script] == pytest.approx(best, abs=1e-6)
        assert cal.floors[script] == pytest.approx((np.quantile(best, 0.75), min(best)), abs=1e-6)
    assert cal.probes == {"latin": 7, "devanagari": 5} and cal.passages == 30
    again, hub2, _probes2 = matching.calibrate(vectors, fake_encode, "fake@1", probes, config)
    assert again == cal and np.array_equal(hub, hub2)  # deterministic
    # the probes' vectors, Latin then Devanagari, and each probe's best cosine to the others of its script
    assert np.allclose(_probes, np.concatenate([fake_encode(probes[s]) for s in matching.SCRIPTS]), atol=1e-6)
    for script in matching.SCRIPTS:
        q = fake_encode(probes[script])
        between = q @ q.T - 9 * np.eye(len(q))
        assert cal.near[script] == pytest.approx(sorted(between.max(axis=1)), abs=1e-6)


def test_an_empty_index_never_uses_dense_evidence():
    cal, hub, _probes = matching.calibrate(np.zeros((0, DIM), np.float32), fake_encode, "fake@1")
    assert hub.shape == (0, 2) and all(f == (math.inf, math.inf) for f in cal.floors.values())


def test_calibration_round_trips_and_knows_what_it_was_measured_on():
    cal, _hub, _probes = matching.calibrate(corpus(12), fake_encode, "fake@1")
    back = Calibration.from_dict(cal.to_dict())
    for script, floors in cal.floors.items():
        assert back.floors[script] == pytest.approx(floors, abs=1e-6)
    assert back.probes == cal.probes and back.model == "fake@1"
    assert {s: len(v) for s, v in back.near.items()} == {
        s: len(set(matching.PROBES[s]) - matching.NONSENSE_PROBES) for s in matching.SCRIPTS}
    for script, near in cal.near.items():
        assert back.near[script] == pytest.approx(near, abs=1e-6)
    assert back.fits("fake@1", 12)
    assert not back.fits("fake@2", 12) and not back.fits("fake@1", 13)


def test_a_passage_the_query_is_about_clears_the_floor_and_noise_does_not():
    """With meaningless vectors, a query is as unrelated to every passage as the probes are; one that
    is a passage's own vector is far above the floor."""
    vectors = corpus(200)
    cal, hub, _probes = matching.calibrate(vectors, fake_encode, "fake@1", config=MatchConfig(strong_quantile=0.75))
    strong, _weak = cal.floors["latin"]
    col = matching.SCRIPTS.index("latin")
    docs = [f"d{i // 2}" for i in range(200)]  # two passages a document
    on_topic = vectors[17]
    excess = matching.dense_excess(docs, vectors @ on_topic, hub[:, col])
    assert excess["d8"] > strong + 0.5
    m = decide((QueryWord("w", (("t", 1.0),)),), {}, {"t": 3}, 200, excess, cal.floors["latin"])
    assert "d8" in m.strong
    unrelated = [fake_vector(f"nothing {i}") for i in range(40)]
    passing = sum(max(matching.dense_excess(docs, vectors @ q, hub[:, col]).values()) >= strong for q in unrelated)
    assert passing <= 20  # about a quarter, as the 0.75 quantile says


def test_a_query_of_more_guesses_than_words_must_be_vouched_for():
    corp, ford = QueryWord("corp", (("सेन", 0.35),), "guess"), QueryWord("ford", (("फोर्ड", 0.9),), "guess")
    lorem = QueryWord("lorem", (), "unknown")
    assert matching.mostly_guessed((corp, ford, lorem), ("guess", "guess", "guess", "unknown")) == (corp, ford)
    # the small words count: a misspelled question is still mostly words
    assert matching.mostly_guessed((corp, ford), ("word", "guess", "word", "guess", "word")) is None
    assert matching.mostly_guessed((corp,), ("guess", "sure")) is None  # a sure correction is as good as a word
    assert matching.mostly_guessed((), ("other", "other")) is None  # punctuation guesses nothing


def test_a_query_read_as_guesses_needs_two_of_its_words_in_one_document(seed_index, embedder, settings):
    from search.honest import Evidence
    from search.service import SearchService

    data = SearchService.open(seed_index, settings, embedder=embedder)._data
    ev = Evidence.for_generation(data, embedder.encode_queries)
    treaty, korea = QueryWord("treaty", (("संध", 1.0),), "guess"), QueryWord("korea", (("कोरिय", 1.0),), "guess")
    glider = QueryWord("glider", (("ग्लाइडर", 1.0),), "guess")

    def vouched(*words):
        return ev._vouched(ev.lexical(data, words)[0], words)

    assert vouched(treaty, korea)  # both in the seed articles
    assert not vouched(treaty, glider)
    assert not vouched(treaty)  # a lone guess vouches for nothing, whatever the index holds ...
    assert vouched(QueryWord("treaty", (("संध", 1.0),), "sure"))  # ... a sure correction does


def test_a_word_typed_twice_counts_as_firmly_as_it_was_typed():
    readings = [Reading("zorp", "corrected", "corp", 0.85, typed="guess"), Reading("corp", "english", "corp"),
                Reading("tretay", "corrected", "treaty", 0.85, typed="sure")]
    words = matching.query_words(readings, {"corp": [("सेन", 0.6)], "treaty": [("संधि", 1.0)]}, lambda w: [w],
                                 lambda _t: False, {"corp", "treaty"})
    assert [(w.word, w.typed) for w in words] == [("corp", "word"), ("treaty", "sure")]


# ------------------------------------------------------------------------ off-topic sets
def test_the_offtopic_sets_are_written_by_their_generator():
    from bench import offtopic_queries

    rows = offtopic_queries.read()
    assert rows == offtopic_queries.build()
    one = [q for _id, s, _k, q in rows if s == "1"]
    two = [q for _id, s, _k, q in rows if s == "2"]
    assert len(one) == 50 and len(two) >= 30
    assert not set(one) & set(two)
    probes = {p for ps in matching.PROBES.values() for p in ps}
    assert not probes & (set(one) | set(two))
    assert {"en", "hi", "romanized", "nonsense", "punct", "mash"} <= {k for _id, _s, k, _q in rows}


# ----------------------------------------------------------------------- everyday queries
def test_a_query_as_near_the_probes_as_they_are_to_each_other_is_everyday():
    e = np.eye(DIM, dtype=np.float32)
    probes = np.stack([e[0], e[1], (e[0] + e[1]) / np.sqrt(2), (e[1] + e[2]) / np.sqrt(2)])
    near = sorted((probes @ probes.T - 9 * np.eye(4)).max(axis=1))  # each 0.707
    assert matching.is_everyday((e[0] + e[1] + e[2]) / np.sqrt(3), probes, near, 0.5)  # 0.816 to one
    assert not matching.is_everyday(e[5], probes, near, 0.0)  # orthogonal to all of them
    assert not matching.is_everyday(probes[2], probes, (), 0.5)  # nothing measured: never everyday


def _evidence():
    from search.honest import Evidence

    cal = Calibration("fake@1", 10, {"latin": 4, "devanagari": 4}, {"latin": (0.05, 0.02)},
                      {"latin": (0.0, 0.02, 0.04, 0.06, 0.08, 0.10)}, {"latin": (0.8, 0.85, 0.9, 0.95)})
    return Evidence(cal, np.zeros((10, 2), np.float32), MatchConfig(), fake_encode(["a", "b", "c", "d"]))


def test_an_everyday_query_needs_one_document_with_both_its_words_and_dense_evidence():
    ev = _evidence()
    floors = ev._floors("latin")
    alone, far_alone = floors[2], floors[3]
    assert far_alone < alone  # a query unlike the probes may be strong on dense evidence at a lower floor
    two_words = (np.array([2, 0, 0]), np.array([0.7, 0.0, 0.0]), True)
    split = np.array([floors[0], alone + 0.01, -1.0])  # the words in d0, the dense evidence in d1
    docs, reason = ev.decide(two_words, split, floors, 2, everyday=False)
    assert docs.tolist() == [True, True, False] and reason == "matched"
    docs, reason = ev.decide(two_words, split, floors, 2, everyday=True)
    assert not docs.any() and reason.startswith("an everyday query")
    together = np.array([alone, -1.0, -1.0])  # d0 has both
    docs, reason = ev.decide(two_words, together, floors, 2, everyday=True)
    assert docs.tolist() == [True, False, False] and reason == "matched"
    one_word = (np.array([0, 1, 0]), np.array([0.0, 0.3, 0.0]), True)
    assert not ev.decide(one_word, split, floors, 2, everyday=True)[0].any()  # one of two words: not enough
    # ... unless it is the only word the index has any term for ("पुतिन की visit")
    assert ev.decide(one_word, split, floors, 2, everyday=True, n_known=1)[0].tolist() == [True, True, False]
    title = (np.array([2, 0, 0]), np.array([0.9, 0.0, 0.0]), True)  # d0 holds nearly all of the query
    assert ev.decide(title, np.array([floors[0], -1.0, -1.0]), floors, 2, everyday=True)[0].tolist() == [
        True, False, False]


def test_dense_evidence_alone_needs_the_higher_floor_only_for_an_everyday_query():
    ev = _evidence()
    floors = ev._floors("latin")
    no_words = (np.array([0, 0]), np.array([0.0, 0.0]), True)
    between = np.array([(floors[2] + floors[3]) / 2, -1.0])
    assert ev.decide(no_words, between, floors, 1, everyday=False)[0].tolist() == [True, False]
    assert not ev.decide(no_words, between, floors, 1, everyday=True)[0].any()


def test_the_everyday_test_reads_the_querys_vector_and_its_script():
    from search.dense import DenseResult

    ev = _evidence()
    probe = ev.probes["latin"][1]
    assert ev.everyday(DenseResult(query_vector=probe), "some latin text")
    assert not ev.everyday(DenseResult(query_vector=probe), "देवनागरी")  # no Devanagari probes measured
    assert not ev.everyday(DenseResult(), "some latin text") and not ev.everyday(None, "x")
