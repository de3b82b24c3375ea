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

from . import _build, _wait_policy

_build.warn_if_stale(__path__[0])
_wait_policy.before_loading()  # the OpenMP runtime reads it as the kernels load it
try:
    from . import _openmp, backends
except ImportError as _error:  # the source tree shadows an installed, built package
    raise ImportError(
        "arrayconv was imported from a source checkout that has not been built "
        f"({__path__[0]}): install it with `pip install -e .` from the checkout, "
        "or run Python from another directory"
    ) from _error
finally:
    _wait_policy.after_loading()
from . import config, shape, threads
from .config import config_context, get_config, set_config
from .explain import explain
from .functional import conv1d
from .gradients import Gradients, conv1d_backward, conv_transpose1d, conv_transpose1d_backward
from .module import Conv1d, ConvTranspose1d
from .shape import WorkspaceError
from .stream import Conv1dStream, StreamState
from .transpose_stream import ConvTranspose1dStream

__version__ = "0.1.0"

__all__ = [
    "Conv1d", "Conv1dStream", "ConvTranspose1d", "ConvTranspose1dStream", "Gradients", "StreamState", "backends", "config", "config_context", "conv1d", "conv1d_backward",
    "conv_transpose1d", "conv_transpose1d_backward", "explain", "get_config", "set_config",
    "shape", "threads", "WorkspaceError", "__version__",
]
