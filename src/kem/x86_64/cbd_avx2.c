/*
 * Noise sampling, FIPS 203 Alg. 8 SamplePolyCBD_eta on PRF_eta(sigma, N)
 * (§4.1: SHAKE-256(sigma || N), 64*eta bytes), four nonces per 4-way
 * SHAKE-256. sigma is secret: only fixed shuffles, masks and adds here, no
 * branch or index on the stream.
 */
#include <string.h>

#include "avx2.h"
#include "pqify/kem.h"

/*
 * eta = 2: byte t of the stream gives coefficients 2t (low nibble) and 2t+1
 * (high nibble), each (bit0 + bit1) - (bit2 + bit3) of its nibble.
 */
static void cbd2(pqify_poly *r, const uint8_t buf[128])
{
    const __m128i m55 = _mm_set1_epi8(0x55);
    const __m128i m03 = _mm_set1_epi8(0x03);
    for (unsigned i = 0; i < 8; i++) {
        __m128i t = _mm_loadu_si128((const __m128i *)(buf + 16 * i));
        /* Pairwise bit sums: each 2-bit field holds bit 2f + bit 2f+1. */
        __m128i d = _mm_add_epi8(_mm_and_si128(t, m55), _mm_and_si128(_mm_srli_epi16(t, 1), m55));
        __m128i x0 = _mm_and_si128(d, m03);
        __m128i y0 = _mm_and_si128(_mm_srli_epi16(d, 2), m03);
        __m128i x1 = _mm_and_si128(_mm_srli_epi16(d, 4), m03);
        __m128i y1 = _mm_and_si128(_mm_srli_epi16(d, 6), m03);
        __m128i lo = _mm_sub_epi8(x0, y0); /* coefficient 2t */
        __m128i hi = _mm_sub_epi8(x1, y1); /* coefficient 2t+1 */
        __m128i c0 = _mm_unpacklo_epi8(lo, hi);
        __m128i c1 = _mm_unpackhi_epi8(lo, hi);
        _mm256_store_si256((__m256i *)&r->coeffs[32 * i], _mm256_cvtepi8_epi16(c0));
        _mm256_store_si256((__m256i *)&r->coeffs[32 * i + 16], _mm256_cvtepi8_epi16(c1));
    }
}

/*
 * eta = 3: every 3 bytes give 4 coefficients, each (sum of 3 bits) - (sum of
 * the next 3). buf must be readable 8 bytes past the 192.
 */
static void cbd3(pqify_poly *r, const uint8_t *buf)
{
    const __m256i m249 = _mm256_set1_epi32(0x249249);
    const __m256i m1c7 = _mm256_set1_epi32(0x1C71C7);
    const __m256i three = _mm256_set1_epi32(0x0C30C3); /* +3 in each 6-bit field */
    /* Lane 0 holds stream bytes 0..11, lane 1 bytes 12..23 (dwords 3..6). */
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6);
    const __m256i groups = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,
                                            0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
    /* Coefficient j of a group sits at bit 6j: read the 16-bit word at byte 0,0,1,2. */
    const __m256i words = _mm256_setr_epi8(0, 1, 0, 1, 1, 2, 2, 3, 4, 5, 4, 5, 5, 6, 6, 7,
                                           8, 9, 8, 9, 9, 10, 10, 11, 12, 13, 12, 13, 13, 14, 14, 15);
    /* ... and shift its 3 bits (at 0, 6, 4, 2 in the word) to the top: 2^(13 - shift). */
    const __m256i align = _mm256_setr_epi16(8192, 128, 512, 2048, 8192, 128, 512, 2048,
                                            8192, 128, 512, 2048, 8192, 128, 512, 2048);
    const __m256i three16 = _mm256_set1_epi16(3);
    for (unsigned i = 0; i < 8; i++) {
        __m256i t = _mm256_loadu_si256((const __m256i *)(buf + 24 * i));
        t = _mm256_permutevar8x32_epi32(t, lanes);
        t = _mm256_shuffle_epi8(t, groups);
        __m256i d = _mm256_add_epi32(_mm256_and_si256(t, m249),
                                     _mm256_and_si256(_mm256_srli_epi32(t, 1), m249));
        d = _mm256_add_epi32(d, _mm256_and_si256(_mm256_srli_epi32(t, 2), m249));
        /* Field j: x_j + 3 - y_j in [0, 6], no borrow between fields. */
        __m256i f = _mm256_sub_epi32(_mm256_add_epi32(_mm256_and_si256(d, m1c7), three),
                                     _mm256_and_si256(_mm256_srli_epi32(d, 3), m1c7));
        /* Groups 0-3 are coefficients 0..15 of this chunk, groups 4-7 are 16..31. */
        __m256i g0 = _mm256_permute4x64_epi64(f, 0x44);
        __m256i g1 = _mm256_permute4x64_epi64(f, 0xEE);
        g0 = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(g0, words), align), 13);
        g1 = _mm256_srli_epi16(_mm256_mullo_epi16(_mm256_shuffle_epi8(g1, words), align), 13);
        _mm256_store_si256((__m256i *)&r->coeffs[32 * i], _mm256_sub_epi16(g0, three16));
        _mm256_store_si256((__m256i *)&r->coeffs[32 * i + 16], _mm256_sub_epi16(g1, three16));
    }
}

static void cbd(pqify_poly *r, const uint8_t *buf, unsigned eta)
{
    if (eta == 3)
        cbd3(r, buf);
    else
        cbd2(r, buf);
}

/*
 * Polys r[0..n), n in 1..5, from one batch of PRF sponges: four in the 4-way
 * SHAKE-256 (lanes past n are computed into a scratch poly), a fifth in the
 * scalar state permuted alongside (keccak_x5_avx2.c), a lone one alone.
 */
static void cbd_batch(const pqify_keccak_x4_impl *impl, pqify_poly *r, unsigned n,
                      const uint8_t sigma[32], uint8_t nonce, unsigned eta)
{
    /* Two SHAKE-256 blocks (272 bytes) cover eta = 3's 192 plus cbd3's 8-byte overread. */
    _Alignas(32) uint8_t buf[5][2 * 136];
    uint8_t in[5][33];
    pqify_poly scratch;
    pqify_keccak_x4 st;
    uint64_t st1[25];
    const unsigned blocks = eta == 3 ? 2 : 1;
    const unsigned vec = n == 1 ? 0 : 4;
    const unsigned one = n == 1 || n == 5;
    pqify_poly *out[5];

    for (unsigned l = 0; l < 5; l++) {
        memcpy(in[l], sigma, 32);
        in[l][32] = (uint8_t)(nonce + l);
        out[l] = l < n ? &r[l] : &scratch;
    }
    /* The scalar lane, when there is one, takes the batch's last poly. */
    uint8_t *in1 = in[n - 1];
    if (vec)
        pqify_shake_x4_absorb_once(&st, impl, 136, in[0], in[1], in[2], in[3], 33);
    if (one)
        pqify_shake_x1_absorb_once(st1, 136, in1, 33);
    for (unsigned b = 0; b < blocks; b++) {
        const unsigned pos = 136 * b;
        if (vec && one)
            pqify_shake_x5_squeezeblock(&st, st1, 136, buf[0] + pos, buf[1] + pos, buf[2] + pos,
                                        buf[3] + pos, buf[4] + pos);
        else if (vec)
            pqify_shake_x4_squeezeblock(&st, 136, buf[0] + pos, buf[1] + pos, buf[2] + pos,
                                        buf[3] + pos);
        else
            pqify_shake_x1_squeezeblock(st1, 136, buf[0] + pos);
    }
    if (vec)
        for (unsigned l = 0; l < 4; l++)
            cbd(out[l], buf[l], eta);
    if (vec && one)
        cbd(out[4], buf[4], eta);
    if (!vec)
        cbd(out[0], buf[0], eta);

    pqify_zeroize(buf, sizeof buf);
    pqify_zeroize(in, sizeof in);
    pqify_zeroize(&scratch, sizeof scratch);
    pqify_zeroize(&st, sizeof st);
    pqify_zeroize(st1, sizeof st1);
}

static void sample_cbd(const pqify_keccak_x4_impl *impl, pqify_poly *r, unsigned count,
                       const uint8_t sigma[32], uint8_t nonce, unsigned eta)
{
    /* Batches of four, except that a remainder of five runs as 4 + 1 in one stream. */
    for (unsigned first = 0; first < count;) {
        const unsigned left = count - first;
        const unsigned n = left == 5 ? 5 : (left < 4 ? left : 4);
        cbd_batch(impl, &r[first], n, sigma, (uint8_t)(nonce + first), eta);
        first += n;
    }
}

void pqify_sample_cbd_avx2(pqify_poly *r, unsigned count, const uint8_t sigma[32], uint8_t nonce,
                           unsigned eta)
{
    sample_cbd(&pqify_keccak_x4_impl_avx2, r, count, sigma, nonce, eta);
}

void pqify_sample_cbd_avx512(pqify_poly *r, unsigned count, const uint8_t sigma[32],
                             uint8_t nonce, unsigned eta)
{
    sample_cbd(&pqify_keccak_x4_impl_avx512, r, count, sigma, nonce, eta);
}
