/*
 * Four Keccak-f[1600] permutations at once (FIPS 202 §3.3, 24 rounds of
 * theta, rho, pi, chi, iota), one 256-bit vector per lane: vector i holds
 * lane i of the four instances, exactly the st[4*i + j] layout of backend.h.
 * Plus the two sponge steps gen_matrix and sample_cbd need (absorb one short
 * input, squeeze whole blocks).
 */
#include <string.h>

#include "keccak_vec_round.h"

/* AVX2 has no 64-bit rotate; rotations by whole bytes are one byte shuffle. */
#define ROL(x, n) _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n)))
#define ROL8(x) _mm256_shuffle_epi8((x), rot8)
#define ROL56(x) _mm256_shuffle_epi8((x), rot56)
#define XOR5(a, b, c, d, e) \
    _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)), e)
#define CHI(a, b, c) _mm256_xor_si256((a), _mm256_andnot_si256((b), (c)))

void pqify_keccakf1600_x4_avx2(uint64_t st[4 * 25])
{
    const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14,
                                          7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8,
                                           1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    __m256i *v = (__m256i *)st;
#define LD(i) _mm256_loadu_si256(&v[i])
#define ST(i, x) _mm256_storeu_si256(&v[i], x)
    KECCAK_VEC_PERMUTE(LD, ST);
#undef LD
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
