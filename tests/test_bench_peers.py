"""The peers' benchmark: each peer's model computes the case (checked before timing), the table prints."""

import re

import numpy as np
import pytest

import arrayconv
from arrayconv import bench, bench_peers
from arrayconv._openmp import omp_max_threads
from arrayconv.bench_peers import PEER_CASES, PEERS, PeerCase, compare_peers
from arrayconv.bench_rates import torch_matmul_rate, torch_threads

# stride, padding, dilation and groups all away from their defaults
ODD = PeerCase((2, 6, 37), (4, 3, 3), dict(stride=2, padding=2, dilation=3, groups=2))


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("case", [ODD, PEER_CASES["tiny"], PeerCase((1, 1, 50), (3, 1, 10), dict(stride=5))])
def test_each_peers_model_computes_conv1d(peer, case):
    if not bench_peers.is_installed(peer):
        pytest.skip(f"{peer} is not installed (the peers extra: pip install -e \".[peers]\")")
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (case.input_shape, case.weight_shape,
                                                                  case.weight_shape[:1]))
    with torch_threads():  # the torch peer sets its count on every call
        got = np.asarray(PEERS[peer][1](case, x, w, b, 1)())
    expected = arrayconv.conv1d(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **case.kwargs)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_compare_peers_times_arrayconv_and_every_installed_peer():
    (result,) = compare_peers(["tiny"], num_threads=1, ceiling=1e10, samples=1, min_time=0.001)
    timed = {peer for peer in PEERS if bench_peers.is_installed(peer)}
    assert set(result.seconds) == {"arrayconv"} | timed
    assert all(seconds > 0 for seconds in result.seconds.values())
    assert result.gflops == pytest.approx(bench_peers.peer_flops(PEER_CASES["tiny"]) / result.seconds["arrayconv"] / 1e9)
    assert result.ceiling_fraction == pytest.approx(result.gflops * 1e9 / 1e10)
    if timed:
        assert result.best_peer[1] == min(result.seconds[peer] for peer in timed)
    # one median per round and library; the ratios pair each round's blocks
    assert {name: len(times) for name, times in result.rounds.items()} == {name: 4 for name in result.seconds}
    for peer in timed:
        assert len(result.round_ratios(peer)) == 4 and all(ratio > 0 for ratio in result.round_ratios(peer))
        assert min(result.rounds[peer]) <= result.seconds[peer] <= max(result.rounds[peer])


def test_the_round_ratios_pair_each_rounds_blocks():
    result = bench_peers.PeerResult("tiny", {"arrayconv": 2.0, "torch": 3.0}, 1.0, 0.5,
                                    {"arrayconv": [1.0, 2.0, 4.0], "torch": [1.5, 3.0, 2.0]})
    assert result.round_ratios("torch") == [1.5, 1.5, 0.5]
    assert result.round_ratios("jax") == []  # not timed


def test_benchmarks_give_torch_its_thread_count_back():
    """torch may share the kernels' OpenMP runtime: a count of 1 left behind would cap every
    later arrayconv call of the process at one thread."""
    pytest.importorskip("torch", reason="the check is about torch's thread count")
    before = omp_max_threads()
    torch_matmul_rate(1, size=64, repeats=1)
    compare_peers(["tiny"], num_threads=1, ceiling=1e10, samples=1, min_time=0.001)
    bench.compare(["tiny"], num_threads=1, rounds=1, min_time=0.001, rates={"float32": 1e10}, quick=True)
    assert omp_max_threads() == before


def test_a_peer_whose_output_disagrees_is_refused(monkeypatch):
    wrong = lambda case, x, w, b, num_threads: (lambda: np.zeros((1, 32, 256), np.float32))  # noqa: E731
    monkeypatch.setitem(PEERS, "torch", ("torch", wrong))
    monkeypatch.setattr(bench_peers, "is_installed", lambda name: name == "torch")
    with pytest.raises(AssertionError, match="torch disagrees with arrayconv on tiny"):
        compare_peers(["tiny"], num_threads=1, ceiling=1e10, samples=1, min_time=0.001)


def test_bench_peers_prints_the_table_with_its_ceiling(capsys, monkeypatch):
    monkeypatch.setattr(bench_peers, "is_installed", lambda name: name == "torch")
    assert bench.main(["--peers", "--quick", "--threads", "1", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "ceiling: float32 matrix product" in out
    assert "| case | arrayconv | torch | best peer / arrayconv | arrayconv GFLOP/s | % of ceiling |" in out
    assert out.count("| tiny |") == 1
    (row,) = [line for line in out.splitlines() if line.startswith("| tiny |")]
    assert re.search(r"\| \d+\.\d\d \(\d+\.\d\d-\d+\.\d\d, torch\) \|", row), row


def test_bench_peers_refuses_an_unknown_case(capsys):
    assert bench.main(["--peers", "--quick", "nonesuch"]) == 2
    assert "unknown peer case(s) ['nonesuch']" in capsys.readouterr().err
