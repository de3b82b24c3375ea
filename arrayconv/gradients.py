"""``conv_transpose1d`` and the gradients of ``conv1d`` (and of ``conv_transpose1d``).

Each is computed as ordinary convolutions that :mod:`arrayconv.lowering`
plans and the backends run, chosen per call by the same router as
``conv1d``; the direct backend also has a dedicated weight-gradient kernel
(packed GEMMs, or dot products for depthwise layers), used when the router
prefers it.  Array work here is only reshaping, slicing and the scatter of a
padding mode's gradient back onto the signal, in the caller's namespace.

Complex dtypes follow PyTorch's convention: the gradient of a real loss with
respect to ``z`` is ``dL/d(conj z)`` times two, so that ``x_grad =
conv_transpose1d(y_grad, conj(w))`` and ``w_grad = sum y_grad * conj(x)``.
"""

from __future__ import annotations

from typing import Any

from . import kinds
from ._interop import gradient_like
from .records import Gradients

__all__ = ["Gradients", "conv1d_backward", "conv_transpose1d", "conv_transpose1d_backward", "gradient_like"]


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] = 0,
    output_padding: int | tuple[int] = 0,
    groups: int = 1,
    dilation: int | tuple[int] = 1,
    *,
    backend: str | None = None,
) -> Any:
    """1-D transposed convolution with the semantics of ``torch.nn.functional.conv_transpose1d``.

    The adjoint of :func:`conv1d` with the same weight, stride, padding,
    dilation and groups: it maps ``conv1d``'s output shape back to its input
    shape (``output_padding`` adds samples on the right, to pick among the
    input lengths that give one output length).

    Parameters
    ----------
    input : array
        ``(N, C_in, L)``, or ``(C_in, L)`` unbatched.
    weight : array
        ``(C_in, C_out / groups, K)``.
    bias : array, optional
        ``(C_out,)``.
    stride, dilation : int or 1-tuple of int
        Positive.
    padding : int or 1-tuple of int
        Non-negative: that many samples are dropped at each end of the full
        transposed convolution (which has ``(L - 1) * stride + dilation * (K - 1) + 1``).
    output_padding : int or 1-tuple of int
        Non-negative and smaller than ``stride`` or ``dilation``.
    groups : int
        Divides ``C_in``.
    backend : str, optional
        Force a backend for the convolutions it is computed by (see :func:`conv1d`).

    Returns
    -------
    array
        ``(N, C_out, L_out)`` of the input's kind, ``L_out = (L - 1) * stride -
        2 * padding + dilation * (K - 1) + output_padding + 1``.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument, before any computation, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> arrayconv.conv_transpose1d(x, np.array([[[1.0, 10.0]]]), stride=2)
    array([[[ 1., 10.,  2., 20.,  3., 30.]]])
    """
    return kinds.path(input, weight, bias).conv_transpose1d(
        input, weight, bias, stride, padding, output_padding, groups, dilation, backend
    )


def conv1d_backward(
    grad_output: Any,
    input: Any,
    weight: Any,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    needs: tuple[str, ...] = ("input", "weight", "bias"),
    backend: str | None = None,
) -> Gradients:
    """Gradients of a loss through ``y = conv1d(input, weight, bias, ...)``, given ``grad_output = dL/dy``.

    Parameters
    ----------
    grad_output : array
        The gradient with respect to the output, of the output's shape.
    input, weight : array
        The forward call's input and weight (the bias is not needed).
    stride, padding, dilation, groups, padding_mode
        The forward call's settings, as for :func:`conv1d`.
    needs : sequence of {'input', 'weight', 'bias'}
        Which gradients to compute; the others come back as None.
    backend : str, optional
        Force a backend for the convolutions they are computed by.

    Returns
    -------
    Gradients
        ``(input, weight, bias)``: arrays of the input's kind shaped like
        the input, the weight and ``(C_out,)``, each in the dtype of the array
        it is the gradient of (the bias's: that of ``grad_output``).  For a
        real array in a complex call, the real part, as torch gives.

    Raises
    ------
    TypeError, ValueError
        For any invalid argument, before any computation, naming the argument.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    >>> w = np.array([[[1.0, -1.0]]])
    >>> g = arrayconv.conv1d_backward(np.ones((1, 1, 3)), x, w)
    >>> g.input, g.weight, g.bias
    (array([[[ 1.,  0.,  0., -1.]]]), array([[[6., 9.]]]), array([3.]))
    """
    return kinds.path(input, grad_output, weight).conv1d_backward(
        grad_output, input, weight, stride, padding, dilation, groups, padding_mode, needs, backend
    )


def conv_transpose1d_backward(
    grad_output: Any,
    input: Any,
    weight: Any,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] = 0,
    output_padding: int | tuple[int] = 0,
    groups: int = 1,
    dilation: int | tuple[int] = 1,
    *,
    needs: tuple[str, ...] = ("input", "weight", "bias"),
    backend: str | None = None,
) -> Gradients:
    """Gradients of a loss through ``y = conv_transpose1d(input, weight, bias, ...)``.

    The input gradient is ``conv1d(grad_output, conj(weight), ...)``, the
    weight gradient that of a ``conv1d`` of ``grad_output``; arguments and
    result as for :func:`conv1d_backward`.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> g = arrayconv.conv_transpose1d_backward(np.ones((1, 1, 6)), np.ones((1, 1, 3)),
    ...                                         np.array([[[1.0, 10.0]]]), stride=2)
    >>> g.input, g.weight
    (array([[[11., 11., 11.]]]), array([[[3., 3.]]]))
    """
    return kinds.path(input, grad_output, weight).conv_transpose1d_backward(
        grad_output, input, weight, stride, padding, output_padding, groups, dilation, needs, backend
    )
