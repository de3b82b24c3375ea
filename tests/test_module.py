"""Conv1d: torch's attributes and repr, initialisation, parameter loading."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import arrayconv
from arrayconv import Conv1d
from oracle import RTOL


@st.composite
def layer_args(draw):
    groups = draw(st.integers(1, 4))
    kwargs = dict(
        in_channels=groups * draw(st.integers(1, 4)),
        out_channels=groups * draw(st.integers(1, 4)),
        kernel_size=draw(st.one_of(st.integers(1, 6), st.tuples(st.integers(1, 6)))),
        dilation=draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3)))),
        groups=groups,
        bias=draw(st.booleans()),
        padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"])),
    )
    padding = draw(st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3)), st.sampled_from(["same", "valid"])))
    kwargs["padding"] = padding
    kwargs["stride"] = 1 if padding == "same" else draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3))))
    return kwargs


ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
              "groups", "padding_mode", "transposed", "output_padding")


@given(kwargs=layer_args())
def test_attributes_and_repr_match_torch(kwargs):
    ours, theirs = Conv1d(**kwargs), torch.nn.Conv1d(**kwargs)
    assert repr(ours) == repr(theirs)
    for name in ATTRIBUTES:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert (ours.bias is None) == (theirs.bias is None)
    if ours.bias is not None:
        assert ours.bias.shape == tuple(theirs.bias.shape)


def test_docs_example():
    m = Conv1d(16, 33, 3, stride=2)
    assert repr(m) == "Conv1d(16, 33, kernel_size=(3,), stride=(2,))"
    x = np.random.default_rng(0).standard_normal((20, 16, 50)).astype(np.float32)
    assert m(x).shape == (20, 33, 24)


@given(kwargs=layer_args(), seed=st.integers(0, 2**32 - 1))
def test_loaded_torch_parameters_give_torch_output(kwargs, seed):
    """A torch layer's state dict, loaded as it is, gives that layer's output."""
    theirs = torch.nn.Conv1d(**kwargs)
    ours = Conv1d(**kwargs)
    ours.load_state_dict(theirs.state_dict())
    length = 3 * (kwargs["kernel_size"] if isinstance(kwargs["kernel_size"], int) else kwargs["kernel_size"][0]) * 3 + 4
    x = np.random.default_rng(seed).standard_normal((2, kwargs["in_channels"], length)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    result = ours(x)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, expected, atol=RTOL["float32"] * 10 * max(1.0, np.abs(expected).max()))


def test_exported_parameters_load_into_torch():
    ours = Conv1d(4, 6, 3, groups=2, padding=1, rng=1)
    theirs = torch.nn.Conv1d(4, 6, 3, groups=2, padding=1)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 4, 20)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_copies(dtype):
    """The layer owns its parameters: changing the loaded arrays later changes nothing."""
    m = Conv1d(2, 2, 3, dtype=dtype)
    weight, bias = np.ones((2, 2, 3), dtype), np.zeros(2, dtype)
    m.load_state_dict({"weight": weight, "bias": bias})
    weight[...] = 7
    bias[...] = 7
    assert m.weight.max() == 1.0 and m.bias.max() == 0.0


def test_load_accepts_torch_parameters_directly():
    layer = torch.nn.Conv1d(3, 5, 2)
    m = Conv1d(3, 5, 2)
    m.load_state_dict({"weight": layer.weight, "bias": layer.bias})  # requires_grad tensors
    np.testing.assert_array_equal(m.weight, layer.weight.detach().numpy())


def test_zero_input_channels_like_torch():
    ours, theirs = Conv1d(0, 8, 3, rng=0), torch.nn.Conv1d(0, 8, 3)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == (8, 0, 3)
    np.testing.assert_array_equal(ours.bias, theirs.bias.detach().numpy())  # zeros
    assert ours(np.zeros((2, 0, 10), np.float32)).shape == tuple(theirs(torch.zeros(2, 0, 10)).shape)


@pytest.mark.parametrize(
    "kwargs,expected",
    [
        (dict(bias=None), dict(bias=None)),
        (dict(bias=np.True_), dict(bias="array")),
        (dict(dtype="f8"), dict(dtype=np.float64)),
        (dict(dtype="double"), dict(dtype=np.float64)),
        (dict(dtype=float), dict(dtype=np.float64)),
        (dict(dtype=complex), dict(dtype=np.complex128)),
        (dict(device="cpu:0"), dict(dtype=np.float32)),
        (dict(device=torch.device("cpu")), dict(dtype=np.float32)),
    ],
)
def test_constructor_accepts_what_torch_accepts(kwargs, expected):
    m = Conv1d(4, 2, 3, **kwargs)
    if "bias" in expected:
        assert (m.bias is None) == (expected["bias"] is None)
    if "dtype" in expected:
        assert m.weight.dtype == expected["dtype"]


def test_load_copies_and_casts():
    m = Conv1d(2, 2, 3, dtype=np.float64)
    weight, bias = np.ones((2, 2, 3), np.float32), np.zeros(2, np.float32)
    m.load_state_dict({"weight": weight, "bias": bias})
    weight[...] = 7
    assert m.weight.dtype == np.float64 and m.weight.max() == 1.0
    assert m.bias.dtype == np.float64


@pytest.mark.parametrize(
    "state,error,text",
    [
        ({"weight": np.ones((2, 2, 3))}, ValueError, "missing ['bias']"),
        ({"weight": np.ones((2, 2, 3)), "bias": np.ones(2), "extra": np.ones(1)}, ValueError, "unexpected ['extra']"),
        ({"weight": np.ones((2, 2, 4)), "bias": np.ones(2)}, ValueError, "weight.shape=(2, 2, 4)"),
        ({"weight": np.ones((2, 2, 3)), "bias": np.ones(3)}, ValueError, "bias.shape=(3,)"),
        ({"weight": np.ones((2, 2, 3), int), "bias": np.ones(2)}, TypeError, "weight.dtype=int64"),
        ({"weight": [[[1.0]]], "bias": np.ones(2)}, TypeError, "weight must be an array"),
        ([1, 2], TypeError, "mapping"),
    ],
)
def test_load_rejects_mismatched_state(state, error, text):
    m = Conv1d(2, 2, 3)
    before = m.weight.copy()
    with pytest.raises(error) as info:
        m.load_state_dict(state)
    assert text in str(info.value)
    np.testing.assert_array_equal(m.weight, before)


@pytest.mark.parametrize("in_channels,out_channels,kernel,groups", [(64, 64, 5, 1), (32, 64, 7, 32), (3, 512, 10, 1)])
def test_initialisation_is_uniform_within_torch_bound(in_channels, out_channels, kernel, groups):
    m = Conv1d(in_channels, out_channels, kernel, groups=groups, rng=0)
    bound = math.sqrt(groups / (in_channels * kernel))
    w = m.weight.astype(np.float64).ravel()
    assert np.abs(w).max() <= bound and np.abs(m.bias).max() <= bound
    # U(-b, b): the extremes come close to b, mean 0, std b / sqrt(3).
    assert w.max() > 0.98 * bound and w.min() < -0.98 * bound
    assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size)
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.05
    # torch draws from the same distribution: its bounds agree
    theirs = torch.nn.Conv1d(in_channels, out_channels, kernel, groups=groups)
    assert theirs.weight.abs().max().item() <= bound * (1 + 1e-6)
    assert theirs.weight.abs().max().item() > 0.98 * bound


def test_rng_makes_layers_reproducible():
    a, b = Conv1d(8, 4, 3, rng=42), Conv1d(8, 4, 3, rng=42)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)
    c = Conv1d(8, 4, 3, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.weight, c.weight)
    assert not np.array_equal(a.weight, Conv1d(8, 4, 3, rng=43).weight)


def test_reset_parameters_draws_again_within_bound():
    m = Conv1d(8, 4, 3, rng=0)
    first = m.weight.copy()
    m.reset_parameters()
    assert not np.array_equal(first, m.weight)
    assert np.abs(m.weight).max() <= math.sqrt(1 / 24)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64", "complex128", np.float64, torch.float64])
def test_dtype_of_parameters_and_output(dtype):
    m = Conv1d(4, 2, 3, dtype=dtype, rng=0)
    name = str(dtype).removeprefix("torch.") if not isinstance(dtype, type) else np.dtype(dtype).name
    assert m.weight.dtype == np.dtype(name) and m.bias.dtype == np.dtype(name)
    if m.weight.dtype.kind == "c":
        bound = math.sqrt(1 / 12)
        assert np.abs(m.weight.real).max() <= bound and np.abs(m.weight.imag).max() <= bound
        assert np.abs(m.weight.imag).max() > 0
    y = m(np.ones((1, 4, 8), dtype=np.dtype(name)))
    assert y.dtype == np.dtype(name)


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        (dict(in_channels=-1), ValueError, "in_channels=-1"),
        (dict(out_channels=-1), ValueError, "out_channels=-1"),
        (dict(in_channels=(4,)), TypeError, "in_channels=(4,)"),
        (dict(groups=(2,)), TypeError, "groups=(2,)"),
        (dict(kernel_size=0), ValueError, "kernel_size=0"),
        (dict(kernel_size=2.5), TypeError, "kernel_size=2.5"),
        (dict(groups=3), ValueError, "groups=3"),
        (dict(in_channels=6, out_channels=4, groups=3), ValueError, "out_channels=4"),
        (dict(padding="same", stride=2), ValueError, "stride=2"),
        (dict(padding="full"), ValueError, "padding='full'"),
        (dict(padding_mode="mirror"), ValueError, "padding_mode='mirror'"),
        (dict(bias="yes"), TypeError, "bias='yes'"),
        (dict(dtype="int32"), TypeError, "dtype='int32'"),
        (dict(device="cuda"), ValueError, "device='cuda'"),
        (dict(device=torch.device("meta")), ValueError, "device=device(type='meta')"),
        (dict(rng="seed"), TypeError, ""),
    ],
)
def test_constructor_errors(kwargs, error, text):
    args = dict(in_channels=4, out_channels=8, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(error) as info:
        Conv1d(**args)
    assert text in str(info.value)


def test_call_runs_conv1d_with_layer_settings():
    m = Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, padding_mode="circular", rng=3)
    x = np.random.default_rng(0).standard_normal((2, 4, 21)).astype(np.float32)
    expected = arrayconv.conv1d(x, m.weight, m.bias, 2, 2, 2, 2, "circular")
    np.testing.assert_array_equal(m(x), expected)
    np.testing.assert_array_equal(m(x, backend="direct"), expected)


@pytest.mark.parametrize("dtype", ["float16", "float32", "complex64", "float64"])
def test_initial_values_are_drawn_in_the_layers_dtype_in_blocks(dtype, monkeypatch):
    """No float64 copy of the whole weight: the peak allocation is the parameter itself plus a block."""
    import tracemalloc

    import arrayconv.module

    monkeypatch.setattr(arrayconv.module, "_DRAW_BLOCK", 1 << 14)
    tracemalloc.start()
    try:
        m = Conv1d(128, 128, 64, dtype=dtype, rng=0)  # 1 Mi values
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    weight_bytes = m.weight.nbytes
    assert peak < weight_bytes + m.bias.nbytes + 8 * (1 << 14) * 2 + (1 << 20)
    parts = (m.weight.real, m.weight.imag) if m.weight.dtype.kind == "c" else (m.weight,)
    bound = math.sqrt(1 / (128 * 64))
    for part in parts:  # every block drawn: the whole weight, not only its first block, is uniform
        values = part.astype(np.float64).ravel()
        assert np.abs(values).max() <= bound * (1 + 1e-3)
        for piece in np.array_split(values, 8):
            assert abs(piece.std() / (bound / math.sqrt(3)) - 1) < 0.05


def test_a_layer_beyond_memory_is_refused_before_allocating():
    with pytest.raises(arrayconv.WorkspaceError, match=r"weight \(1000000, 1000000, 3\) and bias \(1000000,\) of float32"):
        Conv1d(10**6, 10**6, 3)
    with arrayconv.config_context(memory_limit=1 << 20):
        with pytest.raises(arrayconv.WorkspaceError, match=r"weight \(256, 256, 8\) of float64.*memory_limit"):
            Conv1d(256, 256, 8, bias=False, dtype="float64")
        Conv1d(64, 64, 8, bias=False, dtype="float64")  # 256 KiB: within the limit
