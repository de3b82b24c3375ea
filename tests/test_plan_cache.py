"""The plain path plans a NumPy call once per signature and reuses the plan."""

import numpy as np
import pytest

import arrayconv
from arrayconv import execute, plain, policy, shape
from arrayconv.backends import direct_plan
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


def _kept_entry(x, w, b=None, **kwargs):
    """The table's (spec, backend, bound call) for a call of these arrays and arguments."""
    arguments = tuple(kwargs.get(name, default) for name, default in
                      (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1),
                       ("padding_mode", "zeros"), ("backend", None)))
    return plain._planned[plain._signature((x, w, b), arguments)]


@pytest.mark.parametrize("layer", [
    dict(shape_x=(2, 16, 70), shape_w=(24, 16, 3)),              # the own kernel
    dict(shape_x=(2, 8, 70), shape_w=(8, 1, 5), groups=8),       # depthwise: the loops path
    dict(shape_x=(1, 64, 1000), shape_w=(96, 64, 5), stride=2),  # the kernel on two threads
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("unbatched", [False, True])
def test_a_planned_numpy_call_runs_bound_and_gives_the_general_routes_bits(counted, layer, dtype, unbatched):
    layer = dict(layer)
    x, w = arrays(layer.pop("shape_x"), layer.pop("shape_w"), dtype)
    x = x[0].copy() if unbatched else x
    b = np.linspace(-1, 1, w.shape[0]).astype(dtype)
    x_before, w_before = x.copy(), w.copy()
    first = arrayconv.conv1d(x, w, b, **layer)
    spec, chosen, bound = _kept_entry(x, w, b, **layer)
    assert chosen.name == "direct" and bound is not None
    if spec.macs > 1 << 21:  # several threads where the process has them
        assert direct_plan.plan(spec, arrayconv.threads.get(), direct_plan.KERNEL).threads == min(
            2, arrayconv.threads.get())
    again = arrayconv.conv1d(x, w, b, **layer)  # through the bound call
    general = execute.run(spec, chosen, x, w, b)
    assert again.shape == first.shape == general.shape and again.dtype == dtype
    np.testing.assert_array_equal(again, general)
    np.testing.assert_array_equal(again, first)
    assert again is not first and not np.shares_memory(again, x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(w, w_before)
    expected = arrayconv.conv1d(x, w, b, **{**layer, "backend": "array_api"})
    tolerance = (1e-5 if dtype == np.float32 else 1e-12) * np.abs(expected).max()  # relative to the output's size
    np.testing.assert_allclose(again, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("change", ["float16", "fortran_weight", "big_endian", "fft", "complex_blas"])
def test_calls_that_need_conversions_or_other_backends_are_not_bound(counted, change):
    x, w = arrays()
    kwargs = {}
    if change == "float16":  # computed in float32, returned in float16
        x, w = x.astype(np.float16), w.astype(np.float16)
    elif change == "fortran_weight":
        w = np.asfortranarray(w)
    elif change == "big_endian":
        x = x.astype(">f4")
    elif change == "fft":
        kwargs["backend"] = "fft"
    else:  # complex layers run on the BLAS, which is pinned per call
        x, w = arrays(shape_x=(2, 16, 50), shape_w=(16, 16, 3), dtype=np.complex64)
    first = arrayconv.conv1d(x, w, **kwargs)
    _, chosen, bound = _kept_entry(x, w, **kwargs)
    assert bound is None and chosen.name == kwargs.get("backend", "direct")
    again = arrayconv.conv1d(x, w, **kwargs)
    np.testing.assert_array_equal(again, first)
    assert again.dtype == first.dtype == np.result_type(x, w).newbyteorder("=")


def test_a_bound_call_follows_the_thread_setting(counted):
    x, w = arrays(shape_x=(1, 64, 2000), shape_w=(96, 64, 5))
    with arrayconv.config_context(threads=1):
        one = arrayconv.conv1d(x, w)
        bound_one = _kept_entry(x, w)[2]
    with arrayconv.config_context(threads=2):
        if arrayconv.threads.get() < 2:
            pytest.skip("OpenMP gives this process one thread")
        two = arrayconv.conv1d(x, w)
        bound_two = _kept_entry(x, w)[2]
    assert bound_one is not None and bound_two is not None and bound_one is not bound_two
    np.testing.assert_array_equal(one, two)  # the kernel's bits do not depend on the thread count
