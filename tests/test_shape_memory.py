"""arrayconv.shape.memory, called directly: the guard that refuses a call (or a layer) needing more
memory than allowed, before anything is allocated.

check_memory (a ConvSpec's output in its compute dtype plus a backend's
workspace), check_output_memory (an output assembled from several calls) and
check_parameter_memory (a layer's parameters): the byte counts they compare,
the limit exactly at the boundary, the ``limit=None`` rule (only calls of
64 MiB and more are checked, against the memory available now), the
WorkspaceError and what its message says.
"""

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arrayconv
from arrayconv.shape import conv_spec, memory
from arrayconv.shape.arguments import placeholder

FAST = settings(max_examples=60, deadline=None)
ITEMSIZE = {"float16": 2, "float32": 4, "float64": 8, "complex64": 8, "complex128": 16}


def _spec(shape_x=(2, 4, 10), shape_w=(6, 4, 3), dtype="float32", **kwargs):
    return conv_spec.normalize(placeholder(shape_x, "input", dtype), placeholder(shape_w, "weight", dtype), **kwargs)


def test_workspace_error_is_a_memory_error_named_arrayconv():
    assert issubclass(memory.WorkspaceError, MemoryError)
    assert memory.WorkspaceError is arrayconv.WorkspaceError
    assert memory.WorkspaceError.__module__ == "arrayconv"


# --------------------------------------------------------------------------
# check_memory


@pytest.mark.parametrize("dtype,compute_itemsize", [("float16", 4), ("float32", 4), ("float64", 8), ("complex128", 16)])
@pytest.mark.parametrize("workspace", [0, 1, 12345])
def test_check_memory_counts_the_output_in_its_compute_dtype_plus_the_workspace(dtype, compute_itemsize, workspace):
    spec = _spec(dtype=dtype)  # output (2, 6, 8)
    needed = 2 * 6 * 8 * compute_itemsize + workspace
    memory.check_memory(spec, workspace, needed, "direct")  # exactly at the limit: allowed
    with pytest.raises(memory.WorkspaceError) as info:
        memory.check_memory(spec, workspace, needed - 1, "direct")
    message = str(info.value)
    assert f"(output (2, 6, 8) of {spec.compute_dtype} plus the direct backend's workspace)" in message
    assert "more than the memory_limit setting" in message
    assert message.startswith("this call needs about")


def test_check_memory_of_a_zero_channel_input_counts_only_the_workspace():
    spec = _spec((2, 0, 10), (6, 0, 3))
    assert spec.output_shape == (2, 0, 8)
    memory.check_memory(spec, 0, 0, "fft")
    memory.check_memory(spec, 100, 100, "fft")
    with pytest.raises(memory.WorkspaceError, match="fft backend's workspace"):
        memory.check_memory(spec, 101, 100, "fft")


@FAST
@given(batch=st.integers(0, 50), channels=st.integers(1, 50), length=st.integers(3, 5000),
       workspace=st.integers(0, 10**6), slack=st.integers(-3, 3))
def test_check_memory_refuses_exactly_past_the_limit(batch, channels, length, workspace, slack):
    spec = _spec((batch, channels, length), (channels, channels, 3), "float64")
    needed = batch * channels * (length - 2) * 8 + workspace
    limit = max(needed + slack, 0)
    if needed > limit:
        with pytest.raises(memory.WorkspaceError):
            memory.check_memory(spec, workspace, limit, "gemm")
    else:
        memory.check_memory(spec, workspace, limit, "gemm")


def test_the_message_gives_sizes_in_gib():
    spec = _spec((1, 1, 2**28), (1, 1, 1))  # a 1 GiB float32 output
    with pytest.raises(memory.WorkspaceError) as info:
        memory.check_memory(spec, 0, 2**29, "direct")
    message = str(info.value)
    assert message.startswith("this call needs about 1 GiB (output (1, 1, 268435456) of float32 plus")
    assert "more than the memory_limit setting (0.5 GiB)" in message
    assert "split the batch or the signal" in message and "raise memory_limit" in message


# --------------------------------------------------------------------------
# limit None: the memory available now, for large calls only


def test_without_a_limit_small_calls_are_not_checked(monkeypatch):
    monkeypatch.setattr(memory, "_available_memory", lambda: 0)
    memory.check_output_memory((1, 1, (1 << 26) // 4 - 1), "float32", None)  # 64 MiB - 4 bytes
    with pytest.raises(memory.WorkspaceError, match=r"more than the memory available now \(0 GiB\)"):
        memory.check_output_memory((1, 1, (1 << 26) // 4), "float32", None)  # 64 MiB


def test_without_a_limit_large_calls_are_checked_against_the_memory_available(monkeypatch):
    monkeypatch.setattr(memory, "_available_memory", lambda: 2**30)
    memory.check_output_memory((2**28,), "float32", None)
    with pytest.raises(memory.WorkspaceError, match=r"the memory available now \(1 GiB\)"):
        memory.check_output_memory((2**28 + 1,), "float32", None)


def test_without_a_limit_and_without_a_reading_nothing_is_refused(monkeypatch):
    monkeypatch.setattr(memory, "_available_memory", lambda: None)
    memory.check_output_memory((2**40, 2**20), "complex128", None)


def test_an_impossible_call_is_refused_against_this_machines_memory():
    with pytest.raises(memory.WorkspaceError, match="memory available now"):
        memory.check_memory(_spec((2**20, 4, 2**20), (1024, 4, 3)), 0, None, "direct")


def test_available_memory_is_a_plausible_reading():
    available = memory._available_memory()
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert isinstance(available, int) and 0 < available <= physical


def test_available_memory_falls_back_to_the_physical_memory(monkeypatch, tmp_path):
    missing = str(tmp_path / "no-meminfo")  # as where there is no /proc (the module is compiled: open cannot be patched)
    assert memory._available_memory(missing) == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(memory.os, "sysconf", no_sysconf)
    assert memory._available_memory(missing) is None


# --------------------------------------------------------------------------
# check_output_memory


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("shape", [(3, 5, 7), (11,), (2, 0, 9), ()])
def test_check_output_memory_counts_the_shape(dtype, shape):
    needed = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[dtype]
    memory.check_output_memory(shape, dtype, needed)
    if needed:
        with pytest.raises(memory.WorkspaceError) as info:
            memory.check_output_memory(list(shape), dtype, needed - 1)
        assert f"(output {shape} of {dtype})" in str(info.value)


def test_check_output_memory_does_not_overflow_on_huge_shapes():
    with pytest.raises(memory.WorkspaceError, match=re.escape(f"needs about {2**27:.3g} GiB")):
        memory.check_output_memory((2**30, 2**20, 2**4), "float64", 2**50)  # 2**57 bytes


# --------------------------------------------------------------------------
# check_parameter_memory


@pytest.mark.parametrize("dtype", ["float16", "float32", np.float64, np.dtype("complex64"), "complex128"])
def test_check_parameter_memory_counts_every_parameter_in_its_dtype(dtype):
    parameters = {"weight": (8, 2, 5), "bias": (8,)}
    name = np.dtype(dtype).name
    needed = (8 * 2 * 5 + 8) * ITEMSIZE[name]
    memory.check_parameter_memory(parameters, dtype, needed)
    with pytest.raises(memory.WorkspaceError) as info:
        memory.check_parameter_memory(parameters, dtype, needed - 1)
    message = str(info.value)
    assert message.startswith("this layer needs about")
    assert f"(weight (8, 2, 5) and bias (8,) of {name})" in message
    assert "use fewer channels or a shorter kernel" in message


def test_check_parameter_memory_without_a_limit_refuses_an_impossible_layer():
    with pytest.raises(memory.WorkspaceError, match=r"needs about 1.12e\+04 GiB .* memory available now"):
        memory.check_parameter_memory({"weight": (10**6, 10**6, 3), "bias": (10**6,)}, "float32", None)
    memory.check_parameter_memory({"weight": (64, 64, 3)}, "float64", None)
    memory.check_parameter_memory({}, "float64", 0)
