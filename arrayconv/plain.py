"""The plain route of a ``conv1d`` call: validate, choose a backend, guard the memory, execute.

Every call that needs neither Dask's chunking nor torch's graph takes it,
and so do the calls those two paths make (a Dask block, the forward of an
autograd node).

Examples
--------
>>> import numpy as np
>>> conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 2)), None, 1, 0, 1, 1, "zeros", None)
array([[[2., 2., 2.]]])
"""

from __future__ import annotations

from typing import Any

from . import _interop, config, execute, policy, shape
from .records import ConvSpec
from .registry import Backend

__all__ = ["conv1d", "run"]


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
           padding_mode: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv1d` on arrays that need no other path."""
    spec = shape.normalize(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    return run(spec, policy.choose(spec, _interop.device_name(input), backend), input, weight, bias)


def run(spec: ConvSpec, chosen: Backend, input: Any, weight: Any, bias: Any) -> Any:
    """Run a validated call on the chosen backend, after checking its memory, and give
    back the input's kind (the one way down of ``conv1d`` and of the calls that
    :mod:`arrayconv.lowering` plans)."""
    workspace = execute.workspace_bytes(spec, chosen, input)
    shape.check_memory(spec, workspace, config.snapshot().memory_limit, chosen.name)
    return execute.run(spec, chosen, input, weight, bias)
