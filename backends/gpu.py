"""The ``cupy`` backend: conv1d on NVIDIA GPUs through CuPy (cuBLAS, cuFFT).

Serves CuPy arrays and, through DLPack without a copy, torch CUDA tensors
(the result goes back as a torch tensor on the same device).  The algorithms
are a fused grouped direct kernel for depthwise and few-channel layers, and
those of ``_generic`` run in CuPy's namespace: per-tap batched matmuls
(cuBLAS) for short kernels, cuFFT for long ones, chosen by ``_gpu_plan``.
Importing this module imports CuPy; without it the backend is listed as
unavailable, with the reason.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import cupy  # noqa: F401  (the backend is unavailable without it)
from array_api_compat import cupy as _cupy_xp  # CuPy as an Array API namespace

from arrayconv import config, routing
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _generic, _gpu_plan


_grouped_direct = cupy.ElementwiseKernel(
    _gpu_plan.GROUPED_DIRECT_PARAMS, "T y", _gpu_plan.GROUPED_DIRECT_BODY, "arrayconv_grouped_direct"
)


def _fused(spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
    """The fused grouped direct kernel on the padded input (C-contiguous), plus the bias."""
    padded = cupy.ascontiguousarray(_generic.pad(_cupy_xp, x, spec))
    y = cupy.empty(spec.output_shape, dtype=x.dtype)
    _grouped_direct(
        padded, cupy.ascontiguousarray(w), spec.in_channels_per_group, spec.out_channels_per_group,
        spec.in_channels, padded.shape[2], spec.kernel_size, spec.stride, spec.dilation,
        spec.length_out, spec.output_channels, y,
    )
    return y if b is None else y + b.reshape(1, -1, 1)


def _no_cublas_atomics() -> None:
    """Keep cuBLAS off its atomics-based (run-to-run varying) algorithms on this device's handle.

    It is cuBLAS's default; this undoes another library's choice for the
    shared handle.  cuFFT and the fused kernel are reproducible as they are.
    """
    try:
        from cupy_backends.cuda.libs import cublas

        cublas.setAtomicsMode(cupy.cuda.device.get_cublas_handle(), cublas.CUBLAS_ATOMICS_NOT_ALLOWED)
    except (ImportError, AttributeError):  # a CuPy without the call: cuBLAS's default mode stands
        pass


class CupyBackend(CostModel):
    """CuPy on CUDA devices: every dtype, padding mode, stride, dilation and group layout.

    Examples
    --------
    >>> CupyBackend.name
    'cupy'
    """

    name = "cupy"
    native_arrays = True  # run() gets the caller's arrays (CuPy or torch CUDA)

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        if not _gpu_plan.is_cuda_device(device):
            return f"runs on CUDA devices only, the arrays are on {device!r}"
        return None

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        return _gpu_plan.cost_terms(spec, routing.constants(config.routing_key()))

    def run(self, spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
        caller = array_api_compat.array_namespace(x)
        on_cupy = array_api_compat.is_cupy_namespace(caller)

        def to_cupy(array: Any) -> Any:
            if on_cupy or array is None:
                return array
            if array_api_compat.is_torch_array(array):
                # DLPack carries neither torch's lazy conjugate/negative bits
                # (export refuses the one, silently drops the other) nor grad
                array = array.detach().resolve_conj().resolve_neg()
            return cupy.from_dlpack(array)

        x_, w_, b_ = to_cupy(x), to_cupy(w), to_cupy(b)
        with cupy.cuda.Device(x_.device.id):
            if config.lookup("deterministic")[0]:
                _no_cublas_atomics()
            chosen = _gpu_plan.algorithm(spec, routing.constants(config.routing_key()))
            if spec.is_empty:
                y = cupy.zeros(spec.output_shape, dtype=x_.dtype)
            elif chosen == "fft" and _generic.fft_is_safe(_cupy_xp, spec, x_, w_):
                y = _generic.conv1d_fft(_cupy_xp, spec, x_, w_, b_)
            elif chosen in ("fused", "fft"):  # unsafe for the fft: the fused kernel keeps values local
                y = _fused(spec, x_, w_, b_)
            else:
                y = _generic.conv1d_taps(_cupy_xp, spec, x_, w_, b_)
        return y if on_cupy else caller.from_dlpack(y)
