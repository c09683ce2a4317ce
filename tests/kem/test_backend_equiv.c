/*
 * Backend equivalence: every routine of every non-portable backend (avx2,
 * and avx512, which differs only in the samplers' Keccak) against the portable backend on random inputs within the
 * bounds backend.h documents, compared as backend.h prescribes (bytes for
 * tobytes/compress, values mod q for polys, NTT-domain polys through each
 * backend's own tobytes), plus the output bounds each routine promises; then
 * the six KEMs end to end on 100,000 random seeds in all (20,000 for avx512).
 *
 * The random stream is xoshiro256** from a seed printed at the start; set
 * PQIFY_EQUIV_SEED=<16 hex digits> to replay a failing run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kem/backend.h"
#include "kem/fips202.h"
#include "pqify/kem.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EQUIV_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EQUIV_SANITIZED 1
#endif

/* ---- random stream ------------------------------------------------------ */

static uint64_t rng_s[4];

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rnd64(void)
{
    const uint64_t r = rotl(rng_s[1] * 5, 7) * 9;
    const uint64_t t = rng_s[1] << 17;
    rng_s[2] ^= rng_s[0];
    rng_s[3] ^= rng_s[1];
    rng_s[1] ^= rng_s[2];
    rng_s[0] ^= rng_s[3];
    rng_s[2] ^= t;
    rng_s[3] = rotl(rng_s[3], 45);
    return r;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd64();
}

/* Uniform in [lo, hi] for small ranges (the bias of % is irrelevant here). */
static int16_t rnd_range(int lo, int hi) { return (int16_t)(lo + (int)(rnd64() % (uint64_t)(hi - lo + 1))); }

static void seed_rng(void)
{
    uint64_t seed;
    const char *env = getenv("PQIFY_EQUIV_SEED");
    if (env != NULL && *env != '\0')
        seed = strtoull(env, NULL, 16);
    else
        assert_int_equal(pqify_randombytes((uint8_t *)&seed, sizeof seed), PQIFY_OK);
    printf("PQIFY_EQUIV_SEED=%016llx\n", (unsigned long long)seed);
    /* splitmix64 expands the seed into the four words of state. */
    for (unsigned i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        rng_s[i] = z ^ (z >> 31);
    }
}

/* ---- the backends ------------------------------------------------------- */

static const pqify_kem_ops *P; /* portable */
static const pqify_kem_ops *X; /* the one under test */

static const pqify_kem_ops *select_backend(const char *name)
{
    assert_int_equal(pqify_kem_set_backend(name), PQIFY_OK);
    return pqify_kem_ops_active;
}

/*
 * If the CPU has what a backend needs, selecting it must work: a build that
 * silently left it out would otherwise pass by comparing portable with
 * itself. Without the CPU features, selecting it must fail.
 */
static int cpu_has(const char *name)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
               __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
    if (strcmp(name, "avx2") == 0)
        return avx2;
    if (strcmp(name, "avx512") == 0)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
    (void)name;
    return 0;
}

static int setup_backend(const char *name)
{
    P = select_backend("portable");
    assert_ptr_equal(P, &pqify_kem_ops_portable);
    if (cpu_has(name)) {
        X = select_backend(name);
        assert_string_equal(X->name, name);
        assert_true(X->available());
        assert_ptr_not_equal(X, P);
        printf("comparing backend %s with portable\n", name);
    } else {
        printf("this CPU or target lacks backend %s: nothing to compare\n", name);
        assert_int_equal(pqify_kem_set_backend(name), PQIFY_ERR_BACKEND);
        X = NULL;
    }
    assert_int_equal(pqify_kem_set_backend("portable"), PQIFY_OK);
    return 0;
}

/* Whole-KEM seeds per backend (all six KEMs together). */
static unsigned kem_seeds;

static int setup_avx2(void **state)
{
    (void)state;
    kem_seeds = 100000;
    return setup_backend("avx2");
}

/*
 * avx512 shares every routine but Keccak with avx2 (and the routine tests
 * above check its Keccak directly), so a fifth of the seeds keeps the run short.
 */
static int setup_avx512(void **state)
{
    (void)state;
    kem_seeds = 20000;
    return setup_backend("avx512");
}

/* With no second backend there is nothing to compare: the test says so and passes. */
#define NEED_X()                                                   \
    do {                                                           \
        if (X == NULL) {                                           \
            printf("no second backend on this CPU/target\n");      \
            return;                                                \
        }                                                          \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */

static int modq(int x) { return ((x % PQIFY_Q) + PQIFY_Q) % PQIFY_Q; }

static void assert_bound(const pqify_poly *a, int lo, int hi, const char *what)
{
    for (unsigned i = 0; i < PQIFY_N; i++)
        if (a->coeffs[i] < lo || a->coeffs[i] > hi)
            fail_msg("%s: coefficient %u = %d outside [%d, %d]", what, i, a->coeffs[i], lo, hi);
}

static void assert_equal_modq(const pqify_poly *a, const pqify_poly *b, const char *what)
{
    for (unsigned i = 0; i < PQIFY_N; i++)
        if (modq(a->coeffs[i]) != modq(b->coeffs[i]))
            fail_msg("%s: coefficient %u: %d vs %d mod q", what, i, a->coeffs[i], b->coeffs[i]);
}

static void rnd_poly(pqify_poly *a, int lo, int hi)
{
    for (unsigned i = 0; i < PQIFY_N; i++)
        a->coeffs[i] = rnd_range(lo, hi);
}

/*
 * An NTT-domain poly with |c| < q built from 384 random bytes with each
 * backend's own frombytes, then moved to (-q, 0) wherever the value is odd: a
 * rule that looks only at the value, so it treats both backends alike even
 * if one kept a private coefficient order.
 */
static void ntt_operand(const pqify_kem_ops *ops, pqify_poly *a, const uint8_t bytes[384])
{
    ops->frombytes(a, bytes);
    for (unsigned i = 0; i < PQIFY_N; i++)
        if (a->coeffs[i] & 1)
            a->coeffs[i] = (int16_t)(a->coeffs[i] - PQIFY_Q);
}

/* ---- Keccak --------------------------------------------------------------- */

static void test_keccakf1600(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 2000; it++) {
        uint64_t a[25], b[25];
        for (unsigned i = 0; i < 25; i++)
            a[i] = b[i] = rnd64();
        P->keccakf1600(a);
        X->keccakf1600(b);
        assert_memory_equal(a, b, sizeof a);
    }
}

static void test_keccakf1600_x4(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 2000; it++) {
        uint64_t st[100], ref[100], one[25];
        for (unsigned i = 0; i < 100; i++)
            st[i] = ref[i] = rnd64();
        X->keccakf1600_x4(st);
        /* Four single permutations on the de-interleaved instances (backend.h layout). */
        for (unsigned j = 0; j < 4; j++) {
            for (unsigned i = 0; i < 25; i++)
                one[i] = ref[4 * i + j];
            P->keccakf1600(one);
            for (unsigned i = 0; i < 25; i++)
                ref[4 * i + j] = one[i];
        }
        assert_memory_equal(st, ref, sizeof st);
    }
}

/* ---- NTT, inverse NTT, basemul ---------------------------------------------- */

static void test_ntt_tobytes(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 20000; it++) {
        pqify_poly a, b;
        uint8_t ra[384], rb[384];
        /* The extremes +-(q-1) in some runs, any value in (-q, q) in the rest. */
        if (it < 2)
            for (unsigned i = 0; i < PQIFY_N; i++)
                a.coeffs[i] = (int16_t)(it == 0 ? PQIFY_Q - 1 : -(PQIFY_Q - 1));
        else
            rnd_poly(&a, -(PQIFY_Q - 1), PQIFY_Q - 1);
        b = a;
        P->ntt(&a);
        X->ntt(&b);
        assert_bound(&b, -(PQIFY_Q - 1), PQIFY_Q - 1, "ntt");
        P->tobytes(ra, &a);
        X->tobytes(rb, &b);
        assert_memory_equal(ra, rb, 384);
    }
}

static void test_invntt(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 20000; it++) {
        pqify_poly a, b;
        uint8_t bytes[384];
        rnd_bytes(bytes, sizeof bytes);
        ntt_operand(P, &a, bytes);
        ntt_operand(X, &b, bytes);
        P->invntt(&a);
        X->invntt(&b);
        assert_bound(&b, -(PQIFY_Q - 1), PQIFY_Q - 1, "invntt");
        assert_equal_modq(&a, &b, "invntt");
    }
}

static void test_ntt_roundtrip(void **state)
{
    (void)state;
    NEED_X();
    /* invntt(ntt(a)) = a * R (R = 2^16 mod q = 2285), whatever the internal order. */
    for (unsigned it = 0; it < 5000; it++) {
        pqify_poly a, b;
        rnd_poly(&a, -(PQIFY_Q - 1), PQIFY_Q - 1);
        b = a;
        X->ntt(&b);
        X->invntt(&b);
        for (unsigned i = 0; i < PQIFY_N; i++)
            assert_int_equal(modq(b.coeffs[i]), modq(a.coeffs[i] * 2285));
    }
}

static void test_basemul_acc(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 6000; it++) {
        const unsigned k = 2 + it % 3;
        pqify_poly a[PQIFY_KMAX], b[PQIFY_KMAX], xa[PQIFY_KMAX], xb[PQIFY_KMAX], r, xr;
        uint8_t bytes[384], ra[384], rb[384];
        for (unsigned v = 0; v < k; v++) {
            rnd_bytes(bytes, sizeof bytes);
            ntt_operand(P, &a[v], bytes);
            ntt_operand(X, &xa[v], bytes);
            rnd_bytes(bytes, sizeof bytes);
            ntt_operand(P, &b[v], bytes);
            ntt_operand(X, &xb[v], bytes);
        }
        P->basemul_acc(&r, a, b, k);
        X->basemul_acc(&xr, xa, xb, k);
        assert_bound(&xr, -(PQIFY_Q - 1), PQIFY_Q - 1, "basemul_acc");
        P->tobytes(ra, &r);
        X->tobytes(rb, &xr);
        assert_memory_equal(ra, rb, 384);
    }
}

/* ---- (de)serialisation and (de)compression ------------------------------------ */

static void test_frombytes(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 20000; it++) {
        pqify_poly a, b;
        uint8_t bytes[384], ra[384], rb[384];
        /* All-ones bytes give 4095 everywhere, the largest value mod q reduces. */
        if (it == 0)
            memset(bytes, 0xFF, sizeof bytes);
        else
            rnd_bytes(bytes, sizeof bytes);
        P->frombytes(&a, bytes);
        X->frombytes(&b, bytes);
        assert_bound(&b, 0, PQIFY_Q - 1, "frombytes");
        P->tobytes(ra, &a);
        X->tobytes(rb, &b);
        assert_memory_equal(ra, rb, 384);
    }
}

/*
 * tobytes takes any int16: every value appears once across 256 NTT-domain
 * polys. Feeding both backends the same array assumes the FIPS 203 order
 * that the AVX2 backend keeps (a backend with a private order would build its
 * input through its own frombytes, as the tests above do).
 */
static void test_tobytes_all_int16(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned p = 0; p < 256; p++) {
        pqify_poly a;
        uint8_t ra[384], rb[384];
        for (unsigned i = 0; i < PQIFY_N; i++)
            a.coeffs[i] = (int16_t)(uint16_t)(256 * p + i);
        P->tobytes(ra, &a);
        X->tobytes(rb, &a);
        assert_memory_equal(ra, rb, 384);
    }
}

static const unsigned ds[] = {1, 4, 5, 10, 11};

static void test_compress(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned di = 0; di < 5; di++) {
        const unsigned d = ds[di];
        uint8_t ra[32 * 11], rb[32 * 11];
        /* Every int16 value once (256 polys of 256), then random polys in (-q, q) and beyond. */
        for (unsigned p = 0; p < 256 + 4000; p++) {
            pqify_poly a;
            if (p < 256)
                for (unsigned i = 0; i < PQIFY_N; i++)
                    a.coeffs[i] = (int16_t)(uint16_t)(256 * p + i);
            else if (p % 2)
                rnd_poly(&a, -(PQIFY_Q - 1), PQIFY_Q - 1);
            else
                rnd_poly(&a, -32768, 32767);
            memset(ra, 0xAA, sizeof ra);
            memset(rb, 0x55, sizeof rb);
            P->compress(ra, &a, d);
            X->compress(rb, &a, d);
            assert_memory_equal(ra, rb, 32 * d);
            /* Nothing written past 32 d bytes. */
            for (unsigned i = 32 * d; i < sizeof rb; i++)
                assert_int_equal(rb[i], 0x55);
        }
    }
}

static void test_decompress(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned di = 0; di < 5; di++) {
        const unsigned d = ds[di];
        for (unsigned it = 0; it < 4000; it++) {
            uint8_t bytes[32 * 11];
            pqify_poly a, b;
            if (it == 0)
                memset(bytes, 0xFF, sizeof bytes);
            else
                rnd_bytes(bytes, sizeof bytes);
            P->decompress(&a, bytes, d);
            X->decompress(&b, bytes, d);
            /* backend.h: exactly round(q y / 2^d), in [0, q). */
            assert_memory_equal(a.coeffs, b.coeffs, sizeof a.coeffs);
            assert_bound(&b, 0, PQIFY_Q - 1, "decompress");
        }
    }
}

/* ---- sampling --------------------------------------------------------------- */

/*
 * How many SHAKE-128 output bytes SampleNTT(rho || x || y) consumes, counted
 * independently of both backends' samplers, to show that the runs below
 * include entries that need more than the first blocks.
 */
static size_t sample_ntt_bytes(const uint8_t rho[32], uint8_t x, uint8_t y)
{
    uint8_t in[34], buf[168 * 8];
    memcpy(in, rho, 32);
    in[32] = x;
    in[33] = y;
    pqify_shake128(buf, sizeof buf, in, sizeof in);
    unsigned ctr = 0;
    size_t pos = 0;
    for (; ctr < PQIFY_N; pos += 3) {
        if (pos + 3 > sizeof buf)
            return sizeof buf + 1;
        unsigned d1 = buf[pos] | ((buf[pos + 1] & 0x0Fu) << 8);
        unsigned d2 = (buf[pos + 1] >> 4) | ((unsigned)buf[pos + 2] << 4);
        ctr += d1 < PQIFY_Q;
        if (ctr < PQIFY_N)
            ctr += d2 < PQIFY_Q;
    }
    return pos;
}

static void test_gen_matrix(void **state)
{
    (void)state;
    NEED_X();
    unsigned long long long_entries = 0;
    for (unsigned it = 0; it < 1500; it++) {
        const unsigned k = 2 + it % 3;
        const int transposed = (int)((it / 3) % 2);
        uint8_t rho[32], ra[384], rb[384];
        pqify_poly A[PQIFY_KMAX * PQIFY_KMAX], B[PQIFY_KMAX * PQIFY_KMAX];
        rnd_bytes(rho, sizeof rho);
        P->gen_matrix(A, rho, k, transposed);
        X->gen_matrix(B, rho, k, transposed);
        for (unsigned e = 0; e < k * k; e++) {
            assert_bound(&B[e], 0, PQIFY_Q - 1, "gen_matrix");
            P->tobytes(ra, &A[e]);
            X->tobytes(rb, &B[e]);
            if (memcmp(ra, rb, 384) != 0)
                fail_msg("gen_matrix k=%u transposed=%d entry %u differs", k, transposed, e);
            /* A 3-block (504-byte) first squeeze is the common batching choice. */
            if (sample_ntt_bytes(rho, (uint8_t)(e % k), (uint8_t)(e / k)) > 504)
                long_entries++;
        }
    }
    printf("gen_matrix: %llu entries needed more than 504 bytes of SHAKE-128\n", long_entries);
    assert_true(long_entries > 0);
}

static void test_sample_cbd(void **state)
{
    (void)state;
    NEED_X();
    for (unsigned it = 0; it < 4000; it++) {
        const unsigned eta = 2 + it % 2;
        const unsigned count = 1 + (unsigned)(rnd64() % (2 * PQIFY_KMAX + 1));
        const uint8_t nonce = (uint8_t)rnd64();
        uint8_t sigma[32];
        pqify_poly a[2 * PQIFY_KMAX + 1], b[2 * PQIFY_KMAX + 2];
        rnd_bytes(sigma, sizeof sigma);
        /* A canary poly after the last one the backend may write. */
        memset(b, 0x5A, sizeof b);
        P->sample_cbd(a, count, sigma, nonce, eta);
        X->sample_cbd(b, count, sigma, nonce, eta);
        for (unsigned i = 0; i < count; i++) {
            assert_bound(&b[i], -(int)eta, (int)eta, "sample_cbd");
            assert_memory_equal(a[i].coeffs, b[i].coeffs, sizeof a[i].coeffs);
        }
        for (unsigned i = 0; i < PQIFY_N; i++)
            assert_int_equal((uint16_t)b[count].coeffs[i], 0x5A5A);
    }
}

/* ---- whole KEMs ---------------------------------------------------------------- */

static void use(const char *name) { assert_int_equal(pqify_kem_set_backend(name), PQIFY_OK); }

static void kem_runs(const pqify_kem *kem, unsigned runs)
{
    uint8_t seed[64], m[32];
    uint8_t ek[2][PQIFY_MLKEM1024_EK_BYTES], dk[2][PQIFY_MLKEM1024_DK_BYTES];
    uint8_t ct[2][PQIFY_MLKEM1024_CT_BYTES], bad[PQIFY_MLKEM1024_CT_BYTES];
    uint8_t ss[2][32], ss2[2][32], ss_rej[2][32];
    const char *names[2] = {P->name, X->name};

    for (unsigned it = 0; it < runs; it++) {
        rnd_bytes(seed, sizeof seed);
        rnd_bytes(m, sizeof m);
        memset(bad, 0, sizeof bad);
        /* A ciphertext with one bit flipped: the implicit-rejection path. */
        for (unsigned b = 0; b < 2; b++) {
            use(names[b]);
            assert_int_equal(kem->keypair_derand(ek[b], dk[b], seed), PQIFY_OK);
            assert_int_equal(kem->encaps_derand(ct[b], ss[b], ek[b], m), PQIFY_OK);
            assert_int_equal(kem->decaps(ss2[b], ct[b], dk[b]), PQIFY_OK);
            assert_memory_equal(ss[b], ss2[b], 32);
            if (b == 0) {
                memcpy(bad, ct[0], kem->ct_bytes);
                uint64_t r = rnd64();
                bad[(r >> 8) % kem->ct_bytes] ^= (uint8_t)(1u << (r & 7));
            }
            assert_int_equal(kem->decaps(ss_rej[b], bad, dk[b]), PQIFY_OK);
        }
        if (memcmp(ek[0], ek[1], kem->ek_bytes) != 0 || memcmp(dk[0], dk[1], kem->dk_bytes) != 0 ||
            memcmp(ct[0], ct[1], kem->ct_bytes) != 0 || memcmp(ss[0], ss[1], 32) != 0 ||
            memcmp(ss_rej[0], ss_rej[1], 32) != 0)
            fail_msg("%s: backends differ at run %u", kem->name, it);
        assert_memory_not_equal(ss_rej[1], ss[1], 32);

        /* ML-KEM's modulus check (FIPS 203 §7.2) rejects the same ek on both. */
        if (kem->is_mlkem && it % 64 == 0) {
            ek[0][0] = 0xFF;
            ek[0][1] |= 0x0F; /* first coefficient 4095 >= q */
            for (unsigned b = 0; b < 2; b++) {
                use(names[b]);
                assert_int_equal(kem->encaps_derand(ct[b], ss[b], ek[0], m), PQIFY_ERR_INVALID_EK);
            }
        }
    }
    use("portable");
}

static void test_kems(void **state)
{
    (void)state;
    NEED_X();
    unsigned per = kem_seeds / 6 + 1;
#ifdef EQUIV_SANITIZED
    /* Sanitized builds are ~10x slower; the Release run covers the full count. */
    per /= 10;
#endif
    for (size_t i = 0; pqify_kems[i] != NULL; i++)
        kem_runs(pqify_kems[i], per);
    printf("whole KEMs: %u seeds per KEM, %u in all\n", per, 6 * per);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keccakf1600),
        cmocka_unit_test(test_keccakf1600_x4),
        cmocka_unit_test(test_ntt_tobytes),
        cmocka_unit_test(test_invntt),
        cmocka_unit_test(test_ntt_roundtrip),
        cmocka_unit_test(test_basemul_acc),
        cmocka_unit_test(test_frombytes),
        cmocka_unit_test(test_tobytes_all_int16),
        cmocka_unit_test(test_compress),
        cmocka_unit_test(test_decompress),
        cmocka_unit_test(test_gen_matrix),
        cmocka_unit_test(test_sample_cbd),
        cmocka_unit_test(test_kems),
    };
    seed_rng();
    int failed = cmocka_run_group_tests_name("avx2", tests, setup_avx2, NULL);
    failed += cmocka_run_group_tests_name("avx512", tests, setup_avx512, NULL);
    return failed;
}
