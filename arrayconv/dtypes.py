"""The floating dtypes a convolution takes, what each is computed in, and what it costs.

Dtypes travel between the floors by name (``"float32"``, ...), the same in
every array library.

Examples
--------
>>> COMPUTE_DTYPE["float16"], ITEMSIZE["complex64"], COST_WIDTH["complex128"]
('float32', 8, 8)
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLOAT_NAMES", "COMPUTE_DTYPE", "ITEMSIZE", "NUMPY_DTYPE", "PROMOTED", "COST_WIDTH", "PRECISION_WIDTH",
           "is_complex"]

# In the order the kernels know them; float16 is computed in float32.
FLOAT_NAMES = ("float16", "float32", "float64", "complex64", "complex128")
COMPUTE_DTYPE = {
    "float16": "float32",
    "float32": "float32",
    "float64": "float64",
    "complex64": "complex64",
    "complex128": "complex128",
}
# Bytes per element of each compute dtype.
ITEMSIZE = {"float32": 4, "float64": 8, "complex64": 8, "complex128": 16}
# The NumPy dtypes of the compute dtypes, parsed once (NumPy parses a dtype
# name on each call that gets one, a good part of a small call's cost).
NUMPY_DTYPE = {name: np.dtype(name) for name in ITEMSIZE}
# Promotion among the floating dtypes: NumPy's agrees with the Array API's here.
PROMOTED = {(a, b): np.result_type(a, b).name for a in FLOAT_NAMES for b in FLOAT_NAMES}

# What a multiply-accumulate costs relative to a float32 one, for every
# backend's cost model: double precision twice, a complex product four real ones.
COST_WIDTH = {"float32": 1, "float64": 2, "complex64": 4, "complex128": 8}
# The precision alone (1 single, 2 double): what a transform point costs
# relative to one of the same kind (real or complex) in single precision.
PRECISION_WIDTH = {"float32": 1, "float64": 2, "complex64": 1, "complex128": 2}


def is_complex(name: str) -> bool:
    """Whether a dtype name is a complex one.

    Examples
    --------
    >>> is_complex("complex64"), is_complex("float64")
    (True, False)
    """
    return name.startswith("complex")
