"""Backend selection: which registered backend runs a call.

An explicit ``backend=`` names one, else the ``backend`` setting of
:mod:`arrayconv.config`; otherwise every available backend that can serve
the spec on the device, less those the ``skip`` setting names, gives a cost
estimate and the cheapest runs.
"""

from __future__ import annotations

from . import config, registry
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
        Force this backend (else the configured one, if any).

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
    source = "the backend argument"
    if backend is None:
        backend, source = config.lookup("backend")
    if backend is not None:
        try:
            chosen = registry.get(backend)
        except ValueError as error:
            raise ValueError(f"{error} (backend set by {source})") from None
        reason = chosen.supports(spec, device)
        if reason is not None:
            raise ValueError(
                f"backend={backend!r} (set by {source}) cannot run this call: {reason}; "
                f"available backends: {', '.join(map(repr, registry.available()))}"
            )
        return chosen
    skip = config.lookup("skip")[0]
    able = []
    reasons = []
    for candidate in registry.loaded():
        if candidate.name in skip:
            reasons.append(f"{candidate.name!r}: skipped by configuration")
            continue
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
