"""The backend registry and the selection policy."""

import numpy as np
import pytest

import arrayconv
from arrayconv import policy, registry
from arrayconv.backends.direct import DirectBackend

X = np.random.default_rng(0).standard_normal((2, 3, 16))
W = np.random.default_rng(1).standard_normal((4, 3, 3))


def test_direct_is_available_and_forced():
    assert "direct" in arrayconv.backends.available()
    np.testing.assert_array_equal(arrayconv.conv1d(X, W, backend="direct"), arrayconv.conv1d(X, W))


def test_unknown_backend_lists_available():
    with pytest.raises(ValueError) as info:
        arrayconv.conv1d(X, W, backend="nope")
    message = str(info.value)
    assert "backend='nope'" in message and "'direct'" in message


class _PickyBackend(DirectBackend):
    """A direct backend that only serves even output lengths and is always cheapest."""

    name = "picky"

    def __init__(self):
        self.runs = 0

    def supports(self, spec, device):
        return None if spec.length_out % 2 == 0 else "serves even output lengths only"

    def estimate(self, spec):
        return 0.0

    def run(self, spec, x, w, b):
        self.runs += 1
        return super().run(spec, x, w, b)


@pytest.fixture
def picky():
    backend = _PickyBackend()
    registry.register("picky", backend)
    yield backend
    registry.unregister("picky")


def test_a_subclass_that_overrides_run_runs_on_every_call(picky):
    """The frontend keeps a call bound to a signature only where it is the backend's own ``run``."""
    x, w = X.astype(np.float32), W.astype(np.float32)
    expected = arrayconv.conv1d(x, w, backend="direct")
    for count in (1, 2, 3):
        np.testing.assert_array_equal(arrayconv.conv1d(x, w, backend="picky"), expected)
        assert picky.runs == count
    assert picky.bind(arrayconv.shape.normalize(x, w)) is None
    assert registry.get("direct").bind(arrayconv.shape.normalize(x, w)) is not None


def test_unable_backend_says_why(picky):
    arrayconv.conv1d(X, W, backend="picky")  # L_out = 14: served
    assert picky.runs == 1
    with pytest.raises(ValueError) as info:
        arrayconv.conv1d(X, W[..., :2], backend="picky")  # L_out = 15: refused
    assert "serves even output lengths only" in str(info.value)
    assert "'direct'" in str(info.value)


def test_policy_picks_cheapest_able_backend(picky):
    spec_even = arrayconv.shape.normalize(X, W)  # L_out 14
    spec_odd = arrayconv.shape.normalize(X, W[..., :2])  # L_out 15
    assert policy.choose(spec_even, "cpu").name == "picky"
    assert policy.choose(spec_odd, "cpu").name == "direct"
    arrayconv.conv1d(X, W)
    assert picky.runs == 1


def test_no_backend_for_device():
    spec = arrayconv.shape.normalize(X, W)
    assert policy.choose(spec, "cuda:0").name == "array_api"  # the generic fallback serves any device
    with arrayconv.config_context(skip=["array_api"]):
        with pytest.raises(ValueError, match="CPU only"):
            policy.choose(spec, "cuda:0")


def test_broken_backend_is_reported_not_fatal():
    def factory():
        raise ImportError("needs libfoo")

    registry.register("broken", factory)
    try:
        assert "broken" not in arrayconv.backends.available()
        assert "needs libfoo" in arrayconv.backends.unavailable()["broken"]
        with pytest.raises(ValueError, match="needs libfoo"):
            arrayconv.conv1d(X, W, backend="broken")
        np.testing.assert_array_equal(arrayconv.conv1d(X, W), arrayconv.conv1d(X, W, backend="direct"))
    finally:
        registry.unregister("broken")


def test_register_rejects_bad_name():
    with pytest.raises(TypeError, match="name"):
        registry.register("", DirectBackend())


def test_importing_arrayconv_imports_no_backend(tmp_path):
    import subprocess
    import sys

    code = "import sys, arrayconv; print('arrayconv.backends.direct' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_zero_batch_with_several_backends(picky):
    """With more than one able backend the estimates run, also for empty outputs."""
    x, w = np.zeros((0, 64, 100), np.float32), np.zeros((64, 64, 3), np.float32)
    assert arrayconv.conv1d(x, w).shape == (0, 64, 98)
    # an empty call costs only the backend's fixed cost
    fixed = arrayconv.routing.constants(arrayconv.config.routing_key())["direct_call"]
    assert DirectBackend().estimate(arrayconv.shape.normalize(x, w)) == fixed
