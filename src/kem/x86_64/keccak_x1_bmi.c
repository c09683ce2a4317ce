/*
 * Keccak-f[1600] (FIPS 202 §3.3), one state in general-purpose registers,
 * for the sponges the generic code runs one at a time (G, H, J, the
 * accumulated-test XOFs). Built for BMI1/BMI2 (andn for chi's ~b & c, rorx
 * for the rotations), which the AVX2 backend's available() checks.
 */
#include <string.h>

#include "../fips202.h"
#include "avx2.h"

#define ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))
#define ANDN(x, y) (~(x) & (y))

/* Same folding of pi into the read order as keccak_x4_avx2.c, on scalar lanes. */
#define ROUND_AE(rc) \
    c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20; \
    c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21; \
    c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22; \
    c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23; \
    c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24; \
    d0 = c4 ^ ROL(c1, 1); \
    d1 = c0 ^ ROL(c2, 1); \
    d2 = c1 ^ ROL(c3, 1); \
    d3 = c2 ^ ROL(c4, 1); \
    d4 = c3 ^ ROL(c0, 1); \
    b0 = (a00 ^ d0); \
    b1 = ROL((a06 ^ d1), 44); \
    b2 = ROL((a12 ^ d2), 43); \
    b3 = ROL((a18 ^ d3), 21); \
    b4 = ROL((a24 ^ d4), 14); \
    e00 = b0 ^ ANDN(b1, b2) ^ (rc); \
    e01 = b1 ^ ANDN(b2, b3); \
    e02 = b2 ^ ANDN(b3, b4); \
    e03 = b3 ^ ANDN(b4, b0); \
    e04 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((a03 ^ d3), 28); \
    b1 = ROL((a09 ^ d4), 20); \
    b2 = ROL((a10 ^ d0), 3); \
    b3 = ROL((a16 ^ d1), 45); \
    b4 = ROL((a22 ^ d2), 61); \
    e05 = b0 ^ ANDN(b1, b2); \
    e06 = b1 ^ ANDN(b2, b3); \
    e07 = b2 ^ ANDN(b3, b4); \
    e08 = b3 ^ ANDN(b4, b0); \
    e09 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((a01 ^ d1), 1); \
    b1 = ROL((a07 ^ d2), 6); \
    b2 = ROL((a13 ^ d3), 25); \
    b3 = ROL((a19 ^ d4), 8); \
    b4 = ROL((a20 ^ d0), 18); \
    e10 = b0 ^ ANDN(b1, b2); \
    e11 = b1 ^ ANDN(b2, b3); \
    e12 = b2 ^ ANDN(b3, b4); \
    e13 = b3 ^ ANDN(b4, b0); \
    e14 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((a04 ^ d4), 27); \
    b1 = ROL((a05 ^ d0), 36); \
    b2 = ROL((a11 ^ d1), 10); \
    b3 = ROL((a17 ^ d2), 15); \
    b4 = ROL((a23 ^ d3), 56); \
    e15 = b0 ^ ANDN(b1, b2); \
    e16 = b1 ^ ANDN(b2, b3); \
    e17 = b2 ^ ANDN(b3, b4); \
    e18 = b3 ^ ANDN(b4, b0); \
    e19 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((a02 ^ d2), 62); \
    b1 = ROL((a08 ^ d3), 55); \
    b2 = ROL((a14 ^ d4), 39); \
    b3 = ROL((a15 ^ d0), 41); \
    b4 = ROL((a21 ^ d1), 2); \
    e20 = b0 ^ ANDN(b1, b2); \
    e21 = b1 ^ ANDN(b2, b3); \
    e22 = b2 ^ ANDN(b3, b4); \
    e23 = b3 ^ ANDN(b4, b0); \
    e24 = b4 ^ ANDN(b0, b1);

#define ROUND_EA(rc) \
    c0 = e00 ^ e05 ^ e10 ^ e15 ^ e20; \
    c1 = e01 ^ e06 ^ e11 ^ e16 ^ e21; \
    c2 = e02 ^ e07 ^ e12 ^ e17 ^ e22; \
    c3 = e03 ^ e08 ^ e13 ^ e18 ^ e23; \
    c4 = e04 ^ e09 ^ e14 ^ e19 ^ e24; \
    d0 = c4 ^ ROL(c1, 1); \
    d1 = c0 ^ ROL(c2, 1); \
    d2 = c1 ^ ROL(c3, 1); \
    d3 = c2 ^ ROL(c4, 1); \
    d4 = c3 ^ ROL(c0, 1); \
    b0 = (e00 ^ d0); \
    b1 = ROL((e06 ^ d1), 44); \
    b2 = ROL((e12 ^ d2), 43); \
    b3 = ROL((e18 ^ d3), 21); \
    b4 = ROL((e24 ^ d4), 14); \
    a00 = b0 ^ ANDN(b1, b2) ^ (rc); \
    a01 = b1 ^ ANDN(b2, b3); \
    a02 = b2 ^ ANDN(b3, b4); \
    a03 = b3 ^ ANDN(b4, b0); \
    a04 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((e03 ^ d3), 28); \
    b1 = ROL((e09 ^ d4), 20); \
    b2 = ROL((e10 ^ d0), 3); \
    b3 = ROL((e16 ^ d1), 45); \
    b4 = ROL((e22 ^ d2), 61); \
    a05 = b0 ^ ANDN(b1, b2); \
    a06 = b1 ^ ANDN(b2, b3); \
    a07 = b2 ^ ANDN(b3, b4); \
    a08 = b3 ^ ANDN(b4, b0); \
    a09 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((e01 ^ d1), 1); \
    b1 = ROL((e07 ^ d2), 6); \
    b2 = ROL((e13 ^ d3), 25); \
    b3 = ROL((e19 ^ d4), 8); \
    b4 = ROL((e20 ^ d0), 18); \
    a10 = b0 ^ ANDN(b1, b2); \
    a11 = b1 ^ ANDN(b2, b3); \
    a12 = b2 ^ ANDN(b3, b4); \
    a13 = b3 ^ ANDN(b4, b0); \
    a14 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((e04 ^ d4), 27); \
    b1 = ROL((e05 ^ d0), 36); \
    b2 = ROL((e11 ^ d1), 10); \
    b3 = ROL((e17 ^ d2), 15); \
    b4 = ROL((e23 ^ d3), 56); \
    a15 = b0 ^ ANDN(b1, b2); \
    a16 = b1 ^ ANDN(b2, b3); \
    a17 = b2 ^ ANDN(b3, b4); \
    a18 = b3 ^ ANDN(b4, b0); \
    a19 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((e02 ^ d2), 62); \
    b1 = ROL((e08 ^ d3), 55); \
    b2 = ROL((e14 ^ d4), 39); \
    b3 = ROL((e15 ^ d0), 41); \
    b4 = ROL((e21 ^ d1), 2); \
    a20 = b0 ^ ANDN(b1, b2); \
    a21 = b1 ^ ANDN(b2, b3); \
    a22 = b2 ^ ANDN(b3, b4); \
    a23 = b3 ^ ANDN(b4, b0); \
    a24 = b4 ^ ANDN(b0, b1);

__attribute__((target("bmi,bmi2"))) void pqify_keccakf1600_avx2(uint64_t st[25])
{
    uint64_t a00 = st[0], a01 = st[1], a02 = st[2], a03 = st[3], a04 = st[4];
    uint64_t a05 = st[5], a06 = st[6], a07 = st[7], a08 = st[8], a09 = st[9];
    uint64_t a10 = st[10], a11 = st[11], a12 = st[12], a13 = st[13], a14 = st[14];
    uint64_t a15 = st[15], a16 = st[16], a17 = st[17], a18 = st[18], a19 = st[19];
    uint64_t a20 = st[20], a21 = st[21], a22 = st[22], a23 = st[23], a24 = st[24];
    uint64_t e00, e01, e02, e03, e04, e05, e06, e07, e08, e09, e10, e11, e12;
    uint64_t e13, e14, e15, e16, e17, e18, e19, e20, e21, e22, e23, e24;
    uint64_t b0, b1, b2, b3, b4, c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;

    for (unsigned i = 0; i < 24; i += 2) {
        ROUND_AE(pqify_keccak_rc[i]);
        ROUND_EA(pqify_keccak_rc[i + 1]);
    }

    st[0] = a00; st[1] = a01; st[2] = a02; st[3] = a03; st[4] = a04;
    st[5] = a05; st[6] = a06; st[7] = a07; st[8] = a08; st[9] = a09;
    st[10] = a10; st[11] = a11; st[12] = a12; st[13] = a13; st[14] = a14;
    st[15] = a15; st[16] = a16; st[17] = a17; st[18] = a18; st[19] = a19;
    st[20] = a20; st[21] = a21; st[22] = a22; st[23] = a23; st[24] = a24;
}

void pqify_shake_x1_absorb_once(uint64_t s[25], unsigned rate, const uint8_t *in, size_t len)
{
    uint8_t *bytes = (uint8_t *)s; /* little-endian lanes: byte i of the state string */
    memset(s, 0, 25 * sizeof s[0]);
    memcpy(bytes, in, len);
    /* FIPS 202 §5.1 pad10*1 with the SHAKE suffix 1111. */
    bytes[len] ^= 0x1F;
    bytes[rate - 1] ^= 0x80;
}

void pqify_shake_x1_squeezeblock(uint64_t s[25], unsigned rate, uint8_t *out)
{
    pqify_keccakf1600_avx2(s);
    memcpy(out, s, rate);
}
