"""arrayconv.lowering: transposed convolutions and gradients planned as plain conv1d calls.

The plans are executed here by torch's own ``F.conv1d`` (float32, the spec's
stride, dilation, groups and padding taken literally), assembled as the
``Phase`` and ``weight_grad_spec`` docstrings describe, and compared with
``F.conv_transpose1d`` and ``torch.autograd`` in float64, within the float32
tolerance of the output's magnitude (tests/oracle.py):

* ``transpose_plan`` for ``conv_transpose1d`` (padding, output_padding,
  groups, stride, dilation), for ``conv1d``'s input gradient (the gradient of
  the padded input, and of the input itself for zero padding), and for
  offsets and output windows torch's own arguments do not reach;
* ``weight_grad_spec`` for ``conv1d``'s weight gradient in every padding mode,
  and for ``conv_transpose1d``'s, as ``plain_gradients`` lowers it;
* the spec fields themselves on hand-computed cases, the plans' structure
  (outputs covered once, consistent output lengths), the huge-stride bound
  and the plan cache.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close

from arrayconv import lowering
from arrayconv.records import ConvSpec
from arrayconv.shape import normalize, normalize_transpose_backward

TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


# --------------------------------------------------------------------------
# Executing the plans with a plain conv1d


def plain_conv1d(spec: ConvSpec, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """``spec``'s correlation by torch: explicit F.pad with its mode, then F.conv1d.

    The arrays must have the shapes the spec describes, and so must the result.
    """
    assert tuple(x.shape) == (spec.batch, spec.in_channels, spec.length), (tuple(x.shape), spec)
    assert tuple(w.shape) == (spec.out_channels, spec.in_channels_per_group, spec.kernel_size), (tuple(w.shape), spec)
    assert spec.pad_left >= 0 and spec.pad_right >= 0, spec
    padded = F.pad(x, (spec.pad_left, spec.pad_right), mode=TORCH_MODE[spec.padding_mode])
    y = F.conv1d(padded, w, b, spec.stride, 0, spec.dilation, spec.groups)
    assert tuple(y.shape) == spec.output_shape, (tuple(y.shape), spec)
    return y


def run_transpose_plan(plan: lowering.TransposePlan, u: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                       groups: int, length_out: int) -> torch.Tensor:
    """Assemble a transposed convolution from its phases, as the Phase docstring states it.

    ``u`` is (N, C_in, L), ``w`` (C_in, C_out / groups, K).  Checks on the way
    that the phases cover every output exactly once and that each phase's
    slice and taps exist.
    """
    batch, in_channels, length = u.shape
    out_per_group = w.shape[1]
    out = torch.zeros((batch, out_per_group * groups, length_out), dtype=u.dtype)
    covered = np.zeros(length_out, dtype=np.int64)
    for phase in plan.phases:
        positions = list(range(phase.out_start, length_out, phase.out_step))
        assert len(positions) == phase.count, phase
        covered[positions] += 1
        if phase.spec is None:  # no tap reaches these outputs: the bias alone
            if b is not None:
                out[:, :, phase.out_start :: phase.out_step] = b[None, :, None]
            continue
        spec = phase.spec
        assert spec.length_out == phase.count, phase
        taps = w[:, :, phase.first_tap :: phase.tap_step][:, :, : spec.kernel_size]
        assert taps.shape[2] == spec.kernel_size, phase  # the phase's taps exist
        taps = torch.flip(taps, dims=(2,))
        # (C_in, C_out/g, M) -> (C_out, C_in/g, M), channels swapped within each group
        regrouped = (taps.reshape(groups, in_channels // groups, out_per_group, spec.kernel_size)
                     .permute(0, 2, 1, 3).reshape(groups * out_per_group, in_channels // groups, spec.kernel_size))
        assert 0 <= phase.input_start and phase.input_start + spec.length <= length, phase
        source = u[:, :, phase.input_start : phase.input_start + spec.length]
        out[:, :, phase.out_start :: phase.out_step] = plain_conv1d(spec, source, regrouped.contiguous(), b)
    np.testing.assert_array_equal(covered, np.ones(length_out, dtype=np.int64))
    return out


def run_weight_grad(lowered: ConvSpec, forward: ConvSpec, x: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """The weight gradient of ``forward`` from ``weight_grad_spec``'s correlation, as its docstring states it:
    ``x`` and ``gy`` with batch and channel axes swapped, the first K outputs kept."""
    groups, batch = forward.groups, forward.batch
    cin_g = forward.in_channels_per_group
    swapped_x = x.reshape(batch, groups, cin_g, forward.length).permute(2, 1, 0, 3).reshape(cin_g, groups * batch,
                                                                                            forward.length)
    swapped_gy = gy.permute(1, 0, 2).contiguous()
    correlation = plain_conv1d(lowered, swapped_x.contiguous(), swapped_gy)  # (C_in/g, C_out, K')
    assert correlation.shape[2] >= forward.kernel_size
    return correlation[:, :, : forward.kernel_size].permute(1, 0, 2)


# --------------------------------------------------------------------------
# Oracles


def _scale(tensor: torch.Tensor) -> float:
    return float(tensor.abs().max()) if tensor.numel() else 0.0


def _array(rng, shape_):
    return rng.standard_normal(shape_).astype(np.float32)


def _f32(array):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _f64(array, grad=False):
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


def _padded_forward(x, w, pads, stride, dilation, groups, mode):
    """conv1d as nn.Conv1d computes it, keeping the padded input's gradient."""
    padded = F.pad(x, pads, mode=TORCH_MODE[mode])
    if padded.requires_grad:
        padded.retain_grad()
    return padded, F.conv1d(padded, w, None, stride, 0, dilation, groups)


def _forward_grads(x, w, gy, spec):
    """torch.autograd's gradients (input, padded input, weight) of conv1d, in float64."""
    X, W = _f64(x, True), _f64(w, True)
    padded, y = _padded_forward(X, W, (spec.pad_left, spec.pad_right), spec.stride, spec.dilation, spec.groups,
                                spec.padding_mode)
    assert tuple(y.shape) == spec.output_shape
    y.backward(_f64(gy))
    return X.grad, padded.grad, W.grad


# --------------------------------------------------------------------------
# Strategies: valid float32 calls


@st.composite
def transpose_calls(draw, max_length=12):
    groups = draw(st.integers(1, 3))
    cin_g, cout_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 6))
    stride, dilation = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    output_padding = draw(st.integers(0, max(stride, dilation) - 1))
    length = draw(st.integers(1, max_length))
    # padding as large as keeps the output length positive
    widest = ((length - 1) * stride + dilation * (kernel - 1) + output_padding) // 2
    padding = draw(st.integers(0, min(widest, 8)))
    batch = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    u = _array(rng, (batch, cin_g * groups, length))
    w = _array(rng, (cin_g * groups, cout_g, kernel))
    b = _array(rng, (cout_g * groups,)) if draw(st.booleans()) else None
    return {"u": u, "w": w, "b": b, "stride": stride, "padding": padding, "output_padding": output_padding,
            "groups": groups, "dilation": dilation}


@st.composite
def forward_calls(draw, modes=tuple(TORCH_MODE), max_length=14):
    """A valid conv1d call as (x, w, normalized spec, grad_output)."""
    groups = draw(st.integers(1, 3))
    cin_g, cout_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 6))
    dilation = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(modes))
    same = draw(st.integers(0, 4)) == 0
    stride = 1 if same else draw(st.integers(1, 5))
    extent = dilation * (kernel - 1) + 1
    if same:
        padding = "same"
        left = (extent - 1) // 2  # torch puts the odd zero on the right
        right = extent - 1 - left
    else:
        padding = draw(st.integers(0, 6))
        left = right = padding
    # long enough for the kernel, and for the mode's reach (reflect: pad < L, circular: pad <= L)
    shortest = max(1, extent - left - right)
    if mode == "reflect":
        shortest = max(shortest, max(left, right) + 1)
    elif mode == "circular":
        shortest = max(shortest, left, right)
    length = draw(st.integers(shortest, shortest + max_length))
    batch = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = _array(rng, (batch, cin_g * groups, length))
    w = _array(rng, (cout_g * groups, cin_g, kernel))
    spec = normalize(x, w, None, stride, padding, dilation, groups, mode)
    gy = _array(rng, spec.output_shape)
    return x, w, spec, gy


def _plan_of_transpose(call, length_out):
    u, w = call["u"], call["w"]
    batch, in_channels, length = u.shape
    return lowering.transpose_plan(batch, in_channels, length, w.shape[1] * call["groups"], w.shape[2],
                                   call["groups"], call["stride"], call["dilation"], call["padding"], length_out,
                                   call["b"] is not None, "float32")


def _input_grad_plan(spec, offset, length_out):
    """The plan of conv1d's input gradient, as plain_gradients asks for it."""
    return lowering.transpose_plan(spec.batch, spec.out_channels, spec.length_out, spec.in_channels,
                                   spec.kernel_size, spec.groups, spec.stride, spec.dilation, offset, length_out,
                                   False, spec.compute_dtype)


# --------------------------------------------------------------------------
# transpose_plan against torch


@given(call=transpose_calls())
def test_transpose_plan_reproduces_conv_transpose1d(call):
    U, W, B = _f64(call["u"]), _f64(call["w"]), None if call["b"] is None else _f64(call["b"])
    options = (call["stride"], call["padding"], call["output_padding"], call["groups"], call["dilation"])
    expected = F.conv_transpose1d(U, W, B, *options)
    length_out = expected.shape[2]
    plan = _plan_of_transpose(call, length_out)
    ours = run_transpose_plan(plan, _f32(call["u"]), _f32(call["w"]), None if B is None else _f32(call["b"]),
                              call["groups"], length_out)
    magnitude = F.conv_transpose1d(U.abs(), W.abs(), None if B is None else B.abs(), *options)
    assert_close(ours.numpy(), expected.numpy(), _scale(magnitude), "float32")


@given(call=transpose_calls(max_length=8), offset=st.integers(0, 12), extra=st.integers(-6, 6))
def test_transpose_plan_serves_any_window_of_the_full_transposed_convolution(call, offset, extra):
    """Outputs ``offset ... offset + length_out - 1`` of the full (unpadded) transposed convolution,
    zero (or the bias) past its end: windows that no torch call of the transposed convolution
    asks for, but conv1d's input gradient with uneven padding does."""
    U, W = _f64(call["u"]), _f64(call["w"])
    full = F.conv_transpose1d(U, W, None, call["stride"], 0, 0, call["groups"], call["dilation"])
    length_out = max(1, full.shape[2] - offset + extra)
    window = torch.zeros(full.shape[:2] + (length_out,), dtype=torch.float64)
    available = max(0, min(length_out, full.shape[2] - offset))
    window[:, :, :available] = full[:, :, offset : offset + available]
    if call["b"] is not None:
        window += _f64(call["b"])[None, :, None]
    plan = _plan_of_transpose(dict(call, padding=offset), length_out)
    ours = run_transpose_plan(plan, _f32(call["u"]), _f32(call["w"]),
                              None if call["b"] is None else _f32(call["b"]), call["groups"], length_out)
    magnitude = F.conv_transpose1d(U.abs(), W.abs(), None, call["stride"], 0, 0, call["groups"], call["dilation"])
    scale = _scale(magnitude) + (0.0 if call["b"] is None else float(np.abs(call["b"]).max()))
    assert_close(ours.numpy(), window.numpy(), scale, "float32")


@given(forward=forward_calls())
def test_input_gradient_plan_reproduces_autograd(forward):
    """conv1d's input gradient as plain_gradients plans it: for the whole padded input
    (offset 0; any padding mode folds it afterwards), and for zero padding the input itself
    (offset pad_left, the input's length)."""
    x, w, spec, gy = forward
    grad_x, grad_padded, _ = _forward_grads(x, w, gy, spec)
    magnitude_x, magnitude_padded, _ = _forward_grads(np.abs(x), np.abs(w), np.abs(gy), spec)
    GY, Wt = _f32(gy), _f32(w)  # w (C_out, C_in/g, K) is the transposed convolution's weight
    padded = run_transpose_plan(_input_grad_plan(spec, 0, spec.padded_length), GY, Wt, None, spec.groups,
                                spec.padded_length)
    assert_close(padded.numpy(), grad_padded.numpy(), _scale(magnitude_padded), "float32")
    if spec.padding_mode == "zeros":
        direct = run_transpose_plan(_input_grad_plan(spec, spec.pad_left, spec.length), GY, Wt, None, spec.groups,
                                    spec.length)
        assert_close(direct.numpy(), grad_x.numpy(), _scale(magnitude_x), "float32")


# --------------------------------------------------------------------------
# weight_grad_spec against torch


@given(forward=forward_calls())
def test_weight_grad_spec_reproduces_autograd(forward):
    x, w, spec, gy = forward
    lowered = lowering.weight_grad_spec(spec)
    ours = run_weight_grad(lowered, spec, _f32(x), _f32(gy))
    _, _, expected = _forward_grads(x, w, gy, spec)
    _, _, magnitude = _forward_grads(np.abs(x), np.abs(w), np.abs(gy), spec)
    assert_close(ours.numpy(), expected.numpy(), _scale(magnitude), "float32")
    # the extra outputs come from the tail the forward call's rounding left unread: fewer than stride / dilation
    extra = lowered.length_out - spec.kernel_size
    assert 0 <= extra <= (spec.stride - 1) // spec.dilation


@given(call=transpose_calls(), seed=st.integers(0, 2**32 - 1))
def test_weight_grad_spec_reproduces_conv_transpose1d_autograd(call, seed):
    """conv_transpose1d's weight gradient: the weight gradient of conv1d(grad_output, w),
    whose output is cut to the input's length (as plain_gradients lowers it)."""
    U, W = _f64(call["u"], True), _f64(call["w"], True)
    options = (call["stride"], call["padding"], call["output_padding"], call["groups"], call["dilation"])
    y = F.conv_transpose1d(U, W, None, *options)
    gy = _array(np.random.default_rng(seed), tuple(y.shape))
    y.backward(_f64(gy))
    backward = normalize_transpose_backward(gy, call["u"], call["w"], *options)
    spec = backward.spec._replace(length_out=backward.input_length)
    ours = run_weight_grad(lowering.weight_grad_spec(spec), spec, _f32(gy), _f32(call["u"]))
    Um, Wm = _f64(np.abs(call["u"]), True), _f64(np.abs(call["w"]), True)
    F.conv_transpose1d(Um, Wm, None, *options).backward(_f64(np.abs(gy)))
    assert_close(ours.numpy(), W.grad.numpy(), _scale(Wm.grad), "float32")


# --------------------------------------------------------------------------
# The plans' fields, on hand-computed cases


def _fields(spec):
    return (spec.length, spec.kernel_size, spec.stride, spec.dilation, spec.pad_left, spec.pad_right,
            spec.length_out)


def test_stride_two_transpose_splits_into_two_stride_one_phases():
    """v[2q] = w0 u[q] + w2 u[q-1] (taps 0 and 2 reversed, one zero each side);
    v[2q+1] = w1 u[q] (tap 1 alone, no padding)."""
    plan = lowering.transpose_plan(1, 1, 4, 1, 3, 1, 2, 1, 0, 9, False, "float64")
    even, odd = plan.phases
    assert (even.first_tap, even.tap_step, even.input_start, even.out_start, even.out_step, even.count) == (0, 2, 0, 0, 2, 5)
    assert _fields(even.spec) == (4, 2, 1, 1, 1, 1, 5)
    assert (odd.first_tap, odd.tap_step, odd.input_start, odd.out_start, odd.out_step, odd.count) == (1, 2, 0, 1, 2, 4)
    assert _fields(odd.spec) == (4, 1, 1, 1, 0, 0, 4)
    for phase in plan.phases:
        assert phase.spec.padding_mode == "zeros" and phase.spec.batched
        assert phase.spec.compute_dtype == phase.spec.result_dtype == "float64"


def test_dilation_sharing_a_factor_with_the_stride_leaves_a_phase_no_tap_reaches():
    """stride 2, dilation 2: every tap lands on an even position, so odd outputs get the bias
    alone; the even ones are a stride-1 correlation whose taps are one input apart (2 / gcd)."""
    plan = lowering.transpose_plan(2, 3, 4, 6, 3, 3, 2, 2, 0, 11, True, "float32")
    even, odd = plan.phases
    assert odd.spec is None and (odd.out_start, odd.out_step, odd.count) == (1, 2, 5)
    assert (even.first_tap, even.tap_step, even.count) == (0, 1, 6)
    assert _fields(even.spec) == (4, 3, 1, 1, 2, 2, 6)
    assert (even.spec.batch, even.spec.in_channels, even.spec.out_channels, even.spec.groups) == (2, 3, 6, 3)
    assert even.spec.has_bias


def test_dilation_coprime_with_the_stride_spaces_a_phases_taps():
    """stride 2, dilation 3: taps 0 and 2 land on even positions (0 and 6), three input
    samples apart within their phase (dilation / gcd = 3); tap 1 alone on the odd ones."""
    plan = lowering.transpose_plan(1, 1, 5, 1, 3, 1, 2, 3, 0, 15, False, "float32")
    even, odd = plan.phases
    assert (even.first_tap, even.tap_step) == (0, 2) and (odd.first_tap, odd.tap_step) == (1, 2)
    assert even.spec.dilation == 3 and even.spec.kernel_size == 2
    assert odd.spec.kernel_size == 1
    # v[2q] = w0 u[q] + w2 u[q-3]: three zeros each side (v[0] reads u[0] alone, v[14] u[4] alone)
    assert _fields(even.spec) == (5, 2, 1, 3, 3, 3, 8)
    # v[2q+1] = w1 u[q-1]: one zero on the left, one on the right
    assert _fields(odd.spec) == (5, 1, 1, 3, 1, 1, 7)


def test_padding_that_crops_the_input_becomes_a_slice():
    """conv_transpose1d(L=3, K=2, stride=3, padding=2): outputs are full positions 2..5;
    positions 3 and 4 read u[1] (taps 0 and 1), 2 and 5 no tap at all."""
    plan = lowering.transpose_plan(1, 1, 3, 1, 2, 1, 3, 1, 2, 4, False, "float32")
    none, first, second = plan.phases
    assert none.spec is None and (none.out_start, none.count) == (0, 2)
    for phase, tap in ((first, 0), (second, 1)):
        assert (phase.first_tap, phase.input_start, phase.count) == (tap, 1, 1)
        assert _fields(phase.spec) == (1, 1, 1, 1, 0, 0, 1)


def test_an_output_past_the_full_convolution_holds_the_bias():
    """output_padding reaches past the full transposed convolution (L=1, K=1, padding=1,
    output_padding=2, dilation=3: one output, at position 1, which nothing reaches)."""
    u = np.array([[[5.0]]], np.float32)
    w = np.array([[[7.0]]], np.float32)
    b = np.array([0.25], np.float32)
    plan = lowering.transpose_plan(1, 1, 1, 1, 1, 1, 1, 3, 1, 1, True, "float32")
    assert [phase.spec for phase in plan.phases] == [None]
    ours = run_transpose_plan(plan, _f32(u), _f32(w), _f32(b), 1, 1)
    expected = F.conv_transpose1d(_f64(u), _f64(w), _f64(b), 1, 1, 2, 1, 3)
    np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    assert ours.numpy().tolist() == [[[0.25]]]


def test_zero_padding_input_gradient_reads_its_window_of_the_full_gradient():
    """conv1d(L=10, K=3, padding=1): the input gradient is outputs 1..10 of the
    stride-1 transposed convolution of the output gradient (L_out 10), i.e. its taps
    reversed with one zero each side."""
    spec = normalize(np.zeros((2, 4, 10)), np.zeros((6, 2, 3)), padding=1, groups=2)
    (phase,) = _input_grad_plan(spec, spec.pad_left, spec.length).phases
    assert (phase.first_tap, phase.tap_step, phase.input_start, phase.count) == (0, 1, 0, 10)
    assert _fields(phase.spec) == (10, 3, 1, 1, 1, 1, 10)
    assert (phase.spec.in_channels, phase.spec.out_channels, phase.spec.groups) == (6, 4, 2)


def test_weight_grad_spec_swaps_stride_and_dilation_and_axes():
    forward = normalize(np.zeros((2, 4, 10)), np.zeros((6, 2, 3)), groups=2, padding=1)
    lowered = lowering.weight_grad_spec(forward)
    assert (lowered.batch, lowered.in_channels, lowered.length) == (2, 4, 10)  # (C_in/g, g*N, L)
    assert (lowered.out_channels, lowered.kernel_size, lowered.groups) == (6, 10, 2)  # kernel: (C_out, N, L_out)
    assert (lowered.stride, lowered.dilation, lowered.pad_left, lowered.pad_right) == (1, 1, 1, 1)
    assert lowered.length_out == 3 and not lowered.has_bias and lowered.batched

    # stride 3, dilation 2, padding 1 on L = 20: P = 22, L_out = (22 - 7) // 3 + 1 = 6
    strided = normalize(np.zeros((1, 1, 20)), np.zeros((1, 1, 4)), stride=3, dilation=2, padding=1,
                        padding_mode="reflect")
    lowered = lowering.weight_grad_spec(strided)
    assert (lowered.stride, lowered.dilation, lowered.kernel_size) == (2, 3, 6)
    assert (lowered.pad_left, lowered.pad_right, lowered.padding_mode) == (1, 1, "reflect")
    assert lowered.length_out == 4  # (22 - 3 * 5 - 1) // 2 + 1: exactly K

    # stride 4 on L = 9, K = 2: L_out 2, and samples 6..8 are read by no output: three extra outputs
    rounded = normalize(np.zeros((1, 1, 9)), np.zeros((1, 1, 2)), stride=4)
    assert rounded.length_out == 2
    assert lowering.weight_grad_spec(rounded).length_out == 5


def test_weight_grad_spec_keeps_the_compute_dtype():
    half = normalize(np.zeros((1, 2, 8), np.float16), np.zeros((3, 2, 3), np.float16))
    assert (half.compute_dtype, half.result_dtype) == ("float32", "float16")
    lowered = lowering.weight_grad_spec(half)
    assert lowered.compute_dtype == lowered.result_dtype == "float32"


def test_uneven_same_padding_is_carried_into_the_weight_gradient():
    """'same' with an even extent puts the odd zero on the right; the lowered spec pads alike."""
    forward = normalize(np.zeros((1, 1, 7)), np.zeros((1, 1, 4)), padding="same")
    assert (forward.pad_left, forward.pad_right) == (1, 2)
    lowered = lowering.weight_grad_spec(forward)
    assert (lowered.pad_left, lowered.pad_right, lowered.length_out) == (1, 2, 4)


def test_a_huge_stride_plans_only_the_residues_outputs_have():
    plan = lowering.transpose_plan(1, 2, 3, 2, 4, 1, 2**62, 1, 2, 5, False, "float64")
    assert len(plan.phases) == 5
    assert [phase.count for phase in plan.phases] == [1] * 5
    assert [phase.out_start for phase in plan.phases] == list(range(5))


def test_plans_are_cached():
    arguments = (3, 4, 17, 6, 5, 2, 3, 2, 1, 40, True, "float32")
    assert lowering.transpose_plan(*arguments) is lowering.transpose_plan(*arguments)
    spec = normalize(np.zeros((2, 4, 30)), np.zeros((6, 2, 5)), stride=2, groups=2)
    assert lowering.weight_grad_spec(spec) is lowering.weight_grad_spec(spec._replace())


@pytest.mark.parametrize("stride", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("dilation", [1, 2, 3, 4])
def test_every_tap_belongs_to_exactly_one_phase(stride, dilation):
    """With an output in every residue class, the phases partition the taps, each phase's
    taps landing on its own residue and reading inputs ``dilation / gcd`` apart."""
    kernel = 7
    plan = lowering.transpose_plan(1, 1, 6, 1, kernel, 1, stride, dilation, 3, 30, False, "float32")
    seen = []
    for phase in plan.phases:
        if phase.spec is None:
            assert all((k * dilation - phase.out_start - 3) % stride for k in range(kernel))
            continue
        taps = list(range(phase.first_tap, kernel, phase.tap_step))[: phase.spec.kernel_size]
        assert len(taps) == phase.spec.kernel_size
        assert all((k * dilation - phase.out_start - 3) % stride == 0 for k in taps)
        assert phase.spec.dilation == dilation // np.gcd(stride, dilation)
        assert phase.spec.stride == 1
        seen += taps
    assert sorted(seen) == list(range(kernel))
