/*
 * The Keccak-f[1600] round body (FIPS 202 §3.2) on one __m256i per lane,
 * shared by keccak_x4_avx2.c, keccak_x4_avx512.c and keccak_x1_avx512.c,
 * which differ only in the vector primitives. The includer defines, before
 * including this header:
 *   ROL(x, n)      64-bit rotate left of each slot by n
 *   ROL8(x), ROL56(x)  the same by 8 and 56 (a byte shuffle on AVX2)
 *   XOR5(a, b, c, d, e)  a ^ b ^ c ^ d ^ e
 *   CHI(a, b, c)   a ^ (~b & c)
 * and then writes KECCAK_VEC_PERMUTE(LD, ST) as the permutation's body,
 * with LD(i) giving lane i as a vector and ST(i, x) storing it back.
 * Everything here is straight-line and data-independent (constant time).
 */
#ifndef PQIFY_KEM_X86_64_KECCAK_VEC_ROUND_H
#define PQIFY_KEM_X86_64_KECCAK_VEC_ROUND_H

#include "../fips202.h"
#include "avx2.h"

/*
 * One round from lane set from.. into to.. (called a -> e, then e -> a). pi is
 * folded into the read order: output lane (x', y') takes
 * B = rot(A[x, x'] ^ D[x], r[x, x']) with x = 3 (y' - 3 x') mod 5 (FIPS 202
 * §3.2.3 inverted), so no lane is copied.
 */
#define ROUND(from, to, rc) \
    c0 = XOR5(from##00, from##05, from##10, from##15, from##20); \
    c1 = XOR5(from##01, from##06, from##11, from##16, from##21); \
    c2 = XOR5(from##02, from##07, from##12, from##17, from##22); \
    c3 = XOR5(from##03, from##08, from##13, from##18, from##23); \
    c4 = XOR5(from##04, from##09, from##14, from##19, from##24); \
    d0 = _mm256_xor_si256(c4, ROL(c1, 1)); \
    d1 = _mm256_xor_si256(c0, ROL(c2, 1)); \
    d2 = _mm256_xor_si256(c1, ROL(c3, 1)); \
    d3 = _mm256_xor_si256(c2, ROL(c4, 1)); \
    d4 = _mm256_xor_si256(c3, ROL(c0, 1)); \
    b0 = _mm256_xor_si256(from##00, d0); \
    b1 = ROL(_mm256_xor_si256(from##06, d1), 44); \
    b2 = ROL(_mm256_xor_si256(from##12, d2), 43); \
    b3 = ROL(_mm256_xor_si256(from##18, d3), 21); \
    b4 = ROL(_mm256_xor_si256(from##24, d4), 14); \
    to##00 = _mm256_xor_si256(CHI(b0, b1, b2), _mm256_set1_epi64x((long long)(rc))); \
    to##01 = CHI(b1, b2, b3); \
    to##02 = CHI(b2, b3, b4); \
    to##03 = CHI(b3, b4, b0); \
    to##04 = CHI(b4, b0, b1); \
    b0 = ROL(_mm256_xor_si256(from##03, d3), 28); \
    b1 = ROL(_mm256_xor_si256(from##09, d4), 20); \
    b2 = ROL(_mm256_xor_si256(from##10, d0), 3); \
    b3 = ROL(_mm256_xor_si256(from##16, d1), 45); \
    b4 = ROL(_mm256_xor_si256(from##22, d2), 61); \
    to##05 = CHI(b0, b1, b2); \
    to##06 = CHI(b1, b2, b3); \
    to##07 = CHI(b2, b3, b4); \
    to##08 = CHI(b3, b4, b0); \
    to##09 = CHI(b4, b0, b1); \
    b0 = ROL(_mm256_xor_si256(from##01, d1), 1); \
    b1 = ROL(_mm256_xor_si256(from##07, d2), 6); \
    b2 = ROL(_mm256_xor_si256(from##13, d3), 25); \
    b3 = ROL8(_mm256_xor_si256(from##19, d4)); \
    b4 = ROL(_mm256_xor_si256(from##20, d0), 18); \
    to##10 = CHI(b0, b1, b2); \
    to##11 = CHI(b1, b2, b3); \
    to##12 = CHI(b2, b3, b4); \
    to##13 = CHI(b3, b4, b0); \
    to##14 = CHI(b4, b0, b1); \
    b0 = ROL(_mm256_xor_si256(from##04, d4), 27); \
    b1 = ROL(_mm256_xor_si256(from##05, d0), 36); \
    b2 = ROL(_mm256_xor_si256(from##11, d1), 10); \
    b3 = ROL(_mm256_xor_si256(from##17, d2), 15); \
    b4 = ROL56(_mm256_xor_si256(from##23, d3)); \
    to##15 = CHI(b0, b1, b2); \
    to##16 = CHI(b1, b2, b3); \
    to##17 = CHI(b2, b3, b4); \
    to##18 = CHI(b3, b4, b0); \
    to##19 = CHI(b4, b0, b1); \
    b0 = ROL(_mm256_xor_si256(from##02, d2), 62); \
    b1 = ROL(_mm256_xor_si256(from##08, d3), 55); \
    b2 = ROL(_mm256_xor_si256(from##14, d4), 39); \
    b3 = ROL(_mm256_xor_si256(from##15, d0), 41); \
    b4 = ROL(_mm256_xor_si256(from##21, d1), 2); \
    to##20 = CHI(b0, b1, b2); \
    to##21 = CHI(b1, b2, b3); \
    to##22 = CHI(b2, b3, b4); \
    to##23 = CHI(b3, b4, b0); \
    to##24 = CHI(b4, b0, b1);

/* 24 rounds on the 25 lanes LD(0..24), results to ST(0..24, .). */
#define KECCAK_VEC_PERMUTE(LD, ST) \
    do { \
        __m256i a00 = LD(0), a01 = LD(1), a02 = LD(2), a03 = LD(3), a04 = LD(4); \
        __m256i a05 = LD(5), a06 = LD(6), a07 = LD(7), a08 = LD(8), a09 = LD(9); \
        __m256i a10 = LD(10), a11 = LD(11), a12 = LD(12), a13 = LD(13), a14 = LD(14); \
        __m256i a15 = LD(15), a16 = LD(16), a17 = LD(17), a18 = LD(18), a19 = LD(19); \
        __m256i a20 = LD(20), a21 = LD(21), a22 = LD(22), a23 = LD(23), a24 = LD(24); \
        __m256i e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12; \
        __m256i e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24; \
        __m256i b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4; \
        for (unsigned i_ = 0; i_ < 24; i_ += 2) { \
            ROUND(a, e, pqify_keccak_rc[i_]); \
            ROUND(e, a, pqify_keccak_rc[i_ + 1]); \
        } \
        ST(0, a00); ST(1, a01); ST(2, a02); ST(3, a03); ST(4, a04); \
        ST(5, a05); ST(6, a06); ST(7, a07); ST(8, a08); ST(9, a09); \
        ST(10, a10); ST(11, a11); ST(12, a12); ST(13, a13); ST(14, a14); \
        ST(15, a15); ST(16, a16); ST(17, a17); ST(18, a18); ST(19, a19); \
        ST(20, a20); ST(21, a21); ST(22, a22); ST(23, a23); ST(24, a24); \
    } while (0)

#endif
