/*
 * Forward NTT (FIPS 203 Alg. 9), 16 coefficients per vector, output in FIPS
 * 203 order. Same butterflies and reductions as the portable ntt.c: the
 * Montgomery product is below q in magnitude, so seven layers from |a| < q
 * stay below 8q < 2^15, and one Barrett pass at the end brings |a| below q.
 */
#include "ntt_avx2.h"

/* Cooley-Tukey butterfly: (a, b) -> (a + zeta b, a - zeta b). */
static inline void ct(__m256i *a, __m256i *b, __m256i z, __m256i zq)
{
    __m256i t = pqify_avx2_fqmul(*b, z, zq);
    *b = _mm256_sub_epi16(*a, t);
    *a = _mm256_add_epi16(*a, t);
}

/* Layers len = 8, 4, 2 on vectors (2p, 2p+1), regrouped as ntt_avx2.h says. */
static inline void intra(__m256i *a, __m256i *b, unsigned p)
{
    const int16_t (*row)[16] = &pqify_avx2_ntt_intra[6 * p];
    __m256i x, y;
    pqify_avx2_split8(&x, &y, *a, *b);
    ct(&x, &y, pqify_avx2_row(row[0]), pqify_avx2_row(row[1]));
    pqify_avx2_split8(a, b, x, y);
    pqify_avx2_split4(&x, &y, *a, *b);
    ct(&x, &y, pqify_avx2_row(row[2]), pqify_avx2_row(row[3]));
    pqify_avx2_split4(a, b, x, y);
    pqify_avx2_split2(&x, &y, *a, *b);
    ct(&x, &y, pqify_avx2_row(row[4]), pqify_avx2_row(row[5]));
    pqify_avx2_split2(a, b, x, y);
}

void pqify_ntt_avx2(pqify_poly *p)
{
    __m256i *v = (__m256i *)p->coeffs;

    /* len = 128: vector i with vector i + 8, one zeta. */
    {
        const __m256i z = pqify_avx2_zeta(1), zq = pqify_avx2_zeta_qinv(1);
        for (unsigned i = 0; i < 8; i++) {
            __m256i a = _mm256_load_si256(&v[i]), b = _mm256_load_si256(&v[i + 8]);
            ct(&a, &b, z, zq);
            _mm256_store_si256(&v[i], a);
            _mm256_store_si256(&v[i + 8], b);
        }
    }

    /* Each half of 128 coefficients is now independent: the remaining six layers in registers. */
    for (unsigned h = 0; h < 2; h++) {
        __m256i r[8];
        for (unsigned i = 0; i < 8; i++)
            r[i] = _mm256_load_si256(&v[8 * h + i]);
        /* len = 64: block h. */
        {
            const __m256i z = pqify_avx2_zeta(2 + h), zq = pqify_avx2_zeta_qinv(2 + h);
            ct(&r[0], &r[4], z, zq);
            ct(&r[1], &r[5], z, zq);
            ct(&r[2], &r[6], z, zq);
            ct(&r[3], &r[7], z, zq);
        }
        /* len = 32: blocks 2h, 2h+1. */
        for (unsigned blk = 0; blk < 2; blk++) {
            const unsigned zi = 4 + 2 * h + blk;
            const __m256i z = pqify_avx2_zeta(zi), zq = pqify_avx2_zeta_qinv(zi);
            ct(&r[4 * blk], &r[4 * blk + 2], z, zq);
            ct(&r[4 * blk + 1], &r[4 * blk + 3], z, zq);
        }
        /* len = 16: blocks 4h .. 4h+3. */
        for (unsigned blk = 0; blk < 4; blk++) {
            const unsigned zi = 8 + 4 * h + blk;
            ct(&r[2 * blk], &r[2 * blk + 1], pqify_avx2_zeta(zi), pqify_avx2_zeta_qinv(zi));
        }
        for (unsigned pr = 0; pr < 4; pr++)
            intra(&r[2 * pr], &r[2 * pr + 1], 4 * h + pr);
        for (unsigned i = 0; i < 8; i++)
            _mm256_store_si256(&v[8 * h + i], pqify_avx2_barrett(r[i]));
    }
}
