"""The benchmark cases, and ``python -m arrayconv bench``: arrayconv against torch, side by side.

The cases here are the ones the asv suite (``asv_bench/``) times as well.
The comparison runs both libraries in one process, interleaved round by
round, each timing sample a loop of calls long enough to swamp the timer,
and reports medians, the ratio ``torch / arrayconv`` and the fraction of
this machine's GEMM rate (measured once, with the BLAS arrayconv calls) that
each case reaches.

Examples
--------
>>> case = CASES["tiny"]
>>> x, w, b = make_arrays(case)
>>> x.shape, w.shape, x.dtype
((1, 32, 256), (32, 32, 3), dtype('float32'))
>>> flops(case)  # 2 * 32 outputs * 256 positions * 32 channels * 3 taps
1572864
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import bench_busy, bench_peers, bench_stream, config, policy, registry, shape, threads, tune
from .config import config_context
from .bench_rates import gemm_rate, restores_torch_threads
from .progress import BusyCore, OtherLoad, Progress
from .functional import conv1d
from .gradients import conv1d_backward

__all__ = ["CASES", "FFT_CASES", "BenchCase", "make_arrays", "gemm_rate", "compare", "main"]


@dataclass(frozen=True)
class BenchCase:
    """One benchmark: input and weight shapes, conv1d keywords and dtype."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    # torch is left out where one call would take minutes or tens of GB
    torch: bool = True
    # also time scipy.signal.oaconvolve (single-channel 'valid' cases)
    scipy: bool = False
    # at most this many interleaved rounds (for cases where torch takes seconds)
    max_rounds: int | None = None


CASES: dict[str, BenchCase] = {
    "cnn": BenchCase((32, 64, 4096), (128, 64, 7), dict(padding=3)),
    "speech_stem": BenchCase((8, 1, 16000), (512, 1, 10), dict(stride=5)),
    "depthwise": BenchCase((16, 256, 4096), (256, 1, 31), dict(padding=15, groups=256)),
    "dilated": BenchCase((4, 64, 16000), (64, 64, 3), dict(padding=8, dilation=8)),
    "tiny": BenchCase((1, 32, 256), (32, 32, 3), dict(padding=1)),
    "cnn_f64": BenchCase((32, 64, 4096), (128, 64, 7), dict(padding=3), "float64"),
    "cnn_c64": BenchCase((32, 64, 4096), (128, 64, 7), dict(padding=3), "complex64"),
    # long kernels: the fft backend's cases (issue 4)
    "long_kernel": BenchCase((4, 16, 32768), (16, 16, 2049), dict(padding=1024), max_rounds=5),
    "fir_1ch": BenchCase((1, 1, 1000000), (1, 1, 4001), scipy=True, max_rounds=5),
    # torch's float64 path tries to allocate tens of GB here
    "long_f64": BenchCase((4, 16, 32768), (16, 16, 2049), dict(padding=1024), "float64", torch=False),
    # a complex128 long FIR (radio and radar baseband signals)
    "fir_c128": BenchCase((1, 1, 262144), (1, 1, 2049), {}, "complex128", scipy=True, max_rounds=5),
}
# The cases the fft backend serves (timed with each FFT engine by asv's FFTEngines).
FFT_CASES = ("long_kernel", "fir_1ch", "long_f64", "fir_c128")


def make_arrays(case: BenchCase, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random input, weight and bias for ``case`` (complex parts drawn independently)."""
    rng = np.random.default_rng(seed)

    def draw(shape_: tuple[int, ...]) -> np.ndarray:
        values = rng.standard_normal(shape_)
        if np.dtype(case.dtype).kind == "c":
            values = values + 1j * rng.standard_normal(shape_)
        return values.astype(case.dtype)

    return draw(case.input_shape), draw(case.weight_shape), draw(case.weight_shape[:1])


def flops(case: BenchCase) -> float:
    """Floating-point operations of the direct definition (a complex MAC is 8)."""
    x, w, b = (np.empty(s, case.dtype) for s in (case.input_shape, case.weight_shape, case.weight_shape[:1]))
    macs = shape.normalize(x, w, b, **case.kwargs).macs
    return macs * (8 if np.dtype(case.dtype).kind == "c" else 2)


def _seconds(function: Callable[[], Any], calls: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _calls_for(function: Callable[[], Any], min_time: float) -> int:
    """Calls per sample so that one sample lasts about ``min_time``."""
    once = _seconds(function)
    return max(1, int(min_time / max(once, 1e-9)))


@dataclass
class Result:
    case: str
    arrayconv: float
    torch: float | None
    torch_best: float | None
    torch_best_threads: int | None
    gflops: float
    gemm_fraction: float
    backend: str = ""
    scipy: float | None = None

    @property
    def ratio_scipy(self) -> float | None:
        return None if self.scipy is None else self.scipy / self.arrayconv

    @property
    def ratio(self) -> float | None:
        return None if self.torch is None else self.torch / self.arrayconv

    @property
    def ratio_best(self) -> float | None:
        return None if self.torch_best is None else self.torch_best / self.arrayconv


@restores_torch_threads
def compare(
    names: Sequence[str],
    num_threads: int,
    rounds: int = 15,
    min_time: float = 0.05,
    progress: Callable[[str], None] | None = None,
    rates: dict[str, float] | None = None,
    quick: bool = False,
) -> list[Result]:
    """Time arrayconv and torch (if installed) on each case, interleaved.

    torch runs with ``num_threads`` threads and, for its best setting, with
    every count from 1 to ``num_threads`` (``quick``: only ``num_threads``,
    and not at all on the cases where one torch call takes seconds, which
    arrayconv runs one round of).  ``rates`` (GEMM FLOP/s by dtype) is
    measured where not given.
    """
    try:
        import torch
    except ImportError:
        torch = None
    threads.set_num_threads(num_threads)
    rates = dict(rates or {})
    results = []
    for name in names:
        case = CASES[name]
        if progress:
            progress(name)
        if case.dtype not in rates:
            rates[case.dtype] = gemm_rate(case.dtype, num_threads)
        x, w, b = make_arrays(case)
        ours = lambda: conv1d(x, w, b, **case.kwargs)  # noqa: E731
        candidates: dict[str, Callable[[], Any]] = {"arrayconv": ours}
        if case.scipy:
            candidates["scipy"] = _scipy_oaconvolve(x, w, b)
        # quick: not torch where one of its calls takes seconds (the max_rounds cases)
        if torch is not None and case.torch and not (quick and case.max_rounds):
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            for count in ([num_threads] if quick else range(1, num_threads + 1)):
                def theirs(count: int = count) -> Any:
                    torch.set_num_threads(count)
                    with torch.no_grad():
                        return torch.nn.functional.conv1d(tx, tw, tb, **case.kwargs)
                candidates[f"torch{count}"] = theirs
        calls = {key: _calls_for(f, min_time) for key, f in candidates.items()}
        samples: dict[str, list[float]] = {key: [] for key in candidates}
        for _ in range(min(rounds, (1 if quick else case.max_rounds) if case.max_rounds else rounds)):
            for key, function in candidates.items():
                function()  # one untimed call after the other library ran
                samples[key].append(_seconds(function, calls[key]))
        medians = {key: statistics.median(values) for key, values in samples.items()}
        torch_same = medians.get(f"torch{num_threads}")
        best_key = min((k for k in medians if k.startswith("torch")), key=medians.get, default=None)
        gflops = flops(case) / medians["arrayconv"]
        results.append(
            Result(
                case=name,
                arrayconv=medians["arrayconv"],
                torch=torch_same,
                torch_best=None if best_key is None else medians[best_key],
                torch_best_threads=None if best_key is None else int(best_key[5:]),
                gflops=gflops / 1e9,
                gemm_fraction=gflops / rates[case.dtype],
                backend=_chosen_backend(case, x, w, b),
                scipy=medians.get("scipy"),
            )
        )
    threads.set_num_threads(None)
    return results


@dataclass
class GradientResult:
    case: str
    arrayconv: float
    torch: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.torch is None else self.torch / self.arrayconv


def gradient_call(case: BenchCase, x: np.ndarray, w: np.ndarray) -> Callable[[], Any]:
    """arrayconv's input, weight and bias gradients of ``case`` for a fixed output gradient."""

    spec = shape.normalize(x, w, None, **case.kwargs)
    grad_output = np.random.default_rng(1).standard_normal(spec.output_shape).astype(case.dtype)
    settings = {key: case.kwargs[key] for key in ("stride", "padding", "dilation", "groups", "padding_mode") if key in case.kwargs}
    return lambda: conv1d_backward(grad_output, x, w, **settings)


@restores_torch_threads
def compare_gradients(
    names: Sequence[str],
    num_threads: int,
    rounds: int = 15,
    min_time: float = 0.05,
    progress: Callable[[str], None] | None = None,
) -> list[GradientResult]:
    """Time arrayconv's gradients (input, weight, bias) against torch's CPU backward
    (``torch.autograd.grad`` through ``F.conv1d``, the graph kept), interleaved,
    both on ``num_threads`` threads."""
    try:
        import torch
    except ImportError:
        torch = None
    threads.set_num_threads(num_threads)
    results = []
    try:
        for name in names:
            case = CASES[name]
            if progress:
                progress(f"{name} (gradients)")
            x, w, b = make_arrays(case)
            candidates: dict[str, Callable[[], Any]] = {"arrayconv": gradient_call(case, x, w)}
            if torch is not None and case.torch:
                torch.set_num_threads(num_threads)
                tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
                ty = torch.nn.functional.conv1d(tx, tw, tb, **case.kwargs)
                spec = shape.normalize(x, w, None, **case.kwargs)
                tgy = torch.from_numpy(np.random.default_rng(1).standard_normal(spec.output_shape).astype(case.dtype))
                candidates["torch"] = lambda: torch.autograd.grad(ty, (tx, tw, tb), tgy, retain_graph=True)
            calls = {key: _calls_for(f, min_time) for key, f in candidates.items()}
            samples: dict[str, list[float]] = {key: [] for key in candidates}
            for _ in range(min(rounds, case.max_rounds or rounds)):
                for key, function in candidates.items():
                    function()
                    samples[key].append(_seconds(function, calls[key]))
            medians = {key: statistics.median(values) for key, values in samples.items()}
            results.append(GradientResult(name, medians["arrayconv"], medians.get("torch")))
    finally:
        threads.set_num_threads(None)
    return results


def _scipy_oaconvolve(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Callable[[], Any]:
    """scipy.signal.oaconvolve computing the same single-channel 'valid' correlation."""
    from scipy.signal import oaconvolve

    signal, taps, shift = x[0, 0], np.ascontiguousarray(w[0, 0, ::-1]), b[0]
    return lambda: oaconvolve(signal, taps, mode="valid") + shift


def _chosen_backend(case: BenchCase, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> str:
    return policy.choose(shape.normalize(x, w, b, **case.kwargs), "cpu").name


_MEMORY_PROBE = """
import json, sys
from arrayconv.bench import CASES, make_arrays

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

case = CASES[sys.argv[1]]
x, w, b = make_arrays(case)
warm = make_arrays(CASES["tiny"])
if sys.argv[2] == "torch":
    import torch
    torch.set_num_threads(int(sys.argv[3]))
    conv = lambda x, w, b, **kw: torch.nn.functional.conv1d(*(torch.from_numpy(a) for a in (x, w, b)), **kw)
else:
    import arrayconv
    arrayconv.threads.set_num_threads(int(sys.argv[3]))
    conv = arrayconv.conv1d
conv(*warm, **CASES["tiny"].kwargs)  # load the library's code before measuring
if sys.argv[2] == "torch":
    x, w, b = (torch.from_numpy(a) for a in (x, w, b))
    conv = torch.nn.functional.conv1d
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak resident size to the current one
before = status("VmRSS")
y = conv(x, w, b, **case.kwargs)
print(json.dumps({"extra_kib": status("VmHWM") - before}))
"""


def call_peak_memory(name: str, library: str, num_threads: int) -> float:
    """Bytes by which one call raises the process's peak memory (fresh process, inputs made).

    This counts the output and every workspace the call allocates, and not the
    library's own import footprint (which differs widely between arrayconv and
    torch).  Linux only (it resets the peak through /proc/self/clear_refs).
    """
    # the child runs on this process's FFT engine, whichever layer set it
    environment = dict(os.environ, ARRAYCONV_FFT_ENGINE=config.lookup("fft_engine")[0] or "auto")
    completed = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, name, library, str(num_threads)],
        capture_output=True, text=True, check=True, env=environment,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])["extra_kib"] * 1024.0


def _format_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def format_table(results: list[Result], num_threads: int) -> str:
    """A Markdown table of the results."""
    lines = [
        f"| case | backend | arrayconv | torch ({num_threads} threads) | ratio | torch best (threads) | ratio vs best "
        "| scipy oaconvolve | ratio vs scipy | GFLOP/s (direct definition) | of GEMM rate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        ratio_best = "-" if r.ratio_best is None else f"{r.ratio_best:.2f}"
        ratio_scipy = "-" if r.ratio_scipy is None else f"{r.ratio_scipy:.2f}"
        best = "-" if r.torch_best is None else f"{_format_time(r.torch_best)} ({r.torch_best_threads})"
        lines.append(
            f"| {r.case} | {r.backend} | {_format_time(r.arrayconv)} | {_format_time(r.torch)} | {ratio} | "
            f"{best} | {ratio_best} | {_format_time(r.scipy)} | {ratio_scipy} | {r.gflops:.1f} | "
            f"{f'{100 * r.gemm_fraction:.0f}%' if r.backend == 'direct' else '-'} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m arrayconv bench``."""
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"cases to run (default: all of {', '.join(CASES)})")
    parser.add_argument("--threads", type=int, help="threads for both libraries (default: the kernels' own count)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per case")
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per timing sample")
    parser.add_argument("--memory", action="store_true",
                        help="also measure how much one call raises peak memory, in fresh processes")
    parser.add_argument("--quick", action="store_true",
                        help="a quick look (under a minute): 3 rounds of short samples, torch on --threads only "
                        "and not on the long-kernel cases (where one torch call takes seconds)")
    parser.add_argument("--busy-core", action="store_true",
                        help="instead: time each case quiet on 1 thread, quiet on --threads and beside a process "
                        "spinning on one core (the last usable), round by round, and report busy / quiet "
                        "1-thread (with --gradients: the gradients beside the spinning process)")
    parser.add_argument("--fft-engine", choices=("auto", *config.FFT_ENGINES),
                        help="the fft backend's transforms for this run: MKL or SciPy's pocketfft "
                        "(default: the fft_engine setting)")
    parser.add_argument("--gradients", action="store_true",
                        help="instead: time the input, weight and bias gradients against torch's backward")
    parser.add_argument("--streams", action="store_true", help="instead: the streaming benchmarks (bench_stream)")
    parser.add_argument("--peers", action="store_true", help="instead: ONNX Runtime, OpenVINO, JAX, torch (bench_peers)")
    parser.add_argument("--routing", action="store_true",
                        help="instead: time direct, fft and the automatic choice over the routing sweep "
                        "(K = 1 ... 8192, several channel counts) and report the regret")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m arrayconv bench``: print the comparison table."""
    parser = argparse.ArgumentParser(prog="python -m arrayconv bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the benchmark ``args`` (from :func:`add_arguments`) ask for and print its tables."""
    if args.threads is None:
        args.threads = threads.get()
    if args.fft_engine is None:
        return _run(args, parser)
    with config_context(fft_engine=args.fft_engine):
        return _run(args, parser)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    engine = registry.get("fft").describe_engine() if "fft" in registry.available() else "fft backend unavailable"
    print(f"fft engine: {engine}", flush=True)
    if args.peers:
        return bench_peers.report(args.threads, args.quick, args.cases)
    if args.routing or args.streams:
        return _routing_report(args.threads) if args.routing else bench_stream.report(args.threads, args.quick)
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    if args.threads < 1 or args.rounds < 1 or args.min_time <= 0:
        parser.error("--threads and --rounds must be positive, --min-time above 0")
    names = args.cases or list(CASES)
    if args.quick:
        args.rounds, args.min_time = min(args.rounds, 3), min(args.min_time, 0.01)
    progress = Progress(len(names))
    if args.busy_core and not args.gradients:
        return _busy_report(names, args, progress)
    competitor = BusyCore() if args.busy_core else contextlib.nullcontext()
    with competitor, OtherLoad() as load:
        if args.gradients:
            results = compare_gradients(names, args.threads, args.rounds, args.min_time, progress=progress.step)
            progress.close()
            print(f"| case | arrayconv gradients | torch backward ({args.threads} threads) | ratio |")
            print("|---|---|---|---|")
            for r in results:
                print(f"| {r.case} | {_format_time(r.arrayconv)} | {_format_time(r.torch)} | "
                      f"{'-' if r.ratio is None else f'{r.ratio:.2f}'} |")
        else:
            rates = {dtype: gemm_rate(dtype, args.threads) for dtype in sorted({CASES[n].dtype for n in names})}
            print(f"GEMM rate (scipy BLAS, {args.threads} threads): "
                  + ", ".join(f"{dtype} {rate / 1e9:.1f} GFLOP/s" for dtype, rate in rates.items()))
            results = compare(names, args.threads, args.rounds, args.min_time, progress=progress.step, rates=rates,
                              quick=args.quick)
            progress.close()
            print(format_table(results, args.threads))
    if args.busy_core:
        print(f"(run beside a process spinning on core {competitor.core})")
    elif load.warning():
        print(load.warning(), file=sys.stderr)
    if args.gradients:
        return 0
    if args.memory:
        print()
        print("| case | arrayconv extra peak | torch extra peak | ratio |")
        print("|---|---|---|---|")
        for name in names:
            ours = call_peak_memory(name, "arrayconv", args.threads)
            theirs = None
            if CASES[name].torch:
                try:
                    theirs = call_peak_memory(name, "torch", args.threads)
                except subprocess.CalledProcessError:
                    pass
            ratio = "-" if not theirs else f"{ours / theirs:.2f}"
            print(f"| {name} | {ours / 2**20:.1f} MiB | "
                  f"{'-' if theirs is None else f'{theirs / 2**20:.1f} MiB'} | {ratio} |", flush=True)
    return 0


def _busy_report(names: Sequence[str], args: argparse.Namespace, progress: Progress) -> int:
    """``bench --busy-core``: the cases quiet and beside a busy core, paired round by round (at most 5)."""
    arrays = {name: make_arrays(CASES[name]) for name in names}
    calls = {name: (lambda x, w, b, kwargs=CASES[name].kwargs: lambda: conv1d(x, w, b, **kwargs))(*arrays[name])
             for name in names}
    results = bench_busy.compare_busy(calls, args.threads, min(args.rounds, 5), args.min_time, progress.step)
    progress.close()
    print(bench_busy.format_busy_table(results, args.threads))
    return 0


def _routing_report(num_threads: int) -> int:
    """The regret of automatic routing over the tune sweep, as a Markdown table."""
    threads.set_num_threads(num_threads)
    try:
        points = tune.sweep_points()
        print(f"routing sweep: {len(points)} points, {num_threads} threads", flush=True)
        measurements = tune.measure(points, include_auto=True, progress=lambda text: print(text, flush=True))
    finally:
        threads.set_num_threads(None)
    print("| C | K | direct | fft | auto (chose) | regret | regret, auto timed |")
    print("|---|---|---|---|---|---|---|")
    for m in measurements:
        print(f"| {m.point.channel_text} | {m.point.kernel_size} | {_format_time(m.seconds['direct'])} | "
              f"{_format_time(m.seconds['fft'])} | {_format_time(m.seconds['auto'])} ({m.chosen}) | "
              f"{m.regret:.2f} | {m.timed_regret:.2f} |")
    worst = max(measurements, key=lambda m: m.regret)
    worst_timed = max(measurements, key=lambda m: m.timed_regret)
    print(f"worst regret {worst.regret:.2f} at {worst.point.label()}; "
          f"median {statistics.median(m.regret for m in measurements):.2f}; "
          f"auto timed on its own: worst {worst_timed.timed_regret:.2f} at {worst_timed.point.label()}, "
          f"median {statistics.median(m.timed_regret for m in measurements):.2f}")
    return 0
