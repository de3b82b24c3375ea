"""How many threads the CPU kernels may use."""

from __future__ import annotations

import os

__all__ = ["get"]


def get() -> int:
    """Threads for a parallel kernel: ``OMP_NUM_THREADS`` if set, else the usable cores.

    Examples
    --------
    >>> get() >= 1
    True
    """
    setting = os.environ.get("OMP_NUM_THREADS", "")
    if setting.strip().isdigit() and int(setting) > 0:
        return int(setting)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
