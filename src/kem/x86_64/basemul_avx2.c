/*
 * r = sum_v a[v] (x) b[v] * R^-1 (FIPS 203 Alg. 11/12 MultiplyNTTs summed
 * over a vector), FIPS 203 order. Per pair (x0, x1), (y0, y1) with
 * gamma = +-zetas[64 + blk]:
 *   c0 = x0 y0 + x1 (y1 gamma R^-1),   c1 = x0 y1 + x1 y0,
 * both one vpmaddwd once y1 gamma R^-1 (a Montgomery product, |.| < q) sits
 * in the odd lanes. The portable code forms (x1 y1 R^-1) gamma instead: the
 * same value mod q. Each term is below 2q^2, so the 32-bit sums over k <= 4
 * stay below q 2^15 and one Montgomery reduction leaves |r| < q.
 */
#include "ntt_avx2.h"

void pqify_basemul_acc_avx2(pqify_poly *r, const pqify_poly *a, const pqify_poly *b, unsigned k)
{
    const __m256i q = PQIFY_AVX2_Q, qinv = PQIFY_AVX2_QINV;
    /* Swaps the two 16-bit halves of every 32-bit pair. */
    const __m256i swap = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                          2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    for (unsigned i = 0; i < 16; i++) {
        const __m256i g = pqify_avx2_row(pqify_avx2_basemul_gamma[2 * i]);
        const __m256i gq = pqify_avx2_row(pqify_avx2_basemul_gamma[2 * i + 1]);
        __m256i c0 = _mm256_setzero_si256(), c1 = _mm256_setzero_si256();
        for (unsigned v = 0; v < k; v++) {
            __m256i x = _mm256_load_si256((const __m256i *)&a[v].coeffs[16 * i]);
            __m256i y = _mm256_load_si256((const __m256i *)&b[v].coeffs[16 * i]);
            /* (y0, y1 gamma R^-1): the even lanes of g are 0 and are not used. */
            __m256i yg = _mm256_blend_epi16(y, pqify_avx2_fqmul(y, g, gq), 0xAA);
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(x, yg));
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
