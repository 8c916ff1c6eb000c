"""The Hindi/English text analyzer shared by indexing and querying, plus script detection and sentence spans."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from whoosh.analysis import Filter, Token, Tokenizer

#: Bump whenever the terms produced for some text change; the index manifest stores it.
ANALYZER_VERSION = "hi-1"

# A word is a run of word characters; ZWJ/ZWNJ are allowed only *inside* a word.
# ``\w`` alone misses the Devanagari vowel signs, virama, nukta and anusvara (they are
# combining marks, not alphanumerics), so the Devanagari block is added explicitly,
# leaving out danda (U+0964), double danda (U+0965) and the abbreviation sign (U+0970).
_WORD_CHARS = (
    r"\w"
    r"\u0300-\u036f"  # combining diacritics (decomposed Latin accents)
    r"\u0900-\u0963\u0966-\u096f\u0971-\u097f"  # Devanagari
    r"\u1cd0-\u1cff"  # Vedic extensions
    r"\ua8e0-\ua8ff"  # Devanagari extended
)
_WORD = re.compile(rf"[{_WORD_CHARS}]+(?:[\u200c\u200d]+[{_WORD_CHARS}]+)*")

_NUKTA = "\u093c"
_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")

# Function words, in the spelling people write; they are normalised with the same
# function as tokens when first used (see _hindi_stopwords), so the lists cannot drift
# from what the analyzer produces.
_HINDI_STOPWORDS_WRITTEN = """
अंदर अत अतः अथवा अपना अपनी अपने अपनों अब अभी अर्थात आदि आप आपका आपकी आपके आपको आपने इत्यादि इधर इन इनका इनकी
इनके इनको इनमें इनसे इन्हीं इन्हें इन्होंने इस इसका इसकी इसके इसको इसमें इसलिए इससे इसी इसे उधर उन उनका उनकी उनके
उनको उनमें उनसे उन्हीं उन्हें उन्होंने उस उसका उसकी उसके उसको उसने उसमें उससे उसी उसे ऊपर एक एवं ऐसा ऐसी ऐसे ओर
और कई कभी कर करके करता करती करते करना करनी करने करें करेंगे करेगा करेगी कहते कहा कहाँ कहां का काफ़ी कि कितना कितनी
कितने किन किन्हें किन्होंने किया किये किए किस किसका किसकी किसके किसको किसने किसी किसे की कुछ के को कोई कौन कौनसा
कौनसी क्या क्यों क्योंकि कैसे कैसा कैसी गई गए गया गये जब जबकि जहाँ जहां जा जाता जाती जाते जाना जाने जाएगा जाएगी जाएंगे
जिन जिनका जिनकी जिनके जिनको जिन्हें जिन्होंने जिस जिसका जिसकी जिसके जिसको जिसने जिसमें जिससे जिसे जितना जैसा जैसी
जैसे जो तक तब तथा तभी तरह तुम तो था थी थीं थे दिया दिए दी दूसरा दूसरी दूसरे द्वारा न नहीं ना ने पर परंतु परन्तु पहले पास
फिर बहुत बाद भी मगर मानो मुझे में मेरा मेरी मेरे मैं यदि यह यहाँ यहां यही या ये रखें रहा रही रहे रहता रहती रहते लिए लिये
लेकिन व वर्ना वह वहाँ वहां वही वहीं वाला वाली वाले वे सकता सकती सकते सबसे सभी साथ से सो ही हुआ हुई हुए हुईं है हैं
हो होता होती होते होना होने होगा होगी होंगे हम हमारा हमारी हमारे हमें
"""

_ENGLISH_STOPWORDS_WRITTEN = """
a about after all also am an and any are as at be been before being between both but by can could did do does
for from had has have he her hers him his how i if in into is it its me more most my no nor not of on or other our
ours out over s she so some such t than that the their theirs them then there these they this those through to
too under up very was we were what when where which while who whom why will with would you your yours
"""

_TERMINATORS = re.compile(r"[।॥?!]+|\.+|\n")
_CLOSERS = "\"'”’»)]}"
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc inc ltd co corp no nos gen col lt sgt capt gov govt sen rep fig approx dept "
    "est jan feb mar apr jun jul aug sep sept oct nov dec mt ft डॉ प्रो नं सं".split()
)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")


@lru_cache(maxsize=1)
def _indic_normalizer():
    # Created once: building it compiles regexes.  Its own options do the nukta removal,
    # chandrabindu/chandra-vowel folding and nasal-consonant -> anusvara folding, so
    # "हिन्दी"/"हिंदी" and "आँख"/"आंख" meet; ZWJ/ZWNJ removal is always on.
    from indicnlp.normalize.indic_normalize import IndicNormalizerFactory

    return IndicNormalizerFactory().get_normalizer(
        "hi", remove_nuktas=True, nasals_mode="to_anusvaara_relaxed", do_normalize_chandras=True
    )


def normalize(text: str) -> str:
    """Normalise any text the way tokens are normalised (offsets are NOT preserved).

    NFC, indic-nlp's Hindi normaliser (ZWJ/ZWNJ, nukta, chandrabindu, nasals), Devanagari
    digits to ASCII, lower case.
    """
    text = unicodedata.normalize("NFC", text)
    text = _indic_normalizer().normalize(text)
    return text.translate(_DIGITS).lower()


@lru_cache(maxsize=262144)
def normalize_word(word: str) -> str:
    """``normalize`` for one token, cached because words repeat a lot."""
    # The nukta removal below is belt-and-braces: indic-nlp only removes it after
    # decomposing the precomposed letters it knows about.
    return normalize(word).replace(_NUKTA, "")


_local = threading.local()


def _stemmer(language: str):
    # PyStemmer objects are not thread-safe: one per thread, never stored on analyzer
    # objects (Whoosh pickles the analyzer into the index TOC).
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(language)
    if stemmer is None:
        import Stemmer

        stemmer = stemmers[language] = Stemmer.Stemmer(language)
    return stemmer


def _is_devanagari(ch: str) -> bool:
    return "\u0900" <= ch <= "\u097f" or "\ua8e0" <= ch <= "\ua8ff"


def _is_latin(ch: str) -> bool:
    return ch < "\u0250" and ch.isalpha()


@lru_cache(maxsize=262144)
def stem(term: str) -> str:
    """Stem a normalised term: Hindi stemmer for Devanagari, English for Latin, others unchanged."""
    if not term:
        return term
    first = term[0]
    if _is_devanagari(first):
        return _stemmer("hindi").stemWord(term)
    if _is_latin(first):
        return _stemmer("english").stemWord(term)
    return term


@lru_cache(maxsize=1)
def _hindi_stopwords() -> frozenset:
    return frozenset(normalize_word(w) for w in _HINDI_STOPWORDS_WRITTEN.split())


ENGLISH_STOPWORDS = frozenset(_ENGLISH_STOPWORDS_WRITTEN.split())


def hindi_stopwords() -> frozenset:
    """The Hindi stopwords, normalised exactly as the analyzer normalises tokens."""
    return _hindi_stopwords()


def is_stopword(term: str) -> bool:
    """Whether a *normalised* (not yet stemmed) term is a Hindi or English stopword."""
    return term in ENGLISH_STOPWORDS or term in _hindi_stopwords()


class HindiTokenizer(Tokenizer):
    """Splits lines, then yields words (Devanagari marks kept) with offsets into the original text."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar = start_char
                t.endchar = start_char + len(value)
            yield t
            return
        pos = start_pos
        line_start = 0
        length = len(value)
        finditer = _WORD.finditer
        while line_start < length:
            line_end = value.find("\n", line_start)
            if line_end < 0:
                line_end = length
            for match in finditer(value, line_start, line_end):
                t.text = match.group()
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = t.text
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar = start_char + match.start()
                    t.endchar = start_char + match.end()
                pos += 1
                yield t
            line_start = line_end + 1


class NormalizeFilter(Filter):
    """Replaces each token's text with its normalised form (see :func:`normalize`)."""

    def __call__(self, tokens):
        for t in tokens:
            t.text = normalize_word(t.text)
            if t.text:
                yield t


class StopwordFilter(Filter):
    """Drops Hindi and English stopwords (or marks them ``stopped`` when ``removestops`` is off)."""

    def __call__(self, tokens):
        hindi = _hindi_stopwords()
        english = ENGLISH_STOPWORDS
        pos = None
        for t in tokens:
            if t.text in hindi or t.text in english:
                if not t.removestops:
                    # Highlighting asks for every token; keep stopwords but say so.
                    t.stopped = True
                    yield t
                continue
            # Renumber positions over the removed words, as Whoosh's StopFilter does, so
            # phrase queries (also stopword-free) line up.
            if t.positions:
                pos = t.pos if pos is None else pos + 1
                t.pos = pos
            t.stopped = False
            yield t


class StemFilter(Filter):
    """Stems each token by script: Hindi Snowball for Devanagari, English Snowball for Latin."""

    is_morph = True

    def __call__(self, tokens):
        for t in tokens:
            if not t.stopped:
                t.text = stem(t.text)
            yield t


def hindi_analyzer():
    """A Whoosh analyzer: tokenizer | normalise | stopwords | stem; picklable (no state)."""
    return HindiTokenizer() | NormalizeFilter() | StopwordFilter() | StemFilter()


_ANALYZER = hindi_analyzer()


def analyze(text: str) -> list[str]:
    """The index terms for ``text``."""
    return [t.text for t in _ANALYZER(text)]


@lru_cache(maxsize=262144)
def _word_term(word: str) -> str | None:
    """What the analyzer makes of one word: its index term, or None (empty after normalising, a stopword)."""
    text = normalize_word(word)
    if not text or is_stopword(text):
        return None
    return stem(text)


def tokens_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """``(term, start, end)`` for every non-stopword token; ``text[start:end]`` is the original word.

    The same terms as :func:`analyze` (tested), a word at a time through a memo: snippets call this for
    every hit, and the filter chain costs several microseconds a token.
    """
    out = []
    for match in _WORD.finditer(text):  # no word spans a line break, so this is HindiTokenizer's split
        term = _word_term(match.group())
        if term is not None:
            out.append((term, match.start(), match.end()))
    return out


def detect_script(text: str) -> str:
    """"devanagari", "latin", "mixed" or "none", by counting letters.

    A script with under 10% of the letters does not make the text mixed, so a Hindi
    article quoting "[KCNA via Reuters]" is still "devanagari".
    """
    devanagari = latin = 0
    for ch in text:
        if _is_devanagari(ch):
            if unicodedata.category(ch)[0] in "LM":
                devanagari += 1
        elif _is_latin(ch):
            latin += 1
    total = devanagari + latin
    if total == 0:
        return "none"
    if latin < 0.1 * total:
        return "devanagari"
    if devanagari < 0.1 * total:
        return "latin"
    return "mixed"


def _ends_sentence(text: str, dot: int) -> bool:
    """Whether the ``.`` at ``dot`` ends a sentence, i.e. does not close "Dr." or "U.S."."""
    before = text[max(0, dot - 40):dot].rsplit(None, 1)  # bounded: no quadratic scans
    word = before[-1] if before else ""
    word = word.lstrip("\"'“‘([{«")
    if not word:
        return True
    if word.lower() in _ABBREVIATIONS or _INITIALS.fullmatch(word):
        return False
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``.

    Sentences end at ।, ॥, ?, !, a line break, or a ``.`` followed by whitespace that is
    not an abbreviation ("Dr."), an initial ("U.S.") or an ellipsis.  The terminator and
    any closing quotes belong to the sentence; spans are stripped of whitespace, so
    together they cover every non-whitespace character exactly once.
    """
    spans: list[tuple[int, int]] = []
    length = len(text)

    def add(start: int, end: int) -> None:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))

    start = 0
    for match in _TERMINATORS.finditer(text):
        if match.start() < start:
            continue
        mark = match.group()
        if mark == "\n":
            add(start, match.start())
            start = match.end()
            continue
        end = match.end()
        while end < length and text[end] in _CLOSERS:
            end += 1
        if end < length and not text[end].isspace() and mark[0] in ".?!":
            continue  # "3.5", "example.com", "?q=1"; a danda always ends a sentence
        if mark[0] == ".":
            if len(mark) > 1:
                continue  # an ellipsis; a following line break still ends the sentence
            if not _ends_sentence(text, match.start()):
                continue
        add(start, end)
        start = end
    add(start, length)
    return spans
