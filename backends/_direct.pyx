# cython: language_level=3
"""Direct (time-domain) 1-D cross-correlation kernel.

One output row ``out[n, o, :]`` is owned by one thread and accumulated in a
fixed order (input channel, then tap), so results are bitwise identical for
any thread count.  For each (channel, tap) pair the taps whose input index
falls inside the signal form one contiguous range of outputs: that interior
loop is a plain strided axpy the compiler vectorises.  Only the few outputs
at the two ends that read padding go through the boundary mapping, so the
padding modes never need a padded copy of the input.

Safety directives (bounds checks, wraparound) are set in setup.py, where
``ARRAYCONV_DEBUG=1`` turns them back on.
"""

from cython.parallel cimport prange

ctypedef fused scalar_t:
    float
    double
    float complex
    double complex

# Padding modes, in the order of arrayconv.shape.PADDING_MODES.
cdef enum:
    MODE_ZEROS = 0
    MODE_REFLECT = 1
    MODE_REPLICATE = 2
    MODE_CIRCULAR = 3


cdef inline Py_ssize_t _map_index(Py_ssize_t i, Py_ssize_t length, int mode) noexcept nogil:
    """Index into the unpadded signal that padded position ``i`` reads.

    The shape module guarantees one reflection or wrap is enough
    (reflect: padding < length; circular: padding <= length).
    """
    if mode == MODE_REFLECT:
        if i < 0:
            return -i
        return 2 * (length - 1) - i
    if mode == MODE_REPLICATE:
        if i < 0:
            return 0
        return length - 1
    # circular
    if i < 0:
        return i + length
    return i - length


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # b > 0; rounds toward +infinity for either sign of a, without forming
    # a + b (b may be as large as the largest index)
    if a > 0:
        return (a - 1) // b + 1
    return -((-a) // b)


cdef void _row(
    const scalar_t[:, :, ::1] x,
    const scalar_t[:, :, ::1] w,
    const scalar_t[::1] bias,
    scalar_t[:, :, ::1] out,
    Py_ssize_t n,
    Py_ssize_t o,
    Py_ssize_t stride,
    Py_ssize_t dilation,
    Py_ssize_t pad_left,
    int mode,
    Py_ssize_t groups,
    bint has_bias,
) noexcept nogil:
    cdef Py_ssize_t length = x.shape[2]
    cdef Py_ssize_t length_out = out.shape[2]
    cdef Py_ssize_t cin_g = w.shape[1]
    cdef Py_ssize_t ksize = w.shape[2]
    cdef Py_ssize_t cout_g = w.shape[0] // groups
    cdef Py_ssize_t first_channel = (o // cout_g) * cin_g
    cdef Py_ssize_t c, k, t, offset, t_lo, t_hi
    cdef scalar_t tap
    cdef scalar_t init = 0
    cdef scalar_t* y = &out[n, o, 0]
    cdef const scalar_t* xrow

    if has_bias:
        init = bias[o]
    for t in range(length_out):
        y[t] = init
    for c in range(cin_g):
        xrow = &x[n, first_channel + c, 0]
        for k in range(ksize):
            tap = w[o, c, k]
            # output t reads input index t * stride + offset
            offset = k * dilation - pad_left
            t_lo = _ceil_div(-offset, stride)
            if t_lo < 0:
                t_lo = 0
            if t_lo > length_out:
                t_lo = length_out
            t_hi = (length - 1 - offset) // stride + 1 if length - 1 - offset >= 0 else 0
            if t_hi > length_out:
                t_hi = length_out
            if t_hi < t_lo:
                t_hi = t_lo
            if stride == 1:
                for t in range(t_lo, t_hi):
                    y[t] = y[t] + tap * xrow[t + offset]
            else:
                for t in range(t_lo, t_hi):
                    y[t] = y[t] + tap * xrow[t * stride + offset]
            if mode != MODE_ZEROS:
                for t in range(t_lo):
                    y[t] = y[t] + tap * xrow[_map_index(t * stride + offset, length, mode)]
                for t in range(t_hi, length_out):
                    y[t] = y[t] + tap * xrow[_map_index(t * stride + offset, length, mode)]


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
):
    """Write the cross-correlation of ``x`` with ``w`` (plus bias) into ``out``.

    All arrays are C-contiguous and of one dtype.  ``x`` is (N, C_in, L),
    ``w`` is (C_out, C_in/groups, K), ``out`` is (N, C_out, L_out); ``bias``
    has C_out elements when ``has_bias`` (else any length).  The caller
    (arrayconv's frontend, through a validated ConvSpec) guarantees the shapes
    agree and the padding is within the mode's limits.
    """
    cdef Py_ssize_t rows = out.shape[0] * out.shape[1]
    cdef Py_ssize_t cout = out.shape[1]
    cdef Py_ssize_t r
    if rows == 0 or out.shape[2] == 0:
        return
    if num_threads <= 1:
        with nogil:
            for r in range(rows):
                _row(x, w, bias, out, r // cout, r % cout, stride, dilation,
                     pad_left, mode, groups, has_bias)
    else:
        for r in prange(rows, nogil=True, schedule="static", num_threads=num_threads):
            _row(x, w, bias, out, r // cout, r % cout, stride, dilation,
                 pad_left, mode, groups, has_bias)
