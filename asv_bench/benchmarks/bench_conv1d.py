"""conv1d timings and peak memory per shape class and backend (float32 unless named).

Run in the current environment with ``asv run --python=same --quick``.
"""

import numpy as np

import arrayconv

# name: (input shape, weight shape, keyword arguments, dtype)
CASES = {
    "cnn": ((32, 64, 4096), (128, 64, 7), dict(padding=3), "float32"),
    "speech_stem": ((8, 1, 16000), (512, 1, 10), dict(stride=5), "float32"),
    "depthwise": ((16, 256, 4096), (256, 1, 31), dict(padding=15, groups=256), "float32"),
    "dilated": ((4, 64, 16000), (64, 64, 3), dict(padding=8, dilation=8), "float32"),
    "tiny": ((1, 32, 256), (32, 32, 3), dict(padding=1), "float32"),
    "cnn_f64": ((32, 64, 4096), (128, 64, 7), dict(padding=3), "float64"),
    "cnn_c64": ((32, 64, 4096), (128, 64, 7), dict(padding=3), "complex64"),
}


def _arrays(case):
    x_shape, w_shape, kwargs, dtype = CASES[case]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b, kwargs


class Conv1d:
    params = (list(CASES), arrayconv.backends.available())
    param_names = ["case", "backend"]
    timeout = 300

    def setup(self, case, backend):
        self.x, self.w, self.b, self.kwargs = _arrays(case)

    def time_conv1d(self, case, backend):
        arrayconv.conv1d(self.x, self.w, self.b, backend=backend, **self.kwargs)

    def peakmem_conv1d(self, case, backend):
        arrayconv.conv1d(self.x, self.w, self.b, backend=backend, **self.kwargs)


class TorchReference:
    """torch.nn.functional.conv1d on the same cases, where torch is installed."""

    params = [list(CASES)]
    param_names = ["case"]
    timeout = 300

    def setup(self, case):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        self.torch = torch
        x, w, b, self.kwargs = _arrays(case)
        self.x, self.w, self.b = (torch.from_numpy(a) for a in (x, w, b))

    def time_conv1d(self, case):
        with self.torch.no_grad():
            self.torch.nn.functional.conv1d(self.x, self.w, self.b, **self.kwargs)

    def peakmem_conv1d(self, case):
        with self.torch.no_grad():
            self.torch.nn.functional.conv1d(self.x, self.w, self.b, **self.kwargs)
