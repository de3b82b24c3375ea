# cython: language_level=3
"""Output arrays whose memory is kept for the next call (``_output_pool.h``).

:func:`empty` allocates like ``numpy.empty``, through a NumPy memory handler
(NEP 49) that keeps the memory of freed outputs of 4 MiB and more, up to a
byte limit, and hands it to the next output it fits: no page faults and no
zeroing by the kernel on the calls of a loop.  Only the arrays made here
carry the handler; every other allocation of the process is NumPy's own.
"""

import numpy as np

from cpython.pycapsule cimport PyCapsule_New
from libc.string cimport strncpy


cdef extern from "numpy/arrayobject.h":
    int _import_array() except -1
    object PyDataMem_SetHandler(object handler)
    ctypedef struct PyDataMemAllocator:
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t count, size_t itemsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        unsigned char version
        PyDataMemAllocator allocator

cdef extern from "_output_pool.h" nogil:
    size_t ACOP_MIN_POOLED
    void *acop_malloc(void *ctx, size_t size)
    void *acop_calloc(void *ctx, size_t count, size_t itemsize)
    void *acop_realloc(void *ctx, void *data, size_t size)
    void acop_free(void *ctx, void *data, size_t size)
    void acop_set_keep(size_t keep)
    void acop_kept(int *count, size_t *bytes)
    void acop_install()


_import_array()
acop_install()

# The handler lives as long as the module (the arrays hold the capsule too).
cdef PyDataMem_Handler _handler
strncpy(_handler.name, b"arrayconv_output_pool", 126)
_handler.version = 1
_handler.allocator.ctx = NULL
_handler.allocator.malloc = acop_malloc
_handler.allocator.calloc = acop_calloc
_handler.allocator.realloc = acop_realloc
_handler.allocator.free = acop_free
_capsule = PyCapsule_New(&_handler, "mem_handler", NULL)

MIN_KEPT_BYTES = ACOP_MIN_POOLED


def set_keep(Py_ssize_t keep):
    """Keep at most ``keep`` bytes from now on (0: none), releasing what is over at once."""
    with nogil:
        acop_set_keep(max(keep, 0))


def empty(shape, dtype):
    """``numpy.empty(shape, dtype)`` whose memory comes from, and goes back to, the pool."""
    previous = PyDataMem_SetHandler(_capsule)
    try:
        return np.empty(shape, dtype=dtype)
    finally:
        PyDataMem_SetHandler(previous)


def kept():
    """(blocks, bytes) the pool holds now."""
    cdef int count
    cdef size_t size
    acop_kept(&count, &size)
    return count, size
