"""Fusion is a small pure function: ties, empty lists, single hits, weights, RRF."""

import math

import pytest

from search import fusion


@pytest.mark.parametrize("scores,expected", [
    ({}, {}),
    ({"a": 3.0}, {"a": 1.0}),  # one hit: no division by zero
    ({"a": 2.0, "b": 2.0}, {"a": 1.0, "b": 1.0}),  # ties
    ({"a": 4.0, "b": 2.0, "c": 0.0}, {"a": 1.0, "b": 0.5, "c": 0.0}),
    ({"a": 1.0, "b": float("nan")}, {"a": 1.0, "b": 0.0}),
])
def test_normalize(scores, expected):
    assert fusion.normalize(scores) == expected


def test_min_spread_keeps_near_equal_scores_near_each_other():
    near = {"a": 0.827, "b": 0.815, "c": 0.810}
    plain, floored = fusion.normalize(near), fusion.normalize(near, min_spread=0.07)
    assert plain["a"] == 1.0 and plain["c"] == 0.0
    assert floored["a"] == 1.0  # the best keeps the full dense vote ...
    assert floored["b"] == pytest.approx(1 - 0.012 / 0.07) and floored["c"] == pytest.approx(1 - 0.017 / 0.07)
    assert fusion.normalize({"only": 0.8}, min_spread=0.07) == {"only": 1.0}  # ... a lone score too
    wide = {"a": 0.9, "b": 0.7}  # a spread above the floor is normalised as before
    assert fusion.normalize(wide, min_spread=0.07) == fusion.normalize(wide)


def test_a_clear_bm25_preference_beats_a_tiny_dense_one():
    lexical = {"001": 8.19, "002": 5.32, "003": 1.52}
    dense = {"001": 0.815, "002": 0.827, "003": 0.810}
    assert fusion.convex(lexical, dense, 0.375, dense_min_spread=0.0)[0][0] == "002"  # a 0.012 gap stretched
    assert fusion.convex(lexical, dense, 0.375)[0][0] == "001"  # the default floor (DENSE_MIN_SPREAD)


def test_ranked_breaks_ties_by_doc_id():
    assert fusion.ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


@pytest.mark.parametrize("lexical,dense,weight,expected", [
    ({}, {"x": 0.9, "y": 0.5}, 0.5, ["x", "y"]),  # one empty list: the other decides
    ({"x": 5.0, "y": 1.0}, {}, 0.5, ["x", "y"]),
    ({"x": 5.0}, {"y": 0.8}, 0.5, ["x", "y"]),  # single hits on each side tie; doc id breaks it
    ({"x": 5.0, "y": 1.0}, {"x": 0.1, "y": 0.9}, 0.0, ["y", "x"]),  # weight 0: dense only
    ({"x": 5.0, "y": 1.0}, {"x": 0.1, "y": 0.9}, 1.0, ["x", "y"]),  # weight 1: lexical only
    ({"x": 5.0, "y": 4.0, "z": 0.0}, {"x": 0.0, "y": 1.0, "z": 0.5}, 0.5, ["y", "x", "z"]),
])
def test_convex(lexical, dense, weight, expected):
    assert [d for d, _s in fusion.convex(lexical, dense, weight)] == expected


def test_convex_scores_are_bounded_and_weight_is_clamped():
    fused = fusion.convex({"a": 10.0, "b": 0.0}, {"a": 0.2, "b": 0.9}, 7.0)
    assert fused[0] == ("a", 1.0)
    assert all(0.0 <= s <= 1.0 for _d, s in fused)


def test_rrf_matches_the_formula():
    fused = dict(fusion.rrf({"a": 3.0, "b": 2.0}, {"b": 0.9, "c": 0.1}, k=60))
    assert math.isclose(fused["b"], 0.5 / 62 + 0.5 / 61)
    assert math.isclose(fused["a"], 0.5 / 61)
    assert math.isclose(fused["c"], 0.5 / 62)
    assert list(dict(fusion.rrf({}, {}))) == []


@pytest.mark.parametrize("known,script,strength,expected", [
    (1.0, "devanagari", 0.0, fusion.LEXICAL_WEIGHT),
    (0.0, "devanagari", 0.0, 0.0),  # nothing known: dense only
    (0.0, "latin", 0.0, 0.0),  # English words the Hindi index lacks
    (0.5, "devanagari", 0.0, fusion.LEXICAL_WEIGHT * 0.5),
])
def test_lexical_weight(known, script, strength, expected):
    assert math.isclose(fusion.lexical_weight(known, script, strength), expected)


def test_expansion_gives_english_queries_lexical_weight():
    assert fusion.lexical_weight(0.0, "latin", 0.8) > fusion.lexical_weight(0.0, "latin", 0.0)
