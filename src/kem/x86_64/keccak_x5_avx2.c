/*
 * Five Keccak-f[1600] permutations at once: four in 256-bit vectors (the
 * layout of keccak_x4_avx2.c) and a fifth in general-purpose registers. The
 * two use different execution units, so interleaving their rounds in one
 * instruction stream runs the fifth state nearly for free: a batch of five
 * (the 9th matrix entry for k = 3, the 5th noise poly for k = 4) costs about
 * one 4-way permutation instead of a 4-way plus a scalar one.
 */
#include "keccak_x5_round.h"

#define ROL(x, n) _mm256_or_si256(_mm256_slli_epi64((x), (n)), _mm256_srli_epi64((x), 64 - (n)))
#define ROL8(x) _mm256_shuffle_epi8((x), rot8)
#define ROL56(x) _mm256_shuffle_epi8((x), rot56)
#define XOR5(a, b, c, d, e) \
    _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)), e)
#define CHI(a, b, c) _mm256_xor_si256((a), _mm256_andnot_si256((b), (c)))

__attribute__((target("bmi,bmi2"))) void pqify_keccakf1600_x5_avx2(uint64_t st[4 * 25],
                                                                   uint64_t st1[25])
{
    const __m256i rot8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14,
                                          7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
    const __m256i rot56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8,
                                           1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
    KECCAK_X5_PERMUTE(st, st1);
}
