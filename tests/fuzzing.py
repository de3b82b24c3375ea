"""A fuzzer for conv1d: hostile and odd arguments from a seed, checked against torch.

Each seed gives one call with arguments drawn from a wide space: arrays of
any rank, size (zero included), dtype (integer, bool, object, string, big
endian), layout (Fortran, negative strides, read-only, views that alias each
other) and non-arrays; scalar arguments of every type, sign and size up to
beyond 64 bits.  The check, for every backend: no crash; either a
ValueError/TypeError, where torch also refuses or arrayconv documents a
departure, or torch's result within tolerance; and the arguments unchanged.

Run for a while (the long fuzz run of docs/benchmarks.md)::

    python tests/fuzzing.py --seconds 1800

tests/test_fuzz.py runs the same check on seeds drawn by hypothesis.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

import numpy as np

BACKENDS = ("direct", "fft", "array_api")
# Calls are run under this memory_limit (bytes), so that the fuzzer (and
# torch, its oracle) never try to fill the machine; larger calls must be
# refused with WorkspaceError.
MEMORY_LIMIT = 1 << 30
_FLOATS = ("float16", "float32", "float64", "complex64", "complex128")
_ODD_DTYPES = ("int32", "int64", "bool", "object", "<U3", ">f8", ">f4")
_MODES = ("zeros", "reflect", "replicate", "circular", "mirror", None, 3)


def _scalar(rng: np.random.Generator, typical: list) -> object:
    choice = rng.integers(0, 20)
    if choice < 13:
        return typical[rng.integers(0, len(typical))]
    return [0, -1, -(2**40), 2**31, 2**62, 2**63, 2**70, 1.5, True, None, "1", (2,), (1, 1), [3],
            np.int64(2)][rng.integers(0, 15)]


def _array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "object":
        return np.empty(shape, dtype=object)
    if dtype == "<U3":
        return np.full(shape, "ab", dtype=dtype)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.startswith("int"):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    if rng.integers(0, 12) == 0 and values.size:
        values.flat[rng.integers(0, values.size)] = [np.nan, np.inf, -np.inf][rng.integers(0, 3)]
    return values.astype(dtype)


def _layout(rng: np.random.Generator, array: np.ndarray) -> np.ndarray:
    kind = rng.integers(0, 8)
    if array.ndim == 0 or kind < 4:
        return array
    if kind == 4:
        return np.asfortranarray(array)
    if kind == 5:
        return array[..., ::-1]
    if kind == 6:
        copy = array.copy()
        copy.flags.writeable = False
        return copy
    # a strided view into a larger array
    wide = np.repeat(array, 2, axis=-1)
    return wide[..., ::2]


def make_case(seed: int) -> dict:
    """The arguments of one conv1d call (a dict of its keyword arguments)."""
    rng = np.random.default_rng(seed)
    groups = int(rng.integers(1, 4))
    cin = groups * int(rng.integers(0, 3))
    cout = groups * int(rng.integers(1, 3))
    kernel = int(rng.integers(0, 9)) if rng.integers(0, 10) else int(rng.integers(60, 400))
    length = int(rng.integers(0, 30)) if rng.integers(0, 4) else int(rng.integers(30, 700))
    batch = int(rng.integers(0, 3))
    dtype = _FLOATS[rng.integers(0, len(_FLOATS))]
    if rng.integers(0, 10) == 0:
        dtype = _ODD_DTYPES[rng.integers(0, len(_ODD_DTYPES))]
    x_shape = [(batch, cin, length), (cin, length), (length,), (), (1, batch, cin, length)][
        0 if rng.integers(0, 8) else rng.integers(1, 5)]
    x = _layout(rng, _array(rng, tuple(x_shape), dtype))
    w_dtype = dtype if rng.integers(0, 6) else _FLOATS[rng.integers(0, len(_FLOATS))]
    w_shape = (cout, cin // groups if cin else 0, kernel)
    if rng.integers(0, 15) == 0:
        w_shape = (cout, max(0, cin // groups + int(rng.integers(-1, 2))), kernel)
    w = _layout(rng, _array(rng, w_shape, w_dtype))
    bias = None
    if rng.integers(0, 2):
        b_len = cout if rng.integers(0, 10) else cout + 1
        bias = _array(rng, (b_len,), dtype if rng.integers(0, 4) else _FLOATS[rng.integers(0, 5)])
    if rng.integers(0, 25) == 0 and x.ndim == 3 and x.shape == w.shape:
        w = x  # the weight is the input itself
    non_arrays = [[[1.0, 2.0]], "abc", 3.0, None]
    if rng.integers(0, 30) == 0:
        x = non_arrays[rng.integers(0, 3)]
    if rng.integers(0, 30) == 0:
        w = non_arrays[rng.integers(0, 4)]
    padding = _scalar(rng, [0, 1, 2, 3, 5, "same", "valid", "causal", 40])
    return dict(
        input=x,
        weight=w,
        bias=bias,
        stride=_scalar(rng, [1, 1, 2, 3, 5]),
        padding=padding,
        dilation=_scalar(rng, [1, 1, 2, 3]),
        groups=groups if rng.integers(0, 12) else _scalar(rng, [groups, 0, groups + 1]),
        padding_mode=_MODES[rng.integers(0, 4)] if rng.integers(0, 12) else _MODES[rng.integers(4, 7)],
    )


def _documented_departure(kwargs: dict) -> bool:
    """Where arrayconv may accept what torch refuses, or refuse what torch accepts (README table)."""
    arrays = [a for a in (kwargs["input"], kwargs["weight"], kwargs["bias"]) if isinstance(a, np.ndarray)]
    dtypes = {a.dtype.newbyteorder("=") for a in arrays}
    mixed = len(dtypes) > 1
    non_float = any(a.dtype.kind not in "fc" for a in arrays)
    empty_kernel = isinstance(kwargs["weight"], np.ndarray) and kwargs["weight"].ndim == 3 and kwargs["weight"].shape[2] == 0

    # torch computes with dilation 0; arrayconv requires dilation >= 1
    odd_sizes = _size_arguments(kwargs)[2] == 0
    # conv1d takes one padding value; torch also takes longer sequences
    long_padding = isinstance(kwargs["padding"], (tuple, list)) and len(kwargs["padding"]) != 1
    return mixed or non_float or empty_kernel or odd_sizes or long_padding


def check(kwargs: dict, backend: str) -> None:
    """Raise AssertionError if conv1d misbehaves on these arguments (see the module's notes)."""
    import arrayconv
    from oracle import assert_close, reference, torch_conv1d

    before = {name: (value.copy() if isinstance(value, np.ndarray) else value) for name, value in kwargs.items()}
    try:
        with arrayconv.config_context(memory_limit=MEMORY_LIMIT):
            result = arrayconv.conv1d(**kwargs, backend=backend)
        ours = None
    except (ValueError, TypeError, arrayconv.WorkspaceError) as error:
        result, ours = None, error
    for name, value in kwargs.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, before[name], equal_nan=value.dtype.kind in "fc"), f"{name} was modified"
    if isinstance(ours, arrayconv.WorkspaceError):
        return  # a documented refusal of a call too large for the limit (torch would try, and might exhaust memory)
    arrays_ok = all(isinstance(kwargs[n], np.ndarray) for n in ("input", "weight"))
    if not arrays_ok:
        assert ours is not None, "a non-array argument was accepted"
        return
    if _past_torch_indexing(kwargs):
        # torch's index arithmetic overflows on such sizes: dilation=2**62 with
        # K=7 once had it allocate gigabytes until the OOM killer ended CI.  What
        # arrayconv computed is held to its own direct backend in double precision
        if ours is None and result.size:
            _check_against_wide_direct(kwargs, result)
        return
    if _torch_footprint(kwargs) > MEMORY_LIMIT:
        # torch would pad (F.pad allocates before conv1d checks its other
        # arguments) or compute an array past the limit and could exhaust the
        # machine: arrayconv must have refused it, or computed it within the limit
        assert ours is not None or result.nbytes <= MEMORY_LIMIT
        return
    args = [kwargs[n] for n in ("input", "weight", "bias", "stride", "padding", "dilation", "groups", "padding_mode")]
    if ours is None and result.size and _large(kwargs):
        # torch's own buffers for such a call can run to gigabytes: compare with
        # the direct backend in double precision (itself checked against torch
        # by the property tests) instead
        _check_against_wide_direct(kwargs, result)
        return
    try:
        dtype = np.result_type(*[a for a in args[:3] if a is not None])
        expected = torch_conv1d(*args, dtype=dtype if dtype.kind in "fc" else None)
        theirs = None
    except Exception as error:  # torch's own refusals come in many types
        expected, theirs = None, error
    if ours is not None:
        assert theirs is not None or _documented_departure(kwargs), f"refused what torch computes: {ours}"
        return
    if theirs is not None:
        assert _documented_departure(kwargs), f"computed what torch refuses ({type(theirs).__name__}: {theirs})"
        return
    assert isinstance(result, np.ndarray) and result.shape == expected.shape, (result.shape, expected.shape)
    for name in ("input", "weight", "bias"):
        if isinstance(kwargs[name], np.ndarray) and result.size:
            assert not np.shares_memory(result, kwargs[name]), f"the result shares {name}'s memory"
    if result.size:
        wide, scale = reference(*args, result.dtype)
        finite = np.isfinite(wide)
        # non-finite values where torch puts them; for complex values only where,
        # not which: an infinite complex product is inf by C99's rules and nan
        # by torch's naive formula (a documented departure)
        np.testing.assert_array_equal(np.isfinite(result), finite)
        if result.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(result), np.isnan(wide))
        if not np.isfinite(scale):
            scale = float(np.abs(np.where(finite, wide, 0)).max())
        assert_close(np.where(finite, result, 0), np.where(finite, wide, 0), scale, result.dtype.name)


def _size_arguments(kwargs: dict) -> list:
    """stride, padding, dilation and groups, a one-element sequence read as its element."""
    def scalar(value):
        return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value

    return [scalar(kwargs[name]) for name in ("stride", "padding", "dilation", "groups")]


def _past_torch_indexing(kwargs: dict) -> bool:
    """Whether a size argument reaches 2**31, past what torch's index arithmetic survives."""
    return any(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and abs(int(v)) >= 2**31
               for v in _size_arguments(kwargs))


def _torch_footprint(kwargs: dict) -> float:
    """A bound on the bytes torch's padded input and output could take for these arguments."""
    x, w = kwargs["input"], kwargs["weight"]
    rows = max(x.size // max(x.shape[-1], 1), 1) if x.ndim else 1
    rows *= max(w.shape[0], 1) if w.ndim else 1
    length = x.shape[-1] if x.ndim else 1
    kernel = w.shape[-1] if w.ndim else 1

    def size(name):
        value = kwargs[name]
        value = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
        return abs(int(value)) if isinstance(value, (int, np.integer)) else 0

    padding = max(size("dilation"), 1) * kernel if kwargs["padding"] in ("same", "causal") else 2 * size("padding")
    return 16.0 * rows * (length + padding)


def _large(kwargs: dict) -> bool:
    import arrayconv

    spec = arrayconv.shape.normalize(*[kwargs[n] for n in ("input", "weight", "bias", "stride", "padding",
                                                           "dilation", "groups", "padding_mode")])
    return spec.macs > 5e7 or spec.batch * spec.in_channels * spec.padded_length > 5e7


def _check_against_wide_direct(kwargs: dict, result: np.ndarray) -> None:
    import arrayconv
    from oracle import assert_close

    wide_type = np.complex128 if result.dtype.kind == "c" else np.float64
    wide = {name: (value.astype(wide_type) if isinstance(value, np.ndarray) else value) for name, value in kwargs.items()}
    expected = arrayconv.conv1d(**wide, backend="direct")
    magnitude = {name: (np.abs(value).astype(np.float64) if isinstance(value, np.ndarray) else value)
                 for name, value in wide.items()}
    scale = float(np.nanmax(np.abs(arrayconv.conv1d(**magnitude, backend="direct")))) if expected.size else 0.0
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(result), finite)
    if not np.isfinite(scale):
        scale = float(np.abs(np.where(finite, expected, 0)).max())
    assert_close(np.where(finite, result, 0), np.where(finite, expected, 0), scale, result.dtype.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    import resource
    import warnings

    warnings.filterwarnings("ignore")
    # a runaway allocation fails as a MemoryError (a finding) rather than
    # inviting the out-of-memory killer
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, resource.RLIM_INFINITY))
    deadline = time.monotonic() + args.seconds
    seed = args.first_seed
    failures = 0
    while time.monotonic() < deadline:
        kwargs = make_case(seed)
        for backend in BACKENDS:
            try:
                check(kwargs, backend)
            except Exception:  # a mismatch, or an exception conv1d must not raise
                failures += 1
                print(f"seed {seed} backend {backend}: FAILED", flush=True)
                traceback.print_exc()
        seed += 1
        if seed % 1000 == 0:
            print(f"{seed - args.first_seed} seeds, {failures} failures", flush=True)
    print(f"done: seeds {args.first_seed}..{seed - 1} ({seed - args.first_seed} cases x {len(BACKENDS)} backends), "
          f"{failures} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, __import__("os").path.dirname(__file__))
    sys.exit(main())
