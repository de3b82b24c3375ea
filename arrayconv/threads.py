"""How many threads the CPU kernels may use.

Precedence: :func:`set_num_threads` > ``ARRAYCONV_NUM_THREADS`` >
``OMP_NUM_THREADS`` > the cores this process may run on.  The environment is
read once, on first use, as OpenMP itself reads it.  The kernels also stay
within OpenMP's own limit (``omp_get_max_threads``), so threadpoolctl's
``threadpool_limits(n)`` caps them too, and small problems run on one thread
whatever the setting.

After ``fork`` the child runs on one thread until it calls
:func:`set_num_threads`: GNU OpenMP cannot use its thread pool in a forked
child, and a child that tried would hang.
"""

from __future__ import annotations

import os

__all__ = ["get", "set_num_threads"]

_setting: int | None = None
_default: int | None = None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _from_environment() -> int:
    text = os.environ.get("ARRAYCONV_NUM_THREADS", "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"ARRAYCONV_NUM_THREADS must be a positive integer, got ARRAYCONV_NUM_THREADS={text!r}")
        return int(text)
    # OMP_NUM_THREADS may be a list ("4,2") whose first entry is the outer
    # level; OpenMP ignores a malformed value, and so do we.
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first)
    return _usable_cores()


def get() -> int:
    """Threads a parallel kernel may use.

    Raises
    ------
    ValueError
        If ``ARRAYCONV_NUM_THREADS`` is set to something other than a positive integer.

    Examples
    --------
    >>> get() >= 1
    True
    """
    global _default
    if _setting is not None:
        return _setting
    if _default is None:
        _default = _from_environment()
    return _default


def set_num_threads(count: int | None) -> None:
    """Use ``count`` threads in the CPU kernels (None: back to the environment's choice).

    Examples
    --------
    >>> set_num_threads(1)
    >>> get()
    1
    >>> set_num_threads(None)
    """
    global _setting
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"count must be a positive int or None, got count={count!r}")
    _setting = count


def _one_thread_after_fork() -> None:
    global _setting
    _setting = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_one_thread_after_fork)
