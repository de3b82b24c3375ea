"""``explain``: which backend a conv1d call would run on, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import array_api_compat

from . import _interop, policy, registry, shape

__all__ = ["explain", "Explanation"]


@dataclass(frozen=True)
class Explanation:
    """The routing decision for one call.

    Attributes
    ----------
    backend : str
        The backend that would run it.
    source : str
        Where the decision came from: ``"cost model"``, ``"the backend
        argument"``, or the configuration layer that forces a backend.
    estimates : dict of str to float
        Predicted seconds of every backend able to run the call.
    unable : dict of str to str
        Why each other available backend cannot (or may not) run it.
    spec : ConvSpec
        The validated call.
    handed_over : str, optional
        Why the backend the routing chose gives these values to ``backend``
        (the fft backend does for NaN, Inf or huge values); only for arrays,
        whose values explain reads.
    engines : dict of str to str
        For backends that run on an engine of their own (the fft backend:
        MKL or pocketfft), which one and why.
    """

    backend: str
    source: str
    estimates: dict[str, float] = field(default_factory=dict)
    unable: dict[str, str] = field(default_factory=dict)
    spec: shape.ConvSpec | None = None
    handed_over: str | None = None
    engines: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"backend: {self.backend} (chosen by {self.source})"]
        if self.handed_over:
            lines.append(f"  handed over: {self.handed_over}")
        for name, seconds in sorted(self.estimates.items(), key=lambda item: item[1]):
            marker = "*" if name == self.backend else " "
            lines.append(f"  {marker} {name:<10} estimate {_format_seconds(seconds)}")
            if name in self.engines:
                lines.append(f"      {'':<10} engine: {self.engines[name]}")
        for name, reason in sorted(self.unable.items()):
            lines.append(f"    {name:<10} not a candidate: {reason}")
        return "\n".join(lines)


def _format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def explain(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
    *,
    backend: str | None = None,
    dtype: Any = "float32",
    device: str | None = None,
) -> Explanation:
    """Which backend ``conv1d`` would use for these arguments, and why.

    Takes the arguments of :func:`arrayconv.conv1d`; ``input``, ``weight``
    and ``bias`` may be arrays or shapes (tuples of ints).  Nothing is
    computed: the call is validated, then routed as ``conv1d`` would route it
    now (settings included).

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups, padding_mode, backend
        As for :func:`arrayconv.conv1d`.
    dtype : dtype, default float32
        The dtype of arguments given as shapes.
    device : str, optional
        The device of arguments given as shapes (default ``"cpu"``); arrays
        are on their own device (passing both is a TypeError).

    Returns
    -------
    Explanation
        The chosen backend, every backend's estimate or the reason it cannot
        run the call, and the source of the decision; ``print`` it for a table.

    Examples
    --------
    >>> import arrayconv
    >>> arrayconv.explain((4, 16, 32768), (16, 16, 2049), padding=1024).backend
    'fft'
    >>> arrayconv.explain((1, 8, 100), (8, 8, 3), backend="direct").source
    'the backend argument'

    Given arrays, it reads their values as the call would: the fft backend
    hands NaN and Inf to the direct backend.

    >>> import numpy as np
    >>> x = np.zeros((1, 1, 4000)); x[0, 0, 7] = np.nan
    >>> found = arrayconv.explain(x, np.ones((1, 1, 1025)), backend="fft")
    >>> found.backend, found.handed_over.startswith("fft gives this call to direct: the input or weight holds NaN")
    ('direct', True)
    """
    x = shape.placeholder(input, "input", dtype)
    w = shape.placeholder(weight, "weight", dtype)
    b = shape.placeholder(bias, "bias", dtype)
    spec = shape.normalize(x, w, b, stride, padding, dilation, groups, padding_mode)
    if x is input:  # arrays: their own device
        if device is not None:
            raise TypeError(f"device applies to shapes only (arrays are where they are), got device={device!r}")
        device = _interop.device_name(input)
    elif device is None:
        device = "cpu"
    elif not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda:0', got device={device!r}")
    decision = policy.decide(spec, device, backend)
    runs_on, handed_over = decision.backend.name, None
    hands_over = getattr(decision.backend, "hands_over", None)
    if x is input and hands_over is not None and not array_api_compat.is_dask_array(input):
        # the CPU backends look at the values before they run: so does explain
        handover = hands_over(spec, _interop.to_numpy(x, "input", spec.compute_dtype),
                              _interop.to_numpy(w, "weight", spec.compute_dtype))
        if handover is not None:
            runs_on, handed_over = handover[0], f"{decision.backend.name} gives this call to {handover[0]}: {handover[1]}"
    candidates = {name: registry.get(name) for name in decision.estimates}
    engines = {name: found.describe_engine() for name, found in candidates.items() if hasattr(found, "describe_engine")}
    return Explanation(backend=runs_on, source=decision.source, estimates=decision.estimates,
                       unable=decision.unable, spec=spec, handed_over=handed_over, engines=engines)
