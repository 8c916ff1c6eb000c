"""Every use of Whoosh's private parts, in one place, for the one Whoosh release they were written
against (checked at import: :data:`WHOOSH_VERSION`).

* **The codec** the BM25 index is written with: Whoosh's W3 format with packed posting blocks.
  Whoosh's W3 codec pickles each posting block as a tuple of Python numbers (one int per id delta, one
  float per term frequency), so reading a block builds a thousand Python objects before numpy can see
  them; at 50k documents that decoding was most of a first-time query's BM25 time. This codec keeps
  everything of W3 (files, term dictionary, block headers with their block-max statistics, compression,
  inlining) and changes only how a block's ids and weights are minified: each becomes one ``bytes``
  holding a little-endian array of the narrowest width that fits, behind a one-byte type code. Whoosh's
  own matchers read it (the matcher below unpacks a block into the tuples Whoosh expects), merges
  rewrite it, and segments written by plain W3 still read as before, so an index may mix both.
* **Whole posting blocks into numpy** (:func:`read_matcher`), for ``search/bm25.py``, and the BM25F
  parameters of a weighting (:func:`field_b`).
"""

from __future__ import annotations

from array import array

import numpy as np
import whoosh

#: The Whoosh release whose internals this module reads (pyproject.toml pins it).
WHOOSH_VERSION = (2, 7, 4)
if tuple(whoosh.__version__[:3]) != WHOOSH_VERSION:  # pragma: no cover - the pin keeps it so
    raise ImportError(f"Sangam reads Whoosh {'.'.join(map(str, WHOOSH_VERSION))}'s internals, but Whoosh "
                      f"{whoosh.versionstring()} is installed: pip install 'whoosh=="
                      f"{'.'.join(map(str, WHOOSH_VERSION))}'")

from whoosh.codec.whoosh3 import W3Codec, W3LeafMatcher, W3PostingsWriter  # noqa: E402

#: type code → little-endian numpy dtype of a packed array
_DTYPES = {ord("B"): np.dtype("<u1"), ord("H"): np.dtype("<u2"), ord("I"): np.dtype("<u4"),
           ord("f"): np.dtype("<f4")}


def _pack(values: np.ndarray, code: str) -> bytes:
    return code.encode("ascii") + values.astype(_DTYPES[ord(code)], copy=False).tobytes()


def _unpack(raw: bytes) -> np.ndarray:
    dtype = _DTYPES.get(raw[0]) if raw else None
    if dtype is None or (len(raw) - 1) % dtype.itemsize:
        raise ValueError(f"corrupt posting block in the BM25 index (type byte {raw[:1]!r}, {len(raw)} bytes)")
    return np.frombuffer(raw, dtype=dtype, offset=1)


def pack_ids(ids) -> bytes:
    """Increasing document numbers as their gaps (the first one from 0) in 1, 2 or 4 bytes each."""
    gaps = np.diff(np.asarray(ids, dtype=np.int64), prepend=0)
    if len(gaps) and gaps.min() < 0:
        raise ValueError("posting ids must increase")
    top = int(gaps.max()) if len(gaps) else 0
    return _pack(gaps, "B" if top < 1 << 8 else "H" if top < 1 << 16 else "I")


def unpack_ids(raw: bytes) -> np.ndarray:
    """The document numbers of a :func:`pack_ids` block (int64)."""
    return np.cumsum(_unpack(raw), dtype=np.int64)


def pack_weights(weights):
    """Whoosh's minified weights (None when all are 1, one float when all are equal), else a packed
    array: whole numbers below 65,536 (term frequencies) in 1 or 2 bytes, anything else as float32."""
    values = np.asarray(weights, dtype=np.float32)
    if not len(values) or bool(np.all(values == 1.0)):
        return None
    if bool(np.all(values == values[0])):
        return float(values[0])
    whole = bool(np.all((values >= 0) & (values < 1 << 16) & (values == np.floor(values))))
    if whole:
        return _pack(values, "B" if values.max() < 1 << 8 else "H")
    return _pack(values, "f")


def unpack_weights(raw, count: int) -> np.ndarray:
    """The ``count`` weights of a block as float32, whatever form :func:`pack_weights` (or W3) gave them."""
    if raw is None:
        return np.ones(count, np.float32)
    if isinstance(raw, float):
        return np.full(count, raw, np.float32)
    if isinstance(raw, bytes):
        values = _unpack(raw).astype(np.float32)
    else:
        values = np.asarray(raw, dtype=np.float32)
    if len(values) != count:
        raise ValueError(f"corrupt posting block in the BM25 index ({len(values)} weights for {count} ids)")
    return values


class PackedPostingsWriter(W3PostingsWriter):
    def _mini_ids(self):
        if self._byteids:  # term vectors keep W3's form
            return super()._mini_ids()
        return pack_ids(self._ids)

    def _mini_weights(self):
        return pack_weights(self._weights)


class PackedLeafMatcher(W3LeafMatcher):
    def _read_ids(self):
        if self._data is None:
            self._read_data()
        raw = self._data[0]
        if isinstance(raw, bytes) and not self._byteids:
            self._ids = tuple(unpack_ids(raw).tolist())
        else:
            super()._read_ids()

    def _read_weights(self):
        if self._data is None:
            self._read_data()
        raw = self._data[1]
        if isinstance(raw, bytes):
            self._weights = array("f", unpack_weights(raw, self._blocklength).tobytes())
        else:
            super()._read_weights()


class PackedCodec(W3Codec):
    """W3 with packed blocks (see the module's note); same constructor arguments as ``W3Codec``."""

    def postings_writer(self, dbfile, byteids=False):
        cls = W3PostingsWriter if byteids else PackedPostingsWriter
        return cls(dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression,
                   inlinelimit=self._inlinelimit)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return PackedLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


def field_b(weighting, field: str) -> float:
    """BM25F's length normalisation ``b`` of ``field`` under a Whoosh ``BM25F`` weighting."""
    return float(getattr(weighting, "_field_B", {}).get(field, weighting.B))


def read_matcher(matcher) -> tuple[np.ndarray, np.ndarray]:
    """All ids and weights of a leaf matcher: whole blocks at a time for Whoosh's own codec."""
    ids: list[np.ndarray] = []
    tfs: list[np.ndarray] = []
    if all(hasattr(matcher, a) for a in ("_read_data", "_byteids", "_blocklength", "_next_block", "_atend")):
        # Whoosh's W3 codec: each block's data is a pickled (ids, weights, values) tuple. The project's
        # codec packs ids and weights as machine arrays (:class:`PackedCodec`), which numpy reads as
        # they are; a plain W3 block holds Python numbers, whose id gaps numpy's cumsum undoes (Whoosh's
        # own loop costs about 1 µs a posting).
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            raw_ids, raw_weights = matcher._data[0], matcher._data[1]
            if isinstance(raw_ids, bytes) and not matcher._byteids:
                ids.append(unpack_ids(raw_ids))
            else:
                block = np.asarray(raw_ids, dtype=np.int64)
                ids.append(block if matcher._byteids else np.cumsum(block))
            tfs.append(unpack_weights(raw_weights, matcher._blocklength))
            matcher._next_block()
    else:  # any other matcher (e.g. a term whose postings are inlined in the term info)
        block_ids, block_tfs = [], []
        while matcher.is_active():
            block_ids.append(matcher.id())
            block_tfs.append(matcher.weight())
            matcher.next()
        ids.append(np.asarray(block_ids, dtype=np.int64))
        tfs.append(np.asarray(block_tfs, dtype=np.float32))
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(ids), np.concatenate(tfs)
