/*
 * The five-state Keccak-f[1600] of keccak_x5_avx2.c and keccak_x5_avx512.c:
 * four states in 256-bit vectors (the 4-way round of keccak_vec_round.h) and
 * a fifth in general-purpose registers, statement by statement interleaved
 * so the two halves use different execution units. The two files differ
 * only in the vector primitives ROL, ROL8, ROL56, XOR5 and CHI, which the
 * includer defines (see keccak_vec_round.h); the function body is then
 * KECCAK_X5_PERMUTE(st4, st1). Straight-line and data-independent.
 */
#ifndef PQIFY_KEM_X86_64_KECCAK_X5_ROUND_H
#define PQIFY_KEM_X86_64_KECCAK_X5_ROUND_H

#include "keccak_vec_round.h"

#define SROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))
#define SANDN(x, y) (~(x) & (y))

/* The rounds of keccak_vec_round.h and keccak_x1_bmi.c, statement by statement interleaved. */
#define FUSED(from, to, vrc, src) \
    c0 = XOR5(from##00, from##05, from##10, from##15, from##20); \
    sc0 = s##from##00 ^ s##from##05 ^ s##from##10 ^ s##from##15 ^ s##from##20; \
    c1 = XOR5(from##01, from##06, from##11, from##16, from##21); \
    sc1 = s##from##01 ^ s##from##06 ^ s##from##11 ^ s##from##16 ^ s##from##21; \
    c2 = XOR5(from##02, from##07, from##12, from##17, from##22); \
    sc2 = s##from##02 ^ s##from##07 ^ s##from##12 ^ s##from##17 ^ s##from##22; \
    c3 = XOR5(from##03, from##08, from##13, from##18, from##23); \
    sc3 = s##from##03 ^ s##from##08 ^ s##from##13 ^ s##from##18 ^ s##from##23; \
    c4 = XOR5(from##04, from##09, from##14, from##19, from##24); \
    sc4 = s##from##04 ^ s##from##09 ^ s##from##14 ^ s##from##19 ^ s##from##24; \
    d0 = _mm256_xor_si256(c4, ROL(c1, 1)); \
    sd0 = sc4 ^ SROL(sc1, 1); \
    d1 = _mm256_xor_si256(c0, ROL(c2, 1)); \
    sd1 = sc0 ^ SROL(sc2, 1); \
    d2 = _mm256_xor_si256(c1, ROL(c3, 1)); \
    sd2 = sc1 ^ SROL(sc3, 1); \
    d3 = _mm256_xor_si256(c2, ROL(c4, 1)); \
    sd3 = sc2 ^ SROL(sc4, 1); \
    d4 = _mm256_xor_si256(c3, ROL(c0, 1)); \
    sd4 = sc3 ^ SROL(sc0, 1); \
    b0 = _mm256_xor_si256(from##00, d0); \
    sb0 = (s##from##00 ^ sd0); \
    b1 = ROL(_mm256_xor_si256(from##06, d1), 44); \
    sb1 = SROL((s##from##06 ^ sd1), 44); \
    b2 = ROL(_mm256_xor_si256(from##12, d2), 43); \
    sb2 = SROL((s##from##12 ^ sd2), 43); \
    b3 = ROL(_mm256_xor_si256(from##18, d3), 21); \
    sb3 = SROL((s##from##18 ^ sd3), 21); \
    b4 = ROL(_mm256_xor_si256(from##24, d4), 14); \
    sb4 = SROL((s##from##24 ^ sd4), 14); \
    to##00 = _mm256_xor_si256(CHI(b0, b1, b2), _mm256_set1_epi64x((long long)(vrc))); \
    s##to##00 = sb0 ^ SANDN(sb1, sb2) ^ (src); \
    to##01 = CHI(b1, b2, b3); \
    s##to##01 = sb1 ^ SANDN(sb2, sb3); \
    to##02 = CHI(b2, b3, b4); \
    s##to##02 = sb2 ^ SANDN(sb3, sb4); \
    to##03 = CHI(b3, b4, b0); \
    s##to##03 = sb3 ^ SANDN(sb4, sb0); \
    to##04 = CHI(b4, b0, b1); \
    s##to##04 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(from##03, d3), 28); \
    sb0 = SROL((s##from##03 ^ sd3), 28); \
    b1 = ROL(_mm256_xor_si256(from##09, d4), 20); \
    sb1 = SROL((s##from##09 ^ sd4), 20); \
    b2 = ROL(_mm256_xor_si256(from##10, d0), 3); \
    sb2 = SROL((s##from##10 ^ sd0), 3); \
    b3 = ROL(_mm256_xor_si256(from##16, d1), 45); \
    sb3 = SROL((s##from##16 ^ sd1), 45); \
    b4 = ROL(_mm256_xor_si256(from##22, d2), 61); \
    sb4 = SROL((s##from##22 ^ sd2), 61); \
    to##05 = CHI(b0, b1, b2); \
    s##to##05 = sb0 ^ SANDN(sb1, sb2); \
    to##06 = CHI(b1, b2, b3); \
    s##to##06 = sb1 ^ SANDN(sb2, sb3); \
    to##07 = CHI(b2, b3, b4); \
    s##to##07 = sb2 ^ SANDN(sb3, sb4); \
    to##08 = CHI(b3, b4, b0); \
    s##to##08 = sb3 ^ SANDN(sb4, sb0); \
    to##09 = CHI(b4, b0, b1); \
    s##to##09 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(from##01, d1), 1); \
    sb0 = SROL((s##from##01 ^ sd1), 1); \
    b1 = ROL(_mm256_xor_si256(from##07, d2), 6); \
    sb1 = SROL((s##from##07 ^ sd2), 6); \
    b2 = ROL(_mm256_xor_si256(from##13, d3), 25); \
    sb2 = SROL((s##from##13 ^ sd3), 25); \
    b3 = ROL8(_mm256_xor_si256(from##19, d4)); \
    sb3 = SROL((s##from##19 ^ sd4), 8); \
    b4 = ROL(_mm256_xor_si256(from##20, d0), 18); \
    sb4 = SROL((s##from##20 ^ sd0), 18); \
    to##10 = CHI(b0, b1, b2); \
    s##to##10 = sb0 ^ SANDN(sb1, sb2); \
    to##11 = CHI(b1, b2, b3); \
    s##to##11 = sb1 ^ SANDN(sb2, sb3); \
    to##12 = CHI(b2, b3, b4); \
    s##to##12 = sb2 ^ SANDN(sb3, sb4); \
    to##13 = CHI(b3, b4, b0); \
    s##to##13 = sb3 ^ SANDN(sb4, sb0); \
    to##14 = CHI(b4, b0, b1); \
    s##to##14 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(from##04, d4), 27); \
    sb0 = SROL((s##from##04 ^ sd4), 27); \
    b1 = ROL(_mm256_xor_si256(from##05, d0), 36); \
    sb1 = SROL((s##from##05 ^ sd0), 36); \
    b2 = ROL(_mm256_xor_si256(from##11, d1), 10); \
    sb2 = SROL((s##from##11 ^ sd1), 10); \
    b3 = ROL(_mm256_xor_si256(from##17, d2), 15); \
    sb3 = SROL((s##from##17 ^ sd2), 15); \
    b4 = ROL56(_mm256_xor_si256(from##23, d3)); \
    sb4 = SROL((s##from##23 ^ sd3), 56); \
    to##15 = CHI(b0, b1, b2); \
    s##to##15 = sb0 ^ SANDN(sb1, sb2); \
    to##16 = CHI(b1, b2, b3); \
    s##to##16 = sb1 ^ SANDN(sb2, sb3); \
    to##17 = CHI(b2, b3, b4); \
    s##to##17 = sb2 ^ SANDN(sb3, sb4); \
    to##18 = CHI(b3, b4, b0); \
    s##to##18 = sb3 ^ SANDN(sb4, sb0); \
    to##19 = CHI(b4, b0, b1); \
    s##to##19 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(from##02, d2), 62); \
    sb0 = SROL((s##from##02 ^ sd2), 62); \
    b1 = ROL(_mm256_xor_si256(from##08, d3), 55); \
    sb1 = SROL((s##from##08 ^ sd3), 55); \
    b2 = ROL(_mm256_xor_si256(from##14, d4), 39); \
    sb2 = SROL((s##from##14 ^ sd4), 39); \
    b3 = ROL(_mm256_xor_si256(from##15, d0), 41); \
    sb3 = SROL((s##from##15 ^ sd0), 41); \
    b4 = ROL(_mm256_xor_si256(from##21, d1), 2); \
    sb4 = SROL((s##from##21 ^ sd1), 2); \
    to##20 = CHI(b0, b1, b2); \
    s##to##20 = sb0 ^ SANDN(sb1, sb2); \
    to##21 = CHI(b1, b2, b3); \
    s##to##21 = sb1 ^ SANDN(sb2, sb3); \
    to##22 = CHI(b2, b3, b4); \
    s##to##22 = sb2 ^ SANDN(sb3, sb4); \
    to##23 = CHI(b3, b4, b0); \
    s##to##23 = sb3 ^ SANDN(sb4, sb0); \
    to##24 = CHI(b4, b0, b1); \
    s##to##24 = sb4 ^ SANDN(sb0, sb1);

#define KX5_LD(i) _mm256_loadu_si256(&v_[i])
#define KX5_ST(i, x) _mm256_storeu_si256(&v_[i], x)

/* 24 rounds on the four interleaved states st4 and the single state st1. */
#define KECCAK_X5_PERMUTE(st4, st1) \
    do { \
        __m256i *v_ = (__m256i *)(st4); \
        __m256i a00 = KX5_LD(0), a01 = KX5_LD(1), a02 = KX5_LD(2), a03 = KX5_LD(3), a04 = KX5_LD(4); \
        __m256i a05 = KX5_LD(5), a06 = KX5_LD(6), a07 = KX5_LD(7), a08 = KX5_LD(8), a09 = KX5_LD(9); \
        __m256i a10 = KX5_LD(10), a11 = KX5_LD(11), a12 = KX5_LD(12), a13 = KX5_LD(13), a14 = KX5_LD(14); \
        __m256i a15 = KX5_LD(15), a16 = KX5_LD(16), a17 = KX5_LD(17), a18 = KX5_LD(18), a19 = KX5_LD(19); \
        __m256i a20 = KX5_LD(20), a21 = KX5_LD(21), a22 = KX5_LD(22), a23 = KX5_LD(23), a24 = KX5_LD(24); \
        __m256i e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12; \
        __m256i e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24; \
        __m256i b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4; \
        uint64_t sa00 = st1[0], sa01 = st1[1], sa02 = st1[2], sa03 = st1[3], sa04 = st1[4]; \
        uint64_t sa05 = st1[5], sa06 = st1[6], sa07 = st1[7], sa08 = st1[8], sa09 = st1[9]; \
        uint64_t sa10 = st1[10], sa11 = st1[11], sa12 = st1[12], sa13 = st1[13], sa14 = st1[14]; \
        uint64_t sa15 = st1[15], sa16 = st1[16], sa17 = st1[17], sa18 = st1[18], sa19 = st1[19]; \
        uint64_t sa20 = st1[20], sa21 = st1[21], sa22 = st1[22], sa23 = st1[23], sa24 = st1[24]; \
        uint64_t se00, se01, se02, se03, se04, se05, se06, se07, se08, se09, se10, se11, se12; \
        uint64_t se13, se14, se15, se16, se17, se18, se19, se20, se21, se22, se23, se24; \
        uint64_t sb0, sb1, sb2, sb3, sb4, sc0, sc1, sc2, sc3, sc4, sd0, sd1, sd2, sd3, sd4; \
        for (unsigned i_ = 0; i_ < 24; i_ += 2) { \
            FUSED(a, e, pqify_keccak_rc[i_], pqify_keccak_rc[i_]); \
            FUSED(e, a, pqify_keccak_rc[i_ + 1], pqify_keccak_rc[i_ + 1]); \
        } \
        KX5_ST(0, a00); KX5_ST(1, a01); KX5_ST(2, a02); KX5_ST(3, a03); KX5_ST(4, a04); \
        KX5_ST(5, a05); KX5_ST(6, a06); KX5_ST(7, a07); KX5_ST(8, a08); KX5_ST(9, a09); \
        KX5_ST(10, a10); KX5_ST(11, a11); KX5_ST(12, a12); KX5_ST(13, a13); KX5_ST(14, a14); \
        KX5_ST(15, a15); KX5_ST(16, a16); KX5_ST(17, a17); KX5_ST(18, a18); KX5_ST(19, a19); \
        KX5_ST(20, a20); KX5_ST(21, a21); KX5_ST(22, a22); KX5_ST(23, a23); KX5_ST(24, a24); \
        st1[0] = sa00; st1[1] = sa01; st1[2] = sa02; st1[3] = sa03; st1[4] = sa04; \
        st1[5] = sa05; st1[6] = sa06; st1[7] = sa07; st1[8] = sa08; st1[9] = sa09; \
        st1[10] = sa10; st1[11] = sa11; st1[12] = sa12; st1[13] = sa13; st1[14] = sa14; \
        st1[15] = sa15; st1[16] = sa16; st1[17] = sa17; st1[18] = sa18; st1[19] = sa19; \
        st1[20] = sa20; st1[21] = sa21; st1[22] = sa22; st1[23] = sa23; st1[24] = sa24; \
    } while (0)

#endif
