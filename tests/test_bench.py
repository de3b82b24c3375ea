"""The comparison command and the benchmark cases stay runnable (timings are not asserted)."""

import os
import subprocess
import sys
import time

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
    extra = bench.call_peak_memory("long_f64", "arrayconv", 2)
    output_bytes = 4 * 16 * 32768 * 8
    assert output_bytes < extra < 2**30


def test_progress_counts_cases_and_estimates_the_time_left(monkeypatch):
    from arrayconv import progress

    clock = iter([0.0, 10.0, 30.0, 60.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    lines = []
    bar = progress.Progress(3, write=lines.append)
    for name in ("cnn", "tiny", "fir_1ch"):
        bar.step(name)
    bar.close()
    assert lines == ["[1/3] cnn  (elapsed 10s)",
                     "[2/3] tiny  (elapsed 30s, about 1m00s left)",  # 30 s for one case, two to go
                     "[3/3] fir_1ch  (elapsed 1m00s, about 30s left)"]


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads other processes' CPU time from Linux's /proc/stat")
def test_other_load_sees_a_busy_core_and_not_our_own_work():
    from arrayconv.progress import BusyCore, OtherLoad

    with OtherLoad() as own:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:  # this process's own work is not "other load"
            pass
    with BusyCore() as busy, OtherLoad() as other:
        time.sleep(1.0)
    assert busy._process.poll() is not None  # the competitor is gone afterwards
    assert other.cores > own.cores
    assert other.cores > 0.6 and other.warning().startswith("warning: other processes kept about")


def test_quick_bench_shows_progress():
    out = subprocess.run([sys.executable, "-m", "arrayconv", "bench", "--quick", "tiny", "dilated"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    progress_lines = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("[")]
    assert any(line.startswith("[1/2] tiny") for line in progress_lines) or "tiny" in out.stderr  # tqdm, if installed
    assert "| tiny |" in out.stdout and "| dilated |" in out.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak memory is read from /proc (Linux only)")
def test_bench_runs_on_the_engine_it_is_given():
    """--fft-engine reaches the timed calls and the memory probe's fresh process."""
    out = subprocess.run([sys.executable, "-m", "arrayconv", "bench", "--quick", "--fft-engine", "scipy", "--memory",
                          "fir_c128"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    assert "fft engine: scipy.fft" in out.stdout and "| fir_c128 |" in out.stdout
    with arrayconv.config_context(fft_engine="scipy"):
        pocketfft_peak = bench.call_peak_memory("fir_c128", "arrayconv", 1)
    assert pocketfft_peak < 2**28  # bounded by the chunks on either engine


def test_the_streaming_benchmarks_print_both_tables(capsys):
    from arrayconv import bench

    assert bench.main(["--streams", "--quick", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "| arrayconv Conv1dStream.push | torch roll/update |" in out
    assert "long FIR: 65536 samples, K=8193, chunks of 1024:" in out
    assert out.count(" ms |") >= 3
