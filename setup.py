"""Build the Cython extensions of arrayconv (with OpenMP).

Set ``ARRAYCONV_DEBUG=1`` to build with bounds and wraparound checks on and
without optimisation, for chasing memory errors.
"""

import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("ARRAYCONV_DEBUG", "") not in ("", "0")

if sys.platform == "win32":
    openmp_compile, openmp_link = ["/openmp"], []
    optimise = ["/O2"]
elif sys.platform == "darwin":
    # Apple clang needs libomp (brew install libomp) for -fopenmp.
    openmp_compile, openmp_link = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    optimise = ["-O3"]
else:
    openmp_compile, openmp_link = ["-fopenmp"], ["-fopenmp"]
    optimise = ["-O0", "-g"] if DEBUG else ["-O3"]

directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    # Type hints of the compiled .py modules document; they must not coerce
    # (an `int` hint would silently turn groups=1.0 into 1).
    "annotation_typing": False,
}

extensions = [
    # The per-call Python path (validation and dispatch), compiled from the
    # same .py sources for a lower fixed cost per call; the .py files stay
    # importable where no build exists.
    Extension("arrayconv.functional", ["arrayconv/functional.py"]),
    Extension("arrayconv.kinds", ["arrayconv/kinds.py"]),
    Extension("arrayconv.plain", ["arrayconv/plain.py"]),
    Extension("arrayconv.execute", ["arrayconv/execute.py"]),
    Extension("arrayconv.shape.arguments", ["arrayconv/shape/arguments.py"]),
    Extension("arrayconv.shape.conv_spec", ["arrayconv/shape/conv_spec.py"]),
    Extension("arrayconv.shape.memory", ["arrayconv/shape/memory.py"]),
    # ConvSpec's properties are read several times per call
    Extension("arrayconv.records", ["arrayconv/records.py"]),
    # the thread count is part of every call's signature
    Extension("arrayconv.threads", ["arrayconv/threads.py"]),
    # OpenMP's thread limit, from the runtime the kernels use
    Extension(
        "arrayconv._openmp",
        ["arrayconv/_openmp.pyx"],
        extra_compile_args=optimise + openmp_compile,
        extra_link_args=openmp_link,
    ),
    Extension(
        "arrayconv.backends._direct",
        ["backends/_direct.pyx"],
        include_dirs=["backends"],
        depends=["backends/_direct_loops.h"],
        extra_compile_args=optimise + openmp_compile,
        extra_link_args=openmp_link,
    ),
    Extension(
        "arrayconv.backends._conv_gemm",
        ["backends/_conv_gemm.pyx"],
        include_dirs=["backends"],
        depends=["backends/_conv_gemm.h", "backends/_conv_gemm_impl.h", "backends/_direct_loops.h",
                 "backends/_thread_block.h"],
        extra_compile_args=optimise + openmp_compile,
        extra_link_args=openmp_link,
    ),
    # the output arrays' memory handler (NumPy's C API, NEP 49: NumPy 1.22 and later)
    Extension(
        "arrayconv.backends._output_pool",
        ["backends/_output_pool.pyx"],
        include_dirs=["backends", numpy.get_include()],
        depends=["backends/_output_pool.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION")],
        extra_compile_args=optimise,
    ),
    Extension(
        "arrayconv.backends._fft_kernels",
        ["backends/_fft_kernels.pyx"],
        include_dirs=["backends"],
        depends=["backends/_direct_loops.h", "backends/_fft_contract.h", "backends/_partition_sum.h",
                 "backends/_dfti.h"],
        extra_compile_args=optimise + openmp_compile,
        extra_link_args=openmp_link,
    ),
]

setup(
    packages=["arrayconv", "arrayconv.shape", "arrayconv.backends"],
    package_dir={"arrayconv": "arrayconv", "arrayconv.backends": "backends"},
    # Cython regenerates C by timestamps only: force it when the directives change.
    ext_modules=cythonize(extensions, compiler_directives=directives, force=DEBUG),
)
