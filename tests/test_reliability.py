"""Concurrency, interruption and repeatability across backends."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import arrayconv


@pytest.mark.parametrize("x_shape", [(64, 64, 16384), (1, 64, 1 << 20)], ids=["batch", "one-long-item"])
def test_keyboard_interrupt_stops_a_long_call_promptly_and_leaves_the_library_usable(x_shape):
    from arrayconv.backends import direct

    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((64, 64, 63)).astype(np.float32)
    spec = arrayconv.shape.normalize(x, w)
    assert spec.macs > 4 * direct._INTERRUPT_MACS  # several slices
    full_call = arrayconv.explain(x, w, backend="direct").estimates["direct"]
    assert full_call > 2.0  # long enough that stopping early is visible
    # a real SIGINT, as Ctrl-C sends (it also wakes the main thread from a sleep);
    # Python's own handler, which a process started in the background (SIGINT
    # ignored) would not have installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        arrayconv.conv1d(x, w, backend="direct")
        time.sleep(30)  # only if the call finished before the interrupt came
    waited = time.monotonic() - start
    timer.cancel()
    signal.signal(signal.SIGINT, previous)
    assert waited < 0.3 + full_call / 2  # stopped after a slice, not at the end
    small_x, small_w = x[:1, :, :256].copy(), w[:, :, :3].copy()
    np.testing.assert_array_equal(arrayconv.conv1d(small_x, small_w, backend="direct"),
                                  arrayconv.conv1d(small_x, small_w, backend="direct"))


def test_many_threads_mixed_backends_and_contexts_equal_serial():
    rng = np.random.default_rng(1)
    shared = {size: rng.standard_normal((8, 8, size)).astype(np.float32) for size in (3, 301, 9)}
    calls = []
    for index in range(12):
        size = (3, 301, 9)[index % 3]
        # every other call shares one weight array per kernel size with other threads
        w = shared[size] if index % 2 else rng.standard_normal((8, 8, size)).astype(np.float32)
        calls.append((rng.standard_normal((2, 8, 3000)).astype(np.float32), w,
                      ("direct", "fft", "array_api", None)[index % 4], 1 + index % 2))
    serial = [arrayconv.conv1d(x, w, padding=2, backend=backend) for x, w, backend, _ in calls]
    results = [None] * len(calls)
    seen = [None] * len(calls)

    def worker(index):
        x, w, backend, count = calls[index]
        # the backend comes from this thread's context (None: the cost model)
        with arrayconv.config_context(threads=count, backend=backend or "auto"):
            for _ in range(3):
                results[index] = arrayconv.conv1d(x, w, padding=2)
            seen[index] = (arrayconv.config.lookup("threads")[0], arrayconv.config.lookup("backend")[0])

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for expected, got in zip(serial, results):
        np.testing.assert_array_equal(got, expected)
    assert seen == [(1 + i % 2, calls[i][2]) for i in range(len(calls))]  # no context leaked between threads
    assert arrayconv.config.lookup("threads")[1] == "default" and arrayconv.config.lookup("backend")[1] == "default"
    for size, w in shared.items():
        assert w.flags.writeable and np.isfinite(w).all()


@pytest.mark.parametrize("backend", ["direct", "fft"])
def test_kernels_release_the_gil(backend):
    """A Python thread keeps running while a long call computes in another."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 32, 40000)).astype(np.float32)
    w = rng.standard_normal((32, 32, 65 if backend == "direct" else 1025)).astype(np.float32)
    arrayconv.conv1d(x[:1], w, backend=backend)
    done = threading.Event()
    ticks = []

    def compute():
        with arrayconv.config_context(threads=1):
            arrayconv.conv1d(x, w, backend=backend)
        done.set()

    worker = threading.Thread(target=compute)
    start = time.monotonic()
    worker.start()
    while not done.is_set():
        ticks.append(time.monotonic())
        time.sleep(0.001)
    worker.join()
    elapsed = time.monotonic() - start
    assert elapsed > 0.05, "the call was too short to tell"
    assert len(ticks) > 0.2 * elapsed / 0.001 / 5  # the main thread ran throughout, not only at the end


@pytest.mark.parametrize("backend", ["direct", "fft", "array_api"])
def test_same_bits_on_every_call(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6, 5000))
    w = rng.standard_normal((6, 3, 200))
    first = arrayconv.conv1d(x, w, groups=2, stride=3, padding=7, padding_mode="circular", backend=backend)
    for _ in range(3):
        np.testing.assert_array_equal(
            arrayconv.conv1d(x, w, groups=2, stride=3, padding=7, padding_mode="circular", backend=backend), first)


def test_deterministic_setting():
    assert arrayconv.config.lookup("deterministic") == (True, "default")
    with arrayconv.config_context(deterministic=False):
        assert arrayconv.config.lookup("deterministic") == (False, "config_context")
    with pytest.raises(TypeError, match="deterministic must be True or False"):
        arrayconv.set_config(deterministic="sometimes")
