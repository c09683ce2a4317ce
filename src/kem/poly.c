/* Portable (de)serialisation and (de)compression (FIPS 203 §4.2.1, Alg. 5/6). */
#include "arith.h"
#include "portable.h"

/* ByteEncode_12: two coefficients in three bytes, little-endian bit order. */
void pqify_tobytes_portable(uint8_t r[384], const pqify_poly *a)
{
    for (unsigned i = 0; i < 128; i++) {
        uint16_t t0 = pqify_freeze(a->coeffs[2 * i]);
        uint16_t t1 = pqify_freeze(a->coeffs[2 * i + 1]);
        r[3 * i + 0] = (uint8_t)t0;
        r[3 * i + 1] = (uint8_t)((t0 >> 8) | (t1 << 4));
        r[3 * i + 2] = (uint8_t)(t1 >> 4);
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
    for (unsigned i = 0; i < 128; i++) {
        uint16_t t0 = (uint16_t)(a[3 * i] | ((a[3 * i + 1] & 0x0F) << 8));
        uint16_t t1 = (uint16_t)((a[3 * i + 1] >> 4) | (a[3 * i + 2] << 4));
        r->coeffs[2 * i] = reduce_once(t0);
        r->coeffs[2 * i + 1] = reduce_once(t1);
    }
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

static inline void compress_d(uint8_t *r, const pqify_poly *a, const unsigned d)
{
    uint64_t acc = 0;
    unsigned bits = 0;
    for (unsigned i = 0; i < 256; i++) {
        acc |= (uint64_t)compress_one(a->coeffs[i], d) << bits;
        bits += d;
        while (bits >= 8) {
            *r++ = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
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

/* Decompress_d(y) = round(q y / 2^d): only a shift by the public d. */
static inline void decompress_d(pqify_poly *r, const uint8_t *a, const unsigned d)
{
    uint64_t acc = 0;
    unsigned bits = 0;
    const uint32_t mask = (1u << d) - 1;
    for (unsigned i = 0; i < 256; i++) {
        while (bits < d) {
            acc |= (uint64_t)*a++ << bits;
            bits += 8;
        }
        uint32_t y = (uint32_t)acc & mask;
        acc >>= d;
        bits -= d;
        r->coeffs[i] = (int16_t)((y * 3329u + (1u << (d - 1))) >> d);
    }
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
