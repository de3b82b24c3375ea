"""Backend selection: which registered backend runs a call.

An explicit ``backend=`` names one; otherwise every available backend that
can serve the spec on the device gives a cost estimate and the cheapest runs.
"""

from __future__ import annotations

from . import registry
from .registry import Backend
from .shape import ConvSpec

__all__ = ["choose"]


def choose(spec: ConvSpec, device: str, backend: str | None = None) -> Backend:
    """The backend that runs ``spec`` on ``device``.

    Parameters
    ----------
    spec : ConvSpec
        The validated call.
    device : str
        Where the arrays live (``"cpu"``, ``"cuda:0"``, ...).
    backend : str, optional
        Force this backend.

    Raises
    ------
    ValueError
        If the forced backend is unknown or cannot serve the call, or no
        backend can; the message says why and lists the available ones.

    Examples
    --------
    >>> import numpy as np
    >>> from arrayconv.shape import normalize
    >>> spec = normalize(np.zeros((1, 2, 8)), np.zeros((3, 2, 3)))
    >>> choose(spec, "cpu").name
    'direct'
    """
    if backend is not None:
        chosen = registry.get(backend)
        reason = chosen.supports(spec, device)
        if reason is not None:
            raise ValueError(
                f"backend={backend!r} cannot run this call: {reason}; "
                f"available backends: {', '.join(map(repr, registry.available()))}"
            )
        return chosen
    able = []
    reasons = []
    for candidate in registry.loaded():
        reason = candidate.supports(spec, device)
        if reason is None:
            able.append(candidate)
        else:
            reasons.append(f"{candidate.name!r}: {reason}")
    if len(able) == 1:
        return able[0]  # nothing to compare: skip the estimates (every call pays for them)
    best = min(able, key=lambda candidate: candidate.estimate(spec), default=None)
    if best is None:
        raise ValueError(
            f"no available backend can run this call on device {device!r}: "
            + ("; ".join(reasons) if reasons else "no backends are available")
        )
    return best
