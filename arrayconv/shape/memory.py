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

import os

from ..dtypes import ITEMSIZE
from ..records import ConvSpec

__all__ = ["WorkspaceError", "check_memory", "check_output_memory"]


class WorkspaceError(MemoryError):
    """A call would need more memory than the ``memory_limit`` setting (or the machine) allows."""


WorkspaceError.__module__ = "arrayconv"  # its public name: arrayconv.WorkspaceError


def check_memory(spec: ConvSpec, workspace_bytes: int, limit: int | None, backend: str) -> None:
    """Refuse a call whose output and workspace exceed ``limit`` bytes, before anything is allocated.

    ``limit`` None: the memory the system reports available now (checked only
    for calls of 64 MiB and more, so small calls pay nothing).
    """
    needed = spec.batch * spec.output_channels * spec.length_out * ITEMSIZE[spec.compute_dtype] + workspace_bytes
    _check_bytes(needed, f"output {spec.output_shape} of {spec.compute_dtype} plus the {backend} backend's workspace",
                 limit)


def check_output_memory(output_shape: tuple[int, ...], compute_dtype: str, limit: int | None) -> None:
    """:func:`check_memory` for a result assembled from several backend calls (a
    transposed convolution's phases), before it is allocated."""
    needed = ITEMSIZE[compute_dtype]
    for size in output_shape:
        needed *= size
    _check_bytes(needed, f"output {tuple(output_shape)} of {compute_dtype}", limit)


def _check_bytes(needed: int, what: str, limit: int | None) -> None:
    if limit is None:
        if needed < 1 << 26:
            return
        limit = _available_memory()
        source = "the memory available now"
        if limit is None:
            return
    else:
        source = "the memory_limit setting"
    if needed > limit:
        raise WorkspaceError(
            f"this call needs about {needed / 2**30:.3g} GiB ({what}), more than {source} "
            f"({limit / 2**30:.3g} GiB); split the batch or the signal (Dask does it for you), "
            f"use a smaller dtype, force a backend with a smaller workspace (backend=...), "
            f"or raise memory_limit"
        )


def _available_memory() -> int | None:
    """MemAvailable (Linux: free memory plus what the kernel can reclaim), else the physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system
        return None
