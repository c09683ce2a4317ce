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
#define ROUND(from, to, rc) \
    c0 = from##00 ^ from##05 ^ from##10 ^ from##15 ^ from##20; \
    c1 = from##01 ^ from##06 ^ from##11 ^ from##16 ^ from##21; \
    c2 = from##02 ^ from##07 ^ from##12 ^ from##17 ^ from##22; \
    c3 = from##03 ^ from##08 ^ from##13 ^ from##18 ^ from##23; \
    c4 = from##04 ^ from##09 ^ from##14 ^ from##19 ^ from##24; \
    d0 = c4 ^ ROL(c1, 1); \
    d1 = c0 ^ ROL(c2, 1); \
    d2 = c1 ^ ROL(c3, 1); \
    d3 = c2 ^ ROL(c4, 1); \
    d4 = c3 ^ ROL(c0, 1); \
    b0 = (from##00 ^ d0); \
    b1 = ROL((from##06 ^ d1), 44); \
    b2 = ROL((from##12 ^ d2), 43); \
    b3 = ROL((from##18 ^ d3), 21); \
    b4 = ROL((from##24 ^ d4), 14); \
    to##00 = b0 ^ ANDN(b1, b2) ^ (rc); \
    to##01 = b1 ^ ANDN(b2, b3); \
    to##02 = b2 ^ ANDN(b3, b4); \
    to##03 = b3 ^ ANDN(b4, b0); \
    to##04 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((from##03 ^ d3), 28); \
    b1 = ROL((from##09 ^ d4), 20); \
    b2 = ROL((from##10 ^ d0), 3); \
    b3 = ROL((from##16 ^ d1), 45); \
    b4 = ROL((from##22 ^ d2), 61); \
    to##05 = b0 ^ ANDN(b1, b2); \
    to##06 = b1 ^ ANDN(b2, b3); \
    to##07 = b2 ^ ANDN(b3, b4); \
    to##08 = b3 ^ ANDN(b4, b0); \
    to##09 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((from##01 ^ d1), 1); \
    b1 = ROL((from##07 ^ d2), 6); \
    b2 = ROL((from##13 ^ d3), 25); \
    b3 = ROL((from##19 ^ d4), 8); \
    b4 = ROL((from##20 ^ d0), 18); \
    to##10 = b0 ^ ANDN(b1, b2); \
    to##11 = b1 ^ ANDN(b2, b3); \
    to##12 = b2 ^ ANDN(b3, b4); \
    to##13 = b3 ^ ANDN(b4, b0); \
    to##14 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((from##04 ^ d4), 27); \
    b1 = ROL((from##05 ^ d0), 36); \
    b2 = ROL((from##11 ^ d1), 10); \
    b3 = ROL((from##17 ^ d2), 15); \
    b4 = ROL((from##23 ^ d3), 56); \
    to##15 = b0 ^ ANDN(b1, b2); \
    to##16 = b1 ^ ANDN(b2, b3); \
    to##17 = b2 ^ ANDN(b3, b4); \
    to##18 = b3 ^ ANDN(b4, b0); \
    to##19 = b4 ^ ANDN(b0, b1); \
    b0 = ROL((from##02 ^ d2), 62); \
    b1 = ROL((from##08 ^ d3), 55); \
    b2 = ROL((from##14 ^ d4), 39); \
    b3 = ROL((from##15 ^ d0), 41); \
    b4 = ROL((from##21 ^ d1), 2); \
    to##20 = b0 ^ ANDN(b1, b2); \
    to##21 = b1 ^ ANDN(b2, b3); \
    to##22 = b2 ^ ANDN(b3, b4); \
    to##23 = b3 ^ ANDN(b4, b0); \
    to##24 = b4 ^ ANDN(b0, b1);

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
        ROUND(a, e, pqify_keccak_rc[i]);
        ROUND(e, a, pqify_keccak_rc[i + 1]);
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
