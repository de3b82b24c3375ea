"""Automatic routing: the cost model's choice, explain(), routing constants and their sources."""

import numpy as np
import pytest

import arrayconv
from arrayconv import config, routing


LONG = dict(input=(4, 16, 32768), weight=(16, 16, 2049), padding=1024)
SHORT = dict(input=(8, 64, 4096), weight=(64, 64, 3), padding=1)


@pytest.fixture
def clean():
    yield
    arrayconv.set_config(backend=None, skip=None, threads=None, routing=None)


def test_long_kernels_go_to_fft_and_short_ones_to_direct(clean):
    long = arrayconv.explain(**LONG)
    short = arrayconv.explain(**SHORT)
    assert (long.backend, long.source) == ("fft", "cost model")
    assert (short.backend, short.source) == ("direct", "cost model")
    for explanation in (long, short):
        assert set(explanation.estimates) >= {"direct", "fft"}
        assert explanation.estimates[explanation.backend] == min(explanation.estimates.values())
    text = str(long)
    assert text.startswith("backend: fft (chosen by cost model)") and "direct" in text


def test_conv1d_runs_on_the_explained_backend(clean):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 20000)).astype(np.float32)
    w = rng.standard_normal((2, 2, 1500)).astype(np.float32)
    assert arrayconv.explain(x, w).backend == "fft"
    np.testing.assert_array_equal(arrayconv.conv1d(x, w), arrayconv.conv1d(x, w, backend="fft"))
    w_short = w[:, :, :3].copy()
    assert arrayconv.explain(x, w_short).backend == "direct"
    np.testing.assert_array_equal(arrayconv.conv1d(x, w_short), arrayconv.conv1d(x, w_short, backend="direct"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
@pytest.mark.parametrize("where", ["input", "weight"])
def test_explain_names_the_backend_that_runs_non_finite_values(clean, bad, where):
    """fft hands NaN, Inf and near-overflow values to direct: explain says direct, and why."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 20000))
    w = rng.standard_normal((2, 2, 1500))
    {"input": x, "weight": w}[where][0, 0, 3] = bad
    explanation = arrayconv.explain(x, w)
    assert explanation.estimates["fft"] < explanation.estimates["direct"]  # the cost model picks fft
    assert explanation.backend == "direct"
    assert explanation.handed_over.startswith("fft gives this call to direct: the input or weight holds NaN or Inf")
    assert "handed over: fft gives this call to direct" in str(explanation)
    np.testing.assert_array_equal(arrayconv.conv1d(x, w), arrayconv.conv1d(x, w, backend="direct"))
    # finite values stay on fft, and shapes (no values) are explained by the cost model alone
    clean_x = np.nan_to_num(x, posinf=0.0, neginf=0.0) if where == "input" else x
    clean_w = np.nan_to_num(w, posinf=0.0, neginf=0.0) if where == "weight" else w
    clean_x[clean_x > 1e299] = 0.0
    clean_w[clean_w > 1e299] = 0.0
    assert (arrayconv.explain(clean_x, clean_w).backend, arrayconv.explain(clean_x, clean_w).handed_over) == ("fft", None)
    assert arrayconv.explain(x.shape, w.shape, dtype="float64").backend == "fft"


def test_arrays_and_shapes_explain_alike(clean):
    x, w, b = np.zeros((2, 4, 3000), np.float64), np.zeros((6, 2, 700)), np.zeros(6)
    by_arrays = arrayconv.explain(x, w, b, stride=2, groups=2)
    by_shapes = arrayconv.explain((2, 4, 3000), (6, 2, 700), (6,), stride=2, groups=2, dtype="float64")
    assert by_arrays.backend == by_shapes.backend
    assert by_arrays.spec == by_shapes.spec


def test_sources_of_a_forced_backend(clean, monkeypatch):
    assert arrayconv.explain(**LONG, backend="direct").source == "the backend argument"
    with arrayconv.config_context(backend="direct"):
        explanation = arrayconv.explain(**LONG)
        assert (explanation.backend, explanation.source) == ("direct", "the backend setting (config_context)")
        assert set(explanation.estimates) >= {"direct", "fft"}  # still shown
    arrayconv.set_config(backend="fft")
    assert arrayconv.explain(**SHORT).source == "the backend setting (set_config)"
    arrayconv.set_config(backend=None)
    monkeypatch.setenv("ARRAYCONV_BACKEND", "fft")
    config.reload()
    try:
        assert arrayconv.explain(**SHORT).source == "the backend setting (environment variable ARRAYCONV_BACKEND)"
    finally:
        monkeypatch.delenv("ARRAYCONV_BACKEND")
        config.reload()


def test_skipped_backends_are_explained(clean):
    with arrayconv.config_context(skip=["fft"]):
        explanation = arrayconv.explain(**LONG)
    assert explanation.backend == "direct"
    assert explanation.unable["fft"] == "skipped by the skip setting"


def test_routing_constants_change_the_choice(clean):
    assert arrayconv.explain(**LONG).backend == "fft"
    with arrayconv.config_context(routing={"fft_call": 1e6}):  # an fft call "costs" 11 days
        assert arrayconv.explain(**LONG).backend == "direct"
        rng = np.random.default_rng(1)
        x = rng.standard_normal((1, 1, 3000)).astype(np.float32)
        w = rng.standard_normal((1, 1, 1000)).astype(np.float32)
        np.testing.assert_array_equal(arrayconv.conv1d(x, w), arrayconv.conv1d(x, w, backend="direct"))
    assert arrayconv.explain(**LONG).backend == "fft"  # the cached decision did not outlive the context


@pytest.mark.parametrize(
    "table,message",
    [
        ({"fft_cal": 1.0}, "unknown routing constant 'fft_cal'"),
        ({"direct_call": -1.0}, "routing.direct_call must be a positive number"),
        ({"direct_call": "fast"}, "routing.direct_call must be a positive number"),
    ],
)
def test_bad_routing_constants_name_their_source(clean, table, message):
    with pytest.raises(ValueError, match=message + ".*set_config"):
        arrayconv.set_config(routing=table)


def test_plugin_constants_are_allowed(clean):
    arrayconv.set_config(routing={"mybackend_rate": 2.0})
    assert config.lookup("routing")[0] == {"mybackend_rate": 2.0}


def test_every_default_constant_is_documented():
    assert set(routing.DEFAULTS) == set(routing.TERMS)
    assert all(value > 0 for value in routing.DEFAULTS.values())


def test_registering_a_backend_refreshes_cached_decisions(clean):
    from arrayconv.backends.direct import DirectBackend

    class Free(DirectBackend):
        name = "free"

        def estimate(self, spec):
            return 0.0

    arrayconv.explain(**SHORT)
    x, w = np.ones((1, 2, 50)), np.ones((2, 2, 3))
    assert arrayconv.policy.choose(arrayconv.shape.normalize(x, w), "cpu").name == "direct"
    arrayconv.backends.register("free", Free())
    try:
        assert arrayconv.policy.choose(arrayconv.shape.normalize(x, w), "cpu").name == "free"
    finally:
        arrayconv.backends.unregister("free")
    assert arrayconv.policy.choose(arrayconv.shape.normalize(x, w), "cpu").name == "direct"


@pytest.mark.parametrize("bad", [(2, -1, 5), (2, 1.5, 5), ("a",)])
def test_bad_shapes_are_type_errors(bad):
    with pytest.raises(TypeError, match="input"):
        arrayconv.explain(bad, (1, 1, 1))


def test_auto_per_call_overrides_a_configured_backend(clean):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 20000)).astype(np.float32)
    w = rng.standard_normal((2, 2, 1500)).astype(np.float32)
    arrayconv.set_config(backend="direct")
    assert arrayconv.explain(x, w).backend == "direct"
    explanation = arrayconv.explain(x, w, backend="auto")
    assert (explanation.backend, explanation.source) == ("fft", "cost model")
    np.testing.assert_array_equal(arrayconv.conv1d(x, w, backend="auto"), arrayconv.conv1d(x, w, backend="fft"))


def test_device_is_for_shapes_only(clean):
    with pytest.raises(TypeError, match="device applies to shapes only"):
        arrayconv.explain(np.zeros((1, 1, 8)), np.zeros((1, 1, 3)), device="cuda:0")
    explanation = arrayconv.explain((1, 1, 8), (1, 1, 3), device="cuda:0")
    assert explanation.backend in ("array_api", "cupy")
    assert "runs on the CPU only" in explanation.unable["direct"]


def test_bad_dtype_is_named(clean):
    with pytest.raises(TypeError, match="dtype"):
        arrayconv.explain((1, 1, 8), (1, 1, 3), dtype="bogus")


def test_routing_tables_merge_across_layers(clean, tmp_path, monkeypatch):
    """A context that sets one constant keeps the others the file set."""
    path = tmp_path / "config.toml"
    path.write_text("[routing]\nfft_transform = 1e-9\ndirect_call = 2e-6\n")
    monkeypatch.setenv("ARRAYCONV_CONFIG", str(path))
    config.reload()
    try:
        with arrayconv.config_context(routing={"fft_call": 1e-4}):
            table, source = config.lookup("routing")
            assert table == {"fft_transform": 1e-9, "direct_call": 2e-6, "fft_call": 1e-4}
            assert source == f"config_context over config file {path}"
            merged = routing.constants(config.routing_key())
            assert merged["fft_transform"] == 1e-9 and merged["fft_call"] == 1e-4
            assert merged["fft_copy"] == routing.DEFAULTS["fft_copy"]
    finally:
        monkeypatch.delenv("ARRAYCONV_CONFIG")
        config.reload()


@pytest.mark.skipif(arrayconv.backends.get("fft").engine()[0].name != "mkl",
                    reason="the whole-frame path and its terms are MKL's (mkl-fft)")
def test_single_channel_and_depthwise_filters_are_priced_by_the_whole_frame_path(clean):
    # priced as the staged path (2.5x too high for them), these ran on direct, 3.3x slower than fft
    assert arrayconv.explain(input=(4, 1, 200000), weight=(1, 1, 255), padding=127).backend == "fft"
    assert arrayconv.explain(input=(4, 64, 16384), weight=(64, 1, 255), groups=64, padding=127).backend == "fft"
    assert arrayconv.explain(input=(4, 1, 200000), weight=(1, 1, 31), padding=15).backend == "direct"
