"""The peers of issue 16 (torch, ONNX Runtime, OpenVINO, JAX) beside arrayconv on the same layers.

The layers come from arrayconv.bench_peers (``python -m arrayconv bench
--peers`` times the same ones, each library in its own block, with the
matrix-product ceiling).  A peer that is not installed (``pip install -e
".[peers]"``) is skipped.  Run with ``asv run --python=same --quick``.
"""

import numpy as np

import arrayconv
from arrayconv.bench_peers import PEER_CASES, PEERS, is_installed

THREADS = 2
LIBRARIES = ["arrayconv", *PEERS]


class PeerLayers:
    """Each peer case on each library, float32, 2 threads."""

    params = [list(PEER_CASES), LIBRARIES]
    param_names = ["case", "library"]
    timeout = 300

    def setup(self, case_name, library):
        if library != "arrayconv" and not is_installed(library):
            raise NotImplementedError(f"{library} is not installed")  # asv skips the benchmark
        arrayconv.threads.set_num_threads(THREADS)
        case = PEER_CASES[case_name]
        rng = np.random.default_rng(0)
        x, w, b = (rng.standard_normal(s).astype(np.float32)
                   for s in (case.input_shape, case.weight_shape, case.weight_shape[:1]))
        if library == "arrayconv":
            self.call = lambda: arrayconv.conv1d(x, w, b, **case.kwargs)
        else:
            self.call = PEERS[library][1](case, x, w, b, THREADS)
        self.call()  # warm up (and JAX's compilation)

    def time_conv1d(self, case_name, library):
        self.call()
