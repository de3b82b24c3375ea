"""The ``direct`` backend: time-domain convolution by the Cython kernels.

Three paths, chosen per call by :func:`_plan`:

``kernel``
    float32 and float64 layers with enough channels to be matrix products:
    the backend's own convolution GEMM (``_conv_gemm``: register tiles over
    packed weights and a per-item input window; no BLAS, no im2col).
``gemm``
    complex layers of that kind (and real ones where the build has no
    kernel): im2col blocks times the weights by scipy's BLAS (``_direct``).
``loops``
    depthwise and few-channel layers: vectorised row loops (``_direct``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from arrayconv import threads
from arrayconv.dtypes import COST_WIDTH
from arrayconv.padding import MODE_CODE
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _blas_threads, _scratch
from ._conv_gemm import (best_variant, conv1d_gemm, conv1d_weight_grad_gemm, packed_weights_size, scratch_size,
                          tile_shape, weight_grad_columns)
from ._direct import conv1d_direct, conv1d_weight_grad

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
# The own GEMM kernel's variant for this CPU (None where the build has none:
# real layers then take the BLAS path too), and its dtypes.
_KERNEL = best_variant()
_KERNEL_DTYPES = ("float32", "float64")
# Reduction rows per pass over a tile (whole input channels: at least one):
# a tile's input rows (256 x 64 bytes) and weights stay in a 32 KiB L1.
_KERNEL_ROWS = 256
# Output positions per work item: the input window of 256 rows of 256-odd
# samples stays in L2.
_KERNEL_T_BLOCK = 256
# Output channels per pass over an item's tiles: their packed weights
# (96 x 256 rows) stay in L2 while the tiles go by.
_KERNEL_O_BLOCK = 96
# Layers with this many reduction rows (C_in/g * K) or fewer do so little
# arithmetic per output that writing the output is their cost: their items
# run one tile of channels at a time over all their positions, so that the
# output goes out in a few long streams (the speech stem, 10 rows: 5.8 ->
# 3.4 ms fastest of 8 rounds, Zen 3) instead of 96 short ones at a time.
_KERNEL_STORE_BOUND_ROWS = 32
# Calls on several threads are cut into at least this many items per thread
# (channels, then positions), so that one item or a batch of one keeps every
# thread busy.  The split never changes a result's bits.
_KERNEL_ITEMS_PER_THREAD = 4
# Weights used at fewer positions than this (batch x output length) are read
# where they are: packing them into tile panels would cost more than it saves.
_KERNEL_PACK_MIN_POSITIONS = 1024
# A thread's input window holds every input channel of a group (packed once
# per item) up to this size, else one pass's channels (packed again for each
# block of output channels).
_KERNEL_WHOLE_WINDOW_BYTES = 1 << 18
# A thread's input window above this (dilations of thousands) takes the BLAS path.
_KERNEL_MAX_WINDOW_BYTES = 1 << 24

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


class KernelPlan(NamedTuple):
    """How a call runs on the own GEMM kernel (see ``_conv_gemm.conv1d_gemm``)."""

    variant: str
    rows_per_pass: int
    t_block: int
    o_split: int
    o_block: int
    whole_window: bool  # the window holds every input channel of a group
    pack_weights: bool  # the weights are packed into tile panels first
    window: int    # scratch values per thread
    offsets: int   # scratch offsets per thread
    stage: int     # scratch values per thread for partial sums (0: one pass)
    weights: int   # packed weight values


class DirectPlan(NamedTuple):
    """How a call runs on the direct backend: its path ('kernel', 'gemm' or
    'loops'), threads, and the path's blocks (the BLAS path's packed block,
    or the kernel's plan)."""

    path: str
    threads: int
    columns: int = 0
    rows: int = 0
    kernel: KernelPlan | None = None


class WeightGradPlan(NamedTuple):
    """How a weight gradient runs: threads, the parts its sum is split in, and the
    path's blocks: the own kernel's variant and positions per item, or the BLAS
    path's packed block (columns 0: the loops path)."""

    threads: int
    columns: int  # the BLAS path's packed block, or the own kernel's sum columns
    rows: int
    parts: int
    kernel: str | None = None
    t_block: int = 0


def _kernel_plan(spec: ConvSpec, num_threads: int, variant: str) -> tuple[KernelPlan, int] | None:
    """The own kernel's blocks for a call and its thread count, or None where its
    input window would be too large (the BLAS path takes the call)."""
    itemsize = np.dtype(spec.compute_dtype).itemsize
    tile_rows, tile_cols = tile_shape(variant, itemsize)
    cout_g, length_out = spec.out_channels_per_group, spec.length_out
    whole_tiles = -(-cout_g // tile_rows) * tile_rows
    t_block = min(max(tile_cols, _KERNEL_T_BLOCK // tile_cols * tile_cols), -(-length_out // tile_cols) * tile_cols)
    o_split = whole_tiles
    items = spec.batch * spec.groups * -(-length_out // t_block)
    wanted = _KERNEL_ITEMS_PER_THREAD * num_threads if num_threads > 1 else 1
    if items < wanted:  # split the channels, in whole tiles
        parts = min(-(-wanted // items), whole_tiles // tile_rows)
        o_split = -(-whole_tiles // parts // tile_rows) * tile_rows
        items *= -(-cout_g // o_split)
    if items < wanted:  # and the positions, in whole tiles
        parts = min(-(-wanted // items), t_block // tile_cols)
        t_block = -(-t_block // parts // tile_cols) * tile_cols
        items = spec.batch * spec.groups * -(-cout_g // o_split) * -(-length_out // t_block)
    o_block = min(o_split, max(tile_rows, _KERNEL_O_BLOCK // tile_rows * tile_rows))
    if spec.in_channels_per_group * spec.kernel_size <= _KERNEL_STORE_BOUND_ROWS:
        o_block = tile_rows
    sizes = (variant, itemsize, spec.in_channels_per_group, spec.kernel_size, spec.stride, spec.dilation,
             _KERNEL_ROWS, t_block, o_block)
    window, offsets, stage = scratch_size(*sizes, True)
    whole_window = window * itemsize <= _KERNEL_WHOLE_WINDOW_BYTES
    if not whole_window:
        window, offsets, stage = scratch_size(*sizes, False)
    if window * itemsize > _KERNEL_MAX_WINDOW_BYTES:
        return None
    pack = spec.batch * length_out >= _KERNEL_PACK_MIN_POSITIONS
    weights = packed_weights_size(variant, spec.out_channels, spec.in_channels_per_group * spec.kernel_size,
                                  spec.groups) if pack else 0
    plan = KernelPlan(variant, _KERNEL_ROWS, t_block, o_split, o_block, whole_window, pack, window, offsets, stage,
                      weights)
    return plan, max(1, min(num_threads, items))


@functools.lru_cache(maxsize=512)
def _plan(spec: ConvSpec, configured_threads: int, variant: str | None) -> DirectPlan:
    """The path, threads and blocks of a call (``variant``: the own kernel's, or None).

    Cached: a layer called again with the same shapes plans nothing.
    """
    num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else configured_threads
    if not uses_gemm(spec):
        # the loops path shares out whole output rows
        return DirectPlan("loops", threads=max(1, min(num_threads, spec.batch * spec.output_channels)))
    if variant is not None and spec.compute_dtype in _KERNEL_DTYPES:
        planned = _kernel_plan(spec, num_threads, variant)
        if planned is not None:
            return DirectPlan("kernel", threads=planned[1], kernel=planned[0])
    if _blas_threads.shared_pin() is None:
        num_threads = 1  # the BLAS cannot be kept to one thread: let it thread each GEMM
    cols, rows = _gemm_blocks(spec)
    items = spec.batch * spec.groups * -(-spec.length_out // cols)
    return DirectPlan("gemm", threads=max(1, min(num_threads, items)), columns=cols, rows=rows)


_WGRAD_KERNELS = {
    "float32": conv1d_weight_grad["float"],
    "float64": conv1d_weight_grad["double"],
    "complex64": conv1d_weight_grad["float complex"],
    "complex128": conv1d_weight_grad["double complex"],
}


@functools.lru_cache(maxsize=512)
def _weight_grad_plan(spec: ConvSpec, configured_threads: int, variant: str | None) -> WeightGradPlan:
    """The path, threads, blocks and parts of a weight gradient (``variant``: the own kernel's, or None).

    The parts, like the blocks, depend on the shapes alone.
    """
    num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else configured_threads
    if not uses_gemm(spec):
        return WeightGradPlan(threads=max(1, min(num_threads, spec.out_channels)), columns=0, rows=0, parts=0)
    itemsize = np.dtype(spec.compute_dtype).itemsize
    packed_rows = spec.in_channels_per_group * spec.kernel_size
    if variant is not None and spec.compute_dtype in _KERNEL_DTYPES:
        window = scratch_size(variant, itemsize, spec.in_channels_per_group, spec.kernel_size, spec.stride,
                              spec.dilation, _KERNEL_ROWS, _KERNEL_T_BLOCK, tile_shape(variant, itemsize)[0], False)[0]
        if window * itemsize <= _KERNEL_MAX_WINDOW_BYTES:
            columns = weight_grad_columns(variant, itemsize, spec.out_channels_per_group)
            items = spec.batch * spec.groups * -(-spec.length_out // _KERNEL_T_BLOCK)
            part_bytes = spec.groups * packed_rows * columns * itemsize
            parts = max(1, min(_WGRAD_PARTS, items, max(2, _WGRAD_PARTS_BYTES // part_bytes)))
            return WeightGradPlan(threads=max(1, min(num_threads, parts)), columns=columns, rows=packed_rows,
                                  parts=parts, kernel=variant, t_block=_KERNEL_T_BLOCK)
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
        plan = _plan(spec, threads.get(), _KERNEL)
        path = "direct_loops_mac" if plan.path == "loops" else "direct_gemm_mac"
        return {"direct_call": 1.0, path: spec.macs * COST_WIDTH[spec.compute_dtype] / plan.threads}

    def workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes allocated besides the output: packed weights and per-thread scratch."""
        if spec.is_empty:
            return 0
        plan = _plan(spec, threads.get(), _KERNEL)
        itemsize = np.dtype(spec.compute_dtype).itemsize
        if plan.kernel is not None:
            kernel = plan.kernel
            return ((kernel.weights + plan.threads * (kernel.window + kernel.stage)) * itemsize
                    + plan.threads * kernel.offsets * 8)
        return plan.threads * plan.columns * plan.rows * itemsize

    def run(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        dtype = spec.compute_dtype
        out = _scratch.output(spec.output_shape, dtype)
        if spec.is_empty:
            return out
        plan = _plan(spec, threads.get(), _KERNEL)
        if plan.kernel is not None:
            _run_pieces(spec, x, out, _own_kernel(spec, plan, w, b))
            return out
        kernel = _blas_kernel(spec, plan, w, b)
        # Serial calls are pinned too (the bits would be the same either way:
        # the BLAS threads a GEMM by splitting its output, never its sums): on
        # a shared machine the BLAS's own threads of a small GEMM land on busy
        # cores (tiny, one core busy elsewhere: 236 us unpinned, 119 us pinned).
        pin = _blas_threads.shared_pin() if plan.path == "gemm" else None
        align = max(1, plan.columns)
        if pin is None:
            _run_pieces(spec, x, out, kernel, align)
        else:
            with pin:
                _run_pieces(spec, x, out, kernel, align)
        return out

    def weight_grad_workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes a weight gradient allocates besides its result: packing blocks and part sums."""
        if spec.is_empty:
            return 0
        plan = _weight_grad_plan(spec, threads.get(), _KERNEL)
        itemsize = np.dtype(spec.compute_dtype).itemsize
        if plan.kernel is not None:
            window, offsets, _ = scratch_size(plan.kernel, itemsize, spec.in_channels_per_group, spec.kernel_size,
                                              spec.stride, spec.dilation, _KERNEL_ROWS, plan.t_block, 1, False)
            sums = plan.parts * spec.groups * plan.rows * plan.columns
            return (sums + plan.threads * (window + plan.t_block * plan.columns)) * itemsize + plan.threads * offsets * 8
        weight = spec.out_channels * spec.in_channels_per_group * spec.kernel_size
        return (plan.threads * plan.columns * plan.rows + max(0, plan.parts - 1) * weight) * itemsize

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
        plan = _weight_grad_plan(spec, threads.get(), _KERNEL)
        if plan.kernel is not None:
            return _own_weight_grad(spec, plan, x, grad_output)
        num_threads, cols, rows, parts = plan[:4]
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


def _own_weight_grad(spec: ConvSpec, plan: WeightGradPlan, x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    """The weight gradient on the own kernel: its parts (each the sum of a fixed run of
    items) added in order, so that the bits depend on the shapes alone."""
    sums = np.zeros((plan.parts, spec.groups, plan.rows, plan.columns), dtype=spec.compute_dtype)
    conv1d_weight_grad_gemm(plan.kernel, x, grad_output, sums, spec.kernel_size, spec.stride, spec.dilation,
                            spec.pad_left, MODE_CODE[spec.padding_mode], spec.groups, plan.threads, _KERNEL_ROWS,
                            plan.t_block)
    total = sums[0]
    for part in sums[1:]:
        total += part
    # (groups, C_in/g * K, columns) -> (C_out, C_in/g, K)
    by_channel = total[:, :, : spec.out_channels_per_group].transpose(0, 2, 1)
    return np.ascontiguousarray(by_channel).reshape(spec.out_channels, spec.in_channels_per_group, spec.kernel_size)


# A kernel call over part of a call: (input slice, output slice, pad_left of the slice).
Kernel = Callable[[np.ndarray, np.ndarray, int], None]


def _own_kernel(spec: ConvSpec, plan: DirectPlan, w: np.ndarray, b: np.ndarray | None) -> Kernel:
    """The own GEMM kernel (it packs the weights, where planned, and carves its scratch itself)."""
    kernel = plan.kernel
    bias = _NO_BIAS[spec.compute_dtype] if b is None else b

    def run(x: np.ndarray, out: np.ndarray, pad_left: int) -> None:
        conv1d_gemm(kernel.variant, x, w, bias, out, spec.stride, spec.dilation, pad_left,
                    MODE_CODE[spec.padding_mode], spec.groups, b is not None, plan.threads, kernel.rows_per_pass,
                    kernel.t_block, kernel.o_split, kernel.o_block, kernel.whole_window, kernel.pack_weights)

    return run


def _blas_kernel(spec: ConvSpec, plan: DirectPlan, w: np.ndarray, b: np.ndarray | None) -> Kernel:
    """The loops path, or the BLAS over packed blocks (``_direct``)."""
    dtype = spec.compute_dtype
    work = np.empty((plan.threads, plan.columns * plan.rows), dtype=dtype) if plan.columns else _NO_WORK[dtype]
    bias = _NO_BIAS[dtype] if b is None else b

    def run(x: np.ndarray, out: np.ndarray, pad_left: int) -> None:
        _KERNELS[dtype](x, w, bias, out, spec.stride, spec.dilation, pad_left, MODE_CODE[spec.padding_mode],
                        spec.groups, b is not None, plan.threads, plan.columns, plan.rows, work)

    return run


def _run_pieces(spec: ConvSpec, x: np.ndarray, out: np.ndarray, kernel: Kernel, align: int = 1) -> None:
    """The kernel over slices of a long call, so that Ctrl-C (KeyboardInterrupt, which
    Python raises between two kernel calls, not inside one) stops it promptly.

    Slices of the batch where it has enough items, else, for one item, slices
    of the output length (each computed into a piece, with the padding
    shifted so it reads the same inputs, then copied into place).  The slices
    depend on the shapes alone, never on the thread count.
    """
    pieces = -(-spec.macs // _INTERRUPT_MACS)
    if pieces <= 1:
        kernel(x, out, spec.pad_left)
        return
    if spec.batch >= pieces or spec.length_out < 2:
        step = -(-spec.batch // min(pieces, spec.batch))
        for first in range(0, spec.batch, step):
            last = min(first + step, spec.batch)
            kernel(x[first:last], out[first:last], spec.pad_left)
        return
    # fewer items than slices: each item in slices of its output length, of
    # whole blocks of `align` outputs (the BLAS path's blocks, cut where a whole call cuts them)
    step = -(-spec.length_out // -(-pieces // spec.batch))
    step = -(-step // align) * align
    for item in range(spec.batch):
        for first in range(0, spec.length_out, step):
            count = min(step, spec.length_out - first)
            piece = np.empty((1, spec.output_channels, count), dtype=out.dtype)
            # output t of the piece reads input (first + t) * stride + k * dilation - pad_left
            kernel(x[item : item + 1], piece, spec.pad_left - first * spec.stride)
            out[item, :, first : first + count] = piece[0]
