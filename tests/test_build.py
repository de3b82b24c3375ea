"""The stale-build warning: an editable install's compiled module older than its source."""

import importlib.machinery
import os
import warnings

from arrayconv import _build

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def checkout(tmp_path, files, texts=None):
    """A fake source checkout: setup.py and the given files, each with an mtime (seconds)
    and a text (``texts``, else empty)."""
    (tmp_path / "setup.py").write_text("")
    for name, mtime in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((texts or {}).get(name, ""))
        os.utime(path, (mtime, mtime))
    return tmp_path


def test_an_edited_python_module_newer_than_its_build_is_found(tmp_path):
    root = checkout(tmp_path, {"arrayconv/plain.py": 2000, f"arrayconv/plain{SUFFIX}": 1000,
                               "arrayconv/kinds.py": 500, f"arrayconv/kinds{SUFFIX}": 1000,
                               "arrayconv/padding.py": 3000})  # not compiled: never stale
    assert [(s.name, c.name) for s, c in _build.stale_sources(root)] == [("plain.py", f"plain{SUFFIX}")]


def test_a_kernel_header_counts_as_a_source_of_the_pyx_modules_that_include_it(tmp_path):
    texts = {"backends/_direct.pyx": 'cdef extern from "_direct_loops.h" nogil:\n    pass\n',
             "backends/_conv_gemm.pyx": 'cdef extern from "_conv_gemm.h" nogil:\n    pass\n',
             "backends/_conv_gemm.h": '#include "_direct_loops.h"\n#include "_conv_gemm_impl.h"\n'}
    root = checkout(tmp_path, {"backends/_direct.pyx": 500, "backends/_conv_gemm.pyx": 500,
                               "backends/_conv_gemm.h": 500, "backends/_conv_gemm_impl.h": 2500,
                               "backends/_direct_loops.h": 2000,
                               f"backends/_direct{SUFFIX}": 1000, f"backends/_conv_gemm{SUFFIX}": 3000,
                               "backends/direct.py": 3000}, texts)
    # _direct includes _direct_loops.h; _conv_gemm (built after both) is not stale;
    # a header no kernel includes, or one included through another, counts only for its includers
    assert [(s.name, c.name) for s, c in _build.stale_sources(root)] == [("_direct_loops.h", f"_direct{SUFFIX}")]
    os.utime(root / f"backends/_conv_gemm{SUFFIX}", (1000, 1000))
    assert sorted((s.name, c.name.split(".")[0]) for s, c in _build.stale_sources(root)) == [
        ("_conv_gemm_impl.h", "_conv_gemm"), ("_direct_loops.h", "_conv_gemm"), ("_direct_loops.h", "_direct")]


def test_the_warning_names_the_file_and_the_rebuild_command(tmp_path):
    root = checkout(tmp_path, {"arrayconv/shape/conv_spec.py": 2000, f"arrayconv/shape/conv_spec{SUFFIX}": 1000})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _build.warn_if_stale(str(root / "arrayconv"))
    assert len(caught) == 1 and caught[0].category is RuntimeWarning
    message = str(caught[0].message)
    assert "arrayconv/shape/conv_spec.py" in message and "pip install -e ." in message


def test_no_warning_when_up_to_date_or_installed(tmp_path):
    root = checkout(tmp_path, {"arrayconv/plain.py": 500, f"arrayconv/plain{SUFFIX}": 1000})
    installed = tmp_path / "site"
    (installed / "arrayconv").mkdir(parents=True)
    (installed / "arrayconv" / "plain.py").write_text("")  # newer, but no setup.py: an installed package
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build.warn_if_stale(str(root / "arrayconv"))
        _build.warn_if_stale(str(installed / "arrayconv"))


def test_a_broken_link_among_the_compiled_modules_is_skipped(tmp_path):
    root = checkout(tmp_path, {"arrayconv/plain.py": 2000})
    (root / "arrayconv" / f"plain{SUFFIX}").symlink_to(root / "nowhere.so")  # listed by glob, not stat-able
    assert _build.stale_sources(root) == []
