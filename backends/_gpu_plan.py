"""Planning for the ``cupy`` backend, kept free of CuPy so it is tested on any machine.

Which algorithm of ``_generic`` a call runs on the GPU, and its predicted
time, from the spec alone:

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

from arrayconv.shape import ConvSpec

__all__ = ["cost_terms", "uses_fft", "is_cuda_device"]


def is_cuda_device(device: str) -> bool:
    """Whether a device name (as the frontend reports it) is a CUDA GPU."""
    text = device.lower()
    return "cuda" in text or text.startswith("gpu")


def _width(spec: ConvSpec) -> int:
    """Cost of a multiply-add relative to float32's (double: 2, complex: 4 more)."""
    return {"float32": 1, "float64": 2, "complex64": 4, "complex128": 8}[spec.compute_dtype]


def _taps_terms(spec: ConvSpec) -> dict[str, float]:
    return {"cupy_call": 1.0, "cupy_launch": float(spec.kernel_size), "cupy_mac": float(spec.macs * _width(spec))}


def _fft_terms(spec: ConvSpec) -> dict[str, float]:
    padded = spec.padded_length
    n = 1 << max(1, (padded - 1).bit_length())
    # forward transforms of the input rows and the weights, inverse of the outputs
    rows = spec.batch * spec.in_channels + spec.output_channels * spec.in_channels_per_group + spec.batch * spec.output_channels
    points = rows * n * math.log2(n) * _width(spec)
    contraction = spec.batch * spec.output_channels * spec.in_channels_per_group * (n // 2 + 1) * 4 * _width(spec)
    return {"cupy_call": 1.0, "cupy_launch": 8.0, "cupy_fft_point": points, "cupy_mac": float(contraction)}


def uses_fft(spec: ConvSpec, constants: dict[str, float]) -> bool:
    """Whether the fft algorithm is predicted faster than the per-tap matmuls."""
    return predict(_fft_terms(spec), constants) < predict(_taps_terms(spec), constants)


def predict(terms: dict[str, float], constants: dict[str, float]) -> float:
    return sum(amount * constants.get(name, 0.0) for name, amount in terms.items())


def cost_terms(spec: ConvSpec, constants: dict[str, float]) -> dict[str, float]:
    """The terms of the algorithm the backend would run."""
    return _fft_terms(spec) if uses_fft(spec, constants) else _taps_terms(spec)
