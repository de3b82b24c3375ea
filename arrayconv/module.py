"""``Conv1d``: the layer of the PyTorch docs, holding its weight and bias."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from . import _interop, shape
from . import config as settings
from ._interop import gradient_like
from .functional import conv1d
from .gradients import conv1d_backward, conv_transpose1d, conv_transpose1d_backward
from .stream import Conv1dStream
from .transpose_stream import ConvTranspose1dStream

__all__ = ["Conv1d", "ConvTranspose1d"]

# initial values are drawn this many at a time (8 MiB of float64)
_DRAW_BLOCK = 1 << 20


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
        A 1-tuple, or ``'same'``/``'valid'``/``'causal'`` (see :func:`arrayconv.conv1d`).
    weight_grad, bias_grad : array or None
        The gradients :meth:`backward` has accumulated (None before the first
        and after :meth:`zero_grad`), as torch accumulates ``.grad``.

    Examples
    --------
    >>> import numpy as np
    >>> m = Conv1d(16, 33, 3, stride=2, rng=0)
    >>> m
    Conv1d(16, 33, kernel_size=(3,), stride=(2,))
    >>> y = m(np.ones((20, 16, 50), dtype=np.float32))
    >>> y.shape
    (20, 33, 24)
    >>> m.backward(np.ones_like(y)).shape  # dL/dx for L = y.sum(); fills weight_grad, bias_grad
    (20, 16, 50)
    >>> m.weight_grad.shape, float(m.bias_grad[0])
    ((33, 16, 3), 480.0)
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
        config = self._layer_config(
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
        self.weight_grad: Any | None = None
        self.bias_grad: Any | None = None
        self._input: Any = None  # the last input, for backward
        self.reset_parameters()

    def _layer_config(self, *arguments: Any) -> shape.LayerConfig:
        return shape.normalize_layer(*arguments)

    def reset_parameters(self) -> None:
        """Draw weight and bias afresh from U(-sqrt(k), sqrt(k)), k = 1 / fan_in
        (``C_in / groups * K``; for a transposed layer ``C_out / groups * K``), as torch does."""
        config = self._config
        fan_in = config.fan_in
        # torch leaves a zero-input layer's bias at 0 (its bound is 0 then)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        parameters = {"weight": config.weight_shape, **({"bias": (config.out_channels,)} if config.bias else {})}
        shape.check_parameter_memory(parameters, self.dtype, settings.snapshot().memory_limit)
        self.weight = self._uniform(config.weight_shape, bound)
        self.bias = self._uniform((config.out_channels,), bound) if config.bias else None

    def _uniform(self, shape_: tuple[int, ...], bound: float) -> Any:
        """U(-bound, bound) values of the layer's dtype (complex: real and imaginary parts
        independently), drawn in that dtype block by block: no float64 copy of the
        whole parameter is ever made."""
        values = np.empty(shape_, dtype=self.dtype)
        parts = values.reshape(-1).view(values.real.dtype) if self.dtype.kind == "c" else values.reshape(-1)
        # the generator draws float32 and float64 only: float16 goes through float32 blocks
        draw_dtype = np.float64 if parts.dtype == np.float64 else np.float32
        for first in range(0, parts.size, _DRAW_BLOCK):
            block = self.rng.random(min(_DRAW_BLOCK, parts.size - first), dtype=draw_dtype)
            block *= 2 * bound
            block -= bound
            parts[first : first + block.size] = block
        return self._to_layer(values)

    def _to_layer(self, values: np.ndarray) -> Any:
        """A NumPy array of the layer's dtype as a parameter of the layer's library and
        device (no copy where the library can share the fresh array's memory)."""
        if self.xp is None:
            return values
        return self.xp.asarray(values, device=self.device)

    def __call__(self, input: Any, *, backend: str | None = None) -> Any:
        """Apply the layer: ``conv1d`` with this layer's weight, bias and settings.

        The input is kept (a reference, not a copy) for :meth:`backward`,
        which lets it go.
        """
        output = conv1d(
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
        self._input = input
        return output

    forward = __call__

    def stream(self, *, backend: str | None = None) -> Conv1dStream:
        """A :class:`arrayconv.Conv1dStream` over this layer's weight, bias and settings
        (the parameters as they are now: a later update is not seen by the stream).

        Examples
        --------
        >>> import numpy as np
        >>> layer = Conv1d(2, 3, 4, padding="causal", rng=0)
        >>> stream = layer.stream()
        >>> x = np.ones((1, 2, 10), np.float32)
        >>> y = np.concatenate([stream.push(x[..., :3]), stream.push(x[..., 3:]), stream.flush()], axis=-1)
        >>> bool(np.allclose(y, layer(x), atol=1e-6))
        True
        """
        return Conv1dStream(self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                            self.padding_mode, backend=backend)

    def backward(self, grad_output: Any, *, input: Any = None, backend: str | None = None) -> Any:
        """Back-propagate ``grad_output = dL/dy`` through the last call (or through
        ``input``): add ``dL/dweight`` to :attr:`weight_grad` and ``dL/dbias`` to
        :attr:`bias_grad`, and return ``dL/dinput``.

        The input must not have been changed in place since the call.  The
        gradients come in the parameters' dtypes (for real parameters in a
        complex call, the real parts, as torch gives).

        Raises
        ------
        ValueError
            If the layer has not been called and no ``input`` is given, or
            ``grad_output`` does not have the output's shape.
        """
        grads = self._gradients(grad_output, shape.layer_input(input, self._input, type(self).__name__), backend)
        self._input = None  # no longer needed: let it go
        weight_grad = gradient_like(grads.weight, self.weight)
        self.weight_grad = weight_grad if self.weight_grad is None else self.weight_grad + weight_grad
        if self.bias is not None:
            bias_grad = gradient_like(grads.bias, self.bias)
            self.bias_grad = bias_grad if self.bias_grad is None else self.bias_grad + bias_grad
        return grads.input

    def _gradients(self, grad_output: Any, input: Any, backend: str | None) -> Any:
        return conv1d_backward(
            grad_output, input, self.weight, self.stride, self.padding, self.dilation, self.groups,
            self.padding_mode, needs=self._needs(), backend=backend,
        )

    def _needs(self) -> tuple[str, ...]:
        return ("input", "weight", "bias") if self.bias is not None else ("input", "weight")

    def zero_grad(self) -> None:
        """Forget the accumulated gradients (:attr:`weight_grad`, :attr:`bias_grad`)."""
        self.weight_grad = None
        self.bias_grad = None

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
        if self.output_padding != (0,):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class ConvTranspose1d(Conv1d):
    """A 1-D transposed convolution layer with the attributes and behaviour of
    ``torch.nn.ConvTranspose1d``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation
        As for :func:`arrayconv.conv_transpose1d`; ``padding`` is an int.
    padding_mode : {'zeros'}
        The only mode torch's layer supports.
    device, dtype, rng, xp
        As for :class:`Conv1d`.

    Attributes
    ----------
    weight : array
        ``(in_channels, out_channels / groups, kernel_size)``, from
        U(-sqrt(k), sqrt(k)), ``k = groups / (out_channels * kernel_size)``.
    bias, weight_grad, bias_grad
        As for :class:`Conv1d`.

    Examples
    --------
    >>> import numpy as np
    >>> m = ConvTranspose1d(16, 8, 4, stride=2, padding=1, rng=0)
    >>> m(np.ones((2, 16, 50), dtype=np.float32)).shape
    (2, 8, 100)
    >>> m(np.ones((2, 16, 50), dtype=np.float32), output_size=[101]).shape
    (2, 8, 101)
    """

    transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] = 0,
        output_padding: int | tuple[int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int] = 1,
        padding_mode: str = "zeros",
        device: str | None = None,
        dtype: Any = None,
        *,
        rng: int | np.random.Generator | None = None,
        xp: Any = None,
    ) -> None:
        self._pending_output_padding = output_padding
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, rng=rng, xp=xp)
        self.output_padding = self._config.output_padding

    def _layer_config(self, *arguments: Any) -> shape.LayerConfig:
        return shape.normalize_layer(*arguments, output_padding=self._pending_output_padding)

    def __call__(self, input: Any, output_size: Any = None, *, backend: str | None = None) -> Any:
        """Apply the layer; ``output_size`` (the output length, or a shape ending in it)
        picks the output padding, as in torch."""
        output_padding = self._output_padding(input, output_size)
        output = conv_transpose1d(
            input, self.weight, self.bias, self.stride, self.padding, output_padding, self.groups,
            self.dilation, backend=backend,
        )
        self._input = input
        self._last_output_padding = output_padding
        return output

    forward = __call__

    def stream(self, *, backend: str | None = None) -> ConvTranspose1dStream:
        """A :class:`arrayconv.ConvTranspose1dStream` over this layer's parameters and settings
        (its ``output_padding``; the parameters as they are now).

        Examples
        --------
        >>> import numpy as np
        >>> layer = ConvTranspose1d(2, 3, 4, stride=2, rng=0)
        >>> stream = layer.stream()
        >>> x = np.ones((1, 2, 10), np.float32)
        >>> y = np.concatenate([stream.push(x[..., :3]), stream.push(x[..., 3:]), stream.flush()], axis=-1)
        >>> bool(np.allclose(y, layer(x), atol=1e-6))
        True
        """
        return ConvTranspose1dStream(self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                     self.groups, self.dilation, backend=backend)

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int]:
        if output_size is None:
            return self.output_padding
        return (shape.output_padding_for(
            output_size, input, self.stride[0], self.padding[0], self.dilation[0], self.kernel_size[0]
        ),)

    def _gradients(self, grad_output: Any, input: Any, backend: str | None) -> Any:
        return conv_transpose1d_backward(
            grad_output, input, self.weight, self.stride, self.padding,
            getattr(self, "_last_output_padding", self.output_padding), self.groups, self.dilation,
            needs=self._needs(), backend=backend,
        )
