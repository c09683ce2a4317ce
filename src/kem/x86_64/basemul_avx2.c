/*
 * r = sum_v a[v] (x) b[v] * R^-1 (FIPS 203 Alg. 11/12 MultiplyNTTs summed
 * over a vector), FIPS 203 order. The same integers as the portable
 * basemul_acc: per pair (x0, x1), (y0, y1) with gamma = +-zetas[64 + blk]
 *   c0 = x0 y0 + fqmul(x1, y1) gamma,   c1 = x0 y1 + x1 y0,
 * accumulated in 32 bits over v (below 8q^2 < q 2^15 for k <= 4) and
 * Montgomery-reduced once. vpmaddwd forms both sums of two products.
 */
#include "ntt_avx2.h"

/* gamma for each 16-bit lane of vector i: odd lanes of pair m hold (-1)^m zetas[64 + 4i + m/2]. */
static inline __m256i gammas(unsigned i)
{
    const int16_t *z = &pqify_avx2_zetas[64 + 4 * i];
    return _mm256_setr_epi16(0, z[0], 0, (int16_t)-z[0], 0, z[1], 0, (int16_t)-z[1],
                             0, z[2], 0, (int16_t)-z[2], 0, z[3], 0, (int16_t)-z[3]);
}

void pqify_basemul_acc_avx2(pqify_poly *r, const pqify_poly *a, const pqify_poly *b, unsigned k)
{
    const __m256i q = PQIFY_AVX2_Q, qinv = PQIFY_AVX2_QINV;
    /* Swaps the two 16-bit halves of every 32-bit pair. */
    const __m256i swap = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                          2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    for (unsigned i = 0; i < 16; i++) {
        const __m256i g = gammas(i);
        __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
        for (unsigned v = 0; v < k; v++) {
            __m256i x = _mm256_load_si256((const __m256i *)&a[v].coeffs[16 * i]);
            __m256i y = _mm256_load_si256((const __m256i *)&b[v].coeffs[16 * i]);
            /* fqmul(x1, y1) in the odd lanes (the even lanes are unused). */
            __m256i m = _mm256_sub_epi16(_mm256_mulhi_epi16(x, y),
                                         _mm256_mulhi_epi16(_mm256_mullo_epi16(_mm256_mullo_epi16(x, y), qinv), q));
            /* (x0, fqmul(x1, y1)) . (y0, gamma) and (x0, x1) . (y1, y0). */
            __m256i u = _mm256_blend_epi16(x, m, 0xAA);
            __m256i w = _mm256_blend_epi16(y, g, 0xAA);
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(u, w));
            c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(x, _mm256_shuffle_epi8(y, swap)));
        }
        /*
         * Montgomery reduction of the 32-bit sums, c0 to the even lanes and c1 to
         * the odd: (c - t q) >> 16 = (c >> 16) - mulhi(t, q), t = lo16(c) q^-1.
         */
        __m256i lo = _mm256_blend_epi16(c0, _mm256_slli_epi32(c1, 16), 0xAA);
        __m256i hi = _mm256_blend_epi16(_mm256_srli_epi32(c0, 16), c1, 0xAA);
        __m256i t = _mm256_mullo_epi16(lo, qinv);
        _mm256_store_si256((__m256i *)&r->coeffs[16 * i],
                           _mm256_sub_epi16(hi, _mm256_mulhi_epi16(t, q)));
    }
}
