"""PyTorch as the test oracle: what torch gives for a conv1d call."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import skip_init

_WIDE = {
    "float16": np.float64,
    "float32": np.float64,
    "float64": np.float64,
    "complex64": np.complex128,
    "complex128": np.complex128,
}


# F.pad's names for the padding modes
_PAD_MODES = {"zeros": "constant"}


def torch_conv1d(x, w, b, stride, padding, dilation, groups, padding_mode, *, dtype=None):
    """torch's result as NumPy (F.conv1d for zeros, nn.Conv1d otherwise).

    Arrays are cast to ``dtype`` first (torch refuses mixed dtypes); any
    torch error propagates.
    """
    def tensor(a):
        return None if a is None else torch.from_numpy(np.array(a if dtype is None else a.astype(dtype), order="C", copy=True))

    X, W, B = tensor(x), tensor(w), tensor(b)
    if isinstance(padding, str) and padding == "causal":
        # torch has no 'causal': it is dilation * (K - 1) samples padded on the
        # left by F.pad in the padding mode, then a padding-free conv1d
        dil = int(np.ravel(dilation)[0])
        X = F.pad(X, (dil * (W.shape[2] - 1), 0), mode=_PAD_MODES.get(padding_mode, padding_mode))
        padding, padding_mode = 0, "zeros"
    if padding_mode == "zeros":
        y = F.conv1d(X, W, B, stride, padding, dilation, groups)
    else:
        # The module pads explicitly with F.pad before a padding-free conv1d;
        # skip_init keeps zero-channel layers constructible.
        layer = skip_init(
            torch.nn.Conv1d,
            W.shape[1] * groups,
            W.shape[0],
            W.shape[2],
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=B is not None,
            padding_mode=padding_mode,
            dtype=W.dtype,
        )
        layer.weight = torch.nn.Parameter(W, requires_grad=False)
        if B is not None:
            layer.bias = torch.nn.Parameter(B, requires_grad=False)
        with torch.no_grad():
            y = layer(X)
    return y.numpy()


def reference(x, w, b, stride, padding, dilation, groups, padding_mode, result_dtype):
    """torch's result computed in double precision, and the scale of its rounding error.

    Returns ``(y, scale)``: ``scale`` is the largest ``|x| * |w| + |b|``
    correlation, the magnitude that bounds the rounding error of any
    summation order.
    """
    wide = _WIDE[np.dtype(result_dtype).name]
    y = torch_conv1d(x, w, b, stride, padding, dilation, groups, padding_mode, dtype=wide)
    magnitude = torch_conv1d(
        np.abs(x).astype(np.float64),
        np.abs(w).astype(np.float64),
        None if b is None else np.abs(b).astype(np.float64),
        stride, padding, dilation, groups, padding_mode,
    )
    scale = float(magnitude.max()) if magnitude.size else 0.0
    return y, scale


# Allowed error as a fraction of the output's magnitude (see reference()).
RTOL = {
    "float16": 2e-3,  # computed in float32, then rounded to float16 (half an ulp is 4.9e-4)
    "float32": 1e-5,
    "complex64": 1e-5,
    "float64": 1e-12,
    "complex128": 1e-12,
}


def assert_close(actual, expected, scale, dtype_name):
    """Every element within RTOL[dtype] of the output's magnitude."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.size == 0:
        return
    error = np.abs(actual.astype(expected.dtype) - expected).max()
    bound = RTOL[dtype_name] * max(scale, np.finfo(np.float64).tiny)
    assert error <= bound, f"max error {error:.3g} > {bound:.3g} (scale {scale:.3g}, {dtype_name})"


_TORCH_ERRORS = (RuntimeError, ValueError, TypeError, IndexError)


def torch_outcome(case):
    """torch's result for a strategies.Case in the promoted dtype, or the exception it raises."""
    try:
        return torch_conv1d(*case.args(), dtype=case.result_dtype()), None
    except _TORCH_ERRORS as error:
        return None, error


def assert_matches_torch(case, backend):
    """conv1d on ``backend`` gives torch's shape, dtype and values, or errs where torch errs,
    and leaves its inputs unchanged and unshared."""
    import arrayconv

    inputs_before = [None if a is None else a.copy() for a in (case.x, case.w, case.b)]
    expected, torch_error = torch_outcome(case)
    if torch_error is not None:
        with pytest.raises((ValueError, TypeError)):
            arrayconv.conv1d(*case.args(), backend=backend)
        return
    result = arrayconv.conv1d(*case.args(), backend=backend)
    assert isinstance(result, np.ndarray)
    assert result.dtype == case.result_dtype()
    assert result.shape == expected.shape
    wide, scale = reference(*case.args(), case.result_dtype())
    assert_close(result, wide, scale, result.dtype.name)
    for before, after in zip(inputs_before, (case.x, case.w, case.b)):
        if before is not None:
            np.testing.assert_array_equal(before, after)
            assert not np.shares_memory(result, after)
