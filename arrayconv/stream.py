"""Streaming convolution: a signal pushed in chunks, outputs equal to the whole-signal call.

A :class:`Conv1dStream` carries, between chunks, only the samples that
outputs still to come will read: the last ``dilation * (K - 1)`` samples
past the next output's start (fewer with a stride that skips them), and for
reflect and replicate the few the right padding will read at the signal's
end.  Each push runs ``conv1d`` (any backend, auto-routed) on that carry and
the new chunk, and returns every output whose inputs and left padding are
known; :meth:`Conv1dStream.flush` pads the end and returns the rest.  The
concatenation of everything returned is ``conv1d`` of the whole signal.

Examples
--------
>>> import numpy as np
>>> import arrayconv
>>> rng = np.random.default_rng(0)
>>> w, x = rng.standard_normal((4, 2, 5)), rng.standard_normal((1, 2, 50))
>>> stream = arrayconv.Conv1dStream(w, stride=2, padding=2)
>>> parts = [stream.push(x[..., a:b]) for a, b in [(0, 7), (7, 8), (8, 8), (8, 50)]]
>>> y = np.concatenate(parts + [stream.flush()], axis=-1)
>>> bool(np.allclose(y, arrayconv.conv1d(x, w, stride=2, padding=2)))
True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import array_api_compat

from . import padding as padding_modes
from . import registry, shape
from ._interop import convert_like, device_name, from_numpy, to_numpy
from .dtypes import COMPUTE_DTYPE
from .backends._generic import correlate_time_major
from .functional import conv1d
from .shape.stream_spec import ChunkKind, StreamSpec

# Kernels at least this wide stream on the partitioned FFT (stride 1, CPU chunks):
# from there a push costs less than correlating the carried history again
# (docs/benchmarks.md, "Streams").
PARTITIONED_EXTENT = 512
# Pushes of at most this many samples onto a kernel at most this wide run time-major
# (the decode step of a convolutional state): a few samples of N * C rows
# are a few products along the channels, not N * C short rows.
SMALL_CHUNK, SMALL_EXTENT = 16, 64

__all__ = ["Conv1dStream", "StreamState"]


class StreamState(NamedTuple):
    """Everything a stream carries between chunks (read and set as ``stream.state``).

    Attributes
    ----------
    carry : array or None
        ``(N, C_in, m)`` samples of the padded signal, from padded position
        ``carry_start``, in the chunks' own library, device and dtype; None
        before a signal's first chunk.
    carry_start : int
        The padded position of ``carry``'s first sample (the left padding
        counts: the signal's first sample is at ``pad_left``).
    received : int
        Signal samples pushed so far.
    emitted : int
        Outputs returned so far.
    lead_placed : bool
        Whether the left padding is in ``carry`` (reflect and replicate
        produce it once the samples they read have arrived; until then
        ``carry`` holds the signal from its first sample).
    kind : ChunkKind or None
        The library, device, dtype, rank and batch size the signal's chunks keep.
    history : PartitionedState or None
        For a long kernel (stride 1, CPU chunks): the partitioned-FFT engine's
        delay line of block spectra (NumPy arrays, see :mod:`backends.partitioned`),
        which then holds the history in place of ``carry`` (kept only for the
        right padding); None on the direct path.
    fed : int
        Padded positions handed to ``history`` so far.
    block : int
        ``history``'s block size (0 on the direct path).
    time_major : bool
        Whether ``carry`` is laid out ``(N, m, C_in)`` (after a push of a few
        samples onto a short kernel) rather than ``(N, C_in, m)``.
    """

    carry: Any
    carry_start: int
    received: int
    emitted: int
    lead_placed: bool
    kind: ChunkKind | None
    history: Any = None
    fed: int = 0
    block: int = 0
    time_major: bool = False


def _fresh(spec: StreamSpec) -> StreamState:
    return StreamState(carry=None, carry_start=spec.pad_left, received=0, emitted=0,
                       lead_placed=False, kind=None)


def _partitioned() -> Any:
    """The partitioned overlap-save engine (``backends/partitioned``), reached through the fft
    backend so that importing arrayconv does not load SciPy's FFT."""
    return registry.get("fft").streams


def _needs_graph(array: Any) -> bool:
    """Whether ``array`` is a torch tensor that records an autograd graph."""
    return bool(getattr(array, "requires_grad", False))


def _channel_major(xp: Any, state: StreamState) -> Any:
    """The state's carry as ``(N, C_in, m)`` (None before a signal's first chunk)."""
    if state.carry is None or not state.time_major:
        return state.carry
    return xp.permute_dims(state.carry, (0, 2, 1))


def _snapshot(state: StreamState) -> StreamState:
    """``state`` with its own copy of the partitioned history (which pushes update in place);
    the carry is never written in place, so it is shared."""
    if state.history is None:
        return state
    return state._replace(history=_partitioned().copy_state(state.history))


def _gather(xp: Any, carry: Any, first_sample: int, runs: list) -> list:
    """The padded positions of ``runs`` (see :func:`arrayconv.padding.runs`) as arrays,
    read from ``carry``, which holds the signal from sample ``first_sample``."""
    rows, channels = carry.shape[0], carry.shape[1]
    pieces = []
    for run in runs:
        if run.source is None:
            pieces.append(xp.zeros((rows, channels, run.count), dtype=carry.dtype,
                                   device=array_api_compat.device(carry)))
            continue
        at = run.source - first_sample
        if run.step == 0:
            pieces.append(xp.broadcast_to(carry[:, :, at:at + 1], (rows, channels, run.count)))
        elif run.step > 0:
            pieces.append(carry[:, :, at:at + run.count])
        else:
            pieces.append(xp.flip(carry[:, :, at - run.count + 1:at + 1], axis=-1))
    return pieces


class Conv1dStream:
    """``conv1d`` over a signal that arrives in chunks.

    Parameters
    ----------
    weight, bias, stride, padding, dilation, groups, padding_mode
        As for :func:`arrayconv.conv1d`; ``padding`` an int, ``'valid'``,
        ``'same'`` (stride 1) or ``'causal'``; ``padding_mode`` zeros,
        reflect or replicate (circular reads the signal's end before it has
        come, and is refused).
    backend : str, optional
        As for :func:`arrayconv.conv1d`, for every push.

    Notes
    -----
    The concatenation along the last axis of every :meth:`push`'s result
    and :meth:`flush`'s equals ``conv1d`` of the concatenated chunks, for
    any chunking (chunks of any length, 0 included, need not be multiples
    of the stride).  A push returns every output whose inputs and left
    padding have all arrived, and no later one: with reflect the left
    padding exists once ``pad_left + 1`` samples have, with replicate once
    one has.  A bad chunk raises (naming ``chunk``) and leaves the state
    as it was.  The weight is converted once to the chunks' library and
    device.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.ones((1, 1, 3))
    >>> stream = Conv1dStream(w, padding="causal")
    >>> stream.push(np.array([[[1.0, 2.0]]])), stream.push(np.array([[[3.0]]]))
    (array([[[1., 3.]]]), array([[[6.]]]))
    >>> stream.flush().shape
    (1, 1, 0)
    """

    def __init__(self, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: Any = 1, padding_mode: Any = "zeros", *, backend: str | None = None) -> None:
        self.spec = shape.normalize_stream(weight, bias, stride, padding, dilation, groups, padding_mode)
        self.weight, self.bias, self.backend = weight, bias, backend
        self._converted: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._ring: tuple[Any, int, StreamState | None] | None = None  # see _append_time_major
        self._xp: tuple[ChunkKind, Any] | None = None  # see _namespace
        self._interrupted = False  # see _through_history
        self._state = _fresh(self.spec)

    @property
    def state(self) -> StreamState:
        """A snapshot of the carried state (a :class:`StreamState`); set it to resume a parked stream."""
        self._check_usable()
        return _snapshot(self._state)

    @state.setter
    def state(self, value: StreamState) -> None:
        self._state = _snapshot(shape.check_stream_state(self.spec, value))
        self._interrupted = False

    def reset(self) -> None:
        """Forget the signal: the next chunk starts a new one."""
        self._state = _fresh(self.spec)
        self._interrupted = False

    def _check_usable(self) -> None:
        if self._interrupted:
            raise RuntimeError("the stream's last push or flush stopped partway through the partitioned FFT "
                               "(an interrupt, or memory ran out), which leaves its history half-updated: "
                               "call reset(), or set a state saved before it")

    def _namespace(self, chunk: Any, kind: ChunkKind) -> Any:
        """The chunks' array namespace (looked up once per signal: its chunks keep their library)."""
        if self._xp is None or self._xp[0] is not kind:
            self._xp = (kind, array_api_compat.array_namespace(chunk))
        return self._xp[1]

    def _parameters(self, chunk: Any, kind: ChunkKind) -> tuple[Any, Any]:
        """The weight and bias in the chunks' library, on their device (converted once)."""
        key = (kind.library, kind.device)
        if key not in self._converted:
            self._converted[key] = (convert_like(self.weight, "weight", chunk),
                                    None if self.bias is None else convert_like(self.bias, "bias", chunk))
        return self._converted[key]

    def _empty(self, xp: Any, carry: Any, kind: ChunkKind) -> Any:
        result = xp.zeros((kind.batch, self.spec.out_channels, 0), dtype=getattr(xp, kind.result_dtype),
                          device=array_api_compat.device(carry))
        return result if kind.batched else result[0]

    def _outputs(self, xp: Any, chunk: Any, padded: Any, start: int, first: int, stop: int, kind: ChunkKind) -> Any:
        """Outputs ``first ... stop - 1`` from ``padded``, which holds padded positions from ``start``."""
        if stop <= first:
            return self._empty(xp, padded, kind)
        spec = self.spec
        low = first * spec.stride - start
        high = (stop - 1) * spec.stride + spec.extent - start
        weight, bias = self._parameters(chunk, kind)
        result = conv1d(padded[:, :, low:high], weight, bias, spec.stride, 0, spec.dilation, spec.groups,
                        "zeros", backend=self.backend)
        return result if kind.batched else result[0]

    def push(self, chunk: Any) -> Any:
        """Take the signal's next samples; the outputs they complete.

        Parameters
        ----------
        chunk : array
            ``(N, C_in, n)``, or ``(C_in, n)`` unbatched, any ``n >= 0``; the
            signal's first chunk fixes its library, device, dtype, rank and
            batch size for the rest.

        Returns
        -------
        array
            ``(N, C_out, m)`` (or ``(C_out, m)``): the next ``m`` outputs of
            the whole-signal ``conv1d``, every one whose inputs have arrived.
        """
        self._check_usable()
        spec, state = self.spec, self._state
        kind = shape.check_chunk(spec, chunk, state.kind)
        xp = self._namespace(chunk, kind)
        rows = chunk if kind.batched else xp.expand_dims(chunk, axis=0)
        if state.block and _needs_graph(rows):
            raise TypeError("chunk requires grad, but this signal runs on the partitioned FFT (its first chunk "
                            "did not), which torch's autograd cannot follow: start the signal with a chunk that "
                            "requires grad, or pass chunk.detach()")
        if (state.lead_placed and not state.block and self.backend is None and rows.shape[-1] <= SMALL_CHUNK
                and spec.extent <= SMALL_EXTENT):
            return self._push_time_major(xp, chunk, rows, kind)
        if state.history is not None and state.fed == spec.pad_left + state.received:
            return self._push_history(xp, chunk, rows, kind)
        carry = _channel_major(xp, state)
        carry = rows if carry is None else xp.concat([carry, rows], axis=-1)
        received = state.received + rows.shape[-1]
        start, placed = state.carry_start, state.lead_placed
        if not placed and received >= spec.lead_needs:
            # the carry holds the signal from its first sample: the left padding can be made now
            lead = _gather(xp, carry, 0, padding_modes.runs(-spec.pad_left, 0, received, spec.padding_mode))
            carry = xp.concat([*lead, carry], axis=-1) if lead else carry
            start, placed = 0, True
        known = spec.pad_left + received
        stop = state.emitted
        if placed and known >= spec.extent:
            stop = max(stop, (known - spec.extent) // spec.stride + 1)
        block = state.block if state.kind is not None else self._block_for(rows, kind)
        history, fed = state.history, state.fed
        if block and placed:
            if history is None:
                history, fed = _partitioned().fresh_state(self._plan(block, kind), kind.batch), 0
            result, history = self._through_history(xp, chunk, carry[:, :, fed - start:], fed, history, block, kind)
            fed = known
        else:
            result = self._outputs(xp, chunk, carry, start, state.emitted, stop, kind)
        if placed:
            # keep what the next output reads (the history holds it on the partitioned path),
            # and what the right padding will read at the end
            needed = known if block else stop * spec.stride
            keep_from = max(start, min(needed, known - spec.keeps))
            carry, start = carry[:, :, keep_from - start:], keep_from
        self._state = StreamState(carry=carry, carry_start=start, received=received, emitted=stop,
                                  lead_placed=placed, kind=kind, history=history, fed=fed, block=block)
        return result

    def _push_history(self, xp: Any, chunk: Any, rows: Any, kind: ChunkKind) -> Any:
        """A push onto a signal the partitioned FFT has taken up to its last sample: the new
        samples go straight into its history, and the carry keeps only what the right padding
        will read at the signal's end."""
        spec, state = self.spec, self._state
        received = state.received + rows.shape[-1]
        known = spec.pad_left + received
        result, history = self._through_history(xp, chunk, rows, state.fed, state.history, state.block, kind)
        carry, start = state.carry, known
        if spec.keeps:
            carry = xp.concat([carry, rows], axis=-1)
            start = max(state.carry_start, known - spec.keeps)
            carry = carry[:, :, start - state.carry_start:]
        elif carry.shape[-1]:
            carry = carry[:, :, carry.shape[-1]:]
        stop = max(state.emitted, known - spec.extent + 1)  # stride 1 on this path
        self._state = StreamState(carry=carry, carry_start=start, received=received, emitted=stop,
                                  lead_placed=True, kind=kind, history=history, fed=known, block=state.block)
        return result

    def _push_time_major(self, xp: Any, chunk: Any, rows: Any, kind: ChunkKind) -> Any:
        """A push of a few samples onto a short kernel: the carry kept time-major, ``(N, m, C_in)``,
        so that appending a sample and each tap's product run along the channels."""
        spec, state = self.spec, self._state
        carry = self._append_time_major(xp, state, xp.permute_dims(rows, (0, 2, 1)))
        received = state.received + rows.shape[-1]
        start, known = state.carry_start, spec.pad_left + received
        stop = state.emitted
        if known >= spec.extent:
            stop = max(stop, (known - spec.extent) // spec.stride + 1)
        count = stop - state.emitted
        if count:
            taps, bias = self._taps(xp, chunk, kind)
            compute = getattr(xp, COMPUTE_DTYPE[kind.result_dtype])
            samples = xp.astype(carry[:, state.emitted * spec.stride - start:, :], compute, copy=False)
            outputs = correlate_time_major(xp, samples, taps, stride=spec.stride, dilation=spec.dilation,
                                           groups=spec.groups, count=count)
            if bias is not None:
                outputs += bias
            result = xp.astype(xp.permute_dims(outputs, (0, 2, 1)), getattr(xp, kind.result_dtype), copy=False)
            result = result if kind.batched else result[0]
        else:
            result = self._empty(xp, chunk, kind)
        keep_from = max(start, min(stop * spec.stride, known - spec.keeps))
        self._state = StreamState(carry=carry[:, keep_from - start:, :], carry_start=keep_from, received=received,
                                  emitted=stop, lead_placed=True, kind=kind, time_major=True)
        self._ring = (self._ring[0], self._ring[1] + keep_from - start, self._state)
        return result

    def _taps(self, xp: Any, chunk: Any, kind: ChunkKind) -> tuple[Any, Any]:
        """The weight tap by tap, ``(K, C_out, C_in/g)`` contiguous, and the bias, in the chunks'
        library, device and compute dtype (made once)."""
        compute = COMPUTE_DTYPE[kind.result_dtype]
        key = ("taps", kind.library, kind.device, compute)
        if key not in self._converted:
            weight, bias = self._parameters(chunk, kind)
            dtype = getattr(xp, compute)
            taps = xp.permute_dims(xp.astype(weight, dtype), (2, 0, 1))
            contiguous = xp.empty(taps.shape, dtype=dtype, device=array_api_compat.device(chunk))
            contiguous[...] = taps
            self._converted[key] = (contiguous, None if bias is None else xp.astype(bias, dtype))
        return self._converted[key]

    def _append_time_major(self, xp: Any, state: StreamState, samples: Any) -> Any:
        """The time-major carry with ``samples`` ``(N, n, C_in)`` appended, as a view into a
        buffer with room to spare, written in place: a push moves the new samples, not the
        carry (the carry moves to the buffer's front only when the room runs out).  The buffer
        belongs to the state it was made for; any other state starts a new one."""
        carry = state.carry if state.time_major else xp.permute_dims(state.carry, (0, 2, 1))
        buffer, first, owner = self._ring if self._ring is not None else (None, 0, None)
        held, count = carry.shape[1], samples.shape[1]
        if owner is not state or first + held + count > buffer.shape[1]:
            room = 2 * (held + count) + 4 * SMALL_CHUNK
            buffer = xp.empty((carry.shape[0], room, carry.shape[2]), dtype=carry.dtype,
                              device=array_api_compat.device(carry))
            buffer[:, :held, :] = carry
            first = 0
        buffer[:, first + held:first + held + count, :] = samples
        self._ring = (buffer, first, None)
        return buffer[:, first:first + held + count, :]

    def _block_for(self, rows: Any, kind: ChunkKind) -> int:
        """The partitioned FFT's block size for a new signal, 0 for the direct path: a long
        kernel at stride 1, CPU chunks, no backend forced."""
        spec = self.spec
        if spec.stride != 1 or spec.extent < PARTITIONED_EXTENT or self.backend is not None:
            return 0
        if device_name(rows) != "cpu" or _needs_graph(rows) or _needs_graph(self.weight) or _needs_graph(self.bias):
            return 0  # the partitioned FFT runs on NumPy: no GPU, no autograd graph
        if "fft" not in registry.available():
            return 0
        return _partitioned().block_for(rows.shape[-1], spec.extent)

    def _plan(self, block: int, kind: ChunkKind) -> Any:
        """The kernel's partition spectra for ``block`` (made once per block size and dtype)."""
        compute = COMPUTE_DTYPE[kind.result_dtype]
        key = ("partitioned", block, compute)
        if key not in self._converted:
            weight = to_numpy(self.weight, "weight", compute)
            self._converted[key] = _partitioned().make_plan(weight, dilation=self.spec.dilation,
                                                         groups=self.spec.groups, block=block)
        return self._converted[key]

    def _through_history(self, xp: Any, like: Any, fresh: Any, fed: int, history: Any, block: int,
                         kind: ChunkKind) -> tuple[Any, Any]:
        """The outputs that padded positions ``fed ...`` (``fresh``) complete, by the partitioned
        FFT, and its new history."""
        spec = self.spec
        compute = COMPUTE_DTYPE[kind.result_dtype]
        plan, samples = self._plan(block, kind), to_numpy(fresh, "chunk", compute)
        try:
            z = _partitioned().feed(plan, history, samples)
        except BaseException:
            # the history is updated in place, block by block: what a feed stopped partway left
            # is no state to go on from
            self._interrupted = True
            raise
        z = z[:, :, max(0, spec.extent - 1 - fed):]  # z[q] is output q - (extent - 1)
        if self.bias is not None:
            key = ("partitioned bias", compute)
            if key not in self._converted:
                self._converted[key] = to_numpy(self.bias, "bias", compute)[None, :, None]
            z = z + self._converted[key]
        result = from_numpy(z.astype(kind.result_dtype, copy=False), like)
        return (result if kind.batched else result[0]), history

    def flush(self) -> Any:
        """End the signal: the outputs its right padding completes.  The stream is then ready
        for a new signal (of any batch size, dtype or library).

        Raises
        ------
        ValueError
            Where ``conv1d`` of the whole signal would (a signal shorter than
            the kernel's extent, or than reflect's padding, ...); the state is
            left as it was.
        """
        self._check_usable()
        spec, state = self.spec, self._state
        if state.kind is None:
            raise ValueError("the stream has no signal to flush: push at least one chunk (it fixes the "
                             "signal's batch size and dtype) before flush()")
        shape.check_signal_end(spec, state.received, state.kind)
        kind, start = state.kind, state.carry_start
        xp = array_api_compat.array_namespace(state.carry)
        carry = _channel_major(xp, state)
        first_sample = start - spec.pad_left
        tail = _gather(xp, carry, first_sample,
                       padding_modes.runs(state.received, state.received + spec.pad_right, state.received,
                                          spec.padding_mode))
        padded = xp.concat([carry, *tail], axis=-1) if tail else carry
        end = spec.pad_left + state.received + spec.pad_right
        stop = max(state.emitted, (end - spec.extent) // spec.stride + 1)
        if state.history is not None:
            result, _ = self._through_history(xp, carry, padded[:, :, state.fed - start:], state.fed, state.history,
                                              state.block, kind)
        else:
            result = self._outputs(xp, carry, padded, start, state.emitted, stop, kind)
        self.reset()
        return result
