"""The ``direct`` backend: time-domain convolution by the Cython kernel."""

from __future__ import annotations

import numpy as np

from arrayconv import threads
from arrayconv.shape import PADDING_MODES, ConvSpec

from ._direct import conv1d_direct

# The kernel's mode numbers follow the order of PADDING_MODES.
_MODE_CODE = {mode: code for code, mode in enumerate(PADDING_MODES)}
_NO_BIAS = {name: np.zeros(0, dtype=name) for name in ("float32", "float64", "complex64", "complex128")}
# Multiply-accumulates per second assumed before issue-specific tuning; only
# the ordering against other backends' estimates matters.
_MACS_PER_SECOND = 2e9
# Below this many multiply-accumulates a second thread costs more than it saves.
_PARALLEL_MIN_MACS = 1 << 20


class DirectBackend:
    """Cython direct kernel on the CPU: every dtype, padding mode and group layout.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> arrayconv.conv1d(x, np.ones((1, 1, 2)), backend="direct")
    array([[[1., 3., 5., 7.]]])
    """

    name = "direct"
    array_kind = "numpy"

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        if device != "cpu":
            return f"runs on the CPU only, the arrays are on {device!r}"
        return None

    def estimate(self, spec: ConvSpec) -> float:
        return spec.macs / _MACS_PER_SECOND

    def run(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        out = np.empty(spec.output_shape, dtype=spec.compute_dtype)
        if spec.is_empty:
            return out
        num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else threads.get()
        conv1d_direct(
            x,
            w,
            _NO_BIAS[spec.compute_dtype] if b is None else b,
            out,
            spec.stride,
            spec.dilation,
            spec.pad_left,
            _MODE_CODE[spec.padding_mode],
            spec.groups,
            b is not None,
            num_threads,
        )
        return out
