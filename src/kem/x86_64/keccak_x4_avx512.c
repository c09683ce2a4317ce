/*
 * keccak_x4_avx2.c's four Keccak-f[1600] permutations with two AVX-512VL
 * instructions on 256-bit vectors: vprolq (one rotate instead of shift,
 * shift, or) and vpternlogq (theta's five-way xor in two, chi in one). For
 * the avx512 backend only, whose available() checks AVX512F/VL.
 */
#include "keccak_vec_round.h"

/* The primitives keccak_vec_round.h asks for, on AVX-512VL. */
#define ROL(x, n) _mm256_rol_epi64((x), (n))
#define ROL8(x) _mm256_rol_epi64((x), 8)
#define ROL56(x) _mm256_rol_epi64((x), 56)
/* vpternlogq: 0x96 is a ^ b ^ c, 0xD2 is a ^ (~b & c) (chi). */
#define XOR5(a, b, c, d, e) \
    _mm256_ternarylogic_epi64(_mm256_ternarylogic_epi64(a, b, c, 0x96), d, e, 0x96)
#define CHI(a, b, c) _mm256_ternarylogic_epi64((a), (b), (c), 0xD2)

__attribute__((target("avx2,avx512f,avx512vl"))) void pqify_keccakf1600_x4_avx512(uint64_t st[4 * 25])
{
    __m256i *v = (__m256i *)st;
#define LD(i) _mm256_loadu_si256(&v[i])
#define ST(i, x) _mm256_storeu_si256(&v[i], x)
    KECCAK_VEC_PERMUTE(LD, ST);
#undef LD
#undef ST
}

const pqify_keccak_x4_impl pqify_keccak_x4_impl_avx512 = {
    .x4 = pqify_keccakf1600_x4_avx512,
    .x5 = pqify_keccakf1600_x5_avx512,
};
