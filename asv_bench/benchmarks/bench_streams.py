"""Streams: a decode step (one sample per push) and a long FIR pushed in chunks.

The shapes come from arrayconv.bench_stream (``python -m arrayconv bench
--streams`` times the same ones, with torch's update and scipy's lfilter
beside them).  Run with ``asv run --python=same --quick``.
"""

import numpy as np

import arrayconv
from arrayconv.bench_stream import DECODE, FIR

THREADS = 2


class StreamDecode:
    """Depthwise causal K=4 over (16, 2048) channels, one sample per push."""

    timeout = 120

    def setup(self):
        arrayconv.threads.set_num_threads(THREADS)
        rng = np.random.default_rng(0)
        w = rng.standard_normal((DECODE.channels, 1, DECODE.kernel)).astype(np.float32)
        self.sample = rng.standard_normal((DECODE.batch, DECODE.channels, 1)).astype(np.float32)
        self.stream = arrayconv.Conv1dStream(w, padding="causal", groups=DECODE.channels)
        for _ in range(DECODE.kernel):
            self.stream.push(self.sample)

    def time_push_one_sample(self):
        self.stream.push(self.sample)


class StreamLongFIR:
    """K=8193 taps, one channel, chunks of 1024: the partitioned FFT path, and the whole signal."""

    params = [[2**16, FIR.length]]
    param_names = ["length"]
    timeout = 300

    def setup(self, length):
        arrayconv.threads.set_num_threads(THREADS)
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((1, 1, length))
        self.w = rng.standard_normal((1, 1, FIR.kernel)) / np.sqrt(FIR.kernel)

    def time_stream_in_chunks(self, length):
        stream = arrayconv.Conv1dStream(self.w, padding="causal")
        for start in range(0, length, FIR.chunk):
            stream.push(self.x[:, :, start:start + FIR.chunk])
        stream.flush()

    def time_whole_signal(self, length):
        arrayconv.conv1d(self.x, self.w, padding="causal")
