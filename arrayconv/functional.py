"""``conv1d``: the functional entry point."""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from . import _autograd, _interop, chunked, config, policy, shape

__all__ = ["conv1d", "execute"]


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    backend: str | None = None,
) -> Any:
    """1-D cross-correlation with the semantics of ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    input : array
        ``(N, C_in, L)``, or ``(C_in, L)`` unbatched.
    weight : array
        ``(C_out, C_in / groups, K)``; not conjugated for complex dtypes.
    bias : array, optional
        ``(C_out,)``.
    stride, dilation : int or 1-tuple of int
        Positive.
    padding : int, 1-tuple of int, ``'valid'`` or ``'same'``
        Implicit padding on both ends.  ``'same'`` keeps the length (stride 1
        only); an odd total goes on the right, as in torch.
    groups : int
        Blocked connections: ``C_in`` and ``C_out`` divisible by ``groups``
        (``groups == C_in`` is depthwise).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        How the padding is filled, as ``torch.nn.Conv1d`` fills it.
    backend : str, optional
        Force a backend (see ``arrayconv.backends.available()``); by default
        the configured one (:mod:`arrayconv.config`), else the cheapest able
        one by the cost model; ``"auto"``: the cost model, whatever the
        configuration says.

    Returns
    -------
    array
        ``(N, C_out, L_out)`` (or ``(C_out, L_out)``) of the input's kind, with
        ``L_out = (L + pad_left + pad_right - dilation * (K - 1) - 1) // stride + 1``
        and the dtype the Array API promotion of input, weight and bias gives.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument, before any computation, naming the argument.
    arrayconv.WorkspaceError
        (a ``MemoryError``) If the output and the backend's workspace would
        exceed the ``memory_limit`` setting, or the memory available.

    Notes
    -----
    A torch tensor that requires grad (with grad mode on) makes the call a
    node of torch's autograd graph, whose backward is :func:`conv1d_backward`.
    A Dask array input (with NumPy weight and bias) gives a lazy Dask array,
    computed block by block (:mod:`arrayconv.chunked`).

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(6, dtype=np.float32).reshape(1, 1, 6)
    >>> w = np.array([[[1.0, 0.0, -1.0]]], dtype=np.float32)
    >>> arrayconv.conv1d(x, w, padding=1)
    array([[[-1., -2., -2., -2., -2.,  4.]]], dtype=float32)
    """
    if type(input) is not np.ndarray:
        if chunked.is_dask_array(input):
            return chunked.conv1d(input, weight, bias, stride, padding, dilation, groups, padding_mode, backend)
        if _autograd.wants_graph(input, weight, bias):
            return _autograd.conv1d(input, weight, bias, stride, padding, dilation, groups, padding_mode, backend)
    spec = shape.normalize(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    return execute(spec, policy.choose(spec, _interop.device_name(input), backend), input, weight, bias)


def execute(spec: shape.ConvSpec, chosen: Any, input: Any, weight: Any, bias: Any) -> Any:
    """Run a validated call on the chosen backend, after checking its memory, and
    give back the input's kind (the one path of ``conv1d`` and of the calls
    that :mod:`arrayconv.lowering` plans)."""
    workspace = chosen.workspace_bytes(spec) if hasattr(chosen, "workspace_bytes") else 0
    if not (type(input) is np.ndarray and input.dtype == spec.compute_dtype and input.flags.c_contiguous):
        # the converted copy of the input
        workspace += spec.batch * spec.in_channels * spec.length * np.dtype(spec.compute_dtype).itemsize
    shape.check_memory(spec, workspace, config.snapshot()[4], chosen.name)
    return _run(spec, chosen, input, weight, bias)


def _run(spec: shape.ConvSpec, chosen: Any, input: Any, weight: Any, bias: Any) -> Any:
    """Run a validated call on the chosen backend and give back the caller's kind."""
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


def _run_native(spec: shape.ConvSpec, chosen: Any, input: Any, weight: Any, bias: Any) -> Any:
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
