"""The matrix-product rates the benchmarks print as their ceiling.

Examples
--------
>>> gemm_rate("float32", 1, size=128, repeats=1) > 1e8
True
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["gemm_rate", "torch_matmul_rate", "torch_threads", "restores_torch_threads"]


@contextlib.contextmanager
def torch_threads(count: int | None = None) -> Iterator[Any]:
    """torch (yielded; None where it is not installed) on ``count`` threads inside the
    block, if given, and its own count restored after it, whatever the block set.

    torch and arrayconv's kernels may share one OpenMP runtime, whose limit for
    the calling thread caps arrayconv's threads too: a count left behind (one
    thread, say) would slow every later call of the process.

    Examples
    --------
    >>> with torch_threads(1) as torch:
    ...     torch is None or torch.get_num_threads() == 1
    True
    """
    try:
        import torch
    except ImportError:
        yield None
        return
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield torch
    finally:
        torch.set_num_threads(previous)


def restores_torch_threads(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run inside :func:`torch_threads`: torch's thread count is the same after it."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with torch_threads():
            return function(*args, **kwargs)

    return wrapper


def gemm_rate(dtype: str = "float32", num_threads: int | None = None, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a square GEMM through scipy's BLAS (the one arrayconv calls) on
    ``num_threads`` threads (default: the BLAS's own count), best of ``repeats``."""
    from scipy.linalg import blas
    from threadpoolctl import threadpool_limits

    routine = blas.get_blas_funcs("gemm", dtype=np.dtype(dtype))
    a = np.asfortranarray(np.random.default_rng(0).standard_normal((size, size)).astype(dtype))
    with threadpool_limits(num_threads, user_api="blas"):
        routine(1.0, a, a)  # warm up threads and caches
        best = min(_seconds(lambda: routine(1.0, a, a)) for _ in range(repeats))
    per_mac = 8 if np.dtype(dtype).kind == "c" else 2
    return per_mac * size**3 / best


def torch_matmul_rate(num_threads: int, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of torch's float32 matrix product on ``num_threads`` threads, best of ``repeats``
    (torch must be installed).

    Examples
    --------
    >>> torch_matmul_rate(1, size=128, repeats=1) > 1e8
    True
    """
    with torch_threads(num_threads) as torch:
        a = torch.randn(size, size)
        a @ a  # warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _seconds(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start
