"""The fft backend's whole-frame path: groups of one channel on MKL, each frame's
pipeline on the thread that takes it (``overlap_save_products``)."""

from contextlib import contextmanager

import numpy as np
import pytest

import arrayconv
from arrayconv.backends import _fft_engines, _fft_kernels, fft

mkl = _fft_engines.get("mkl")
needs_mkl = pytest.mark.skipif(not mkl.available(), reason="the whole-frame path runs on MKL's DFTI (mkl-fft)")


@pytest.fixture
def frames_taken(monkeypatch):
    """Counts the calls of the whole-frame kernel."""
    calls = []
    kernel = fft.overlap_save_products

    def counted(*args):
        calls.append(args[5].threads)
        return kernel(*args)

    monkeypatch.setattr(fft, "overlap_save_products", counted)
    return calls


@contextmanager
def two_threads():
    """Calls planned on two threads, however short (the plans' one-thread bound lifted)."""
    saved = fft._PARALLEL_MIN_SECONDS
    fft._PARALLEL_MIN_SECONDS = 0.0
    fft._plan.cache_clear()
    try:
        with arrayconv.config_context(threads=2):
            yield
    finally:
        fft._PARALLEL_MIN_SECONDS = saved
        fft._plan.cache_clear()


def _staged(x, w, **kwargs):
    """The same call on the staged path (MKL's one-row descriptors refused)."""
    saved = mkl.rows
    mkl.rows = lambda *args: None
    try:
        return arrayconv.conv1d(x, w, backend="fft", **kwargs)
    finally:
        mkl.rows = saved


@needs_mkl
@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("channels,groups,kwargs", [
    (1, 1, {}),
    (1, 1, {"padding": 700, "padding_mode": "reflect", "dilation": 3}),
    (5, 5, {"padding": "same", "padding_mode": "circular"}),
    (3, 3, {"padding": 40, "dilation": 2, "bias": True}),
])
def test_one_channel_groups_take_the_whole_frame_path_and_match_the_staged_one(frames_taken, dtype, channels,
                                                                               groups, kwargs):
    rng = np.random.default_rng(3)
    kwargs = dict(kwargs, groups=groups)
    real = np.finfo(dtype).dtype

    def draw(*shape):
        values = rng.standard_normal(shape)
        return (values + 1j * rng.standard_normal(shape) if np.dtype(dtype).kind == "c" else values).astype(dtype)

    x, w = draw(2, channels, 3000), draw(channels, 1, 513)
    if kwargs.pop("bias", False):
        kwargs["bias"] = draw(channels)
    before = x.copy(), w.copy()
    with two_threads():
        y = arrayconv.conv1d(x, w, backend="fft", **kwargs)
    assert frames_taken == [2], "the whole-frame path was not taken on two threads"
    with arrayconv.config_context(threads=1):  # the same bits on one thread
        np.testing.assert_array_equal(arrayconv.conv1d(x, w, backend="fft", **kwargs), y)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(w, before[1])
    staged = _staged(x, w, **kwargs)
    scale = np.abs(staged).max()
    np.testing.assert_allclose(y, staged, atol=scale * 50 * np.finfo(real).eps, rtol=0)


@needs_mkl
def test_several_channels_per_group_and_strides_keep_the_staged_path(frames_taken):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 4, 4000)).astype(np.float32)
    arrayconv.conv1d(x, rng.standard_normal((4, 2, 600)).astype(np.float32), groups=2, backend="fft")
    arrayconv.conv1d(x[:, :1], rng.standard_normal((1, 1, 600)).astype(np.float32), stride=2, backend="fft")
    assert not frames_taken


def test_pocketfft_keeps_the_staged_path(frames_taken):
    rng = np.random.default_rng(5)
    with arrayconv.config_context(fft_engine="scipy"):
        arrayconv.conv1d(rng.standard_normal((1, 1, 4000)), rng.standard_normal((1, 1, 600)), backend="fft")
    assert not frames_taken


@needs_mkl
def test_the_kernel_refuses_arrays_it_was_not_made_for():
    rng = np.random.default_rng(6)
    transforms = mkl.rows(np.dtype(np.float32), False, 64, 2)
    x = rng.standard_normal((1, 2, 100)).astype(np.float32)
    out = np.zeros((1, 2, 37), np.float32)
    w = rng.standard_normal((2, 1, 28)).astype(np.float32)
    spectra = np.fft.rfft(w[:, :, ::-1], n=64).astype(np.complex64)
    work = np.zeros((2, _fft_kernels.products_work_size(64, False, 4)), np.float32)

    def run(x=x, weights=None, work=work, transforms=transforms, block=37, offset=27):
        # one column of 37 outputs: a frame of 64 samples, the last 37 of its circular convolution
        weights = spectra.view(np.float32) if weights is None else weights
        _fft_kernels.overlap_save_products(x, weights, out, np.zeros(0, x.dtype), False, transforms, 1, block, 1, 1,
                                           0, 100, 0, offset, work, 2)

    run()
    expected = np.stack([np.correlate(x[0, c, :64], w[c, 0], mode="valid") for c in range(2)])
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    with pytest.raises(ValueError, match="one channel per group"):
        run(weights=np.zeros((2, 2, 66), np.float32))
    with pytest.raises(ValueError, match="one channel per group"):
        run(weights=np.zeros((2, 1, 2), np.float32))  # not the transforms' 33 frequencies
    with pytest.raises(ValueError, match="too short"):
        run(work=np.zeros((2, 10), np.float32))
    with pytest.raises(ValueError, match="another dtype"):
        run(transforms=mkl.rows(np.dtype(np.float32), True, 64, 2))  # complex transforms, real signal
    with pytest.raises(ValueError, match="another dtype"):
        run(transforms=mkl.rows(np.dtype(np.float64), False, 64, 2))  # double transforms, float signal
    with pytest.raises(ValueError, match="inside the frame"):
        run(offset=60)
    with pytest.raises(ValueError, match="inside the frame"):
        run(block=0)
    with pytest.raises(ValueError, match="bad sizes"):
        _fft_kernels.DftiRows(mkl.dfti_addresses(), np.float32, False, 0, 2)
    frames = rng.standard_normal((3, 64)).astype(np.float32)
    spectra = transforms.forward_rows(frames, np.empty((3, 33), np.complex64), 2)
    np.testing.assert_allclose(spectra, np.fft.rfft(frames), rtol=0, atol=1e-5 * np.abs(spectra).max())
    with pytest.raises(ValueError, match="other dtypes or sizes"):
        transforms.forward_rows(frames, np.empty((3, 32), np.complex64), 2)
    with pytest.raises(ValueError, match="other dtypes or sizes"):
        transforms.forward_rows(frames.astype(np.float64), np.empty((3, 33), np.complex64), 2)
