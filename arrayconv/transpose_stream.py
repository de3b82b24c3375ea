"""Streaming transposed convolution: chunks in, the overlap-add tail carried.

Input sample ``i`` of a transposed convolution adds its ``K`` taps to output
positions ``i * stride - padding + k * dilation``: a chunk's contributions
overlap the next chunk's by ``dilation * (K - 1) + 1 - stride`` positions.
A :class:`ConvTranspose1dStream` runs ``conv_transpose1d`` (without padding)
on each chunk, adds the carried tail of partial sums to its head, and returns
every output no later input can reach (before ``received * stride - padding``)
that the signal surely has; :meth:`ConvTranspose1dStream.flush` returns the
rest, ``output_padding`` included.  The partial sums stay in the compute
dtype (float32 for float16), so the result does not depend on the chunking
beyond rounding.

Examples
--------
>>> import numpy as np
>>> import arrayconv
>>> rng = np.random.default_rng(0)
>>> w, x = rng.standard_normal((2, 3, 5)), rng.standard_normal((1, 2, 40))
>>> stream = arrayconv.ConvTranspose1dStream(w, stride=2, padding=1)
>>> y = np.concatenate([stream.push(x[..., :9]), stream.push(x[..., 9:]), stream.flush()], axis=-1)
>>> bool(np.allclose(y, arrayconv.conv_transpose1d(x, w, stride=2, padding=1)))
True
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from . import shape
from ._interop import convert_like
from .dtypes import COMPUTE_DTYPE
from .gradients import conv_transpose1d
from .shape.stream_spec import ChunkKind
from .stream import StreamState

__all__ = ["ConvTranspose1dStream"]


class ConvTranspose1dStream:
    """``conv_transpose1d`` over a signal that arrives in chunks.

    Parameters
    ----------
    weight, bias, stride, padding, output_padding, groups, dilation
        As for :func:`arrayconv.conv_transpose1d`.
    backend : str, optional
        As for :func:`arrayconv.conv_transpose1d`, for every push.

    Notes
    -----
    The concatenation of every :meth:`push`'s result and :meth:`flush`'s
    equals ``conv_transpose1d`` of the concatenated chunks, for any
    chunking.  Output ``t`` is returned by the first push after which no
    later input can reach it (``t + padding < received * stride``) and the
    signal is long enough to have it; ``state.carry`` holds the partial sums
    of the outputs still open, ``(N, C_out, m)`` in the compute dtype.

    Examples
    --------
    >>> import numpy as np
    >>> stream = ConvTranspose1dStream(np.ones((1, 1, 3)), stride=2)
    >>> stream.push(np.ones((1, 1, 2))), stream.flush()
    (array([[[1., 1., 2., 1.]]]), array([[[1.]]]))
    """

    def __init__(self, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                 groups: Any = 1, dilation: Any = 1, *, backend: str | None = None) -> None:
        self.spec = shape.normalize_transpose_stream(weight, bias, stride, padding, output_padding, groups,
                                                     dilation)
        self.weight, self.bias, self.backend = weight, bias, backend
        self._converted: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._state = self._fresh()

    def _fresh(self) -> StreamState:
        return StreamState(carry=None, carry_start=self.spec.pad_left, received=0, emitted=0, lead_placed=True,
                           kind=None)

    @property
    def state(self) -> StreamState:
        """The carried state (a :class:`arrayconv.StreamState`); set it to resume a parked stream."""
        return self._state

    @state.setter
    def state(self, value: StreamState) -> None:
        self._state = shape.check_stream_state(self.spec, value)

    def reset(self) -> None:
        """Forget the signal: the next chunk starts a new one."""
        self._state = self._fresh()

    def _parameters(self, like: Any, kind: ChunkKind, xp: Any) -> tuple[Any, Any]:
        """The weight and bias in the chunks' library and device, in the compute dtype."""
        compute = COMPUTE_DTYPE[kind.result_dtype]
        key = (kind.library, kind.device, compute)
        if key not in self._converted:
            pair = [None if array is None else xp.astype(convert_like(array, name, like), getattr(xp, compute))
                    for name, array in (("weight", self.weight), ("bias", self.bias))]
            self._converted[key] = (pair[0], pair[1])
        return self._converted[key]

    def _length_out(self, received: int) -> int:
        """The output length of ``conv_transpose1d`` over ``received`` samples."""
        spec = self.spec
        return (received - 1) * spec.stride - 2 * spec.pad_left + spec.extent + spec.output_padding

    def _emit(self, xp: Any, carry: Any, start: int, stop: int, kind: ChunkKind, like: Any) -> tuple[Any, Any]:
        """Outputs ``emitted ... stop - 1`` taken from the head of ``carry`` (which holds full
        positions from ``start``, the next output's), and what is left of it."""
        count = max(stop + self.spec.pad_left - start, 0)
        if carry.shape[-1] < count:
            zeros = xp.zeros((*carry.shape[:2], count - carry.shape[-1]), dtype=carry.dtype,
                             device=array_api_compat.device(carry))
            carry = xp.concat([carry, zeros], axis=-1)
        out = carry[:, :, :count]
        _, bias = self._parameters(like, kind, xp)
        if bias is not None:
            out = out + xp.reshape(bias, (1, bias.shape[0], 1))
        out = xp.astype(out, getattr(xp, kind.result_dtype))
        return (out if kind.batched else out[0]), carry[:, :, count:]

    def push(self, chunk: Any) -> Any:
        """Take the signal's next samples; the outputs no later sample can change.

        Parameters
        ----------
        chunk : array
            ``(N, C_in, n)``, or ``(C_in, n)`` unbatched, any ``n >= 0``.

        Returns
        -------
        array
            ``(N, C_out, m)`` (or ``(C_out, m)``): the next ``m`` outputs of
            the whole-signal ``conv_transpose1d``.
        """
        spec, state = self.spec, self._state
        kind = shape.check_chunk(spec, chunk, state.kind)
        xp = array_api_compat.array_namespace(chunk)
        rows = chunk if kind.batched else xp.expand_dims(chunk, axis=0)
        compute = getattr(xp, COMPUTE_DTYPE[kind.result_dtype])
        start, before = state.carry_start, state.received
        carry = state.carry
        if carry is None:
            carry = xp.zeros((kind.batch, spec.out_channels, 0), dtype=compute,
                             device=array_api_compat.device(chunk))
        received = before + rows.shape[-1]
        if rows.shape[-1]:
            weight, _ = self._parameters(chunk, kind, xp)
            spread = conv_transpose1d(xp.astype(rows, compute), weight, None, spec.stride, 0, 0, spec.groups,
                                      spec.dilation, backend=self.backend)
            carry = self._overlap_add(xp, carry, start, spread, before * spec.stride)
        final = received * spec.stride - spec.pad_left
        stop = max(state.emitted, min(final, self._length_out(received)) if received else 0)
        result, carry = self._emit(xp, carry, start, stop, kind, chunk)
        self._state = StreamState(carry=carry, carry_start=stop + spec.pad_left, received=received, emitted=stop,
                                  lead_placed=True, kind=kind)
        return result

    @staticmethod
    def _overlap_add(xp: Any, carry: Any, start: int, spread: Any, at: int) -> Any:
        """``carry`` (full positions from ``start``) with ``spread`` (positions from ``at``) added;
        positions before ``start`` (cropped, or returned already) are left out."""
        skip = max(start - at, 0)
        spread = spread[:, :, skip:]
        offset = at + skip - start
        rows, channels = carry.shape[0], carry.shape[1]
        device = array_api_compat.device(carry)
        if offset + spread.shape[-1] <= 0:
            return carry
        head = carry[:, :, :offset]
        if head.shape[-1] < offset:
            head = xp.concat([head, xp.zeros((rows, channels, offset - head.shape[-1]), dtype=carry.dtype,
                                              device=device)], axis=-1)
        overlap = carry[:, :, offset:]
        width = min(overlap.shape[-1], spread.shape[-1])
        middle = overlap[:, :, :width] + spread[:, :, :width]
        tail = spread[:, :, width:] if spread.shape[-1] > width else overlap[:, :, width:]
        return xp.concat([head, middle, tail], axis=-1)

    def flush(self) -> Any:
        """End the signal: its last outputs (``output_padding`` included).  The stream is then ready
        for a new signal.

        Raises
        ------
        ValueError
            Where ``conv_transpose1d`` of the whole signal would; the state is left as it was.
        """
        spec, state = self.spec, self._state
        if state.kind is None:
            raise ValueError("the stream has no signal to flush: push at least one chunk (it fixes the "
                             "signal's batch size and dtype) before flush()")
        shape.check_signal_end(spec, state.received, state.kind)
        xp = array_api_compat.array_namespace(state.carry)
        result, _ = self._emit(xp, state.carry, state.carry_start, self._length_out(state.received), state.kind,
                               state.carry)
        self.reset()
        return result
