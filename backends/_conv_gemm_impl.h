/*
 * One variant of the convolution GEMM (see _conv_gemm.h), included once per
 * variant with these defined:
 *   ACG_SUF     the functions' suffix
 *   ACG_T       float or double
 *   ACG_VB      bytes per vector (16, 32 or 64)
 *   ACG_MR      output channels per tile (at most 12)
 *   ACG_TARGET  the variant's target attribute (or nothing)
 * Every name defined here is undefined again at the end.
 */

#define ACG_CAT2(a, b) a##b
#define ACG_CAT(a, b) ACG_CAT2(a, b)
#define ACG_NAME(base) ACG_CAT(base, ACG_SUF)

#define T ACG_T
#define MR ACG_MR
#define VL ((ptrdiff_t)(ACG_VB / sizeof(ACG_T)))
#define NR (2 * VL)

typedef T ACG_NAME(acg_vector_) __attribute__((vector_size(ACG_VB)));
#define VT ACG_NAME(acg_vector_)

/* Accumulators of tile row o: acc<o>a (positions 0..VL-1) and acc<o>b (VL..NR-1). */
#define ACG_DECLARE(o) VT acc##o##a, acc##o##b;
#define ACG_LOAD(o)                                                                       \
    if (o < mr) {                                                                         \
        if (init) {                                                                       \
            acc##o##a = zero + init[o];                                                   \
            acc##o##b = acc##o##a;                                                        \
        } else {                                                                          \
            memcpy(&acc##o##a, src + o * lds, sizeof(VT));                                \
            if (!half) memcpy(&acc##o##b, src + o * lds + VL, sizeof(VT));                \
        }                                                                                 \
    }
#define ACG_FMA(o)                                                                        \
    if (o < mr) {                                                                         \
        const T w = packed ? ar[o] : ar[o * lda];                                         \
        acc##o##a += w * b0;                                                              \
        if (!half) acc##o##b += w * b1;                                                   \
    }
#define ACG_STORE(o)                                                                      \
    if (o < mr) {                                                                         \
        memcpy(dst + o * ldd, &acc##o##a, sizeof(VT));                                    \
        if (!half) memcpy(dst + o * ldd + VL, &acc##o##b, sizeof(VT));                    \
    }
#define ACG_REPEAT12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)

/* One tile of mr rows and NR positions (mr, packed and half constants once inlined):
 *   dst[o, 0:NR] = (init[o], or src[o, 0:NR] when init is NULL)
 *                  + sum_{r < kc} A[o, r] * (base + boff[r] + t0)[0:NR]
 * with A[o, r] = a[r * MR + o] (packed weights) or a[o * lda + r] (the
 * caller's), the rows of src lds apart, those of dst ldd apart (src may be dst);
 * half: positions 0:VL only (a row's last few positions; each position's sum
 * is the same sequence of operations as in a whole tile, so the bits are too). */
ACG_TARGET static inline __attribute__((always_inline)) void
ACG_NAME(acg_tile_)(ptrdiff_t kc, const T *restrict a, ptrdiff_t lda, const T *restrict base,
                    const ptrdiff_t *restrict boff, ptrdiff_t t0, const T *src, ptrdiff_t lds,
                    T *dst, ptrdiff_t ldd, const T *restrict init, const int mr, const int packed,
                    const int half)
{
    const VT zero = {0};
    ACG_REPEAT12(ACG_DECLARE)
    ACG_REPEAT12(ACG_LOAD)
    for (ptrdiff_t r = 0; r < kc; r++) {
        const T *bp = base + boff[r] + t0;
        VT b0, b1 = zero;
        memcpy(&b0, bp, sizeof(VT));
        if (!half) memcpy(&b1, bp + VL, sizeof(VT));
        const T *ar = packed ? a + r * MR : a + r;
        ACG_REPEAT12(ACG_FMA)
    }
    ACG_REPEAT12(ACG_STORE)
}

#define ACG_CALL(m, packed, half) \
    ACG_NAME(acg_tile_)(kc, a, lda, base, boff, t0, src, lds, dst, ldd, init, m, packed, half)
#define ACG_CASE(m)                                                                       \
    case m:                                                                               \
        if (m > MR) break;                                                                \
        if (half) {                                                                       \
            if (lda) ACG_CALL(m, 0, 1);                                                   \
            else ACG_CALL(m, 1, 1);                                                       \
        } else {                                                                          \
            if (lda) ACG_CALL(m, 0, 0);                                                   \
            else ACG_CALL(m, 1, 0);                                                       \
        }                                                                                 \
        break;

/* The tile for any row count 1..MR; lda 0: packed weights, else the caller's, rows lda
 * apart; half: the first VL positions only. */
ACG_TARGET static void
ACG_NAME(acg_tile_rows_)(ptrdiff_t kc, const T *a, ptrdiff_t lda, const T *base,
                         const ptrdiff_t *boff, ptrdiff_t t0, const T *src, ptrdiff_t lds, T *dst,
                         ptrdiff_t ldd, const T *init, int mr, int half)
{
    switch (mr) {
    ACG_CASE(12) ACG_CASE(11) ACG_CASE(10) ACG_CASE(9) ACG_CASE(8) ACG_CASE(7)
    ACG_CASE(6) ACG_CASE(5) ACG_CASE(4) ACG_CASE(3) ACG_CASE(2) ACG_CASE(1)
    }
}

/*
 * The input window of one item and one chunk of input channels: for channel
 * c0 + c (c < cc) and stride phase p (p < stride),
 *     window[(c * stride + p) * ldw + m] = padded input at (t_first + m) * stride + p - pad_left
 * for m < width: the sample that tap k (with k * dilation = q * stride + p)
 * reads for output t_first + m - q.  Positions past the last that a valid
 * output reads are zero, so whole tiles may run past the row's end.
 */
ACG_TARGET static void
ACG_NAME(acg_pack_window_)(const acg_geom *g, const T *x, ptrdiff_t c0, ptrdiff_t cc,
                           ptrdiff_t t_first, ptrdiff_t width, ptrdiff_t ldw, T *restrict window)
{
    const ptrdiff_t length = g->length, stride = g->stride;
    /* the last padded position any output reads */
    const ptrdiff_t last = (g->length_out - 1) * stride + (g->ksize - 1) * g->dilation - g->pad_left;
    for (ptrdiff_t c = 0; c < cc; c++) {
        const T *restrict row = x + (c0 + c) * length;
        for (ptrdiff_t p = 0; p < stride; p++) {
            T *restrict dst = window + (c * stride + p) * ldw;
            const ptrdiff_t first = t_first * stride + p - g->pad_left;  /* position of m = 0 */
            /* m in [lo, hi): inside the signal; [hi, valid): padding on the right; past valid: zero */
            ptrdiff_t valid = last < first ? 0 : (last - first) / stride + 1;
            if (valid > width) valid = width;
            ptrdiff_t lo = ac_first_inside(first, stride);
            ptrdiff_t hi = ac_end_inside(first, length - 1, stride);
            if (lo > valid) lo = valid;
            if (hi > valid) hi = valid;
            if (hi < lo) hi = lo;
            ptrdiff_t m = 0;
            for (; m < lo; m++) {
                /* a zero of the padding still multiplies its weight (inf * 0 is nan) */
                const ptrdiff_t i = ac_map_index(first + m * stride, length, g->mode);
                dst[m] = i >= 0 ? row[i] : (T)0;
            }
            /* constant strides, so that the compiler vectorises the gathers */
            const T *from = row + first;
            if (stride == 1)
                memcpy(dst + m, from + m, (hi - m) * sizeof(T));
            else if (stride == 2)
                for (ptrdiff_t j = m; j < hi; j++) dst[j] = from[2 * j];
            else if (stride == 4)
                for (ptrdiff_t j = m; j < hi; j++) dst[j] = from[4 * j];
            else
                for (ptrdiff_t j = m; j < hi; j++) dst[j] = from[j * stride];
            for (m = hi; m < valid; m++) {
                const ptrdiff_t i = ac_map_index(first + m * stride, length, g->mode);
                dst[m] = i >= 0 ? row[i] : (T)0;
            }
            for (; m < width; m++) dst[m] = 0;
        }
    }
}

/*
 * One work item: y[o, t] for o in [o_first, o_first + o_count) (o_first a
 * multiple of MR) and t in [t_first, t_first + t_count), of one batch element
 * and group.  x: the group's first input row; a: the group's weights, packed
 * (acg_pack_weights, packed 1) or the caller's (C_out/g, C_in/g * K) rows
 * (packed 0: calls too short to repay the packing); bias: the group's first
 * bias, or NULL; y: the group's
 * first output row (rows length_out apart).  The output channels go o_block
 * at a time (a multiple of MR); for each block, the input channels pass
 * g->kc / K at a time (at least one) over every tile.  Scratch of the calling
 * thread: window (acg_window_values; window_ready: it already holds this
 * item's whole window, packed for the item before on the same thread),
 * offsets (acg_offset_count) and, where
 * there is more than one pass, stage (acg_stage_values): the block's partial
 * sums between passes, in rows an odd number of cache lines apart (output
 * rows a power of two apart would share a few sets of the caches), the last
 * pass storing into y.
 */
ACG_TARGET static void
ACG_NAME(acg_item_)(const acg_geom *g, const T *x, const T *a, int packed, const T *bias, T *y,
                    ptrdiff_t o_first, ptrdiff_t o_count, ptrdiff_t t_first, ptrdiff_t t_count,
                    ptrdiff_t o_block, T *window, ptrdiff_t *offsets, T *stage, int window_ready)
{
    static const T zeros[MR] = {0};
    const ptrdiff_t ksize = g->ksize, stride = g->stride, cin_g = g->cin_g, rows = cin_g * ksize;
    const ptrdiff_t ldy = g->length_out, o_end = o_first + o_count;
    const ptrdiff_t chunk = acg_pass_channels(g);
    const ptrdiff_t tiles = (t_count + NR - 1) / NR;
    const ptrdiff_t width = tiles * NR + (ksize - 1) * g->dilation / stride;
    const ptrdiff_t ldw = acg_window_pitch(width, sizeof(T));
    const ptrdiff_t lds = acg_window_pitch(tiles * NR, sizeof(T));
    /* the window holds every input channel (packed once) or one pass's */
    const int whole = g->window_channels >= cin_g;
    if (whole && !window_ready) ACG_NAME(acg_pack_window_)(g, x, 0, cin_g, t_first, width, ldw, window);
    for (ptrdiff_t ob = o_first; ob < o_end; ob += o_block) {
        const ptrdiff_t ob_end = o_end - ob < o_block ? o_end : ob + o_block;
        for (ptrdiff_t c0 = 0; c0 < cin_g; c0 += chunk) {
            const ptrdiff_t cc = cin_g - c0 < chunk ? cin_g - c0 : chunk;
            const ptrdiff_t r0 = c0 * ksize, kc = cc * ksize;
            const int first_pass = c0 == 0, last_pass = c0 + cc == cin_g;
            if (!whole) ACG_NAME(acg_pack_window_)(g, x, c0, cc, t_first, width, ldw, window);
            for (ptrdiff_t r = 0; r < kc; r++) {
                const ptrdiff_t c = r / ksize + (whole ? c0 : 0), shift = (r % ksize) * g->dilation;
                offsets[r] = (c * stride + shift % stride) * ldw + shift / stride;
            }
            for (ptrdiff_t tile = 0; tile < tiles; tile++) {
                const ptrdiff_t t = t_first + tile * NR;
                const ptrdiff_t nr = t_count - tile * NR < NR ? t_count - tile * NR : NR;
                for (ptrdiff_t o = ob; o < ob_end; o += MR) {
                    const int mr = (int)(ob_end - o < MR ? ob_end - o : MR);
                    const T *ap = packed ? a + ((o / MR) * rows + r0) * MR : a + o * rows + r0;
                    const T *init = first_pass ? (bias ? bias + o : zeros) : NULL;
                    T *staged = stage ? stage + (o - ob) * lds + tile * NR : NULL;  /* one pass: none */
                    /* a row's last VL positions or fewer: half a tile */
                    const int half = nr <= VL;
                    if (!last_pass) {
                        ACG_NAME(acg_tile_rows_)(kc, ap, packed ? 0 : rows, window, offsets, tile * NR, staged, lds,
                                                 staged, lds, init, mr, half);
                    } else if (nr == NR) {
                        ACG_NAME(acg_tile_rows_)(kc, ap, packed ? 0 : rows, window, offsets, tile * NR, staged, lds,
                                                 y + o * ldy + t, ldy, init, mr, 0);
                    } else {
                        /* the last positions of a row: through a tile of scratch */
                        T part[MR * NR];
                        ACG_NAME(acg_tile_rows_)(kc, ap, packed ? 0 : rows, window, offsets, tile * NR, staged, lds,
                                                 part, NR, init, mr, half);
                        for (int i = 0; i < mr; i++)
                            memcpy(y + (o + i) * ldy + t, part + i * NR, nr * sizeof(T));
                    }
                }
            }
        }
    }
}

/* ----------------------------------------------------------------------------
 * The weight gradient: sums[r, o] += sum_t x_r[t] * gy[o, t], a tile of MR
 * reduction rows r (their samples broadcast from the input window) by NR
 * output channels o (vectors of the item's output gradient, transposed).
 */
#define ACG_WPOINTER(o) const T *p##o = o < mr ? rowp[o] : rowp[0];
#define ACG_WLOAD(o)                                                                      \
    if (o < mr) {                                                                         \
        memcpy(&acc##o##a, sums + o * ldsum, sizeof(VT));                                 \
        memcpy(&acc##o##b, sums + o * ldsum + VL, sizeof(VT));                            \
    }
#define ACG_WFMA(o)                                                                       \
    if (o < mr) {                                                                         \
        const T v = p##o[t];                                                              \
        acc##o##a += v * b0;                                                              \
        acc##o##b += v * b1;                                                              \
    }
#define ACG_WSTORE(o)                                                                     \
    if (o < mr) {                                                                         \
        memcpy(sums + o * ldsum, &acc##o##a, sizeof(VT));                                 \
        memcpy(sums + o * ldsum + VL, &acc##o##b, sizeof(VT));                            \
    }

/* sums[i, 0:NR] += sum_{t < count} rowp[i][t] * b[t * ldb + 0:NR] for i < mr (a
 * constant once inlined), the rows of sums ldsum apart. */
ACG_TARGET static inline __attribute__((always_inline)) void
ACG_NAME(acg_wtile_)(ptrdiff_t count, const T *const *rowp, const T *restrict b, ptrdiff_t ldb,
                     T *restrict sums, ptrdiff_t ldsum, const int mr)
{
    ACG_REPEAT12(ACG_DECLARE)
    ACG_REPEAT12(ACG_WPOINTER)
    ACG_REPEAT12(ACG_WLOAD)
    for (ptrdiff_t t = 0; t < count; t++) {
        VT b0, b1;
        memcpy(&b0, b + t * ldb, sizeof(VT));
        memcpy(&b1, b + t * ldb + VL, sizeof(VT));
        ACG_REPEAT12(ACG_WFMA)
    }
    ACG_REPEAT12(ACG_WSTORE)
}

#define ACG_WCASE(m)                                                                      \
    case m:                                                                               \
        if (m <= MR) ACG_NAME(acg_wtile_)(count, rowp, b, ldb, sums, ldsum, m);           \
        break;

ACG_TARGET static void
ACG_NAME(acg_wtile_rows_)(ptrdiff_t count, const T *const *rowp, const T *b, ptrdiff_t ldb,
                          T *sums, ptrdiff_t ldsum, int mr)
{
    switch (mr) {
    ACG_WCASE(12) ACG_WCASE(11) ACG_WCASE(10) ACG_WCASE(9) ACG_WCASE(8) ACG_WCASE(7)
    ACG_WCASE(6) ACG_WCASE(5) ACG_WCASE(4) ACG_WCASE(3) ACG_WCASE(2) ACG_WCASE(1)
    }
}

/*
 * One work item of the weight gradient: positions [t_first, t_first + t_count)
 * of one batch element and group, added into sums (C_in/g * K rows of ldsum
 * values, ldsum a multiple of NR: output channel o at column o).  x: the
 * group's first input row; gy: the group's first output-gradient row (rows
 * length_out apart).  The input channels pass g->kc / K at a time.  Scratch
 * of the calling thread: window (acg_window_values, one pass's channels),
 * offsets (acg_offset_count) and gyt (t_count rows of ldsum: gy transposed,
 * zero past the group's output channels).
 */
ACG_TARGET static void
ACG_NAME(acg_wgrad_item_)(const acg_geom *g, const T *x, const T *gy, ptrdiff_t cout_g,
                          ptrdiff_t t_first, ptrdiff_t t_count, T *sums, ptrdiff_t ldsum,
                          T *window, ptrdiff_t *offsets, T *gyt)
{
    const ptrdiff_t ksize = g->ksize, stride = g->stride, cin_g = g->cin_g, ldy = g->length_out;
    const ptrdiff_t chunk = acg_pass_channels(g);
    const ptrdiff_t width = (t_count + NR - 1) / NR * NR + (ksize - 1) * g->dilation / stride;
    const ptrdiff_t ldw = acg_window_pitch(width, sizeof(T));
    for (ptrdiff_t o = 0; o < ldsum; o++) {
        const T *row = gy + o * ldy + t_first;
        if (o < cout_g)
            for (ptrdiff_t t = 0; t < t_count; t++) gyt[t * ldsum + o] = row[t];
        else
            for (ptrdiff_t t = 0; t < t_count; t++) gyt[t * ldsum + o] = 0;
    }
    for (ptrdiff_t c0 = 0; c0 < cin_g; c0 += chunk) {
        const ptrdiff_t cc = cin_g - c0 < chunk ? cin_g - c0 : chunk;
        const ptrdiff_t r0 = c0 * ksize, kc = cc * ksize;
        ACG_NAME(acg_pack_window_)(g, x, c0, cc, t_first, width, ldw, window);
        for (ptrdiff_t r = 0; r < kc; r++) {
            const ptrdiff_t c = r / ksize, shift = (r % ksize) * g->dilation;
            offsets[r] = (c * stride + shift % stride) * ldw + shift / stride;
        }
        for (ptrdiff_t rb = 0; rb < kc; rb += MR) {
            const int mr = (int)(kc - rb < MR ? kc - rb : MR);
            const T *rowp[MR];
            for (int i = 0; i < MR; i++) rowp[i] = window + offsets[rb + (i < mr ? i : 0)];
            for (ptrdiff_t ob = 0; ob < ldsum; ob += NR)
                ACG_NAME(acg_wtile_rows_)(t_count, rowp, gyt + ob, ldsum, sums + (r0 + rb) * ldsum + ob,
                                          ldsum, mr);
        }
    }
}

/* packed[((g * blocks + b) * rows + r) * MR + i] = w[g * cout_g + b * MR + i, r]
 * (zero past the group's last output channel), blocks = ceil(cout_g / MR). */
static __attribute__((unused)) void
ACG_NAME(acg_pack_weights_)(const T *w, ptrdiff_t cout, ptrdiff_t rows, ptrdiff_t groups,
                            T *packed)
{
    const ptrdiff_t cout_g = cout / groups, blocks = (cout_g + MR - 1) / MR;
    for (ptrdiff_t gr = 0; gr < groups; gr++)
        for (ptrdiff_t b = 0; b < blocks; b++) {
            T *dst = packed + (gr * blocks + b) * rows * MR;
            for (ptrdiff_t i = 0; i < MR; i++) {
                const ptrdiff_t o = b * MR + i;
                if (o < cout_g) {
                    const T *src = w + (gr * cout_g + o) * rows;
                    for (ptrdiff_t r = 0; r < rows; r++) dst[r * MR + i] = src[r];
                } else {
                    for (ptrdiff_t r = 0; r < rows; r++) dst[r * MR + i] = 0;
                }
            }
        }
}

#undef ACG_CASE
#undef ACG_CALL
#undef ACG_WCASE
#undef ACG_WSTORE
#undef ACG_WFMA
#undef ACG_WLOAD
#undef ACG_WPOINTER
#undef ACG_REPEAT12
#undef ACG_STORE
#undef ACG_FMA
#undef ACG_LOAD
#undef ACG_DECLARE
#undef VT
#undef NR
#undef VL
#undef MR
#undef T
#undef ACG_NAME
#undef ACG_CAT
#undef ACG_CAT2
#undef ACG_SUF
#undef ACG_T
#undef ACG_VB
#undef ACG_MR
#undef ACG_TARGET
