"""A warning when an editable install's compiled modules are older than their sources.

Several modules are compiled (the kernels from .pyx and .h files, and the
per-call Python path from its .py files, see setup.py).  In an editable
install (``pip install -e .``) the compiled module sits beside its source and
Python imports it first: an edited .py, .pyx or .h file changes nothing until
the package is rebuilt, silently.  This module looks for that at import time,
in a source checkout only (a ``setup.py`` beside the package), and warns.

Examples
--------
>>> import pathlib
>>> stale_sources(pathlib.Path("/nonexistent"))
[]
"""

from __future__ import annotations

import importlib.machinery
import pathlib
import re
import warnings

__all__ = ["stale_sources", "warn_if_stale"]

# compiled module folders of the checkout, relative to its root (setup.py's package_dir)
_COMPILED_FOLDERS = ("arrayconv", "arrayconv/shape", "backends")


def _compiled_modules(folder: pathlib.Path) -> list[pathlib.Path]:
    # the suffixes overlap (".cpython-311-x86_64-linux-gnu.so" also ends in ".so")
    return sorted({path for suffix in importlib.machinery.EXTENSION_SUFFIXES for path in folder.glob(f"*{suffix}")})


# `cdef extern from "x.h"` in a .pyx, `#include "x.h"` in a header
_INCLUDE = re.compile(r'^\s*(?:cdef\s+extern\s+from|#\s*include)\s+"([^"]+\.h)"', re.MULTILINE)


def _headers(source: pathlib.Path) -> list[pathlib.Path]:
    """The headers of ``source``'s folder that it includes, directly or through another header."""
    found: list[pathlib.Path] = []
    pending = [source]
    while pending:
        try:
            text = pending.pop().read_text(errors="replace")
        except OSError:
            continue
        for name in _INCLUDE.findall(text):
            header = source.parent / name
            if header.exists() and header not in found:
                found.append(header)
                pending.append(header)
    return found


def stale_sources(root: pathlib.Path) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``(source, compiled)`` pairs of the checkout at ``root`` whose source is newer.

    A compiled module's sources are the .py or .pyx file of its name and, for
    a .pyx, the C headers of its folder it includes (directly or through
    another header).
    """
    stale = []
    for relative in _COMPILED_FOLDERS:
        folder = root / relative
        if not folder.is_dir():
            continue
        for compiled in _compiled_modules(folder):
            stem = compiled.name.split(".", 1)[0]
            sources = [folder / f"{stem}.py", folder / f"{stem}.pyx"]
            if sources[1].exists():
                sources += _headers(sources[1])
            try:
                built = compiled.stat().st_mtime
                stale += [(source, compiled) for source in sources if source.exists() and source.stat().st_mtime > built]
            except OSError:  # a broken link or a file removed meanwhile: nothing to compare
                continue
    return stale


def warn_if_stale(package_folder: str) -> None:
    """Warn (once per import) about sources newer than their compiled modules, in a source checkout."""
    root = pathlib.Path(package_folder).resolve().parent
    if not (root / "setup.py").exists():
        return  # an installed package: nothing is rebuilt in place
    stale = stale_sources(root)
    if stale:
        names = ", ".join(str(source.relative_to(root)) for source, _ in stale[:5])
        more = f" and {len(stale) - 5} more" if len(stale) > 5 else ""
        warnings.warn(
            f"arrayconv: {names}{more} changed after the compiled modules were built, and Python "
            "imports the compiled ones: rebuild with `pip install -e .` in the checkout "
            f"({root}) to run the edited code",
            RuntimeWarning,
            stacklevel=3,
        )
