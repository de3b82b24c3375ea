# cython: language_level=3
"""The data movement and channel contraction of the ``fft`` backend.

The backend (backends/fft.py) reduces every call to a stride-1, dilation-1
correlation of a *polyphase* signal and runs it by overlap-save:

* stride ``s``: tap ``k = s*q + p`` of the weight reads input ``s*(i + d*q) + d*p``
  for output ``i``, so each phase ``p`` is a stride-1 correlation of the
  phase's taps with the input decimated by ``s`` from offset ``d*p``: the
  phases become ``s`` extra input channels (``c' = c*s + p``) summed by the
  contraction, and no output is computed only to be dropped;
* dilation ``d``: outputs ``i = d*m + r`` of one residue ``r`` read only
  inputs ``d*j + r``, so each residue is an undilated correlation of a signal
  decimated by ``d``; residues become extra columns.

A *column* is one (batch element, residue, block of B outputs); a *frame* is
the n input samples that block reads.  :func:`gather_frames` cuts the frames
(padding modes applied per index, no padded copy), :func:`contract_gemm` and
:func:`contract_loops` sum the input channels per frequency, and
:func:`scatter_frames` puts the first B samples of each output frame in place
and adds the bias.  Stride-1 layers whose groups have one channel each skip
the stages: :func:`overlap_save_products` runs each frame's whole pipeline on
the thread that takes it (MKL only: it transforms through :class:`DftiRows`).
All of them run over OpenMP threads with the GIL released and touch only the
arrays they are given.
"""

from cython.parallel cimport parallel, prange
cimport openmp
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport cgemm, zgemm

import numpy as np

ctypedef fused scalar_t:
    float
    double
    float complex
    double complex

ctypedef fused complex_t:
    float complex
    double complex

ctypedef fused real_t:
    float
    double

cdef extern from "_direct_loops.h" nogil:
    Py_ssize_t ac_map_index(Py_ssize_t i, Py_ssize_t length, int mode)
    Py_ssize_t ac_first_inside(Py_ssize_t offset, Py_ssize_t stride)
    Py_ssize_t ac_end_inside(Py_ssize_t offset, Py_ssize_t last, Py_ssize_t stride)


cdef inline int _threads(int wanted, Py_ssize_t items) noexcept nogil:
    cdef int limit = openmp.omp_get_max_threads()
    if wanted > limit:
        wanted = limit
    if wanted > items:
        wanted = <int>items
    return wanted if wanted > 1 else 1


# --------------------------------------------------------------------------
# Frames in, frames out


cdef void _frame(const scalar_t *xrow, Py_ssize_t length, Py_ssize_t padded_length,
                 Py_ssize_t pad_left, int mode, Py_ssize_t start, Py_ssize_t step,
                 scalar_t *dst, Py_ssize_t n) noexcept nogil:
    """dst[t] = padded signal at ``start + step*t`` (0 past its end), t < n."""
    cdef Py_ssize_t t, i, mapped, lo, hi, count
    cdef Py_ssize_t offset = start - pad_left  # signal index of t = 0
    # t < count stays inside the padded signal; beyond it only zero taps read
    count = 0 if start >= padded_length else (padded_length - 1 - start) // step + 1
    if count > n:
        count = n
    lo = ac_first_inside(offset, step)
    hi = ac_end_inside(offset, length - 1, step)
    if lo > count:
        lo = count
    if hi > count:
        hi = count
    if hi < lo:
        hi = lo
    for t in range(lo):
        mapped = ac_map_index(offset + step * t, length, mode)
        dst[t] = xrow[mapped] if mapped >= 0 else 0
    if step == 1:
        memcpy(dst + lo, xrow + offset + lo, (hi - lo) * sizeof(scalar_t))
    else:
        for t in range(lo, hi):
            dst[t] = xrow[offset + step * t]
    for t in range(hi, count):
        mapped = ac_map_index(offset + step * t, length, mode)
        dst[t] = xrow[mapped] if mapped >= 0 else 0
    if count < n:
        memset(dst + count, 0, (n - count) * sizeof(scalar_t))


def gather_frames(
    const scalar_t[:, :, ::1] x,
    scalar_t[:, :, ::1] frames,
    Py_ssize_t first_column,
    Py_ssize_t blocks,
    Py_ssize_t block,
    Py_ssize_t residues,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    Py_ssize_t padded_length,
    int mode,
    int num_threads,
):
    """Fill ``frames`` (columns, C_in * stride, n) from ``x`` (N, C_in, L).

    Column ``first_column + j`` is batch element ``j // (residues*blocks)``,
    residue ``r``, block ``b``; its channel ``c*stride + p`` holds padded
    input ``stride*(dilation*(b*block + t) + r) + dilation*p`` at position t.
    """
    cdef Py_ssize_t columns = frames.shape[0]
    cdef Py_ssize_t phases_total = frames.shape[1]
    cdef Py_ssize_t n = frames.shape[2]
    cdef Py_ssize_t items = columns * phases_total
    cdef Py_ssize_t item
    if items == 0:
        return
    num_threads = _threads(num_threads, items)
    for item in prange(items, nogil=True, schedule="static", num_threads=num_threads):
        _gather_one(x, frames, item, first_column, blocks, block, residues, stride, dilation,
                    pad_left, padded_length, mode)


cdef inline void _column_at(Py_ssize_t column, Py_ssize_t blocks, Py_ssize_t residues, Py_ssize_t *batch,
                            Py_ssize_t *residue, Py_ssize_t *b) noexcept nogil:
    """The batch element, dilation residue and block of a column (columns run blocks
    innermost, then residues)."""
    batch[0] = column // (residues * blocks)
    residue[0] = (column // blocks) % residues
    b[0] = column % blocks


cdef void _gather_one(const scalar_t[:, :, ::1] x, scalar_t[:, :, ::1] frames, Py_ssize_t item,
                      Py_ssize_t first_column, Py_ssize_t blocks, Py_ssize_t block,
                      Py_ssize_t residues, Py_ssize_t stride, Py_ssize_t dilation,
                      Py_ssize_t pad_left, Py_ssize_t padded_length, int mode) noexcept nogil:
    cdef Py_ssize_t phases_total = frames.shape[1]
    cdef Py_ssize_t j = item // phases_total
    cdef Py_ssize_t channel = item % phases_total
    cdef Py_ssize_t batch, residue, b
    cdef Py_ssize_t c = channel // stride
    cdef Py_ssize_t p = channel % stride
    _column_at(first_column + j, blocks, residues, &batch, &residue, &b)
    cdef Py_ssize_t start = stride * (dilation * b * block + residue) + dilation * p
    _frame(&x[batch, c, 0], x.shape[2], padded_length, pad_left, mode, start,
           stride * dilation, &frames[j, channel, 0], frames.shape[2])


def scatter_frames(
    const scalar_t[:, :, ::1] frames,
    scalar_t[:, :, ::1] out,
    const scalar_t[::1] bias,
    bint has_bias,
    Py_ssize_t first_column,
    Py_ssize_t blocks,
    Py_ssize_t block,
    Py_ssize_t residues,
    Py_ssize_t dilation,
    Py_ssize_t offset,
    int num_threads,
):
    """out[batch, o, dilation*(b*block + m) + r] = frames[j, o, offset + m] (+ bias[o]), m < block."""
    cdef Py_ssize_t items = frames.shape[0] * frames.shape[1]
    cdef Py_ssize_t item
    if items == 0:
        return
    num_threads = _threads(num_threads, items)
    for item in prange(items, nogil=True, schedule="static", num_threads=num_threads):
        _scatter_one(frames, out, bias, has_bias, item, first_column, blocks, block, residues,
                     dilation, offset)


cdef void _scatter_one(const scalar_t[:, :, ::1] frames, scalar_t[:, :, ::1] out,
                       const scalar_t[::1] bias, bint has_bias, Py_ssize_t item,
                       Py_ssize_t first_column, Py_ssize_t blocks, Py_ssize_t block,
                       Py_ssize_t residues, Py_ssize_t dilation, Py_ssize_t offset) noexcept nogil:
    cdef Py_ssize_t cout = frames.shape[1]
    cdef Py_ssize_t j = item // cout
    cdef Py_ssize_t o = item % cout
    cdef Py_ssize_t batch, residue, b
    _column_at(first_column + j, blocks, residues, &batch, &residue, &b)
    _place(&frames[j, o, offset], &out[batch, o, 0], b * block, block, residue, dilation, out.shape[2],
           bias[o] if has_bias else 0)


cdef inline void _place(const scalar_t *src, scalar_t *row, Py_ssize_t first, Py_ssize_t block,
                        Py_ssize_t residue, Py_ssize_t dilation, Py_ssize_t length_out,
                        scalar_t shift) noexcept nogil:
    """row[dilation*(first + m) + residue] = src[m] + shift for m < block, inside the row
    (``first``: the block's first index within the residue's outputs)."""
    cdef Py_ssize_t m, count
    if residue >= length_out:
        return
    # outputs dilation*(first + m) + residue < length_out
    count = (length_out - 1 - residue) // dilation + 1 - first
    if count > block:
        count = block
    if dilation == 1:
        row += first
        for m in range(count):
            row[m] = src[m] + shift
    else:
        row += dilation * first + residue
        for m in range(count):
            row[dilation * m] = src[m] + shift


# --------------------------------------------------------------------------
# The contraction over input channels, per frequency


cdef inline void _gemm_nn(int m, int n, int k, complex_t *a, int lda, complex_t *b,
                          int ldb, complex_t *c, int ldc) noexcept nogil:
    """Column-major C (m x n) = A (m x k) @ B (k x n)."""
    cdef char no = b'N'
    cdef complex_t one = 1
    cdef complex_t zero = 0
    if complex_t is floatcomplex:
        cgemm(&no, &no, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc)
    else:
        zgemm(&no, &no, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc)


def contract_gemm(
    const complex_t[:, :, ::1] spectra,
    const complex_t[:, :, :, ::1] weights,
    complex_t[:, :, ::1] result,
    Py_ssize_t chunk,
    int num_threads,
    complex_t[:, ::1] work,
):
    """result[j, g*O + o, f] = sum_c weights[g, f, o, c] * spectra[j, g*C + c, f].

    ``spectra`` is (columns, groups*C, F), ``weights`` (groups, F, O, C),
    ``result`` (columns, groups*O, F).  Per group and frequency this is one
    (O x C) @ (C x columns) product: each work item copies ``chunk``
    frequencies of the group's inputs into a frequency-major buffer (a row of
    ``work`` per thread, of ``chunk * (C + O) * columns`` elements), runs one
    GEMM per frequency (the caller keeps the BLAS itself on one thread) and
    copies the products back.  For large per-group matrices, where the BLAS
    runs near its peak.
    """
    cdef Py_ssize_t columns = spectra.shape[0]
    cdef Py_ssize_t groups = weights.shape[0]
    cdef Py_ssize_t freqs = weights.shape[1]
    cdef Py_ssize_t chunks = (freqs + chunk - 1) // chunk
    cdef Py_ssize_t items = groups * chunks
    cdef Py_ssize_t item
    cdef int thread
    if columns == 0 or items == 0:
        return
    num_threads = _threads(num_threads, items)
    if num_threads > work.shape[0]:
        num_threads = <int>work.shape[0]
    if num_threads == 1:
        with nogil:
            for item in range(items):
                _contract_chunk(spectra, weights, result, item // chunks,
                                (item % chunks) * chunk, chunk, &work[0, 0])
        return
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        for item in prange(items, schedule="static"):
            _contract_chunk(spectra, weights, result, item // chunks,
                            (item % chunks) * chunk, chunk, &work[thread, 0])


cdef void _contract_chunk(const complex_t[:, :, ::1] spectra,
                          const complex_t[:, :, :, ::1] weights,
                          complex_t[:, :, ::1] result, Py_ssize_t g, Py_ssize_t f_first,
                          Py_ssize_t chunk, complex_t *buffer) noexcept nogil:
    cdef Py_ssize_t columns = spectra.shape[0]
    cdef Py_ssize_t freqs = weights.shape[1]
    cdef Py_ssize_t cout_g = weights.shape[2]
    cdef Py_ssize_t cin_g = weights.shape[3]
    cdef Py_ssize_t count = min(chunk, freqs - f_first)
    cdef complex_t *inputs = buffer                                 # [f][c][column]
    cdef complex_t *outputs = inputs + chunk * cin_g * columns      # [f][o][column]
    cdef Py_ssize_t j, c, o, f
    cdef const complex_t *src
    cdef complex_t *dst
    for j in range(columns):
        for c in range(cin_g):
            src = &spectra[j, g * cin_g + c, f_first]
            for f in range(count):
                inputs[(f * cin_g + c) * columns + j] = src[f]
    for f in range(count):
        # row-major out (O x columns) = W (O x C) @ in (C x columns); column-major
        # view: out^T (columns x O) = in^T (columns x C) @ W^T (C x O)
        _gemm_nn(<int>columns, <int>cout_g, <int>cin_g, inputs + f * cin_g * columns,
                 <int>columns, <complex_t *>&weights[g, f_first + f, 0, 0], <int>cin_g,
                 outputs + f * cout_g * columns, <int>columns)
    for j in range(columns):
        for o in range(cout_g):
            dst = &result[j, g * cout_g + o, f_first]
            for f in range(count):
                dst[f] = outputs[(f * cout_g + o) * columns + j]


cdef extern from "_fft_contract.h" nogil:
    const Py_ssize_t ACF_FC_F32
    const Py_ssize_t ACF_FC_F64
    void acf_product_f32(const float *spectrum, const float *weight, float *out, Py_ssize_t freqs)
    void acf_product_f64(const double *spectrum, const double *weight, double *out, Py_ssize_t freqs)
    Py_ssize_t acf_buffer_size(Py_ssize_t fc, Py_ssize_t cin_g, Py_ssize_t cout_g,
                               Py_ssize_t jcount)
    void acf_contract_f32(const float *spectra, Py_ssize_t cin_total, const float *weights,
                          Py_ssize_t freqs, float *result, Py_ssize_t cout_total,
                          Py_ssize_t cin_g, Py_ssize_t cout_g, Py_ssize_t g, Py_ssize_t f0,
                          Py_ssize_t count, Py_ssize_t j0, Py_ssize_t jcount, float *buffer)
    void acf_contract_f64(const double *spectra, Py_ssize_t cin_total, const double *weights,
                          Py_ssize_t freqs, double *result, Py_ssize_t cout_total,
                          Py_ssize_t cin_g, Py_ssize_t cout_g, Py_ssize_t g, Py_ssize_t f0,
                          Py_ssize_t count, Py_ssize_t j0, Py_ssize_t jcount, double *buffer)


def tile_frequencies(bint double_precision):
    """Frequencies per work item of :func:`contract_tiles` (one vector register's worth)."""
    return ACF_FC_F64 if double_precision else ACF_FC_F32


def tile_buffer_size(bint double_precision, Py_ssize_t cin_g, Py_ssize_t cout_g,
                     Py_ssize_t column_block):
    """Reals of ``work`` one thread of :func:`contract_tiles` needs."""
    return acf_buffer_size(ACF_FC_F64 if double_precision else ACF_FC_F32, cin_g, cout_g,
                           column_block)


def contract_tiles(
    const real_t[:, :, ::1] spectra,
    const real_t[:, :, ::1] weights,
    real_t[:, :, ::1] result,
    Py_ssize_t groups,
    Py_ssize_t column_block,
    int num_threads,
    real_t[:, ::1] work,
):
    """The same contraction by the register-tiled kernel of ``_fft_contract.h``.

    Complex arrays viewed as interleaved reals: ``spectra`` (columns,
    groups*C, 2F), ``weights`` (groups*O, C, 2F), ``result`` (columns,
    groups*O, 2F).  A work item is one group, one register's worth of
    frequencies and up to ``column_block`` columns; ``work`` has a row of
    :func:`tile_buffer_size` reals per thread.  For small per-group matrices,
    where a GEMM per frequency costs more in calls than in arithmetic.
    """
    cdef Py_ssize_t columns = spectra.shape[0]
    cdef Py_ssize_t cin_total = spectra.shape[1]
    cdef Py_ssize_t cout_total = weights.shape[0]
    cdef Py_ssize_t cin_g = weights.shape[1]
    cdef Py_ssize_t freqs = weights.shape[2] // 2
    cdef Py_ssize_t cout_g = cout_total // groups
    cdef Py_ssize_t fc = ACF_FC_F32 if real_t is float else ACF_FC_F64
    cdef Py_ssize_t fchunks = (freqs + fc - 1) // fc
    cdef Py_ssize_t jblocks = (columns + column_block - 1) // column_block
    cdef Py_ssize_t items = groups * fchunks * jblocks
    cdef Py_ssize_t item
    cdef int thread
    if items == 0:
        return
    if cin_g == 1 and cout_g == 1:
        _products(spectra, weights, result, freqs, num_threads)
        return
    num_threads = _threads(num_threads, items)
    if num_threads > work.shape[0]:
        num_threads = <int>work.shape[0]
    if num_threads == 1:
        with nogil:
            for item in range(items):
                _tile_item(spectra, weights, result, item, cin_total, cout_total, cin_g, cout_g,
                           freqs, fc, fchunks, jblocks, column_block, &work[0, 0])
        return
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        for item in prange(items, schedule="static"):
            _tile_item(spectra, weights, result, item, cin_total, cout_total, cin_g, cout_g,
                       freqs, fc, fchunks, jblocks, column_block, &work[thread, 0])


cdef void _products(const real_t[:, :, ::1] spectra, const real_t[:, :, ::1] weights, real_t[:, :, ::1] result,
                    Py_ssize_t freqs, int num_threads) noexcept:
    # groups of one channel each: row (column j, group g) times the group's weight row
    cdef Py_ssize_t groups = weights.shape[0]
    cdef Py_ssize_t rows = spectra.shape[0] * groups
    cdef Py_ssize_t row
    num_threads = _threads(num_threads, rows)
    for row in prange(rows, nogil=True, schedule="static", num_threads=num_threads):
        if real_t is float:
            acf_product_f32(&spectra[row // groups, row % groups, 0], &weights[row % groups, 0, 0],
                            &result[row // groups, row % groups, 0], freqs)
        else:
            acf_product_f64(&spectra[row // groups, row % groups, 0], &weights[row % groups, 0, 0],
                            &result[row // groups, row % groups, 0], freqs)


cdef inline void _tile_item(const real_t[:, :, ::1] spectra, const real_t[:, :, ::1] weights,
                            real_t[:, :, ::1] result, Py_ssize_t item, Py_ssize_t cin_total,
                            Py_ssize_t cout_total, Py_ssize_t cin_g, Py_ssize_t cout_g,
                            Py_ssize_t freqs, Py_ssize_t fc, Py_ssize_t fchunks,
                            Py_ssize_t jblocks, Py_ssize_t column_block,
                            real_t *buffer) noexcept nogil:
    # items run column blocks innermost: consecutive items share the weights' chunk
    cdef Py_ssize_t jb = item % jblocks
    cdef Py_ssize_t fb = (item // jblocks) % fchunks
    cdef Py_ssize_t g = item // (jblocks * fchunks)
    cdef Py_ssize_t f0 = fb * fc
    cdef Py_ssize_t count = min(fc, freqs - f0)
    cdef Py_ssize_t j0 = jb * column_block
    cdef Py_ssize_t jcount = min(column_block, spectra.shape[0] - j0)
    if real_t is float:
        acf_contract_f32(&spectra[0, 0, 0], cin_total, &weights[0, 0, 0], freqs, &result[0, 0, 0],
                         cout_total, cin_g, cout_g, g, f0, count, j0, jcount, buffer)
    else:
        acf_contract_f64(&spectra[0, 0, 0], cin_total, &weights[0, 0, 0], freqs, &result[0, 0, 0],
                         cout_total, cin_g, cout_g, g, f0, count, j0, jcount, buffer)


# --------------------------------------------------------------------------
# The partitioned overlap-save's multiply-add (streams, backends/partitioned.py)

cdef extern from "_partition_sum.h" nogil:
    void acp_partition_sum_f32(const float *spectra, const float *blocks, Py_ssize_t rows,
                               Py_ssize_t freqs, const float *base, float *out)
    void acp_partition_sum_f64(const double *spectra, const double *blocks, Py_ssize_t rows,
                               Py_ssize_t freqs, const double *base, double *out)

# complex multiply-adds below which a second thread costs more than it saves
cdef Py_ssize_t _PARALLEL_WORK = 1 << 17


def partition_sum(
    const real_t[:, :, :, :, ::1] spectra not None,
    Py_ssize_t part0,
    const real_t[:, :, :, :, ::1] blocks not None,
    Py_ssize_t block0,
    Py_ssize_t parts,
    real_t[:, :, :, ::1] out not None,
    const real_t[:, :, :, ::1] base,
    int num_threads,
):
    """out[n, g, o] = base[n, g, o] + sum_{p < parts, c} spectra[g, o, part0 + p, c] * blocks[n, g, block0 + p, c].

    Complex arrays viewed as interleaved reals: ``spectra`` (groups, C_out/g, P, C_in/g, 2F),
    ``blocks`` (N, groups, P', C_in/g, 2F), ``out`` and ``base`` (N, groups, C_out/g, 2F);
    ``base`` may be None (zeros).  A work item is one (n, g, o).
    """
    _partition_sum(spectra, part0, blocks, block0, parts, out, base, base is not None, num_threads)


cdef int _partition_sum(const real_t[:, :, :, :, ::1] spectra, Py_ssize_t part0,
                        const real_t[:, :, :, :, ::1] blocks, Py_ssize_t block0, Py_ssize_t parts,
                        real_t[:, :, :, ::1] out, const real_t[:, :, :, ::1] base, bint has_base,
                        int num_threads) except -1:
    cdef Py_ssize_t batch = blocks.shape[0], groups = spectra.shape[0], per_group = spectra.shape[1]
    cdef Py_ssize_t cin_g = spectra.shape[3], width = spectra.shape[4]
    cdef Py_ssize_t items = batch * groups * per_group, item
    if (parts < 0 or part0 < 0 or block0 < 0 or part0 + parts > spectra.shape[2]
            or block0 + parts > blocks.shape[2] or blocks.shape[1] != groups or blocks.shape[3] != cin_g
            or blocks.shape[4] != width or width % 2 or out.shape[0] != batch or out.shape[1] != groups
            or out.shape[2] != per_group or out.shape[3] != width
            or (has_base and (base.shape[0] != batch or base.shape[1] != groups or base.shape[2] != per_group
                              or base.shape[3] != width))):
        raise ValueError("partition_sum: the arrays' shapes do not match")
    if items == 0:
        return 0
    if items * parts * cin_g * (width // 2) < _PARALLEL_WORK:
        num_threads = 1
    num_threads = _threads(num_threads, items)
    with nogil:
        if num_threads == 1:
            for item in range(items):
                _partition_item(spectra, part0, blocks, block0, parts, out, base, has_base, item)
        else:
            for item in prange(items, schedule="static", num_threads=num_threads):
                _partition_item(spectra, part0, blocks, block0, parts, out, base, has_base, item)
    return 0


cdef extern from "_dfti.h" nogil:
    ctypedef struct acd_api:
        void *create
        void *set
        void *commit
        void *forward
        void *backward
        void *free_
    long acd_make(const acd_api *api, void **handle, int single, int real_domain, long length, long rows,
                  long in_distance, long out_distance, long threads, double backward_scale)
    long acd_forward(const acd_api *api, void *handle, void *source, void *target)
    long acd_backward(const acd_api *api, void *handle, void *source, void *target)
    void acd_free(const acd_api *api, void **handle)


cdef bint _fill_api(acd_api *api, tuple addresses) except -1:
    """Set ``api`` from the six entry-point addresses (see :class:`DftiTransforms`); whether they
    are six positive integers (else ``api`` is left as it was)."""
    if len(addresses) != 6 or not all(isinstance(a, int) and a > 0 for a in addresses):
        return False
    api.create = <void *><size_t>addresses[0]
    api.set = <void *><size_t>addresses[1]
    api.commit = <void *><size_t>addresses[2]
    api.forward = <void *><size_t>addresses[3]
    api.backward = <void *><size_t>addresses[4]
    api.free_ = <void *><size_t>addresses[5]
    return True


cdef class DftiTransforms:
    """A push's two transforms on MKL's DFTI, committed once (see _dfti.h).

    ``forward`` takes a segment, ``(N, C_in, n * width)`` reals (``width`` 2 for
    complex signals, interleaved), to its spectrum in :attr:`spectra`, ``(N, C_in, W)``
    reals; ``backward`` takes a ``(N, C_out, W)`` sum to :attr:`frames`, ``(N, C_out,
    n * width)``, unscaled (:attr:`scale` is the ``1/n`` the caller applies).
    ``addresses`` are those of DftiCreateDescriptor, DftiSetValue, DftiCommitDescriptor,
    DftiComputeForward, DftiComputeBackward and DftiFreeDescriptor in the loaded
    libmkl_rt, in that order (``_mkl_runtime.dfti_addresses()``).  The scratch is this object's: one stream's pushes use it
    one after another.
    """

    cdef acd_api api
    cdef void *forward_handle
    cdef void *backward_handle
    cdef readonly object spectra
    cdef readonly object frames
    cdef readonly double scale

    def __cinit__(self, tuple addresses, object dtype, bint is_complex, Py_ssize_t length, Py_ssize_t batch,
                  Py_ssize_t in_channels, Py_ssize_t out_channels, int threads):
        self.forward_handle = NULL
        self.backward_handle = NULL
        real = np.dtype(dtype)
        if (not _fill_api(&self.api, addresses) or real not in (np.float32, np.float64) or length <= 0
                or batch <= 0 or in_channels <= 0 or out_channels <= 0 or threads <= 0):
            raise ValueError("DftiTransforms: bad sizes, dtype or addresses")
        cdef int single = real == np.float32
        # complex numbers a row on the spectral side: numpy's rfft layout for real signals
        cdef long freqs = length if is_complex else length // 2 + 1
        cdef long status = acd_make(&self.api, &self.forward_handle, single, not is_complex, length,
                                    batch * in_channels, length, freqs, threads, 1.0)
        if status == 0:
            status = acd_make(&self.api, &self.backward_handle, single, not is_complex, length,
                              batch * out_channels, freqs, length, threads, 1.0)
        if status != 0:
            raise RuntimeError(f"MKL DFTI: status {status} committing a descriptor of {length} points")
        width = 2 if is_complex else 1
        self.spectra = np.empty((batch, in_channels, 2 * freqs), dtype=real)
        self.frames = np.empty((batch, out_channels, length * width), dtype=real)
        self.scale = 1.0 / length

    def __dealloc__(self):
        acd_free(&self.api, &self.forward_handle)
        acd_free(&self.api, &self.backward_handle)

    cdef int forward(self, void *segment, void *spectra) except -1:
        cdef long status = acd_forward(&self.api, self.forward_handle, segment, spectra)
        if status != 0:
            raise RuntimeError(f"MKL DFTI: forward transform status {status}")
        return 0

    cdef int backward(self, void *total, void *frames) except -1:
        cdef long status = acd_backward(&self.api, self.backward_handle, total, frames)
        if status != 0:
            raise RuntimeError(f"MKL DFTI: backward transform status {status}")
        return 0


cdef int _take_buffers(object source, object result, bint source_writable, Py_buffer *source_view,
                       Py_buffer *result_view, str owner) except -1:
    """Take C-contiguous buffers of ``source`` (writable if asked: MKL's backward real transform
    uses its source as scratch) and of the writable ``result``, which must not overlap
    (``owner`` names the caller in the error).  The caller releases both."""
    PyObject_GetBuffer(source, source_view, PyBUF_C_CONTIGUOUS | (PyBUF_WRITABLE if source_writable else 0))
    try:
        PyObject_GetBuffer(result, result_view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
    except BaseException:
        PyBuffer_Release(source_view)
        raise
    if (<char *>source_view.buf < <char *>result_view.buf + result_view.len
            and <char *>result_view.buf < <char *>source_view.buf + source_view.len):
        PyBuffer_Release(result_view)
        PyBuffer_Release(source_view)
        raise ValueError(f"{owner}: the source and the result overlap")
    return 0


cdef class DftiBatch:
    """``rows`` one-dimensional transforms of ``length`` points on MKL's DFTI, committed once
    (see _dfti.h): the forward transform (``backward`` false) of real or complex rows to
    their spectra (``length // 2 + 1`` or ``length`` complex numbers a row, numpy's
    ``rfft`` and ``fft`` layouts), or the backward one, scaled by ``1 / length`` (numpy's
    ``irfft`` and ``ifft``).

    mkl-fft commits a descriptor on every call, which costs as much as several transforms
    of the overlap-save frames (a 40960-point rfft: about 220 us against 65 us); the fft
    backend keeps these instead.  ``addresses`` as for :class:`DftiTransforms`.  One
    caller at a time: the engine keeps one per calling thread.
    """

    cdef acd_api api
    cdef void *handle
    cdef readonly bint backward
    cdef readonly object source_dtype
    cdef readonly object result_dtype
    cdef readonly Py_ssize_t source_values  # elements of the source, all rows
    cdef readonly Py_ssize_t result_values

    def __cinit__(self, tuple addresses, object dtype, bint is_complex, Py_ssize_t length, Py_ssize_t rows,
                  int threads, bint backward):
        self.handle = NULL
        real = np.dtype(dtype)
        if (not _fill_api(&self.api, addresses) or real not in (np.float32, np.float64) or length <= 0
                or rows <= 0 or threads <= 0):
            raise ValueError("DftiBatch: bad sizes, dtype or addresses")
        complex_dtype = np.result_type(real, np.complex64)
        signal_dtype = complex_dtype if is_complex else real
        cdef long freqs = length if is_complex else length // 2 + 1
        cdef long source_row = freqs if backward else length
        cdef long result_row = length if backward else freqs
        self.backward = backward
        self.source_dtype = complex_dtype if backward else signal_dtype
        self.result_dtype = signal_dtype if backward else complex_dtype
        self.source_values = rows * source_row
        self.result_values = rows * result_row
        cdef long status = acd_make(&self.api, &self.handle, real == np.float32, not is_complex, length, rows,
                                    source_row, result_row, threads, 1.0 / length if backward else 1.0)
        if status != 0:
            raise RuntimeError(f"MKL DFTI: status {status} committing a descriptor of {length} points")

    def __dealloc__(self):
        acd_free(&self.api, &self.handle)

    def compute(self, source, result):
        """Transform ``source`` into ``result``: C-contiguous arrays of this batch's dtypes and
        sizes (checked), not overlapping; ``source`` may be overwritten (MKL's backward real
        transform uses it as scratch)."""
        cdef Py_buffer source_view, result_view
        cdef long status = 0
        if (source.dtype != self.source_dtype or result.dtype != self.result_dtype
                or source.size != self.source_values or result.size != self.result_values):
            raise ValueError("DftiBatch: arrays of other dtypes or sizes than the descriptor's")
        _take_buffers(source, result, self.backward, &source_view, &result_view, "DftiBatch")
        try:
            with nogil:
                if self.backward:
                    status = acd_backward(&self.api, self.handle, source_view.buf, result_view.buf)
                else:
                    status = acd_forward(&self.api, self.handle, source_view.buf, result_view.buf)
        finally:
            PyBuffer_Release(&result_view)
            PyBuffer_Release(&source_view)
        if status != 0:
            raise RuntimeError(f"MKL DFTI: transform status {status}")
        return result


def partitioned_feed(
    const real_t[:, :, :, :, ::1] spectra not None,
    real_t[:, :, :, :, ::1] delay not None,
    real_t[:, :, ::1] segment not None,
    real_t[:, :, :, ::1] past not None,
    long long[::1] counters not None,
    const real_t[:, :, ::1] samples not None,
    real_t[:, :, ::1] out not None,
    real_t[:, :, :, ::1] total not None,
    object transforms,
    Py_ssize_t block,
    Py_ssize_t width,
    int num_threads,
):
    """Feed samples through the partitioned overlap-save (see backends/partitioned.py), in place.

    All arrays are interleaved reals (``width`` reals a sample: 1 for real signals, 2 for
    complex): ``spectra`` (groups, C_out/g, P, C_in/g, W) and ``delay`` (N, groups, 2P,
    C_in/g, W) hold W = 2F reals a row; ``segment`` (N, C_in, 2B * width) the previous
    block and the current one; ``past`` (N, groups, C_out/g, W) the older blocks' share of
    the current block's sum; ``counters`` (filled, newest, past computed); ``samples``
    (N, C_in, m * width) in, ``out`` (N, C_out, m * width) the filter's outputs at their
    positions; ``total`` scratch of ``past``'s shape.  ``transforms`` is a
    :class:`DftiTransforms` (MKL, computed here), or a pair of Python calls: ``forward()``
    returns the spectrum of ``segment``, (N, C_in, W) reals, and ``inverse()`` the
    transform back of ``total``, (N, C_out, 2B * width) reals, scaled by 1/(2B).

    Partition p meets block b - p, which is delay slot newest + p - 1: the current block's
    spectrum goes to slot newest - 1 (free: the oldest block there is past every partition)
    as soon as it is made, so a block that arrives whole is summed in one pass over every
    partition, and a partial one adds its own partition to ``past``.
    """
    cdef Py_ssize_t batch = delay.shape[0], groups = spectra.shape[0], per_group = spectra.shape[1]
    cdef Py_ssize_t parts = spectra.shape[2], cin_g = spectra.shape[3], rows_width = spectra.shape[4]
    cdef Py_ssize_t channels = groups * cin_g, length, at = 0, count, n, c, g, slot
    cdef Py_ssize_t filled, newest
    cdef bint past_done, whole
    cdef const real_t[:, :, ::1] current
    cdef const real_t[:, :, ::1] frames
    cdef real_t[:, :, ::1] dfti_spectra
    cdef real_t[:, :, ::1] dfti_frames
    cdef DftiTransforms dfti = None
    cdef real_t scale = 1
    cdef real_t *target
    cdef const real_t *source
    cdef Py_ssize_t i
    if isinstance(transforms, DftiTransforms):
        dfti = transforms
        dfti_spectra, dfti_frames, scale = dfti.spectra, dfti.frames, dfti.scale
        # the descriptors' sizes are their scratch's: checked before MKL reads any array
        if (dfti_spectra.shape[0] != batch or dfti_spectra.shape[1] != channels
                or dfti_spectra.shape[2] != rows_width or dfti_frames.shape[0] != batch
                or dfti_frames.shape[1] != out.shape[1] or dfti_frames.shape[2] != 2 * block * width):
            raise ValueError("partitioned_feed: the MKL transforms were made for other sizes")
        current, frames = dfti_spectra, dfti_frames
    else:
        forward, inverse = transforms
    if (width not in (1, 2) or block <= 0 or parts <= 0 or delay.shape[1] != groups
            or delay.shape[2] != 2 * parts or delay.shape[3] != cin_g or delay.shape[4] != rows_width
            or segment.shape[0] != batch or segment.shape[1] != channels or segment.shape[2] != 2 * block * width
            or samples.shape[0] != batch or samples.shape[1] != channels or samples.shape[2] % width
            or out.shape[0] != batch or out.shape[1] != groups * per_group or out.shape[2] != samples.shape[2]
            or past.shape[0] != batch or past.shape[1] != groups or past.shape[2] != per_group
            or past.shape[3] != rows_width or total.shape[0] != batch or total.shape[1] != groups
            or total.shape[2] != per_group or total.shape[3] != rows_width
            or counters.shape[0] != 3):
        raise ValueError("partitioned_feed: the arrays' shapes do not match")
    filled, newest, past_done = counters[0], counters[1], counters[2] != 0
    if not 0 <= filled < block or not 0 <= newest < parts:
        raise ValueError("partitioned_feed: the counters do not fit the block and partitions")
    length = samples.shape[2] // width
    while at < length:
        count = min(block - filled, length - at)
        for n in range(batch):
            for c in range(channels):
                memcpy(&segment[n, c, (block + filled) * width], &samples[n, c, at * width],
                       count * width * sizeof(real_t))
        whole = filled == 0 and count == block
        if not past_done and not whole:
            _partition_sum(spectra, 1, delay, newest, parts - 1, past, past, False, num_threads)  # no base
            past_done = True
        if dfti is not None:
            dfti.forward(&segment[0, 0, 0], &dfti_spectra[0, 0, 0])
        else:
            current = forward()
        if dfti is None and (current.shape[0] != batch or current.shape[1] != channels
                             or current.shape[2] != rows_width):
            raise ValueError("partitioned_feed: the forward transform's shape does not match")
        slot = (newest - 1 + parts) % parts
        for n in range(batch):
            for g in range(groups):
                for c in range(cin_g):
                    memcpy(&delay[n, g, slot, c, 0], &current[n, g * cin_g + c, 0], rows_width * sizeof(real_t))
                    memcpy(&delay[n, g, slot + parts, c, 0], &current[n, g * cin_g + c, 0],
                           rows_width * sizeof(real_t))
        if whole:
            _partition_sum(spectra, 0, delay, slot, parts, total, past, False, num_threads)  # no base
        else:
            _partition_sum(spectra, 0, delay, slot, 1, total, past, True, num_threads)
        if dfti is not None:
            dfti.backward(&total[0, 0, 0, 0], &dfti_frames[0, 0, 0])
        else:
            frames = inverse()
        if dfti is None and (frames.shape[0] != batch or frames.shape[1] != out.shape[1]
                             or frames.shape[2] != 2 * block * width):
            raise ValueError("partitioned_feed: the inverse transform's shape does not match")
        for n in range(batch):
            for c in range(out.shape[1]):
                target, source = &out[n, c, at * width], &frames[n, c, (block + filled) * width]
                if dfti is not None:  # DFTI's backward transform is unscaled
                    for i in range(count * width):
                        target[i] = source[i] * scale
                else:
                    memcpy(target, source, count * width * sizeof(real_t))
        at += count
        filled += count
        if filled == block:
            for n in range(batch):
                for c in range(channels):
                    memcpy(&segment[n, c, 0], &segment[n, c, block * width], block * width * sizeof(real_t))
                    memset(&segment[n, c, block * width], 0, block * width * sizeof(real_t))
            filled, newest, past_done = 0, slot, False
        counters[0], counters[1], counters[2] = filled, newest, past_done


cdef inline void _partition_item(const real_t[:, :, :, :, ::1] spectra, Py_ssize_t part0,
                                 const real_t[:, :, :, :, ::1] blocks, Py_ssize_t block0, Py_ssize_t parts,
                                 real_t[:, :, :, ::1] out, const real_t[:, :, :, ::1] base, bint has_base,
                                 Py_ssize_t item) noexcept nogil:
    cdef Py_ssize_t per_group = spectra.shape[1], groups = spectra.shape[0]
    cdef Py_ssize_t o = item % per_group, g = (item // per_group) % groups, n = item // (per_group * groups)
    cdef Py_ssize_t rows = parts * spectra.shape[3], freqs = spectra.shape[4] // 2, f
    cdef const real_t *base_row = &base[n, g, o, 0] if has_base else NULL
    if rows == 0:
        # nothing to add: out is base (or zeros)
        for f in range(2 * freqs):
            out[n, g, o, f] = base_row[f] if has_base else 0
        return
    if real_t is float:
        acp_partition_sum_f32(&spectra[g, o, part0, 0, 0], &blocks[n, g, block0, 0, 0], rows, freqs,
                              base_row, &out[n, g, o, 0])
    else:
        acp_partition_sum_f64(&spectra[g, o, part0, 0, 0], &blocks[n, g, block0, 0, 0], rows, freqs,
                              base_row, &out[n, g, o, 0])


# --------------------------------------------------------------------------
# Whole frames per thread: groups of one channel (single-channel filters,
# depthwise layers) on MKL


cdef class DftiRows:
    """One-row transforms of ``length`` points committed once for each of ``threads``
    threads (see _dfti.h): forward (real or complex rows to numpy's ``rfft`` or ``fft``
    layout) and backward (scaled by ``1 / length``), each for one thread, for
    :func:`overlap_save_products`.  ``addresses`` as for :class:`DftiTransforms`.
    """

    cdef acd_api api
    cdef void **handles  # [2 * thread] forward, [2 * thread + 1] backward
    cdef readonly int threads
    cdef readonly Py_ssize_t length
    cdef readonly bint is_complex
    cdef readonly object dtype  # the real dtype

    def __cinit__(self, tuple addresses, object dtype, bint is_complex, Py_ssize_t length, int threads):
        self.handles = NULL
        self.threads = 0
        real = np.dtype(dtype)
        if (not _fill_api(&self.api, addresses) or real not in (np.float32, np.float64) or length <= 0
                or threads <= 0):
            raise ValueError("DftiRows: bad sizes, dtype or addresses")
        self.handles = <void **>calloc(2 * threads, sizeof(void *))
        if self.handles == NULL:
            raise MemoryError()
        self.threads = threads
        self.length = length
        self.is_complex = is_complex
        self.dtype = real
        cdef long freqs = length if is_complex else length // 2 + 1
        cdef long status = 0
        cdef int h
        for h in range(2 * threads):
            status = acd_make(&self.api, &self.handles[h], real == np.float32, not is_complex, length, 1,
                              freqs if h % 2 else length, length if h % 2 else freqs, 1,
                              1.0 / length if h % 2 else 1.0)
            if status != 0:
                raise RuntimeError(f"MKL DFTI: status {status} committing a descriptor of {length} points")

    def forward_rows(self, source, result, int num_threads):
        """The forward transforms of the rows of ``source`` (rows, length) into ``result``
        (rows, frequencies), each row computed on one thread's descriptor as the frames
        are, so that the bits do not depend on the thread count (MKL may split a lone
        transform between threads, by another algorithm).  C-contiguous arrays of this
        object's dtypes and of matching sizes (checked)."""
        cdef Py_buffer source_view, result_view
        cdef Py_ssize_t freqs = self.length if self.is_complex else self.length // 2 + 1
        cdef Py_ssize_t rows, row, source_row, result_row
        cdef int thread
        cdef long failed = 0
        complex_dtype = np.result_type(self.dtype, np.complex64)
        if (source.dtype != (complex_dtype if self.is_complex else self.dtype) or result.dtype != complex_dtype
                or source.ndim != 2 or result.ndim != 2 or source.shape[0] != result.shape[0]
                or source.shape[1] != self.length or result.shape[1] != freqs):
            raise ValueError("DftiRows: arrays of other dtypes or sizes than the descriptors'")
        rows = source.shape[0]
        source_row = self.length * source.dtype.itemsize
        result_row = freqs * result.dtype.itemsize
        num_threads = _threads(min(num_threads, self.threads), rows)
        _take_buffers(source, result, False, &source_view, &result_view, "DftiRows")
        try:
            with nogil, parallel(num_threads=num_threads):
                thread = openmp.omp_get_thread_num()
                for row in prange(rows, schedule="dynamic"):
                    failed |= acd_forward(&self.api, self.handles[2 * thread],
                                          <char *>source_view.buf + row * source_row,
                                          <char *>result_view.buf + row * result_row) != 0
        finally:
            PyBuffer_Release(&result_view)
            PyBuffer_Release(&source_view)
        if failed:
            raise RuntimeError(f"MKL DFTI: a transform of {self.length} points failed")
        return result

    def __dealloc__(self):
        cdef int h
        if self.handles != NULL:
            for h in range(2 * self.threads):
                acd_free(&self.api, &self.handles[h])
            free(self.handles)


def overlap_save_products(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] weights,
    scalar_t[:, :, ::1] out,
    const scalar_t[::1] bias,
    bint has_bias,
    DftiRows transforms not None,
    Py_ssize_t blocks,
    Py_ssize_t block,
    Py_ssize_t residues,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    Py_ssize_t padded_length,
    int mode,
    Py_ssize_t offset,
    scalar_t[:, ::1] work not None,
    int num_threads,
):
    """The whole overlap-save of a stride-1 layer whose groups have one input and one
    output channel each, a frame at a time: each work item (one channel, one column)
    cuts its frame, transforms it, multiplies it by the channel's weight spectrum,
    transforms it back and puts its outputs in place, on the thread that took it.

    One parallel region for the call, whose threads take items as they finish the
    last (a thread slowed by a busy core does fewer), where the staged path wakes
    the threads for five steps of each chunk of columns.  ``weights``: (C, 1, F)
    complex spectra (2F reals a row where ``x`` is real); columns, blocks and
    ``offset`` as for :func:`gather_frames` and :func:`scatter_frames`; ``work``:
    a row of :func:`products_work_size` values per thread.  Every item is computed
    the same way on any thread, so the bits do not depend on the thread count.
    """
    cdef Py_ssize_t channels = x.shape[1]
    cdef Py_ssize_t columns = x.shape[0] * residues * blocks
    cdef Py_ssize_t items = channels * columns
    cdef Py_ssize_t n = transforms.length
    cdef Py_ssize_t item
    cdef int thread
    cdef long failed = 0
    cdef Py_ssize_t freqs = n if transforms.is_complex else n // 2 + 1
    if transforms.dtype.itemsize * (2 if transforms.is_complex else 1) != sizeof(scalar_t):
        raise ValueError("overlap_save_products: the transforms are for another dtype of signal")
    if (x.shape[0] != out.shape[0] or out.shape[1] != channels or weights.shape[0] != channels
            or weights.shape[1] != 1 or weights.shape[2] != (freqs if transforms.is_complex else 2 * freqs)
            or (has_bias and bias.shape[0] < channels)):
        raise ValueError("overlap_save_products: arrays of other shapes than one channel per group and "
                         "the transforms' frequencies")
    if blocks < 1 or block < 1 or residues < 1 or dilation < 1 or offset < 0 or offset + block > n:
        raise ValueError("overlap_save_products: blocks must be positive and lie inside the frame")
    if work.shape[1] < products_work_size(n, transforms.is_complex, sizeof(scalar_t)):
        raise ValueError("overlap_save_products: the work rows are too short")
    if items == 0:
        return
    cdef Py_ssize_t spectrum_at, back_at
    _work_layout(n, transforms.is_complex, sizeof(scalar_t), &spectrum_at, &back_at)
    num_threads = _threads(num_threads, items)
    if num_threads > transforms.threads or num_threads > work.shape[0]:
        num_threads = min(transforms.threads, <int>work.shape[0])
    with nogil, parallel(num_threads=num_threads):
        thread = openmp.omp_get_thread_num()
        for item in prange(items, schedule="dynamic"):
            failed |= _product_item(x, weights, out, bias, has_bias, transforms, thread, item, columns,
                                    blocks, block, residues, dilation, pad_left, padded_length, mode, offset,
                                    &work[thread, 0], spectrum_at, back_at, freqs) != 0
    if failed:  # (the threads' MKL statuses are not kept: several could differ)
        raise RuntimeError(f"MKL DFTI: a transform of {n} points failed")


cpdef Py_ssize_t products_work_size(Py_ssize_t n, bint is_complex, Py_ssize_t itemsize):
    """Values of one thread's work row for :func:`overlap_save_products`: the frame, its
    spectrum and the frame back, each from a 64-byte boundary."""
    cdef Py_ssize_t spectrum_at, back_at
    _work_layout(n, is_complex, itemsize, &spectrum_at, &back_at)
    return back_at + _whole_lines(n, itemsize)


cdef inline Py_ssize_t _whole_lines(Py_ssize_t values, Py_ssize_t itemsize) noexcept nogil:
    """``values`` rounded up to whole 64-byte lines of ``itemsize``-byte values."""
    cdef Py_ssize_t line = max(1, 64 // itemsize)
    return (values + line - 1) // line * line


cdef inline void _work_layout(Py_ssize_t n, bint is_complex, Py_ssize_t itemsize, Py_ssize_t *spectrum_at,
                              Py_ssize_t *back_at) noexcept nogil:
    # a work row: the frame (n values), its spectrum (F complex values, or 2F reals), the frame back
    cdef Py_ssize_t freqs = n if is_complex else n // 2 + 1
    spectrum_at[0] = _whole_lines(n, itemsize)
    back_at[0] = spectrum_at[0] + _whole_lines(freqs if is_complex else 2 * freqs, itemsize)


cdef long _product_item(const scalar_t[:, :, ::1] x, const scalar_t[:, :, ::1] weights,
                        scalar_t[:, :, ::1] out, const scalar_t[::1] bias, bint has_bias,
                        DftiRows transforms, int thread, Py_ssize_t item, Py_ssize_t columns,
                        Py_ssize_t blocks, Py_ssize_t block, Py_ssize_t residues, Py_ssize_t dilation,
                        Py_ssize_t pad_left, Py_ssize_t padded_length, int mode, Py_ssize_t offset,
                        scalar_t *work, Py_ssize_t spectrum_at, Py_ssize_t back_at,
                        Py_ssize_t freqs) noexcept nogil:
    # item = channel * columns + column: neighbours read neighbouring stretches of one row
    cdef Py_ssize_t c = item // columns
    cdef Py_ssize_t batch, residue, b
    cdef scalar_t *frame = work
    cdef scalar_t *spectrum = work + spectrum_at
    cdef scalar_t *back = work + back_at
    cdef long status
    _column_at(item % columns, blocks, residues, &batch, &residue, &b)
    _frame(&x[batch, c, 0], x.shape[2], padded_length, pad_left, mode, dilation * b * block + residue,
           dilation, frame, transforms.length)
    status = acd_forward(&transforms.api, transforms.handles[2 * thread], frame, spectrum)
    if status != 0:
        return status
    if scalar_t is float or scalar_t is floatcomplex:
        acf_product_f32(<float *>spectrum, <const float *>&weights[c, 0, 0], <float *>spectrum, freqs)
    else:
        acf_product_f64(<double *>spectrum, <const double *>&weights[c, 0, 0], <double *>spectrum, freqs)
    status = acd_backward(&transforms.api, transforms.handles[2 * thread + 1], spectrum, back)
    if status != 0:
        return status
    _place(back + offset, &out[batch, c, 0], b * block, block, residue, dilation, out.shape[2],
           bias[c] if has_bias else 0)
    return 0
