# cython: language_level=3
"""OpenMP's own thread limit, read from the runtime the kernels run on.

Compiled with the kernels' OpenMP flags, so it asks the same runtime
(libgomp with GCC) that their ``prange`` loops use.
"""

cimport openmp


def omp_max_threads():
    """OpenMP's thread limit for the calling thread (``OMP_NUM_THREADS``,
    ``omp_set_num_threads``, threadpoolctl's ``threadpool_limits``), which caps the kernels.

    Examples
    --------
    >>> omp_max_threads() >= 1
    True
    """
    return openmp.omp_get_max_threads()
