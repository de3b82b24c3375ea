# cython: language_level=3
"""Direct (time-domain) 1-D cross-correlation kernels.

Two paths, both reading the caller's arrays in place and writing only ``out``:

``loops``
    One output row ``out[n, o, :]`` per work item: the row kernels of
    ``_direct_loops.h`` accumulate each input channel of the group in blocks
    vectorised across outputs, the ends over a small copy of the padded
    samples they read (so no padded copy of the whole input is made).  For
    depthwise layers and those of one or two output channels a group (and
    complex layers of few channels), which are not matrix products worth a
    GEMM.

``gemm``
    Channel-heavy layers as matrix products: for a block of T outputs of one
    batch element and group, the input columns the block reads are packed
    (im2col, bounded to a cache-sized block, with padding, stride and
    dilation applied while packing) and one BLAS GEMM per block of packed rows
    multiplies them by the weight, viewed as (C_out/g, C_in/g * K), writing
    straight into the output.

Work items are spread over OpenMP threads with the GIL released; the caller
keeps the BLAS on one thread meanwhile (backends/_blas_threads.py).  The
thread count is capped by OpenMP's own limit (``omp_get_max_threads``), so
``OMP_NUM_THREADS`` and threadpoolctl's ``threadpool_limits`` apply.  Each output element is computed by one thread in an order fixed by the
shapes alone, so results are bitwise identical for any thread count.

Safety directives (bounds checks, wraparound) are set in setup.py, where
``ARRAYCONV_DEBUG=1`` turns them back on.
"""

from cython.parallel cimport parallel, prange
cimport openmp
from libc.string cimport memcpy
from libc.stdint cimport uintptr_t
from scipy.linalg.cython_blas cimport cgemm, dgemm, sgemm, zgemm

ctypedef fused scalar_t:
    float
    double
    float complex
    double complex

cdef extern from "_direct_loops.h" nogil:
    Py_ssize_t ac_map_index(Py_ssize_t i, Py_ssize_t length, int mode)
    Py_ssize_t ac_first_inside(Py_ssize_t offset, Py_ssize_t stride)
    Py_ssize_t ac_end_inside(Py_ssize_t offset, Py_ssize_t last, Py_ssize_t stride)
    void ac_row_f32(const float *x, Py_ssize_t length, const float *w, Py_ssize_t ksize,
                    float *y, Py_ssize_t length_out, Py_ssize_t stride, Py_ssize_t dilation,
                    Py_ssize_t pad_left, int mode, const float *start)
    void ac_row_f64(const double *x, Py_ssize_t length, const double *w, Py_ssize_t ksize,
                    double *y, Py_ssize_t length_out, Py_ssize_t stride, Py_ssize_t dilation,
                    Py_ssize_t pad_left, int mode, const double *start)
    void ac_row_c64(const float complex *x, Py_ssize_t length, const float complex *w,
                    Py_ssize_t ksize, float complex *y, Py_ssize_t length_out,
                    Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left, int mode,
                    const float complex *start)
    void ac_row_c128(const double complex *x, Py_ssize_t length, const double complex *w,
                     Py_ssize_t ksize, double complex *y, Py_ssize_t length_out,
                     Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left, int mode,
                     const double complex *start)
    void ac_wgrad_f32(const float *x, Py_ssize_t length, const float *gy, Py_ssize_t length_out,
                      float *g, Py_ssize_t ksize, Py_ssize_t stride, Py_ssize_t dilation,
                      Py_ssize_t pad_left, int mode)
    void ac_wgrad_f64(const double *x, Py_ssize_t length, const double *gy, Py_ssize_t length_out,
                      double *g, Py_ssize_t ksize, Py_ssize_t stride, Py_ssize_t dilation,
                      Py_ssize_t pad_left, int mode)
    void ac_wgrad_c64(const float complex *x, Py_ssize_t length, const float complex *gy,
                      Py_ssize_t length_out, float complex *g, Py_ssize_t ksize,
                      Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left, int mode)
    void ac_wgrad_c128(const double complex *x, Py_ssize_t length, const double complex *gy,
                       Py_ssize_t length_out, double complex *g, Py_ssize_t ksize,
                       Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left, int mode)


def map_index(Py_ssize_t i, Py_ssize_t length, int mode):
    """The kernels' padding map (``ac_map_index``): the signal sample padded position
    ``i`` reads, -1 for a zero; exposed so the tests can hold it to
    :func:`arrayconv.padding.source`."""
    return ac_map_index(i, length, mode)


# --------------------------------------------------------------------------
# The loops path


cdef inline void _row(const scalar_t *x, Py_ssize_t length, const scalar_t *w, Py_ssize_t ksize,
                      scalar_t *y, Py_ssize_t length_out, Py_ssize_t stride,
                      Py_ssize_t dilation, Py_ssize_t pad_left, int mode,
                      const scalar_t *start) noexcept nogil:
    # start: the value every sum starts from (the row's first input channel), else NULL: add to y
    if scalar_t is float:
        ac_row_f32(x, length, w, ksize, y, length_out, stride, dilation, pad_left, mode, start)
    elif scalar_t is double:
        ac_row_f64(x, length, w, ksize, y, length_out, stride, dilation, pad_left, mode, start)
    elif scalar_t is floatcomplex:
        ac_row_c64(x, length, w, ksize, y, length_out, stride, dilation, pad_left, mode, start)
    else:
        ac_row_c128(x, length, w, ksize, y, length_out, stride, dilation, pad_left, mode, start)


cdef void _output_row(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] w,
    const scalar_t[::1] bias,
    scalar_t[:, :, ::1] out,
    Py_ssize_t r,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    bint has_bias,
) noexcept nogil:
    cdef Py_ssize_t cout = out.shape[1]
    cdef Py_ssize_t n = r // cout
    cdef Py_ssize_t o = r % cout
    cdef Py_ssize_t length = x.shape[2]
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t cin_g = w.shape[1]
    cdef Py_ssize_t ksize = w.shape[2]
    cdef Py_ssize_t first_channel = (o // (w.shape[0] // groups)) * cin_g
    cdef Py_ssize_t c, t
    cdef scalar_t init = 0
    cdef scalar_t *y = &out[n, o, 0]
    if has_bias:
        init = bias[o]
    if cin_g == 0:
        for t in range(length_out):
            y[t] = init
    for c in range(cin_g):
        # the first input channel's sums start from the bias: the row is written once, not set first
        _row(&x[n, first_channel + c, 0], length, &w[o, c, 0], ksize, y, length_out,
             stride, dilation, pad_left, mode, &init if c == 0 else NULL)


# --------------------------------------------------------------------------
# The gemm path


cdef void _pack(
    const scalar_t *xg,          # first input row of the group (rows of `length`)
    Py_ssize_t length,
    Py_ssize_t ksize,
    Py_ssize_t row_first,        # packed rows [row_first, row_first + rows), row = c * K + k
    Py_ssize_t rows,
    Py_ssize_t t_first,          # output columns [t_first, t_first + cols)
    Py_ssize_t cols,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    scalar_t *buf,               # rows x cols, row-major
) noexcept nogil:
    cdef Py_ssize_t r, c, k, j, lo, hi, i, offset
    cdef const scalar_t *xrow
    cdef scalar_t *dst
    for r in range(rows):
        c = (row_first + r) // ksize
        k = (row_first + r) % ksize
        xrow = xg + c * length
        dst = buf + r * cols
        # column j reads input index (t_first + j) * stride + offset
        offset = t_first * stride + k * dilation - pad_left
        lo = ac_first_inside(offset, stride)
        hi = ac_end_inside(offset, length - 1, stride)
        if lo > cols:
            lo = cols
        if hi > cols:
            hi = cols
        if hi < lo:
            hi = lo
        for j in range(lo):
            i = ac_map_index(j * stride + offset, length, mode)
            if i >= 0:
                dst[j] = xrow[i]
            else:
                dst[j] = 0
        if stride == 1:
            memcpy(dst + lo, xrow + lo + offset, (hi - lo) * sizeof(scalar_t))
        else:
            for j in range(lo, hi):
                dst[j] = xrow[j * stride + offset]
        for j in range(hi, cols):
            i = ac_map_index(j * stride + offset, length, mode)
            if i >= 0:
                dst[j] = xrow[i]
            else:
                dst[j] = 0


cdef inline void _gemm(int m, int n, int k, const scalar_t *a, int lda, const scalar_t *b,
                       int ldb, bint accumulate, scalar_t *c, int ldc) noexcept nogil:
    """Column-major C (m x n) (+)= A (m x k) @ B (k x n)."""
    cdef char no = b'N'
    cdef scalar_t one = 1
    cdef scalar_t beta = 0
    if accumulate:
        beta = 1
    if scalar_t is float:
        sgemm(&no, &no, &m, &n, &k, &one, <float*>a, &lda, <float*>b, &ldb, &beta, c, &ldc)
    elif scalar_t is double:
        dgemm(&no, &no, &m, &n, &k, &one, <double*>a, &lda, <double*>b, &ldb, &beta, c, &ldc)
    elif scalar_t is floatcomplex:
        cgemm(&no, &no, &m, &n, &k, &one, <float complex*>a, &lda, <float complex*>b, &ldb,
              &beta, c, &ldc)
    else:
        zgemm(&no, &no, &m, &n, &k, &one, <double complex*>a, &lda, <double complex*>b, &ldb,
              &beta, c, &ldc)


cdef void _gemm_block(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] w,
    const scalar_t[::1] bias,
    scalar_t[:, :, ::1] out,
    Py_ssize_t item,
    Py_ssize_t block_cols,
    Py_ssize_t block_rows,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    bint has_bias,
    scalar_t *buf,
) noexcept nogil:
    cdef Py_ssize_t length = x.shape[2]
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t cin_g = w.shape[1]
    cdef Py_ssize_t ksize = w.shape[2]
    cdef Py_ssize_t cout_g = w.shape[0] // groups
    cdef Py_ssize_t packed_rows = cin_g * ksize
    cdef Py_ssize_t blocks = (length_out + block_cols - 1) // block_cols
    cdef Py_ssize_t tb = item % blocks
    cdef Py_ssize_t g = (item // blocks) % groups
    cdef Py_ssize_t n = item // (blocks * groups)
    cdef Py_ssize_t t_first = tb * block_cols
    cdef Py_ssize_t cols = min(block_cols, length_out - t_first)
    cdef Py_ssize_t row_first, rows, o, t
    cdef scalar_t *y = &out[n, g * cout_g, t_first]
    cdef scalar_t value
    if has_bias:
        # start from the bias and let every GEMM accumulate (beta = 1): the BLAS
        # would otherwise clear the block first and a bias pass would follow
        for o in range(cout_g):
            value = bias[g * cout_g + o]
            for t in range(cols):
                y[o * length_out + t] = value
    row_first = 0
    while row_first < packed_rows:
        rows = min(block_rows, packed_rows - row_first)
        _pack(&x[n, g * cin_g, 0], length, ksize, row_first, rows, t_first, cols,
              stride, dilation, pad_left, mode, buf)
        # out block (cout_g x cols, row stride length_out) = W_g[:, rows] @ buf;
        # column-major view: C^T (cols x cout_g) = buf^T (cols x rows) @ W_g^T
        _gemm(<int>cols, <int>cout_g, <int>rows, buf, <int>cols,
              &w[g * cout_g, 0, 0] + row_first, <int>packed_rows,
              has_bias or row_first > 0, y, <int>length_out)
        row_first += rows


# --------------------------------------------------------------------------
# Entry point


def conv1d_direct(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] w,
    const scalar_t[::1] bias,
    scalar_t[:, :, ::1] out,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    bint has_bias,
    int num_threads,
    Py_ssize_t block_cols,
    Py_ssize_t block_rows,
    scalar_t[:, ::1] work,
):
    """Write the cross-correlation of ``x`` with ``w`` (plus bias) into ``out``.

    All arrays are C-contiguous and of one dtype.  ``x`` is (N, C_in, L),
    ``w`` is (C_out, C_in/groups, K), ``out`` is (N, C_out, L_out); ``bias``
    has C_out elements when ``has_bias`` (else any length).  The caller (the
    direct backend, from a validated ConvSpec) guarantees the shapes agree,
    the padding is within the mode's limits and the GEMM sizes fit an int.

    ``block_cols`` = 0 selects the loops path.  Otherwise the gemm path packs
    blocks of ``block_rows`` x ``block_cols`` into ``work``, one row of at
    least that many elements per thread (``work.shape[0] >= num_threads``).
    """
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t items, item, chunk
    cdef int thread
    if out.shape[0] * out.shape[1] == 0 or length_out == 0:
        return
    num_threads = min(num_threads, openmp.omp_get_max_threads())
    if block_cols == 0:
        items = out.shape[0] * out.shape[1]
        if num_threads <= 1 or items == 1:
            with nogil:
                for item in range(items):
                    _output_row(x, w, bias, out, item, stride, dilation, pad_left, mode,
                                groups, has_bias)
        else:
            # dynamic: a thread slowed by another process on its core takes fewer rows;
            # in runs of rows (about 32 runs a thread), so short rows are not handed out one by one
            chunk = max(1, items // (32 * num_threads))
            for item in prange(items, nogil=True, schedule="dynamic", chunksize=chunk,
                               num_threads=num_threads):
                _output_row(x, w, bias, out, item, stride, dilation, pad_left, mode,
                            groups, has_bias)
        return

    items = out.shape[0] * groups * ((length_out + block_cols - 1) // block_cols)
    if num_threads > items:
        num_threads = <int>items
    if num_threads > work.shape[0]:
        num_threads = <int>work.shape[0]
    if num_threads <= 1:
        with nogil:
            for item in range(items):
                _gemm_block(x, w, bias, out, item, block_cols, block_rows, stride, dilation,
                            pad_left, mode, groups, has_bias, &work[0, 0])
        return
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        for item in prange(items, schedule="static"):
            _gemm_block(x, w, bias, out, item, block_cols, block_rows, stride, dilation,
                        pad_left, mode, groups, has_bias, &work[thread, 0])


# --------------------------------------------------------------------------
# The weight gradient: gw[o, c, k] = sum_{n, l} gy[n, o, l] x[n, c', l * stride + k * dilation - pad]
# (c' = c in o's group; no conjugation: the caller conjugates for complex dtypes)


cdef inline void _wgrad_row(const scalar_t *x, Py_ssize_t length, const scalar_t *gy,
                            Py_ssize_t length_out, scalar_t *g, Py_ssize_t ksize,
                            Py_ssize_t stride, Py_ssize_t dilation, Py_ssize_t pad_left,
                            int mode) noexcept nogil:
    if scalar_t is float:
        ac_wgrad_f32(x, length, gy, length_out, g, ksize, stride, dilation, pad_left, mode)
    elif scalar_t is double:
        ac_wgrad_f64(x, length, gy, length_out, g, ksize, stride, dilation, pad_left, mode)
    elif scalar_t is floatcomplex:
        ac_wgrad_c64(x, length, gy, length_out, g, ksize, stride, dilation, pad_left, mode)
    else:
        ac_wgrad_c128(x, length, gy, length_out, g, ksize, stride, dilation, pad_left, mode)


cdef void _wgrad_output_row(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] gy,
    scalar_t[:, :, ::1] gw,
    Py_ssize_t o,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
) noexcept nogil:
    """gw[o, :, :] over the whole batch (gw zeroed by the caller)."""
    cdef Py_ssize_t cin_g = gw.shape[1]
    cdef Py_ssize_t first_channel = (o // (gw.shape[0] // groups)) * cin_g
    cdef Py_ssize_t n, c
    for n in range(x.shape[0]):
        for c in range(cin_g):
            _wgrad_row(&x[n, first_channel + c, 0], x.shape[2], &gy[n, o, 0], gy.shape[2],
                       &gw[o, c, 0], gw.shape[2], stride, dilation, pad_left, mode)


cdef inline void _gemm_at(int m, int n, int k, const scalar_t *a, int lda, const scalar_t *b,
                          int ldb, scalar_t *c, int ldc) noexcept nogil:
    """Column-major C (m x n) += A^T @ B, A (k x m), B (k x n)."""
    cdef char trans = b'T'
    cdef char no = b'N'
    cdef scalar_t one = 1
    if scalar_t is float:
        sgemm(&trans, &no, &m, &n, &k, &one, <float*>a, &lda, <float*>b, &ldb, &one, c, &ldc)
    elif scalar_t is double:
        dgemm(&trans, &no, &m, &n, &k, &one, <double*>a, &lda, <double*>b, &ldb, &one, c, &ldc)
    elif scalar_t is floatcomplex:
        cgemm(&trans, &no, &m, &n, &k, &one, <float complex*>a, &lda, <float complex*>b, &ldb,
              &one, c, &ldc)
    else:
        zgemm(&trans, &no, &m, &n, &k, &one, <double complex*>a, &lda, <double complex*>b,
              &ldb, &one, c, &ldc)


cdef void _wgrad_part(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] gy,
    scalar_t *acc,               # (C_out, C_in/groups * K) row-major, accumulated into
    Py_ssize_t cin_g,
    Py_ssize_t ksize,
    Py_ssize_t item_first,
    Py_ssize_t item_last,
    Py_ssize_t block_cols,
    Py_ssize_t block_rows,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    scalar_t *buf,
) noexcept nogil:
    """One part of the sum over (batch element, group, block of outputs): for each
    block, the packed input columns (as the forward gemm path packs them) times
    the output gradient's block, added into the part's accumulator."""
    cdef Py_ssize_t length = x.shape[2]
    cdef Py_ssize_t length_out = gy.shape[2]
    cdef Py_ssize_t cout_g = gy.shape[1] // groups
    cdef Py_ssize_t packed_rows = cin_g * ksize
    cdef Py_ssize_t blocks = (length_out + block_cols - 1) // block_cols
    cdef Py_ssize_t item, tb, g, n, t_first, cols, row_first, rows
    for item in range(item_first, item_last):
        tb = item % blocks
        g = (item // blocks) % groups
        n = item // (blocks * groups)
        t_first = tb * block_cols
        cols = min(block_cols, length_out - t_first)
        row_first = 0
        while row_first < packed_rows:
            rows = min(block_rows, packed_rows - row_first)
            _pack(&x[n, g * cin_g, 0], length, ksize, row_first, rows, t_first, cols,
                  stride, dilation, pad_left, mode, buf)
            # acc_g^T (packed rows x cout_g, column-major, ld packed_rows)
            #   += buf (cols x rows, column-major)^T @ gy block (cols x cout_g, ld length_out)
            _gemm_at(<int>rows, <int>cout_g, <int>cols, buf, <int>cols,
                     &gy[n, g * cout_g, t_first], <int>length_out,
                     acc + g * cout_g * packed_rows + row_first, <int>packed_rows)
            row_first += rows


def conv1d_weight_grad(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] gy,
    scalar_t[:, :, ::1] gw,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    int num_threads,
    Py_ssize_t block_cols,
    Py_ssize_t block_rows,
    scalar_t[:, ::1] work,
    scalar_t[:, ::1] parts,
):
    """Write the weight gradient ``sum_{n, l} gy[n, o, l] x[n, c, l * stride + k * dilation - pad_left]``
    into ``gw`` (C_out, C_in/groups, K), which the caller has zeroed.

    ``block_cols`` = 0 selects the loops path (one weight row per work item).
    Otherwise the sum over (batch element, group, block of outputs) is split
    into ``parts.shape[0] + 1`` parts fixed by the shapes: the first adds
    into ``gw``, each other into its row of ``parts`` (zeroed by the caller,
    C_out * C_in/groups * K elements each), which the caller then adds into
    ``gw`` in order, so the bits do not depend on the thread count.  ``work``
    holds one packing block per thread.
    """
    cdef Py_ssize_t cout = gw.shape[0]
    cdef Py_ssize_t cin_g = gw.shape[1]
    cdef Py_ssize_t ksize = gw.shape[2]
    cdef Py_ssize_t length_out = gy.shape[2]
    cdef Py_ssize_t items, item, part, nparts, per_part, first, last
    cdef int thread
    cdef scalar_t *acc
    if cout * cin_g * ksize == 0 or x.shape[0] == 0 or length_out == 0:
        return
    num_threads = min(num_threads, openmp.omp_get_max_threads())
    if block_cols == 0:
        if num_threads <= 1 or cout == 1:
            with nogil:
                for item in range(cout):
                    _wgrad_output_row(x, gy, gw, item, stride, dilation, pad_left, mode, groups)
        else:
            for item in prange(cout, nogil=True, schedule="static", num_threads=num_threads):
                _wgrad_output_row(x, gy, gw, item, stride, dilation, pad_left, mode, groups)
        return

    items = x.shape[0] * groups * ((length_out + block_cols - 1) // block_cols)
    nparts = parts.shape[0] + 1
    per_part = (items + nparts - 1) // nparts
    if num_threads > nparts:
        num_threads = <int>nparts
    if num_threads > work.shape[0]:
        num_threads = <int>work.shape[0]
    if num_threads <= 1:
        with nogil:
            for part in range(nparts):
                acc = &gw[0, 0, 0] if part == 0 else &parts[part - 1, 0]
                _wgrad_part(x, gy, acc, cin_g, ksize, part * per_part,
                            min(items, (part + 1) * per_part), block_cols, block_rows,
                            stride, dilation, pad_left, mode, groups, &work[0, 0])
        return
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        for part in prange(nparts, schedule="static"):
            first = part * per_part
            last = min(items, first + per_part)
            if part == 0:
                acc = &gw[0, 0, 0]
            else:
                acc = &parts[part - 1, 0]
            _wgrad_part(x, gy, acc, cin_g, ksize, first, last, block_cols, block_rows,
                        stride, dilation, pad_left, mode, groups, &work[thread, 0])
