"""Hypothesis strategies for conv1d calls: shapes, parameters and dtypes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from arrayconv.shape import PADDING_MODES

FLOAT_DTYPES = ("float16", "float32", "float64", "complex64", "complex128")


@dataclass
class Case:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: object
    padding: object
    dilation: object
    groups: int
    padding_mode: str

    def args(self):
        return (self.x, self.w, self.b, self.stride, self.padding, self.dilation, self.groups, self.padding_mode)

    def result_dtype(self):
        return np.result_type(*[a for a in (self.x, self.w, self.b) if a is not None])


def _random_array(rng, shape, dtype):
    values = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def _maybe_tuple(draw, value):
    """An int as torch also accepts it: plain, or as a 1-tuple or 1-list."""
    kind = draw(st.sampled_from(["int", "int", "tuple", "list", "numpy"]))
    if kind == "tuple":
        return (value,)
    if kind == "list":
        return [value]
    if kind == "numpy":
        return np.int64(value)
    return value


@st.composite
def conv_cases(draw, *, same_dtype=False, max_length=40, allow_empty=True, dtypes=FLOAT_DTYPES,
               max_in_per_group=3, max_out_per_group=3):
    """A conv1d call, usually valid, sometimes one torch rejects."""
    groups = draw(st.integers(1, 4))
    cin_g = (draw(st.integers(0 if allow_empty else 1, max_in_per_group)) if draw(st.integers(0, 15)) == 0
             else draw(st.integers(1, max_in_per_group)))
    cout_g = draw(st.integers(1, max_out_per_group))
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(PADDING_MODES))
    padding = draw(st.one_of(st.integers(0, 6), st.sampled_from(["same", "valid", "causal"])))
    if padding == "same" and draw(st.booleans()):
        stride = 1  # keep most 'same' cases valid
    extent = dilation * (kernel - 1) + 1
    pad_total = 0 if padding == "valid" else (extent - 1 if padding in ("same", "causal") else 2 * padding)
    min_length = max(extent - pad_total, 1)
    length = draw(st.integers(min_length, min_length + max_length))
    if draw(st.integers(0, 10)) == 0:
        length = draw(st.integers(0, min_length))  # too short, or empty
    batched = draw(st.booleans())
    batch = draw(st.integers(0 if allow_empty else 1, 3))
    if batch == 0 and not draw(st.integers(0, 4)) == 0:
        batch = 1  # zero batch in about one case of ten
    if same_dtype:
        x_dtype = w_dtype = b_dtype = draw(st.sampled_from(dtypes))
    else:
        x_dtype, w_dtype, b_dtype = (draw(st.sampled_from(dtypes)) for _ in range(3))
    has_bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cin = cin_g * groups
    x_shape = (batch, cin, length) if batched else (cin, length)
    return Case(
        x=_random_array(rng, x_shape, x_dtype),
        w=_random_array(rng, (cout_g * groups, cin_g, kernel), w_dtype),
        b=_random_array(rng, (cout_g * groups,), b_dtype) if has_bias else None,
        stride=_maybe_tuple(draw, stride),
        padding=padding if isinstance(padding, str) else _maybe_tuple(draw, padding),
        dilation=_maybe_tuple(draw, dilation),
        groups=groups,
        padding_mode=mode,
    )


@dataclass
class TransposeCase:
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: object
    padding: object
    output_padding: object
    groups: int
    dilation: object

    def args(self):
        return (self.x, self.w, self.b, self.stride, self.padding, self.output_padding, self.groups, self.dilation)

    def result_dtype(self):
        return np.result_type(*[a for a in (self.x, self.w, self.b) if a is not None])


@st.composite
def transpose_cases(draw, *, max_length=30, dtypes=FLOAT_DTYPES):
    """A conv_transpose1d call, usually valid, sometimes one torch rejects."""
    groups = draw(st.integers(1, 3))
    cin_g = draw(st.integers(1, 3))
    cout_g = draw(st.integers(1, 3))
    kernel = draw(st.integers(1, 7))
    stride = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 4))
    padding = draw(st.integers(0, 8))
    output_padding = draw(st.integers(0, max(stride, dilation) - 1))
    if draw(st.integers(0, 15)) == 0:
        output_padding = draw(st.integers(0, 6))  # sometimes too large
    length = draw(st.integers(1, max_length))
    if draw(st.integers(0, 20)) == 0:
        length = 0
    batched = draw(st.booleans())
    batch = draw(st.sampled_from([0, 1, 1, 2, 3]))
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cin = cin_g * groups
    return TransposeCase(
        x=_random_array(rng, (batch, cin, length) if batched else (cin, length), dtype),
        w=_random_array(rng, (cin, cout_g, kernel), dtype),
        b=_random_array(rng, (cout_g * groups,), dtype) if draw(st.booleans()) else None,
        stride=_maybe_tuple(draw, stride),
        padding=_maybe_tuple(draw, padding),
        output_padding=_maybe_tuple(draw, output_padding),
        groups=groups,
        dilation=_maybe_tuple(draw, dilation),
    )
