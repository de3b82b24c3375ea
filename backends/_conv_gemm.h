/*
 * The direct backend's convolution GEMM for float32 and float64, without
 * BLAS and without an im2col copy of the input:
 *
 *     y[o, t] = bias[o] + sum_r a[o, r] * x_r[t]       r = c * K + k  (c < C_in/g, k < K)
 *
 * where x_r[t] is the (padded) sample that tap k of input channel c reads for
 * output t: x[c, t * stride + k * dilation - pad_left].  One work item is
 * (batch element, group, a range of output channels, a range of output
 * positions); the caller spreads the items over threads.
 *
 * A tile of MR output channels x NR positions lives in 2 * MR vector registers
 * for a whole pass over a chunk of input channels (kc / K of them, all K taps
 * each: up to kc reduction rows): each row loads NR input samples (two
 * vectors) and broadcasts MR weights, from the weights packed once per call
 * into MR-wide panels (acg_pack_weights_*) or, for calls too short to repay
 * that, from the caller's rows.  The samples come from the item's input
 * window, copied once per item or pass (acg_pack_window_): each input channel
 * split into its `stride` phases, the padding mode applied at the ends, rows
 * an odd number of cache lines apart.  There, tap k of channel c for output t
 * is window row (c, k * dilation mod stride) at t + k * dilation / stride, so
 * every tile reads NR consecutive values per reduction row, whatever the
 * stride, dilation and padding; and the copy, about one input sample per
 * sample of the item's span, is shared by all the item's output channels.
 *
 * Each output element's sum runs over r in one order (passes of kc rows fixed
 * by the shapes, each row in turn, by fused multiply-adds where the CPU has
 * them) whatever the tile, item or thread that computes it: the results are
 * bitwise the same for any thread count and any split into items.
 *
 * The weight gradient (acg_wgrad_item_*) uses the same windows and tiles with
 * the roles turned: MR reduction rows (their samples broadcast from the
 * window) by NR output channels (the output gradient, transposed per item),
 * summed over the item's positions into a part of the sum that the caller
 * adds up in a fixed order.
 *
 * Variants (ACG_*): AVX-512 (MR 12, NR 32 for float32, 16 for float64), AVX2
 * with FMA (MR 6, NR 16 / 8) and the build's baseline vectors (MR 6, NR 8 / 4);
 * acg_best_variant() picks by the CPU's features.  ACG_WIDE_ON_AVX2 is the
 * AVX-512 variant's tile compiled for AVX2 (slow: its accumulators spill),
 * so that a machine without AVX-512 can check that tile shape's arithmetic
 * and edges.  Compilers without GCC's vector extensions have none:
 * ACG_AVAILABLE is 0 and the caller keeps its BLAS path.
 */
#ifndef ARRAYCONV_CONV_GEMM_H
#define ARRAYCONV_CONV_GEMM_H

#include <stddef.h>
#include <string.h>

#include "_direct_loops.h"

/* The shape of one call, as the kernels read it. */
typedef struct {
    ptrdiff_t length;      /* input samples per row */
    ptrdiff_t length_out;  /* output positions per row (the output's row stride) */
    ptrdiff_t cin_g;       /* input channels per group */
    ptrdiff_t ksize;
    ptrdiff_t stride;
    ptrdiff_t dilation;
    ptrdiff_t pad_left;
    int mode;              /* padding mode (AC_ZEROS ...) */
    ptrdiff_t kc;          /* reduction rows per pass (whole input channels, at least one) */
    ptrdiff_t window_channels; /* input channels the window holds: cin_g (packed once per item) or one pass's */
} acg_geom;

/* Values between two rows of an input window: a whole, odd number of 64-byte
 * lines, so that consecutive rows fall in different sets of the L1 cache
 * (rows a multiple of 4 KiB apart would share one). */
static inline ptrdiff_t acg_window_pitch(ptrdiff_t width, ptrdiff_t itemsize)
{
    const ptrdiff_t per_line = 64 / itemsize;
    ptrdiff_t lines = (width + per_line - 1) / per_line;
    if (lines % 2 == 0) lines++;
    return lines * per_line;
}

/* Input channels per pass: kc / K, at least one, at most all. */
static inline ptrdiff_t acg_pass_channels(const acg_geom *g)
{
    const ptrdiff_t chunk = g->kc / g->ksize > 0 ? g->kc / g->ksize : 1;
    return chunk < g->cin_g ? chunk : g->cin_g;
}

/* Values of one thread's input window for items of up to t_block positions,
 * tiles of nr positions, holding `channels` input channels. */
static inline ptrdiff_t acg_window_values(const acg_geom *g, ptrdiff_t channels, ptrdiff_t t_block,
                                          ptrdiff_t nr, ptrdiff_t itemsize)
{
    const ptrdiff_t width = (t_block + nr - 1) / nr * nr + (g->ksize - 1) * g->dilation / g->stride;
    return channels * g->stride * acg_window_pitch(width, itemsize);
}

/* Offsets of one thread (one per reduction row of a pass). */
static inline ptrdiff_t acg_offset_count(const acg_geom *g)
{
    return acg_pass_channels(g) * g->ksize;
}

/* Values of one thread's stage (partial sums between passes; none for one pass). */
static inline ptrdiff_t acg_stage_values(const acg_geom *g, ptrdiff_t t_block, ptrdiff_t nr,
                                         ptrdiff_t o_block, ptrdiff_t itemsize)
{
    if (acg_pass_channels(g) >= g->cin_g) return 0;
    return o_block * acg_window_pitch((t_block + nr - 1) / nr * nr, itemsize);
}

enum { ACG_BASELINE = 0, ACG_AVX2 = 1, ACG_AVX512 = 2, ACG_WIDE_ON_AVX2 = 3, ACG_VARIANTS = 4 };

#if defined(__GNUC__)
#define ACG_AVAILABLE 1

#define ACG_SUF f32_base
#define ACG_T float
#define ACG_VB 16
#define ACG_MR 6
#define ACG_TARGET
#include "_conv_gemm_impl.h"

#define ACG_SUF f64_base
#define ACG_T double
#define ACG_VB 16
#define ACG_MR 6
#define ACG_TARGET
#include "_conv_gemm_impl.h"

#if defined(__x86_64__) && !defined(__clang__)
#define ACG_X86 1

#define ACG_SUF f32_avx2
#define ACG_T float
#define ACG_VB 32
#define ACG_MR 6
#define ACG_TARGET __attribute__((target("avx2,fma")))
#include "_conv_gemm_impl.h"

#define ACG_SUF f64_avx2
#define ACG_T double
#define ACG_VB 32
#define ACG_MR 6
#define ACG_TARGET __attribute__((target("avx2,fma")))
#include "_conv_gemm_impl.h"

#define ACG_SUF f32_avx512
#define ACG_T float
#define ACG_VB 64
#define ACG_MR 12
#define ACG_TARGET __attribute__((target("avx512f,avx512vl,fma")))
#include "_conv_gemm_impl.h"

#define ACG_SUF f64_avx512
#define ACG_T double
#define ACG_VB 64
#define ACG_MR 12
#define ACG_TARGET __attribute__((target("avx512f,avx512vl,fma")))
#include "_conv_gemm_impl.h"

#define ACG_SUF f32_wide
#define ACG_T float
#define ACG_VB 64
#define ACG_MR 12
#define ACG_TARGET __attribute__((target("avx2,fma")))
#include "_conv_gemm_impl.h"

#define ACG_SUF f64_wide
#define ACG_T double
#define ACG_VB 64
#define ACG_MR 12
#define ACG_TARGET __attribute__((target("avx2,fma")))
#include "_conv_gemm_impl.h"
#else
#define ACG_X86 0
#endif

/* Whether this CPU runs the variant. */
static int acg_runs(int variant)
{
    if (variant == ACG_BASELINE) return 1;
#if ACG_X86
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (variant == ACG_AVX2 || variant == ACG_WIDE_ON_AVX2) return avx2;
    if (variant == ACG_AVX512)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
    return 0;
}

/* The fastest variant this CPU runs. */
static int acg_best_variant(void)
{
    if (acg_runs(ACG_AVX512)) return ACG_AVX512;
    if (acg_runs(ACG_AVX2)) return ACG_AVX2;
    return ACG_BASELINE;
}

/* Output channels per tile (MR) of a variant. */
static int acg_tile_rows(int variant)
{
    return variant == ACG_AVX512 || variant == ACG_WIDE_ON_AVX2 ? 12 : 6;
}

/* Positions per tile (NR) of a variant, for values of `itemsize` bytes. */
static ptrdiff_t acg_tile_cols(int variant, ptrdiff_t itemsize)
{
    const ptrdiff_t vector_bytes = variant == ACG_BASELINE ? 16 : variant == ACG_AVX2 ? 32 : 64;
    return 2 * vector_bytes / itemsize;
}

#define ACG_PUBLIC(T, SCALAR)                                                             \
static void acg_pack_weights_##T(int variant, const SCALAR *w, ptrdiff_t cout,            \
                                 ptrdiff_t rows, ptrdiff_t groups, SCALAR *packed)        \
{                                                                                         \
    switch (variant) {                                                                    \
    case ACG_BASELINE: acg_pack_weights_##T##_base(w, cout, rows, groups, packed); break;\
    case ACG_AVX2: ACG_WHEN_X86(acg_pack_weights_##T##_avx2(w, cout, rows, groups, packed)); break; \
    default: ACG_WHEN_X86(acg_pack_weights_##T##_avx512(w, cout, rows, groups, packed));  \
    }                                                                                     \
}                                                                                         \
static void acg_item_##T(int variant, const acg_geom *g, const SCALAR *x, const SCALAR *a,\
                         int packed, const SCALAR *bias, SCALAR *y, ptrdiff_t o_first,    \
                         ptrdiff_t o_count, ptrdiff_t t_first, ptrdiff_t t_count,        \
                         ptrdiff_t o_block, SCALAR *window, ptrdiff_t *offsets,           \
                         SCALAR *stage, int window_ready)                                 \
{                                                                                         \
    switch (variant) {                                                                    \
    case ACG_AVX2: ACG_WHEN_X86(acg_item_##T##_avx2(g, x, a, packed, bias, y, o_first, o_count,   \
                                t_first, t_count, o_block, window, offsets, stage, window_ready));      \
        break;                                                                            \
    case ACG_AVX512: ACG_WHEN_X86(acg_item_##T##_avx512(g, x, a, packed, bias, y, o_first,         \
                                  o_count, t_first, t_count, o_block, window, offsets,    \
                                  stage, window_ready)); break;                                         \
    case ACG_WIDE_ON_AVX2: ACG_WHEN_X86(acg_item_##T##_wide(g, x, a, packed, bias, y, o_first,     \
                                        o_count, t_first, t_count, o_block, window,       \
                                        offsets, stage, window_ready)); break;                          \
    default: acg_item_##T##_base(g, x, a, packed, bias, y, o_first, o_count, t_first, t_count,     \
                                 o_block, window, offsets, stage, window_ready);                        \
    }                                                                                     \
}

#if ACG_X86
#define ACG_WHEN_X86(call) call
#else
#define ACG_WHEN_X86(call) ((void)0)
#endif

#define ACG_PUBLIC_WGRAD(T, SCALAR)                                                       \
static void acg_wgrad_item_##T(int variant, const acg_geom *g, const SCALAR *x,           \
                               const SCALAR *gy, ptrdiff_t cout_g, ptrdiff_t t_first,     \
                               ptrdiff_t t_count, SCALAR *sums, ptrdiff_t ldsum,          \
                               SCALAR *window, ptrdiff_t *offsets, SCALAR *gyt)           \
{                                                                                         \
    switch (variant) {                                                                    \
    case ACG_AVX2: ACG_WHEN_X86(acg_wgrad_item_##T##_avx2(g, x, gy, cout_g, t_first,      \
                                t_count, sums, ldsum, window, offsets, gyt)); break;      \
    case ACG_AVX512: ACG_WHEN_X86(acg_wgrad_item_##T##_avx512(g, x, gy, cout_g, t_first,  \
                                  t_count, sums, ldsum, window, offsets, gyt)); break;    \
    case ACG_WIDE_ON_AVX2: ACG_WHEN_X86(acg_wgrad_item_##T##_wide(g, x, gy, cout_g,       \
                                        t_first, t_count, sums, ldsum, window, offsets,   \
                                        gyt)); break;                                     \
    default: acg_wgrad_item_##T##_base(g, x, gy, cout_g, t_first, t_count, sums, ldsum,   \
                                       window, offsets, gyt);                             \
    }                                                                                     \
}

ACG_PUBLIC(f32, float)
ACG_PUBLIC(f64, double)
ACG_PUBLIC_WGRAD(f32, float)
ACG_PUBLIC_WGRAD(f64, double)

#else /* no vector extensions */
#define ACG_AVAILABLE 0
static int acg_runs(int variant) { (void)variant; return 0; }
static int acg_best_variant(void) { return ACG_BASELINE; }
static int acg_tile_rows(int variant) { (void)variant; return 6; }
static ptrdiff_t acg_tile_cols(int variant, ptrdiff_t itemsize) { (void)variant; return 32 / itemsize; }
/* never called: acg_runs says no */
#define ACG_NEVER(T, SCALAR)                                                              \
static void acg_pack_weights_##T(int variant, const SCALAR *w, ptrdiff_t cout,            \
                                 ptrdiff_t rows, ptrdiff_t groups, SCALAR *packed)        \
{ (void)variant; (void)w; (void)cout; (void)rows; (void)groups; (void)packed; }           \
static void acg_item_##T(int variant, const acg_geom *g, const SCALAR *x, const SCALAR *a,\
                         int packed, const SCALAR *bias, SCALAR *y, ptrdiff_t o_first,    \
                         ptrdiff_t o_count, ptrdiff_t t_first, ptrdiff_t t_count,        \
                         ptrdiff_t o_block, SCALAR *window, ptrdiff_t *offsets,           \
                         SCALAR *stage, int window_ready)                                 \
{ (void)variant; (void)g; (void)x; (void)a; (void)bias; (void)y; (void)o_first;          \
  (void)o_count; (void)t_first; (void)t_count; (void)o_block; (void)window; (void)offsets; \
  (void)stage; (void)window_ready; }
ACG_NEVER(f32, float)
ACG_NEVER(f64, double)
#define ACG_NEVER_WGRAD(T, SCALAR)                                                        \
static void acg_wgrad_item_##T(int variant, const acg_geom *g, const SCALAR *x,           \
                               const SCALAR *gy, ptrdiff_t cout_g, ptrdiff_t t_first,     \
                               ptrdiff_t t_count, SCALAR *sums, ptrdiff_t ldsum,          \
                               SCALAR *window, ptrdiff_t *offsets, SCALAR *gyt)           \
{ (void)variant; (void)g; (void)x; (void)gy; (void)cout_g; (void)t_first; (void)t_count;  \
  (void)sums; (void)ldsum; (void)window; (void)offsets; (void)gyt; }
ACG_NEVER_WGRAD(f32, float)
ACG_NEVER_WGRAD(f64, double)
#endif

#endif
