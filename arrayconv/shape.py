"""The one place that validates convolution arguments and plans shapes.

Every public entry point (``conv1d``, ``Conv1d``) sends its raw arguments here
first.  What comes back is an immutable :class:`ConvSpec` (or
:class:`LayerConfig` for the module) that backends trust without re-checking.
Errors are ``TypeError`` for a wrong kind of argument and ``ValueError`` for a
wrong value; each message names the argument and the value it got.

The accepted configurations are exactly those ``torch.nn.functional.conv1d``
(and, for ``padding_mode != "zeros"``, ``torch.nn.Conv1d``) accepts, with two
documented departures that follow the Array API: mixed floating dtypes are
promoted (torch refuses them) and integer or bool arrays are refused (torch's
CPU path accepts them).
"""

from __future__ import annotations

import operator
import os
import sys
from dataclasses import dataclass
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

__all__ = [
    "BackwardSpec",
    "ConvSpec",
    "GRADIENT_NAMES",
    "LayerConfig",
    "TransposeSpec",
    "PADDING_MODES",
    "normalize",
    "normalize_backward",
    "normalize_chunked",
    "normalize_layer",
    "normalize_transpose",
    "normalize_transpose_backward",
    "check_state",
    "output_length",
    "output_padding_for",
    "layer_input",
]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("valid", "same")

# dtype names in the order the kernels know them; float16 is computed in float32.
_FLOAT_NAMES = ("float16", "float32", "float64", "complex64", "complex128")
_COMPUTE_DTYPE = {
    "float16": "float32",
    "float32": "float32",
    "float64": "float64",
    "complex64": "complex64",
    "complex128": "complex128",
}
# Bytes per element of each compute dtype, for the size guard below.
_NUMPY_FLOAT_NAMES = {np.dtype(name): name for name in _FLOAT_NAMES}
# Promotion among the floating dtypes: NumPy's agrees with the Array API's here.
_PROMOTED = {
    (a, b): np.result_type(a, b).name for a in _FLOAT_NAMES for b in _FLOAT_NAMES
}
_ITEMSIZE = {"float32": 4, "float64": 8, "complex64": 8, "complex128": 16}
_MAX_BYTES = sys.maxsize


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
        One of ``PADDING_MODES``.
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


@dataclass(frozen=True, slots=True)
class LayerConfig:
    """Validated hyper-parameters of a :class:`arrayconv.Conv1d` layer.

    Tuples are 1-tuples, as torch stores them; ``padding`` is a 1-tuple or the
    string ``'same'``/``'valid'``.
    """

    in_channels: int
    out_channels: int
    kernel_size: tuple[int]
    stride: tuple[int]
    padding: tuple[int] | str
    dilation: tuple[int]
    groups: int
    padding_mode: str
    bias: bool
    device: Any  # "cpu" for NumPy, else the namespace's own device (object or string)
    dtype: str
    namespace: Any = None  # the array_api_compat namespace of the parameters; None: NumPy
    transposed: bool = False  # a ConvTranspose1d layer
    output_padding: tuple[int] = (0,)

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        if self.transposed:
            return (self.in_channels, self.out_channels // self.groups, self.kernel_size[0])
        return (self.out_channels, self.in_channels // self.groups, self.kernel_size[0])

    @property
    def fan_in(self) -> int:
        """Inputs feeding one output, as torch's weight initialisation counts them."""
        return self.weight_shape[1] * self.kernel_size[0]


# --------------------------------------------------------------------------
# Scalar arguments


def _as_int(name: str, value: Any, *, sequence: bool = True) -> int:
    """An int from an int, a NumPy integer or (if ``sequence``) a 1-sequence of one; not bool.

    Values beyond the largest index are refused here, so no kernel sees them.
    """
    if type(value) is int and -sys.maxsize <= value <= sys.maxsize:
        return value
    if sequence and isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(
                f"{name} must be an int or a sequence of 1 int for a 1-D convolution, "
                f"got {name}={value!r}"
            )
        value = value[0]
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an int, got bool {name}={value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        expected = "an int or a 1-tuple of int" if sequence else "an int"
        raise TypeError(
            f"{name} must be {expected}, got {type(value).__name__} {name}={_short_repr(value)}"
        ) from None
    if abs(number) > sys.maxsize:
        raise ValueError(f"{name} is too large to index with: {name}={value!r}")
    return number


def _positive_int(name: str, value: Any, *, sequence: bool = True) -> int:
    number = _as_int(name, value, sequence=sequence)
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return number


def _non_negative_int(name: str, value: Any, *, sequence: bool = True) -> int:
    number = _as_int(name, value, sequence=sequence)
    if number < 0:
        raise ValueError(f"{name} must be non-negative, got {name}={value!r}")
    return number


def _padding_arg(value: Any, mode: str) -> int | str:
    """An int, or the string 'valid' or 'same'.

    A negative int is allowed with the padding modes other than zeros: there,
    as ``nn.Conv1d`` pads with ``F.pad``, it crops the input by that much at
    each end; with zeros torch refuses it.
    """
    if isinstance(value, str):
        if value not in PADDING_STRINGS:
            raise ValueError(
                f"padding must be a non-negative int, 'valid' or 'same', got padding={value!r}"
            )
        return value
    if mode == "zeros":
        return _non_negative_int("padding", value)
    return _as_int("padding", value)


def _padding_mode_arg(value: Any) -> str:
    if not isinstance(value, str) or value not in PADDING_MODES:
        raise ValueError(
            f"padding_mode must be one of {PADDING_MODES}, got padding_mode={value!r}"
        )
    return value


def _resolve_padding(padding: int | str, stride: int, dilation: int, kernel_size: int) -> tuple[int, int]:
    """(left, right) padding; 'same' puts the odd element on the right."""
    if padding == "valid":
        return 0, 0
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


# --------------------------------------------------------------------------
# Array arguments


def _namespace(**arrays: Any) -> Any:
    """The common array namespace of the named arrays (None values skipped).

    Returns None for plain NumPy arrays: the common case takes a fast path.
    """
    if all(type(value) is np.ndarray or value is None for value in arrays.values()):
        return None
    given = {name: value for name, value in arrays.items() if value is not None}
    for name, value in given.items():
        if not array_api_compat.is_array_api_obj(value):
            raise TypeError(
                f"{name} must be an array (NumPy, PyTorch, CuPy, ...), got "
                f"{type(value).__name__} {name}={_short_repr(value)}"
            )
    try:
        xp = array_api_compat.array_namespace(*given.values())
    except TypeError as error:
        kinds = ", ".join(
            f"{name}: {type(value).__module__}.{type(value).__name__}" for name, value in given.items()
        )
        raise TypeError(
            f"{', '.join(given)} must be arrays of one kind; got {kinds} "
            f"(convert them to the input's array library first)"
        ) from error
    devices = {name: array_api_compat.device(value) for name, value in given.items()}
    first = next(iter(devices.values()))
    if any(device != first for device in devices.values()):
        where = ", ".join(f"{name} on {device}" for name, device in devices.items())
        raise TypeError(
            f"{', '.join(given)} must be on one device; got {where} "
            f"(move them to the input's device first)"
        )
    return xp


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _float_name(xp: Any, dtype: Any) -> str | None:
    """The name of a floating or complex dtype, None for any other."""
    if isinstance(dtype, np.dtype):
        dtype = dtype.newbyteorder("=")  # big-endian data converts on the way in
    for candidate in _FLOAT_NAMES:
        if dtype == getattr(xp, candidate, None):
            return candidate
    return None


def _dtype_name(xp: Any, name: str, array: Any) -> str:
    """The name of a floating array's dtype; TypeError for anything else."""
    if xp is None:
        found = _NUMPY_FLOAT_NAMES.get(array.dtype) or _float_name(np, array.dtype)
    else:
        found = _float_name(xp, array.dtype)
    if found is None:
        raise TypeError(
            f"{name} must have a floating or complex dtype (float16, float32, float64, "
            f"complex64, complex128), got {name}.dtype={array.dtype}"
        )
    return found


def _result_dtype_name(names: list[str]) -> str:
    """The Array API promotion of floating dtypes (the same in every namespace)."""
    result = names[0]
    for other in names[1:]:
        result = _PROMOTED[result, other]
    return result


def _refuse_autograd(name: str, array: Any) -> None:
    """Gradients are computed from values: refuse a tensor whose graph would be dropped.

    (``conv1d`` and ``conv_transpose1d`` take part in torch's autograd; their
    gradients are not differentiable again.)
    """
    if getattr(array, "requires_grad", False) and _torch_grad_enabled():
        raise TypeError(
            f"{name} requires grad, and conv1d_backward does not record autograd history "
            f"(arrayconv's gradients are not differentiable twice); pass {name}.detach()"
        )


def _torch_grad_enabled() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.is_grad_enabled()


def _arrays_namespace(input: Any, weight: Any, bias: Any) -> Any:
    """The namespace of a call's arrays (None for NumPy), refusing a missing input or weight."""
    for name, value in (("input", input), ("weight", weight)):
        if value is None:
            raise TypeError(f"{name} must be an array (NumPy, PyTorch, CuPy, ...), got {name}=None")
    return _namespace(input=input, weight=weight, bias=bias)


def _input_layout(input: Any, weight: Any, weight_layout: str) -> tuple[bool, int, int, int]:
    """(batched, batch, channels, length) of a 2-D or 3-D input, with a 3-D weight."""
    if input.ndim not in (2, 3):
        raise ValueError(
            "input must be 2-D (C_in, L) unbatched or 3-D (N, C_in, L) batched, "
            f"got input.shape={tuple(input.shape)}"
        )
    if weight.ndim != 3:
        raise ValueError(f"weight must be 3-D {weight_layout}, got weight.shape={tuple(weight.shape)}")
    if input.ndim == 3:
        batch, channels, length = tuple(input.shape)
        return True, batch, channels, length
    channels, length = tuple(input.shape)
    return False, 1, channels, length


def _arrays_dtype(xp: Any, input: Any, weight: Any, bias: Any) -> str:
    """The promoted dtype name of a call's arrays; TypeError for a non-floating one."""
    names = [
        _dtype_name(xp, name, array)
        for name, array in (("input", input), ("weight", weight), ("bias", bias))
        if array is not None
    ]
    return _result_dtype_name(names)


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
    xp = _arrays_namespace(input, weight, bias)
    stride_ = _positive_int("stride", stride)
    dilation_ = _positive_int("dilation", dilation)
    groups_ = _positive_int("groups", groups, sequence=False)
    mode = _padding_mode_arg(padding_mode)
    padding_ = _padding_arg(padding, mode)

    batched, batch, in_channels, length = _input_layout(input, weight, "(C_out, C_in/groups, K)")
    out_channels, weight_in, kernel_size = tuple(weight.shape)
    result_dtype = _arrays_dtype(xp, input, weight, bias)

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

    pad_left, pad_right = _resolve_padding(padding_, stride_, dilation_, kernel_size)
    _check_padding_mode_limits(mode, pad_left, pad_right, in_channels, length, input.shape)

    padded = length + pad_left + pad_right
    extent = dilation_ * (kernel_size - 1) + 1
    if padded < extent:
        raise ValueError(
            f"the kernel's extent dilation * (K - 1) + 1 = {extent} (dilation={dilation_}, "
            f"K={kernel_size}) is larger than the padded input length {padded} "
            f"(L={length}, padding=({pad_left}, {pad_right}))"
        )
    if length == 0 and batch and in_channels and mode == "zeros":
        raise ValueError(
            "input of length 0 is supported only with a zero batch or zero channels, "
            f"got input.shape={tuple(input.shape)}"
        )
    length_out = output_length(padded, kernel_size, stride_, dilation_)
    compute_dtype = _COMPUTE_DTYPE[result_dtype]
    _check_size(batch, max(in_channels, out_channels), max(padded, length_out), compute_dtype)

    # positional: the hot path of every call (keywords cost a microsecond)
    return ConvSpec(
        batch, in_channels, length, out_channels, kernel_size, groups_, stride_, dilation_,
        pad_left, pad_right, mode, length_out, batched, bias is not None, compute_dtype,
        result_dtype,
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
    xp = _arrays_namespace(input, weight, bias)
    stride_ = _positive_int("stride", stride)
    dilation_ = _positive_int("dilation", dilation)
    groups_ = _positive_int("groups", groups, sequence=False)
    if isinstance(padding, str):
        raise TypeError(
            f"padding of a transposed convolution must be a non-negative int, got padding={padding!r}"
        )
    padding_ = _non_negative_int("padding", padding)
    output_padding_ = _non_negative_int("output_padding", output_padding)
    batched, batch, in_channels, length = _input_layout(input, weight, "(C_in, C_out/groups, K)")
    weight_in, out_per_group, kernel_size = tuple(weight.shape)
    out_channels = out_per_group * groups_
    result_dtype = _arrays_dtype(xp, input, weight, bias)
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
    compute_dtype = _COMPUTE_DTYPE[result_dtype]
    _check_size(batch, max(in_channels, out_channels), max(length, length_out), compute_dtype)
    return TransposeSpec(
        batch, in_channels, length, out_channels, kernel_size, groups_, stride_, dilation_,
        padding_, output_padding_, length_out, batched, bias is not None, compute_dtype,
        result_dtype,
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
    size = _non_negative_int("output_size", sizes[0], sequence=False)
    length = input.shape[input.ndim - 1]
    smallest = (length - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 1
    largest = smallest + stride - 1
    if not smallest <= size <= largest:
        raise ValueError(
            f"output_size must be between {smallest} and {largest} for an input of length {length}, "
            f"got output_size={output_size!r}"
        )
    return size - smallest


def layer_input(given: Any, saved: Any, layer: str) -> Any:
    """The input a layer's ``backward`` differentiates at: ``given``, else its last call's.

    Examples
    --------
    >>> layer_input(None, None, "Conv1d")
    Traceback (most recent call last):
    ...
    ValueError: Conv1d.backward needs the input of a forward call: call the layer first, or pass input=
    """
    found = saved if given is None else given
    if found is None:
        raise ValueError(
            f"{layer}.backward needs the input of a forward call: call the layer first, or pass input="
        )
    return found


GRADIENT_NAMES = ("input", "weight", "bias")


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


def _needs_arg(needs: Any) -> frozenset:
    if isinstance(needs, str) or not isinstance(needs, (tuple, list, set, frozenset)):
        raise TypeError(
            f"needs must be a sequence of gradient names from {GRADIENT_NAMES}, got needs={needs!r}"
        )
    if any(name not in GRADIENT_NAMES for name in needs):
        raise ValueError(f"needs may name only {GRADIENT_NAMES}, got needs={tuple(needs)!r}")
    return frozenset(needs)


def _grad_output_arg(grad_output: Any, input: Any, expected_shape: tuple[int, ...]) -> str:
    """The output gradient's dtype name, after checking its kind and shape."""
    if grad_output is None:
        raise TypeError("grad_output must be an array (NumPy, PyTorch, CuPy, ...), got grad_output=None")
    xp = _namespace(grad_output=grad_output, input=input)
    name = _dtype_name(xp, "grad_output", grad_output)
    if xp is not None:
        _refuse_autograd("grad_output", grad_output)
    if tuple(grad_output.shape) != expected_shape:
        raise ValueError(
            f"grad_output must have the forward output's shape {expected_shape}, "
            f"got grad_output.shape={tuple(grad_output.shape)}"
        )
    return name


def normalize_backward(
    grad_output: Any,
    input: Any,
    weight: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    padding_mode: Any = "zeros",
    needs: Any = GRADIENT_NAMES,
) -> BackwardSpec:
    """Validate a ``conv1d_backward`` call: the forward call's arguments, and an
    output gradient of the forward output's shape.

    Examples
    --------
    >>> import numpy as np
    >>> call = normalize_backward(np.zeros((2, 3, 8)), np.zeros((2, 4, 10)),
    ...                           np.zeros((3, 4, 3)), needs=("weight",))
    >>> call.spec.output_shape, sorted(call.needs)
    ((2, 3, 8), ['weight'])
    """
    wanted = _needs_arg(needs)
    spec = normalize(input, weight, None, stride, padding, dilation, groups, padding_mode)
    return _backward_spec(spec, spec.result_dtype, spec.result_shape, wanted, grad_output, input, weight,
                          spec.length)


def normalize_transpose_backward(
    grad_output: Any,
    input: Any,
    weight: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: Any = 1,
    dilation: Any = 1,
    needs: Any = GRADIENT_NAMES,
) -> BackwardSpec:
    """Validate a ``conv_transpose1d_backward`` call.

    Examples
    --------
    >>> import numpy as np
    >>> call = normalize_transpose_backward(np.zeros((2, 3, 21)), np.zeros((2, 4, 10)),
    ...                                     np.zeros((4, 3, 3)), stride=2)
    >>> call.spec.output_shape
    (2, 4, 10)
    """
    wanted = _needs_arg(needs)
    transposed = normalize_transpose(input, weight, None, stride, padding, output_padding, groups, dilation)
    # conv1d(grad_output, weight): channels out_channels -> in_channels; its output is
    # the input's length, or longer by output_padding // stride (cut by the caller)
    padded = transposed.length_out + 2 * transposed.padding
    spec = ConvSpec(
        transposed.batch, transposed.out_channels, transposed.length_out, transposed.in_channels,
        transposed.kernel_size, transposed.groups, transposed.stride, transposed.dilation,
        transposed.padding, transposed.padding, "zeros",
        output_length(padded, transposed.kernel_size, transposed.stride, transposed.dilation),
        transposed.batched, False, transposed.compute_dtype, transposed.compute_dtype,
    )
    return _backward_spec(spec, transposed.result_dtype, transposed.result_shape, wanted, grad_output, input,
                          weight, transposed.length)


def _backward_spec(
    spec: ConvSpec, result_dtype: str, output_shape: tuple[int, ...], wanted: frozenset,
    grad_output: Any, input: Any, weight: Any, input_length: int,
) -> BackwardSpec:
    """A gradient call's spec, after checking the output gradient against the forward output."""
    grad_dtype = _grad_output_arg(grad_output, input, output_shape)
    input_dtype = _dtype_name(_namespace(input=input), "input", input)
    weight_dtype = _dtype_name(_namespace(weight=weight), "weight", weight)
    compute_dtype = _COMPUTE_DTYPE[_result_dtype_name([result_dtype, grad_dtype])]
    spec = spec._replace(compute_dtype=compute_dtype, result_dtype=compute_dtype)
    return BackwardSpec(spec, wanted, input_dtype, weight_dtype, grad_dtype, input_length)


def normalize_chunked(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    padding_mode: Any = "zeros",
) -> ConvSpec:
    """Validate a ``conv1d`` call on a chunked (Dask) input with NumPy weight and bias.

    The input's shape and dtype are checked as :func:`normalize` checks an
    array's; its chunks must be known.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> normalize_chunked(da.zeros((4, 2, 100), chunks=(2, 1, 30)), np.zeros((3, 2, 5))).output_shape
    (4, 3, 96)
    """
    if any(size != size for size in tuple(input.shape)):  # NaN: not yet known
        raise ValueError(
            f"input must have known chunk sizes, got input.shape={tuple(input.shape)}; "
            "call input.compute_chunk_sizes() first"
        )
    for name, array in (("weight", weight), ("bias", bias)):
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(
                f"{name} of a Dask input must be a NumPy array (weights are small and shipped "
                f"to the workers whole), got {type(array).__module__}.{type(array).__name__}; "
                f"pass {name}.compute() or np.asarray({name})"
            )
    standin = np.broadcast_to(np.zeros((), dtype=input.dtype), tuple(input.shape))
    return normalize(standin, weight, bias, stride, padding, dilation, groups, padding_mode)


def _check_padding_mode_limits(
    mode: str, pad_left: int, pad_right: int, in_channels: int, length: int, shape: Any
) -> None:
    """The limits torch's explicit padding (F.pad) puts on each mode."""
    if mode in ("reflect", "replicate") and (length == 0 or in_channels == 0):
        raise ValueError(
            f"padding_mode={mode!r} needs an input with non-zero channels and length, "
            f"got input.shape={tuple(shape)}"
        )
    if mode == "reflect" and max(pad_left, pad_right) >= length:
        raise ValueError(
            f"padding_mode='reflect' needs padding smaller than the input length {length}, "
            f"got padding=({pad_left}, {pad_right})"
        )
    if mode == "circular" and max(pad_left, pad_right) > length:
        raise ValueError(
            f"padding_mode='circular' needs padding no larger than the input length {length} "
            f"(it cannot wrap around more than once), got padding=({pad_left}, {pad_right})"
        )


def _check_size(batch: int, channels: int, length: int, compute_dtype: str) -> None:
    """Reject sizes whose byte counts would overflow a signed 64-bit index."""
    if batch * channels * length * _ITEMSIZE[compute_dtype] > _MAX_BYTES:
        raise ValueError(
            f"the convolution is too large to index: batch={batch}, channels={channels}, "
            f"length={length} overflow a 64-bit byte offset"
        )


# --------------------------------------------------------------------------
# The module's hyper-parameters and parameters


def normalize_layer(
    in_channels: Any,
    out_channels: Any,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    bias: Any = True,
    padding_mode: Any = "zeros",
    device: Any = None,
    dtype: Any = None,
    xp: Any = None,
    output_padding: Any = None,
) -> LayerConfig:
    """Validate the hyper-parameters of :class:`arrayconv.Conv1d`, or with an
    ``output_padding`` (an int, 0 by default) those of :class:`arrayconv.ConvTranspose1d`.

    ``xp`` names the array library of the parameters (a module such as
    ``torch``, ``cupy`` or ``array_api_strict``; None for NumPy), and
    ``device`` is then that library's device (``"cuda:0"``, a
    ``cupy.cuda.Device``, ...).

    Examples
    --------
    >>> normalize_layer(16, 33, 3, stride=2).stride
    (2,)
    """
    in_ch = _non_negative_int("in_channels", in_channels, sequence=False)
    out_ch = _non_negative_int("out_channels", out_channels, sequence=False)
    k = _positive_int("kernel_size", kernel_size)
    stride_ = _positive_int("stride", stride)
    dilation_ = _positive_int("dilation", dilation)
    groups_ = _positive_int("groups", groups, sequence=False)
    mode = _padding_mode_arg(padding_mode)
    transposed = output_padding is not None
    if transposed:
        if mode != "zeros":
            raise ValueError(
                f"padding_mode must be 'zeros' for a transposed convolution, got padding_mode={padding_mode!r}"
            )
        if isinstance(padding, str):
            raise ValueError(
                f"padding of a transposed convolution must be a non-negative int, got padding={padding!r}"
            )
        output_padding_ = _non_negative_int("output_padding", output_padding)
    padding_ = _padding_arg(padding, mode)
    if not isinstance(bias, (bool, np.bool_, int, type(None))):
        raise TypeError(f"bias must be True or False, got {type(bias).__name__} bias={bias!r}")
    if in_ch % groups_:
        raise ValueError(f"in_channels={in_ch} must be divisible by groups={groups_}")
    if out_ch % groups_:
        raise ValueError(f"out_channels={out_ch} must be divisible by groups={groups_}")
    # Raises for 'same' with stride > 1, as torch's constructor does.
    _resolve_padding(padding_, stride_, dilation_, k)
    namespace = _layer_namespace(xp, device)
    if namespace is None and device is not None and not str(device).startswith("cpu"):
        raise ValueError(
            f"device must be None or the CPU for NumPy parameters, got device={device!r} "
            "(pass xp=, e.g. xp=torch or xp=cupy, for parameters on another device)"
        )
    return LayerConfig(
        in_channels=in_ch,
        out_channels=out_ch,
        kernel_size=(k,),
        stride=(stride_,),
        padding=padding_ if isinstance(padding_, str) else (padding_,),
        dilation=(dilation_,),
        groups=groups_,
        padding_mode=mode,
        bias=bool(bias),
        device="cpu" if namespace is None else device,
        dtype=_layer_dtype(dtype),
        namespace=namespace,
        transposed=transposed,
        output_padding=(output_padding_,) if transposed else (0,),
    )


def _layer_namespace(xp: Any, device: Any) -> Any:
    """The array_api_compat namespace for ``xp`` (None for NumPy), checking ``device`` with it."""
    if xp is None or xp is np:
        return None
    if not hasattr(xp, "asarray"):
        raise TypeError(f"xp must be an array library such as torch, cupy or array_api_strict, got xp={xp!r}")
    try:
        probe = xp.asarray([0.0])
        namespace = array_api_compat.array_namespace(probe)
    except Exception as error:
        raise TypeError(f"xp={getattr(xp, '__name__', xp)!r} is not an array library array_api_compat knows: {error}") from error
    if array_api_compat.is_numpy_namespace(namespace):
        return None
    try:
        namespace.asarray([0.0], device=device)
    except Exception as error:
        raise ValueError(
            f"device={device!r} is not a device of {getattr(xp, '__name__', xp)} ({error})"
        ) from error
    return namespace


def _layer_dtype(dtype: Any) -> str:
    """The name of a floating dtype given as a NumPy or torch dtype, type or string."""
    if dtype is None:
        return "float32"
    text = str(dtype)
    try:
        name = np.dtype(text.removeprefix("torch.") if text.startswith("torch.") else dtype).name
    except TypeError:
        name = None
    if name not in _FLOAT_NAMES:
        raise TypeError(f"dtype must be a floating or complex dtype {_FLOAT_NAMES}, got dtype={dtype!r}")
    return name


def check_state(config: LayerConfig, state: Any) -> tuple[Any, Any]:
    """The weight and bias of a state dict, checked against a layer.

    Returns
    -------
    (weight, bias)
        The arrays as given (bias None for a layer without one).

    Raises
    ------
    TypeError, ValueError
        If ``state`` is not a mapping, has missing or unexpected keys, or
        holds arrays of the wrong kind, dtype or shape.
    """
    if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
        raise TypeError(f"state must be a mapping of names to arrays, got {type(state).__name__}")
    expected = {"weight", "bias"} if config.bias else {"weight"}
    keys = set(state.keys())
    if keys != expected:
        raise ValueError(
            f"state must have exactly the keys {sorted(expected)}; "
            f"missing {sorted(expected - keys)}, unexpected {sorted(keys - expected)}"
        )
    weight = state["weight"]
    bias = state.get("bias")
    xp = _namespace(weight=weight, bias=bias)
    _dtype_name(xp, "weight", weight)
    if tuple(weight.shape) != config.weight_shape:
        raise ValueError(
            f"weight must have shape {config.weight_shape} for this layer, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if bias is not None:
        _dtype_name(xp, "bias", bias)
        if tuple(bias.shape) != (config.out_channels,):
            raise ValueError(
                f"bias must have shape ({config.out_channels},) for this layer, "
                f"got bias.shape={tuple(bias.shape)}"
            )
    return weight, bias


def placeholder(value: Any, name: str, dtype: Any) -> Any:
    """A zero-memory NumPy array of ``dtype`` for a shape (a tuple or list of
    non-negative ints); an array (or None) is returned as it is.

    For :func:`arrayconv.explain`, which takes shapes where conv1d takes arrays.

    Examples
    --------
    >>> placeholder((2, 3), "input", "float32").shape
    (2, 3)
    """
    if not isinstance(value, (tuple, list)):
        return value
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0 for n in value):
        raise TypeError(f"{name} must be an array or a shape of non-negative ints, got {name}={value!r}")
    return np.broadcast_to(np.zeros((), dtype=_layer_dtype(dtype)), tuple(int(n) for n in value))


class WorkspaceError(MemoryError):
    """A call would need more memory than the ``memory_limit`` setting (or the machine) allows."""


def check_memory(spec: ConvSpec, workspace_bytes: int, limit: int | None, backend: str) -> None:
    """Refuse a call whose output and workspace exceed ``limit`` bytes, before anything is allocated.

    ``limit`` None: the memory the system reports available now (checked only
    for calls of 64 MiB and more, so small calls pay nothing).
    """
    needed = spec.batch * spec.output_channels * spec.length_out * _ITEMSIZE[spec.compute_dtype] + workspace_bytes
    _check_bytes(needed, f"output {spec.output_shape} of {spec.compute_dtype} plus the {backend} backend's workspace",
                 limit)


def check_output_memory(output_shape: tuple[int, ...], compute_dtype: str, limit: int | None) -> None:
    """:func:`check_memory` for a result assembled from several backend calls (a
    transposed convolution's phases), before it is allocated."""
    needed = _ITEMSIZE[compute_dtype]
    for size in output_shape:
        needed *= size
    _check_bytes(needed, f"output {tuple(output_shape)} of {compute_dtype}", limit)


def _check_bytes(needed: int, what: str, limit: int | None) -> None:
    if limit is None:
        if needed < 1 << 26:
            return
        limit = _available_memory()
        source = "the memory available now"
        if limit is None:
            return
    else:
        source = "the memory_limit setting"
    if needed > limit:
        raise WorkspaceError(
            f"this call needs about {needed / 2**30:.3g} GiB ({what}), more than {source} "
            f"({limit / 2**30:.3g} GiB); split the batch or the signal (Dask does it for you), "
            f"use a smaller dtype, force a backend with a smaller workspace (backend=...), "
            f"or raise memory_limit"
        )


def _available_memory() -> int | None:
    """MemAvailable (Linux: free memory plus what the kernel can reclaim), else the physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this system
        return None
