"""Approximate nearest neighbours for large indexes: an HNSW graph (FAISS) over the passage vectors.

Exact dense search is one float32 matrix-vector product, bound by memory bandwidth: 3.3 ms over 22k
passages, 12.7 ms over 111k on the reference machine (``bench/results/query.md``). From
``AnnConfig.min_passages`` on, where it would cost more than ~5 ms, the builder also writes an HNSW graph
(``vectors.hnsw``, inner product over the same normalised vectors, so its scores are the same cosines)
and records it in the manifest (``ann``); the query service then searches the graph instead. Smaller
indexes, indexes built without ``faiss-cpu`` installed, or a graph that cannot be read are searched
exactly.

Measured over the 111k-passage benchmark index (``bench/ann.py``, ``bench/results/ann.md``): dense search
of the top 300 passages takes ~4.4 ms instead of ~15.8 ms, and keeps 99.1% of exact search's top-10
documents; building the graph takes ~85 s (200 MB).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
FILE = "vectors.hnsw"
#: efSearch, the candidate list while searching (kept at least as large as the number of passages asked
#: for); see :class:`AnnConfig` for what was measured.
EF_SEARCH = 700


@dataclass(frozen=True)
class AnnConfig:
    """When the builder writes a graph, and how it is built."""

    #: Indexes with at least this many passages get a graph: exact search costs ~5 ms at ~35k on 2 cores.
    min_passages: int = 32768
    #: Neighbours per node, and the candidate list while building. Over the 111k-passage benchmark index,
    #: top-10 document agreement with exact search / search time: efC 80 + efS 400 92.7% / 1.7 ms,
    #: efC 200 + efS 400 97.8% / 2.2 ms, efC 200 + efS 700 99.1% / 3.6 ms, efS 1000 99.4% / 5.1 ms.
    m: int = 32
    ef_construction: int = 200


def build(gen: Path, vectors: np.ndarray, config: AnnConfig | None = None) -> dict | None:
    """Write the graph into generation ``gen`` when the index is large enough; what the manifest records."""
    config = config or AnnConfig()
    if len(vectors) < config.min_passages:
        return None
    try:
        import faiss
    except ImportError:
        logger.warning(f"faiss-cpu is not installed: {len(vectors):,} passages will be searched exactly "
                       f"(pip install faiss-cpu, then rebuild, for faster dense search)")
        return None
    logger.info(f"Building the nearest-neighbour graph over {len(vectors):,} passages ...")
    index = faiss.IndexHNSWFlat(vectors.shape[1], config.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.ef_construction
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(gen / FILE))
    return {"kind": "hnsw", "library": "faiss", "m": config.m, "ef_construction": config.ef_construction,
            "passages": int(len(vectors))}


class Graph:
    """A generation's HNSW graph, loaded once; ``search`` is safe from several threads."""

    def __init__(self, index, passages: int):
        self.index = index
        self.passages = passages

    @classmethod
    def open(cls, gen: Path, manifest: dict, passages: int) -> "Graph | None":
        """The graph the manifest records, or None (then search exactly): none recorded, faiss not
        installed, or a file that does not match this generation."""
        info = manifest.get("ann")
        if not info or info.get("kind") != "hnsw" or info.get("passages") != passages:
            return None
        try:
            import faiss

            index = faiss.read_index(str(gen / FILE))
        except (ImportError, RuntimeError, OSError):
            return None
        if index.ntotal != passages:
            return None
        faiss.omp_set_num_threads(1)  # one query at a time: no OpenMP threads spinning beside the encoder
        return cls(index, passages)

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the (about) ``n`` passages nearest ``query`` and their cosines, best first; only
        ``allowed`` rows (a mask), which the graph's walk skips as it goes."""
        import faiss

        n = min(n, self.passages)
        params = faiss.SearchParametersHNSW(efSearch=max(EF_SEARCH, n))
        if allowed is not None:
            bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))  # ``bits`` outlives the search
            params.sel = selector
        sims, rows = self.index.search(np.ascontiguousarray(query, dtype=np.float32)[None], n, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), sims[0][keep]
