"""Streaming benchmarks: a decode step against torch's hand-written update, a long FIR in chunks.

``python -m arrayconv bench --streams`` prints two tables:

- **decode**: one sample per push through a depthwise causal convolution of
  the Mamba shape (N=16, C=2048, K=4), against the update such models run on
  a CPU in torch (roll the state, write the sample, multiply by the weight,
  sum, add the bias); the median time of one step;
- **long FIR**: 2**20 samples of one channel through K=8193 taps in chunks of
  1024, against the whole-signal ``conv1d`` (the floor) and
  ``scipy.signal.lfilter`` with ``zi`` on the same chunks.

Each library is timed in its own block of calls after a warm-up (the order
repeated), as in the main benchmark.

Examples
--------
>>> times = time_decode(DecodeCase(batch=1, channels=8, steps=5), rounds=1)
>>> sorted(times) in (["arrayconv"], ["arrayconv", "torch"])
True
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bench_rates import restores_torch_threads
from .functional import conv1d
from .stream import Conv1dStream

__all__ = ["DecodeCase", "FirCase", "DECODE", "FIR", "time_decode", "time_fir", "report"]


@dataclass(frozen=True)
class DecodeCase:
    batch: int = 16
    channels: int = 2048
    kernel: int = 4
    steps: int = 200


@dataclass(frozen=True)
class FirCase:
    length: int = 2**20
    kernel: int = 8193
    chunk: int = 1024


DECODE, FIR = DecodeCase(), FirCase()


def _median_step(step: Callable[[int], Any], steps: int, rounds: int) -> float:
    """The median over ``rounds`` of the mean time of ``steps`` calls of ``step(i)``."""
    for i in range(min(steps, 20)):
        step(i)  # warm up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        samples.append((time.perf_counter() - start) / steps)
    return float(np.median(samples))


@restores_torch_threads
def time_decode(case: DecodeCase = DECODE, rounds: int = 5, num_threads: int = 2) -> dict[str, float]:
    """Seconds per decode step: arrayconv's stream, and torch's update where torch is installed."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((case.channels, 1, case.kernel)).astype(np.float32)
    b = rng.standard_normal(case.channels).astype(np.float32)
    x = rng.standard_normal((case.batch, case.channels, case.steps)).astype(np.float32)
    stream = Conv1dStream(w, b, padding="causal", groups=case.channels)
    times = {"arrayconv": _median_step(lambda i: stream.push(x[:, :, i % case.steps, None]), case.steps, rounds)}
    try:
        import torch
    except ImportError:
        return times
    torch.set_num_threads(num_threads)
    tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w[:, 0, :]), torch.from_numpy(b)
    state = torch.zeros(case.batch, case.channels, case.kernel)

    def update(i: int) -> Any:
        nonlocal state
        state = torch.roll(state, -1, dims=-1)
        state[:, :, -1] = tx[:, :, i % case.steps]
        return (state * tw).sum(-1) + tb

    with torch.no_grad():
        times["torch"] = _median_step(update, case.steps, rounds)
    return times


def time_fir(case: FirCase = FIR, rounds: int = 3) -> dict[str, float]:
    """Seconds for the whole signal: streamed in chunks, in one call, and by lfilter with zi."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, case.length)).astype(np.float64)
    w = rng.standard_normal((1, 1, case.kernel)) / np.sqrt(case.kernel)
    bounds = range(0, case.length, case.chunk)

    def streamed() -> None:
        stream = Conv1dStream(w, padding="causal")
        for start in bounds:
            stream.push(x[:, :, start:start + case.chunk])
        stream.flush()

    def whole() -> None:
        conv1d(x, w, padding="causal")

    runs = {"stream": streamed, "whole": whole}
    try:
        from scipy import signal
    except ImportError:
        signal = None
    if signal is not None:
        taps = w[0, 0, ::-1].copy()  # lfilter convolves; conv1d correlates

        def lfilter() -> None:
            zi = np.zeros(case.kernel - 1)
            for start in bounds:
                _, zi = signal.lfilter(taps, [1.0], x[0, 0, start:start + case.chunk], zi=zi)

        runs["lfilter"] = lfilter
    streamed()  # warm up: MKL's first transforms (lfilter has nothing to warm)
    whole()
    # the three in turn, round after round, so that a change of the machine's speed
    # during the run falls on all of them
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            samples[name].append(_seconds(run))
    return {name: float(np.median(values)) for name, values in samples.items()}


def _seconds(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def report(num_threads: int, quick: bool = False) -> int:
    """Print both tables (``quick``: fewer steps and a shorter FIR, for a smoke run)."""
    decode = DecodeCase(steps=50) if quick else DECODE
    fir = FirCase(length=2**16) if quick else FIR
    steps = time_decode(decode, rounds=3 if quick else 7, num_threads=num_threads)
    print(f"decode step, depthwise causal (N={decode.batch}, C={decode.channels}, K={decode.kernel}), "
          f"one sample per push, {num_threads} threads:")
    print("| arrayconv Conv1dStream.push | torch roll/update | torch / arrayconv |")
    print("|---|---|---|")
    ours, theirs = steps["arrayconv"], steps.get("torch")
    torch_time = "-" if theirs is None else f"{theirs * 1e6:.1f} us"
    ratio = "-" if theirs is None else f"{theirs / ours:.2f}"
    print(f"| {ours * 1e6:.1f} us | {torch_time} | {ratio} |")
    totals = time_fir(fir, rounds=1 if quick else 3)
    print()
    print(f"long FIR: {fir.length} samples, K={fir.kernel}, chunks of {fir.chunk}:")
    print("| stream (all pushes) | whole-signal conv1d | stream / whole | lfilter with zi | lfilter / stream |")
    print("|---|---|---|---|---|")
    streamed, whole, lfilter = totals["stream"], totals["whole"], totals.get("lfilter")
    lfilter_time = "-" if lfilter is None else f"{lfilter * 1e3:.0f} ms"
    speedup = "-" if lfilter is None else f"{lfilter / streamed:.1f}"
    print(f"| {streamed * 1e3:.1f} ms | {whole * 1e3:.1f} ms | {streamed / whole:.2f} | {lfilter_time} | {speedup} |")
    return 0
