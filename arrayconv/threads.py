"""How many threads the CPU kernels may use.

The ``threads`` setting of :mod:`arrayconv.config` (per context, process,
``ARRAYCONV_NUM_THREADS`` or the config file), else ``OMP_NUM_THREADS``,
else the cores this process may really use: those of its affinity mask, and
no more than its cgroup's CPU quota allows (a container limited to 1.5 CPUs
on a 64-core host uses 2 threads, not 64).  The kernels also stay within
OpenMP's own limit (``omp_get_max_threads``), so threadpoolctl's
``threadpool_limits(n)`` caps them too, and small problems run on one thread
whatever the setting.

After ``fork`` the child runs on one thread until it sets ``threads`` again:
GNU OpenMP cannot use its thread pool in a forked child, and a child that
tried would hang.
"""

from __future__ import annotations

import math
import os

from . import config
from ._openmp import omp_max_threads

__all__ = ["get", "set_num_threads", "usable_cores", "describe"]

_fallback: tuple[int, str] | None = None


_CGROUP_ROOT = "/sys/fs/cgroup"


def _cgroup_quota(root: str = _CGROUP_ROOT) -> float | None:
    """The CPUs the process's cgroup may use per period (None: no quota), v2 or v1.

    Examples
    --------
    >>> _cgroup_quota("/nonexistent") is None
    True
    """
    candidates = [(os.path.join(root, "cpu.max"), None)]  # v2: "quota period" or "max period"
    candidates += [(os.path.join(root, folder, "cpu.cfs_quota_us"), os.path.join(root, folder, "cpu.cfs_period_us"))
                   for folder in ("cpu", "cpu,cpuacct")]  # v1
    for quota_file, period_file in candidates:
        try:
            with open(quota_file) as handle:
                fields = handle.read().split()
            if period_file is not None:
                with open(period_file) as handle:
                    fields.append(handle.read().strip())
        except OSError:
            continue
        if len(fields) < 2 or fields[0] in ("max", "-1"):
            return None
        try:
            quota, period = float(fields[0]), float(fields[1])
        except ValueError:
            return None
        return quota / period if quota > 0 and period > 0 else None
    return None


def usable_cores() -> tuple[int, str]:
    """(the cores this process may really use, why): its affinity mask, capped by
    its cgroup's CPU quota (rounded up).

    Examples
    --------
    >>> count, reason = usable_cores()
    >>> count >= 1 and isinstance(reason, str)
    True
    """
    try:
        count, reason = len(os.sched_getaffinity(0)), "the cores of the process's affinity mask"
    except AttributeError:  # not on Linux
        count, reason = os.cpu_count() or 1, "the machine's cores"
    quota = _cgroup_quota()
    if quota is not None and math.ceil(quota) < count:
        count, reason = math.ceil(quota), f"the cgroup's CPU quota of {quota:g} CPUs"
    return max(1, count), reason


def _openmp_default() -> tuple[int, str]:
    # OMP_NUM_THREADS may be a list ("4,2") whose first entry is the outer
    # level; OpenMP ignores a malformed value, and so do we.
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if first.isdigit() and int(first) > 0:
        return int(first), "environment variable OMP_NUM_THREADS"
    return usable_cores()


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
        value = _fallback[0]
    # OpenMP's own limit for this thread (threadpoolctl's threadpool_limits,
    # omp_set_num_threads) caps the kernels, so it caps the plans too
    return max(1, min(value, omp_max_threads()))


def describe() -> tuple[int, str]:
    """(the threads a parallel kernel may use now, why).

    Examples
    --------
    >>> count, reason = describe()
    >>> count == get()
    True
    """
    value, source = config.lookup("threads")
    if value is not None:
        count, reason = value, f"the threads setting ({source})"
    else:
        count, reason = _fallback if _fallback is not None else _openmp_default()
    limit = omp_max_threads()
    if limit < count:
        count, reason = limit, f"OpenMP's limit for this thread ({reason} asked for {count})"
    return max(1, count), reason


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
