"""Whether the OpenMP threads of the kernels (and of MKL, on the same runtime) spin while idle.

GNU OpenMP threads spin for some milliseconds after each parallel region by
default, waiting for the next one.  On a machine whose cores are shared (a
notebook server, a CI runner, a container with a CPU quota) a spinning thread
takes a core that another process needs, and a thread that shares its core
with a busy process holds up every region it is part of: the 1e6-sample FIR
went from 6 ms to 95-156 ms on two threads with one core busy elsewhere.  A
thread that sleeps at once, on the other hand, must be woken for the next
call, which costs tens to hundreds of microseconds on a virtual machine: a
2-thread call of 150 us took longer than on one thread.  So arrayconv's
runtime spins briefly, some ten microseconds (``GOMP_SPINCOUNT``): long
enough for the next of back-to-back calls, short enough that a machine's
busy core is not held (ten times longer let the FFT cases take 1.6-2.5x
their quiet time beside a busy core); then it sleeps.  Unless told otherwise:

* ``ARRAYCONV_WAIT_POLICY=brief``, ``passive`` (sleep at once) or ``active``
  (spin) before arrayconv is imported chooses for arrayconv's runtime alone;
* else an ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` the environment already
  sets is left to act;
* else the runtime is loaded with ``GOMP_SPINCOUNT`` set for the brief spin,
  and the variable is removed again, so that other libraries' runtimes
  (torch's bundled one, say) and child processes see the environment they
  were given.

The runtime reads the policy once, when it is loaded: where another library
loaded the same libgomp first, its policy stays and :func:`describe` says so.

Examples
--------
>>> describe()[0] in ("brief", "passive", "active", "the OpenMP default")
True
"""

from __future__ import annotations

import os
import warnings

__all__ = ["before_loading", "after_loading", "describe"]

# What each choice sets in the environment the runtime reads (None: unset).
# libgomp counts about 100,000 spins per millisecond: 1,000 is about 10 us.
_BRIEF_SPINS = "1000"
_CHOICES = {
    "brief": {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": _BRIEF_SPINS},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None},
    "active": {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": None},
}
_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_state = {"policy": "the OpenMP default", "reason": "not yet loaded", "set_here": False}


def _libgomp_loaded() -> bool:
    """Whether the process has already mapped the system's libgomp (Linux; elsewhere: unknown, False)."""
    try:
        with open("/proc/self/maps") as maps:
            # the soname the kernels link (a wheel's hashed copy, libgomp-1a2b.so.1, is another library)
            return any(os.path.basename(line.split()[-1]).startswith("libgomp.so") for line in maps if "/" in line)
    except OSError:
        return False


def before_loading() -> None:
    """Set the environment the OpenMP runtime reads as it loads (call before the kernels are imported)."""
    chosen = os.environ.get("ARRAYCONV_WAIT_POLICY", "").strip().lower()
    if chosen and chosen not in _CHOICES:
        # a tuning knob: a typo should not make the package unimportable
        warnings.warn(f"ARRAYCONV_WAIT_POLICY must be one of {', '.join(map(repr, _CHOICES))}, "
                      f"got ARRAYCONV_WAIT_POLICY={chosen!r}; using 'brief'", RuntimeWarning, stacklevel=3)
        chosen = "brief"
    if _libgomp_loaded():
        inherited = os.environ.get("OMP_WAIT_POLICY", "")
        _state.update(policy=inherited.lower() or "the OpenMP default",
                      reason="another library loaded the OpenMP runtime first, with the environment it had then")
        return
    if not chosen and any(name in os.environ for name in _VARIABLES):
        policy = os.environ.get("OMP_WAIT_POLICY", "").strip().lower()
        spins = os.environ.get("GOMP_SPINCOUNT")
        _state.update(policy=policy or (f"spin {spins}" if spins is not None else "the OpenMP default"),
                      reason=" and ".join(f"environment variable {name}" for name in _VARIABLES if name in os.environ))
        return
    _state.update(
        policy=chosen or "brief",
        reason="environment variable ARRAYCONV_WAIT_POLICY" if chosen else
        "arrayconv's default: idle threads spin about 10 us for the next call, then sleep, so a busy "
        "machine is not held up for long (ARRAYCONV_WAIT_POLICY=passive sleeps at once, active spins)",
        set_here=True, saved={name: os.environ.get(name) for name in _VARIABLES},
    )
    for name, value in _CHOICES[chosen or "brief"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def after_loading() -> None:
    """Give the environment back as it was, once the runtime has read it."""
    if _state.pop("set_here", False):
        for name, value in _state.pop("saved").items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def describe() -> tuple[str, str]:
    """(the policy of arrayconv's OpenMP runtime, why)."""
    return _state["policy"], _state["reason"]
