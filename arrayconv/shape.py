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
    "ConvSpec",
    "LayerConfig",
    "PADDING_MODES",
    "normalize",
    "normalize_layer",
    "check_state",
    "output_length",
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

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        return (self.out_channels, self.in_channels // self.groups, self.kernel_size[0])


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
    """arrayconv records no autograd history: refuse rather than silently drop it."""
    if getattr(array, "requires_grad", False):
        raise TypeError(
            f"{name} requires grad, and arrayconv does not record autograd history; "
            f"pass {name}.detach() to compute without gradients"
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
    for name, value in (("input", input), ("weight", weight)):
        if value is None:
            raise TypeError(f"{name} must be an array (NumPy, PyTorch, CuPy, ...), got {name}=None")
    xp = _namespace(input=input, weight=weight, bias=bias)
    stride_ = _positive_int("stride", stride)
    dilation_ = _positive_int("dilation", dilation)
    groups_ = _positive_int("groups", groups, sequence=False)
    mode = _padding_mode_arg(padding_mode)
    padding_ = _padding_arg(padding, mode)

    if input.ndim not in (2, 3):
        raise ValueError(
            "input must be 2-D (C_in, L) unbatched or 3-D (N, C_in, L) batched, "
            f"got input.shape={tuple(input.shape)}"
        )
    if weight.ndim != 3:
        raise ValueError(
            f"weight must be 3-D (C_out, C_in/groups, K), got weight.shape={tuple(weight.shape)}"
        )
    batched = input.ndim == 3
    batch, in_channels, length = (
        tuple(input.shape) if batched else (1, *tuple(input.shape))
    )
    out_channels, weight_in, kernel_size = tuple(weight.shape)

    dtype_names = []
    for name, array in (("input", input), ("weight", weight), ("bias", bias)):
        if array is not None:
            dtype_names.append(_dtype_name(xp, name, array))
            if xp is not None:
                _refuse_autograd(name, array)
    result_dtype = _result_dtype_name(dtype_names)

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
) -> LayerConfig:
    """Validate the hyper-parameters of :class:`arrayconv.Conv1d`.

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
            f"this call needs about {needed / 2**30:.3g} GiB (output {spec.output_shape} of "
            f"{spec.compute_dtype} plus the {backend} backend's workspace), more than {source} "
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
