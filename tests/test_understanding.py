"""Query understanding, word by word: romanized Hindi, misspellings in both scripts, English left alone.

Model-free: the word lists are the seed articles' words (as an index would have them), the real
``wordfreq`` lists and the real matching code; the service tests check the same readings end to end.
"""

from collections import Counter

import pytest

from search.analysis import analyze, tokens_with_offsets
from search.transliteration import aksharas, devanagari_key, fold_latin, latin_key
from search.understanding import Understander, _rewrite


@pytest.fixture(scope="module")
def reader(seeds):
    words: Counter = Counter()
    for path in sorted(seeds.glob("*")):
        text = path.read_text("utf-8")
        for _term, start, end in tokens_with_offsets(text):
            words[text[start:end]] += 1
    terms = {t for w in words for t in analyze(w)}
    return Understander(sorted(words.items()), lambda term: term in terms)


def readings(reader, query, exact=False):
    return {r.word: (r.kind, r.text) for r in reader.read(query, exact=exact).words}


@pytest.mark.parametrize("latin,devanagari", [
    ("uttar", "उत्तर"), ("uttara", "उत्तर"), ("koriyA", "कोरिया"), ("koriyā", "कोरिया"), ("rUs", "रूस"),
    ("saath", "साथ"), ("sath", "साथ"), ("raksha", "रक्षा"), ("rakShA", "रक्षा"), ("rakṣā", "रक्षा"),
    ("sandhi", "संधि"), ("saMdhi", "संधि"), ("saṃdhi", "संधि"), ("pushti", "पुष्टि"), ("puShTi", "पुष्टि"),
    ("samjhauta", "समझौता"), ("samjhota", "समझौता"), ("pyongyang", "प्योंगयांग"), ("gyan", "ज्ञान"),
    ("mein", "में"), ("hai", "है"), ("sambandh", "संबंध"),
])
def test_one_loose_key_for_every_spelling(latin, devanagari):
    assert latin_key(latin) == devanagari_key(devanagari), (fold_latin(latin), devanagari_key(devanagari))


@pytest.mark.parametrize("word,expected", [
    ("प्रधानमंत्री", ("प्र", "धा", "न", "मं", "त्री")),
    ("कोरीया", ("को", "री", "या")),
    ("उत्तर", ("उ", "त्त", "र")),
    ("संधि", ("सं", "धि")),
])
def test_aksharas(word, expected):
    assert aksharas(word) == expected


@pytest.mark.parametrize("query,expected", [
    # loose phone-keyboard romanization
    ("uttar korea ne rus ke saath raksha sandhi ki pushti ki",
     {"uttar": "उत्तर", "ne": "ने", "rus": "रूस", "saath": "साथ", "raksha": "रक्षा", "sandhi": "संधि",
      "pushti": "पुष्टि"}),
    ("putin ne pyongyang ke samarthan ki tareef ki", {"putin": "पुतिन", "samarthan": "समर्थन"}),
    # ITRANS (capitals carry vowel length and retroflexes) and IAST (diacritics)
    ("uttara koriyA ne rUsa ke sAtha rakShA saMdhi kI puShTi kI",
     {"uttara": "उत्तर", "koriyA": "कोरिया", "rUsa": "रूस", "sAtha": "साथ", "rakShA": "रक्षा", "saMdhi": "संधि",
      "puShTi": "पुष्टि", "kI": "की"}),
    ("uttara koriyā ne rūsa ke sātha rakṣā saṃdhi kī puṣṭi kī",
     {"koriyā": "कोरिया", "rūsa": "रूस", "sātha": "साथ", "rakṣā": "रक्षा", "puṣṭi": "पुष्टि"}),
    # all stopwords, romanized: still Hindi
    ("ke saath ki", {"ke": "के", "saath": "साथ"}),
])
def test_romanized_hindi_is_read_in_devanagari(reader, query, expected):
    understood = reader.read(query)
    got = readings(reader, query)
    assert understood.language == "hi-Latn" and understood.label == "Hindi (romanized)"
    for word, devanagari in expected.items():
        assert got[word] == ("romanized", devanagari), (word, got[word])


@pytest.mark.parametrize("query,expected", [
    ("उत्तर कोरीया रूस संधी", {"कोरीया": "कोरिया"}),  # a wrong matra (संधी's stem is संधि's: it matches)
    ("उत्तर कोरिया रूस सधिं", {"सधिं": "संधि"}),  # an anusvara in the wrong place
    ("tretay ratifcation", {"tretay": "treaty", "ratifcation": "ratification"}),  # a swap, a drop
    ("defence minsiter visit", {"minsiter": "minister"}),
    ("Tretay ratification", {"Tretay": "Treaty"}),  # the case as typed
])
def test_misspellings_are_corrected_in_both_scripts(reader, query, expected):
    understood = reader.read(query)
    got = readings(reader, query)
    assert understood.corrected
    for word, fixed in expected.items():
        assert got[word] == ("corrected", fixed), (word, got[word])


@pytest.mark.parametrize("query", [
    "How many men served in the army?",  # men/में, the/थे, in/इन
    "the ban on hi",
    "North Korea denies sending troops to Russia",
    "Putin praises Pyongyang support before visit",
    "Who was the Panthers' tackle leader for 2015?",
    "Luther's 95 theses",
    "a",  # one letter
    "the of and",  # all stopwords
    "aaaa bbbb cccc dddd",  # nonsense: no letter of it is read as Hindi
    "xyzzy qwertyuiop",
])
def test_english_is_left_alone(reader, query):
    understood = reader.read(query)
    assert understood.language == "en"
    assert understood.text == query
    assert all(r.kind in ("english", "other") for r in understood.words), understood.words


@pytest.mark.parametrize("query,language,kept", [
    ("NATO का बयान", "mixed", {"NATO": "english"}),
    ("पुतिन की visit", "mixed", {"visit": "english"}),
    ("रूस की संधि पर लंबी बातचीत (AP)", "hi", {"AP": "english"}),  # an acronym in a Hindi query is no romanized word
    ("उत्तर कोरिया 2024 में", "hi", {"2024": "other"}),
])
def test_mixed_scripts_numbers_and_acronyms(reader, query, language, kept):
    understood = reader.read(query)
    assert understood.language == language
    got = readings(reader, query)
    for word, kind in kept.items():
        assert got[word][0] == kind, got[word]
    assert understood.text == query  # nothing to change


def test_searched_text_keeps_numbers_spacing_and_punctuation(reader):
    understood = reader.read("How many 2015 season interceptions did the Panthers' defense get?")
    assert understood.text == "How many 2015 season interceptions did the Panthers' defense get?"
    assert reader.read("uttar korea, 2024: sandhi?").text == "उत्तर कोरिया, 2024: संधि?"
    assert _rewrite("a, b", [(0, 1), (3, 4)], ["x", "yz"]) == "x, yz"


def test_exact_corrects_nothing_and_suggests(reader):
    understood = reader.read("tretay ratifcation", exact=True)
    assert understood.text == "tretay ratifcation" and not understood.corrected
    assert understood.suggestion == "treaty ratification"
    assert reader.read("treaty ratification", exact=True).suggestion == ""


def test_known_words_are_never_corrected(reader):
    # रक्षा is in the index; दुर्लभ is not, but Hindi knows it: neither is "corrected" into a seed word
    assert readings(reader, "रक्षा दुर्लभ")["दुर्लभ"] == ("hindi", "दुर्लभ")
    # "divisor" is rare in English but English: not corrected to "advisor"
    assert readings(reader, "divisor of a number")["divisor"] == ("english", "divisor")


@pytest.mark.parametrize("query,typed", [
    # one edit from a word of six letters or more: nonsense is rarely that close to a word
    ("tretay ratifcation", {"tretay": "sure", "ratifcation": "sure"}),
    ("defence minsiter visit", {"defence": "word", "minsiter": "sure", "visit": "word"}),
    # short made-up words, or two edits: nonsense is "corrected" as readily (bench/guesses.py)
    ("zorp glibber fnord", {"zorp": "guess", "glibber": "guess", "fnord": "guess"}),
    ("lorem ipsum dolor sit amet", {"lorem": "unknown", "dolor": "guess", "sit": "word", "amet": "guess"}),
    ("yuiop", {"yuiop": "guess"}),  # a romanized reading that is not the loose key of a word
    ("uttar korea ne rus", {"uttar": "word", "korea": "word", "rus": "word"}),  # romanized as people do
    ("प्योंगयांगग उत्तर 2024 !", {"प्योंगयांगग": "sure", "उत्तर": "word", "2024": "other", "!": "other"}),
    ("उत्तर कोरीया", {"कोरीया": "sure"}),  # three aksharas, one edit
])
def test_each_word_says_how_it_stood_as_typed(reader, query, typed):
    got = {r.word: r.typed for r in reader.read(query).words}
    assert {w: got[w] for w in typed} == typed


def test_every_reading_has_a_confidence_and_comes_from_a_known_word(reader):
    understood = reader.read("uttar korea ne rus ke saath raksha sandhi ki pushti ki")
    for r in understood.words:
        assert 0.0 < r.confidence <= 1.0
        if r.kind == "romanized":
            assert r.text in reader.hindi  # a word the index or the Hindi lexicon knows
    weighted = dict(understood.weighted_readings())
    assert weighted["संधि"] == 1.0
