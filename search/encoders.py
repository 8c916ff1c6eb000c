"""What the rest of Sangam asks of an embedding model: the encoder protocols and the one ``describe()``.

Two implementations (``search/embedding.py``):

* ``Embedder`` (the full model, sentence-transformers and torch) is a :class:`PassageEncoder`: index
  builds, Ray actors, ``search model``.
* ``QueryEmbedder`` (``search/query_embedder.py``: the ONNX graph, no torch) is only a
  :class:`QueryEncoder`: ``search query``, ``search serve``, the web page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ModelIdentity:
    """Which model encodes, as an index records it (``manifest.json``, ``model``)."""

    model_id: str
    fingerprint: str
    dim: int
    query_prompt: str
    passage_prompt: str
    max_seq_length: int


def describe(identity: ModelIdentity, precision: str) -> dict:
    """What an index records about the model that built it (the passages' ``precision`` included)."""
    return {
        "id": identity.model_id,
        "fingerprint": identity.fingerprint,
        "dimension": identity.dim,
        "prompts": {"query": identity.query_prompt, "passage": identity.passage_prompt},
        "max_seq_length": identity.max_seq_length,
        "precision": precision,
    }


@runtime_checkable
class QueryEncoder(Protocol):
    """Queries and the short words query expansion embeds beside them."""

    dim: int
    fingerprint: str
    precision: str

    def describe(self) -> dict: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` with the query prompt."""

    def encode_short(self, texts: Sequence[str]) -> np.ndarray:
        """Passage-prompt unit vectors of a few short texts (expansion words)."""

    def encode_query_with_words(self, text: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The query's vector and :meth:`encode_short` vectors of ``words``, in one pass where possible."""


@runtime_checkable
class PassageEncoder(QueryEncoder, Protocol):
    """Everything an index build needs: passages, and the model's token counts for chunking."""

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32,
                        progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def token_ids(self, text: str, prompt: str = "") -> list[int]: ...
