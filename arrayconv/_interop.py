"""Moving arrays between the caller's library and the backends' NumPy arrays.

CPU arrays of any library cross to NumPy through DLPack (no copy where the
layout allows) and the result goes back the same way, so the caller gets an
array of its own kind on its own device.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .dtypes import NUMPY_DTYPE

__all__ = ["device_name", "to_numpy", "from_numpy", "gradient_like", "convert_like"]


def device_name(array: Any) -> str:
    """``"cpu"`` for host memory, else the library's name for the device."""
    if isinstance(array, np.ndarray) or array_api_compat.is_numpy_array(array):
        return "cpu"
    text = str(array_api_compat.device(array))
    # torch "cpu", array-api-strict "Device('CPU_DEVICE')", jax "TFRT_CPU_0"
    return "cpu" if "cpu" in text.lower() else text


def to_numpy(array: Any, name: str, dtype: str) -> np.ndarray:
    """A C-contiguous NumPy array of ``dtype`` holding ``array``'s values.

    No copy is made when ``array`` already is one; the result is only read.
    """
    if type(array) is np.ndarray and array.dtype is NUMPY_DTYPE.get(dtype) and array.flags.c_contiguous:
        return array  # the common case, without ascontiguousarray's dtype parsing
    if not isinstance(array, np.ndarray):
        if array_api_compat.is_torch_array(array):
            # DLPack carries neither torch's lazy conjugate/negative bits nor
            # grad tracking: materialise the bits so the values read are right.
            array = array.detach().resolve_conj().resolve_neg()
        try:
            array = np.from_dlpack(array)
        except (TypeError, RuntimeError, BufferError) as error:
            raise TypeError(
                f"{name} ({type(array).__module__}.{type(array).__name__}) cannot be read "
                f"as a CPU array ({error}); pass a NumPy array or a CPU array that "
                "supports DLPack"
            ) from error
    return np.ascontiguousarray(array, dtype=dtype)


def from_numpy(result: np.ndarray, like: Any) -> Any:
    """``result`` as an array of ``like``'s library, on ``like``'s device."""
    if isinstance(like, np.ndarray):
        return result
    xp = array_api_compat.array_namespace(like)
    if hasattr(xp, "from_dlpack"):
        try:
            return xp.from_dlpack(result)
        except (TypeError, RuntimeError, BufferError, AttributeError):
            pass
    return xp.asarray(result)


def convert_like(array: Any, name: str, like: Any) -> Any:
    """``array`` (its values and dtype) as an array of ``like``'s library on ``like``'s device;
    ``array`` itself where it already is one.

    Examples
    --------
    >>> convert_like(np.ones(2, np.float32), "weight", np.zeros(3)).dtype
    dtype('float32')
    """
    same_library = type(array).__module__.split(".")[0] == type(like).__module__.split(".")[0]
    if same_library and array_api_compat.device(array) == array_api_compat.device(like):
        return array
    moved = from_numpy(to_numpy(array, name, None), like)
    return array_api_compat.to_device(moved, array_api_compat.device(like))


def gradient_like(grad: Any, array: Any) -> Any:
    """``grad`` in ``array``'s dtype: the real part for a real array (as torch gives
    a real tensor's gradient in a complex computation).

    Examples
    --------
    >>> gradient_like(np.array([1.0 + 2.0j]), np.zeros(1, np.float32))
    array([1.], dtype=float32)
    """
    xp = array_api_compat.array_namespace(grad)
    if xp.isdtype(grad.dtype, "complex floating") and not xp.isdtype(array.dtype, "complex floating"):
        grad = xp.real(grad)
    return grad if grad.dtype == array.dtype else xp.astype(grad, array.dtype)
