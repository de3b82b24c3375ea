"""Feedback for the long commands (``bench``, ``tune``): progress, time left, and whether the machine was quiet.

:class:`Progress` prints one line per step with the count, the time spent and
an estimate of the time left (through tqdm's bar when tqdm is installed).
:class:`OtherLoad` measures how busy the other processes of the machine kept
its cores while a benchmark ran (Linux: ``/proc/stat`` less this process's
own CPU time; elsewhere the load average): figures taken on a busy machine
are not the machine's, and the commands say so.  :class:`BusyCore` makes
such a machine on purpose (a spinning process pinned to one core), for the
benchmark of how the library copes with one (``bench --busy-core``).

Examples
--------
>>> lines = []
>>> progress = Progress(2, write=lines.append, use_tqdm=False)
>>> progress.step("cnn")
>>> progress.step("tiny")
>>> progress.close()
>>> lines[0].startswith("[1/2] cnn")
True
>>> lines[1].startswith("[2/2] tiny") and "left" in lines[1]
True
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "OtherLoad", "BusyCore", "format_duration"]


def format_duration(seconds: float) -> str:
    """``"1m05s"``, ``"42s"``.

    Examples
    --------
    >>> format_duration(65.2), format_duration(3.4), format_duration(3725)
    ('1m05s', '3s', '1h02m')
    """
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """``[i/n] label  (elapsed 1m05s, about 2m10s left)`` before each of ``total`` steps.

    The time left assumes the remaining steps take as long as the finished
    ones did on average; with tqdm installed (and ``use_tqdm``) its bar shows
    the same instead.
    """

    def __init__(self, total: int, write: Callable[[str], None] | None = None, use_tqdm: bool = True) -> None:
        self.total = total
        self.done = 0
        self._write = write or (lambda text: print(text, flush=True))
        self._start = time.monotonic()
        tqdm = _tqdm() if use_tqdm and write is None else None
        self._bar = tqdm(total=total, unit="case", dynamic_ncols=True) if tqdm is not None else None

    def step(self, label: str) -> None:
        """Say that step ``label`` starts (the one before it, if any, has finished)."""
        if self.done:
            self._advance()
        self.done += 1
        if self._bar is not None:
            self._bar.set_description(label)
            return
        elapsed = time.monotonic() - self._start
        finished = self.done - 1
        left = f", about {format_duration(elapsed / finished * (self.total - finished))} left" if finished else ""
        self._write(f"[{self.done}/{self.total}] {label}  (elapsed {format_duration(elapsed)}{left})")

    def _advance(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        """The last step has finished."""
        if self.done:
            self._advance()
        if self._bar is not None:
            self._bar.close()


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine in clock ticks since boot (Linux)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on this system, or not readable
        return None


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class OtherLoad:
    """How many cores, on average, other processes kept busy between ``start()`` and ``stop()``.

    ``with OtherLoad() as load: ...`` then ``load.cores``; None where it cannot be told.
    """

    def __init__(self) -> None:
        self.cores: float | None = None
        self._start: tuple[float, tuple[int, int] | None, float, float | None] | None = None

    def __enter__(self) -> OtherLoad:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._start = (time.monotonic(), _busy_jiffies(), _own_cpu_seconds(), _load_average())

    def stop(self) -> float | None:
        if self._start is None:
            return None
        wall0, jiffies0, own0, load0 = self._start
        wall, jiffies, own = time.monotonic() - wall0, _busy_jiffies(), _own_cpu_seconds() - own0
        if jiffies0 is not None and jiffies is not None and wall > 0:
            ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
            machine_busy = (jiffies[0] - jiffies0[0]) / ticks
            self.cores = max(0.0, (machine_busy - own) / wall)
        else:  # no /proc/stat: the load average before the run, where there is one
            self.cores = load0
        return self.cores

    def warning(self, threshold: float = 0.25) -> str | None:
        """A warning when other processes kept more than ``threshold`` cores busy, else None."""
        if self.cores is None or self.cores <= threshold:
            return None
        return (f"warning: other processes kept about {self.cores:.1f} cores of this machine busy during the run: "
                "these figures are not the machine's own; rerun on a quiet machine")


class BusyCore:
    """``with BusyCore():`` a process spinning on one core (the last this process may use) meanwhile.

    Linux only (it pins the process with ``taskset``-like affinity); elsewhere
    the spinning process is not pinned.  :meth:`pause` and :meth:`resume` stop
    and restart the spinning in place (POSIX signals; elsewhere the process is
    ended and started again), so that quiet and busy timings can alternate
    without the cost of a new process each time.
    """

    _SPIN = "while True:\n    pass\n"

    def __init__(self) -> None:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        self.core = cores[-1]
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    def __enter__(self) -> BusyCore:
        self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            if self._paused and hasattr(signal, "SIGCONT"):
                os.kill(self._process.pid, signal.SIGCONT)  # a stopped process would not see the kill at once
            self._process.kill()
            self._process.wait()

    def _start(self) -> None:
        pin = (lambda: os.sched_setaffinity(0, {self.core})) if hasattr(os, "sched_setaffinity") else None
        self._process = subprocess.Popen([sys.executable, "-c", self._SPIN], preexec_fn=pin)
        self._paused = False
        time.sleep(0.2)  # let it start spinning

    @property
    def spinning(self) -> bool:
        """Whether the competing process is spinning now."""
        return self._process is not None and not self._paused and self._process.poll() is None

    def pause(self) -> None:
        """Stop the spinning until :meth:`resume` (the core is quiet meanwhile)."""
        if not self.spinning:
            return
        if hasattr(signal, "SIGSTOP"):
            os.kill(self._process.pid, signal.SIGSTOP)
        else:
            self._process.kill()
            self._process.wait()
        self._paused = True

    def resume(self) -> None:
        """Spin again after :meth:`pause`."""
        if self._process is None or not self._paused:
            return
        if hasattr(signal, "SIGCONT") and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGCONT)
            self._paused = False
        else:
            self._start()
