"""arrayconv.shape.arguments, called directly: the coercion every call shares.

Integers and 1-sequences (as_int, positive_int, non_negative_int), padding and
padding_mode, array namespaces and devices, dtype names and their promotion
(against torch.promote_types), input layouts, the 64-bit size guard, layer
dtypes and the zero-memory placeholders of ``explain``.  Each refusal must be
the TypeError or ValueError whose message names the argument and its value.
"""

import functools
import sys

import array_api_compat
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arrayconv.dtypes import FLOAT_NAMES
from arrayconv.padding import PADDING_MODES
from arrayconv.shape import arguments

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------
# integers


@pytest.mark.parametrize(
    "value,expected",
    [(3, 3), (0, 0), (-4, -4), (np.int64(5), 5), (np.int8(-2), -2), (np.uint16(7), 7), ((6,), 6), ([2], 2),
     ((np.int32(9),), 9), (np.array(3), 3), (torch.tensor(4), 4), (sys.maxsize, sys.maxsize),
     (-sys.maxsize, -sys.maxsize)],
)
def test_as_int_returns_a_plain_int(value, expected):
    result = arguments.as_int("stride", value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value,error,text",
    [
        (True, TypeError, "stride must be an int, got bool stride=True"),
        (np.bool_(False), TypeError, "got bool stride=np.False_"),
        ((True,), TypeError, "got bool stride=True"),
        (1.0, TypeError, "stride must be an int or a 1-tuple of int, got float stride=1.0"),
        ("2", TypeError, "got str stride='2'"),
        (None, TypeError, "got NoneType stride=None"),
        ((1.5,), TypeError, "got float stride=1.5"),
        ((), ValueError, "a sequence of 1 int for a 1-D convolution, got stride=()"),
        ((1, 2), ValueError, "got stride=(1, 2)"),
        ([1, 1, 1], ValueError, "got stride=[1, 1, 1]"),
        (sys.maxsize + 1, ValueError, f"stride is too large to index with: stride={sys.maxsize + 1}"),
        (-sys.maxsize - 1, ValueError, f"too large to index with: stride={-sys.maxsize - 1}"),
        (np.uint64(2**64 - 1), ValueError, "too large to index with: stride=np.uint64(18446744073709551615)"),
        ((2**70,), ValueError, f"stride={2**70}"),
    ],
)
def test_as_int_refusals_name_the_argument_and_value(value, error, text):
    with pytest.raises(error) as info:
        arguments.as_int("stride", value)
    assert text in str(info.value)


def test_as_int_without_sequences_refuses_a_tuple_as_a_type_error():
    assert arguments.as_int("groups", np.int64(2), sequence=False) == 2
    with pytest.raises(TypeError, match=r"groups must be an int, got tuple groups=\(1,\)"):
        arguments.as_int("groups", (1,), sequence=False)
    with pytest.raises(TypeError, match=r"groups must be an int, got list groups=\[2\]"):
        arguments.as_int("groups", [2], sequence=False)


def test_long_values_are_cut_in_the_message():
    with pytest.raises(TypeError) as info:
        arguments.as_int("padding", "x" * 200)
    message = str(info.value)
    assert "padding='xxxx" in message and message.endswith("...")
    assert len(message) < 200


@pytest.mark.parametrize("text", ["", "a" * 60, "b" * 61, "c" * 500])
def test_short_repr_keeps_at_most_60_characters(text):
    value = text[:-2] if text else text  # repr adds two quotes
    cut = arguments.short_repr(value)
    full = repr(value)
    if len(full) <= 60:
        assert cut == full
    else:
        assert len(cut) == 60 and cut.endswith("...") and cut[:57] == full[:57]


@FAST
@given(n=st.integers(-(2**64), 2**64), wrap=st.sampled_from(["int", "tuple", "list", "numpy"]))
def test_sign_checks_follow_the_value(n, wrap):
    """positive_int accepts exactly n > 0, non_negative_int exactly n >= 0, within the index range."""
    in_range = abs(n) <= sys.maxsize
    if wrap == "numpy" and in_range:
        value = np.int64(n)
    elif wrap == "tuple":
        value = (n,)
    elif wrap == "list":
        value = [n]
    else:
        value = n
    for function, accepts, word in (
        (arguments.positive_int, n > 0, "a positive integer"),
        (arguments.non_negative_int, n >= 0, "non-negative"),
    ):
        if in_range and accepts:
            result = function("dilation", value)
            assert result == n and type(result) is int
            continue
        with pytest.raises(ValueError) as info:
            function("dilation", value)
        message = str(info.value)
        if in_range:
            assert f"dilation must be {word}, got dilation={value!r}" in message
        else:
            assert f"dilation is too large to index with: dilation={n!r}" in message


def test_positive_int_names_the_value_as_given():
    with pytest.raises(ValueError, match=r"kernel_size must be a positive integer, got kernel_size=\(0,\)"):
        arguments.positive_int("kernel_size", (0,))
    with pytest.raises(ValueError, match=r"output_padding must be non-negative, got output_padding=-1"):
        arguments.non_negative_int("output_padding", -1, sequence=False)


# --------------------------------------------------------------------------
# padding and padding_mode


@pytest.mark.parametrize("mode", PADDING_MODES)
@pytest.mark.parametrize("value", ["same", "valid"])
def test_padding_strings_pass_through(mode, value):
    assert arguments.padding_arg(value, mode) == value


@pytest.mark.parametrize("value", ["full", "SAME", "Valid", "", "same "])
def test_unknown_padding_strings_are_value_errors(value):
    with pytest.raises(ValueError) as info:
        arguments.padding_arg(value, "zeros")
    assert f"padding={value!r}" in str(info.value)
    with pytest.raises((ValueError, RuntimeError)):  # torch refuses them too
        torch.nn.functional.conv1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 2), padding=value)


def test_negative_padding_is_refused_with_zeros_and_kept_with_the_other_modes():
    with pytest.raises(ValueError, match="padding must be non-negative, got padding=-2"):
        arguments.padding_arg(-2, "zeros")
    with pytest.raises(ValueError, match=r"padding=\(-1,\)"):
        arguments.padding_arg((-1,), "zeros")
    for mode in ("reflect", "replicate", "circular"):
        assert arguments.padding_arg(-2, mode) == -2
        assert arguments.padding_arg([-3], mode) == -3


@pytest.mark.parametrize("value,text", [(1.0, "got float padding=1.0"), (None, "padding=None"), ((1, 1), "padding=(1, 1)")])
def test_padding_of_the_wrong_kind_names_it(value, text):
    with pytest.raises((TypeError, ValueError)) as info:
        arguments.padding_arg(value, "reflect")
    assert text in str(info.value)


@pytest.mark.parametrize("value", [*PADDING_MODES, "mirror", "Zeros", "constant", "", None, 0, ("zeros",)])
def test_padding_mode_is_accepted_exactly_where_torch_accepts_it(value):
    try:
        torch.nn.Conv1d(1, 1, 1, padding_mode=value, device="meta")
        torch_accepts = True
    except (ValueError, TypeError):
        torch_accepts = False
    if torch_accepts:
        assert arguments.padding_mode_arg(value) == value
    else:
        with pytest.raises(ValueError) as info:
            arguments.padding_mode_arg(value)
        assert f"padding_mode={value!r}" in str(info.value)
        assert str(PADDING_MODES) in str(info.value)


# --------------------------------------------------------------------------
# namespaces


def test_numpy_arrays_take_the_fast_path():
    assert arguments.namespace_of(input=np.zeros(3), weight=np.zeros(2), bias=None) is None
    assert arguments.namespace_of(input=None) is None


def test_torch_arrays_get_the_compat_namespace():
    xp = arguments.namespace_of(input=torch.zeros(3), weight=torch.zeros(2), bias=None)
    assert array_api_compat.is_torch_namespace(xp)


@pytest.mark.parametrize("value,kind", [([1.0, 2.0], "list"), ("abc", "str"), (3.0, "float")])
def test_a_non_array_is_named(value, kind):
    with pytest.raises(TypeError) as info:
        arguments.namespace_of(input=np.zeros(3), bias=value)
    assert f"bias must be an array (NumPy, PyTorch, CuPy, ...), got {kind} bias={value!r}" in str(info.value)


def test_mixed_libraries_are_named_with_their_types():
    with pytest.raises(TypeError) as info:
        arguments.namespace_of(input=np.zeros(3), weight=torch.zeros(2))
    message = str(info.value)
    assert message.startswith("input, weight must be arrays of one kind")
    assert "input: numpy.ndarray" in message and "weight: torch.Tensor" in message


def test_mixed_devices_are_named_with_their_devices():
    with pytest.raises(TypeError) as info:
        arguments.namespace_of(input=torch.zeros(3), weight=torch.zeros(2, device="meta"))
    message = str(info.value)
    assert "must be on one device" in message
    assert "input on cpu" in message and "weight on meta" in message


@pytest.mark.parametrize("missing", ["input", "weight"])
def test_arrays_namespace_refuses_a_missing_input_or_weight(missing):
    arrays = {"input": np.zeros((1, 1, 3)), "weight": np.zeros((1, 1, 2)), "bias": None}
    arrays[missing] = None
    with pytest.raises(TypeError, match=f"{missing} must be an array .*got {missing}=None"):
        arguments.arrays_namespace(**arrays)


# --------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("name", FLOAT_NAMES)
def test_dtype_name_of_every_floating_dtype(name):
    assert arguments.dtype_name(None, "input", np.zeros(2, name)) == name
    assert arguments.dtype_name(None, "input", np.zeros(2, np.dtype(name).newbyteorder(">"))) == name
    xp = array_api_compat.array_namespace(torch.zeros(1))
    assert arguments.dtype_name(xp, "input", torch.zeros(2, dtype=getattr(torch, name))) == name


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool", "object", "longdouble", "datetime64[s]", "U3"])
def test_dtype_name_refuses_non_floating_numpy_dtypes(dtype):
    array = np.zeros(2, dtype)
    with pytest.raises(TypeError) as info:
        arguments.dtype_name(None, "weight", array)
    assert "weight must have a floating or complex dtype" in str(info.value)
    assert f"got weight.dtype={array.dtype}" in str(info.value)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.bfloat16, torch.complex32])
def test_dtype_name_refuses_non_floating_torch_dtypes(dtype):
    xp = array_api_compat.array_namespace(torch.zeros(1))
    with pytest.raises(TypeError, match=f"got bias.dtype={dtype}"):
        arguments.dtype_name(xp, "bias", torch.zeros(2, dtype=dtype))


@FAST
@given(names=st.lists(st.sampled_from(FLOAT_NAMES), min_size=1, max_size=4))
def test_promotion_is_torchs_and_numpys(names):
    """The Array API promotion, which torch.promote_types and NumPy both follow among these dtypes."""
    expected_torch = functools.reduce(torch.promote_types, [getattr(torch, n) for n in names])
    assert arguments.promoted(names) == str(expected_torch).removeprefix("torch.")
    assert arguments.promoted(names) == np.result_type(*names).name


@pytest.mark.parametrize(
    "dtypes,expected",
    [(("float16", "float16", None), "float16"), (("float16", "float32", None), "float32"),
     (("float32", "float32", "float64"), "float64"), (("float64", "complex64", None), "complex128"),
     (("float16", "complex64", "float32"), "complex64")],
)
def test_arrays_dtype_promotes_the_given_arrays(dtypes, expected):
    x, w, b = (None if d is None else np.zeros(2, d) for d in dtypes)
    assert arguments.arrays_dtype(None, x, w, b) == expected


def test_arrays_dtype_names_the_non_floating_array():
    with pytest.raises(TypeError, match="got bias.dtype=int64"):
        arguments.arrays_dtype(None, np.zeros(2), np.zeros(2), np.zeros(2, np.int64))


# --------------------------------------------------------------------------
# layouts and sizes


def test_input_layout_of_batched_and_unbatched_inputs():
    w = np.zeros((6, 4, 3))
    assert arguments.input_layout(np.zeros((2, 4, 10)), w, "L") == (True, 2, 4, 10)
    assert arguments.input_layout(np.zeros((4, 10)), w, "L") == (False, 1, 4, 10)
    assert arguments.input_layout(np.zeros((0, 0, 0)), w, "L") == (True, 0, 0, 0)


@pytest.mark.parametrize("shape", [(), (10,), (1, 2, 3, 4)])
def test_input_layout_refuses_other_ranks(shape):
    with pytest.raises(ValueError) as info:
        arguments.input_layout(np.zeros(shape), np.zeros((1, 1, 1)), "L")
    assert f"got input.shape={shape!r}" in str(info.value)


def test_input_layout_names_the_weight_layout_it_was_given():
    with pytest.raises(ValueError) as info:
        arguments.input_layout(np.zeros((2, 4, 10)), np.zeros((6, 4)), "(C_in, C_out/groups, K)")
    assert str(info.value) == "weight must be 3-D (C_in, C_out/groups, K), got weight.shape=(6, 4)"


@pytest.mark.parametrize("dtype,itemsize", [("float32", 4), ("float64", 8), ("complex64", 8), ("complex128", 16)])
def test_check_size_refuses_exactly_past_a_64_bit_byte_offset(dtype, itemsize):
    largest = sys.maxsize // itemsize  # the longest signal whose bytes still fit
    arguments.check_size(1, 1, largest, dtype)
    arguments.check_size(0, 2**40, 2**40, dtype)  # nothing to index
    with pytest.raises(ValueError) as info:
        arguments.check_size(1, 1, largest + 1, dtype)
    assert f"batch=1, channels=1, length={largest + 1}" in str(info.value)
    assert "overflow a 64-bit byte offset" in str(info.value)


# --------------------------------------------------------------------------
# layer dtypes and placeholders


@pytest.mark.parametrize(
    "dtype,expected",
    [(None, "float32"), ("float64", "float64"), ("f2", "float16"), ("double", "float64"), (float, "float64"),
     (complex, "complex128"), (np.float32, "float32"), (np.dtype(">c8"), "complex64"),
     (torch.float64, "float64"), (torch.complex64, "complex64"), (torch.float16, "float16"),
     ("torch.float64", "float64")],
)
def test_layer_dtype_names(dtype, expected):
    assert arguments.layer_dtype(dtype) == expected


@pytest.mark.parametrize("dtype", ["int32", int, bool, np.int8, torch.int32, torch.bfloat16, "float128", "nonsense",
                                   "", object, [("a", "f4")], 5])
def test_layer_dtype_refuses_the_rest_as_type_errors(dtype):
    with pytest.raises(TypeError) as info:
        arguments.layer_dtype(dtype)
    assert f"got dtype={dtype!r}" in str(info.value)


@pytest.mark.parametrize("shape", [(2, 3), [4, 5, 6], (np.int64(2), 0, 7), ()])
def test_placeholder_is_a_zero_memory_array_of_the_shape(shape):
    array = arguments.placeholder(shape, "input", "complex64")
    assert array.shape == tuple(int(n) for n in shape)
    assert array.dtype == np.complex64
    assert all(stride == 0 for stride in array.strides)
    assert not array.flags.writeable
    assert not array.any()


def test_placeholder_of_a_huge_shape_allocates_nothing():
    array = arguments.placeholder((2**20, 2**20, 2**20), "input", None)
    assert array.dtype == np.float32 and array.shape == (2**20, 2**20, 2**20)
    assert array.base is not None and array.base.nbytes <= 4


def test_placeholder_passes_arrays_and_none_through():
    x = np.ones(3)
    t = torch.ones(3)
    assert arguments.placeholder(x, "input", "float64") is x
    assert arguments.placeholder(t, "input", "float64") is t
    assert arguments.placeholder(None, "bias", "float64") is None


@pytest.mark.parametrize("shape", [(2, -1), (2.0, 3), (True, 3), ("2",), (None,)])
def test_placeholder_refuses_shapes_that_are_not_non_negative_ints(shape):
    with pytest.raises(TypeError) as info:
        arguments.placeholder(shape, "weight", "float32")
    assert f"weight must be an array or a shape of non-negative ints, got weight={shape!r}" in str(info.value)


def test_placeholder_refuses_an_integer_dtype():
    with pytest.raises(TypeError, match="got dtype='int64'"):
        arguments.placeholder((2, 3), "input", "int64")
