"""Filter a signal larger than the workers' memory: zarr on disk -> Dask LocalCluster -> zarr on disk.

A multichannel signal (float32, 8 channels) is written to a zarr store block by
block, so it never sits in memory whole.  A LocalCluster of worker processes,
each held to a memory limit well below the signal's size, then runs a bank of
255-tap filters over it (``arrayconv.conv1d`` on the Dask array, 'same'
padding reflected at the true ends) and streams the result into a second zarr
store.  The script reports the throughput and checks windows of the output,
including both ends, against NumPy computations on the same input.

Run ``python examples/dask_larger_than_memory.py`` (2 GiB of signal, 2 workers
of 256 MiB each, a quarter of the signal in all; ``--help`` for the sizes).  Needs the ``dask`` extra and zarr
(``pip install -e ".[dask]" zarr``).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time

import numpy as np

import arrayconv

CHANNELS = 8
TAPS = 255
BLOCK = 1 << 18  # samples per channel in one zarr chunk (8 MiB of float32)


def write_signal(path: pathlib.Path, length: int, seed: int) -> None:
    """A (1, CHANNELS, length) float32 zarr array, written one chunk at a time."""
    import zarr

    store = zarr.open_array(str(path), mode="w", shape=(1, CHANNELS, length), chunks=(1, CHANNELS, BLOCK),
                            dtype="float32")
    for first in range(0, length, BLOCK):
        last = min(first + BLOCK, length)
        rng = np.random.default_rng([seed, first])
        store[:, :, first:last] = rng.standard_normal((1, CHANNELS, last - first), dtype=np.float32)


def filter_bank(seed: int) -> np.ndarray:
    """(CHANNELS, CHANNELS, TAPS) float32: windowed band-pass filters mixing the channels."""
    rng = np.random.default_rng(seed)
    taps = np.hanning(TAPS) * np.cos(np.pi * rng.uniform(0.05, 0.5, size=(CHANNELS, 1, 1)) * np.arange(TAPS))
    mixing = rng.standard_normal((CHANNELS, CHANNELS, 1)) / np.sqrt(CHANNELS)
    return (mixing * taps).astype(np.float32)


def run(gib: float = 2.0, workers: int = 2, memory_limit: str = "256MiB", directory: str | None = None,
        seed: int = 0, report=print) -> dict[str, float]:
    """Write the signal, filter it on a LocalCluster, check it; returns the figures."""
    import dask.array as da
    import distributed
    import zarr

    length = max(TAPS, int(gib * 2**30) // (4 * CHANNELS))
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        source, target = pathlib.Path(scratch, "signal.zarr"), pathlib.Path(scratch, "filtered.zarr")
        started = time.perf_counter()
        write_signal(source, length, seed)
        report(f"wrote {4 * CHANNELS * length / 2**30:.2f} GiB of signal in {time.perf_counter() - started:.1f} s")
        weight = filter_bank(seed)
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      memory_limit=memory_limit, dashboard_address=":0",
                                      silence_logs=40) as cluster, distributed.Client(cluster):
            signal = da.from_zarr(str(source))
            # one kernel thread per single-threaded worker; the setting travels with the tasks
            with arrayconv.config_context(threads=1):
                filtered = arrayconv.conv1d(signal, weight, padding="same", padding_mode="reflect")
            started = time.perf_counter()
            da.to_zarr(filtered, str(target), compute=True)
            seconds = time.perf_counter() - started
        figures = {
            "signal_gib": 4 * CHANNELS * length / 2**30,
            "seconds": seconds,
            "mib_per_second": 4 * CHANNELS * length / 2**20 / seconds,
            "samples_per_second": CHANNELS * length / seconds,
            "worker_memory_gib": workers * _bytes(memory_limit) / 2**30,
        }
        report(
            f"filtered {figures['signal_gib']:.2f} GiB on {workers} workers holding "
            f"{figures['worker_memory_gib']:.2f} GiB in all: {seconds:.1f} s, "
            f"{figures['mib_per_second']:.0f} MiB/s, {figures['samples_per_second'] / 1e6:.1f} M samples/s"
        )
        figures["max_error"] = _check(zarr.open_array(str(source), mode="r"), zarr.open_array(str(target), mode="r"),
                                      weight, length)
        report(f"checked windows at both ends and inside: largest relative error {figures['max_error']:.2e}")
    return figures


def _check(source, target, weight: np.ndarray, length: int) -> float:
    """The largest error, relative to the output's magnitude, over windows at both ends and inside."""
    half = (TAPS - 1) // 2  # 'same' pads this much at each end (TAPS is odd)
    worst = 0.0
    for first in (0, length // 3, max(0, length - 4096)):
        last = min(first + 4096, length)
        # the samples these outputs read, the true ends reflected
        wanted = np.arange(first - half, last + half)
        wanted = np.where(wanted < 0, -wanted, np.where(wanted >= length, 2 * (length - 1) - wanted, wanted))
        low, high = int(wanted.min()), int(wanted.max()) + 1
        segment = np.asarray(source[:, :, low:high], dtype=np.float64)[:, :, wanted - low]
        expected = arrayconv.conv1d(segment, weight.astype(np.float64))
        got = np.asarray(target[:, :, first:last], dtype=np.float64)
        worst = max(worst, float(np.abs(got - expected).max() / np.abs(expected).max()))
    return worst


def _bytes(text: str) -> float:
    units = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit, size in units.items():
        if text.endswith(unit):
            return float(text[: -len(unit)]) * size
    return float(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the signal (GiB of float32)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="256MiB", help="per worker")
    parser.add_argument("--dir", default=None, help="where the zarr stores go (a temporary folder inside it)")
    arguments = parser.parse_args()
    run(arguments.gib, arguments.workers, arguments.memory_limit, arguments.dir)
