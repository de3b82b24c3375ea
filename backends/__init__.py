"""Backend implementations of arrayconv, installed as ``arrayconv.backends``.

Examples
--------
>>> import arrayconv
>>> "direct" in arrayconv.backends.available()
True
"""

from arrayconv.registry import available, get, register, unavailable, unregister

from ._scratch import release_outputs

__all__ = ["available", "get", "register", "release_outputs", "unavailable", "unregister"]
