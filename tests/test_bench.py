"""The comparison command and the benchmark cases stay runnable (timings are not asserted)."""

import subprocess
import sys

import numpy as np
import pytest

import arrayconv
from arrayconv import bench


def test_cases_are_valid_calls():
    for name, case in bench.CASES.items():
        x, w, b = bench.make_arrays(case)
        assert x.shape == case.input_shape and x.dtype == np.dtype(case.dtype), name
        arrayconv.shape.normalize(x, w, b, **case.kwargs)
        assert bench.flops(case) > 0


def test_compare_reports_both_libraries():
    results = bench.compare(["tiny"], num_threads=2, rounds=2, min_time=0.001, rates={"float32": 1e11})
    (result,) = results
    assert result.case == "tiny" and result.arrayconv > 0
    assert result.torch is not None and result.ratio > 0  # torch is a test dependency
    assert result.torch_best_threads in (1, 2)
    table = bench.format_table(results, 2)
    assert table.splitlines()[2].startswith("| tiny |")


def test_gemm_rate_is_plausible():
    rate = bench.gemm_rate("float32", 1, size=256, repeats=2)
    assert 1e8 < rate < 1e14


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc (Linux only)")
def test_call_peak_memory_counts_the_output():
    extra = bench.call_peak_memory("dilated", "arrayconv", 1)
    output_bytes = 4 * 64 * 16000 * 4
    assert 0.9 * output_bytes < extra < 3 * output_bytes


def test_bench_command_runs():
    out = subprocess.run(
        [sys.executable, "-m", "arrayconv", "bench", "tiny", "--rounds", "1", "--min-time", "0.001"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "GEMM rate" in out.stdout and "| tiny |" in out.stdout


def test_bench_command_rejects_unknown_case():
    out = subprocess.run([sys.executable, "-m", "arrayconv", "bench", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown case" in out.stderr


def test_scipy_reference_computes_the_same_correlation():
    """The oaconvolve timing is of the same result, or the comparison would mean nothing."""
    case = bench.BenchCase((1, 1, 5000), (1, 1, 301), scipy=True)
    x, w, b = bench.make_arrays(case)
    expected = arrayconv.conv1d(x, w, b)[0, 0]
    np.testing.assert_allclose(bench._scipy_oaconvolve(x, w, b)(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc (Linux only)")
def test_long_float64_case_runs_in_bounded_memory():
    """Issue 4's bar: long_f64 (torch tries to allocate tens of GB) stays under 1 GB."""
    pytest.importorskip("arrayconv.backends.fft", reason="mkl-fft is not installed on this platform")
    extra = bench.call_peak_memory("long_f64", "arrayconv", 2)
    output_bytes = 4 * 16 * 32768 * 8
    assert output_bytes < extra < 2**30
