"""Bitwise-identical results across calls and thread counts; inputs left alone."""

import numpy as np
import pytest

import arrayconv


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_same_bits_for_any_thread_count(backend_name, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 32, 2048)).astype(dtype)  # large enough to run threaded
    w = rng.standard_normal((32, 32, 7)).astype(dtype)
    results = []
    for threads in (1, 2, 2, 3):
        monkeypatch.setattr(arrayconv.threads, "_setting", threads)
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
