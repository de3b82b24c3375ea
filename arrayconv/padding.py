"""The padding modes: which signal sample each padded position reads.

A convolution pads its input of ``length`` samples at both ends.  Position
``i`` of the padded signal, counted in the signal's own coordinates (so the
signal is ``0 <= i < length`` and the left padding is negative), reads:

``zeros``
    nothing (a zero);
``reflect``
    ``-i`` on the left and ``2 * (length - 1) - i`` on the right (the edge
    sample is not repeated), as ``torch.nn.functional.pad`` reflects;
``replicate``
    the first sample on the left, the last on the right;
``circular``
    ``i + length`` on the left, ``i - length`` on the right.

One reflection or wrap is all a mode makes, so its padding can reach only
:func:`reach` samples past either end (torch's limits: reflect less than the
length, circular up to the length); the shape modules refuse more.

This module is the one statement of that map.  :func:`runs` describes a span
of padded positions as runs of consecutive (or repeated, or reversed) signal
samples, which every Python path that pads builds on: the generic backends'
padded copy, the Dask blocks' halo and the gradient's fold of the padding
back onto the signal (:func:`fold_shares`, the map's adjoint).  The C kernels (``ac_map_index`` in
``backends/_direct_loops.h``) are checked against :func:`source` by the tests.

Examples
--------
>>> [source(i, 4, "reflect") for i in range(-3, 7)]
[3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
>>> runs(-2, 6, 4, "replicate")
[Run(position=-2, count=2, source=0, step=0), Run(position=0, count=4, source=0, step=1), Run(position=4, count=2, source=3, step=0)]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["PADDING_MODES", "MODE_CODE", "Run", "reach", "source", "runs", "indices", "fold_shares"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# The kernels' numbers for the modes (the enum of backends/_direct_loops.h).
MODE_CODE = {mode: code for code, mode in enumerate(PADDING_MODES)}


class Run(NamedTuple):
    """Padded positions ``position ... position + count - 1`` read the signal samples
    ``source, source + step, ...``: ``step`` 1 (in order), -1 (reversed) or 0 (one
    sample repeated); ``source`` None: zeros."""

    position: int
    count: int
    source: int | None
    step: int


def reach(mode: str, length: int) -> int | None:
    """How far past either end of a signal of ``length`` samples the mode can pad
    (None: without limit).

    Examples
    --------
    >>> reach("reflect", 5), reach("circular", 5), reach("zeros", 5)
    (4, 5, None)
    """
    if mode == "reflect":
        return length - 1
    if mode == "circular":
        return length
    return None


def source(position: int, length: int, mode: str) -> int | None:
    """The signal sample padded ``position`` reads (None: a zero).

    ``position`` must lie within :func:`reach` of the signal.

    Examples
    --------
    >>> source(-1, 5, "circular"), source(5, 5, "replicate"), source(-1, 5, "zeros")
    (4, 4, None)
    """
    if 0 <= position < length:
        return position
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if position < 0 else length - 1
    if mode == "reflect":
        return -position if position < 0 else 2 * (length - 1) - position
    return position + length if position < 0 else position - length


def _outside(first: int, count: int, length: int, mode: str) -> Run:
    """The run of ``count`` padded positions from ``first``, all on one side of the signal."""
    if mode == "zeros":
        return Run(first, count, None, 1)
    if mode == "replicate":
        return Run(first, count, source(first, length, mode), 0)
    return Run(first, count, source(first, length, mode), -1 if mode == "reflect" else 1)


def runs(low: int, high: int, length: int, mode: str) -> list[Run]:
    """Padded positions ``[low, high)`` (signal coordinates) as runs, in order.

    At most three: the part left of the signal, the part inside, the part
    right of it (those that are empty are left out).

    Examples
    --------
    >>> runs(-2, 3, 5, "reflect")
    [Run(position=-2, count=2, source=2, step=-1), Run(position=0, count=3, source=0, step=1)]
    >>> runs(4, 7, 5, "circular")
    [Run(position=4, count=1, source=4, step=1), Run(position=5, count=2, source=0, step=1)]
    """
    pieces = []
    if low < min(high, 0):
        pieces.append(_outside(low, min(high, 0) - low, length, mode))
    inside_low, inside_high = max(low, 0), min(high, length)
    if inside_high > inside_low:
        pieces.append(Run(inside_low, inside_high - inside_low, inside_low, 1))
    if high > max(low, length):
        first = max(low, length)
        pieces.append(_outside(first, high - first, length, mode))
    return pieces


def indices(low: int, high: int, length: int, mode: str) -> np.ndarray:
    """The signal sample each padded position ``[low, high)`` reads, as an int64
    array (-1 for a zero).

    Examples
    --------
    >>> indices(-2, 6, 4, "circular").tolist()
    [2, 3, 0, 1, 2, 3, 0, 1]
    """
    parts = []
    for run in runs(low, high, length, mode):
        if run.source is None:
            parts.append(np.full(run.count, -1, dtype=np.int64))
        else:
            parts.append(run.source + run.step * np.arange(run.count, dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def fold_shares(xp: Any, padded: Any, low: int, high: int, length: int, mode: str) -> list[tuple[int, Any]]:
    """The gradient of the padding, folded back onto the signal samples it read.

    ``padded`` holds the gradient of padded positions ``[low, high)`` along
    its last axis (``low <= 0``, ``high >= length``).  Each pair ``(target,
    share)`` says: add ``share`` to the signal's gradient at samples
    ``target, target + 1, ...`` (as many as ``share`` has along its last
    axis).  The signal's own part, ``padded[..., -low : length - low]``, is
    the caller's to take; zeros read nothing and give nothing back.

    Examples
    --------
    >>> import numpy as np
    >>> padded = np.arange(1.0, 8.0)  # positions -2 ... 4 of a 3-sample signal
    >>> [(target, share.tolist()) for target, share in fold_shares(np, padded, -2, 5, 3, "reflect")]
    [(1, [2.0, 1.0]), (0, [7.0, 6.0])]
    >>> [(target, share.tolist()) for target, share in fold_shares(np, padded, -2, 5, 3, "replicate")]
    [(0, [3.0]), (2, [13.0])]
    """
    shares = []
    for run in runs(low, high, length, mode):
        if run.source is None or 0 <= run.position < length:
            continue
        share = padded[..., run.position - low : run.position - low + run.count]
        if run.step == 0:
            shares.append((run.source, xp.sum(share, axis=-1, keepdims=True)))
        elif run.step < 0:
            shares.append((run.source - run.count + 1, xp.flip(share, axis=-1)))
        else:
            shares.append((run.source, share))
    return shares
