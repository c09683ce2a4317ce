/*
 * Inverse NTT (FIPS 203 Alg. 10) times R, FIPS 203 order in and out. Same
 * butterflies and reduction points as the portable ntt.c: sums double per
 * layer, so they are Barrett-reduced after len = 8 and len = 64 (below 8q),
 * and the closing multiply by 1441 = R^2/128 mod q scales by 128^-1 * R.
 */
#include "ntt_avx2.h"

/* Gentleman-Sande butterfly: (a, b) -> (a + b, zeta (b - a)). */
static inline void gs(__m256i *a, __m256i *b, __m256i z, __m256i zq)
{
    __m256i t = *a;
    *a = _mm256_add_epi16(t, *b);
    *b = pqify_avx2_fqmul(_mm256_sub_epi16(*b, t), z, zq);
}

static inline void intra(__m256i *a, __m256i *b, unsigned p)
{
    const int16_t (*row)[16] = &pqify_avx2_invntt_intra[6 * p];
    __m256i x, y;
    pqify_avx2_split2(&x, &y, *a, *b);
    gs(&x, &y, pqify_avx2_row(row[4]), pqify_avx2_row(row[5]));
    pqify_avx2_split2(a, b, x, y);
    pqify_avx2_split4(&x, &y, *a, *b);
    gs(&x, &y, pqify_avx2_row(row[2]), pqify_avx2_row(row[3]));
    pqify_avx2_split4(a, b, x, y);
    pqify_avx2_split8(&x, &y, *a, *b);
    gs(&x, &y, pqify_avx2_row(row[0]), pqify_avx2_row(row[1]));
    x = pqify_avx2_barrett(x);
    pqify_avx2_split8(a, b, x, y);
}

void pqify_invntt_avx2(pqify_poly *p)
{
    __m256i *v = (__m256i *)p->coeffs;

    for (unsigned h = 0; h < 2; h++) {
        __m256i r[8];
        for (unsigned i = 0; i < 8; i++)
            r[i] = _mm256_load_si256(&v[8 * h + i]);
        for (unsigned pr = 0; pr < 4; pr++)
            intra(&r[2 * pr], &r[2 * pr + 1], 4 * h + pr);
        /* len = 16: blocks 4h .. 4h+3 use zetas[15 - s]. */
        for (unsigned blk = 0; blk < 4; blk++) {
            const unsigned zi = 15 - (4 * h + blk);
            gs(&r[2 * blk], &r[2 * blk + 1], pqify_avx2_zeta(zi), pqify_avx2_zeta_qinv(zi));
        }
        /* len = 32: blocks 2h, 2h+1 use zetas[7 - s]. */
        for (unsigned blk = 0; blk < 2; blk++) {
            const unsigned zi = 7 - (2 * h + blk);
            const __m256i z = pqify_avx2_zeta(zi), zq = pqify_avx2_zeta_qinv(zi);
            gs(&r[4 * blk], &r[4 * blk + 2], z, zq);
            gs(&r[4 * blk + 1], &r[4 * blk + 3], z, zq);
        }
        /* len = 64: block h uses zetas[3 - h]; its sums are reduced. */
        {
            const __m256i z = pqify_avx2_zeta(3 - h), zq = pqify_avx2_zeta_qinv(3 - h);
            for (unsigned i = 0; i < 4; i++) {
                gs(&r[i], &r[i + 4], z, zq);
                r[i] = pqify_avx2_barrett(r[i]);
            }
        }
        for (unsigned i = 0; i < 8; i++)
            _mm256_store_si256(&v[8 * h + i], r[i]);
    }

    /* len = 128 (zetas[1]), then the scaling by 1441 (Montgomery: times 128^-1 R). */
    const __m256i z = pqify_avx2_zeta(1), zq = pqify_avx2_zeta_qinv(1);
    const __m256i f = _mm256_set1_epi16(1441);
    const __m256i fq = _mm256_set1_epi16((int16_t)(1441 * 62209u & 0xFFFF));
    for (unsigned i = 0; i < 8; i++) {
        __m256i a = _mm256_load_si256(&v[i]), b = _mm256_load_si256(&v[i + 8]);
        gs(&a, &b, z, zq);
        _mm256_store_si256(&v[i], pqify_avx2_fqmul(a, f, fq));
        _mm256_store_si256(&v[i + 8], pqify_avx2_fqmul(b, f, fq));
    }
}
