"""The ONNX Runtime query encoder: chosen by default, faithful to torch, and switchable off."""

from __future__ import annotations

import numpy as np
import pytest

from search import onnx_export
from search.embedding import Embedder
from search.precision import INT8_FIDELITY, QUERY_FIDELITY
from search.errors import ModelError

QUERIES = [
    "उत्तर कोरिया ने रूस के साथ संधि की पुष्टि कब की?",
    "treaty ratification",
    "defence minister Belousov visit to Pyongyang",
    "किम जोंग उन और पुतिन की मुलाक़ात 2024",
    "NATO-नाटो सैनिकों की तैनाती",
    "x",
    "बहुत लंबा प्रश्न " * 300,  # truncated to the model's limit like torch does
]


def test_the_default_embedder_encodes_queries_with_onnx_runtime(embedder):
    assert embedder.query_runtime == "onnx"


def test_onnx_query_vectors_match_torch(embedder):
    fast = embedder.encode_queries(QUERIES)  # one padded batch
    single = np.stack([embedder.encode_queries([q])[0] for q in QUERIES])
    exact = embedder._encode_torch(QUERIES, embedder.query_prompt, 8, "fp32")
    assert np.min(np.sum(fast * exact, axis=1)) >= QUERY_FIDELITY
    assert np.min(np.sum(single * exact, axis=1)) >= QUERY_FIDELITY
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_torch_can_be_chosen_and_unknown_runtimes_are_refused(embedder, settings):
    fresh = Embedder(embedder.model, embedder.identity)
    fresh._choose_query_runtime(settings.replace(query_runtime="torch"))
    assert fresh.query_runtime == "torch"
    exact = fresh.encode_queries(QUERIES[:2])
    assert np.min(np.sum(exact * embedder.encode_queries(QUERIES[:2]), axis=1)) >= QUERY_FIDELITY
    with pytest.raises(ModelError, match="SANGAM_QUERY_RUNTIME"):
        fresh._choose_query_runtime(settings.replace(query_runtime="tensorrt"))


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_a_query_and_its_words_embedded_together_equal_each_alone(embedder, settings, runtime):
    if runtime == "onnx":
        encoder = embedder
    else:
        encoder = Embedder(embedder.model, embedder.identity)
        encoder._choose_query_runtime(settings.replace(query_runtime="torch"))
    words = ["Belousov", "treaty", "ratification", "x"]
    for query in QUERIES:
        qvec, wvecs = encoder.encode_query_with_words(query, words)
        exact_q = embedder._encode_torch([query], embedder.query_prompt, 1, "fp32")[0]
        exact_w = embedder._encode_torch(words, embedder.passage_prompt, 4, "fp32")
        assert float(qvec @ exact_q) >= QUERY_FIDELITY
        assert np.min(np.sum(wvecs * exact_w, axis=1)) >= QUERY_FIDELITY
    qvec, wvecs = encoder.encode_query_with_words("treaty", [])
    assert wvecs.shape == (0, embedder.dim) and float(qvec @ embedder.encode_queries(["treaty"])[0]) > 0.9999


def _with_precision(embedder, precision: str):
    """The session's embedder with its passage precision forced (the CPU picks one; both are tested)."""
    import copy
    import threading

    forced = copy.copy(embedder)
    forced.precision, forced.passage_runtime, forced._onnx_passages, forced._int8 = precision, None, None, None
    forced._lock = threading.Lock()
    return forced


def test_passages_are_encoded_on_onnx_runtime_too_and_match_torch(embedder):
    texts = QUERIES + ["संधि", "treaty", "पुष्टि " * 40]  # lengths from 1 token to truncated
    fp32 = _with_precision(embedder, "fp32")
    fast = fp32.encode_passages(texts, batch_size=4)
    assert fp32.passage_runtime == "onnx"  # fp32 passages run on ONNX Runtime, on any CPU
    bf16 = _with_precision(embedder, "bf16")
    bf16.encode_passages(texts[:2], batch_size=4)
    assert bf16.passage_runtime == "torch"  # bf16 passages need torch's autocast
    exact = embedder._encode_torch(texts, embedder.passage_prompt, 4, "fp32")
    assert np.min(np.sum(fast * exact, axis=1)) >= QUERY_FIDELITY
    assert embedder.encode_passages([]).shape == (0, embedder.dim)


def test_int8_passages_run_on_the_quantized_graph_and_stay_close_to_fp32(embedder):
    texts = QUERIES + ["संधि", "treaty", "पुष्टि " * 40]
    int8 = _with_precision(embedder, "int8")
    low = int8.encode_passages(texts, batch_size=4)
    assert int8.passage_runtime == "onnx" and int8._int8.path == onnx_export.int8_path(embedder._onnx.path)
    exact = embedder._encode_torch(texts, embedder.passage_prompt, 4, "fp32")
    cosines = np.sum(low * exact, axis=1)
    assert np.min(cosines) >= INT8_FIDELITY and np.max(cosines) < 0.99999  # really quantized
    assert np.allclose(np.linalg.norm(low, axis=1), 1.0, atol=1e-5)
    assert int8.describe()["precision"] == "int8"
    assert int8.fidelity("int8") >= INT8_FIDELITY
