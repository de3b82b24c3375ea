"""arrayconv.policy: which backend runs a call, and why, rule by rule.

``policy.choose`` (the per-call path, cached) and ``policy.decide`` (what
explain() reports) are called directly on specs:

* the backend argument forces a backend, over the ``backend`` setting and
  the skip list; ``"auto"`` hands the call back to the cost model;
* the ``backend`` setting forces one from each configuration layer
  (config_context, set_config, environment, config file), with its source;
* the skip setting removes backends from the automatic choice only;
* unknown, unloadable or unable backends raise ValueErrors that name the
  backend argument or setting and list the available backends;
* the automatic choice is a registered backend with the least estimate that
  decide reports, each estimate the backend's own (CostModel: its cost terms
  priced by the routing constants), re-decided when the constants, the skip
  list or the thread count change;
* the device rules out the CPU backends;
* the choice sees shapes only: non-finite values are rerouted away from the
  fft algorithm by the fft backend itself (backends/fft.py), not by the policy.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from arrayconv.backends.direct import DirectBackend
from hypothesis import given
from hypothesis import strategies as st

import arrayconv
from arrayconv import config, policy, registry, routing, shape, threads


BUILTIN = [name for name in registry.available() if not name.startswith("policy_")]


def spec_of(input_shape, weight_shape, dtype="float32", **options):
    """A validated spec of a call with these shapes (no memory: broadcast zeros)."""
    zeros = np.zeros((), dtype)
    return shape.normalize(np.broadcast_to(zeros, input_shape), np.broadcast_to(zeros, weight_shape), **options)


# The cost model sends the long kernel to fft and the short one to direct (estimates 10x and more apart).
LONG = spec_of((4, 16, 32768), (16, 16, 2049), padding=1024)
SHORT = spec_of((8, 64, 4096), (64, 64, 3), padding=1)


# the `clean` fixture (no settings anywhere) is conftest.py's


def _cost_model_choice(spec, device="cpu"):
    decision = policy.decide(spec, device)
    assert decision.source == "cost model"
    return decision.backend.name


def test_the_reference_specs_have_a_clear_cost_model_choice(clean):
    """The premise of the tests below: without settings LONG goes to fft and SHORT to direct."""
    assert _cost_model_choice(LONG) == "fft" and policy.choose(LONG, "cpu").name == "fft"
    assert _cost_model_choice(SHORT) == "direct" and policy.choose(SHORT, "cpu").name == "direct"


# --------------------------------------------------------------------------
# The automatic choice


@st.composite
def specs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 4]))
    cin, cout = groups * draw(st.integers(1, 32)), groups * draw(st.integers(1, 32))
    kernel = draw(st.one_of(st.integers(1, 9), st.integers(10, 3000)))
    stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    extent = dilation * (kernel - 1) + 1
    length = draw(st.integers(extent, extent + 20000))
    batch = draw(st.integers(0, 8))
    dtype = draw(st.sampled_from(["float32", "float64", "complex64", "float16"]))
    return spec_of((batch, cin, length), (cout, cin // groups, kernel), dtype, stride=stride, dilation=dilation,
                   groups=groups, padding=draw(st.integers(0, 5)))


@given(spec=specs(), device=st.sampled_from(["cpu", "cpu", "cuda:0"]))
def test_automatic_choice_is_a_registered_backend_with_the_least_reported_estimate(spec, device):
    decision = policy.decide(spec, device)
    chosen = policy.choose(spec, device)
    assert chosen is decision.backend
    assert chosen.name in registry.available() and registry.get(chosen.name) is chosen
    assert decision.source == "cost model"
    # every available backend is either estimated or said unable, never both
    assert set(decision.estimates) | set(decision.unable) == set(registry.available())
    assert not set(decision.estimates) & set(decision.unable)
    for name, estimate in decision.estimates.items():
        backend = registry.get(name)
        assert backend.supports(spec, device) is None
        assert estimate == float(backend.estimate(spec)) and estimate >= 0.0
    for name, reason in decision.unable.items():
        assert reason == registry.get(name).supports(spec, device) and reason
    assert decision.estimates[chosen.name] == min(decision.estimates.values())
    if device != "cpu":
        assert set(decision.unable) >= {"direct", "fft"}
        assert "runs on the CPU only" in decision.unable["direct"]
    assert policy.choose(spec, device) is chosen  # the cached decision


def test_the_device_rules_out_the_cpu_backends(clean):
    decision = policy.decide(SHORT, "cuda:0")
    assert decision.unable["direct"] == "runs on the CPU only, the arrays are on 'cuda:0'"
    assert decision.unable["fft"] == "runs on the CPU only, the arrays are on 'cuda:0'"
    assert policy.choose(SHORT, "cuda:0").name == decision.backend.name != "direct"


# --------------------------------------------------------------------------
# The backend argument


def test_backend_argument_forces_a_backend_the_cost_model_would_not_pick(clean):
    chosen = policy.choose(SHORT, "cpu", "fft")
    assert chosen is registry.get("fft")
    decision = policy.decide(SHORT, "cpu", "fft")
    assert decision.backend is chosen and decision.source == "the backend argument"
    # the estimates are still reported, and they say fft is not the cheapest
    assert set(decision.estimates) >= {"direct", "fft"}
    assert decision.estimates["direct"] < decision.estimates["fft"]
    assert policy.choose(SHORT, "cpu").name == "direct"  # forcing cached nothing


def test_backend_argument_wins_over_the_backend_setting_and_the_skip_list(clean):
    with arrayconv.config_context(backend="direct", skip=["fft"]):
        assert policy.choose(LONG, "cpu").name == "direct"
        assert policy.choose(SHORT, "cpu", "fft").name == "fft"
        decision = policy.decide(SHORT, "cpu", "fft")
        assert (decision.backend.name, decision.source) == ("fft", "the backend argument")
        assert decision.unable["fft"] == "skipped by the skip setting"  # skipped for the automatic choice only


def test_auto_argument_hands_the_call_back_to_the_cost_model(clean):
    arrayconv.set_config(backend="fft")
    assert policy.choose(SHORT, "cpu").name == "fft"
    assert policy.choose(SHORT, "cpu", "auto").name == "direct"
    decision = policy.decide(SHORT, "cpu", "auto")
    assert (decision.backend.name, decision.source) == ("direct", "cost model")
    with arrayconv.config_context(skip=["direct"]):  # but the skip list still applies to it
        assert policy.choose(SHORT, "cpu", "auto").name != "direct"


# --------------------------------------------------------------------------
# The backend setting, from each layer


def _set_in_context(monkeypatch, tmp_path, stack):
    stack.enter_context(arrayconv.config_context(backend="fft"))
    return "config_context"


def _set_globally(monkeypatch, tmp_path, stack):
    arrayconv.set_config(backend="fft")
    return "set_config"


def _set_in_environment(monkeypatch, tmp_path, stack):
    monkeypatch.setenv("ARRAYCONV_BACKEND", "fft")
    config.reload()
    return "environment variable ARRAYCONV_BACKEND"


def _set_in_file(monkeypatch, tmp_path, stack):
    path = tmp_path / "config.toml"
    path.write_text('backend = "fft"\n')
    monkeypatch.setenv("ARRAYCONV_CONFIG", str(path))
    config.reload()
    return f"config file {path}"


@pytest.mark.parametrize("setter", [_set_in_context, _set_globally, _set_in_environment, _set_in_file])
def test_backend_setting_forces_a_backend_and_names_its_layer(clean, tmp_path, setter):
    with contextlib.ExitStack() as stack:
        source = setter(clean, tmp_path, stack)
        assert policy.choose(SHORT, "cpu").name == "fft"
        decision = policy.decide(SHORT, "cpu")
        assert (decision.backend.name, decision.source) == ("fft", f"the backend setting ({source})")
        with arrayconv.config_context(skip=["fft"]):  # a forced backend is not an automatic choice
            assert policy.choose(SHORT, "cpu").name == "fft"
        with arrayconv.config_context(backend="auto"):  # a more specific layer hands it back
            assert policy.choose(SHORT, "cpu").name == "direct"
            assert policy.decide(SHORT, "cpu").source == "cost model"
    clean.delenv("ARRAYCONV_BACKEND", raising=False)
    clean.delenv("ARRAYCONV_CONFIG", raising=False)
    config.reload()
    arrayconv.set_config(backend=None)
    assert policy.choose(SHORT, "cpu").name == "direct"  # nothing of the setting is left behind


# --------------------------------------------------------------------------
# The skip setting


def test_skipped_backends_are_left_out_of_the_automatic_choice(clean):
    assert policy.choose(LONG, "cpu").name == "fft"
    with arrayconv.config_context(skip=["fft"]):
        assert policy.choose(LONG, "cpu").name == "direct"
        decision = policy.decide(LONG, "cpu")
        assert decision.backend.name == "direct"
        assert decision.unable["fft"] == "skipped by the skip setting"
        assert "fft" not in decision.estimates
    assert policy.choose(LONG, "cpu").name == "fft"  # the cached decision did not outlive the context


def test_skip_from_the_environment(clean):
    clean.setenv("ARRAYCONV_SKIP", "fft, array_api")
    config.reload()
    decision = policy.decide(LONG, "cpu")
    assert policy.choose(LONG, "cpu").name == decision.backend.name == "direct"
    assert set(decision.estimates) == {"direct"}


def test_skipping_a_backend_that_is_not_registered_changes_nothing(clean):
    with arrayconv.config_context(skip=["no_such_backend"]):
        assert policy.choose(LONG, "cpu").name == "fft"
        assert policy.decide(LONG, "cpu").unable == {}


def test_skipping_every_backend_is_an_error_that_says_why_for_each(clean):
    with arrayconv.config_context(skip=BUILTIN):
        for call in (policy.choose, policy.decide):
            with pytest.raises(ValueError, match="no available backend can run this call on device 'cpu'") as info:
                call(SHORT, "cpu")
            for name in BUILTIN:
                assert f"{name!r}: skipped by the skip setting" in str(info.value)
        assert policy.choose(SHORT, "cpu", "direct").name == "direct"  # forcing one still works


def test_no_able_backend_on_a_device_is_an_error_naming_the_device(clean):
    with arrayconv.config_context(skip=["array_api"]), pytest.raises(
        ValueError, match="no available backend can run this call on device 'cuda:0'"
    ) as info:
        policy.choose(SHORT, "cuda:0")
    assert "'direct': runs on the CPU only" in str(info.value)


# --------------------------------------------------------------------------
# Backends that cannot be had


def _available_listed(message):
    return all(repr(name) in message for name in registry.available())


@pytest.mark.parametrize("call", [policy.choose, policy.decide])
def test_unknown_backend_argument_is_named_with_the_available_ones(clean, call):
    with pytest.raises(ValueError) as info:
        call(SHORT, "cpu", "nope")
    message = str(info.value)
    assert "unknown backend='nope'" in message and "(backend set by the backend argument)" in message
    assert _available_listed(message)


def test_unknown_backend_setting_names_its_layer(clean):
    pattern = r"unknown backend='nope'.*\(backend set by the backend setting \(config_context\)\)"
    with arrayconv.config_context(backend="nope"), pytest.raises(ValueError, match=pattern):
        policy.choose(SHORT, "cpu")


@pytest.mark.parametrize("bad", [3, "", ("direct",)])
def test_a_backend_argument_that_is_not_a_name_is_refused(clean, bad):
    with pytest.raises(ValueError, match=r"unknown backend=") as info:
        policy.choose(SHORT, "cpu", bad)
    assert f"backend={bad!r}" in str(info.value)


def test_unloadable_backend_is_refused_with_its_reason(clean):
    def factory():
        raise ImportError("needs libpolicytest")

    registry.register("policy_broken", factory)
    try:
        for call in (policy.choose, policy.decide):
            with pytest.raises(ValueError) as info:
                call(SHORT, "cpu", "policy_broken")
            message = str(info.value)
            assert "backend='policy_broken' is registered but could not be loaded" in message
            assert "ImportError: needs libpolicytest" in message
            assert "(backend set by the backend argument)" in message and _available_listed(message)
        # the automatic choice does without it
        decision = policy.decide(SHORT, "cpu")
        assert decision.backend.name == policy.choose(SHORT, "cpu").name == "direct"
        assert "policy_broken" not in decision.estimates and "policy_broken" not in decision.unable
    finally:
        registry.unregister("policy_broken")


@pytest.mark.parametrize(
    "argument,setting,source",
    [("direct", None, "the backend argument"), (None, "fft", "the backend setting (config_context)")],
)
def test_forced_backend_that_cannot_serve_the_device_says_why_and_who_forced_it(clean, argument, setting, source):
    name = argument or setting
    with arrayconv.config_context(backend=setting):
        for call in (policy.choose, policy.decide):
            with pytest.raises(ValueError) as info:
                call(SHORT, "cuda:0", argument)
            message = str(info.value)
            assert message.startswith(
                f"backend={name!r} (set by {source}) cannot run this call: runs on the CPU only, "
                "the arrays are on 'cuda:0'; available backends: "
            )
            assert _available_listed(message)


# --------------------------------------------------------------------------
# Cost estimates (registry.CostModel) drive the choice


class _Priced(DirectBackend):
    """A direct backend priced by one plug-in routing constant per unit of work."""

    def __init__(self, name, units=lambda spec: float(spec.macs)):
        self.name = name
        self.units = units

    def cost_terms(self, spec):
        return {f"policytest_{self.name}": self.units(spec)}


@pytest.fixture
def priced():
    backends = {"policy_a": _Priced("policy_a"), "policy_b": _Priced("policy_b")}
    for name, backend in backends.items():
        registry.register(name, backend)
    yield backends
    for name in backends:
        registry.unregister(name)


def test_the_estimate_is_the_cost_terms_priced_by_the_routing_constants(clean, priced):
    spec = spec_of((2, 8, 300), (8, 8, 5))
    cheap = {"policytest_policy_a": 1e-16, "policytest_policy_b": 3e-16}
    with arrayconv.config_context(routing=cheap):
        decision = policy.decide(spec, "cpu")
        constants = routing.constants(config.routing_key())
        for name in priced:
            assert decision.estimates[name] == pytest.approx(
                routing.predict(priced[name].cost_terms(spec), constants), rel=1e-12)
        assert decision.estimates["policy_a"] == pytest.approx(spec.macs * 1e-16)
        assert decision.backend.name == policy.choose(spec, "cpu").name == "policy_a"
    dear = {"policytest_policy_a": 5e-16, "policytest_policy_b": 3e-16}
    with arrayconv.config_context(routing=dear):  # new constants: decided again, not taken from the cache
        assert policy.decide(spec, "cpu").backend.name == policy.choose(spec, "cpu").name == "policy_b"
    with arrayconv.config_context(routing=cheap):
        assert policy.choose(spec, "cpu").name == "policy_a"


def test_a_change_of_thread_count_decides_again(clean):
    if threads.get() < 2:
        pytest.skip("needs at least two threads")
    serial = _Priced("policy_serial", units=lambda spec: 1.0 if threads.get() == 1 else 3.0)
    flat = _Priced("policy_flat", units=lambda spec: 2.0)
    registry.register(serial.name, serial)
    registry.register(flat.name, flat)
    constants = {"policytest_policy_serial": 1e-12, "policytest_policy_flat": 1e-12}
    spec = spec_of((1, 3, 40), (2, 3, 3))
    try:
        with arrayconv.config_context(routing=constants, threads=1):
            assert policy.choose(spec, "cpu").name == "policy_serial"
        with arrayconv.config_context(routing=constants, threads=2):
            assert threads.get() == 2
            assert policy.choose(spec, "cpu").name == "policy_flat"
            assert policy.decide(spec, "cpu").backend.name == "policy_flat"
    finally:
        registry.unregister(serial.name)
        registry.unregister(flat.name)


def test_an_empty_call_costs_only_the_fixed_cost_and_goes_to_a_dedicated_backend(clean):
    """An empty output computes nothing, but each backend's fixed cost still counts: the generic
    array_api backend (priced above every dedicated one) never wins it."""
    empty = spec_of((0, 4, 50), (3, 4, 3))
    assert empty.is_empty
    decision = policy.decide(empty, "cpu")
    constants = routing.constants(config.routing_key())
    for name, seconds in decision.estimates.items():
        assert seconds == pytest.approx(constants[f"{name}_call"]), name
    assert decision.backend.name == "direct"
    assert policy.choose(empty, "cpu").name == "direct"
    assert arrayconv.explain((0, 4, 10), (3, 4, 3)).backend == "direct"


# --------------------------------------------------------------------------
# Values: the policy sees shapes only; fft reroutes non-finite calls itself


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_values_do_not_change_the_choice_and_get_the_direct_result(clean, value):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 8000)).astype(np.float32)
    w = rng.standard_normal((1, 1, 1000)).astype(np.float32)
    finite_spec = shape.normalize(x, w)
    assert policy.choose(finite_spec, "cpu").name == "fft"
    # finite values: the automatic call runs the fft algorithm (its rounding differs from direct's)
    automatic = arrayconv.conv1d(x, w)
    np.testing.assert_array_equal(automatic, arrayconv.conv1d(x, w, backend="fft"))
    assert not np.array_equal(automatic, arrayconv.conv1d(x, w, backend="direct"))
    x[0, 0, 4000] = value
    spec = shape.normalize(x, w)
    assert spec == finite_spec and policy.choose(spec, "cpu").name == "fft"
    result = arrayconv.conv1d(x, w)
    np.testing.assert_array_equal(result, arrayconv.conv1d(x, w, backend="direct"))
    touched = np.zeros(result.shape[2], bool)
    touched[4000 - 999 : 4001] = True  # the outputs whose window holds the sample
    assert not np.isfinite(result[0, 0, touched]).any()
    assert np.isfinite(result[0, 0, ~touched]).all()  # not spread over the whole output
