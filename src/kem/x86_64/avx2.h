/*
 * The AVX2 backend's routines (contracts in ../backend.h) and the helpers its
 * files share; the avx512 backend reuses them with other Keccak code. Only
 * files compiled with -mavx2 -mbmi2 include this.
 */
#ifndef PQIFY_KEM_X86_64_AVX2_H
#define PQIFY_KEM_X86_64_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "../backend.h"

void pqify_keccakf1600_avx2(uint64_t st[25]);
void pqify_keccakf1600_x4_avx2(uint64_t st[4 * 25]);
/* The four of keccakf1600_x4 plus a fifth state st1, in one instruction stream. */
void pqify_keccakf1600_x5_avx2(uint64_t st[4 * 25], uint64_t st1[25]);
void pqify_ntt_avx2(pqify_poly *a);
void pqify_invntt_avx2(pqify_poly *a);
void pqify_basemul_acc_avx2(pqify_poly *r, const pqify_poly *a, const pqify_poly *b, unsigned k);
void pqify_tobytes_avx2(uint8_t r[384], const pqify_poly *a);
void pqify_frombytes_avx2(pqify_poly *r, const uint8_t a[384]);
void pqify_compress_avx2(uint8_t *r, const pqify_poly *a, unsigned d);
void pqify_decompress_avx2(pqify_poly *r, const uint8_t *a, unsigned d);
void pqify_gen_matrix_avx2(pqify_poly *A, const uint8_t rho[32], unsigned k, int transposed);
void pqify_sample_cbd_avx2(pqify_poly *r, unsigned count, const uint8_t sigma[32], uint8_t nonce,
                           unsigned eta);
/* The same two samplers on the AVX-512VL Keccak (the avx512 backend). */
void pqify_gen_matrix_avx512(pqify_poly *A, const uint8_t rho[32], unsigned k, int transposed);
void pqify_sample_cbd_avx512(pqify_poly *r, unsigned count, const uint8_t sigma[32],
                             uint8_t nonce, unsigned eta);

/*
 * Four SHAKE sponges run side by side on one interleaved state (lane i of
 * instance j at s[4*i + j]); every instance absorbs an input of the same
 * length, which is all gen_matrix and sample_cbd need.
 */
typedef struct {
    void (*x4)(uint64_t st[4 * 25]);
    void (*x5)(uint64_t st[4 * 25], uint64_t st1[25]); /* x4 plus a scalar state */
} pqify_keccak_x4_impl;

extern const pqify_keccak_x4_impl pqify_keccak_x4_impl_avx2;
extern const pqify_keccak_x4_impl pqify_keccak_x4_impl_avx512;
void pqify_keccakf1600_x4_avx512(uint64_t st[4 * 25]);
void pqify_keccakf1600_x5_avx512(uint64_t st[4 * 25], uint64_t st1[25]);
/* One state on the AVX-512VL round code (broadcast to four slots): the avx512 keccakf1600. */
void pqify_keccakf1600_x1_avx512(uint64_t st[25]);

typedef struct {
    _Alignas(32) uint64_t s[4 * 25];
    const pqify_keccak_x4_impl *impl;
} pqify_keccak_x4;

/*
 * Starts the four sponges on the given permutations, absorbs in[j][0..len)
 * into instance j (len < rate) and pads: SHAKE (0x1F).
 */
void pqify_shake_x4_absorb_once(pqify_keccak_x4 *st, const pqify_keccak_x4_impl *impl,
                                unsigned rate, const uint8_t *in0,
                                const uint8_t *in1, const uint8_t *in2, const uint8_t *in3,
                                size_t len);
/* Permutes, then writes the first `rate` bytes of instance j to out[j]. */
void pqify_shake_x4_squeezeblock(pqify_keccak_x4 *st, unsigned rate, uint8_t *out0, uint8_t *out1,
                                 uint8_t *out2, uint8_t *out3);

/* The same plus a fifth sponge st1 (see pqify_shake_x1_absorb_once), permuted alongside. */
void pqify_shake_x5_squeezeblock(pqify_keccak_x4 *st, uint64_t st1[25], unsigned rate,
                                 uint8_t *out0, uint8_t *out1, uint8_t *out2, uint8_t *out3,
                                 uint8_t *out4);

/* One SHAKE sponge on pqify_keccakf1600_avx2, for a batch with a single member. */
void pqify_shake_x1_absorb_once(uint64_t s[25], unsigned rate, const uint8_t *in, size_t len);
void pqify_shake_x1_squeezeblock(uint64_t s[25], unsigned rate, uint8_t *out);

/* Montgomery, Barrett and q as 16-lane constants (see ../arith.h). */
#define PQIFY_AVX2_Q _mm256_set1_epi16(3329)
#define PQIFY_AVX2_QINV _mm256_set1_epi16((int16_t)62209)

/* a * b * 2^-16 mod q per lane, with bqinv = b * q^-1 mod 2^16; |r| < q for |a| < 2^15. */
static inline __m256i pqify_avx2_fqmul(__m256i a, __m256i b, __m256i bqinv)
{
    __m256i hi = _mm256_mulhi_epi16(a, b);
    __m256i t = _mm256_mullo_epi16(a, bqinv);
    return _mm256_sub_epi16(hi, _mm256_mulhi_epi16(t, PQIFY_AVX2_Q));
}

/* pqify_barrett_reduce per lane, bit-identical: t = (v*a + 2^25) >> 26, r = a - t*q. */
static inline __m256i pqify_avx2_barrett(__m256i a)
{
    __m256i t = _mm256_mulhi_epi16(a, _mm256_set1_epi16(20159));
    t = _mm256_mulhrs_epi16(t, _mm256_set1_epi16(32));
    return _mm256_sub_epi16(a, _mm256_mullo_epi16(t, PQIFY_AVX2_Q));
}

/* Canonical [0, q) representative of any int16, as pqify_freeze. */
static inline __m256i pqify_avx2_freeze(__m256i a)
{
    __m256i r = pqify_avx2_barrett(a);
    return _mm256_add_epi16(r, _mm256_and_si256(_mm256_srai_epi16(r, 15), PQIFY_AVX2_Q));
}

#endif
