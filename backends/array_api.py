"""The ``array_api`` backend: conv1d on any Array API namespace, with standard functions only.

It serves arrays that no faster backend can (a device without a dedicated
backend, a namespace that cannot hand its arrays to NumPy) and is the
reference for writing a backend for a new library: correct for every
semantic, tested with array-api-strict, which rejects anything outside the
standard.  It receives the caller's own arrays (``native_arrays``), never
NumPy copies.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from arrayconv.dtypes import COST_WIDTH, ITEMSIZE
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _generic

# Kernels at least this long use the namespace's FFT, where it has one.
FFT_MIN_KERNEL = 64


class ArrayAPIBackend(CostModel):
    """Standard Array API functions on the caller's namespace and device (matmul per tap, or fft).

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> arrayconv.conv1d(x, np.ones((1, 1, 2)), backend="array_api")
    array([[[1., 3., 5., 7.]]])
    """

    name = "array_api"
    native_arrays = True  # run() gets the caller's arrays, not NumPy copies

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        return None  # any namespace, any device

    def uses_fft(self, spec: ConvSpec, xp: Any | None = None) -> bool:
        has_fft = True if xp is None else hasattr(xp, "fft")
        return has_fft and spec.kernel_size >= FFT_MIN_KERNEL

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        return {"array_api_call": 1.0, "array_api_mac": float(spec.macs) * COST_WIDTH[spec.compute_dtype]}

    def workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes allocated besides the output: the padded input and one product per tap (or the spectra)."""
        if spec.is_empty:
            return 0
        itemsize = ITEMSIZE[spec.compute_dtype]
        padded = spec.batch * spec.in_channels * spec.padded_length
        if self.uses_fft(spec):
            n = _generic._fft_length(spec.padded_length)
            rows = spec.batch * (spec.in_channels + 2 * spec.output_channels) + spec.output_channels * spec.in_channels_per_group
            return (padded + rows * (n + 2)) * 2 * itemsize
        return (padded + 2 * spec.batch * spec.output_channels * spec.length_out) * itemsize

    def run(self, spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
        xp = array_api_compat.array_namespace(x)
        if spec.is_empty:
            return xp.zeros(spec.output_shape, dtype=x.dtype, device=array_api_compat.device(x))
        use_fft = self.uses_fft(spec, xp) and _generic.fft_is_safe(xp, spec, x, w)
        algorithm = _generic.conv1d_fft if use_fft else _generic.conv1d_taps
        # NumPy warns where inf meets a zero of the padding (nan, as torch
        # gives silently); the other libraries are silent
        with np.errstate(invalid="ignore", over="ignore"):
            return algorithm(xp, spec, x, w, b)
