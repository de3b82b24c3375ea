"""Whether the OpenMP threads of the kernels (and of MKL, on the same runtime) spin while idle.

GNU OpenMP threads spin for a while after each parallel region by default,
waiting for the next one.  On a machine whose cores are shared (a notebook
server, a CI runner, a container with a CPU quota) a spinning thread takes a
core that another process needs, and a thread that shares its core with a
busy process holds up every region it is part of: the 1e6-sample FIR went
from 6 ms to 95-156 ms on two threads with one core busy elsewhere.  So
arrayconv makes its runtime wait passively (sleep at once), unless told
otherwise:

* ``ARRAYCONV_WAIT_POLICY=active`` (or ``passive``) before arrayconv is
  imported chooses for arrayconv's runtime alone;
* else an ``OMP_WAIT_POLICY`` the environment already sets is left to act;
* else the runtime is loaded with ``OMP_WAIT_POLICY=PASSIVE``, and the
  variable is removed again, so that other libraries' runtimes (torch's
  bundled one, say) and child processes see the environment they were given.

The runtime reads the policy once, when it is loaded: where another library
loaded the same libgomp first, its policy stays and :func:`describe` says so.

Examples
--------
>>> describe()[0] in ("passive", "active", "the OpenMP default")
True
"""

from __future__ import annotations

import os
import warnings

__all__ = ["before_loading", "after_loading", "describe"]

_CHOICES = {"passive": "PASSIVE", "active": "ACTIVE"}
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
        warnings.warn(f"ARRAYCONV_WAIT_POLICY must be 'passive' or 'active', got ARRAYCONV_WAIT_POLICY={chosen!r}; "
                      "using 'passive'", RuntimeWarning, stacklevel=3)
        chosen = "passive"
    if _libgomp_loaded():
        inherited = os.environ.get("OMP_WAIT_POLICY", "")
        _state.update(policy=inherited.lower() or "the OpenMP default",
                      reason="another library loaded the OpenMP runtime first, with the environment it had then")
        return
    if not chosen and "OMP_WAIT_POLICY" in os.environ:
        _state.update(policy=os.environ["OMP_WAIT_POLICY"].strip().lower() or "the OpenMP default",
                      reason="environment variable OMP_WAIT_POLICY")
        return
    _state.update(
        policy=chosen or "passive",
        reason="environment variable ARRAYCONV_WAIT_POLICY" if chosen else
        "arrayconv's default: idle threads sleep, so a busy machine is not slowed further "
        "(ARRAYCONV_WAIT_POLICY=active spins, for dedicated machines)",
        set_here=True, saved=os.environ.get("OMP_WAIT_POLICY"),
    )
    os.environ["OMP_WAIT_POLICY"] = _CHOICES[chosen or "passive"]


def after_loading() -> None:
    """Give the environment back as it was, once the runtime has read it."""
    if _state.pop("set_here", False):
        saved = _state.pop("saved", None)
        if saved is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = saved


def describe() -> tuple[str, str]:
    """(the policy of arrayconv's OpenMP runtime, why)."""
    return _state["policy"], _state["reason"]
