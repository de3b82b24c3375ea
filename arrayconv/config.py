"""Configuration: which backend runs, which are skipped, threads, routing constants.

Each setting is looked up, most specific first, in:

1. the per-call argument (``conv1d(..., backend=...)``), where there is one;
2. the innermost :func:`config_context` (context-local: safe across threads
   and asyncio tasks);
3. :func:`set_config` (process-wide);
4. environment variables: ``ARRAYCONV_BACKEND`` (a name, or ``auto``), ``ARRAYCONV_SKIP``
   (comma-separated), ``ARRAYCONV_NUM_THREADS``, ``ARRAYCONV_MEMORY_LIMIT`` (bytes),
   ``ARRAYCONV_DETERMINISTIC``, ``ARRAYCONV_FFT_ENGINE`` (``auto``, ``mkl`` or ``scipy``),
   ``ARRAYCONV_OUTPUT_CACHE`` (bytes);
5. a TOML file: the one ``ARRAYCONV_CONFIG`` names, else
   ``config.toml`` in the user's config directory
   (``$XDG_CONFIG_HOME/arrayconv``, ``~/.config/arrayconv``, or
   ``%APPDATA%\\arrayconv`` on Windows);
6. the defaults.

The environment and the file are read once, on first use (:func:`reload`
reads them again).  A bad value is a ``ValueError`` or ``TypeError`` that
names where it came from.

The file holds the same keys at the top level::

    backend = "direct"          # force a backend
    skip = ["fft"]              # never pick these automatically
    threads = 2
    memory_limit = 8000000000   # bytes a call may use (default: what is available)
    deterministic = true        # GPU: only bitwise-reproducible algorithms (the CPU always is)
    fft_engine = "scipy"        # the fft backend's transforms: "auto" (MKL if installed), "mkl", "scipy"
    output_cache = 0            # bytes of freed large outputs kept for the next calls (default 512 MiB)
    [routing]                   # constants of the cost models (arrayconv.routing)
    fft_call = 5.7e-5
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from . import routing

__all__ = [
    "Snapshot", "config_context", "set_config", "get_config", "describe", "in_code", "reload", "snapshot",
    "user_config_path",
]

KEYS = ("backend", "skip", "threads", "routing", "memory_limit", "deterministic", "fft_engine", "output_cache")
# Bytes of freed outputs of 4 MiB and more that the CPU backends keep for the
# next calls' outputs (no page faults, no zeroing): a few large layers' worth.
DEFAULT_OUTPUT_CACHE = 512 << 20
DEFAULTS: dict[str, Any] = {
    "backend": None, "skip": (), "threads": None, "routing": (), "memory_limit": None, "deterministic": True,
    "fft_engine": None, "output_cache": DEFAULT_OUTPUT_CACHE,
}
# The fft backend's transform engines (None: "auto", MKL where installed, else pocketfft).
FFT_ENGINES = ("mkl", "scipy")


def _default(key: str) -> Any:
    return dict(DEFAULTS[key]) if key == "routing" else DEFAULTS[key]

_context: contextvars.ContextVar[dict[str, tuple[Any, str]]] = contextvars.ContextVar(
    "arrayconv_config", default={}
)
_global: dict[str, tuple[Any, str]] = {}  # replaced whole on every change
_static: dict[str, tuple[Any, str]] | None = None  # environment over file, read once
_lock = threading.Lock()  # guards _global's read-modify-write in set_config
if hasattr(os, "register_at_fork"):  # a child must not inherit a held lock
    os.register_at_fork(after_in_child=lambda: globals().__setitem__("_lock", threading.Lock()))


# --------------------------------------------------------------------------
# Validation, naming the source


def _validate(key: str, value: Any, source: str) -> Any:
    where = f" (from {source})"
    if key not in KEYS:
        raise ValueError(f"unknown setting {key!r}{where}; the settings are {', '.join(KEYS)}")
    if value is None:
        return DEFAULTS[key]
    if key == "backend":
        if not isinstance(value, str) or not value:
            raise TypeError(f"backend must be a backend's name, 'auto' or None, got backend={value!r}{where}")
        return None if value == "auto" else value
    if key == "skip":
        if isinstance(value, str):
            value = tuple(name.strip() for name in value.split(",") if name.strip())
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise TypeError(f"skip must be a list of backend names, got skip={value!r}{where}")
        return tuple(value)
    if key == "fft_engine":
        if isinstance(value, str) and value.strip().lower() in ("auto", *FFT_ENGINES):
            value = value.strip().lower()
            return None if value == "auto" else value
        names = [repr(name) for name in ("auto", *FFT_ENGINES)]
        choices = f"{', '.join(names[:-1])} or {names[-1]}"
        raise ValueError(f"fft_engine must be {choices}, got fft_engine={value!r}{where}")
    if key == "deterministic":
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no"):
            value = value.strip().lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise TypeError(f"deterministic must be True or False, got deterministic={value!r}{where}")
        return value
    if key == "memory_limit":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"memory_limit must be a positive number of bytes or None, got memory_limit={value!r}{where}")
        return value
    if key == "output_cache":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"output_cache must be a number of bytes (0: keep none) or None, "
                             f"got output_cache={value!r}{where}")
        return value
    if key == "threads":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"threads must be a positive integer or None, got threads={value!r}{where}")
        return value
    # routing
    if not isinstance(value, Mapping):
        raise TypeError(f"routing must be a table of names to numbers, got routing={value!r}{where}")
    for name, number in value.items():
        if not isinstance(name, str) or isinstance(number, bool) or not isinstance(number, (int, float)) or not number > 0:
            raise ValueError(f"routing.{name} must be a positive number, got {number!r}{where}")
        if name.startswith(routing.BUILTIN_PREFIXES) and name not in routing.DEFAULTS:
            raise ValueError(
                f"unknown routing constant {name!r}{where}; the built-in ones are {', '.join(routing.DEFAULTS)}"
            )
    # stored frozen (sorted pairs): hashable, so decisions can be cached on it
    return tuple(sorted((name, float(number)) for name, number in value.items()))


# --------------------------------------------------------------------------
# Environment and file


def user_config_path() -> str:
    """Where the user's config file is looked for when ``ARRAYCONV_CONFIG`` is unset."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or os.path.expanduser("~")
    else:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "arrayconv", "config.toml")


def _read_file() -> dict[str, tuple[Any, str]]:
    named = os.environ.get("ARRAYCONV_CONFIG")
    path = named or user_config_path()
    if not os.path.exists(path):
        if named:
            raise ValueError(f"ARRAYCONV_CONFIG names {path!r}, which does not exist")
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {path!r} is not valid TOML: {error}") from error
    source = f"config file {path}"
    return {key: (_validate(key, value, source), source) for key, value in table.items()}


_ENVIRONMENT = {
    "backend": "ARRAYCONV_BACKEND",
    "skip": "ARRAYCONV_SKIP",
    "threads": "ARRAYCONV_NUM_THREADS",
    "memory_limit": "ARRAYCONV_MEMORY_LIMIT",
    "deterministic": "ARRAYCONV_DETERMINISTIC",
    "fft_engine": "ARRAYCONV_FFT_ENGINE",
    "output_cache": "ARRAYCONV_OUTPUT_CACHE",
}


def _read_static() -> dict[str, tuple[Any, str]]:
    settings = _read_file()
    for key, variable in _ENVIRONMENT.items():
        text = os.environ.get(variable, "").strip()
        if text:
            source = f"environment variable {variable}"
            settings[key] = (_validate(key, text, source), source)
    return settings


def reload() -> None:
    """Read the environment and the config file again (for example after editing the file)."""
    global _static
    _static = _read_static()  # built first, then swapped in whole: no lock to hold across fork


def _static_settings() -> dict[str, tuple[Any, str]]:
    global _static
    if _static is None:
        _static = _read_static()
    return _static


# --------------------------------------------------------------------------
# Lookup and setting


def lookup(key: str) -> tuple[Any, str]:
    """The effective value of ``key`` and where it came from ("default" if nowhere).

    The ``routing`` table is merged across layers, a more specific layer's
    constant winning: a context that sets one constant keeps the others the
    file (say, from ``tune``) set.
    """
    if key == "routing":
        layers = [found for found in (_static_settings().get(key), _global.get(key), _context.get().get(key)) if found]
        if not layers:
            return _default(key), "default"
        merged: dict[str, float] = {}
        for table, _ in layers:
            merged.update(table)
        return merged, " over ".join(source for _, source in reversed(layers))
    found = _context.get().get(key) or _global.get(key) or _static_settings().get(key)
    if found is None:
        return _default(key), "default"
    return found


def routing_key() -> tuple[tuple[tuple[str, float], ...], ...]:
    """The routing tables of the file/environment, set_config and context layers, least
    specific first, as stored (hashable, not merged: the policy's cache key; merge
    with :func:`arrayconv.routing.constants`)."""
    layers = (_static_settings().get("routing"), _global.get("routing"), _context.get().get("routing"))
    return tuple(found[0] for found in layers if found)


class Snapshot(NamedTuple):
    """The settings a call reads, looked up together (see :func:`snapshot`)."""

    backend: str | None  # the forced backend, None: the cost model decides
    backend_source: str  # where ``backend`` came from
    skip: tuple[str, ...]
    threads: int | None
    routing_key: tuple  # :func:`routing_key`
    memory_limit: int | None
    output_cache: int
    fft_engine: str | None  # the fft backend's engine setting (its estimates depend on it)


_snapshot: tuple[Any, ...] | None = None  # (context, global, static layers, the snapshot they give)


def snapshot() -> Snapshot:
    """The settings the per-call path reads (backend, skip, threads, routing, memory_limit,
    output_cache, fft_engine), looked up in one call.

    Cached on the identity of the three layers (each is replaced whole,
    never changed in place, and the cache holds them so no identity is
    reused): a call made with the same settings as the last one pays one
    context lookup and three identity checks.
    """
    global _snapshot
    context, static = _context.get(), _static_settings()
    cached = _snapshot
    if cached is not None and cached[0] is context and cached[1] is _global and cached[2] is static:
        return cached[3]
    layers = (context, _global, static)
    backend, backend_source = lookup("backend")
    value = Snapshot(
        backend=backend, backend_source=backend_source, skip=lookup("skip")[0], threads=lookup("threads")[0],
        routing_key=routing_key(), memory_limit=lookup("memory_limit")[0], output_cache=lookup("output_cache")[0],
        fft_engine=lookup("fft_engine")[0],
    )
    _snapshot = (*layers, value)
    return value


def get_config() -> dict[str, Any]:
    """The effective settings.

    Examples
    --------
    >>> sorted(get_config())
    ['backend', 'deterministic', 'fft_engine', 'memory_limit', 'output_cache', 'routing', 'skip', 'threads']
    """
    return {key: lookup(key)[0] for key in KEYS}


def in_code() -> dict[str, Any]:
    """The settings made in code (``set_config``, then the active ``config_context``
    over it), as keyword arguments for :func:`config_context`: to carry them to
    code that runs elsewhere, such as the tasks of a Dask graph.

    Examples
    --------
    >>> with config_context(backend="direct", threads=1):
    ...     sorted(in_code().items())
    [('backend', 'direct'), ('threads', 1)]
    """
    carried: dict[str, Any] = {}
    for layer in (_global, _context.get()):
        for key, (value, _) in layer.items():
            if key == "routing":
                carried[key] = {**carried.get(key, {}), **dict(value)}
            elif key == "backend" and value is None:
                carried[key] = "auto"  # so that it overrides a backend the worker's file names
            else:
                carried[key] = value
    return carried


def describe() -> dict[str, tuple[Any, str]]:
    """Each setting's effective value and its source, for ``python -m arrayconv info``."""
    return {key: lookup(key) for key in KEYS}


def set_config(**settings: Any) -> None:
    """Set process-wide settings; None removes this layer's value (the environment's,
    the file's or the default applies again).  ``backend="auto"`` lets the cost
    model choose even where a lower layer forces a backend.

    Examples
    --------
    >>> set_config(threads=1)
    >>> get_config()["threads"]
    1
    >>> set_config(threads=None)
    """
    global _global
    validated = {key: _validate(key, value, "set_config") for key, value in settings.items()}
    with _lock:
        updated = dict(_global)  # replaced, never changed in place: snapshot() keys on identity
        for key, value in validated.items():
            if settings[key] is None:
                updated.pop(key, None)
            else:
                updated[key] = (value, "set_config")
        _global = updated


@contextlib.contextmanager
def config_context(**settings: Any) -> Iterator[None]:
    """Settings for the code inside the ``with`` block only (this thread or task).

    A value of None leaves that setting as it is outside the block;
    ``backend="auto"`` lets the cost model choose.  Threads started inside
    the block (and executor workers) do not inherit it: contextvars are not
    copied into new threads.

    Examples
    --------
    >>> import numpy as np, arrayconv
    >>> with arrayconv.config_context(backend="direct", threads=1):
    ...     arrayconv.conv1d(np.ones((1, 1, 4)), np.ones((1, 1, 2))).shape
    (1, 1, 3)
    """
    validated = {
        key: (_validate(key, value, "config_context"), "config_context")
        for key, value in settings.items()
        if value is not None or key not in KEYS
    }
    token = _context.set({**_context.get(), **validated})
    try:
        yield
    finally:
        _context.reset(token)
