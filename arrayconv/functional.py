"""``conv1d``: the functional entry point."""

from __future__ import annotations

from typing import Any

from . import kinds

__all__ = ["conv1d"]


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
    padding : int, 1-tuple of int, ``'valid'``, ``'same'`` or ``'causal'``
        Implicit padding on both ends.  ``'same'`` keeps the length (stride 1
        only); an odd total goes on the right, as in torch.  ``'causal'``
        (not in torch) pads ``dilation * (K - 1)`` samples on the left only,
        filled per ``padding_mode``: output ``t`` reads no input after
        ``t * stride``, at any stride.
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
    return kinds.path(input, weight, bias).conv1d(
        input, weight, bias, stride, padding, dilation, groups, padding_mode, backend
    )
