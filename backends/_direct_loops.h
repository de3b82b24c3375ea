/*
 * Row kernels of the direct backend: y[t] += sum_k w[k] * x[t*stride + k*dilation - pad_left]
 * for one input row and one output row, with the padding mode applied to the
 * indices that fall outside the signal.
 *
 * The interior (outputs whose every tap lies inside the signal) is computed in
 * blocks of BLOCK outputs held in a local accumulator, so each tap costs one
 * load of x per output and the compiler vectorises across outputs.  The few
 * outputs at the two ends go through the boundary mapping one by one.
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

#define AC_BLOCK 32

#define AC_DEFINE_ROW(SUFFIX, T)                                                          \
ARRAYCONV_CLONES                                                                          \
void ac_row_##SUFFIX(const T *x, ptrdiff_t length, const T *w, ptrdiff_t ksize,           \
                     T *y, ptrdiff_t length_out, ptrdiff_t stride, ptrdiff_t dilation,     \
                     ptrdiff_t pad_left, int mode)                                         \
{                                                                                         \
    /* interior: outputs [lo, hi) whose taps all lie in [0, length) */                   \
    ptrdiff_t lo = ac_first_inside(-pad_left, stride);                                    \
    ptrdiff_t hi = ac_end_inside((ksize - 1) * dilation - pad_left, length - 1, stride);  \
    if (lo > length_out) lo = length_out;                                                 \
    if (hi > length_out) hi = length_out;                                                 \
    if (hi < lo) hi = lo;                                                                 \
    for (ptrdiff_t t = 0; t < length_out; ) {                                             \
        if (t < lo || t >= hi) {                                                          \
            T acc = y[t];                                                                 \
            ptrdiff_t base = t * stride - pad_left;                                       \
            for (ptrdiff_t k = 0; k < ksize; k++) {                                       \
                /* a zero of the padding still multiplies the tap (inf * 0 is nan) */    \
                ptrdiff_t i = ac_map_index(base + k * dilation, length, mode);            \
                acc += w[k] * (i >= 0 ? x[i] : (T)0);                                     \
            }                                                                             \
            y[t] = acc;                                                                   \
            t++;                                                                          \
            continue;                                                                     \
        }                                                                                 \
        if (hi - t >= AC_BLOCK) {                                                         \
            T acc[AC_BLOCK];                                                              \
            const T *xs = x + t * stride - pad_left;                                      \
            for (int j = 0; j < AC_BLOCK; j++) acc[j] = y[t + j];                         \
            if (stride == 1) {                                                            \
                for (ptrdiff_t k = 0; k < ksize; k++) {                                   \
                    const T tap = w[k];                                                   \
                    const T *xk = xs + k * dilation;                                      \
                    for (int j = 0; j < AC_BLOCK; j++) acc[j] += tap * xk[j];             \
                }                                                                         \
            } else {                                                                      \
                for (ptrdiff_t k = 0; k < ksize; k++) {                                   \
                    const T tap = w[k];                                                   \
                    const T *xk = xs + k * dilation;                                      \
                    for (int j = 0; j < AC_BLOCK; j++) acc[j] += tap * xk[j * stride];    \
                }                                                                         \
            }                                                                             \
            for (int j = 0; j < AC_BLOCK; j++) y[t + j] = acc[j];                         \
            t += AC_BLOCK;                                                                \
        } else {                                                                          \
            T acc = y[t];                                                                 \
            const T *xs = x + t * stride - pad_left;                                      \
            for (ptrdiff_t k = 0; k < ksize; k++) acc += w[k] * xs[k * dilation];         \
            y[t] = acc;                                                                   \
            t++;                                                                          \
        }                                                                                 \
    }                                                                                     \
}

/*
 * Register-tiled direct kernel, float32, stride 1, for a block whose every tap
 * reads inside the signal:
 *     y[o, t] += sum_c sum_k w[o, c, k] * x[c, t + k * dilation]
 * for o < n_out, t < n_t.  x points at the block's first read (c = 0, t = 0,
 * k = 0), input rows ldx apart; w at the first output channel's weights,
 * (n_out, cin, ksize) contiguous; y rows ldy apart, holding the starting values.
 * A tile of output channels x AC_TILE_T outputs stays in vector registers over
 * all channels and taps: each tap loads one tile row of input and broadcasts
 * one weight per output channel, with no packing at all.  Columns past the
 * last whole tile are left to the caller.
 *
 * The tile is 6 channels x 2 vectors of 16: 12 of AVX-512's 32 registers.
 * It is written for AVX-512 only.  Compiled for AVX2 the same tile spilled
 * every accumulator and ran some 30x slower than the GEMM path, and a tile
 * sized to AVX2's 16 registers (3 channels x 4 vectors of 8) still lost to
 * the GEMM path by up to 2x on the cnn and k=3 layers of the benchmark (AMD
 * EPYC, 2026-12-03): without AVX-512, ac_tile_available() says no and the
 * caller takes the GEMM path.
 */
#define AC_TILE_T 32

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define AC_TARGET_512 __attribute__((target("avx512f,avx512vl,fma")))

/* Named accumulators (GCC keeps arrays of vectors on the stack): channel o
 * of the tile holds a<o>0 and a<o>1; a channel at or past `no` (a constant
 * once inlined) is never touched. */
#define AC_T512_LOAD(o)  if (o < no) { a##o##0 = _mm512_loadu_ps(y + o * ldy + t);          \
                                        a##o##1 = _mm512_loadu_ps(y + o * ldy + t + 16); }
#define AC_T512_FMA(o)   if (o < no) { const __m512 b = _mm512_set1_ps(wc[o * wstride + k]); \
                                        a##o##0 = _mm512_fmadd_ps(b, x0, a##o##0);          \
                                        a##o##1 = _mm512_fmadd_ps(b, x1, a##o##1); }
#define AC_T512_STORE(o) if (o < no) { _mm512_storeu_ps(y + o * ldy + t, a##o##0);          \
                                        _mm512_storeu_ps(y + o * ldy + t + 16, a##o##1); }

static inline __attribute__((always_inline)) AC_TARGET_512 void
ac_tile_body_512(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t cin, ptrdiff_t ksize,
                 ptrdiff_t dilation, float *y, ptrdiff_t ldy, ptrdiff_t t, const int no)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,
           a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    AC_T512_LOAD(0) AC_T512_LOAD(1) AC_T512_LOAD(2) AC_T512_LOAD(3) AC_T512_LOAD(4) AC_T512_LOAD(5)
    const ptrdiff_t wstride = cin * ksize;
    for (ptrdiff_t c = 0; c < cin; c++) {
        const float *xc = x + c * ldx + t;
        const float *wc = w + c * ksize;
        for (ptrdiff_t k = 0; k < ksize; k++) {
            const __m512 x0 = _mm512_loadu_ps(xc + k * dilation);
            const __m512 x1 = _mm512_loadu_ps(xc + k * dilation + 16);
            AC_T512_FMA(0) AC_T512_FMA(1) AC_T512_FMA(2) AC_T512_FMA(3) AC_T512_FMA(4) AC_T512_FMA(5)
        }
    }
    AC_T512_STORE(0) AC_T512_STORE(1) AC_T512_STORE(2) AC_T512_STORE(3) AC_T512_STORE(4) AC_T512_STORE(5)
}

static AC_TARGET_512 void
ac_tile_f32(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t cin, ptrdiff_t ksize,
            ptrdiff_t dilation, float *y, ptrdiff_t ldy, ptrdiff_t n_out, ptrdiff_t n_t)
{
    for (ptrdiff_t o0 = 0; o0 < n_out; o0 += 6) {
        const ptrdiff_t left = n_out - o0;
        const float *wo = w + o0 * cin * ksize;
        float *yo = y + o0 * ldy;
        for (ptrdiff_t t = 0; t + AC_TILE_T <= n_t; t += AC_TILE_T) {
            switch (left >= 6 ? 6 : (int)left) {
            case 6: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 6); break;
            case 5: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 5); break;
            case 4: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 4); break;
            case 3: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 3); break;
            case 2: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 2); break;
            default: ac_tile_body_512(x, ldx, wo, cin, ksize, dilation, yo, ldy, t, 1); break;
            }
        }
    }
}

/* Whether the CPU has AVX-512 (checked once). */
static int ac_tile_available(void)
{
    static int available = -1;
    if (available < 0) {
        __builtin_cpu_init();
        available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    }
    return available;
}
#else
static int ac_tile_available(void) { return 0; }

static void
ac_tile_f32(const float *x, ptrdiff_t ldx, const float *w, ptrdiff_t cin, ptrdiff_t ksize,
            ptrdiff_t dilation, float *y, ptrdiff_t ldy, ptrdiff_t n_out, ptrdiff_t n_t)
{
    (void)x; (void)ldx; (void)w; (void)cin; (void)ksize; (void)dilation;
    (void)y; (void)ldy; (void)n_out; (void)n_t;  /* never called: not available */
}
#endif

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
