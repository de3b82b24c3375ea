"""The ``direct`` backend: time-domain convolution by the Cython kernels.

Three paths, chosen per call by :func:`arrayconv.backends.direct_plan.plan`:

``kernel``
    float32 and float64 layers with 3 or more output channels per group:
    the backend's own convolution GEMM (``_conv_gemm``: register tiles over
    packed weights and a per-item input window; no BLAS, no im2col).
``gemm``
    complex layers with 8 or more output channels per group (and real ones
    where the build has no kernel): im2col blocks times the weights by
    scipy's BLAS (``_direct``).
``loops``
    the rest (depthwise layers, one or two output channels per group, complex
    layers of few channels): vectorised row loops (``_direct``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from arrayconv import threads
from arrayconv.dtypes import COST_WIDTH
from arrayconv.padding import MODE_CODE
from arrayconv.records import ConvSpec
from arrayconv.registry import CostModel

from . import _blas_threads, _scratch, direct_plan
from ._conv_gemm import conv1d_gemm, conv1d_weight_grad_gemm, scratch_size
from ._direct import conv1d_direct, conv1d_weight_grad

_NO_BIAS = {name: np.zeros(0, dtype=name) for name in ("float32", "float64", "complex64", "complex128")}
_NO_WORK = {name: np.zeros((1, 1), dtype=name) for name in _NO_BIAS}
# Calls above this many multiply-adds (a few tenths of a second) run in
# slices of the batch, so that KeyboardInterrupt gets through between slices.
_INTERRUPT_MACS = 1 << 33

# the fused kernels' specialisations by dtype (indexing skips the call-time dispatch)
_FUSED_NAME = {"float32": "float", "float64": "double", "complex64": "float complex",
               "complex128": "double complex"}
_KERNELS = {dtype: conv1d_direct[name] for dtype, name in _FUSED_NAME.items()}

_WGRAD_KERNELS = {dtype: conv1d_weight_grad[name] for dtype, name in _FUSED_NAME.items()}


class DirectBackend(CostModel):
    """Cython direct kernels on the CPU: every dtype, padding mode and group layout.

    Layers with channels run on the backend's own convolution GEMM (real
    dtypes, from 3 output channels a group) or as blocked GEMMs on scipy's
    BLAS (complex ones, from 8), depthwise and the fewest-channel layers as
    vectorised loops.

    Examples
    --------
    >>> import numpy as np
    >>> import arrayconv
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> arrayconv.conv1d(x, np.ones((1, 1, 2)), backend="direct")
    array([[[1., 3., 5., 7.]]])
    """

    name = "direct"

    def supports(self, spec: ConvSpec, device: str) -> str | None:
        if device != "cpu":
            return f"runs on the CPU only, the arrays are on {device!r}"
        return None

    def cost_terms(self, spec: ConvSpec) -> dict[str, float]:
        """The call's cost terms now (see :mod:`arrayconv.routing`), work divided among its threads."""
        if spec.is_empty:
            return {"direct_call": 1.0}
        plan = direct_plan.plan(spec, threads.get(), direct_plan.KERNEL)
        path = "direct_loops_mac" if plan.path == "loops" else "direct_gemm_mac"
        return {"direct_call": 1.0, path: spec.macs * COST_WIDTH[spec.compute_dtype] / plan.threads}

    def workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes allocated besides the output: packed weights and per-thread scratch."""
        if spec.is_empty:
            return 0
        plan = direct_plan.plan(spec, threads.get(), direct_plan.KERNEL)
        itemsize = np.dtype(spec.compute_dtype).itemsize
        if plan.kernel is not None:
            kernel = plan.kernel
            return ((kernel.weights + plan.threads * (kernel.window + kernel.stage)) * itemsize
                    + plan.threads * kernel.offsets * 8)
        return plan.threads * plan.columns * plan.rows * itemsize

    def bind(self, spec: ConvSpec) -> Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None:
        """``run`` for ``spec`` with all that depends on the shapes alone done once: a
        callable of ``(x, w, b)`` (as ``run`` takes them) that the frontend keeps per
        call signature, or None where the call takes ``run``'s general route (empty,
        cut in slices for Ctrl-C, or on the BLAS, which is pinned per call).

        It holds the plan of the thread setting of the time it was bound.  A subclass
        that overrides ``run`` (or takes native arrays) gets None: its ``run`` runs.
        """
        if type(self).run is not DirectBackend.run or getattr(self, "native_arrays", False):
            return None
        return _bound(spec, threads.get(), direct_plan.KERNEL)

    def run(self, spec: ConvSpec, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        bound = _bound(spec, threads.get(), direct_plan.KERNEL)
        if bound is not None:
            return bound(x, w, b)
        out = _scratch.output(spec.output_shape, spec.compute_dtype)
        if spec.is_empty:
            return out
        plan = direct_plan.plan(spec, threads.get(), direct_plan.KERNEL)
        kernel = _kernel_call(spec, plan)

        def piece(x_piece: np.ndarray, out_piece: np.ndarray, pad_left: int) -> None:
            kernel(x_piece, w, b, out_piece, pad_left)

        # Serial calls are pinned too (the bits would be the same either way:
        # the BLAS threads a GEMM by splitting its output, never its sums): on
        # a shared machine the BLAS's own threads of a small GEMM land on busy
        # cores (tiny, one core busy elsewhere: 236 us unpinned, 119 us pinned).
        pin = _blas_threads.shared_pin() if plan.path == "gemm" else None
        align = max(1, plan.columns)
        if pin is None:
            _run_pieces(spec, x, out, piece, align)
        else:
            with pin:
                _run_pieces(spec, x, out, piece, align)
        return out

    def weight_grad_workspace_bytes(self, spec: ConvSpec) -> int:
        """Bytes a weight gradient allocates besides its result: packing blocks and part sums."""
        if spec.is_empty:
            return 0
        plan = direct_plan.weight_grad_plan(spec, threads.get(), direct_plan.KERNEL)
        itemsize = np.dtype(spec.compute_dtype).itemsize
        if plan.kernel is not None:
            window, offsets, _ = scratch_size(plan.kernel, itemsize, spec.in_channels_per_group, spec.kernel_size,
                                              spec.stride, spec.dilation, direct_plan.KERNEL_ROWS, plan.t_block, 1,
                                              False)
            sums = plan.parts * spec.groups * plan.rows * plan.columns
            per_thread = window + plan.t_block * plan.columns
            return (sums + plan.threads * per_thread) * itemsize + plan.threads * offsets * 8
        weight = spec.out_channels * spec.in_channels_per_group * spec.kernel_size
        return (plan.threads * plan.columns * plan.rows + max(0, plan.parts - 1) * weight) * itemsize

    def run_weight_grad(self, spec: ConvSpec, x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        """``sum_{n, l} grad_output[n, o, l] * x[n, c, l * stride + k * dilation - pad_left]``:
        the weight gradient of ``spec`` without conjugation, ``(C_out, C_in / groups, K)``.

        ``x`` is ``(N, C_in, L)``, ``grad_output`` ``(N, C_out, L_out)``, both C-contiguous
        in ``spec.compute_dtype``.  Calls above 2**33 multiply-adds run in slices of
        the batch, added in order, so that KeyboardInterrupt gets through.
        """
        dtype = spec.compute_dtype
        grad = np.zeros((spec.out_channels, spec.in_channels_per_group, spec.kernel_size), dtype=dtype)
        if spec.is_empty:
            return grad
        pieces = min(spec.batch, -(-spec.macs // _INTERRUPT_MACS))
        if pieces > 1:
            step = -(-spec.batch // pieces)
            for first in range(0, spec.batch, step):
                last = min(first + step, spec.batch)
                grad += self.run_weight_grad(spec._replace(batch=last - first), x[first:last], grad_output[first:last])
            return grad
        plan = direct_plan.weight_grad_plan(spec, threads.get(), direct_plan.KERNEL)
        if plan.kernel is not None:
            return _own_weight_grad(spec, plan, x, grad_output)
        num_threads, cols, rows, parts = plan[:4]
        work = np.empty((num_threads, cols * rows), dtype=dtype) if cols else _NO_WORK[dtype]
        sums = np.zeros((parts - 1, grad.size), dtype=dtype) if parts > 1 else _NO_WORK[dtype][:0]
        # the BLAS on one thread: its own threads could change the sums' order
        pin = _blas_threads.shared_pin() if cols else None
        arguments = (x, grad_output, grad, spec.stride, spec.dilation, spec.pad_left,
                     MODE_CODE[spec.padding_mode], spec.groups, num_threads, cols, rows, work, sums)
        if pin is None:
            _WGRAD_KERNELS[dtype](*arguments)
        else:
            with pin:
                _WGRAD_KERNELS[dtype](*arguments)
        for part in sums:  # in order: the bits do not depend on the thread count
            grad += part.reshape(grad.shape)
        return grad


def _own_weight_grad(spec: ConvSpec, plan: direct_plan.WeightGradPlan, x: np.ndarray,
                     grad_output: np.ndarray) -> np.ndarray:
    """The weight gradient on the own kernel: its parts (each the sum of a fixed run of
    items) added in order, so that the bits depend on the shapes alone."""
    sums = np.zeros((plan.parts, spec.groups, plan.rows, plan.columns), dtype=spec.compute_dtype)
    conv1d_weight_grad_gemm(plan.kernel, x, grad_output, sums, spec.kernel_size, spec.stride, spec.dilation,
                            spec.pad_left, MODE_CODE[spec.padding_mode], spec.groups, plan.threads,
                            direct_plan.KERNEL_ROWS, plan.t_block)
    total = sums[0]
    for part in sums[1:]:
        total += part
    # (groups, C_in/g * K, columns) -> (C_out, C_in/g, K)
    by_channel = total[:, :, : spec.out_channels_per_group].transpose(0, 2, 1)
    return np.ascontiguousarray(by_channel).reshape(spec.out_channels, spec.in_channels_per_group, spec.kernel_size)


# A kernel call over part of a call: (input slice, output slice, pad_left of the slice).
Kernel = Callable[[np.ndarray, np.ndarray, int], None]
# A planned kernel: (x, w, b or None, out, pad_left).
KernelCall = Callable[[np.ndarray, np.ndarray, "np.ndarray | None", np.ndarray, int], None]


def _kernel_call(spec: ConvSpec, plan: direct_plan.DirectPlan) -> KernelCall:
    """The call's kernel with its plan's blocks bound: the own GEMM kernel (it packs
    the weights, where planned, and carves its scratch itself), the loops path, or
    the BLAS over packed blocks (``_direct``; the caller pins the BLAS)."""
    dtype = spec.compute_dtype
    no_bias = _NO_BIAS[dtype]
    geometry = (spec.stride, spec.dilation)
    mode, groups = MODE_CODE[spec.padding_mode], spec.groups
    if plan.kernel is not None:
        k = plan.kernel
        gemm = conv1d_gemm[_FUSED_NAME[dtype]]
        blocks = (plan.threads, k.rows_per_pass, k.t_block, k.o_split, k.o_block, k.whole_window, k.pack_weights)

        def own(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray, pad_left: int) -> None:
            gemm(k.variant, x, w, no_bias if b is None else b, out, *geometry, pad_left, mode, groups,
                 b is not None, *blocks)

        return own
    direct = _KERNELS[dtype]
    columns, rows, num_threads = plan.columns, plan.rows, plan.threads

    def blocked(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray, pad_left: int) -> None:
        work = np.empty((num_threads, columns * rows), dtype=dtype) if columns else _NO_WORK[dtype]
        direct(x, w, no_bias if b is None else b, out, *geometry, pad_left, mode, groups, b is not None,
               num_threads, columns, rows, work)

    return blocked


def forget_plans() -> None:
    """Drop the cached plans and bound calls, so that the next calls plan afresh (for
    tests that change the planning constants; the frontend's per-signature table
    holds bound calls too: ``arrayconv.plain.forget``)."""
    direct_plan.plan.cache_clear()
    direct_plan.weight_grad_plan.cache_clear()
    _bound.cache_clear()


@functools.lru_cache(maxsize=512)
def _bound(spec: ConvSpec, configured_threads: int, variant: str | None) -> Callable | None:
    """See :meth:`DirectBackend.bind` (cached like the plans)."""
    if spec.is_empty or spec.macs > _INTERRUPT_MACS:
        return None
    plan = direct_plan.plan(spec, configured_threads, variant)
    if plan.path == "gemm":
        return None
    kernel = _kernel_call(spec, plan)
    shape, dtype, pad_left = spec.output_shape, spec.compute_dtype, spec.pad_left

    def call(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        out = _scratch.output(shape, dtype)
        kernel(x, w, b, out, pad_left)
        return out

    return call


def _run_pieces(spec: ConvSpec, x: np.ndarray, out: np.ndarray, kernel: Kernel, align: int = 1) -> None:
    """The kernel over slices of a long call, so that Ctrl-C (KeyboardInterrupt, which
    Python raises between two kernel calls, not inside one) stops it promptly.

    Slices of the batch where it has enough items, else, for one item, slices
    of the output length (each computed into a piece, with the padding
    shifted so it reads the same inputs, then copied into place).  The slices
    depend on the shapes alone, never on the thread count.
    """
    pieces = -(-spec.macs // _INTERRUPT_MACS)
    if pieces <= 1:
        kernel(x, out, spec.pad_left)
        return
    if spec.batch >= pieces or spec.length_out < 2:
        step = -(-spec.batch // min(pieces, spec.batch))
        for first in range(0, spec.batch, step):
            last = min(first + step, spec.batch)
            kernel(x[first:last], out[first:last], spec.pad_left)
        return
    # fewer items than slices: each item in slices of its output length, of
    # whole blocks of `align` outputs (the BLAS path's blocks, cut where a whole call cuts them)
    step = -(-spec.length_out // -(-pieces // spec.batch))
    step = -(-step // align) * align
    for item in range(spec.batch):
        for first in range(0, spec.length_out, step):
            count = min(step, spec.length_out - first)
            piece = np.empty((1, spec.output_channels, count), dtype=out.dtype)
            # output t of the piece reads input (first + t) * stride + k * dilation - pad_left
            kernel(x[item : item + 1], piece, spec.pad_left - first * spec.stride)
            out[item, :, first : first + count] = piece[0]
