/*
 * Serialisation and compression (FIPS 203 §4.2.1, Alg. 5/6): ByteEncode_12 /
 * ByteDecode_12 of NTT-domain polys and ByteEncode_d(Compress_d) /
 * Decompress_d(ByteDecode_d) for d in {1, 4, 5, 10, 11}. The arithmetic is
 * done 16 lanes at a time; the d-bit packing uses BMI2 pext/pdep, whose
 * masks are public constants. Every byte written equals the portable one.
 */
#include <string.h>

#include "avx2.h"
#include "pqify/kem.h"

/* ByteEncode_12: 16 canonical coefficients, paired into 24-bit words, give 24 bytes. */
void pqify_tobytes_avx2(uint8_t r[384], const pqify_poly *a)
{
    const __m256i pair = _mm256_set1_epi32(1 | (4096 << 16)); /* c_even + 2^12 c_odd */
    const __m256i pick = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                          0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    for (unsigned i = 0; i < 16; i++) {
        __m256i v = pqify_avx2_freeze(_mm256_load_si256((const __m256i *)&a->coeffs[16 * i]));
        v = _mm256_madd_epi16(v, pair);
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick), join);
        if (i < 15) {
            /* Bytes 24..31 are garbage that the next store overwrites. */
            _mm256_storeu_si256((__m256i *)(r + 24 * i), v);
        } else {
            _mm_storeu_si128((__m128i *)(r + 24 * i), _mm256_castsi256_si128(v));
            _mm_storel_epi64((__m128i *)(r + 24 * i + 16), _mm256_extracti128_si256(v, 1));
        }
    }
}

/* ByteDecode_12 then mod q (Alg. 6): min(x, x - q) as unsigned is one conditional subtract. */
void pqify_frombytes_avx2(pqify_poly *r, const uint8_t a[384])
{
    const __m256i q = PQIFY_AVX2_Q;
    const __m256i mask12 = _mm256_set1_epi16(0x0FFF);
    /* Lane 0 reads bytes 0..11 of the chunk, lane 1 bytes 12..23. */
    const __m256i spread = _mm256_setr_epi8(0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11,
                                            0, 1, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10, 10, 11);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6);
    /* The last chunk is loaded 8 bytes early so the load stays inside a[]. */
    const __m256i lanes_last = _mm256_setr_epi32(2, 3, 4, 5, 5, 6, 7, 7);
    for (unsigned i = 0; i < 16; i++) {
        __m256i v;
        if (i < 15)
            v = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(a + 24 * i)), lanes);
        else
            v = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(a + 24 * i - 8)),
                                            lanes_last);
        v = _mm256_shuffle_epi8(v, spread);
        v = _mm256_blend_epi16(_mm256_and_si256(v, mask12), _mm256_srli_epi16(v, 4), 0xAA);
        v = _mm256_min_epu16(v, _mm256_sub_epi16(v, q));
        _mm256_store_si256((__m256i *)&r->coeffs[16 * i], v);
    }
}

/*
 * Compress_d(x) = round(2^d x / q) mod 2^d for x in [0, q), as
 * (x M + C) >> S in 32-bit lanes: constants found by search and checked for
 * every x in [0, q) (tests/kem/test_backend_equiv.c checks every int16 input
 * against the portable multiply-shift). No division (KyberSlash).
 */
static inline __m256i compress16(__m256i x, __m256i m, __m256i c, __m128i s, __m256i mask)
{
    const __m256i zero = _mm256_setzero_si256();
    x = pqify_avx2_freeze(x);
    __m256i lo = _mm256_unpacklo_epi16(x, zero);
    __m256i hi = _mm256_unpackhi_epi16(x, zero);
    lo = _mm256_srl_epi32(_mm256_add_epi32(_mm256_mullo_epi32(lo, m), c), s);
    hi = _mm256_srl_epi32(_mm256_add_epi32(_mm256_mullo_epi32(hi, m), c), s);
    /* packus undoes the unpack order; values are masked below 2^11 first. */
    return _mm256_packus_epi32(_mm256_and_si256(lo, mask), _mm256_and_si256(hi, mask));
}

static inline uint64_t load64(const uint16_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

void pqify_compress_avx2(uint8_t *r, const pqify_poly *a, unsigned d)
{
    uint32_t mul, add, shift;
    switch (d) {
    case 1: mul = 315; add = 1u << 18; shift = 19; break;
    case 4: mul = 315; add = 1u << 15; shift = 16; break;
    case 5: mul = 315; add = 1u << 14; shift = 15; break;
    case 10: mul = 161271; add = 262080; shift = 19; break;
    case 11: mul = 161271; add = 131008; shift = 18; break;
    default: return;
    }
    const __m256i m = _mm256_set1_epi32((int32_t)mul), c = _mm256_set1_epi32((int32_t)add);
    const __m128i s = _mm_cvtsi32_si128((int)shift);
    const __m256i mask = _mm256_set1_epi32((int32_t)((1u << d) - 1));

    if (d == 1) {
        /* One bit per coefficient: the sign bits of 32 lanes make 4 bytes. */
        for (unsigned i = 0; i < 8; i++) {
            __m256i y0 = compress16(_mm256_load_si256((const __m256i *)&a->coeffs[32 * i]), m, c, s, mask);
            __m256i y1 = compress16(_mm256_load_si256((const __m256i *)&a->coeffs[32 * i + 16]), m, c, s, mask);
            __m256i b = _mm256_packs_epi16(_mm256_slli_epi16(y0, 15), _mm256_slli_epi16(y1, 15));
            b = _mm256_permute4x64_epi64(b, 0xD8);
            uint32_t bits = (uint32_t)_mm256_movemask_epi8(b);
            memcpy(r + 4 * i, &bits, 4);
        }
        return;
    }

    if (d == 4) {
        /* Two 4-bit values per byte: pack to bytes, pair them with vpmaddubsw, pack again. */
        const __m256i nib = _mm256_set1_epi16(1 | 16 << 8);
        for (unsigned i = 0; i < 8; i++) {
            __m256i y0 = compress16(_mm256_load_si256((const __m256i *)&a->coeffs[32 * i]), m, c, s, mask);
            __m256i y1 = compress16(_mm256_load_si256((const __m256i *)&a->coeffs[32 * i + 16]), m, c, s, mask);
            __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(y0, y1), 0xD8);
            b = _mm256_maddubs_epi16(b, nib);
            b = _mm256_permute4x64_epi64(_mm256_packus_epi16(b, b), 0x08);
            _mm_storeu_si128((__m128i *)(r + 16 * i), _mm256_castsi256_si128(b));
        }
        return;
    }
    if (d == 10) {
        /* Pairs into 20-bit dwords (vpmaddwd), dword pairs into 40-bit qwords, 5 bytes each. */
        const __m256i pair = _mm256_set1_epi32(1 | 1024 << 16);
        const __m256i lo20 = _mm256_set1_epi64x(0xFFFFF);
        const __m256i pick = _mm256_setr_epi8(0, 1, 2, 3, 4, 8, 9, 10, 11, 12, -1, -1, -1, -1, -1, -1,
                                              0, 1, 2, 3, 4, 8, 9, 10, 11, 12, -1, -1, -1, -1, -1, -1);
        for (unsigned i = 0; i < 16; i++) {
            __m256i y = compress16(_mm256_load_si256((const __m256i *)&a->coeffs[16 * i]), m, c, s, mask);
            y = _mm256_madd_epi16(y, pair);
            y = _mm256_or_si256(_mm256_and_si256(y, lo20), _mm256_slli_epi64(_mm256_srli_epi64(y, 32), 20));
            y = _mm256_shuffle_epi8(y, pick);
            /* 10 bytes per lane; each 16-byte store's tail is overwritten by the next one. */
            _mm_storeu_si128((__m128i *)(r + 20 * i), _mm256_castsi256_si128(y));
            if (i < 15) {
                _mm_storeu_si128((__m128i *)(r + 20 * i + 10), _mm256_extracti128_si256(y, 1));
            } else {
                uint8_t last[16];
                _mm_storeu_si128((__m128i *)last, _mm256_extracti128_si256(y, 1));
                memcpy(r + 20 * i + 10, last, 10);
            }
        }
        return;
    }

    _Alignas(32) uint16_t y[PQIFY_N];
    for (unsigned i = 0; i < 16; i++)
        _mm256_store_si256((__m256i *)&y[16 * i],
                           compress16(_mm256_load_si256((const __m256i *)&a->coeffs[16 * i]), m, c, s, mask));

    /* ByteEncode_d: little-endian bit order, so pext of each 16-bit field is the encoding. */
    switch (d) {
    case 4:
        for (unsigned i = 0; i < 64; i++) {
            uint16_t b = (uint16_t)_pext_u64(load64(&y[4 * i]), 0x000F000F000F000FULL);
            memcpy(r + 2 * i, &b, 2);
        }
        break;
    case 5:
        for (unsigned i = 0; i < 32; i++) {
            uint64_t b = _pext_u64(load64(&y[8 * i]), 0x001F001F001F001FULL) |
                         _pext_u64(load64(&y[8 * i + 4]), 0x001F001F001F001FULL) << 20;
            memcpy(r + 5 * i, &b, 5);
        }
        break;
    case 10:
        for (unsigned i = 0; i < 64; i++) {
            uint64_t b = _pext_u64(load64(&y[4 * i]), 0x03FF03FF03FF03FFULL);
            memcpy(r + 5 * i, &b, 5);
        }
        break;
    case 11:
        for (unsigned i = 0; i < 32; i++) {
            uint64_t lo = _pext_u64(load64(&y[8 * i]), 0x07FF07FF07FF07FFULL);
            uint64_t hi = _pext_u64(load64(&y[8 * i + 4]), 0x07FF07FF07FF07FFULL);
            uint64_t b0 = lo | hi << 44;
            uint32_t b1 = (uint32_t)(hi >> 20);
            memcpy(r + 11 * i, &b0, 8);
            memcpy(r + 11 * i + 8, &b1, 3);
        }
        break;
    default: break;
    }
    pqify_zeroize(y, sizeof y);
}

/*
 * Decompress_d(y) = round(q y / 2^d) = (y 2^(15-d) q + 2^14) >> 15: one
 * vpmulhrsw per 16 coefficients once the d-bit fields sit in 16-bit lanes.
 */
static inline __m256i scale(__m256i y, unsigned d)
{
    return _mm256_mulhrs_epi16(_mm256_sll_epi16(y, _mm_cvtsi32_si128((int)(15 - d))), PQIFY_AVX2_Q);
}

/*
 * ByteDecode_d of 16 coefficients from 2d bytes, d in {4, 5, 10, 11}: lane 0
 * holds the bytes of coefficients 0..7, lane 1 those of 8..15 (from byte d).
 * Coefficient i of a lane starts at bit d i: the dword at byte (d i) / 8,
 * shifted right by (d i) % 8, holds it (d + 7 <= 32).
 */
static inline __m256i decode16(const uint8_t *p, unsigned d, __m256i lo_ctl, __m256i hi_ctl,
                               __m256i lo_sh, __m256i hi_sh, __m256i mask)
{
    __m256i src = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                                          _mm_loadu_si128((const __m128i *)(p + d)), 1);
    __m256i a = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(src, lo_ctl), lo_sh), mask);
    __m256i b = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(src, hi_ctl), hi_sh), mask);
    /* a: coefficients 0-3 | 8-11, b: 4-7 | 12-15; packus restores the order. */
    return _mm256_packus_epi32(a, b);
}

/* Byte b of the dword holding coefficient i of a lane, and that coefficient's bit shift. */
#define DW(d, i) (d) * (i) / 8, (d) * (i) / 8 + 1, (d) * (i) / 8 + 2, (d) * (i) / 8 + 3
#define CTL(d, h) \
    _mm256_setr_epi8(DW(d, 4 * (h)), DW(d, 4 * (h) + 1), DW(d, 4 * (h) + 2), DW(d, 4 * (h) + 3), \
                     DW(d, 4 * (h)), DW(d, 4 * (h) + 1), DW(d, 4 * (h) + 2), DW(d, 4 * (h) + 3))
#define SH4(d, h) (d) * 4 * (h) % 8, (d) * (4 * (h) + 1) % 8, (d) * (4 * (h) + 2) % 8, (d) * (4 * (h) + 3) % 8
#define SH(d, h) _mm256_setr_epi32(SH4(d, h), SH4(d, h))

static inline void decompress_d(pqify_poly *r, const uint8_t *a, const unsigned d)
{
    const __m256i lo_ctl = CTL(d, 0), hi_ctl = CTL(d, 1);
    const __m256i lo_sh = SH(d, 0), hi_sh = SH(d, 1);
    const __m256i mask = _mm256_set1_epi32((int32_t)((1u << d) - 1));

    /* The loads read 16 bytes from p + d; the last chunks go through a padded copy. */
    unsigned i = 0;
    for (; i < 16 && 2 * d * i + d + 16 <= 32 * d; i++)
        _mm256_store_si256((__m256i *)&r->coeffs[16 * i],
                           scale(decode16(a + 2 * d * i, d, lo_ctl, hi_ctl, lo_sh, hi_sh, mask), d));
    for (; i < 16; i++) {
        uint8_t pad[32] = {0};
        memcpy(pad, a + 2 * d * i, 2 * d);
        _mm256_store_si256((__m256i *)&r->coeffs[16 * i],
                           scale(decode16(pad, d, lo_ctl, hi_ctl, lo_sh, hi_sh, mask), d));
    }
}

void pqify_decompress_avx2(pqify_poly *r, const uint8_t *a, unsigned d)
{
    if (d == 1) {
        /* Bit i of each 16-bit chunk selects 1665 = round(q / 2) without a branch. */
        const __m256i bits = _mm256_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048,
                                               4096, 8192, 16384, (int16_t)0x8000);
        const __m256i half = _mm256_set1_epi16(1665);
        for (unsigned i = 0; i < 16; i++) {
            uint16_t w = (uint16_t)(a[2 * i] | a[2 * i + 1] << 8);
            __m256i v = _mm256_and_si256(_mm256_set1_epi16((int16_t)w), bits);
            v = _mm256_and_si256(_mm256_cmpeq_epi16(v, bits), half);
            _mm256_store_si256((__m256i *)&r->coeffs[16 * i], v);
        }
        return;
    }
    switch (d) {
    case 4: decompress_d(r, a, 4); break;
    case 5: decompress_d(r, a, 5); break;
    case 10: decompress_d(r, a, 10); break;
    case 11: decompress_d(r, a, 11); break;
    default: break;
    }
}
