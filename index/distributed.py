"""Cut and embed a build's documents on a Ray cluster: Ray Data streams them through an actor pool of encoders.

The driver (``search index … --ray``) reads the corpus, decides what an ``--update`` must re-embed, and
writes the generation (BM25, vectors, files) through the same atomic swap as an in-process build; only
chunking and embedding, the part that takes hours, run on the cluster. Each actor loads the encoder once,
through the same entry point as the builder (``Embedder.load``, ``cut_and_embed``), pinned to the
precision the driver's encoder chose, so that the index it describes is the index it holds.

The corpus is read on the driver, not on the cluster: the driver needs every document's text anyway
(BM25, ``documents.jsonl``, the update's hashes), and worker nodes need not see the driver's files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from search.errors import ModelError, SangamError
from search.settings import Settings
from search.types import Document, Passage

logger = logging.getLogger(__name__)
INSTALL_HINT = "install the Ray extra: pip install -e '.[ray]'"
LOCAL = "local"  # Settings.ray value that starts (and stops) a Ray instance on this machine
_LOCAL_WORDS = {LOCAL, "1", "true", "yes", "on"}
_OFF_WORDS = {"", "0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True)
class RayPlan:
    """How many encoder actors, and what each one holds."""

    workers: int
    cpus: float  # per actor
    gpus: float  # per actor


def enabled(settings: Settings) -> bool:
    """Whether ``settings.ray`` (``--ray``, ``SANGAM_RAY``) asks for a Ray build."""
    return str(settings.ray or "").strip().lower() not in _OFF_WORDS


def cut_and_embed(docs: list[Document], embedder, settings: Settings,
                  progress: bool) -> tuple[list[list[Passage]], np.ndarray]:
    """Each document's passages and their vectors, in order, computed by an actor pool on Ray."""
    if not docs:
        return [], np.zeros((0, embedder.dim), np.float32)
    ray = _import_ray()
    _quiet(ray)
    with _session(ray, settings):
        plan = plan_workers(ray.cluster_resources(), settings, len(docs))
        logger.info("  on Ray: %d encoder actor(s), %g CPU and %g GPU each", plan.workers, plan.cpus, plan.gpus)
        rows = _run(ray, docs, plan, _actor_settings(settings, embedder, plan), progress)
        return _assemble(docs, rows, embedder.dim)


def _actor_settings(settings: Settings, embedder, plan: RayPlan) -> Settings:
    """The driver's settings, pinned to its encoder's precision and to the actor's share of the CPUs (an
    actor's process could otherwise see, and spin, every core of its node)."""
    pinned = settings.replace(precision=embedder.precision)
    if "threads" in {f.name for f in dataclasses.fields(Settings)}:
        pinned = pinned.replace(threads=max(1, int(plan.cpus)))
    return pinned


def plan_workers(resources: dict, settings: Settings, documents: int) -> RayPlan:
    """Actors for the cluster's resources: one per GPU asked for, else one per ``ray_cpus_per_worker`` CPUs;
    never more than ``ray_workers`` (when set) or than there are batches of documents."""
    cpus = max(1, int(settings.ray_cpus_per_worker))
    batches = -(-documents // max(1, int(settings.ray_docs_per_batch)))
    if settings.ray_gpus > 0:
        have = int(resources.get("GPU", 0))
        if have < 1:
            raise SangamError(f"--ray-gpus {settings.ray_gpus} asked for GPUs, and the Ray cluster has none",
                              "leave --ray-gpus out to encode on CPUs, or connect to a cluster with GPUs")
        workers, cpus, gpus = min(int(settings.ray_gpus), have), 1, 1
    else:
        workers, gpus = max(1, int(resources.get("CPU", 1)) // cpus), 0
    if settings.ray_workers > 0:
        workers = min(workers, int(settings.ray_workers))
    return RayPlan(max(1, min(workers, batches)), cpus, gpus)


class Encoder:
    """A Ray actor's encoder: the model is loaded once, then cuts and embeds batches of documents.

    The settings are bound to a subclass (:func:`_encoder_for`) rather than passed to the constructor: Ray
    keeps constructor arguments in its object store, from which a restarted actor may not get them back.
    """

    settings: Settings = Settings()

    def __init__(self):
        from search.embedding import Embedder

        self.settings = settings = _on_gpu(self.settings)
        self.embedder = Embedder.load(settings)
        if self.embedder.precision != settings.precision:
            raise ModelError(f"a Ray worker encodes in {self.embedder.precision}, the driver in "
                             f"{settings.precision}", "set SANGAM_PRECISION=fp32 for a cluster of mixed CPUs")

    def __call__(self, batch: dict) -> dict:
        from .builder import cut_and_embed as here

        docs = [Document(**json.loads(s)) for s in batch["doc"]]
        cut, vectors = here(docs, self.embedder, self.settings, False)
        rows = [(int(r), p) for r, passages in zip(batch["row"], cut) for p in passages]
        return {
            "row": np.array([r for r, _ in rows], np.int64),
            "n": np.array([p.n for _, p in rows], np.int64),
            "passage": np.array([json.dumps([p.passage_id, p.title, p.text, p.start, p.end], ensure_ascii=False)
                                 for _, p in rows], dtype=object),
            "vector": vectors.reshape(len(rows), self.embedder.dim),
        }


def _encoder_for(settings: Settings) -> type:
    return type("Encoder", (Encoder,), {"settings": settings})


def _on_gpu(settings: Settings) -> Settings:
    """An actor given a GPU encodes on it: Ray limits the actor's ``CUDA_VISIBLE_DEVICES`` to its own GPU,
    which torch then calls ``cuda``."""
    import ray

    return settings.replace(device="cuda") if ray.get_gpu_ids() else settings


def _run(ray, docs: list[Document], plan: RayPlan, settings: Settings, progress: bool) -> Iterator[dict]:
    """Stream the actors' output back to the driver, batch by batch."""
    from tqdm import tqdm

    # Longest documents first, so that a batch holds passages of similar length (less padding), as the
    # in-process build's length-sorted batches do; rows put them back in order.
    order = sorted(range(len(docs)), key=lambda i: -len(docs[i].text))
    items = [{"row": i, "doc": json.dumps(dataclasses.asdict(docs[i]), ensure_ascii=False)} for i in order]
    per_batch = max(1, int(settings.ray_docs_per_batch))
    dataset = ray.data.from_items(items, override_num_blocks=min(-(-len(items) // per_batch), 1000))
    dataset = dataset.map_batches(
        _encoder_for(settings), batch_size=per_batch, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.workers), num_cpus=plan.cpus, num_gpus=plan.gpus or None)
    with tqdm(total=len(docs), unit="document", desc="embedding (ray)", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            bar.update(len(np.unique(batch["row"])))  # an actor's call returns its documents whole
            yield batch


def _assemble(docs: list[Document], batches: Iterator[dict], dim: int) -> tuple[list[list[Passage]], np.ndarray]:
    """Passages and vectors back in document and passage order."""
    found: list[tuple[int, int, Passage, np.ndarray]] = []
    for batch in batches:
        for row, n, passage, vector in zip(batch["row"], batch["n"], batch["passage"], batch["vector"]):
            passage_id, title, text, start, end = json.loads(passage)
            doc = docs[int(row)]
            found.append((int(row), int(n), Passage(passage_id, doc.doc_id, int(n), title, text, start, end),
                          vector))
    found.sort(key=lambda item: (item[0], item[1]))
    cut: list[list[Passage]] = [[] for _ in docs]
    for row, _n, passage, _v in found:
        cut[row].append(passage)
    vectors = np.array([v for *_rest, v in found], np.float32).reshape(len(found), dim)
    return cut, vectors


@contextlib.contextmanager
def _session(ray, settings: Settings):
    """Connect to the cluster named by ``settings.ray`` (``local``: start one here); a Ray already
    initialised in this process is used as it is and left running."""
    if ray.is_initialized():
        yield
        return
    try:
        if settings.ray.strip().lower() in _LOCAL_WORDS:
            start_local(ray, settings.ray_local_cpus or os.cpu_count() or 1)
        else:
            logger.info("  connecting to the Ray cluster at %s", settings.ray)
            ray.init(address=settings.ray, runtime_env={"py_modules": _packages()}, **_QUIET_INIT)
    except ConnectionError as err:
        raise SangamError(f"cannot connect to the Ray cluster at {settings.ray}: {str(err)[:200]}",
                          "start one with `ray start --head`, or give --ray without an address for a "
                          "local instance") from None
    try:
        yield
    finally:
        ray.shutdown()


_QUIET_INIT = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}


def start_local(ray, cpus: int) -> None:
    """A Ray instance on this machine with ``cpus`` CPUs. Its workers run at the driver's priority: Ray
    starts them at niceness 15, which on a shared machine hands their cores to everything else."""
    ray.init(address="local", num_cpus=cpus, _system_config={"worker_niceness": 0}, **_QUIET_INIT)


def _packages() -> list[str]:
    """The code a remote cluster's workers need (its Python packages must be installed there)."""
    import search

    return [str(Path(search.__file__).parent), str(Path(__file__).parent)]


def _quiet(ray) -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part used
    except ImportError:
        raise SangamError("the Ray build needs Ray, which is not installed", INSTALL_HINT) from None
    return ray

