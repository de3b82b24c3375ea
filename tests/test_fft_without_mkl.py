"""The fft backend's suite once more with mkl_fft hidden from the import: the pocketfft fallback cannot rot."""

import os
import subprocess
import sys

import hide_mkl

HERE = os.path.dirname(os.path.abspath(__file__))


def test_fft_suite_passes_with_mkl_fft_hidden():
    environment = dict(os.environ, **{hide_mkl.VARIABLE: "1", "ARRAYCONV_HYPOTHESIS_EXAMPLES": "100"})
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", os.path.join(HERE, "test_fft.py")],
        env=environment, capture_output=True, text=True, timeout=1200, cwd=os.path.dirname(HERE),
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report[-6000:]
    # the MKL half skips, naming why; the pocketfft half ran
    assert "the mkl engine cannot load here: mkl-fft is not installed" in report, report[-3000:]
    assert " passed" in report and " failed" not in report


def test_blocker_hides_mkl_fft_in_a_fresh_interpreter():
    code = ("import sys; sys.path.insert(0, %r); import hide_mkl; hide_mkl.install(); import arrayconv; "
            "from arrayconv.backends import fft; print(fft.FFTBackend().engine()[0].name, "
            "'fft' in arrayconv.backends.available(), 'mkl_fft' in sys.modules)" % HERE)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["scipy", "True", "False"]


def test_forcing_mkl_where_it_is_missing_is_explained():
    code = ("import sys; sys.path.insert(0, {here!r}); import hide_mkl; hide_mkl.install(); import numpy as np; "
            "import arrayconv; arrayconv.set_config(fft_engine='mkl'); "
            "found = arrayconv.explain((1, 1, 5000), (1, 1, 1000)); print(found.backend); print(found.unable['fft']); "
            "arrayconv.conv1d(np.ones((1, 1, 5000)), np.ones((1, 1, 1000)), backend='fft')").format(here=HERE)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = completed.stdout.splitlines()
    assert lines[0] == "direct", completed.stdout + completed.stderr
    assert "fft_engine='mkl' (set_config), but mkl-fft is not installed" in lines[1]
    assert completed.returncode == 1 and "ValueError" in completed.stderr and "mkl-fft is not installed" in completed.stderr
