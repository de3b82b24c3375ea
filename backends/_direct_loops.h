/*
 * Row kernels of the direct backend:
 *     y[t] = (*start, or y[t] where start is NULL) + sum_k w[k] * x[t*stride + k*dilation - pad_left]
 * for one input row and one output row, with the padding mode applied to the
 * indices that fall outside the signal (start: the bias, for a row's first
 * input channel, so that the output is written once instead of set first).
 *
 * Outputs go in blocks of 256 bytes of sums, held in registers across the
 * taps on AVX2 and AVX-512, so each tap costs one load of x per output and
 * the compiler vectorises across outputs: the interior (outputs whose every tap lies
 * inside the signal) straight from x, the last block overlapping the one
 * before it; the outputs at the two ends from a copy of the padded samples
 * they read.
 *
 * Each function is compiled for AVX-512, AVX2+FMA and baseline x86-64 and the
 * loader picks the best one the CPU has (GCC target_clones); elsewhere it is
 * compiled once for the build's target.
 */
#ifndef ARRAYCONV_DIRECT_LOOPS_H
#define ARRAYCONV_DIRECT_LOOPS_H

#include <complex.h>
#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ARRAYCONV_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ARRAYCONV_CLONES
#endif

/* Padding modes, in the order of arrayconv.shape.PADDING_MODES. */
enum { AC_ZEROS = 0, AC_REFLECT = 1, AC_REPLICATE = 2, AC_CIRCULAR = 3 };

/* Index into the unpadded signal that padded position i reads; -1 for a zero.
 * The shape module guarantees one reflection or wrap is enough. */
static inline ptrdiff_t ac_map_index(ptrdiff_t i, ptrdiff_t length, int mode)
{
    if (i >= 0 && i < length) return i;
    switch (mode) {
    case AC_REFLECT: return i < 0 ? -i : 2 * (length - 1) - i;
    case AC_REPLICATE: return i < 0 ? 0 : length - 1;
    case AC_CIRCULAR: return i < 0 ? i + length : i - length;
    default: return -1;
    }
}

/* Smallest t >= 0 with t * stride + offset >= 0 (stride > 0), without overflow. */
static inline ptrdiff_t ac_first_inside(ptrdiff_t offset, ptrdiff_t stride)
{
    if (offset >= 0) return 0;
    return (-offset - 1) / stride + 1;
}

/* One past the largest t with t * stride + offset <= last (or 0 if none). */
static inline ptrdiff_t ac_end_inside(ptrdiff_t offset, ptrdiff_t last, ptrdiff_t stride)
{
    if (last - offset < 0) return 0;
    return (last - offset) / stride + 1;
}

/* In the loops that sum one output at a time: keeps the compiler from
 * vectorising the sum as products then in-order adds, whose rounding differs
 * from the fused multiply-adds of the blocks (an output would get other bits
 * by the path it took). */
#if defined(__GNUC__)
#define AC_ONE_AT_A_TIME() __asm__ volatile("" ::: "memory")
#else
#define AC_ONE_AT_A_TIME() ((void)0)
#endif

/* Outputs per block: 256 bytes of sums (float: 8 AVX2 registers), enough
 * independent sums to keep both FMA units busy (32 floats, 4 registers,
 * left the sums' latency exposed: depthwise K = 31 ran 41 instead of 47 ms). */
#define AC_BLOCK_BYTES 256
/* The padded samples a block of edge outputs reads are copied to the stack up
 * to this many bytes; wider spans (kernels of thousands of taps) go output by output. */
#define AC_EDGE_BYTES 16384

/* One block of B outputs:
 *     out[j] = init[j * step] + sum_k w[k] * xs[j * stride + k * dilation]     (j0 <= j < B)
 * (step 0: every sum starts from one value, the bias)
 * the sum in the order of k, as in the one-output loop below, so that a value
 * has the same bits whichever way it is computed. */
#define AC_DEFINE_BLOCK(SUFFIX, T, B)                                                     \
static inline __attribute__((always_inline)) void                                         \
ac_block_##SUFFIX(const T *xs, const T *w, ptrdiff_t ksize, ptrdiff_t stride,              \
                  ptrdiff_t dilation, const T *init, int step, T *out, int j0)            \
{                                                                                         \
    T acc[B];                                                                             \
    if (step)                                                                             \
        for (int j = 0; j < B; j++) acc[j] = init[j];                                     \
    else                                                                                  \
        for (int j = 0; j < B; j++) acc[j] = init[0];                                     \
    if (stride == 1) {                                                                    \
        for (ptrdiff_t k = 0; k < ksize; k++) {                                           \
            const T tap = w[k];                                                           \
            const T *xk = xs + k * dilation;                                              \
            for (int j = 0; j < B; j++) acc[j] += tap * xk[j];                            \
        }                                                                                 \
    } else {                                                                              \
        for (ptrdiff_t k = 0; k < ksize; k++) {                                           \
            const T tap = w[k];                                                           \
            const T *xk = xs + k * dilation;                                              \
            for (int j = 0; j < B; j++) acc[j] += tap * xk[j * stride];                   \
        }                                                                                 \
    }                                                                                     \
    for (int j = j0; j < B; j++) out[j] = acc[j];                                         \
}                                                                                         \
                                                                                          \
/* y[t] = (*start, or y[t] where start is NULL) + ... for the outputs [t0, t0 + count)    \
 * (count <= B): those that read padding, and rows too short for a block.  A block       \
 * computes B outputs whatever count is, over a copy of the padded samples they read     \
 * (zeros past them); a few outputs, or a span too wide for the copy (long, strided or    \
 * dilated kernels; stride and dilation can be near the index range, so the span is       \
 * bounded without multiplying them out), go one at a time: the same sums either way. */ \
static inline __attribute__((always_inline)) void                                         \
ac_edge_##SUFFIX(const T *x, ptrdiff_t length, const T *w, ptrdiff_t ksize, T *y,          \
                 ptrdiff_t t0, ptrdiff_t count, ptrdiff_t stride, ptrdiff_t dilation,     \
                 ptrdiff_t pad_left, int mode, const T *start)                            \
{                                                                                         \
    enum { EDGE_VALUES = AC_EDGE_BYTES / sizeof(T) };                                     \
    const int fits = stride <= (EDGE_VALUES - 1) / (B - 1)                                \
        && (ksize == 1 || dilation <= (EDGE_VALUES - 1 - (B - 1) * stride) / (ksize - 1)); \
    const ptrdiff_t span = fits ? (B - 1) * stride + (ksize - 1) * dilation + 1 : 0;      \
    /* cycles, roughly: one output at a time ~4 a tap (a chain of FMAs each); a block     \
     * ~1.5 a copied sample, and B / 16 a tap (stride 1: vectors) or B / 2 (gathers) */   \
    const int few = 8 * count * ksize <= 3 * span + (stride == 1 ? ksize * B / 8 : ksize * B); \
    if (!fits || few) {                                                                   \
        for (ptrdiff_t t = t0; t < t0 + count; t++) {                                     \
            T acc = start ? *start : y[t];                                                \
            const ptrdiff_t first = t * stride - pad_left;                                \
            if (first >= 0 && (ksize - 1) * dilation < length - first) {                  \
                for (ptrdiff_t k = 0; k < ksize; k++) {                                   \
                    acc += w[k] * x[first + k * dilation];                                \
                    AC_ONE_AT_A_TIME();                                                   \
                }                                                                         \
            } else {                                                                      \
                for (ptrdiff_t k = 0; k < ksize; k++) {                                   \
                    /* a zero of the padding still multiplies the tap (inf * 0 is nan) */ \
                    ptrdiff_t i = ac_map_index(first + k * dilation, length, mode);       \
                    acc += w[k] * (i >= 0 ? x[i] : (T)0);                                 \
                    AC_ONE_AT_A_TIME();                                                   \
                }                                                                         \
            }                                                                             \
            y[t] = acc;                                                                   \
        }                                                                                 \
        return;                                                                           \
    }                                                                                     \
    T samples[EDGE_VALUES], init[B], out[B];                                              \
    const ptrdiff_t read = (count - 1) * stride + (ksize - 1) * dilation + 1;             \
    const ptrdiff_t base = t0 * stride - pad_left;                                        \
    for (ptrdiff_t m = 0; m < read; m++) {                                                \
        ptrdiff_t i = ac_map_index(base + m, length, mode);                               \
        samples[m] = i >= 0 ? x[i] : (T)0;                                                \
    }                                                                                     \
    for (ptrdiff_t m = read; m < span; m++) samples[m] = 0;                               \
    for (int j = 0; j < B; j++) init[j] = start ? *start : j < count ? y[t0 + j] : (T)0;  \
    ac_block_##SUFFIX(samples, w, ksize, stride, dilation, init, 1, out, 0);              \
    for (ptrdiff_t j = 0; j < count; j++) y[t0 + j] = out[j];                             \
}

#define AC_DEFINE_ROW(SUFFIX, T)                                                          \
enum { AC_BLOCK_##SUFFIX = AC_BLOCK_BYTES / sizeof(T) };                                  \
AC_DEFINE_BLOCK(SUFFIX, T, AC_BLOCK_##SUFFIX)                                             \
ARRAYCONV_CLONES                                                                          \
void ac_row_##SUFFIX(const T *x, ptrdiff_t length, const T *w, ptrdiff_t ksize,           \
                     T *y, ptrdiff_t length_out, ptrdiff_t stride, ptrdiff_t dilation,     \
                     ptrdiff_t pad_left, int mode, const T *start)                         \
{                                                                                         \
    enum { B = AC_BLOCK_##SUFFIX };                                                       \
    /* interior: outputs [lo, hi) whose taps all lie in [0, length) */                   \
    ptrdiff_t lo = ac_first_inside(-pad_left, stride);                                    \
    ptrdiff_t hi = ac_end_inside((ksize - 1) * dilation - pad_left, length - 1, stride);  \
    if (lo > length_out) lo = length_out;                                                 \
    if (hi > length_out) hi = length_out;                                                 \
    if (hi < lo) hi = lo;                                                                 \
    if (hi - lo < B) hi = lo;  /* too short for a block: the edges' way */                \
    for (ptrdiff_t t = 0; t < lo; t += B)                                                 \
        ac_edge_##SUFFIX(x, length, w, ksize, y, t, lo - t < B ? lo - t : B, stride,      \
                         dilation, pad_left, mode, start);                                \
    for (ptrdiff_t t = lo; t < hi; t += B) {                                              \
        /* the last block ends at hi, overlapping the one before: its first outputs,      \
         * already summed, are computed again and not stored */                          \
        const ptrdiff_t first = hi - t < B ? hi - B : t;                                  \
        ac_block_##SUFFIX(x + first * stride - pad_left, w, ksize, stride, dilation,      \
                          start ? start : y + first, !start, y + first, (int)(t - first)); \
    }                                                                                     \
    for (ptrdiff_t t = hi; t < length_out; t += B)                                        \
        ac_edge_##SUFFIX(x, length, w, ksize, y, t, length_out - t < B ? length_out - t : B, \
                         stride, dilation, pad_left, mode, start);                        \
}

AC_DEFINE_ROW(f32, float)
AC_DEFINE_ROW(f64, double)
AC_DEFINE_ROW(c64, float _Complex)
AC_DEFINE_ROW(c128, double _Complex)

/*
 * One (output row, input row) pair of the weight gradient:
 *     g[k] += sum_l gy[l] * x[k * dilation + l * stride - pad_left]
 * for k < ksize and l < length_out, the padding mode applied to the indices
 * outside the signal.  Each k is a dot product over the outputs: the inside
 * part is summed in AC_LANES independent lanes (which the compiler
 * vectorises; the lanes are added in a fixed order, so the bits do not depend
 * on the machine's vector width), the few outputs that read padding one by one.
 */
#define AC_LANES 32

#define AC_DEFINE_WGRAD(SUFFIX, T)                                                        \
ARRAYCONV_CLONES                                                                          \
void ac_wgrad_##SUFFIX(const T *x, ptrdiff_t length, const T *gy, ptrdiff_t length_out,   \
                       T *g, ptrdiff_t ksize, ptrdiff_t stride, ptrdiff_t dilation,        \
                       ptrdiff_t pad_left, int mode)                                       \
{                                                                                         \
    for (ptrdiff_t k = 0; k < ksize; k++) {                                               \
        const ptrdiff_t offset = k * dilation - pad_left;                                 \
        ptrdiff_t lo = ac_first_inside(offset, stride);                                   \
        ptrdiff_t hi = ac_end_inside(offset, length - 1, stride);                         \
        if (lo > length_out) lo = length_out;                                             \
        if (hi > length_out) hi = length_out;                                             \
        if (hi < lo) hi = lo;                                                             \
        T lanes[AC_LANES];                                                                \
        for (int j = 0; j < AC_LANES; j++) lanes[j] = 0;                                  \
        ptrdiff_t l = lo;                                                                 \
        if (stride == 1 && hi - lo >= AC_LANES) {                                         \
            const T *xs = x + (lo + offset); /* the first sample inside */                \
            const T *gs = gy + lo;                                                        \
            ptrdiff_t m = 0;                                                              \
            for (; m + AC_LANES <= hi - lo; m += AC_LANES)                                \
                for (int j = 0; j < AC_LANES; j++) lanes[j] += gs[m + j] * xs[m + j];     \
            l = lo + m;                                                                   \
        } else if (stride != 1) {                                                         \
            for (; l + AC_LANES <= hi; l += AC_LANES)                                     \
                for (int j = 0; j < AC_LANES; j++)                                        \
                    lanes[j] += gy[l + j] * x[(l + j) * stride + offset];                 \
        }                                                                                 \
        T acc = 0;                                                                        \
        for (int j = 0; j < AC_LANES; j++) acc += lanes[j];                               \
        for (; l < hi; l++) acc += gy[l] * x[l * stride + offset];                        \
        /* the outputs that read padding (a zero still multiplies: inf * 0 is nan) */    \
        for (ptrdiff_t e = 0; e < length_out; e++) {                                      \
            if (e == lo) e = hi;                                                          \
            if (e >= length_out) break;                                                   \
            ptrdiff_t i = ac_map_index(e * stride + offset, length, mode);                \
            acc += gy[e] * (i >= 0 ? x[i] : (T)0);                                        \
        }                                                                                 \
        g[k] += acc;                                                                      \
    }                                                                                     \
}

AC_DEFINE_WGRAD(f32, float)
AC_DEFINE_WGRAD(f64, double)
AC_DEFINE_WGRAD(c64, float _Complex)
AC_DEFINE_WGRAD(c128, double _Complex)

#endif
