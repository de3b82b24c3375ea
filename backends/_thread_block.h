/*
 * One block of scratch memory per calling thread, kept between calls.
 *
 * The kernels' per-call scratch (packed weights, input windows) is a few
 * kilobytes to megabytes; allocating it afresh on every call costs a
 * malloc and, for large blocks, page faults.  acb_get() returns the calling
 * thread's block, grown as needed; acb_trim() frees it when it is larger
 * than a caller-set size, so that one huge call does not pin its scratch.
 * POSIX threads free their block when they exit; elsewhere the block is
 * allocated per call.
 */
#ifndef ARRAYCONV_THREAD_BLOCK_H
#define ARRAYCONV_THREAD_BLOCK_H

#include <stddef.h>
#include <stdlib.h>

#ifdef _WIN32
#include <malloc.h>
#else
#include <pthread.h>
#endif

typedef struct {
    void *data;
    size_t size;
} acb_block;

static void acb_free_data(void *data)
{
#ifdef _WIN32
    _aligned_free(data);
#else
    free(data);
#endif
}

/* the thread's state, as the thread exits */
static void acb_destroy(void *state)
{
    acb_block *block = state;
    if (block == NULL) return;
    acb_free_data(block->data);
    free(block);
}

#ifndef _WIN32
static pthread_key_t acb_key;
static pthread_once_t acb_once = PTHREAD_ONCE_INIT;
static int acb_key_ok = 0;
static void acb_make_key(void) { acb_key_ok = pthread_key_create(&acb_key, acb_destroy) == 0; }

static acb_block *acb_state(void)
{
    pthread_once(&acb_once, acb_make_key);
    if (!acb_key_ok) return NULL;
    acb_block *block = pthread_getspecific(acb_key);
    if (block == NULL) {
        block = calloc(1, sizeof(acb_block));
        if (block == NULL || pthread_setspecific(acb_key, block) != 0) {
            free(block);
            return NULL;
        }
    }
    return block;
}
#else
static acb_block *acb_state(void) { return NULL; }
#endif

static void *acb_aligned(size_t bytes)
{
#ifdef _WIN32
    return _aligned_malloc(bytes ? bytes : 1, 64);
#else
    void *data = NULL;
    return posix_memalign(&data, 64, bytes ? bytes : 1) == 0 ? data : NULL;
#endif
}

/* The calling thread's block of at least `bytes` (64-byte aligned), or NULL
 * when memory runs out.  Where no thread-local state exists, *owned says the
 * caller must free it with acb_release. */
static void *acb_get(size_t bytes, int *owned)
{
    acb_block *block = acb_state();
    *owned = block == NULL;
    if (block == NULL) return acb_aligned(bytes);
    if (block->size < bytes) {
        acb_free_data(block->data);
        block->data = acb_aligned(bytes);
        block->size = block->data ? bytes : 0;
    }
    return block->data;
}

/* After a call: free an owned block, or the thread's block if above `keep` bytes. */
static void acb_release(void *data, int owned, size_t keep)
{
    if (owned) {
        acb_free_data(data);
        return;
    }
    acb_block *block = acb_state();
    if (block != NULL && block->size > keep) {
        acb_free_data(block->data);
        block->data = NULL;
        block->size = 0;
    }
}

#endif
