"""Tests for the Hindi/English analyzer, script detection and sentence spans."""

import pickle

import pytest
from whoosh import index, query
from whoosh.fields import ID, TEXT, Schema

from search import analysis
from search.analysis import (
    ANALYZER_VERSION,
    analyze,
    detect_script,
    hindi_analyzer,
    hindi_stopwords,
    normalize_word,
    split_sentences,
    tokens_with_offsets,
)

NUKTA = "\u093c"
ZWJ, ZWNJ = "\u200d", "\u200c"
ZELENSKY_PRECOMPOSED = "\u095b\u0947\u0932\u0947\u0902\u0938\u094d\u0915\u0940"  # ज़ (U+095B) ...
ZELENSKY_DECOMPOSED = "\u091c\u093c\u0947\u0932\u0947\u0902\u0938\u094d\u0915\u0940"  # ज + nukta ...


@pytest.mark.parametrize(
    "text, same_as",
    [
        ("हिन्दी", "हिंदी"),  # nasal consonant + virama folds to anusvara
        (ZELENSKY_PRECOMPOSED, ZELENSKY_DECOMPOSED),  # nukta, precomposed vs decomposed
        (ZELENSKY_DECOMPOSED, "जेलेंस्की"),  # nukta folded away entirely
        ("हिन्" + ZWJ + "दी", "हिन्दी"),  # ZWJ inside a word
        ("क्" + ZWNJ + "ष", "क्ष"),  # ZWNJ inside a word
        ("आँख", "आंख"),  # chandrabindu vs anusvara
        ("२०२४", "2024"),  # Devanagari digits
        ("Ratification", "ratifications"),  # English lower-cased and stemmed
        ("सैनिकों", "सैनिक"),  # Hindi stemming
    ],
)
def test_variants_give_the_same_term(text, same_as):
    assert len(analyze(text)) == 1
    assert analyze(text) == analyze(same_as)


@pytest.mark.parametrize(
    "text, terms",
    [
        ("हिन्दी", ["हिंद"]),  # one token: vowel signs and virama kept in the word
        ("२०२४", ["2024"]),
        ("NATO-नाटो", ["nato", "नाट"]),
        ("रूस है।", ["रूस"]),  # danda never part of a token; है is a stopword
        ("समर्थन।", ["समर्थन"]),
        ("यूक्रेन॥", ["यूक्रेन"]),
        ("The treaty is ratified", ["treati", "ratifi"]),
        ("उन्होंने कहा कि वह और भी", []),  # all stopwords
        ("किम जोंग-उन", ["किम", "जोंग"]),  # उन is a stopword
        ("", []),
        ("   \n\t ", []),
    ],
)
def test_analyze_table(text, terms):
    assert analyze(text) == terms


def test_stopwords_are_removed_before_stemming():
    # "करेंगे" stems to "कर"; as a stopword it must disappear, not turn into a term.
    assert analyze("करेंगे") == []
    assert analyze("के लिए") == []
    assert analyze("the and of") == []


def test_stopword_list_is_normalised():
    words = hindi_stopwords()
    assert 150 <= len(words) <= 300
    assert all(normalize_word(w) == w for w in words)


@pytest.mark.parametrize(
    "text, words",
    [
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),
        (ZELENSKY_DECOMPOSED + " ने कहा", [ZELENSKY_DECOMPOSED]),
        (ZELENSKY_PRECOMPOSED + " बोले", [ZELENSKY_PRECOMPOSED, "बोले"]),
        ("हिन्" + ZWJ + "दी बोलो", ["हिन्" + ZWJ + "दी", "बोलो"]),
        ("NATO-नाटो।", ["NATO", "नाटो"]),
        ("पहली पंक्ति\nनई पंक्ति", ["पहली", "पंक्ति", "नई", "पंक्ति"]),
        ("“दृढ़ समर्थन”", ["दृढ़", "समर्थन"]),
    ],
)
def test_offsets_cover_whole_original_words(text, words):
    spans = tokens_with_offsets(text)
    assert [text[start:end] for _, start, end in spans] == words


def test_offsets_and_terms_agree_with_analyze():
    text = "उत्तर कोरिया ने रूस के साथ ऐतिहासिक पारस्परिक रक्षा संधि की पुष्टि की।"
    assert [term for term, _, _ in tokens_with_offsets(text)] == analyze(text)
    from search.settings import seeds_dir

    for path in sorted(seeds_dir().glob("*.txt")):  # whole articles: the memoised path is the analyzer's
        article = path.read_text("utf-8") + " The U.S. and NATO, 2024: ५ सैनिक; e-mail न्यूज़"
        assert [term for term, _, _ in tokens_with_offsets(article)] == analyze(article)


def test_highlighting_keeps_stopwords_marked():
    # Whoosh reuses one Token object, so read each token as it comes.
    tokens = [(t.text, t.stopped, t.startchar) for t in hindi_analyzer()("रूस और कोरिया", chars=True, removestops=False)]
    assert tokens == [("रूस", False, 0), ("और", True, 4), ("कोरिय", False, 7)]


def test_analyzer_pickles_without_state():
    analyzer = hindi_analyzer()
    restored = pickle.loads(pickle.dumps(analyzer))
    assert [t.text for t in restored("रूसी सैनिकों")] == analyze("रूसी सैनिकों")
    for part in analyzer.items:
        assert type(part).__module__ == "search.analysis"
        assert not vars(part)  # no stemmer or normaliser objects on the instances


def test_version_is_a_string():
    assert isinstance(ANALYZER_VERSION, str) and ANALYZER_VERSION


def test_whoosh_round_trip_on_disk(tmp_path):
    schema = Schema(doc_id=ID(stored=True, unique=True), text=TEXT(analyzer=hindi_analyzer(), stored=True))
    docs = {
        "a": "ज़ेलेंस्की ने कहा कि उत्तर कोरियाई सैनिक रूस भेजे गए।",
        "b": "NATO के सदस्य देशों ने संधि की पुष्टि की। Ratification was quick.",
        "c": "पुतिन ने प्योंगयांग की यात्रा की।",
    }
    ix = index.create_in(str(tmp_path), schema)
    with ix.writer() as writer:
        for doc_id, text in docs.items():
            writer.add_document(doc_id=doc_id, text=text)
    ix.close()

    reopened = index.open_dir(str(tmp_path))

    def search(text):
        terms = analyze(text)
        q = query.Or([query.Term("text", term) for term in terms])
        with reopened.searcher() as searcher:
            return [hit["doc_id"] for hit in searcher.search(q, limit=10)]

    assert search(ZELENSKY_DECOMPOSED + " के सैनिकों") == ["a"]  # other nukta form, other inflection
    assert search("nato ratifications") == ["b"]
    assert search("प्योंगयांग") == ["c"]
    with reopened.searcher() as searcher:
        stored = searcher.document(doc_id="c")
    assert stored["text"] == docs["c"]
    reopened.close()


@pytest.mark.parametrize(
    "text, script",
    [
        ("उत्तर कोरिया", "devanagari"),
        ("North Korea", "latin"),
        ("NATO-नाटो", "mixed"),
        ("रूस और NATO", "mixed"),
        ("उत्तर कोरिया के प्योंगयांग में हस्ताक्षर किए गए [KCNA]", "devanagari"),
        ("१२३ 456 ...", "none"),
        ("", "none"),
    ],
)
def test_detect_script(text, script):
    assert detect_script(text) == script


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("यह पहला है। यह दूसरा है।", ["यह पहला है।", "यह दूसरा है।"]),
        ("क्या वह आया? हाँ! ठीक॥ अंत", ["क्या वह आया?", "हाँ!", "ठीक॥", "अंत"]),
        ("उसने कहा, “हम आएंगे।” फिर गया।", ["उसने कहा, “हम आएंगे।”", "फिर गया।"]),
        ("Dr. Smith met U.S. officials. They paid 3.5 million. Done", [
            "Dr. Smith met U.S. officials.", "They paid 3.5 million.", "Done"]),
        ("शीर्षक\n\nपहला अनुच्छेद.\nदूसरी पंक्ति", ["शीर्षक", "पहला अनुच्छेद.", "दूसरी पंक्ति"]),
        ("रुको... फिर चलो।", ["रुको... फिर चलो।"]),
        ("see example.com now", ["see example.com now"]),
        ("   ", []),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert [text[start:end] for start, end in split_sentences(text)] == sentences


def test_sentence_spans_cover_all_non_whitespace():
    text = "  पहला वाक्य।  दूसरा वाक्य?\n\n तीसरा. Fourth one!  "
    spans = split_sentences(text)
    covered = set()
    for start, end in spans:
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered.update(range(start, end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_stemmers_are_per_thread():
    import threading

    seen = []

    def work():
        seen.append(analysis._stemmer("hindi"))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen[0] is not analysis._stemmer("hindi")
