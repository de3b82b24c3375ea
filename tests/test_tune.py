"""``python -m arrayconv tune``: the sweep, the fit, the config file and the plot."""

import os
import subprocess
import sys

import numpy as np
import pytest

import arrayconv
from arrayconv import config, routing, tune

from arrayconv.backends import _fft_engines


def test_sweep_covers_kernels_and_channels_within_budget():
    points = tune.sweep_points()
    kernels = {p.kernel_size for p in points}
    assert min(kernels) == 1 and max(kernels) == 8192
    assert {p.channels for p in points} == {1, 4, 16, 32, 64}
    assert all(p.channels**2 * p.kernel_size * p.length_out <= tune._MAX_SWEEP_MACS for p in points)


@pytest.mark.parametrize("engine", _fft_engines.ENGINES)
def test_fit_recovers_known_constants(clean, engine):
    """Times made from known constants (with 5% noise) give those constants back, the transform
    constant of the FFT engine in use included."""
    if not _fft_engines.get(engine).available():
        pytest.skip(f"the {engine} engine cannot load here: {_fft_engines.get(engine).unavailable_reason()}")
    arrayconv.set_config(fft_engine=engine)
    rng = np.random.default_rng(0)
    truth = {name: value * rng.uniform(0.5, 2.0) for name, value in routing.DEFAULTS.items()}
    measurements = []
    for point in tune.sweep_points(channels=(1, 4, 16, 32), max_kernel=2048):
        spec = arrayconv.shape.normalize(*point.arrays())
        m = tune.Measurement(point)
        for name in tune.TUNED_BACKENDS:
            m.terms[name] = arrayconv.backends.get(name).cost_terms(spec)
            m.seconds[name] = routing.predict(m.terms[name], truth) * rng.uniform(0.95, 1.05)
        measurements.append(m)
    fitted = tune.fit(measurements)
    errors = tune.prediction_error(measurements, fitted)
    assert max(errors.values()) < 0.1
    transform = _fft_engines.get(engine).transform_term
    assert not {"fft_transform", "fft_pocketfft_transform"} - {transform} & set(fitted)  # only the engine's own
    # on MKL the single-channel points take the whole-frame path (its own terms), and the
    # staged path's fixed cost is a small part of the multi-channel points' times
    staged_or_frames = ("fft_call",) if engine == "scipy" else ("fft_frames_call", "fft_frames_transform")
    for name in ("direct_call", "direct_gemm_mac", "direct_loops_mac", transform, *staged_or_frames):
        assert fitted[name] == pytest.approx(truth[name], rel=0.35), name
    assert 0.5 < fitted["fft_call"] / truth["fft_call"] < 2  # on MKL: from the multi-channel points alone


def test_write_routing_keeps_other_settings(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('backend = "direct"\nskip = ["x"]\nthreads = 2\n[routing]\nfft_call = 1.0\nother_rate = 3.0\n')
    tune.write_routing({"fft_call": 2.5e-5, "direct_call": 1e-6}, str(path), note="test")
    import tomllib

    table = tomllib.loads(path.read_text())
    assert table["backend"] == "direct" and table["skip"] == ["x"] and table["threads"] == 2
    assert table["routing"] == {"fft_call": 2.5e-5, "direct_call": 1e-6, "other_rate": 3.0}


def test_tune_command_writes_constants_the_policy_then_uses(tmp_path):
    output = tmp_path / "tuned.toml"
    plot = tmp_path / "crossover.png"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARRAYCONV_")}
    completed = subprocess.run(
        [sys.executable, "-m", "arrayconv", "tune", "--channels", "1", "4", "--max-kernel", "8",
         "--length", "256", "--rounds", "1", "--output", str(output), "--plot", str(plot)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert "[1/" in completed.stdout and "fitted constants" in completed.stdout  # progress and result
    assert output.exists() and plot.exists() and plot.read_bytes()[:4] == b"\x89PNG"
    os.environ["ARRAYCONV_CONFIG"] = str(output)
    try:
        config.reload()
        table, source = config.lookup("routing")
        assert set(table) >= {"direct_call", "fft_call"} and source == f"config file {output}"
        spec = arrayconv.shape.normalize(np.zeros((1, 1, 100), np.float32), np.zeros((1, 1, 3), np.float32))
        merged = routing.current(table)
        for name in ("direct", "fft"):
            backend = arrayconv.backends.get(name)
            expected = routing.predict(backend.cost_terms(spec), merged)
            assert arrayconv.explain((1, 1, 100), (1, 1, 3)).estimates[name] == pytest.approx(expected)
            assert expected != pytest.approx(routing.predict(backend.cost_terms(spec), routing.DEFAULTS))
    finally:
        del os.environ["ARRAYCONV_CONFIG"]
        config.reload()


def test_tune_command_rejects_bad_arguments():
    completed = subprocess.run([sys.executable, "-m", "arrayconv", "tune", "--rounds", "0"],
                               capture_output=True, text=True)
    assert completed.returncode == 2 and "must be positive" in completed.stderr


def test_routing_report_computes_regret(monkeypatch, capsys):
    from arrayconv import bench

    monkeypatch.setattr(tune, "sweep_points", lambda: [tune.SweepPoint(1, 3, 256), tune.SweepPoint(4, 300, 512)])
    assert bench.main(["--routing", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 1 (256 outputs) | 3 |" in out and "worst regret" in out
