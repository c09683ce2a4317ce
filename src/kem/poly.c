/* Portable (de)serialisation and (de)compression (FIPS 203 §4.2.1, Alg. 5/6). */
#include "arith.h"
#include "portable.h"

/* ByteEncode_12: two coefficients in three bytes, little-endian bit order. */
void pqify_tobytes_portable(uint8_t r[384], const pqify_poly *a)
{
    uint16_t t[256];
    for (unsigned i = 0; i < 256; i++)
        t[i] = pqify_freeze(a->coeffs[i]);
    for (unsigned i = 0; i < 128; i++) {
        r[3 * i + 0] = (uint8_t)t[2 * i];
        r[3 * i + 1] = (uint8_t)((t[2 * i] >> 8) | (t[2 * i + 1] << 4));
        r[3 * i + 2] = (uint8_t)(t[2 * i + 1] >> 4);
    }
}

/* ByteDecode_12 takes each value mod q (Alg. 6, m = q): one conditional subtract. */
static inline int16_t reduce_once(uint16_t x)
{
    int16_t t = (int16_t)(x - 3329);
    return (int16_t)(t + ((t >> 15) & 3329));
}

void pqify_frombytes_portable(pqify_poly *r, const uint8_t a[384])
{
    uint16_t t[256];
    for (unsigned i = 0; i < 128; i++) {
        t[2 * i] = (uint16_t)(a[3 * i] | ((a[3 * i + 1] & 0x0F) << 8));
        t[2 * i + 1] = (uint16_t)((a[3 * i + 1] >> 4) | (a[3 * i + 2] << 4));
    }
    for (unsigned i = 0; i < 256; i++)
        r->coeffs[i] = reduce_once(t[i]);
}

/*
 * Compress_d(x) = round(2^d x / q) = floor((2^d x + (q-1)/2) / q). The
 * division by q is a multiply by ceil(2^35 / q) and a shift, exact for every
 * x in [0, q) and d <= 11 (checked exhaustively); a '/' here would leak
 * through variable-time division (KyberSlash).
 */
static inline uint32_t compress_one(int16_t a, unsigned d)
{
    uint64_t y = ((uint64_t)pqify_freeze(a) << d) + 1664;
    return (uint32_t)((y * 10321340u) >> 35) & ((1u << d) - 1);
}

/* ByteEncode_d of 256 values below 2^d, in fixed groups so every shift is a constant. */
static inline void pack_d(uint8_t *r, const uint16_t *t, const unsigned d)
{
    switch (d) {
    case 1:
        for (unsigned i = 0; i < 32; i++) {
            uint8_t b = 0;
            for (unsigned j = 0; j < 8; j++)
                b |= (uint8_t)(t[8 * i + j] << j);
            r[i] = b;
        }
        break;
    case 4:
        for (unsigned i = 0; i < 128; i++)
            r[i] = (uint8_t)(t[2 * i] | (t[2 * i + 1] << 4));
        break;
    case 10:
        for (unsigned i = 0; i < 64; i++) {
            const uint16_t *x = t + 4 * i;
            uint64_t v = (uint64_t)x[0] | ((uint64_t)x[1] << 10) | ((uint64_t)x[2] << 20) |
                         ((uint64_t)x[3] << 30);
            for (unsigned j = 0; j < 5; j++)
                r[5 * i + j] = (uint8_t)(v >> (8 * j));
        }
        break;
    default: /* 5 and 11: eight values fill d bytes exactly */
        for (unsigned i = 0; i < 32; i++) {
            const uint16_t *x = t + 8 * i;
            uint64_t lo = 0, hi = 0;
            for (unsigned j = 0; j < 8; j++) {
                const unsigned sh = j * d; /* constant once unrolled */
                if (sh < 64)
                    lo |= (uint64_t)x[j] << sh;
                if (sh < 64 && sh + d > 64)
                    hi |= (uint64_t)x[j] >> (64 - sh);
                else if (sh >= 64)
                    hi |= (uint64_t)x[j] << (sh - 64);
            }
            for (unsigned j = 0; j < d && j < 8; j++)
                r[d * i + j] = (uint8_t)(lo >> (8 * j));
            for (unsigned j = 8; j < d; j++)
                r[d * i + j] = (uint8_t)(hi >> (8 * (j - 8)));
        }
        break;
    }
}

static inline void compress_d(uint8_t *r, const pqify_poly *a, const unsigned d)
{
    /* Two passes: the arithmetic vectorises, the packing uses constant shifts. */
    uint16_t t[256];
    for (unsigned i = 0; i < 256; i++)
        t[i] = (uint16_t)compress_one(a->coeffs[i], d);
    pack_d(r, t, d);
}

void pqify_compress_portable(uint8_t *r, const pqify_poly *a, unsigned d)
{
    /* Dispatch on the public d so each loop is specialised. */
    switch (d) {
    case 1: compress_d(r, a, 1); break;
    case 4: compress_d(r, a, 4); break;
    case 5: compress_d(r, a, 5); break;
    case 10: compress_d(r, a, 10); break;
    case 11: compress_d(r, a, 11); break;
    default: break;
    }
}

/* ByteDecode_d into 256 values below 2^d, the inverse of pack_d. */
static inline void unpack_d(uint16_t *t, const uint8_t *a, const unsigned d)
{
    const uint16_t mask = (uint16_t)((1u << d) - 1);
    switch (d) {
    case 1:
        for (unsigned i = 0; i < 32; i++)
            for (unsigned j = 0; j < 8; j++)
                t[8 * i + j] = (uint16_t)((a[i] >> j) & 1);
        break;
    case 4:
        for (unsigned i = 0; i < 128; i++) {
            t[2 * i] = (uint16_t)(a[i] & 15);
            t[2 * i + 1] = (uint16_t)(a[i] >> 4);
        }
        break;
    case 10:
        for (unsigned i = 0; i < 64; i++) {
            uint64_t v = 0;
            for (unsigned j = 0; j < 5; j++)
                v |= (uint64_t)a[5 * i + j] << (8 * j);
            for (unsigned j = 0; j < 4; j++)
                t[4 * i + j] = (uint16_t)((v >> (10 * j)) & mask);
        }
        break;
    default: /* 5 and 11 */
        for (unsigned i = 0; i < 32; i++) {
            uint64_t lo = 0, hi = 0;
            for (unsigned j = 0; j < d && j < 8; j++)
                lo |= (uint64_t)a[d * i + j] << (8 * j);
            for (unsigned j = 8; j < d; j++)
                hi |= (uint64_t)a[d * i + j] << (8 * (j - 8));
            for (unsigned j = 0; j < 8; j++) {
                const unsigned sh = j * d;
                uint64_t v = 0;
                if (sh < 64)
                    v = lo >> sh;
                if (sh < 64 && sh + d > 64)
                    v |= hi << (64 - sh);
                else if (sh >= 64)
                    v = hi >> (sh - 64);
                t[8 * i + j] = (uint16_t)(v & mask);
            }
        }
        break;
    }
}

/* Decompress_d(y) = round(q y / 2^d): only a shift by the public d. */
static inline void decompress_d(pqify_poly *r, const uint8_t *a, const unsigned d)
{
    uint16_t t[256];
    unpack_d(t, a, d);
    for (unsigned i = 0; i < 256; i++)
        r->coeffs[i] = (int16_t)(((uint32_t)t[i] * 3329u + (1u << (d - 1))) >> d);
}

void pqify_decompress_portable(pqify_poly *r, const uint8_t *a, unsigned d)
{
    switch (d) {
    case 1: decompress_d(r, a, 1); break;
    case 4: decompress_d(r, a, 4); break;
    case 5: decompress_d(r, a, 5); break;
    case 10: decompress_d(r, a, 10); break;
    case 11: decompress_d(r, a, 11); break;
    default: break;
    }
}
