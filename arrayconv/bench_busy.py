"""``python -m arrayconv bench --busy-core``: each case beside a busy core, paired with its quiet times.

The bar for a shared machine (issue 19): with another process spinning on
one core, a call may take at most ``LIMIT`` times its quiet single-thread
time.  Timed in separate runs minutes apart, that ratio carries the
machine's own drift (a virtual machine's speed can change by half within
seconds), so each round here times a case three ways back to back: quiet on
one thread, quiet on the run's threads, and on the run's threads beside the
spinning process.  The competitor is paused and resumed in place
(:class:`~arrayconv.progress.BusyCore`), and the order of the three turns
each round.  The table gives the medians and the median of the rounds'
ratios (busy / quiet on one thread) with their range.

Examples
--------
>>> result = BusyResult("tiny", quiet_one=[1.0, 1.1], quiet_many=[0.6, 0.6], busy=[1.2, 1.1])
>>> round(result.ratio, 2), [round(r, 2) for r in result.ratios]
(1.1, [1.2, 1.0])
>>> result.within_limit
True
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import config_context
from .progress import BusyCore

__all__ = ["LIMIT", "BusyResult", "compare_busy", "format_busy_table"]

# At most this many times the quiet single-thread time beside a busy core.
LIMIT = 1.3


@dataclass
class BusyResult:
    """One case's per-round timings (seconds a call): quiet on one thread, quiet on
    the run's threads, and on the run's threads beside a busy core."""

    case: str
    quiet_one: list[float]
    quiet_many: list[float]
    busy: list[float]
    core: int | None = None  # the core the competing process spun on

    @property
    def ratios(self) -> list[float]:
        """Each round's busy time over its quiet single-thread time."""
        return [busy / quiet for busy, quiet in zip(self.busy, self.quiet_one)]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios."""
        return statistics.median(self.ratios)

    @property
    def within_limit(self) -> bool:
        return self.ratio <= LIMIT


def _sample(function: Callable[[], Any], calls: int) -> float:
    function()  # one untimed call after the other setting ran
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def compare_busy(calls: Mapping[str, Callable[[], Any]], num_threads: int, rounds: int, min_time: float,
                 progress: Callable[[str], None] | None = None) -> list[BusyResult]:
    """Time each of ``calls`` (name -> a call of the case) quiet on one thread, quiet
    on ``num_threads`` and beside a busy core on ``num_threads``, ``rounds`` times,
    each sample about ``min_time`` seconds of calls."""
    results = []
    with BusyCore() as competitor:
        for name, function in calls.items():
            if progress:
                progress(name)
            competitor.pause()
            with config_context(threads=1):
                function()
                start = time.perf_counter()
                function()
                once = time.perf_counter() - start
            repeats = max(1, int(min_time / max(once, 1e-9)))
            timings: dict[str, list[float]] = {"quiet_one": [], "quiet_many": [], "busy": []}
            settings = [("quiet_one", 1, False), ("quiet_many", num_threads, False), ("busy", num_threads, True)]
            for round_ in range(rounds):
                for key, count, busy in (settings if round_ % 2 == 0 else settings[::-1]):
                    if busy:
                        competitor.resume()
                    else:
                        competitor.pause()
                    with config_context(threads=count):
                        timings[key].append(_sample(function, repeats))
            competitor.pause()
            results.append(BusyResult(name, **timings, core=competitor.core))
    return results


def _format_time(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def format_busy_table(results: Sequence[BusyResult], num_threads: int) -> str:
    """The Markdown table of :func:`compare_busy`'s results, and the cases over ``LIMIT``."""
    cores = sorted({r.core for r in results if r.core is not None})
    where = f" (core {', '.join(map(str, cores))})" if cores else ""
    lines = [(f"| case | quiet, 1 thread | quiet, {num_threads} threads | beside a busy core{where}, "
              f"{num_threads} threads | busy / quiet 1 thread: median (range) |"),
             "|---|---|---|---|---|"]
    for r in results:
        ratios = r.ratios
        lines.append(f"| {r.case} | {_format_time(statistics.median(r.quiet_one))} | "
                     f"{_format_time(statistics.median(r.quiet_many))} | {_format_time(statistics.median(r.busy))} | "
                     f"{r.ratio:.2f} ({min(ratios):.2f}-{max(ratios):.2f}) |")
    over = [r.case for r in results if not r.within_limit]
    lines.append("")
    lines.append(f"over {LIMIT}x the quiet single-thread time: " + (", ".join(over) if over else "none"))
    return "\n".join(lines)
