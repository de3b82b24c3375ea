"""arrayconv.shape.transpose_spec, called directly: a conv_transpose1d call planned into a TransposeSpec,
and the output padding that nn.ConvTranspose1d's ``output_size`` implies.

normalize_transpose's fields (out_channels = weight.shape[1] * groups, the
output length with output_padding, dtype promotion) and the calls it refuses,
both against torch's F.conv_transpose1d over random calls; output_padding_for
against torch's own ``ConvTranspose1d._output_padding``.  Refusals must be the
TypeError or ValueError that names the argument and its value.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import transpose_cases

from arrayconv.records import TransposeSpec
from arrayconv.shape import transpose_spec

FAST = settings(max_examples=80, deadline=None)


def _zeros(*shape, dtype="float64"):
    return np.zeros(shape, dtype)


def _torch_transpose(case):
    def tensor(a):
        return None if a is None else torch.from_numpy(np.array(a, copy=True))

    return F.conv_transpose1d(tensor(case.x), tensor(case.w), tensor(case.b), case.stride, case.padding,
                              case.output_padding, case.groups, case.dilation)


def _length_out(length, stride, padding, dilation, kernel, output_padding):
    return (length - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


# --------------------------------------------------------------------------
# normalize_transpose


def test_spec_fields_of_a_grouped_call():
    spec = transpose_spec.normalize_transpose(_zeros(2, 6, 7), _zeros(6, 2, 4), _zeros(6), stride=(3,), padding=[1],
                                              output_padding=np.int64(2), groups=3, dilation=1)
    assert isinstance(spec, TransposeSpec)
    assert spec == TransposeSpec(batch=2, in_channels=6, length=7, out_channels=6, kernel_size=4, groups=3,
                                 stride=3, dilation=1, padding=1, output_padding=2,
                                 length_out=_length_out(7, 3, 1, 1, 4, 2), batched=True, has_bias=True,
                                 compute_dtype="float64", result_dtype="float64")
    assert spec.length_out == 22
    assert spec.output_shape == spec.result_shape == (2, 6, 22)
    assert all(type(getattr(spec, n)) is int for n in ("stride", "padding", "output_padding", "groups"))


def test_unbatched_input_gets_a_batch_of_one():
    spec = transpose_spec.normalize_transpose(_zeros(4, 5), _zeros(4, 3, 2), stride=2)
    assert (spec.batched, spec.batch) == (False, 1)
    assert spec.output_shape == (1, 3, 10) and spec.result_shape == (3, 10)
    assert not spec.has_bias


@pytest.mark.parametrize(
    "dtypes,result,compute",
    [(("float16", "float16", None), "float16", "float32"), (("float16", "float32", None), "float32", "float32"),
     (("float32", "complex64", "float64"), "complex128", "complex128"), (("float64", "float64", "float16"), "float64", "float64")],
)
def test_dtypes_promote_and_float16_computes_in_float32(dtypes, result, compute):
    x, w, b = (None if d is None else _zeros(*shape, dtype=d) for d, shape in zip(dtypes, ((1, 2, 3), (2, 2, 2), (2,))))
    spec = transpose_spec.normalize_transpose(x, w, b)
    assert (spec.result_dtype, spec.compute_dtype) == (result, compute)


@pytest.mark.parametrize("stride,dilation,output_padding", [(1, 3, 2), (3, 1, 2), (2, 5, 4), (4, 4, 3)])
def test_output_padding_below_stride_or_dilation_is_accepted_like_torch(stride, dilation, output_padding):
    x, w = _zeros(1, 2, 5), _zeros(2, 1, 3)
    expected = F.conv_transpose1d(torch.zeros(1, 2, 5, dtype=torch.float64), torch.zeros(2, 1, 3, dtype=torch.float64),
                                  stride=stride, output_padding=output_padding, dilation=dilation).shape
    spec = transpose_spec.normalize_transpose(x, w, stride=stride, output_padding=output_padding, dilation=dilation)
    assert spec.result_shape == tuple(expected)
    assert spec.length_out == _length_out(5, stride, 0, dilation, 3, output_padding)


def test_an_empty_batch_skips_the_output_padding_and_length_checks_like_torch():
    x, w = _zeros(0, 2, 3), _zeros(2, 1, 2)
    expected = F.conv_transpose1d(torch.zeros(0, 2, 3, dtype=torch.float64), torch.zeros(2, 1, 2, dtype=torch.float64),
                                  output_padding=3, padding=2).shape
    spec = transpose_spec.normalize_transpose(x, w, output_padding=3, padding=2)
    assert spec.result_shape == tuple(expected) == (0, 1, 3)
    spec = transpose_spec.normalize_transpose(x, w, padding=2)  # a zero output length
    assert spec.length_out == 0


@FAST
@given(case=transpose_cases(max_length=16, dtypes=("float64",)))
def test_spec_is_the_shape_torch_computes(case):
    """For random calls the spec's result shape is torch's, and the refusals are exactly torch's."""
    try:
        expected = tuple(_torch_transpose(case).shape)
    except (RuntimeError, ValueError):
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            transpose_spec.normalize_transpose(*case.args())
        return
    spec = transpose_spec.normalize_transpose(*case.args())
    assert spec.result_shape == expected
    assert spec.out_channels == case.w.shape[1] * case.groups
    assert spec.in_channels == case.w.shape[0]
    assert spec.length_out == _length_out(spec.length, spec.stride, spec.padding, spec.dilation, spec.kernel_size,
                                          spec.output_padding)


X = _zeros(2, 4, 10)
W = _zeros(4, 3, 3)


@pytest.mark.parametrize(
    "overrides,error,text",
    [
        ({"padding": "same"}, TypeError, "padding of a transposed convolution must be a non-negative int, got padding='same'"),
        ({"padding": "valid"}, TypeError, "got padding='valid'"),
        ({"padding": -1}, ValueError, "padding must be non-negative, got padding=-1"),
        ({"padding": 1.0}, TypeError, "got float padding=1.0"),
        ({"output_padding": -1}, ValueError, "output_padding must be non-negative, got output_padding=-1"),
        ({"output_padding": (1, 1)}, ValueError, "output_padding=(1, 1)"),
        ({"output_padding": True}, TypeError, "output_padding=True"),
        ({"output_padding": (1,)}, ValueError, "output_padding must be smaller than either stride or dilation, got output_padding=(1,), stride=1, dilation=1"),
        ({"output_padding": 3, "stride": 3, "dilation": 2}, ValueError, "got output_padding=3, stride=3, dilation=2"),
        ({"groups": (2,)}, TypeError, "groups=(2,)"),
        ({"groups": 0}, ValueError, "groups=0"),
        ({"stride": 0}, ValueError, "stride must be a positive integer, got stride=0"),
        ({"dilation": -1}, ValueError, "dilation=-1"),
        ({"weight": _zeros(4, 3, 0)}, ValueError, "weight must have a kernel size of at least 1, got weight.shape=(4, 3, 0)"),
        ({"input": _zeros(2, 1, 10), "weight": _zeros(1, 3, 3), "groups": 2}, ValueError, "weight must have at least groups=2 input channels, got weight.shape=(1, 3, 3)"),
        ({"weight": _zeros(4, 0, 3)}, ValueError, "at least one output channel per group, got weight.shape=(4, 0, 3)"),
        ({"input": _zeros(2, 3, 10), "weight": _zeros(3, 2, 3), "groups": 2}, ValueError, "weight.shape[0] (in channels) must be divisible by groups=2, got weight.shape=(3, 2, 3)"),
        ({"weight": _zeros(5, 3, 3)}, ValueError, "input must have weight.shape[0] = 5 channels, got input.shape=(2, 4, 10) and weight.shape=(5, 3, 3)"),
        ({"bias": _zeros(4)}, ValueError, "bias must be 1-D with weight.shape[1] * groups = 3 elements, got bias.shape=(4,)"),
        ({"weight": _zeros(4, 1, 3), "bias": _zeros(1), "groups": 2}, ValueError, "weight.shape[1] * groups = 2 elements, got bias.shape=(1,)"),
        ({"input": _zeros(2, 4, 0)}, ValueError, "input of length 0 is supported only with a zero batch or zero channels, got input.shape=(2, 4, 0)"),
        ({"padding": 7}, ValueError, "= -2 must be positive (L=10, stride=1, padding=7, dilation=1, K=3, output_padding=0)"),
        ({"input": _zeros(4, 2), "weight": _zeros(4, 3, 1), "padding": 1}, ValueError, "= 0 must be positive"),
        ({"input": _zeros(4, 10, 2)}, ValueError, "input.shape=(4, 10, 2)"),
        ({"input": _zeros(10)}, ValueError, "got input.shape=(10,)"),
        ({"weight": _zeros(4, 3)}, ValueError, "weight must be 3-D (C_in, C_out/groups, K), got weight.shape=(4, 3)"),
        ({"weight": None}, TypeError, "weight must be an array (NumPy, PyTorch, CuPy, ...), got weight=None"),
        ({"bias": _zeros(3, dtype="int32")}, TypeError, "bias.dtype=int32"),
    ],
)
def test_normalize_transpose_refusals_name_the_argument(overrides, error, text):
    args = {"input": X, "weight": W, "bias": None, "stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1}
    args.update(overrides)
    with pytest.raises(error) as info:
        transpose_spec.normalize_transpose(**args)
    assert text in str(info.value)


def test_huge_outputs_are_refused_as_too_large_to_index():
    with pytest.raises(ValueError, match="too large to index"):
        transpose_spec.normalize_transpose(_zeros(1, 4, 10), W, stride=2**61)


# --------------------------------------------------------------------------
# output_padding_for


def _torch_output_padding(output_size, x, stride, padding, dilation, kernel):
    layer = torch.nn.ConvTranspose1d(x.shape[-2], 1, kernel, stride, padding, dilation=dilation, device="meta")
    return layer._output_padding(torch.zeros(x.shape), output_size, [stride], [padding], [kernel], 1, [dilation])[0]


@FAST
@given(
    length=st.integers(1, 12), stride=st.integers(1, 5), padding=st.integers(0, 3), dilation=st.integers(1, 3),
    kernel=st.integers(1, 5), offset=st.integers(-2, 6), batched=st.booleans(), whole_shape=st.booleans(),
)
def test_output_padding_for_is_torchs(length, stride, padding, dilation, kernel, offset, batched, whole_shape):
    """For output sizes around the valid range, the output padding torch picks (or its refusal)."""
    x = _zeros(2, 3, length) if batched else _zeros(3, length)
    smallest = _length_out(length, stride, padding, dilation, kernel, 0)
    size = smallest + offset
    output_size = [*x.shape[:-1], size] if whole_shape else [size]
    try:
        expected = _torch_output_padding(output_size, x, stride, padding, dilation, kernel)
    except ValueError:
        expected = None
    if expected is None or size < 0:
        with pytest.raises(ValueError, match="output_size"):
            transpose_spec.output_padding_for(output_size, x, stride, padding, dilation, kernel)
        return
    result = transpose_spec.output_padding_for(tuple(output_size), x, stride, padding, dilation, kernel)
    assert result == expected == offset
    assert 0 <= result < stride


def test_output_padding_for_examples():
    x = _zeros(1, 2, 4)
    assert transpose_spec.output_padding_for([8], x, 2, 0, 1, 2) == 0
    assert transpose_spec.output_padding_for(torch.Size([1, 3, 9]), x, 2, 0, 1, 2) == 1
    assert transpose_spec.output_padding_for((np.int64(9),), x, 2, 0, 1, 2) == 1
    assert transpose_spec.output_padding_for([2, 9], _zeros(2, 4), 2, 0, 1, 2) == 1


@pytest.mark.parametrize(
    "output_size,input,error,text",
    [
        ([10], _zeros(1, 2, 4), ValueError, "output_size must be between 8 and 9 for an input of length 4, got output_size=[10]"),
        ((7,), _zeros(1, 2, 4), ValueError, "got output_size=(7,)"),
        ([1, 9], _zeros(1, 2, 4), ValueError, "output_size must have 1 or 3 elements for a 3-D input, got output_size=[1, 9]"),
        ([], _zeros(2, 4), ValueError, "1 or 2 elements for a 2-D input"),
        (8, _zeros(1, 2, 4), TypeError, "output_size must be a sequence (the output length, or the whole output shape), got int output_size=8"),
        ("8", _zeros(1, 2, 4), TypeError, "got str output_size='8'"),
        ([8.0], _zeros(1, 2, 4), TypeError, "output_size=8.0"),
        ([True], _zeros(1, 2, 4), TypeError, "output_size=True"),
        ([-1], _zeros(1, 2, 4), ValueError, "output_size must be non-negative, got output_size=-1"),
        ([8], None, TypeError, "input must be an array (NumPy, PyTorch, CuPy, ...), got NoneType"),
        ([8], [[1.0, 2.0]], TypeError, "got list"),
        ([8], _zeros(4), ValueError, "got input.shape=(4,)"),
    ],
)
def test_output_padding_for_refusals(output_size, input, error, text):
    with pytest.raises(error) as info:
        transpose_spec.output_padding_for(output_size, input, 2, 0, 1, 2)
    assert text in str(info.value)
