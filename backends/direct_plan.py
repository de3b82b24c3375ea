"""How the ``direct`` backend runs a call: its path, threads and blocks.

:func:`plan` chooses, per call, between the backend's three paths (see
:mod:`arrayconv.backends.direct`) and sizes the blocks of the chosen one;
:func:`weight_grad_plan` does the same for a weight gradient.  Plans depend
on the shapes, the thread count and whether the BLAS's threads can be
pinned (``_blas_threads``), and are cached.

Examples
--------
>>> import numpy as np
>>> from arrayconv.shape import normalize
>>> plan(normalize(np.ones((1, 64, 512)), np.ones((64, 1, 3)), groups=64), 1, KERNEL).path
'loops'
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from arrayconv.records import ConvSpec

from . import _blas_threads
from ._conv_gemm import best_variant, packed_weights_size, scratch_size, tile_shape, weight_grad_columns

__all__ = ["KERNEL", "KERNEL_ROWS", "DirectPlan", "KernelPlan", "WeightGradPlan", "plan", "uses_gemm",
           "weight_grad_plan"]

_INT_MAX = 2**31 - 1

# Below this many multiply-accumulates a second thread costs more than it saves
# (waking a sleeping thread costs tens to hundreds of microseconds).
_PARALLEL_MIN_MACS = 1 << 21
# The gemm path pays off when the weight matrix has enough rows and columns.
_GEMM_MIN_OUT_CHANNELS = 8
# The own kernel keeps two sums in flight per output channel of a tile, the
# row loops eight per row: from 3 output channels on the kernel is ahead
# (K = 3 to 385, batch 1 and 4, one thread, Zen 3: 1.03-2.4x at 3 channels,
# 1.2-3.1x at 4), at 2 channels the loops (1.3-1.6x).
_KERNEL_MIN_OUT_CHANNELS = 3
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
# The weight gradient's sum over (batch element, group, block) is split into
# at most this many parts, each with its own accumulator of the weight's size
# (all together at most _WGRAD_PARTS_BYTES, but at least two parts), so that
# threads share it.
_WGRAD_PARTS = 16
_WGRAD_PARTS_BYTES = 1 << 28
# The own GEMM kernel's variant for this CPU (None where the build has none:
# real layers then take the BLAS path too), and its dtypes.
KERNEL = best_variant()
_KERNEL_DTYPES = ("float32", "float64")
# Reduction rows per pass over a tile (whole input channels: at least one):
# a tile's input rows (256 x 64 bytes) and weights stay in a 32 KiB L1.
KERNEL_ROWS = 256
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

def uses_gemm(spec: ConvSpec, min_out_channels: int | None = None) -> bool:
    """Whether the layer is a matrix product worth a GEMM (else: the loops path), with at
    least ``min_out_channels`` output channels a group (default: the BLAS path's minimum)."""
    out_rows = spec.out_channels_per_group
    packed_rows = spec.in_channels_per_group * spec.kernel_size
    return (
        out_rows >= (_GEMM_MIN_OUT_CHANNELS if min_out_channels is None else min_out_channels)
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
             KERNEL_ROWS, t_block, o_block)
    window, offsets, stage = scratch_size(*sizes, True)
    whole_window = window * itemsize <= _KERNEL_WHOLE_WINDOW_BYTES
    if not whole_window:
        window, offsets, stage = scratch_size(*sizes, False)
    if window * itemsize > _KERNEL_MAX_WINDOW_BYTES:
        return None
    pack = spec.batch * length_out >= _KERNEL_PACK_MIN_POSITIONS
    weights = packed_weights_size(variant, spec.out_channels, spec.in_channels_per_group * spec.kernel_size,
                                  spec.groups) if pack else 0
    plan = KernelPlan(variant, KERNEL_ROWS, t_block, o_split, o_block, whole_window, pack, window, offsets, stage,
                      weights)
    return plan, max(1, min(num_threads, items))


@functools.lru_cache(maxsize=512)
def plan(spec: ConvSpec, configured_threads: int, variant: str | None) -> DirectPlan:
    """The path, threads and blocks of a call (``variant``: the own kernel's, or None).

    Cached: a layer called again with the same shapes plans nothing.
    """
    num_threads = 1 if spec.macs < _PARALLEL_MIN_MACS else configured_threads
    kernel_rows = min(_KERNEL_MIN_OUT_CHANNELS, _GEMM_MIN_OUT_CHANNELS)
    if variant is not None and spec.compute_dtype in _KERNEL_DTYPES and uses_gemm(spec, kernel_rows):
        planned = _kernel_plan(spec, num_threads, variant)
        if planned is not None:
            return DirectPlan("kernel", threads=planned[1], kernel=planned[0])
    if not uses_gemm(spec):
        # the loops path shares out whole output rows
        return DirectPlan("loops", threads=max(1, min(num_threads, spec.batch * spec.output_channels)))
    if _blas_threads.shared_pin() is None:
        num_threads = 1  # the BLAS cannot be kept to one thread: let it thread each GEMM
    cols, rows = _gemm_blocks(spec)
    items = spec.batch * spec.groups * -(-spec.length_out // cols)
    return DirectPlan("gemm", threads=max(1, min(num_threads, items)), columns=cols, rows=rows)


@functools.lru_cache(maxsize=512)
def weight_grad_plan(spec: ConvSpec, configured_threads: int, variant: str | None) -> WeightGradPlan:
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
                              spec.dilation, KERNEL_ROWS, _KERNEL_T_BLOCK, tile_shape(variant, itemsize)[0], False)[0]
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
