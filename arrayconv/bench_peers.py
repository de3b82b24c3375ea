"""``python -m arrayconv bench --peers``: arrayconv against the CPU conv1d a user could pick instead.

The peers are torch (oneDNN), ONNX Runtime (MLAS), OpenVINO and JAX/XLA,
whichever are installed (``pip install -e ".[peers]"`` brings the last
three; torch comes with the bench extra).  Each library is timed in its own
block of calls after a warm-up (single calls interleaved across libraries
would let one library's spinning thread pool take the cores of the next),
and the order of the blocks is run forwards and then backwards.  Each
peer's output is checked against arrayconv's before it is timed.  The same
run's float32 matrix-product rate (scipy's BLAS, and torch.matmul where
torch is installed; the higher is the ceiling) is printed, and each row
gives arrayconv's GFLOP/s and its share of that ceiling.  JAX runs on its
own thread pool (all cores): XLA takes its thread count only when it loads.

Examples
--------
>>> case = PEER_CASES["tiny"]
>>> case.input_shape, case.weight_shape, case.kwargs
((1, 32, 256), (32, 32, 3), {'padding': 1})
>>> peer_flops(case)  # 2 * 32 outputs * 256 positions * 32 channels * 3 taps
1572864
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import shape, threads
from .bench_rates import gemm_rate, restores_torch_threads, torch_matmul_rate
from .functional import conv1d

__all__ = ["PEER_CASES", "PeerCase", "PeerResult", "PEERS", "peer_flops", "peer_status", "is_installed",
           "compare_peers", "report"]


@dataclass(frozen=True)
class PeerCase:
    """One float32 layer: input and weight shapes and conv1d keywords."""

    input_shape: tuple[int, ...]
    weight_shape: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


# The shape families of issue 16: GEMM-bound layers, pointwise, few channels at a
# large stride, grouped, and small single-item calls.
PEER_CASES: dict[str, PeerCase] = {
    "speech_stem": PeerCase((8, 1, 16000), (512, 1, 10), dict(stride=5)),
    "pointwise": PeerCase((16, 256, 2048), (512, 256, 1)),
    "stride2": PeerCase((16, 128, 8192), (128, 128, 4), dict(stride=2, padding=1)),
    "cnn": PeerCase((32, 64, 4096), (128, 64, 7), dict(padding=3)),
    "dilated_tcn": PeerCase((16, 64, 2048), (64, 64, 3), dict(padding=16, dilation=16)),
    "k3": PeerCase((4, 80, 3000), (384, 80, 3), dict(padding=1)),
    "tiny": PeerCase((1, 32, 256), (32, 32, 3), dict(padding=1)),
    "grouped": PeerCase((8, 128, 2048), (256, 16, 5), dict(padding=2, groups=8)),
    "one_item": PeerCase((1, 80, 100), (256, 80, 3), dict(padding=1)),
    "depthwise": PeerCase((16, 256, 4096), (256, 1, 31), dict(padding=15, groups=256)),
}


def peer_flops(case: PeerCase) -> int:
    """Floating-point operations of the direct definition (2 per multiply-add)."""
    x, w = np.empty(case.input_shape, np.float32), np.empty(case.weight_shape, np.float32)
    return 2 * shape.normalize(x, w, None, **case.kwargs).macs


def _settings(case: PeerCase) -> tuple[int, int, int, int]:
    """(stride, padding, dilation, groups) of a case (symmetric integer padding)."""
    kwargs = case.kwargs
    return (kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1), kwargs.get("groups", 1))


def _onnx_model(case: PeerCase, w: np.ndarray, b: np.ndarray) -> bytes:
    """A one-node ONNX graph (Conv, opset 17) of the case, with its weight and bias as initializers."""
    from onnx import TensorProto, helper, numpy_helper

    stride, padding, dilation, groups = _settings(case)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[w.shape[2]], strides=[stride],
                            pads=[padding, padding], dilations=[dilation], group=groups)
    graph = helper.make_graph(
        [node], "conv1d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(case.input_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )
    # IR version 10: what every ONNX Runtime and OpenVINO of the last two years reads
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    return model.SerializeToString()


def _torch(case: PeerCase, x: np.ndarray, w: np.ndarray, b: np.ndarray, num_threads: int) -> Callable[[], Any]:
    import torch

    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))

    def run() -> Any:
        torch.set_num_threads(num_threads)
        with torch.no_grad():
            return torch.nn.functional.conv1d(tx, tw, tb, **case.kwargs).numpy()

    return run


def _onnxruntime(case: PeerCase, x: np.ndarray, w: np.ndarray, b: np.ndarray, num_threads: int) -> Callable[[], Any]:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(_onnx_model(case, w, b), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"x": x})[0]


def _openvino(case: PeerCase, x: np.ndarray, w: np.ndarray, b: np.ndarray, num_threads: int) -> Callable[[], Any]:
    import openvino

    core = openvino.Core()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "conv1d.onnx")
        with open(path, "wb") as file:
            file.write(_onnx_model(case, w, b))
        model = core.read_model(path)
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": num_threads,
                                                 "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    return lambda: request.infer({0: x})[compiled.output(0)]


def _jax(case: PeerCase, x: np.ndarray, w: np.ndarray, b: np.ndarray, num_threads: int) -> Callable[[], Any]:
    import jax

    stride, padding, dilation, groups = _settings(case)
    weight, bias, signal = jax.device_put(w), jax.device_put(b), jax.device_put(x)

    @jax.jit
    def layer(signal: Any) -> Any:
        y = jax.lax.conv_general_dilated(signal, weight, window_strides=(stride,), padding=[(padding, padding)],
                                         rhs_dilation=(dilation,), feature_group_count=groups,
                                         dimension_numbers=("NCH", "OIH", "NCH"))
        return y + bias[None, :, None]

    return lambda: np.asarray(layer(signal).block_until_ready())


# name: (module that must import, runner)
PEERS: dict[str, tuple[str, Callable[..., Callable[[], Any]]]] = {
    "torch": ("torch", _torch),
    "onnxruntime": ("onnxruntime", _onnxruntime),
    "openvino": ("openvino", _openvino),
    "jax": ("jax", _jax),
}


def is_installed(name: str) -> bool:
    """Whether a peer's modules import (ONNX Runtime and OpenVINO read the model onnx builds).

    Examples
    --------
    >>> is_installed("torch") in (True, False)
    True
    """
    needs = [PEERS[name][0]] + (["onnx"] if name in ("onnxruntime", "openvino") else [])
    return all(importlib.util.find_spec(module) is not None for module in needs)


def peer_status() -> dict[str, str]:
    """Each peer's version, or why it is not timed.

    Examples
    --------
    >>> sorted(peer_status())
    ['jax', 'onnxruntime', 'openvino', 'torch']
    """
    return {name: (getattr(importlib.import_module(module), "__version__", "installed") if is_installed(name)
                   else 'not installed (pip install -e ".[peers]")')
            for name, (module, _) in PEERS.items()}


@dataclass
class PeerResult:
    case: str
    seconds: dict[str, float]  # library: median seconds per call
    gflops: float  # arrayconv's
    ceiling_fraction: float  # arrayconv's GFLOP/s over the matrix-product rate
    # library: its median seconds per call in each round (the rounds' blocks run back to back)
    rounds: dict[str, list[float]] = field(default_factory=dict)

    @property
    def best_peer(self) -> tuple[str, float] | None:
        peers = {name: t for name, t in self.seconds.items() if name != "arrayconv"}
        return min(peers.items(), key=lambda item: item[1]) if peers else None

    def round_ratios(self, peer: str) -> list[float]:
        """``peer``'s time over arrayconv's, round by round: each compares two blocks run
        within about a second of each other, so a machine whose speed drifts (a shared
        or virtual one) moves both alike."""
        return [theirs / ours for theirs, ours in zip(self.rounds.get(peer, []), self.rounds.get("arrayconv", []))]


# seconds of rest before a library's block: the thread pools of the library timed before it
# (ONNX Runtime's, OpenVINO's TBB, XLA's) spin for a while after their last call, on the
# cores the next library needs
_SETTLE = 0.2


def _block(function: Callable[[], Any], samples: int, min_time: float) -> list[float]:
    """Seconds per call: ``samples`` samples of a loop of calls lasting about ``min_time``, after
    a rest (:data:`_SETTLE`) and a warm-up."""
    time.sleep(_SETTLE)
    function()
    start = time.perf_counter()
    function()
    once = time.perf_counter() - start
    calls = max(1, int(min_time / max(once, 1e-9)))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return times


@restores_torch_threads
def compare_peers(names: Sequence[str], num_threads: int, ceiling: float, samples: int = 3,
                  min_time: float = 0.05, progress: Callable[[str], None] | None = None,
                  rounds: int = 4) -> list[PeerResult]:
    """Time arrayconv and every installed peer on each case, in ``rounds`` rounds of one block per
    library (the order forwards, then backwards, and so on); ``ceiling`` is the matrix-product
    rate in FLOP/s.

    Examples
    --------
    >>> (result,) = compare_peers(["tiny"], num_threads=1, ceiling=1e10, samples=1, min_time=0.001)
    >>> "arrayconv" in result.seconds and result.gflops > 0 and len(result.rounds["arrayconv"]) == 4
    True
    """
    if rounds < 1 or samples < 1:
        raise ValueError(f"compare_peers needs at least one round and one sample, got rounds={rounds}, "
                         f"samples={samples}")
    installed = [peer for peer in PEERS if is_installed(peer)]
    threads.set_num_threads(num_threads)
    results = []
    try:
        for name in names:
            case = PEER_CASES[name]
            if progress:
                progress(name)
            rng = np.random.default_rng(0)
            x, w, b = (rng.standard_normal(s).astype(np.float32)
                       for s in (case.input_shape, case.weight_shape, case.weight_shape[:1]))
            expected = np.asarray(conv1d(x, w, b, **case.kwargs))
            functions: dict[str, Callable[[], Any]] = {"arrayconv": lambda: conv1d(x, w, b, **case.kwargs)}
            for peer in installed:
                functions[peer] = PEERS[peer][1](case, x, w, b, num_threads)
                got = np.asarray(functions[peer]())
                scale = float(np.max(np.abs(expected))) or 1.0
                if got.shape != expected.shape or np.max(np.abs(got - expected)) > 1e-3 * scale:
                    raise AssertionError(f"{peer} disagrees with arrayconv on {name}: the peer's model is wrong")
            times: dict[str, list[float]] = {key: [] for key in functions}
            per_round: dict[str, list[float]] = {key: [] for key in functions}
            for round_index in range(rounds):
                order = list(functions) if round_index % 2 == 0 else list(functions)[::-1]
                for key in order:
                    block = _block(functions[key], samples, min_time)
                    times[key] += block
                    per_round[key].append(statistics.median(block))
            medians = {key: statistics.median(values) for key, values in times.items()}
            rate = peer_flops(case) / medians["arrayconv"]
            results.append(PeerResult(name, medians, rate / 1e9, rate / ceiling, per_round))
    finally:
        threads.set_num_threads(None)
    return results


def _format(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} us"


def report(num_threads: int, quick: bool = False, names: Sequence[str] = ()) -> int:
    """Print the peers' table (``quick``: fewer, shorter samples)."""
    status = peer_status()
    print("peers: " + ", ".join(f"{name} {version}" for name, version in status.items()), flush=True)
    rates = {"scipy BLAS": gemm_rate("float32", num_threads)}
    if is_installed("torch"):
        rates["torch.matmul"] = torch_matmul_rate(num_threads)
    ceiling = max(rates.values())
    print(f"ceiling: float32 matrix product (2048^3), {num_threads} threads: "
          + ", ".join(f"{name} {rate / 1e9:.1f} GFLOP/s" for name, rate in rates.items())
          + f"; the ceiling is {ceiling / 1e9:.1f} GFLOP/s", flush=True)
    chosen = list(names) or list(PEER_CASES)
    unknown = [name for name in chosen if name not in PEER_CASES]
    if unknown:
        print(f"unknown peer case(s) {unknown}; choose from {list(PEER_CASES)}", file=sys.stderr)
        return 2
    results = compare_peers(chosen, num_threads, ceiling, samples=3, min_time=0.01 if quick else 0.05,
                            progress=lambda text: print(f"... {text}", flush=True), rounds=2 if quick else 4)
    peers = [name for name in PEERS if any(name in r.seconds for r in results)]
    print("best peer / arrayconv: the median of the rounds' ratios (each round times every library "
          "once, back to back), and their range")
    print(f"| case | arrayconv | {' | '.join(peers)} | best peer / arrayconv | arrayconv GFLOP/s | % of ceiling |")
    print("|---|---|" + "---|" * len(peers) + "---|---|---|")
    for r in results:
        best = r.best_peer
        ratio = "-"
        if best is not None:
            ratios = r.round_ratios(best[0])
            ratio = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f}, {best[0]})"
        cells = " | ".join(_format(r.seconds.get(name)) for name in peers)
        print(f"| {r.case} | {_format(r.seconds['arrayconv'])} | {cells} | {ratio} | {r.gflops:.1f} | "
              f"{100 * r.ceiling_fraction:.0f}% |")
    return 0
