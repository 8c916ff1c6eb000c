"""The Ray build (index/distributed.py) against the in-process build: same passages, vectors, BM25 and results.

Each Ray build starts a local Ray instance (two CPUs) and stops it, as `search index --ray` does.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from index.builder import build_index
from search import storage
from search.errors import SangamError
from search.settings import Settings

from conftest import DATA

XQUAD = DATA / "xquad" / "xquad_hi_corpus.jsonl"
QUERIES = ("Panthers defence", "पैंथर्स की डिफ़ेन्स", "उत्तर कोरिया रूस संधि", "Kim Jong Un Belousov",
           "नदी का पानी", "university students")
COSINE = 0.9999


def _ray_settings(settings: Settings, precision: str) -> Settings:
    return settings.replace(precision=precision, ray="local", ray_local_cpus=2, ray_workers=2)


@pytest.fixture(scope="module")
def fp32(settings, embedder):
    """An fp32 encoder (``embedder`` is the session's, at whatever precision this CPU picks)."""
    from search.embedding import Embedder

    if embedder.precision == "fp32":
        return embedder
    return Embedder.load(settings.replace(precision="fp32"))


def _pair(tmp_path: Path, corpus: Path, settings: Settings, encoder, precision: str):
    """The same corpus built in this process and on Ray, at ``precision``."""
    local = settings.replace(precision=precision)
    here, there = tmp_path / "here", tmp_path / "ray"
    build_index([corpus], here, local, embedder=encoder, progress=False)
    summary = build_index([corpus], there, _ray_settings(settings, precision), embedder=encoder, progress=False)
    return here, there, summary


@pytest.fixture(scope="module")
def xquad_pair(tmp_path_factory, settings, fp32):
    return _pair(tmp_path_factory.mktemp("xquad"), XQUAD, settings, fp32, "fp32")


def _assert_same_index(here: Path, there: Path, settings: Settings, encoder) -> None:
    a, b = storage.open_generation(here), storage.open_generation(there)
    assert a.passages == b.passages and a.documents == b.documents
    assert a.manifest["model"] == b.manifest["model"]
    assert a.vectors.shape == b.vectors.shape
    cosine = np.sum(a.vectors * b.vectors, axis=1)
    assert float(cosine.min()) >= COSINE, float(cosine.min())
    from search.service import SearchService

    services = [SearchService.open(d, settings, embedder=encoder) for d in (here, there)]
    for query in QUERIES:
        for mode in ("bm25", "hybrid", "dense"):
            one, two = (s.search(query, k=5, mode=mode).hits for s in services)
            if mode == "bm25":  # the same Whoosh index: the same scores, not just the same order
                assert [(h.passage_id, h.score) for h in one] == [(h.passage_id, h.score) for h in two]
            elif [h.passage_id for h in one] != [h.passage_id for h in two]:
                # vectors differ in the 5th decimal at most: only a tie may change places
                assert [h.score for h in one] == pytest.approx([h.score for h in two], abs=1e-4), (query, mode)


@pytest.mark.slow
def test_ray_build_of_the_dev_corpus_matches_the_in_process_build(xquad_pair, settings, fp32):
    here, there, summary = xquad_pair
    assert summary.documents == 240 and summary.embedded == summary.passages > 240
    _assert_same_index(here, there, settings.replace(precision="fp32"), fp32)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_ray_build_of_the_seeds_matches_the_in_process_build(tmp_path, seeds, settings, fp32, precision):
    from search.embedding import Embedder

    encoder = fp32 if precision == "fp32" else Embedder.load(settings.replace(precision="bf16"))
    if encoder.precision != precision:
        pytest.skip(f"this model's {precision} vectors are not faithful here: the build uses {encoder.precision}")
    here, there, _ = _pair(tmp_path, seeds, settings, encoder, precision)
    assert storage.open_generation(there).manifest["model"]["precision"] == precision
    _assert_same_index(here, there, settings.replace(precision=precision), encoder)
    import ray

    assert not ray.is_initialized()  # the local instance was stopped


@pytest.mark.slow
def test_ray_update_embeds_only_new_and_changed_documents(tmp_path, settings, fp32):
    corpus = tmp_path / "corpus.jsonl"
    lines = XQUAD.read_text("utf-8").splitlines()[:40]
    corpus.write_text("\n".join(lines) + "\n", "utf-8")
    here, there = tmp_path / "here", tmp_path / "ray"
    local, on_ray = settings.replace(precision="fp32"), _ray_settings(settings, "fp32")
    for index_dir, chosen in ((here, local), (there, on_ray)):
        build_index([corpus], index_dir, chosen, embedder=fp32, progress=False)
    changed = json.loads(lines[3])
    changed["text"] += " नदी के किनारे नया पुल बना।"
    added = {"id": "new-1", "title": "", "text": "विश्वविद्यालय के छात्रों ने नदी का पानी साफ़ किया।"}
    corpus.write_text("\n".join(lines[:3] + [json.dumps(changed, ensure_ascii=False)] + lines[4:39]
                              + [json.dumps(added, ensure_ascii=False)]) + "\n", "utf-8")
    summaries = [build_index([corpus], d, chosen, embedder=fp32, update=True, progress=False)
                 for d, chosen in ((here, local), (there, on_ray))]
    counts = [(s.documents, s.passages, s.embedded, s.reused, s.added, s.changed, s.removed) for s in summaries]
    assert counts[0] == counts[1]
    assert (summaries[1].added, summaries[1].changed, summaries[1].removed) == (1, 1, 1)
    assert summaries[1].embedded < 10 and summaries[1].reused > 40
    _assert_same_index(here, there, local, fp32)


def test_without_ray_the_error_names_the_install_command(monkeypatch, tmp_path, seeds):
    from index import distributed

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    with pytest.raises(SangamError) as caught:
        distributed.cut_and_embed([object()], type("E", (), {"dim": 4})(), Settings(ray="local"), False)
    assert "not installed" in caught.value.message and caught.value.fix == "install the Ray extra: pip install -e '.[ray]'"


@pytest.mark.parametrize("resources,changes,documents,expected", [
    ({"CPU": 16.0}, {}, 1000, (16, 1, 0)),
    ({"CPU": 16.0}, {"ray_cpus_per_worker": 4}, 1000, (4, 4, 0)),
    ({"CPU": 16.0}, {"ray_workers": 3}, 1000, (3, 1, 0)),
    ({"CPU": 16.0}, {}, 20, (3, 1, 0)),  # 20 documents are 3 batches of 8
    ({"CPU": 16.0, "GPU": 4.0}, {"ray_gpus": 2}, 1000, (2, 1, 1)),
    ({"CPU": 16.0, "GPU": 4.0}, {"ray_gpus": 8}, 1000, (4, 1, 1)),
    ({"CPU": 2.0}, {}, 1000, (2, 1, 0)),
])
def test_actors_follow_the_cluster_resources(resources, changes, documents, expected):
    from index.distributed import RayPlan, plan_workers

    assert plan_workers(resources, Settings(ray="local", **changes), documents) == RayPlan(*expected)


def test_gpus_asked_of_a_cluster_without_any_is_a_clear_error():
    from index.distributed import plan_workers

    with pytest.raises(SangamError, match="has none"):
        plan_workers({"CPU": 2.0}, Settings(ray="local", ray_gpus=1), 10)


def test_an_actor_given_a_gpu_loads_its_model_there(monkeypatch):
    """Ray gives the actor its own GPU as ``cuda``; the settings the actor loads its encoder with say so
    (``Embedder.load`` passes ``Settings.device`` to sentence-transformers)."""
    import ray

    from index.distributed import _on_gpu

    monkeypatch.setattr(ray, "get_gpu_ids", lambda: [3])
    assert _on_gpu(Settings(precision="bf16")) == Settings(precision="bf16", device="cuda")
    monkeypatch.setattr(ray, "get_gpu_ids", lambda: [])
    assert _on_gpu(Settings()).device == "cpu"


def test_cli_ray_option_reaches_the_settings(monkeypatch, tmp_path, seeds):
    """`search index --ray` (and SANGAM_RAY) and `--ray-gpus` reach the build's settings."""
    from click.testing import CliRunner

    import index.builder
    from sangam.cli import cli

    seen = []

    def fake_build(paths, index_dir, settings, **_kw):
        seen.append(settings)
        return type("Summary", (), {"lines": lambda self: ["built"]})()

    monkeypatch.setattr(index.builder, "build_index", fake_build)
    runner = CliRunner()
    for args, env in ((["--ray"], {}), (["--ray", "10.0.0.5:6379", "--ray-gpus", "2"], {}),
                      ([], {"SANGAM_RAY": "auto"}), ([], {})):
        result = runner.invoke(cli, ["index", str(seeds), "--index", str(tmp_path / "i"), *args], env=env)
        assert result.exit_code == 0, result.output
    assert [(s.ray, s.ray_gpus) for s in seen] == [("local", 0), ("10.0.0.5:6379", 2), ("auto", 0), ("", 0)]
    shutil.rmtree(tmp_path, ignore_errors=True)
