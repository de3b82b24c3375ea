"""The MKL engine's committed descriptors (DftiBatch): the same transforms as mkl-fft's own calls,
kept per calling thread, refused where the arrays do not fit them."""

import threading

import numpy as np
import pytest

import arrayconv
from arrayconv.backends import _fft_engines
from arrayconv.backends._fft_kernels import DftiBatch

pytestmark = pytest.mark.skipif(not _fft_engines.get("mkl").available(),
                                reason="mkl-fft is not installed: no MKL descriptors to test")

ENGINE = _fft_engines.get("mkl")


def _signal(rng, shape, dtype, is_complex):
    x = rng.standard_normal(shape)
    if is_complex:
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(np.result_type(dtype, np.complex64) if is_complex else dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("is_complex", [False, True])
@pytest.mark.parametrize("length", [1, 7, 16, 1000, 40960])
@pytest.mark.parametrize("rows", [(1,), (3, 2)])
@pytest.mark.parametrize("threads", [1, 2])
def test_committed_transforms_match_mkl_ffts_own_calls(dtype, is_complex, length, rows, threads):
    rng = np.random.default_rng(length)
    mkl_fft = ENGINE._module
    x = _signal(rng, rows + (length,), dtype, is_complex)
    complex_dtype = np.result_type(dtype, np.complex64)
    freqs = length if is_complex else length // 2 + 1
    spectra = ENGINE.forward(x.copy(), np.empty(rows + (freqs,), complex_dtype), is_complex=is_complex,
                             threads=threads)
    expected = mkl_fft.fft(x, axis=-1) if is_complex else mkl_fft.rfft(x, axis=-1)
    tolerance = (1e-6 if dtype == np.float32 else 1e-14) * np.abs(expected).max()
    assert spectra.dtype == complex_dtype and np.abs(spectra - expected).max() <= tolerance
    back = ENGINE.inverse(expected.copy(), np.empty(x.shape, x.dtype), n=length, is_complex=is_complex,
                          threads=threads)
    expected_back = mkl_fft.ifft(expected, axis=-1) if is_complex else mkl_fft.irfft(expected, n=length, axis=-1)
    signal_tolerance = (1e-5 if dtype == np.float32 else 1e-13) * np.abs(x).max()
    assert back.dtype == x.dtype and np.abs(back - expected_back).max() <= signal_tolerance
    assert np.abs(back - x).max() <= signal_tolerance  # scaled by 1 / length, as numpy's inverses are
    kept = ENGINE._local.batches
    assert isinstance(kept[("batch", complex_dtype, is_complex, length, int(np.prod(rows)), threads, True)], DftiBatch)


def test_arrays_the_descriptors_do_not_fit_take_mkl_ffts_own_calls():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64))
    strided = x[::2]  # rows not adjacent
    out = np.empty((2, 33), np.complex128)
    assert ENGINE._committed(strided, out, 64, False, 1, backward=False) is None
    np.testing.assert_allclose(ENGINE.forward(strided, out, is_complex=False, threads=1), np.fft.rfft(strided),
                               rtol=1e-12, atol=1e-12)
    assert ENGINE._committed(x, np.empty((4, 33), np.complex64), 64, False, 1, backward=False) is None  # dtypes


def test_transforms_of_other_lengths_or_read_only_sources_take_mkl_ffts_own_calls():
    rng = np.random.default_rng(1)
    spectra = np.fft.rfft(rng.standard_normal((2, 64)))
    # irfft's own truncation: a 64-point spectrum's first 17 values for 32 points
    got = ENGINE.inverse(spectra[:, :17].copy(), np.empty((2, 32)), n=32, is_complex=False, threads=1)
    np.testing.assert_allclose(got, np.fft.irfft(spectra[:, :17], n=32), rtol=1e-12, atol=1e-12)
    assert ENGINE._committed(spectra, np.empty((2, 32)), 32, False, 1, backward=True) is None
    read_only = spectra.copy()
    read_only.flags.writeable = False  # MKL's backward real transform writes its source
    assert ENGINE._committed(read_only, np.empty((2, 64)), 64, False, 1, backward=True) is None
    np.testing.assert_allclose(ENGINE.inverse(read_only, np.empty((2, 64)), n=64, is_complex=False, threads=1),
                               np.fft.irfft(spectra, n=64), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(read_only, spectra)


def test_a_descriptor_mkl_refuses_leaves_mkl_ffts_own_call_and_is_not_tried_again(monkeypatch):
    tries = []

    def refusing(*args):
        tries.append(args)
        raise RuntimeError("MKL DFTI: status 3 committing a descriptor of 48 points")

    monkeypatch.setattr(_fft_engines, "DftiBatch", refusing)
    monkeypatch.setattr(ENGINE, "_local", threading.local())  # nothing kept yet
    x = np.random.default_rng(2).standard_normal((3, 48))
    for _ in range(3):
        got = ENGINE.forward(x.copy(), np.empty((3, 25), np.complex128), is_complex=False, threads=1)
        np.testing.assert_allclose(got, np.fft.rfft(x), rtol=1e-12, atol=1e-12)
    assert len(tries) == 1


def test_each_calling_thread_keeps_its_own_descriptors_and_only_so_many():
    x = np.ones((1, 32))
    ENGINE.forward(x.copy(), np.empty((1, 17), np.complex128), is_complex=False, threads=1)
    mine = ENGINE._local.batches
    seen = {}

    def other_thread():
        ENGINE.forward(x.copy(), np.empty((1, 17), np.complex128), is_complex=False, threads=1)
        seen["theirs"] = ENGINE._local.batches

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen["theirs"] is not mine and len(seen["theirs"]) == 1
    for length in range(2, 2 + 3 * _fft_engines._KEPT_DESCRIPTORS):
        ENGINE.forward(np.ones((1, length)), np.empty((1, length // 2 + 1), np.complex128), is_complex=False,
                       threads=1)
        assert len(ENGINE._local.batches) <= _fft_engines._KEPT_DESCRIPTORS


def test_a_descriptor_refuses_bad_sizes_dtypes_and_overlapping_arrays():
    addresses = ENGINE.dfti_addresses()
    good = dict(addresses=addresses, dtype=np.float64, is_complex=False, length=64, rows=2, threads=1,
                backward=False)
    batch = DftiBatch(*good.values())
    for bad in [dict(dtype=np.int32), dict(length=0), dict(rows=0), dict(threads=0),
                dict(addresses=addresses[:1] + (0,) + addresses[2:]), dict(addresses=addresses[:5])]:
        with pytest.raises(ValueError, match="DftiBatch"):
            DftiBatch(*(good | bad).values())
    x, out = np.ones((2, 64)), np.empty((2, 33), np.complex128)
    for source, result in [(np.ones((1, 64)), out), (x, np.empty((2, 32), np.complex128)),
                           (x.astype(np.float32), out), (x, out.astype(np.complex64))]:
        with pytest.raises(ValueError, match="other dtypes or sizes"):
            batch.compute(source, result)
    with pytest.raises(ValueError, match="contiguous"):
        batch.compute(x, np.empty((2, 66), np.complex128)[:, ::2])  # not contiguous
    backward = DftiBatch(*(good | dict(backward=True)).values())
    block = np.zeros(2 * 33 * 2 + 2 * 64)  # a spectrum whose memory the result would share
    spectrum = block[: 2 * 33 * 2].view(np.complex128).reshape(2, 33)
    with pytest.raises(ValueError, match="overlap"):
        backward.compute(spectrum, block[40: 40 + 128].reshape(2, 64))
    assert backward.compute(spectrum, np.empty((2, 64))).shape == (2, 64)


def test_long_kernels_on_committed_descriptors_match_torch_sized_references():
    """The fft backend end to end (several frame batches, real and complex, both thread counts)."""
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.complex128):
        x = _signal(rng, (2, 3, 5000), np.float64, dtype == np.complex128).astype(dtype)
        w = _signal(rng, (4, 3, 700), np.float64, dtype == np.complex128).astype(dtype)
        expected = arrayconv.conv1d(x.astype(np.complex128), w.astype(np.complex128), padding=300,
                                    backend="direct")
        for threads in (1, 2):
            with arrayconv.config_context(threads=threads):
                got = arrayconv.conv1d(x, w, padding=300, backend="fft")
            scale = np.abs(expected).max()
            tolerance = 1e-5 if dtype == np.float32 else 1e-12
            assert got.dtype == dtype and np.abs(got - expected).max() <= tolerance * scale
