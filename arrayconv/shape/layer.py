"""Validation of a layer's hyper-parameters and parameters (``Conv1d``, ``ConvTranspose1d``).

Examples
--------
>>> normalize_layer(4, 8, 3, padding="same").padding
'same'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .arguments import dtype_name, layer_dtype, namespace_of, non_negative_int, padding_arg, padding_mode_arg, positive_int
from .conv_spec import resolve_padding

__all__ = ["LayerConfig", "normalize_layer", "check_state", "layer_input"]


@dataclass(frozen=True, slots=True)
class LayerConfig:
    """Validated hyper-parameters of a :class:`arrayconv.Conv1d` layer.

    Tuples are 1-tuples, as torch stores them; ``padding`` is a 1-tuple or the
    string ``'same'``/``'valid'``/``'causal'``.
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
    in_ch = non_negative_int("in_channels", in_channels, sequence=False)
    out_ch = non_negative_int("out_channels", out_channels, sequence=False)
    k = positive_int("kernel_size", kernel_size)
    stride_ = positive_int("stride", stride)
    dilation_ = positive_int("dilation", dilation)
    groups_ = positive_int("groups", groups, sequence=False)
    mode = padding_mode_arg(padding_mode)
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
        output_padding_ = non_negative_int("output_padding", output_padding)
    padding_ = padding_arg(padding, mode)
    if not isinstance(bias, (bool, np.bool_, int, type(None))):
        raise TypeError(f"bias must be True or False, got {type(bias).__name__} bias={bias!r}")
    if in_ch % groups_:
        raise ValueError(f"in_channels={in_ch} must be divisible by groups={groups_}")
    if out_ch % groups_:
        raise ValueError(f"out_channels={out_ch} must be divisible by groups={groups_}")
    # Raises for 'same' with stride > 1, as torch's constructor does.
    resolve_padding(padding_, stride_, dilation_, k)
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
        dtype=layer_dtype(dtype),
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
    if config.bias and bias is None:  # torch refuses it too: it would drop the layer's bias
        raise TypeError("state['bias'] must be an array for a layer with a bias, got None")
    xp = namespace_of(weight=weight, bias=bias)
    dtype_name(xp, "weight", weight)
    if tuple(weight.shape) != config.weight_shape:
        raise ValueError(
            f"weight must have shape {config.weight_shape} for this layer, "
            f"got weight.shape={tuple(weight.shape)}"
        )
    if bias is not None:
        dtype_name(xp, "bias", bias)
        if tuple(bias.shape) != (config.out_channels,):
            raise ValueError(
                f"bias must have shape ({config.out_channels},) for this layer, "
                f"got bias.shape={tuple(bias.shape)}"
            )
    return weight, bias


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
