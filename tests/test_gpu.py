"""The cupy backend: its planning on any machine; its results on a CUDA GPU where there is one."""

import numpy as np
import pytest
from hypothesis import given

import arrayconv
from arrayconv import routing
from arrayconv.backends import _gpu_plan
from oracle import assert_close, reference, torch_outcome
from strategies import conv_cases


def _gpu():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


needs_gpu = pytest.mark.skipif(not _gpu(), reason="no CUDA GPU with CuPy on this machine: the cupy backend's results are not tested here")


@pytest.mark.parametrize("device,expected", [("cuda:0", True), ("<CUDA Device 1>", True), ("cpu", False),
                                             ("array_api_strict.Device('device1')", False)])
def test_cuda_devices_are_recognised(device, expected):
    assert _gpu_plan.is_cuda_device(device) is expected


def test_plan_moves_to_fft_as_kernels_grow():
    constants = routing.DEFAULTS
    chosen = []
    for kernel in (1, 3, 7, 31, 127, 511, 2047):
        spec = arrayconv.shape.normalize(np.zeros((8, 64, 16384), np.float32), np.zeros((64, 64, kernel), np.float32))
        chosen.append(_gpu_plan.uses_fft(spec, constants))
        terms = _gpu_plan.cost_terms(spec, constants)
        assert terms["cupy_call"] == 1.0 and all(value >= 0 for value in terms.values())
    assert chosen[0] is False and chosen[-1] is True
    assert chosen == sorted(chosen)  # once fft wins it keeps winning


def test_without_cupy_the_backend_is_listed_unavailable_with_its_reason():
    if _gpu():
        pytest.skip("CuPy is installed with a GPU here")
    try:
        import cupy  # noqa: F401
    except ImportError:
        assert "cupy" in arrayconv.backends.unavailable()
        assert "cupy" in arrayconv.backends.unavailable()["cupy"]


@needs_gpu
@given(case=conv_cases(same_dtype=True, dtypes=("float32", "float64", "complex64", "complex128")))
def test_cupy_matches_torch(case):
    import cupy

    expected, torch_error = torch_outcome(case)
    args = (*(None if a is None else cupy.asarray(a) for a in (case.x, case.w, case.b)), *case.args()[3:])
    if torch_error is not None:
        with pytest.raises((ValueError, TypeError)):
            arrayconv.conv1d(*args, backend="cupy")
        return
    result = arrayconv.conv1d(*args, backend="cupy")
    assert isinstance(result, cupy.ndarray) and result.dtype == expected.dtype
    wide, scale = reference(*case.args(), case.result_dtype())
    assert_close(cupy.asnumpy(result), wide, scale, result.dtype.name)


@needs_gpu
def test_torch_cuda_tensors_round_trip():
    import torch

    x = torch.randn(2, 4, 500, device="cuda")
    w = torch.randn(6, 4, 9, device="cuda")
    y = arrayconv.conv1d(x, w, padding=4)
    assert y.is_cuda
    torch.testing.assert_close(y, torch.nn.functional.conv1d(x, w, padding=4), rtol=1e-4, atol=1e-4)
