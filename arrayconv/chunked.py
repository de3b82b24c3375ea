"""``conv1d`` and ``conv_transpose1d`` on Dask arrays: a lazy result computed block by block.

Each block of a ``conv1d`` output is one task that assembles the input samples its
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

A ``conv_transpose1d`` output is cut where the input's blocks start (times
the stride), and each block reads its input block and the
``ceil((dilation * (K - 1) + 1) / stride)`` samples before it, whose
products overlap it; the gradients (:mod:`arrayconv.chunked_gradients`)
are built from these two kinds of block.

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

from . import _interop, config, lowering, plain, plain_gradients, policy, shape
from . import padding as padding_modes
from .records import ConvSpec

__all__ = [
    "Graph", "assemble", "block_plan", "conv1d", "conv_graph", "conv_transpose1d", "empty", "on_device",
    "output_blocks", "prepared", "transposed_blocks", "transposed_graph",
]


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


def transposed_blocks(length_chunks: tuple[int, ...], stride: int, extent: int, offset: int,
                      length_out: int) -> list[tuple[int, int, int, int]]:
    """The blocks of a transposed convolution's output: ``(first, last, low, high)`` for
    outputs ``[first, last)``, which the inputs ``[low, high)`` reach.

    Output ``j`` is position ``j + offset`` of the full transposed convolution,
    where input ``i`` adds to positions ``i * stride ... i * stride + extent - 1``.
    The output is cut where an input block's first sample lands.

    Examples
    --------
    >>> transposed_blocks((4, 4), stride=2, extent=3, offset=0, length_out=17)
    [(0, 8, 0, 4), (8, 17, 3, 8)]
    """
    starts = [0, *itertools.accumulate(length_chunks)]
    cuts = [0]
    for start in starts[1:-1]:
        cut = min(max(start * stride - offset, 0), length_out)
        if cut > cuts[-1]:
            cuts.append(cut)
    if length_out > cuts[-1]:
        cuts.append(length_out)
    blocks = []
    for first, last in zip(cuts[:-1], cuts[1:]):
        low = max(0, -(-(first + offset - extent + 1) // stride))
        high = min(starts[-1], (last - 1 + offset) // stride + 1)
        blocks.append((first, last, low, max(low, high)))
    return blocks


# --------------------------------------------------------------------------
# The tasks (run on the workers; the blocks may be NumPy or CuPy arrays)


def assemble(parts: list[Any], batch: int, channels: int, meta: Any) -> Any:
    """The samples of a block's pieces, in order (an int part: that many zeros)."""
    xp = array_api_compat.array_namespace(meta)
    device = array_api_compat.device(meta)
    return xp.concat(
        [xp.zeros((batch, channels, part), dtype=meta.dtype, device=device) if isinstance(part, int) else part
         for part in parts],
        axis=2,
    )


def on_device(meta: Any, *arrays: np.ndarray | None) -> list[Any]:
    """The weights in the blocks' library and device (None stays None)."""
    if isinstance(meta, np.ndarray):
        return list(arrays)
    xp = array_api_compat.array_namespace(meta)
    device = array_api_compat.device(meta)
    return [None if array is None else xp.asarray(array, device=device) for array in arrays]


def _conv_block(parts: list[Any], batch: int, meta: Any, weight: np.ndarray, bias: np.ndarray | None,
                arguments: tuple, carried: dict[str, Any]) -> Any:
    """One conv1d output block: the assembled samples, then conv1d without padding."""
    stride, dilation, groups, backend = arguments
    segment = assemble(parts, batch, weight.shape[1] * groups, meta)
    weight, bias = on_device(meta, weight, bias)
    with config.config_context(**carried):
        return plain.conv1d(segment, weight, bias, stride, 0, dilation, groups, "zeros", backend)


def _transposed_block(parts: list[Any], batch: int, meta: Any, weight: np.ndarray, bias: np.ndarray | None,
                      arguments: tuple, carried: dict[str, Any]) -> Any:
    """One transposed output block: the full transposed convolution of the inputs that
    reach it, its outputs ``[start, start + count)`` (zeros where none lands), plus the bias."""
    stride, dilation, groups, start, count, dtype, backend = arguments
    xp = array_api_compat.array_namespace(meta)
    device = array_api_compat.device(meta)
    out_channels = weight.shape[1] * groups
    weight, bias = on_device(meta, weight, bias)
    block = None
    if parts:
        segment = assemble(parts, batch, weight.shape[0], meta)
        with config.config_context(**carried):
            full = plain_gradients.conv_transpose1d(segment, weight, None, stride, 0, 0, groups, dilation, backend)
        low, high = max(start, 0), min(start + count, full.shape[2])
        if high > low:
            pieces = [xp.zeros((batch, out_channels, size), dtype=full.dtype, device=device)
                      for size in (low - start, start + count - high)]
            pieces.insert(1, full[:, :, low:high])
            block = xp.concat([piece for piece in pieces if piece.shape[2]], axis=2)
    if block is None:  # no input reaches these outputs
        block = xp.zeros((batch, out_channels, count), dtype=weight.dtype, device=device)
    if bias is not None:
        block = block + xp.reshape(bias, (1, out_channels, 1))
    return xp.astype(block, getattr(xp, dtype))


# --------------------------------------------------------------------------
# The graphs


class Graph:
    """The tasks of one lazy result, built on a source Dask array (batched, its
    channels in one block) whose blocks the pieces name."""

    def __init__(self, kind: str, source: Any, *identity: Any) -> None:
        from dask.base import tokenize

        token = tokenize(kind, source.name, *identity)
        self.name = f"arrayconv-{kind}-{token}"
        self.piece_name = f"arrayconv-{kind}-piece-{token}"
        self.source = source
        self.layer: dict[Any, Any] = {}
        self.carried = config.in_code()

    def constant(self, label: str, value: Any) -> tuple[str]:
        """A node holding a NumPy array, copied (the graph must not see later changes to
        the caller's arrays): sent to each worker once, not with every task."""
        key = (f"{self.name}-{label}",)
        self.layer[key] = None if value is None else np.array(value)
        return key

    def parts(self, pieces: list[Piece], item: int, index: int) -> list[Any]:
        """The parts of one block of batch item ``item``: keys of the slicing tasks of
        its pieces (added here), or counts of zeros."""
        parts: list[Any] = []
        for number, piece in enumerate(pieces):
            if piece.block < 0:
                parts.append(piece.repeat)
                continue
            key = (self.piece_name, item, index, number)
            self.layer[key] = (_take, (self.source.name, item, 0, piece.block), *piece[1:])
            parts.append(key)
        return parts

    def array(self, chunks: tuple, dtype: Any, meta: Any, dependencies: list[Any]) -> Any:
        """The lazy result of the tasks keyed ``(self.name, ...)``."""
        import dask.array as da
        from dask.highlevelgraph import HighLevelGraph

        graph = HighLevelGraph.from_collections(self.name, self.layer, dependencies=dependencies)
        try:
            return da.Array(graph, self.name, chunks=chunks, dtype=dtype, meta=meta)
        except TypeError as error:  # dask's array query planning takes expressions, not graphs
            raise TypeError(
                "arrayconv builds Dask array graphs, which Dask's array query planning does not take; "
                "set dask.config 'array.query-planning' to False"
            ) from error


def prepared(array: Any, batched: bool) -> Any:
    """A Dask signal with a batch axis and its channels in one block (a convolution mixes them)."""
    return (array if batched else array[None]).rechunk({1: -1})


def empty(shape_: tuple[int, ...], dtype: Any, like: Any, batch_chunks: tuple[int, ...] | None = None) -> Any:
    """A lazy array of zeros in ``like``'s array kind (NumPy, CuPy, ...)."""
    import dask.array as da

    chunks = tuple(-1 for _ in shape_) if batch_chunks is None else (batch_chunks, *(-1 for _ in shape_[1:]))
    meta = da.utils.meta_from_array(like._meta, ndim=len(shape_), dtype=dtype)
    return da.zeros(shape_, dtype=dtype, chunks=chunks).map_blocks(lambda block: block, meta=meta)


def conv_graph(spec: ConvSpec, source: Any, weight: np.ndarray, bias: np.ndarray | None, backend: str | None) -> Any:
    """The lazy conv1d of ``source`` (batched, channels in one block) under ``spec``."""
    import dask.array as da

    graph = Graph("conv1d", source, weight, bias, spec, backend)
    weight_key, bias_key = graph.constant("weight", weight), graph.constant("bias", bias)
    block_meta = source._meta[:0, :0, :0]
    blocks = output_blocks(spec, source.chunks[2])
    starts = [0, *itertools.accumulate(source.chunks[2])]  # once: the plans look blocks up in it
    for index, (first, last) in enumerate(blocks):
        pieces, block_dilation = block_plan(spec, starts, first, last)
        arguments = (spec.stride, block_dilation, spec.groups, backend)
        for item, batch_size in enumerate(source.chunks[0]):
            graph.layer[(graph.name, item, 0, index)] = (
                _conv_block, graph.parts(pieces, item, index), batch_size, block_meta, weight_key, bias_key,
                arguments, graph.carried,
            )
    dtype = np.dtype(spec.result_dtype)
    chunks = (source.chunks[0], (spec.output_channels,), tuple(last - first for first, last in blocks))
    return graph.array(chunks, dtype, da.utils.meta_from_array(source._meta, ndim=3, dtype=dtype), [source])


def transposed_graph(source: Any, weight: np.ndarray, bias: np.ndarray | None, stride: int, dilation: int,
                     groups: int, offset: int, length_out: int, dtype: str, backend: str | None) -> Any:
    """The lazy outputs ``offset ... offset + length_out - 1`` of the full transposed
    convolution of ``source`` (batched, channels in one block) with ``weight``
    ``(C_in, C_out / groups, K)``, plus ``bias``, in ``dtype``.

    ``weight`` and ``bias`` are in the compute dtype, so that each block is
    summed and biased in it and rounded to ``dtype`` once.
    """
    import dask.array as da

    kernel_size = weight.shape[2]
    extent = dilation * (kernel_size - 1) + 1
    graph = Graph("conv-transpose1d", source, weight, bias, stride, dilation, groups, offset, length_out, dtype,
                  backend)
    weight_key, bias_key = graph.constant("weight", weight), graph.constant("bias", bias)
    block_meta = source._meta[:0, :0, :0]
    starts = [0, *itertools.accumulate(source.chunks[2])]
    blocks = transposed_blocks(source.chunks[2], stride, extent, offset, length_out)
    for index, (first, last, low, high) in enumerate(blocks):
        pieces = _samples(starts, low, high, 1) if high > low else []
        arguments = (stride, dilation, groups, first + offset - low * stride, last - first, dtype, backend)
        for item, batch_size in enumerate(source.chunks[0]):
            graph.layer[(graph.name, item, 0, index)] = (
                _transposed_block, graph.parts(pieces, item, index), batch_size, block_meta, weight_key,
                bias_key, arguments, graph.carried,
            )
    chunks = (source.chunks[0], (weight.shape[1] * groups,), tuple(last - first for first, last, _, _ in blocks))
    return graph.array(chunks, np.dtype(dtype), da.utils.meta_from_array(source._meta, ndim=3, dtype=dtype),
                       [source])


def _check_backend(spec: ConvSpec, meta: Any, backend: str | None) -> None:
    """A forced backend that cannot serve the call fails when the graph is built."""
    if backend is not None and backend != "auto":
        policy.choose(spec, _interop.device_name(meta), backend)


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
           groups: Any, padding_mode: Any, backend: str | None) -> Any:
    """The lazy conv1d of a Dask array (see the module's docstring); as :func:`arrayconv.conv1d`."""
    spec = shape.normalize_chunked(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    source = prepared(input, spec.batched)
    _check_backend(spec, source._meta, backend)
    if spec.is_empty:
        result = empty(spec.output_shape, np.dtype(spec.result_dtype), source, source.chunks[0])
    else:
        result = conv_graph(spec, source, weight, bias, backend)
    return result if spec.batched else result[0]


def conv_transpose1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any,
                     groups: Any, dilation: Any, backend: str | None) -> Any:
    """The lazy conv_transpose1d of a Dask array (see the module's docstring); as
    :func:`arrayconv.conv_transpose1d`."""
    spec = shape.normalize_chunked_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation)
    source = prepared(input, spec.batched)
    if spec.batch * spec.out_channels * spec.length_out == 0:
        result = empty(spec.output_shape, np.dtype(spec.result_dtype), source, source.chunks[0])
        return result if spec.batched else result[0]
    plan = lowering.transpose_plan(
        spec.batch, spec.in_channels, spec.length, spec.out_channels, spec.kernel_size, spec.groups, spec.stride,
        spec.dilation, spec.padding, spec.length_out, spec.has_bias, spec.compute_dtype,
    )
    for phase in plan.phases:
        if phase.spec is not None:
            _check_backend(phase.spec, source._meta, backend)
    compute = spec.compute_dtype
    result = transposed_graph(
        source, np.asarray(weight, dtype=compute), None if bias is None else np.asarray(bias, dtype=compute),
        spec.stride, spec.dilation, spec.groups, spec.padding, spec.length_out, spec.result_dtype, backend,
    )
    return result if spec.batched else result[0]
