"""The paths of the direct backend (loops, BLAS GEMM, own GEMM kernel), forced, threaded, against torch.

The backend picks a path by shape; these tests force each one onto every
random case, with tiny blocks (so the BLAS path packs several column blocks
and accumulates several row blocks, and the own kernel makes several passes
over the input channels and several items of channels and positions) and two
threads even for small calls.  The own kernel runs in each variant this CPU
runs.
"""

import os
import platform
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given

import arrayconv
from arrayconv import plain
from arrayconv.backends import direct, direct_plan
from hypothesis import strategies as st
from oracle import _WIDE, assert_matches_torch, reference, assert_close
from strategies import conv_cases
from test_gradients import _conv1d_scales, _torch_conv1d_grads, _valid_conv

from arrayconv.backends import _conv_gemm

# The BLAS path is forced by taking the own kernel away (KERNEL None).
_SMALL_GEMM_BLOCKS = dict(_GEMM_MIN_OUT_CHANNELS=1, _GEMM_MIN_PACKED_ROWS=1, _PARALLEL_MIN_MACS=0,
                          _BLOCK_MAX_ROWS=5, _BLOCK_BYTES=64, _BLOCK_MIN_COLS=32)
# The own kernel with tiny blocks: several passes of input channels, several
# items of channels and positions, several channel blocks per item.
_SMALL_KERNEL_BLOCKS = dict(_GEMM_MIN_OUT_CHANNELS=1, _GEMM_MIN_PACKED_ROWS=1, _PARALLEL_MIN_MACS=0,
                            KERNEL_ROWS=5, _KERNEL_T_BLOCK=1, _KERNEL_O_BLOCK=1, _KERNEL_ITEMS_PER_THREAD=64,
                            _KERNEL_PACK_MIN_POSITIONS=0, _WGRAD_PARTS=3)
PATHS = {
    "loops": dict(_GEMM_MIN_OUT_CHANNELS=10**9, _KERNEL_MIN_OUT_CHANNELS=10**9, _PARALLEL_MIN_MACS=0),
    "gemm": dict(_SMALL_GEMM_BLOCKS, KERNEL=None),
    "kernel": dict(_SMALL_KERNEL_BLOCKS, KERNEL=direct_plan.KERNEL),
}
# The own kernel's other variants where this CPU runs them (the baseline
# vectors, and the AVX-512 tile shape compiled for AVX2), a window of one
# pass's channels, and its default blocks.
EXTRA_PATHS = {
    **{f"kernel-{variant}": dict(_SMALL_KERNEL_BLOCKS, KERNEL=variant) for variant in _conv_gemm.VARIANTS},
    # each pass's input channels packed again for each block of output channels
    "kernel-pass-windows": dict(_SMALL_KERNEL_BLOCKS, _KERNEL_WHOLE_WINDOW_BYTES=0),
    # the weights read where they are (the tests' short calls pack them by default)
    "kernel-unpacked": dict(_SMALL_KERNEL_BLOCKS, _KERNEL_PACK_MIN_POSITIONS=10**9),
    "kernel-default-blocks": dict(_GEMM_MIN_OUT_CHANNELS=1, _GEMM_MIN_PACKED_ROWS=1, _PARALLEL_MIN_MACS=0),
}

KERNEL_MISSING = "this build has no own GEMM kernel (no GCC vector extensions): real layers take the BLAS path"


@contextmanager
def forced(path, num_threads=2):
    settings = {**PATHS, **EXTRA_PATHS}[path]
    variant = settings.get("KERNEL", direct_plan.KERNEL) if path.startswith("kernel") else None
    if path.startswith("kernel") and variant is None:
        pytest.skip(KERNEL_MISSING)
    if variant is not None and not _conv_gemm.runs(variant):
        pytest.skip(f"this CPU does not run the kernel variant {variant!r}")
    saved = {name: getattr(direct_plan, name) for name in settings}
    for name, value in settings.items():
        setattr(direct_plan, name, value)
    _forget_plans()
    arrayconv.threads.set_num_threads(num_threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(direct_plan, name, value)
        _forget_plans()
        arrayconv.threads.set_num_threads(None)


def _forget_plans():
    """The backend's cached plans and the frontend's bound calls: both follow the constants set."""
    direct.forget_plans()
    plain.forget()


@pytest.mark.parametrize("path", PATHS)
@given(case=conv_cases())
def test_path_matches_torch(path, case):
    with forced(path):
        assert_matches_torch(case, "direct")


@pytest.mark.parametrize("path", ["kernel", *EXTRA_PATHS])
@given(case=conv_cases(dtypes=("float32", "float64"), max_length=120, max_in_per_group=6, max_out_per_group=26))
def test_kernel_matches_torch_at_every_tile_edge(path, case):
    """Up to 26 output channels per group (every tail of a 6- and a 12-row tile, twice)
    and up to 120 outputs (tails of 8-, 16- and 32-position tiles), every variant."""
    with forced(path):
        assert_matches_torch(case, "direct")


@pytest.mark.parametrize("path", ["kernel", "gemm", *EXTRA_PATHS])
@given(case=conv_cases(same_dtype=True, dtypes=("float32", "float64"), max_length=80, max_in_per_group=6,
                       max_out_per_group=26), seed=st.integers(0, 2**32 - 1))
def test_weight_gradient_matches_torch_on_every_path(path, case, seed):
    """The weight gradient on the own kernel (tiny blocks: many items in several parts,
    several passes) and on the BLAS path, in every variant, against torch.autograd."""
    out_shape = _valid_conv(case)
    if out_shape is None:
        return
    gy = np.random.default_rng(seed).standard_normal(tuple(out_shape)).astype(case.x.dtype)
    with forced(path):
        if path.startswith("kernel"):
            direct_plan._KERNEL_T_BLOCK = 7  # many items (restored by forced, which saved it)
        (grad,) = arrayconv.conv1d_backward(gy, case.x, case.w, case.stride, case.padding, case.dilation,
                                            case.groups, case.padding_mode, needs=("weight",), backend="direct")[1:2]
    expected = _torch_conv1d_grads(case, gy, _WIDE[case.x.dtype.name])[1]
    assert_close(grad, expected, _conv1d_scales(case, gy)[1], case.x.dtype.name)


@pytest.mark.parametrize("path", PATHS)
def test_path_is_taken(path):
    x, w = np.ones((2, 4, 30), np.float32), np.ones((6, 4, 3), np.float32)
    with forced(path):
        spec = arrayconv.shape.normalize(x, w)
        plan = direct_plan.plan(spec, 2, direct_plan.KERNEL)
        assert plan.path == path and plan.threads == 2
        if path == "gemm":
            assert plan.rows == 5 and plan.columns == 28  # several row blocks (one 28-column block)
        if path == "kernel":
            assert plan.kernel.variant == direct_plan.KERNEL and plan.kernel.rows_per_pass == 5


def test_complex_layers_take_the_blas_path():
    x, w = np.ones((2, 64, 300), np.complex64), np.ones((64, 64, 3), np.complex64)
    assert direct_plan.plan(arrayconv.shape.normalize(x, w), 2, direct_plan.KERNEL).path == "gemm"


@pytest.mark.parametrize("path", ["kernel", "kernel-default-blocks", "kernel-unpacked", "kernel-baseline"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_rows_last_positions_have_the_bits_of_a_whole_tile(path, dtype):
    """Every output length up to two tiles and a half (so every tail, the short ones
    computed as half tiles): the last positions equal, bit for bit, the same
    positions of a longer call, where they are inside whole tiles."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 90)).astype(dtype)
    w = rng.standard_normal((14, 7, 4)).astype(dtype)
    b = rng.standard_normal(14).astype(dtype)
    with forced(path, 1):
        long = arrayconv.conv1d(x, w, b, backend="direct")
        for length_out in range(1, 82):
            short = arrayconv.conv1d(x[:, :, : length_out + 3], w, b, backend="direct")
            np.testing.assert_array_equal(short, long[:, :, :length_out], err_msg=f"L_out {length_out}")
    wide, scale = reference(x, w, b, 1, 0, 1, 1, "zeros", dtype)
    assert_close(long, wide, scale, dtype)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
@pytest.mark.parametrize("stride", [1, 2])
def test_paths_agree_bitwise_across_thread_counts(path, dtype, stride):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 12, 200)).astype(dtype)
    w = rng.standard_normal((18, 4, 5)).astype(dtype)
    results = []
    for count in (1, 2, 3):
        with forced(path, count):
            results.append(arrayconv.conv1d(x, w, padding=2, stride=stride, groups=3, padding_mode="reflect", backend="direct"))
    assert all(np.array_equal(results[0], r) for r in results[1:])
    wide, scale = reference(x, w, None, stride, 2, 1, 3, "reflect", dtype)
    assert_close(results[0], wide, scale, dtype)


@pytest.mark.parametrize("path", ["gemm", "kernel", "kernel-default-blocks"])
@pytest.mark.parametrize("length", [100, 161, 300])
@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("bias", [False, True])
def test_long_signals_span_many_blocks(path, length, mode, bias):
    """Many blocks: items at both edges read padding, inner ones only the signal, the last may be partial."""
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, 14, length)).astype(np.float32)
    w = rng.standard_normal((14, 7, 4)).astype(np.float32)  # 7 outputs per group: one full and one partial tile
    b = rng.standard_normal(14).astype(np.float32) if bias else None
    for padding in (5, 0):
        args = (x, w, b, 1, padding, 3, 2, mode)
        with forced(path):
            result = arrayconv.conv1d(*args, backend="direct")
        wide, scale = reference(*args, np.float32)
        assert_close(result, wide, scale, "float32")


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("stride, dilation", [(1, 1), (1, 3), (2, 1), (3, 2)])
@pytest.mark.parametrize("length", [40, 64, 97, 300])
def test_loops_edges_have_the_bits_of_the_interior(dtype, stride, dilation, length):
    """The row loops compute the outputs that read zero padding from a copy of the padded
    samples, and the inside in whole blocks (the last one overlapping the one before):
    the same sums, so padding=p gives the bits of the signal padded by hand."""
    rng = np.random.default_rng(length + 7 * stride)
    x = rng.standard_normal((2, 3, length)).astype(dtype)
    w = rng.standard_normal((2, 3, 9)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)  # the first input channel's sums start from it
    pad = 9
    with forced("loops"):
        implicit = arrayconv.conv1d(x, w, b, stride, pad, dilation, backend="direct")
        explicit = arrayconv.conv1d(np.pad(x, ((0, 0), (0, 0), (pad, pad))), w, b, stride, 0, dilation,
                                    backend="direct")
    assert np.array_equal(implicit, explicit)
    wide, scale = reference(x, w, b, stride, pad, dilation, 1, "zeros", dtype)
    assert_close(implicit, wide, scale, dtype)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("dtype", ["float32", "complex128"])
def test_loops_edges_wider_than_their_copy(mode, dtype):
    """Dilations of thousands: the padded samples of an edge block do not fit the
    stack copy (16 KiB), and those outputs go one at a time."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 9000)).astype(dtype)
    w = rng.standard_normal((2, 1, 4)).astype(dtype)
    args = (x, w, None, 1, 2500, 1500, 2, mode)
    with forced("loops"):
        result = arrayconv.conv1d(*args, backend="direct")
    wide, scale = reference(*args, dtype)
    assert_close(result, wide, scale, dtype)


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo") or platform.machine() != "x86_64",
                    reason="reads the CPU's flags from Linux's /proc/cpuinfo on x86-64")
def test_kernel_variant_is_the_best_the_cpu_has():
    """AVX-512 where the CPU has it, else AVX2 with FMA, else the baseline vectors."""
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next(line for line in cpuinfo if line.startswith("flags")).split()
    avx2 = "avx2" in flags and "fma" in flags
    expected = ("avx512" if avx2 and "avx512f" in flags and "avx512vl" in flags
                else "avx2" if avx2 else "baseline")
    assert direct_plan.KERNEL == expected
    assert _conv_gemm.runs("wide-on-avx2") == avx2


def test_kernel_variants_agree_bitwise_where_they_fuse():
    """AVX2 and the AVX-512 tile shape compiled for AVX2 both sum each output in one
    order with fused multiply-adds: the same bits, whatever the tile."""
    if not (_conv_gemm.runs("avx2") and _conv_gemm.runs("wide-on-avx2")):
        pytest.skip("needs a CPU with AVX2 and FMA")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 20, 333)).astype(np.float32)
    w = rng.standard_normal((26, 10, 5)).astype(np.float32)
    results = []
    for path in ("kernel-avx2", "kernel-wide-on-avx2"):
        with forced(path):
            results.append(arrayconv.conv1d(x, w, padding=3, groups=2, padding_mode="reflect", backend="direct"))
    np.testing.assert_array_equal(results[0], results[1])


def test_kernel_differs_from_blas_in_rounding_only():
    """The own kernel really runs: its sums are ordered differently from the BLAS's."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 64, 2000)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3)).astype(np.float32)
    with forced("kernel-default-blocks"):
        own = arrayconv.conv1d(x, w, dilation=8, backend="direct")
    with forced("gemm"):
        packed = arrayconv.conv1d(x, w, dilation=8, backend="direct")
    assert not np.array_equal(own, packed)
    np.testing.assert_allclose(own, packed, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("batch", [1, 3])
def test_sliced_long_calls_match_unsliced(path, mode, batch, monkeypatch):
    """Calls sliced for interruptibility (batch slices, or length slices of one item) give the same values."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((batch, 12, 700))
    w = rng.standard_normal((16, 6, 5))
    b = rng.standard_normal(16)
    with forced(path):
        whole = arrayconv.conv1d(x, w, b, stride=2, padding=4, dilation=3, groups=2, padding_mode=mode, backend="direct")
        monkeypatch.setattr(direct, "_INTERRUPT_MACS", 1000)  # many slices
        _forget_plans()
        sliced = arrayconv.conv1d(x, w, b, stride=2, padding=4, dilation=3, groups=2, padding_mode=mode, backend="direct")
    np.testing.assert_allclose(sliced, whole, rtol=1e-13, atol=1e-13)
