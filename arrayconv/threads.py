"""How many threads the CPU kernels may use.

Precedence: :func:`set_num_threads` > ``ARRAYCONV_NUM_THREADS`` >
``OMP_NUM_THREADS`` > the cores this process may run on.  The environment is
read once, at import, as OpenMP itself does.  Small problems run on one
thread whatever the setting (the kernels decide).
"""

from __future__ import annotations

import os

__all__ = ["get", "set_num_threads"]

_setting: int | None = None


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_CORES = _usable_cores()


def _from_environment() -> int | None:
    for variable in ("ARRAYCONV_NUM_THREADS", "OMP_NUM_THREADS"):
        text = os.environ.get(variable)
        if text:
            # OMP_NUM_THREADS may be a list ("4,2"): its first entry is the outer level
            first = text.split(",")[0].strip()
            if first.isdigit() and int(first) > 0:
                return int(first)
            raise ValueError(f"{variable} must be a positive integer, got {variable}={text!r}")
    return None


_DEFAULT = _from_environment() or _CORES


def get() -> int:
    """Threads a parallel kernel may use.

    Examples
    --------
    >>> get() >= 1
    True
    """
    return _DEFAULT if _setting is None else _setting


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
