"""Every array namespace: the result is of the input's kind, on its device, with torch's values.

The same property tests run for each namespace present: NumPy, torch (CPU),
array-api-strict on its CPU device (reaching the CPU backends through
DLPack) and on a second device (served by the generic array_api backend,
which may only use standard functions there), and CuPy where a GPU is.
"""

import numpy as np
import pytest
from hypothesis import given

import arrayconv
from oracle import assert_close, reference, torch_outcome
from strategies import FLOAT_DTYPES, conv_cases

array_api_compat = pytest.importorskip("array_api_compat")


def _cupy_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


class Namespace:
    def __init__(self, name, module, device=None, dtypes=FLOAT_DTYPES):
        self.name, self.module, self.device, self.dtypes = name, module, device, dtypes

    def asarray(self, a):
        if a is None:
            return None
        if self.name == "torch":
            return self.module.from_numpy(np.ascontiguousarray(a))
        if self.device is None:
            return self.module.asarray(a)
        return self.module.asarray(a, device=self.device)

    def to_numpy(self, a):
        if self.name == "cupy":
            return self.module.asnumpy(a)
        if self.name.startswith("array_api_strict"):
            return np.asarray(self.module.asarray(a, device=self.module.Device("CPU_DEVICE")))
        return np.asarray(a)

    def __repr__(self):
        return self.name


def _namespaces():
    import torch
    import array_api_strict

    found = [
        Namespace("numpy", np),
        Namespace("torch", torch),
        # the standard has no float16
        Namespace("array_api_strict", array_api_strict, dtypes=FLOAT_DTYPES[1:]),
        Namespace("array_api_strict@device1", array_api_strict, array_api_strict.Device("device1"),
                  dtypes=FLOAT_DTYPES[1:]),
    ]
    if _cupy_available():
        import cupy

        found.append(Namespace("cupy", cupy))
    return found


NAMESPACES = _namespaces()


@pytest.fixture(params=NAMESPACES, ids=repr, scope="module")
def namespace(request):
    return request.param


def test_cupy_runs_where_a_gpu_is():
    if not _cupy_available():
        pytest.skip("no CUDA GPU with CuPy here: the cupy namespace is not tested on this machine")
    assert any(ns.name == "cupy" for ns in NAMESPACES)


@given(data=conv_cases(same_dtype=True, allow_empty=False))
def test_result_kind_device_dtype_and_values(namespace, data):
    case = data
    if np.dtype(case.x.dtype).name not in namespace.dtypes:
        return
    expected, torch_error = torch_outcome(case)
    args = (namespace.asarray(case.x), namespace.asarray(case.w), namespace.asarray(case.b), *case.args()[3:])
    if torch_error is not None:
        with pytest.raises((ValueError, TypeError)):
            arrayconv.conv1d(*args)
        return
    result = arrayconv.conv1d(*args)
    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(args[0])
    assert str(array_api_compat.device(result)) == str(array_api_compat.device(args[0]))
    values = namespace.to_numpy(result)
    assert values.dtype == expected.dtype and values.shape == expected.shape
    wide, scale = reference(*case.args(), case.result_dtype())
    assert_close(values, wide, scale, values.dtype.name)


def smooth(signal, taps):
    """Array-API-generic user code: a moving average with reflected ends, any library, any device."""
    xp = array_api_compat.array_namespace(signal)
    kernel = xp.ones((1, 1, taps), dtype=signal.dtype, device=array_api_compat.device(signal)) / taps
    return arrayconv.conv1d(signal[:, None, :], kernel, padding="same", padding_mode="reflect")[:, 0, :]


def test_generic_user_code_runs_on_every_namespace(namespace):
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((3, 40))
    result = smooth(namespace.asarray(signal), 5)
    assert array_api_compat.array_namespace(result) is array_api_compat.array_namespace(namespace.asarray(signal))
    padded = np.pad(signal, ((0, 0), (2, 2)), mode="reflect")
    expected = np.stack([np.convolve(row, np.ones(5) / 5, mode="valid") for row in padded])
    np.testing.assert_allclose(namespace.to_numpy(result), expected, rtol=1e-12, atol=1e-12)


def test_layer_parameters_in_the_namespace(namespace):
    if namespace.name == "numpy":
        layer = arrayconv.Conv1d(4, 6, 3, rng=1)
    else:
        layer = arrayconv.Conv1d(4, 6, 3, rng=1, xp=namespace.module, device=namespace.device)
    reference_layer = arrayconv.Conv1d(4, 6, 3, rng=1)
    x = np.random.default_rng(2).standard_normal((2, 4, 20)).astype(np.float32)
    sample = namespace.asarray(x)
    assert array_api_compat.array_namespace(layer.weight) is array_api_compat.array_namespace(sample)
    assert str(array_api_compat.device(layer.weight)) == str(array_api_compat.device(sample))
    np.testing.assert_array_equal(namespace.to_numpy(layer.weight), reference_layer.weight)  # same draw
    y = layer(sample)
    np.testing.assert_allclose(namespace.to_numpy(y), reference_layer(x), rtol=1e-5, atol=1e-6)
    layer.load_state_dict({"weight": np.ones((6, 4, 3)), "bias": np.zeros(6)})
    assert str(array_api_compat.device(layer.weight)) == str(array_api_compat.device(sample))
    assert float(namespace.to_numpy(layer.weight).sum()) == 72.0


def test_mixed_libraries_are_a_type_error():
    import torch

    with pytest.raises(TypeError, match="must be arrays of one kind.*convert them"):
        arrayconv.conv1d(torch.ones(1, 2, 8), np.ones((3, 2, 3), np.float32))


def test_mixed_devices_are_a_type_error():
    import array_api_strict as xps

    x = xps.asarray(np.ones((1, 2, 8)))
    w = xps.asarray(np.ones((3, 2, 3)), device=xps.Device("device1"))
    with pytest.raises(TypeError, match="must be on one device.*move them"):
        arrayconv.conv1d(x, w)


def test_non_cpu_devices_go_to_the_generic_backend():
    import array_api_strict as xps

    device = xps.Device("device1")
    x = xps.asarray(np.ones((1, 2, 300)), device=device)
    w = xps.asarray(np.ones((3, 2, 100)), device=device)
    explanation = arrayconv.explain(x, w)
    assert explanation.backend == "array_api"
    assert "CPU only" in explanation.unable["direct"]
    y = arrayconv.conv1d(x, w)  # the fft path of the generic backend (K >= 64)
    assert y.device == device
    np.testing.assert_allclose(np.asarray(xps.asarray(y, device=xps.Device("CPU_DEVICE"))), 200.0)


def test_cpu_arrays_of_other_libraries_use_the_fast_backends():
    import torch

    x, w = torch.ones(2, 4, 5000), torch.ones(4, 4, 1500)
    assert arrayconv.explain(x, w).backend == "fft"
    assert arrayconv.explain(x, w[:, :, :3]).backend == "direct"


def test_generic_fft_path_keeps_non_finite_values_local():
    """The generic backend's fft would spread inf over every output: such calls take the per-tap path."""
    x = np.ones((1, 2, 300))
    x[0, 0, 5] = np.inf
    w = np.ones((3, 2, 64))
    expected = arrayconv.conv1d(x, w, backend="direct")
    result = arrayconv.conv1d(x, w, backend="array_api")
    np.testing.assert_array_equal(result, expected)
    assert np.isfinite(result).sum() == np.isfinite(expected).sum() > 0


def test_torch_parameters_load_without_their_autograd_graph():
    import torch

    source = torch.nn.Conv1d(4, 6, 3)
    layer = arrayconv.Conv1d(4, 6, 3, xp=torch)
    layer.load_state_dict({"weight": source.weight, "bias": source.bias})
    assert not layer.weight.requires_grad
    x = torch.randn(2, 4, 10)
    y = layer(x)  # no "requires grad" refusal: the parameters are plain tensors
    with torch.no_grad():
        torch.testing.assert_close(y, source(x), rtol=1e-5, atol=1e-6)
