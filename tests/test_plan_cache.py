"""The plain path plans a NumPy call once per signature and reuses the plan."""

import numpy as np
import pytest

import arrayconv
from arrayconv import plain, policy, shape
from arrayconv.shape import memory


@pytest.fixture
def counted(monkeypatch):
    """Counts of shape.normalize and policy.choose calls, from an empty plan table."""
    plain._planned.clear()
    counts = {"normalize": 0, "choose": 0}

    def counting(name, function):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(shape, "normalize", counting("normalize", shape.normalize))
    monkeypatch.setattr(policy, "choose", counting("choose", policy.choose))
    yield counts
    plain._planned.clear()


def arrays(shape_x=(2, 4, 50), shape_w=(6, 4, 3), dtype=np.float32):
    rng = np.random.default_rng(0)
    return rng.standard_normal(shape_x).astype(dtype), rng.standard_normal(shape_w).astype(dtype)


def test_a_repeated_call_is_planned_once_and_gives_the_same_values(counted):
    x, w = arrays()
    first = arrayconv.conv1d(x, w, padding=1)
    for _ in range(3):
        np.testing.assert_array_equal(arrayconv.conv1d(x, w, padding=1), first)
    assert counted == {"normalize": 1, "choose": 1}
    other_x, other_w = arrays()
    arrayconv.conv1d(other_x * 2, other_w, padding=1)  # other arrays, same signature
    assert counted["normalize"] == 1


@pytest.mark.parametrize("change", [
    dict(padding=2), dict(stride=2), dict(padding_mode="reflect"), dict(backend="fft"), dict(bias=True),
    dict(dtype=np.float64), dict(length=51), dict(unbatched=True), dict(noncontiguous=True),
])
def test_any_change_of_signature_is_planned_again(counted, change):
    x, w = arrays()
    arrayconv.conv1d(x, w, padding=1)
    kwargs = dict(padding=1)
    kwargs.update({key: value for key, value in change.items() if key in ("padding", "stride", "padding_mode", "backend")})
    if "dtype" in change:
        x, w = arrays(dtype=change["dtype"])
    if "length" in change:
        x, w = arrays(shape_x=(2, 4, 51))
    if "unbatched" in change:
        x = x[0].copy()
    if "noncontiguous" in change:
        x = np.asfortranarray(x)
    bias = np.ones(6, np.float32) if "bias" in change else None
    result = arrayconv.conv1d(x, w, bias, **kwargs)
    assert counted["normalize"] == 2
    expected = arrayconv.conv1d(np.ascontiguousarray(x), w, bias, **{**kwargs, "backend": "array_api"})
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


def test_a_bool_argument_is_refused_after_its_int_twin_was_planned(counted):
    x, w = arrays()
    arrayconv.conv1d(x, w, stride=1)
    with pytest.raises(TypeError, match="stride"):
        arrayconv.conv1d(x, w, stride=True)  # True == 1 and hash(True) == hash(1): not the same signature


def test_settings_threads_and_backends_are_part_of_the_signature(counted):
    x, w = arrays()
    arrayconv.conv1d(x, w)
    with arrayconv.config_context(backend="fft"):
        assert arrayconv.explain(x, w).backend == "fft"
        arrayconv.conv1d(x, w)
    with arrayconv.config_context(threads=1):
        arrayconv.conv1d(x, w)
    assert counted["choose"] == 3
    arrayconv.conv1d(x, w)
    assert counted["choose"] == 3  # the first plan again


def test_the_memory_limit_still_refuses_a_planned_call(counted):
    x, w = arrays()
    arrayconv.conv1d(x, w)
    with arrayconv.config_context(memory_limit=64):
        with pytest.raises(arrayconv.WorkspaceError):
            arrayconv.conv1d(x, w)


def test_calls_held_to_the_memory_available_are_not_kept(counted, monkeypatch):
    monkeypatch.setattr(memory, "_SYSTEM_CHECK_BYTES", 1)  # every call reads the memory available
    x, w = arrays()
    arrayconv.conv1d(x, w)
    arrayconv.conv1d(x, w)
    assert counted["normalize"] == 2


def test_calls_of_other_kinds_are_planned_each_time(counted):
    x, w = arrays()
    arrayconv.conv1d(x, w, stride=(1,))  # a tuple argument
    arrayconv.conv1d(x, w, stride=(1,))
    arrayconv.conv1d(x, w, groups=np.int64(1))  # a NumPy integer
    arrayconv.conv1d(x, w, groups=np.int64(1))
    assert counted["normalize"] == 4
