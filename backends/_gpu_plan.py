"""Planning for the ``cupy`` backend, kept free of CuPy so it is tested on any machine.

Which algorithm a call runs on the GPU, and its predicted time, from the
spec alone:

``fused``
    the grouped direct kernel below (an ElementwiseKernel), for depthwise
    and few-channel groups, where matmuls of 1 x 1 matrices would waste the GPU;
``taps``
    one cuBLAS batched matmul per tap on strided views of the padded input;
    costs a kernel launch per tap plus the multiply-adds.
``fft``
    cuFFT on whole padded rows and one batched matmul per frequency; costs
    the transforms and the contraction.

The constants (``cupy_*`` in :mod:`arrayconv.routing`) are nominal figures
for a current data-centre GPU, not yet measured on one: ``python -m
arrayconv tune`` fits the CPU backends only.
"""

from __future__ import annotations

import math

from arrayconv.dtypes import COST_WIDTH
from arrayconv.records import ConvSpec
from arrayconv.routing import predict

__all__ = ["cost_terms", "algorithm", "is_cuda_device", "GROUPED_DIRECT_PARAMS", "GROUPED_DIRECT_BODY"]

# The fused kernel for layers whose per-group matrices are too small for a
# matmul to pay (depthwise and few channels per group): one thread per output
# element, summing its group's channels and taps from the padded input.  The
# body is C shared by CuPy's ElementwiseKernel (``i`` is the flat output index,
# ``T`` the dtype) and by the CPU test that checks its index arithmetic.
GROUPED_DIRECT_PARAMS = (
    "raw T xp, raw T w, int64 cin_g, int64 cout_g, int64 cin_total, int64 padded, "
    "int64 ksize, int64 stride, int64 dilation, int64 length_out, int64 cout"
)
GROUPED_DIRECT_BODY = """
    const long long t = i % length_out;
    const long long o = (i / length_out) % cout;
    const long long n = i / (length_out * cout);
    const long long g = o / cout_g;
    T acc = 0;
    for (long long c = 0; c < cin_g; ++c) {
        const long long row = (n * cin_total + g * cin_g + c) * padded + t * stride;
        const long long taps = (o * cin_g + c) * ksize;
        for (long long k = 0; k < ksize; ++k) {
            acc += w[taps + k] * xp[row + k * dilation];
        }
    }
    y = acc;
"""
# per-group matrices up to this many entries run the fused kernel
FUSED_MAX_ENTRIES = 16


def is_cuda_device(device: str) -> bool:
    """Whether a device name (as the frontend reports it) is a CUDA GPU."""
    text = device.lower()
    return "cuda" in text or text.startswith("gpu")


def _taps_terms(spec: ConvSpec) -> dict[str, float]:
    return {"cupy_call": 1.0, "cupy_launch": float(spec.kernel_size), "cupy_mac": float(spec.macs * COST_WIDTH[spec.compute_dtype])}


def _fft_terms(spec: ConvSpec) -> dict[str, float]:
    padded = spec.padded_length
    n = 1 << max(1, (padded - 1).bit_length())
    # forward transforms of the input rows and the weights, inverse of the outputs
    rows = spec.batch * spec.in_channels + spec.output_channels * spec.in_channels_per_group + spec.batch * spec.output_channels
    points = rows * n * math.log2(n) * COST_WIDTH[spec.compute_dtype]
    contraction = spec.batch * spec.output_channels * spec.in_channels_per_group * (n // 2 + 1) * 4 * COST_WIDTH[spec.compute_dtype]
    return {"cupy_call": 1.0, "cupy_launch": 8.0, "cupy_fft_point": points, "cupy_mac": float(contraction)}


def _fused_terms(spec: ConvSpec) -> dict[str, float]:
    return {"cupy_call": 1.0, "cupy_launch": 2.0, "cupy_mac": float(spec.macs * COST_WIDTH[spec.compute_dtype])}


def algorithm(spec: ConvSpec, constants: dict[str, float]) -> str:
    """``"fused"``, ``"taps"`` or ``"fft"``: the predicted fastest for the call."""
    small_groups = spec.in_channels_per_group * spec.out_channels_per_group <= FUSED_MAX_ENTRIES
    direct = _fused_terms(spec) if small_groups else _taps_terms(spec)
    if predict(_fft_terms(spec), constants) < predict(direct, constants):
        return "fft"
    return "fused" if small_groups else "taps"


def uses_fft(spec: ConvSpec, constants: dict[str, float]) -> bool:
    """Whether the fft algorithm is predicted fastest."""
    return algorithm(spec, constants) == "fft"


def cost_terms(spec: ConvSpec, constants: dict[str, float]) -> dict[str, float]:
    """The terms of the algorithm the backend would run."""
    chosen = algorithm(spec, constants)
    return {"fft": _fft_terms, "fused": _fused_terms, "taps": _taps_terms}[chosen](spec)
