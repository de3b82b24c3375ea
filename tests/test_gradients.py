"""conv_transpose1d and the gradients of conv1d and conv_transpose1d, against torch.autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from oracle import _WIDE, assert_close
from strategies import conv_cases, transpose_cases

import arrayconv


def _tensor(array, dtype, grad=False):
    if array is None:
        return None
    return torch.tensor(np.asarray(array).astype(dtype), requires_grad=grad)


def _torch_forward(X, W, B, stride, padding, dilation, groups, mode):
    """conv1d as nn.Conv1d computes it (explicit F.pad for the padding modes and for
    'causal', which torch does not have)."""
    kernel = W.shape[2]
    dil = dilation if isinstance(dilation, int) else int(np.ravel(dilation)[0])
    if padding == "causal":
        X = F.pad(X, (dil * (kernel - 1), 0), mode="constant" if mode == "zeros" else mode)
        padding, mode = 0, "zeros"
    if mode == "zeros":
        return F.conv1d(X, W, B, stride, padding, dilation, groups)
    if padding == "same":
        if int(np.ravel(stride)[0]) != 1:
            raise ValueError("nn.Conv1d refuses padding='same' with stride > 1")
        total = dil * (kernel - 1)
        left, right = total // 2, total - total // 2
    elif padding == "valid":
        left = right = 0
    else:
        left = right = int(np.ravel(padding)[0])
    return F.conv1d(F.pad(X, (left, right), mode=mode), W, B, stride, 0, dilation, groups)


def _torch_conv1d_grads(case, gy, dtype):
    """torch.autograd's (input, weight, bias) gradients of conv1d, computed in ``dtype``."""
    X, W = _tensor(case.x, dtype, True), _tensor(case.w, dtype, True)
    B = _tensor(np.zeros(case.w.shape[0]), dtype, True)
    y = _torch_forward(X, W, B, case.stride, case.padding, case.dilation, case.groups, case.padding_mode)
    y.backward(_tensor(gy, dtype))
    return X.grad.numpy(), W.grad.numpy(), B.grad.numpy()


def _conv1d_scales(case, gy):
    """Magnitudes bounding each gradient's rounding error: the same sums over |values|."""
    magnitude = type(case)(np.abs(case.x), np.abs(case.w), None, case.stride, case.padding,
                           case.dilation, case.groups, case.padding_mode)
    grads = _torch_conv1d_grads(magnitude, np.abs(gy), np.float64)
    return [float(g.max()) if g.size else 0.0 for g in grads]


def _valid_conv(case):
    try:
        X, W = _tensor(case.x, _WIDE[case.x.dtype.name]), _tensor(case.w, _WIDE[case.x.dtype.name])
        return _torch_forward(X, W, None, case.stride, case.padding, case.dilation, case.groups,
                              case.padding_mode).shape
    except (RuntimeError, ValueError, TypeError, IndexError):
        return None


@given(case=conv_cases(same_dtype=True), seed=st.integers(0, 2**32 - 1))
def test_conv1d_backward_matches_torch_autograd(backend_name, case, seed):
    out_shape = _valid_conv(case)
    if out_shape is None:  # torch refuses the call: so does conv1d_backward
        with pytest.raises((ValueError, TypeError)):
            arrayconv.conv1d_backward(np.zeros((1, 1, 1), case.x.dtype), case.x, case.w, case.stride,
                                      case.padding, case.dilation, case.groups, case.padding_mode,
                                      backend=backend_name)
        return
    out_shape = tuple(out_shape)
    dtype = case.x.dtype
    rng = np.random.default_rng(seed)
    gy = rng.standard_normal(out_shape)
    if dtype.kind == "c":
        gy = gy + 1j * rng.standard_normal(out_shape)
    gy = gy.astype(dtype)
    before = [case.x.copy(), case.w.copy(), gy.copy()]
    grads = arrayconv.conv1d_backward(gy, case.x, case.w, case.stride, case.padding, case.dilation,
                                      case.groups, case.padding_mode, backend=backend_name)
    expected = _torch_conv1d_grads(case, gy, _WIDE[dtype.name])
    scales = _conv1d_scales(case, gy)
    for ours, theirs, scale in zip(grads, expected, scales):
        assert isinstance(ours, np.ndarray)
        assert ours.dtype == dtype
        assert_close(ours, theirs, scale, dtype.name)
    for array, saved in zip((case.x, case.w, gy), before):
        np.testing.assert_array_equal(array, saved)  # inputs unchanged


def _torch_transpose(case, dtype, grad=False):
    X, W = _tensor(case.x, dtype, grad), _tensor(case.w, dtype, grad)
    B = _tensor(case.b, dtype, grad)
    return X, W, B, F.conv_transpose1d(X, W, B, case.stride, case.padding, case.output_padding,
                                       case.groups, case.dilation)


@given(case=transpose_cases())
def test_conv_transpose1d_matches_torch(backend_name, case):
    try:
        expected = _torch_transpose(case, _WIDE[case.x.dtype.name])[3].numpy()
    except (RuntimeError, ValueError, TypeError, IndexError):
        with pytest.raises((ValueError, TypeError)):
            arrayconv.conv_transpose1d(*case.args(), backend=backend_name)
        return
    before = [a.copy() for a in (case.x, case.w)]
    result = arrayconv.conv_transpose1d(*case.args(), backend=backend_name)
    magnitude = type(case)(np.abs(case.x), np.abs(case.w), None if case.b is None else np.abs(case.b),
                           case.stride, case.padding, case.output_padding, case.groups, case.dilation)
    scale_array = _torch_transpose(magnitude, np.float64)[3].numpy()
    assert result.dtype == case.x.dtype
    assert_close(result, expected, float(scale_array.max()) if scale_array.size else 0.0, case.x.dtype.name)
    for array, saved in zip((case.x, case.w), before):
        np.testing.assert_array_equal(array, saved)


@pytest.mark.parametrize("kernel_size", [3, 8, 9, 20])
@pytest.mark.parametrize("stride, dilation, groups", [(1, 1, 1), (2, 1, 2), (3, 2, 1), (2, 3, 3)])
def test_conv_transpose1d_weight_layouts_agree(monkeypatch, kernel_size, stride, dilation, groups):
    """A phase's weight is laid out tap by tap up to plain_gradients._TAP_BY_TAP taps,
    else by one copy of the swapped view: the same values, so the same bits, and torch's."""
    from arrayconv import plain_gradients

    rng = np.random.default_rng(kernel_size * 100 + stride * 10 + groups)
    x = rng.standard_normal((2, 6, 40)).astype(np.float32)
    w = rng.standard_normal((6, 4, kernel_size)).astype(np.float32)
    args = dict(stride=stride, padding=1, dilation=dilation, groups=groups)
    results = []
    for limit in (0, 64):
        monkeypatch.setattr(plain_gradients, "_TAP_BY_TAP", limit)
        results.append(np.asarray(arrayconv.conv_transpose1d(x, w, backend="direct", **args)))
    assert np.array_equal(results[0], results[1])
    expected = F.conv_transpose1d(torch.from_numpy(x).double(), torch.from_numpy(w).double(), **args).numpy()
    scale = F.conv_transpose1d(torch.from_numpy(np.abs(x)).double(), torch.from_numpy(np.abs(w)).double(),
                               **args).numpy().max()
    assert_close(results[0], expected, float(scale), "float32")


@given(case=transpose_cases(dtypes=("float32", "float64", "complex64", "complex128")), seed=st.integers(0, 2**32 - 1))
def test_conv_transpose1d_backward_matches_torch_autograd(backend_name, case, seed):
    wide = _WIDE[case.x.dtype.name]
    try:
        X, W, B, y = _torch_transpose(case, wide, grad=True)
    except (RuntimeError, ValueError, TypeError, IndexError):
        return  # refused the same way (test above)
    rng = np.random.default_rng(seed)
    gy = rng.standard_normal(tuple(y.shape))
    if case.x.dtype.kind == "c":
        gy = gy + 1j * rng.standard_normal(gy.shape)
    gy = gy.astype(case.x.dtype)
    y.backward(_tensor(gy, wide))
    grads = arrayconv.conv_transpose1d_backward(gy, case.x, case.w, case.stride, case.padding,
                                                case.output_padding, case.groups, case.dilation,
                                                backend=backend_name)
    magnitude = type(case)(np.abs(case.x), np.abs(case.w), None, case.stride, case.padding,
                           case.output_padding, case.groups, case.dilation)
    Xm, Wm, _, ym = _torch_transpose(magnitude, np.float64, grad=True)
    ym.backward(_tensor(np.abs(gy), np.float64))
    assert_close(grads.input, X.grad.numpy(), float(Xm.grad.abs().max()) if Xm.numel() else 0.0, case.x.dtype.name)
    assert_close(grads.weight, W.grad.numpy(), float(Wm.grad.abs().max()), case.x.dtype.name)
    bias_scale = float(np.abs(gy).sum(axis=(0, -1) if gy.ndim == 3 else -1).max()) if gy.size else 0.0
    assert_close(grads.bias, gy.astype(wide).sum(axis=(0, -1) if gy.ndim == 3 else -1), bias_scale, case.x.dtype.name)


# --------------------------------------------------------------------------
# Paths the small property cases do not reach


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize(
    "shape_x,shape_w,kwargs",
    [
        ((4, 64, 700), (96, 64, 5), dict(padding=2)),  # gemm, several parts
        ((3, 32, 900), (48, 16, 3), dict(stride=3, dilation=2, groups=2, padding=4, padding_mode="reflect")),
        ((2, 64, 1500), (64, 1, 9), dict(groups=64, padding="same", padding_mode="circular")),  # depthwise
        ((2, 8, 5000), (8, 8, 600), dict(padding=300, padding_mode="replicate")),  # long kernel: fft
    ],
)
def test_large_gradients_match_torch_on_every_path(backend_name, dtype, shape_x, shape_w, kwargs, request):
    if backend_name == "array_api" and dtype != "float64":
        pytest.skip("the generic backend's large cases are covered in float64")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape_x).astype(dtype)
    w = rng.standard_normal(shape_w).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape_x).astype(dtype)
    arguments = (kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1),
                 kwargs.get("groups", 1), kwargs.get("padding_mode", "zeros"))
    y = arrayconv.conv1d(x, w, None, *arguments)
    gy = rng.standard_normal(y.shape).astype(dtype)
    arrayconv.set_config(threads=2)
    request.addfinalizer(lambda: arrayconv.set_config(threads=None))
    grads = arrayconv.conv1d_backward(gy, x, w, *arguments, backend=backend_name)

    class Call:
        pass

    call = Call()
    call.x, call.w = x, w
    call.stride, call.padding, call.dilation, call.groups, call.padding_mode = arguments
    expected = _torch_conv1d_grads(call, gy, _WIDE[dtype])
    magnitude = Call()
    magnitude.x, magnitude.w = np.abs(x), np.abs(w)
    magnitude.stride, magnitude.padding, magnitude.dilation, magnitude.groups, magnitude.padding_mode = arguments
    scales = [float(g.max()) for g in _torch_conv1d_grads(magnitude, np.abs(gy), np.float64)]
    for ours, theirs, scale in zip(grads, expected, scales):
        assert_close(ours, theirs, scale, dtype)


def test_weight_gradient_is_bitwise_the_same_for_any_thread_count(request):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 64, 3000)).astype(np.float32)
    w = rng.standard_normal((96, 64, 5)).astype(np.float32)
    gy = rng.standard_normal((6, 96, 2996)).astype(np.float32)
    request.addfinalizer(lambda: arrayconv.set_config(threads=None))
    results = []
    for count in (1, 2, 3):
        arrayconv.set_config(threads=count)
        results.append(arrayconv.conv1d_backward(gy, x, w, backend="direct"))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


def test_finite_differences_in_float64():
    """<grad, direction> equals the derivative of the loss along the direction."""
    rng = np.random.default_rng(3)
    for mode, kwargs in [("zeros", dict(stride=2, padding=3, dilation=2)), ("reflect", dict(padding="same")),
                         ("replicate", dict(padding=4, stride=3)), ("circular", dict(padding=2, groups=2))]:
        x = rng.standard_normal((2, 4, 23))
        w = rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3))
        b = rng.standard_normal(6)
        weights = rng.standard_normal(arrayconv.conv1d(x, w, b, padding_mode=mode, **kwargs).shape)

        def loss(x_, w_, b_):
            return float(np.sum(weights * np.tanh(arrayconv.conv1d(x_, w_, b_, padding_mode=mode, **kwargs))))

        y = arrayconv.conv1d(x, w, b, padding_mode=mode, **kwargs)
        gy = weights * (1 - np.tanh(y) ** 2)
        names = ("stride", "padding", "dilation", "groups")
        defaults = (1, 0, 1, 1)
        settings_ = [kwargs.get(name, default) for name, default in zip(names, defaults)]
        grads = arrayconv.conv1d_backward(gy, x, w, *settings_, mode)
        step = 1e-6
        for index, (array, grad) in enumerate(zip((x, w, b), grads)):
            direction = rng.standard_normal(array.shape)
            shifted = [x, w, b]
            shifted[index] = array + step * direction
            plus = loss(*shifted)
            shifted[index] = array - step * direction
            minus = loss(*shifted)
            numeric = (plus - minus) / (2 * step)
            analytic = float(np.sum(grad * direction))
            assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (mode, index, numeric, analytic)


def test_real_weight_of_a_complex_call_gets_the_real_part():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2, 3, 20)) + 1j * rng.standard_normal((2, 3, 20))).astype(np.complex128)
    w = rng.standard_normal((4, 3, 3))
    gy = (rng.standard_normal((2, 4, 18)) + 1j * rng.standard_normal((2, 4, 18)))
    grads = arrayconv.conv1d_backward(gy, x, w)
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w.astype(np.complex128), requires_grad=True)
    F.conv1d(X, W).backward(torch.tensor(gy))
    assert grads.weight.dtype == np.float64
    np.testing.assert_allclose(grads.weight, W.grad.numpy().real, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads.input, X.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_needs_selects_the_gradients():
    x = np.ones((1, 2, 8))
    w = np.ones((3, 2, 3))
    grads = arrayconv.conv1d_backward(np.ones((1, 3, 6)), x, w, needs=("bias",))
    assert grads.input is None and grads.weight is None
    np.testing.assert_array_equal(grads.bias, [6.0, 6.0, 6.0])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(needs="input"), "needs must be a sequence"),
        (dict(needs=("input", "gamma")), "needs may name only"),
    ],
)
def test_bad_needs_are_refused(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        arrayconv.conv1d_backward(np.ones((1, 3, 6)), np.ones((1, 2, 8)), np.ones((3, 2, 3)), **kwargs)


def test_grad_output_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"grad_output must have the forward output's shape \(1, 3, 6\)"):
        arrayconv.conv1d_backward(np.ones((1, 3, 7)), np.ones((1, 2, 8)), np.ones((3, 2, 3)))
    with pytest.raises(TypeError, match="grad_output must have a floating"):
        arrayconv.conv1d_backward(np.ones((1, 3, 6), int), np.ones((1, 2, 8)), np.ones((3, 2, 3)))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(output_padding=2, stride=2), ValueError, "output_padding must be smaller"),
        (dict(padding="same"), TypeError, "padding of a transposed convolution"),
        (dict(padding=-1), ValueError, "padding must be non-negative"),
        (dict(padding=20), ValueError, "output length"),
        (dict(groups=3), ValueError, "divisible by groups=3"),
        (dict(stride=0), ValueError, "stride must be a positive"),
    ],
)
def test_conv_transpose1d_errors_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        arrayconv.conv_transpose1d(np.ones((2, 4, 10)), np.ones((4, 3, 3)), **kwargs)


# --------------------------------------------------------------------------
# torch autograd


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(stride=2, padding=2, dilation=2),
        dict(padding="same", padding_mode="reflect"),
        dict(padding=3, groups=2, padding_mode="circular"),
        dict(stride=3, padding=1, padding_mode="replicate"),
    ],
)
def test_conv1d_takes_part_in_torch_autograd(dtype, kwargs):
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 13, dtype=dtype, generator=generator, requires_grad=True)
    w = torch.randn(6, 4 // kwargs.get("groups", 1), 3, dtype=dtype, generator=generator, requires_grad=True)
    b = torch.randn(6, dtype=dtype, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: arrayconv.conv1d(x, w, b, **kwargs), (x, w, b))
    y = arrayconv.conv1d(x, w, b, **kwargs)
    assert y.requires_grad and y.grad_fn is not None


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_conv_transpose1d_takes_part_in_torch_autograd(dtype):
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(2, 4, 7, dtype=dtype, generator=generator, requires_grad=True)
    w = torch.randn(4, 3, 4, dtype=dtype, generator=generator, requires_grad=True)
    b = torch.randn(6, dtype=dtype, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: arrayconv.conv_transpose1d(x, w, b, stride=3, padding=2, output_padding=1,
                                                   groups=2, dilation=2),
        (x, w, b),
    )


def test_autograd_trains_only_what_requires_grad_and_refuses_double_backward():
    x = torch.randn(1, 2, 9, dtype=torch.float64)
    w = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    (gw,) = torch.autograd.grad(arrayconv.conv1d(x, w).sum(), w)
    (expected,) = torch.autograd.grad(F.conv1d(x, w).sum(), w)
    torch.testing.assert_close(gw, expected)
    # a graph of the gradient would silently miss its second-order terms: refused
    x.requires_grad_()
    with pytest.raises(RuntimeError, match="cannot be differentiated again"):
        torch.autograd.grad(arrayconv.conv1d(x, w).sum(), x, create_graph=True)
    with torch.no_grad():
        assert not arrayconv.conv1d(x, w).requires_grad


@pytest.mark.parametrize("transposed", [False, True])
def test_real_bias_of_a_complex_call_gets_a_real_gradient(transposed):
    x = torch.randn(1, 2, 8, dtype=torch.complex128)
    w = torch.randn(2, 3, 3, dtype=torch.float64).to(torch.complex128)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    if transposed:
        ours, theirs = arrayconv.conv_transpose1d(x, w, b), F.conv_transpose1d(x, w, b.to(torch.complex128))
    else:
        ours, theirs = arrayconv.conv1d(x, w.transpose(0, 1).contiguous(), b), None
    ours.abs().sum().backward()
    assert b.grad.dtype == torch.float64
    grad = b.grad.clone()
    b.grad = None
    if theirs is None:
        theirs = F.conv1d(x, w.transpose(0, 1).contiguous(), b.to(torch.complex128))
    theirs.abs().sum().backward()
    torch.testing.assert_close(grad, b.grad)


def test_layer_gradients_have_the_parameters_dtype():
    layer = arrayconv.Conv1d(2, 3, 3, dtype="float32", rng=0)
    x = (np.ones((1, 2, 8)) + 1j).astype(np.complex64)
    y = layer(x)
    layer.backward(np.ones_like(y))
    assert layer.weight_grad.dtype == np.float32 and layer.bias_grad.dtype == np.float32
    layer.bias -= 0.1 * layer.bias_grad  # an SGD step works in place


def _assert_same_with_non_finite(ours, theirs):
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isposinf(ours.real), np.isposinf(theirs.real))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9, atol=1e-9)


@given(case=transpose_cases(dtypes=("float64",)), where=st.integers(0, 10**6), value=st.sampled_from([np.inf, -np.inf, np.nan]))
def test_non_finite_weights_propagate_as_in_torch(backend_name, case, where, value):
    """No tap lands on some outputs: torch gives them the bias, not inf * 0."""
    if case.w.size == 0:
        return
    w = case.w.copy()
    w.flat[where % w.size] = value
    try:
        expected = F.conv_transpose1d(*(None if a is None else torch.from_numpy(a) for a in (case.x, w, case.b)),
                                      case.stride, case.padding, case.output_padding, case.groups, case.dilation)
    except (RuntimeError, ValueError, TypeError, IndexError):
        return
    ours = arrayconv.conv_transpose1d(case.x, w, case.b, case.stride, case.padding, case.output_padding,
                                      case.groups, case.dilation, backend=backend_name)
    _assert_same_with_non_finite(ours, expected.numpy())
    # the same arithmetic is conv1d's input gradient
    if case.x.ndim == 3 and case.x.shape[0] and int(np.ravel(case.output_padding)[0]) == 0:
        forward_input = np.zeros(tuple(expected.shape))
        grads = arrayconv.conv1d_backward(case.x, forward_input, w, case.stride, case.padding, case.dilation,
                                          case.groups, needs=("input",), backend=backend_name)
        reference = expected.numpy() - (0 if case.b is None else case.b[:, None])
        _assert_same_with_non_finite(grads.input, reference)


# --------------------------------------------------------------------------
# Layers


@pytest.mark.parametrize(
    "kwargs",
    [dict(stride=2, padding=1), dict(padding="same", padding_mode="reflect", dilation=2), dict(groups=2, padding_mode="circular", padding=3)],
)
def test_conv1d_layer_backward_accumulates_torch_gradients(kwargs):
    torch_layer = torch.nn.Conv1d(4, 6, 5, **kwargs).double()
    layer = arrayconv.Conv1d(4, 6, 5, dtype="float64", **kwargs)
    layer.load_state_dict({name: value.detach().numpy() for name, value in torch_layer.state_dict().items()})
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal((3, 4, 30)) for _ in range(2)]
    grads_in = []
    for x in inputs:
        y = layer(x)
        gy = np.cos(y)
        grads_in.append(layer.backward(gy))
        X = torch.tensor(x, requires_grad=True)
        torch_layer(X).backward(torch.tensor(gy))
        np.testing.assert_allclose(grads_in[-1], X.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight_grad, torch_layer.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias_grad, torch_layer.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    layer.zero_grad()
    assert layer.weight_grad is None and layer.bias_grad is None


def test_backward_before_a_call_is_refused():
    with pytest.raises(ValueError, match="call the layer first"):
        arrayconv.Conv1d(2, 2, 3).backward(np.zeros((1, 2, 5), np.float32))


def test_conv_transpose1d_layer_matches_torch():
    torch_layer = torch.nn.ConvTranspose1d(4, 6, 4, stride=3, padding=2, output_padding=1, groups=2, dilation=2).double()
    layer = arrayconv.ConvTranspose1d(4, 6, 4, stride=3, padding=2, output_padding=1, groups=2, dilation=2,
                                      dtype="float64", rng=0)
    assert repr(layer) == repr(torch_layer)
    assert layer.weight.shape == tuple(torch_layer.weight.shape)
    bound = 1 / np.sqrt(3 * 4)  # torch: kaiming_uniform(a=sqrt(5)) over fan_in = C_out / groups * K
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.weight).max() > 0.8 * bound
    layer.load_state_dict({name: value.detach().numpy() for name, value in torch_layer.state_dict().items()})
    x = np.random.default_rng(8).standard_normal((2, 4, 11))
    X = torch.tensor(x, requires_grad=True)
    expected = torch_layer(X, output_size=[33])
    y = layer(x, output_size=[33])
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = np.sin(y)
    expected.backward(torch.tensor(gy))
    np.testing.assert_allclose(layer.backward(gy), X.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight_grad, torch_layer.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias_grad, torch_layer.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="output_size must be between"):
        layer(x, output_size=[40])
    with pytest.raises(TypeError, match="output_size must be a sequence"):
        layer(x, output_size=33)  # torch: len() of an int
    with pytest.raises(ValueError, match="output_size must have 1 or 3 elements"):
        layer(x, output_size=(4, 33))
    with pytest.raises(TypeError, match="input must be an array"):
        layer(None, output_size=[33])
    with pytest.raises(ValueError, match="padding_mode must be 'zeros'"):
        arrayconv.ConvTranspose1d(4, 6, 3, padding_mode="reflect")


def test_numpy_training_example_reaches_its_stated_loss():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "examples" / "train_numpy_cnn.py"
    spec = importlib.util.spec_from_file_location("train_numpy_cnn", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    losses = example.train(report=lambda line: None)
    assert losses["initial"] > 0.4
    assert losses["final"] < 0.04  # the docstring's claim: below 0.05, a fifth of the noise's 0.25
    assert losses["final"] < losses["noise"] / 5


def _strict(device_name):
    strict = pytest.importorskip("array_api_strict")
    return strict, strict.Device(device_name)


@pytest.mark.parametrize("library", ["torch", "array_api_strict CPU_DEVICE", "array_api_strict device1"])
def test_gradients_come_back_in_the_callers_library_and_device(library):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 21))
    w = rng.standard_normal((6, 2, 3))
    gy = rng.standard_normal((2, 6, 11))
    kwargs = dict(stride=2, padding=1, groups=2, padding_mode="reflect")
    settings = (kwargs["stride"], kwargs["padding"], 1, kwargs["groups"], kwargs["padding_mode"])
    expected = arrayconv.conv1d_backward(gy, x, w, *settings)
    expected_t = arrayconv.conv_transpose1d(gy, w, stride=2, groups=2)
    if library == "torch":
        convert, to_numpy, device = torch.from_numpy, lambda a: a.numpy(), None
    else:
        strict, device = _strict(library.split()[1])
        convert = lambda a: strict.asarray(a, device=device)  # noqa: E731
        to_numpy = lambda a: np.asarray(strict.asarray(a, device=strict.Device("CPU_DEVICE")))  # noqa: E731
    grads = arrayconv.conv1d_backward(convert(gy), convert(x), convert(w), *settings)
    for ours, reference in zip(grads, expected):
        assert type(ours) is type(convert(x))
        if device is not None:
            assert ours.device == device
        np.testing.assert_allclose(to_numpy(ours), reference, rtol=1e-12, atol=1e-12)
    transposed = arrayconv.conv_transpose1d(convert(gy), convert(w), stride=2, groups=2)
    np.testing.assert_allclose(to_numpy(transposed), expected_t, rtol=1e-12, atol=1e-12)


def test_a_huge_stride_plans_only_the_phases_outputs_have():
    """Found by the hostile-argument fuzz: the phases were looped over every residue
    of the stride (2**62 of them: a hang)."""
    x = np.ones((1, 2, 40))
    w = np.ones((3, 2, 4))
    grads = arrayconv.conv1d_backward(np.ones((1, 3, 1)), x, w, stride=2**62, padding=2, padding_mode="replicate")
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.conv1d(F.pad(X, (2, 2), mode="replicate"), W, stride=2**62).sum().backward()
    np.testing.assert_allclose(grads.input, X.grad.numpy())
    np.testing.assert_allclose(grads.weight, W.grad.numpy())
    assert arrayconv.conv_transpose1d(np.ones((0, 2, 5)), w.transpose(1, 0, 2).copy(), stride=2**40,
                                      padding=2**31).shape[0] == 0


def test_a_transposed_output_beyond_the_memory_limit_is_refused_before_allocating():
    with arrayconv.config_context(memory_limit=1 << 20):
        with pytest.raises(arrayconv.WorkspaceError, match=r"output \(1, 2, 4000002\) of float64"):
            arrayconv.conv_transpose1d(np.ones((1, 2, 5)), np.ones((2, 1, 2)), stride=10**6, groups=2)
