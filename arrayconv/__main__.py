"""``python -m arrayconv``: the PyTorch docs' Conv1d example, checked; and the ``info``,
``explain``, ``bench`` and ``tune`` commands (each with ``--help``).

Examples
--------
>>> main([])  # doctest: +ELLIPSIS
arrayconv ... demo: the example of the PyTorch Conv1d docs
...
OK
0
>>> main(["explain", "4,16,32768", "16,16,2049", "--padding", "1024"])  # doctest: +ELLIPSIS
backend: fft (chosen by cost model)
  * fft ...
0
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from . import __version__, _interop, _wait_policy, bench, config, policy, registry, shape, threads, tune
from .explain import explain
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
    try:
        settings = config.describe()
    except (TypeError, ValueError) as error:
        print(f"configuration error: {error}")
        return 1
    if "fft" in registry.available():
        print(f"  fft engine: {registry.get('fft').describe_engine()} "
              f"(MKL_THREADING_LAYER={os.environ.get('MKL_THREADING_LAYER', 'unset')})")
    named = os.environ.get("ARRAYCONV_CONFIG")
    path = named or config.user_config_path()
    state = "exists" if os.path.exists(path) else "absent"
    print(f"configuration file: {path} ({state}{', from ARRAYCONV_CONFIG' if named else ''})")
    for key, (value, source) in settings.items():
        print(f"  {key} = {value!r}  [{source}]")
    count, reason = threads.describe()
    print(f"threads used by the kernels: {count}  [{reason}]")
    cores, why = threads.usable_cores()
    print(f"  usable cores: {cores}  [{why}]")
    policy, why = _wait_policy.describe()
    print(f"  idle OpenMP threads: {policy}  [{why}]")
    for library in threadpoolctl.threadpool_info():
        print(f"  runtime: {library['internal_api']} {library.get('version') or ''} "
              f"({library['num_threads']} threads) {library['filepath']}")
    return 0


def _shape(text: str) -> tuple[int, ...]:
    """A shape on the command line: comma-separated sizes, e.g. ``8,64,4096``."""
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is comma-separated sizes such as 8,64,4096, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"a shape is comma-separated sizes such as 8,64,4096, got {text!r}")
    return sizes


def _int_or_word(text: str) -> int | str:
    """``--padding``: an int, or a word such as 'same' (checked by conv1d's own validation)."""
    try:
        return int(text)
    except ValueError:
        return text


def _add_explain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=_shape, help="input shape, e.g. 8,64,4096 (N,C_in,L, or C_in,L unbatched)")
    parser.add_argument("weight", type=_shape, help="weight shape, e.g. 128,64,7 (C_out,C_in/groups,K)")
    parser.add_argument("--bias", action="store_true", help="with a bias of C_out values")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--padding", type=_int_or_word, default=0, help="an int, 'valid', 'same' or 'causal'")
    parser.add_argument("--dilation", type=int, default=1)
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--padding-mode", default="zeros", help="zeros, reflect, replicate or circular")
    parser.add_argument("--dtype", default="float32", help="float32, float64, complex64 or complex128")
    parser.add_argument("--backend", help="force a backend, as conv1d's backend argument")
    parser.add_argument("--device", help="the arrays' device (default cpu)")


def _explain(args: argparse.Namespace) -> int:
    """Print what :func:`arrayconv.explain` says of the call the options describe."""
    bias = args.weight[:1] if args.bias else None
    try:
        explanation = explain(args.input, args.weight, bias, args.stride, args.padding, args.dilation, args.groups,
                              args.padding_mode, backend=args.backend, dtype=args.dtype, device=args.device)
    except (TypeError, ValueError) as error:
        print(f"python -m arrayconv explain: {error}", file=sys.stderr)
        return 2
    print(explanation)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line: the demo by default, and the ``info``, ``explain``, ``bench`` and ``tune`` commands."""
    parser = argparse.ArgumentParser(
        prog="python -m arrayconv",
        description="Without a command: run the PyTorch docs' Conv1d example and check it against NumPy.",
        epilog="Each command has its own --help, e.g. python -m arrayconv bench --help.",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo's layer and input")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    commands.add_parser("info", help="versions, backends, threads and the configuration with its sources",
                        description="Print versions, backends, threads and the configuration with each value's source.")
    explainer = commands.add_parser("explain", help="which backend a conv1d call would run on, and why",
                                    description="Print what arrayconv.explain says of a conv1d call given by its "
                                    "shapes and options (nothing is computed).")
    _add_explain_arguments(explainer)
    bench_parser = commands.add_parser("bench", help="time arrayconv against torch on the benchmark cases",
                                       description=bench.__doc__.splitlines()[0])
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(command_parser=bench_parser)  # its errors name the command
    tune_parser = commands.add_parser("tune", help="fit the routing cost model to this machine",
                                      description=tune.__doc__.splitlines()[0])
    tune.add_arguments(tune_parser)
    tune_parser.set_defaults(command_parser=tune_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command == "info":
        return info()
    if args.command == "explain":
        return _explain(args)
    if args.command == "bench":
        return bench.run(args, args.command_parser)
    if args.command == "tune":
        return tune.run(args, args.command_parser)
    return demo(args.seed)


if __name__ == "__main__":
    sys.exit(main())
