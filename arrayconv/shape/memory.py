"""The memory guard: a call that would need more memory than allowed is refused before anything is allocated.

Examples
--------
>>> check_output_memory((1, 4, 1000), "float32", limit=1 << 20)
>>> check_output_memory((1, 4, 1000), "float32", limit=1000)
Traceback (most recent call last):
...
arrayconv.WorkspaceError: this call needs about 1.49e-05 GiB (output (1, 4, 1000) of float32), ...
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..dtypes import ITEMSIZE
from ..records import ConvSpec

__all__ = ["WorkspaceError", "check_memory", "check_output_memory", "check_parameter_memory"]

_CALL_ADVICE = ("split the batch or the signal (Dask does it for you), use a smaller dtype, force a backend "
                "with a smaller workspace (backend=...), or raise memory_limit")


class WorkspaceError(MemoryError):
    """A call would need more memory than the ``memory_limit`` setting (or the machine) allows."""


WorkspaceError.__module__ = "arrayconv"  # its public name: arrayconv.WorkspaceError


def check_memory(spec: ConvSpec, workspace_bytes: int, limit: int | None, backend: str) -> bool:
    """Refuse a call whose output and workspace exceed ``limit`` bytes, before anything is allocated.

    ``limit`` None: the memory the system reports available now (checked only
    for calls of 64 MiB and more, so small calls pay nothing).  Returns whether
    the same call with the same ``limit`` passes again whatever the system
    holds then (the check did not read the memory available).
    """
    needed = spec.batch * spec.output_channels * spec.length_out * ITEMSIZE[spec.compute_dtype] + workspace_bytes
    _check_bytes(needed, f"output {spec.output_shape} of {spec.compute_dtype} plus the {backend} backend's workspace",
                 limit)
    return limit is not None or needed < _SYSTEM_CHECK_BYTES


def check_output_memory(output_shape: tuple[int, ...], compute_dtype: str, limit: int | None) -> None:
    """:func:`check_memory` for a result assembled from several backend calls (a
    transposed convolution's phases), before it is allocated."""
    needed = ITEMSIZE[compute_dtype]
    for size in output_shape:
        needed *= size
    _check_bytes(needed, f"output {tuple(output_shape)} of {compute_dtype}", limit)


def check_parameter_memory(parameters: dict[str, tuple[int, ...]], dtype: Any, limit: int | None) -> None:
    """Refuse a layer whose parameters (name: shape, of ``dtype``) exceed ``limit``
    bytes, before any is allocated.

    Examples
    --------
    >>> check_parameter_memory({"weight": (10**6, 10**6, 3), "bias": (10**6,)}, "float32", None)
    Traceback (most recent call last):
    ...
    arrayconv.WorkspaceError: this layer needs about 1.12e+04 GiB (weight (1000000, 1000000, 3) and bias (1000000,) of float32), ...
    """
    itemsize = np.dtype(dtype).itemsize
    needed = sum(math.prod(size) for size in parameters.values()) * itemsize
    what = " and ".join(f"{name} {tuple(size)}" for name, size in parameters.items())
    _check_bytes(needed, f"{what} of {np.dtype(dtype).name}", limit, "this layer",
                 "use fewer channels or a shorter kernel, a smaller dtype, or raise memory_limit")


# Without a memory_limit, calls needing this many bytes or more are held to the memory available.
_SYSTEM_CHECK_BYTES = 1 << 26


def _check_bytes(needed: int, what: str, limit: int | None, who: str = "this call", advice: str = _CALL_ADVICE) -> None:
    if limit is None:
        if needed < _SYSTEM_CHECK_BYTES:
            return
        limit = _available_memory()
        source = "the memory available now"
        if limit is None:
            return
    else:
        source = "the memory_limit setting"
    if needed > limit:
        raise WorkspaceError(
            f"{who} needs about {needed / 2**30:.3g} GiB ({what}), more than {source} "
            f"({limit / 2**30:.3g} GiB); {advice}"
        )


def _available_memory(meminfo_path: str = "/proc/meminfo") -> int | None:
    """MemAvailable (Linux: free memory plus what the kernel can reclaim), else the physical memory."""
    try:
        with open(meminfo_path) as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system
        return None
