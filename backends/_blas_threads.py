"""Keeping the BLAS behind ``scipy.linalg.cython_blas`` to one thread while our kernels run.

The GEMM path runs one GEMM per work item on each of its own OpenMP threads;
a BLAS that also threads each call would oversubscribe the cores.  OpenBLAS's
``openblas_set_num_threads_local`` is not thread-local in scipy's pthreads
build (it sets the process-wide count), so the count is set process-wide
instead, once for all concurrent calls: the first call to enter sets it to 1,
the last to leave restores it.  While any arrayconv call runs, other scipy BLAS
calls of the process run on one thread (numpy's own BLAS is a separate
library and is not affected).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from collections.abc import Callable
from typing import Any


class BlasPin:
    """Reference-counted "BLAS on one thread" for the duration of kernel calls."""

    def __init__(self, get_threads: Callable[[], int], set_threads: Callable[[int], Any]) -> None:
        self._get = get_threads
        self._set = set_threads
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 1

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._saved = self._get()
                if self._saved != 1:
                    self._set(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._saved != 1:
                self._set(self._saved)


def _openblas_functions(dynlib: Any) -> tuple[Callable[[], int], Callable[[int], Any]] | None:
    """OpenBLAS's own get/set of the process-wide count, called directly.

    threadpoolctl's controller ignores set_num_threads from any thread but the
    first that used it (for pthreads builds), and a call may come from any
    Python thread, so the library's functions are called directly.
    """
    for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
        get = getattr(dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
        set_ = getattr(dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
        if get is not None and set_ is not None:
            get.restype, get.argtypes = ctypes.c_int, []
            set_.restype, set_.argtypes = None, [ctypes.c_int]
            return get, set_
    return None


def find_pin() -> BlasPin | None:
    """A pin for the BLAS that scipy.linalg.cython_blas calls, or None if it cannot be found."""
    import os

    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library)
    from threadpoolctl import ThreadpoolController

    scipy_root = os.path.dirname(os.path.dirname(os.path.abspath(scipy.__file__)))
    candidates = [
        lib
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers
        if "numpy" not in os.path.basename(os.path.dirname(lib.filepath))
    ]
    # scipy's wheels keep their BLAS in site-packages/scipy.libs; elsewhere
    # (conda, distributions) one shared BLAS serves both numpy and scipy.
    preferred = [lib for lib in candidates if "scipy" in lib.filepath and lib.filepath.startswith(scipy_root)]
    chosen = (preferred or candidates or [None])[0]
    if chosen is None:
        return None
    if chosen.internal_api == "openblas":
        functions = _openblas_functions(chosen.dynlib)
        if functions is not None:
            return BlasPin(*functions)
    return BlasPin(chosen.get_num_threads, chosen.set_num_threads)


_UNSET = object()
_shared: Any = _UNSET  # a BlasPin, or None where the BLAS was not found
_shared_lock = threading.Lock()


def shared_pin() -> BlasPin | None:
    """The process's one pin for scipy's BLAS (found on first use), shared by all backends.

    One object for every caller: two pins would each count their own users,
    and one could restore the BLAS's threads while the other's calls run.
    """
    global _shared
    if _shared is _UNSET:
        with _shared_lock:
            if _shared is _UNSET:
                _shared = find_pin()
    return _shared
