"""Validation of a gradient call (``conv1d_backward``, ``conv_transpose1d_backward``):
the forward call's arguments, the gradients asked for and the output gradient.

Examples
--------
>>> import numpy as np
>>> call = normalize_backward(np.zeros((1, 1, 3)), np.zeros((1, 2, 5)), np.zeros((1, 2, 3)))
>>> call.spec.output_shape, call.input_length
((1, 1, 3), 5)
"""

from __future__ import annotations

from typing import Any

from ..dtypes import COMPUTE_DTYPE
from ..records import GRADIENT_NAMES, BackwardSpec, ConvSpec
from .arguments import dtype_name, namespace_of, promoted
from .conv_spec import normalize, output_length
from .transpose_spec import normalize_transpose

__all__ = ["normalize_backward", "normalize_transpose_backward", "refuse_graph"]


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
    xp = namespace_of(grad_output=grad_output, input=input)
    name = dtype_name(xp, "grad_output", grad_output)
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
        batch=transposed.batch, in_channels=transposed.out_channels, length=transposed.length_out,
        out_channels=transposed.in_channels, kernel_size=transposed.kernel_size, groups=transposed.groups,
        stride=transposed.stride, dilation=transposed.dilation, pad_left=transposed.padding,
        pad_right=transposed.padding, padding_mode="zeros",
        length_out=output_length(padded, transposed.kernel_size, transposed.stride, transposed.dilation),
        batched=transposed.batched, has_bias=False, compute_dtype=transposed.compute_dtype,
        result_dtype=transposed.compute_dtype,
    )
    return _backward_spec(spec, transposed.result_dtype, transposed.result_shape, wanted, grad_output, input,
                          weight, transposed.length)


def _backward_spec(
    spec: ConvSpec, result_dtype: str, output_shape: tuple[int, ...], wanted: frozenset,
    grad_output: Any, input: Any, weight: Any, input_length: int,
) -> BackwardSpec:
    """A gradient call's spec, after checking the output gradient against the forward output."""
    grad_dtype = _grad_output_arg(grad_output, input, output_shape)
    input_dtype = dtype_name(namespace_of(input=input), "input", input)
    weight_dtype = dtype_name(namespace_of(weight=weight), "weight", weight)
    compute_dtype = COMPUTE_DTYPE[promoted([result_dtype, grad_dtype])]
    spec = spec._replace(compute_dtype=compute_dtype, result_dtype=compute_dtype)
    return BackwardSpec(spec=spec, needs=wanted, input_dtype=input_dtype, weight_dtype=weight_dtype,
                        bias_dtype=grad_dtype, input_length=input_length)


def refuse_graph(names: tuple[str, ...], arrays: tuple[Any, ...]) -> None:
    """Refuse a gradient call on tensors that would record a graph: the gradients
    are computed from values, so torch's graph would be dropped.

    (``conv1d`` and ``conv_transpose1d`` take part in torch's autograd; their
    gradients are not differentiable again.)  Called with grad mode on.

    Examples
    --------
    >>> import torch
    >>> refuse_graph(("grad_output",), (torch.ones(1, requires_grad=True),))
    Traceback (most recent call last):
    ...
    TypeError: grad_output requires grad, and conv1d_backward does not record autograd history ...
    """
    for name, array in zip(names, arrays):
        if getattr(array, "requires_grad", False):
            raise TypeError(
                f"{name} requires grad, and conv1d_backward does not record autograd history "
                f"(arrayconv's gradients are not differentiable twice); pass {name}.detach()"
            )

