"""Hide mkl_fft from the import, as on a machine where it is not installed (the pocketfft fallback's test run).

conftest.py installs the blocker before anything imports arrayconv when
``ARRAYCONV_TESTS_HIDE_MKL_FFT`` is set; test_fft_without_mkl.py sets it for a
second run of test_fft.py in a fresh interpreter.
"""

import importlib.abc
import sys

VARIABLE = "ARRAYCONV_TESTS_HIDE_MKL_FFT"
HIDDEN = ("mkl_fft", "mkl")


class _Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by tests/hide_mkl.py)", name=name)
        return None


def install() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in HIDDEN:
            raise RuntimeError(f"{name} was imported before the blocker was installed")
    sys.meta_path.insert(0, _Blocker())
