/* Register-tiled channel contraction of the fft backend, per frequency.
 *
 * result[j, g*O + o, f] = sum_c weights[g*O + o, c, f] * spectra[j, g*C + c, f]
 *
 * for one work item: group g, frequencies [f0, f0 + count) (count <= FC) and
 * columns [j0, j0 + jcount).  Complex numbers are interleaved (re, im) in the
 * arrays; the item first splits its weights and inputs into separate real and
 * imaginary planes of FC frequencies (so the products vectorise across
 * frequencies with no shuffles), then accumulates tiles of OB outputs x JB
 * columns in registers over the input channels, and interleaves the sums back.
 * One BLAS call per frequency costs more than the arithmetic when the
 * per-group matrices are small, which is when this kernel is used.
 *
 * Built for AVX-512, AVX2 and baseline x86-64 (target_clones), as the
 * direct kernels are.
 */
#ifndef ARRAYCONV_FFT_CONTRACT_H
#define ARRAYCONV_FFT_CONTRACT_H

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ACF_CLONES
#endif

/* Frequencies per plane: one 512-bit register of floats or two of doubles. */
#define ACF_FC_F32 16
#define ACF_FC_F64 8

/* Floats (or doubles) of buffer one item needs. */
static inline ptrdiff_t acf_buffer_size(ptrdiff_t fc, ptrdiff_t cin_g, ptrdiff_t cout_g,
                                        ptrdiff_t jcount)
{
    ptrdiff_t cout_pad = cout_g + 1;   /* tiles of 2 outputs */
    ptrdiff_t j_pad = jcount + 7;      /* tiles of up to 8 columns */
    return 2 * fc * cin_g * (cout_pad + j_pad);
}

/* A plane of FC frequencies as one 64-byte vector (GCC vector extensions:
 * one AVX-512 register, two AVX2 or four SSE registers). */
typedef float acf_v32 __attribute__((vector_size(64)));
typedef double acf_v64 __attribute__((vector_size(64)));

#define ACF_LOAD(V, dst, src) memcpy(&(dst), (src), sizeof(V))

/* One tile: OB outputs from o_first, JB columns from j_first of the split
 * planes, accumulated in registers over the group's input channels. */
#define ACF_TILE(V, T, FC, OB, JB)                                                         \
    do {                                                                                   \
        V acc_re[OB][JB], acc_im[OB][JB];                                                  \
        for (int o = 0; o < OB; o++)                                                       \
            for (int jj = 0; jj < JB; jj++) {                                              \
                acc_re[o][jj] = (V){0};                                                    \
                acc_im[o][jj] = (V){0};                                                    \
            }                                                                              \
        for (ptrdiff_t c = 0; c < cin_g; c++) {                                            \
            V wr[OB], wi[OB];                                                              \
            for (int o = 0; o < OB; o++) {                                                 \
                const T *w = ws + ((o_first + o) * cin_g + c) * 2 * FC;                    \
                ACF_LOAD(V, wr[o], w);                                                     \
                ACF_LOAD(V, wi[o], w + FC);                                                \
            }                                                                              \
            for (int jj = 0; jj < JB; jj++) {                                              \
                const T *xv = xs + ((j_first + jj) * cin_g + c) * 2 * FC;                  \
                V xr, xi;                                                                  \
                ACF_LOAD(V, xr, xv);                                                       \
                ACF_LOAD(V, xi, xv + FC);                                                  \
                for (int o = 0; o < OB; o++) {                                             \
                    /* one fused multiply-add each, not a product and a sum */             \
                    acc_re[o][jj] += xr * wr[o];                                           \
                    acc_re[o][jj] -= xi * wi[o];                                           \
                    acc_im[o][jj] += xr * wi[o];                                           \
                    acc_im[o][jj] += xi * wr[o];                                           \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
        for (int o = 0; o < OB; o++) {                                                     \
            if (o_first + o >= cout_g) break;                                              \
            for (int jj = 0; jj < JB; jj++) {                                              \
                if (j_first + jj >= jcount) break;                                         \
                T re[FC], im[FC];                                                          \
                memcpy(re, &acc_re[o][jj], sizeof(V));                                     \
                memcpy(im, &acc_im[o][jj], sizeof(V));                                     \
                T *dst = result + ((j0 + j_first + jj) * cout_total + g * cout_g           \
                                   + o_first + o) * 2 * freqs + 2 * f0;                    \
                for (ptrdiff_t f = 0; f < count; f++) {                                    \
                    dst[2 * f] = re[f];                                                    \
                    dst[2 * f + 1] = im[f];                                                \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    } while (0)

#define ACF_DEFINE(NAME, V, T, FC)                                                            \
ACF_CLONES                                                                                 \
static void NAME(const T *spectra, ptrdiff_t cin_total, const T *weights, ptrdiff_t freqs, \
                 T *result, ptrdiff_t cout_total, ptrdiff_t cin_g, ptrdiff_t cout_g,       \
                 ptrdiff_t g, ptrdiff_t f0, ptrdiff_t count, ptrdiff_t j0,                 \
                 ptrdiff_t jcount, T *buffer)                                              \
{                                                                                          \
    ptrdiff_t cout_pad = cout_g + (cout_g & 1);                                            \
    ptrdiff_t j_pad = cout_g == 1 ? (jcount + 7) / 8 * 8 : (jcount + 3) / 4 * 4;           \
    T *ws = buffer;                       /* [o][c][re FC | im FC] */                      \
    T *xs = buffer + cout_pad * cin_g * 2 * FC;  /* [j][c][re FC | im FC] */               \
    for (ptrdiff_t o = 0; o < cout_pad; o++) {                                             \
        for (ptrdiff_t c = 0; c < cin_g; c++) {                                            \
            T *dst = ws + (o * cin_g + c) * 2 * FC;                                        \
            memset(dst, 0, 2 * FC * sizeof(T));                                            \
            if (o >= cout_g) continue;                                                     \
            const T *src = weights + ((g * cout_g + o) * cin_g + c) * 2 * freqs + 2 * f0;  \
            for (ptrdiff_t f = 0; f < count; f++) {                                        \
                dst[f] = src[2 * f];                                                       \
                dst[FC + f] = src[2 * f + 1];                                              \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    for (ptrdiff_t j = 0; j < j_pad; j++) {                                                \
        for (ptrdiff_t c = 0; c < cin_g; c++) {                                            \
            T *dst = xs + (j * cin_g + c) * 2 * FC;                                        \
            memset(dst, 0, 2 * FC * sizeof(T));                                            \
            if (j >= jcount) continue;                                                     \
            const T *src = spectra + ((j0 + j) * cin_total + g * cin_g + c) * 2 * freqs    \
                           + 2 * f0;                                                       \
            for (ptrdiff_t f = 0; f < count; f++) {                                        \
                dst[f] = src[2 * f];                                                       \
                dst[FC + f] = src[2 * f + 1];                                              \
            }                                                                              \
        }                                                                                  \
    }                                                                                      \
    if (cout_g == 1) {                                                                     \
        for (ptrdiff_t j_first = 0; j_first < j_pad; j_first += 8) {                       \
            const ptrdiff_t o_first = 0;                                                   \
            ACF_TILE(V, T, FC, 1, 8);                                                         \
        }                                                                                  \
        return;                                                                            \
    }                                                                                      \
    for (ptrdiff_t o_first = 0; o_first < cout_pad; o_first += 2)                          \
        for (ptrdiff_t j_first = 0; j_first < j_pad; j_first += 4)                         \
            ACF_TILE(V, T, FC, 2, 4);                                                         \
}

ACF_DEFINE(acf_contract_f32, acf_v32, float, ACF_FC_F32)
ACF_DEFINE(acf_contract_f64, acf_v64, double, ACF_FC_F64)

/* Groups of one input and one output channel (single-channel filters,
 * depthwise layers): the contraction is one product per frequency, and the
 * tiles would spend their time splitting and interleaving planes around it
 * (a 1 x 1 group took 16 ns a frequency through them, 1 ns here).
 * out[f] = weight[f] * spectrum[f] for `freqs` interleaved complex numbers. */
#define ACF_PRODUCT(NAME, T)                                                                   \
    ACF_CLONES static void NAME(const T *spectrum, const T *weight, T *out, ptrdiff_t freqs)  \
    {                                                                                          \
        for (ptrdiff_t f = 0; f < freqs; f++) {                                                \
            const T sr = spectrum[2 * f], si = spectrum[2 * f + 1];                            \
            const T wr = weight[2 * f], wi = weight[2 * f + 1];                                \
            out[2 * f] = wr * sr - wi * si;                                                    \
            out[2 * f + 1] = wr * si + wi * sr;                                                \
        }                                                                                      \
    }

ACF_PRODUCT(acf_product_f32, float)
ACF_PRODUCT(acf_product_f64, double)

#endif
