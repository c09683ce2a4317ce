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
#define FUSED_AE(vrc, src) \
    c0 = XOR5(a00, a05, a10, a15, a20); \
    sc0 = sa00 ^ sa05 ^ sa10 ^ sa15 ^ sa20; \
    c1 = XOR5(a01, a06, a11, a16, a21); \
    sc1 = sa01 ^ sa06 ^ sa11 ^ sa16 ^ sa21; \
    c2 = XOR5(a02, a07, a12, a17, a22); \
    sc2 = sa02 ^ sa07 ^ sa12 ^ sa17 ^ sa22; \
    c3 = XOR5(a03, a08, a13, a18, a23); \
    sc3 = sa03 ^ sa08 ^ sa13 ^ sa18 ^ sa23; \
    c4 = XOR5(a04, a09, a14, a19, a24); \
    sc4 = sa04 ^ sa09 ^ sa14 ^ sa19 ^ sa24; \
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
    b0 = _mm256_xor_si256(a00, d0); \
    sb0 = (sa00 ^ sd0); \
    b1 = ROL(_mm256_xor_si256(a06, d1), 44); \
    sb1 = SROL((sa06 ^ sd1), 44); \
    b2 = ROL(_mm256_xor_si256(a12, d2), 43); \
    sb2 = SROL((sa12 ^ sd2), 43); \
    b3 = ROL(_mm256_xor_si256(a18, d3), 21); \
    sb3 = SROL((sa18 ^ sd3), 21); \
    b4 = ROL(_mm256_xor_si256(a24, d4), 14); \
    sb4 = SROL((sa24 ^ sd4), 14); \
    e00 = _mm256_xor_si256(CHI(b0, b1, b2), _mm256_set1_epi64x((long long)(vrc))); \
    se00 = sb0 ^ SANDN(sb1, sb2) ^ (src); \
    e01 = CHI(b1, b2, b3); \
    se01 = sb1 ^ SANDN(sb2, sb3); \
    e02 = CHI(b2, b3, b4); \
    se02 = sb2 ^ SANDN(sb3, sb4); \
    e03 = CHI(b3, b4, b0); \
    se03 = sb3 ^ SANDN(sb4, sb0); \
    e04 = CHI(b4, b0, b1); \
    se04 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(a03, d3), 28); \
    sb0 = SROL((sa03 ^ sd3), 28); \
    b1 = ROL(_mm256_xor_si256(a09, d4), 20); \
    sb1 = SROL((sa09 ^ sd4), 20); \
    b2 = ROL(_mm256_xor_si256(a10, d0), 3); \
    sb2 = SROL((sa10 ^ sd0), 3); \
    b3 = ROL(_mm256_xor_si256(a16, d1), 45); \
    sb3 = SROL((sa16 ^ sd1), 45); \
    b4 = ROL(_mm256_xor_si256(a22, d2), 61); \
    sb4 = SROL((sa22 ^ sd2), 61); \
    e05 = CHI(b0, b1, b2); \
    se05 = sb0 ^ SANDN(sb1, sb2); \
    e06 = CHI(b1, b2, b3); \
    se06 = sb1 ^ SANDN(sb2, sb3); \
    e07 = CHI(b2, b3, b4); \
    se07 = sb2 ^ SANDN(sb3, sb4); \
    e08 = CHI(b3, b4, b0); \
    se08 = sb3 ^ SANDN(sb4, sb0); \
    e09 = CHI(b4, b0, b1); \
    se09 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(a01, d1), 1); \
    sb0 = SROL((sa01 ^ sd1), 1); \
    b1 = ROL(_mm256_xor_si256(a07, d2), 6); \
    sb1 = SROL((sa07 ^ sd2), 6); \
    b2 = ROL(_mm256_xor_si256(a13, d3), 25); \
    sb2 = SROL((sa13 ^ sd3), 25); \
    b3 = ROL8(_mm256_xor_si256(a19, d4)); \
    sb3 = SROL((sa19 ^ sd4), 8); \
    b4 = ROL(_mm256_xor_si256(a20, d0), 18); \
    sb4 = SROL((sa20 ^ sd0), 18); \
    e10 = CHI(b0, b1, b2); \
    se10 = sb0 ^ SANDN(sb1, sb2); \
    e11 = CHI(b1, b2, b3); \
    se11 = sb1 ^ SANDN(sb2, sb3); \
    e12 = CHI(b2, b3, b4); \
    se12 = sb2 ^ SANDN(sb3, sb4); \
    e13 = CHI(b3, b4, b0); \
    se13 = sb3 ^ SANDN(sb4, sb0); \
    e14 = CHI(b4, b0, b1); \
    se14 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(a04, d4), 27); \
    sb0 = SROL((sa04 ^ sd4), 27); \
    b1 = ROL(_mm256_xor_si256(a05, d0), 36); \
    sb1 = SROL((sa05 ^ sd0), 36); \
    b2 = ROL(_mm256_xor_si256(a11, d1), 10); \
    sb2 = SROL((sa11 ^ sd1), 10); \
    b3 = ROL(_mm256_xor_si256(a17, d2), 15); \
    sb3 = SROL((sa17 ^ sd2), 15); \
    b4 = ROL56(_mm256_xor_si256(a23, d3)); \
    sb4 = SROL((sa23 ^ sd3), 56); \
    e15 = CHI(b0, b1, b2); \
    se15 = sb0 ^ SANDN(sb1, sb2); \
    e16 = CHI(b1, b2, b3); \
    se16 = sb1 ^ SANDN(sb2, sb3); \
    e17 = CHI(b2, b3, b4); \
    se17 = sb2 ^ SANDN(sb3, sb4); \
    e18 = CHI(b3, b4, b0); \
    se18 = sb3 ^ SANDN(sb4, sb0); \
    e19 = CHI(b4, b0, b1); \
    se19 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(a02, d2), 62); \
    sb0 = SROL((sa02 ^ sd2), 62); \
    b1 = ROL(_mm256_xor_si256(a08, d3), 55); \
    sb1 = SROL((sa08 ^ sd3), 55); \
    b2 = ROL(_mm256_xor_si256(a14, d4), 39); \
    sb2 = SROL((sa14 ^ sd4), 39); \
    b3 = ROL(_mm256_xor_si256(a15, d0), 41); \
    sb3 = SROL((sa15 ^ sd0), 41); \
    b4 = ROL(_mm256_xor_si256(a21, d1), 2); \
    sb4 = SROL((sa21 ^ sd1), 2); \
    e20 = CHI(b0, b1, b2); \
    se20 = sb0 ^ SANDN(sb1, sb2); \
    e21 = CHI(b1, b2, b3); \
    se21 = sb1 ^ SANDN(sb2, sb3); \
    e22 = CHI(b2, b3, b4); \
    se22 = sb2 ^ SANDN(sb3, sb4); \
    e23 = CHI(b3, b4, b0); \
    se23 = sb3 ^ SANDN(sb4, sb0); \
    e24 = CHI(b4, b0, b1); \
    se24 = sb4 ^ SANDN(sb0, sb1);

#define FUSED_EA(vrc, src) \
    c0 = XOR5(e00, e05, e10, e15, e20); \
    sc0 = se00 ^ se05 ^ se10 ^ se15 ^ se20; \
    c1 = XOR5(e01, e06, e11, e16, e21); \
    sc1 = se01 ^ se06 ^ se11 ^ se16 ^ se21; \
    c2 = XOR5(e02, e07, e12, e17, e22); \
    sc2 = se02 ^ se07 ^ se12 ^ se17 ^ se22; \
    c3 = XOR5(e03, e08, e13, e18, e23); \
    sc3 = se03 ^ se08 ^ se13 ^ se18 ^ se23; \
    c4 = XOR5(e04, e09, e14, e19, e24); \
    sc4 = se04 ^ se09 ^ se14 ^ se19 ^ se24; \
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
    b0 = _mm256_xor_si256(e00, d0); \
    sb0 = (se00 ^ sd0); \
    b1 = ROL(_mm256_xor_si256(e06, d1), 44); \
    sb1 = SROL((se06 ^ sd1), 44); \
    b2 = ROL(_mm256_xor_si256(e12, d2), 43); \
    sb2 = SROL((se12 ^ sd2), 43); \
    b3 = ROL(_mm256_xor_si256(e18, d3), 21); \
    sb3 = SROL((se18 ^ sd3), 21); \
    b4 = ROL(_mm256_xor_si256(e24, d4), 14); \
    sb4 = SROL((se24 ^ sd4), 14); \
    a00 = _mm256_xor_si256(CHI(b0, b1, b2), _mm256_set1_epi64x((long long)(vrc))); \
    sa00 = sb0 ^ SANDN(sb1, sb2) ^ (src); \
    a01 = CHI(b1, b2, b3); \
    sa01 = sb1 ^ SANDN(sb2, sb3); \
    a02 = CHI(b2, b3, b4); \
    sa02 = sb2 ^ SANDN(sb3, sb4); \
    a03 = CHI(b3, b4, b0); \
    sa03 = sb3 ^ SANDN(sb4, sb0); \
    a04 = CHI(b4, b0, b1); \
    sa04 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(e03, d3), 28); \
    sb0 = SROL((se03 ^ sd3), 28); \
    b1 = ROL(_mm256_xor_si256(e09, d4), 20); \
    sb1 = SROL((se09 ^ sd4), 20); \
    b2 = ROL(_mm256_xor_si256(e10, d0), 3); \
    sb2 = SROL((se10 ^ sd0), 3); \
    b3 = ROL(_mm256_xor_si256(e16, d1), 45); \
    sb3 = SROL((se16 ^ sd1), 45); \
    b4 = ROL(_mm256_xor_si256(e22, d2), 61); \
    sb4 = SROL((se22 ^ sd2), 61); \
    a05 = CHI(b0, b1, b2); \
    sa05 = sb0 ^ SANDN(sb1, sb2); \
    a06 = CHI(b1, b2, b3); \
    sa06 = sb1 ^ SANDN(sb2, sb3); \
    a07 = CHI(b2, b3, b4); \
    sa07 = sb2 ^ SANDN(sb3, sb4); \
    a08 = CHI(b3, b4, b0); \
    sa08 = sb3 ^ SANDN(sb4, sb0); \
    a09 = CHI(b4, b0, b1); \
    sa09 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(e01, d1), 1); \
    sb0 = SROL((se01 ^ sd1), 1); \
    b1 = ROL(_mm256_xor_si256(e07, d2), 6); \
    sb1 = SROL((se07 ^ sd2), 6); \
    b2 = ROL(_mm256_xor_si256(e13, d3), 25); \
    sb2 = SROL((se13 ^ sd3), 25); \
    b3 = ROL8(_mm256_xor_si256(e19, d4)); \
    sb3 = SROL((se19 ^ sd4), 8); \
    b4 = ROL(_mm256_xor_si256(e20, d0), 18); \
    sb4 = SROL((se20 ^ sd0), 18); \
    a10 = CHI(b0, b1, b2); \
    sa10 = sb0 ^ SANDN(sb1, sb2); \
    a11 = CHI(b1, b2, b3); \
    sa11 = sb1 ^ SANDN(sb2, sb3); \
    a12 = CHI(b2, b3, b4); \
    sa12 = sb2 ^ SANDN(sb3, sb4); \
    a13 = CHI(b3, b4, b0); \
    sa13 = sb3 ^ SANDN(sb4, sb0); \
    a14 = CHI(b4, b0, b1); \
    sa14 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(e04, d4), 27); \
    sb0 = SROL((se04 ^ sd4), 27); \
    b1 = ROL(_mm256_xor_si256(e05, d0), 36); \
    sb1 = SROL((se05 ^ sd0), 36); \
    b2 = ROL(_mm256_xor_si256(e11, d1), 10); \
    sb2 = SROL((se11 ^ sd1), 10); \
    b3 = ROL(_mm256_xor_si256(e17, d2), 15); \
    sb3 = SROL((se17 ^ sd2), 15); \
    b4 = ROL56(_mm256_xor_si256(e23, d3)); \
    sb4 = SROL((se23 ^ sd3), 56); \
    a15 = CHI(b0, b1, b2); \
    sa15 = sb0 ^ SANDN(sb1, sb2); \
    a16 = CHI(b1, b2, b3); \
    sa16 = sb1 ^ SANDN(sb2, sb3); \
    a17 = CHI(b2, b3, b4); \
    sa17 = sb2 ^ SANDN(sb3, sb4); \
    a18 = CHI(b3, b4, b0); \
    sa18 = sb3 ^ SANDN(sb4, sb0); \
    a19 = CHI(b4, b0, b1); \
    sa19 = sb4 ^ SANDN(sb0, sb1); \
    b0 = ROL(_mm256_xor_si256(e02, d2), 62); \
    sb0 = SROL((se02 ^ sd2), 62); \
    b1 = ROL(_mm256_xor_si256(e08, d3), 55); \
    sb1 = SROL((se08 ^ sd3), 55); \
    b2 = ROL(_mm256_xor_si256(e14, d4), 39); \
    sb2 = SROL((se14 ^ sd4), 39); \
    b3 = ROL(_mm256_xor_si256(e15, d0), 41); \
    sb3 = SROL((se15 ^ sd0), 41); \
    b4 = ROL(_mm256_xor_si256(e21, d1), 2); \
    sb4 = SROL((se21 ^ sd1), 2); \
    a20 = CHI(b0, b1, b2); \
    sa20 = sb0 ^ SANDN(sb1, sb2); \
    a21 = CHI(b1, b2, b3); \
    sa21 = sb1 ^ SANDN(sb2, sb3); \
    a22 = CHI(b2, b3, b4); \
    sa22 = sb2 ^ SANDN(sb3, sb4); \
    a23 = CHI(b3, b4, b0); \
    sa23 = sb3 ^ SANDN(sb4, sb0); \
    a24 = CHI(b4, b0, b1); \
    sa24 = sb4 ^ SANDN(sb0, sb1);

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
            FUSED_AE(pqify_keccak_rc[i_], pqify_keccak_rc[i_]); \
            FUSED_EA(pqify_keccak_rc[i_ + 1], pqify_keccak_rc[i_ + 1]); \
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
