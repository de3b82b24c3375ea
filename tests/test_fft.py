"""The fft backend: long kernels, every semantic, its plans, accuracy and non-finite input.

test_against_torch.py already runs the fft backend over the general random
cases (short kernels); these add long kernels, forced multi-block and
multi-chunk plans, both contraction paths, and the backend's own promises.
"""

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import arrayconv
from oracle import assert_close, assert_matches_torch, reference
from strategies import Case, _random_array

from arrayconv.backends import _fft_engines, fft

MODES = ("zeros", "reflect", "replicate", "circular")


@pytest.fixture(autouse=True, params=_fft_engines.ENGINES)
def engine(request):
    """Every test of this module once per transform engine (MKL, pocketfft); test_fft_without_mkl.py
    runs the module again with mkl_fft hidden from the import."""
    chosen = _fft_engines.get(request.param)
    if not chosen.available():
        pytest.skip(f"the {request.param} engine cannot load here: {chosen.unavailable_reason()}")
    arrayconv.set_config(fft_engine=request.param)
    try:
        yield chosen
    finally:
        arrayconv.set_config(fft_engine=None)


def test_the_engine_setting_is_the_one_used(engine):
    x, w = np.ones((1, 1, 3000), np.float32), np.ones((1, 1, 300), np.float32)
    spec = arrayconv.shape.normalize(x, w)
    assert fft.FFTBackend().plan(spec).engine == engine.name
    explained = arrayconv.explain(x, w, backend="fft")
    assert explained.engines["fft"].startswith(engine.describe().split(" ")[0])
    assert "forced by the fft_engine setting" in str(explained)


def test_auto_takes_mkl_where_installed_else_pocketfft():
    arrayconv.set_config(fft_engine="auto")
    chosen, reason = fft.FFTBackend().engine()
    if _fft_engines.get("mkl").available():
        assert chosen.name == "mkl" and "first choice" in reason
    else:
        assert chosen.name == "scipy" and "mkl-fft is not installed" in reason
    spec = arrayconv.shape.normalize(np.ones((1, 2, 3000)), np.ones((2, 2, 300)))
    assert fft.FFTBackend().plan(spec).engine == chosen.name
    # each engine is priced by its own transform constant
    assert dict(fft.FFTBackend().plan(spec).terms).get(chosen.transform_term, 0) > 0
    # single-channel layers on MKL by the whole-frame path's terms
    single = arrayconv.shape.normalize(np.ones((1, 1, 3000)), np.ones((1, 1, 300)))
    terms = dict(fft.FFTBackend().plan(single).terms)
    assert (terms.get("fft_frames_transform", 0) > 0) == (chosen.name == "mkl")
    assert (terms.get(chosen.transform_term, 0) > 0) == (chosen.name == "scipy")


@st.composite
def long_kernel_cases(draw, dtypes=("float32", "float64", "complex64", "complex128")):
    """Valid calls with kernels up to a few hundred taps and any stride, dilation, groups, mode."""
    groups = draw(st.integers(1, 3))
    cin_g = draw(st.integers(1, 3))
    cout_g = draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 300))
    stride = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(MODES))
    extent = dilation * (kernel - 1) + 1
    length = draw(st.integers(max(1, extent // 2), extent + 600))
    limit = length - 1 if mode == "reflect" else length
    padding = draw(st.integers(0, min(limit, 150)))
    if length + 2 * padding < extent:
        padding = min(limit, -(-(extent - length) // 2))
        if length + 2 * padding < extent:
            length = extent
    if mode == "reflect":
        padding = min(padding, length - 1)
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, 2))
    return Case(
        x=_random_array(rng, (batch, cin_g * groups, length), dtype),
        w=_random_array(rng, (cout_g * groups, cin_g, kernel), dtype),
        b=_random_array(rng, (cout_g * groups,), dtype) if draw(st.booleans()) else None,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=mode,
    )


@contextmanager
def plan_settings(**settings):
    """Patch the backend's planning constants (and forget cached plans) inside the block."""
    saved = {name: getattr(fft, name) for name in settings}
    for name, value in settings.items():
        setattr(fft, name, value)
    fft._plan.cache_clear()
    fft._fast_lengths.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(fft, name, value)
        fft._plan.cache_clear()
        fft._fast_lengths.cache_clear()


# Short transforms (many frames per signal), one column per chunk, and both contractions.
FORCED = {
    "default": {},
    "many_frames_one_column_chunks": dict(_MAX_LENGTH=1024, _CHUNK_BYTES=1),
    "gemm_contraction": dict(_GEMM_MIN_ENTRIES=1, _CHUNK_BYTES=1 << 16),
    "threaded_small": dict(_PARALLEL_MIN_SECONDS=0.0, _MAX_LENGTH=2048),
}


@pytest.mark.parametrize("settings", FORCED)
@given(case=long_kernel_cases())
def test_long_kernels_match_torch(settings, case):
    fft_settings = FORCED[settings]
    if "_MAX_LENGTH" in fft_settings and -(-case.w.shape[-1] // case.stride) > fft_settings["_MAX_LENGTH"]:
        return
    with plan_settings(**fft_settings), arrayconv.config_context(threads=2):
        assert_matches_torch(case, "fft")


def test_forced_plans_are_taken():
    x, w = np.ones((2, 4, 5000), np.float32), np.ones((4, 4, 100), np.float32)
    spec = arrayconv.shape.normalize(x, w, stride=3, dilation=2)
    with plan_settings(**FORCED["many_frames_one_column_chunks"]):
        plan = fft.FFTBackend().plan(spec)
        assert plan.length <= 1024 and plan.blocks > 1 and plan.chunk_columns == 1
    with plan_settings(**FORCED["gemm_contraction"]):
        assert fft.FFTBackend().plan(spec).use_gemm


@pytest.mark.parametrize("stride,dilation", [(1, 1), (4, 1), (1, 3), (3, 2)])
def test_plan_computes_no_discarded_outputs(stride, dilation):
    """Stride and dilation shorten the work: the frames hold about L_out outputs (not stride * L_out)
    and transforms of about K / stride taps (not the dilated extent)."""
    x, w = np.ones((1, 2, 20000), np.float32), np.ones((2, 2, 257), np.float32)
    spec = arrayconv.shape.normalize(x, w, stride=stride, dilation=dilation)
    plan = fft.FFTBackend().plan(spec)
    assert plan.taps == -(-257 // stride)
    frame_outputs = plan.residues * plan.blocks * plan.block
    assert spec.length_out <= frame_outputs < spec.length_out + plan.residues * plan.block
    assert plan.length < 2 * spec.length_out  # not a transform of the whole strided signal


def test_transform_lengths_are_fast_and_memory_is_bounded():
    x, w = np.ones((4, 16, 200000), np.float32), np.ones((16, 16, 2049), np.float32)
    spec = arrayconv.shape.normalize(x, w, padding=1024)
    plan = fft.FFTBackend().plan(spec)
    n = plan.length
    assert plan.length % 8 == 0
    for factor in (2, 3, 5):
        while n % factor == 0:
            n //= factor
    assert n == 1, plan.length
    per_column = (16 + 16) * (plan.length * 4 + (plan.length // 2 + 1) * 8)
    assert plan.chunk_columns * per_column <= fft._CHUNK_BYTES
    assert plan.chunk_columns < plan.columns  # the signal is split into chunks


@pytest.mark.parametrize("dtype,bound", [("float32", 1e-5), ("float64", 1e-12), ("complex64", 1e-5), ("complex128", 1e-12)])
def test_accuracy_against_double_precision(dtype, bound):
    """Within ``bound`` of the output's largest magnitude (issue 4's accuracy bar)."""
    rng = np.random.default_rng(7)
    x = _random_array(rng, (2, 4, 6000), dtype)
    w = _random_array(rng, (4, 4, 1025), dtype)
    y = arrayconv.conv1d(x, w, padding=512, backend="fft")
    wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    exact = arrayconv.conv1d(x.astype(wide), w.astype(wide), padding=512, backend="direct")
    assert np.abs(y - exact).max() <= bound * np.abs(exact).max()


@contextmanager
def direct_calls():
    """Count the calls that reach the direct backend's run()."""
    direct = arrayconv.backends.get("direct")
    calls = []
    original = type(direct).run

    def counting(self, *args):
        calls.append(args[0])
        return original(self, *args)

    type(direct).run = counting
    try:
        yield calls
    finally:
        type(direct).run = original


@pytest.mark.parametrize("where", ["input", "weight", "both"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("padding_mode", ["zeros", "circular"])
def test_non_finite_values_give_the_direct_result(where, value, padding_mode):
    """NaN and Inf stay where the direct definition puts them: the call runs on direct."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 3000)).astype(np.float32)
    w = rng.standard_normal((3, 3, 300)).astype(np.float32)
    if where in ("input", "both"):
        x[1, 2, 1500] = value
    if where in ("weight", "both"):
        w[0, 1, 5] = value
    expected = arrayconv.conv1d(x, w, padding=100, padding_mode=padding_mode, backend="direct")
    with direct_calls() as calls:
        result = arrayconv.conv1d(x, w, padding=100, padding_mode=padding_mode, backend="fft")
    assert len(calls) == 1
    np.testing.assert_array_equal(result, expected)
    assert np.isfinite(result[0, 2]).all()  # channel 2 of item 0 sees no non-finite value
    assert not np.isfinite(result).all()


@pytest.mark.parametrize(
    "x_value,w_value",
    [(3e37, 1e-38),  # the input's spectrum would overflow
     (1e-38, 3e37),  # the weight's
     (1e19, 1e19)],  # the products
)
def test_values_that_could_overflow_a_spectrum_go_to_direct(x_value, w_value):
    x = np.full((1, 2, 4000), x_value, np.float32)
    w = np.full((1, 2, 300), w_value, np.float32)
    expected = arrayconv.conv1d(x, w, backend="direct")
    with direct_calls() as calls:
        result = arrayconv.conv1d(x, w, backend="fft")
    assert len(calls) == 1
    np.testing.assert_array_equal(result, expected)


def test_large_but_safe_values_stay_on_fft_and_accurate():
    rng = np.random.default_rng(12)
    x = (rng.standard_normal((1, 2, 4000)) * 1e15).astype(np.float32)
    w = (rng.standard_normal((3, 2, 300)) * 1e10).astype(np.float32)
    with direct_calls() as calls:
        result = arrayconv.conv1d(x, w, backend="fft")
    assert calls == []
    exact = arrayconv.conv1d(x.astype(np.float64), w.astype(np.float64), backend="direct")
    assert np.abs(result - exact).max() <= 1e-5 * np.abs(exact).max()


def test_inputs_unchanged_and_results_not_aliased():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 3000))
    w = rng.standard_normal((4, 2, 500))
    b = rng.standard_normal(4)
    copies = [a.copy() for a in (x, w, b)]
    y = arrayconv.conv1d(x, w, b, groups=2, stride=2, padding=7, padding_mode="reflect", backend="fft")
    for before, after in zip(copies, (x, w, b)):
        np.testing.assert_array_equal(before, after)
        assert not np.shares_memory(y, after)


@pytest.mark.parametrize("channels,groups", [(8, 1), (1, 1), (6, 6)])
def test_same_bits_for_any_thread_count_with_long_kernels(channels, groups):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((4, channels, 20000)).astype(np.float32)
    w = rng.standard_normal((channels, channels // groups, 1025)).astype(np.float32)
    results = []
    for count in (1, 2, 3):
        with arrayconv.config_context(threads=count):
            results.append(arrayconv.conv1d(x, w, padding=512, groups=groups, backend="fft"))
    assert all(np.array_equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("real", [np.float32, np.float64])
def test_groups_of_one_channel_contract_as_one_product_per_frequency(real):
    from arrayconv.backends._fft_kernels import contract_tiles

    rng = np.random.default_rng(11)
    complex_dtype = np.result_type(real, np.complex64)
    columns, groups, freqs = 5, 3, 37

    def draw(*shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(complex_dtype)

    spectra, weights = draw(columns, groups, freqs), draw(groups, 1, freqs)
    before = spectra.copy(), weights.copy()
    expected = spectra * weights[:, 0, :]
    for count in (1, 2):
        result = np.full((columns, groups, freqs), np.nan, complex_dtype)
        work = np.empty((count, 1), real)  # the products need no tile buffers
        contract_tiles(spectra.view(real), weights.view(real), result.view(real), groups, 16, count, work)
        np.testing.assert_allclose(result, expected, rtol=8 * np.finfo(real).eps, atol=0)
    np.testing.assert_array_equal(before[0], spectra)
    np.testing.assert_array_equal(before[1], weights)


def test_unbatched_and_torch_arrays():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 2000)).astype(np.float32)
    w = rng.standard_normal((5, 3, 400)).astype(np.float32)
    wide, scale = reference(x[None], w, None, 1, "same", 1, 1, "zeros", np.float32)
    result = arrayconv.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding="same", backend="fft")
    assert isinstance(result, torch.Tensor) and tuple(result.shape) == (5, 2000)
    assert_close(result.numpy()[None], wide, scale, "float32")


def test_huge_dilation_with_one_tap_is_not_framed():
    """Fuzz finding (seed 405647): stride * dilation overflowed the frames' 64-bit index arithmetic."""
    x = np.random.default_rng(13).standard_normal((2, 2, 541)).astype(np.float32)
    w = np.ones((1, 2, 1), np.float32)
    expected = arrayconv.conv1d(x, w, stride=3, padding=3, dilation=2**62, padding_mode="reflect", backend="direct")
    with pytest.raises(ValueError, match="stride \\* dilation too large"):
        arrayconv.conv1d(x, w, stride=3, padding=3, dilation=2**62, padding_mode="reflect", backend="fft")
    np.testing.assert_array_equal(arrayconv.conv1d(x, w, stride=3, padding=3, dilation=2**62, padding_mode="reflect"),
                                  expected)
