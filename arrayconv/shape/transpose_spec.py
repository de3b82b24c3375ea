"""Validation of a ``conv_transpose1d`` call, and the output padding a requested output size implies.

Examples
--------
>>> import numpy as np
>>> normalize_transpose(np.zeros((1, 2, 5)), np.zeros((2, 3, 4)), stride=2, padding=1).length_out
10
"""

from __future__ import annotations

from typing import Any

from ..dtypes import COMPUTE_DTYPE
from ..records import TransposeSpec
from .arguments import arrays_dtype, arrays_namespace, check_size, input_layout, non_negative_int, positive_int

__all__ = ["normalize_transpose", "output_padding_for"]


def normalize_transpose(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: Any = 1,
    dilation: Any = 1,
) -> TransposeSpec:
    """Validate the arguments of ``conv_transpose1d`` as torch does.

    Examples
    --------
    >>> import numpy as np
    >>> normalize_transpose(np.zeros((2, 4, 10)), np.zeros((4, 3, 3)), stride=2).output_shape
    (2, 3, 21)
    """
    xp = arrays_namespace(input, weight, bias)
    stride_ = positive_int("stride", stride)
    dilation_ = positive_int("dilation", dilation)
    groups_ = positive_int("groups", groups, sequence=False)
    if isinstance(padding, str):
        raise TypeError(
            f"padding of a transposed convolution must be a non-negative int, got padding={padding!r}"
        )
    padding_ = non_negative_int("padding", padding)
    output_padding_ = non_negative_int("output_padding", output_padding)
    batched, batch, in_channels, length = input_layout(input, weight, "(C_in, C_out/groups, K)")
    weight_in, out_per_group, kernel_size = tuple(weight.shape)
    out_channels = out_per_group * groups_
    result_dtype = arrays_dtype(xp, input, weight, bias)
    if kernel_size == 0:
        raise ValueError(f"weight must have a kernel size of at least 1, got weight.shape={tuple(weight.shape)}")
    if weight_in < groups_:
        raise ValueError(
            f"weight must have at least groups={groups_} input channels, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if out_per_group == 0:
        raise ValueError(
            f"weight must have at least one output channel per group, got weight.shape={tuple(weight.shape)}"
        )
    if weight_in % groups_:
        raise ValueError(
            f"weight.shape[0] (in channels) must be divisible by groups={groups_}, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if in_channels != weight_in:
        raise ValueError(
            f"input must have weight.shape[0] = {weight_in} channels, got "
            f"input.shape={tuple(input.shape)} and weight.shape={tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"bias must be 1-D with weight.shape[1] * groups = {out_channels} elements, "
            f"got bias.shape={tuple(bias.shape)}"
        )
    if length == 0 and batch and in_channels:
        raise ValueError(
            "input of length 0 is supported only with a zero batch or zero channels, "
            f"got input.shape={tuple(input.shape)}"
        )
    # torch checks output_padding and a zero output length only for a non-empty batch
    if batch and output_padding_ >= max(stride_, dilation_):
        raise ValueError(
            f"output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding!r}, stride={stride_}, dilation={dilation_}"
        )
    length_out = (length - 1) * stride_ - 2 * padding_ + dilation_ * (kernel_size - 1) + output_padding_ + 1
    if length_out < 0 or length_out == 0 and batch:
        raise ValueError(
            f"the output length (L - 1) * stride - 2 * padding + dilation * (K - 1) + "
            f"output_padding + 1 = {length_out} must be positive (L={length}, stride={stride_}, "
            f"padding={padding_}, dilation={dilation_}, K={kernel_size}, output_padding={output_padding_})"
        )
    compute_dtype = COMPUTE_DTYPE[result_dtype]
    check_size(batch, max(in_channels, out_channels), max(length, length_out), compute_dtype)
    return TransposeSpec(
        batch=batch, in_channels=in_channels, length=length, out_channels=out_channels,
        kernel_size=kernel_size, groups=groups_, stride=stride_, dilation=dilation_, padding=padding_,
        output_padding=output_padding_, length_out=length_out, batched=batched, has_bias=bias is not None,
        compute_dtype=compute_dtype, result_dtype=result_dtype,
    )


def output_padding_for(
    output_size: Any, input: Any, stride: int, padding: int, dilation: int, kernel_size: int
) -> int:
    """The ``output_padding`` that gives a transposed convolution of ``input`` the
    length ``output_size`` asks for, as ``nn.ConvTranspose1d`` computes it:
    ``output_size`` is a sequence of the length alone, or of the whole output
    shape (as many elements as the input has axes).

    Examples
    --------
    >>> import numpy as np
    >>> output_padding_for([8], np.zeros((1, 2, 4)), 2, 0, 1, 2)
    0
    >>> output_padding_for((1, 3, 9), np.zeros((1, 2, 4)), 2, 0, 1, 2)
    1
    """
    if input is None or not hasattr(input, "ndim"):
        raise TypeError(f"input must be an array (NumPy, PyTorch, CuPy, ...), got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise ValueError(
            "input must be 2-D (C_in, L) unbatched or 3-D (N, C_in, L) batched, "
            f"got input.shape={tuple(input.shape)}"
        )
    if isinstance(output_size, (str, bytes)) or not hasattr(output_size, "__len__"):
        raise TypeError(
            f"output_size must be a sequence (the output length, or the whole output shape), "
            f"got {type(output_size).__name__} output_size={output_size!r}"
        )
    sizes = list(output_size)
    if len(sizes) == input.ndim:
        sizes = sizes[input.ndim - 1 :]
    if len(sizes) != 1:
        raise ValueError(
            f"output_size must have 1 or {input.ndim} elements for a {input.ndim}-D input, "
            f"got output_size={output_size!r}"
        )
    size = non_negative_int("output_size", sizes[0], sequence=False)
    length = input.shape[input.ndim - 1]
    smallest = (length - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 1
    largest = smallest + stride - 1
    if not smallest <= size <= largest:
        raise ValueError(
            f"output_size must be between {smallest} and {largest} for an input of length {length}, "
            f"got output_size={output_size!r}"
        )
    return size - smallest

