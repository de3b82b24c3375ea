"""The plain route of a ``conv1d`` call: validate, choose a backend, guard the memory, execute.

Every call that needs neither Dask's chunking nor torch's graph takes it,
and so do the calls those two paths make (a Dask block, the forward of an
autograd node).

A call of NumPy arrays with plain integer and string arguments is planned
once per signature (shapes, dtypes, layout, arguments, settings, threads,
backends): the validated spec, the chosen backend and the outcome of the
memory check are kept and reused by later calls with the same signature,
whose arrays the checks would find the same (they read no values).  A small
layer called in a loop then pays for its arithmetic, not for its planning.

Examples
--------
>>> import numpy as np
>>> conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 2)), None, 1, 0, 1, 1, "zeros", None)
array([[[2., 2., 2.]]])
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from . import _interop, config, execute, policy, registry, shape, threads
from .records import ConvSpec
from .registry import Backend

__all__ = ["conv1d", "run"]

# Signatures planned, up to this many (then the table starts again).
_PLANNED_SIZE = 1024
_planned: dict[tuple, tuple[ConvSpec, Backend]] = {}
_planned_lock = threading.Lock()
# The argument types a signature may hold (bool is refused by the checks, so
# it must never share a key with int: type(x) is int is False for True).
_PLAIN_TYPES = (int, str, type(None))


def _signature(input: Any, weight: Any, bias: Any, arguments: tuple[Any, ...]) -> tuple | None:
    """Everything the planning of a call reads, as a key; None where the call is not
    of NumPy arrays with plain int, str or None arguments (those are planned each time)."""
    if type(input) is not np.ndarray or type(weight) is not np.ndarray:
        return None
    if bias is not None and type(bias) is not np.ndarray:
        return None
    for argument in arguments:
        if type(argument) not in _PLAIN_TYPES:
            return None
    return (input.shape, input.dtype, input.flags.c_contiguous, weight.shape, weight.dtype,
            None if bias is None else (bias.shape, bias.dtype), arguments,
            config.snapshot(), threads.get(), registry.generation())


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
           padding_mode: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv1d` on arrays that need no other path."""
    key = _signature(input, weight, bias, (stride, padding, dilation, groups, padding_mode, backend))
    planned = _planned.get(key) if key is not None else None
    if planned is not None:
        return execute.run(*planned, input, weight, bias)
    spec = shape.normalize(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    chosen = policy.choose(spec, _interop.device_name(input), backend)
    if _check_memory(spec, chosen, input) and key is not None:
        with _planned_lock:
            if len(_planned) >= _PLANNED_SIZE:
                _planned.clear()
            _planned[key] = (spec, chosen)
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
