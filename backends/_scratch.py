"""Memory the CPU backends keep between calls: per-thread scratch, and outputs.

Fresh large allocations come from the kernel as zeroed pages, and faulting
them in costs more than the arithmetic of a call of a few milliseconds; so
each calling thread keeps one scratch block per owner (a backend) and reuses
it for its next call (the scratch arrays live only during the call that asked
for them), and the backends' outputs come from a pool that keeps the memory
of freed large outputs for the next ones (:func:`output`, the
``output_cache`` setting).

Examples
--------
>>> import numpy as np
>>> a, b = scratch("example", [((2, 3), np.float32), ((4,), np.intp)])
>>> a.shape, b.dtype == np.intp, a.ctypes.data % 64
((2, 3), True, 0)
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from arrayconv import config
from arrayconv.dtypes import NUMPY_DTYPE

from . import _output_pool

__all__ = ["scratch", "output", "release_outputs"]

# Each calling thread keeps a block of up to this size per owner between calls.
KEEP_BYTES = 16 << 20

_local = threading.local()
# the output_cache limit the pool was last given (-1: none yet)
_kept_limit = [-1]


def scratch(owner: str, layout: list[tuple[tuple[int, ...], Any]]) -> list[np.ndarray]:
    """Uninitialised arrays of the given shapes and dtypes, 64-byte aligned, in one block.

    The block is the calling thread's for ``owner`` (each backend its own, so
    that a backend may call another while it holds its arrays), kept up to
    ``KEEP_BYTES``.
    """
    counts = [math.prod(shape) for shape, _ in layout]
    itemsizes = [np.dtype(dtype).itemsize for _, dtype in layout]
    sizes = [-(-count * itemsize // 64) * 64 for count, itemsize in zip(counts, itemsizes)]
    total = sum(sizes) + 64
    blocks = _local.__dict__.setdefault("blocks", {})
    block = blocks.get(owner)
    if block is None or block.nbytes < total:
        block = np.empty(total, dtype=np.uint8)
        if total <= KEEP_BYTES:
            blocks[owner] = block
    offset = -block.ctypes.data % 64
    arrays = []
    for (shape, dtype), count, itemsize, size in zip(layout, counts, itemsizes, sizes):
        arrays.append(block[offset : offset + count * itemsize].view(dtype).reshape(shape))
        offset += size
    return arrays


def output(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An uninitialised output array whose memory, once the caller frees it, the
    next outputs may reuse (up to the ``output_cache`` setting's bytes in all)."""
    keep = config.snapshot().output_cache
    if keep != _kept_limit[0]:  # the setting changed: the pool follows at once
        _output_pool.set_keep(keep)
        _kept_limit[0] = keep
    dtype = NUMPY_DTYPE.get(dtype) or np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < _output_pool.MIN_KEPT_BYTES:
        return np.empty(shape, dtype)  # never kept: NumPy's own allocator, without the handler's switch
    return _output_pool.empty(shape, dtype)


def release_outputs() -> None:
    """Give the memory kept for later outputs back to the system now (the
    ``output_cache`` setting stays, and later freed outputs are kept again).

    Examples
    --------
    >>> release_outputs()
    >>> _output_pool.kept()
    (0, 0)
    """
    _output_pool.set_keep(0)
    _kept_limit[0] = -1  # the next output gives the pool the setting's limit again
