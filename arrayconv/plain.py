"""The plain route of a ``conv1d`` call: validate, choose a backend, guard the memory, execute.

Every call that needs neither Dask's chunking nor torch's graph takes it,
and so do the calls those two paths make (a Dask block, the forward of an
autograd node).

A call of NumPy arrays with plain integer and string arguments is planned
once per signature (shapes, dtypes, layout, arguments, settings, threads,
backends): the validated spec, the chosen backend and the outcome of the
memory check are kept and reused by later calls with the same signature,
whose arrays the checks would find the same (they read no values).  Where
the arrays need no conversion, the backend's call bound to the spec is kept
too (``execute.bound``), and later calls go straight to it.  A small layer
called in a loop then pays for its arithmetic, not for its planning.
:func:`validated` keeps the other operations' validations the same way.

Examples
--------
>>> import numpy as np
>>> conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 2)), None, 1, 0, 1, 1, "zeros", None)
array([[[2., 2., 2.]]])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _interop, config, execute, policy, registry, shape, threads
from .records import ConvSpec
from .registry import Backend

__all__ = ["conv1d", "forget", "run", "run_spec", "validated"]

# Signatures kept, up to this many per table (then the table starts again).
_TABLE_SIZE = 1024
# per signature: the spec, the chosen backend and, where it has one, the call bound
# to the signature's arrays (execute.bound)
_planned: dict[tuple, tuple[ConvSpec, Backend, Callable[..., Any] | None]] = {}
_validations: dict[tuple, Any] = {}
_chosen: dict[tuple, Backend] = {}
_lock = threading.Lock()
# The argument types a signature may hold (bool is refused by the checks, so
# it must never share a key with int: type(x) is int is False for True), and
# tuples of strings (a gradient call's needs).
_PLAIN_TYPES = (int, str, type(None))


def _signature(arrays: tuple[Any, ...], arguments: tuple[Any, ...]) -> tuple | None:
    """Everything the planning of a call reads, as a key; None where the call is not
    of NumPy arrays (or None) with plain int, str or None arguments (those are
    planned each time)."""
    described = []
    for array in arrays:
        if array is None:
            described.append(None)
        elif type(array) is np.ndarray:
            described.append((array.shape, array.dtype, array.flags.c_contiguous))
        else:
            return None
    for argument in arguments:
        if type(argument) not in _PLAIN_TYPES and not (
                type(argument) is tuple and all(type(item) is str for item in argument)):
            return None
    return (*described, arguments, config.snapshot(), threads.get(), registry.generation())


def _keep(table: dict[tuple, Any], key: tuple, value: Any) -> None:
    with _lock:
        if len(table) >= _TABLE_SIZE:
            table.clear()
        table[key] = value


def forget() -> None:
    """Drop every kept plan (for tests that change how backends plan a call)."""
    with _lock:
        for table in (_planned, _validations, _chosen):
            table.clear()


def validated(check: Callable[..., Any], arrays: tuple[Any, ...], arguments: tuple[Any, ...]) -> Any:
    """``check(*arrays, *arguments)``, a validation that reads only the arrays' shapes,
    dtypes and layout and the arguments, kept per signature for calls of NumPy arrays
    (a call it refuses raises each time, nothing is kept).

    Examples
    --------
    >>> import numpy as np
    >>> validated(shape.normalize, (np.ones((1, 2, 8)), np.ones((3, 2, 3))), ()).output_shape
    (1, 3, 6)
    """
    key = _signature(arrays, arguments)
    if key is None:
        return check(*arrays, *arguments)
    key = (check, key)
    found = _validations.get(key)
    if found is None:
        found = check(*arrays, *arguments)
        _keep(_validations, key, found)
    return found


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
           padding_mode: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv1d` on arrays that need no other path."""
    key = _signature((input, weight, bias), (stride, padding, dilation, groups, padding_mode, backend))
    planned = _planned.get(key) if key is not None else None
    if planned is not None:
        spec, chosen, bound = planned
        if bound is not None:
            return bound(input, weight, bias)
        return execute.run(spec, chosen, input, weight, bias)
    spec = shape.normalize(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    chosen = policy.choose(spec, _interop.device_name(input), backend)
    if _check_memory(spec, chosen, input) and key is not None:
        _keep(_planned, key, (spec, chosen, execute.bound(spec, chosen, input, weight, bias)))
    return execute.run(spec, chosen, input, weight, bias)


def run_spec(spec: ConvSpec, device: str, backend: str | None, input: Any, weight: Any, bias: Any) -> Any:
    """:func:`run` on the backend the policy chooses for ``spec`` (``backend``: forced, or
    None); the choice and a repeatable memory check are kept per spec and input kind,
    for the convolutions that :mod:`arrayconv.lowering` plans."""
    kind = (input.dtype, input.flags.c_contiguous) if type(input) is np.ndarray else None
    key = (spec, device, backend, kind, config.snapshot(), threads.get(), registry.generation())
    chosen = _chosen.get(key) if kind is not None else None
    if chosen is not None:
        return execute.run(spec, chosen, input, weight, bias)
    chosen = policy.choose(spec, device, backend)
    if _check_memory(spec, chosen, input) and kind is not None:
        _keep(_chosen, key, chosen)
    return execute.run(spec, chosen, input, weight, bias)


def run(spec: ConvSpec, chosen: Backend, input: Any, weight: Any, bias: Any) -> Any:
    """Run a validated call on the chosen backend, after checking its memory, and give
    back the input's kind (the one way down of ``conv1d`` and of the calls that
    :mod:`arrayconv.lowering` plans)."""
    _check_memory(spec, chosen, input)
    return execute.run(spec, chosen, input, weight, bias)


def _check_memory(spec: ConvSpec, chosen: Backend, input: Any) -> bool:
    """The memory guard; whether its outcome holds for the same call again (see
    :func:`arrayconv.shape.check_memory`)."""
    workspace = execute.workspace_bytes(spec, chosen, input)
    return shape.check_memory(spec, workspace, config.snapshot().memory_limit, chosen.name)
