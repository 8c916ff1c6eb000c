"""Query expansion: the dictd reader, the vocabulary an index stores, English words to Hindi index terms."""

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from index.vocabulary import build_vocabulary
from search import neighbours, storage
from search.analysis import analyze
from search.dictionary import Dictionary, decode_b64, parse_entry, spelling_variants
from search.expansion import ExpansionConfig, Expander, content_words
from search.romanize import romanize, sounds_alike, sounds_like
from search.query import parse_query
from search.service import SearchService

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

ENTRIES = {
    "treaty": 'treaty /tɹˈiːti/ <N>\n1. संधि\n      "Treaty helps two nations."\n2. समझौता\n',
    "ratification": "ratification <N>\n1. दृढ़ीकरण, पुष्टीकरण\n",
    "defence": "defence <N>\n1. रक्षा\n2. सफाई\n",
    "minister": "minister <N>\n1. मंत्री\n",
}


def encode_b64(n: int) -> str:
    digits = ""
    while True:
        digits = _ALPHABET[n % 64] + digits
        n //= 64
        if n == 0:
            return digits


def write_dictd(folder: Path, entries: dict, extra_lines=(), extra_data: bytes = b"") -> Path:
    """A small FreeDict-style dictionary: NAME.index and a gzip (dictzip-compatible) NAME.dict.dz."""
    data, lines = b"", []
    for headword, text in entries.items():
        raw = text.encode("utf-8")
        lines.append(f"{headword}\t{encode_b64(len(data))}\t{encode_b64(len(raw))}")
        data += raw
    for line in extra_lines:
        lines.append(line.format(end=encode_b64(len(data)), size=encode_b64(len(extra_data))))
    data += extra_data
    index = folder / "test-eng-hin.index"
    index.write_text("\n".join(lines) + "\n", "utf-8")
    (folder / "test-eng-hin.dict.dz").write_bytes(gzip.compress(data))
    return index


@pytest.fixture(scope="session")
def gen(seed_index) -> Path:
    gen = storage.live_generation(seed_index)
    if not (gen / storage.VOCAB).is_file():
        pytest.skip("the seed index was built with expansion off (SANGAM_EXPANSION=0)")
    return gen


@pytest.fixture(scope="session")
def expander(gen, embedder, settings) -> Expander:
    return Expander.open(gen, embedder, settings.replace(expansion=True))


@pytest.fixture(scope="session")
def has_dictionary(settings) -> bool:
    return Path(settings.dict_path).is_file()


# ------------------------------------------------------------------ dictionary reader

@pytest.mark.parametrize("text,value", [("A", 0), ("B", 1), ("/", 63), ("BA", 64), ("I71B", 2342209)])
def test_decode_b64(text, value):
    assert decode_b64(text) == value
    assert decode_b64(encode_b64(value)) == value


@pytest.mark.parametrize("text", ["", "B=", "ab c", "é"])
def test_decode_b64_rejects_what_is_not_a_number(text):
    with pytest.raises(ValueError):
        decode_b64(text)


@pytest.mark.parametrize("entry,senses", [
    (ENTRIES["treaty"], [["संधि"], ["समझौता"]]),
    (ENTRIES["ratification"], [["दृढ़ीकरण", "पुष्टीकरण"]]),
    ("visit <VT>\n1. देखने~जाना[आना]\n", [["देखने जाना"]]),  # ~ is a space; [alternatives] go
    ('sky <N>\n1. ?\n      "1. not a sense: an example"\n', []),  # no Hindi at all
    ("", []),
])
def test_parse_entry(entry, senses):
    assert parse_entry(entry) == senses


def test_dictionary_reads_entries(tmp_path):
    d = Dictionary.open(write_dictd(tmp_path, ENTRIES))
    assert len(d) == 4 and d.skipped == 0
    assert d.senses("treaty") == (("संधि",), ("समझौता",))
    assert d.headwords("Treaty") == ["treaty"]
    assert d.headwords("treaties") == ["treaty"]  # same English stem
    assert d.headwords("defense") == ["defence"]  # the other spelling
    assert d.headwords("blorptang") == [] and d.senses("blorptang") == ()


def test_absent_dictionary_leaves_the_model(tmp_path, gen, embedder, settings):
    missing = tmp_path / "nowhere.index"
    with pytest.raises(OSError):
        Dictionary.open(missing)
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(missing)))
    assert ex.dictionary is None and ex.status.dictionary is None
    assert any("no dictionary" in note and "model only" in note for note in ex.status.notes)
    assert ("बेलौसोव", 1.0) in ex.expand(parse_query("Belousov"))  # the model still expands


def test_corrupt_entries_are_skipped(tmp_path):
    index = write_dictd(tmp_path, ENTRIES, extra_lines=[
        "broken\tnot-base64!\tB",  # an offset outside the alphabet
        "short\tA",  # a missing field
        "beyond\t/////\tBA",  # past the end of the data
        "garbled\t{end}\t{size}",  # bytes that are not UTF-8
    ], extra_data=b"garbled <N>\n1. \xff\xfe\n")
    d = Dictionary.open(index)
    assert d.skipped == 3
    assert d.senses("garbled") == ()  # read, found corrupt, skipped
    assert d.senses("broken") == () and d.headwords("short") == []
    assert d.senses("treaty") == (("संधि",), ("समझौता",))


def test_corrupt_dictionary_file_leaves_the_model(tmp_path, gen, embedder, settings):
    index = write_dictd(tmp_path, ENTRIES)
    (tmp_path / "test-eng-hin.dict.dz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(OSError):
        Dictionary.open(index)
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(index)))
    assert ex.dictionary is None and ex.status.notes


def test_a_hand_made_dictionary_expands(tmp_path, gen, embedder, settings):
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(write_dictd(tmp_path, ENTRIES))))
    terms = dict(ex.expand(parse_query("treaty")))
    assert analyze("संधि")[0] in terms  # the dictionary's word, as the index analyses it
    assert ex.status.dictionary_headwords == 4


def test_two_word_phrases_are_looked_up(tmp_path, gen, embedder, settings):
    index = write_dictd(tmp_path, {**ENTRIES, "qwxzv zzyzx": "qwxzv zzyzx <N>\n1. रक्षा~मंत्री\n"})
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(index)))
    assert ex.expand(parse_query("qwxzv")) == [] and ex.expand(parse_query("zzyzx")) == []
    terms = dict(ex.expand(parse_query("the Qwxzv zzyzx")))
    assert {analyze("रक्षा")[0], analyze("मंत्री")[0]} <= set(terms)


# ------------------------------------------------------------------ vocabulary

def test_the_index_stores_its_vocabulary(gen, embedder):
    rows = storage.read_jsonl(gen / storage.VOCAB)
    vectors = np.load(gen / storage.VOCAB_VECTORS)
    assert rows and vectors.dtype == np.float32 and vectors.shape[1] == embedder.dim
    embedded = [r for r in rows if r["row"] is not None]
    assert sorted(r["row"] for r in embedded) == list(range(len(vectors)))
    assert [r["df"] for r in rows] == sorted((r["df"] for r in rows), reverse=True)
    for r in rows:
        assert analyze(r["surface"]) == [r["term"]]  # the surface is a word the analyzer turns into the term
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_the_index_stores_its_lexicon_words_neighbours(gen, embedder, settings):
    from search.lexicon import load_lexicon
    from search.neighbours import DEFAULT

    NEIGHBOURS = DEFAULT.neighbours

    lexicon = load_lexicon(settings, embedder)
    if lexicon is None:
        pytest.skip("no English lexicon in this cache (the build could not write it)")
    table = json.loads((gen / storage.LEXICON_NEIGHBOURS).read_text("utf-8"))
    assert table["lexicon"] == lexicon.name
    terms = {r["term"] for r in storage.read_jsonl(gen / storage.VOCAB) if r["row"] is not None}
    assert table["words"] and set(table["words"]) <= set(lexicon.rows)
    for near in table["words"].values():
        assert 1 <= len(near) <= NEIGHBOURS and all(t in terms and 0 < w <= 1 for t, w in near)


class FakeEmbedder:
    """Deterministic vectors from blake2b; counts what it is asked to encode."""

    dim = 8
    fingerprint = "fake"

    def __init__(self):
        self.encoded: list[str] = []

    def describe(self) -> dict:
        return {"id": "fake", "fingerprint": self.fingerprint, "dimension": self.dim}

    def encode_passages(self, texts, batch_size=32, progress=None):
        self.encoded += list(texts)
        out = np.array([np.frombuffer(hashlib.blake2b(t.encode(), digest_size=32).digest(), np.uint8)[:self.dim]
                        for t in texts], np.float32) + 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _generation(folder: Path, texts: list[str]) -> Path:
    folder.mkdir(parents=True)
    storage.write_jsonl(folder / storage.PASSAGES, (
        {"passage_id": f"d{i}#0", "doc_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(texts)))
    return folder


def test_vocabulary_counts_terms_and_reuses_the_live_build(tmp_path, settings):
    fake = FakeEmbedder()
    first = _generation(tmp_path / "gen-1", ["संधि की पुष्टि", "संधियों पर हस्ताक्षर", "रक्षा मंत्री"])
    vocab = build_vocabulary(first, fake, settings.replace(expansion=True))
    assert dict(zip(vocab.terms, vocab.df))[analyze("संधि")[0]] == 2  # संधि and संधियों: one term, two passages
    assert "की" not in fake.encoded  # stopwords are not index terms
    storage.write_json(first / storage.MANIFEST, {"model": fake.describe()})
    (tmp_path / "CURRENT").write_text("gen-1\n", "utf-8")

    fake.encoded.clear()
    second = _generation(tmp_path / ".building-2", ["संधि की पुष्टि", "रक्षा मंत्री", "नया समझौता"])
    build_vocabulary(second, fake, settings.replace(expansion=True))
    assert sorted(fake.encoded) == sorted(["नया", "समझौता"])  # only new words are embedded
    rows = storage.read_jsonl(second / storage.VOCAB)
    assert len(np.load(second / storage.VOCAB_VECTORS)) == len(rows)


def test_no_vocabulary_when_expansion_is_off(tmp_path, settings, embedder):
    gen = _generation(tmp_path / "gen-1", ["संधि की पुष्टि"])
    assert build_vocabulary(gen, FakeEmbedder(), settings.replace(expansion=False)) is None
    assert not (gen / storage.VOCAB).exists()
    ex = Expander.open(gen, embedder, settings)
    assert ex.expand(parse_query("treaty ratification")) == [] and ex.status.notes


# ------------------------------------------------------------------ expansion

@pytest.mark.parametrize("text,words", [
    ("How many points did the Panthers' defense surrender?", ["points", "Panthers", "defense", "surrender"]),
    ("Kim Jong-un's visit, visit", ["Kim", "Jong", "un", "visit"]),
    ("the of and", []),
    ("उत्तर कोरिया रूस संधि", []),
])
def test_content_words(text, words):
    assert content_words(text) == words


@pytest.mark.parametrize("english,hindi,alike", [
    ("Belousov", "बेलौसोव", 1.0),
    ("Panthers", "पैंथर्स", 1.0),
    ("Denver", "डेनवर", 1.0),
    ("blorptang", "बोरलामेक", 0.6),
    ("Khan", "खान", 0.0),  # two consonant classes match by chance too easily
])
def test_sounds_alike(english, hindi, alike):
    assert sounds_alike(english, hindi) == pytest.approx(alike, abs=0.05)


@pytest.mark.parametrize("match", [1.0, 0.75])
def test_the_quick_sound_check_is_the_threshold_on_sounds_alike(match):
    pairs = [("Belousov", "बेलौसोव"), ("Panthers", "पैंथर्स"), ("Denver", "डेनवर"), ("blorptang", "बोरलामेक"),
             ("Khan", "खान"), ("Normandy", "नॉर्मंडी"), ("Normandy", "नॉर्वे"), ("Tesla", "टेस्ला"),
             ("Tesla", "टेलीविज़न"), ("Kenya", "केन्या")]
    for english, hindi in pairs:
        assert sounds_like(english, hindi, match) == (sounds_alike(english, hindi) >= match)


@pytest.mark.parametrize("rows", [10, neighbours.DEFAULT.split_rows, neighbours.DEFAULT.split_rows * 2 + 7])
def test_word_to_vocabulary_similarities_are_one_matrix_product(rows):
    """A large vocabulary is read in two halves on two threads; the product is the same."""
    rng = np.random.default_rng(rows)
    words = rng.standard_normal((3, 16)).astype(np.float32)
    vectors = rng.standard_normal((rows, 16)).astype(np.float32)
    sims = neighbours.similarities(words, vectors)
    assert sims.shape == (3, rows) and sims.dtype == np.float32
    np.testing.assert_allclose(sims, words @ vectors.T, rtol=1e-5, atol=1e-5)


def test_spelling_variants():
    assert spelling_variants("defense") == ["defence"]
    assert spelling_variants("colour") == ["color"]
    assert spelling_variants("minister") == ["ministre"]
    assert spelling_variants("treaty") == []


def test_romanize():
    assert romanize("बेलौसोव") == "belausov"
    assert romanize("ज़ेलेंस्की") == "zelenski"


@pytest.mark.parametrize("query", ["blorptang", "qwxzv zzyzx", "frobnicate", "the of and", "संधि की पुष्टि"])
def test_unknown_words_add_nothing(expander, query):
    parsed = parse_query(query)
    assert expander.expand(parsed) == []
    assert expander.strength(parsed) == 0.0


def test_expansions_are_weighted_index_terms(expander, gen):
    known = {r["term"] for r in storage.read_jsonl(gen / storage.VOCAB)}
    for query in ("treaty ratification", "defence minister Belousov visit", "North Korea denies sending troops"):
        expansion = expander.expand(parse_query(query))
        assert expansion, query
        assert all(term in known and 0.0 < weight <= 1.0 for term, weight in expansion)
        assert [w for _t, w in expansion] == sorted((w for _t, w in expansion), reverse=True)


def test_the_dictionary_knows_what_the_model_misses(expander, has_dictionary):
    if not has_dictionary:
        pytest.skip("FreeDict English-Hindi is not installed (apt-get install dict-freedict-eng-hin)")
    assert analyze("संधि")[0] in dict(expander.expand(parse_query("treaty")))
    assert analyze("रक्षा")[0] in dict(expander.expand(parse_query("defence")))


def test_expansion_terms_have_written_forms(expander, has_dictionary):
    assert expander.surface("बेलौसोव") == "बेलौसोव"
    if has_dictionary:
        assert expander.surface(analyze("संधि")[0]) == "संधि"
    assert expander.surface("not-a-term") == "not-a-term"


def test_strength_is_the_share_of_words_covered(expander):
    assert expander.strength(parse_query("Belousov")) == 1.0
    question = expander.strength(parse_query("Why did Belousov go to Pyongyang?"))
    assert 0.0 < question < 1.0  # "why", "did", "to" found nothing


def test_words_are_embedded_once(gen, embedder, settings):
    class Counting:
        dim = embedder.dim

        def __init__(self):
            self.calls = 0

        def encode_short(self, texts):
            self.calls += 1
            return embedder.encode_short(texts)

    counting = Counting()
    ex = Expander.open(gen, counting, settings)
    first = ex.expand(parse_query("defence minister Belousov"))
    again = ex.expand(parse_query("Belousov, defence minister"))
    assert counting.calls == 1 and sorted(first) == sorted(again)


# ------------------------------------------------------------------ in the service

def test_the_service_searches_and_reports_the_expansion(service):
    response = service.search("treaty ratification", k=5)
    assert response.expansion and response.hits[0].doc_id.startswith("003")
    assert response.to_dict()["expansion"][0]["term"] == response.expansion[0][0]
    assert response.hits[0].explanation.bm25_rank is not None  # BM25 found it through Hindi terms
    assert service.search("उत्तर कोरिया रूस संधि", k=1).expansion == ()  # Hindi needs none
    assert service.search("treaty ratification", k=1, mode="dense").expansion == ()


def test_expansion_can_be_turned_off(seed_index, embedder, settings):
    off = SearchService.open(seed_index, settings.replace(expansion=False), embedder=embedder)
    response = off.search("treaty ratification", k=5)
    assert off.expander is None and response.expansion == ()
    assert all(h.explanation.bm25_rank is None for h in response.hits)  # English words: no BM25 evidence


def test_a_phrase_translation_shares_its_weight(tmp_path, gen, embedder, settings):
    from search.analysis import analyze
    DICTIONARY_WEIGHT = ExpansionConfig().dictionary_weight

    entries = {**ENTRIES, "deny": "deny <V>\n1. अस्वीकार करना, बात काटना\n"}
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(write_dictd(tmp_path, entries))))
    found = dict(ex._translations("deny"))
    talk = analyze("बात")[0]
    assert found[talk] == pytest.approx(DICTIONARY_WEIGHT / len(analyze("बात काटना")))
    assert dict(ex._translations("minister")) == {analyze("मंत्री")[0]: DICTIONARY_WEIGHT}


@pytest.mark.parametrize("noun, base", [
    ("पुष्टीकरण", "पुष्टि"), ("पुष्टिकरण", "पुष्टि"), ("सरलीकरण", "सरल"), ("सशक्तिकरण", "सशक्त"),
    ("उपकरण", None), ("व्याकरण", None), ("करण", None), ("संधि", None),
])
def test_action_base(noun, base):
    from search.analysis import analyze
    from search.expansion import action_base

    assert action_base(analyze(noun)[0]) == (analyze(base)[0] if base else None)


def test_a_translation_the_index_lacks_is_found_by_its_base(tmp_path, gen, embedder, settings):
    from search.analysis import analyze
    DICTIONARY_WEIGHT, ACTION_BASE_SHARE = ExpansionConfig().dictionary_weight, ExpansionConfig().action_base_share

    # The seeds say पुष्टि ("confirmed"), never पुष्टीकरण ("ratification"), which FreeDict gives.
    entries = {**ENTRIES, "ratification": "ratification <N>\n1. पुष्टीकरण\n",
               "instrument": "instrument <N>\n1. उपकरण\n"}
    ex = Expander.open(gen, embedder, settings.replace(dict_path=str(write_dictd(tmp_path, entries))))
    assert analyze("पुष्टीकरण")[0] not in ex._known
    assert dict(ex._translations("ratification")) == {
        analyze("पुष्टि")[0]: pytest.approx(DICTIONARY_WEIGHT * ACTION_BASE_SHARE)}
    assert ex._translations("instrument") == []  # उपकरण is not in the seeds and has no base


def test_a_search_with_new_words_ranks_as_one_with_cached_words(service):
    if service.expander is None:
        pytest.skip("expansion is off")
    query = "defence minister Belousov visit"
    service.expander.clear_cache()
    cold = service.search(query, k=5)  # BM25 first without Belousov's neighbours, which are added later
    warm = service.search(query, k=5)
    assert [h.doc_id for h in cold.hits] == [h.doc_id for h in warm.hits]
    assert cold.expansion and [t for t, _w in cold.expansion] == [t for t, _w in warm.expansion]
    assert [h.explanation.bm25_score for h in cold.hits] == pytest.approx(
        [h.explanation.bm25_score for h in warm.hits], rel=1e-5)
    assert [h.score for h in cold.hits] == pytest.approx([h.score for h in warm.hits], rel=1e-4)
    parsed = parse_query(query)
    first = dict(service.expander.expand(parsed, pending=["Belousov"]))  # the words known before embedding
    assert set(first) < {t for t, _w in cold.expansion}  # so the late part was really added


def test_new_words_are_embedded_in_the_query_pass(seed_index, embedder, settings):
    """A hybrid query embeds its new English words in its own model pass (no call of their own),
    and they expand exactly as when the expander embeds them itself."""

    class Counting:
        def __init__(self):
            self.calls: list[str] = []

        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode_short(self, texts):
            self.calls.append("short")
            return embedder.encode_short(texts)

        def encode_query_with_words(self, text, words):
            self.calls.append(f"query+{len(words)}")
            return embedder.encode_query_with_words(text, words)

    counting = Counting()
    service = SearchService.open(seed_index, settings, embedder=counting)
    query = "defence minister Belousov visit"
    unseen = service.expander.unseen(parse_query(query))
    assert "Belousov" in unseen  # a name: in no lexicon
    packed = service.search(query, k=5)
    assert counting.calls == [f"query+{len(unseen)}"]
    service.search(query, k=5)  # the words are cached now
    assert counting.calls == [f"query+{len(unseen)}"]

    alone = Expander.open(storage.live_generation(seed_index), embedder, settings)
    separate = dict(alone.expand(parse_query(query)))  # embeds the words in a call of their own
    assert dict(packed.expansion).keys() == separate.keys()
    assert list(dict(packed.expansion).values()) == pytest.approx(list(separate.values()), abs=2e-4)


def test_the_english_lexicon_is_embedded_once_and_spares_query_time_calls(tmp_path, gen, embedder, settings,
                                                                          monkeypatch):
    from index.vocabulary import Vocabulary, write_lexicon_neighbours
    from search.lexicon import Lexicon, ensure_lexicon, lexicon_path, load_lexicon
    from search.lexicon import lexicon_words as original_words

    class Few:  # the real model, with a lexicon of a few words
        fingerprint = "lexicon-test"

        def __init__(self):
            self.encoded: list[str] = []

        def __getattr__(self, name):
            return getattr(embedder, name)

        def encode_passages(self, texts, batch_size=32, progress=None):
            self.encoded += list(texts)
            return embedder.encode_passages(texts, batch_size=batch_size, progress=progress)

        def encode_short(self, texts):
            self.encoded += [f"short:{t}" for t in texts]
            return embedder.encode_short(texts)

    few = Few()
    local = settings.replace(cache_dir=str(tmp_path / "cache"))
    import search.lexicon as lexicon_module

    monkeypatch.setattr(lexicon_module, "lexicon_words", lambda _e, _d: ["minister", "treaty"])
    assert load_lexicon(local, few) is None  # not built yet
    path = ensure_lexicon(few, local)
    assert path == lexicon_path(local, few) and path.exists() and few.encoded == ["minister", "treaty"]
    assert ensure_lexicon(few, local) == path and len(few.encoded) == 2  # once
    lexicon = load_lexicon(local, few)
    assert isinstance(lexicon, Lexicon) and sorted(lexicon.rows) == ["minister", "treaty"]
    exact = embedder._encode_torch(["treaty"], embedder.passage_prompt, 1, "fp32")[0]
    assert float(lexicon.get("treaty") @ exact) > 0.9999

    ex = Expander.open(gen, few, local)
    assert ex.status.lexicon == 2
    assert ex.unseen(parse_query("treaty minister Belousov")) == ["Belousov"]
    few.encoded.clear()
    ex.expand(parse_query("treaty minister Belousov"))
    assert few.encoded == ["short:Belousov"]  # lexicon words cost no model call
    # A lower-case word in the other spelling is the lexicon's word; an inflected form is embedded as
    # written, and a capitalised word may be a name.
    assert ex.unseen(parse_query("ministre treaties Ministre")) == ["treaties", "Ministre"]
    few.encoded.clear()
    assert ex.expand(parse_query("ministre")) == ex.expand(parse_query("minister")) != []
    assert few.encoded == []
    off = settings.replace(cache_dir=str(tmp_path / "cache"), expansion=False)
    assert ensure_lexicon(few, off) is None
    words = original_words(embedder, None)
    assert "minister" in words and "the" not in words and len(words) > 10000

    # A build also works out each lexicon word's nearest index terms: same expansions, no vocabulary pass.
    import json
    import shutil

    built = tmp_path / "gen"
    shutil.copytree(gen, built)
    rows = storage.read_jsonl(built / storage.VOCAB)  # the vocabulary as the build made it
    vocabulary = Vocabulary([r["term"] for r in rows], [r["surface"] for r in rows], [r["df"] for r in rows],
                            np.load(built / storage.VOCAB_VECTORS))
    assert write_lexicon_neighbours(built, vocabulary, few, local) is not None
    table = json.loads((built / storage.LEXICON_NEIGHBOURS).read_text("utf-8"))
    assert table["lexicon"] == lexicon_path(local, few).name and set(table["words"]) <= {"minister", "treaty"}
    fast = Expander.open(built, few, local)
    assert fast._lexicon_near is not None
    query = parse_query("treaty minister Belousov")
    with_table, without = fast.expand(query), Expander.open(gen, few, local).expand(query)
    assert [t for t, _w in with_table] == [t for t, _w in without]
    assert [w for _t, w in with_table] == pytest.approx([w for _t, w in without], abs=2e-4)
    table["lexicon"] = "en-another-model.npz"  # a table made for another lexicon is not used
    (built / storage.LEXICON_NEIGHBOURS).write_text(json.dumps(table), "utf-8")
    assert Expander.open(built, few, local)._lexicon_near is None


def test_a_query_expands_a_bounded_number_of_words(service):
    from search import expansion
    from search.query import parse_query

    words = " ".join(f"zorb{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(120))  # 120 new words
    assert len(expansion.content_words(words)) == 120
    assert len(service.expander.unseen(parse_query(words))) == ExpansionConfig().max_query_words
    assert service.search(words, k=3).query == words  # answered, embedding at most MAX_QUERY_WORDS of them
