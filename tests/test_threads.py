"""The thread count follows what the process may really use; idle OpenMP threads sleep by default."""

import os
import re
import subprocess
import sys

import pytest

import arrayconv
from arrayconv import threads


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 0.5),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage\n"}, None),
    ({}, None),
])
def test_cgroup_quota_is_read_from_v2_and_v1_files(tmp_path, files, expected):
    for name, text in files.items():
        write(tmp_path / name, text)
    assert threads._cgroup_quota(str(tmp_path)) == expected


def test_usable_cores_are_capped_by_the_quota(monkeypatch):
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.setattr(threads, "_cgroup_quota", lambda root=None: None)
    assert threads.usable_cores()[0] == affinity
    monkeypatch.setattr(threads, "_cgroup_quota", lambda root=None: 0.4)
    assert threads.usable_cores() == (1, "the cgroup's CPU quota of 0.4 CPUs")
    monkeypatch.setattr(threads, "_cgroup_quota", lambda root=None: affinity + 8.0)
    assert threads.usable_cores()[0] == affinity  # a quota above the mask changes nothing


def test_describe_says_where_the_count_came_from(monkeypatch):
    with arrayconv.config_context(threads=1):
        assert threads.describe() == (1, "the threads setting (config_context)")
    monkeypatch.setattr(threads, "_fallback", (3, "the cgroup's CPU quota of 2.5 CPUs"))
    count, reason = threads.describe()
    assert count == min(3, arrayconv._openmp.omp_max_threads()) == threads.get()
    assert "quota of 2.5" in reason


def run_python(code, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "ARRAYCONV_WAIT_POLICY")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment)


DISPLAY = ("import arrayconv, os; print(arrayconv._wait_policy.describe()[0].replace(' ', '-'), "
           "os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))")


def read_by_runtime(stderr):
    """(OMP_WAIT_POLICY, GOMP_SPINCOUNT) as the runtime itself read them (OMP_DISPLAY_ENV=VERBOSE)."""
    values = dict(re.findall(r"^\s*(OMP_WAIT_POLICY|GOMP_SPINCOUNT) = '([^']*)'", stderr, re.MULTILINE))
    return values.get("OMP_WAIT_POLICY"), values.get("GOMP_SPINCOUNT")


def test_idle_threads_spin_briefly_by_default_and_the_environment_is_given_back():
    out = run_python(DISPLAY, OMP_DISPLAY_ENV="VERBOSE")
    assert out.returncode == 0, out.stderr
    assert read_by_runtime(out.stderr) == ("PASSIVE", "1000")  # libgomp: about 10 us, then sleep
    assert out.stdout.split() == ["brief", "None", "None"]  # child processes and other runtimes see no change


@pytest.mark.parametrize("env, runtime, reported", [
    ({"ARRAYCONV_WAIT_POLICY": "active"}, ("ACTIVE", "30000000000"), "active"),
    ({"ARRAYCONV_WAIT_POLICY": "passive"}, ("PASSIVE", "0"), "passive"),
    ({"ARRAYCONV_WAIT_POLICY": "brief", "OMP_WAIT_POLICY": "active"}, ("PASSIVE", "1000"), "brief"),
    ({"OMP_WAIT_POLICY": "active"}, ("ACTIVE", "30000000000"), "active"),
    ({"GOMP_SPINCOUNT": "5"}, ("PASSIVE", "5"), "spin-5"),
    ({"OMP_WAIT_POLICY": "active", "ARRAYCONV_WAIT_POLICY": "passive"}, ("PASSIVE", "0"), "passive"),
])
def test_the_policy_can_be_chosen(env, runtime, reported):
    out = run_python(DISPLAY, OMP_DISPLAY_ENV="VERBOSE", **env)
    assert out.returncode == 0, out.stderr
    assert read_by_runtime(out.stderr) == runtime
    assert out.stdout.split()[0] == reported
    # the user's own values stay
    assert out.stdout.split()[1:] == [env.get("OMP_WAIT_POLICY", "None"), env.get("GOMP_SPINCOUNT", "None")]


def test_a_bad_policy_is_named_in_a_warning_and_the_default_kept():
    out = run_python(DISPLAY, ARRAYCONV_WAIT_POLICY="sometimes", OMP_DISPLAY_ENV="VERBOSE")
    assert out.returncode == 0, out.stderr  # a typo in a tuning knob does not make the package unimportable
    assert ("ARRAYCONV_WAIT_POLICY must be one of 'brief', 'passive', 'active', "
            "got ARRAYCONV_WAIT_POLICY='sometimes'") in out.stderr
    assert read_by_runtime(out.stderr) == ("PASSIVE", "1000")
    assert out.stdout.split()[0] == "brief"


def test_a_runtime_loaded_before_arrayconv_is_reported():
    out = run_python("import torch, arrayconv; print(arrayconv._wait_policy.describe()[1])")
    assert out.returncode == 0, out.stderr
    assert "another library loaded the OpenMP runtime first" in out.stdout


def test_info_says_what_was_chosen_and_why():
    out = subprocess.run([sys.executable, "-m", "arrayconv", "info"], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if not k.startswith(("ARRAYCONV_", "OMP_"))})
    assert out.returncode == 0, out.stderr
    assert "threads used by the kernels:" in out.stdout and "usable cores:" in out.stdout
    assert "idle OpenMP threads: brief  [arrayconv's default" in out.stdout
