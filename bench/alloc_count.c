/*
 * Allocation counter for `pqify bench`.
 *
 * The pqify executable defines malloc and its siblings itself. The dynamic linker
 * resolves every malloc in the process to the executable's definition first, so
 * libcrypto's allocations (and any in our own code) pass through here. Each one is
 * counted and forwarded to glibc's own entry points (__libc_malloc & co), which stay
 * exported for exactly this purpose. Mixing is safe: everything ends up in the one
 * glibc heap, so a block from any entry point may be freed through any other.
 *
 * AddressSanitizer, MemorySanitizer and ThreadSanitizer replace malloc themselves;
 * a second definition would fight theirs, so the counter is compiled out and the
 * benchmark prints "n/a".
 */
#include "alloc_count.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer) || __has_feature(hwaddress_sanitizer)
#define PQIFY_ALLOC_COUNT_OFF 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(__SANITIZE_HWADDRESS__)
#define PQIFY_ALLOC_COUNT_OFF 1
#endif
#if !defined(__GLIBC__)
#define PQIFY_ALLOC_COUNT_OFF 1
#endif

#ifdef PQIFY_ALLOC_COUNT_OFF

int pqify_alloc_count_available(void)
{
    return 0;
}

unsigned long long pqify_alloc_count(void)
{
    return 0;
}

long long pqify_alloc_live_bytes(void)
{
    return 0;
}

#else

#include <malloc.h>

/* glibc's own allocator entry points (exported, stable since glibc 2.2.5). */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* Relaxed atomics: a count, not a synchronisation point; libcrypto may allocate
 * from any thread. */
static unsigned long long allocations;
/* Bytes in live blocks, by malloc_usable_size (what the heap really holds, slack
 * included), so a benchmark can tell what an idle object keeps. */
static long long live_bytes;

static void *counted(void *p)
{
    if (p != NULL) {
        __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&live_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
    }
    return p;
}

static void released(void *p)
{
    if (p != NULL)
        __atomic_fetch_sub(&live_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
}

int pqify_alloc_count_available(void)
{
    return 1;
}

unsigned long long pqify_alloc_count(void)
{
    return __atomic_load_n(&allocations, __ATOMIC_RELAXED);
}

long long pqify_alloc_live_bytes(void)
{
    return __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
}

void *malloc(size_t size)
{
    return counted(__libc_malloc(size));
}

void *calloc(size_t n, size_t size)
{
    return counted(__libc_calloc(n, size));
}

void *realloc(void *p, size_t size)
{
    /* realloc(p, 0) frees p and may return NULL; a failed realloc keeps p. */
    size_t old = p != NULL ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, size);
    if (q != NULL || size == 0)
        __atomic_fetch_sub(&live_bytes, (long long)old, __ATOMIC_RELAXED);
    return counted(q);
}

void free(void *p)
{
    released(p);
    __libc_free(p);
}

void *memalign(size_t alignment, size_t size)
{
    return counted(__libc_memalign(alignment, size));
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return counted(__libc_memalign(alignment, size));
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    /* POSIX: a power of two that is a multiple of sizeof(void *). */
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
        return EINVAL;
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t size)
{
    return counted(__libc_valloc(size));
}

void *pvalloc(size_t size)
{
    return counted(__libc_pvalloc(size));
}

#endif
