"""The torch autograd path of ``conv1d`` and ``conv_transpose1d``.

A torch tensor that requires grad, with grad mode on, makes the call a node
of torch's graph: a ``torch.autograd.Function`` whose forward is the plain
call and whose backward is arrayconv's own gradients (both on the plain
route).  The gradients are computed from values, so they are not
differentiable again: asking for their graph (``create_graph=True``)
raises, and so does a gradient call on tensors that would record a graph.
torch is imported only when a torch tensor needing a graph is seen.

Examples
--------
>>> import torch
>>> x = torch.ones(1, 1, 4, requires_grad=True)
>>> y = conv1d(x, torch.ones(1, 1, 2), None, 1, 0, 1, 1, "zeros", None)
>>> y.sum().backward()
>>> x.grad
tensor([[[1., 2., 2., 1.]]])
"""

from __future__ import annotations

import functools
from typing import Any

from . import _interop, plain, plain_gradients, shape

__all__ = ["conv1d", "conv_transpose1d", "conv1d_backward", "conv_transpose1d_backward"]


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
           groups: Any, padding_mode: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv1d` as a node of torch's graph."""
    settings = (stride, padding, dilation, groups, padding_mode, backend)
    return _functions()[0].apply(input, weight, bias, settings)


def conv_transpose1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                     output_padding: Any, groups: Any, dilation: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv_transpose1d` as a node of torch's graph."""
    settings = (stride, padding, output_padding, groups, dilation, backend)
    return _functions()[1].apply(input, weight, bias, settings)


def conv1d_backward(grad_output: Any, input: Any, weight: Any, *settings: Any) -> Any:
    """A gradient call on tensors that would record a graph: refused (see the module's notes)."""
    shape.refuse_graph(("grad_output", "input", "weight"), (grad_output, input, weight))


conv_transpose1d_backward = conv1d_backward


def _needs(ctx: Any, has_bias: bool) -> tuple[str, ...]:
    flags = ctx.needs_input_grad
    return tuple(
        name
        for name, flag in zip(("input", "weight", "bias"), flags[:3])
        if flag and (name != "bias" or has_bias)
    )


def _plain(array: Any) -> Any:
    """A tensor without its graph (other values as they are: the shape module judges them)."""
    return array.detach() if hasattr(array, "detach") else array


@functools.cache
def _functions() -> tuple[Any, Any]:
    """The autograd Functions of conv1d and conv_transpose1d (made on first use: torch is optional)."""
    return (
        _function("Conv1dFunction", plain.conv1d, plain_gradients.conv1d_backward),
        _function("ConvTranspose1dFunction", plain_gradients.conv_transpose1d,
                  plain_gradients.conv_transpose1d_backward),
    )


def _function(name: str, forward_call: Any, backward_call: Any) -> Any:
    """A Function whose forward is ``forward_call(input, weight, bias, *settings, backend)`` and
    whose backward is ``backward_call(grad_output, input, weight, *settings, needs, backend)``."""
    import torch

    def forward(ctx: Any, input: Any, weight: Any, bias: Any, settings: tuple) -> Any:
        ctx.settings = settings
        ctx.bias = None if bias is None else torch.empty(0, dtype=bias.dtype)  # its dtype, for the gradient
        ctx.save_for_backward(input, weight)
        return forward_call(_plain(input), _plain(weight), _plain(bias), *settings)

    def backward(ctx: Any, grad_output: Any) -> tuple:
        if torch.is_grad_enabled():  # create_graph=True: the caller wants to differentiate again
            raise RuntimeError(
                f"arrayconv computes the gradients of {name.removesuffix('Function')} from values, so they cannot be "
                "differentiated again (create_graph=True, double backward); use torch.nn.functional "
                "where second derivatives are needed"
            )
        input, weight = ctx.saved_tensors
        *arguments, backend = ctx.settings
        grads = backward_call(grad_output, _plain(input), _plain(weight), *arguments,
                              _needs(ctx, ctx.bias is not None), backend)
        bias = None if grads.bias is None else _interop.gradient_like(grads.bias, ctx.bias)
        return grads.input, grads.weight, bias, None

    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
    })
