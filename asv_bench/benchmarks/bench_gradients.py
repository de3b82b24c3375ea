"""Gradient timings (input, weight and bias) per shape class, with torch's backward as reference.

The cases are arrayconv.bench's; ``python -m arrayconv bench --gradients``
times the same calls side by side.
"""

import arrayconv
from arrayconv.bench import CASES, gradient_call, make_arrays

THREADS = 2


class Gradients:
    params = [list(CASES)]
    param_names = ["case"]
    timeout = 300

    def setup(self, case):
        arrayconv.threads.set_num_threads(THREADS)
        x, w, _ = make_arrays(CASES[case])
        self.call = gradient_call(CASES[case], x, w)
        self.call()  # warm caches and plans

    def time_conv1d_backward(self, case):
        self.call()

    def peakmem_conv1d_backward(self, case):
        self.call()


class TorchBackward:
    """torch.autograd.grad through F.conv1d on the same cases, where torch is installed."""

    params = [list(CASES)]
    param_names = ["case"]
    timeout = 300

    def setup(self, case):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed")
        if not CASES[case].torch:
            raise NotImplementedError(f"torch is not run on {case} (minutes or tens of GB per call)")
        import numpy as np

        torch.set_num_threads(THREADS)
        x, w, b = (torch.from_numpy(a).requires_grad_() for a in make_arrays(CASES[case]))
        self.inputs = (x, w, b)
        self.output = torch.nn.functional.conv1d(x, w, b, **CASES[case].kwargs)
        self.grad_output = torch.from_numpy(
            np.random.default_rng(1).standard_normal(tuple(self.output.shape)).astype(CASES[case].dtype)
        )
        self.torch = torch

    def time_backward(self, case):
        self.torch.autograd.grad(self.output, self.inputs, self.grad_output, retain_graph=True)
