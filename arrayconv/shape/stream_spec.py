"""Validation of a convolution stream: its settings when it is made, each chunk as it comes.

A stream (:class:`arrayconv.Conv1dStream`) runs ``conv1d`` over a signal that
arrives in chunks.  Its settings are checked here once, as ``conv1d`` checks
them, against a stand-in input; each chunk is then checked against the
settings and against the chunks before it (library, device, dtype, rank and
batch size may not change mid-stream); and at the signal's end, the limits
``conv1d`` puts on the whole signal's length.

Examples
--------
>>> import numpy as np
>>> spec = normalize_stream(np.zeros((4, 2, 3)), padding="causal", dilation=2)
>>> spec.pad_left, spec.pad_right, spec.extent, spec.lead_needs
(4, 0, 5, 0)
>>> check_chunk(spec, np.zeros((1, 3, 8)), None)
Traceback (most recent call last):
...
ValueError: chunk must have 2 channels (weight.shape[1] * groups = 2 * 1), got chunk.shape=(1, 3, 8)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from .. import padding as padding_modes
from .arguments import (
    as_int,
    dtype_name,
    namespace_of,
    padding_arg,
    padding_mode_arg,
    placeholder,
    positive_int,
    promoted,
    short_repr,
)
from ..dtypes import COMPUTE_DTYPE
from .conv_spec import check_length, check_padding_mode_limits, normalize, resolve_padding
from .transpose_spec import normalize_transpose

__all__ = ["StreamSpec", "ChunkKind", "normalize_stream", "normalize_transpose_stream", "check_chunk",
           "check_signal_end", "check_stream_state"]


class StreamSpec(NamedTuple):
    """A stream's settings, checked once.

    ``lead_needs``: how many signal samples the left padding reads (it is
    produced once they have arrived: none for zeros, 1 for replicate,
    ``pad_left + 1`` for reflect); ``keeps``: how many of the last samples
    the right padding reads at the signal's end.  A transposed stream has
    ``transposed`` set, its ``pad_left`` the crop at each end and
    ``output_padding`` the extra samples at the end.
    """

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    dilation: int
    groups: int
    pad_left: int
    pad_right: int
    padding_mode: str
    extent: int
    lead_needs: int
    keeps: int
    has_bias: bool
    parameters_dtype: str
    transposed: bool = False
    output_padding: int = 0


class ChunkKind(NamedTuple):
    """What the first chunk of a signal fixed for the ones after it."""

    library: str
    device: str
    dtype: str
    batched: bool
    batch: int
    result_dtype: str


def _reads(runs: list) -> int:
    """How many signal samples (from the first) a list of padding runs reads."""
    last = -1
    for run in runs:
        if run.source is not None:
            last = max(last, run.source, run.source + run.step * (run.count - 1))
    return last + 1


def _parameters_dtype(weight: Any, bias: Any) -> str:
    """The promoted dtype of a stream's weight and bias (already checked by the spec)."""
    xp = namespace_of(weight=weight, bias=bias)
    return promoted([dtype_name(xp, name, array) for name, array in (("weight", weight), ("bias", bias))
                     if array is not None])


def _check_weight(weight: Any, layout: str) -> None:
    """A stream's weight: an array, 3-D (its sizes then shape the stand-in call's checks)."""
    if weight is None or not array_api_compat.is_array_api_obj(weight):
        raise TypeError(f"weight must be an array (NumPy, PyTorch, CuPy, ...), got "
                        f"{type(weight).__name__} weight={short_repr(weight)}")
    if getattr(weight, "ndim", None) != 3:
        raise ValueError(f"weight must be 3-D {layout}, got weight.shape={tuple(weight.shape)}")


def _stand_ins(input_shape: tuple, weight: Any, bias: Any, dtype: str) -> list:
    """Zero-memory NumPy stand-ins of an input of ``input_shape`` and of the weight and bias
    (whose own kind was checked already), for the spec functions that check a whole call."""
    return [placeholder(input_shape, "input", dtype), placeholder(tuple(weight.shape), "weight", dtype),
            None if bias is None else placeholder(tuple(bias.shape), "bias", dtype)]


def normalize_stream(
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: Any = 1,
    padding_mode: Any = "zeros",
) -> StreamSpec:
    """Check a ``conv1d`` stream's settings as ``conv1d`` checks them.

    Raises
    ------
    TypeError, ValueError
        As :func:`arrayconv.conv1d` would for the same arguments; and
        ``padding_mode='circular'``, which reads the signal's far end and so
        cannot stream.

    Examples
    --------
    >>> import numpy as np
    >>> normalize_stream(np.zeros((1, 1, 3)), padding_mode="circular")
    Traceback (most recent call last):
    ...
    ValueError: padding_mode='circular' cannot stream: its left padding reads the signal's last samples, which a stream has not seen yet (use 'zeros', 'reflect' or 'replicate')
    """
    mode = padding_mode_arg(padding_mode)
    if mode == "circular":
        raise ValueError(
            "padding_mode='circular' cannot stream: its left padding reads the signal's last samples, "
            "which a stream has not seen yet (use 'zeros', 'reflect' or 'replicate')"
        )
    _check_weight(weight, "(C_out, C_in/groups, K)")
    groups_ = positive_int("groups", groups, sequence=False)
    stride_ = positive_int("stride", stride)
    dilation_ = positive_int("dilation", dilation)
    padding_ = padding_arg(padding, mode)
    if isinstance(padding_, int) and padding_ < 0:
        raise ValueError(f"padding of a stream must be non-negative (a stream does not crop), got padding={padding!r}")
    kernel = int(weight.shape[2])
    pad_left, pad_right = resolve_padding(padding_, stride_, dilation_, max(kernel, 1))
    # conv1d's own checks, on a stand-in input long enough for any padding
    length = max(abs(pad_left), abs(pad_right)) + dilation_ * max(kernel - 1, 0) + 2
    dtype = _parameters_dtype(weight, bias)
    stand_ins = _stand_ins((1, int(weight.shape[1]) * groups_, length), weight, bias, dtype)
    spec = normalize(*stand_ins, stride_, padding_, dilation_, groups_, mode)
    lead = padding_modes.runs(-spec.pad_left, 0, spec.pad_left + 1, mode)
    return StreamSpec(
        in_channels=spec.in_channels, out_channels=spec.out_channels, kernel_size=spec.kernel_size,
        stride=spec.stride, dilation=spec.dilation, groups=spec.groups, pad_left=spec.pad_left,
        pad_right=spec.pad_right, padding_mode=mode, extent=spec.dilation * (spec.kernel_size - 1) + 1,
        lead_needs=_reads(lead), keeps={"zeros": 0, "replicate": 1}.get(mode, spec.pad_right + 1),
        has_bias=spec.has_bias, parameters_dtype=dtype,
    )


def normalize_transpose_stream(
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: Any = 1,
    dilation: Any = 1,
) -> StreamSpec:
    """Check a ``conv_transpose1d`` stream's settings as ``conv_transpose1d`` checks them.

    Examples
    --------
    >>> import numpy as np
    >>> spec = normalize_transpose_stream(np.zeros((2, 3, 4)), stride=2, padding=1)
    >>> spec.out_channels, spec.pad_left, spec.extent
    (3, 1, 4)
    """
    _check_weight(weight, "(C_in, C_out/groups, K)")
    # a stand-in long enough that only the settings can be at fault
    length = 2 if isinstance(padding, str) else 2 * abs(as_int("padding", padding)) + 2
    dtype = _parameters_dtype(weight, bias)
    stand_ins = _stand_ins((1, int(weight.shape[0]), length), weight, bias, dtype)
    spec = normalize_transpose(*stand_ins, stride, padding, output_padding, groups, dilation)
    return StreamSpec(
        in_channels=spec.in_channels, out_channels=spec.out_channels, kernel_size=spec.kernel_size,
        stride=spec.stride, dilation=spec.dilation, groups=spec.groups, pad_left=spec.padding,
        pad_right=spec.padding, padding_mode="zeros", extent=spec.dilation * (spec.kernel_size - 1) + 1,
        lead_needs=0, keeps=0, has_bias=spec.has_bias, parameters_dtype=dtype,
        transposed=True, output_padding=spec.output_padding,
    )


def check_chunk(spec: StreamSpec, chunk: Any, kind: ChunkKind | None) -> ChunkKind:
    """Check one chunk against the stream's settings and the signal's earlier chunks (``kind``,
    None for a signal's first); its own kind, which the chunks after it must keep.

    Examples
    --------
    >>> import numpy as np
    >>> spec = normalize_stream(np.zeros((4, 2, 3)))
    >>> kind = check_chunk(spec, np.zeros((5, 2, 7)), None)
    >>> kind.batch, kind.dtype
    (5, 'float64')
    >>> check_chunk(spec, np.zeros((4, 2, 7)), kind)
    Traceback (most recent call last):
    ...
    ValueError: chunk must keep the signal's batch size 5, got chunk.shape=(4, 2, 7)
    """
    if kind is not None and kind.library == "numpy" and type(chunk) is np.ndarray:
        # the usual case, checked without the namespace lookups: a NumPy chunk like the last
        shape = chunk.shape
        if (len(shape) == (3 if kind.batched else 2) and shape[-2] == spec.in_channels
                and chunk.dtype == kind.dtype and (not kind.batched or shape[0] == kind.batch)):
            return kind
    if chunk is None or not array_api_compat.is_array_api_obj(chunk):
        raise TypeError(f"chunk must be an array (NumPy, PyTorch, CuPy, ...), got "
                        f"{type(chunk).__name__} chunk={short_repr(chunk)}")
    shape = tuple(chunk.shape)
    layout = "(N, C_in, n) or unbatched (C_in, n)"
    if len(shape) not in (2, 3):
        raise ValueError(f"chunk must be {layout}, got chunk.shape={shape}")
    if shape[-2] != spec.in_channels:
        where = ("weight.shape[0]" if spec.transposed
                 else f"weight.shape[1] * groups = {spec.in_channels // spec.groups} * {spec.groups}")
        raise ValueError(f"chunk must have {spec.in_channels} channels ({where}), got chunk.shape={shape}")
    library = type(chunk).__module__.split(".")[0]
    device = str(array_api_compat.device(chunk))
    dtype = dtype_name(namespace_of(chunk=chunk), "chunk", chunk)
    batched, batch = len(shape) == 3, (shape[0] if len(shape) == 3 else 1)
    if kind is None:
        return ChunkKind(library=library, device=device, dtype=dtype, batched=batched, batch=batch,
                         result_dtype=promoted([dtype, spec.parameters_dtype]))
    if library != kind.library:
        raise TypeError(f"chunk must be a {kind.library} array like the signal's earlier chunks, got a "
                        f"{type(chunk).__module__}.{type(chunk).__name__}")
    if device != kind.device:
        raise ValueError(f"chunk must be on the signal's device {kind.device}, got a chunk on {device}")
    if dtype != kind.dtype:
        raise TypeError(f"chunk must keep the signal's dtype {kind.dtype}, got chunk.dtype={chunk.dtype}")
    if batched != kind.batched:
        wanted = "3-D (N, C_in, n)" if kind.batched else "2-D (C_in, n) (unbatched)"
        raise ValueError(f"chunk must be {wanted} like the signal's earlier chunks, got chunk.shape={shape}")
    if batch != kind.batch:
        raise ValueError(f"chunk must keep the signal's batch size {kind.batch}, got chunk.shape={shape}")
    return kind


def check_signal_end(spec: StreamSpec, length: int, kind: ChunkKind) -> None:
    """The limits ``conv1d`` puts on the whole signal, checked when a stream is flushed
    after ``length`` samples (the same errors as ``conv1d`` of the whole signal).

    Examples
    --------
    >>> import numpy as np
    >>> spec = normalize_stream(np.zeros((1, 1, 5)))
    >>> check_signal_end(spec, 3, ChunkKind("numpy", "cpu", "float64", True, 1, "float64"))
    Traceback (most recent call last):
    ...
    ValueError: the kernel's extent dilation * (K - 1) + 1 = 5 (dilation=1, K=5) is larger than the padded input length 3 (L=3, padding=(0, 0))
    """
    shape = (kind.batch, spec.in_channels, length) if kind.batched else (spec.in_channels, length)
    if spec.transposed:
        weight = (spec.in_channels, spec.out_channels // spec.groups, spec.kernel_size)
        normalize_transpose(placeholder(shape, "input", kind.dtype), placeholder(weight, "weight", kind.dtype), None,
                            spec.stride, spec.pad_left, spec.output_padding, spec.groups, spec.dilation)
        return
    check_padding_mode_limits(spec.padding_mode, spec.pad_left, spec.pad_right, spec.in_channels, length, shape)
    check_length(length, spec.pad_left, spec.pad_right, spec.kernel_size, spec.dilation, spec.padding_mode, shape)


def _channel_major_view(carry: Any) -> Any:
    return array_api_compat.array_namespace(carry).permute_dims(carry, (0, 2, 1))


def check_stream_state(spec: StreamSpec, state: Any) -> Any:
    """A state set on a stream (``stream.state = ...``): a ``StreamState`` whose carry fits the
    stream's settings and counts (its carry's library, device, dtype and batch are checked as a
    chunk's).  Returned as it is.
    """
    if type(state).__name__ != "StreamState" or not hasattr(state, "_fields"):
        raise TypeError(f"state must be a StreamState (a stream's .state), got {type(state).__name__}")
    counts = (state.carry_start, state.received, state.emitted)
    if not all(isinstance(n, int) and n >= 0 for n in counts):
        raise ValueError(f"state must hold non-negative int counts, got carry_start, received, emitted = {counts}")
    if state.carry is None:
        if state.received or state.emitted or state.kind is not None or state.history is not None or state.fed:
            raise ValueError("state without a carry must be a fresh one (nothing received or emitted)")
        return state
    if state.kind is None or getattr(state.carry, "ndim", None) != 3:
        raise ValueError("state.carry must be a 3-D (N, C, m) array with the kind of the chunks it came from")
    if spec.transposed:
        # the carry holds the overlap-add tail: output channels, in the compute dtype
        if tuple(state.carry.shape[:2]) != (state.kind.batch, spec.out_channels):
            raise ValueError(f"state.carry must be ({state.kind.batch}, {spec.out_channels}, m), "
                             f"got state.carry.shape={tuple(state.carry.shape)}")
        return state
    # a time-major carry, (N, m, C_in), is checked as the chunk it would be laid out channel-major
    carry = state.carry if not getattr(state, "time_major", False) else _channel_major_view(state.carry)
    # the carry's own kind, by the general checks (not the fast path, which trusts the kind it is given)
    own = check_chunk(spec, carry if state.kind.batched else carry[0], None)
    if tuple(own) != tuple(state.kind):
        raise ValueError(f"state.kind must describe the chunks its carry came from, got state.kind={state.kind} "
                         f"for a carry of kind {own}")
    _check_history(spec, state)
    samples = int(carry.shape[-1])
    if state.lead_placed:
        fits = state.carry_start + samples == spec.pad_left + state.received
    else:  # the signal from its first sample, the left padding still to come
        fits = state.carry_start == spec.pad_left and samples == state.received
    if not fits:
        raise ValueError(f"state.carry of {samples} samples from position {state.carry_start} does not fit "
                         f"a stream that has received {state.received}")
    return state


def _check_history(spec: StreamSpec, state: Any) -> None:
    """A set state's partitioned-FFT history (see ``backends/partitioned``): its arrays' shapes and
    dtypes for the stream's settings and block, and counters that agree with the stream's counts.
    (Its spectra's values cannot be checked: set states that came from ``stream.state``.)"""
    history, block, fed = state.history, state.block, state.fed
    if not (isinstance(block, int) and block >= 0 and block & (block - 1) == 0):
        raise ValueError(f"state.block must be 0 or a power of two, got block={block!r}")
    if history is None:
        # a long-kernel signal whose left padding (reflect) is still to come has its block, not yet a history
        if fed or (block and state.lead_placed):
            raise ValueError(f"state without a history must have fed 0, and block 0 once its left padding is "
                             f"placed, got block={block!r}, fed={fed!r}")
        return
    if not block:
        raise ValueError("state.block must be a power of two with a history, got block=0")
    if not state.lead_placed or state.time_major or fed != spec.pad_left + state.received:
        raise ValueError(f"state.history must hold the whole padded signal so far: fed={fed!r} for "
                         f"{spec.pad_left} + {state.received} padded positions")
    if type(history).__name__ != "PartitionedState" or not all(isinstance(a, np.ndarray) for a in history):
        raise TypeError(f"state.history must be a PartitionedState of NumPy arrays, got {type(history).__name__}")
    compute = np.dtype(COMPUTE_DTYPE[state.kind.result_dtype])
    real = np.dtype(compute.char.lower()) if compute.kind == "c" else compute
    groups, parts = spec.groups, -(-spec.extent // block)
    width = 2 * (2 * block if compute.kind == "c" else block + 1)
    batch, cin_g, cout_g = state.kind.batch, spec.in_channels // groups, spec.out_channels // groups
    expected = {"delay": ((batch, groups, 2 * parts, cin_g, width), real),
                "segment": ((batch, spec.in_channels, 2 * block), compute),
                "counters": ((3,), np.dtype(np.int64)),
                "past": ((batch, groups, cout_g, width), real)}
    for name, (shape_, dtype) in expected.items():
        array = getattr(history, name)
        if array.shape != shape_ or array.dtype != dtype or not array.flags.c_contiguous:
            raise ValueError(f"state.history.{name} must be a contiguous {dtype} array of shape {shape_}, got "
                             f"{array.dtype} {array.shape}")
    filled, newest, past_done = (int(n) for n in history.counters)
    if filled != fed % block or not 0 <= newest < parts or past_done not in (0, 1):
        raise ValueError(f"state.history.counters (filled, newest, past computed) = {(filled, newest, past_done)} "
                         f"do not fit {fed} positions fed in blocks of {block}, {parts} partitions")
