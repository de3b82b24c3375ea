"""torch autograd for ``conv1d`` and ``conv_transpose1d``.

A torch tensor that requires grad, with grad mode on, makes the call a node
of torch's graph: a ``torch.autograd.Function`` whose forward is the plain
call and whose backward is arrayconv's own gradients.  The gradients are
computed from values, so they are not differentiable again: asking for their
graph (``create_graph=True``) raises.  torch is imported only when a torch tensor is seen.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = ["wants_graph", "conv1d", "conv_transpose1d"]


def wants_graph(*arrays: Any) -> bool:
    """Whether torch would record a graph for a call on ``arrays``."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.is_grad_enabled():
        return False
    return any(isinstance(array, torch.Tensor) and array.requires_grad for array in arrays)


def conv1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
           groups: Any, padding_mode: Any, backend: str | None) -> Any:
    settings = (stride, padding, dilation, groups, padding_mode, backend)
    return _functions()[0].apply(input, weight, bias, settings)


def conv_transpose1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                     output_padding: Any, groups: Any, dilation: Any, backend: str | None) -> Any:
    settings = (stride, padding, output_padding, groups, dilation, backend)
    return _functions()[1].apply(input, weight, bias, settings)


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
    from . import functional, gradients

    return (
        _function("Conv1dFunction", functional.conv1d, gradients.conv1d_backward),
        _function("ConvTranspose1dFunction", gradients.conv_transpose1d, gradients.conv_transpose1d_backward),
    )


def _function(name: str, forward_call: Any, backward_call: Any) -> Any:
    """A Function whose forward is ``forward_call(input, weight, bias, *settings, backend=)`` and
    whose backward is ``backward_call(grad_output, input, weight, *settings, needs=, backend=)``."""
    import torch

    from .gradients import gradient_like

    def forward(ctx: Any, input: Any, weight: Any, bias: Any, settings: tuple) -> Any:
        *arguments, backend = settings
        ctx.settings = settings
        ctx.bias = None if bias is None else torch.empty(0, dtype=bias.dtype)  # its dtype, for the gradient
        ctx.save_for_backward(input, weight)
        return forward_call(_plain(input), _plain(weight), _plain(bias), *arguments, backend=backend)

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
                              needs=_needs(ctx, ctx.bias is not None), backend=backend)
        bias = None if grads.bias is None else gradient_like(grads.bias, ctx.bias)
        return grads.input, grads.weight, bias, None

    return type(name, (torch.autograd.Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
    })
