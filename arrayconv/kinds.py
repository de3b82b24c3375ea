"""Which path a call takes, from the kinds of its arrays: decided once, here.

====================================================  ==============================
the arrays                                            the path
====================================================  ==============================
a NumPy input (the common case, decided first)        ``PLAIN``: :mod:`arrayconv.plain`,
                                                      :mod:`arrayconv.plain_gradients`
a Dask input                                          ``CHUNKED``: :mod:`arrayconv.chunked`,
                                                      :mod:`arrayconv.chunked_gradients`
a torch tensor that would record a graph (it          ``GRAPH``: :mod:`arrayconv._autograd`
requires grad, and grad mode is on)
anything else (torch, CuPy, array-api-strict, ...)    ``PLAIN``
====================================================  ==============================

Each path offers the same four operations with the same arguments, so the
public functions are one line each: ``path(*arrays).conv1d(...)``.  The
chunked and autograd paths call the plain route for the work they hand on
(a Dask block, an autograd node's forward and backward), never the public
functions.

Examples
--------
>>> import numpy as np, torch
>>> path(np.ones(3)).name, path(torch.ones(3)).name
('plain', 'plain')
>>> path(torch.ones(3, requires_grad=True)).name
'autograd'
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from . import _autograd, chunked, chunked_gradients, plain, plain_gradients

__all__ = ["Path", "PLAIN", "CHUNKED", "GRAPH", "path", "wants_graph"]


class Path(NamedTuple):
    """The four operations of one path, each taking the public function's
    arguments positionally (keywords last: ``needs``, then ``backend``)."""

    name: str
    conv1d: Callable[..., Any]
    conv_transpose1d: Callable[..., Any]
    conv1d_backward: Callable[..., Any]
    conv_transpose1d_backward: Callable[..., Any]


PLAIN = Path(name="plain", conv1d=plain.conv1d, conv_transpose1d=plain_gradients.conv_transpose1d,
             conv1d_backward=plain_gradients.conv1d_backward,
             conv_transpose1d_backward=plain_gradients.conv_transpose1d_backward)
CHUNKED = Path(name="chunked", conv1d=chunked.conv1d, conv_transpose1d=chunked.conv_transpose1d,
               conv1d_backward=chunked_gradients.conv1d_backward,
               conv_transpose1d_backward=chunked_gradients.conv_transpose1d_backward)
GRAPH = Path(name="autograd", conv1d=_autograd.conv1d, conv_transpose1d=_autograd.conv_transpose1d,
             conv1d_backward=_autograd.conv1d_backward, conv_transpose1d_backward=_autograd.conv_transpose1d_backward)


def wants_graph(arrays: tuple[Any, ...]) -> bool:
    """Whether torch would record a graph for a call on ``arrays``.

    Examples
    --------
    >>> import torch
    >>> wants_graph((torch.ones(2), torch.ones(2, requires_grad=True)))
    True
    >>> with torch.no_grad():
    ...     wants_graph((torch.ones(2, requires_grad=True),))
    False
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.is_grad_enabled():
        return False
    return any(isinstance(array, torch.Tensor) and array.requires_grad for array in arrays)


def path(first: Any, *others: Any) -> Path:
    """The path of a call whose arrays are ``first`` and ``others`` (``first``: the
    input, or for a gradient call the output gradient)."""
    if type(first) is np.ndarray:
        return PLAIN
    if array_api_compat.is_dask_array(first):
        return CHUNKED
    if wants_graph((first, *others)):
        return GRAPH
    return PLAIN
