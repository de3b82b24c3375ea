"""The transform engines of the fft backend: MKL (mkl-fft) first, SciPy's pocketfft where it is absent.

Both run the same overlap-save plans; they differ in speed (each has its own
transform constant in the cost model, ``fft_transform`` for MKL,
``fft_pocketfft_transform`` for pocketfft), in how threads are given (MKL
reads a per-thread limit, pocketfft a ``workers`` argument) and in whether a
transform can write into a given array (MKL can; pocketfft returns a new
one, copied into place).

The ``fft_engine`` setting (:mod:`arrayconv.config`; ``ARRAYCONV_FFT_ENGINE``)
picks one: ``"auto"`` (MKL where importable, else pocketfft), ``"mkl"`` or
``"scipy"``.

Examples
--------
>>> import numpy as np
>>> engine = get("scipy")
>>> engine.name, engine.available()
('scipy', True)
>>> spectrum = engine.spectrum(np.ones((1, 4)), n=4, axis=-1, is_complex=False)
>>> np.round(spectrum.real, 12)
array([[4., 0., 0.]])
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy
import scipy.fft

from . import _mkl_runtime  # imports mkl_fft only when load() is called
from ._fft_kernels import DftiBatch, DftiRows

# Committed descriptors a calling thread keeps (each entry holds its transform's
# tables, tens of kilobytes to tens of megabytes, and the whole-frame path's
# entries two per thread of the call); past this many entries, it starts again.
_KEPT_DESCRIPTORS = 16
# the spectra's dtypes a descriptor is committed for (others: mkl-fft's own calls)
_SPECTRAL = frozenset(np.dtype(name) for name in ("complex64", "complex128"))

__all__ = ["ENGINES", "MKLEngine", "ScipyEngine", "get", "resolve"]


class MKLEngine:
    """mkl-fft, with MKL on GNU OpenMP and per-call thread limits (see ``_mkl_runtime``)."""

    name = "mkl"
    transform_term = "fft_transform"

    def __init__(self) -> None:
        self._loaded: Any = None  # the mkl_fft module once imported, False if it cannot be
        self._local = threading.local()  # each calling thread's committed descriptors

    @property
    def _module(self) -> Any:
        if self._loaded is None:
            try:
                self._loaded = _mkl_runtime.load()
            except ImportError:
                self._loaded = False
        if self._loaded is False:
            raise ImportError(self.unavailable_reason())
        return self._loaded

    def available(self) -> bool:
        if self._loaded is None:
            with contextlib.suppress(ImportError):
                _ = self._module  # loads it, or records that it cannot load
        return bool(self._loaded)

    def unavailable_reason(self) -> str:
        return "mkl-fft is not installed (it is published for x86-64 Linux and Windows)"

    def describe(self) -> str:
        return (f"mkl-fft {self._module.__version__} (MKL threading layer {_mkl_runtime.threading_layer()}, "
                f"{_mkl_runtime.max_threads()} threads at most)")

    def max_threads(self) -> int:
        _ = self._module  # MKL's runtime is reachable only once loaded
        return _mkl_runtime.max_threads()

    def threads(self, count: int) -> contextlib.AbstractContextManager:
        # the limit itself, not a generator around it: streams enter this once per push
        return _mkl_runtime.ThreadLimit(count)

    def dfti_addresses(self) -> tuple[int, ...] | None:
        """MKL's DFTI entry points, for compiled callers that commit their own descriptors."""
        _ = self._module  # MKL's runtime is reachable only once loaded
        return _mkl_runtime.dfti_addresses()

    def forward(self, source: np.ndarray, out: np.ndarray, *, is_complex: bool, threads: int) -> np.ndarray:
        """The transform of ``source`` along its last axis, in ``out`` (returned).

        ``source`` is scratch: an engine may overwrite it.  (The pocketfft
        engine returns a new C-contiguous array of ``out``'s shape instead
        of filling ``out``: callers use the array returned.)
        """
        batch = self._committed(source, out, source.shape[-1], is_complex, threads, backward=False)
        if batch is not None:
            return batch.compute(source, out)
        function = self._module.fft if is_complex else self._module.rfft
        return _into(function(source, axis=-1, out=out), out)

    def inverse(self, source: np.ndarray, out: np.ndarray, *, n: int, is_complex: bool, threads: int) -> np.ndarray:
        """The inverse transform of ``source`` along its last axis (length ``n``), as :meth:`forward`."""
        batch = self._committed(source, out, n, is_complex, threads, backward=True)
        if batch is not None:
            return batch.compute(source, out)
        if is_complex:
            return _into(self._module.ifft(source, axis=-1, out=out), out)
        return _into(self._module.irfft(source, n=n, axis=-1, out=out), out)

    def _committed(self, source: np.ndarray, out: np.ndarray, length: int, is_complex: bool, threads: int,
                   backward: bool) -> DftiBatch | None:
        """The calling thread's committed descriptor for these transforms, made on first use;
        None where mkl-fft's own call must do (arrays of other layouts, no DFTI entry points)."""
        spectral = source.dtype if backward else out.dtype
        if spectral not in _SPECTRAL or length <= 0 or source.size == 0:
            return None
        real = np.finfo(spectral).dtype
        signal = spectral if is_complex else real
        freqs = length if is_complex else length // 2 + 1
        fits = (source.dtype == (spectral if backward else signal) and out.dtype == (signal if backward else spectral)
                and source.shape[:-1] == out.shape[:-1]
                and (source.shape[-1], out.shape[-1]) == ((freqs, length) if backward else (length, freqs))
                and source.flags.c_contiguous and out.flags.c_contiguous and out.flags.writeable
                and (source.flags.writeable or not backward))  # MKL's backward uses its source as scratch
        if not fits:
            return None
        rows = source.size // source.shape[-1]
        return self._kept(("batch", spectral, is_complex, length, rows, threads, backward),
                          lambda addresses: DftiBatch(addresses, real, is_complex, length, rows, threads, backward))

    def rows(self, real: np.dtype, is_complex: bool, length: int, threads: int) -> DftiRows | None:
        """One-row transforms of ``length`` points for each of ``threads`` threads (the fft
        backend's whole-frame path), the calling thread's, made on first use; None where
        MKL refuses them."""
        return self._kept(("rows", np.dtype(real), is_complex, length, threads),
                          lambda addresses: DftiRows(addresses, real, is_complex, length, threads))

    def _kept(self, key: tuple, make: Any) -> Any:
        """The calling thread's committed descriptors of ``key``, made by ``make(addresses)`` on
        first use (None, now and next time, where MKL refuses them)."""
        kept = self._local.__dict__.setdefault("batches", {})
        if key not in kept:
            addresses = self.dfti_addresses()  # (ctypes look-ups: tens of microseconds)
            try:
                made = None if addresses is None else make(addresses)
            except (RuntimeError, ValueError, MemoryError):  # MKL refused it: the other path, now and next time
                made = None
            if len(kept) >= _KEPT_DESCRIPTORS:
                kept.clear()
            kept[key] = made
        return kept[key]

    def spectrum(self, source: np.ndarray, *, n: int, axis: int, is_complex: bool) -> np.ndarray:
        """A new array: the transform of ``source`` zero-padded to ``n`` along ``axis``."""
        function = self._module.fft if is_complex else self._module.rfft
        return function(source, n=n, axis=axis)


class ScipyEngine:
    """SciPy's pocketfft (``scipy.fft``), threaded by its ``workers`` argument."""

    name = "scipy"
    transform_term = "fft_pocketfft_transform"

    def available(self) -> bool:
        return True  # scipy is a dependency

    def unavailable_reason(self) -> str:
        return ""

    def describe(self) -> str:
        return f"scipy.fft {scipy.__version__} (pocketfft; workers per call)"

    def max_threads(self) -> int:
        return 1 << 30  # pocketfft takes the count it is given

    @contextlib.contextmanager
    def threads(self, count: int) -> Iterator[None]:
        yield  # the count goes to each transform as ``workers``

    def dfti_addresses(self) -> None:
        return None  # pocketfft is reached through scipy.fft only

    def rows(self, real: np.dtype, is_complex: bool, length: int, threads: int) -> None:
        return None  # no DFTI descriptors: the staged path

    # pocketfft cannot write into a given array: its result is returned
    # instead of copied into ``out`` (a pass over the data saved)
    def forward(self, source: np.ndarray, out: np.ndarray, *, is_complex: bool, threads: int) -> np.ndarray:
        function = scipy.fft.fft if is_complex else scipy.fft.rfft
        return _contiguous(function(source, axis=-1, workers=threads, overwrite_x=True), out)

    def inverse(self, source: np.ndarray, out: np.ndarray, *, n: int, is_complex: bool, threads: int) -> np.ndarray:
        if is_complex:
            return _contiguous(scipy.fft.ifft(source, axis=-1, workers=threads, overwrite_x=True), out)
        return _contiguous(scipy.fft.irfft(source, n=n, axis=-1, workers=threads, overwrite_x=True), out)

    def spectrum(self, source: np.ndarray, *, n: int, axis: int, is_complex: bool) -> np.ndarray:
        function = scipy.fft.fft if is_complex else scipy.fft.rfft
        return function(source, n=n, axis=axis)


def _into(result: np.ndarray, out: np.ndarray) -> np.ndarray:
    # mkl_fft writes into ``out`` where it can, and returns a new array where it cannot
    if result is not out:
        out[...] = result
    return out


def _contiguous(result: np.ndarray, out: np.ndarray) -> np.ndarray:
    # the kernels read C-contiguous arrays of out's dtype and shape
    if result.dtype == out.dtype and result.shape == out.shape and result.flags.c_contiguous:
        return result
    out[...] = result
    return out


ENGINES: dict[str, MKLEngine | ScipyEngine] = {"mkl": MKLEngine(), "scipy": ScipyEngine()}


def get(name: str) -> MKLEngine | ScipyEngine:
    """The engine of this name (``"mkl"`` or ``"scipy"``)."""
    return ENGINES[name]


def resolve(setting: str | None) -> tuple[MKLEngine | ScipyEngine | None, str]:
    """``(engine, reason)`` for the ``fft_engine`` setting; engine None when the one asked for cannot load."""
    if setting is None:
        mkl = ENGINES["mkl"]
        if mkl.available():
            return mkl, "MKL is the first choice where mkl-fft is installed"
        return ENGINES["scipy"], f"pocketfft: {mkl.unavailable_reason()}"
    engine = ENGINES[setting]
    if not engine.available():
        return None, engine.unavailable_reason()
    return engine, "forced by the fft_engine setting"
