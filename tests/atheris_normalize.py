"""A coverage-guided fuzz harness (atheris / libFuzzer) for the argument-parsing layer.

The shape package's own sources (arrayconv/shape/*.py; the installed
modules of the per-call path are compiled, which atheris cannot see into)
are loaded under coverage instrumentation and fed arguments decoded from the fuzzer's bytes: arrays of
any rank, size and dtype, and scalars of every type.  Anything but a
ValueError, TypeError or WorkspaceError is a finding; so is a spec whose
sizes disagree with the arguments.

    python tests/atheris_normalize.py -max_total_time=600    # ten minutes
    python tests/atheris_normalize.py -runs=2000              # a smoke run (the suite does this)
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

import atheris
import numpy as np

with atheris.instrument_imports():
    import array_api_compat  # noqa: F401

_SOURCE = pathlib.Path(__file__).resolve().parent.parent / "arrayconv" / "shape"
# the modules, each after those it imports
_MODULES = ("arguments", "conv_spec", "transpose_spec", "gradient_spec", "chunked_input", "layer", "memory")


def _load_sources() -> types.ModuleType:
    """The shape package from its .py files, as ``arrayconv._shape_source`` (its relative
    imports of the floors below reach the installed arrayconv)."""
    import arrayconv  # noqa: F401  (the parent of the package loaded here)

    name = "arrayconv._shape_source"
    package = types.ModuleType(name)
    package.__path__ = []  # no finder looks here: every module is loaded below
    sys.modules[name] = package
    for module in _MODULES:
        spec = importlib.util.spec_from_file_location(f"{name}.{module}", _SOURCE / f"{module}.py")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded  # dataclasses look their module up
        spec.loader.exec_module(loaded)
        setattr(package, module, loaded)
    return package


shape = _load_sources()
atheris.instrument_all()

_DTYPES = ["float16", "float32", "float64", "complex64", "complex128", "int32", "bool", "object", ">f8", "<U2"]
_STRINGS = ["same", "valid", "causal", "zeros", "reflect", "replicate", "circular", "full", "", "1"]


def _scalar(data: atheris.FuzzedDataProvider):
    kind = data.ConsumeIntInRange(0, 7)
    if kind <= 2:
        return data.ConsumeIntInRange(-3, 12)
    if kind == 3:
        return data.ConsumeInt(9)  # up to 72-bit magnitudes
    if kind == 4:
        return _STRINGS[data.ConsumeIntInRange(0, len(_STRINGS) - 1)]
    if kind == 5:
        return (data.ConsumeIntInRange(-2, 5),) * data.ConsumeIntInRange(0, 2)
    if kind == 6:
        return data.ConsumeFloat()
    return [None, True, np.int64(2), [1]][data.ConsumeIntInRange(0, 3)]


def _array(data: atheris.FuzzedDataProvider):
    if data.ConsumeIntInRange(0, 15) == 0:
        return [None, [[1.0]], "x", 1.0][data.ConsumeIntInRange(0, 3)]
    ndim = data.ConsumeIntInRange(0, 4)
    dims = tuple(data.ConsumeIntInRange(0, 6) for _ in range(ndim))
    dtype = _DTYPES[data.ConsumeIntInRange(0, len(_DTYPES) - 1)]
    return np.zeros(dims, dtype=dtype)


def test_one_input(raw: bytes) -> None:
    data = atheris.FuzzedDataProvider(raw)
    args = [_array(data), _array(data), _array(data) if data.ConsumeBool() else None]
    args += [_scalar(data) for _ in range(5)]
    try:
        spec = shape.conv_spec.normalize(*args)
    except (ValueError, TypeError, MemoryError):
        return
    x = args[0]
    assert spec.batch * spec.in_channels * spec.length == x.size  # (C, L) input: batch 1
    assert spec.batched == (x.ndim == 3)
    assert spec.length_out >= 0 and spec.kernel_size >= 1 and spec.stride >= 1 and spec.dilation >= 1
    assert spec.length_out == shape.conv_spec.output_length(spec.padded_length, spec.kernel_size, spec.stride, spec.dilation)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
