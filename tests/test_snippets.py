"""Snippets mark matched terms and escape everything else."""

import pytest

from search.analysis import analyze
from search.snippets import make_snippet


@pytest.mark.parametrize("text,query,expected", [
    ("रूस ने संधि की पुष्टि की।", "संधि", "रूस ने <mark>संधि</mark> की पुष्टि की।"),
    ("ज़ेलेंस्की ने कहा", "ज़ेलेंस्की", "<mark>ज़ेलेंस्की</mark> ने कहा"),  # decomposed nukta in text
    ("The treaty was ratified", "treaties", "The <mark>treaty</mark> was ratified"),
    ("no match here", "संधि", "no match here"),
])
def test_marks_whole_words(text, query, expected):
    assert make_snippet(text, analyze(query)) == expected


def test_user_text_is_escaped_and_only_marks_are_markup():
    text = 'संधि <script>alert("x")</script> & <b>bold</b>'
    out = make_snippet(text, analyze("संधि"))
    assert out.startswith("<mark>संधि</mark> &lt;script&gt;")
    assert "<script>" not in out and "<b>" not in out and "&amp;" in out
    assert out.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_long_passage_is_cut_around_the_matches_on_word_boundaries():
    words = ["शब्द"] * 200 + ["संधि"] + ["शब्द"] * 200
    out = make_snippet(" ".join(words), analyze("संधि"), max_chars=120)
    assert "<mark>संधि</mark>" in out
    assert out.startswith("…") and out.endswith("…")
    assert "शब्" + " " not in out.replace("शब्द", "")  # no word cut in half
