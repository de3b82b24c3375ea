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
blocks.  The weights are packed and the threads' scratch carved from one
block of memory per calling thread, kept between calls (``_thread_block.h``),
so that a small call pays for no allocation.
"""

from cython.parallel cimport parallel, prange
cimport openmp

ctypedef fused real_t:
    float
    double

cdef extern from "_thread_block.h" nogil:
    void *acb_get(size_t size, int *owned)
    void acb_release(void *data, int owned, size_t keep)

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
                      int packed, const float *bias, float *y, Py_ssize_t o_first, Py_ssize_t o_count,
                      Py_ssize_t t_first, Py_ssize_t t_count, Py_ssize_t o_block,
                      float *window, Py_ssize_t *offsets, float *stage, int window_ready)
    void acg_wgrad_item_f32(int variant, const acg_geom *g, const float *x, const float *gy,
                            Py_ssize_t cout_g, Py_ssize_t t_first, Py_ssize_t t_count, float *sums,
                            Py_ssize_t ldsum, float *window, Py_ssize_t *offsets, float *gyt)
    void acg_wgrad_item_f64(int variant, const acg_geom *g, const double *x, const double *gy,
                            Py_ssize_t cout_g, Py_ssize_t t_first, Py_ssize_t t_count, double *sums,
                            Py_ssize_t ldsum, double *window, Py_ssize_t *offsets, double *gyt)
    void acg_item_f64(int variant, const acg_geom *g, const double *x, const double *a,
                      int packed, const double *bias, double *y, Py_ssize_t o_first, Py_ssize_t o_count,
                      Py_ssize_t t_first, Py_ssize_t t_count, Py_ssize_t o_block,
                      double *window, Py_ssize_t *offsets, double *stage, int window_ready)


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


# Scratch above this stays allocated in the calling thread only for the call.
cdef size_t _KEEP_SCRATCH = 16 << 20


cdef inline Py_ssize_t _aligned(Py_ssize_t size) noexcept nogil:
    """``size`` bytes rounded up to whole 64-byte lines."""
    return (size + 63) // 64 * 64


cdef void _item(int code, const acg_geom *g, const real_t[:, :, ::1] x, const real_t *a,
                int packed, const real_t *bias, real_t[:, :, ::1] out, Py_ssize_t item, Py_ssize_t groups,
                Py_ssize_t cout_g, Py_ssize_t o_split, Py_ssize_t splits, Py_ssize_t t_block,
                Py_ssize_t t_blocks, Py_ssize_t o_block, Py_ssize_t weights_per_group,
                real_t *window, Py_ssize_t *offsets, real_t *stage, Py_ssize_t *window_key) noexcept nogil:
    # item = ((n * groups + group) * t_blocks + block) * splits + split: neighbours share an input window,
    # which a thread that packed it whole for the item before keeps (window_key: whose window it holds)
    cdef Py_ssize_t key = item // splits
    cdef int window_ready = g.window_channels >= g.cin_g and window_key[0] == key
    window_key[0] = key if g.window_channels >= g.cin_g else -1
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
        acg_item_f32(code, g, &x[n, group * g.cin_g, 0], a + group * weights_per_group, packed, group_bias,
                     &out[n, group * cout_g, 0], o_first, o_count, t_first, t_count, o_block,
                     window, offsets, stage, window_ready)
    else:
        acg_item_f64(code, g, &x[n, group * g.cin_g, 0], a + group * weights_per_group, packed, group_bias,
                     &out[n, group * cout_g, 0], o_first, o_count, t_first, t_count, o_block,
                     window, offsets, stage, window_ready)


def conv1d_gemm(
    str variant,
    const real_t[:, :, ::1] x,
    const real_t[:, :, ::1] w,
    const real_t[::1] bias,
    real_t[:, :, ::1] out,
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
    bint pack_weights,
):
    """Write the cross-correlation of ``x`` (N, C_in, L) with ``w`` (C_out, C_in/groups, K)
    plus ``bias`` into ``out`` (N, C_out, L_out).

    Items of ``o_split`` output channels (a multiple of the tile's) by
    ``t_block`` positions; each pass over an item's tiles covers ``o_block``
    channels (a multiple of the tile's) and ``kc // K`` input channels (at
    least one); ``whole_window``: an item's window holds every input channel
    of its group (else one pass's); ``pack_weights``: the weights are packed
    into tile panels first (else read where they are: for calls too short to
    repay the packing).
    """
    cdef int code = VARIANTS[variant]
    cdef Py_ssize_t ksize = w.shape[2]
    cdef Py_ssize_t cout_g = out.shape[1] // groups if groups else 0
    cdef Py_ssize_t cin_g = x.shape[1] // groups if groups else 0
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t mr = acg_tile_rows(code)
    cdef Py_ssize_t itemsize = sizeof(real_t)
    cdef Py_ssize_t nr = acg_tile_cols(code, itemsize)
    cdef acg_geom g = _geometry(x.shape[2], length_out, cin_g, ksize, stride, dilation,
                                pad_left, mode, kc, 0)
    cdef Py_ssize_t packed_per_group = (cout_g + mr - 1) // mr * mr * cin_g * ksize
    cdef Py_ssize_t weights_per_group = packed_per_group if pack_weights else cout_g * cin_g * ksize
    cdef Py_ssize_t packed_bytes = _aligned(groups * packed_per_group * itemsize) if pack_weights else 0
    cdef Py_ssize_t splits, t_blocks, items, item, window_bytes, offsets_bytes, stage_bytes, per_thread
    cdef const real_t *bias_data = NULL
    cdef char *block
    cdef const real_t *weights
    cdef char *own
    cdef int owned, thread
    if out.shape[0] * out.shape[1] * length_out == 0:
        return
    if o_split <= 0 or o_split % mr or o_block <= 0 or o_block % mr or t_block <= 0 or kc <= 0:
        raise ValueError("conv1d_gemm: blocks must be positive whole tiles")
    if has_bias and bias.shape[0] < out.shape[1]:
        raise ValueError("conv1d_gemm: the bias is shorter than the output channels")
    g.window_channels = cin_g if whole_window else acg_pass_channels(&g)
    if has_bias:
        bias_data = &bias[0]
    # (cdivision: no negative floor division here)
    splits = (cout_g + o_split - 1) // o_split
    t_blocks = (length_out + t_block - 1) // t_block
    items = out.shape[0] * groups * splits * t_blocks
    num_threads = max(1, min(num_threads, openmp.omp_get_max_threads(), items))
    window_bytes = _aligned(acg_window_values(&g, g.window_channels, t_block, nr, itemsize) * itemsize)
    offsets_bytes = _aligned(acg_offset_count(&g) * sizeof(Py_ssize_t))
    stage_bytes = _aligned(acg_stage_values(&g, t_block, nr, o_block, itemsize) * itemsize)
    per_thread = window_bytes + offsets_bytes + stage_bytes + _aligned(sizeof(Py_ssize_t))
    block = <char *>acb_get(packed_bytes + num_threads * per_thread, &owned)
    if block == NULL:
        raise MemoryError("conv1d_gemm: no memory for the packed weights and the threads' scratch")
    weights = <real_t *>block if pack_weights else &w[0, 0, 0]
    own = block + packed_bytes
    for thread in range(num_threads):  # no thread's window holds an item's yet
        (<Py_ssize_t *>(own + thread * per_thread + window_bytes + offsets_bytes + stage_bytes))[0] = -1
    with nogil:
        if pack_weights:
            if real_t is float:
                acg_pack_weights_f32(code, &w[0, 0, 0], w.shape[0], cin_g * ksize, groups, <float *>block)
            else:
                acg_pack_weights_f64(code, &w[0, 0, 0], w.shape[0], cin_g * ksize, groups, <double *>block)
        if num_threads == 1:
            for item in range(items):
                _item(code, &g, x, weights, pack_weights, bias_data, out, item, groups, cout_g, o_split, splits,
                      t_block, t_blocks, o_block, weights_per_group, <real_t *>own,
                      <Py_ssize_t *>(own + window_bytes),
                      <real_t *>(own + window_bytes + offsets_bytes) if stage_bytes else NULL,
                      <Py_ssize_t *>(own + window_bytes + offsets_bytes + stage_bytes))
        else:
            with parallel(num_threads=num_threads):
                thread = openmp.omp_get_thread_num()
                for item in prange(items, schedule="dynamic"):
                    _item(code, &g, x, weights, pack_weights, bias_data, out, item, groups, cout_g, o_split,
                          splits, t_block, t_blocks, o_block, weights_per_group,
                          <real_t *>(own + thread * per_thread),
                          <Py_ssize_t *>(own + thread * per_thread + window_bytes),
                          <real_t *>(own + thread * per_thread + window_bytes + offsets_bytes)
                          if stage_bytes else NULL,
                          <Py_ssize_t *>(own + thread * per_thread + window_bytes + offsets_bytes + stage_bytes))
        acb_release(block, owned, _KEEP_SCRATCH)


# --------------------------------------------------------------------------
# The weight gradient


def weight_grad_columns(str variant, Py_ssize_t itemsize, Py_ssize_t out_channels_per_group):
    """Columns of a weight gradient's sums: the group's output channels in whole tiles."""
    cdef Py_ssize_t nr = acg_tile_cols(VARIANTS[variant], itemsize)
    return (out_channels_per_group + nr - 1) // nr * nr


cdef void _wgrad_part(int code, const acg_geom *g, const real_t[:, :, ::1] x,
                      const real_t[:, :, ::1] gy, real_t[:, :, :, ::1] sums, Py_ssize_t part,
                      Py_ssize_t first, Py_ssize_t last, Py_ssize_t groups, Py_ssize_t cout_g,
                      Py_ssize_t t_block, Py_ssize_t t_blocks, real_t *window,
                      Py_ssize_t *offsets, real_t *gyt) noexcept nogil:
    # items first to last, in order: item = (n * groups + group) * t_blocks + block
    cdef Py_ssize_t item, block, group, n, t_first
    for item in range(first, last):
        block = item % t_blocks
        group = (item // t_blocks) % groups
        n = item // (t_blocks * groups)
        t_first = block * t_block
        if real_t is float:
            acg_wgrad_item_f32(code, g, &x[n, group * g.cin_g, 0], &gy[n, group * cout_g, 0], cout_g,
                               t_first, min(t_block, g.length_out - t_first), &sums[part, group, 0, 0],
                               sums.shape[3], window, offsets, gyt)
        else:
            acg_wgrad_item_f64(code, g, &x[n, group * g.cin_g, 0], &gy[n, group * cout_g, 0], cout_g,
                               t_first, min(t_block, g.length_out - t_first), &sums[part, group, 0, 0],
                               sums.shape[3], window, offsets, gyt)


def conv1d_weight_grad_gemm(
    str variant,
    const real_t[:, :, ::1] x,
    const real_t[:, :, ::1] gy,
    real_t[:, :, :, ::1] sums,
    Py_ssize_t ksize,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    int num_threads,
    Py_ssize_t kc,
    Py_ssize_t t_block,
):
    """Add ``sum_{n, t} x_r[n, t] * gy[n, o, t]`` into ``sums`` (parts, groups, C_in/g * K,
    columns): part p sums the items (batch element, group, block of ``t_block``
    positions) from p * ceil(items / parts) on, in order, so the caller adding
    the parts in order gets bits fixed by the shapes.  ``sums`` is zeroed by the
    caller, its columns ``weight_grad_columns`` (output channel o at column o).
    """
    cdef int code = VARIANTS[variant]
    cdef Py_ssize_t cout_g = gy.shape[1] // groups if groups else 0
    cdef Py_ssize_t cin_g = x.shape[1] // groups if groups else 0
    cdef Py_ssize_t length_out = gy.shape[2]
    cdef Py_ssize_t itemsize = sizeof(real_t)
    cdef Py_ssize_t nr = acg_tile_cols(code, itemsize)
    cdef acg_geom g = _geometry(x.shape[2], length_out, cin_g, ksize, stride, dilation,
                                pad_left, mode, kc, 0)
    cdef Py_ssize_t parts = sums.shape[0]
    cdef Py_ssize_t t_blocks, items, per_part, part, window_bytes, offsets_bytes, gyt_bytes, per_thread
    cdef char *block
    cdef int owned, thread
    if x.shape[0] * cin_g * cout_g * length_out == 0 or parts == 0:
        return
    if (t_block <= 0 or kc <= 0 or sums.shape[1] < groups or sums.shape[2] < cin_g * ksize
            or sums.shape[3] < cout_g or sums.shape[3] % nr):
        raise ValueError("conv1d_weight_grad_gemm: the blocks or sums do not fit the call")
    g.window_channels = acg_pass_channels(&g)
    t_blocks = (length_out + t_block - 1) // t_block
    items = x.shape[0] * groups * t_blocks
    per_part = (items + parts - 1) // parts
    num_threads = max(1, min(num_threads, openmp.omp_get_max_threads(), parts))
    window_bytes = _aligned(acg_window_values(&g, g.window_channels, t_block, nr, itemsize) * itemsize)
    offsets_bytes = _aligned(acg_offset_count(&g) * sizeof(Py_ssize_t))
    gyt_bytes = _aligned(t_block * sums.shape[3] * itemsize)
    per_thread = window_bytes + offsets_bytes + gyt_bytes
    block = <char *>acb_get(num_threads * per_thread, &owned)
    if block == NULL:
        raise MemoryError("conv1d_weight_grad_gemm: no memory for the threads' scratch")
    with nogil:
        if num_threads == 1:
            for part in range(parts):
                _wgrad_part(code, &g, x, gy, sums, part, part * per_part, min(items, (part + 1) * per_part),
                            groups, cout_g, t_block, t_blocks, <real_t *>block,
                            <Py_ssize_t *>(block + window_bytes),
                            <real_t *>(block + window_bytes + offsets_bytes))
        else:
            with parallel(num_threads=num_threads):
                thread = openmp.omp_get_thread_num()
                for part in prange(parts, schedule="dynamic"):
                    _wgrad_part(code, &g, x, gy, sums, part, part * per_part,
                                min(items, (part + 1) * per_part), groups, cout_g, t_block, t_blocks,
                                <real_t *>(block + thread * per_thread),
                                <Py_ssize_t *>(block + thread * per_thread + window_bytes),
                                <real_t *>(block + thread * per_thread + window_bytes + offsets_bytes))
        acb_release(block, owned, _KEEP_SCRATCH)
