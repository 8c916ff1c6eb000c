"""Passage precision choice: bf16 only with native CPU support and cosine ≥ 0.999 to fp32."""

import pytest

from search.embedding import FIDELITY, choose_precision, cpu_has_native_bf16
from search.errors import ModelError


@pytest.mark.parametrize("requested,native,cosine,expected", [
    ("auto", False, None, "fp32"),
    ("auto", True, 0.9995, "bf16"),
    ("auto", True, 0.998, "fp32"),
    ("auto", True, None, "fp32"),
    ("fp32", True, 1.0, "fp32"),
    ("bf16", False, 0.9999, "bf16"),
    ("bf16", False, 0.99, "fp32"),
])
def test_choose_precision(requested, native, cosine, expected):
    assert choose_precision(requested, native, cosine) == expected


def test_fidelity_threshold_is_inclusive():
    assert choose_precision("auto", True, FIDELITY) == "bf16"


def test_unknown_precision_is_an_error():
    with pytest.raises(ModelError):
        choose_precision("int8", True, 1.0)


@pytest.mark.parametrize("flags,expected", [
    ({"avx2", "fma"}, False),
    ({"avx512f", "avx512_bf16"}, True),
    ({"amx_bf16", "amx_tile"}, True),
])
def test_native_bf16_from_cpu_flags(flags, expected):
    assert cpu_has_native_bf16(flags) is expected
