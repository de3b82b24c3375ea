"""One OpenMP runtime: MKL's FFTs on GNU OpenMP beside the direct kernels.

Each test runs in a fresh interpreter, since the runtime is chosen once per
process, when the fft backend first loads.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("mkl_fft", reason="mkl-fft is not installed on this platform")


def _run(code: str, **environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MKL_", "ARRAYCONV_"))}
    env.update(environment)
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, env=env
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


_INTERLEAVED = """
    import json, threading
    import numpy as np
    import arrayconv
    from arrayconv.backends import _mkl_runtime
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 20000)).astype(np.float32)
    w_long = rng.standard_normal((8, 8, 1025)).astype(np.float32)
    w_short = rng.standard_normal((8, 8, 5)).astype(np.float32)
    expected = {
        "fft": arrayconv.conv1d(x, w_long, backend="fft"),
        "direct": arrayconv.conv1d(x, w_short, backend="direct"),
    }
    failures = []

    def worker(index):
        # every backend with every thread count, at once
        backend = ("fft", "direct")[index % 2]
        w = w_long if backend == "fft" else w_short
        with arrayconv.config_context(threads=1 + (index // 2) % 2):
            for _ in range(6):
                if not np.array_equal(arrayconv.conv1d(x, w, backend=backend), expected[backend]):
                    failures.append(backend)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with _mkl_runtime.ThreadLimit(1):
        limited = _mkl_runtime.max_threads()
    maps = open("/proc/self/maps").read()
    print(json.dumps({
        "failures": failures,
        "layer": _mkl_runtime.threading_layer(),
        "openmp": sorted({i["filepath"].rsplit("/", 1)[-1] for i in threadpool_info() if i["user_api"] == "openmp"}),
        "iomp_loaded": "libiomp5" in maps,
        "limited": limited,
        "after": _mkl_runtime.max_threads(),
    }))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the runtime check reads /proc/self/maps")
def test_one_runtime_and_interleaved_calls_from_threads():
    """direct and fft run at once from eight threads, each with 1 or 2 kernel threads; only libgomp is loaded."""
    report = _run(_INTERLEAVED)
    assert report["failures"] == []
    assert report["layer"] == "gnu"
    assert not report["iomp_loaded"]
    assert len(report["openmp"]) == 1 and report["openmp"][0].startswith("libgomp")
    assert report["limited"] == 1  # the per-call limit applies to MKL
    assert report["after"] >= 1


def test_users_choice_of_threading_layer_is_kept():
    report = _run(
        """
        import json
        import numpy as np
        import arrayconv
        from arrayconv.backends import _mkl_runtime
        y = arrayconv.conv1d(np.ones((1, 1, 5000)), np.ones((1, 1, 999)), backend="fft")
        print(json.dumps({"layer": _mkl_runtime.threading_layer(), "value": float(y[0, 0, 0])}))
        """,
        MKL_THREADING_LAYER="SEQUENTIAL",
    )
    assert report == {"layer": "sequential", "value": 999.0}


def test_threadpool_limits_cap_mkl():
    report = _run(
        """
        import json
        import numpy as np
        from threadpoolctl import threadpool_limits
        import arrayconv
        from arrayconv.backends import _mkl_runtime, fft
        spec = arrayconv.shape.normalize(np.ones((8, 16, 50000), np.float32), np.ones((16, 16, 2049), np.float32))
        with threadpool_limits(limits=1):
            planned = fft.effective_threads(fft.FFTBackend().plan(spec))
            inside = _mkl_runtime.max_threads()
        print(json.dumps({"planned": planned, "inside": inside}))
        """,
        ARRAYCONV_NUM_THREADS="2",
    )
    assert report == {"planned": 1, "inside": 1}
