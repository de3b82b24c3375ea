"""``Conv1d``: the layer of the PyTorch docs, holding its weight and bias."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from . import _interop, shape
from .functional import conv1d

__all__ = ["Conv1d"]


class Conv1d:
    """A 1-D convolution layer with the attributes and behaviour of ``torch.nn.Conv1d``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size : int or 1-tuple of int
        Taps of the kernel.
    stride, padding, dilation, groups, padding_mode
        As for :func:`arrayconv.conv1d`.
    bias : bool
        Whether the layer adds a learnable bias.
    device : optional
        Where the parameters live.  With NumPy parameters (the default):
        ``None`` or the CPU (``"cpu"``, ``"cpu:0"``, ``torch.device("cpu")``);
        with ``xp``, any device of that library (``"cuda:0"`` for torch, a
        ``cupy.cuda.Device``, ``array_api_strict.Device("device1")``).
    dtype : dtype or str, optional
        Parameter dtype (float16, float32, float64, complex64 or complex128);
        float32 by default, as in torch.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the initial weights, for reproducible layers.
    xp : module, optional
        The array library of the parameters (``torch``, ``cupy``,
        ``array_api_strict``, ...; default NumPy).  The layer then takes
        inputs of that library on that device, and returns the same.  The
        initial values are drawn by NumPy from ``rng`` whatever the library,
        so a seed gives the same layer everywhere.
    Attributes
    ----------
    weight : array
        ``(out_channels, in_channels / groups, kernel_size)``, of ``xp``, initialised
        from U(-sqrt(k), sqrt(k)) with ``k = groups / (in_channels * kernel_size)``
        (for complex dtypes the real and imaginary parts each).
    bias : array or None
        ``(out_channels,)``, from the same distribution.
    kernel_size, stride, dilation : tuple of int
        1-tuples, as torch stores them.
    padding : tuple of int or str
        A 1-tuple, or ``'same'``/``'valid'``.

    Examples
    --------
    >>> import numpy as np
    >>> m = Conv1d(16, 33, 3, stride=2, rng=0)
    >>> m
    Conv1d(16, 33, kernel_size=(3,), stride=(2,))
    >>> m(np.zeros((20, 16, 50), dtype=np.float32)).shape
    (20, 33, 24)
    """

    transposed = False
    output_padding = (0,)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: str | None = None,
        dtype: Any = None,
        *,
        rng: int | np.random.Generator | None = None,
        xp: Any = None,
    ) -> None:
        config = shape.normalize_layer(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, device, dtype, xp,
        )
        self._config = config
        self.in_channels = config.in_channels
        self.out_channels = config.out_channels
        self.kernel_size = config.kernel_size
        self.stride = config.stride
        self.padding = config.padding
        self.dilation = config.dilation
        self.groups = config.groups
        self.padding_mode = config.padding_mode
        self.device = config.device
        self.dtype = np.dtype(config.dtype)
        self.rng = np.random.default_rng(rng)
        self.xp = config.namespace  # None: NumPy
        self.weight: Any
        self.bias: Any | None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias afresh from U(-sqrt(k), sqrt(k)), k = groups / (C_in * K)."""
        config = self._config
        fan_in = config.in_channels // config.groups * config.kernel_size[0]
        # torch leaves a zero-input layer's bias at 0 (its bound is 0 then)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        self.weight = self._uniform(config.weight_shape, bound)
        self.bias = self._uniform((config.out_channels,), bound) if config.bias else None

    def _uniform(self, shape_: tuple[int, ...], bound: float) -> Any:
        values = self.rng.uniform(-bound, bound, size=shape_)
        if self.dtype.kind == "c":
            values = values + 1j * self.rng.uniform(-bound, bound, size=shape_)
        return self._to_layer(values.astype(self.dtype))

    def _to_layer(self, values: np.ndarray) -> Any:
        """A NumPy array of the layer's dtype as a parameter of the layer's library and device."""
        if self.xp is None:
            return values
        return self.xp.asarray(values, device=self.device, copy=True)

    def __call__(self, input: Any, *, backend: str | None = None) -> Any:
        """Apply the layer: ``conv1d`` with this layer's weight, bias and settings."""
        return conv1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self.padding_mode,
            backend=backend,
        )

    forward = __call__

    def state_dict(self) -> dict[str, Any]:
        """The parameters by name, as torch names them (``weight``; ``bias`` if any).

        The arrays are the layer's own (not copies), as torch's are.
        """
        state = {"weight": self.weight}
        if self.bias is not None:
            state["bias"] = self.bias
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy parameters in, e.g. ``m.load_state_dict(torch_layer.state_dict())``.

        Values may be arrays of the layer's own library (on any of its
        devices) or any CPU arrays (NumPy, torch tensors, ...); they are
        copied, cast to the layer's dtype and put on the layer's device.

        Raises
        ------
        TypeError, ValueError
            Missing or unexpected keys, or arrays of the wrong shape or dtype.

        Examples
        --------
        >>> import numpy as np
        >>> m = Conv1d(2, 4, 3, bias=False)
        >>> m.load_state_dict({"weight": np.ones((4, 2, 3))})
        >>> float(m.weight.sum())
        24.0
        """
        weight, bias = shape.check_state(self._config, state)
        self.weight = self._copy_in(weight, "weight")
        self.bias = None if bias is None else self._copy_in(bias, "bias")

    def _copy_in(self, value: Any, name: str) -> Any:
        if self.xp is not None and array_api_compat.array_namespace(value) is self.xp:
            if hasattr(value, "detach"):  # a torch Parameter: copy the values, not the autograd graph
                value = value.detach()
            copied = self.xp.asarray(value, device=self.device, copy=True)
            return self.xp.astype(copied, getattr(self.xp, self.dtype.name))
        return self._to_layer(np.array(_interop.to_numpy(value, name, self.dtype.name), copy=True))

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.padding):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
