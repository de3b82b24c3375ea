"""Uniformly partitioned overlap-save: a long kernel applied to a stream, block by block.

A stream's output ``j`` reads padded samples ``j ... j + E - 1`` (``E`` the
kernel's extent).  Written as a causal filter, ``z[q] = sum_m h[m] x[q - m]``
with ``h`` the reversed, dilation-spread kernel and ``z[q]`` the output whose
last sample is ``x[q]``.  The kernel is cut into ``P`` partitions of ``B``
taps; each is transformed once (a ``2B``-point FFT).  Each block of ``B``
input samples is transformed once, with the block before it, and kept in a
frequency-domain delay line of the last ``P`` blocks; a block's outputs are
one inverse transform of ``sum_p H_p X_{b-p}`` (Gardner 1995; Wefers 2015).
Latency one block, cost ``O(log B + P)`` per sample instead of ``O(K)`` or a
transform of the whole carried history.

A push need not fill a block: a partial block is transformed with zeros for
the samples still to come (which no output up to the last known sample
reads), and transformed again when it fills; the delay line's older part of
the sum is computed once per block.

Examples
--------
>>> import numpy as np
>>> w = np.random.default_rng(0).standard_normal((1, 1, 300))
>>> plan = make_plan(w, dilation=1, groups=1, block=64)
>>> x = np.random.default_rng(1).standard_normal((1, 1, 1000))
>>> state = fresh_state(plan, batch=1)
>>> z1 = feed(plan, state, x[..., :517])
>>> z2 = feed(plan, state, x[..., 517:])
>>> full = np.concatenate([z1, z2], axis=-1)[..., 299:]  # outputs once the whole extent is in
>>> bool(np.allclose(full, np.correlate(x[0, 0], w[0, 0], mode="valid")))
True
"""

from __future__ import annotations

from typing import NamedTuple

from typing import Any

import numpy as np
import scipy.fft

from arrayconv import config

from . import _fft_engines

__all__ = ["PartitionedPlan", "PartitionedState", "make_plan", "fresh_state", "copy_state", "feed", "block_for"]


class PartitionedPlan(NamedTuple):
    """The kernel's partition spectra ``(groups, C_out/g, P, C_in/g, F)`` and the sizes."""

    spectra: np.ndarray
    block: int
    parts: int
    groups: int
    in_per_group: int
    out_channels: int
    is_complex: bool
    engine: Any


class PartitionedState(NamedTuple):
    """The stream's history, updated in place by :func:`feed` (:func:`copy_state` snapshots it).

    ``delay`` holds the spectra of the last ``P`` complete blocks twice over,
    ``(N, groups, 2P, C_in/g, F)``, so that ``delay[:, :, newest:newest + P]`` lists them
    newest first without a copy; ``segment`` the previous block and the current one,
    ``(N, C_in, 2B)``, with ``filled`` samples of the current one in; ``past`` the delay
    line's part of the current block's sum, ``(N, groups, C_out/g, F)``.
    """

    delay: np.ndarray
    segment: np.ndarray
    counters: np.ndarray  # [filled, newest, past computed]
    past: np.ndarray


def block_for(chunk: int, extent: int) -> int:
    """The block size for chunks of ``chunk`` samples: a power of two at least the chunk
    (one block per push), 64 to 8192 and no more than the kernel needs.

    Examples
    --------
    >>> block_for(1024, 8193), block_for(480, 8193), block_for(1, 8193), block_for(4096, 300)
    (1024, 512, 64, 512)
    """
    size = 1 << max(int(chunk) - 1, 1).bit_length()
    return int(min(max(size, 64), 8192, 1 << max(extent - 1, 1).bit_length()))


def make_plan(weight: np.ndarray, *, dilation: int, groups: int, block: int) -> PartitionedPlan:
    """The partition spectra of a ``(C_out, C_in/groups, K)`` weight (NumPy, compute dtype)."""
    out_channels, in_per_group, kernel = weight.shape
    extent = dilation * (kernel - 1) + 1
    parts = -(-extent // block)
    is_complex = np.iscomplexobj(weight)
    # h[m] = dense weight[E - 1 - m]: the correlation as a causal filter
    taps = np.zeros((out_channels, in_per_group, parts * block), dtype=weight.dtype)
    taps[:, :, extent - 1 - np.arange(kernel) * dilation] = weight
    taps = taps.reshape(out_channels, in_per_group, parts, block)
    padded = np.concatenate([taps, np.zeros_like(taps)], axis=-1)
    spectra = (scipy.fft.fft if is_complex else scipy.fft.rfft)(padded, axis=-1)  # (C_out, C_in/g, P, F)
    spectra = spectra.reshape(groups, out_channels // groups, in_per_group, parts, -1).transpose(0, 1, 3, 2, 4)
    # the fft backend's engine (MKL where installed) unless the one forced cannot load
    engine = _fft_engines.resolve(config.lookup("fft_engine")[0])[0] or _fft_engines.get("scipy")
    return PartitionedPlan(spectra=np.ascontiguousarray(spectra), block=block, parts=parts, groups=groups,
                           in_per_group=in_per_group, out_channels=out_channels, is_complex=is_complex,
                           engine=engine)


def fresh_state(plan: PartitionedPlan, batch: int) -> PartitionedState:
    """A state with nothing fed (the signal before its first sample is zeros)."""
    groups, per_group, parts, in_per_group, frequencies = plan.spectra.shape
    dtype = plan.spectra.dtype
    return PartitionedState(
        delay=np.zeros((batch, groups, 2 * parts, in_per_group, frequencies), dtype=dtype),
        segment=np.zeros((batch, groups * in_per_group, 2 * plan.block),
                         dtype=dtype if plan.is_complex else dtype.type(0).real.dtype),
        counters=np.zeros(3, dtype=np.int64),
        past=np.zeros((batch, groups, per_group, frequencies), dtype=dtype),
    )


def copy_state(state: PartitionedState) -> PartitionedState:
    """A snapshot of ``state`` that later feeds leave alone."""
    return PartitionedState(*(array.copy() for array in state))


def _products(spectra: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """``sum_{p, c} spectra[g, o, p, c, f] * blocks[n, g, p, c, f]``: ``(N, g, C_out/g, F)``.

    Element-wise along the frequencies (the last, contiguous axis), one output
    channel at a time: the partitions and channels are few next to the frequencies.
    """
    per_group = spectra.shape[1]
    out = np.empty((blocks.shape[0], spectra.shape[0], per_group, spectra.shape[-1]), dtype=spectra.dtype)
    for o in range(per_group):
        out[:, :, o] = (spectra[None, :, o] * blocks).sum(axis=(2, 3))
    return out


def feed(plan: PartitionedPlan, state: PartitionedState, samples: np.ndarray) -> np.ndarray:
    """Feed ``(N, C_in, m)`` samples (updating ``state`` in place); ``z`` for each of their
    positions, ``(N, C_out, m)``."""
    block, parts, engine = plan.block, plan.parts, plan.engine
    delay, segment, counters, past = state
    batch = samples.shape[0]
    pieces, at = [], 0
    while at < samples.shape[-1]:
        filled, newest = int(counters[0]), int(counters[1])
        count = min(block - filled, samples.shape[-1] - at)
        segment[:, :, block + filled:block + filled + count] = samples[:, :, at:at + count]
        if not counters[2]:
            # the older blocks' share of this block's outputs, once per block: partition p
            # meets block b - p, which is newest + p - 1 in the delay line
            if parts > 1:
                past[...] = _products(plan.spectra[:, :, 1:], delay[:, :, newest:newest + parts - 1])
            counters[2] = 1
        spectrum = engine.spectrum(segment, n=2 * block, axis=-1, is_complex=plan.is_complex)  # (N, C_in, F)
        current = spectrum.reshape(batch, plan.groups, 1, plan.in_per_group, spectrum.shape[-1])
        total = past + _products(plan.spectra[:, :, :1], current)
        total = total.reshape(batch, plan.out_channels, total.shape[-1])
        frames = np.empty((batch, plan.out_channels, 2 * block), dtype=segment.dtype)
        frames = engine.inverse(total, frames, n=2 * block, is_complex=plan.is_complex, threads=1)
        z = frames[:, :, block + filled:block + filled + count]
        pieces.append(z)
        at += count
        if filled + count == block:
            newest = (newest - 1) % parts
            delay[:, :, newest] = current[:, :, 0]
            delay[:, :, newest + parts] = current[:, :, 0]
            segment[:, :, :block] = segment[:, :, block:]
            segment[:, :, block:] = 0
            counters[:] = (0, newest, 0)
        else:
            counters[0] = filled + count
    if not pieces:
        dtype = plan.spectra.dtype if plan.is_complex else plan.spectra.real.dtype
        return np.zeros((batch, plan.out_channels, 0), dtype=dtype)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=-1)
