"""Validation of a ``conv1d`` call on a chunked (Dask) input.

Examples
--------
>>> import dask.array as da, numpy as np
>>> normalize_chunked(da.zeros((1, 2, 50), chunks=(1, 2, 10)), np.zeros((3, 2, 5))).length_out
46
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..records import ConvSpec
from .conv_spec import normalize

__all__ = ["normalize_chunked"]


def normalize_chunked(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    padding_mode: Any = "zeros",
) -> ConvSpec:
    """Validate a ``conv1d`` call on a chunked (Dask) input with NumPy weight and bias.

    The input's shape and dtype are checked as :func:`normalize` checks an
    array's; its chunks must be known.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked(da.zeros((4, 2, 100), chunks=(2, 1, 30)), np.zeros((3, 2, 5))).output_shape
    (4, 3, 96)
    """
    if any(size != size for size in tuple(input.shape)):  # NaN: not yet known
        raise ValueError(
            f"input must have known chunk sizes, got input.shape={tuple(input.shape)}; "
            "call input.compute_chunk_sizes() first"
        )
    for name, array in (("weight", weight), ("bias", bias)):
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(
                f"{name} of a Dask input must be a NumPy array (weights are small and shipped "
                f"to the workers whole), got {type(array).__module__}.{type(array).__name__}; "
                f"pass {name}.compute() or np.asarray({name})"
            )
    standin = np.broadcast_to(np.zeros((), dtype=input.dtype), tuple(input.shape))
    return normalize(standin, weight, bias, stride, padding, dilation, groups, padding_mode)

