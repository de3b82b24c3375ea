"""The constants of the built-in backends' cost models.

Each built-in backend describes a call by a few *cost terms* (how many
multiply-accumulates, transform points, copied samples ... it will do, per
thread) and predicts its time as the sum of each term times a constant in
seconds.  The defaults below were fitted by ``python -m arrayconv tune`` on
the machine described in docs/benchmarks.md; ``tune`` fits them again on
yours and writes them to the ``[routing]`` table of the config file, and any
layer of :mod:`arrayconv.config` may set some of them.

Examples
--------
>>> predict({"direct_call": 1.0, "direct_gemm_mac": 1e9}, DEFAULTS) > 0
True
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

__all__ = ["DEFAULTS", "TERMS", "current", "constants", "predict"]

# What one unit of each term is.
TERMS: dict[str, str] = {
    "direct_call": "fixed cost of a direct call",
    "direct_gemm_mac": "a float32 multiply-accumulate on the tiled/GEMM path, per thread",
    "direct_loops_mac": "a float32 multiply-accumulate on the row-loops path, per thread",
    "fft_call": "fixed cost of an fft call",
    "fft_transform": "n*log2(n)/2 of a real float32 transform of length n (complex: 2x), per thread, MKL",
    "fft_pocketfft_transform": "the same with SciPy's pocketfft (the engine where mkl-fft is absent), copy included",
    "fft_copy": "a float32 sample framed in, or placed out, per thread",
    "fft_contract_gemm_mac": "a complex64 multiply-accumulate of the GEMM contraction, per thread",
    "fft_contract_tiles_mac": "a complex64 multiply-accumulate of the tiled contraction, per thread",
    "fft_frames_call": "fixed cost of an fft call on the whole-frame path (MKL; stride 1, one channel a group)",
    "fft_frames_transform": ("fft_transform's unit on the whole-frame path (each frame on one thread), its "
                             "framing, product and placing included, per thread"),
    "array_api_call": "fixed cost of an array_api call",
    "array_api_mac": "a float32 multiply-accumulate of the generic backend (its fallback role: priced high)",
    "cupy_call": "fixed cost of a cupy call",
    "cupy_launch": "a GPU kernel launch of the cupy backend",
    "cupy_mac": "a float32 multiply-accumulate on the GPU (matmul)",
    "cupy_fft_point": "n*log2(n) of a float32 cuFFT transform of length n",
}

# Seconds per unit, fitted by `python -m arrayconv tune --rounds 5` (2 threads,
# the 2-core AMD EPYC Zen 3 of docs/benchmarks.md, 2026-12-07, after the
# direct backend's own kernel took layers of 3 to 7 output channels and its
# row loops got faster; median prediction error 10% direct, 15% fft). The
# copies fitted at zero (nnls; tune writes a fitted zero as a tiny positive
# value, constants being positive): on this machine the transform terms
# absorb them. The sweep never reaches the fft's GEMM contraction (groups of 512 x
# 512 and more), which measured as fast as the tiled one there: same constant.
DEFAULTS: dict[str, float] = {
    "direct_call": 6.66e-6,
    "direct_gemm_mac": 3.07e-11,
    "direct_loops_mac": 3.63e-11,
    "fft_call": 7.71e-5,
    "fft_transform": 7.82e-10,
    # pocketfft measured 1.3-1.5x MKL's time per transform (tune on both engines,
    # Zen 3, and lengths 1024-4096 on one thread; docs/benchmarks.md): 1.39x
    "fft_pocketfft_transform": 1.09e-9,
    "fft_copy": 2.24e-15,
    "fft_contract_gemm_mac": 1.56e-9,
    "fft_contract_tiles_mac": 1.56e-9,
    # the whole-frame path (its framing, products and placing folded into the
    # transform term); the fixed cost is the Python path around one parallel region
    "fft_frames_call": 1.02e-4,
    "fft_frames_transform": 3.66e-10,
    # the generic backend is a fallback: priced so that a dedicated backend
    # able to run a call is always cheaper
    "array_api_call": 1e-3,
    "array_api_mac": 1e-9,
    # nominal figures for a data-centre GPU (about 20 TFLOP/s float32 matmul,
    # 10 us per launch), not yet measured: tune fits the CPU backends only
    "cupy_call": 3e-5,
    "cupy_launch": 1e-5,
    "cupy_mac": 1e-13,
    "cupy_fft_point": 2e-12,
}

# The prefixes of the built-in backends: a routing name with one of them must
# be one of DEFAULTS (a typo is an error); other names are left to plug-ins.
BUILTIN_PREFIXES = ("direct_", "fft_", "array_api_", "cupy_")


def current(overrides: Mapping[str, float]) -> dict[str, float]:
    """The defaults with the configured ``routing`` table over them."""
    merged = dict(DEFAULTS)
    merged.update(overrides)
    return merged


def predict(terms: Mapping[str, float], constants: Mapping[str, float]) -> float:
    """Predicted seconds: each term times its constant (terms without one count 0)."""
    return sum(amount * constants.get(name, 0.0) for name, amount in terms.items())


@functools.lru_cache(maxsize=64)
def constants(routing_key: tuple[tuple[tuple[str, float], ...], ...]) -> dict[str, float]:
    """The defaults with each layer of :func:`arrayconv.config.routing_key` over them (cached).

    The result is shared: do not modify it.
    """
    merged = dict(DEFAULTS)
    for layer in routing_key:
        merged.update(layer)
    return merged
