"""The plain route of ``conv_transpose1d`` and of the gradients: each computed as
ordinary convolutions that :mod:`arrayconv.lowering` plans and the backends run.

Each convolution is chosen per call by the same router as ``conv1d``; the
direct backend also has a dedicated weight-gradient kernel (packed GEMMs, or
dot products for depthwise layers), used when the router prefers it.  Array
work here is only reshaping, slicing and the fold of a padding mode's
gradient back onto the signal, in the caller's namespace.

Complex dtypes follow PyTorch's convention: the gradient of a real loss with
respect to ``z`` is ``dL/d(conj z)`` times two, so that ``x_grad =
conv_transpose1d(y_grad, conj(w))`` and ``w_grad = sum y_grad * conj(x)``.

Examples
--------
>>> import numpy as np
>>> conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 2)), None, 1, 0, 0, 1, 1, None)
array([[[1., 2., 1.]]])
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from . import _interop, config, lowering, policy, shape
from . import padding as padding_modes
from .dtypes import is_complex
from .plain import run, run_spec, validated
from .records import ConvSpec, Gradients

__all__ = ["conv_transpose1d", "conv1d_backward", "conv_transpose1d_backward"]

# The namespace CPU arrays are worked on in (array-api-compat's NumPy).
_HOST = array_api_compat.array_namespace(np.empty(0))


def conv_transpose1d(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any,
                     groups: Any, dilation: Any, backend: str | None) -> Any:
    """:func:`arrayconv.conv_transpose1d` on arrays that need no other path."""
    spec = validated(shape.normalize_transpose, (input, weight, bias),
                     (stride, padding, output_padding, groups, dilation))
    work = _Arrays(input, spec.compute_dtype)
    u = work.batched(input, spec.batched)
    w, b = work.take(weight), work.take(bias)
    out = _transposed(work, u, w, b, spec.batch, spec.in_channels, spec.length, spec.out_channels,
                      spec.kernel_size, spec.groups, spec.stride, spec.dilation, spec.padding,
                      spec.length_out, backend)
    return work.give(out, spec.result_dtype, spec.batched)


def conv1d_backward(grad_output: Any, input: Any, weight: Any, stride: Any, padding: Any, dilation: Any,
                    groups: Any, padding_mode: Any, needs: Any, backend: str | None) -> Gradients:
    """:func:`arrayconv.conv1d_backward` on arrays that need no other path."""
    call = validated(shape.normalize_backward, (grad_output, input, weight),
                     (stride, padding, dilation, groups, padding_mode, needs))
    spec, wanted = call.spec, call.needs
    work = _Arrays(input, spec.compute_dtype)
    gy = work.batched(grad_output, spec.batched)
    x = work.batched(input, spec.batched) if wanted & {"weight"} else None
    w = work.take(weight) if "input" in wanted else None
    grad_input = grad_weight = grad_bias = None
    if "input" in wanted:
        grad_input = work.give(_input_grad(work, spec, gy, w, backend), call.input_dtype, spec.batched)
    if "weight" in wanted:
        grad_weight = work.give(_weight_grad(work, spec, x, gy, backend), call.weight_dtype, True)
    if "bias" in wanted:
        grad_bias = work.give(_bias_grad(work, gy, spec.out_channels), call.bias_dtype, True)
    return Gradients(input=grad_input, weight=grad_weight, bias=grad_bias)


def conv_transpose1d_backward(grad_output: Any, input: Any, weight: Any, stride: Any, padding: Any,
                              output_padding: Any, groups: Any, dilation: Any, needs: Any,
                              backend: str | None) -> Gradients:
    """:func:`arrayconv.conv_transpose1d_backward` on arrays that need no other path."""
    call = validated(shape.normalize_transpose_backward, (grad_output, input, weight),
                     (stride, padding, output_padding, groups, dilation, needs))
    spec, wanted = call.spec, call.needs
    work = _Arrays(input, spec.compute_dtype)
    gy = work.batched(grad_output, spec.batched)
    grad_input = grad_weight = grad_bias = None
    if "input" in wanted:
        # conv1d(grad_output, conj(w)); output_padding >= stride can make it longer than the input
        w = _conj(work.xp, work.take(weight))
        batched = spec._replace(batched=True)  # gy has its batch axis already
        grad = run_spec(batched, work.device, backend, gy, w, None)
        grad_input = work.give(grad[:, :, : call.input_length], call.input_dtype, spec.batched)
    if "weight" in wanted:
        u = work.batched(input, spec.batched)
        # the weight gradient of conv1d(gy, w) at output gradient u: sum u * conj(gy), the conjugate
        grad = _weight_grad(work, spec._replace(length_out=call.input_length), gy, u, backend)
        grad_weight = work.give(_conj(work.xp, grad), call.weight_dtype, True)
    if "bias" in wanted:
        grad_bias = work.give(_bias_grad(work, gy, spec.in_channels), call.bias_dtype, True)
    return Gradients(input=grad_input, weight=grad_weight, bias=grad_bias)


# --------------------------------------------------------------------------
# The computations, on batched arrays of the compute dtype


def _transposed(
    work: _Arrays, u: Any, w: Any, b: Any, batch: int, in_channels: int, length: int,
    out_channels: int, kernel_size: int, groups: int, stride: int, dilation: int, offset: int,
    length_out: int, backend: str | None,
) -> Any:
    """Outputs ``offset ... offset + length_out - 1`` of the full transposed convolution of ``u``."""
    xp = work.xp
    shape.check_output_memory((batch, out_channels, length_out), work.dtype, _memory_limit())
    if batch == 0 or out_channels == 0 or length_out == 0:  # nothing to compute (nor to plan)
        return xp.zeros((batch, out_channels, length_out), dtype=work.namespace_dtype, device=work.array_device)
    if not bool(xp.all(xp.isfinite(w))):
        return _transposed_by_taps(work, u, w, b, batch, in_channels, length, out_channels, kernel_size,
                                   groups, stride, dilation, offset, length_out)
    plan = lowering.transpose_plan(
        batch, in_channels, length, out_channels, kernel_size, groups, stride, dilation, offset,
        length_out, b is not None, work.dtype,
    )
    whole = plan.phases[0] if len(plan.phases) == 1 else None
    if whole is not None and whole.spec is not None and whole.count == length_out:
        return _phase(work, whole, u, w, b, groups, backend)  # stride 1: one phase is everything
    out = xp.zeros((batch, out_channels, length_out), dtype=work.namespace_dtype, device=work.array_device)
    for phase in plan.phases:
        where = (slice(None), slice(None), slice(phase.out_start, None, phase.out_step))
        if phase.spec is None:
            if b is not None:
                out[where] = xp.broadcast_to(b[:, None], (batch, out_channels, phase.count))
            continue
        out[where] = _phase(work, phase, u, w, b, groups, backend)
    return out


def _transposed_by_taps(
    work: _Arrays, u: Any, w: Any, b: Any, batch: int, in_channels: int, length: int,
    out_channels: int, kernel_size: int, groups: int, stride: int, dilation: int, offset: int,
    length_out: int,
) -> Any:
    """The transposed convolution as torch's col2im computes it: each tap's products
    added where they land, and nothing where no tap lands.

    For weights with Inf or NaN, where the phase correlations' zero padding
    would multiply them into NaN (inf * 0) at outputs that no tap reaches.
    One batched matrix product per tap.
    """
    xp = work.xp
    out = xp.zeros((batch, out_channels, length_out), dtype=work.namespace_dtype, device=work.array_device)
    if b is not None:
        out = out + xp.reshape(b, (1, out_channels, 1))
    in_per_group, out_per_group = in_channels // groups, out_channels // groups
    grouped_u = xp.reshape(u, (batch, groups, in_per_group, length))
    grouped_w = xp.reshape(w, (groups, in_per_group, out_per_group, kernel_size))
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 inside the data is NaN, as in torch
        for tap in range(kernel_size):
            _add_tap(xp, out, grouped_u, grouped_w, tap, batch, out_channels, length, stride,
                     tap * dilation - offset, length_out)
    return out


def _add_tap(xp: Any, out: Any, grouped_u: Any, grouped_w: Any, tap: int, batch: int, out_channels: int,
             length: int, stride: int, shift: int, length_out: int) -> None:
    """Add one tap's products to ``out``: input ``i`` lands on output ``i * stride + shift``."""
    first = max(0, -(shift // stride))
    last = min(length, (length_out - 1 - shift) // stride + 1)
    if last <= first:
        return
    count = last - first
    products = xp.matmul(xp.permute_dims(grouped_u[:, :, :, first:last], (0, 1, 3, 2)), grouped_w[:, :, :, tap])
    products = xp.reshape(xp.permute_dims(products, (0, 1, 3, 2)), (batch, out_channels, count))
    start = first * stride + shift
    out[:, :, start : start + (count - 1) * stride + 1 : stride] += products


# Up to this many taps a phase's weight is laid out tap by tap, one 2-D transpose
# each: NumPy copies the whole transposed view (a last axis of a few values,
# reversed) value by value, 156 us for a (256, 80, 3) weight against 51 us.
_TAP_BY_TAP = 8


def _phase(work: _Arrays, phase: lowering.Phase, u: Any, w: Any, b: Any, groups: int, backend: str | None) -> Any:
    """One phase of a transposed convolution: a stride-1 correlation with some taps reversed."""
    xp = work.xp
    spec = phase.spec
    taps = w[:, :, phase.first_tap :: phase.tap_step][:, :, : spec.kernel_size]
    # (C_in, C_out/g, M) -> (C_out, C_in/g, M), taps reversed: input and output channels swapped within each group
    in_channels, out_per_group, count = taps.shape
    grouped = (groups, in_channels // groups, out_per_group, count)
    swapped = (groups * out_per_group, in_channels // groups, count)
    if type(taps) is np.ndarray and count <= _TAP_BY_TAP:
        regrouped = np.empty(grouped[:1] + grouped[2:3] + grouped[1:2] + (count,), dtype=taps.dtype)
        source = w.reshape(grouped[:3] + (w.shape[2],))
        for k in range(count):  # tap k of the phase reads tap first + (count - 1 - k) * step of w
            regrouped[..., k] = source[..., phase.first_tap + (count - 1 - k) * phase.tap_step].transpose(0, 2, 1)
        regrouped = regrouped.reshape(swapped)
    elif type(taps) is np.ndarray:  # NumPy's methods: a few microseconds less than the namespace's functions
        regrouped = taps[:, :, ::-1].reshape(grouped).transpose(0, 2, 1, 3).reshape(swapped)
    else:
        regrouped = xp.reshape(xp.permute_dims(xp.reshape(xp.flip(taps, axis=2), grouped), (0, 2, 1, 3)), swapped)
    source = u[:, :, phase.input_start : phase.input_start + spec.length]
    return run_spec(spec, work.device, backend, source, regrouped, b)


def _bias_grad(work: _Arrays, gy: Any, channels: int) -> Any:
    """dL/db: the output gradient summed over batch and length (zeros where torch gives
    no output channels, for an input without channels)."""
    if gy.shape[1] != channels:
        return work.xp.zeros((channels,), dtype=work.namespace_dtype, device=work.array_device)
    return work.xp.sum(gy, axis=(0, 2))


def _input_grad(work: _Arrays, spec: ConvSpec, gy: Any, w: Any, backend: str | None) -> Any:
    """dL/dx: the transposed convolution of ``gy`` with ``conj(w)``, padding folded back."""
    xp = work.xp
    if spec.is_empty or spec.length == 0:
        return xp.zeros((spec.batch, spec.in_channels, spec.length), dtype=work.namespace_dtype,
                        device=work.array_device)
    w = _conj(xp, w)
    arguments = (spec.batch, spec.out_channels, spec.length_out, spec.in_channels, spec.kernel_size,
                 spec.groups, spec.stride, spec.dilation)
    if spec.padding_mode == "zeros":
        return _transposed(work, gy, w, None, *arguments, spec.pad_left, spec.length, backend)
    padded = _transposed(work, gy, w, None, *arguments, 0, spec.padded_length, backend)
    return _fold(xp, spec, padded)


def _fold(xp: Any, spec: ConvSpec, padded: Any) -> Any:
    """The gradient of a padded signal: each padding sample's share added to the
    signal sample it reads (:func:`arrayconv.padding.fold_shares`)."""
    left, right, length = spec.pad_left, spec.pad_right, spec.length
    if left <= 0 and right <= 0:  # negative padding crops: the cropped samples get nothing
        grad = xp.zeros(padded.shape[:2] + (length,), dtype=padded.dtype, device=array_api_compat.device(padded))
        grad[:, :, -left : length + right] = padded
        return grad
    grad = padded[:, :, left : left + length]
    for target, share in padding_modes.fold_shares(xp, padded, -left, length + right, length, spec.padding_mode):
        grad[:, :, target : target + share.shape[2]] += share
    return grad


def _weight_grad(work: _Arrays, spec: ConvSpec, x: Any, gy: Any, backend: str | None) -> Any:
    """dL/dw = sum gy * conj(x), on the direct backend's own kernel or as a correlation."""
    xp = work.xp
    if spec.is_empty or spec.in_channels == 0:
        return xp.zeros((spec.out_channels, spec.in_channels_per_group, spec.kernel_size),
                        dtype=work.namespace_dtype, device=work.array_device)
    lowered = lowering.weight_grad_spec(spec)
    chosen = policy.choose(lowered, work.device, backend)
    gy = _conj(xp, gy)  # the kernels do not conjugate: conj(sum conj(gy) * x) = sum gy * conj(x)
    if hasattr(chosen, "run_weight_grad") and not getattr(chosen, "native_arrays", False):
        shape.check_memory(lowered, chosen.weight_grad_workspace_bytes(spec), _memory_limit(), chosen.name)
        grad = chosen.run_weight_grad(
            spec, _interop.to_numpy(x, "input", spec.compute_dtype),
            _interop.to_numpy(gy, "grad_output", spec.compute_dtype),
        )
        return _conj(xp, work.back(grad))
    groups, batch = spec.groups, spec.batch
    # (N, C_in, L) -> (C_in/g, g * N, L) and (N, C_out, L_out) -> (C_out, N, L_out)
    swapped_x = xp.reshape(
        xp.permute_dims(xp.reshape(x, (batch, groups, spec.in_channels_per_group, spec.length)), (2, 1, 0, 3)),
        (spec.in_channels_per_group, groups * batch, spec.length),
    )
    swapped_gy = xp.permute_dims(gy, (1, 0, 2))
    correlation = run(lowered, chosen, swapped_x, swapped_gy, None)  # (C_in/g, C_out, K')
    return _conj(xp, xp.permute_dims(correlation[:, :, : spec.kernel_size], (1, 0, 2)))


# --------------------------------------------------------------------------
# Arrays of the caller's kind


class _Arrays:
    """The namespace, device and compute dtype a call works in.

    CPU arrays of any library are worked on as NumPy arrays (DLPack, no copy
    where possible) and the results go back to the caller's library; arrays on
    other devices are worked on in their own namespace.
    """

    def __init__(self, like: Any, dtype: str) -> None:
        self.like = like
        self.dtype = dtype
        self.device = _interop.device_name(like)
        self.on_host = self.device == "cpu"
        self.xp = _HOST if self.on_host else array_api_compat.array_namespace(like)
        self.namespace_dtype = getattr(self.xp, dtype)
        self.array_device = "cpu" if self.on_host else array_api_compat.device(like)

    def take(self, array: Any) -> Any:
        """``array`` in the working namespace and compute dtype (None stays None)."""
        if array is None:
            return None
        if self.on_host:
            return _interop.to_numpy(array, "array", self.dtype)
        return array if array.dtype == self.namespace_dtype else self.xp.astype(array, self.namespace_dtype)

    def batched(self, array: Any, batched: bool) -> Any:
        taken = self.take(array)
        return taken if batched else taken[None, ...]

    def back(self, array: np.ndarray) -> Any:
        """A NumPy result of a backend in the working namespace."""
        return array if self.on_host else self.xp.asarray(array, device=self.array_device)

    def give(self, array: Any, dtype: str, batched: bool) -> Any:
        """A result as the caller gets it: its dtype (a real part for a real array), its kind."""
        xp = self.xp
        if not is_complex(dtype) and is_complex(self.dtype):
            array = xp.real(array)
        if array.dtype != getattr(xp, dtype):
            array = xp.astype(array, getattr(xp, dtype))
        if not batched:
            array = array[0, ...]
        return _interop.from_numpy(np.ascontiguousarray(array), self.like) if self.on_host else array


def _conj(xp: Any, array: Any) -> Any:
    """The complex conjugate (a real array as it is)."""
    if type(array) is np.ndarray:  # without isdtype's dtype parsing
        return np.conj(array) if array.dtype.kind == "c" else array
    return xp.conj(array) if xp.isdtype(array.dtype, "complex floating") else array


def _memory_limit() -> int | None:
    return config.snapshot().memory_limit
