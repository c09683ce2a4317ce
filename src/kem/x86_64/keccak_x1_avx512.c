/*
 * One Keccak-f[1600] state on the AVX-512VL primitives of
 * keccak_x4_avx512.c and the shared round body (keccak_vec_round.h): every
 * lane is broadcast to the four 64-bit slots, the four identical
 * permutations run at the 4-way cost, which on this path is below the scalar
 * one, and slot 0 is the result. For the avx512 backend's one-at-a-time
 * sponges (G, H, J).
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

__attribute__((target("avx2,avx512f,avx512vl"))) void pqify_keccakf1600_x1_avx512(uint64_t st[25])
{
#define LD(i) _mm256_set1_epi64x((long long)st[i])
#define ST(i, x) _mm_storel_epi64((__m128i *)&st[i], _mm256_castsi256_si128(x))
    KECCAK_VEC_PERMUTE(LD, ST);
#undef LD
#undef ST
}
