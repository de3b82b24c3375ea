"""Streams against the whole-signal call: random settings, random chunkings, the minimal delay,
the state's round trip and the bad-chunk errors (which leave the state as it was)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import arrayconv
from arrayconv.backends import _fft_engines, _fft_kernels, partitioned
from arrayconv.backends._fft_kernels import DftiTransforms
from oracle import assert_close, reference

MODES = ("zeros", "reflect", "replicate")


def _values(rng, dtype):
    """Random arrays of a shape in ``dtype`` (complex parts for complex dtypes)."""
    def values(shape):
        v = rng.standard_normal(shape)
        if dtype.startswith("complex"):
            v = v + 1j * rng.standard_normal(shape)
        return v.astype(dtype)

    return values


def _chunking(draw, length, largest, count):
    """Chunk boundaries over ``length`` samples: up to ``count`` chunks, 0 and 1 samples common."""
    sizes = draw(st.lists(st.one_of(st.integers(0, 1), st.integers(0, largest)), max_size=count))
    cuts, at = [], 0
    for size in sizes:
        at = min(length, at + size)
        cuts.append(at)
    return [0, *cuts, length]


@st.composite
def stream_cases(draw, dtypes=("float64", "float32", "complex128", "float16")):
    """A conv1d stream's settings, a signal and a chunking of it (0- and 1-sample chunks common)."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel, dilation = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 4))
    padding = draw(st.one_of(st.integers(0, 5), st.sampled_from(["valid", "same", "causal"])))
    if padding == "same":
        stride = 1
    mode = draw(st.sampled_from(MODES))
    extent = dilation * (kernel - 1) + 1
    length = draw(st.integers(0, 3 * extent + 40))
    batched = draw(st.booleans())
    batch = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    values = _values(rng, dtype)
    x = values((batch, cin, length) if batched else (cin, length))
    w = values((cout, cin // groups, kernel))
    b = values((cout,)) if draw(st.booleans()) else None
    bounds = _chunking(draw, length, 2 * extent + 5, 12)
    return dict(x=x, w=w, b=b, stride=stride, padding=padding, dilation=dilation, groups=groups, mode=mode,
                bounds=bounds)


def _chunks(case):
    bounds = case["bounds"]
    return [case["x"][..., a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _settings(case):
    return (case["stride"], case["padding"], case["dilation"], case["groups"], case["mode"])


def _whole(case):
    return arrayconv.conv1d(case["x"], case["w"], case["b"], *_settings(case))


def _expected_count(case, received, total):
    """How many outputs a push may have returned after ``received`` samples: those whose
    padded inputs are all known (the left padding of reflect once pad_left + 1 samples
    have come, of replicate once one has), and never more than the whole signal has."""
    spec = arrayconv.shape.normalize(case["x"], case["w"], None, *_settings(case))
    extent = spec.dilation * (spec.kernel_size - 1) + 1
    needs = {"zeros": 0, "replicate": 1, "reflect": spec.pad_left + 1}[case["mode"]] if spec.pad_left else 0
    known = spec.pad_left + received
    if received < needs or known < extent:
        return 0
    return min(total, (known - extent) // spec.stride + 1)


def _flushed(stream, parts, expected):
    """Every output, the flush's included, checked in shape and dtype against the whole-signal
    call's ``expected``; None where that call raised (the flush must then raise the same error)."""
    if isinstance(expected, Exception):
        with pytest.raises(ValueError) as raised:
            stream.flush()
        assert str(raised.value) == str(expected)
        return None
    result = np.concatenate([*parts, stream.flush()], axis=-1)
    assert result.shape == expected.shape and result.dtype == expected.dtype
    return result


@given(case=stream_cases())
def test_stream_equals_the_whole_signal_call_with_minimal_delay(backend_name, case):
    try:
        expected = _whole(case)
    except ValueError as error:
        expected = error
    stream = arrayconv.Conv1dStream(case["w"], case["b"], *_settings(case), backend=backend_name)
    parts, received = [], 0
    for chunk in _chunks(case):
        parts.append(stream.push(chunk))
        received += chunk.shape[-1]
        if not isinstance(expected, Exception):
            emitted = sum(p.shape[-1] for p in parts)
            assert emitted == _expected_count(case, received, expected.shape[-1]), (received, emitted)
    result = _flushed(stream, parts, expected)
    if result is None:
        return
    # flushed: ready for a new signal, here the same one in a single chunk
    again = np.concatenate([stream.push(case["x"]), stream.flush()], axis=-1)
    assert again.shape == expected.shape
    if result.size:
        wide, scale = reference(case["x"], case["w"], case["b"], *_settings(case), result.dtype)
        assert_close(result, wide, scale, result.dtype.name)
        assert_close(again, wide, scale, result.dtype.name)


@given(case=stream_cases())
@example(case=dict(  # one sample between the dilated taps: exactly 0, and the transforms' rounding
    x=np.array([[0.12573022]]), w=np.array([[[-0.13210486, 0.64042265, 0.10490012, -0.53566937]]]), b=None,
    stride=1, padding="same", dilation=3, groups=1, mode="zeros", bounds=[0, 1]))
def test_the_partitioned_fft_path_equals_the_whole_signal_call(case):
    """Every stride-1 stream with an auto-routed backend on the partitioned FFT, however short its kernel."""
    try:
        expected = _whole(case)
    except ValueError as error:
        expected = error
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(arrayconv.stream, "PARTITIONED_EXTENT", 1)
        _check_partitioned(case, expected)


def _check_partitioned(case, expected):
    stream = arrayconv.Conv1dStream(case["w"], case["b"], *_settings(case))
    parts, received = [], 0
    for chunk in _chunks(case):
        parts.append(stream.push(chunk))
        received += chunk.shape[-1]
        if not isinstance(expected, Exception):
            assert sum(p.shape[-1] for p in parts) == _expected_count(case, received, expected.shape[-1])
    if case["stride"] == 1 and case["bounds"][-1]:
        assert stream.state.block > 0  # the path under test
    result = _flushed(stream, parts, expected)
    if result is None:
        return
    if result.size:
        wide, scale = reference(case["x"], case["w"], case["b"], *_settings(case), result.dtype)
        assert_close(result, wide, _transform_scale(case, scale), result.dtype.name)


def _transform_scale(case, scale):
    """The rounding scale of an FFT result: a transform mixes every sample of a block into
    every output, so its error follows the largest output the signal and weights could
    make, not the output's own magnitude (which is 0 where dilated taps miss every
    sample: a single sample between the taps of a 'same'-padded kernel)."""
    x, w = np.abs(case["x"]).astype(np.float64), np.abs(case["w"]).astype(np.float64)
    bias = 0.0 if case["b"] is None else float(np.abs(case["b"]).max(initial=0.0))
    dense = float(x.max(initial=0.0)) * float(w.sum(axis=(1, 2)).max(initial=0.0)) + bias
    return max(scale, dense)


def test_a_long_kernel_streams_on_the_partitioned_fft_and_parks():
    rng = np.random.default_rng(7)
    w, x = rng.standard_normal((2, 1, 1500)), rng.standard_normal((3, 2, 6000))
    stream = arrayconv.Conv1dStream(w, padding="causal", groups=2, padding_mode="replicate")
    parts = [stream.push(x[..., :700])]
    assert stream.state.block == 1024 and stream.state.history is not None
    resumed = arrayconv.Conv1dStream(w, padding="causal", groups=2, padding_mode="replicate")
    resumed.state = stream.state
    parts += [resumed.push(x[..., a:b]) for a, b in [(700, 701), (701, 701), (701, 4000), (4000, 6000)]]
    parts.append(resumed.flush())
    expected = arrayconv.conv1d(x, w, padding="causal", groups=2, padding_mode="replicate")
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), expected, rtol=1e-10, atol=1e-10)


@given(case=stream_cases(dtypes=("float64",)), data=st.data())
def test_a_parked_state_resumes_on_another_stream(case, data):
    chunks = _chunks(case)
    park = data.draw(st.integers(0, len(chunks)))
    first = arrayconv.Conv1dStream(case["w"], case["b"], *_settings(case))
    parts = [first.push(chunk) for chunk in chunks[:park]]
    saved = first.state
    second = arrayconv.Conv1dStream(case["w"], case["b"], *_settings(case))
    second.state = saved
    try:
        parts += [second.push(chunk) for chunk in chunks[park:]] + [second.flush()]
    except ValueError:
        with pytest.raises(ValueError):
            _whole(case)
        return
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), _whole(case), rtol=1e-12, atol=1e-12)


def _layer_like():
    rng = np.random.default_rng(5)
    return rng.standard_normal((6, 2, 4)), rng.standard_normal((2, 4, 100))


@pytest.mark.parametrize("bad, error, message", [
    (lambda x: x[:, :3], ValueError, r"chunk must have 4 channels .* got chunk.shape=\(2, 3, 7\)"),
    (lambda x: x.astype(np.float32), TypeError, r"chunk must keep the signal's dtype float64, got chunk.dtype=float32"),
    (lambda x: x[0], ValueError, r"chunk must be 3-D \(N, C_in, n\) like the signal's earlier chunks"),
    (lambda x: x[:1], ValueError, r"chunk must keep the signal's batch size 2, got chunk.shape=\(1, 4, 7\)"),
    (lambda x: x[None], ValueError, r"chunk must be \(N, C_in, n\) or unbatched \(C_in, n\), got chunk.shape"),
    (lambda x: x.tolist(), TypeError, r"chunk must be an array"),
    (lambda x: x.astype(np.int64), TypeError, r"chunk must have a floating or complex dtype"),
])
def test_a_bad_chunk_names_chunk_and_leaves_the_state(bad, error, message):
    w, x = _layer_like()
    stream = arrayconv.Conv1dStream(w, None, 2, "causal", 2, 2)
    parts = [stream.push(x[..., :13])]
    before = stream.state
    with pytest.raises(error, match=message):
        stream.push(bad(x[..., 13:20]))
    assert stream.state is before
    parts += [stream.push(x[..., 13:]), stream.flush()]
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), arrayconv.conv1d(x, w, None, 2, "causal", 2, 2),
                               rtol=1e-12, atol=1e-12)


def test_a_chunk_of_another_library_is_refused():
    torch = pytest.importorskip("torch")
    w, x = _layer_like()
    stream = arrayconv.Conv1dStream(w, groups=2)
    stream.push(x[..., :10])
    with pytest.raises(TypeError, match=r"chunk must be a numpy array like the signal's earlier chunks, got a torch"):
        stream.push(torch.from_numpy(x[..., 10:]))


def test_settings_a_stream_cannot_take_are_refused_when_it_is_made():
    w = np.ones((2, 1, 3))
    with pytest.raises(ValueError, match=r"padding_mode='circular' cannot stream"):
        arrayconv.Conv1dStream(w, padding_mode="circular")
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided convolutions, got stride=2"):
        arrayconv.Conv1dStream(w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"padding of a stream must be non-negative"):
        arrayconv.Conv1dStream(w, padding=-1, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"padding must be a non-negative int, 'valid', 'same' or 'causal'"):
        arrayconv.Conv1dStream(w, padding="full")
    with pytest.raises(ValueError, match=r"weight must be 3-D"):
        arrayconv.Conv1dStream(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"the stream has no signal to flush"):
        arrayconv.Conv1dStream(w).flush()
    with pytest.raises(TypeError, match=r"state must be a StreamState"):
        arrayconv.Conv1dStream(w).state = (None, 0, 0, 0, False, None)


def test_torch_chunks_give_torch_outputs_with_a_numpy_weight():
    torch = pytest.importorskip("torch")
    w, x = _layer_like()
    stream = arrayconv.Conv1dStream(w.astype(np.float32), None, 3, "causal", 1, 2, "replicate")
    tx = torch.from_numpy(x.astype(np.float32))
    parts = [stream.push(tx[..., a:b]) for a, b in [(0, 1), (1, 1), (1, 50), (50, 100)]] + [stream.flush()]
    assert all(isinstance(p, torch.Tensor) and p.dtype == torch.float32 for p in parts)
    assert isinstance(stream.state.carry, torch.Tensor) or stream.state.carry is None
    expected = arrayconv.conv1d(x.astype(np.float32), w.astype(np.float32), None, 3, "causal", 1, 2, "replicate")
    np.testing.assert_allclose(torch.cat(parts, dim=-1).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_layers_stream_runs_on_its_own_parameters():
    layer = arrayconv.Conv1d(4, 6, 5, stride=2, padding="causal", dilation=2, groups=2, padding_mode="reflect",
                             rng=0, dtype="float64")
    x = np.random.default_rng(1).standard_normal((3, 4, 61))
    stream = layer.stream()
    parts = [stream.push(x[..., a:b]) for a, b in [(0, 9), (9, 10), (10, 61)]] + [stream.flush()]
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), layer(x), rtol=1e-12, atol=1e-12)


def test_a_push_copies_only_the_carry_not_the_history():
    w = np.ones((1, 1, 4))
    stream = arrayconv.Conv1dStream(w, padding="causal", stride=3)
    for _ in range(50):
        stream.push(np.ones((1, 1, 7)))
        state = stream.state
        samples = state.carry.shape[1 if state.time_major else -1]
        assert samples <= 3 + 3  # the window's reach back, and less than a stride ahead


@st.composite
def transpose_stream_cases(draw, dtypes=("float64", "float32", "complex128", "float16")):
    """A conv_transpose1d stream's settings, a signal and a chunking of it."""
    groups = draw(st.integers(1, 3))
    cin, cout_g = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel, dilation, stride = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 5))
    padding = draw(st.integers(0, 6))
    output_padding = draw(st.integers(0, max(stride, dilation) - 1))
    length = draw(st.integers(0, 40))
    batched, batch = draw(st.booleans()), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    values = _values(rng, dtype)
    bounds = _chunking(draw, length, 12, 10)
    return dict(x=values((batch, cin, length) if batched else (cin, length)), w=values((cin, cout_g, kernel)),
                b=values((cout_g * groups,)) if draw(st.booleans()) else None,
                settings=(stride, padding, output_padding, groups, dilation), bounds=bounds)


@given(case=transpose_stream_cases())
def test_transposed_stream_equals_the_whole_signal_call_with_minimal_delay(backend_name, case):
    stride, padding, output_padding, _, dilation = case["settings"]
    try:
        expected = arrayconv.conv_transpose1d(case["x"], case["w"], case["b"], *case["settings"])
    except ValueError as error:
        expected = error
    stream = arrayconv.ConvTranspose1dStream(case["w"], case["b"], *case["settings"], backend=backend_name)
    parts, received = [], 0
    for chunk in _chunks(case):
        parts.append(stream.push(chunk))
        received += chunk.shape[-1]
        extent = dilation * (case["w"].shape[-1] - 1) + 1
        # output t is final once t + padding < received * stride, and exists once the signal so far has it
        surely = (received - 1) * stride - 2 * padding + extent + output_padding if received else 0
        assert sum(p.shape[-1] for p in parts) == max(0, min(received * stride - padding, surely))
    result = _flushed(stream, parts, expected)
    if result is None:
        return
    wide = case["x"].dtype.kind == "c" and np.complex128 or np.float64
    exact = arrayconv.conv_transpose1d(*(None if a is None else a.astype(wide) for a in (case["x"], case["w"], case["b"])),
                                       *case["settings"])
    magnitude = arrayconv.conv_transpose1d(*(None if a is None else np.abs(a).astype(np.float64)
                                             for a in (case["x"], case["w"], case["b"])), *case["settings"])
    if result.size:
        assert_close(result, exact, float(magnitude.max()), result.dtype.name)


@given(case=transpose_stream_cases(dtypes=("float64",)), data=st.data())
def test_a_parked_transposed_state_resumes_on_another_stream(case, data):
    chunks = _chunks(case)
    park = data.draw(st.integers(0, len(chunks)))
    first = arrayconv.ConvTranspose1dStream(case["w"], case["b"], *case["settings"])
    parts = [first.push(chunk) for chunk in chunks[:park]]
    second = arrayconv.ConvTranspose1dStream(case["w"], case["b"], *case["settings"])
    second.state = first.state
    try:
        parts += [second.push(chunk) for chunk in chunks[park:]] + [second.flush()]
    except ValueError:
        with pytest.raises(ValueError):
            arrayconv.conv_transpose1d(case["x"], case["w"], case["b"], *case["settings"])
        return
    np.testing.assert_allclose(np.concatenate(parts, axis=-1),
                               arrayconv.conv_transpose1d(case["x"], case["w"], case["b"], *case["settings"]),
                               rtol=1e-12, atol=1e-12)


def test_the_transposed_layers_stream_and_its_bad_chunks():
    layer = arrayconv.ConvTranspose1d(4, 6, 5, stride=3, padding=2, output_padding=1, groups=2, dilation=2, rng=0,
                                      dtype="float64")
    x = np.random.default_rng(2).standard_normal((2, 4, 31))
    stream = layer.stream()
    parts = [stream.push(x[..., :10])]
    before = stream.state
    with pytest.raises(ValueError, match=r"chunk must have 4 channels \(weight.shape\[0\]\)"):
        stream.push(x[:, :2, 10:12])
    with pytest.raises(TypeError, match=r"chunk must keep the signal's dtype float64"):
        stream.push(x[..., 10:12].astype(np.float32))
    assert stream.state is before
    parts += [stream.push(x[..., 10:11]), stream.push(x[..., 11:]), stream.flush()]
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), layer(x), rtol=1e-12, atol=1e-12)


def test_transposed_torch_chunks_give_torch_outputs():
    torch = pytest.importorskip("torch")
    w = np.random.default_rng(3).standard_normal((3, 2, 4)).astype(np.float32)
    x = torch.randn(2, 3, 20)
    stream = arrayconv.ConvTranspose1dStream(w, None, 2, 1)
    parts = [stream.push(x[..., a:b]) for a, b in [(0, 1), (1, 1), (1, 13), (13, 20)]] + [stream.flush()]
    assert all(isinstance(p, torch.Tensor) and p.dtype == torch.float32 for p in parts)
    expected = torch.nn.functional.conv_transpose1d(x, torch.from_numpy(w), stride=2, padding=1)
    torch.testing.assert_close(torch.cat(parts, dim=-1), expected, rtol=1e-5, atol=1e-5)


def test_the_wav_example_matches_the_offline_filter(tmp_path):
    """examples/stream_wav_fir.py, on one second of audio: its exit status is its check."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "examples" / "stream_wav_fir.py"
    spec = importlib.util.spec_from_file_location("stream_wav_fir", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--seconds", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "filtered.wav").stat().st_size > 0


def test_edge_signals_on_the_partitioned_fft_path():
    """A zero batch, and torch chunks that need a graph (which keep it: they stay off the NumPy-only path)."""
    w = np.random.default_rng(8).standard_normal((1, 1, 600))
    empty = np.zeros((0, 1, 1000))
    stream = arrayconv.Conv1dStream(w)
    parts = [stream.push(empty[..., :10]), stream.push(empty[..., 10:]), stream.flush()]
    assert np.concatenate(parts, axis=-1).shape == arrayconv.conv1d(empty, w).shape == (0, 1, 401)
    torch = pytest.importorskip("torch")
    x = torch.randn(1, 1, 2000, dtype=torch.float64, requires_grad=True)
    tw = torch.from_numpy(w)
    stream = arrayconv.Conv1dStream(tw)
    y = torch.cat([stream.push(x[..., :1000]), stream.push(x[..., 1000:]), stream.flush()], -1)
    assert y.requires_grad and stream.state.block == 0
    torch.testing.assert_close(y, arrayconv.conv1d(x, tw))
    stream = arrayconv.Conv1dStream(tw)
    stream.push(x.detach()[..., :1000])
    assert stream.state.block > 0
    before = stream.state
    with pytest.raises(TypeError, match=r"chunk requires grad, but this signal runs on the partitioned FFT"):
        stream.push(x[..., 1000:])
    assert stream.state.received == before.received


@given(sizes=st.tuples(*[st.integers(0, 3)] * 3, st.integers(1, 4), st.integers(0, 3), st.integers(0, 70)),
       first=st.integers(0, 3), start=st.integers(0, 3), with_base=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), threads=st.sampled_from([1, 2]))
def test_the_partition_sum_kernel_equals_numpy(sizes, first, start, with_base, dtype, threads):
    """The partitioned FFT's multiply-add against NumPy, over every shape and offset it takes."""
    _check_partition_sum(sizes, first, start, with_base, dtype, threads)


def test_the_partition_sum_kernel_shares_large_sums_among_threads():
    # 8 * 4 * 1100 complex products for each of 32 items: past the kernel's threshold for threads
    _check_partition_sum((4, 1, 8, 5, 4, 1100), 1, 2, True, "float64", 2)


def _check_partition_sum(sizes, first, start, with_base, dtype, threads):
    from arrayconv.backends._fft_kernels import partition_sum

    batch, groups, per_group, parts, in_per_group, freqs = sizes
    first = min(first, parts)
    count = parts - first
    rng = np.random.default_rng(sum(sizes))
    complex_dtype = np.complex64 if dtype == "float32" else np.complex128

    def draw(*shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(complex_dtype)

    spectra = draw(groups, per_group, parts, in_per_group, freqs)
    blocks = draw(batch, groups, start + count + 1, in_per_group, freqs)
    base = draw(batch, groups, per_group, freqs) if with_base else None
    out = draw(batch, groups, per_group, freqs)
    partition_sum(spectra.view(dtype), first, blocks.view(dtype), start, count, out.view(dtype),
                  None if base is None else base.view(dtype), threads)
    expected = np.einsum("gopcf,ngpcf->ngof", spectra[:, :, first:first + count],
                         blocks[:, :, start:start + count]) + (0 if base is None else base)
    tolerance = 1e-4 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tolerance, atol=tolerance * max(1, in_per_group * count))


def test_the_partition_sum_kernel_refuses_arrays_that_do_not_match():
    from arrayconv.backends._fft_kernels import partition_sum

    spectra, blocks, out = np.zeros((1, 1, 2, 1, 8)), np.zeros((1, 1, 4, 1, 8)), np.zeros((1, 1, 1, 8))
    for bad in [dict(part0=1, parts=2), dict(block0=3, parts=2), dict(out=np.zeros((1, 1, 2, 8))),
                dict(base=np.zeros((1, 1, 1, 6))), dict(blocks=np.zeros((1, 1, 4, 2, 8)))]:
        arguments = dict(spectra=spectra, part0=0, blocks=blocks, block0=0, parts=2, out=out, base=None,
                         num_threads=1) | bad
        with pytest.raises(ValueError, match="partition_sum: the arrays' shapes do not match"):
            partition_sum(*arguments.values())


def _long_stream_after(pushes):
    """A stream on the partitioned FFT (extent 600, blocks of 256) after ``pushes`` chunk lengths."""
    rng = np.random.default_rng(11)
    w, x = rng.standard_normal((2, 1, 600)), rng.standard_normal((1, 1, 4000))
    stream = arrayconv.Conv1dStream(w, padding="causal")
    at, parts = 0, []
    for count in pushes:
        parts.append(stream.push(x[..., at:at + count]))
        at += count
    return stream, w, x, at, parts


@pytest.mark.parametrize("change, message", [
    (lambda s: s._replace(fed=s.fed - 7), r"state.history must hold the whole padded signal so far"),
    (lambda s: s._replace(history=s.history._replace(counters=np.array([5, 0, 1]))),
     r"state.history.counters .* = \(5, 0, 1\) do not fit"),
    (lambda s: s._replace(history=s.history._replace(counters=np.array([1, 0]))),
     r"state.history.counters must be a contiguous int64 array of shape \(3,\)"),
    (lambda s: s._replace(history=s.history._replace(delay=s.history.delay[:, :, :-1].copy())),
     r"state.history.delay must be a contiguous float64 array"),
    (lambda s: s._replace(block=100), r"state.block must be 0 or a power of two"),
    (lambda s: s._replace(history=None), r"state without a history must have fed 0"),
    (lambda s: s._replace(carry=None, received=0, emitted=0, kind=None), r"state without a carry must be a fresh one"),
    (lambda s: s._replace(kind=s.kind._replace(device="cuda:0")), r"state.kind must describe the chunks its carry"),
    (lambda s: s._replace(kind=s.kind._replace(dtype="f8")), r"state.kind must describe the chunks its carry"),
    (lambda s: s._replace(kind=s.kind._replace(batched=False, batch=3)), r"state.kind must describe"),
])
def test_a_malformed_state_is_refused_when_set(change, message):
    stream, *_ = _long_stream_after([300, 50])
    good = stream.state
    assert good.history is not None
    with pytest.raises((ValueError, TypeError), match=message):
        stream.state = change(good)
    stream.state = good  # the good one is still taken


needs_mkl = pytest.mark.skipif(not _fft_engines.get("mkl").available(),
                               reason="mkl-fft is not installed: no MKL descriptors to test")


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("groups, batch", [(1, 1), (2, 3)])
def test_mkl_descriptors_give_the_python_transforms_results(monkeypatch, dtype, groups, batch):
    rng = np.random.default_rng(21)
    w = rng.standard_normal((4, 4 // groups, 700)).astype(dtype)
    x = rng.standard_normal((batch, 4, 5000)).astype(dtype)
    if np.iscomplexobj(w):
        w, x = w + 1j * rng.standard_normal(w.shape), x + 1j * rng.standard_normal(x.shape)
        w, x = w.astype(dtype), x.astype(dtype)
    cuts = [0, 1, 257, 300, 1900, 1901, 3500, 5000]  # partial blocks, whole ones, single samples

    def streamed():
        stream = arrayconv.Conv1dStream(w, padding="causal", groups=groups)
        parts = [stream.push(x[..., a:b]) for a, b in zip(cuts, cuts[1:])]
        plan = stream._plan(stream.state.block, stream.state.kind)
        return np.concatenate(parts + [stream.flush()], axis=-1), plan

    on_mkl, plan = streamed()
    assert any(isinstance(t, DftiTransforms) for t in plan.transforms.values())
    monkeypatch.setattr(partitioned, "_committed", lambda *args: None)
    on_python, _ = streamed()
    assert on_mkl.dtype == on_python.dtype == dtype
    scale = np.abs(on_python).max()
    tolerance = 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    assert np.abs(on_mkl - on_python).max() <= tolerance * scale
    reference_result = arrayconv.conv1d(x, w, padding="causal", groups=groups)
    assert np.abs(on_mkl - reference_result).max() <= 10 * tolerance * scale


@needs_mkl
def test_mkl_descriptors_refuse_bad_sizes():
    addresses = _fft_engines.get("mkl").dfti_addresses()
    assert addresses and len(addresses) == 6 and all(addresses)
    good = dict(addresses=addresses, dtype=np.float64, is_complex=False, length=64, batch=1, in_channels=1,
                out_channels=1, threads=1)
    DftiTransforms(*good.values())
    for bad in [dict(dtype=np.int32), dict(length=0), dict(batch=0), dict(threads=0),
                dict(addresses=addresses[:1] + (0,) + addresses[2:]),
                dict(addresses=addresses[:1] + (None,) + addresses[2:]), dict(addresses=addresses[:5])]:
        with pytest.raises(ValueError, match="DftiTransforms"):
            DftiTransforms(*(good | bad).values())


@needs_mkl
def test_the_partitioned_feed_refuses_mkl_transforms_of_other_sizes():
    plan = partitioned.make_plan(np.ones((1, 1, 300)), dilation=1, groups=1, block=64)
    state = partitioned.fresh_state(plan, 2)
    samples, out, total = np.ones((2, 1, 10)), np.empty((2, 1, 10)), np.empty_like(state.past)
    addresses = _fft_engines.get("mkl").dfti_addresses()
    for batch, length in [(1, 128), (2, 256)]:  # another batch; another block
        other = DftiTransforms(addresses, np.float64, False, length, batch, 1, 1, 1)
        with pytest.raises(ValueError, match="the MKL transforms were made for other sizes"):
            _fft_kernels.partitioned_feed(plan.spectra, state.delay, state.segment, state.past, state.counters,
                                          samples, out, total, other, 64, 1, 1)
    assert not state.segment.any() and not state.counters.any()  # nothing was fed


def test_the_partitioned_feed_refuses_missing_or_short_counters():
    plan = partitioned.make_plan(np.ones((1, 1, 300)), dilation=1, groups=1, block=64)
    state = partitioned.fresh_state(plan, 1)
    x = np.ones((1, 1, 10))
    with pytest.raises(TypeError, match="counters"):
        partitioned.feed(plan, state._replace(counters=None), x)
    with pytest.raises(ValueError, match="partitioned_feed: the arrays' shapes do not match"):
        partitioned.feed(plan, state._replace(counters=np.zeros(0, dtype=np.int64)), x)
    with pytest.raises(ValueError, match="the counters do not fit"):
        partitioned.feed(plan, state._replace(counters=np.array([64, 0, 0])), x)


def test_a_push_stopped_partway_through_the_partitioned_fft_is_reported_until_reset(monkeypatch):
    # the engine's Python transforms (pocketfft's path; MKL's descriptors run in C, with no
    # Python call a push could be interrupted in)
    monkeypatch.setattr(partitioned, "_committed", lambda *args: None)
    stream, w, x, at, _ = _long_stream_after([300])
    engine = stream._plan(stream.state.block, stream.state.kind).engine
    calls = {"count": 0}
    real = type(engine).inverse

    def interrupted(self, *args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(engine), "inverse", interrupted)
    with pytest.raises(KeyboardInterrupt):
        stream.push(x[..., at:at + 2000])  # several blocks: stopped on the third
    monkeypatch.setattr(type(engine), "inverse", real)
    for use in (lambda: stream.push(x[..., :10]), stream.flush, lambda: stream.state):
        with pytest.raises(RuntimeError, match="stopped partway through the partitioned FFT"):
            use()
    stream.reset()
    y = np.concatenate([stream.push(x[..., :1700]), stream.push(x[..., 1700:]), stream.flush()], axis=-1)
    np.testing.assert_allclose(y, arrayconv.conv1d(x, w, padding="causal"), rtol=1e-10, atol=1e-10)


def test_a_reflect_signal_parked_before_its_left_padding_resumes_on_the_partitioned_fft():
    rng = np.random.default_rng(12)
    w, x = rng.standard_normal((1, 2, 601)), rng.standard_normal((1, 2, 3000))
    settings = dict(padding=300, padding_mode="reflect")
    first = arrayconv.Conv1dStream(w, **settings)
    parts = [first.push(x[..., :100])]  # reflect's left padding needs 301 samples: not placed yet
    saved = first.state
    assert saved.block > 0 and saved.history is None and not saved.lead_placed
    second = arrayconv.Conv1dStream(w, **settings)
    second.state = saved
    parts += [second.push(x[..., 100:2000]), second.push(x[..., 2000:]), second.flush()]
    assert second.state.block == 0  # flushed
    np.testing.assert_allclose(np.concatenate(parts, axis=-1), arrayconv.conv1d(x, w, **settings),
                               rtol=1e-10, atol=1e-10)
