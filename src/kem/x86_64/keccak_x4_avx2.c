/*
 * Four Keccak-f[1600] permutations at once (FIPS 202 §3.3, 24 rounds of
 * theta, rho, pi, chi, iota), one 256-bit vector per lane: vector i holds
 * lane i of the four instances, exactly the st[4*i + j] layout of backend.h.
 * Plus the two sponge steps gen_matrix and sample_cbd need (absorb one short
 * input, squeeze whole blocks).
 */
#include <string.h>

#include "avx2.h"

/* FIPS 202 §3.2.5 round constants. */
static const uint64_t rc[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

/* AVX2 has no 64-bit rotate; rotations by whole bytes are one byte shuffle. */
#define ROL(x, n) _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n)))
#define ROL8(x) _mm256_shuffle_epi8((x), rot8)
#define ROL56(x) _mm256_shuffle_epi8((x), rot56)
#define XOR5(a, b, c, d, e) \
    _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)), e)

/*
 * One round from lane set a.. into e.. and back. pi is folded into the read
 * order: output lane (x', y') takes B = rot(A[x, x'] ^ D[x], r[x, x']) with
 * x = 3 (y' - 3 x') mod 5 (FIPS 202 §3.2.3 inverted), so no lane is copied.
 */
#define ROUND_AE(rc) \
    c0 = XOR5(a00, a05, a10, a15, a20); \
    c1 = XOR5(a01, a06, a11, a16, a21); \
    c2 = XOR5(a02, a07, a12, a17, a22); \
    c3 = XOR5(a03, a08, a13, a18, a23); \
    c4 = XOR5(a04, a09, a14, a19, a24); \
    d0 = _mm256_xor_si256(c4, ROL(c1, 1)); \
    d1 = _mm256_xor_si256(c0, ROL(c2, 1)); \
    d2 = _mm256_xor_si256(c1, ROL(c3, 1)); \
    d3 = _mm256_xor_si256(c2, ROL(c4, 1)); \
    d4 = _mm256_xor_si256(c3, ROL(c0, 1)); \
    b0 = _mm256_xor_si256(a00, d0); \
    b1 = ROL(_mm256_xor_si256(a06, d1), 44); \
    b2 = ROL(_mm256_xor_si256(a12, d2), 43); \
    b3 = ROL(_mm256_xor_si256(a18, d3), 21); \
    b4 = ROL(_mm256_xor_si256(a24, d4), 14); \
    e00 = _mm256_xor_si256(_mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)), _mm256_set1_epi64x((long long)(rc))); \
    e01 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    e02 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    e03 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    e04 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(a03, d3), 28); \
    b1 = ROL(_mm256_xor_si256(a09, d4), 20); \
    b2 = ROL(_mm256_xor_si256(a10, d0), 3); \
    b3 = ROL(_mm256_xor_si256(a16, d1), 45); \
    b4 = ROL(_mm256_xor_si256(a22, d2), 61); \
    e05 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    e06 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    e07 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    e08 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    e09 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(a01, d1), 1); \
    b1 = ROL(_mm256_xor_si256(a07, d2), 6); \
    b2 = ROL(_mm256_xor_si256(a13, d3), 25); \
    b3 = ROL8(_mm256_xor_si256(a19, d4)); \
    b4 = ROL(_mm256_xor_si256(a20, d0), 18); \
    e10 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    e11 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    e12 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    e13 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    e14 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(a04, d4), 27); \
    b1 = ROL(_mm256_xor_si256(a05, d0), 36); \
    b2 = ROL(_mm256_xor_si256(a11, d1), 10); \
    b3 = ROL(_mm256_xor_si256(a17, d2), 15); \
    b4 = ROL56(_mm256_xor_si256(a23, d3)); \
    e15 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    e16 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    e17 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    e18 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    e19 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(a02, d2), 62); \
    b1 = ROL(_mm256_xor_si256(a08, d3), 55); \
    b2 = ROL(_mm256_xor_si256(a14, d4), 39); \
    b3 = ROL(_mm256_xor_si256(a15, d0), 41); \
    b4 = ROL(_mm256_xor_si256(a21, d1), 2); \
    e20 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    e21 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    e22 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    e23 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    e24 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));

#define ROUND_EA(rc) \
    c0 = XOR5(e00, e05, e10, e15, e20); \
    c1 = XOR5(e01, e06, e11, e16, e21); \
    c2 = XOR5(e02, e07, e12, e17, e22); \
    c3 = XOR5(e03, e08, e13, e18, e23); \
    c4 = XOR5(e04, e09, e14, e19, e24); \
    d0 = _mm256_xor_si256(c4, ROL(c1, 1)); \
    d1 = _mm256_xor_si256(c0, ROL(c2, 1)); \
    d2 = _mm256_xor_si256(c1, ROL(c3, 1)); \
    d3 = _mm256_xor_si256(c2, ROL(c4, 1)); \
    d4 = _mm256_xor_si256(c3, ROL(c0, 1)); \
    b0 = _mm256_xor_si256(e00, d0); \
    b1 = ROL(_mm256_xor_si256(e06, d1), 44); \
    b2 = ROL(_mm256_xor_si256(e12, d2), 43); \
    b3 = ROL(_mm256_xor_si256(e18, d3), 21); \
    b4 = ROL(_mm256_xor_si256(e24, d4), 14); \
    a00 = _mm256_xor_si256(_mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)), _mm256_set1_epi64x((long long)(rc))); \
    a01 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    a02 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    a03 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    a04 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(e03, d3), 28); \
    b1 = ROL(_mm256_xor_si256(e09, d4), 20); \
    b2 = ROL(_mm256_xor_si256(e10, d0), 3); \
    b3 = ROL(_mm256_xor_si256(e16, d1), 45); \
    b4 = ROL(_mm256_xor_si256(e22, d2), 61); \
    a05 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    a06 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    a07 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    a08 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    a09 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(e01, d1), 1); \
    b1 = ROL(_mm256_xor_si256(e07, d2), 6); \
    b2 = ROL(_mm256_xor_si256(e13, d3), 25); \
    b3 = ROL8(_mm256_xor_si256(e19, d4)); \
    b4 = ROL(_mm256_xor_si256(e20, d0), 18); \
    a10 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    a11 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    a12 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    a13 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    a14 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(e04, d4), 27); \
    b1 = ROL(_mm256_xor_si256(e05, d0), 36); \
    b2 = ROL(_mm256_xor_si256(e11, d1), 10); \
    b3 = ROL(_mm256_xor_si256(e17, d2), 15); \
    b4 = ROL56(_mm256_xor_si256(e23, d3)); \
    a15 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    a16 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    a17 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    a18 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    a19 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1)); \
    b0 = ROL(_mm256_xor_si256(e02, d2), 62); \
    b1 = ROL(_mm256_xor_si256(e08, d3), 55); \
    b2 = ROL(_mm256_xor_si256(e14, d4), 39); \
    b3 = ROL(_mm256_xor_si256(e15, d0), 41); \
    b4 = ROL(_mm256_xor_si256(e21, d1), 2); \
    a20 = _mm256_xor_si256(b0, _mm256_andnot_si256(b1, b2)); \
    a21 = _mm256_xor_si256(b1, _mm256_andnot_si256(b2, b3)); \
    a22 = _mm256_xor_si256(b2, _mm256_andnot_si256(b3, b4)); \
    a23 = _mm256_xor_si256(b3, _mm256_andnot_si256(b4, b0)); \
    a24 = _mm256_xor_si256(b4, _mm256_andnot_si256(b0, b1));

void pqify_keccakf1600_x4_avx2(uint64_t st[4 * 25])
{
    const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14,
                                          7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8,
                                           1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    __m256i *v = (__m256i *)st;
#define LD(i) _mm256_loadu_si256(&v[i])
    __m256i a00 = LD(0), a01 = LD(1), a02 = LD(2), a03 = LD(3), a04 = LD(4);
    __m256i a05 = LD(5), a06 = LD(6), a07 = LD(7), a08 = LD(8), a09 = LD(9);
    __m256i a10 = LD(10), a11 = LD(11), a12 = LD(12), a13 = LD(13), a14 = LD(14);
    __m256i a15 = LD(15), a16 = LD(16), a17 = LD(17), a18 = LD(18), a19 = LD(19);
    __m256i a20 = LD(20), a21 = LD(21), a22 = LD(22), a23 = LD(23), a24 = LD(24);
#undef LD
    __m256i e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12;
    __m256i e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24;
    __m256i b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

    for (unsigned i = 0; i < 24; i += 2) {
        ROUND_AE(rc[i]);
        ROUND_EA(rc[i + 1]);
    }

#define ST(i, x) _mm256_storeu_si256(&v[i], x)
    ST(0, a00); ST(1, a01); ST(2, a02); ST(3, a03); ST(4, a04);
    ST(5, a05); ST(6, a06); ST(7, a07); ST(8, a08); ST(9, a09);
    ST(10, a10); ST(11, a11); ST(12, a12); ST(13, a13); ST(14, a14);
    ST(15, a15); ST(16, a16); ST(17, a17); ST(18, a18); ST(19, a19);
    ST(20, a20); ST(21, a21); ST(22, a22); ST(23, a23); ST(24, a24);
#undef ST
}

const pqify_keccak_x4_impl pqify_keccak_x4_impl_avx2 = {
    .x4 = pqify_keccakf1600_x4_avx2,
    .x5 = pqify_keccakf1600_x5_avx2,
};

void pqify_shake_x4_absorb_once(pqify_keccak_x4 *st, const pqify_keccak_x4_impl *impl,
                                unsigned rate, const uint8_t *in0, const uint8_t *in1,
                                const uint8_t *in2, const uint8_t *in3, size_t len)
{
    st->impl = impl;
    const uint8_t *in[4] = {in0, in1, in2, in3};
    __m256i *v = (__m256i *)st->s;
    uint8_t *bytes = (uint8_t *)st->s;
    unsigned i = 0;
    /* Whole 32-byte groups: four lanes of four instances, a 4x4 transpose of 64-bit words. */
    for (; 8 * i + 32 <= len; i += 4) {
        __m256i r0 = _mm256_loadu_si256((const __m256i *)(in0 + 8 * i));
        __m256i r1 = _mm256_loadu_si256((const __m256i *)(in1 + 8 * i));
        __m256i r2 = _mm256_loadu_si256((const __m256i *)(in2 + 8 * i));
        __m256i r3 = _mm256_loadu_si256((const __m256i *)(in3 + 8 * i));
        __m256i t0 = _mm256_unpacklo_epi64(r0, r1), t1 = _mm256_unpackhi_epi64(r0, r1);
        __m256i t2 = _mm256_unpacklo_epi64(r2, r3), t3 = _mm256_unpackhi_epi64(r2, r3);
        _mm256_store_si256(&v[i], _mm256_permute2x128_si256(t0, t2, 0x20));
        _mm256_store_si256(&v[i + 1], _mm256_permute2x128_si256(t1, t3, 0x20));
        _mm256_store_si256(&v[i + 2], _mm256_permute2x128_si256(t0, t2, 0x31));
        _mm256_store_si256(&v[i + 3], _mm256_permute2x128_si256(t1, t3, 0x31));
    }
    for (unsigned l = i; l < 25; l++)
        _mm256_store_si256(&v[l], _mm256_setzero_si256());
    for (unsigned j = 0; j < 4; j++) {
        for (size_t b = 8 * i; b < len; b++)
            bytes[32 * (b / 8) + 8 * j + (b % 8)] = in[j][b];
        /* FIPS 202 §5.1 pad10*1 with the SHAKE suffix 1111. */
        bytes[32 * (len / 8) + 8 * j + (len % 8)] ^= 0x1F;
        bytes[32 * ((rate - 1) / 8) + 8 * j + ((rate - 1) % 8)] ^= 0x80;
    }
}

/* Writes the first `rate` bytes of each instance (whole lanes: rate is 136 or 168). */
static void extract_x4(const pqify_keccak_x4 *st, unsigned rate, uint8_t *out0, uint8_t *out1,
                       uint8_t *out2, uint8_t *out3)
{
    unsigned i = 0;
    for (; i + 4 <= rate / 8; i += 4) {
        /* Lanes i..i+3 of the four instances form a 4x4 transpose of 64-bit words. */
        __m256i l0 = _mm256_load_si256((const __m256i *)&st->s[4 * i]);
        __m256i l1 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 4]);
        __m256i l2 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 8]);
        __m256i l3 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 12]);
        /* t0 = instance 0 of lanes i, i+1 | instance 2 of them; t1 likewise 1 | 3. */
        __m256i t0 = _mm256_unpacklo_epi64(l0, l1);
        __m256i t1 = _mm256_unpackhi_epi64(l0, l1);
        __m256i t2 = _mm256_unpacklo_epi64(l2, l3);
        __m256i t3 = _mm256_unpackhi_epi64(l2, l3);
        _mm256_storeu_si256((__m256i *)(out0 + 8 * i), _mm256_permute2x128_si256(t0, t2, 0x20));
        _mm256_storeu_si256((__m256i *)(out1 + 8 * i), _mm256_permute2x128_si256(t1, t3, 0x20));
        _mm256_storeu_si256((__m256i *)(out2 + 8 * i), _mm256_permute2x128_si256(t0, t2, 0x31));
        _mm256_storeu_si256((__m256i *)(out3 + 8 * i), _mm256_permute2x128_si256(t1, t3, 0x31));
    }
    for (; i < rate / 8; i++) {
        memcpy(out0 + 8 * i, &st->s[4 * i + 0], 8);
        memcpy(out1 + 8 * i, &st->s[4 * i + 1], 8);
        memcpy(out2 + 8 * i, &st->s[4 * i + 2], 8);
        memcpy(out3 + 8 * i, &st->s[4 * i + 3], 8);
    }
}

void pqify_shake_x4_squeezeblock(pqify_keccak_x4 *st, unsigned rate, uint8_t *out0, uint8_t *out1,
                                 uint8_t *out2, uint8_t *out3)
{
    st->impl->x4(st->s);
    extract_x4(st, rate, out0, out1, out2, out3);
}

void pqify_shake_x5_squeezeblock(pqify_keccak_x4 *st, uint64_t st1[25], unsigned rate,
                                 uint8_t *out0, uint8_t *out1, uint8_t *out2, uint8_t *out3,
                                 uint8_t *out4)
{
    st->impl->x5(st->s, st1);
    extract_x4(st, rate, out0, out1, out2, out3);
    memcpy(out4, st1, rate);
}
