"""``conv1d`` on Dask arrays: a lazy result computed block by block.

Each block of the output is one task that assembles the input samples its
outputs read (the samples of the input blocks it overlaps, and the halo of
``dilation * (K - 1)`` samples, from as many neighbouring blocks as that
takes) and runs ``conv1d`` on them with the normal routing.  The halo comes
from small slicing tasks, so only those samples travel between workers; a
dilation wider than the block reads only the samples its taps touch.  Output
blocks follow the input's blocks along the length (with ``padding='same'``
they are the same blocks), so that every output is computed once, whatever
the stride.  Padding is applied only at
the signal's true ends, by the padding mode's index mapping (circular
padding reads the far end's block).  Blocks along the batch are independent;
the channels are merged into one block (a convolution mixes them).

The weight and bias are single nodes of the graph: the distributed
scheduler sends them to each worker once, not with every task.  The settings
made in code (``set_config``, ``config_context``) when ``conv1d`` was called
travel with the tasks, since those run in other threads or processes.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from . import _interop, config, plain, policy, shape
from . import padding as padding_modes
from .records import ConvSpec

__all__ = ["conv1d", "output_blocks", "block_plan"]


def output_blocks(spec: ConvSpec, length_chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    """The output ranges ``[first, last)`` of the blocks along the length.

    Output ``t`` belongs to the input block holding sample ``t * stride``
    (the sample it is centred on with ``padding='same'``, so that such an
    output has the input's blocks); outputs past the signal's end belong to
    the last block.  Input blocks that no output belongs to give no block,
    and no block has more outputs than the largest input block gives
    (padding far past an end makes more blocks, not a larger one).

    Examples
    --------
    >>> import numpy as np
    >>> spec = shape.normalize(np.zeros((1, 1, 20)), np.zeros((1, 1, 3)), stride=3, padding=1)
    >>> output_blocks(spec, (5, 5, 10))
    [(0, 2), (2, 4), (4, 7)]
    >>> output_blocks(shape.normalize(np.zeros((1, 1, 8)), np.zeros((1, 1, 1)), padding=5), (4, 4))
    [(0, 4), (4, 8), (8, 12), (12, 16), (16, 18)]
    """
    cuts = [0]
    end = 0
    for size in length_chunks[:-1]:
        end += size
        cut = min(-(-end // spec.stride), spec.length_out)  # the first output at or past the boundary
        if cut > cuts[-1]:
            cuts.append(cut)
    if spec.length_out > cuts[-1]:
        cuts.append(spec.length_out)
    largest = max(1, -(-max(length_chunks) // spec.stride))
    blocks = []
    for first, last in zip(cuts[:-1], cuts[1:]):
        blocks.extend((start, min(start + largest, last)) for start in range(first, last, largest))
    return blocks


class Piece(NamedTuple):
    """Samples of one input block, ``chunk[..., start:stop:step]`` (``stop`` None: to
    the block's start), each repeated ``repeat`` times; ``block`` -1: ``repeat`` zeros."""

    block: int
    start: int
    stop: int | None
    step: int
    repeat: int


def block_plan(spec: ConvSpec, starts: list[int], first: int, last: int) -> tuple[list[Piece], int]:
    """The pieces whose samples, in order, are what outputs ``[first, last)`` read,
    and the dilation to correlate them with (stride as ``spec``'s, no padding).
    ``starts`` are the input blocks' first samples, then the signal's length.

    Normally the samples from the first output's first tap to the last
    output's last tap.  With a dilation wider than the block's own span, only
    the span under each tap, one after the other: then the taps are one span
    apart.

    Examples
    --------
    >>> import numpy as np
    >>> spec = shape.normalize(np.zeros((1, 1, 20)), np.zeros((1, 1, 2)), padding=1, padding_mode="reflect")
    >>> block_plan(spec, [0, 10, 20], 0, 3)[0]
    [Piece(block=0, start=1, stop=0, step=-1, repeat=1), Piece(block=0, start=0, stop=3, step=1, repeat=1)]
    """
    begin = first * spec.stride - spec.pad_left
    span = (last - first - 1) * spec.stride + 1
    if spec.kernel_size > 1 and spec.dilation > span:
        ranges = [(begin + tap * spec.dilation, begin + tap * spec.dilation + span) for tap in range(spec.kernel_size)]
        dilation = span
    else:
        ranges = [(begin, begin + span + spec.kernel_extent - 1)]
        dilation = spec.dilation
    pieces: list[Piece] = []
    for low, high in ranges:
        pieces.extend(_range_pieces(spec, starts, low, high))
    return pieces, dilation


def _range_pieces(spec: ConvSpec, starts: list[int], low: int, high: int) -> list[Piece]:
    """The pieces of padded positions ``[low, high)`` (signal coordinates; the padding
    mode maps those outside the signal: :func:`arrayconv.padding.runs`)."""
    pieces: list[Piece] = []
    for run in padding_modes.runs(low, high, spec.length, spec.padding_mode):
        if run.source is None:
            pieces.append(Piece(block=-1, start=0, stop=0, step=1, repeat=run.count))
        elif run.step == 0:
            block = bisect.bisect_right(starts, run.source) - 1
            offset = run.source - starts[block]
            pieces.append(Piece(block=block, start=offset, stop=offset + 1, step=1, repeat=run.count))
        else:
            pieces.extend(_samples(starts, run.source, run.source + run.step * run.count, run.step))
    return pieces


def _samples(starts: list[int], begin: int, end: int, step: int) -> list[Piece]:
    """Signal samples ``begin, begin + step, ...`` (stopping before ``end``), block by block."""
    pieces = []
    position = begin
    while position != end:
        block = bisect.bisect_right(starts, position) - 1
        offset = starts[block]
        if step > 0:
            stop = min(end, starts[block + 1])
            pieces.append(Piece(block=block, start=position - offset, stop=stop - offset, step=1, repeat=1))
        else:
            stop = max(end, offset - 1)
            pieces.append(Piece(block=block, start=position - offset, stop=None if stop < offset else stop - offset,
                                step=-1, repeat=1))
        position = stop
    return pieces


def _take(chunk: Any, start: int, stop: int | None, step: int, repeat: int) -> Any:
    """A piece's samples from its input block (a small task of its own, so that only
    these samples travel to the worker that needs them)."""
    part = chunk[:, :, start:stop:step]
    if repeat == 1:
        return part
    xp = array_api_compat.array_namespace(part)
    return xp.broadcast_to(part, (part.shape[0], part.shape[1], repeat))


def _run_block(parts: list[Any], batch: int, meta: Any, weight: np.ndarray, bias: np.ndarray | None,
               arguments: tuple, carried: dict[str, Any]) -> Any:
    """One output block: the assembled samples, then conv1d without padding.

    The blocks may hold any array kind (NumPy, CuPy, ...); the weights and
    any zero padding go to the blocks' library and device.
    """
    stride, dilation, groups, backend = arguments
    xp = array_api_compat.array_namespace(meta)
    device = array_api_compat.device(meta)
    channels = weight.shape[1] * groups
    segment = xp.concat(
        [xp.zeros((batch, channels, part), dtype=meta.dtype, device=device) if isinstance(part, int) else part
         for part in parts],
        axis=2,
    )
    if not isinstance(meta, np.ndarray):
        weight = xp.asarray(weight, device=device)
        bias = None if bias is None else xp.asarray(bias, device=device)
    with config.config_context(**carried):
        return plain.conv1d(segment, weight, bias, stride, 0, dilation, groups, "zeros", backend)


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
           groups: Any, padding_mode: Any, backend: str | None) -> Any:
    """The lazy conv1d of a Dask array (see the module's docstring); as :func:`arrayconv.conv1d`."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    spec = shape.normalize_chunked(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    batched = input if spec.batched else input[None]
    meta = batched._meta  # an empty block of the input's kind (NumPy, CuPy, ...)
    if backend is not None and backend != "auto":
        policy.choose(spec, _interop.device_name(meta), backend)  # a backend that cannot serve fails now
    dtype = np.dtype(spec.result_dtype)
    out_meta = da.utils.meta_from_array(meta, ndim=3, dtype=dtype)
    if spec.is_empty:
        empty = da.zeros(spec.output_shape, dtype=dtype, chunks=(batched.chunks[0], -1, -1))
        empty = empty.map_blocks(lambda block: block, meta=out_meta)
        return empty if spec.batched else empty[0]
    batched = batched.rechunk({1: -1})  # a convolution mixes all channels
    length_chunks = batched.chunks[2]
    carried = config.in_code()
    token = tokenize(batched.name, weight, bias, spec, backend, carried)
    name, piece_name = f"arrayconv-conv1d-{token}", f"arrayconv-conv1d-piece-{token}"
    weight_key, bias_key = (f"arrayconv-weight-{token}",), (f"arrayconv-bias-{token}",)
    # copies: the graph must not see later changes to the caller's arrays
    layer: dict[Any, Any] = {weight_key: np.array(weight), bias_key: None if bias is None else np.array(bias)}
    block_meta = meta[:0, :0, :0]
    blocks = output_blocks(spec, length_chunks)
    starts = [0, *itertools.accumulate(length_chunks)]  # once: the plans look blocks up in it
    for index, (first, last) in enumerate(blocks):
        pieces, block_dilation = block_plan(spec, starts, first, last)
        arguments = (spec.stride, block_dilation, spec.groups, backend)
        for item, batch_size in enumerate(batched.chunks[0]):
            parts: list[Any] = []
            for number, piece in enumerate(pieces):
                if piece.block < 0:
                    parts.append(piece.repeat)
                    continue
                key = (piece_name, item, index, number)
                layer[key] = (_take, (batched.name, item, 0, piece.block), *piece[1:])
                parts.append(key)
            layer[(name, item, 0, index)] = (
                _run_block, parts, batch_size, block_meta, weight_key, bias_key, arguments, carried,
            )
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[batched])
    chunks = (batched.chunks[0], (spec.output_channels,), tuple(last - first for first, last in blocks))
    try:
        result = da.Array(graph, name, chunks=chunks, dtype=dtype, meta=out_meta)
    except TypeError as error:  # dask's array query planning takes expressions, not graphs
        raise TypeError(
            "arrayconv builds Dask array graphs, which Dask's array query planning does not take; "
            "set dask.config 'array.query-planning' to False"
        ) from error
    return result if spec.batched else result[0]

