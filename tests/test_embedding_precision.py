"""Passage precision choice: bf16 with native CPU support and cosine ≥ 0.999 to fp32, int8 only when forced
and cosine ≥ 0.99; CPU kinds passed in, never read from this machine."""

import pytest

from search.errors import ModelError, SangamError
from search.precision import (FIDELITY, INT8_FIDELITY, QUERY_THREADS, CpuKind, candidates, check_precision,
                              choose_precision, cpu_has_fast_int8, cpu_has_native_bf16, query_threads,
                              resolve_threads)
from search.query_embedder import passage_precision
from search.settings import Settings

AVX2 = CpuKind(native_bf16=False, fast_int8=False)
AMX = CpuKind(native_bf16=True, fast_int8=True)
BF16_ONLY = CpuKind(native_bf16=True, fast_int8=False)


@pytest.mark.parametrize("requested,native,cosine,expected", [
    ("auto", False, None, "fp32"),
    ("auto", True, 0.9995, "bf16"),
    ("auto", True, 0.998, "fp32"),
    ("auto", True, None, "fp32"),
    ("fp32", True, 1.0, "fp32"),
    ("bf16", False, 0.9999, "bf16"),
    ("bf16", False, 0.99, "fp32"),
])
def test_choose_bf16(requested, native, cosine, expected):
    assert choose_precision(requested, native, cosine) == expected


@pytest.mark.parametrize("requested,cpu,bf16,int8,expected", [
    ("auto", AMX, 0.9995, 0.997, "bf16"),  # auto never picks int8 (it failed the dev nDCG bar)
    ("auto", AMX, None, 0.999, "fp32"),
    ("auto", AVX2, 0.9999, 0.999, "fp32"),  # neither is native here: never measured, never chosen
    ("int8", AVX2, None, 0.997, "int8"),  # forced: on any CPU, still only when faithful
    ("int8", AVX2, None, 0.95, "fp32"),
    ("int8", AMX, None, None, "fp32"),  # could not run (no ONNX graph)
    ("fp32", AMX, 1.0, 1.0, "fp32"),
])
def test_choose_int8(requested, cpu, bf16, int8, expected):
    assert choose_precision(requested, cpu.native_bf16, bf16, cpu.fast_int8, int8) == expected


def test_fidelity_thresholds_are_inclusive():
    assert choose_precision("auto", True, FIDELITY) == "bf16"
    assert choose_precision("int8", False, None, False, INT8_FIDELITY) == "int8"


@pytest.mark.parametrize("requested,cpu,expected", [
    ("auto", AMX, ["bf16"]), ("auto", BF16_ONLY, ["bf16"]), ("auto", AVX2, []),
    ("fp32", AMX, []), ("bf16", AVX2, ["bf16"]), ("int8", AVX2, ["int8"]),
])
def test_what_is_measured(requested, cpu, expected):
    assert candidates(requested, cpu) == expected


def test_unknown_precision_is_one_clear_error():
    with pytest.raises(ModelError, match="SANGAM_PRECISION") as err:
        check_precision("fp64")
    assert "int8" in str(err.value)
    with pytest.raises(ModelError):
        choose_precision("int4", True, 1.0)


@pytest.mark.parametrize("flags,bf16,int8", [
    ({"avx2", "fma"}, False, False),
    ({"avx512f", "avx512_bf16"}, True, False),
    ({"amx_bf16", "amx_tile", "amx_int8"}, True, True),
    ({"avx2", "avx_vnni"}, False, True),
    ({"avx512f", "avx512_vnni"}, False, True),
])
def test_cpu_kind_from_flags(flags, bf16, int8):
    assert cpu_has_native_bf16(flags) is bf16 and cpu_has_fast_int8(flags) is int8


@pytest.mark.parametrize("recorded,setting,cpu,expected", [
    ("bf16", "auto", AVX2, "bf16"),  # the index's manifest wins: nothing is measured
    ("int8", "fp32", AVX2, "int8"),
    (None, "bf16", AVX2, "bf16"),  # an index without one: the forced setting
    (None, "auto", AVX2, "fp32"),  # auto can only mean fp32 on this CPU
    (None, "auto", AMX, "auto"),  # left to a build, which measures
])
def test_a_query_only_process_reads_the_passage_precision(recorded, setting, cpu, expected):
    assert passage_precision(Settings(precision=setting), recorded, cpu) == expected


def test_threads_follow_the_setting_or_the_cores():
    assert resolve_threads(3) == 3 and query_threads(3) == 3
    assert resolve_threads(0) >= 1
    assert 1 <= query_threads(0) <= QUERY_THREADS


@pytest.mark.parametrize("value", ["-1", "two"])
def test_a_bad_thread_count_is_one_clear_error(monkeypatch, value):
    monkeypatch.setenv("SANGAM_THREADS", value)
    with pytest.raises(SangamError, match="SANGAM_THREADS"):
        Settings.from_env()


def test_thread_count_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANGAM_THREADS", "2")
    assert Settings.from_env().threads == 2


def test_the_device_comes_from_the_environment_and_a_bad_one_is_one_clear_error(monkeypatch):
    from search.embedding import check_device

    assert Settings().device == "cpu"
    monkeypatch.setenv("SANGAM_DEVICE", " CUDA:1 ")
    assert Settings.from_env().device == "cuda:1"
    assert check_device("cpu") == "cpu"
    with pytest.raises(ModelError, match="unknown device 'tpu'") as err:
        check_device("tpu")
    assert "SANGAM_DEVICE" in err.value.fix


def test_a_gpu_device_is_checked_against_what_torch_sees():
    import torch

    from search.embedding import check_device

    if torch.cuda.is_available():  # a GPU machine: its first GPU is usable, one past the last is not
        assert check_device("cuda") == "cuda"
    else:
        with pytest.raises(ModelError, match="torch sees 0 GPU") as err:
            check_device("cuda")
        assert "SANGAM_DEVICE=cpu" in err.value.fix
    with pytest.raises(ModelError, match="GPU"):
        check_device(f"cuda:{torch.cuda.device_count()}")


def test_on_a_gpu_passages_take_torch_and_int8_is_refused():
    """The GPU path's decisions, without a GPU: no CPU graph for passages; int8 (ONNX Runtime) refused."""
    from search.embedding import Embedder
    from search.encoders import ModelIdentity

    gpu = Embedder(None, ModelIdentity("m", "f" * 64, 4, "query: ", "passage: ", 16))
    gpu.device, gpu.precision = "cuda", "bf16"
    assert gpu._passage_encoder() is None and gpu.passage_runtime == "torch"
    with pytest.raises(ModelError, match="int8 passages run on ONNX Runtime") as err:
        gpu._tune(Settings(device="cuda", precision="int8"))
    assert "fp32 or bf16" in err.value.fix
