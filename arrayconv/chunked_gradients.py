"""The gradients of ``conv1d`` and ``conv_transpose1d`` on Dask arrays, lazily and block by block.

Built from the two kinds of block of :mod:`arrayconv.chunked`:

* an input gradient is a transposed convolution of the output gradient
  (``conv1d``'s, with the padding folded back onto the signal) or a
  convolution of it (``conv_transpose1d``'s), computed as those are;
* a weight gradient is a sum over the output's blocks: each block's share
  from the output gradient's block and the input samples its outputs read
  (the halo included), then a tree reduction;
* a bias gradient is the output gradient summed over batch and length.

Examples
--------
>>> import dask.array as da, numpy as np
>>> x, gy = da.ones((1, 1, 8), chunks=3), da.ones((1, 1, 7), chunks=3)
>>> grads = conv1d_backward(gy, x, np.ones((1, 1, 2)), 1, 0, 1, 1, "zeros", ("input", "weight", "bias"), None)
>>> grads.input.compute(), grads.weight.compute(), grads.bias.compute()
(array([[[1., 2., 2., 2., 2., 2., 2., 1.]]]), array([[[7., 7.]]]), array([7.]))
"""

from __future__ import annotations

import itertools
from typing import Any

import array_api_compat
import numpy as np

from . import config, plain_gradients, shape
from . import padding as padding_modes
from .chunked import Graph, assemble, block_plan, conv_graph, empty, on_device, output_blocks, prepared, transposed_graph
from .dtypes import is_complex
from .records import ConvSpec, Gradients

__all__ = ["conv1d_backward", "conv_transpose1d_backward"]


def _weight_grad_block(parts: list[Any], grad_block: Any, meta: Any, weight: np.ndarray, arguments: tuple,
                       carried: dict[str, Any]) -> Any:
    """One output block's share of a weight gradient, ``(1, *weight.shape)``: that of a
    conv1d without padding of the assembled samples, at the block's output gradient."""
    stride, dilation, groups, conjugate, backend = arguments
    xp = array_api_compat.array_namespace(meta)
    segment = assemble(parts, grad_block.shape[0], weight.shape[1] * groups, meta)
    (weight,) = on_device(meta, weight)
    with config.config_context(**carried):
        grad = plain_gradients.conv1d_backward(
            grad_block, segment, weight, stride, 0, dilation, groups, "zeros", ("weight",), backend
        ).weight
    return (xp.conj(grad) if conjugate else grad)[None, ...]


def _weight_grad_graph(spec: ConvSpec, source: Any, grad_output: Any, weight: np.ndarray, conjugate: bool,
                       backend: str | None) -> Any:
    """The lazy weight gradient of the convolution ``spec`` of ``source`` at ``grad_output``
    (both batched), in ``weight``'s dtype (the compute dtype); conjugated if asked."""
    import dask.array as da

    blocks = output_blocks(spec, source.chunks[2])
    grad_output = grad_output.rechunk({0: source.chunks[0], 1: -1, 2: tuple(last - first for first, last in blocks)})
    graph = Graph("conv1d-weight-grad", source, grad_output.name, weight, spec, conjugate, backend)
    weight_key = graph.constant("weight", weight)
    block_meta = source._meta[:0, :0, :0]
    starts = [0, *itertools.accumulate(source.chunks[2])]
    number = 0
    for index, (first, last) in enumerate(blocks):
        pieces, block_dilation = block_plan(spec, starts, first, last)
        arguments = (spec.stride, block_dilation, spec.groups, conjugate, backend)
        for item in range(len(source.chunks[0])):
            graph.layer[(graph.name, number, 0, 0, 0)] = (
                _weight_grad_block, graph.parts(pieces, item, index), (grad_output.name, item, 0, index),
                block_meta, weight_key, arguments, graph.carried,
            )
            number += 1
    meta = da.utils.meta_from_array(source._meta, ndim=4, dtype=weight.dtype)
    chunks = ((1,) * number, *((size,) for size in weight.shape))
    return graph.array(chunks, weight.dtype, meta, [source, grad_output]).sum(axis=0)


def _like(array: Any, dtype: str) -> Any:
    """A lazy result in the dtype of the array it is the gradient of (a real part for a real one)."""
    if is_complex(array.dtype.name) and not is_complex(dtype):
        array = array.real
    return array if array.dtype == dtype else array.astype(dtype)


def _fold(spec: ConvSpec, padded: Any) -> Any:
    """The lazy gradient of a padded signal: each padding sample's share added to the
    signal sample it reads (:func:`arrayconv.padding.fold_shares`)."""
    import dask.array as da

    left, right, length = spec.pad_left, spec.pad_right, spec.length
    if left <= 0 and right <= 0:  # negative padding crops: the cropped samples get nothing
        return da.pad(padded, ((0, 0), (0, 0), (-left, -right)))
    xp = array_api_compat.array_namespace(padded)
    grad = padded[:, :, left : left + length]
    for target, share in padding_modes.fold_shares(xp, padded, -left, length + right, length, spec.padding_mode):
        grad = grad + da.pad(share, ((0, 0), (0, 0), (target, length - target - share.shape[2])))
    return grad


def _bias_grad(grad_output: Any, channels: int, dtype: str) -> Any:
    """The output gradient summed over batch and length (zeros where torch gives no
    output channels, for an input without channels)."""
    if grad_output.shape[1] != channels:
        return empty((channels,), np.dtype(dtype), grad_output)
    return _like(grad_output.sum(axis=(0, 2)), dtype)


def conv1d_backward(grad_output: Any, input: Any, weight: Any, stride: Any, padding: Any, dilation: Any,
                    groups: Any, padding_mode: Any, needs: Any, backend: str | None) -> Gradients:
    """The lazy gradients of a conv1d of a Dask array; as :func:`arrayconv.conv1d_backward`."""
    call = shape.normalize_chunked_backward(
        grad_output, input, weight, stride, padding, dilation, groups, padding_mode, needs
    )
    spec = call.spec
    source, gy = prepared(input, spec.batched), prepared(grad_output, spec.batched)
    gy = gy.rechunk({0: source.chunks[0]})
    w = np.asarray(weight, dtype=spec.compute_dtype)
    grad_input = grad_weight = grad_bias = None
    if "input" in call.needs:
        if spec.is_empty or spec.length == 0:
            grad_input = empty(source.shape, np.dtype(call.input_dtype), source, source.chunks[0])
        else:
            offset, length = (spec.pad_left, spec.length) if spec.padding_mode == "zeros" else (0, spec.padded_length)
            grad = transposed_graph(gy, np.conj(w), None, spec.stride, spec.dilation, spec.groups, offset, length,
                                    spec.compute_dtype, backend)
            grad_input = _like(grad if spec.padding_mode == "zeros" else _fold(spec, grad), call.input_dtype)
        grad_input = grad_input if spec.batched else grad_input[0]
    if "weight" in call.needs:
        if spec.is_empty or spec.in_channels == 0:
            grad_weight = empty(weight.shape, np.dtype(call.weight_dtype), source)
        else:
            grad_weight = _like(_weight_grad_graph(spec, source, gy, w, False, backend), call.weight_dtype)
    if "bias" in call.needs:
        grad_bias = _bias_grad(gy, spec.out_channels, call.bias_dtype)
    return Gradients(input=grad_input, weight=grad_weight, bias=grad_bias)


def conv_transpose1d_backward(grad_output: Any, input: Any, weight: Any, stride: Any, padding: Any,
                              output_padding: Any, groups: Any, dilation: Any, needs: Any,
                              backend: str | None) -> Gradients:
    """The lazy gradients of a conv_transpose1d of a Dask array; as
    :func:`arrayconv.conv_transpose1d_backward`."""
    call = shape.normalize_chunked_transpose_backward(
        grad_output, input, weight, stride, padding, output_padding, groups, dilation, needs
    )
    spec = call.spec  # conv1d(grad_output, weight): its output has (at least) the input's length
    source, gy = prepared(input, spec.batched), prepared(grad_output, spec.batched)
    gy = gy.rechunk({0: source.chunks[0]})
    w = np.asarray(weight, dtype=spec.compute_dtype)
    grad_input = grad_weight = grad_bias = None
    if "input" in call.needs:
        if spec.is_empty:
            grad = empty(source.shape, np.dtype(spec.compute_dtype), source, source.chunks[0])
        else:
            grad = conv_graph(spec._replace(batched=True), gy, np.conj(w), None, backend)[:, :, : call.input_length]
        grad_input = _like(grad, call.input_dtype)
        grad_input = grad_input if spec.batched else grad_input[0]
    if "weight" in call.needs:
        if spec.is_empty or spec.in_channels == 0:
            grad_weight = empty(weight.shape, np.dtype(call.weight_dtype), source)
        else:
            # the conjugate of the weight gradient of conv1d(gy, w) at output gradient u
            grad = _weight_grad_graph(spec._replace(length_out=call.input_length), gy, source, w, True, backend)
            grad_weight = _like(grad, call.weight_dtype)
    if "bias" in call.needs:
        grad_bias = _bias_grad(gy, spec.in_channels, call.bias_dtype)
    return Gradients(input=grad_input, weight=grad_weight, bias=grad_bias)
