/*
 * The AVX2 backend table and its CPU check. The table is only selected when
 * available() says this CPU and OS run everything the backend's files use:
 * AVX2 with the OS saving YMM state, BMI1 (andn in Keccak), BMI2 (pext in
 * compress and rejection sampling, rorx) and POPCNT.
 */
#include <cpuid.h>

#include "../fips202.h"
#include "avx2.h"

/* XCR0 bits 1 and 2: the OS saves and restores the XMM and YMM state (Intel SDM Vol. 1 §13.3). */
#define XCR0_SSE_AVX 0x6u

static int avx2_available(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid(1, a, b, c, d);
    const unsigned osxsave = 1u << 27, avx = 1u << 28, popcnt = 1u << 23;
    if ((c & (osxsave | avx | popcnt)) != (osxsave | avx | popcnt))
        return 0;
    /* xgetbv(0) is only valid once OSXSAVE is known to be set. */
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    if ((xlo & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned bmi1 = 1u << 3, avx2 = 1u << 5, bmi2 = 1u << 8;
    return (b & (bmi1 | avx2 | bmi2)) == (bmi1 | avx2 | bmi2);
}

const pqify_kem_ops pqify_kem_ops_avx2 = {
    .name = "avx2",
    .available = avx2_available,
    .keccakf1600 = pqify_keccakf1600_avx2,
    .keccakf1600_x4 = pqify_keccakf1600_x4_avx2,
    .ntt = pqify_ntt_avx2,
    .invntt = pqify_invntt_avx2,
    .basemul_acc = pqify_basemul_acc_avx2,
    .tobytes = pqify_tobytes_avx2,
    .frombytes = pqify_frombytes_avx2,
    .compress = pqify_compress_avx2,
    .decompress = pqify_decompress_avx2,
    .gen_matrix = pqify_gen_matrix_avx2,
    .sample_cbd = pqify_sample_cbd_avx2,
};
