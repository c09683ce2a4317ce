/*
 * Constant-time check under valgrind memcheck (run by CTest as
 * `valgrind --error-exitcode=1 --track-origins=yes kem_ct_valgrind`).
 *
 * Secret inputs (the keygen seed d || z, the encaps message m, the secret
 * parts of dk: s^ and z) are marked undefined. Memcheck then reports every
 * conditional branch and every memory index that depends on them, so any
 * report fails the test. Public outputs (ek, ct) are marked defined again
 * before they are used as public inputs, as a real protocol would send them.
 * Runs keygen, encaps, decaps (honest and tampered ciphertext) for all six
 * KEMs under every backend this CPU has.
 */
#include <stdio.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "pqify/kem.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void check(int ok, const char *kem, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_valgrind: %s: %s\n", kem, what);
        failures++;
    }
}

static void run(const pqify_kem *kem, unsigned iter)
{
    static uint8_t ek[PQIFY_MLKEM1024_EK_BYTES], dk[PQIFY_MLKEM1024_DK_BYTES];
    static uint8_t ct[PQIFY_MLKEM1024_CT_BYTES];
    uint8_t seed[64], m[32], ss_enc[32], ss_dec[32], ss_rej[32];
    const size_t k = (kem->ek_bytes - 32) / 384;

    for (size_t i = 0; i < sizeof seed; i++)
        seed[i] = (uint8_t)(i * 29 + iter * 101 + 7);
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(i * 13 + iter * 57 + 1);

    SECRET(seed, sizeof seed);
    check(kem->keypair_derand(ek, dk, seed) == PQIFY_OK, kem->name, "keypair");
    /* ek is public; in dk only s^ (first 384k bytes) and z (last 32) are secret. */
    PUBLIC(ek, kem->ek_bytes);
    PUBLIC(dk, kem->dk_bytes);
    SECRET(dk, 384 * k);
    SECRET(dk + kem->dk_bytes - 32, 32);

    SECRET(m, sizeof m);
    check(kem->encaps_derand(ct, ss_enc, ek, m) == PQIFY_OK, kem->name, "encaps");
    PUBLIC(ct, kem->ct_bytes);

    check(kem->decaps(ss_dec, ct, dk) == PQIFY_OK, kem->name, "decaps");
    ct[iter % kem->ct_bytes] ^= 0x10;
    check(kem->decaps(ss_rej, ct, dk) == PQIFY_OK, kem->name, "decaps (tampered)");

    /* Only now look at the keys: the test itself must not branch on secrets. */
    PUBLIC(ss_enc, 32);
    PUBLIC(ss_dec, 32);
    PUBLIC(ss_rej, 32);
    check(memcmp(ss_enc, ss_dec, 32) == 0, kem->name, "decaps key differs from encaps key");
    check(memcmp(ss_enc, ss_rej, 32) != 0, kem->name, "tampered ciphertext gave the real key");
}

int main(void)
{
    /* Names this build does not know are skipped by pqify_kem_set_backend. */
    static const char *const backends[] = {"portable", "avx2", "avx512"};
    int ran = 0;
    if (!RUNNING_ON_VALGRIND)
        fprintf(stderr, "ct_valgrind: not under valgrind; the checks below prove nothing\n");
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        if (pqify_kem_set_backend(backends[b]) != PQIFY_OK)
            continue;
        ran++;
        for (size_t i = 0; pqify_kems[i] != NULL; i++)
            for (unsigned iter = 0; iter < 2; iter++)
                run(pqify_kems[i], iter);
    }
    if (ran == 0)
        failures++;
    printf("ct_valgrind: %d backend(s), %s\n", ran, failures ? "FAILED" : "ok");
    return failures ? 1 : (RUNNING_ON_VALGRIND ? 0 : 1);
}
