"""conv1d of every backend against torch over random shapes and parameters."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import arrayconv
import torch
from oracle import assert_close, assert_matches_torch, reference, torch_conv1d, torch_outcome
from strategies import conv_cases

@given(case=conv_cases())
def test_matches_torch(backend_name, case):
    """Same shape, dtype and values as torch; an error exactly where torch errs."""
    assert_matches_torch(case, backend_name)


@given(case=conv_cases(same_dtype=True, allow_empty=False))
def test_same_dtype_matches_torch_in_that_dtype(backend_name, case):
    """Where torch computes in the same dtype, it agrees with torch's own result."""
    expected, torch_error = torch_outcome(case)
    if torch_error is not None:
        return
    result = arrayconv.conv1d(*case.args(), backend=backend_name)
    assert result.dtype == expected.dtype
    _, scale = reference(*case.args(), case.result_dtype())
    # Both are within RTOL of the exact result, so within twice of each other.
    assert_close(result, expected.astype(np.complex128 if expected.dtype.kind == "c" else np.float64),
                 2 * scale, result.dtype.name)


@given(
    length=st.integers(1, 300),
    kernel=st.integers(1, 12),
    stride=st.integers(1, 9),
    dilation=st.integers(1, 9),
    padding=st.integers(0, 20),
)
def test_output_length_formula(length, kernel, stride, dilation, padding):
    """L_out = (L + 2p - d(K-1) - 1) // s + 1, wherever torch accepts the call."""
    x = np.zeros((1, 1, length), np.float32)
    w = np.zeros((1, 1, kernel), np.float32)
    try:
        expected = torch_conv1d(x, w, None, stride, padding, dilation, 1, "zeros").shape[-1]
    except RuntimeError:
        with pytest.raises(ValueError):
            arrayconv.conv1d(x, w, None, stride, padding, dilation)
        return
    assert arrayconv.shape.output_length(length + 2 * padding, kernel, stride, dilation) == expected
    spec = arrayconv.shape.normalize(x, w, None, stride, padding, dilation)
    assert spec.length_out == expected
    assert arrayconv.conv1d(x, w, None, stride, padding, dilation).shape == (1, 1, expected)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel,dilation", [(2, 1), (4, 1), (4, 3), (3, 2), (1, 1), (6, 2)])
def test_same_padding_puts_odd_element_right(backend_name, mode, kernel, dilation):
    """'same' keeps the length; an odd total padding goes on the right, as torch does."""
    rng = np.random.default_rng(kernel * 10 + dilation)
    x = rng.standard_normal((2, 3, 17))
    w = rng.standard_normal((4, 3, kernel))
    expected = torch_conv1d(x, w, None, 1, "same", dilation, 1, mode)
    result = arrayconv.conv1d(x, w, padding="same", dilation=dilation, padding_mode=mode, backend=backend_name)
    assert result.shape == (2, 4, 17)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel,dilation,stride", [(1, 1, 1), (4, 1, 1), (4, 3, 2), (3, 2, 3), (6, 2, 5)])
def test_causal_padding_is_the_extent_on_the_left(backend_name, mode, kernel, dilation, stride):
    """'causal' pads dilation * (K - 1) samples on the left only, filled per mode (torch's F.pad
    computed by hand here, not through the oracle's own translation), at any stride.  With zeros and
    replicate, output t reads no sample after t * stride (reflect's and circular's left pads read
    samples further on)."""
    rng = np.random.default_rng(kernel * 100 + dilation * 10 + stride)
    x = rng.standard_normal((2, 3, 23))
    w = rng.standard_normal((4, 3, kernel))
    left = dilation * (kernel - 1)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (left, 0), mode="constant" if mode == "zeros" else mode)
    expected = torch.nn.functional.conv1d(padded, torch.from_numpy(w), stride=stride, dilation=dilation).numpy()
    result = arrayconv.conv1d(x, w, padding="causal", stride=stride, dilation=dilation, padding_mode=mode,
                              backend=backend_name)
    assert result.shape == (2, 4, (23 - 1) // stride + 1)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    if mode in ("reflect", "circular"):
        return
    later = x.copy()
    later[..., 10:] = 0  # output t reads samples up to t * stride only
    changed = arrayconv.conv1d(later, w, padding="causal", stride=stride, dilation=dilation, padding_mode=mode,
                               backend=backend_name)
    unaffected = (np.arange(result.shape[-1]) * stride) < 10
    np.testing.assert_allclose(changed[..., unaffected], result[..., unaffected], rtol=1e-12, atol=1e-12)


def test_causal_padding_in_the_layer_and_its_errors():
    layer = arrayconv.Conv1d(3, 4, 5, stride=2, dilation=2, padding="causal", padding_mode="replicate", rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 30)).astype(np.float32)
    assert layer.padding == "causal" and "padding=causal" in repr(layer)
    np.testing.assert_array_equal(layer(x), arrayconv.conv1d(x, layer.weight, layer.bias, 2, "causal", 2, 1,
                                                             "replicate"))
    with pytest.raises(ValueError, match=r"padding_mode='reflect' needs padding smaller than the input length 8"):
        arrayconv.conv1d(x[..., :8], layer.weight, padding="causal", dilation=2, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"'valid', 'same' or 'causal', got padding='casual'"):
        arrayconv.conv1d(x, layer.weight, padding="casual")


@pytest.mark.parametrize("batch", [0, 2])
def test_unbatched_equals_batched_slice(backend_name, batch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 30)).astype(np.float32)
    w = rng.standard_normal((6, 5, 3)).astype(np.float32)
    single = arrayconv.conv1d(x, w, padding=1, backend=backend_name)
    batched = arrayconv.conv1d(x[None], w, padding=1, backend=backend_name)
    assert single.shape == (6, 30)
    np.testing.assert_array_equal(single, batched[0])
    empty = arrayconv.conv1d(np.zeros((batch, 5, 30), np.float32), w, padding=1, backend=backend_name)
    assert empty.shape == (batch, 6, 30)


def test_float16_is_computed_in_float32(backend_name):
    """float16 in, float16 out, equal to the float32 computation rounded once."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 64)).astype(np.float16)
    w = rng.standard_normal((4, 8, 5)).astype(np.float16)
    result = arrayconv.conv1d(x, w, backend=backend_name)
    via_float32 = arrayconv.conv1d(x.astype(np.float32), w.astype(np.float32), backend=backend_name)
    assert result.dtype == np.float16
    np.testing.assert_array_equal(result, via_float32.astype(np.float16))


def test_complex_weight_is_not_conjugated(backend_name):
    x = np.array([[[1.0 + 0j, 0, 0]]])
    w = np.array([[[1j]]])
    result = arrayconv.conv1d(x, w, backend=backend_name)
    np.testing.assert_array_equal(result, [[[1j, 0, 0]]])


def _torch_namespace():
    import torch

    return torch, lambda a: torch.from_numpy(a), lambda a: a.numpy()


def _strict_namespace():
    import array_api_strict

    return array_api_strict, lambda a: array_api_strict.asarray(a), lambda a: np.asarray(a)


@pytest.mark.parametrize("namespace", [_torch_namespace, _strict_namespace], ids=["torch", "array_api_strict"])
def test_cpu_arrays_of_other_libraries_come_back_in_their_kind(namespace):
    try:
        xp, to_xp, to_numpy = namespace()
    except ImportError as error:
        pytest.skip(f"not installed: {error}")
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 20)), rng.standard_normal((4, 3, 5)), rng.standard_normal(4)
    result = arrayconv.conv1d(to_xp(x), to_xp(w), to_xp(b), padding=2)
    assert type(result) is type(to_xp(x))
    np.testing.assert_array_equal(to_numpy(result), arrayconv.conv1d(x, w, b, padding=2))


@pytest.mark.parametrize("bit", ["conj", "neg"])
def test_torch_lazy_conj_and_neg_bits_are_honoured(bit):
    """torch's lazy conjugate/negative views carry values DLPack alone would get wrong."""
    torch = pytest.importorskip("torch")
    z = torch.complex(torch.randn(2, 3, 16, dtype=torch.float64), torch.randn(2, 3, 16, dtype=torch.float64))
    x = z.conj() if bit == "conj" else z.conj().imag
    assert (x.is_conj() if bit == "conj" else x.is_neg())
    w = torch.randn(4, 3, 3, dtype=x.dtype)
    torch.testing.assert_close(arrayconv.conv1d(x, w), torch.nn.functional.conv1d(x, w))


def test_big_endian_input_is_accepted():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 20)), rng.standard_normal((4, 3, 5))
    result = arrayconv.conv1d(x.astype(">f8"), w.astype(">f8"))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, arrayconv.conv1d(x, w))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("groups,stride,dilation", [(1, 1, 1), (4, 3, 2), (16, 2, 1)])
def test_threaded_path_matches_torch(backend_name, mode, groups, stride, dilation, request):
    """Calls big enough to run on several threads, in every mode, against torch."""
    arrayconv.set_config(threads=2)
    request.addfinalizer(lambda: arrayconv.set_config(threads=None))
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 16, 3000)).astype(np.float32)
    w = rng.standard_normal((32, 16 // groups, 9)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    assert arrayconv.shape.normalize(x, w, groups=groups).macs > 1 << 20
    args = (x, w, b, stride, 7, dilation, groups, mode)
    wide, scale = reference(*args, np.float32)
    assert_close(arrayconv.conv1d(*args, backend=backend_name), wide, scale, "float32")
