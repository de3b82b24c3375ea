"""The backend registry: names to backend objects, loaded lazily.

A backend is any object with the :class:`Backend` protocol.  Built-in
backends are named here by import path and imported on first use, so
``import arrayconv`` stays cheap and imports no optional library.  Third
parties register theirs at run time with :func:`register`, or declare an
entry point in the ``arrayconv.backends`` group naming a zero-argument
factory (or a backend object).
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from . import config, routing
from .records import ConvSpec

__all__ = ["Backend", "CostModel", "register", "available", "unavailable", "get", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "arrayconv.backends"

# name -> "module:attribute" of a zero-argument factory
_BUILTIN = {
    "direct": "arrayconv.backends.direct:DirectBackend",
    "fft": "arrayconv.backends.fft:FFTBackend",
    "array_api": "arrayconv.backends.array_api:ArrayAPIBackend",
    "cupy": "arrayconv.backends.gpu:CupyBackend",
}


@runtime_checkable
class Backend(Protocol):
    """What a backend provides.

    Attributes
    ----------
    name : str
        The name it is registered under.

    ``run`` takes and returns NumPy arrays: the frontend converts CPU arrays
    of any library to NumPy and back.  A backend with a true attribute
    ``native_arrays`` gets the caller's own arrays instead (their library and
    device; already batched and in the compute dtype, possibly strided) and
    returns an array of that library on that device.

    ``run`` is all a backend needs: transposed convolutions and gradients
    reach it as ordinary correlations (:mod:`arrayconv.lowering`).  A CPU
    backend may also offer ``run_weight_grad(spec, x, grad_output)`` (the
    weight gradient of ``spec`` without conjugation, ``(C_out, C_in/groups,
    K)``, from NumPy arrays) and ``weight_grad_workspace_bytes(spec)``; they
    are used when the router picks that backend for the weight gradient's
    correlation.  It may offer ``bind(spec)`` too: a callable of ``(x, w, b)``
    that does what ``run`` does for NumPy arrays already in the compute dtype
    and C-contiguous, with the work that depends on the shapes alone done once
    (or None); the frontend keeps it per call signature for repeated calls.
    """

    name: str

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        """None if the backend can run ``spec`` on ``device``, else the reason it cannot."""

    def estimate(self, spec: ConvSpec) -> float:
        """Predicted seconds for ``spec``; the policy picks the smallest."""

    def run(self, spec: ConvSpec, x: Any, w: Any, b: Any | None) -> Any:
        """The (N, C_out, L_out) output in ``spec.compute_dtype``.

        ``x`` is (N, C_in, L), ``w`` (C_out, C_in/groups, K), ``b`` (C_out,)
        or None; all C-contiguous, in ``spec.compute_dtype``, never modified.
        """


class CostModel:
    """The estimate of a backend that prices its calls by cost terms (see :mod:`arrayconv.routing`).

    A subclass provides ``cost_terms(spec)``: a mapping of term names to
    amounts; the estimate is their sum weighted by the configured constants
    (nothing runs for an empty output, which costs nothing).

    Examples
    --------
    >>> class Flat(CostModel):
    ...     def cost_terms(self, spec):
    ...         return {"direct_call": 2.0}
    >>> from arrayconv.shape import normalize
    >>> import numpy as np
    >>> Flat().estimate(normalize(np.zeros((1, 1, 4)), np.zeros((1, 1, 2)))) == 2 * routing.DEFAULTS["direct_call"]
    True
    """

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        raise NotImplementedError

    def estimate(self, spec: ConvSpec) -> float:
        # an empty call still pays its fixed cost (cost_terms gives just that term),
        # so that a dedicated backend wins it rather than the first name in order
        return routing.predict(self.cost_terms(spec), routing.constants(config.routing_key()))


_lock = threading.Lock()
_sources: dict[str, Any] = {}  # name -> import path, entry point, or backend object
_loaded: dict[str, Backend] = {}
_failed: dict[str, str] = {}
_discovered = False
_loaded_cache: list[Backend] | None = None  # loaded(), rebuilt after any registration
_generation = 0  # counts registrations, so cached routing decisions can tell they are stale


def generation() -> int:
    """A number that changes whenever a backend is registered or unregistered."""
    return _generation


def _discover() -> None:
    """Fill the sources from the built-ins and entry points, once."""
    global _discovered
    if _discovered:
        return
    with _lock:
        if _discovered:
            return
        for name, path in _BUILTIN.items():
            _sources.setdefault(name, path)
        for point in entry_points(group=ENTRY_POINT_GROUP):
            _sources.setdefault(point.name, point)
        _discovered = True


def _load(name: str) -> Backend | None:
    """The backend object, importing it on first use; None if it cannot load."""
    if name in _loaded:
        return _loaded[name]
    if name in _failed:
        return None
    source = _sources[name]
    try:
        if isinstance(source, str):
            module_name, attribute = source.split(":")
            source = getattr(importlib.import_module(module_name), attribute)
        elif hasattr(source, "load") and hasattr(source, "group"):  # an entry point
            source = source.load()
        backend = source() if isinstance(source, type) or not isinstance(source, Backend) else source
        if not isinstance(backend, Backend):
            raise TypeError(f"{backend!r} does not provide supports/estimate/run")
    except Exception as error:  # an optional dependency missing, a broken plugin
        _failed[name] = f"{type(error).__name__}: {error}"
        return None
    _loaded[name] = backend
    return backend


def register(name: str, backend: Any) -> None:
    """Register ``backend`` (an object or a zero-argument factory) under ``name``.

    A registration replaces any earlier backend of that name.

    Examples
    --------
    >>> from arrayconv.backends.direct import DirectBackend
    >>> register("direct-copy", DirectBackend())
    >>> "direct-copy" in available()
    True
    >>> unregister("direct-copy")
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got name={name!r}")
    _discover()
    global _loaded_cache, _generation
    with _lock:
        _sources[name] = backend
        _loaded.pop(name, None)
        _failed.pop(name, None)
        _loaded_cache = None
        _generation += 1


def unregister(name: str) -> None:
    """Remove the backend registered under ``name``."""
    _discover()
    global _loaded_cache, _generation
    with _lock:
        if name not in _sources:
            raise ValueError(f"no backend named {name!r}; registered: {sorted(_sources)}")
        del _sources[name]
        _loaded.pop(name, None)
        _failed.pop(name, None)
        _loaded_cache = None
        _generation += 1


def available() -> list[str]:
    """Names of the backends that are installed and load, sorted.

    Examples
    --------
    >>> "direct" in available()
    True
    """
    _discover()
    return sorted(name for name in list(_sources) if _load(name) is not None)


def unavailable() -> dict[str, str]:
    """Registered backends that failed to load, with the reason for each."""
    available()
    return dict(sorted(_failed.items()))


def get(name: str) -> Backend:
    """The backend registered under ``name``.

    Raises
    ------
    ValueError
        If no backend of that name is registered or it failed to load; the
        message lists the available ones.
    """
    _discover()
    if not isinstance(name, str) or name not in _sources:
        raise ValueError(f"unknown backend={name!r}; available backends: {_describe_available()}")
    backend = _load(name)
    if backend is None:
        raise ValueError(
            f"backend={name!r} is registered but could not be loaded ({_failed[name]}); "
            f"available backends: {_describe_available()}"
        )
    return backend


def _describe_available() -> str:
    names = available()
    text = ", ".join(repr(n) for n in names) if names else "none"
    if _failed:
        text += "; not loadable: " + ", ".join(f"{n!r} ({why})" for n, why in sorted(_failed.items()))
    return text


def loaded() -> list[Backend]:
    """The backend objects of :func:`available`, in name order (cached: on every call's path)."""
    global _loaded_cache
    cache = _loaded_cache
    if cache is None:
        cache = [_loaded[name] for name in available()]
        _loaded_cache = cache
    return cache
