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


def _compile_fused_body(tmp_path):
    """The fused kernel's C body in a CPU loop over output elements (T = double), as a shared library."""
    import ctypes
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("no C compiler to check the fused kernel's body on the CPU")
    source = tmp_path / "fused.c"
    params = "const double *xp, const double *w, long long cin_g, long long cout_g, long long cin_total, " \
             "long long padded, long long ksize, long long stride, long long dilation, long long length_out, " \
             "long long cout, double *out, long long count"
    source.write_text(
        "typedef double T;\n"
        f"void run({params}) {{\n"
        "  for (long long i = 0; i < count; ++i) {\n"
        "    double y;\n"
        f"{_gpu_plan.GROUPED_DIRECT_BODY}\n"
        "    out[i] = y;\n"
        "  }\n"
        "}\n"
    )
    library = tmp_path / "fused.so"
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    run = ctypes.CDLL(str(library)).run
    run.restype = None
    return run


@pytest.fixture(scope="module")
def fused_body(tmp_path_factory):
    return _compile_fused_body(tmp_path_factory.mktemp("fused"))


@given(case=conv_cases(same_dtype=True, dtypes=("float64",), allow_empty=False))
def test_fused_kernel_body_matches_direct(case, fused_body):
    """The fused GPU kernel's index arithmetic, compiled for the CPU, gives the direct backend's result."""
    import ctypes

    try:
        expected = arrayconv.conv1d(*case.args(), backend="direct")
    except (ValueError, TypeError):
        return
    x = case.x if case.x.ndim == 3 else case.x[None]
    spec = arrayconv.shape.normalize(x, *case.args()[1:])
    from arrayconv.backends import _generic
    import array_api_compat

    padded = np.ascontiguousarray(_generic.pad(array_api_compat.array_namespace(x), x, spec), dtype=np.float64)
    w = np.ascontiguousarray(case.w, dtype=np.float64)
    out = np.empty(spec.output_shape, dtype=np.float64)
    pointer = ctypes.POINTER(ctypes.c_double)
    longs = [spec.in_channels_per_group, spec.out_channels_per_group, spec.in_channels, padded.shape[2],
             spec.kernel_size, spec.stride, spec.dilation, spec.length_out, spec.output_channels]
    fused_body(padded.ctypes.data_as(pointer), w.ctypes.data_as(pointer), *map(ctypes.c_longlong, longs),
           out.ctypes.data_as(pointer), ctypes.c_longlong(out.size))
    if case.b is not None:
        out = out + case.b.reshape(1, -1, 1)
    expected = expected if expected.ndim == 3 else expected[None]
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_depthwise_layers_take_the_fused_kernel():
    spec = arrayconv.shape.normalize(np.zeros((8, 256, 4096), np.float32), np.zeros((256, 1, 31), np.float32),
                                     groups=256)
    assert _gpu_plan.algorithm(spec, routing.DEFAULTS) == "fused"
    wide = arrayconv.shape.normalize(np.zeros((8, 64, 4096), np.float32), np.zeros((64, 64, 3), np.float32))
    assert _gpu_plan.algorithm(wide, routing.DEFAULTS) == "taps"
