"""Validation of calls on chunked (Dask) arrays: the signal arrays are Dask arrays with
known chunks, the weight and bias NumPy arrays; then the checks of an in-memory call.

Examples
--------
>>> import dask.array as da, numpy as np
>>> normalize_chunked(da.zeros((1, 2, 50), chunks=(1, 2, 10)), np.zeros((3, 2, 5))).length_out
46
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from ..records import BackwardSpec, ConvSpec, TransposeSpec
from .conv_spec import normalize
from .gradient_spec import normalize_backward, normalize_transpose_backward
from .transpose_spec import normalize_transpose

__all__ = [
    "normalize_chunked", "normalize_chunked_transpose", "normalize_chunked_backward",
    "normalize_chunked_transpose_backward",
]


def _standin(name: str, array: Any) -> np.ndarray:
    """A zero-memory NumPy array of a Dask array's shape and dtype, for the in-memory checks."""
    if not array_api_compat.is_dask_array(array):
        raise TypeError(
            f"{name} must be a Dask array when the input is one, got "
            f"{type(array).__module__}.{type(array).__name__}; pass dask.array.asarray({name})"
        )
    if any(size != size for size in tuple(array.shape)):  # NaN: not yet known
        raise ValueError(
            f"{name} must have known chunk sizes, got {name}.shape={tuple(array.shape)}; "
            f"call {name}.compute_chunk_sizes() first"
        )
    return np.broadcast_to(np.zeros((), dtype=array.dtype), tuple(array.shape))


def _check_parameters(**parameters: Any) -> None:
    for name, array in parameters.items():
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(
                f"{name} of a Dask input must be a NumPy array (weights are small and shipped "
                f"to the workers whole), got {type(array).__module__}.{type(array).__name__}; "
                f"pass {name}.compute() or np.asarray({name})"
            )


def normalize_chunked(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    groups: Any = 1, padding_mode: Any = "zeros",
) -> ConvSpec:
    """Validate a ``conv1d`` call on a Dask input with NumPy weight and bias.

    The input's shape and dtype are checked as :func:`normalize` checks an
    array's; its chunks must be known.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked(da.zeros((4, 2, 100), chunks=(2, 1, 30)), np.zeros((3, 2, 5))).output_shape
    (4, 3, 96)
    """
    standin = _standin("input", input)
    _check_parameters(weight=weight, bias=bias)
    return normalize(standin, weight, bias, stride, padding, dilation, groups, padding_mode)


def normalize_chunked_transpose(
    input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    groups: Any = 1, dilation: Any = 1,
) -> TransposeSpec:
    """Validate a ``conv_transpose1d`` call on a Dask input with NumPy weight and bias.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked_transpose(da.zeros((1, 2, 50), chunks=10), np.zeros((2, 3, 4)), stride=2).length_out
    102
    """
    standin = _standin("input", input)
    _check_parameters(weight=weight, bias=bias)
    return normalize_transpose(standin, weight, bias, stride, padding, output_padding, groups, dilation)


def normalize_chunked_backward(
    grad_output: Any, input: Any, weight: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
    groups: Any = 1, padding_mode: Any = "zeros", needs: Any = ("input", "weight", "bias"),
) -> BackwardSpec:
    """Validate a ``conv1d_backward`` call on a Dask input and output gradient with a NumPy weight.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked_backward(da.zeros((1, 3, 46), chunks=10), da.zeros((1, 2, 50), chunks=10),
    ...                            np.zeros((3, 2, 5))).spec.length_out
    46
    """
    standins = _standin("grad_output", grad_output), _standin("input", input)
    _check_parameters(weight=weight)
    return normalize_backward(*standins, weight, stride, padding, dilation, groups, padding_mode, needs)


def normalize_chunked_transpose_backward(
    grad_output: Any, input: Any, weight: Any, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
    groups: Any = 1, dilation: Any = 1, needs: Any = ("input", "weight", "bias"),
) -> BackwardSpec:
    """Validate a ``conv_transpose1d_backward`` call on Dask arrays with a NumPy weight.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked_transpose_backward(da.zeros((1, 3, 102), chunks=10), da.zeros((1, 2, 50), chunks=10),
    ...                                      np.zeros((2, 3, 4)), stride=2).input_length
    50
    """
    standins = _standin("grad_output", grad_output), _standin("input", input)
    _check_parameters(weight=weight)
    return normalize_transpose_backward(*standins, weight, stride, padding, output_padding, groups, dilation, needs)
