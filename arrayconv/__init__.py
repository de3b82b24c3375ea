"""arrayconv: 1-D convolution with PyTorch's Conv1d semantics on Array-API arrays.

Examples
--------
>>> import numpy as np
>>> import arrayconv
>>> m = arrayconv.Conv1d(16, 33, 3, stride=2, rng=0)
>>> x = np.random.default_rng(1).standard_normal((20, 16, 50)).astype(np.float32)
>>> m(x).shape
(20, 33, 24)
"""

from . import backends, shape
from .functional import conv1d
from .module import Conv1d

__version__ = "0.1.0"

__all__ = ["Conv1d", "backends", "conv1d", "shape", "__version__"]
