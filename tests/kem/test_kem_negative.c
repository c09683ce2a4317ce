/*
 * Negative tests for the KEM API: wrong lengths and NULLs through the
 * length-checked calls, invalid encapsulation keys (FIPS 203 §7.2), corrupted
 * decapsulation keys (§7.3), tampered ciphertexts (implicit rejection, with
 * the rejection key recomputed here with OpenSSL's SHAKE256/SHA3-256), and
 * the RNG path, including a failing getrandom(2).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "pqify/kem.h"

#define MAXB 3200
#define Q 3329

/* ---- getrandom(2) interposer ------------------------------------------------
 * The test binary's own getrandom() takes precedence over libc's for the
 * static pqify_kem library, so the RNG code can be driven through EINTR,
 * short reads and hard failures. In RNG_REAL mode it is the real syscall. */
enum rng_mode { RNG_REAL, RNG_EINTR_ONCE, RNG_ONE_BYTE, RNG_FAIL, RNG_ZERO };
static enum rng_mode rng_mode = RNG_REAL;
static int rng_calls;

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
    rng_calls++;
    switch (rng_mode) {
    case RNG_EINTR_ONCE:
        if (rng_calls == 1) {
            errno = EINTR;
            return -1;
        }
        break;
    case RNG_ONE_BYTE:
        if (len > 1)
            len = 1;
        break;
    case RNG_FAIL:
        errno = ENOSYS;
        return -1;
    case RNG_ZERO:
        return 0;
    case RNG_REAL:
        break;
    }
    return syscall(SYS_getrandom, buf, len, flags);
}

/* ---- helpers -------------------------------------------------------------- */

static void keypair_from(const pqify_kem *kem, uint8_t *ek, uint8_t *dk, uint8_t tag)
{
    uint8_t seed[64];
    for (int i = 0; i < 64; i++)
        seed[i] = (uint8_t)(tag * 17 + i);
    assert_int_equal(kem->keypair_derand(ek, dk, seed), PQIFY_OK);
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static unsigned kem_k(const pqify_kem *kem) { return (unsigned)((kem->ek_bytes - 32) / 384); }

/* Set coefficient i of polynomial j of t^ in ek (ByteEncode_12 layout) to v. */
static void set_coeff(uint8_t *ek, unsigned j, unsigned i, unsigned v)
{
    uint8_t *p = ek + 384 * j + 3 * (i / 2);
    if (i % 2 == 0) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)((p[1] & 0xF0) | (v >> 8));
    } else {
        p[1] = (uint8_t)((p[1] & 0x0F) | ((v & 0x0F) << 4));
        p[2] = (uint8_t)(v >> 4);
    }
}

static void shake256_ossl(uint8_t *out, size_t outlen, const uint8_t *a, size_t alen,
                          const uint8_t *b, size_t blen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_shake256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, a, alen), 1);
    assert_int_equal(EVP_DigestUpdate(c, b, blen), 1);
    assert_int_equal(EVP_DigestFinalXOF(c, out, outlen), 1);
    EVP_MD_CTX_free(c);
}

static void sha3_256_ossl(uint8_t out[32], const uint8_t *a, size_t alen)
{
    unsigned n = 0;
    assert_int_equal(EVP_Digest(a, alen, out, &n, EVP_sha3_256(), NULL), 1);
    assert_int_equal(n, 32);
}

/* ---- lengths and NULLs ------------------------------------------------------ */

static size_t wrong_lengths(size_t good, size_t out[6])
{
    size_t n = 0;
    out[n++] = 0;
    out[n++] = good - 1;
    out[n++] = good + 1;
    out[n++] = good * 2;
    out[n++] = (size_t)-1;
    /* A length that is right for another set. */
    out[n++] = good == PQIFY_MLKEM768_EK_BYTES ? PQIFY_MLKEM512_EK_BYTES : PQIFY_MLKEM768_EK_BYTES;
    return n;
}

static void test_wrong_lengths(void **state)
{
    (void)state;
    static uint8_t ek[MAXB], dk[MAXB + 100], ct[MAXB], ss[64];
    for (size_t k = 0; pqify_kems[k] != NULL; k++) {
        const pqify_kem *kem = pqify_kems[k];
        size_t bad[6], n;
        keypair_from(kem, ek, dk, 1);
        uint8_t m[32] = {7};
        assert_int_equal(kem->encaps_derand(ct, ss, ek, m), PQIFY_OK);

        n = wrong_lengths(kem->ek_bytes, bad);
        for (size_t i = 0; i < n; i++) {
            memset(dk, 0xEE, kem->dk_bytes);
            assert_int_equal(pqify_kem_keypair(kem, ek, bad[i], dk, kem->dk_bytes), PQIFY_ERR_LENGTH);
            assert_true(all_bytes(dk, kem->dk_bytes, 0xEE));
            memset(ss, 0xEE, 32);
            assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, ss, 32, ek, bad[i]),
                             PQIFY_ERR_LENGTH);
            assert_true(all_bytes(ss, 32, 0xEE));
        }
        n = wrong_lengths(kem->dk_bytes, bad);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(pqify_kem_keypair(kem, ek, kem->ek_bytes, dk, bad[i]), PQIFY_ERR_LENGTH);
        }
        keypair_from(kem, ek, dk, 1);
        assert_int_equal(kem->encaps_derand(ct, ss, ek, m), PQIFY_OK);
        for (size_t i = 0; i < n; i++) {
            memset(ss, 0xEE, 32);
            assert_int_equal(pqify_kem_decaps(kem, ss, 32, ct, kem->ct_bytes, dk, bad[i]),
                             PQIFY_ERR_LENGTH);
            assert_true(all_bytes(ss, 32, 0xEE));
        }
        n = wrong_lengths(kem->ct_bytes, bad);
        for (size_t i = 0; i < n; i++) {
            memset(ss, 0xEE, 32);
            assert_int_equal(pqify_kem_encaps(kem, ct, bad[i], ss, 32, ek, kem->ek_bytes),
                             PQIFY_ERR_LENGTH);
            assert_int_equal(pqify_kem_decaps(kem, ss, 32, ct, bad[i], dk, kem->dk_bytes),
                             PQIFY_ERR_LENGTH);
            assert_true(all_bytes(ss, 32, 0xEE));
        }
        const size_t bad_ss[] = {0, 16, 31, 33, 64};
        for (size_t i = 0; i < sizeof bad_ss / sizeof bad_ss[0]; i++) {
            assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, ss, bad_ss[i], ek, kem->ek_bytes),
                             PQIFY_ERR_LENGTH);
            assert_int_equal(pqify_kem_decaps(kem, ss, bad_ss[i], ct, kem->ct_bytes, dk, kem->dk_bytes),
                             PQIFY_ERR_LENGTH);
        }

        /* NULLs are argument errors, never crashes. */
        assert_int_equal(pqify_kem_keypair(NULL, ek, kem->ek_bytes, dk, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_keypair(kem, NULL, kem->ek_bytes, dk, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_keypair(kem, ek, kem->ek_bytes, NULL, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_encaps(kem, NULL, kem->ct_bytes, ss, 32, ek, kem->ek_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, NULL, 32, ek, kem->ek_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, ss, 32, NULL, kem->ek_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_decaps(kem, NULL, 32, ct, kem->ct_bytes, dk, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_decaps(kem, ss, 32, NULL, kem->ct_bytes, dk, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(pqify_kem_decaps(kem, ss, 32, ct, kem->ct_bytes, NULL, kem->dk_bytes), PQIFY_ERR_ARG);
        assert_int_equal(kem->keypair_derand(ek, dk, NULL), PQIFY_ERR_ARG);
        assert_int_equal(kem->encaps_derand(ct, ss, ek, NULL), PQIFY_ERR_ARG);
        assert_int_equal(kem->decaps(ss, ct, NULL), PQIFY_ERR_ARG);

        /* And the right lengths work through the same calls. */
        uint8_t ss2[32];
        assert_int_equal(pqify_kem_keypair(kem, ek, kem->ek_bytes, dk, kem->dk_bytes), PQIFY_OK);
        assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, ss, 32, ek, kem->ek_bytes), PQIFY_OK);
        assert_int_equal(pqify_kem_decaps(kem, ss2, 32, ct, kem->ct_bytes, dk, kem->dk_bytes), PQIFY_OK);
        assert_memory_equal(ss, ss2, 32);
    }
}

/* ---- §7.2 modulus check ------------------------------------------------------ */

static void test_bad_ek(void **state)
{
    (void)state;
    static uint8_t ek[MAXB], dk[MAXB + 100], bad[MAXB], ct[MAXB];
    uint8_t ss[32], m[32] = {1, 2, 3};
    for (size_t n = 0; pqify_kems[n] != NULL; n++) {
        const pqify_kem *kem = pqify_kems[n];
        unsigned k = kem_k(kem);
        keypair_from(kem, ek, dk, 2);
        const unsigned positions[][2] = {{0, 0}, {0, 1}, {0, 128}, {k / 2, 77}, {k - 1, 254}, {k - 1, 255}};
        const unsigned values[] = {Q, Q + 1, 4000, 4095};
        for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++) {
            for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
                memcpy(bad, ek, kem->ek_bytes);
                set_coeff(bad, positions[p][0], positions[p][1], values[v]);
                memset(ss, 0xEE, sizeof ss);
                /* The error zeroes ss (kem.h) rather than leaving stale bytes. */
                int want = kem->is_mlkem ? PQIFY_ERR_INVALID_EK : PQIFY_OK;
                /* Round-3 Kyber has no input check: it must still run. */
                assert_int_equal(kem->encaps_derand(ct, ss, bad, m), want);
                assert_int_equal(pqify_kem_encaps(kem, ct, kem->ct_bytes, ss, 32, bad, kem->ek_bytes),
                                 want);
                if (kem->is_mlkem)
                    assert_true(all_bytes(ss, 32, 0x00));
            }
            /* q - 1 is the largest valid coefficient. */
            memcpy(bad, ek, kem->ek_bytes);
            set_coeff(bad, positions[p][0], positions[p][1], Q - 1);
            assert_int_equal(kem->encaps_derand(ct, ss, bad, m), PQIFY_OK);
        }
    }
}

/* ---- §7.3 hash check --------------------------------------------------------- */

static void test_bad_dk(void **state)
{
    (void)state;
    static uint8_t ek[MAXB], dk[MAXB + 100], bad[MAXB + 100], ct[MAXB];
    uint8_t ss[32], ss2[32], m[32] = {9};
    for (size_t n = 0; pqify_kems[n] != NULL; n++) {
        const pqify_kem *kem = pqify_kems[n];
        unsigned k = kem_k(kem);
        size_t h_off = 384 * k + kem->ek_bytes;
        keypair_from(kem, ek, dk, 3);
        assert_int_equal(kem->encaps_derand(ct, ss, ek, m), PQIFY_OK);

        /* Flip a bit of H(ek), then a bit of the embedded ek itself. */
        const size_t flips[] = {h_off, h_off + 31, 384 * k, 384 * k + kem->ek_bytes - 1};
        for (size_t f = 0; f < sizeof flips / sizeof flips[0]; f++) {
            memcpy(bad, dk, kem->dk_bytes);
            bad[flips[f]] ^= 0x01;
            memset(ss2, 0xEE, sizeof ss2);
            if (kem->is_mlkem) {
                assert_int_equal(kem->decaps(ss2, ct, bad), PQIFY_ERR_INVALID_DK);
                assert_int_equal(pqify_kem_decaps(kem, ss2, 32, ct, kem->ct_bytes, bad, kem->dk_bytes),
                                 PQIFY_ERR_INVALID_DK);
                assert_true(all_bytes(ss2, 32, 0x00));
            } else {
                /* Round 3 has no hash check; a wrong h only changes the key. */
                assert_int_equal(kem->decaps(ss2, ct, bad), PQIFY_OK);
                assert_memory_not_equal(ss2, ss, 32);
            }
        }
        /* The intact dk still works. */
        assert_int_equal(kem->decaps(ss2, ct, dk), PQIFY_OK);
        assert_memory_equal(ss, ss2, 32);
    }
}

/* ---- implicit rejection -------------------------------------------------------- */

static void expected_rejection(const pqify_kem *kem, uint8_t out[32], const uint8_t *dk,
                               const uint8_t *ct)
{
    const uint8_t *z = dk + kem->dk_bytes - 32;
    if (kem->is_mlkem) {
        /* FIPS 203 Alg. 18 line 7: K_bar = J(z || c) = SHAKE256(z || c, 32). */
        shake256_ossl(out, 32, z, 32, ct, kem->ct_bytes);
    } else {
        /* Round 3: K = SHAKE256(z || H(c), 32). */
        uint8_t hc[32];
        sha3_256_ossl(hc, ct, kem->ct_bytes);
        shake256_ossl(out, 32, z, 32, hc, 32);
    }
}

static void test_tampered_ct(void **state)
{
    (void)state;
    static uint8_t ek[MAXB], dk[MAXB + 100], ct[MAXB], bad[MAXB];
    uint8_t ss[32], ss2[32], rej[32], m[32] = {0x42};
    for (size_t n = 0; pqify_kems[n] != NULL; n++) {
        const pqify_kem *kem = pqify_kems[n];
        keypair_from(kem, ek, dk, 4);
        assert_int_equal(kem->encaps_derand(ct, ss, ek, m), PQIFY_OK);

        /* The honest ciphertext gives the real key, not the rejection key. */
        assert_int_equal(kem->decaps(ss2, ct, dk), PQIFY_OK);
        assert_memory_equal(ss, ss2, 32);
        expected_rejection(kem, rej, dk, ct);
        assert_memory_not_equal(ss2, rej, 32);

        size_t u_bytes = kem->ct_bytes - (kem->ct_bytes == PQIFY_MLKEM1024_CT_BYTES ? 160 : 128);
        const size_t pos[] = {0, 1, u_bytes / 2, u_bytes - 1, u_bytes, kem->ct_bytes - 1};
        for (size_t p = 0; p < sizeof pos / sizeof pos[0]; p++) {
            for (int bit = 0; bit < 8; bit += 7) {
                memcpy(bad, ct, kem->ct_bytes);
                bad[pos[p]] ^= (uint8_t)(1u << bit);
                assert_int_equal(kem->decaps(ss2, bad, dk), PQIFY_OK);
                expected_rejection(kem, rej, dk, bad);
                assert_memory_equal(ss2, rej, 32);
                assert_memory_not_equal(ss2, ss, 32);
                assert_int_equal(pqify_kem_decaps(kem, ss2, 32, bad, kem->ct_bytes, dk, kem->dk_bytes),
                                 PQIFY_OK);
                assert_memory_equal(ss2, rej, 32);
            }
        }
    }
}

/* ---- RNG -------------------------------------------------------------------------- */

static void test_rng(void **state)
{
    (void)state;
    uint8_t a[64], b[64], zero[64] = {0};

    rng_mode = RNG_REAL;
    assert_int_equal(pqify_randombytes(a, sizeof a), PQIFY_OK);
    assert_int_equal(pqify_randombytes(b, sizeof b), PQIFY_OK);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_int_equal(pqify_randombytes(NULL, 0), PQIFY_OK);
    assert_int_equal(pqify_randombytes(NULL, 1), PQIFY_ERR_ARG);

    rng_mode = RNG_EINTR_ONCE;
    rng_calls = 0;
    memset(a, 0, sizeof a);
    assert_int_equal(pqify_randombytes(a, sizeof a), PQIFY_OK);
    assert_true(rng_calls >= 2);
    assert_memory_not_equal(a, zero, sizeof a);

    rng_mode = RNG_ONE_BYTE;
    rng_calls = 0;
    memset(a, 0, sizeof a);
    assert_int_equal(pqify_randombytes(a, sizeof a), PQIFY_OK);
    assert_int_equal(rng_calls, (int)sizeof a);

    /* Hard failures: an error, and nothing that could pass for a key. */
    const enum rng_mode fails[] = {RNG_FAIL, RNG_ZERO};
    static uint8_t ek[MAXB], dk[MAXB + 100], ct[MAXB];
    for (size_t f = 0; f < 2; f++) {
        rng_mode = fails[f];
        memset(a, 0xAB, sizeof a);
        assert_int_equal(pqify_randombytes(a, sizeof a), PQIFY_ERR_RNG);
        assert_memory_equal(a, zero, sizeof a);
        for (size_t n = 0; pqify_kems[n] != NULL; n++) {
            const pqify_kem *kem = pqify_kems[n];
            uint8_t ss[32];
            rng_mode = RNG_REAL;
            keypair_from(kem, ek, dk, 5);
            rng_mode = fails[f];
            assert_int_equal(kem->keypair(ek, dk), PQIFY_ERR_RNG);
            assert_int_equal(pqify_kem_keypair(kem, ek, kem->ek_bytes, dk, kem->dk_bytes), PQIFY_ERR_RNG);
            rng_mode = RNG_REAL;
            keypair_from(kem, ek, dk, 5);
            rng_mode = fails[f];
            memset(ss, 0xAB, sizeof ss);
            assert_int_equal(kem->encaps(ct, ss, ek), PQIFY_ERR_RNG);
            assert_true(all_bytes(ss, 32, 0));
        }
    }

    /* With the real RNG, randomised calls round-trip and differ per call. */
    rng_mode = RNG_REAL;
    for (size_t n = 0; pqify_kems[n] != NULL; n++) {
        const pqify_kem *kem = pqify_kems[n];
        static uint8_t ek2[MAXB];
        uint8_t ss[32], ss2[32], ss3[32];
        assert_int_equal(kem->keypair(ek, dk), PQIFY_OK);
        assert_int_equal(kem->keypair(ek2, dk), PQIFY_OK);
        assert_memory_not_equal(ek, ek2, kem->ek_bytes);
        assert_int_equal(kem->encaps(ct, ss, ek2), PQIFY_OK);
        assert_int_equal(kem->decaps(ss2, ct, dk), PQIFY_OK);
        assert_memory_equal(ss, ss2, 32);
        assert_int_equal(kem->encaps(ct, ss3, ek2), PQIFY_OK);
        assert_memory_not_equal(ss, ss3, 32);
    }
}

/*
 * PQIFY_KEM_BACKEND is read once before main(); CTest runs this program once
 * per backend with it set, so the choice must have taken effect.
 */
static void test_env_backend(void **state)
{
    (void)state;
    const char *env = getenv("PQIFY_KEM_BACKEND");
    const char *active = pqify_kem_backend();
    assert_non_null(active);
    /* If the asked-for backend exists on this CPU, it must be the active one. */
    if (env != NULL && *env != '\0' && pqify_kem_set_backend(env) == PQIFY_OK)
        assert_string_equal(active, env);
    assert_int_equal(pqify_kem_set_backend(active), PQIFY_OK);
}

/* ---- names, strings, backend switch ------------------------------------------------- */

static void test_names_and_errors(void **state)
{
    (void)state;
    assert_ptr_equal(pqify_kem_by_name("ML-KEM-768"), &pqify_kem_mlkem768);
    assert_ptr_equal(pqify_kem_by_name("mlkem768"), &pqify_kem_mlkem768);
    assert_ptr_equal(pqify_kem_by_name("ML-KEM-512"), &pqify_kem_mlkem512);
    assert_ptr_equal(pqify_kem_by_name("mlkem1024"), &pqify_kem_mlkem1024);
    assert_ptr_equal(pqify_kem_by_name("Kyber512"), &pqify_kem_kyber512);
    assert_ptr_equal(pqify_kem_by_name("kyber768"), &pqify_kem_kyber768);
    assert_ptr_equal(pqify_kem_by_name("kyber1024"), &pqify_kem_kyber1024);
    assert_null(pqify_kem_by_name("ML-KEM-76"));
    assert_null(pqify_kem_by_name("ML-KEM-7680"));
    assert_null(pqify_kem_by_name(""));
    assert_null(pqify_kem_by_name(NULL));
    assert_null(pqify_kem_by_name("X25519"));

    size_t n = 0;
    while (pqify_kems[n] != NULL)
        n++;
    assert_int_equal(n, 6);
    assert_int_equal(pqify_kems[0]->is_mlkem, 1);
    assert_int_equal(pqify_kems[5]->is_mlkem, 0);

    const int codes[] = {PQIFY_OK, PQIFY_ERR_INVALID_EK, PQIFY_ERR_INVALID_DK, PQIFY_ERR_RNG,
                         PQIFY_ERR_ARG, PQIFY_ERR_BACKEND, PQIFY_ERR_LENGTH};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_non_null(pqify_strerror(codes[i]));
        assert_string_not_equal(pqify_strerror(codes[i]), "unknown error");
    }
    assert_string_equal(pqify_strerror(-7), "unknown error");
    assert_string_equal(pqify_strerror(12345), "unknown error");

    const char *before = pqify_kem_backend();
    assert_non_null(before);
    assert_int_equal(pqify_kem_set_backend("no-such-backend"), PQIFY_ERR_BACKEND);
    assert_int_equal(pqify_kem_set_backend(NULL), PQIFY_ERR_ARG);
    assert_string_equal(pqify_kem_backend(), before);
    assert_int_equal(pqify_kem_set_backend("portable"), PQIFY_OK);
    assert_string_equal(pqify_kem_backend(), "portable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_backend),
        cmocka_unit_test(test_wrong_lengths), cmocka_unit_test(test_bad_ek),
        cmocka_unit_test(test_bad_dk),        cmocka_unit_test(test_tampered_ct),
        cmocka_unit_test(test_rng),           cmocka_unit_test(test_names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
