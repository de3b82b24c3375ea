"""arrayconv.shape.conv_spec, called directly: a conv1d call planned into a ConvSpec.

resolve_padding ('valid', explicit, and torch's 'same' split with the odd
element on the right), output_length (against an independent count of the
kernel's positions), check_padding_mode_limits (against torch's F.pad, which is
how nn.Conv1d pads), and normalize: every ConvSpec field (layout, groups per
channel, padding, length_out, dtype promotion into compute and result dtypes)
against torch's output for random calls, and its refusals, each naming the
argument and its value.
"""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from oracle import torch_conv1d
from strategies import conv_cases

from arrayconv.dtypes import FLOAT_NAMES
from arrayconv.padding import PADDING_MODES
from arrayconv.records import ConvSpec
from arrayconv.shape import conv_spec
from arrayconv.shape.arguments import placeholder

FAST = settings(max_examples=60, deadline=None)
TORCH_MODE = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _zeros(*shape, dtype="float32"):
    return np.zeros(shape, dtype)


# --------------------------------------------------------------------------
# resolve_padding


@pytest.mark.parametrize(
    "kernel,dilation,expected",
    [(1, 1, (0, 0)), (2, 1, (0, 1)), (3, 1, (1, 1)), (4, 1, (1, 2)), (5, 1, (2, 2)), (2, 2, (1, 1)),
     (4, 3, (4, 5)), (3, 4, (4, 4)), (6, 3, (7, 8))],
)
def test_same_puts_the_odd_element_on_the_right(kernel, dilation, expected):
    assert conv_spec.resolve_padding("same", 1, dilation, kernel) == expected
    left, right = expected
    assert left + right == dilation * (kernel - 1)


@FAST
@given(kernel=st.integers(1, 8), dilation=st.integers(1, 4), length=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_same_split_is_torchs(kernel, dilation, length, seed):
    """torch's padding='same' equals an explicit F.pad by resolve_padding's (left, right)."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((1, 2, length)))
    w = torch.from_numpy(rng.standard_normal((3, 2, kernel)))
    left, right = conv_spec.resolve_padding("same", 1, dilation, kernel)
    expected = F.conv1d(x, w, padding="same", dilation=dilation)
    ours = F.conv1d(F.pad(x, (left, right)), w, dilation=dilation)
    assert ours.shape == expected.shape == (1, 3, length)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("padding,expected", [("valid", (0, 0)), (0, (0, 0)), (3, (3, 3)), (-2, (-2, -2))])
def test_valid_and_explicit_padding_are_symmetric(padding, expected):
    assert conv_spec.resolve_padding(padding, 3, 2, 5) == expected


@pytest.mark.parametrize("stride", [2, 3, 100])
def test_same_with_a_stride_is_refused_naming_the_stride(stride):
    with pytest.raises(ValueError, match=f"padding='same' is not supported for strided convolutions, got stride={stride}"):
        conv_spec.resolve_padding("same", stride, 1, 3)
    with pytest.raises(RuntimeError, match="strided"):
        F.conv1d(torch.zeros(1, 1, 8), torch.zeros(1, 1, 3), stride=stride, padding="same")


# --------------------------------------------------------------------------
# output_length


@FAST
@given(padded=st.integers(1, 400), kernel=st.integers(1, 20), stride=st.integers(1, 12), dilation=st.integers(1, 8))
def test_output_length_counts_the_kernel_positions(padded, kernel, stride, dilation):
    """One output per start position 0, stride, 2 * stride, ... whose dilated kernel fits in the padded input."""
    extent = dilation * (kernel - 1) + 1
    assume(padded >= extent)
    starts = range(0, padded - extent + 1, stride)
    assert conv_spec.output_length(padded, kernel, stride, dilation) == len(starts)


@pytest.mark.parametrize(
    "args,expected",
    [((50, 3, 2, 1), 24), ((3, 3, 1, 1), 1), ((5, 3, 1, 2), 1), ((2**62, 1, 2**61, 1), 2), ((7, 1, 100, 1), 1)],
)
def test_output_length_examples(args, expected):
    assert conv_spec.output_length(*args) == expected


# --------------------------------------------------------------------------
# check_padding_mode_limits


@pytest.mark.parametrize("mode,length,accepted,refused", [("reflect", 4, 3, 4), ("reflect", 1, 0, 1),
                                                          ("circular", 4, 4, 5), ("circular", 1, 1, 2)])
def test_reflect_and_circular_reach(mode, length, accepted, refused):
    conv_spec.check_padding_mode_limits(mode, accepted, accepted, 2, length, (1, 2, length))
    conv_spec.check_padding_mode_limits(mode, 0, accepted, 2, length, (1, 2, length))
    for pads in ((refused, refused), (0, refused), (refused, -5)):
        with pytest.raises(ValueError) as info:
            conv_spec.check_padding_mode_limits(mode, *pads, 2, length, (1, 2, length))
        message = str(info.value)
        assert f"padding_mode={mode!r}" in message
        assert f"the input length {length}" in message and f"got padding={pads}" in message


def test_reflect_message_is_the_documented_one():
    with pytest.raises(ValueError) as info:
        conv_spec.check_padding_mode_limits("reflect", 4, 4, 1, 4, (1, 1, 4))
    assert str(info.value) == (
        "padding_mode='reflect' needs padding smaller than the input length 4, got padding=(4, 4)"
    )


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_zeros_and_replicate_have_no_reach(mode):
    conv_spec.check_padding_mode_limits(mode, 10**9, 10**9, 3, 2, (3, 2))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("channels,length", [(0, 5), (3, 0), (0, 0)])
def test_reflect_and_replicate_need_a_non_empty_signal(mode, channels, length):
    with pytest.raises(ValueError) as info:
        conv_spec.check_padding_mode_limits(mode, 0, 0, channels, length, (2, channels, length))
    assert f"padding_mode={mode!r} needs an input with non-zero channels and length" in str(info.value)
    assert f"got input.shape={(2, channels, length)}" in str(info.value)


@FAST
@given(
    mode=st.sampled_from(["reflect", "replicate", "circular"]),
    batch=st.integers(0, 2),
    channels=st.integers(0, 2),
    length=st.integers(0, 8),
    left=st.integers(-3, 10),
    right=st.integers(-3, 10),
)
def test_limits_are_torchs_f_pad(mode, batch, channels, length, left, right):
    """check_padding_mode_limits refuses exactly the pads torch's F.pad refuses (nn.Conv1d pads with it)."""
    assume(length + min(left, 0) + min(right, 0) > 0)  # what a crop leaves is the kernel check's business
    # Known difference, left open: a circular pad that crops one side and pads the other
    # (e.g. (-1, 2) on L=2) is checked by torch against the cropped length and by us
    # against L. conv1d's own padding is symmetric, so only internal crops could meet it.
    assume(not (mode == "circular" and min(left, right) < 0 < max(left, right)))
    shape = (batch, channels, length)
    try:
        F.pad(torch.zeros(shape), (left, right), mode=TORCH_MODE[mode])
        torch_refuses = False
    except (RuntimeError, ValueError):
        torch_refuses = True
    try:
        conv_spec.check_padding_mode_limits(mode, left, right, channels, length, shape)
        we_refuse = False
    except ValueError:
        we_refuse = True
    assert we_refuse == torch_refuses


# --------------------------------------------------------------------------
# normalize: the spec's fields


def test_spec_fields_of_a_batched_grouped_call():
    spec = conv_spec.normalize(_zeros(2, 6, 20), _zeros(9, 2, 4), _zeros(9), stride=(3,), padding=[2],
                               dilation=np.int64(2), groups=3, padding_mode="circular")
    assert isinstance(spec, ConvSpec)
    assert spec == ConvSpec(batch=2, in_channels=6, length=20, out_channels=9, kernel_size=4, groups=3,
                            stride=3, dilation=2, pad_left=2, pad_right=2, padding_mode="circular",
                            length_out=6, batched=True, has_bias=True, compute_dtype="float32",
                            result_dtype="float32")
    assert all(type(getattr(spec, name)) is int for name in ("stride", "dilation", "groups", "pad_left"))
    assert (spec.in_channels_per_group, spec.out_channels_per_group) == (2, 3)
    assert spec.padded_length == 24 and spec.kernel_extent == 7
    assert spec.output_shape == spec.result_shape == (2, 9, 6)
    assert spec.macs == 2 * 9 * 6 * 2 * 4
    hash(spec)


def test_unbatched_input_gets_a_batch_of_one():
    spec = conv_spec.normalize(_zeros(4, 10), _zeros(3, 4, 3))
    assert (spec.batched, spec.batch, spec.in_channels, spec.length) == (False, 1, 4, 10)
    assert spec.output_shape == (1, 3, 8) and spec.result_shape == (3, 8)
    assert not spec.has_bias


@pytest.mark.parametrize("kernel,dilation", [(1, 1), (2, 1), (3, 1), (4, 1), (4, 3), (5, 2), (2, 5)])
@pytest.mark.parametrize("mode", PADDING_MODES)
def test_same_keeps_the_length_with_the_split_on_the_right(kernel, dilation, mode):
    length = 3 * dilation * kernel  # long enough for reflect's reach
    spec = conv_spec.normalize(_zeros(1, 2, length), _zeros(2, 2, kernel), padding="same", dilation=dilation,
                               padding_mode=mode, stride=[1])
    total = dilation * (kernel - 1)
    assert (spec.pad_left, spec.pad_right) == (total // 2, total - total // 2)
    assert spec.pad_right - spec.pad_left == total % 2
    assert spec.length_out == length


def test_valid_is_no_padding():
    spec = conv_spec.normalize(_zeros(1, 1, 10), _zeros(1, 1, 3), padding="valid", stride=2)
    assert (spec.pad_left, spec.pad_right, spec.length_out) == (0, 0, 4)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_negative_padding_crops_in_the_spec(mode):
    spec = conv_spec.normalize(_zeros(1, 1, 10), _zeros(1, 1, 3), padding=-2, padding_mode=mode)
    assert (spec.pad_left, spec.pad_right, spec.padded_length, spec.length_out) == (-2, -2, 6, 4)


@pytest.mark.parametrize("x,w,b", [(d1, d2, d3) for d1 in FLOAT_NAMES for d2 in FLOAT_NAMES for d3 in (None, "float16", "complex128")
                                   if d1 <= d2])
def test_dtypes_promote_and_float16_computes_in_float32(x, w, b):
    spec = conv_spec.normalize(_zeros(1, 1, 4, dtype=x), _zeros(2, 1, 2, dtype=w),
                               None if b is None else _zeros(2, dtype=b))
    names = [n for n in (x, w, b) if n is not None]
    expected = str(functools.reduce(torch.promote_types, [getattr(torch, n) for n in names])).removeprefix("torch.")
    assert spec.result_dtype == expected
    assert spec.compute_dtype == ("float32" if expected == "float16" else expected)
    assert spec.has_bias == (b is not None)


def test_zero_channel_input_gives_no_output_channels_like_torch():
    spec = conv_spec.normalize(_zeros(2, 0, 10), _zeros(5, 0, 3))
    expected = torch_conv1d(_zeros(2, 0, 10), _zeros(5, 0, 3), None, 1, 0, 1, 1, "zeros").shape
    assert spec.out_channels == 5 and spec.output_channels == 0
    assert spec.result_shape == expected == (2, 0, 8)
    assert spec.is_empty and spec.macs == 0


@pytest.mark.parametrize("padding", [0, 1, 2])
def test_zero_batch_of_empty_signals_is_planned_where_torch_plans_it(padding):
    """A (0, C, 0) input is a plan with torch's shape once padded to the kernel, and refused before."""
    x, w = _zeros(0, 3, 0), _zeros(4, 3, 2)
    try:
        expected = torch_conv1d(x, w, None, 1, padding, 1, 1, "zeros").shape
    except RuntimeError:
        with pytest.raises(ValueError, match=f"padded input length {2 * padding}"):
            conv_spec.normalize(x, w, padding=padding)
        return
    spec = conv_spec.normalize(x, w, padding=padding)
    assert spec.result_shape == expected == (0, 4, 2 * padding - 1) and spec.is_empty


def test_normalize_takes_zero_memory_placeholders_of_huge_calls():
    x = placeholder((2**20, 8, 2**20), "input", "float64")
    w = placeholder((16, 8, 5), "weight", "float64")
    spec = conv_spec.normalize(x, w, stride=4)
    assert spec.result_shape == (2**20, 16, (2**20 - 5) // 4 + 1)
    with pytest.raises(ValueError, match="too large to index"):
        conv_spec.normalize(x, w, padding=2**40)  # 2**68 bytes of padded input


@FAST
@given(case=conv_cases(same_dtype=True, max_length=20))
def test_spec_is_the_shape_torch_computes(case):
    """For random calls (every mode, 'same'/'valid', tuples, groups, empty sizes), the spec's result
    shape is torch's output shape, and normalize refuses exactly the calls torch refuses."""
    try:
        expected = torch_conv1d(*case.args()).shape
    except (RuntimeError, ValueError, TypeError):
        expected = None
    if expected is None:
        with pytest.raises((ValueError, TypeError)):
            conv_spec.normalize(*case.args())
        return
    spec = conv_spec.normalize(*case.args())
    assert spec.result_shape == expected
    assert spec.batched == (case.x.ndim == 3)
    assert spec.in_channels == case.x.shape[-2] and spec.length == case.x.shape[-1]
    assert (spec.out_channels, spec.kernel_size) == (case.w.shape[0], case.w.shape[2])
    assert spec.in_channels_per_group == case.w.shape[1]
    assert spec.groups == case.groups
    assert spec.length_out == conv_spec.output_length(spec.padded_length, spec.kernel_size, spec.stride,
                                                      spec.dilation)
    assert spec.result_dtype == case.x.dtype.name


# --------------------------------------------------------------------------
# normalize: refusals, each naming the argument and its value

X = _zeros(2, 4, 10)
W = _zeros(6, 4, 3)


@pytest.mark.parametrize(
    "overrides,error,text",
    [
        ({"weight": _zeros(1, 2, 3), "groups": 2}, ValueError, "weight must have at least groups=2 output channels, got weight.shape=(1, 2, 3)"),
        ({"weight": _zeros(6, 2, 3), "groups": 3}, ValueError, "input must have weight.shape[1] * groups = 2 * 3 = 6 channels, got input.shape=(2, 4, 10) and weight.shape=(6, 2, 3)"),
        ({"weight": _zeros(5, 2, 3), "groups": 2}, ValueError, "weight.shape[0] (out channels) must be divisible by groups=2, got weight.shape=(5, 2, 3)"),
        ({"weight": _zeros(6, 4, 0)}, ValueError, "weight must have a kernel size of at least 1, got weight.shape=(6, 4, 0)"),
        ({"bias": _zeros(6, 1)}, ValueError, "bias must be 1-D with weight.shape[0] = 6 elements, got bias.shape=(6, 1)"),
        ({"weight": _zeros(6, 4, 4), "dilation": 4}, ValueError, "extent dilation * (K - 1) + 1 = 13 (dilation=4, K=4) is larger than the padded input length 10"),
        ({"weight": _zeros(6, 4, 13), "padding": 1}, ValueError, "(L=10, padding=(1, 1))"),
        ({"input": _zeros(2, 4, 0), "weight": _zeros(6, 4, 2), "padding": 1}, ValueError, "input of length 0 is supported only with a zero batch or zero channels, got input.shape=(2, 4, 0)"),
        ({"input": _zeros(2, 4, 0, dtype="int16")}, TypeError, "input.dtype=int16"),
        ({"groups": np.int64(0)}, ValueError, "groups must be a positive integer, got groups=np.int64(0)"),
        ({"stride": [0]}, ValueError, "stride must be a positive integer, got stride=[0]"),
        ({"dilation": (1, 1)}, ValueError, "dilation=(1, 1)"),
        ({"padding": -1, "padding_mode": "zeros"}, ValueError, "padding must be non-negative, got padding=-1"),
        ({"padding": -1, "padding_mode": "reflekt"}, ValueError, "padding_mode='reflekt'"),
        ({"padding": "same", "stride": (2,)}, ValueError, "got stride=2"),
        ({"padding": 10, "padding_mode": "reflect"}, ValueError, "padding_mode='reflect' needs padding smaller than the input length 10"),
        ({"input": _zeros(4, 0), "weight": _zeros(6, 4, 1), "padding_mode": "replicate"}, ValueError, "got input.shape=(4, 0)"),
    ],
)
def test_normalize_refusals_name_the_argument(overrides, error, text):
    args = {"input": X, "weight": W, "bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1, "padding_mode": "zeros"}
    args.update(overrides)
    with pytest.raises(error) as info:
        conv_spec.normalize(**args)
    assert text in str(info.value)

