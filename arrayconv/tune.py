"""``python -m arrayconv tune``: fit the routing constants to this machine.

Times the ``direct`` and ``fft`` backends over a sweep of kernel sizes and
channel counts, fits each backend's cost-model constants (see
:mod:`arrayconv.routing`) to the times by non-negative least squares on the
relative error, writes them to the ``[routing]`` table of the config file
(other settings in the file are kept), and can draw measured and predicted
times with the crossover as a PNG (``pip install "arrayconv[plot]"``).

The same sweep, with the automatic choice timed as well, gives the routing
regret that ``python -m arrayconv bench --routing`` reports.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import config, policy, registry, routing, shape, threads
from .functional import conv1d

__all__ = ["SweepPoint", "Measurement", "sweep_points", "measure", "fit", "write_routing", "main"]

TUNED_BACKENDS = ("direct", "fft")
# Weight of the pull of each constant towards its current value, against 1
# for each measured point's relative error.
_PRIOR_WEIGHT = 0.3


@dataclass(frozen=True)
class SweepPoint:
    """One call of the sweep: C channels in and out, K taps, outputs per row."""

    channels: int
    kernel_size: int
    length_out: int = 4096
    batch: int = 1
    dtype: str = "float32"

    def arrays(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        length = self.length_out + self.kernel_size - 1
        x = rng.standard_normal((self.batch, self.channels, length)).astype(self.dtype)
        w = rng.standard_normal((self.channels, self.channels, self.kernel_size)).astype(self.dtype)
        return x, w

    @property
    def channel_text(self) -> str:
        """C, with the outputs per row where they are not the sweep's usual 4096."""
        return str(self.channels) if self.length_out == 4096 else f"{self.channels} ({self.length_out} outputs)"

    def label(self) -> str:
        return f"C={self.channel_text} K={self.kernel_size}"


# Direct calls above about this many multiply-accumulates (a second or so)
# are left out of the sweep: the fft wins them by far, and they would make
# the sweep take minutes.
_MAX_SWEEP_MACS = 3e10
# Single-channel points are also swept at this many times the outputs, from this kernel size.
_LONG_SINGLE = 8
_LONG_SINGLE_MIN_KERNEL = 16


def sweep_points(channels: Iterable[int] = (1, 4, 16, 32, 64), max_kernel: int = 8192,
                 length_out: int = 4096) -> list[SweepPoint]:
    """K = 1, 2, 4, ... max_kernel and 1.5 * 2**p + 1 between them, for each channel count.

    Points whose direct call would exceed about 3e10 multiply-accumulates are
    left out (only wide layers with the longest kernels).  One channel is also
    swept at 8x the outputs from K = 16: on MKL such layers take the fft
    backend's whole-frame path, whose terms the short calls alone (fixed costs,
    mostly) do not pin down, and long filters of a few hundred taps are where
    its crossover with direct moves.

    Examples
    --------
    >>> [p.kernel_size for p in sweep_points(channels=[4], max_kernel=16)]
    [1, 2, 4, 7, 8, 13, 16]
    >>> [p.label() for p in sweep_points(channels=[1], max_kernel=16)][-2:]
    ['C=1 K=16', 'C=1 (32768 outputs) K=16']
    """
    kernels = sorted({k for power in range(int(math.log2(max_kernel)) + 1)
                      for k in (2**power, 3 * 2**power // 2 + 1) if 1 <= k <= max_kernel})
    points = [SweepPoint(c, k, length) for c in channels
              for length in ((length_out, _LONG_SINGLE * length_out) if c == 1 else (length_out,))
              for k in kernels if (length == length_out or k >= _LONG_SINGLE_MIN_KERNEL)]
    return [p for p in points if p.channels**2 * p.kernel_size * p.length_out <= _MAX_SWEEP_MACS]


@dataclass
class Measurement:
    """Median seconds of each backend (and of the automatic choice) at one point."""

    point: SweepPoint
    seconds: dict[str, float] = field(default_factory=dict)
    terms: dict[str, dict[str, float]] = field(default_factory=dict)
    chosen: str | None = None

    @property
    def best(self) -> float:
        return min(self.seconds[name] for name in TUNED_BACKENDS if name in self.seconds)

    @property
    def regret(self) -> float | None:
        """Time of the backend the automatic choice runs over the faster backend's (1.0 = no regret).

        The automatic call runs exactly the chosen backend's code (plus about
        a microsecond of routing, timed separately as ``seconds["auto"]``), so
        its regret is read from the same interleaved samples as the two
        backends: timing it as a third party would add the machine's noise,
        not information.
        """
        return None if self.chosen is None else self.seconds[self.chosen] / self.best

    @property
    def timed_regret(self) -> float | None:
        """The automatic call's own timing over the faster backend's (routing overhead and noise included)."""
        return self.seconds["auto"] / self.best if "auto" in self.seconds else None


def _interleaved_medians(functions: dict[str, Callable[[], Any]], rounds: int, min_time: float,
                         budget: float) -> dict[str, float]:
    """Median seconds per call of each function, timed round by round in turn.

    Interleaving spreads the machine's load changes over all of them alike;
    each sample is a loop of calls lasting about ``min_time``, and slow calls
    get fewer rounds (three at least) so a point takes about ``budget``
    seconds per function.
    """
    calls = {}
    for name, function in functions.items():
        start = time.perf_counter()
        function()  # warm: plans, caches, thread pools
        once = max(time.perf_counter() - start, 1e-9)
        calls[name] = max(1, int(min_time / once))
    samples: dict[str, list[float]] = {name: [] for name in functions}
    spent = 0.0
    for round_index in range(rounds):
        if round_index >= 3 and spent > budget * len(functions):
            break
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                function()
            elapsed = time.perf_counter() - start
            spent += elapsed
            samples[name].append(elapsed / calls[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(points: Sequence[SweepPoint], *, include_auto: bool = False, rounds: int = 9,
            min_time: float = 0.005, budget: float = 1.0,
            progress: Callable[[str], None] | None = None) -> list[Measurement]:
    """Time each backend (and ``auto``) at each point, interleaved; medians of ``rounds`` samples."""
    results = []
    for index, point in enumerate(points, 1):
        x, w = point.arrays()
        spec = shape.normalize(x, w)
        measurement = Measurement(point)
        functions: dict[str, Callable[[], Any]] = {}
        for name in TUNED_BACKENDS:
            measurement.terms[name] = registry.get(name).cost_terms(spec)
            functions[name] = lambda name=name: conv1d(x, w, backend=name)
        if include_auto:
            measurement.chosen = policy.choose(spec, "cpu").name
            functions["auto"] = lambda: conv1d(x, w)
        measurement.seconds = _interleaved_medians(functions, rounds, min_time, budget)
        if progress:
            timings = ", ".join(f"{name} {_format(seconds)}" for name, seconds in measurement.seconds.items())
            progress(f"[{index}/{len(points)}] {point.label()}: {timings}")
        results.append(measurement)
    return results


def _format(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.3g} us"


def fit(measurements: Sequence[Measurement]) -> dict[str, float]:
    """Constants that minimise each backend's relative prediction error (non-negative least squares).

    Constants of terms that the sweep never exercises keep their current
    values; a fitted zero becomes a tiny positive value (constants must be
    positive).
    """
    from scipy.optimize import nnls

    current = routing.constants(config.routing_key())
    fitted: dict[str, float] = {}
    for name in TUNED_BACKENDS:
        rows = [(m.terms[name], m.seconds[name]) for m in measurements if name in m.seconds]
        names = sorted({term for terms, _ in rows for term, amount in terms.items() if amount > 0})
        if not rows or not names:
            continue
        matrix = np.array([[terms.get(term, 0.0) / seconds for term in names] for terms, seconds in rows])
        target = np.ones(len(rows))
        # A weak pull towards the current constants (each as strong as a
        # fraction of one measurement), so that a term the sweep hardly
        # separates from another keeps a sensible value instead of falling to 0.
        prior = np.diag([_PRIOR_WEIGHT / current[term] for term in names])
        matrix = np.vstack([matrix, prior])
        target = np.concatenate([target, np.full(len(names), _PRIOR_WEIGHT)])
        scale = matrix.max(axis=0)  # columns of similar size, for a well-conditioned solve
        solution, _ = nnls(matrix / scale, target)
        for term, value, column_scale in zip(names, solution, scale):
            constant = value / column_scale
            fitted[term] = float(constant) if constant > 0 else current[term] * 1e-6
    return fitted


def prediction_error(measurements: Sequence[Measurement], constants: dict[str, float]) -> dict[str, float]:
    """Median relative error of each backend's prediction under ``constants``."""
    merged = routing.current(constants)
    return {
        name: statistics.median(
            abs(routing.predict(m.terms[name], merged) / m.seconds[name] - 1) for m in measurements
        )
        for name in TUNED_BACKENDS
    }


# --------------------------------------------------------------------------
# The config file


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def write_routing(constants: dict[str, float], path: str, note: str = "") -> None:
    """Put ``constants`` in the ``[routing]`` table of the TOML file at ``path``, keeping its other settings."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    table: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    routing_table = dict(table.get("routing", {}))
    routing_table.update(constants)
    lines = ["# arrayconv configuration (see arrayconv.config)"]
    if note:
        lines.append(f"# {note}")
    for key, value in table.items():
        if key != "routing" and not isinstance(value, dict):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in table.items():
        if key != "routing" and isinstance(value, dict):
            lines.append(f"\n[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in value.items())
    lines.append("\n[routing]")
    lines.extend(f"{name} = {float(value)!r}" for name, value in sorted(routing_table.items()))
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(temporary, path)


# --------------------------------------------------------------------------
# The plot


def plot(measurements: Sequence[Measurement], constants: dict[str, float], path: str) -> None:
    """Measured (points) and predicted (lines) time against K per channel count, as a PNG."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit('--plot needs matplotlib: pip install "arrayconv[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    merged = routing.current(constants)
    channels = sorted({m.point.channels for m in measurements})
    figure, axes = plt.subplots(1, len(channels), figsize=(4.2 * len(channels), 3.8), squeeze=False, sharey=False)
    for axis, count in zip(axes[0], channels):
        rows = sorted((m for m in measurements if m.point.channels == count), key=lambda m: m.point.kernel_size)
        kernels = [m.point.kernel_size for m in rows]
        for name, colour in zip(TUNED_BACKENDS, ("tab:blue", "tab:orange")):
            axis.plot(kernels, [m.seconds[name] for m in rows], "o", color=colour, label=f"{name} measured")
            axis.plot(kernels, [routing.predict(m.terms[name], merged) for m in rows], "-", color=colour,
                      label=f"{name} predicted")
        crossover = next((m.point.kernel_size for m in rows if m.seconds["fft"] < m.seconds["direct"]), None)
        if crossover is not None:
            axis.axvline(crossover, color="grey", linestyle=":", label=f"fft faster from K={crossover}")
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_title(f"C_in = C_out = {count}, L_out = {rows[0].point.length_out}")
        axis.set_xlabel("kernel size K")
        axis.set_ylabel("seconds")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --------------------------------------------------------------------------
# The command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m arrayconv tune``."""
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 4, 16, 32, 64],
                        help="channel counts of the sweep (C_in = C_out)")
    parser.add_argument("--max-kernel", type=int, default=8192, help="largest kernel size of the sweep")
    parser.add_argument("--length", type=int, default=4096, help="outputs per row")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved timing rounds per point (median)")
    parser.add_argument("--output", help="config file to write (default: ARRAYCONV_CONFIG, else the user's config file)")
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    parser.add_argument("--plot", metavar="PNG", help="draw measured and predicted times and the crossover")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m arrayconv tune``."""
    parser = argparse.ArgumentParser(prog="python -m arrayconv tune", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv), parser)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Sweep, fit and write the routing constants, as ``args`` (from :func:`add_arguments`) ask."""
    if args.max_kernel < 1 or args.length < 1 or args.rounds < 1 or min(args.channels) < 1:
        parser.error("--channels, --max-kernel, --length and --rounds must be positive")
    missing = [name for name in TUNED_BACKENDS if name not in registry.available()]
    if missing:
        print(f"cannot tune: backend(s) {missing} not available ({registry.unavailable()})", file=sys.stderr)
        return 1
    points = sweep_points(args.channels, args.max_kernel, args.length)
    print(f"timing direct and fft at {len(points)} points on {threads.get()} threads ...", flush=True)
    measurements = measure(points, rounds=args.rounds, progress=lambda text: print(text, flush=True))
    fitted = fit(measurements)
    before = prediction_error(measurements, config.lookup("routing")[0])
    after = prediction_error(measurements, fitted)
    print("fitted constants (seconds per unit):")
    for name, value in sorted(fitted.items()):
        print(f"  {name} = {value:.4g}   ({routing.TERMS[name]})")
    print("median relative prediction error: "
          + ", ".join(f"{name} {before[name]:.0%} -> {after[name]:.0%}" for name in TUNED_BACKENDS))
    if args.plot:
        plot(measurements, fitted, args.plot)
        print(f"plot written to {args.plot}")
    if args.dry_run:
        return 0
    path = args.output or os.environ.get("ARRAYCONV_CONFIG") or config.user_config_path()
    write_routing(fitted, path, note=f"[routing] written by `python -m arrayconv tune` on {time.strftime('%Y-%m-%d')}")
    config.reload()
    read = os.environ.get("ARRAYCONV_CONFIG") or config.user_config_path()
    if os.path.abspath(path) == os.path.abspath(read):
        print(f"written to {path}; the cost model uses them from now on")
    else:
        print(f"written to {path}; it is not the file arrayconv reads ({read}): "
              f"set ARRAYCONV_CONFIG={path} to use them")
    return 0
