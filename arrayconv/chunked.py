"""``conv1d`` on Dask arrays: a lazy result computed block by block.

Each block of the output is one task that assembles the input samples its
outputs read (the samples of the input blocks it overlaps, and the halo of
``dilation * (K - 1)`` samples past its end, from as many following blocks
as that takes) and runs ``conv1d`` on them with the normal routing.  Output
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
import operator
from typing import Any

import numpy as np

from . import config, registry, shape

__all__ = ["is_dask_array", "conv1d", "output_blocks"]

_tokens = itertools.count()


def is_dask_array(array: Any) -> bool:
    """Whether ``array`` is a Dask array (without importing Dask)."""
    return type(array).__module__.startswith("dask.") and type(array).__name__ == "Array"


def output_blocks(spec: shape.ConvSpec, length_chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    """The output ranges ``[first, last)`` of the blocks along the length.

    Output ``t`` belongs to the input block holding sample ``t * stride``
    (the sample it is centred on with ``padding='same'``, so that such an
    output has the input's blocks); outputs past the signal's end belong to
    the last block.  Input blocks that no output belongs to give no block.

    Examples
    --------
    >>> import numpy as np
    >>> spec = shape.normalize(np.zeros((1, 1, 20)), np.zeros((1, 1, 3)), stride=3, padding=1)
    >>> output_blocks(spec, (5, 5, 10))
    [(0, 2), (2, 4), (4, 7)]
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
    return list(zip(cuts[:-1], cuts[1:]))


def _pieces(spec: shape.ConvSpec, starts: list[int], first: int, last: int) -> list[tuple[int, Any] | int]:
    """Where the samples of outputs ``[first, last)`` come from: ``(input block, index)``
    pairs in order, and ints for runs of zero padding."""
    begin = first * spec.stride - spec.pad_left
    end = (last - 1) * spec.stride - spec.pad_left + spec.kernel_extent
    pieces: list[tuple[int, Any] | int] = []
    length = spec.length
    if begin < 0:
        pieces.extend(_padding(spec, range(begin, min(end, 0)), starts))
    position = max(begin, 0)
    while position < min(end, length):
        block = bisect.bisect_right(starts, position) - 1
        stop = min(end, length, starts[block + 1])
        pieces.append((block, slice(position - starts[block], stop - starts[block])))
        position = stop
    if end > length:
        pieces.extend(_padding(spec, range(max(begin, length), end), starts))
    return pieces


def _padding(spec: shape.ConvSpec, positions: range, starts: list[int]) -> list[tuple[int, Any] | int]:
    """The pieces of a run of padding: zeros, or the samples the mode copies."""
    if spec.padding_mode == "zeros":
        return [len(positions)]
    length = spec.length
    mapped = []
    for i in positions:
        if spec.padding_mode == "reflect":
            mapped.append(-i if i < 0 else 2 * (length - 1) - i)
        elif spec.padding_mode == "replicate":
            mapped.append(0 if i < 0 else length - 1)
        else:  # circular
            mapped.append(i + length if i < 0 else i - length)
    pieces: list[tuple[int, Any] | int] = []
    for block, group in itertools.groupby(mapped, key=lambda i: bisect.bisect_right(starts, i) - 1):
        pieces.append((block, np.array([i - starts[block] for i in group], dtype=np.intp)))
    return pieces


def _run_block(parts: list[Any], batch: int, input_dtype: np.dtype, weight: np.ndarray,
               bias: np.ndarray | None, arguments: tuple, carried: dict[str, Any]) -> Any:
    """One output block: the assembled samples, then conv1d without padding.

    The blocks may hold any array kind (NumPy, CuPy, ...); the weights go to
    the blocks' library and device.
    """
    import array_api_compat

    from .functional import conv1d

    stride, dilation, groups, backend = arguments
    arrays = [part for part in parts if not isinstance(part, int)]
    like = arrays[0] if arrays else np.empty(0, dtype=input_dtype)  # all padding: NumPy zeros
    xp = array_api_compat.array_namespace(like)
    device = array_api_compat.device(like)
    channels = weight.shape[1] * groups
    segment = xp.concat(
        [xp.zeros((batch, channels, part), dtype=like.dtype, device=device) if isinstance(part, int) else part
         for part in parts],
        axis=2,
    )
    if not isinstance(like, np.ndarray):
        weight = xp.asarray(weight, device=device)
        bias = None if bias is None else xp.asarray(bias, device=device)
    with config.config_context(**carried):
        return conv1d(segment, weight, bias, stride, 0, dilation, groups, backend=backend)


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
           groups: Any, padding_mode: Any, backend: str | None) -> Any:
    """The lazy conv1d of a Dask array (see the module's docstring); as :func:`arrayconv.conv1d`."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    spec = shape.normalize_chunked(input, weight, bias, stride, padding, dilation, groups, padding_mode)
    if backend is not None and backend != "auto":
        registry.get(backend)  # an unknown name fails now, not in a task
    dtype = np.dtype(spec.result_dtype)
    batched = input if spec.batched else input[None]
    if spec.is_empty or spec.length == 0:
        empty = da.zeros(spec.output_shape, dtype=dtype, chunks=(batched.chunks[0], -1, -1))
        return empty if spec.batched else empty[0]
    batched = batched.rechunk({1: -1})  # a convolution mixes all channels
    length_chunks = batched.chunks[2]
    starts = [0, *itertools.accumulate(length_chunks)]
    blocks = output_blocks(spec, length_chunks)
    token = f"{next(_tokens)}-{id(batched):x}"
    name = f"arrayconv-conv1d-{batched.name}-{token}"
    weight_key = (f"arrayconv-weight-{token}",)
    bias_key = (f"arrayconv-bias-{token}",)
    # copies: the graph must not see later changes to the caller's arrays
    layer: dict[Any, Any] = {weight_key: np.array(weight), bias_key: None if bias is None else np.array(bias)}
    arguments = (spec.stride, spec.dilation, spec.groups, backend)
    carried = config.in_code()
    plans = [_pieces(spec, starts, first, last) for first, last in blocks]
    for item, batch_size in enumerate(batched.chunks[0]):
        for index, pieces in enumerate(plans):
            parts = [
                piece if isinstance(piece, int)
                else (operator.getitem, (batched.name, item, 0, piece[0]), (slice(None), slice(None), piece[1]))
                for piece in pieces
            ]
            layer[(name, item, 0, index)] = (
                _run_block, parts, batch_size, batched.dtype, weight_key, bias_key, arguments, carried,
            )
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[batched])
    chunks = (batched.chunks[0], (spec.output_channels,), tuple(last - first for first, last in blocks))
    meta = da.utils.meta_from_array(batched, ndim=3, dtype=dtype)  # NumPy blocks give NumPy blocks, CuPy CuPy
    result = da.Array(graph, name, chunks=chunks, dtype=dtype, meta=meta)
    return result if spec.batched else result[0]
