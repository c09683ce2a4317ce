/*
 * Branch-free helpers. This is the only place in src/kem/ and src/tls/ that turns
 * secret data into a decision; everything else combines masks from here (the tls
 * layer includes this header through src/tls/internal.h: libc only, no kem state).
 *
 * The value barrier stops the compiler from proving that a mask is 0 or ~0
 * and turning a select back into a branch (the known clang behaviour that
 * reintroduced a secret branch into Kyber's cmov).
 */
#ifndef PQIFY_KEM_CT_H
#define PQIFY_KEM_CT_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/kem.h"

#if defined(__GNUC__) || defined(__clang__)
static inline uint32_t pqify_ct_barrier_u32(uint32_t x)
{
    __asm__("" : "+r"(x));
    return x;
}
static inline uint8_t pqify_ct_barrier_u8(uint8_t x)
{
    __asm__("" : "+r"(x));
    return x;
}
#else
static volatile uint32_t pqify_ct_zero32;
static inline uint32_t pqify_ct_barrier_u32(uint32_t x) { return x ^ pqify_ct_zero32; }
static inline uint8_t pqify_ct_barrier_u8(uint8_t x) { return (uint8_t)(x ^ pqify_ct_zero32); }
#endif

/* 0xFFFFFFFF if x != 0, else 0. */
static inline uint32_t pqify_ct_mask_nonzero_u32(uint32_t x)
{
    /* The top bit of (x | -x) is set exactly when x != 0. */
    return pqify_ct_barrier_u32((uint32_t)0 - ((x | ((uint32_t)0 - x)) >> 31));
}

/* 0xFF if a[0..len) != b[0..len), else 0. Reads every byte, no early exit. */
static inline uint8_t pqify_ct_compare(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= (uint32_t)(a[i] ^ b[i]);
    return (uint8_t)pqify_ct_mask_nonzero_u32(acc);
}

/* 0xFF if a[0..len) is all zero, else 0. Reads every byte, no early exit. */
static inline uint8_t pqify_ct_is_zero(const uint8_t *a, size_t len)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= a[i];
    return (uint8_t)~pqify_ct_mask_nonzero_u32(acc);
}

/* r = mask ? x : y per byte, mask 0x00 or 0xFF. */
static inline uint8_t pqify_ct_select_u8(uint8_t mask, uint8_t x, uint8_t y)
{
    mask = pqify_ct_barrier_u8(mask);
    return (uint8_t)(y ^ (mask & (x ^ y)));
}

/* r = mask ? x : y, mask 0 or 0xFFFFFFFF. */
static inline uint32_t pqify_ct_select_u32(uint32_t mask, uint32_t x, uint32_t y)
{
    mask = pqify_ct_barrier_u32(mask);
    return y ^ (mask & (x ^ y));
}

/* If mask == 0xFF copy x into r (len bytes); if mask == 0 leave r alone. */
static inline void pqify_ct_cmov(uint8_t *r, const uint8_t *x, size_t len, uint8_t mask)
{
    mask = pqify_ct_barrier_u8(mask);
    for (size_t i = 0; i < len; i++)
        r[i] ^= (uint8_t)(mask & (r[i] ^ x[i]));
}

/* 0xFFFF if the int16 x is negative, else 0 (arithmetic on the sign bit). */
static inline uint16_t pqify_ct_mask_neg_i16(int16_t x)
{
    return (uint16_t)((uint16_t)0 - ((uint16_t)x >> 15));
}

/* x + q if x < 0, else x: maps (-q, q) onto [0, q) without a branch. */
static inline int16_t pqify_ct_caddq(int16_t x)
{
    return (int16_t)(x + (int16_t)(pqify_ct_mask_neg_i16(x) & 3329));
}

/*
 * Declassify: values derived from secrets that the algorithm makes public
 * (rho, which goes into ek). Under valgrind the constant-time test marks
 * secrets undefined; this marks such outputs defined again so only real
 * secret-dependent branches and indexes are reported. Outside valgrind the
 * client request is a few no-op instructions.
 */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define PQIFY_CT_DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#endif
#endif
#ifndef PQIFY_CT_DECLASSIFY
#define PQIFY_CT_DECLASSIFY(p, n) ((void)(p), (void)(n))
#endif

/* Zeroize that survives dead-store elimination (pqify_zeroize, util.c). */
#define pqify_ct_zeroize(p, len) pqify_zeroize((p), (len))

#endif
