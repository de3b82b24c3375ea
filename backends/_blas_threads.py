"""Thread-local control of the BLAS behind ``scipy.linalg.cython_blas``.

The gemm path runs one single-threaded GEMM per work item on each of its own
OpenMP threads; a BLAS that also threads each call would oversubscribe the
cores.  OpenBLAS (>= 0.3.24) has ``openblas_set_num_threads_local``, which
limits only the calling thread; this finds it in the library scipy loaded.
"""

from __future__ import annotations

import ctypes

_NAMES = ("openblas_set_num_threads_local", "scipy_openblas_set_num_threads_local")


def set_threads_local_address() -> int:
    """Address of the BLAS's thread-local thread-count setter, or 0 if it has none."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library)
    from threadpoolctl import ThreadpoolController

    for library in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if "scipy" not in library.filepath or "scipy_openblas64" in library.filepath:
            continue  # numpy's copy (64-bit ints) is not the one cython_blas calls
        handle = ctypes.CDLL(library.filepath)
        for name in _NAMES:
            function = getattr(handle, name, None)
            if function is not None:
                return ctypes.cast(function, ctypes.c_void_p).value or 0
    return 0
