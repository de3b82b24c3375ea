"""Fuzzing conv1d on every backend: hostile and odd arguments, checked against torch (see fuzzing.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arrayconv
import fuzzing


@pytest.mark.parametrize("backend", fuzzing.BACKENDS)
@settings(max_examples=400)
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_calls_never_crash_and_agree_with_torch(backend, seed):
    fuzzing.check(fuzzing.make_case(seed), backend)


@pytest.mark.parametrize("backend", fuzzing.BACKENDS)
def test_sizes_past_torchs_index_arithmetic_are_not_given_to_torch(backend):
    """A fuzz case of dilation=2**62 with K=7 (refused by arrayconv): torch, asked as the oracle, overflowed
    and allocated until the OOM killer ended CI; the check must finish without asking it."""
    rng = np.random.default_rng(0)
    case = dict(input=rng.standard_normal((2, 2, 142)).astype(np.float16)[..., ::-1],
                weight=rng.standard_normal((2, 1, 7)).astype(np.float16), bias=np.ones(2, np.float16),
                stride=3, padding=0, dilation=2**62, groups=2, padding_mode="zeros")
    fuzzing.check(case, backend)


def test_none_arrays_are_type_errors():
    with pytest.raises(TypeError, match="input must be an array.*input=None"):
        arrayconv.conv1d(None, np.ones((1, 1, 3)))
    with pytest.raises(TypeError, match="weight must be an array.*weight=None"):
        arrayconv.conv1d(np.ones((1, 1, 3)), None)


def test_memory_beyond_what_is_available_is_refused_before_allocating():
    x, w = np.ones((2, 6, 10), np.float32), np.ones((6, 3, 3), np.float32)
    with pytest.raises(arrayconv.WorkspaceError, match=r"needs about .* GiB .* memory available"):
        arrayconv.conv1d(x, w, padding=2**31, groups=2)  # a 192 GiB output


def test_memory_limit_setting(monkeypatch):
    x, w = np.ones((2, 6, 1000), np.float32), np.ones((6, 3, 3), np.float32)
    with arrayconv.config_context(memory_limit=1000):
        with pytest.raises(MemoryError, match="memory_limit setting"):
            arrayconv.conv1d(x, w, groups=2)
    monkeypatch.setenv("ARRAYCONV_MEMORY_LIMIT", "100000000")
    arrayconv.config.reload()
    try:
        assert arrayconv.config.lookup("memory_limit") == (100000000, "environment variable ARRAYCONV_MEMORY_LIMIT")
        assert arrayconv.conv1d(x, w, groups=2).shape == (2, 6, 998)
    finally:
        monkeypatch.delenv("ARRAYCONV_MEMORY_LIMIT")
        arrayconv.config.reload()
    with pytest.raises(ValueError, match="memory_limit must be a positive number of bytes"):
        arrayconv.set_config(memory_limit=-5)


@pytest.mark.parametrize("backend", fuzzing.BACKENDS)
def test_workspace_estimates_cover_the_call(backend):
    """What a backend says it allocates bounds the call's extra peak memory (tracemalloc sees NumPy's allocations)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 20000)).astype(np.float32)
    w = rng.standard_normal((8, 8, 301)).astype(np.float32)
    spec = arrayconv.shape.normalize(x, w)
    chosen = arrayconv.backends.get(backend)
    output = 2 * 8 * spec.length_out * 4
    arrayconv.conv1d(x, w, backend=backend)  # plans, caches, scratch
    tracemalloc.start()
    arrayconv.conv1d(x, w, backend=backend)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 1.5 * (output + chosen.workspace_bytes(spec)) + (1 << 20)


def test_coverage_guided_harness_of_the_argument_parser():
    """A short libFuzzer run of tests/atheris_normalize.py: no finding (the long run is documented)."""
    import pathlib
    import subprocess
    import sys

    pytest.importorskip("atheris", reason="atheris is not installed (Linux x86-64 test extra)")
    harness = pathlib.Path(__file__).with_name("atheris_normalize.py")
    # libFuzzer's rss limit reads the process's peak RSS, which a vfork-started child
    # inherits from this whole test process (gigabytes, after the suite's big oracle
    # calls): a preexec_fn makes subprocess fork instead, so the child starts from
    # this process's current RSS and the limit measures the harness itself
    completed = subprocess.run([sys.executable, str(harness), "-runs=20000", "-seed=1"],
                               capture_output=True, text=True, timeout=600, preexec_fn=lambda: None)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Done 20000 runs" in completed.stderr


def _hostile_gradient_calls(seed):
    """conv_transpose1d, conv1d_backward and conv_transpose1d_backward calls from a fuzz case."""
    kwargs = fuzzing.make_case(seed)
    rng = np.random.default_rng(seed)
    x, w, b = kwargs["input"], kwargs["weight"], kwargs["bias"]
    settings_ = (kwargs["stride"], kwargs["padding"], kwargs["dilation"], kwargs["groups"], kwargs["padding_mode"])
    output_padding = fuzzing._scalar(rng, [0, 0, 1, 2])
    try:
        # the output's shape without computing it, and no grad_output beyond the memory limit
        # (a full conv1d here, outside the limit, once held a 20 GB output: the OOM killer ended CI)
        shape = arrayconv.shape.normalize(x, w, None, *settings_).output_shape
        if np.prod(shape, dtype=np.float64) * np.result_type(x, w).itemsize > fuzzing.MEMORY_LIMIT:
            raise MemoryError(f"grad_output {shape} beyond the fuzz memory limit")
        grad_output = np.ones(shape, dtype=np.result_type(x, w))
    except (ValueError, TypeError, MemoryError):
        grad_output = x if rng.integers(0, 2) else np.ones((1, 1, 1))
    transposed_padding = kwargs["padding"] if not isinstance(kwargs["padding"], str) else 0
    return [
        lambda backend: arrayconv.conv_transpose1d(x, w, b, kwargs["stride"], transposed_padding, output_padding,
                                                   kwargs["groups"], kwargs["dilation"], backend=backend),
        lambda backend: arrayconv.conv1d_backward(grad_output, x, w, *settings_, backend=backend),
        lambda backend: arrayconv.conv_transpose1d_backward(x, grad_output, w, kwargs["stride"], transposed_padding,
                                                            output_padding, kwargs["groups"], kwargs["dilation"],
                                                            backend=backend),
    ], [a for a in (x, w, b, grad_output) if isinstance(a, np.ndarray)]


@pytest.mark.parametrize("backend", fuzzing.BACKENDS)
@settings(max_examples=300)
@given(seed=st.integers(0, 2**32 - 1))
def test_gradient_and_transposed_calls_never_crash_on_hostile_arguments(backend, seed):
    """The new entry points meet conv1d's bar: a result or a documented error, inputs unchanged."""
    calls, arrays = _hostile_gradient_calls(seed)
    saved = [(a, a.copy()) for a in arrays if a.dtype != object]
    with arrayconv.config_context(memory_limit=fuzzing.MEMORY_LIMIT):
        for call in calls:
            try:
                call(backend)
            except (ValueError, TypeError, MemoryError):
                pass
    for array, copy in saved:
        np.testing.assert_array_equal(array, copy)
