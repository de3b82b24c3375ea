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

from arrayconv import config, threads

from . import _fft_engines, _fft_kernels

# samples in a push's transforms from which they are shared among threads
_PARALLEL_FFT_SAMPLES = 1 << 18

__all__ = ["PartitionedPlan", "PartitionedState", "make_plan", "fresh_state", "copy_state", "feed", "block_for"]


class PartitionedPlan(NamedTuple):
    """The kernel's partition spectra, ``(groups, C_out/g, P, C_in/g, 2F)`` interleaved reals
    (F complex frequencies), and the sizes."""

    spectra: np.ndarray
    block: int
    parts: int
    groups: int
    in_per_group: int
    out_channels: int
    is_complex: bool
    engine: Any
    # MKL descriptors committed for this plan, by (batch, threads); None where the engine has none
    transforms: dict


class PartitionedState(NamedTuple):
    """The stream's history, updated in place by :func:`feed` (:func:`copy_state` snapshots it).

    ``delay`` holds the spectra of the last ``P`` complete blocks twice over,
    ``(N, groups, 2P, C_in/g, 2F)``, so that ``delay[:, :, newest:newest + P]`` lists them
    newest first without a copy; ``segment`` the previous block and the current one,
    ``(N, C_in, 2B)``, with ``filled`` samples of the current one in; ``past`` the delay
    line's part of the current block's sum, ``(N, groups, C_out/g, 2F)``.  Spectra are
    kept as interleaved reals (real and imaginary parts in turn), the layout the
    multiply-add kernel reads.
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
    return PartitionedPlan(spectra=_reals(np.ascontiguousarray(spectra)), block=block, parts=parts, groups=groups,
                           in_per_group=in_per_group, out_channels=out_channels, is_complex=is_complex,
                           engine=engine, transforms={})


def fresh_state(plan: PartitionedPlan, batch: int) -> PartitionedState:
    """A state with nothing fed (the signal before its first sample is zeros)."""
    groups, per_group, parts, in_per_group, width = plan.spectra.shape
    dtype = plan.spectra.dtype  # real: the spectra are interleaved reals
    return PartitionedState(
        delay=np.zeros((batch, groups, 2 * parts, in_per_group, width), dtype=dtype),
        segment=np.zeros((batch, groups * in_per_group, 2 * plan.block),
                         dtype=_complex_of(dtype) if plan.is_complex else dtype),
        counters=np.zeros(3, dtype=np.int64),
        past=np.zeros((batch, groups, per_group, width), dtype=dtype),
    )


def copy_state(state: PartitionedState) -> PartitionedState:
    """A snapshot of ``state`` that later feeds leave alone."""
    return PartitionedState(*(array.copy() for array in state))


def _reals(array: np.ndarray) -> np.ndarray:
    """A complex array viewed as interleaved reals (its last axis twice as long)."""
    return array.view(array.real.dtype)


_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}


def _complex_of(real: np.dtype) -> np.dtype:
    """The complex dtype of a real one's precision."""
    return _COMPLEX_OF[np.dtype(real)]


def feed(plan: PartitionedPlan, state: PartitionedState, samples: np.ndarray) -> np.ndarray:
    """Feed ``(N, C_in, m)`` samples (updating ``state`` in place); ``z`` for each of their
    positions, ``(N, C_out, m)``.

    The bookkeeping runs compiled (``_fft_kernels.partitioned_feed``), and so do the two
    transforms of each block on MKL (descriptors committed once per plan); on pocketfft
    they are its only Python calls.
    """
    block, engine, segment = plan.block, plan.engine, state.segment
    batch, frequencies = samples.shape[0], state.past.shape[-1] // 2
    num_threads = threads.get()
    # MKL would share even one short transform among its threads, waking them on every push
    # (tens of microseconds on a machine whose idle threads sleep): the transforms get more
    # than one thread only when there are many of them
    fft_threads = num_threads if segment.size >= _PARALLEL_FFT_SAMPLES else 1
    out = np.empty((batch, plan.out_channels, samples.shape[-1]), dtype=segment.dtype)
    total = np.empty_like(state.past)
    samples = _as_reals(np.ascontiguousarray(samples, dtype=segment.dtype))
    transforms = _committed(plan, batch, fft_threads)
    if transforms is not None:
        _fft_kernels.partitioned_feed(plan.spectra, state.delay, _as_reals(segment), state.past, state.counters,
                                      samples, _as_reals(out), total, transforms, block,
                                      2 if plan.is_complex else 1, num_threads)
        return out
    spectra_of_total = total.view(_complex_of(total.dtype)).reshape(batch, plan.out_channels, frequencies)

    def forward() -> np.ndarray:
        spectrum = engine.spectrum(segment, n=2 * block, axis=-1, is_complex=plan.is_complex)
        return _reals(np.ascontiguousarray(spectrum))

    def inverse() -> np.ndarray:
        frames = np.empty((batch, plan.out_channels, 2 * block), dtype=segment.dtype)
        frames = engine.inverse(spectra_of_total, frames, n=2 * block, is_complex=plan.is_complex,
                                threads=fft_threads)
        return _as_reals(np.ascontiguousarray(frames))

    with engine.threads(fft_threads):
        _fft_kernels.partitioned_feed(plan.spectra, state.delay, _as_reals(segment), state.past, state.counters,
                                      samples, _as_reals(out), total, (forward, inverse), block,
                                      2 if plan.is_complex else 1, num_threads)
    return out


def _committed(plan: PartitionedPlan, batch: int, fft_threads: int) -> Any:
    """The plan's MKL transforms for ``batch`` rows of signals on ``fft_threads`` threads
    (committed on first use), or None where its engine is not MKL or MKL refuses them
    (the engine's Python transforms then run)."""
    key = (batch, fft_threads)
    if key not in plan.transforms:
        addresses, transforms = plan.engine.dfti_addresses(), None
        if addresses is not None and batch > 0:
            try:
                transforms = _fft_kernels.DftiTransforms(
                    addresses, plan.spectra.dtype, plan.is_complex, 2 * plan.block, batch,
                    plan.groups * plan.in_per_group, plan.out_channels, fft_threads)
            except (RuntimeError, MemoryError):  # MKL refused, or no memory for the scratch
                transforms = None
        plan.transforms[key] = transforms
    return plan.transforms[key]


def _as_reals(array: np.ndarray) -> np.ndarray:
    """A real or complex array as reals (a complex one interleaved)."""
    return _reals(array) if array.dtype.kind == "c" else array
