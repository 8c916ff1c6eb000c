"""Packed posting blocks: every id gap and weight comes back exactly, in the narrowest width that fits."""

from __future__ import annotations

import numpy as np
import pytest

from search.whoosh_adapter import pack_ids, pack_weights, unpack_ids, unpack_weights


@pytest.mark.parametrize("ids,width", [
    ([0, 1, 2, 255], 1),
    ([7, 300, 301], 2),
    ([3, 70_000, 70_001, 4_000_000_000], 4),
    ([5], 1),
])
def test_ids_round_trip_in_the_narrowest_width(ids, width):
    raw = pack_ids(ids)
    assert len(raw) == 1 + width * len(ids)
    assert unpack_ids(raw).tolist() == ids


def test_ids_must_increase():
    with pytest.raises(ValueError, match="increase"):
        pack_ids([5, 3])


@pytest.mark.parametrize("weights,form", [
    ([1.0, 1.0, 1.0], type(None)),
    ([2.0, 2.0], float),
    ([1.0, 3.0, 255.0], bytes),
    ([1.0, 300.0], bytes),
    ([0.5, 1.25, 2.0], bytes),
    ([1.0, 70_000.0], bytes),
])
def test_weights_round_trip(weights, form):
    raw = pack_weights(weights)
    assert isinstance(raw, form)
    back = unpack_weights(raw, len(weights))
    assert back.dtype == np.float32 and back.tolist() == weights


def test_whole_frequencies_take_one_byte_each():
    assert len(pack_weights([1.0, 2.0, 9.0, 1.0])) == 1 + 4
    assert len(pack_weights([1.0, 2.0, 999.0])) == 1 + 2 * 3
    assert len(pack_weights([1.0, 2.5])) == 1 + 4 * 2


def test_w3_forms_still_read():
    """Blocks that Whoosh's plain W3 codec wrote hold tuples of Python numbers."""
    assert unpack_weights((1.0, 2.0, 3.5), 3).tolist() == [1.0, 2.0, 3.5]
    assert unpack_weights(None, 2).tolist() == [1.0, 1.0]
    assert unpack_weights(4.0, 2).tolist() == [4.0, 4.0]


@pytest.mark.parametrize("raw", [b"", b"Zabc", b"H\x01\x02\x03", b"I\x00\x00"])
def test_a_corrupt_block_is_a_clear_error(raw):
    with pytest.raises(ValueError, match="corrupt posting block"):
        unpack_ids(raw)


def test_a_block_with_the_wrong_number_of_weights_is_a_clear_error():
    with pytest.raises(ValueError, match="3 weights for 4 ids"):
        unpack_weights(pack_weights([1.0, 2.0, 3.0]), 4)


def test_whoosh_private_parts_are_used_only_by_the_adapter():
    """Whoosh's internals (codec classes, matcher privates, weighting privates) are read in one module."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    offenders = []
    for pkg in ("search", "index", "web", "sangam"):
        for path in (root / pkg).rglob("*.py"):
            if path.name == "whoosh_adapter.py":
                continue
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh.codec"):
                    offenders.append(f"{path.name}: imports {node.module}")
                if isinstance(node, ast.Attribute) and node.attr in ("_read_data", "_byteids", "_blocklength",
                                                                    "_next_block", "_field_B", "_mini_ids",
                                                                    "_read_weights", "_read_ids"):
                    offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
    assert offenders == []
