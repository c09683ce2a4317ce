/* Portable NTT, inverse NTT and NTT-domain multiplication (FIPS 203 §4.3). */
#include "arith.h"
#include "portable.h"

/*
 * zetas[i] = 17^BitRev7(i) * 2^16 mod q, centered (FIPS 203 Appendix A,
 * in Montgomery form so that fqmul by it multiplies by the plain zeta).
 * Entry 0 is never used by the transforms.
 */
static const int16_t zetas[128] = {
    -1044, -758, -359, -1517, 1493, 1422, 287, 202,
    -171, 622, 1577, 182, 962, -1202, -1474, 1468,
    573, -1325, 264, 383, -829, 1458, -1602, -130,
    -681, 1017, 732, 608, -1542, 411, -205, -1571,
    1223, 652, -552, 1015, -1293, 1491, -282, -1544,
    516, -8, -320, -666, -1618, -1162, 126, 1469,
    -853, -90, -271, 830, 107, -1421, -247, -951,
    -398, 961, -1508, -725, 448, -1065, 677, -1275,
    -1103, 430, 555, 843, -1251, 871, 1550, 105,
    422, 587, 177, -235, -291, -460, 1574, 1653,
    -246, 778, 1159, -147, -777, 1483, -602, 1119,
    -1590, 644, -872, 349, 418, 329, -156, -75,
    817, 1097, 603, 610, 1322, -1285, -1465, 384,
    -1215, -136, 1218, -1335, -874, 220, -1187, -1659,
    -1185, -1530, -1278, 794, -1510, -854, -870, 478,
    -108, -308, 996, 991, 958, -1460, 1522, 1628,
};

/*
 * FIPS 203 Alg. 9. Each layer grows |coefficients| by at most q (the product
 * t is < q after Montgomery reduction), so from |a| < q seven layers stay
 * below 8q < 2^15; one Barrett pass at the end brings them below q.
 */
void pqify_ntt_portable(pqify_poly *p)
{
    int16_t *a = p->coeffs;
    unsigned i = 1;
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < 256; start += 2 * len) {
            const int16_t zeta = zetas[i++];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = pqify_fqmul(zeta, a[j + len]);
                a[j + len] = (int16_t)(a[j] - t);
                a[j] = (int16_t)(a[j] + t);
            }
        }
    }
    for (unsigned j = 0; j < 256; j++)
        a[j] = pqify_barrett_reduce(a[j]);
}

/*
 * FIPS 203 Alg. 10, times R. Sums double per layer; reducing them after the
 * len = 8 and len = 64 layers keeps every value below 8q. The final factor
 * 1441 = R^2 / 128 mod q applies 128^-1 and leaves the result times R.
 */
void pqify_invntt_portable(pqify_poly *p)
{
    int16_t *a = p->coeffs;
    unsigned i = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        const int reduce = (len == 8 || len == 64);
        for (unsigned start = 0; start < 256; start += 2 * len) {
            const int16_t zeta = zetas[i--];
            for (unsigned j = start; j < start + len; j++) {
                int16_t t = a[j];
                int16_t s = (int16_t)(t + a[j + len]);
                a[j] = reduce ? pqify_barrett_reduce(s) : s;
                a[j + len] = pqify_fqmul(zeta, (int16_t)(a[j + len] - t));
            }
        }
    }
    for (unsigned j = 0; j < 256; j++)
        a[j] = pqify_fqmul(1441, a[j]);
}

/*
 * FIPS 203 Alg. 11/12 summed over k: products are accumulated in 32 bits and
 * reduced once. Per pair: a0*b0 + (a1*b1*R^-1)*(gamma*R) and a0*b1 + a1*b0,
 * each below 2q^2, so four of them stay below q * 2^15.
 */
void pqify_basemul_acc_portable(pqify_poly *r, const pqify_poly *a, const pqify_poly *b,
                                unsigned k)
{
    for (unsigned blk = 0; blk < 64; blk++) {
        const int16_t gamma = zetas[64 + blk];
        int32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        for (unsigned v = 0; v < k; v++) {
            const int16_t *x = &a[v].coeffs[4 * blk];
            const int16_t *y = &b[v].coeffs[4 * blk];
            c0 += (int32_t)x[0] * y[0] + (int32_t)pqify_fqmul(x[1], y[1]) * gamma;
            c1 += (int32_t)x[0] * y[1] + (int32_t)x[1] * y[0];
            c2 += (int32_t)x[2] * y[2] - (int32_t)pqify_fqmul(x[3], y[3]) * gamma;
            c3 += (int32_t)x[2] * y[3] + (int32_t)x[3] * y[2];
        }
        r->coeffs[4 * blk + 0] = pqify_montgomery_reduce(c0);
        r->coeffs[4 * blk + 1] = pqify_montgomery_reduce(c1);
        r->coeffs[4 * blk + 2] = pqify_montgomery_reduce(c2);
        r->coeffs[4 * blk + 3] = pqify_montgomery_reduce(c3);
    }
}
