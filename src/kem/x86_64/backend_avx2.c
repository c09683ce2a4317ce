/*
 * The AVX2 backend table and its CPU check, and the avx512 variant that
 * only swaps the samplers' 4-way Keccak. A table is only selected when its
 * available() says this CPU and OS run everything its files use: AVX2 with
 * the OS saving YMM state, BMI1 (andn in Keccak), BMI2 (pext in compress and
 * rejection sampling, rorx) and POPCNT; for avx512 also AVX512F/VL with the
 * ZMM and opmask state saved.
 */
#include <cpuid.h>

#include "../fips202.h"
#include "avx2.h"

/* CPUID and XCR0 bits (Intel SDM Vol. 2A CPUID; Vol. 1 §13.3 for XCR0). */
#define XCR0_YMM 0x06u  /* XMM and YMM state */
#define XCR0_ZMM 0xE0u  /* opmask, ZMM_Hi256, Hi16_ZMM state */

static unsigned xcr0(void)
{
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return lo;
}

/* CPUID.7.0:EBX, or 0 when leaf 7 or the OS's YMM support is missing. */
static unsigned leaf7_ebx(void)
{
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7)
        return 0;
    __cpuid(1, a, b, c, d);
    const unsigned osxsave = 1u << 27, avx = 1u << 28, popcnt = 1u << 23;
    if ((c & (osxsave | avx | popcnt)) != (osxsave | avx | popcnt))
        return 0;
    /* xgetbv is only valid once OSXSAVE is known to be set. */
    if ((xcr0() & XCR0_YMM) != XCR0_YMM)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return b;
}

static int avx2_available(void)
{
    const unsigned bmi1 = 1u << 3, avx2 = 1u << 5, bmi2 = 1u << 8;
    return (leaf7_ebx() & (bmi1 | avx2 | bmi2)) == (bmi1 | avx2 | bmi2);
}

/* The avx512 backend adds AVX512F and AVX512VL, and the OS must save the ZMM/opmask state. */
static int avx512_available(void)
{
    const unsigned avx512f = 1u << 16, avx512vl = 1u << 31;
    if (!avx2_available())
        return 0;
    if ((leaf7_ebx() & (avx512f | avx512vl)) != (avx512f | avx512vl))
        return 0;
    return (xcr0() & (XCR0_YMM | XCR0_ZMM)) == (XCR0_YMM | XCR0_ZMM);
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

/*
 * The same routines with Keccak on AVX-512VL (vprolq, vpternlogq on 256-bit
 * vectors): the samplers' 4-way permutation and the one-at-a-time one;
 * everything else is shared with the AVX2 table.
 */
const pqify_kem_ops pqify_kem_ops_avx512 = {
    .name = "avx512",
    .available = avx512_available,
    .keccakf1600 = pqify_keccakf1600_x1_avx512,
    .keccakf1600_x4 = pqify_keccakf1600_x4_avx512,
    .ntt = pqify_ntt_avx2,
    .invntt = pqify_invntt_avx2,
    .basemul_acc = pqify_basemul_acc_avx2,
    .tobytes = pqify_tobytes_avx2,
    .frombytes = pqify_frombytes_avx2,
    .compress = pqify_compress_avx2,
    .decompress = pqify_decompress_avx2,
    .gen_matrix = pqify_gen_matrix_avx512,
    .sample_cbd = pqify_sample_cbd_avx512,
};
