"""Both paths of the direct backend (loops, blocked GEMM), forced, threaded, against torch.

The backend picks a path by shape; these tests force each one onto every
random case, with tiny blocks (so the GEMM path packs several column blocks
and accumulates several row blocks) and two threads even for small calls.
"""

import os
import platform
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given

import arrayconv
from arrayconv.backends import direct
from oracle import assert_matches_torch, reference, assert_close
from strategies import conv_cases

PATHS = {
    "loops": dict(_GEMM_MIN_OUT_CHANNELS=10**9, _PARALLEL_MIN_MACS=0),
    "gemm": dict(_GEMM_MIN_OUT_CHANNELS=1, _GEMM_MIN_PACKED_ROWS=1, _PARALLEL_MIN_MACS=0,
                 _BLOCK_MAX_ROWS=5, _BLOCK_BYTES=64, _BLOCK_MIN_COLS=32, _USE_TILES=False),
    # float32 stride-1 blocks inside the signal: the register-tiled kernel
    # (32-column blocks, so signals of a few dozen samples use several)
    "tiles": dict(_GEMM_MIN_OUT_CHANNELS=1, _GEMM_MIN_PACKED_ROWS=1, _PARALLEL_MIN_MACS=0,
                  _BLOCK_MAX_ROWS=5, _BLOCK_BYTES=64, _BLOCK_MIN_COLS=32, _USE_TILES=True),
}
# 64-column blocks: a block's last columns past the whole 32-wide tiles run the row kernel
EXTRA_PATHS = {
    "tiles_tail": dict(PATHS["tiles"], _BLOCK_MIN_COLS=64),
}


TILES_MISSING = "the register-tiled kernel is AVX-512 only and this CPU has none (its blocks take the GEMM path)"


@contextmanager
def forced(path, num_threads=2):
    if path.startswith("tiles") and not direct.tiles_available():
        pytest.skip(TILES_MISSING)
    settings = {**PATHS, **EXTRA_PATHS}[path]
    saved = {name: getattr(direct, name) for name in settings}
    for name, value in settings.items():
        setattr(direct, name, value)
    direct._plan.cache_clear()
    arrayconv.threads.set_num_threads(num_threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(direct, name, value)
        direct._plan.cache_clear()
        arrayconv.threads.set_num_threads(None)


@pytest.mark.parametrize("path", PATHS)
@given(case=conv_cases())
def test_path_matches_torch(path, case):
    with forced(path):
        assert_matches_torch(case, "direct")


@given(case=conv_cases(dtypes=("float32",), max_length=120))
def test_tiles_match_torch(case):
    """float32 only, so that stride-1 cases reach the tiled kernel (with 64-column blocks: tiles and a tail)."""
    with forced("tiles_tail"):
        assert_matches_torch(case, "direct")


@pytest.mark.parametrize("path", PATHS)
def test_path_is_taken(path):
    x, w = np.ones((2, 4, 30)), np.ones((6, 4, 3))
    with forced(path):
        spec = arrayconv.shape.normalize(x, w)
        assert direct.uses_gemm(spec) == (path != "loops")
        threads_, cols, rows = direct._plan(spec, 2)
        assert threads_ == 2
        if path != "loops":
            assert rows == 5 and cols == 28  # several row blocks (one 28-column block)


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


@pytest.mark.parametrize("path", ["gemm", "tiles", "tiles_tail"])
@pytest.mark.parametrize("length", [100, 161, 300])
@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("bias", [False, True])
def test_long_signals_span_many_blocks(path, length, mode, bias):
    """Many 32-column blocks: edge blocks pack, inner ones tile, the last may be partial."""
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


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo") or platform.machine() != "x86_64",
                    reason="reads the CPU's flags from Linux's /proc/cpuinfo on x86-64")
def test_tiles_are_on_exactly_where_the_cpu_has_avx512():
    """An AVX-512 tile on a CPU without it spills every register (some 30x slower than GEMM)."""
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next(line for line in cpuinfo if line.startswith("flags")).split()
    has_avx512 = "avx512f" in flags and "avx512vl" in flags
    assert direct.tiles_available() == has_avx512
    assert direct._USE_TILES == has_avx512


def test_tiles_differ_from_gemm_in_rounding_only():
    """The tiled kernel really runs: its sums are ordered differently from the GEMM's."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 64, 2000)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3)).astype(np.float32)
    with forced("tiles"):
        tiled = arrayconv.conv1d(x, w, dilation=8, backend="direct")
    with forced("gemm"):
        packed = arrayconv.conv1d(x, w, dilation=8, backend="direct")
    assert not np.array_equal(tiled, packed)
    np.testing.assert_allclose(tiled, packed, rtol=1e-4, atol=1e-4)


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
        direct._plan.cache_clear()
        sliced = arrayconv.conv1d(x, w, b, stride=2, padding=4, dilation=3, groups=2, padding_mode=mode, backend="direct")
    np.testing.assert_allclose(sliced, whole, rtol=1e-13, atol=1e-13)
