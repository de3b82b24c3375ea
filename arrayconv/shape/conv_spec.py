"""Validation of a ``conv1d`` call: its arguments checked, its padding and output length planned.

Examples
--------
>>> import numpy as np
>>> normalize(np.zeros((1, 2, 10)), np.zeros((4, 2, 3)), padding="same").length_out
10
"""

from __future__ import annotations

from typing import Any

from .. import padding as padding_modes
from ..dtypes import COMPUTE_DTYPE
from ..records import ConvSpec
from .arguments import (
    arrays_dtype,
    arrays_namespace,
    check_size,
    input_layout,
    padding_arg,
    padding_mode_arg,
    positive_int,
)

__all__ = ["normalize", "output_length", "resolve_padding", "check_padding_mode_limits", "check_length"]


def resolve_padding(padding: int | str, stride: int, dilation: int, kernel_size: int) -> tuple[int, int]:
    """(left, right) padding; 'same' puts the odd element on the right,
    'causal' the kernel's whole extent ``dilation * (K - 1)`` on the left (an
    output then reads no sample after its own position, at any stride).

    Examples
    --------
    >>> resolve_padding("same", 1, 1, 4), resolve_padding(2, 3, 1, 4), resolve_padding("causal", 2, 3, 4)
    ((1, 2), (2, 2), (9, 0))
    """
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return dilation * (kernel_size - 1), 0
    if padding == "same":
        if stride != 1:
            raise ValueError(
                f"padding='same' is not supported for strided convolutions, got stride={stride}"
            )
        total = dilation * (kernel_size - 1)
        return total // 2, total - total // 2
    return padding, padding


def output_length(padded_length: int, kernel_size: int, stride: int, dilation: int) -> int:
    """Output length of a convolution over an already padded input.

    ``floor((padded_length - dilation * (kernel_size - 1) - 1) / stride) + 1``.

    Examples
    --------
    >>> output_length(50, 3, 2, 1)
    24
    """
    return (padded_length - dilation * (kernel_size - 1) - 1) // stride + 1


def check_padding_mode_limits(
    mode: str, pad_left: int, pad_right: int, in_channels: int, length: int, shape: Any
) -> None:
    """The limits torch's explicit padding (F.pad) puts on each mode: a mode pads
    no further than its :func:`arrayconv.padding.reach`.

    Examples
    --------
    >>> check_padding_mode_limits("reflect", 4, 4, 1, 4, (1, 1, 4))
    Traceback (most recent call last):
    ...
    ValueError: padding_mode='reflect' needs padding smaller than the input length 4, got padding=(4, 4)
    """
    if mode in ("reflect", "replicate") and (length == 0 or in_channels == 0):
        raise ValueError(
            f"padding_mode={mode!r} needs an input with non-zero channels and length, "
            f"got input.shape={tuple(shape)}"
        )
    reach = padding_modes.reach(mode, length)
    if reach is None or max(pad_left, pad_right) <= reach:
        return
    if mode == "reflect":
        raise ValueError(
            f"padding_mode='reflect' needs padding smaller than the input length {length}, "
            f"got padding=({pad_left}, {pad_right})"
        )
    raise ValueError(
        f"padding_mode='circular' needs padding no larger than the input length {length} "
        f"(it cannot wrap around more than once), got padding=({pad_left}, {pad_right})"
    )


def check_length(
    length: int, pad_left: int, pad_right: int, kernel_size: int, dilation: int, mode: str, shape: Any
) -> None:
    """The input length a convolution needs: the kernel's extent within the padded
    input, and no empty input with zero padding (unless it has no rows at all).

    Examples
    --------
    >>> check_length(0, 2, 2, 3, 1, "zeros", (2, 4, 0))
    Traceback (most recent call last):
    ...
    ValueError: input of length 0 is supported only with a zero batch or zero channels, got input.shape=(2, 4, 0)
    """
    shape = tuple(shape)
    padded = length + pad_left + pad_right
    extent = dilation * (kernel_size - 1) + 1
    if padded < extent:
        # an empty signal is the likely cause: say so rather than leave it to the numbers
        empty = f"; the input is empty along its last axis (input.shape={shape})" if length == 0 else ""
        raise ValueError(
            f"the kernel's extent dilation * (K - 1) + 1 = {extent} (dilation={dilation}, "
            f"K={kernel_size}) is larger than the padded input length {padded} "
            f"(L={length}, padding=({pad_left}, {pad_right})){empty}"
        )
    rows = shape[0] * shape[1] if len(shape) == 3 else shape[0]
    if length == 0 and rows and mode == "zeros":
        raise ValueError(
            "input of length 0 is supported only with a zero batch or zero channels, "
            f"got input.shape={shape}"
        )


def normalize(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    padding_mode: Any = "zeros",
) -> ConvSpec:
    """Validate the arguments of ``conv1d`` and plan the call.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups, padding_mode
        As for :func:`arrayconv.conv1d`.

    Returns
    -------
    ConvSpec
        The immutable plan that backends execute.

    Raises
    ------
    TypeError
        An argument of the wrong kind (not an array, integer dtype, float
        stride, ...).
    ValueError
        A value torch rejects (mismatched channels, kernel larger than the
        padded input, negative padding, ...).

    Examples
    --------
    >>> import numpy as np
    >>> spec = normalize(np.zeros((20, 16, 50), np.float32),
    ...                  np.zeros((33, 16, 3), np.float32), stride=2)
    >>> spec.output_shape
    (20, 33, 24)
    """
    xp = arrays_namespace(input, weight, bias)
    stride_ = positive_int("stride", stride)
    dilation_ = positive_int("dilation", dilation)
    groups_ = positive_int("groups", groups, sequence=False)
    mode = padding_mode_arg(padding_mode)
    padding_ = padding_arg(padding, mode)

    batched, batch, in_channels, length = input_layout(input, weight, "(C_out, C_in/groups, K)")
    out_channels, weight_in, kernel_size = tuple(weight.shape)
    result_dtype = arrays_dtype(xp, input, weight, bias)

    if kernel_size == 0:
        raise ValueError(f"weight must have a kernel size of at least 1, got weight.shape={tuple(weight.shape)}")
    if out_channels < groups_:
        raise ValueError(
            f"weight must have at least groups={groups_} output channels, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if out_channels % groups_:
        raise ValueError(
            f"weight.shape[0] (out channels) must be divisible by groups={groups_}, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if in_channels != weight_in * groups_:
        raise ValueError(
            f"input must have weight.shape[1] * groups = {weight_in} * {groups_} = "
            f"{weight_in * groups_} channels, got input.shape={tuple(input.shape)} "
            f"and weight.shape={tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"bias must be 1-D with weight.shape[0] = {out_channels} elements, "
            f"got bias.shape={tuple(bias.shape)}"
        )

    pad_left, pad_right = resolve_padding(padding_, stride_, dilation_, kernel_size)
    check_padding_mode_limits(mode, pad_left, pad_right, in_channels, length, input.shape)

    check_length(length, pad_left, pad_right, kernel_size, dilation_, mode, input.shape)
    padded = length + pad_left + pad_right
    length_out = output_length(padded, kernel_size, stride_, dilation_)
    compute_dtype = COMPUTE_DTYPE[result_dtype]
    check_size(batch, max(in_channels, out_channels), max(padded, length_out), compute_dtype)
    return ConvSpec(
        batch=batch, in_channels=in_channels, length=length, out_channels=out_channels,
        kernel_size=kernel_size, groups=groups_, stride=stride_, dilation=dilation_,
        pad_left=pad_left, pad_right=pad_right, padding_mode=mode, length_out=length_out,
        batched=batched, has_bias=bias is not None, compute_dtype=compute_dtype,
        result_dtype=result_dtype,
    )
