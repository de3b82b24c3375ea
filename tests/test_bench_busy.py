"""``bench --busy-core``: quiet and busy timings paired round by round (timings are not asserted)."""

import os
import subprocess
import sys
import time

import pytest

from arrayconv import bench_busy
from arrayconv.progress import BusyCore, OtherLoad

linux_only = pytest.mark.skipif(not os.path.exists("/proc/stat"),
                                reason="reads process states and CPU time from Linux's /proc")


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


@linux_only
def test_a_paused_competitor_leaves_the_core_quiet_and_resumes_spinning():
    with BusyCore() as busy:
        pid = busy._process.pid
        busy.pause()
        assert not busy.spinning and _state(pid) == "T"  # stopped, not ended
        with OtherLoad() as quiet:
            time.sleep(0.5)
        busy.resume()
        assert busy.spinning and _state(pid) in "RS"
        with OtherLoad() as loaded:
            time.sleep(0.5)
        busy.pause()  # and ended while paused
    assert busy._process.poll() is not None
    assert loaded.cores > 0.6 and quiet.cores < loaded.cores - 0.4


def test_rounds_pair_each_setting_and_the_table_names_the_cases_over_the_limit():
    seen = []

    def call():
        seen.append(1)
        sum(range(2000))

    results = bench_busy.compare_busy({"spin": call}, num_threads=2, rounds=3, min_time=0.001)
    (result,) = results
    assert result.case == "spin" and len(seen) > 9 and result.core is not None
    assert len(result.quiet_one) == len(result.quiet_many) == len(result.busy) == 3
    assert all(t > 0 for t in result.quiet_one + result.quiet_many + result.busy)
    assert result.ratio == sorted(result.ratios)[1]
    slow = bench_busy.BusyResult("slow", quiet_one=[1.0], quiet_many=[0.5], busy=[1.5])
    table = bench_busy.format_busy_table([result, slow], 2).splitlines()
    assert f"beside a busy core (core {result.core}), 2 threads" in table[0]
    assert table[2].startswith("| spin |") and table[3].startswith("| slow | 1000.00 ms | 500.00 ms | 1500.00 ms |")
    assert table[-1].endswith(": slow" if result.within_limit else ": spin, slow")


def test_bench_busy_core_command_prints_the_paired_table():
    out = subprocess.run([sys.executable, "-m", "arrayconv", "bench", "--quick", "--busy-core", "tiny"],
                         capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| case | quiet, 1 thread"))
    assert lines[header + 2].startswith("| tiny |")
    assert any(line.startswith("over 1.3x the quiet single-thread time:") for line in lines)
