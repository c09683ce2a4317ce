/* Portable NTT, inverse NTT and NTT-domain multiplication (FIPS 203 §4.3). */
#include "arith.h"
#include "portable.h"

/*
 * zetas[i] = 17^BitRev7(i) * 2^16 mod q, centered (FIPS 203 Appendix A,
 * in Montgomery form so that fqmul by it multiplies by the plain zeta).
 * Entry 0 is never used by the transforms.
 */
const int16_t pqify_zetas[128] = {
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

/* pqify_zetas_qinv[i] = pqify_zetas[i] * q^-1 mod 2^16: the low half of a Montgomery product. */
const int16_t pqify_zetas_qinv[128] = {
    -20, 31498, 14745, 787, 13525, -12402, 28191, -16694,
    -20907, 27758, -3799, -15690, 10690, 1358, -11202, 31164,
    -5827, 17363, -26360, -29057, 5571, -1102, 21438, -26242,
    -28073, 24313, -10532, 8800, 18426, 8859, 26675, -16163,
    -5689, -6516, 1496, 30967, -23565, 20179, 20710, 25080,
    -12796, 26616, 16064, -12442, 9134, -650, -25986, 27837,
    19883, -28250, -15887, -8898, -28309, 9075, -30199, 18249,
    13426, 14017, -29156, -12757, 16832, 4311, -24155, -17915,
    -335, 11182, -11477, 13387, -32227, -14233, 20494, -21655,
    -27738, 13131, 945, -4587, -14883, 23092, 6182, 5493,
    32010, -32502, 10631, 30317, 29175, -18741, -28762, 12639,
    -18486, 20100, 17560, 18525, -14430, 19529, -5276, -12619,
    -31183, 20297, 25435, 2146, -7382, 15355, 24391, -32384,
    -20927, -6280, 10946, -14903, 24214, -11044, 16989, 14469,
    10335, -21498, -7934, -20198, -22502, 23210, 10906, -17442,
    31636, -23860, 28644, -20257, 23998, 7756, -17422, 23132,
};

/*
 * Montgomery multiplication by a table constant, written with 16x16-bit
 * high/low products only so that compilers vectorise the butterfly loops
 * (pmulhw/pmullw). a*z and lo*q agree in their low 16 bits, so the
 * difference of the high halves is exactly (a*z - lo*q) / 2^16, the same
 * value pqify_montgomery_reduce((int32_t)a * z) returns.
 */
static inline int16_t mulmont(int16_t a, int16_t z, int16_t zqinv)
{
    int16_t lo = (int16_t)(a * zqinv);
    int16_t hi = (int16_t)(((int32_t)a * z) >> 16);
    return (int16_t)(hi - (int16_t)(((int32_t)lo * 3329) >> 16));
}

/*
 * FIPS 203 Alg. 9. Each layer grows |coefficients| by at most q (the product
 * t is < q after Montgomery reduction), so from |a| < q seven layers stay
 * below 8q < 2^15; one Barrett pass at the end brings them below q.
 */
/* One Cooley-Tukey layer; len is a constant at every call, so each loop is vectorised. */
static inline __attribute__((always_inline)) void ntt_layer(int16_t *a, const unsigned len,
                                                            unsigned i)
{
    for (unsigned start = 0; start < 256; start += 2 * len, i++) {
        const int16_t zeta = pqify_zetas[i], zq = pqify_zetas_qinv[i];
        for (unsigned j = start; j < start + len; j++) {
            int16_t t = mulmont(a[j + len], zeta, zq);
            a[j + len] = (int16_t)(a[j] - t);
            a[j] = (int16_t)(a[j] + t);
        }
    }
}

/*
 * The two short layers, written per group with every offset a constant so
 * the loop over groups vectorises (grouped loads) instead of running scalar.
 */
static inline __attribute__((always_inline)) void ntt_layer4(int16_t *a)
{
    for (unsigned g = 0; g < 32; g++) {
        const int16_t z = pqify_zetas[32 + g], zq = pqify_zetas_qinv[32 + g];
        int16_t *p = a + 8 * g;
        int16_t t0 = mulmont(p[4], z, zq), t1 = mulmont(p[5], z, zq);
        int16_t t2 = mulmont(p[6], z, zq), t3 = mulmont(p[7], z, zq);
        p[4] = (int16_t)(p[0] - t0);
        p[5] = (int16_t)(p[1] - t1);
        p[6] = (int16_t)(p[2] - t2);
        p[7] = (int16_t)(p[3] - t3);
        p[0] = (int16_t)(p[0] + t0);
        p[1] = (int16_t)(p[1] + t1);
        p[2] = (int16_t)(p[2] + t2);
        p[3] = (int16_t)(p[3] + t3);
    }
}

static inline __attribute__((always_inline)) void ntt_layer2(int16_t *a)
{
    for (unsigned g = 0; g < 64; g++) {
        const int16_t z = pqify_zetas[64 + g], zq = pqify_zetas_qinv[64 + g];
        int16_t *p = a + 4 * g;
        int16_t t0 = mulmont(p[2], z, zq), t1 = mulmont(p[3], z, zq);
        p[2] = (int16_t)(p[0] - t0);
        p[3] = (int16_t)(p[1] - t1);
        p[0] = (int16_t)(p[0] + t0);
        p[1] = (int16_t)(p[1] + t1);
    }
}

void pqify_ntt_portable(pqify_poly *p)
{
    int16_t *a = p->coeffs;
    /* Layer with block length len uses zetas[128/len .. 256/len). */
    ntt_layer(a, 128, 1);
    ntt_layer(a, 64, 2);
    ntt_layer(a, 32, 4);
    ntt_layer(a, 16, 8);
    ntt_layer(a, 8, 16);
    ntt_layer4(a);
    ntt_layer2(a);
    for (unsigned j = 0; j < 256; j++)
        a[j] = pqify_barrett_reduce(a[j]);
}

/* One Gentleman-Sande layer, zetas walked downwards from index i. */
static inline __attribute__((always_inline)) void invntt_layer(int16_t *a, const unsigned len,
                                                               unsigned i, const int reduce)
{
    for (unsigned start = 0; start < 256; start += 2 * len, i--) {
        const int16_t zeta = pqify_zetas[i], zq = pqify_zetas_qinv[i];
        for (unsigned j = start; j < start + len; j++) {
            int16_t t = a[j];
            int16_t s = (int16_t)(t + a[j + len]);
            a[j] = reduce ? pqify_barrett_reduce(s) : s;
            a[j + len] = mulmont((int16_t)(a[j + len] - t), zeta, zq);
        }
    }
}

/* zetas[127 - g] and zetas[63 - g] (with their q^-1 halves) in ascending g, for the short inverse layers. */
static const int16_t izetas2[64] = {
    1628, 1522, -1460, 958, 991, 996, -308, -108,
    478, -870, -854, -1510, 794, -1278, -1530, -1185,
    -1659, -1187, 220, -874, -1335, 1218, -136, -1215,
    384, -1465, -1285, 1322, 610, 603, 1097, 817,
    -75, -156, 329, 418, 349, -872, 644, -1590,
    1119, -602, 1483, -777, -147, 1159, 778, -246,
    1653, 1574, -460, -291, -235, 177, 587, 422,
    105, 1550, 871, -1251, 843, 555, 430, -1103,
};
static const int16_t izetas2_qinv[64] = {
    23132, -17422, 7756, 23998, -20257, 28644, -23860, 31636,
    -17442, 10906, 23210, -22502, -20198, -7934, -21498, 10335,
    14469, 16989, -11044, 24214, -14903, 10946, -6280, -20927,
    -32384, 24391, 15355, -7382, 2146, 25435, 20297, -31183,
    -12619, -5276, 19529, -14430, 18525, 17560, 20100, -18486,
    12639, -28762, -18741, 29175, 30317, 10631, -32502, 32010,
    5493, 6182, 23092, -14883, -4587, 945, 13131, -27738,
    -21655, 20494, -14233, -32227, 13387, -11477, 11182, -335,
};
static const int16_t izetas4[32] = {
    -1275, 677, -1065, 448, -725, -1508, 961, -398,
    -951, -247, -1421, 107, 830, -271, -90, -853,
    1469, 126, -1162, -1618, -666, -320, -8, 516,
    -1544, -282, 1491, -1293, 1015, -552, 652, 1223,
};
static const int16_t izetas4_qinv[32] = {
    -17915, -24155, 4311, 16832, -12757, -29156, 14017, 13426,
    18249, -30199, 9075, -28309, -8898, -15887, -28250, 19883,
    27837, -25986, -650, 9134, -12442, 16064, 26616, -12796,
    25080, 20710, 20179, -23565, 30967, 1496, -6516, -5689,
};

/* The two short inverse layers, per group, as in the forward transform. */
static inline __attribute__((always_inline)) void invntt_layer2(int16_t *a)
{
    for (unsigned g = 0; g < 64; g++) {
        const int16_t z = izetas2[g], zq = izetas2_qinv[g];
        int16_t *p = a + 4 * g;
        int16_t s0 = p[0], s1 = p[1];
        p[0] = (int16_t)(s0 + p[2]);
        p[1] = (int16_t)(s1 + p[3]);
        p[2] = mulmont((int16_t)(p[2] - s0), z, zq);
        p[3] = mulmont((int16_t)(p[3] - s1), z, zq);
    }
}

static inline __attribute__((always_inline)) void invntt_layer4(int16_t *a)
{
    for (unsigned g = 0; g < 32; g++) {
        const int16_t z = izetas4[g], zq = izetas4_qinv[g];
        int16_t *p = a + 8 * g;
        int16_t s0 = p[0], s1 = p[1], s2 = p[2], s3 = p[3];
        p[0] = (int16_t)(s0 + p[4]);
        p[1] = (int16_t)(s1 + p[5]);
        p[2] = (int16_t)(s2 + p[6]);
        p[3] = (int16_t)(s3 + p[7]);
        p[4] = mulmont((int16_t)(p[4] - s0), z, zq);
        p[5] = mulmont((int16_t)(p[5] - s1), z, zq);
        p[6] = mulmont((int16_t)(p[6] - s2), z, zq);
        p[7] = mulmont((int16_t)(p[7] - s3), z, zq);
    }
}

/*
 * FIPS 203 Alg. 10, times R. Sums double per layer; reducing them after the
 * len = 8 and len = 64 layers keeps every value below 8q. The final factor
 * 1441 = R^2 / 128 mod q applies 128^-1 and leaves the result times R.
 */
void pqify_invntt_portable(pqify_poly *p)
{
    int16_t *a = p->coeffs;
    invntt_layer2(a);
    invntt_layer4(a);
    invntt_layer(a, 8, 31, 1);
    invntt_layer(a, 16, 15, 0);
    invntt_layer(a, 32, 7, 0);
    invntt_layer(a, 64, 3, 1);
    invntt_layer(a, 128, 1, 0);
    /* 1441 * q^-1 mod 2^16 = -10079 */
    for (unsigned j = 0; j < 256; j++)
        a[j] = mulmont(a[j], 1441, -10079);
}

/* gamma_i = zeta^(2 BitRev7(i) + 1) * R mod q for pair i: +zetas[64 + i/2], -zetas[64 + i/2]. */
static const int16_t gammas[128] = {
#define G2(z) (z), -(z)
    G2(-1103), G2(430), G2(555), G2(843), G2(-1251), G2(871), G2(1550), G2(105),
    G2(422), G2(587), G2(177), G2(-235), G2(-291), G2(-460), G2(1574), G2(1653),
    G2(-246), G2(778), G2(1159), G2(-147), G2(-777), G2(1483), G2(-602), G2(1119),
    G2(-1590), G2(644), G2(-872), G2(349), G2(418), G2(329), G2(-156), G2(-75),
    G2(817), G2(1097), G2(603), G2(610), G2(1322), G2(-1285), G2(-1465), G2(384),
    G2(-1215), G2(-136), G2(1218), G2(-1335), G2(-874), G2(220), G2(-1187), G2(-1659),
    G2(-1185), G2(-1530), G2(-1278), G2(794), G2(-1510), G2(-854), G2(-870), G2(478),
    G2(-108), G2(-308), G2(996), G2(991), G2(958), G2(-1460), G2(1522), G2(1628),
#undef G2
};

/*
 * FIPS 203 Alg. 11/12 summed over k, in 16-bit Montgomery arithmetic so the
 * loops vectorise: every product is reduced at once (|.| < q), so the k <= 4
 * sums of two terms stay below 8q < 2^15; one Barrett pass ends below q.
 * Per pair: c0 = a0 b0 + (a1 b1 R^-1) gamma, c1 = a0 b1 + a1 b0, all times R^-1.
 */
void pqify_basemul_acc_portable(pqify_poly *r, const pqify_poly *a, const pqify_poly *b,
                                unsigned k)
{
    int16_t c0[128] = {0}, c1[128] = {0};
    for (unsigned v = 0; v < k; v++) {
        const int16_t *x = a[v].coeffs, *y = b[v].coeffs;
        for (unsigned i = 0; i < 128; i++) {
            int16_t x0 = x[2 * i], x1 = x[2 * i + 1], y0 = y[2 * i], y1 = y[2 * i + 1];
            int16_t t = pqify_fqmul(x1, y1);
            c0[i] = (int16_t)(c0[i] + pqify_fqmul(x0, y0) + pqify_fqmul(t, gammas[i]));
            c1[i] = (int16_t)(c1[i] + pqify_fqmul(x0, y1) + pqify_fqmul(x1, y0));
        }
    }
    for (unsigned i = 0; i < 128; i++) {
        r->coeffs[2 * i] = pqify_barrett_reduce(c0[i]);
        r->coeffs[2 * i + 1] = pqify_barrett_reduce(c1[i]);
    }
}
