/* Modular arithmetic mod q = 3329 on int16 representatives. Branch-free. */
#ifndef PQIFY_KEM_ARITH_H
#define PQIFY_KEM_ARITH_H

#include <stdint.h>

#define PQIFY_QINV 62209u     /* q^-1 mod 2^16 */
#define PQIFY_MONT_R2 1353    /* 2^32 mod q: fqmul by it multiplies by R */
#define PQIFY_BARRETT_V 20159 /* round(2^26 / q) */

/* The NTT twiddles (ntt.c), shared by every backend: zeta^BitRev7(i) * R mod q,
 * centered, and each times q^-1 mod 2^16 (the low half of a Montgomery product). */
extern const int16_t pqify_zetas[128];
extern const int16_t pqify_zetas_qinv[128];

/*
 * a * 2^-16 mod q. In: |a| < q * 2^15. Out: |r| < q.
 * t = a * q^-1 mod 2^16 makes a - t*q divisible by 2^16.
 */
static inline int16_t pqify_montgomery_reduce(int32_t a)
{
    int16_t t = (int16_t)(uint16_t)((uint32_t)a * PQIFY_QINV);
    return (int16_t)((a - (int32_t)t * 3329) >> 16);
}

/*
 * a * b * 2^-16 mod q; |a * b| < q * 2^15. Same value as
 * pqify_montgomery_reduce((int32_t)a * b), written with 16x16-bit low/high
 * products only (a*b and t*q share their low 16 bits, so the difference of
 * the high halves is exact), which compilers vectorise.
 */
static inline int16_t pqify_fqmul(int16_t a, int16_t b)
{
    int16_t t = (int16_t)((int16_t)(a * b) * (int16_t)PQIFY_QINV);
    int16_t hi = (int16_t)(((int32_t)a * b) >> 16);
    return (int16_t)(hi - (int16_t)(((int32_t)t * 3329) >> 16));
}

/*
 * Centered representative of a mod q, |r| <= (q-1)/2, for every int16 a:
 * a - q * round(a * 20159 / 2^26). The rounding is split as a 16-bit high
 * product then (+2^9) >> 10, which is the same integer and lets compilers
 * vectorise it with 16-bit lanes.
 */
static inline int16_t pqify_barrett_reduce(int16_t a)
{
    int16_t hi = (int16_t)(((int32_t)a * PQIFY_BARRETT_V) >> 16);
    int16_t t = (int16_t)((hi + 512) >> 10);
    return (int16_t)(a - (int16_t)(t * 3329));
}

/* Canonical representative in [0, q), for every int16 a. */
static inline uint16_t pqify_freeze(int16_t a)
{
    int16_t r = pqify_barrett_reduce(a);
    r = (int16_t)(r + ((r >> 15) & 3329));
    return (uint16_t)r;
}

#endif
