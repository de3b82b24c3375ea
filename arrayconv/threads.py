"""How many threads the CPU kernels may use.

The ``threads`` setting of :mod:`arrayconv.config` (per context, process,
``ARRAYCONV_NUM_THREADS`` or the config file), else ``OMP_NUM_THREADS``,
else the cores this process may run on.  The kernels also stay within
OpenMP's own limit (``omp_get_max_threads``), so threadpoolctl's
``threadpool_limits(n)`` caps them too, and small problems run on one thread
whatever the setting.

After ``fork`` the child runs on one thread until it sets ``threads`` again:
GNU OpenMP cannot use its thread pool in a forked child, and a child that
tried would hang.
"""

from __future__ import annotations

import os

from . import config
from ._openmp import omp_max_threads

__all__ = ["get", "set_num_threads"]

_fallback: int | None = None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _openmp_default() -> int:
    # OMP_NUM_THREADS may be a list ("4,2") whose first entry is the outer
    # level; OpenMP ignores a malformed value, and so do we.
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first)
    return _usable_cores()


def get() -> int:
    """Threads a parallel kernel may use: the setting, within OpenMP's limit.

    Examples
    --------
    >>> get() >= 1
    True
    """
    global _fallback
    value = config.snapshot().threads
    if value is None:
        if _fallback is None:
            _fallback = _openmp_default()
        value = _fallback
    # OpenMP's own limit for this thread (threadpoolctl's threadpool_limits,
    # omp_set_num_threads) caps the kernels, so it caps the plans too
    return max(1, min(value, omp_max_threads()))


def set_num_threads(count: int | None) -> None:
    """Use ``count`` threads in the CPU kernels, process-wide (None: back to the default).

    The same as ``arrayconv.set_config(threads=count)``.

    Examples
    --------
    >>> set_num_threads(1)
    >>> get()
    1
    >>> set_num_threads(None)
    """
    config.set_config(threads=count)


def _one_thread_after_fork() -> None:
    # The child has only the forking thread: setting the process-wide value and
    # the forking thread's context covers every lookup it can make (an
    # enclosing config_context included) until it sets threads itself.
    after_fork = (1, "one thread after fork")
    config._global = {**config._global, "threads": after_fork}
    config._context.set({**config._context.get(), "threads": after_fork})


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_one_thread_after_fork)
