"""conv1d on Dask arrays: lazy, chunked along batch and length, equal to the in-memory result."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arrayconv
from arrayconv.shape import PADDING_MODES

da = pytest.importorskip("dask.array", reason="dask is not installed (the 'dask' extra)")


def _chunks(draw, size):
    """A random chunking of ``size`` (blocks of 1 sample included)."""
    if size == 0:
        return (0,)
    cuts = draw(st.lists(st.integers(1, max(1, size - 1)), max_size=8, unique=True)) if size > 1 else []
    bounds = [0, *sorted(cuts), size]
    return tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))


@st.composite
def chunked_cases(draw):
    groups = draw(st.integers(1, 3))
    cin = groups * draw(st.integers(1, 2))
    cout = groups * draw(st.integers(1, 2))
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 5))
    dilation = draw(st.sampled_from([1, 2, 3, 4, 25]))  # 25: wider than most blocks
    mode = draw(st.sampled_from(PADDING_MODES))
    padding = draw(st.one_of(st.integers(-4 if mode != "zeros" else 0, 8), st.just("same"), st.just("valid"),
                              st.just("causal")))
    if padding == "same":
        stride = 1
    extent = dilation * (kernel - 1) + 1
    if mode == "zeros" and draw(st.integers(0, 5)) == 0:
        padding = draw(st.integers(0, 3 * extent + 20))  # zero padding longer than the signal
    length = draw(st.integers(max(extent, 7), max(extent, 7) + 70))
    if mode == "reflect" and isinstance(padding, int):
        padding = min(padding, length - 1)
    if mode == "circular" and isinstance(padding, int):
        padding = min(padding, length)
    batched = draw(st.booleans())
    batch = draw(st.sampled_from([0, 1, 2, 3, 4])) if batched else 1
    x_dtype = draw(st.sampled_from(["float16", "float32", "float64", "complex128"]))
    w_dtype = x_dtype if draw(st.booleans()) else draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((batch, cin, length)).astype(x_dtype)
    w = rng.standard_normal((cout, cin // groups, kernel)).astype(w_dtype)
    b = rng.standard_normal(cout).astype(w_dtype) if draw(st.booleans()) else None
    chunks = (_chunks(draw, batch), _chunks(draw, cin), _chunks(draw, length))
    if not batched:
        x, chunks = x[0], chunks[1:]
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode), chunks


@given(case=chunked_cases())
@settings(max_examples=120)
def test_every_element_equals_the_in_memory_result(case):
    x, w, b, kwargs, chunks = case
    try:
        expected = arrayconv.conv1d(x, w, b, **kwargs)
    except (ValueError, TypeError) as error:  # refused in memory: refused when the graph is built
        with pytest.raises(type(error)):
            arrayconv.conv1d(da.from_array(x, chunks=chunks), w, b, **kwargs)
        return
    lazy = arrayconv.conv1d(da.from_array(x, chunks=chunks), w, b, **kwargs)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    if x.ndim == 3:
        assert lazy.chunks[0] == chunks[0]  # batch blocks map independently
    assert sum(lazy.chunks[-1]) == expected.shape[-1]
    result = lazy.compute(scheduler="threads")
    assert result.dtype == expected.dtype
    if expected.size == 0:
        assert result.shape == expected.shape
        return
    tolerance = {"float16": 2e-3, "float32": 1e-5}.get(expected.dtype.name, 1e-12)
    np.testing.assert_allclose(result, expected, rtol=tolerance, atol=tolerance * float(np.abs(expected).max()))
    for index, size in enumerate(lazy.chunks[-1]):  # each block as the metadata promises
        block = lazy.blocks[(0,) * (lazy.ndim - 1) + (index,)].compute(scheduler="sync")
        assert block.shape[-1] == size and block.dtype == lazy.dtype


def test_blocks_follow_the_input_blocks():
    x = da.zeros((8, 2, 1000), chunks=(2, 1, 250))
    y = arrayconv.conv1d(x, np.ones((3, 2, 9)), padding=4)
    assert y.chunks == ((2, 2, 2, 2), (3,), (250, 250, 250, 250))
    strided = arrayconv.conv1d(x, np.ones((3, 2, 9)), stride=4)
    assert strided.chunks[2] == (63, 62, 63, 60)  # output t by the block of sample 4 t


def test_weights_are_one_node_of_the_graph():
    weight = np.random.default_rng(0).standard_normal((16, 16, 64))
    x = da.zeros((4, 16, 100_000), chunks=(1, 16, 1000))
    y = arrayconv.conv1d(x, weight, padding="same")
    graph = dict(y.__dask_graph__())
    assert y.numblocks[0] * y.numblocks[2] == 400
    holding = [key for key, value in graph.items() if isinstance(value, np.ndarray) and value.shape == weight.shape]
    assert len(holding) == 1
    # the whole graph is far smaller than one weight per task would make it
    assert len(pickle.dumps(graph)) < 3 * weight.nbytes


def test_settings_made_in_code_travel_with_the_tasks():
    x = da.ones((2, 1, 100), chunks=(1, 1, 50))
    with arrayconv.config_context(memory_limit=1):
        lazy = arrayconv.conv1d(x, np.ones((1, 1, 3)))
    with pytest.raises(arrayconv.WorkspaceError):
        lazy.compute(scheduler="threads")
    assert arrayconv.conv1d(x, np.ones((1, 1, 3))).compute(scheduler="threads").shape == (2, 1, 98)


def test_the_weight_is_copied_when_the_graph_is_built():
    weight = np.ones((1, 1, 3))
    lazy = arrayconv.conv1d(da.ones((1, 1, 10), chunks=4), weight)
    weight[:] = 5
    np.testing.assert_array_equal(lazy.compute(), np.full((1, 1, 8), 3.0))


@pytest.mark.parametrize(
    "weight,error,match",
    [
        (lambda: da.ones((1, 1, 3)), TypeError, "weight of a Dask input must be a NumPy array"),
        (lambda: np.ones((1, 2, 3)), ValueError, "input must have weight.shape"),
    ],
)
def test_bad_weights_are_refused_before_any_task(weight, error, match):
    with pytest.raises(error, match=match):
        arrayconv.conv1d(da.ones((1, 1, 10), chunks=4), weight())


def test_unknown_chunk_sizes_are_refused():
    x = da.ones((2, 1, 10), chunks=(1, 1, 5))
    unknown = x[x[:, 0, 0] > 0]
    with pytest.raises(ValueError, match="known chunk sizes"):
        arrayconv.conv1d(unknown, np.ones((1, 1, 3)))


def test_integer_dask_input_is_refused_like_any_other():
    with pytest.raises(TypeError, match="input must have a floating"):
        arrayconv.conv1d(da.ones((1, 1, 10), chunks=4, dtype=int), np.ones((1, 1, 3)))


def test_a_local_cluster_of_worker_processes_gives_the_same_result():
    distributed = pytest.importorskip("distributed", reason="distributed is not installed (the 'dask' extra)")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 5000))
    w = rng.standard_normal((6, 2, 33))
    b = rng.standard_normal(6)
    cases = [
        dict(padding="same", groups=2, padding_mode="circular"),
        dict(stride=3, dilation=2, padding=7, groups=2, padding_mode="reflect"),
        dict(stride=2, groups=2, padding=40, padding_mode="replicate"),
    ]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        for kwargs in cases:
            lazy = arrayconv.conv1d(da.from_array(x, chunks=(2, 1, 700)), w, b, **kwargs)
            np.testing.assert_allclose(client.compute(lazy).result(), arrayconv.conv1d(x, w, b, **kwargs),
                                       rtol=1e-12, atol=1e-12)
        assert len(client.scheduler_info()["workers"]) == 2


def test_larger_than_memory_example_streams_and_checks_its_output(tmp_path):
    """The documented example, at a small size: zarr in, a LocalCluster with a
    memory limit per worker, zarr out, windows at both ends checked."""
    pytest.importorskip("zarr", reason="zarr is not installed (the test extra)")
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "examples" / "dask_larger_than_memory.py"
    spec = importlib.util.spec_from_file_location("dask_larger_than_memory", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    figures = example.run(gib=0.04, workers=2, memory_limit="256MiB", directory=str(tmp_path), report=lambda line: None)
    assert figures["signal_gib"] > 0.039
    assert figures["max_error"] < 1e-5
    assert figures["mib_per_second"] > 0


def test_blocks_that_read_only_padding_keep_the_result_dtype():
    x = np.random.default_rng(6).standard_normal((1, 1, 10))  # float64
    w = np.ones((2, 1, 3), dtype=np.float32)
    lazy = arrayconv.conv1d(da.from_array(x, chunks=1), w, padding=5)
    blocks = [lazy.blocks[0, 0, index].compute() for index in range(lazy.numblocks[2])]
    assert {block.dtype for block in blocks} == {np.dtype(np.float64)}
    np.testing.assert_allclose(lazy.compute(), arrayconv.conv1d(x, w, padding=5), rtol=1e-6)


# --------------------------------------------------------------------------
# conv_transpose1d and the gradients on Dask arrays

from strategies import conv_cases, transpose_cases  # noqa: E402


def _tolerance(expected: np.ndarray) -> tuple[float, float]:
    rtol = {"float16": 5e-3, "float32": 1e-4, "complex64": 1e-4}.get(expected.dtype.name, 1e-10)
    return rtol, rtol * (float(np.abs(expected).max()) if expected.size else 0.0)


def _assert_lazy_equal(lazy, expected):
    """A lazy result holds, block by block, what the in-memory call gives."""
    if expected is None:
        assert lazy is None
        return
    assert isinstance(lazy, da.Array)
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    result = lazy.compute(scheduler="threads")
    assert result.shape == expected.shape and result.dtype == expected.dtype
    rtol, atol = _tolerance(expected)
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=atol)


def _lazy(draw, array):
    return da.from_array(array, chunks=tuple(_chunks(draw, size) for size in array.shape))


@given(case=transpose_cases(), data=st.data())
@settings(max_examples=120)
def test_conv_transpose1d_of_a_dask_array_equals_the_in_memory_result(case, data):
    args = case.args()
    try:
        expected = arrayconv.conv_transpose1d(*args)
    except (ValueError, TypeError) as error:
        with pytest.raises(type(error)):
            arrayconv.conv_transpose1d(_lazy(data.draw, case.x), *args[1:])
        return
    _assert_lazy_equal(arrayconv.conv_transpose1d(_lazy(data.draw, case.x), *args[1:]), expected)


@given(case=conv_cases(same_dtype=True, dtypes=("float32", "float64", "complex128")), data=st.data())
@settings(max_examples=120)
def test_conv1d_backward_of_dask_arrays_equals_the_in_memory_result(case, data):
    try:
        y = arrayconv.conv1d(*case.args())
    except (ValueError, TypeError):
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    settings_ = (case.stride, case.padding, case.dilation, case.groups, case.padding_mode)
    needs = data.draw(st.sampled_from([("input", "weight", "bias"), ("weight",), ("input",), ("bias",)]))
    expected = arrayconv.conv1d_backward(gy, case.x, case.w, *settings_, needs=needs)
    lazy = arrayconv.conv1d_backward(_lazy(data.draw, gy), _lazy(data.draw, case.x), case.w, *settings_, needs=needs)
    for got, want in zip(lazy, expected):
        _assert_lazy_equal(got, want)


@given(case=transpose_cases(dtypes=("float32", "float64", "complex128")), data=st.data())
@settings(max_examples=100)
def test_conv_transpose1d_backward_of_dask_arrays_equals_the_in_memory_result(case, data):
    try:
        y = arrayconv.conv_transpose1d(*case.args())
    except (ValueError, TypeError):
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    settings_ = (case.stride, case.padding, case.output_padding, case.groups, case.dilation)
    expected = arrayconv.conv_transpose1d_backward(gy, case.x, case.w, *settings_)
    lazy = arrayconv.conv_transpose1d_backward(_lazy(data.draw, gy), _lazy(data.draw, case.x), case.w, *settings_)
    for got, want in zip(lazy, expected):
        _assert_lazy_equal(got, want)


def test_transposed_blocks_follow_the_input_blocks():
    x = da.zeros((2, 4, 1000), chunks=(1, 4, 250))
    y = arrayconv.conv_transpose1d(x, np.ones((4, 3, 4)), stride=2, padding=1)
    assert y.chunks == ((1, 1), (3,), (499, 500, 500, 501))


def test_gradients_of_dask_arrays_refuse_in_memory_signals():
    x = da.ones((1, 1, 10), chunks=4)
    with pytest.raises(TypeError, match="grad_output must be a Dask array when the input is one"):
        arrayconv.conv1d_backward(np.ones((1, 1, 8)), x, np.ones((1, 1, 3)))


def test_the_weight_gradient_is_a_tree_of_block_shares():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((4, 8, 4000)), rng.standard_normal((8, 8, 9))
    gy = rng.standard_normal((4, 8, 3992))
    lazy = arrayconv.conv1d_backward(da.from_array(gy, chunks=(1, 8, 500)), da.from_array(x, chunks=(1, 8, 500)), w,
                                     needs=("weight",)).weight
    graph = dict(lazy.__dask_graph__())
    shares = [key for key in graph if isinstance(key, tuple) and "weight-grad" in key[0] and len(key) == 5]
    assert len(shares) == 4 * 8  # one per output block of each batch block
    np.testing.assert_allclose(lazy.compute(), arrayconv.conv1d_backward(gy, x, w, needs=("weight",)).weight,
                               rtol=1e-10, atol=1e-9)
