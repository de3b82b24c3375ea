"""The immutable records a call hands down the floors: what to compute, and what came back.

The shape modules build them from validated arguments; policy, lowering and
the backends read them and trust them, without re-checking.

Examples
--------
>>> spec = ConvSpec(batch=2, in_channels=4, length=10, out_channels=6, kernel_size=3, groups=2,
...                 stride=1, dilation=1, pad_left=1, pad_right=1, padding_mode="zeros",
...                 length_out=10, batched=True, has_bias=False, compute_dtype="float32",
...                 result_dtype="float32")
>>> spec.output_shape, spec.macs
((2, 6, 10), 720)
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["ConvSpec", "TransposeSpec", "BackwardSpec", "Gradients", "GRADIENT_NAMES"]

GRADIENT_NAMES = ("input", "weight", "bias")


class ConvSpec(NamedTuple):
    """A validated, immutable (and hashable) description of one conv1d call.

    Backends receive the input as ``(batch, in_channels, length)`` (unbatched
    input already given a batch axis of 1) and must return
    ``(batch, out_channels, length_out)`` in ``compute_dtype``; the frontend
    restores the caller's layout and dtype.

    Attributes
    ----------
    batch, in_channels, length : int
        The input's shape, with a batch axis.
    out_channels, kernel_size : int
        ``weight.shape[0]`` and ``weight.shape[2]``.
    groups, stride, dilation : int
        Positive integers.
    pad_left, pad_right : int
        Padding applied at each end (``'same'`` puts an odd extra element on
        the right, as torch does).
    padding_mode : str
        One of ``arrayconv.padding.PADDING_MODES``.
    length_out : int
        Output length.
    batched : bool
        False when the caller gave a ``(C_in, L)`` input.
    has_bias : bool
        Whether a bias is added.
    compute_dtype, result_dtype : str
        Dtype names: kernels compute in ``compute_dtype``; the caller gets
        ``result_dtype`` (differs only for float16).
    """

    batch: int
    in_channels: int
    length: int
    out_channels: int
    kernel_size: int
    groups: int
    stride: int
    dilation: int
    pad_left: int
    pad_right: int
    padding_mode: str
    length_out: int
    batched: bool
    has_bias: bool
    compute_dtype: str
    result_dtype: str

    @property
    def in_channels_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_channels_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def padded_length(self) -> int:
        return self.length + self.pad_left + self.pad_right

    @property
    def kernel_extent(self) -> int:
        """Span of the dilated kernel: ``dilation * (kernel_size - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def output_channels(self) -> int:
        """Channels of the output; torch gives none for a zero-channel input."""
        return self.out_channels if self.in_channels else 0

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Output shape with the batch axis, as backends produce it."""
        return (self.batch, self.output_channels, self.length_out)

    @property
    def result_shape(self) -> tuple[int, ...]:
        """Output shape as the caller sees it (no batch axis if unbatched)."""
        return self.output_shape if self.batched else self.output_shape[1:]

    @property
    def is_empty(self) -> bool:
        """True when the output has no elements, so no kernel needs to run."""
        return self.batch * self.output_channels * self.length_out == 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the direct definition (for cost models)."""
        return (
            self.batch
            * self.output_channels
            * self.length_out
            * self.in_channels_per_group
            * self.kernel_size
        )


class TransposeSpec(NamedTuple):
    """A validated ``conv_transpose1d`` call.

    The input is ``(batch, in_channels, length)``, the weight
    ``(in_channels, out_channels / groups, kernel_size)`` and the output
    ``(batch, out_channels, length_out)`` with
    ``length_out = (length - 1) * stride - 2 * padding + dilation * (kernel_size - 1)
    + output_padding + 1``.
    """

    batch: int
    in_channels: int
    length: int
    out_channels: int
    kernel_size: int
    groups: int
    stride: int
    dilation: int
    padding: int
    output_padding: int
    length_out: int
    batched: bool
    has_bias: bool
    compute_dtype: str
    result_dtype: str

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.batch, self.out_channels, self.length_out)

    @property
    def result_shape(self) -> tuple[int, ...]:
        return self.output_shape if self.batched else self.output_shape[1:]


class BackwardSpec(NamedTuple):
    """A validated gradient call: the convolution that computes the input
    gradient's adjoint pair, the gradients asked for, and the dtype names of
    the arrays they are the gradients of (``bias``: that of the output gradient).

    For ``conv1d_backward``, ``spec`` is the forward call itself; for
    ``conv_transpose1d_backward`` it is the ``conv1d`` of the output gradient
    with the weight, whose output has the input's shape.  Its dtypes are the
    promotion of every array's.
    """

    spec: ConvSpec
    needs: frozenset
    input_dtype: str
    weight_dtype: str
    bias_dtype: str
    input_length: int  # the input's length (shorter than spec's output for a transposed call's gradient)


class Gradients(NamedTuple):
    """Gradients of a loss with respect to a convolution's input, weight and bias
    (None for those not asked for)."""

    input: Any
    weight: Any
    bias: Any
