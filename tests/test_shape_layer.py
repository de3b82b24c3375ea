"""arrayconv.shape.layer, called directly: a layer's hyper-parameters and state.

normalize_layer against torch's nn.Conv1d and nn.ConvTranspose1d
constructors over random hyper-parameters (which ones each refuses, the
1-tuples it stores, the weight shape and fan-in torch initialises from),
its refusals and its array-library and device handling; check_state (a
state dict checked against a LayerConfig) and layer_input.
"""

import dataclasses
import types

import array_api_compat
import array_api_compat.numpy
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import arrayconv
from arrayconv.shape import layer

FAST = settings(max_examples=80, deadline=None)


def _torch_layer(transposed, *args, **kwargs):
    cls = torch.nn.ConvTranspose1d if transposed else torch.nn.Conv1d
    return cls(*args, device="meta", **kwargs)


# --------------------------------------------------------------------------
# normalize_layer against torch's constructors


@FAST
@given(
    transposed=st.booleans(),
    in_channels=st.integers(0, 6),
    out_channels=st.integers(0, 6),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    padding=st.one_of(st.integers(0, 4), st.sampled_from(["same", "valid"])),
    dilation=st.integers(1, 3),
    groups=st.integers(-1, 4),
    bias=st.booleans(),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular", "mirror"]),
    output_padding=st.integers(0, 2),
)
def test_layer_is_accepted_where_torch_accepts_it(transposed, in_channels, out_channels, kernel, stride, padding,
                                                  dilation, groups, bias, mode, output_padding):
    """Accepted exactly where torch's constructor accepts, with torch's attributes and weight shape.

    (A transposed layer with a padding string is left out: torch's ConvTranspose1d stores 'same' as
    the tuple ('s', 'a', 'm', 'e') rather than refusing it; arrayconv refuses it.)
    """
    if transposed and isinstance(padding, str):
        padding = 0
    args = (in_channels, out_channels, kernel)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "bias": bias, "padding_mode": mode}
    extra = {"output_padding": output_padding} if transposed else {}
    try:
        theirs = _torch_layer(transposed, *args, **kwargs, **extra)
    except (ValueError, RuntimeError):
        with pytest.raises(ValueError):
            layer.normalize_layer(*args, **kwargs, output_padding=output_padding if transposed else None)
        return
    config = layer.normalize_layer(*args, **kwargs, output_padding=output_padding if transposed else None)
    assert config.transposed == transposed
    assert (config.in_channels, config.out_channels, config.groups) == (in_channels, out_channels, theirs.groups)
    assert config.kernel_size == theirs.kernel_size and config.stride == theirs.stride
    assert config.dilation == theirs.dilation and config.padding == theirs.padding
    assert config.padding_mode == theirs.padding_mode
    assert config.output_padding == (theirs.output_padding if transposed else (0,))
    assert config.weight_shape == tuple(theirs.weight.shape)
    assert config.bias == (theirs.bias is not None)
    if theirs.weight.numel():
        fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
        assert config.fan_in == fan_in


def test_defaults_and_canonical_forms():
    config = layer.normalize_layer(np.int64(4), 8, (3,), stride=[2], padding=(1,), dilation=np.int32(2))
    assert config == layer.LayerConfig(
        in_channels=4, out_channels=8, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), groups=1,
        padding_mode="zeros", bias=True, device="cpu", dtype="float32", namespace=None, transposed=False,
        output_padding=(0,),
    )
    assert all(type(v[0]) is int for v in (config.kernel_size, config.stride, config.padding, config.dilation))
    assert layer.normalize_layer(4, 8, 3, padding="same").padding == "same"
    assert layer.normalize_layer(4, 8, 3, padding="valid").padding == "valid"


def test_weight_shape_and_fan_in_of_grouped_layers():
    conv = layer.normalize_layer(6, 9, 4, groups=3)
    assert conv.weight_shape == (9, 2, 4) and conv.fan_in == 8
    transposed = layer.normalize_layer(6, 9, 4, groups=3, output_padding=(1,))
    assert transposed.weight_shape == (6, 3, 4) and transposed.fan_in == 12
    assert transposed.output_padding == (1,) and transposed.transposed


def test_config_is_frozen():
    config = layer.normalize_layer(2, 2, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.groups = 2
    assert hash(config) == hash(layer.normalize_layer(2, 2, 3))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_negative_padding_is_allowed_with_the_cropping_modes_only(mode):
    assert layer.normalize_layer(2, 2, 3, padding=-1, padding_mode=mode).padding == (-1,)
    with pytest.raises(ValueError, match="padding must be non-negative, got padding=-1"):
        layer.normalize_layer(2, 2, 3, padding=-1)


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"in_channels": 6, "groups": 4}, ValueError, "in_channels=6 must be divisible by groups=4"),
        ({"out_channels": 6, "groups": 4, "in_channels": 4}, ValueError, "out_channels=6 must be divisible by groups=4"),
        ({"groups": 0}, ValueError, "groups must be a positive integer, got groups=0"),
        ({"stride": 0}, ValueError, "stride must be a positive integer, got stride=0"),
        ({"dilation": (0,)}, ValueError, "got dilation=(0,)"),
        ({"kernel_size": (3, 3)}, ValueError, "kernel_size=(3, 3)"),
        ({"kernel_size": None}, TypeError, "kernel_size=None"),
        ({"out_channels": 8.0}, TypeError, "got float out_channels=8.0"),
        ({"in_channels": True}, TypeError, "in_channels=True"),
        ({"padding": 2.0}, TypeError, "padding=2.0"),
        ({"padding": "same", "stride": 2}, ValueError, "padding='same' is not supported for strided convolutions, got stride=2"),
        ({"padding_mode": "Zeros"}, ValueError, "padding_mode='Zeros'"),
        ({"bias": 1.0}, TypeError, "bias must be True or False, got float bias=1.0"),
        ({"bias": "False"}, TypeError, "got str bias='False'"),
        ({"dtype": np.int32}, TypeError, "dtype=<class 'numpy.int32'>"),
        ({"dtype": torch.bfloat16}, TypeError, "dtype=torch.bfloat16"),
        ({"output_padding": -1}, ValueError, "output_padding must be non-negative, got output_padding=-1"),
        ({"output_padding": 1.0}, TypeError, "output_padding=1.0"),
        ({"output_padding": 0, "padding_mode": "circular"}, ValueError, "padding_mode must be 'zeros' for a transposed convolution, got padding_mode='circular'"),
        ({"output_padding": 0, "padding": "same"}, ValueError, "padding of a transposed convolution must be a non-negative int, got padding='same'"),
        ({"output_padding": 0, "padding": -1}, ValueError, "padding must be non-negative, got padding=-1"),
    ],
)
def test_normalize_layer_refusals_name_the_argument(kwargs, error, text):
    args = {"in_channels": 4, "out_channels": 8, "kernel_size": 3}
    args.update(kwargs)
    with pytest.raises(error) as info:
        layer.normalize_layer(**args)
    assert text in str(info.value)


@pytest.mark.parametrize("bias,expected", [(True, True), (False, False), (None, False), (np.True_, True), (0, False), (1, True)])
def test_bias_flags(bias, expected):
    assert layer.normalize_layer(2, 2, 3, bias=bias).bias is expected


@pytest.mark.parametrize("dtype,expected", [(None, "float32"), ("float64", "float64"), (torch.complex64, "complex64"), (complex, "complex128")])
def test_layer_dtype(dtype, expected):
    assert layer.normalize_layer(2, 2, 3, dtype=dtype).dtype == expected


# --------------------------------------------------------------------------
# array library and device


@pytest.mark.parametrize("device", [None, "cpu", "cpu:0", torch.device("cpu")])
def test_numpy_parameters_live_on_the_cpu(device):
    config = layer.normalize_layer(2, 2, 3, device=device)
    assert config.namespace is None and config.device == "cpu"


@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("meta")])
def test_numpy_parameters_refuse_another_device(device):
    with pytest.raises(ValueError) as info:
        layer.normalize_layer(2, 2, 3, device=device)
    assert f"device must be None or the CPU for NumPy parameters, got device={device!r}" in str(info.value)


@pytest.mark.parametrize("xp", [np, array_api_compat.numpy])
def test_numpy_namespaces_mean_numpy(xp):
    assert layer.normalize_layer(2, 2, 3, xp=xp).namespace is None


@pytest.mark.parametrize("device", ["cpu", "meta", torch.device("cpu")])
def test_torch_parameters_on_a_torch_device(device):
    config = layer.normalize_layer(2, 2, 3, xp=torch, device=device)
    assert array_api_compat.is_torch_namespace(config.namespace)
    assert config.device == device


def test_an_unknown_torch_device_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="device='nowhere' is not a device of torch"):
        layer.normalize_layer(2, 2, 3, xp=torch, device="nowhere")


_NotALibrary = types.ModuleType("fake")
_NotALibrary.asarray = lambda values: list(values)  # an asarray whose result array_api_compat does not know


@pytest.mark.parametrize(
    "xp,text",
    [("torch", "xp must be an array library such as torch, cupy or array_api_strict, got xp='torch'"),
     (object(), "xp must be an array library"),
     (_NotALibrary, "xp='fake' is not an array library array_api_compat knows")],
)
def test_xp_that_is_not_an_array_library_is_a_type_error(xp, text):
    with pytest.raises(TypeError) as info:
        layer.normalize_layer(2, 2, 3, xp=xp)
    assert text in str(info.value)


# --------------------------------------------------------------------------
# check_state


CONFIG = layer.normalize_layer(4, 6, 3, groups=2)
TRANSPOSED = layer.normalize_layer(4, 6, 3, groups=2, output_padding=0)


def test_check_state_returns_the_arrays_as_given():
    weight, bias = np.ones((6, 2, 3)), np.ones(6, np.float32)
    got = layer.check_state(CONFIG, {"weight": weight, "bias": bias})
    assert got[0] is weight and got[1] is bias
    no_bias = layer.normalize_layer(4, 6, 3, groups=2, bias=False)
    got = layer.check_state(no_bias, {"weight": weight})
    assert got[0] is weight and got[1] is None


def test_check_state_of_a_transposed_layer_uses_its_weight_layout():
    weight, bias = torch.ones(4, 3, 3), torch.ones(6)
    assert layer.check_state(TRANSPOSED, {"weight": weight, "bias": bias}) == (weight, bias)
    with pytest.raises(ValueError, match=r"weight must have shape \(4, 3, 3\) for this layer, got weight.shape=\(6, 2, 3\)"):
        layer.check_state(TRANSPOSED, {"weight": torch.ones(6, 2, 3), "bias": bias})


def test_check_state_accepts_torchs_own_state_dict():
    theirs = torch.nn.Conv1d(4, 6, 3, groups=2)
    weight, bias = layer.check_state(CONFIG, theirs.state_dict())
    assert tuple(weight.shape) == (6, 2, 3) and tuple(bias.shape) == (6,)


@pytest.mark.parametrize(
    "state,error,text",
    [
        ([("weight", np.ones((6, 2, 3)))], TypeError, "state must be a mapping of names to arrays, got list"),
        (None, TypeError, "got NoneType"),
        ({"weight": np.ones((6, 2, 3))}, ValueError, "state must have exactly the keys ['bias', 'weight']; missing ['bias'], unexpected []"),
        ({"weight": np.ones((6, 2, 3)), "bias": np.ones(6), "running_mean": np.ones(6)}, ValueError, "unexpected ['running_mean']"),
        ({"weight": np.ones((6, 4, 3)), "bias": np.ones(6)}, ValueError, "weight must have shape (6, 2, 3) for this layer, got weight.shape=(6, 4, 3)"),
        ({"weight": np.ones((6, 2, 3)), "bias": np.ones((6, 1))}, ValueError, "bias must have shape (6,) for this layer, got bias.shape=(6, 1)"),
        ({"weight": np.ones((6, 2, 3), np.int8), "bias": np.ones(6)}, TypeError, "weight.dtype=int8"),
        ({"weight": np.ones((6, 2, 3)), "bias": np.ones(6, bool)}, TypeError, "bias.dtype=bool"),
        ({"weight": torch.ones(6, 2, 3), "bias": np.ones(6)}, TypeError, "weight, bias must be arrays of one kind"),
        ({"weight": "w", "bias": np.ones(6)}, TypeError, "weight must be an array"),
    ],
)
def test_check_state_refusals(state, error, text):
    with pytest.raises(error) as info:
        layer.check_state(CONFIG, state)
    assert text in str(info.value)


def test_check_state_of_a_layer_without_bias_refuses_one():
    no_bias = layer.normalize_layer(4, 6, 3, groups=2, bias=False)
    with pytest.raises(ValueError, match=r"exactly the keys \['weight'\]; missing \[\], unexpected \['bias'\]"):
        layer.check_state(no_bias, {"weight": np.ones((6, 2, 3)), "bias": np.ones(6)})


def test_check_state_refuses_a_missing_bias_array_for_a_layer_with_bias():
    """A None bias would silently drop the layer's bias (torch's load_state_dict refuses it too)."""
    with pytest.raises(TypeError, match=r"state\['bias'\] must be an array for a layer with a bias, got None"):
        layer.check_state(CONFIG, {"weight": np.ones((6, 2, 3)), "bias": None})
    m = arrayconv.Conv1d(4, 6, 3, groups=2, rng=0)
    before = m.bias.copy()
    with pytest.raises(TypeError, match="bias"):
        m.load_state_dict({"weight": np.ones((6, 2, 3)), "bias": None})
    np.testing.assert_array_equal(m.bias, before)


def test_torch_refuses_a_none_bias_in_a_state_dict():
    """The behaviour the test above holds arrayconv to, as torch has it."""
    with pytest.raises(RuntimeError, match='parameter named "bias"'):
        torch.nn.Conv1d(4, 6, 3, groups=2).load_state_dict({"weight": torch.ones(6, 2, 3), "bias": None})


# --------------------------------------------------------------------------
# layer_input


def test_layer_input_prefers_the_given_input():
    given_, saved = np.ones(2), np.zeros(2)
    assert layer.layer_input(given_, saved, "Conv1d") is given_
    assert layer.layer_input(None, saved, "Conv1d") is saved
    assert layer.layer_input(given_, None, "Conv1d") is given_


@pytest.mark.parametrize("name", ["Conv1d", "ConvTranspose1d"])
def test_layer_input_without_any_names_the_layer(name):
    with pytest.raises(ValueError) as info:
        layer.layer_input(None, None, name)
    assert str(info.value) == (
        f"{name}.backward needs the input of a forward call: call the layer first, or pass input="
    )
