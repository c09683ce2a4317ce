/* Portable matrix expansion and noise sampling (FIPS 203 Alg. 7, 8). */
#include <string.h>

#include "ct.h"
#include "fips202.h"
#include "portable.h"

/*
 * Rejection sampling (FIPS 203 Alg. 7 lines 5-13) from public rho. While at
 * least two slots are free, each candidate is stored unconditionally and the
 * count advances only if it was accepted: no unpredictable branch per
 * candidate. Returns the new count of accepted coefficients.
 */
static unsigned rej_uniform(int16_t *a, unsigned ctr, const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    while (ctr <= 254 && pos + 3 <= len) {
        uint16_t d1 = (uint16_t)(buf[pos] | ((buf[pos + 1] & 0x0F) << 8));
        uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));
        pos += 3;
        a[ctr] = (int16_t)d1;
        ctr += (d1 < 3329);
        a[ctr] = (int16_t)d2;
        ctr += (d2 < 3329);
    }
    for (; ctr < 256 && pos + 3 <= len; pos += 3) {
        uint16_t d1 = (uint16_t)(buf[pos] | ((buf[pos + 1] & 0x0F) << 8));
        uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));
        if (d1 < 3329)
            a[ctr++] = (int16_t)d1;
        if (d2 < 3329 && ctr < 256)
            a[ctr++] = (int16_t)d2;
    }
    return ctr;
}

/* Three blocks give 256 samples with overwhelming probability; more are squeezed as needed. */
#define GEN_BLOCKS 3

static void sample_ntt(pqify_poly *r, const uint8_t rho[32], uint8_t x, uint8_t y)
{
    pqify_keccak_ctx ctx;
    uint8_t buf[GEN_BLOCKS * PQIFY_SHAKE128_RATE];
    uint8_t ext[2] = {x, y};

    pqify_shake128_init(&ctx);
    pqify_keccak_absorb(&ctx, rho, 32);
    pqify_keccak_absorb(&ctx, ext, 2);
    pqify_keccak_squeeze(&ctx, buf, sizeof buf);
    unsigned ctr = rej_uniform(r->coeffs, 0, buf, sizeof buf);
    while (ctr < 256) {
        pqify_keccak_squeeze(&ctx, buf, PQIFY_SHAKE128_RATE);
        ctr = rej_uniform(r->coeffs, ctr, buf, PQIFY_SHAKE128_RATE);
    }
}

void pqify_gen_matrix_portable(pqify_poly *A, const uint8_t rho[32], unsigned k, int transposed)
{
    for (unsigned i = 0; i < k; i++)
        for (unsigned j = 0; j < k; j++) {
            /* FIPS 203 Alg. 13 line 6: A^[i,j] = SampleNTT(rho || j || i). */
            if (transposed)
                sample_ntt(&A[i * k + j], rho, (uint8_t)i, (uint8_t)j);
            else
                sample_ntt(&A[i * k + j], rho, (uint8_t)j, (uint8_t)i);
        }
}

static inline uint32_t load32_le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* SamplePolyCBD_2: coefficient i is (bit 4i + bit 4i+1) - (bit 4i+2 + bit 4i+3). */
static void cbd2(pqify_poly *r, const uint8_t buf[128])
{
    for (unsigned i = 0; i < 32; i++) {
        uint32_t t = load32_le(buf + 4 * i);
        uint32_t d = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);
        for (unsigned j = 0; j < 8; j++) {
            int16_t x = (int16_t)((d >> (4 * j)) & 3);
            int16_t y = (int16_t)((d >> (4 * j + 2)) & 3);
            r->coeffs[8 * i + j] = (int16_t)(x - y);
        }
    }
}

/* SamplePolyCBD_3: six bits per coefficient, three for x and three for y. */
static void cbd3(pqify_poly *r, const uint8_t buf[192])
{
    for (unsigned i = 0; i < 64; i++) {
        const uint8_t *p = buf + 3 * i;
        uint32_t t = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
        uint32_t d = (t & 0x249249u) + ((t >> 1) & 0x249249u) + ((t >> 2) & 0x249249u);
        for (unsigned j = 0; j < 4; j++) {
            int16_t x = (int16_t)((d >> (6 * j)) & 7);
            int16_t y = (int16_t)((d >> (6 * j + 3)) & 7);
            r->coeffs[4 * i + j] = (int16_t)(x - y);
        }
    }
}

void pqify_sample_cbd_portable(pqify_poly *r, unsigned count, const uint8_t sigma[32],
                               uint8_t nonce, unsigned eta)
{
    uint8_t buf[64 * 3];
    pqify_keccak_ctx ctx;
    for (unsigned i = 0; i < count; i++) {
        uint8_t n = (uint8_t)(nonce + i);
        /* PRF_eta(sigma, N) = SHAKE-256(sigma || N, 64 eta), FIPS 203 §4.1. */
        pqify_shake256_init(&ctx);
        pqify_keccak_absorb(&ctx, sigma, 32);
        pqify_keccak_absorb(&ctx, &n, 1);
        pqify_keccak_squeeze(&ctx, buf, 64 * eta);
        if (eta == 3)
            cbd3(&r[i], buf);
        else
            cbd2(&r[i], buf);
    }
    pqify_keccak_wipe(&ctx);
    pqify_zeroize(buf, sizeof buf);
}
