"""conv1d timings and peak memory per shape class and backend, with torch as reference.

The cases come from arrayconv.bench (the comparison command uses the same
ones). Both libraries run on THREADS threads, as the issue's table specifies.
Run in the current environment with ``asv run --python=same --quick``.
"""

import arrayconv
from arrayconv.backends._fft_engines import ENGINES
from arrayconv.bench import CASES, FFT_CASES, make_arrays

THREADS = 2


class Conv1d:
    params = (list(CASES), arrayconv.backends.available())
    param_names = ["case", "backend"]
    timeout = 300

    def setup(self, case, backend):
        arrayconv.threads.set_num_threads(THREADS)
        self.x, self.w, self.b = make_arrays(CASES[case])
        self.kwargs = CASES[case].kwargs
        arrayconv.conv1d(self.x, self.w, self.b, backend=backend, **self.kwargs)  # warm caches and plans

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
        if not CASES[case].torch:
            raise NotImplementedError(f"torch is not run on {case} (minutes or tens of GB per call)")
        self.torch = torch
        torch.set_num_threads(THREADS)
        x, w, b = make_arrays(CASES[case])
        self.kwargs = CASES[case].kwargs
        self.x, self.w, self.b = (torch.from_numpy(a) for a in (x, w, b))

    def time_conv1d(self, case):
        with self.torch.no_grad():
            self.torch.nn.functional.conv1d(self.x, self.w, self.b, **self.kwargs)

    def peakmem_conv1d(self, case):
        with self.torch.no_grad():
            self.torch.nn.functional.conv1d(self.x, self.w, self.b, **self.kwargs)


class ScipyReference:
    """scipy.signal.oaconvolve on the single-channel cases (the FFT reference outside torch)."""

    params = [[name for name, case in CASES.items() if case.scipy]]
    param_names = ["case"]
    timeout = 300

    def setup(self, case):
        from scipy.signal import oaconvolve

        x, w, _ = make_arrays(CASES[case])
        self.oaconvolve = oaconvolve
        self.signal, self.taps = x[0, 0], w[0, 0, ::-1].copy()

    def time_oaconvolve(self, case):
        self.oaconvolve(self.signal, self.taps, mode="valid")


class FFTEngines:
    """The fft backend's cases on each transform engine (MKL where installed, SciPy's pocketfft)."""

    params = (list(FFT_CASES), [name for name, engine in ENGINES.items() if engine.available()])
    param_names = ["case", "engine"]
    timeout = 300

    def setup(self, case, engine):
        arrayconv.threads.set_num_threads(THREADS)
        arrayconv.set_config(fft_engine=engine)
        self.x, self.w, self.b = make_arrays(CASES[case])
        self.kwargs = CASES[case].kwargs
        arrayconv.conv1d(self.x, self.w, self.b, backend="fft", **self.kwargs)  # plans and spectra warmed

    def teardown(self, case, engine):
        arrayconv.set_config(fft_engine=None)

    def time_conv1d(self, case, engine):
        arrayconv.conv1d(self.x, self.w, self.b, backend="fft", **self.kwargs)


class CallOverhead:
    """The fixed cost of one call: validation, dispatch and a trivial kernel."""

    def setup(self):
        import numpy as np

        self.x = np.ones((1, 1, 8), np.float32)
        self.w = np.ones((1, 1, 1), np.float32)
        arrayconv.conv1d(self.x, self.w)  # load the backends and cache the routing decision

    def time_trivial_call(self):
        arrayconv.conv1d(self.x, self.w)
