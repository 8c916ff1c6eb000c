"""Encoding on ONNX Runtime: tokenise, look up word embeddings (numpy), run the graph, mean-pool, normalise.

Only for the standard layout (a Hugging Face transformer, mean pooling, normalisation; ``Embedder`` checks
it). The graph (``search/onnx_export.py``) takes ``inputs_embeds``, an additive attention bias and
position ids, so that several texts can share one row (:meth:`OnnxEncoder.encode_packed`): a query's
expansion words cost their few tokens (~3 ms), not a pass of their own (~10 ms).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

from . import onnx_export
from .unigram import pad_batch

#: The additive attention bias of a key a token must not see.
MASKED = np.finfo(np.float32).min


def normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxEncoder:
    """One graph in one ONNX Runtime session, with the model's tokenizer and word-embedding table."""

    #: Tokens (rows × padded length) per batch in :meth:`encode_many`: 8 passages of ~200 tokens, which
    #: beat 16 and 32 (``bench/embed.py``), or a few hundred short words.
    BATCH_TOKENS = 1600

    def __init__(self, session, tokenizer, word_embeddings: np.ndarray, max_length: int,
                 path: Path | None = None, threads: int = 1):
        self.session = session
        self.tokenizer = tokenizer
        self.word_embeddings = word_embeddings
        self.max_length = max_length
        self.path = path
        self.threads = threads

    def with_graph(self, path: Path, spinning: bool, threads: int) -> "OnnxEncoder":
        """The same tokenizer and table over another graph (the int8 copy), or the same graph in a session
        whose threads busy-wait (``spinning``: for bulk work, where nothing else needs the cores)."""
        return type(self)(onnx_export.session(path, spinning, threads), self.tokenizer,
                          self.word_embeddings, self.max_length, path, threads)

    def encode_many(self, texts: list[str], prompt: str) -> np.ndarray:
        """Many texts in padded batches of about :data:`BATCH_TOKENS` tokens, similar lengths together."""
        lengths = [len(ids) for ids in self.tokenizer([prompt + t for t in texts], truncation=True,
                                                        max_length=self.max_length)["input_ids"]]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        out = np.zeros((len(texts), self.word_embeddings.shape[1]), np.float32)
        start = 0
        while start < len(order):
            rows = max(1, self.BATCH_TOKENS // lengths[order[start]])  # the longest text comes first
            batch = order[start:start + rows]
            out[batch] = self.encode([texts[i] for i in batch], prompt)
            start += len(batch)
        return out

    def encode(self, texts: list[str], prompt: str) -> np.ndarray:
        """One padded batch: each text alone in its row."""
        enc = self.tokenizer([prompt + t for t in texts], padding=True, truncation=True,
                             max_length=self.max_length, return_tensors="np")
        ids = enc["input_ids"]
        valid = enc["attention_mask"].astype(bool)
        rows, length = ids.shape
        bias = np.where(valid[:, None, None, :], 0.0, MASKED).astype(np.float32)
        bias = np.ascontiguousarray(np.broadcast_to(bias, (rows, 1, length, length)))
        positions = np.broadcast_to(np.arange(length, dtype=np.int64), (rows, length))
        hidden = self._run(ids, bias, positions)
        weights = valid[..., None].astype(np.float32)
        return normalized((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))

    def encode_packed(self, items: Sequence[tuple[str, str]]) -> np.ndarray:
        """Several (prompt, text) pairs in one row, each attending only to itself and numbered from 0.

        The result equals encoding each alone (tested), at the cost of their tokens only: no padding,
        and one pass over the weights. Used to embed a query and its new expansion words together.
        """
        pieces = self.tokenizer([prompt + text for prompt, text in items], truncation=True,
                                max_length=self.max_length)["input_ids"]
        ids = np.fromiter((i for piece in pieces for i in piece), dtype=np.int64)[None]
        segment = np.repeat(np.arange(len(pieces)), [len(p) for p in pieces])
        positions = np.concatenate([np.arange(len(p), dtype=np.int64) for p in pieces])[None]
        bias = np.where(segment[:, None] == segment[None, :], 0.0, MASKED).astype(np.float32)[None, None]
        hidden = self._run(ids, bias, positions)[0]
        sums = np.zeros((len(pieces), hidden.shape[1]), np.float32)
        np.add.at(sums, segment, hidden)
        return normalized(sums / np.array([len(p) for p in pieces], np.float32)[:, None])

    def _run(self, ids: np.ndarray, bias: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"inputs_embeds": self.word_embeddings[ids], "attention_bias": bias,
                                       "position_ids": np.ascontiguousarray(positions)})[0]


class FastTokenizer:
    """What :class:`OnnxEncoder` asks of a transformers tokenizer, on the ``tokenizers`` library: the
    same backend (written out by transformers), special tokens added, truncated to ``max_length``.

    Loading it takes ~0.9 s (``tokenizers`` builds the Unigram trie of 250k pieces, holding the GIL), so a
    query-only process uses :class:`search.unigram.UnigramTokenizer` where it can, and this only for
    texts that hold a special token, or where the tables are missing.
    """

    def __init__(self, path: Path, max_length: int, pad_token: str):
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length)
        self.max_length = max_length
        pad = self._tokenizer.token_to_id(pad_token)
        if pad is None:
            raise ValueError(f"the tokenizer has no pad token {pad_token!r}")
        self._pad = pad

    def __call__(self, texts: list[str], padding: bool = False, truncation: bool = False,
                 max_length: int | None = None, return_tensors: str | None = None) -> dict:
        if not truncation or max_length != self.max_length:
            raise ValueError("only truncation to the model's max_length is supported")
        return pad_batch([e.ids for e in self._tokenizer.encode_batch(list(texts))], self._pad, padding,
                         return_tensors)


def safetensors_array(path: Path, name: str) -> np.ndarray:
    """One float32 tensor of a safetensors file, memory-mapped (no copy, no torch)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    entry = header[name]
    if entry["dtype"] != "F32":
        raise ValueError(f"{name} is {entry['dtype']}, not F32")
    start, end = entry["data_offsets"]
    shape = tuple(entry["shape"])
    if end - start != 4 * int(np.prod(shape)):
        raise ValueError(f"{name} has {end - start} bytes for shape {shape}")
    return np.memmap(path, dtype="<f4", mode="r", offset=8 + size + start, shape=shape)
