"""Passage precision (fp32, bf16, int8) and thread counts, chosen per CPU; every choice can be forced.

* **bf16** (torch autocast) only where the CPU computes it natively (AMX or AVX512-BF16); elsewhere it
  is emulated and slower than fp32.
* **int8** (ONNX Runtime dynamic quantization of the fused graph's MatMuls, per channel) only when forced:
  1.9x fp32's passages/s, but dev nDCG@10 of English hybrid fell 0.0145 (``bench/results/precision.md``;
  the bar for ``auto`` is 0.003), so ``auto`` never picks it. :func:`cpu_has_fast_int8` tells where it
  would be fast (VNNI, AMX-INT8; without them ONNX Runtime's u8s8 kernels can saturate).
* Either is used only when its vectors keep a least cosine to fp32 on :data:`FIDELITY_SAMPLE`.

``SANGAM_PRECISION`` = ``auto`` | ``fp32`` | ``bf16`` | ``int8`` forces one (the fidelity still applies).
The choice is recorded in the index manifest (``model.precision``); a query-only process reads it from
there instead of measuring it again, which would need torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ModelError

PRECISIONS = ("fp32", "bf16", "int8")
#: Least cosine to fp32 torch that bf16 passages must keep on the fixed sample.
FIDELITY = 0.999
#: Least cosine to fp32 that int8 passages must keep on the fixed sample (they keep ~0.997 with the
#: built-in model; the retrieval cost of that is measured, not assumed: ``bench/precision.py``).
INT8_FIDELITY = 0.99
#: Least cosine to torch that the ONNX Runtime query encoder must keep on the fixed sample.
QUERY_FIDELITY = 0.9999
#: Fixed sample for fidelity checks: queries and passage-length text, Hindi and English.
FIDELITY_SAMPLE = (
    "उत्तर कोरिया रूस संधि",
    "election commission of India",
    "भारत के प्रधानमंत्री ने संसद में नए विधेयक पर चर्चा की और कहा कि सरकार किसानों की आय दोगुनी करने के लिए "
    "प्रतिबद्ध है। विपक्ष ने इस पर सवाल उठाए और सदन से बहिर्गमन किया। " * 3,
    "The monsoon arrived early in Kerala this year, and the meteorological department forecast above-normal "
    "rainfall for most of the country, which farmers welcomed. " * 3,
)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """True where the CPU computes bf16 natively (AMX or AVX512-BF16); elsewhere bf16 is emulated and slower."""
    return bool((cpu_flags() if flags is None else flags) & {"amx_bf16", "avx512_bf16"})


def cpu_has_fast_int8(flags: set[str] | None = None) -> bool:
    """True where the CPU has int8 dot products (AVX512-VNNI, AVX-VNNI or AMX-INT8)."""
    return bool((cpu_flags() if flags is None else flags) & {"avx512_vnni", "avx_vnni", "amx_int8"})


@dataclass(frozen=True)
class CpuKind:
    """What the precision choice needs to know about a CPU (tests pass one instead of reading this CPU)."""

    native_bf16: bool
    fast_int8: bool

    @classmethod
    def detect(cls) -> "CpuKind":
        flags = cpu_flags()
        return cls(cpu_has_native_bf16(flags), cpu_has_fast_int8(flags))


def check_precision(requested: str) -> str:
    """``requested`` if it names a precision (or ``auto``), else one clear error naming the setting."""
    if requested not in ("auto", *PRECISIONS):
        raise ModelError(f"unknown precision {requested!r}", "set SANGAM_PRECISION to auto, fp32, bf16 or int8")
    return requested


def candidates(requested: str, cpu: CpuKind) -> list[str]:
    """The faster precisions worth measuring for ``requested``, best first (fp32 is always the fallback).

    ``auto`` measures bf16 where the CPU has it natively, and never int8 (it failed the dev nDCG bar:
    module docstring); an explicit ``bf16`` or ``int8`` is measured on any CPU.
    """
    check_precision(requested)
    if requested == "fp32":
        return []
    if requested != "auto":
        return [requested]
    return [p for p, ok in (("bf16", cpu.native_bf16),) if ok]


def choose_precision(requested: str, native_bf16: bool, bf16_cosine: float | None,
                     fast_int8: bool = False, int8_cosine: float | None = None) -> str:
    """The precision to encode passages in, given the measured cosines (None: not measured).

    A faster precision is used only when its vectors kept the fidelity to fp32 (a model whose vectors
    drift is never used in it, even when asked for).
    """
    cosines = {"bf16": (bf16_cosine, FIDELITY), "int8": (int8_cosine, INT8_FIDELITY)}
    for precision in candidates(requested, CpuKind(native_bf16, fast_int8)):
        cosine, least = cosines[precision]
        if cosine is not None and cosine >= least:
            return precision
    return "fp32"


def default_threads() -> int:
    """Intra-op threads for ONNX Runtime and torch: the cores this process may run on (its affinity,
    which containers and ``taskset`` narrow; ``os.cpu_count()`` counts the whole machine)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores)


def resolve_threads(setting: int) -> int:
    """``Settings.threads`` (``SANGAM_THREADS``) for bulk work (passages): 0 means :func:`default_threads`."""
    return int(setting) if int(setting) > 0 else default_threads()


#: Most intra-op threads a single query's pass gets by default: a query is a dozen tokens, and splitting
#: its small matrices over more threads costs more in hand-offs than it saves (``bench/embed.py``).
QUERY_THREADS = 4


def query_threads(setting: int) -> int:
    """Threads for the query session: the setting when given, else the cores up to :data:`QUERY_THREADS`."""
    return int(setting) if int(setting) > 0 else min(default_threads(), QUERY_THREADS)
