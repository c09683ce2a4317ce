/*
 * keccak_x5_avx2.c with the 4-way half on AVX-512VL (see keccak_x4_avx512.c):
 * four states in 256-bit vectors and a fifth in general-purpose registers,
 * rounds interleaved. For the avx512 backend only.
 */
#include "keccak_x5_round.h"

#define ROL(x, n) _mm256_rol_epi64((x), (n))
#define ROL8(x) _mm256_rol_epi64((x), 8)
#define ROL56(x) _mm256_rol_epi64((x), 56)
/* vpternlogq: 0x96 is a ^ b ^ c, 0xD2 is a ^ (~b & c) (chi). */
#define XOR5(a, b, c, d, e) \
    _mm256_ternarylogic_epi64(_mm256_ternarylogic_epi64(a, b, c, 0x96), d, e, 0x96)
#define CHI(a, b, c) _mm256_ternarylogic_epi64((a), (b), (c), 0xD2)

__attribute__((target("bmi,bmi2,avx2,avx512f,avx512vl"))) void pqify_keccakf1600_x5_avx512(uint64_t st[4 * 25],
                                                                   uint64_t st1[25])
{
    KECCAK_X5_PERMUTE(st, st1);
}
