"""arrayconv.padding, the one statement of the padding map, against the C kernels and torch.

The kernels map padded positions with ``ac_map_index`` (backends/_direct_loops.h),
the Python paths with :mod:`arrayconv.padding`; both must be torch's F.pad, for
every mode, signal length and pad up to the mode's limit, and the shape modules
must refuse a pad past it with torch's own limits.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import arrayconv
from arrayconv import padding
from arrayconv.backends._direct import map_index

MODES = padding.PADDING_MODES
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def widest_pad(mode, length):
    """The pad this test goes to: the mode's reach, or past the length for the unlimited modes."""
    reach = padding.reach(mode, length)
    return 2 * length + 3 if reach is None else reach


def torch_padded_sources(mode, length, pad):
    """The signal sample each position of torch's padded arange reads (-1: a zero)."""
    signal = torch.arange(1.0, length + 1, dtype=torch.float64).reshape(1, 1, length)
    padded = torch.nn.functional.pad(signal, (pad, pad), mode=TORCH_MODE[mode])
    return (padded.reshape(-1).numpy() - 1).astype(np.int64)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("length", list(range(1, 13)) + [31, 64])
def test_kernel_map_is_the_python_map(mode, length):
    """ac_map_index and padding.source agree on every position the mode can pad to."""
    pad = widest_pad(mode, length)
    for position in range(-pad, length + pad):
        expected = padding.source(position, length, mode)
        assert map_index(position, length, padding.MODE_CODE[mode]) == (-1 if expected is None else expected), position


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("length", list(range(1, 13)) + [31])
def test_python_map_is_torch_pad(mode, length):
    """padding.indices (and so every run) reads what torch's F.pad reads, up to torch's limit."""
    for pad in range(0, widest_pad(mode, length) + 1):
        expected = torch_padded_sources(mode, length, pad)
        np.testing.assert_array_equal(padding.indices(-pad, length + pad, length, mode), expected)
        assert [padding.source(i, length, mode) for i in range(-pad, length + pad)] == [
            None if e < 0 else e for e in expected
        ]


@pytest.mark.parametrize("mode", ["reflect", "circular"])
@pytest.mark.parametrize("length", [1, 2, 5, 16])
def test_pads_past_the_reach_are_refused_as_torch_refuses_them(mode, length):
    """One sample past padding.reach: torch's F.pad refuses it, and so does the shape module (naming the mode)."""
    reach = padding.reach(mode, length)
    x, w = np.ones((1, 1, length)), np.ones((1, 1, 1))
    arrayconv.conv1d(x, w, padding=reach, padding_mode=mode)  # the limit itself is accepted
    signal = torch.ones(1, 1, length)
    torch.nn.functional.pad(signal, (reach, reach), mode=mode)
    with pytest.raises((RuntimeError, ValueError)):
        torch.nn.functional.pad(signal, (reach + 1, reach + 1), mode=mode)
    with pytest.raises(ValueError, match=f"padding_mode='{mode}'"):
        arrayconv.conv1d(x, w, padding=reach + 1, padding_mode=mode)


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_zeros_and_replicate_pad_without_limit(mode):
    assert padding.reach(mode, 3) is None
    x, w = np.arange(1.0, 4.0).reshape(1, 1, 3), np.ones((1, 1, 1))
    out = arrayconv.conv1d(x, w, padding=10, padding_mode=mode)
    expected = torch_padded_sources(mode, 3, 10) + 1.0
    expected[expected == 0] = 0.0
    np.testing.assert_array_equal(out.reshape(-1), expected)


@st.composite
def spans(draw):
    """A padded span [low, high) within the mode's reach, anywhere (not only around the whole signal)."""
    mode = draw(st.sampled_from(MODES))
    length = draw(st.integers(1, 20))
    pad = widest_pad(mode, length)
    low = draw(st.integers(-pad, length + pad))
    high = draw(st.integers(low, length + pad))
    return mode, length, low, high


@given(spans())
def test_runs_cover_the_span_in_order_and_read_the_map(span):
    mode, length, low, high = span
    runs = padding.runs(low, high, length, mode)
    assert len(runs) <= 3 and all(run.count > 0 for run in runs)
    position = low
    for run in runs:
        assert run.position == position
        for j in range(run.count):
            expected = padding.source(position + j, length, mode)
            assert (None if run.source is None else run.source + run.step * j) == expected
        position += run.count
    assert position == high
    assert padding.indices(low, high, length, mode).tolist() == [
        -1 if padding.source(i, length, mode) is None else padding.source(i, length, mode) for i in range(low, high)
    ]


@given(spans(), st.integers(0, 2**32 - 1))
def test_fold_shares_is_the_adjoint_of_the_padding(span, seed):
    """The folded gradient is torch's gradient of F.pad (the padding map's adjoint)."""
    mode, length, low, high = span
    low, high = min(low, 0), max(high, length)  # fold_shares takes a span around the whole signal
    rng = np.random.default_rng(seed)
    signal = torch.tensor(rng.standard_normal((2, length)), requires_grad=True)
    padded_grad = rng.standard_normal((2, high - low))
    torch.nn.functional.pad(signal.unsqueeze(0), (-low, high - length), mode=TORCH_MODE[mode]).backward(
        torch.tensor(padded_grad).unsqueeze(0)
    )
    folded = padded_grad[:, -low : length - low].copy()
    for target, share in padding.fold_shares(np, padded_grad, low, high, length, mode):
        folded[:, target : target + share.shape[-1]] += share
    np.testing.assert_allclose(folded, signal.grad.numpy(), rtol=1e-12, atol=1e-12)
