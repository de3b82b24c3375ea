"""Bitwise-identical results across calls and thread counts; inputs left alone."""

import numpy as np
import pytest

import arrayconv


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_same_bits_for_any_thread_count(backend_name, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32, 2048)).astype(dtype)  # large enough to run threaded
    w = rng.standard_normal((32, 32, 7)).astype(dtype)
    results = []
    for threads in (1, 2, 2, 3):
        with arrayconv.config_context(threads=threads):
            results.append(arrayconv.conv1d(x, w, padding=3, backend=backend_name))
    for other in results[1:]:
        assert np.array_equal(results[0], other)


def test_read_only_and_strided_inputs(backend_name):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 8, 40))
    x = base[:, ::2, ::-1]  # non-contiguous, negative stride
    w = np.asfortranarray(rng.standard_normal((5, 4, 3)))
    x.flags.writeable = False
    w.flags.writeable = False
    expected = arrayconv.conv1d(np.ascontiguousarray(x), np.ascontiguousarray(w), backend=backend_name)
    np.testing.assert_array_equal(arrayconv.conv1d(x, w, backend=backend_name), expected)


def _scipy_blas_threads():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if "scipy" in i["filepath"] and "numpy" not in i["filepath"]]


@pytest.mark.parametrize("threads", [1, 2])
def test_blas_thread_count_is_restored(threads, request):
    """The BLAS is kept on one thread during a call and given back its count after, also under concurrency."""
    import concurrent.futures

    before = _scipy_blas_threads()
    arrayconv.set_config(threads=threads)
    request.addfinalizer(lambda: arrayconv.set_config(threads=None))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 64, 4096)).astype(np.float32)
    w = rng.standard_normal((128, 64, 7)).astype(np.float32)
    serial = arrayconv.conv1d(x, w, padding=3)
    assert _scipy_blas_threads() == before
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: arrayconv.conv1d(x, w, padding=3), range(12)))
    assert all(np.array_equal(serial, r) for r in results)
    assert _scipy_blas_threads() == before


def test_threadpool_limits_cap_the_kernels():
    from threadpoolctl import threadpool_limits

    from arrayconv._openmp import omp_max_threads

    with threadpool_limits(limits=1, user_api="openmp"):
        assert omp_max_threads() == 1
        x = np.random.default_rng(3).standard_normal((4, 32, 2048)).astype(np.float32)
        w = np.random.default_rng(4).standard_normal((32, 32, 7)).astype(np.float32)
        np.testing.assert_array_equal(arrayconv.conv1d(x, w), arrayconv.conv1d(x, w))


def _child_conv(queue):
    x = np.ones((4, 32, 4096), np.float32)
    w = np.ones((32, 32, 7), np.float32)
    queue.put(float(arrayconv.conv1d(x, w)[0, 0, 0]))


def test_forked_child_does_not_hang():
    """GNU OpenMP cannot use its pool in a forked child: arrayconv drops to one thread there."""
    import multiprocessing

    arrayconv.threads.set_num_threads(2)
    try:
        x = np.ones((4, 32, 4096), np.float32)
        w = np.ones((32, 32, 7), np.float32)
        arrayconv.conv1d(x, w)  # start the parent's thread pool
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_child_conv, args=(queue,))
        child.start()
        child.join(60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive, "the forked child hung"
        assert queue.get(timeout=5) == 32 * 7
    finally:
        arrayconv.threads.set_num_threads(None)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_infinite_weight_meets_padding_as_torch_does(backend_name, padding_mode):
    """inf * (a zero of the padding) is nan in torch's definition; every path agrees."""
    from oracle import torch_conv1d

    x = np.ones((1, 8, 6), np.float32)
    w = np.ones((8, 8, 3), np.float32)
    w[0, 0, 0] = np.inf
    expected = torch_conv1d(x, w, None, 1, 1, 1, 1, padding_mode)
    np.testing.assert_array_equal(arrayconv.conv1d(x, w, padding=1, padding_mode=padding_mode, backend=backend_name), expected)
    single = np.ones((1, 1, 6), np.float32), np.full((1, 1, 3), np.inf, np.float32)
    np.testing.assert_array_equal(arrayconv.conv1d(*single, padding=1, padding_mode=padding_mode, backend=backend_name),
                                  torch_conv1d(*single, None, 1, 1, 1, 1, padding_mode))


def test_blas_is_on_one_thread_during_calls_from_worker_threads():
    """The pin works from any Python thread (threadpoolctl's own setter ignores all but one)."""
    import threading

    from arrayconv.backends import _blas_threads

    pin = _blas_threads.shared_pin()
    assert pin is not None
    seen = []

    def worker():
        with pin:
            seen.append(_scipy_blas_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [[1]]
