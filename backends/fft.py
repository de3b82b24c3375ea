"""The ``fft`` backend: overlap-save convolution with MKL's FFTs (mkl-fft), or SciPy's pocketfft.

Every call is reduced to a stride-1, undilated correlation (see
``_fft_kernels.pyx``): stride phases become extra input channels, dilation
residues extra columns, so no output is computed only to be thrown away and
the transforms stay as short as the undilated kernel allows.  The signal is
cut into frames of a fast transform length n (a 2-3-5-smooth number) holding
B = n - K' + 1 outputs each, chosen by the cost model; frames go through the
transform in chunks of bounded memory, the input channels are summed per
frequency (a batched GEMM, or vectorised loops for few channels per group),
and the inverse transform gives the outputs.  Groups are contracted per group:
the weight is never padded to dense.

The transforms run on MKL where mkl-fft is installed and on SciPy's
pocketfft elsewhere (``_fft_engines``; the ``fft_engine`` setting forces one).
On MKL, stride-1 layers whose groups have one input and one output channel
each (single-channel filters, depthwise layers) take the whole-frame path
instead: no chunks, no sum over channels, each frame cut, transformed,
multiplied, transformed back and put in place by the thread that takes it, in
one parallel region (``overlap_save_products``).  The staged path wakes the
threads five times a chunk, and on a virtual machine each wake-up can cost
hundreds of microseconds; its threads also split each step evenly, so one
slowed by a busy core held up every step.

Non-finite input would spread over the whole output in the frequency domain,
and values near the dtype's limit could overflow a spectrum: such calls run on
the direct backend instead, which matches torch.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from arrayconv import config, routing, threads
from arrayconv._openmp import omp_max_threads
from arrayconv.dtypes import PRECISION_WIDTH
from arrayconv.padding import MODE_CODE
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _blas_threads, _fft_engines, _scratch, partitioned
from .direct import DirectBackend
from ._fft_kernels import (
    contract_gemm,
    contract_tiles,
    gather_frames,
    overlap_save_products,
    products_work_size,
    scatter_frames,
    tile_buffer_size,
)

_COMPLEX = {"float32": np.complex64, "float64": np.complex128, "complex64": np.complex64, "complex128": np.complex128}
_NO_BIAS = {name: np.zeros(0, dtype=name) for name in _COMPLEX}
_REAL = {name: np.finfo(name).dtype for name in _COMPLEX}
# Where the transforms are unsafe (non-finite or huge values) the definition runs instead.
_DIRECT = DirectBackend()

# Frames, spectra and output frames of one chunk of columns stay within this
# many bytes (so memory is bounded whatever the signal's length).
_CHUNK_BYTES = 12 << 20
# Longest transform considered.
_MAX_LENGTH = 1 << 22
# The contraction runs as BLAS GEMMs when each group's weight matrix has at
# least this many entries per frequency, else by the register-tiled kernel.
# Measured (docs/benchmarks.md): the tiles win 1.3-3x up to 256 x 256 per
# group, where a GEMM call per frequency costs more than its arithmetic, and
# tie at 512 x 512, where the tiles' buffers outgrow the caches.
_GEMM_MIN_ENTRIES = 512 * 512
# Bytes of one GEMM contraction work item's buffers (frequency-major copies).
_CONTRACT_BYTES = 256 << 10
# Columns per work item of the tiled contraction.
_TILE_COLUMNS = 16
# Below this predicted single-thread work (the fixed cost aside), one thread:
# waking others costs more.  A staged call runs five parallel steps (gather,
# forward transforms, contraction, inverse, scatter), each waking threads that
# sleep after a brief spin; on a 2-core Zen 3 one thread was faster up to about
# 1 ms of work (C=1, K=1024: 215 against 420 us; C=4, K=1024: 430 against
# 600-900 us) and two faster from about 3 ms (C=16, K=128: 1.25 against
# 1.7 ms).  The whole-frame path wakes them once a call, and its own terms
# predict about 2.5x less than the staged path's did; the same bound is kept for
# it (two threads won from about 0.6 ms of one-thread time at C=1 and 4, K=1024:
# see docs/benchmarks.md).
_PARALLEL_MIN_SECONDS = 1e-3


@functools.lru_cache(maxsize=1)
def _fast_lengths() -> np.ndarray:
    """Transform lengths MKL runs fast, ascending, up to _MAX_LENGTH.

    2-3-5-smooth numbers with a factor of 8 (or powers of two below 8):
    measured here, odd lengths cost about 4x per point what powers of two
    do, lengths with a single factor of 2 about 2x, and those with a factor
    of 8 within 1.4x.
    """
    lengths = []
    power2 = 1
    while power2 <= _MAX_LENGTH:
        power3 = power2
        while power3 <= _MAX_LENGTH:
            value = power3
            while value <= _MAX_LENGTH:
                if value % 8 == 0 or value == power2:
                    lengths.append(value)
                value *= 5
            power3 *= 3
        power2 *= 2
    return np.array(sorted(lengths), dtype=np.int64)


class FFTPlan(NamedTuple):
    """How a call runs on the fft backend (from the spec, the thread count and the constants)."""

    length: int  # transform length n
    block: int  # outputs per frame, B = n - taps + 1
    taps: int  # K' = ceil(K / stride), taps per stride phase
    residues: int  # dilation residues that have outputs
    blocks: int  # frames per (batch element, residue)
    columns: int  # batch * residues * blocks
    chunk_columns: int  # columns per chunk
    use_gemm: bool  # contraction path
    threads: int
    terms: tuple[tuple[str, float], ...]  # cost terms (routing.TERMS), per thread
    seconds: float  # predicted time
    engine: str  # the transform engine (_fft_engines)
    frames: bool = False  # the whole-frame path (else staged; also where MKL refuses its descriptors)


def _terms(spec: ConvSpec, n: int, blocks: int, residues: int, use_gemm: bool,
           transform_term: str, frames: bool = False) -> dict[str, float]:
    """Cost terms of one plan on one thread, in float32/complex64 units (``frames``: the
    whole-frame path's terms, which the tune sweep's single-channel points fit)."""
    is_complex = np.dtype(spec.compute_dtype).kind == "c"
    width = PRECISION_WIDTH[spec.compute_dtype]
    phases_in = spec.in_channels * spec.stride
    columns = spec.batch * residues * blocks
    freqs = n if is_complex else n // 2 + 1
    per_transform = n * math.log2(max(n, 2)) / 2 * (2 if is_complex else 1) * width
    transforms = columns * (phases_in + spec.output_channels) + spec.output_channels * spec.in_channels_per_group * spec.stride
    if frames:  # (its framing, product and placing are priced with the transforms: a fit cannot tell them apart)
        return {"fft_frames_call": 1.0, "fft_frames_transform": transforms * per_transform}
    macs = columns * freqs * spec.output_channels * spec.in_channels_per_group * spec.stride * width
    return {
        "fft_call": 1.0,
        transform_term: transforms * per_transform,
        "fft_copy": columns * n * (phases_in + spec.output_channels) * (2 if is_complex else 1) * width,
        "fft_contract_gemm_mac" if use_gemm else "fft_contract_tiles_mac": float(macs),
    }


def _per_thread(terms: dict[str, float], num_threads: int) -> dict[str, float]:
    """The terms with the work shared by ``num_threads`` (the fixed cost is not)."""
    return {name: amount if name.endswith("_call") else amount / num_threads for name, amount in terms.items()}


@functools.lru_cache(maxsize=512)
def _plan(spec: ConvSpec, configured_threads: int, routing_key: tuple, engine: str) -> FFTPlan:
    """The cheapest transform length for ``spec`` under the cost model and ``engine``'s costs (cached)."""
    constants = routing.constants(routing_key)
    transform_term = _fft_engines.get(engine).transform_term
    stride, dilation = spec.stride, spec.dilation
    taps = -(-spec.kernel_size // stride)
    residues = min(dilation, spec.length_out)
    outputs = -(-spec.length_out // dilation)  # of residue 0, the longest
    use_gemm = spec.out_channels_per_group * spec.in_channels_per_group * stride >= _GEMM_MIN_ENTRIES
    # priced as the whole-frame path where it runs (MKL with its DFTI entry points; should MKL
    # refuse a descriptor, the staged path takes the call at this price)
    frames = engine == "mkl" and _one_channel_groups(spec) and _fft_engines.get(engine).dfti_addresses() is not None
    lengths = _fast_lengths()
    lowest = int(np.searchsorted(lengths, max(taps, 2)))
    highest = int(np.searchsorted(lengths, outputs + taps - 1))  # one frame holds everything
    candidates = lengths[lowest : min(max(highest, lowest) + 1, len(lengths))]
    best = None
    for n in candidates.tolist():
        block = n - taps + 1
        blocks = -(-outputs // block)
        terms = _terms(spec, n, blocks, residues, use_gemm, transform_term, frames)
        seconds = routing.predict(terms, constants)
        if best is None or seconds < best[0]:
            best = (seconds, n, block, blocks, terms)
    if best is None:  # supports() keeps such calls away
        raise ValueError(f"a kernel of {taps} taps per phase exceeds the longest transform ({_MAX_LENGTH})")
    seconds, n, block, blocks, terms = best
    call = "fft_frames_call" if frames else "fft_call"
    work_seconds = seconds - terms[call] * constants[call]
    num_threads = 1 if work_seconds < _PARALLEL_MIN_SECONDS else configured_threads
    terms = _per_thread(terms, num_threads)
    seconds = routing.predict(terms, constants)
    is_complex = np.dtype(spec.compute_dtype).kind == "c"
    itemsize = np.dtype(spec.compute_dtype).itemsize
    complex_size = np.dtype(_COMPLEX[spec.compute_dtype]).itemsize
    freqs = n if is_complex else n // 2 + 1
    channels = spec.in_channels * stride + spec.output_channels
    per_column = channels * (n * itemsize + freqs * complex_size)
    columns = spec.batch * residues * blocks
    chunk_columns = max(1, min(columns, _CHUNK_BYTES // max(per_column, 1)))
    return FFTPlan(length=n, block=block, taps=taps, residues=residues, blocks=blocks, columns=columns,
                   chunk_columns=chunk_columns, use_gemm=use_gemm, threads=num_threads,
                   terms=tuple(terms.items()), seconds=seconds, engine=engine, frames=frames)


def _weight_spectrum(spec: ConvSpec, w: np.ndarray, plan: FFTPlan,
                     scratch: tuple[np.ndarray, np.ndarray] | None = None,
                     transforms: Any = None) -> np.ndarray:
    """The spectrum of the reversed polyphase weights, laid out for the contraction.

    Phase p of input channel c becomes channel c*stride + p, holding taps
    k = stride*q + p.  Correlation with w is convolution with w reversed, so
    the reversed taps are transformed (no conjugation pass) and each output
    frame's valid samples are its last B.  For the tiled contraction the
    result is (C_out, C', F), written into ``scratch`` = (a (C_out, C', n)
    frame, the spectrum) when given, by ``transforms``' one-row descriptors
    where given (the whole-frame path's :class:`DftiRows`); for the GEMM
    contraction it is (groups, F, O, C').
    """
    stride, taps = spec.stride, plan.taps
    cout, cin_g, ksize = w.shape
    if stride > 1:
        padded = np.zeros((cout, cin_g, taps * stride), dtype=w.dtype)
        padded[:, :, :ksize] = w
        w = padded.reshape(cout, cin_g, taps, stride).transpose(0, 1, 3, 2).reshape(cout, cin_g * stride, taps)
    reversed_taps = w[:, :, ::-1]
    engine = _fft_engines.get(plan.engine)
    is_complex = np.iscomplexobj(w)
    if not plan.use_gemm:
        if scratch is None:
            # mkl_fft may return other memory orders (where an axis has length 1)
            return np.ascontiguousarray(engine.spectrum(np.ascontiguousarray(reversed_taps), n=plan.length, axis=-1,
                                                        is_complex=is_complex))
        frame, spectrum = scratch
        frame[:, :, :taps] = reversed_taps
        frame[:, :, taps:] = 0
        if transforms is not None:  # the whole-frame path's own descriptors, one row at a time
            transforms.forward_rows(frame.reshape(-1, plan.length), spectrum.reshape(-1, spectrum.shape[-1]),
                                    plan.threads)
            return spectrum
        return engine.forward(frame, spectrum, is_complex=is_complex, threads=plan.threads)
    # One matrix per group and frequency.  Transforming along the first axis
    # of (K', C_out, C') writes the spectrum frequency-major, far cheaper
    # than transposing it afterwards.
    spectrum = engine.spectrum(np.ascontiguousarray(reversed_taps.transpose(2, 0, 1)), n=plan.length, axis=0,
                               is_complex=is_complex)
    groups = spec.groups
    return np.ascontiguousarray(spectrum.reshape(-1, groups, cout // groups, cin_g * stride).transpose(1, 0, 2, 3))


def _peak(a: np.ndarray) -> float:
    """The largest |real or imaginary part| (nan or inf if any element is not finite).

    Two reductions, no temporary as large as the array.
    """
    if a.size == 0:
        return 0.0
    parts = a.view(np.float32 if a.dtype == np.complex64 else np.float64) if a.dtype.kind == "c" else a
    return max(abs(float(parts.max())), abs(float(parts.min())))


def _fits(spec: ConvSpec, plan: FFTPlan, x: np.ndarray, w: np.ndarray) -> bool:
    """Whether the transforms are safe: all values finite, and no spectrum or sum can overflow.

    Non-finite values would spread over the whole output in the frequency
    domain, and a frame's spectrum can be n times its largest value: such
    calls run on the direct backend, whose result torch's definition fixes.
    """
    largest = float(np.finfo(spec.compute_dtype).max)
    input_spectrum = _peak(x) * plan.length * 2  # bounds |X_f| (x2: margin for rounding)
    weight_spectrum = _peak(w) * plan.taps * 2
    products = input_spectrum * weight_spectrum * spec.in_channels_per_group * spec.stride
    # every comparison is False for nan and inf
    return input_spectrum < largest and weight_spectrum < largest and products < largest


class FFTBackend(CostModel):
    """FFT overlap-save on the CPU (MKL, else pocketfft): every dtype, padding mode, stride, dilation and group layout.

    Chosen automatically for long kernels; results agree with the direct
    backend within rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> y = arrayconv.conv1d(x, np.ones((1, 1, 2)), backend="fft")
    >>> np.round(y, 12)
    array([[[1., 3., 5., 7.]]])
    """

    name = "fft"
    # the uniformly partitioned overlap-save that long-kernel streams run on
    streams = partitioned

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        if device != "cpu":
            return f"runs on the CPU only, the arrays are on {device!r}"
        engine, reason = self.engine()
        if engine is None:
            setting, source = config.lookup("fft_engine")
            return f"fft_engine={setting!r} ({source}), but {reason}"
        if -(-spec.kernel_size // spec.stride) > _MAX_LENGTH:
            return f"kernel longer than the longest transform ({_MAX_LENGTH})"
        # frames step through the input by stride * dilation: keep their index
        # arithmetic within 64 bits (a huge dilation with one tap, say)
        if spec.stride * spec.dilation * (spec.length_out + spec.kernel_size + _MAX_LENGTH) >= 2**62:
            return "stride * dilation too large for the frames' index arithmetic"
        return None

    def engine(self) -> tuple[_fft_engines.MKLEngine | _fft_engines.ScipyEngine | None, str]:
        """``(engine, why)``: the transform engine calls run on now (None if the one forced cannot load)."""
        return _fft_engines.resolve(config.lookup("fft_engine")[0])

    def describe_engine(self) -> str:
        """The engine in use and why, in words (for explain and ``python -m arrayconv info``)."""
        engine, reason = self.engine()
        return f"unavailable: {reason}" if engine is None else f"{engine.describe()}; {reason}"

    def plan(self, spec: ConvSpec) -> FFTPlan:
        """The plan a call of ``spec`` runs with now (settings included)."""
        engine, reason = self.engine()
        if engine is None:
            raise ValueError(f"the fft backend cannot run: {reason}")
        return _plan(spec, threads.get(), config.routing_key(), engine.name)

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        """The call's cost terms now (see :mod:`arrayconv.routing`), work divided among its threads."""
        if spec.is_empty:
            return {"fft_call": 1.0}
        return dict(self.plan(spec).terms)

    def workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes allocated besides the output: one chunk's frames and spectra (the staged path's;
        the whole-frame path needs less, and falls back to it where MKL refuses its descriptors),
        the weights' spectrum, and the whole-frame path's descriptor tables."""
        if spec.is_empty:
            return 0
        plan = self.plan(spec)
        complex_size = np.dtype(_COMPLEX[spec.compute_dtype]).itemsize
        freqs = plan.length if complex_size == np.dtype(spec.compute_dtype).itemsize else plan.length // 2 + 1
        channels = spec.in_channels * spec.stride + spec.output_channels
        itemsize = np.dtype(spec.compute_dtype).itemsize
        chunk = plan.chunk_columns * channels * (plan.length * itemsize + freqs * complex_size)
        weights = spec.output_channels * spec.in_channels_per_group * spec.stride * (plan.length + freqs * 2) * complex_size
        cin_g = spec.in_channels_per_group * spec.stride
        cout_g = spec.out_channels_per_group
        if plan.use_gemm:  # frequency-major copies of a chunk of frequencies per thread (bounded)
            contraction = plan.threads * max(_CONTRACT_BYTES, (cin_g + cout_g) * plan.chunk_columns * complex_size)
        else:  # the tiled kernel's split planes per thread
            double = complex_size == 16
            contraction = plan.threads * tile_buffer_size(double, cin_g, cout_g, min(plan.chunk_columns, _TILE_COLUMNS)) * (8 if double else 4)
        # the whole-frame path's descriptors, a forward and a backward one per thread, each hold
        # tables of about a transform's size (MKL; 13.5 MiB for 2**20 complex128 points)
        tables = 2 * plan.threads * plan.length * complex_size if plan.frames else 0
        return chunk + weights + contraction + tables

    def hands_over(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray) -> tuple[str, str] | None:
        """``(backend, reason)`` when these values run on another backend (see :func:`_fits`), else None."""
        if spec.is_empty or _fits(spec, self.plan(spec), x, w):
            return None
        return _DIRECT.name, ("the input or weight holds NaN or Inf, or values so large that a spectrum "
                              "could overflow; the direct backend computes them as torch does")

    def run(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        dtype = spec.compute_dtype
        if spec.is_empty:
            return np.empty(spec.output_shape, dtype=dtype)
        plan = self.plan(spec)
        if not _fits(spec, plan, x, w):
            return _DIRECT.run(spec, x, w, b)
        num_threads = effective_threads(plan)
        out = _scratch.output(spec.output_shape, dtype)
        with _fft_engines.get(plan.engine).threads(num_threads):
            _run_plan(spec, plan, x, w, b, out, num_threads)
        return out


def _one_channel_groups(spec: ConvSpec) -> bool:
    """Whether the layer may take the whole-frame path: stride 1, one input and one output channel a group."""
    return spec.stride == 1 and spec.in_channels_per_group == 1 and spec.out_channels_per_group == 1


def _run_frames(spec: ConvSpec, plan: FFTPlan, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                out: np.ndarray, num_threads: int, transforms: Any) -> None:
    """Groups of one channel on MKL: each frame's whole pipeline (cut, transform, product,
    transform back, outputs in place) on the thread that takes it, in one parallel region
    (``overlap_save_products``), where the staged path wakes the threads five times a chunk:
    on a virtual machine each wake-up can cost hundreds of microseconds."""
    dtype, n, is_complex = spec.compute_dtype, plan.length, transforms.is_complex
    freqs = n if is_complex else n // 2 + 1
    work_size = products_work_size(n, is_complex, np.dtype(dtype).itemsize)
    work, weight_frame, weights = _scratch.scratch("fft", [((num_threads, work_size), dtype),
                                                          ((spec.output_channels, 1, n), dtype),
                                                          ((spec.output_channels, 1, freqs), _COMPLEX[dtype])])
    # (C, 1, F): the tiles' layout, whatever contraction the plan names (a 1 x 1 group is no GEMM)
    weights = _weight_spectrum(spec, w, plan._replace(use_gemm=False, threads=num_threads), (weight_frame, weights),
                               transforms)
    overlap_save_products(x, weights.view(dtype), out, _NO_BIAS[dtype] if b is None else b, b is not None,
                          transforms, plan.blocks, plan.block, plan.residues, spec.dilation, spec.pad_left,
                          spec.padded_length, MODE_CODE[spec.padding_mode], plan.taps - 1, work, num_threads)


def effective_threads(plan: FFTPlan) -> int:
    """The plan's thread count within OpenMP's and the engine's own limits now
    (``OMP_NUM_THREADS``, threadpoolctl's ``threadpool_limits``)."""
    return max(1, min(plan.threads, omp_max_threads(), _fft_engines.get(plan.engine).max_threads()))


def _run_plan(spec: ConvSpec, plan: FFTPlan, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
              out: np.ndarray, num_threads: int) -> None:
    dtype = spec.compute_dtype
    is_complex = np.dtype(dtype).kind == "c"
    if plan.frames:
        transforms = _fft_engines.get(plan.engine).rows(_REAL[dtype], is_complex, plan.length, num_threads)
        if transforms is not None:
            _run_frames(spec, plan, x, w, b, out, num_threads, transforms)
            return
    n, chunk = plan.length, plan.chunk_columns
    phases_in = spec.in_channels * spec.stride
    cout = spec.output_channels
    freqs = n if is_complex else n // 2 + 1
    complex_dtype = _COMPLEX[dtype]
    layout = [((chunk, phases_in, n), dtype), ((chunk, phases_in, freqs), complex_dtype),
              ((chunk, cout, freqs), complex_dtype), ((chunk, cout, n), dtype)]
    cin_g = spec.in_channels_per_group * spec.stride
    cout_g = spec.out_channels_per_group
    if plan.use_gemm:
        per_frequency = (cin_g + cout_g) * chunk * np.dtype(complex_dtype).itemsize
        freq_chunk = max(1, min(freqs, _CONTRACT_BYTES // per_frequency))
        # enough work items for the threads
        items_wanted = 4 * num_threads
        if spec.groups * -(-freqs // freq_chunk) < items_wanted:
            freq_chunk = max(1, -(-freqs * spec.groups // items_wanted))
        layout.append(((num_threads, freq_chunk * (cin_g + cout_g) * chunk), complex_dtype))
        pin = _blas_threads.shared_pin() if num_threads > 1 else None
        gemm_threads = num_threads
        if pin is None:
            gemm_threads = 1  # a BLAS we cannot hold to one thread threads each GEMM itself
        frames, spectra, products, out_frames, work = _scratch.scratch("fft", layout)
        weights = _weight_spectrum(spec, w, plan)
    else:
        real = np.float32 if complex_dtype == np.complex64 else np.float64
        double = real == np.float64
        column_block = min(chunk, _TILE_COLUMNS)
        layout.append(((num_threads, tile_buffer_size(double, cin_g, cout_g, column_block)), real))
        layout += [((cout, cin_g, n), dtype), ((cout, cin_g, freqs), complex_dtype)]
        frames, spectra, products, out_frames, work, weight_frame, weights = _scratch.scratch("fft", layout)
        weights = _weight_spectrum(spec, w, plan, (weight_frame, weights))
    bias = _NO_BIAS[dtype] if b is None else b
    mode = MODE_CODE[spec.padding_mode]
    engine = _fft_engines.get(plan.engine)
    for first in range(0, plan.columns, chunk):
        count = min(chunk, plan.columns - first)
        frame_view = frames[:count]
        gather_frames(x, frame_view, first, plan.blocks, plan.block, plan.residues, spec.stride,
                      spec.dilation, spec.pad_left, spec.padded_length, mode, num_threads)
        chunk_spectra = engine.forward(frame_view, spectra[:count], is_complex=is_complex, threads=num_threads)
        if plan.use_gemm:
            if pin is None:
                contract_gemm(chunk_spectra, weights, products[:count], freq_chunk, gemm_threads, work)
            else:
                with pin:
                    contract_gemm(chunk_spectra, weights, products[:count], freq_chunk, gemm_threads, work)
        else:
            contract_tiles(chunk_spectra.view(real), weights.view(real), products[:count].view(real),
                           spec.groups, column_block, num_threads, work)
        chunk_out = engine.inverse(products[:count], out_frames[:count], n=n, is_complex=is_complex, threads=num_threads)
        scatter_frames(chunk_out, out, bias, b is not None, first, plan.blocks, plan.block,
                       plan.residues, spec.dilation, plan.taps - 1, num_threads)
