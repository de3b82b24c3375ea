"""Backend selection: which registered backend runs a call.

An explicit ``backend=`` names one, else the ``backend`` setting of
:mod:`arrayconv.config`; otherwise every available backend that can serve
the spec on the device, less those the ``skip`` setting names, gives a cost
estimate and the cheapest runs.  Automatic decisions are cached per spec,
device and settings, so a layer called again pays one dictionary lookup.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from . import config, registry, threads
from .registry import Backend
from .records import ConvSpec

__all__ = ["choose", "decide", "Decision"]

_CACHE_SIZE = 4096
_decisions: dict[tuple, Backend] = {}
_decisions_lock = threading.Lock()


class Decision(NamedTuple):
    """A backend choice with everything that went into it."""

    backend: Backend
    source: str  # "the backend argument", "config_context", ..., or "cost model"
    estimates: dict[str, float]  # predicted seconds of each able backend
    unable: dict[str, str]  # why each other backend was not a candidate


def _forced(spec: ConvSpec, device: str, backend: str | None) -> tuple[Backend, str] | None:
    """The forced backend and who forced it, or None when the cost model decides."""
    source = "the backend argument"
    if backend == "auto":  # the caller asks for the cost model, whatever the settings say
        return None
    if backend is None:
        backend, setting_source = config.lookup("backend")
        source = f"the backend setting ({setting_source})"
    if backend is None:
        return None
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
    return chosen, source


def _candidates(spec: ConvSpec, device: str) -> tuple[list[Backend], dict[str, str]]:
    skip = config.lookup("skip")[0]
    able = []
    unable = {}
    for candidate in registry.loaded():
        if candidate.name in skip:
            unable[candidate.name] = "skipped by the skip setting"
            continue
        reason = candidate.supports(spec, device)
        if reason is None:
            able.append(candidate)
        else:
            unable[candidate.name] = reason
    return able, unable


def _no_backend(device: str, unable: dict[str, str]) -> ValueError:
    return ValueError(
        f"no available backend can run this call on device {device!r}: "
        + ("; ".join(f"{name!r}: {why}" for name, why in unable.items()) if unable else "no backends are available")
    )


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
    settings = config.snapshot()
    if backend is not None and backend != "auto" or backend is None and settings.backend is not None:
        return _forced(spec, device, backend)[0]  # type: ignore[index]
    key = (spec, device, settings.skip, threads.get(), settings.routing_key, settings.fft_engine,
           registry.generation())
    chosen = _decisions.get(key)
    if chosen is None:
        chosen = _cheapest(spec, device)
        with _decisions_lock:
            if len(_decisions) >= _CACHE_SIZE:
                _decisions.clear()
            _decisions[key] = chosen
    return chosen


def _cheapest(spec: ConvSpec, device: str) -> Backend:
    able, unable = _candidates(spec, device)
    if not able:
        raise _no_backend(device, unable)
    if len(able) == 1:
        return able[0]
    return min(able, key=lambda candidate: candidate.estimate(spec))


def decide(spec: ConvSpec, device: str, backend: str | None = None) -> Decision:
    """What :func:`choose` picks, with every backend's estimate or reason and the decision's source.

    Examples
    --------
    >>> import numpy as np
    >>> from arrayconv.shape import normalize
    >>> decision = decide(normalize(np.zeros((1, 2, 8)), np.zeros((3, 2, 3))), "cpu")
    >>> decision.backend.name, decision.source
    ('direct', 'cost model')
    """
    able, unable = _candidates(spec, device)
    estimates = {candidate.name: float(candidate.estimate(spec)) for candidate in able}
    forced = _forced(spec, device, backend)
    if forced is not None:
        return Decision(backend=forced[0], source=forced[1], estimates=estimates, unable=unable)
    if not able:
        raise _no_backend(device, unable)
    return Decision(backend=_cheapest(spec, device), source="cost model", estimates=estimates, unable=unable)
