"""arrayconv.shape.gradient_spec, called directly: the gradient calls planned into BackwardSpecs.

normalize_backward (the forward ConvSpec, the gradients asked for, the output
gradient's shape and the dtypes), normalize_transpose_backward (the conv1d of
the output gradient with the weight, whose output length torch's own
F.conv1d gives, over random transposed calls) and refuse_graph (torch tensors
that would record a graph).  Refusals must name the argument and its value.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, example, given, settings
from strategies import TransposeCase, transpose_cases

from arrayconv.records import GRADIENT_NAMES, BackwardSpec
from arrayconv.shape import conv_spec, gradient_spec, transpose_spec

FAST = settings(max_examples=60, deadline=None)


def _zeros(*shape, dtype="float64"):
    return np.zeros(shape, dtype)


X = _zeros(2, 4, 10)
W = _zeros(6, 2, 3)
FORWARD = {"stride": 2, "padding": 1, "dilation": 1, "groups": 2, "padding_mode": "zeros"}


# --------------------------------------------------------------------------
# normalize_backward


def test_backward_spec_is_the_forward_spec_with_the_gradients_asked_for():
    forward = conv_spec.normalize(X, W, None, **FORWARD)
    call = gradient_spec.normalize_backward(_zeros(2, 6, 5), X, W, **FORWARD)
    assert isinstance(call, BackwardSpec)
    assert call.spec == forward
    assert call.needs == frozenset(GRADIENT_NAMES)
    assert call.input_length == forward.length == 10
    assert (call.input_dtype, call.weight_dtype, call.bias_dtype) == ("float64",) * 3
    assert not call.spec.has_bias


@pytest.mark.parametrize("needs", [("weight",), ["input", "bias"], {"bias"}, frozenset(), (), ("input", "input")])
def test_needs_become_a_frozenset(needs):
    call = gradient_spec.normalize_backward(_zeros(2, 6, 5), X, W, needs=needs, **FORWARD)
    assert call.needs == frozenset(needs)
    assert isinstance(call.needs, frozenset)


@pytest.mark.parametrize(
    "needs,error,text",
    [
        ("input", TypeError, "needs must be a sequence of gradient names from ('input', 'weight', 'bias'), got needs='input'"),
        (None, TypeError, "got needs=None"),
        ({"input": 1}, TypeError, "got needs={'input': 1}"),
        (("input", "gamma"), ValueError, "needs may name only ('input', 'weight', 'bias'), got needs=('input', 'gamma')"),
        (["Input"], ValueError, "got needs=('Input',)"),
    ],
)
def test_bad_needs_name_the_value(needs, error, text):
    for normalize in (gradient_spec.normalize_backward, gradient_spec.normalize_transpose_backward):
        with pytest.raises(error) as info:
            normalize(_zeros(1, 1, 3), _zeros(1, 1, 3), _zeros(1, 1, 1), needs=needs)
        assert text in str(info.value)


@pytest.mark.parametrize(
    "grad_output,error,text",
    [
        (None, TypeError, "grad_output must be an array (NumPy, PyTorch, CuPy, ...), got grad_output=None"),
        (_zeros(2, 6, 6), ValueError, "grad_output must have the forward output's shape (2, 6, 5), got grad_output.shape=(2, 6, 6)"),
        (_zeros(6, 5), ValueError, "got grad_output.shape=(6, 5)"),
        (_zeros(2, 6, 5, dtype="int64"), TypeError, "grad_output must have a floating or complex dtype"),
        ([[1.0]], TypeError, "grad_output must be an array"),
        (torch.zeros(2, 6, 5), TypeError, "grad_output, input must be arrays of one kind"),
    ],
)
def test_grad_output_refusals(grad_output, error, text):
    with pytest.raises(error) as info:
        gradient_spec.normalize_backward(grad_output, X, W, **FORWARD)
    assert text in str(info.value)


def test_unbatched_grad_output_has_the_unbatched_output_shape():
    call = gradient_spec.normalize_backward(_zeros(6, 5), X[0], W, **FORWARD)
    assert not call.spec.batched and call.spec.result_shape == (6, 5)
    with pytest.raises(ValueError, match=r"forward output's shape \(6, 5\)"):
        gradient_spec.normalize_backward(_zeros(1, 6, 5), X[0], W, **FORWARD)


def test_forward_refusals_come_through():
    with pytest.raises(ValueError, match="padding_mode='mirror'"):
        gradient_spec.normalize_backward(_zeros(2, 6, 5), X, W, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"weight.shape\[1\] \* groups = 2 \* 3 = 6 channels"):
        gradient_spec.normalize_backward(_zeros(2, 6, 5), X, W, groups=3)
    with pytest.raises(ValueError, match="stride=0"):
        gradient_spec.normalize_backward(_zeros(2, 6, 5), X, W, stride=0)


@pytest.mark.parametrize(
    "x,w,g,compute",
    [
        ("float16", "float16", "float16", "float32"),
        ("float16", "float16", "float64", "float64"),
        ("float32", "float64", "float32", "float64"),
        ("float32", "float32", "complex64", "complex64"),
        ("float64", "complex64", "float32", "complex128"),
    ],
)
def test_dtypes_of_the_gradients(x, w, g, compute):
    """The gradients are computed in the promotion of every array's dtype (float16 in float32),
    and each is returned in the dtype of the array it is the gradient of (bias: grad_output's)."""
    call = gradient_spec.normalize_backward(_zeros(2, 6, 5, dtype=g), _zeros(2, 4, 10, dtype=x),
                                            _zeros(6, 2, 3, dtype=w), **FORWARD)
    assert call.spec.compute_dtype == call.spec.result_dtype == compute
    assert (call.input_dtype, call.weight_dtype, call.bias_dtype) == (x, w, g)


def test_torch_arrays_are_accepted():
    call = gradient_spec.normalize_backward(torch.zeros(2, 6, 5), torch.zeros(2, 4, 10), torch.zeros(6, 2, 3),
                                            **FORWARD)
    assert call.spec.compute_dtype == "float32" and call.spec.output_shape == (2, 6, 5)


# --------------------------------------------------------------------------
# normalize_transpose_backward


def test_transpose_backward_spec_is_the_conv1d_of_the_output_gradient():
    x, w = _zeros(2, 4, 10), _zeros(4, 3, 3)
    call = gradient_spec.normalize_transpose_backward(_zeros(2, 3, 21), x, w, stride=2, needs=["input"])
    spec = call.spec
    assert (spec.batch, spec.in_channels, spec.length, spec.out_channels) == (2, 3, 21, 4)
    assert (spec.kernel_size, spec.stride, spec.pad_left, spec.pad_right, spec.padding_mode) == (3, 2, 0, 0, "zeros")
    assert spec.output_shape == (2, 4, 10) and call.input_length == 10
    assert call.needs == {"input"} and not spec.has_bias


@FAST
@given(case=transpose_cases(max_length=16, dtypes=("float64",)))
@example(case=TransposeCase(x=np.zeros((0, 1, 0)), w=np.ones((1, 1, 1)), b=None, stride=1, padding=0,
                            output_padding=0, groups=1, dilation=1))  # torch refuses: an empty batch of length 0
def test_input_gradient_conv_has_torchs_length(case):
    """The planned conv1d(grad_output, weight) has the shape torch's F.conv1d gives it: the input's
    length plus output_padding // stride, which the caller cuts off."""
    try:
        transposed = transpose_spec.normalize_transpose(*case.args())
    except ValueError:
        assume(False)  # refusals: test_shape_transpose_spec
    grad_output = np.zeros(transposed.result_shape)
    call = gradient_spec.normalize_transpose_backward(
        grad_output, case.x, case.w, case.stride, case.padding, case.output_padding, case.groups, case.dilation
    )
    spec = call.spec
    try:
        expected = F.conv1d(torch.zeros((spec.batch, spec.in_channels, spec.length), dtype=torch.float64),
                            torch.zeros(case.w.shape, dtype=torch.float64), None, spec.stride, spec.pad_left,
                            spec.dilation, spec.groups).shape
        assert spec.output_shape == tuple(expected)
    except RuntimeError:
        # torch has no answer for an empty batch whose padded length is shorter than the kernel
        # (arrayconv takes a call with no rows at all): the relations below still hold
        if spec.batch != 0:
            raise
    assert spec.length_out == transposed.length + transposed.output_padding // transposed.stride
    assert call.input_length == transposed.length
    assert spec.length == transposed.length_out and spec.out_channels == transposed.in_channels
    assert spec.in_channels == transposed.out_channels and spec.groups == transposed.groups


def test_transpose_backward_checks_the_output_gradient_shape():
    with pytest.raises(ValueError, match=r"forward output's shape \(2, 3, 21\), got grad_output.shape=\(2, 3, 20\)"):
        gradient_spec.normalize_transpose_backward(_zeros(2, 3, 20), _zeros(2, 4, 10), _zeros(4, 3, 3), stride=2)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        gradient_spec.normalize_transpose_backward(_zeros(2, 3, 23), _zeros(2, 4, 10), _zeros(4, 3, 3), stride=2,
                                                   output_padding=2)


def test_transpose_backward_dtypes():
    call = gradient_spec.normalize_transpose_backward(_zeros(2, 3, 12, dtype="float16"), _zeros(2, 4, 10, dtype="float16"),
                                                      _zeros(4, 3, 3, dtype="complex64"))
    assert call.spec.compute_dtype == call.spec.result_dtype == "complex64"
    assert (call.input_dtype, call.weight_dtype, call.bias_dtype) == ("float16", "complex64", "float16")


# --------------------------------------------------------------------------
# refuse_graph


@pytest.mark.parametrize("which", [0, 1, 2])
def test_a_tensor_that_requires_grad_is_refused_by_name(which):
    names = ("grad_output", "input", "weight")
    arrays = [torch.zeros(2), torch.zeros(2), torch.zeros(2)]
    arrays[which] = torch.zeros(2, requires_grad=True)
    with pytest.raises(TypeError) as info:
        gradient_spec.refuse_graph(names, tuple(arrays))
    message = str(info.value)
    assert message.startswith(f"{names[which]} requires grad, and conv1d_backward does not record autograd history")
    assert f"pass {names[which]}.detach()" in message


def test_arrays_without_a_graph_pass():
    leaf = torch.zeros(2, requires_grad=True)
    gradient_spec.refuse_graph(("a", "b", "c", "d"), (np.zeros(2), torch.zeros(2), leaf.detach(), None))
    with torch.no_grad():
        gradient_spec.refuse_graph(("a",), (leaf * 2,))  # no graph recorded under no_grad
