"""The one place that validates convolution arguments and plans shapes.

Every public entry point (``conv1d``, ``conv_transpose1d``, the gradients,
the layers) sends its raw arguments here first.  What comes back is an
immutable record of :mod:`arrayconv.records` (or a :class:`LayerConfig`
for a layer) that the floors below trust without re-checking.  Errors are
``TypeError`` for a wrong kind of argument and ``ValueError`` for a wrong
value; each message names the argument and the value it got.

The accepted configurations are exactly those ``torch.nn.functional.conv1d``
(and, for ``padding_mode != "zeros"``, ``torch.nn.Conv1d``) accepts, with two
documented departures that follow the Array API: mixed floating dtypes are
promoted (torch refuses them) and integer or bool arrays are refused (torch's
CPU path accepts them).

One module per job:

:mod:`~arrayconv.shape.arguments`
    integers, padding, arrays, namespaces and dtypes, shared by every call;
:mod:`~arrayconv.shape.conv_spec`
    a ``conv1d`` call (:func:`normalize`);
:mod:`~arrayconv.shape.transpose_spec`
    a ``conv_transpose1d`` call;
:mod:`~arrayconv.shape.gradient_spec`
    the gradient calls;
:mod:`~arrayconv.shape.chunked_input`
    the calls on Dask arrays;
:mod:`~arrayconv.shape.layer`
    a layer's hyper-parameters and state;
:mod:`~arrayconv.shape.memory`
    the memory guard.

Examples
--------
>>> import numpy as np
>>> normalize(np.zeros((2, 4, 10)), np.zeros((3, 4, 3))).output_shape
(2, 3, 8)
"""

from ..padding import PADDING_MODES
from ..records import GRADIENT_NAMES, BackwardSpec, ConvSpec, TransposeSpec
from .arguments import PADDING_STRINGS, placeholder
from .chunked_input import (
    normalize_chunked,
    normalize_chunked_backward,
    normalize_chunked_transpose,
    normalize_chunked_transpose_backward,
)
from .conv_spec import normalize, output_length
from .gradient_spec import normalize_backward, normalize_transpose_backward, refuse_graph
from .layer import LayerConfig, check_state, layer_input, normalize_layer
from .memory import WorkspaceError, check_memory, check_output_memory, check_parameter_memory
from .stream_spec import (
    ChunkKind,
    StreamSpec,
    check_chunk,
    check_signal_end,
    check_stream_state,
    normalize_stream,
    normalize_transpose_stream,
)
from .transpose_spec import normalize_transpose, output_padding_for

__all__ = [
    "BackwardSpec",
    "ChunkKind",
    "StreamSpec",
    "check_chunk",
    "check_signal_end",
    "check_stream_state",
    "normalize_stream",
    "normalize_transpose_stream",
    "ConvSpec",
    "GRADIENT_NAMES",
    "LayerConfig",
    "TransposeSpec",
    "PADDING_MODES",
    "PADDING_STRINGS",
    "WorkspaceError",
    "check_memory",
    "check_output_memory",
    "check_parameter_memory",
    "check_state",
    "layer_input",
    "normalize",
    "normalize_backward",
    "normalize_chunked",
    "normalize_chunked_backward",
    "normalize_chunked_transpose",
    "normalize_chunked_transpose_backward",
    "normalize_layer",
    "normalize_transpose",
    "normalize_transpose_backward",
    "output_length",
    "output_padding_for",
    "placeholder",
    "refuse_graph",
]
