"""A query-only process (CLI query, server) encodes with the cached ONNX graph, without sentence-transformers:
the same token ids and vectors as the full model, and the full load wherever anything is amiss."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search import embedding
from search.embedding import FIDELITY_SAMPLE, Embedder, QueryEmbedder

TEXTS = [*FIDELITY_SAMPLE, "उत्तर कोरिया " * 400, "", "Belousov", "क्या भारत-रूस संधि?"]


@pytest.fixture(scope="module")
def light(embedder, settings):
    if embedder.query_runtime != "onnx":
        pytest.skip("queries are encoded by torch on this machine")
    found = QueryEmbedder.open(settings)
    assert found is not None, "the full load records the verified graph for query-only processes"
    return found


def test_the_same_token_ids_as_transformers(light, embedder):
    length = embedder.max_seq_length
    ours = light._onnx.tokenizer(TEXTS, padding=True, truncation=True, max_length=length, return_tensors="np")
    theirs = embedder._onnx.tokenizer(TEXTS, padding=True, truncation=True, max_length=length,
                                      return_tensors="np")
    for key in ("input_ids", "attention_mask"):
        assert ours[key].shape == theirs[key].shape and (ours[key] == theirs[key]).all()
    assert ours["input_ids"].shape[1] == length  # the long text was truncated
    unpadded = light._onnx.tokenizer(TEXTS, truncation=True, max_length=length)["input_ids"]
    assert unpadded == embedder._onnx.tokenizer(TEXTS, truncation=True, max_length=length)["input_ids"]


def test_the_same_vectors_and_identity_as_the_full_model(light, embedder):
    described = light.describe()
    if described["precision"] == "auto":  # a bf16 CPU: passage precision is the full load's to measure
        described["precision"] = embedder.describe()["precision"]
    assert described == embedder.describe()
    assert light.fingerprint == embedder.fingerprint and light.dim == embedder.dim
    np.testing.assert_array_equal(light.encode_queries(TEXTS), embedder.encode_queries(TEXTS))
    np.testing.assert_array_equal(light.encode_short(["treaty", "Belousov"]),
                                  embedder.encode_short(["treaty", "Belousov"]))
    query, words = light.encode_query_with_words("treaty ratification", ["Belousov", "treaty"])
    query2, words2 = embedder.encode_query_with_words("treaty ratification", ["Belousov", "treaty"])
    np.testing.assert_array_equal(query, query2)
    np.testing.assert_array_equal(words, words2)
    assert light.encode_queries([]).shape == (0, light.dim)


def test_anything_else_is_served_by_the_full_model_loaded_on_first_use(light, embedder, settings, monkeypatch):
    fresh = QueryEmbedder.open(settings)
    loads = []
    monkeypatch.setattr(Embedder, "load", classmethod(lambda cls, s, log=None: loads.append(s) or embedder))
    assert fresh.count_tokens(["उत्तर कोरिया", "treaty"]) == embedder.count_tokens(["उत्तर कोरिया", "treaty"])
    assert fresh.model is embedder.model and len(loads) == 1  # loaded once


@pytest.mark.parametrize("change", [
    {"model": "/somewhere/else"}, {"query_runtime": "torch"}, {"precision": "fp64"},
])
def test_other_settings_take_the_full_load(light, settings, change):
    assert QueryEmbedder.open(settings.replace(**change)) is None


@pytest.mark.parametrize("native", [True, False])
def test_bf16_passages_do_not_stop_a_query_only_load(light, settings, monkeypatch, native):
    """Both CPU kinds, forced: a query-only process never needs torch, whatever the passage precision
    would be (an index records its own; a build loads the full model, which measures it)."""
    monkeypatch.setattr(embedding, "cpu_has_native_bf16", lambda flags=None: native)
    found = QueryEmbedder.open(settings)
    assert found is not None and found.precision == ("auto" if native else "fp32")
    assert float(found.encode_queries(["treaty"])[0] @ light.encode_queries(["treaty"])[0]) > 0.9999
    assert QueryEmbedder.open(settings.replace(precision="bf16")).precision == "bf16"


def test_a_changed_model_directory_or_graph_record_takes_the_full_load(light, settings, monkeypatch):
    monkeypatch.setattr(embedding, "_file_stamps", lambda _d: {"model.safetensors": [1, 2]})
    assert QueryEmbedder.open(settings) is None
    monkeypatch.undo()
    monkeypatch.setattr(embedding, "_verified_path", lambda graph: graph.with_name("absent.json"))
    assert QueryEmbedder.open(settings) is None
    monkeypatch.undo()
    assert QueryEmbedder.open(settings) is not None


def test_a_query_only_process_imports_neither_torch_nor_sentence_transformers(light, settings):
    code = (
        "import sys\n"
        "from search.embedding import Embedder\n"
        "from search.settings import Settings\n"
        "e = Embedder.load_for_queries(Settings.from_env())\n"
        "v = e.encode_queries(['North Korea'])\n"
        "print(type(e).__name__, v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", SANGAM_CACHE=settings.cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["QueryEmbedder", "(1,", "384)", "False", "False"]
