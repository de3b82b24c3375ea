"""Invalid arguments: a clear TypeError or ValueError, naming the argument, before any kernel runs."""

import numpy as np
import pytest
from hypothesis import given

import arrayconv
from arrayconv import registry
from oracle import torch_conv1d
from strategies import conv_cases

f32 = np.float32
X = np.zeros((2, 4, 10), f32)
W = np.zeros((6, 4, 3), f32)

# (description, kwargs for conv1d, exception type, text the message must contain)
CASES = [
    ("1-D input", dict(input=np.zeros(10, f32)), ValueError, "input.shape=(10,)"),
    ("4-D input", dict(input=np.zeros((1, 2, 4, 10), f32)), ValueError, "input.shape=(1, 2, 4, 10)"),
    ("0-d input", dict(input=np.float32(1.0)), ValueError, "input.shape=()"),
    ("2-D weight", dict(weight=np.zeros((6, 4), f32)), ValueError, "weight.shape=(6, 4)"),
    ("list input", dict(input=[[1.0, 2.0]]), TypeError, "input must be an array"),
    ("str weight", dict(weight="abc"), TypeError, "weight must be an array"),
    ("int input", dict(input=np.zeros((2, 4, 10), np.int32)), TypeError, "input.dtype=int32"),
    ("bool weight", dict(weight=np.zeros((6, 4, 3), bool)), TypeError, "weight.dtype=bool"),
    ("object input", dict(input=np.zeros((2, 4, 10), object)), TypeError, "input.dtype=object"),
    ("int bias", dict(bias=np.zeros(6, np.int64)), TypeError, "bias.dtype=int64"),
    ("bias length", dict(bias=np.zeros(5, f32)), ValueError, "bias.shape=(5,)"),
    ("bias 2-D", dict(bias=np.zeros((6, 1), f32)), ValueError, "bias.shape=(6, 1)"),
    ("channels", dict(weight=np.zeros((6, 3, 3), f32)), ValueError, "input.shape=(2, 4, 10)"),
    ("groups split", dict(weight=np.zeros((6, 2, 3), f32), groups=3), ValueError, "groups"),
    ("out not divisible", dict(weight=np.zeros((5, 2, 3), f32), groups=2), ValueError, "groups=2"),
    ("groups zero", dict(groups=0), ValueError, "groups=0"),
    ("groups float", dict(groups=1.0), TypeError, "groups=1.0"),
    ("stride zero", dict(stride=0), ValueError, "stride=0"),
    ("stride negative", dict(stride=-2), ValueError, "stride=-2"),
    ("stride float", dict(stride=1.5), TypeError, "stride=1.5"),
    ("stride bool", dict(stride=True), TypeError, "stride=True"),
    ("stride 2-tuple", dict(stride=(1, 1)), ValueError, "stride=(1, 1)"),
    ("stride str", dict(stride="1"), TypeError, "stride='1'"),
    ("dilation zero", dict(dilation=0), ValueError, "dilation=0"),
    ("padding negative", dict(padding=-1), ValueError, "padding=-1"),
    ("padding unknown", dict(padding="full"), ValueError, "padding='full'"),
    ("padding float", dict(padding=1.0), TypeError, "padding=1.0"),
    ("padding None", dict(padding=None), TypeError, "padding=None"),
    ("same strided", dict(padding="same", stride=2), ValueError, "stride=2"),
    ("padding_mode", dict(padding_mode="mirror"), ValueError, "padding_mode='mirror'"),
    ("padding_mode type", dict(padding_mode=None), ValueError, "padding_mode=None"),
    ("reflect too far", dict(padding=10, padding_mode="reflect"), ValueError, "padding=(10, 10)"),
    ("circular too far", dict(padding=11, padding_mode="circular"), ValueError, "padding=(11, 11)"),
    ("replicate empty", dict(input=np.zeros((2, 4, 0), f32), padding=1, padding_mode="replicate"), ValueError, "input.shape=(2, 4, 0)"),
    ("kernel too long", dict(weight=np.zeros((6, 4, 11), f32)), ValueError, "padded input length 10"),
    ("dilated too long", dict(dilation=5), ValueError, "dilation=5"),
    ("empty kernel", dict(weight=np.zeros((6, 4, 0), f32)), ValueError, "weight.shape=(6, 4, 0)"),
    ("no out channels", dict(weight=np.zeros((0, 4, 3), f32)), ValueError, "weight.shape=(0, 4, 3)"),
    ("reflect no channels", dict(input=np.zeros((2, 0, 10), f32), weight=np.zeros((6, 0, 3), f32), padding_mode="reflect"), ValueError, "input.shape=(2, 0, 10)"),
    ("replicate no channels", dict(input=np.zeros((0, 10), f32), weight=np.zeros((6, 0, 3), f32), padding_mode="replicate"), ValueError, "input.shape=(0, 10)"),
    ("groups tuple", dict(groups=(1,)), TypeError, "groups=(1,)"),
    ("stride beyond index", dict(stride=2**63), ValueError, "stride=9223372036854775808"),
    ("padding beyond index", dict(padding=-(2**70)), ValueError, "padding="),
    ("length 0", dict(input=np.zeros((2, 4, 0), f32), padding=2), ValueError, "input.shape=(2, 4, 0)"),
    ("length 0, no padding", dict(input=np.zeros((2, 4, 0), f32)), ValueError,
     "the input is empty along its last axis (input.shape=(2, 4, 0))"),
    ("length 0, unbatched, K=1", dict(input=np.zeros((4, 0), f32), weight=np.zeros((6, 4, 1), f32)), ValueError,
     "the input is empty along its last axis (input.shape=(4, 0))"),
    ("huge padding", dict(padding=2**62), ValueError, "too large"),
]


def _call(**overrides):
    args = dict(input=X, weight=W, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros")
    args.update(overrides)
    return arrayconv.conv1d(**args)


@pytest.mark.parametrize("description,overrides,error,text", CASES, ids=[c[0] for c in CASES])
def test_error_names_argument_and_value(description, overrides, error, text):
    with pytest.raises(error) as info:
        _call(**overrides)
    assert text in str(info.value)


class _SpyBackend:
    """Counts runs; used to show validation happens before any backend runs."""

    name = "spy"

    def __init__(self):
        self.runs = 0

    def supports(self, spec, device):
        return None

    def estimate(self, spec):
        return 0.0

    def run(self, spec, x, w, b):
        self.runs += 1
        return np.zeros(spec.output_shape, spec.compute_dtype)


@pytest.fixture
def spy():
    backend = _SpyBackend()
    registry.register("spy", backend)
    yield backend
    registry.unregister("spy")


@pytest.mark.parametrize("description,overrides,error,text", CASES, ids=[c[0] for c in CASES])
def test_errors_come_before_any_kernel(spy, description, overrides, error, text):
    with pytest.raises(error):
        arrayconv.conv1d(**{**dict(input=X, weight=W), **overrides}, backend="spy")
    assert spy.runs == 0


def test_mixed_array_libraries_are_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="arrays of one kind"):
        arrayconv.conv1d(torch.zeros(2, 4, 10), W)


def test_grad_output_that_requires_grad_is_refused_clearly():
    """conv1d joins torch's graph, but its gradients are computed from values: a
    grad_output with a graph (double backward) is refused, not silently cut."""
    torch = pytest.importorskip("torch")
    grad_output = torch.zeros(2, 6, 8, requires_grad=True)
    with pytest.raises(TypeError, match=r"grad_output requires grad.*grad_output\.detach\(\)"):
        arrayconv.conv1d_backward(grad_output, torch.zeros(2, 4, 10), torch.zeros(6, 4, 3))


@given(case=conv_cases())
def test_raises_exactly_where_torch_raises(case):
    """Over random calls (valid and not), arrayconv errs iff torch errs, and only with ValueError/TypeError.

    Mixed dtypes are given to torch already promoted: that is the one documented departure.
    """
    try:
        torch_conv1d(*case.args(), dtype=case.result_dtype())
        torch_raised = False
    except (RuntimeError, ValueError, TypeError):
        torch_raised = True
    try:
        arrayconv.shape.normalize(*case.args())
        we_raised = False
    except (ValueError, TypeError):
        we_raised = True
    assert we_raised == torch_raised


def test_integer_dtypes_are_refused_though_torch_accepts_them():
    """A documented departure from torch: the Array API refuses integer convolution."""
    x, w = np.ones((1, 1, 4), np.int64), np.ones((1, 1, 2), np.int64)
    torch_conv1d(x, w, None, 1, 0, 1, 1, "zeros")  # torch's CPU path computes it
    with pytest.raises(TypeError, match="floating"):
        arrayconv.conv1d(x, w)


def test_mixed_floating_dtypes_are_promoted_though_torch_refuses():
    x, w = np.ones((1, 1, 4), np.float32), np.ones((1, 1, 2), np.complex128)
    with pytest.raises(RuntimeError):
        torch_conv1d(x, w, None, 1, 0, 1, 1, "zeros")
    assert arrayconv.conv1d(x, w).dtype == np.complex128


@pytest.mark.parametrize("stride", [2**31, 2**58 + 1, 2**60 + 3, 2**62, 2**63 - 1])
@pytest.mark.parametrize("padding", [0, 5, 2**20])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_stride_gives_one_output_not_garbage(stride, padding, dtype):
    """A stride beyond the input gives torch's single output (no index overflow in the
    kernel: the row loops' block of 64 outputs would span 63 strides)."""
    x = np.arange(1, 41, dtype=dtype).reshape(2, 1, 20)
    w = np.ones((1, 1, 1), dtype=dtype)
    # in float64 (torch's float32 path refuses the largest strides); exact here: one tap of 1
    expected = torch_conv1d(x.astype(np.float64), w.astype(np.float64), None, stride, padding, 1, 1,
                            "zeros").astype(dtype)
    np.testing.assert_array_equal(arrayconv.conv1d(x, w, stride=stride, padding=padding), expected)


@pytest.mark.parametrize("padding", [1, 3])
def test_zero_batch_of_empty_signals_with_padding(padding):
    """L = 0 is allowed with a zero batch, as in torch; the output is empty of the right shape."""
    x, w = np.zeros((0, 3, 0), f32), np.zeros((4, 3, 2), f32)
    expected = torch_conv1d(x, w, None, 1, padding, 1, 1, "zeros")
    assert arrayconv.conv1d(x, w, padding=padding).shape == expected.shape == (0, 4, 2 * padding - 1)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [-1, -3, (-2,)])
def test_negative_padding_crops_as_torch_does(backend_name, mode, padding):
    """With the padding modes other than zeros, nn.Conv1d pads by F.pad, which crops for negative sizes."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 30))
    w = rng.standard_normal((6, 2, 3))
    expected = torch_conv1d(x, w, None, 2, padding, 1, 2, mode)
    np.testing.assert_allclose(arrayconv.conv1d(x, w, None, 2, padding, 1, 2, mode, backend=backend_name),
                               expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="padding"):
        arrayconv.conv1d(x, w, None, 2, -20, 1, 2, mode, backend=backend_name)  # cropped below the kernel
