/*
 * Shared by the AVX2 NTT and inverse NTT. Coefficients stay in FIPS 203
 * order in memory (so tobytes, frombytes and basemul need no permutation);
 * the layers len = 8, 4, 2 regroup a vector pair (a, b) into (x, y) where lane
 * l of x and lane l of y are the two inputs of one butterfly, and the same
 * shuffle pair undoes it.
 */
#ifndef PQIFY_KEM_X86_64_NTT_AVX2_H
#define PQIFY_KEM_X86_64_NTT_AVX2_H

#include "../arith.h"
#include "avx2.h"

extern const _Alignas(32) int16_t pqify_avx2_ntt_intra[48][16];
extern const _Alignas(32) int16_t pqify_avx2_invntt_intra[48][16];
extern const _Alignas(32) int16_t pqify_avx2_basemul_gamma[32][16];

/* len = 8: x = low halves of a and b, y = high halves. */
static inline void pqify_avx2_split8(__m256i *x, __m256i *y, __m256i a, __m256i b)
{
    *x = _mm256_permute2x128_si256(a, b, 0x20);
    *y = _mm256_permute2x128_si256(a, b, 0x31);
}

/* len = 4: 64-bit groups, interleaved within each 128-bit lane. */
static inline void pqify_avx2_split4(__m256i *x, __m256i *y, __m256i a, __m256i b)
{
    *x = _mm256_unpacklo_epi64(a, b);
    *y = _mm256_unpackhi_epi64(a, b);
}

/* len = 2: 32-bit groups; x takes the even ones of a and b, y the odd ones. */
static inline void pqify_avx2_split2(__m256i *x, __m256i *y, __m256i a, __m256i b)
{
    *x = _mm256_blend_epi32(a, _mm256_slli_epi64(b, 32), 0xAA);
    *y = _mm256_blend_epi32(_mm256_srli_epi64(a, 32), b, 0xAA);
}

/* Each split is undone by applying it to (x, y) again: a = first, b = second. */

static inline __m256i pqify_avx2_zeta(unsigned i) { return _mm256_set1_epi16(pqify_zetas[i]); }
static inline __m256i pqify_avx2_zeta_qinv(unsigned i)
{
    return _mm256_set1_epi16(pqify_zetas_qinv[i]);
}
static inline __m256i pqify_avx2_row(const int16_t row[16])
{
    return _mm256_load_si256((const __m256i *)row);
}

#endif
