"""A query-only process (CLI query, server) encodes with the cached ONNX graph, without sentence-transformers
or torch: the same token ids and vectors as the full model, the passage precision read from the index's
manifest, and the full load wherever anything is amiss."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search import onnx_export
from search.encoders import PassageEncoder, QueryEncoder
from search.errors import ModelError
from search.precision import FIDELITY_SAMPLE
from search.query_embedder import QueryEmbedder, file_stamps, verified_path

ROOT = Path(__file__).parent.parent
TEXTS = [*FIDELITY_SAMPLE, "उत्तर कोरिया " * 400, "", "Belousov", "क्या भारत-रूस संधि?"]


@pytest.fixture(scope="module")
def light(embedder, settings):
    if embedder.query_runtime != "onnx":
        pytest.skip("queries are encoded by torch on this machine")
    found = QueryEmbedder.open(settings, embedder.precision)
    assert found is not None, "the full load records the verified graph for query-only processes"
    return found


def test_the_same_token_ids_as_transformers(light, embedder):
    length = embedder.max_seq_length
    ours = light.encoder.tokenizer(TEXTS, padding=True, truncation=True, max_length=length, return_tensors="np")
    theirs = embedder._onnx.tokenizer(TEXTS, padding=True, truncation=True, max_length=length,
                                      return_tensors="np")
    for key in ("input_ids", "attention_mask"):
        assert ours[key].shape == theirs[key].shape and (ours[key] == theirs[key]).all()
    assert ours["input_ids"].shape[1] == length  # the long text was truncated
    unpadded = light.encoder.tokenizer(TEXTS, truncation=True, max_length=length)["input_ids"]
    assert unpadded == embedder._onnx.tokenizer(TEXTS, truncation=True, max_length=length)["input_ids"]


def test_the_same_vectors_and_identity_as_the_full_model(light, embedder):
    assert light.describe() == embedder.describe()
    assert light.fingerprint == embedder.fingerprint and light.dim == embedder.dim
    np.testing.assert_array_equal(light.encode_queries(TEXTS), embedder.encode_queries(TEXTS))
    np.testing.assert_array_equal(light.encode_short(["treaty", "Belousov"]),
                                  embedder.encode_short(["treaty", "Belousov"]))
    query, words = light.encode_query_with_words("treaty ratification", ["Belousov", "treaty"])
    query2, words2 = embedder.encode_query_with_words("treaty ratification", ["Belousov", "treaty"])
    np.testing.assert_array_equal(query, query2)
    np.testing.assert_array_equal(words, words2)
    assert light.encode_queries([]).shape == (0, light.dim)


def test_it_encodes_queries_only_and_never_loads_the_full_model(light, embedder):
    assert isinstance(light, QueryEncoder) and not isinstance(light, PassageEncoder)
    assert isinstance(embedder, PassageEncoder)
    for name in ("encode_passages", "count_tokens", "token_ids", "model"):
        assert not hasattr(light, name)  # no fallback that would import torch


@pytest.mark.parametrize("change", [{"model": "/somewhere/else"}, {"query_runtime": "torch"}])
def test_other_settings_take_the_full_load(light, settings, change):
    assert QueryEmbedder.open(settings.replace(**change)) is None


def test_an_unknown_precision_is_one_clear_error_before_any_load(light, settings):
    with pytest.raises(ModelError, match="SANGAM_PRECISION"):
        QueryEmbedder.open(settings.replace(precision="fp64"))


@pytest.mark.parametrize("recorded", ["fp32", "bf16", "int8"])
def test_the_passage_precision_comes_from_the_index(light, settings, recorded):
    found = QueryEmbedder.open(settings, recorded)
    assert found is not None and found.precision == recorded == found.describe()["precision"]
    np.testing.assert_array_equal(found.encode_queries(["treaty"]), light.encode_queries(["treaty"]))


def _linked_cache(settings, tmp_path: Path) -> Path:
    """A cache beside the real one: the model's and graph's big files hard-linked, the small ones copied,
    and the verified record rewritten for the new place (as a full load there would)."""
    real = Path(settings.cache_dir)
    cache = tmp_path / "cache"
    for src in [*sorted((real / "models").rglob("*")), *sorted((real / "onnx").glob("query-v*"))]:
        dst = cache / src.relative_to(real)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, dst) if src.stat().st_size > 1_000_000 else shutil.copy2(src, dst)
    for record_path in (cache / "onnx").glob("*.verified.json"):
        record = json.loads(record_path.read_text("utf-8"))
        model_dir = cache / Path(record["model_dir"]).relative_to(real)
        record.update(model_dir=str(model_dir), files=file_stamps(model_dir))
        record_path.write_text(json.dumps(record), "utf-8")
    return cache


def test_a_changed_model_directory_or_graph_record_takes_the_full_load(light, settings, tmp_path):
    cache = _linked_cache(settings, tmp_path)
    moved = settings.replace(cache_dir=str(cache))
    assert QueryEmbedder.open(moved) is not None
    config = next((cache / "models").glob("*/config.json"))
    os.utime(config, ns=(1, 1))  # a rebuilt model directory has new stamps
    assert QueryEmbedder.open(moved) is None
    shutil.rmtree(cache)
    cache = _linked_cache(settings, tmp_path)
    verified_path(onnx_export.graph_path(cache, light.fingerprint)).unlink()
    assert QueryEmbedder.open(moved) is None


def _torch_free_run(args: list[str], settings, index: Path) -> subprocess.CompletedProcess:
    """``search ARGS`` in a fresh process; prints, at exit, whether torch, sentence-transformers or tokenizers (its 0.9 s load) was imported."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('IMPORTED', 'torch' in sys.modules,"
        " 'sentence_transformers' in sys.modules, 'tokenizers' in sys.modules, file=sys.stderr))\n"
        "from sangam.cli import main\n"
        f"sys.argv = ['search', *{args!r}, '--index', {str(index)!r}]\n"
        "main()\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", SANGAM_CACHE=settings.cache_dir, SANGAM_PRECISION="auto")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.mark.parametrize("recorded", ["bf16", "int8"])
def test_a_query_only_process_never_imports_torch_whatever_the_index_says(light, settings, seed_index,
                                                                          tmp_path, recorded):
    """An index built on a bf16 (or int8) CPU, searched by ``search query`` on this one: the precision is
    read from the manifest, nothing is measured, torch is never imported."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    gen = index / (index / "CURRENT").read_text("utf-8").strip()
    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    manifest["model"]["precision"] = recorded
    (gen / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    out = _torch_free_run(["query", "उत्तर कोरिया रूस संधि", "--json"], settings, index)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["hits"], out.stdout[:500]
    assert "IMPORTED False False False" in out.stderr, out.stderr[-2000:]


def test_load_for_queries_imports_neither_torch_nor_sentence_transformers(light, settings):
    code = (
        "import sys\n"
        "from search.embedding import Embedder\n"
        "from search.settings import Settings\n"
        "e = Embedder.load_for_queries(Settings.from_env(), precision='bf16')\n"
        "v = e.encode_queries(['North Korea'])\n"
        "print(type(e).__name__, e.precision, v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", SANGAM_CACHE=settings.cache_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["QueryEmbedder", "bf16", "(1,", "384)", "False", "False"]
