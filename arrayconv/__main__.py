"""``python -m arrayconv``: the PyTorch docs' Conv1d example, checked (``bench``, ``tune``, ``info``: see --help).

Examples
--------
>>> main([])  # doctest: +ELLIPSIS
arrayconv ... demo: the example of the PyTorch Conv1d docs
...
OK
0
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from . import __version__, _interop, bench, config, policy, registry, shape, threads, tune
from .backends import _mkl_runtime
from .module import Conv1d


def _reference(x: np.ndarray, m: Conv1d) -> np.ndarray:
    """The layer's output by the definition, in float64 NumPy (no padding, no groups)."""
    windows = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), m.kernel_size[0], axis=2)
    windows = windows[:, :, :: m.stride[0], :]
    return np.einsum("nctk,ock->not", windows, m.weight.astype(np.float64)) + m.bias[:, None]


def demo(seed: int = 0) -> int:
    """Run ``Conv1d(16, 33, 3, stride=2)`` on a (20, 16, 50) input and check it."""
    rng = np.random.default_rng(seed)
    m = Conv1d(16, 33, 3, stride=2, rng=rng)
    x = rng.standard_normal((20, 16, 50)).astype(np.float32)
    spec = shape.normalize(x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, m.padding_mode)
    backend = policy.choose(spec, _interop.device_name(x)).name
    y = m(x)
    expected = _reference(x, m)
    error = float(np.abs(y - expected).max())
    relative = error / float(np.abs(expected).max())
    ok = y.shape == (20, 33, 24) and y.dtype == np.float32 and relative < 1e-5
    print(f"arrayconv {__version__} demo: the example of the PyTorch Conv1d docs")
    print(f"  m = {m!r}")
    print(f"  input {x.shape} {x.dtype} -> output {y.shape} {y.dtype}")
    print(f"  backend: {backend} (available: {', '.join(registry.available())})")
    print(f"  max |error| against a float64 NumPy reference: {error:.2e} (relative {relative:.2e})")
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


def info() -> int:
    """Print versions, backends, threads and the active configuration with each value's source."""
    import platform

    import scipy
    import threadpoolctl

    print(f"arrayconv {__version__} on Python {platform.python_version()} ({platform.machine()})")
    print(f"  numpy {np.__version__}, scipy {scipy.__version__}, threadpoolctl {threadpoolctl.__version__}")
    print(f"backends available: {', '.join(registry.available()) or 'none'}")
    for name, reason in registry.unavailable().items():
        print(f"  not loadable: {name} ({reason})")
    if "fft" in registry.available():
        import mkl_fft

        print(f"  fft: mkl-fft {mkl_fft.__version__}, MKL threading layer {_mkl_runtime.threading_layer()} "
              f"(MKL_THREADING_LAYER={os.environ.get('MKL_THREADING_LAYER', 'unset')})")
    try:
        settings = config.describe()
    except (TypeError, ValueError) as error:
        print(f"configuration error: {error}")
        return 1
    named = os.environ.get("ARRAYCONV_CONFIG")
    path = named or config.user_config_path()
    state = "exists" if os.path.exists(path) else "absent"
    print(f"configuration file: {path} ({state}{', from ARRAYCONV_CONFIG' if named else ''})")
    for key, (value, source) in settings.items():
        print(f"  {key} = {value!r}  [{source}]")
    source = settings["threads"][1] if settings["threads"][0] is not None else "OMP_NUM_THREADS or the usable cores"
    print(f"threads used by the kernels: {threads.get()}  [{source}]")
    for library in threadpoolctl.threadpool_info():
        print(f"  runtime: {library['internal_api']} {library.get('version') or ''} "
              f"({library['num_threads']} threads) {library['filepath']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        return bench.main(argv[1:])
    if argv[:1] == ["tune"]:
        return tune.main(argv[1:])
    if argv[:1] == ["info"]:
        if argv[1:]:
            print(f"python -m arrayconv info takes no arguments, got {argv[1:]}", file=sys.stderr)
            return 2
        return info()
    parser = argparse.ArgumentParser(
        prog="python -m arrayconv",
        description=__doc__.splitlines()[0],
        epilog="python -m arrayconv bench --help: the benchmark comparison with torch; "
        "python -m arrayconv tune --help: fit the routing constants to this machine; "
        "python -m arrayconv info: backends, threads and configuration",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo's layer and input")
    args = parser.parse_args(argv)
    return demo(args.seed)


if __name__ == "__main__":
    sys.exit(main())
