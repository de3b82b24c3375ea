# cython: language_level=3
"""The direct backend's own convolution GEMM for float32 and float64 (``_conv_gemm.h``).

Register tiles of output channels x positions over packed weights and a
per-item window of the input (padding, stride phases and dilation applied
while it is copied), with no BLAS call and no im2col.  Work items
(batch element, group, output channels, positions) are spread over OpenMP
threads with the GIL released.  Every output element is summed in one order
fixed by the shapes (``kc``), so the bits do not depend on the thread count or
on the split into items.

The caller (``backends/direct.py``, from a validated ConvSpec) chooses the
blocks; the scratch sizes are checked here, since a short window would be
written past its end.
"""

from cython.parallel cimport parallel, prange
cimport openmp

ctypedef fused real_t:
    float
    double

cdef extern from "_conv_gemm.h" nogil:
    ctypedef struct acg_geom:
        Py_ssize_t length
        Py_ssize_t length_out
        Py_ssize_t cin_g
        Py_ssize_t ksize
        Py_ssize_t stride
        Py_ssize_t dilation
        Py_ssize_t pad_left
        int mode
        Py_ssize_t kc
        Py_ssize_t window_channels
    int ACG_AVAILABLE
    int ACG_BASELINE, ACG_AVX2, ACG_AVX512, ACG_WIDE_ON_AVX2
    int acg_runs(int variant)
    int acg_best_variant()
    int acg_tile_rows(int variant)
    Py_ssize_t acg_tile_cols(int variant, Py_ssize_t itemsize)
    Py_ssize_t acg_pass_channels(const acg_geom *g)
    Py_ssize_t acg_window_values(const acg_geom *g, Py_ssize_t channels, Py_ssize_t t_block,
                                 Py_ssize_t nr, Py_ssize_t itemsize)
    Py_ssize_t acg_offset_count(const acg_geom *g)
    Py_ssize_t acg_stage_values(const acg_geom *g, Py_ssize_t t_block, Py_ssize_t nr,
                                Py_ssize_t o_block, Py_ssize_t itemsize)
    void acg_pack_weights_f32(int variant, const float *w, Py_ssize_t cout, Py_ssize_t rows,
                              Py_ssize_t groups, float *packed)
    void acg_pack_weights_f64(int variant, const double *w, Py_ssize_t cout, Py_ssize_t rows,
                              Py_ssize_t groups, double *packed)
    void acg_item_f32(int variant, const acg_geom *g, const float *x, const float *a,
                      const float *bias, float *y, Py_ssize_t o_first, Py_ssize_t o_count,
                      Py_ssize_t t_first, Py_ssize_t t_count, Py_ssize_t o_block,
                      float *window, Py_ssize_t *offsets, float *stage)
    void acg_item_f64(int variant, const acg_geom *g, const double *x, const double *a,
                      const double *bias, double *y, Py_ssize_t o_first, Py_ssize_t o_count,
                      Py_ssize_t t_first, Py_ssize_t t_count, Py_ssize_t o_block,
                      double *window, Py_ssize_t *offsets, double *stage)


VARIANTS = {"baseline": ACG_BASELINE, "avx2": ACG_AVX2, "avx512": ACG_AVX512,
            "wide-on-avx2": ACG_WIDE_ON_AVX2} if ACG_AVAILABLE else {}


def runs(str variant):
    """Whether this build and CPU run the kernel variant (a key of VARIANTS)."""
    return variant in VARIANTS and bool(acg_runs(VARIANTS[variant]))


def best_variant():
    """The fastest variant this CPU runs, or None where the build has no kernels."""
    if not ACG_AVAILABLE:
        return None
    code = acg_best_variant()
    return next(name for name, value in VARIANTS.items() if value == code)


def tile_shape(str variant, Py_ssize_t itemsize):
    """(output channels, positions) of one register tile of the variant."""
    code = VARIANTS[variant]
    return acg_tile_rows(code), acg_tile_cols(code, itemsize)


cdef acg_geom _geometry(Py_ssize_t length, Py_ssize_t length_out, Py_ssize_t cin_g,
                        Py_ssize_t ksize, Py_ssize_t stride, Py_ssize_t dilation,
                        Py_ssize_t pad_left, int mode, Py_ssize_t kc,
                        Py_ssize_t window_channels) noexcept:
    cdef acg_geom g
    g.length = length
    g.length_out = length_out
    g.cin_g = cin_g
    g.ksize = ksize
    g.stride = stride
    g.dilation = dilation
    g.pad_left = pad_left
    g.mode = mode
    g.kc = kc
    g.window_channels = window_channels
    return g


def scratch_size(str variant, Py_ssize_t itemsize, Py_ssize_t cin_g, Py_ssize_t ksize,
                 Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t kc, Py_ssize_t t_block,
                 Py_ssize_t o_block, bint whole_window):
    """(window values, offsets, stage values) of one thread's scratch; ``whole_window``:
    the window holds every input channel of a group (else one pass's)."""
    cdef acg_geom g = _geometry(0, 0, cin_g, ksize, stride, dilation, 0, 0, kc, 0)
    cdef Py_ssize_t nr = acg_tile_cols(VARIANTS[variant], itemsize)
    cdef Py_ssize_t channels = cin_g if whole_window else acg_pass_channels(&g)
    return (acg_window_values(&g, channels, t_block, nr, itemsize), acg_offset_count(&g),
            acg_stage_values(&g, t_block, nr, o_block, itemsize))


def packed_weights_size(str variant, Py_ssize_t out_channels, Py_ssize_t rows, Py_ssize_t groups):
    """Values of the packed weights: each group's channels rounded up to whole tiles."""
    cdef Py_ssize_t mr = acg_tile_rows(VARIANTS[variant])
    return groups * ((out_channels // groups + mr - 1) // mr) * mr * rows


def pack_weights(str variant, const real_t[:, :, ::1] w, Py_ssize_t groups, real_t[::1] packed):
    """Write ``w`` (C_out, C_in/groups, K) into ``packed`` in the variant's tile panels."""
    cdef int code = VARIANTS[variant]
    cdef Py_ssize_t rows = w.shape[1] * w.shape[2]
    if packed.shape[0] < packed_weights_size(variant, w.shape[0], rows, groups):
        raise ValueError("packed: too short for the weights")
    if w.shape[0] * rows == 0:
        return
    with nogil:
        if real_t is float:
            acg_pack_weights_f32(code, &w[0, 0, 0], w.shape[0], rows, groups, &packed[0])
        else:
            acg_pack_weights_f64(code, &w[0, 0, 0], w.shape[0], rows, groups, &packed[0])


cdef void _item(int code, const acg_geom *g, const real_t[:, :, ::1] x, const real_t *a,
                const real_t *bias, real_t[:, :, ::1] out, Py_ssize_t item, Py_ssize_t groups,
                Py_ssize_t cout_g, Py_ssize_t o_split, Py_ssize_t splits, Py_ssize_t t_block,
                Py_ssize_t t_blocks, Py_ssize_t o_block, Py_ssize_t weights_per_group,
                real_t *window, Py_ssize_t *offsets, real_t *stage) noexcept nogil:
    # item = ((n * groups + group) * t_blocks + block) * splits + split: neighbours share an input window
    cdef Py_ssize_t split = item % splits
    cdef Py_ssize_t block = (item // splits) % t_blocks
    cdef Py_ssize_t group = (item // (splits * t_blocks)) % groups
    cdef Py_ssize_t n = item // (splits * t_blocks * groups)
    cdef Py_ssize_t o_first = split * o_split
    cdef Py_ssize_t t_first = block * t_block
    cdef Py_ssize_t o_count = min(o_split, cout_g - o_first)
    cdef Py_ssize_t t_count = min(t_block, g.length_out - t_first)
    cdef const real_t *group_bias = NULL
    if bias != NULL:
        group_bias = bias + group * cout_g
    if real_t is float:
        acg_item_f32(code, g, &x[n, group * g.cin_g, 0], a + group * weights_per_group, group_bias,
                     &out[n, group * cout_g, 0], o_first, o_count, t_first, t_count, o_block,
                     window, offsets, stage)
    else:
        acg_item_f64(code, g, &x[n, group * g.cin_g, 0], a + group * weights_per_group, group_bias,
                     &out[n, group * cout_g, 0], o_first, o_count, t_first, t_count, o_block,
                     window, offsets, stage)


def conv1d_gemm(
    str variant,
    const real_t[:, :, ::1] x,
    const real_t[::1] packed,
    const real_t[::1] bias,
    real_t[:, :, ::1] out,
    Py_ssize_t ksize,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    bint has_bias,
    int num_threads,
    Py_ssize_t kc,
    Py_ssize_t t_block,
    Py_ssize_t o_split,
    Py_ssize_t o_block,
    bint whole_window,
    real_t[:, ::1] window,
    Py_ssize_t[:, ::1] offsets,
    real_t[:, ::1] stage,
):
    """Write the cross-correlation of ``x`` (N, C_in, L) with the packed weights
    (``pack_weights``; K taps) plus ``bias`` into ``out`` (N, C_out, L_out).

    Items of ``o_split`` output channels (a multiple of the tile's) by
    ``t_block`` positions; each pass over an item's tiles covers ``o_block``
    channels (a multiple of the tile's) and ``kc // K`` input channels.
    ``window``, ``offsets`` and ``stage`` hold one row of scratch per thread
    (``scratch_size``; ``stage`` may have no columns where one pass covers
    every input channel).
    """
    cdef int code = VARIANTS[variant]
    cdef Py_ssize_t cout_g = out.shape[1] // groups if groups else 0
    cdef Py_ssize_t cin_g = x.shape[1] // groups if groups else 0
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t mr = acg_tile_rows(code)
    cdef acg_geom g = _geometry(x.shape[2], length_out, cin_g, ksize, stride, dilation,
                                pad_left, mode, kc, 0)
    cdef Py_ssize_t itemsize = sizeof(real_t)
    cdef Py_ssize_t weights_per_group = (cout_g + mr - 1) // mr * mr * cin_g * ksize
    cdef Py_ssize_t splits, t_blocks, items, item
    cdef const real_t *bias_data = NULL
    cdef Py_ssize_t nr = acg_tile_cols(code, itemsize)
    cdef Py_ssize_t stage_values = acg_stage_values(&g, t_block, nr, o_block, itemsize)
    cdef int thread
    cdef real_t *stage_row
    g.window_channels = cin_g if whole_window else acg_pass_channels(&g)
    if out.shape[0] * out.shape[1] * length_out == 0:
        return
    if (o_split <= 0 or o_split % mr or o_block <= 0 or o_block % mr or t_block <= 0 or kc <= 0
            or packed.shape[0] < groups * weights_per_group
            or window.shape[1] < acg_window_values(&g, g.window_channels, t_block, nr, itemsize)
            or offsets.shape[1] < acg_offset_count(&g)
            or stage.shape[1] < stage_values or (stage_values and stage.shape[0] < window.shape[0])
            or (has_bias and bias.shape[0] < out.shape[1])):
        raise ValueError("conv1d_gemm: blocks or scratch do not fit the call")
    if has_bias:
        bias_data = &bias[0]
    # (cdivision: no negative floor division here)
    splits = (cout_g + o_split - 1) // o_split
    t_blocks = (length_out + t_block - 1) // t_block
    items = out.shape[0] * groups * splits * t_blocks
    num_threads = min(num_threads, openmp.omp_get_max_threads(), items, window.shape[0],
                      offsets.shape[0])
    if num_threads <= 1:
        with nogil:
            for item in range(items):
                _item(code, &g, x, &packed[0], bias_data, out, item, groups, cout_g, o_split,
                      splits, t_block, t_blocks, o_block, weights_per_group, &window[0, 0],
                      &offsets[0, 0], &stage[0, 0] if stage_values else NULL)
        return
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        stage_row = &stage[thread, 0] if stage_values else NULL
        for item in prange(items, schedule="static"):
            _item(code, &g, x, &packed[0], bias_data, out, item, groups, cout_g, o_split,
                  splits, t_block, t_blocks, o_block, weights_per_group, &window[thread, 0],
                  &offsets[thread, 0], stage_row)
