"""The backends' output pool: freed large outputs' memory is reused, within the output_cache setting."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import arrayconv
from arrayconv.backends import _output_pool, _scratch

MIB = 1 << 20


@pytest.fixture(autouse=True)
def empty_pool():
    arrayconv.backends.release_outputs()
    yield
    arrayconv.backends.release_outputs()


def big_call(length=70_000):
    """A conv1d whose output is about 8.5 MiB (32 channels x 70,000 float32 samples)."""
    rng = np.random.default_rng(length)
    x = rng.standard_normal((1, 4, length)).astype(np.float32)
    w = rng.standard_normal((32, 4, 3)).astype(np.float32)
    return x, w


@pytest.mark.parametrize("backend", ["direct", "fft"])
def test_a_freed_output_is_reused_with_correct_values(backend):
    x, w = big_call()
    first = arrayconv.conv1d(x, w, backend=backend)
    expected = first.copy()
    address = first.ctypes.data
    del first
    assert _output_pool.kept() == (1, expected.nbytes)
    second = arrayconv.conv1d(x, w, backend=backend)
    assert second.ctypes.data == address and _output_pool.kept() == (0, 0)
    np.testing.assert_array_equal(second, expected)  # every element written again
    assert second.flags.writeable and second.flags.c_contiguous and second.ctypes.data % 64 == 0


def test_small_outputs_are_not_kept():
    x, w = big_call(length=1000)
    arrayconv.conv1d(x, w)  # freed at once
    assert _output_pool.kept() == (0, 0)


def test_output_cache_zero_keeps_nothing_and_lower_limits_release_at_once():
    x, w = big_call()
    with arrayconv.config_context(output_cache=0):
        arrayconv.conv1d(x, w)  # freed at once
        assert _output_pool.kept() == (0, 0)
    outputs = [arrayconv.conv1d(x, w) for _ in range(3)]
    size = outputs[0].nbytes
    del outputs
    assert _output_pool.kept() == (3, 3 * size)
    with arrayconv.config_context(output_cache=size + 1):
        arrayconv.conv1d(x[:, :, :100], w)  # the next call gives the pool the new limit
        assert _output_pool.kept() == (1, size)


def test_the_oldest_block_goes_first_at_the_limit():
    x, w = big_call()
    size = arrayconv.conv1d(x, w).nbytes
    with arrayconv.config_context(output_cache=2 * size):
        outputs = [arrayconv.conv1d(x, w) for _ in range(3)]
        addresses = [a.ctypes.data for a in outputs]
        while outputs:  # freed first to last: the first block is evicted when the third comes
            outputs.pop(0)
        assert _output_pool.kept() == (2, 2 * size)
        again = [arrayconv.conv1d(x, w) for _ in range(2)]
        assert sorted(a.ctypes.data for a in again) == sorted(addresses[1:])


def test_a_block_is_only_reused_for_a_similar_size():
    big = _scratch.output((32 * MIB // 4,), np.float32)
    del big
    small = _scratch.output((5 * MIB // 4,), np.float32)  # fits, but would hold 32 MiB for 5
    assert _output_pool.kept() == (1, 32 * MIB)
    del small


def test_resize_and_zeros_through_the_handler():
    a = _scratch.output((6 * MIB // 8,), np.float64)
    a[:] = np.arange(a.size)
    a.resize((12 * MIB // 8,), refcheck=False)  # realloc: the values move with the block
    np.testing.assert_array_equal(a[: 6 * MIB // 8], np.arange(6 * MIB // 8))
    del a
    b = _output_pool.empty((5 * MIB,), np.uint8)
    assert b.nbytes == 5 * MIB


def test_threads_allocate_and_free_concurrently():
    x, w = big_call(length=40_000)
    expected = arrayconv.conv1d(x, w)
    failures = []

    def worker():
        for _ in range(20):
            y = arrayconv.conv1d(x, w)
            if not np.array_equal(y, expected):
                failures.append(1)
            del y

    workers = [threading.Thread(target=worker) for _ in range(6)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not failures
    count, size = _output_pool.kept()
    assert count <= 6 and size <= arrayconv.get_config()["output_cache"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_allocates_and_frees():
    code = ("import os, numpy as np, arrayconv\n"
            "x, w = np.ones((1, 4, 70000), np.float32), np.ones((32, 4, 3), np.float32)\n"
            "arrayconv.conv1d(x, w)\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    y = arrayconv.conv1d(x, w); del y; y = arrayconv.conv1d(x, w)\n"
            "    os._exit(0 if float(y[0, 0, 5]) == 12.0 else 1)\n"
            "print(os.waitpid(pid, 0)[1])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "0"


@pytest.mark.parametrize("value", [-1, 1.5, True, "lots"])
def test_a_bad_output_cache_names_the_setting(value):
    with pytest.raises((ValueError, TypeError), match="output_cache"):
        arrayconv.set_config(output_cache=value)


def test_output_cache_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARRAYCONV_OUTPUT_CACHE", "12345")
    arrayconv.config.reload()
    try:
        assert arrayconv.config.lookup("output_cache") == (12345, "environment variable ARRAYCONV_OUTPUT_CACHE")
    finally:
        monkeypatch.delenv("ARRAYCONV_OUTPUT_CACHE")
        arrayconv.config.reload()
