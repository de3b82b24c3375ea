"""Transposed convolutions and weight gradients planned as ordinary convolutions.

The backends compute one thing, the cross-correlation of a :class:`ConvSpec`.
This module rewrites the other two operations of a convolution layer in
terms of it, by index arithmetic alone (it sees shapes, never arrays), so
that every backend, and the router that chooses among them, serves them too:

transposed convolution (the input gradient)
    ``v[j] = sum_{i, k : i * stride + k * dilation = j + offset} u[i] w[k]``.
    Output ``j`` lies in phase ``r = (j + offset) % stride``, and only the taps
    ``k`` with ``k * dilation = r (mod stride)`` reach it.  Those taps are
    every ``stride / gcd(stride, dilation)``-th, and within a phase they are
    ``dilation / gcd`` input samples apart, so each phase is a stride-1
    correlation of ``u`` with its taps reversed: no zeros are stuffed between
    input samples and no output is computed only to be dropped.

weight gradient
    ``gw[o, c, k] = sum_{n, l} gy[n, o, l] x[n, c, l * stride + k * dilation - pad]``
    is a correlation of ``x`` (batch and channel axes swapped) with ``gy`` as
    the kernel, with stride and dilation swapped, and ``K`` outputs.

The plans are pure functions of the validated specs; they are cached, so a
layer trained step after step plans once.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

from .records import ConvSpec
from .shape import output_length

__all__ = ["Phase", "TransposePlan", "transpose_plan", "weight_grad_spec"]


class Phase(NamedTuple):
    """One residue class of a transposed convolution's outputs.

    The outputs ``out_start, out_start + out_step, ...`` (``count`` of them)
    are ``spec``'s correlation of the input slice
    ``[input_start, input_start + spec.length)`` with the taps
    ``first_tap, first_tap + tap_step, ...`` (``spec.kernel_size`` of them)
    taken in reverse order, input and output channels of each group swapped.
    ``spec`` is None when no tap reaches these outputs: they hold the bias alone.
    """

    spec: ConvSpec | None
    first_tap: int
    tap_step: int
    input_start: int
    out_start: int
    out_step: int
    count: int


class TransposePlan(NamedTuple):
    """The phases of a transposed convolution, which together cover its output once."""

    phases: tuple[Phase, ...]


@functools.lru_cache(maxsize=1024)
def transpose_plan(
    batch: int,
    in_channels: int,
    length: int,
    out_channels: int,
    kernel_size: int,
    groups: int,
    stride: int,
    dilation: int,
    offset: int,
    length_out: int,
    has_bias: bool,
    compute_dtype: str,
) -> TransposePlan:
    """Plan ``v[:, :, j]`` for ``0 <= j < length_out``, where output ``j`` is the
    position ``j + offset`` of the full transposed convolution (so ``offset``
    is the transposed convolution's padding, or a forward convolution's left
    padding when computing its input gradient).

    ``in_channels`` and ``length`` describe the transposed convolution's input
    ``u``; its weight is ``(in_channels, out_channels / groups, kernel_size)``.

    Examples
    --------
    >>> plan = transpose_plan(1, 1, 4, 1, 3, 1, 2, 1, 0, 9, False, "float64")
    >>> [(p.first_tap, p.spec.kernel_size, p.out_start, p.count) for p in plan.phases]
    [(0, 2, 0, 5), (1, 1, 1, 4)]
    """
    common = math.gcd(stride, dilation)
    tap_step = stride // common  # taps of one phase are this far apart
    input_step = dilation // common  # ... and read inputs this far apart
    phases = []
    # one phase per residue that some output has: the first min(stride, length_out)
    # outputs have distinct residues (a huge stride must not loop over all of them)
    for out_start in range(min(stride, length_out)):
        residue = (out_start + offset) % stride
        count = -(-(length_out - out_start) // stride)
        first_q = (out_start + offset - residue) // stride
        if residue % common:
            first_tap = kernel_size  # k * dilation is never this residue
        else:
            # k * input_step = residue / common (mod tap_step)
            first_tap = (residue // common) * pow(input_step, -1, tap_step) % tap_step if tap_step > 1 else 0
        taps = 0 if first_tap >= kernel_size else -(-(kernel_size - first_tap) // tap_step)
        if taps == 0:
            phases.append(Phase(spec=None, first_tap=0, tap_step=tap_step, input_start=0, out_start=out_start,
                                out_step=stride, count=count))
            continue
        # output q of the phase reads u[q - shift + k' * input_step], k' = taps - 1 - m
        shift = (first_tap * dilation - residue) // stride + (taps - 1) * input_step
        pad_left = shift - first_q
        pad_right = count - 1 + (taps - 1) * input_step + 1 - length - pad_left
        # zero padding is implicit; a negative one is a slice of the input
        input_start = max(0, -pad_left)
        input_stop = length - max(0, -pad_right)
        if input_stop <= input_start:
            # every output of the phase reads only padding
            phases.append(Phase(spec=None, first_tap=0, tap_step=tap_step, input_start=0, out_start=out_start,
                                out_step=stride, count=count))
            continue
        pad_left = max(0, pad_left)
        pad_right = max(0, pad_right)
        spec = ConvSpec(
            batch=batch, in_channels=in_channels, length=input_stop - input_start, out_channels=out_channels,
            kernel_size=taps, groups=groups, stride=1, dilation=input_step, pad_left=pad_left,
            pad_right=pad_right, padding_mode="zeros", length_out=count, batched=True, has_bias=has_bias,
            compute_dtype=compute_dtype, result_dtype=compute_dtype,
        )
        phases.append(Phase(spec=spec, first_tap=first_tap, tap_step=tap_step, input_start=input_start,
                            out_start=out_start, out_step=stride, count=count))
    return TransposePlan(phases=tuple(phases))


@functools.lru_cache(maxsize=1024)
def weight_grad_spec(spec: ConvSpec) -> ConvSpec:
    """The correlation whose first ``K`` outputs are the weight gradient of ``spec``.

    Input ``(C_in / groups, groups * N, L)``: ``x`` with batch and channel axes
    swapped, padded as ``spec`` pads it.  Kernel ``(C_out, N, L_out)``: the
    output gradient, likewise.  Output ``(C_in / groups, C_out, K')`` with
    ``K' >= K``; the extra outputs (fewer than ``stride / dilation``) come from
    the input's tail that the forward call's rounding left unread.

    Examples
    --------
    >>> import numpy as np
    >>> from arrayconv.shape import normalize
    >>> forward = normalize(np.zeros((2, 4, 10)), np.zeros((6, 2, 3)), groups=2, padding=1)
    >>> lowered = weight_grad_spec(forward)
    >>> lowered.batch, lowered.in_channels, lowered.out_channels, lowered.kernel_size, lowered.length_out
    (2, 4, 6, 10, 3)
    """
    length_out = output_length(spec.padded_length, spec.length_out, spec.dilation, spec.stride)
    return ConvSpec(
        batch=spec.in_channels_per_group, in_channels=spec.groups * spec.batch, length=spec.length,
        out_channels=spec.out_channels, kernel_size=spec.length_out, groups=spec.groups, stride=spec.dilation,
        dilation=spec.stride, pad_left=spec.pad_left, pad_right=spec.pad_right, padding_mode=spec.padding_mode,
        length_out=length_out, batched=True, has_bias=False, compute_dtype=spec.compute_dtype,
        result_dtype=spec.compute_dtype,
    )
