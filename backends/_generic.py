"""conv1d written only with Array API standard functions, for any namespace.

Two algorithms, both on the caller's own arrays and device:

``taps``
    one batched matrix product per tap: output += W[:, :, k] @ (the input's
    strided view that tap reads), groups as a batch dimension; memory of one
    input-sized view at a time.
``fft``
    (namespaces with the ``fft`` extension) the padded signal and the
    reversed, dilated kernel transformed once, the channels contracted per
    frequency by a batched matrix product, one inverse transform, and the
    strided outputs sliced out.

Padding modes index the input with an index array built on the host (the
same mapping as torch's explicit padding).  The ``array_api`` backend runs
these on any namespace; the ``cupy`` backend runs them on CuPy, where matmul
is cuBLAS and fft is cuFFT.
"""

from __future__ import annotations

from typing import Any

from arrayconv import padding
from arrayconv.records import ConvSpec

__all__ = ["conv1d_taps", "conv1d_fft", "pad", "fft_is_safe", "correlate_time_major"]


def _device(xp: Any, array: Any) -> Any:
    import array_api_compat

    return array_api_compat.device(array)


def pad(xp: Any, x: Any, spec: ConvSpec) -> Any:
    """The padded input (N, C_in, L + pad_left + pad_right)."""
    if spec.pad_left == 0 and spec.pad_right == 0:
        return x
    device = _device(xp, x)
    if spec.padding_mode == "zeros":
        batch, channels = x.shape[0], x.shape[1]
        left = xp.zeros((batch, channels, spec.pad_left), dtype=x.dtype, device=device)
        right = xp.zeros((batch, channels, spec.pad_right), dtype=x.dtype, device=device)
        return xp.concat([left, x, right], axis=2)
    index = xp.asarray(padding.indices(-spec.pad_left, spec.length + spec.pad_right, spec.length, spec.padding_mode),
                       dtype=xp.int64, device=device)
    return xp.take(x, index, axis=2)


def _add_bias(xp: Any, y: Any, b: Any | None) -> Any:
    return y if b is None else y + xp.reshape(b, (1, b.shape[0], 1))


def conv1d_taps(xp: Any, spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
    """conv1d by one batched matmul per tap; x (N, C_in, L), w (C_out, C_in/g, K) in the compute dtype."""
    xp_padded = pad(xp, x, spec)
    batch, groups = spec.batch, spec.groups
    cin_g, cout_g = spec.in_channels_per_group, spec.out_channels_per_group
    length_out, stride, dilation = spec.length_out, spec.stride, spec.dilation
    grouped = xp.reshape(xp_padded, (batch, groups, cin_g, xp_padded.shape[2]))
    weights = xp.reshape(w, (groups, cout_g, cin_g, spec.kernel_size))
    y = xp.zeros((batch, groups, cout_g, length_out), dtype=x.dtype, device=_device(xp, x))
    span = stride * (length_out - 1) + 1
    for k in range(spec.kernel_size):
        start = k * dilation
        view = grouped[:, :, :, start : start + span : stride]  # (N, G, C/g, L_out)
        y = y + xp.matmul(weights[:, :, :, k], view)  # (G, O/g, C/g) @ (N, G, C/g, L_out)
    return _add_bias(xp, xp.reshape(y, (batch, spec.output_channels, length_out)), b)


def _fft_length(minimum: int) -> int:
    """The smallest 2-3-5-smooth length >= minimum (fast in every FFT library)."""
    best = 1 << max(0, (minimum - 1).bit_length())
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < minimum:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def _peak(xp: Any, a: Any) -> float:
    return float(xp.max(xp.abs(a))) if a.size else 0.0  # nan or inf if any element is


def fft_is_safe(xp: Any, spec: ConvSpec, x: Any, w: Any) -> bool:
    """Whether the fft algorithm gives the direct result: every value finite, no spectrum overflowing.

    Non-finite values would spread over every output of the row (and, summed
    over channels, of every output channel); such calls take the per-tap path,
    which keeps them where the direct definition puts them.
    """
    largest = float(xp.finfo(x.dtype).max)
    n = _fft_length(spec.padded_length)
    input_spectrum = _peak(xp, x) * n * 2
    weight_spectrum = _peak(xp, w) * spec.kernel_size * 2
    products = input_spectrum * weight_spectrum * spec.in_channels_per_group
    return input_spectrum < largest and weight_spectrum < largest and products < largest  # False for nan, inf


def conv1d_fft(xp: Any, spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
    """conv1d through the namespace's FFT: whole padded rows, the channel sum per frequency by matmul."""
    device = _device(xp, x)
    xp_padded = pad(xp, x, spec)
    batch, groups = spec.batch, spec.groups
    cin_g, cout_g = spec.in_channels_per_group, spec.out_channels_per_group
    extent = spec.kernel_extent
    padded_length = xp_padded.shape[2]
    n = _fft_length(padded_length)  # circular wrap only touches outputs before extent - 1
    is_complex = spec.compute_dtype.startswith("complex")
    # the dilated kernel, reversed: correlation as convolution
    dilated = xp.zeros((spec.output_channels, cin_g, extent), dtype=w.dtype, device=device)
    dilated[:, :, :: spec.dilation] = w
    kernel = xp.flip(dilated, axis=2)
    forward = xp.fft.fft if is_complex else xp.fft.rfft
    spectrum_x = forward(xp_padded, n=n, axis=2)  # (N, C_in, F)
    spectrum_w = forward(kernel, n=n, axis=2)  # (C_out, C_in/g, F)
    freqs = spectrum_x.shape[2]
    # per group and frequency: (N x C/g) @ (C/g x O/g)
    grouped_x = xp.permute_dims(xp.reshape(spectrum_x, (batch, groups, cin_g, freqs)), (1, 3, 0, 2))
    grouped_w = xp.permute_dims(xp.reshape(spectrum_w, (groups, cout_g, cin_g, freqs)), (0, 3, 2, 1))
    products = xp.matmul(grouped_x, grouped_w)  # (G, F, N, O/g)
    products = xp.reshape(xp.permute_dims(products, (2, 0, 3, 1)), (batch, spec.output_channels, freqs))
    full = xp.fft.ifft(products, n=n, axis=2) if is_complex else xp.fft.irfft(products, n=n, axis=2)
    first = extent - 1
    y = full[:, :, first : first + spec.stride * (spec.length_out - 1) + 1 : spec.stride]
    return _add_bias(xp, xp.astype(y, x.dtype), b)


def correlate_time_major(xp: Any, samples: Any, taps: Any, *, stride: int, dilation: int, groups: int,
                         count: int) -> Any:
    """The first ``count`` outputs of the correlation (no padding, no bias) of ``samples``
    laid out time-major, ``(N, m, C_in)``, with the weight given tap by tap, ``taps``
    ``(K, C_out, C_in / groups)`` (C-contiguous): ``(N, count, C_out)``.

    For streams that take a few samples per push: each tap is one product of a
    ``(N, count, C_in)`` slice, contiguous along the channels, with the tap's
    weights (a broadcast for depthwise layers, a matrix product per group
    otherwise), where the channel-major kernels would walk ``N * C`` rows of a
    few samples each.

    Examples
    --------
    >>> import numpy as np
    >>> samples = np.arange(12.0).reshape(1, 6, 2)  # 6 samples of 2 channels
    >>> correlate_time_major(np, samples, np.ones((3, 2, 1)), stride=2, dilation=1, groups=2, count=2)[0].tolist()
    [[6.0, 9.0], [18.0, 21.0]]
    """
    batch = samples.shape[0]
    kernel, out_channels, per_group = taps.shape
    out_per_group = out_channels // groups
    span = (count - 1) * stride + 1
    total = None
    for k in range(kernel):
        tap = samples[:, k * dilation:k * dilation + span:stride, :]  # (N, count, C_in)
        if per_group == 1 and out_per_group == 1:
            term = tap * taps[k, :, 0]  # depthwise: along the channels, the last (contiguous) axis
        elif per_group == 1:
            # a channel multiplier: each input channel scales its own outputs
            weights = xp.reshape(taps[k, :, 0], (groups, out_per_group))
            term = xp.reshape(xp.reshape(tap, (batch, count, groups, 1)) * weights, (batch, count, out_channels))
        else:
            grouped = xp.permute_dims(xp.reshape(tap, (batch * count, groups, per_group)), (1, 0, 2))
            weights = xp.permute_dims(xp.reshape(taps[k], (groups, out_per_group, per_group)), (0, 2, 1))
            term = xp.reshape(xp.permute_dims(xp.matmul(grouped, weights), (1, 0, 2)), (batch, count, out_channels))
        if total is None:
            total = term
        else:
            total += term  # in place: a decode step is bound by memory traffic
    return total
