/* The frequency-domain multiply-add of the partitioned overlap-save (backends/partitioned.py).
 *
 * out[f] = base[f] + sum_r spectra[r][f] * blocks[r][f]   for f < freqs (base NULL: zeros)
 *
 * over `rows` consecutive rows of `freqs` complex numbers, interleaved (re, im):
 * the (partition, input channel) pairs of one output channel, whose rows are
 * consecutive both in the kernel's spectra and in the delay line of block spectra.
 * Rows are taken two at a time, so `out` is loaded and stored once per two rows.
 *
 * Built for AVX-512, AVX2 and baseline x86-64 (target_clones), as the other kernels are.
 */
#ifndef ARRAYCONV_PARTITION_SUM_H
#define ARRAYCONV_PARTITION_SUM_H

#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ACP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ACP_CLONES
#endif

#define ACP_DEFINE(NAME, T)                                                                 \
ACP_CLONES                                                                                  \
static void NAME(const T *restrict spectra, const T *restrict blocks, ptrdiff_t rows,      \
                 ptrdiff_t freqs, const T *restrict base, T *restrict out)                  \
{                                                                                           \
    for (ptrdiff_t f = 0; f < 2 * freqs; f++)                                               \
        out[f] = base ? base[f] : (T)0;                                                     \
    ptrdiff_t r = 0;                                                                        \
    /* two rows per pass over out: half its loads and stores */                             \
    for (; r + 1 < rows; r += 2) {                                                          \
        const T *s0 = spectra + 2 * r * freqs, *s1 = s0 + 2 * freqs;                        \
        const T *b0 = blocks + 2 * r * freqs, *b1 = b0 + 2 * freqs;                         \
        for (ptrdiff_t f = 0; f < freqs; f++) {                                             \
            out[2 * f] += s0[2 * f] * b0[2 * f] - s0[2 * f + 1] * b0[2 * f + 1]             \
                        + s1[2 * f] * b1[2 * f] - s1[2 * f + 1] * b1[2 * f + 1];            \
            out[2 * f + 1] += s0[2 * f] * b0[2 * f + 1] + s0[2 * f + 1] * b0[2 * f]         \
                            + s1[2 * f] * b1[2 * f + 1] + s1[2 * f + 1] * b1[2 * f];        \
        }                                                                                   \
    }                                                                                       \
    for (; r < rows; r++) {                                                                 \
        const T *s0 = spectra + 2 * r * freqs, *b0 = blocks + 2 * r * freqs;                \
        for (ptrdiff_t f = 0; f < freqs; f++) {                                             \
            out[2 * f] += s0[2 * f] * b0[2 * f] - s0[2 * f + 1] * b0[2 * f + 1];            \
            out[2 * f + 1] += s0[2 * f] * b0[2 * f + 1] + s0[2 * f + 1] * b0[2 * f];        \
        }                                                                                   \
    }                                                                                       \
}

ACP_DEFINE(acp_partition_sum_f32, float)
ACP_DEFINE(acp_partition_sum_f64, double)

#endif
