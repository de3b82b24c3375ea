"""Coercion of the arguments every call shares: integers, padding, arrays, dtypes.

Each function either returns the argument in its one canonical form or
raises the ``TypeError`` (wrong kind) or ``ValueError`` (wrong value) that
names it and the value it got.

Examples
--------
>>> positive_int("stride", (2,))
2
>>> padding_arg("same", "zeros")
'same'
"""

from __future__ import annotations

import operator
import sys
from typing import Any

import array_api_compat
import numpy as np

from ..dtypes import FLOAT_NAMES, ITEMSIZE, PROMOTED
from ..padding import PADDING_MODES

__all__ = [
    "PADDING_STRINGS", "as_int", "positive_int", "non_negative_int", "padding_arg", "padding_mode_arg",
    "short_repr", "namespace_of", "dtype_name", "promoted", "arrays_namespace", "input_layout",
    "arrays_dtype", "check_size", "layer_dtype", "placeholder",
]

PADDING_STRINGS = ("valid", "same", "causal")
_NUMPY_FLOAT_NAMES = {np.dtype(name): name for name in FLOAT_NAMES}
_MAX_BYTES = sys.maxsize


def as_int(name: str, value: Any, *, sequence: bool = True) -> int:
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
            f"{name} must be {expected}, got {type(value).__name__} {name}={short_repr(value)}"
        ) from None
    if abs(number) > sys.maxsize:
        raise ValueError(f"{name} is too large to index with: {name}={value!r}")
    return number


def positive_int(name: str, value: Any, *, sequence: bool = True) -> int:
    """:func:`as_int`, refusing zero and negative values."""
    number = as_int(name, value, sequence=sequence)
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return number


def non_negative_int(name: str, value: Any, *, sequence: bool = True) -> int:
    """:func:`as_int`, refusing negative values."""
    number = as_int(name, value, sequence=sequence)
    if number < 0:
        raise ValueError(f"{name} must be non-negative, got {name}={value!r}")
    return number


def padding_arg(value: Any, mode: str) -> int | str:
    """An int, or the string 'valid', 'same' or 'causal'.

    A negative int is allowed with the padding modes other than zeros: there,
    as ``nn.Conv1d`` pads with ``F.pad``, it crops the input by that much at
    each end; with zeros torch refuses it.
    """
    if isinstance(value, str):
        if value not in PADDING_STRINGS:
            raise ValueError(
                f"padding must be a non-negative int, 'valid', 'same' or 'causal', got padding={value!r}"
            )
        return value
    if mode == "zeros":
        return non_negative_int("padding", value)
    return as_int("padding", value)


def padding_mode_arg(value: Any) -> str:
    """One of ``PADDING_MODES``."""
    if not isinstance(value, str) or value not in PADDING_MODES:
        raise ValueError(
            f"padding_mode must be one of {PADDING_MODES}, got padding_mode={value!r}"
        )
    return value


def namespace_of(**arrays: Any) -> Any:
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
                f"{type(value).__name__} {name}={short_repr(value)}"
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


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to fit in an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _float_name(xp: Any, dtype: Any) -> str | None:
    """The name of a floating or complex dtype, None for any other."""
    if isinstance(dtype, np.dtype):
        dtype = dtype.newbyteorder("=")  # big-endian data converts on the way in
    for candidate in FLOAT_NAMES:
        if dtype == getattr(xp, candidate, None):
            return candidate
    return None


def dtype_name(xp: Any, name: str, array: Any) -> str:
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


def promoted(names: list[str]) -> str:
    """The Array API promotion of floating dtypes (the same in every namespace)."""
    result = names[0]
    for other in names[1:]:
        result = PROMOTED[result, other]
    return result


def arrays_namespace(input: Any, weight: Any, bias: Any) -> Any:
    """The namespace of a call's arrays (None for NumPy), refusing a missing input or weight."""
    for name, value in (("input", input), ("weight", weight)):
        if value is None:
            raise TypeError(f"{name} must be an array (NumPy, PyTorch, CuPy, ...), got {name}=None")
    return namespace_of(input=input, weight=weight, bias=bias)


def input_layout(input: Any, weight: Any, weight_layout: str) -> tuple[bool, int, int, int]:
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


def arrays_dtype(xp: Any, input: Any, weight: Any, bias: Any) -> str:
    """The promoted dtype name of a call's arrays; TypeError for a non-floating one."""
    names = [
        dtype_name(xp, name, array)
        for name, array in (("input", input), ("weight", weight), ("bias", bias))
        if array is not None
    ]
    return promoted(names)


def check_size(batch: int, channels: int, length: int, compute_dtype: str) -> None:
    """Reject sizes whose byte counts would overflow a signed 64-bit index."""
    if batch * channels * length * ITEMSIZE[compute_dtype] > _MAX_BYTES:
        raise ValueError(
            f"the convolution is too large to index: batch={batch}, channels={channels}, "
            f"length={length} overflow a 64-bit byte offset"
        )


def layer_dtype(dtype: Any) -> str:
    """The name of a floating dtype given as a NumPy or torch dtype, type or string."""
    if dtype is None:
        return "float32"
    text = str(dtype)
    try:
        name = np.dtype(text.removeprefix("torch.") if text.startswith("torch.") else dtype).name
    except TypeError:
        name = None
    if name not in FLOAT_NAMES:
        raise TypeError(f"dtype must be a floating or complex dtype {FLOAT_NAMES}, got dtype={dtype!r}")
    return name


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
    return np.broadcast_to(np.zeros((), dtype=layer_dtype(dtype)), tuple(int(n) for n in value))

