"""The ``direct`` backend: time-domain convolution by the Cython kernels."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from arrayconv import threads
from arrayconv.dtypes import COST_WIDTH
from arrayconv.padding import MODE_CODE
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _blas_threads
from ._direct import conv1d_direct, conv1d_weight_grad, tiles_available

_NO_BIAS = {name: np.zeros(0, dtype=name) for name in ("float32", "float64", "complex64", "complex128")}
_NO_WORK = {name: np.zeros((1, 1), dtype=name) for name in _NO_BIAS}
_INT_MAX = 2**31 - 1

# Below this many multiply-accumulates a second thread costs more than it saves
# (waking a sleeping thread costs tens to hundreds of microseconds).
_PARALLEL_MIN_MACS = 1 << 21
# The gemm path pays off when the weight matrix has enough rows and columns.
_GEMM_MIN_OUT_CHANNELS = 8
_GEMM_MIN_PACKED_ROWS = 8
# Packed block: about this many bytes (measured on a 1 MiB-L2 core: from 256 KiB
# to 1 MiB the GEMM rate varies by a few percent, narrower blocks lose 10%),
# at most this many rows, and at least this many columns.
_BLOCK_BYTES = 1 << 20
_BLOCK_MAX_ROWS = 1024
_BLOCK_MIN_COLS = 256
# Split short signals into at least this many blocks per call, so that up to
# this many threads have work; fixed (not the thread count) so that the
# blocks, and with them every output's bits, are the same for any count.
_BLOCKS_FOR_THREADS = 16
# Calls above this many multiply-adds (a few tenths of a second) run in
# slices of the batch, so that KeyboardInterrupt gets through between slices.
_INTERRUPT_MACS = 1 << 33
# The weight gradient's sum over (batch element, group, block) is split into
# at most this many parts, each with its own accumulator of the weight's size
# (all together at most _WGRAD_PARTS_BYTES, but at least two parts), so that
# threads share it.
_WGRAD_PARTS = 16
_WGRAD_PARTS_BYTES = 1 << 28
# float32 blocks with stride 1 that read only inside the signal run the
# register-tiled kernel (no packing) when this is on (where the CPU has one).
_USE_TILES = tiles_available()

def uses_gemm(spec: ConvSpec) -> bool:
    """Whether the layer is a matrix product worth a GEMM (else: the loops path)."""
    out_rows = spec.out_channels_per_group
    packed_rows = spec.in_channels_per_group * spec.kernel_size
    return (
        out_rows >= _GEMM_MIN_OUT_CHANNELS
        and packed_rows >= _GEMM_MIN_PACKED_ROWS
        and max(out_rows, packed_rows, spec.length_out) <= _INT_MAX
    )


def _gemm_blocks(spec: ConvSpec) -> tuple[int, int]:
    """(columns, rows) of the packed block: cache-sized, with work for several threads.

    The blocks depend on the shapes alone, never on the thread count, so that
    every output element is computed the same way whatever the thread count.
    """
    itemsize = np.dtype(spec.compute_dtype).itemsize
    rows = min(spec.in_channels_per_group * spec.kernel_size, _BLOCK_MAX_ROWS)
    # whole tiles of the tiled kernel (32 columns)
    cols = max(32, max(_BLOCK_MIN_COLS, _BLOCK_BYTES // (rows * itemsize)) // 32 * 32)
    # enough blocks that up to _BLOCKS_FOR_THREADS threads share the work evenly
    wanted_blocks = -(-_BLOCKS_FOR_THREADS // max(1, spec.batch * spec.groups))
    even_share = -(-spec.length_out // wanted_blocks)
    cols = min(cols, max(_BLOCK_MIN_COLS, -(-even_share // 32) * 32))
    return max(1, min(cols, spec.length_out)), rows


_KERNELS = {
    "float32": conv1d_direct["float"],
    "float64": conv1d_direct["double"],
    "complex64": conv1d_direct["float complex"],
    "complex128": conv1d_direct["double complex"],
}


class DirectPlan(NamedTuple):
    """How a call runs on the direct backend: its threads and packed block (columns 0: the loops path)."""

    threads: int
    columns: int
    rows: int


class WeightGradPlan(NamedTuple):
    """How a weight gradient runs: threads, packed block (columns 0: loops) and the parts its sum is split in."""

    threads: int
    columns: int
    rows: int
    parts: int


@functools.lru_cache(maxsize=512)
def _plan(spec: ConvSpec, configured_threads: int) -> DirectPlan:
    """The threads and packed block of a call.

    Cached: a layer called again with the same shapes plans nothing.
    """
    num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else configured_threads
    if not uses_gemm(spec):
        # the loops path shares out whole output rows
        return DirectPlan(threads=max(1, min(num_threads, spec.batch * spec.output_channels)), columns=0, rows=0)
    if _blas_threads.shared_pin() is None:
        num_threads = 1  # the BLAS cannot be kept to one thread: let it thread each GEMM
    cols, rows = _gemm_blocks(spec)
    items = spec.batch * spec.groups * -(-spec.length_out // cols)
    return DirectPlan(threads=max(1, min(num_threads, items)), columns=cols, rows=rows)


_WGRAD_KERNELS = {
    "float32": conv1d_weight_grad["float"],
    "float64": conv1d_weight_grad["double"],
    "complex64": conv1d_weight_grad["float complex"],
    "complex128": conv1d_weight_grad["double complex"],
}


@functools.lru_cache(maxsize=512)
def _weight_grad_plan(spec: ConvSpec, configured_threads: int) -> WeightGradPlan:
    """The threads, packed block and parts of a weight gradient.

    The parts, like the blocks, depend on the shapes alone.
    """
    num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else configured_threads
    if not uses_gemm(spec):
        return WeightGradPlan(threads=max(1, min(num_threads, spec.out_channels)), columns=0, rows=0, parts=0)
    itemsize = np.dtype(spec.compute_dtype).itemsize
    packed_rows = spec.in_channels_per_group * spec.kernel_size
    rows = min(packed_rows, _BLOCK_MAX_ROWS)
    cols = max(1, min(spec.length_out, max(_BLOCK_MIN_COLS, _BLOCK_BYTES // (rows * itemsize))))
    items = spec.batch * spec.groups * -(-spec.length_out // cols)
    weight_bytes = spec.out_channels * packed_rows * itemsize
    parts = max(1, min(_WGRAD_PARTS, items, max(2, _WGRAD_PARTS_BYTES // weight_bytes)))
    if _blas_threads.shared_pin() is None:
        num_threads = 1
    return WeightGradPlan(threads=max(1, min(num_threads, parts)), columns=cols, rows=rows, parts=parts)


class DirectBackend(CostModel):
    """Cython direct kernels on the CPU: every dtype, padding mode and group layout.

    Channel-heavy layers run as blocked GEMMs (scipy's BLAS), depthwise and
    few-channel layers as vectorised loops.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> arrayconv.conv1d(x, np.ones((1, 1, 2)), backend="direct")
    array([[[1., 3., 5., 7.]]])
    """

    name = "direct"

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        if device != "cpu":
            return f"runs on the CPU only, the arrays are on {device!r}"
        return None

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        """The call's cost terms now (see :mod:`arrayconv.routing`), work divided among its threads."""
        if spec.is_empty:
            return {"direct_call": 1.0}
        path = "direct_gemm_mac" if uses_gemm(spec) else "direct_loops_mac"
        return {"direct_call": 1.0, path: spec.macs * COST_WIDTH[spec.compute_dtype] / _plan(spec, threads.get()).threads}

    def workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes allocated besides the output: one packing block per thread."""
        if spec.is_empty:
            return 0
        num_threads, cols, rows = _plan(spec, threads.get())
        return num_threads * cols * rows * np.dtype(spec.compute_dtype).itemsize

    def run(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        dtype = spec.compute_dtype
        out = np.empty(spec.output_shape, dtype=dtype)
        if spec.is_empty:
            return out
        num_threads, cols, rows = _plan(spec, threads.get())
        work = np.empty((num_threads, cols * rows), dtype=dtype) if cols else _NO_WORK[dtype]
        # Serial calls are pinned too (the bits would be the same either way:
        # the BLAS threads a GEMM by splitting its output, never its sums): on
        # a shared machine the BLAS's own threads of a small GEMM land on busy
        # cores (tiny, one core busy elsewhere: 236 us unpinned, 119 us pinned).
        pin = _blas_threads.shared_pin() if cols else None
        if pin is None:
            _run_pieces(spec, x, w, b, out, num_threads, cols, rows, work)
        else:
            with pin:
                _run_pieces(spec, x, w, b, out, num_threads, cols, rows, work)
        return out

    def weight_grad_workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes a weight gradient allocates besides its result: packing blocks and part sums."""
        if spec.is_empty:
            return 0
        num_threads, cols, rows, parts = _weight_grad_plan(spec, threads.get())
        weight = spec.out_channels * spec.in_channels_per_group * spec.kernel_size
        return (num_threads * cols * rows + max(0, parts - 1) * weight) * np.dtype(spec.compute_dtype).itemsize

    def run_weight_grad(self, spec: ConvSpec, x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        """``sum_{n, l} grad_output[n, o, l] * x[n, c, l * stride + k * dilation - pad_left]``:
        the weight gradient of ``spec`` without conjugation, ``(C_out, C_in / groups, K)``.

        ``x`` is ``(N, C_in, L)``, ``grad_output`` ``(N, C_out, L_out)``, both C-contiguous
        in ``spec.compute_dtype``.  Calls above 2**33 multiply-adds run in slices of
        the batch, added in order, so that KeyboardInterrupt gets through.
        """
        dtype = spec.compute_dtype
        grad = np.zeros((spec.out_channels, spec.in_channels_per_group, spec.kernel_size), dtype=dtype)
        if spec.is_empty:
            return grad
        pieces = min(spec.batch, -(-spec.macs // _INTERRUPT_MACS))
        if pieces > 1:
            step = -(-spec.batch // pieces)
            for first in range(0, spec.batch, step):
                last = min(first + step, spec.batch)
                grad += self.run_weight_grad(spec._replace(batch=last - first), x[first:last], grad_output[first:last])
            return grad
        num_threads, cols, rows, parts = _weight_grad_plan(spec, threads.get())
        work = np.empty((num_threads, cols * rows), dtype=dtype) if cols else _NO_WORK[dtype]
        sums = np.zeros((parts - 1, grad.size), dtype=dtype) if parts > 1 else _NO_WORK[dtype][:0]
        # the BLAS on one thread: its own threads could change the sums' order
        pin = _blas_threads.shared_pin() if cols else None
        arguments = (x, grad_output, grad, spec.stride, spec.dilation, spec.pad_left,
                     MODE_CODE[spec.padding_mode], spec.groups, num_threads, cols, rows, work, sums)
        if pin is None:
            _WGRAD_KERNELS[dtype](*arguments)
        else:
            with pin:
                _WGRAD_KERNELS[dtype](*arguments)
        for part in sums:  # in order: the bits do not depend on the thread count
            grad += part.reshape(grad.shape)
        return grad


def _run_pieces(
    spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray,
    num_threads: int, cols: int, rows: int, work: np.ndarray,
) -> None:
    """The kernel over slices of a long call, so that Ctrl-C (KeyboardInterrupt, which
    Python raises between two kernel calls, not inside one) stops it promptly.

    Slices of the batch where it has enough items, else, for one item, slices
    of the output length (each computed into a piece, with the padding
    shifted so it reads the same inputs, then copied into place).  The slices
    depend on the shapes alone, never on the thread count.
    """
    pieces = -(-spec.macs // _INTERRUPT_MACS)
    if pieces <= 1:
        _run_kernel(spec, x, w, b, out, num_threads, cols, rows, work, spec.pad_left)
        return
    if spec.batch >= pieces or spec.length_out < 2:
        step = -(-spec.batch // min(pieces, spec.batch))
        for first in range(0, spec.batch, step):
            last = min(first + step, spec.batch)
            _run_kernel(spec, x[first:last], w, b, out[first:last], num_threads, cols, rows, work, spec.pad_left)
        return
    # fewer items than slices: each item in slices of its output length
    step = -(-spec.length_out // -(-pieces // spec.batch))
    if cols:
        step = -(-step // cols) * cols  # whole GEMM blocks per slice
    for item in range(spec.batch):
        for first in range(0, spec.length_out, step):
            count = min(step, spec.length_out - first)
            piece = np.empty((1, spec.output_channels, count), dtype=out.dtype)
            # output t of the piece reads input (first + t) * stride + k * dilation - pad_left
            _run_kernel(spec, x[item : item + 1], w, b, piece, num_threads, cols, rows, work,
                        spec.pad_left - first * spec.stride)
            out[item, :, first : first + count] = piece[0]


def _run_kernel(
    spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray,
    num_threads: int, cols: int, rows: int, work: np.ndarray, pad_left: int,
) -> None:
    dtype = spec.compute_dtype
    _KERNELS[dtype](
        x,
        w,
        _NO_BIAS[dtype] if b is None else b,
        out,
        spec.stride,
        spec.dilation,
        pad_left,
        MODE_CODE[spec.padding_mode],
        spec.groups,
        b is not None,
        num_threads,
        cols,
        rows,
        work,
        _USE_TILES and dtype == "float32" and spec.stride == 1,
    )
