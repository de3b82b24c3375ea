/*
 * A NumPy memory handler (NEP 49) for the backends' output arrays that keeps
 * the memory of large freed outputs for the next call.
 *
 * A fresh large allocation comes from the kernel as pages that are faulted
 * in and zeroed on first touch: for a 52 MB output that is 4-7 ms on one
 * thread, longer than the convolution that fills it.  Blocks of at least
 * ACOP_MIN_POOLED bytes are therefore not released when NumPy frees them but
 * kept, up to a byte limit the caller sets (acop_set_keep), and handed to the
 * next allocation they fit (at least the size asked for, at most twice it).
 * The oldest kept block goes first when the limit is reached.
 *
 * Every block carries a 64-byte header before its data (its capacity), so
 * that free and realloc know what they hold; the data are 64-byte aligned.
 * The handler is set only around the backends' own output allocations; the
 * arrays carry it, so their memory comes back here whichever thread frees it.
 */
#ifndef ARRAYCONV_OUTPUT_POOL_H
#define ARRAYCONV_OUTPUT_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <malloc.h>
#include <windows.h>
#else
#include <pthread.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define ACOP_HEADER 64
#define ACOP_MIN_POOLED ((size_t)1 << 22) /* 4 MiB */
#define ACOP_SLOTS 16
#define ACOP_HUGE_PAGE ((size_t)1 << 21)

typedef struct {
    size_t capacity; /* data bytes the block holds */
} acop_header;

typedef struct {
    char *base[ACOP_SLOTS]; /* kept blocks, oldest first */
    size_t capacity[ACOP_SLOTS];
    int count;
    size_t bytes;
    size_t keep; /* most bytes kept */
} acop_pool;

static acop_pool acop_state = {{0}, {0}, 0, 0, 0};

#ifdef _WIN32
static SRWLOCK acop_lock_ = SRWLOCK_INIT;
static void acop_lock(void) { AcquireSRWLockExclusive(&acop_lock_); }
static void acop_unlock(void) { ReleaseSRWLockExclusive(&acop_lock_); }
#else
static pthread_mutex_t acop_lock_ = PTHREAD_MUTEX_INITIALIZER;
static void acop_lock(void) { pthread_mutex_lock(&acop_lock_); }
static void acop_unlock(void) { pthread_mutex_unlock(&acop_lock_); }
/* a child forked while another thread held the lock must not inherit it held */
static void acop_after_fork(void) { pthread_mutex_init(&acop_lock_, NULL); }
#endif

/* Once, as the module loads. */
static void acop_install(void)
{
#ifndef _WIN32
    pthread_atfork(NULL, NULL, acop_after_fork);
#endif
}

static char *acop_system_alloc(size_t capacity)
{
    if (capacity > SIZE_MAX - ACOP_HEADER) return NULL;
    const size_t total = capacity + ACOP_HEADER;
    char *base;
#ifdef _WIN32
    base = _aligned_malloc(total, 64);
#else
    void *memory = NULL;
    if (posix_memalign(&memory, 64, total) != 0) return NULL;
    base = memory;
#endif
    if (base == NULL) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* as NumPy's own allocator does: fewer page faults on first touch */
    if (total >= ACOP_MIN_POOLED) {
        const uintptr_t first = ((uintptr_t)base + ACOP_HUGE_PAGE - 1) & ~(uintptr_t)(ACOP_HUGE_PAGE - 1);
        const uintptr_t end = (uintptr_t)base + total;
        if (end > first + ACOP_HUGE_PAGE)
            madvise((void *)first, (end - first) & ~(uintptr_t)(ACOP_HUGE_PAGE - 1), MADV_HUGEPAGE);
    }
#endif
    ((acop_header *)base)->capacity = capacity;
    return base;
}

static void acop_system_free(char *base)
{
#ifdef _WIN32
    _aligned_free(base);
#else
    free(base);
#endif
}

/* Remove kept block i (under the lock); returns its base. */
static char *acop_take(int i)
{
    char *base = acop_state.base[i];
    acop_state.bytes -= acop_state.capacity[i];
    for (int j = i + 1; j < acop_state.count; j++) {
        acop_state.base[j - 1] = acop_state.base[j];
        acop_state.capacity[j - 1] = acop_state.capacity[j];
    }
    acop_state.count--;
    return base;
}

static void *acop_malloc(void *ctx, size_t size)
{
    (void)ctx;
    char *base = NULL;
    if (size >= ACOP_MIN_POOLED) {
        int best = -1;
        acop_lock();
        for (int i = 0; i < acop_state.count; i++) {
            const size_t capacity = acop_state.capacity[i];
            if (capacity >= size && capacity / 2 <= size
                && (best < 0 || capacity < acop_state.capacity[best]))
                best = i;
        }
        if (best >= 0) base = acop_take(best);
        acop_unlock();
    }
    if (base == NULL) base = acop_system_alloc(size);
    return base == NULL ? NULL : base + ACOP_HEADER;
}

static void *acop_calloc(void *ctx, size_t count, size_t itemsize)
{
    if (itemsize != 0 && count > SIZE_MAX / itemsize) return NULL;
    void *data = acop_malloc(ctx, count * itemsize);
    if (data != NULL) memset(data, 0, count * itemsize);
    return data;
}

static void acop_free(void *ctx, void *data, size_t size)
{
    (void)ctx;
    (void)size;
    if (data == NULL) return;
    char *base = (char *)data - ACOP_HEADER;
    const size_t capacity = ((acop_header *)base)->capacity;
    char *evicted[ACOP_SLOTS];
    int evictions = 0;
    int kept = 0;
    if (capacity >= ACOP_MIN_POOLED) {
        acop_lock();
        if (capacity <= acop_state.keep) {
            while (acop_state.count > 0
                   && (acop_state.count == ACOP_SLOTS || acop_state.bytes + capacity > acop_state.keep))
                evicted[evictions++] = acop_take(0);
            acop_state.base[acop_state.count] = base;
            acop_state.capacity[acop_state.count] = capacity;
            acop_state.count++;
            acop_state.bytes += capacity;
            kept = 1;
        }
        acop_unlock();
    }
    for (int i = 0; i < evictions; i++) acop_system_free(evicted[i]);
    if (!kept) acop_system_free(base);
}

static void *acop_realloc(void *ctx, void *data, size_t size)
{
    if (data == NULL) return acop_malloc(ctx, size);
    const size_t capacity = ((acop_header *)((char *)data - ACOP_HEADER))->capacity;
    if (size <= capacity) return data;
    void *moved = acop_malloc(ctx, size);
    if (moved == NULL) return NULL;
    memcpy(moved, data, capacity);
    acop_free(ctx, data, capacity);
    return moved;
}

/* Keep at most `keep` bytes from now on (0: keep nothing); releases what is over. */
static void acop_set_keep(size_t keep)
{
    char *evicted[ACOP_SLOTS];
    int evictions = 0;
    acop_lock();
    acop_state.keep = keep;
    while (acop_state.count > 0 && acop_state.bytes > keep) evicted[evictions++] = acop_take(0);
    acop_unlock();
    for (int i = 0; i < evictions; i++) acop_system_free(evicted[i]);
}

/* (blocks kept, bytes kept) */
static void acop_kept(int *count, size_t *bytes)
{
    acop_lock();
    *count = acop_state.count;
    *bytes = acop_state.bytes;
    acop_unlock();
}

#endif
