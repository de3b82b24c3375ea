"""One OpenMP runtime in the process: MKL's FFTs on GNU OpenMP, with per-call thread limits.

mkl-fft links ``libmkl_rt``, whose default threading layer loads Intel's
OpenMP runtime (``libiomp5``).  The Cython kernels are built with GCC and use
GNU OpenMP (``libgomp``).  Two OpenMP runtimes in one process each keep a pool
of threads sized to the machine (oversubscription) and are a documented
source of crashes and deadlocks.  So before MKL runs anything, the backend
selects MKL's GNU threading layer (``libmkl_gnu_thread``), which runs MKL's
threads on the libgomp that the kernels already use: one runtime, one pool.

A user who sets ``MKL_THREADING_LAYER`` keeps their choice (for example
``SEQUENTIAL``); ``python -m arrayconv info`` shows the layer in effect.  If
another library started MKL first, MKL keeps the layer it started with, and
the report says so.

Each FFT call sets MKL's thread count for the calling thread only
(``mkl_set_num_threads_local``) and restores it, so ``threads`` settings,
``OMP_NUM_THREADS`` and threadpoolctl limits are honoured without changing
what other threads of the process see.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

from arrayconv import _openmp  # noqa: F401  (loads libgomp, which MKL's GNU layer must find)

__all__ = ["load", "threading_layer", "ThreadLimit", "dfti_addresses", "DFTI_ENTRY_POINTS"]

_LAYERS = {0: "intel", 1: "sequential", 2: "pgi", 3: "gnu", 4: "tbb"}
_GNU = 3

_rt: Any = None
_layer: str = "unknown"


def _loaded_library(fragment: str) -> str | None:
    """Path of a loaded shared library whose file name contains ``fragment`` (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if fragment in os.path.basename(path):
                    return path
    except OSError:
        pass
    return None


def load() -> Any:
    """Import mkl_fft with MKL on GNU OpenMP (see the module's notes); returns the module."""
    global _rt, _layer
    if _rt is not None:
        import mkl_fft

        return mkl_fft
    # libmkl_gnu_thread resolves GNU OpenMP's symbols globally: make the
    # libgomp our kernels loaded visible (a no-op where it is not loaded).
    gomp = _loaded_library("libgomp")
    if gomp is not None and sys.platform.startswith("linux"):
        ctypes.CDLL(gomp, mode=ctypes.RTLD_GLOBAL)
    import mkl_fft

    path = _loaded_library("libmkl_rt")
    rt = ctypes.CDLL(path) if path else None
    if rt is not None:
        rt.MKL_Set_Threading_Layer.restype = ctypes.c_int
        rt.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        rt.MKL_Set_Num_Threads_Local.restype = ctypes.c_int
        rt.MKL_Set_Num_Threads_Local.argtypes = [ctypes.c_int]
        rt.MKL_Get_Max_Threads.restype = ctypes.c_int
        chosen = os.environ.get("MKL_THREADING_LAYER", "").strip().lower()
        if chosen:
            _layer = chosen  # the user's choice, which MKL reads itself
        elif gomp is not None:
            # returns the layer in effect: the one asked for, or the one MKL
            # already runs if another library started it first
            _layer = _LAYERS.get(rt.MKL_Set_Threading_Layer(_GNU), "unknown")
    _rt = rt if rt is not None else False
    return mkl_fft


# MKL's DFTI functions that compiled callers use (backends/_dfti.h), in the order
# _fft_kernels.DftiTransforms takes their addresses
DFTI_ENTRY_POINTS = ("DftiCreateDescriptor", "DftiSetValue", "DftiCommitDescriptor", "DftiComputeForward",
                     "DftiComputeBackward", "DftiFreeDescriptor")


def dfti_addresses() -> tuple[int, ...] | None:
    """The addresses of MKL's DFTI entry points (:data:`DFTI_ENTRY_POINTS`, in order) in the
    loaded libmkl_rt, for compiled callers that commit their own descriptors; None where
    MKL is not reachable."""
    if not _rt:
        return None
    try:
        return tuple(ctypes.cast(getattr(_rt, name), ctypes.c_void_p).value for name in DFTI_ENTRY_POINTS)
    except AttributeError:  # an MKL without the DFTI interface
        return None


def threading_layer() -> str:
    """The MKL threading layer in effect: 'gnu', 'sequential', 'intel', 'tbb' or 'unknown'."""
    return _layer


def max_threads() -> int:
    """MKL's thread limit for the calling thread (1 if MKL's runtime is not reachable)."""
    return _rt.MKL_Get_Max_Threads() if _rt else 1


class ThreadLimit:
    """``with ThreadLimit(n):`` MKL uses at most ``n`` threads in this thread."""

    __slots__ = ("_count", "_saved")

    def __init__(self, count: int) -> None:
        self._count = count
        self._saved = 0

    def __enter__(self) -> None:
        if _rt:
            self._saved = _rt.MKL_Set_Num_Threads_Local(self._count)

    def __exit__(self, *exc: object) -> None:
        if _rt:
            _rt.MKL_Set_Num_Threads_Local(self._saved)
