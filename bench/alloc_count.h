/* Counting heap allocations made by the whole pqify process, libcrypto included. */
#ifndef PQIFY_BENCH_ALLOC_COUNT_H
#define PQIFY_BENCH_ALLOC_COUNT_H

/* 1 when malloc & co are interposed in this executable; 0 in sanitizer builds,
 * whose runtime owns malloc, or on a libc we cannot forward to. */
int pqify_alloc_count_available(void);

/* Allocations since start-up: every successful malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign, valloc and pvalloc. 0 when unavailable. */
unsigned long long pqify_alloc_count(void);

/* Bytes held in live heap blocks (usable sizes), for differences between two
 * points of a run. 0 when unavailable. */
long long pqify_alloc_live_bytes(void);

#endif
