/* MKL's DFTI interface, reached through function addresses taken from the
 * libmkl_rt that mkl-fft has loaded (backends/_mkl_runtime.py), so that the
 * build needs neither MKL's headers nor its library: where MKL is absent the
 * addresses are never given and nothing here runs.
 *
 * Streams of long kernels (backends/partitioned.py) run two short transforms
 * per push; through mkl-fft's Python wrapper each costs several microseconds
 * of argument handling around about a microsecond of transform.  The fft
 * backend's frames are long, but mkl-fft commits a descriptor on every call,
 * which costs several of its transforms.  A descriptor committed once and
 * computed from C costs only the transform.
 *
 * The values below are those of MKL's mkl_dfti.h (DFTI_CONFIG_PARAM and
 * DFTI_CONFIG_VALUE), which are part of its stable ABI.  DftiCreateDescriptor,
 * DftiSetValue and DftiCompute* are variadic in MKL: they are called through
 * variadic pointer types with arguments of the types MKL reads (MKL_LONG is
 * `long` on the LP64 platforms mkl-fft is published for).
 */
#ifndef ARRAYCONV_DFTI_H
#define ARRAYCONV_DFTI_H

enum {
    ACD_BACKWARD_SCALE = 5,
    ACD_NUMBER_OF_TRANSFORMS = 7,
    ACD_CONJUGATE_EVEN_STORAGE = 10,
    ACD_PLACEMENT = 11,
    ACD_INPUT_DISTANCE = 14,
    ACD_OUTPUT_DISTANCE = 15,
    ACD_THREAD_LIMIT = 27,
    ACD_COMPLEX = 32,
    ACD_REAL = 33,
    ACD_SINGLE = 35,
    ACD_DOUBLE = 36,
    ACD_COMPLEX_COMPLEX = 39,
    ACD_NOT_INPLACE = 44,
};

typedef long (*acd_create_fn)(void **, int, int, long, ...);
typedef long (*acd_set_fn)(void *, int, ...);
typedef long (*acd_commit_fn)(void *);
typedef long (*acd_compute_fn)(void *, void *, ...);
typedef long (*acd_free_fn)(void **);

/* The entry points, as addresses (0 where MKL is not loaded). */
typedef struct {
    void *create, *set, *commit, *forward, *backward, *free_;
} acd_api;

/* A committed descriptor for `rows` one-dimensional transforms of `length`
 * points, not in place, rows `in_distance` and `out_distance` elements apart
 * (complex elements on the conjugate-even side, the layout of numpy's rfft),
 * on at most `threads` threads, the backward transform scaled by
 * `backward_scale`.  0 on success, MKL's status otherwise (and
 * *handle freed). */
static long acd_make(const acd_api *api, void **handle, int single, int real_domain, long length, long rows,
                     long in_distance, long out_distance, long threads, double backward_scale)
{
    long status;
    *handle = 0;
    status = ((acd_create_fn)api->create)(handle, single ? ACD_SINGLE : ACD_DOUBLE,
                                          real_domain ? ACD_REAL : ACD_COMPLEX, 1L, length);
    if (status == 0)
        status = ((acd_set_fn)api->set)(*handle, ACD_PLACEMENT, (int)ACD_NOT_INPLACE);
    if (status == 0 && real_domain)
        status = ((acd_set_fn)api->set)(*handle, ACD_CONJUGATE_EVEN_STORAGE, (int)ACD_COMPLEX_COMPLEX);
    if (status == 0)
        status = ((acd_set_fn)api->set)(*handle, ACD_NUMBER_OF_TRANSFORMS, rows);
    if (status == 0)
        status = ((acd_set_fn)api->set)(*handle, ACD_INPUT_DISTANCE, in_distance);
    if (status == 0)
        status = ((acd_set_fn)api->set)(*handle, ACD_OUTPUT_DISTANCE, out_distance);
    if (status == 0)
        status = ((acd_set_fn)api->set)(*handle, ACD_THREAD_LIMIT, threads);
    /* a double for either precision: a variadic float arrives as one */
    if (status == 0 && backward_scale != 1.0)
        status = ((acd_set_fn)api->set)(*handle, ACD_BACKWARD_SCALE, backward_scale);
    if (status == 0)
        status = ((acd_commit_fn)api->commit)(*handle);
    if (status != 0 && *handle) {
        ((acd_free_fn)api->free_)(handle);
        *handle = 0;
    }
    return status;
}

static long acd_forward(const acd_api *api, void *handle, void *in, void *out)
{
    return ((acd_compute_fn)api->forward)(handle, in, out);
}

static long acd_backward(const acd_api *api, void *handle, void *in, void *out)
{
    return ((acd_compute_fn)api->backward)(handle, in, out);
}

static void acd_free(const acd_api *api, void **handle)
{
    if (*handle)
        ((acd_free_fn)api->free_)(handle);
    *handle = 0;
}

#endif
