"""The examples in docstrings and README.md run and print what they show; the CLI demo passes."""

import doctest
import importlib
import pathlib
import pkgutil
import subprocess
import sys

import pytest

import arrayconv
import arrayconv.backends


def _all_modules():
    """Every module of the package, found by walking it (no hand-kept list)."""
    names = {"arrayconv", "arrayconv.backends"}
    for package in (arrayconv, arrayconv.backends):  # backends/ is a folder of its own (setup.py's package_dir)
        names.update(info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
    return sorted(names)


MODULES = _all_modules()
# modules that need an optional library to import
OPTIONAL = {"arrayconv.backends.gpu": "cupy"}
README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _is_public(name):
    return not any(part.startswith("_") and part != "__main__" for part in name.split("."))


def test_every_module_is_collected():
    """The walk finds the package's modules of every floor, the compiled ones included."""
    for name in ("arrayconv.functional", "arrayconv.shape.conv_spec", "arrayconv.padding",
                 "arrayconv.backends.direct", "arrayconv.backends._direct", "arrayconv.__main__"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name], reason=f"{name} needs {OPTIONAL[name]}, which is not installed")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    if _is_public(name):
        assert result.attempted > 0, f"{name} has no runnable example"
    assert result.failed == 0


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests (installed without the source tree)")
def test_readme_examples():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_main_job_demo():
    """`python -m arrayconv` runs the docs' example, checks it and names the backend."""
    out = subprocess.run([sys.executable, "-m", "arrayconv"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Conv1d(16, 33, kernel_size=(3,), stride=(2,))" in out.stdout
    assert "output (20, 33, 24) float32" in out.stdout
    assert "backend: direct" in out.stdout
    assert out.stdout.strip().endswith("OK")


def test_info_shows_settings_and_sources():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ARRAYCONV_")}
    env["ARRAYCONV_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-m", "arrayconv", "info"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "backends available: array_api, direct" in out.stdout
    assert "threads = 1  [environment variable ARRAYCONV_NUM_THREADS]" in out.stdout
    assert "backend = None  [default]" in out.stdout


def test_info_reports_a_bad_setting_without_a_traceback():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ARRAYCONV_")}
    env["ARRAYCONV_NUM_THREADS"] = "0"
    out = subprocess.run([sys.executable, "-m", "arrayconv", "info"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert "configuration error" in out.stdout and "ARRAYCONV_NUM_THREADS" in out.stdout
    assert "Traceback" not in out.stderr
