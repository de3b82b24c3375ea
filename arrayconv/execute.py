"""Running a validated call on the backend chosen for it, in the caller's array kind.

Backends that compute on NumPy arrays get the input, weight and bias
converted (DLPack, no copy where the layout allows) and their result goes
back to the caller's library and device; backends with ``native_arrays``
get the caller's own arrays.  Either way the caller's layout (unbatched
input) and dtype (float16 computed in float32) are restored here.

Examples
--------
>>> import numpy as np
>>> from arrayconv import registry
>>> from arrayconv.shape import normalize
>>> x, w = np.ones((2, 5)), np.ones((1, 2, 3))
>>> spec = normalize(x, w)
>>> run(spec, registry.get("direct"), x, w, None)
array([[6., 6., 6.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_compat
import numpy as np

from . import _interop
from .dtypes import ITEMSIZE, NUMPY_DTYPE
from .records import ConvSpec
from .registry import Backend

__all__ = ["bound", "run", "workspace_bytes"]


def workspace_bytes(spec: ConvSpec, chosen: Backend, input: Any) -> int:
    """Bytes a call allocates besides its output: the backend's workspace and,
    unless the input is a C-contiguous NumPy array of the compute dtype, its
    converted copy."""
    workspace = chosen.workspace_bytes(spec) if hasattr(chosen, "workspace_bytes") else 0
    if not (type(input) is np.ndarray and input.dtype == spec.compute_dtype and input.flags.c_contiguous):
        workspace += spec.batch * spec.in_channels * spec.length * ITEMSIZE[spec.compute_dtype]
    return workspace


def bound(spec: ConvSpec, chosen: Backend, input: Any, weight: Any, bias: Any) -> Callable[..., Any] | None:
    """:func:`run` for calls like this one, as a callable of ``(input, weight, bias)``
    that skips the conversions, where they have nothing to do: the arrays are
    C-contiguous NumPy arrays of the compute dtype, which is the result's, and the
    backend can bind the call (see ``DirectBackend.bind``); else None.

    The caller keeps it for calls whose arrays have the same types, shapes,
    dtypes and layout, under the same settings.
    """
    bind = getattr(chosen, "bind", None)
    dtype = NUMPY_DTYPE.get(spec.compute_dtype)
    if bind is None or spec.result_dtype != spec.compute_dtype or not all(
            array is None or (type(array) is np.ndarray and array.dtype is dtype and array.flags.c_contiguous)
            for array in (input, weight, bias)):
        return None
    call = bind(spec)
    if call is None or spec.batched:
        return call

    def unbatched(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        return call(x[np.newaxis], w, b)[0]

    return unbatched


def run(spec: ConvSpec, chosen: Backend, input: Any, weight: Any, bias: Any) -> Any:
    """``chosen.run`` on the call's arrays, the result in the caller's kind, layout and dtype."""
    if getattr(chosen, "native_arrays", False):
        return _run_native(spec, chosen, input, weight, bias)
    dtype = spec.compute_dtype
    x = _interop.to_numpy(input, "input", dtype)
    if not spec.batched:
        x = x[np.newaxis]
    w = _interop.to_numpy(weight, "weight", dtype)
    b = None if bias is None else _interop.to_numpy(bias, "bias", dtype)
    y = chosen.run(spec, x, w, b)
    if spec.result_dtype != dtype:
        y = y.astype(spec.result_dtype)
    if not spec.batched:
        y = y[0]
    return _interop.from_numpy(y, input)


def _run_native(spec: ConvSpec, chosen: Backend, input: Any, weight: Any, bias: Any) -> Any:
    """Run on a backend that takes the caller's own arrays (its namespace, its device)."""
    xp = array_api_compat.array_namespace(input)
    compute = getattr(xp, spec.compute_dtype)

    def prepared(array: Any) -> Any:
        return array if array.dtype == compute else xp.astype(array, compute)

    x = prepared(input)
    if not spec.batched:
        x = xp.expand_dims(x, axis=0)
    y = chosen.run(spec, x, prepared(weight), None if bias is None else prepared(bias))
    if spec.result_dtype != spec.compute_dtype:
        y = xp.astype(y, getattr(xp, spec.result_dtype))
    return y if spec.batched else y[0, ...]
