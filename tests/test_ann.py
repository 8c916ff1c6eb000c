"""The HNSW graph of large indexes: written from a size on, recorded, and searched like the exact product."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from search import ann, storage
from search.service import SearchService

faiss = pytest.importorskip("faiss")


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_small_indexes_get_no_graph(tmp_path):
    vectors = _unit(np.random.default_rng(0).normal(size=(100, 16)))
    assert ann.build(tmp_path, vectors) is None
    assert not (tmp_path / ann.FILE).exists()
    assert ann.Graph.open(tmp_path, {"ann": None}, 100) is None


def test_the_graph_finds_what_the_exact_product_finds(tmp_path):
    rng = np.random.default_rng(1)
    centres = _unit(rng.normal(size=(200, 32)))  # clustered, like passages of related articles
    vectors = _unit(centres[rng.integers(0, 200, 5000)] + rng.normal(scale=0.3, size=(5000, 32)))
    config = ann.AnnConfig(min_passages=1000)
    assert ann.build(tmp_path, vectors[:999], config) is None  # below the size: no graph
    info = ann.build(tmp_path, vectors, config)
    assert info == {"kind": "hnsw", "library": "faiss", "m": config.m, "ef_construction": config.ef_construction,
                    "passages": 5000}
    graph = ann.Graph.open(tmp_path, {"ann": info}, len(vectors))
    queries = _unit(rng.normal(size=(50, 32)))
    found10 = 0
    for q in queries:
        rows, sims = graph.search(q, 300)
        exact = np.argsort(-(vectors @ q), kind="stable")
        assert len(rows) == 300 and np.all(np.diff(sims) <= 1e-6)  # best first
        assert np.allclose(sims, vectors[rows] @ q, atol=1e-5)  # scores are the exact cosines
        found10 += len(set(rows[:10].tolist()) & set(exact[:10].tolist()))
    assert found10 / (10 * len(queries)) >= 0.98


def test_a_graph_that_does_not_fit_is_not_used(tmp_path):
    vectors = _unit(np.random.default_rng(2).normal(size=(64, 8)))
    info = ann.build(tmp_path, vectors, ann.AnnConfig(min_passages=1))
    assert ann.Graph.open(tmp_path, {"ann": info}, 64) is not None
    assert ann.Graph.open(tmp_path, {"ann": info}, 65) is None  # another generation's passages
    (tmp_path / ann.FILE).write_bytes(b"not a graph")
    assert ann.Graph.open(tmp_path, {"ann": info}, 64) is None  # unreadable: exact search


def test_an_index_with_a_graph_ranks_like_exact_search(tmp_path, seed_index, seeds, embedder, settings,
                                                      service):
    from index.builder import BuildConfig, build_index

    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    build_index([seeds], copy, settings, embedder=embedder, update=True, progress=False,
                config=BuildConfig(ann=ann.AnnConfig(min_passages=1)))
    gen = storage.live_generation(copy)
    manifest = storage.read_manifest(gen)
    assert manifest["ann"]["passages"] == manifest["counts"]["passages"] and (gen / ann.FILE).exists()

    with_graph = SearchService.open(copy, settings, embedder=embedder)
    assert with_graph._data.graph is not None and service._data.graph is None
    for query in ("treaty ratification", "उत्तर कोरिया रूस संधि", "Kim Jong Un Putin summit"):
        for mode in ("dense", "hybrid"):
            got = with_graph.search(query, k=5, mode=mode)
            want = service.search(query, k=5, mode=mode)
            assert [(h.doc_id, h.passage_id) for h in got.hits] == [(h.doc_id, h.passage_id) for h in want.hits]
            assert [h.score for h in got.hits] == pytest.approx([h.score for h in want.hits], abs=1e-5)

    exact = SearchService.open(copy, settings.replace(ann=False), embedder=embedder)
    assert exact._data.graph is None  # SANGAM_ANN=0
