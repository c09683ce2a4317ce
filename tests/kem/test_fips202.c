/*
 * SHA3-256, SHA3-512, SHAKE128, SHAKE256 (src/kem/fips202.c) against the
 * FIPS 202 / NIST example values, against OpenSSL's libcrypto as an
 * independent implementation, and incremental absorb/squeeze split at every
 * offset against one-shot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "kem/backend.h"
#include "kem/fips202.h"
#include "pqify/kem.h"

static void unhex(uint8_t *out, const char *hex, size_t n)
{
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

typedef enum { SHA3_256, SHA3_512, SHAKE128, SHAKE256 } fn_t;

static void init(pqify_keccak_ctx *c, fn_t f)
{
    switch (f) {
    case SHA3_256: pqify_sha3_256_init(c); break;
    case SHA3_512: pqify_sha3_512_init(c); break;
    case SHAKE128: pqify_shake128_init(c); break;
    case SHAKE256: pqify_shake256_init(c); break;
    }
}

static void oneshot(fn_t f, uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen)
{
    switch (f) {
    case SHA3_256: assert_int_equal(outlen, 32); pqify_sha3_256(out, in, inlen); break;
    case SHA3_512: assert_int_equal(outlen, 64); pqify_sha3_512(out, in, inlen); break;
    case SHAKE128: pqify_shake128(out, outlen, in, inlen); break;
    case SHAKE256: pqify_shake256(out, outlen, in, inlen); break;
    }
}

static void check_vector(fn_t f, const uint8_t *msg, size_t len, const char *hex)
{
    uint8_t want[512], got[512];
    size_t n = strlen(hex) / 2;
    unhex(want, hex, n);
    oneshot(f, got, n, msg, len);
    assert_memory_equal(got, want, n);
}

/*
 * CTest runs this program once per backend (PQIFY_KEM_BACKEND); the checks
 * use whichever is active, and it must be the one asked for.
 */
static void on_active_backend(void (*fn)(void))
{
    const char *env = getenv("PQIFY_KEM_BACKEND");
    const char *active = pqify_kem_backend();
    /* If the asked-for backend exists on this CPU, it must be the active one. */
    if (env != NULL && *env != '\0' && pqify_kem_set_backend(env) == PQIFY_OK) {
        assert_string_equal(active, env);
    }
    assert_int_equal(pqify_kem_set_backend(active), PQIFY_OK);
    fn();
}

static uint8_t a3[200];

static void vectors(void)
{
    const uint8_t *abc = (const uint8_t *)"abc";
    memset(a3, 0xa3, sizeof a3);

    check_vector(SHA3_256, NULL, 0, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    check_vector(SHA3_256, abc, 3, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    check_vector(SHA3_256, a3, 200, "79f38adec5c20307a98ef76e8324afbfd46cfd81b22e3973c65fa1bd9de31787");

    check_vector(SHA3_512, NULL, 0,
                 "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
                 "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26");
    check_vector(SHA3_512, abc, 3,
                 "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
                 "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0");
    check_vector(SHA3_512, a3, 200,
                 "e76dfad22084a8b1467fcf2ffa58361bec7628edf5f3fdc0e4805dc48caeeca8"
                 "1b7c13c30adf52a3659584739a2df46be589c51ca1a4a8416df6545a1ce8ba00");

    check_vector(SHAKE128, NULL, 0, "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26");
    check_vector(SHAKE128, abc, 3, "5881092dd818bf5cf8a3ddb793fbcba74097d5c526a6d35f97b83351940f2cc8");
    check_vector(SHAKE256, NULL, 0,
                 "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
                 "d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be");
    check_vector(SHAKE256, abc, 3,
                 "483366601360a8771c6863080cc4114d8db44530f8f1e1ee4f94ea37e78b5739"
                 "d5a15bef186a5386c75744c0527e1faa9f8726e462a12a4feb06bd8801e751e4");

    /* NIST examples, 1600-bit message of 0xa3, 4096 output bits: first and last 32 bytes. */
    uint8_t out[512], want[32];
    pqify_shake128(out, sizeof out, a3, sizeof a3);
    unhex(want, "131ab8d2b594946b9c81333f9bb6e0ce75c3b93104fa3469d3917457385da037", 32);
    assert_memory_equal(out, want, 32);
    unhex(want, "44c9fb359fd56ac0a9a75a743cff6862f17d7259ab075216c0699511643b6439", 32);
    assert_memory_equal(out + 480, want, 32);
    pqify_shake256(out, sizeof out, a3, sizeof a3);
    unhex(want, "cd8a920ed141aa0407a22d59288652e9d9f1a7ee0c1e7c1ca699424da84a904d", 32);
    assert_memory_equal(out, want, 32);
    unhex(want, "6a1a9d7846436e4dca5728b6f760eef0ca92bf0be5615e96959d767197a0beeb", 32);
    assert_memory_equal(out + 480, want, 32);
}

/*
 * Long squeeze: 100,000 bytes of SHAKE output (hundreds of blocks, in odd-sized
 * pieces) hashed with SHA3-256; the digests were computed with Python's
 * hashlib (OpenSSL), not with this code.
 */
static void long_squeeze(void)
{
    static uint8_t big[100000];
    const struct { fn_t f; const char *digest; } cases[] = {
        {SHAKE128, "18f5a369b55616bef44e0e27c85979425e64cdc599408e2427204e7c4dcb1bf2"},
        {SHAKE256, "0bc1aae483be180ac4d7857527cfaa835b6abf13a646dfea405e973c4f344524"},
    };
    memset(a3, 0xa3, sizeof a3);
    for (size_t c = 0; c < 2; c++) {
        pqify_keccak_ctx ctx;
        init(&ctx, cases[c].f);
        pqify_keccak_absorb(&ctx, a3, sizeof a3);
        for (size_t off = 0, step = 1; off < sizeof big; off += step, step = step * 3 % 1001 + 1)
            pqify_keccak_squeeze(&ctx, big + off, (off + step > sizeof big) ? sizeof big - off : step);
        uint8_t got[32], want[32];
        pqify_sha3_256(got, big, sizeof big);
        unhex(want, cases[c].digest, 32);
        assert_memory_equal(got, want, 32);
    }
}

static void pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* Absorb split at every offset, and byte by byte, equals one-shot (lengths cross block edges). */
static void split_absorb(void)
{
    static const fn_t fns[] = {SHA3_256, SHA3_512, SHAKE128, SHAKE256};
    static const size_t outlen[] = {32, 64, 200, 200};
    uint8_t msg[2 * 168 + 9];
    for (size_t f = 0; f < 4; f++) {
        for (size_t len = 0; len <= sizeof msg; len += (len < 180 ? 1 : 13)) {
            uint8_t want[200], got[200];
            pattern(msg, len, (unsigned)len);
            oneshot(fns[f], want, outlen[f], msg, len);
            for (size_t cut = 0; cut <= len; cut++) {
                pqify_keccak_ctx c;
                init(&c, fns[f]);
                pqify_keccak_absorb(&c, msg, cut);
                pqify_keccak_absorb(&c, msg + cut, len - cut);
                pqify_keccak_squeeze(&c, got, outlen[f]);
                assert_memory_equal(got, want, outlen[f]);
            }
            pqify_keccak_ctx c;
            init(&c, fns[f]);
            for (size_t i = 0; i < len; i++)
                pqify_keccak_absorb(&c, msg + i, 1);
            pqify_keccak_squeeze(&c, got, outlen[f]);
            assert_memory_equal(got, want, outlen[f]);
        }
    }
}

/* Squeeze split at every offset, and byte by byte, equals one long squeeze. */
static void split_squeeze(void)
{
    static const fn_t fns[] = {SHAKE128, SHAKE256};
    uint8_t msg[50], want[3 * 168 + 11], got[sizeof want];
    pattern(msg, sizeof msg, 3);
    for (size_t f = 0; f < 2; f++) {
        oneshot(fns[f], want, sizeof want, msg, sizeof msg);
        for (size_t cut = 0; cut <= sizeof want; cut++) {
            pqify_keccak_ctx c;
            init(&c, fns[f]);
            pqify_keccak_absorb(&c, msg, sizeof msg);
            pqify_keccak_squeeze(&c, got, cut);
            pqify_keccak_squeeze(&c, got + cut, sizeof want - cut);
            assert_memory_equal(got, want, sizeof want);
        }
        pqify_keccak_ctx c;
        init(&c, fns[f]);
        pqify_keccak_absorb(&c, msg, sizeof msg);
        for (size_t i = 0; i < sizeof want; i++)
            pqify_keccak_squeeze(&c, got + i, 1);
        assert_memory_equal(got, want, sizeof want);
    }
}

/* Independent implementation: OpenSSL's SHA-3 for every length 0..700. */
static void vs_openssl(void)
{
    const EVP_MD *mds[] = {EVP_sha3_256(), EVP_sha3_512(), EVP_shake128(), EVP_shake256()};
    static const fn_t fns[] = {SHA3_256, SHA3_512, SHAKE128, SHAKE256};
    static const size_t outlen[] = {32, 64, 300, 300};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    uint8_t msg[700], want[300], got[300];
    for (size_t f = 0; f < 4; f++) {
        for (size_t len = 0; len <= sizeof msg; len++) {
            pattern(msg, len, (unsigned)(len * 5 + f));
            assert_int_equal(EVP_DigestInit_ex(ctx, mds[f], NULL), 1);
            assert_int_equal(EVP_DigestUpdate(ctx, msg, len), 1);
            if (fns[f] == SHAKE128 || fns[f] == SHAKE256) {
                assert_int_equal(EVP_DigestFinalXOF(ctx, want, outlen[f]), 1);
            } else {
                unsigned n = 0;
                assert_int_equal(EVP_DigestFinal_ex(ctx, want, &n), 1);
                assert_int_equal(n, outlen[f]);
            }
            oneshot(fns[f], got, outlen[f], msg, len);
            assert_memory_equal(got, want, outlen[f]);
        }
    }
    EVP_MD_CTX_free(ctx);
}


/* One OpenSSL digest of msg, as the independent expected value. */
static void openssl_digest(fn_t f, uint8_t *out, size_t outlen, const uint8_t *msg, size_t len)
{
    const EVP_MD *md = f == SHA3_256 ? EVP_sha3_256()
                       : f == SHA3_512 ? EVP_sha3_512()
                       : f == SHAKE128 ? EVP_shake128()
                                       : EVP_shake256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, md, NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, msg, len), 1);
    if (f == SHAKE128 || f == SHAKE256) {
        if (outlen > 0)
            assert_int_equal(EVP_DigestFinalXOF(ctx, out, outlen), 1);
    } else {
        unsigned n = 0;
        assert_int_equal(EVP_DigestFinal_ex(ctx, out, &n), 1);
        assert_int_equal(n, outlen);
    }
    EVP_MD_CTX_free(ctx);
}

/*
 * pqify_keccak_x2 (two sponges sharing 4-way permutations, used by ML-KEM
 * decaps for H(ek) and J(z || c)) against OpenSSL on each message: every
 * pairing of the four functions (so unequal rates), message lengths around
 * block boundaries and the ML-KEM sizes, both fragment splits, and XOF
 * outputs of 0, 32 and several blocks (unequal permutation counts).
 */
static void x2_vs_openssl(void)
{
    static const fn_t fns[] = {SHA3_256, SHA3_512, SHAKE128, SHAKE256};
    static const unsigned rates[] = {PQIFY_SHA3_256_RATE, PQIFY_SHA3_512_RATE,
                                     PQIFY_SHAKE128_RATE, PQIFY_SHAKE256_RATE};
    static const uint8_t dseps[] = {0x06, 0x06, 0x1F, 0x1F};
    static const size_t lens[] = {0, 1, 31, 71, 72, 135, 136, 137, 167, 168, 169,
                                  800, 1120, 1184, 1600};
    static const size_t xof_out[] = {0, 32, 500};
    static uint8_t msg[2][1600];
    uint8_t want[2][500], got[2][500];

    for (unsigned f0 = 0; f0 < 4; f0++)
        for (unsigned f1 = 0; f1 < 4; f1++)
            for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++)
                for (size_t b = 0; b < sizeof lens / sizeof lens[0]; b += 2)
                    for (size_t o = 0; o < 3; o++) {
                        const unsigned f[2] = {f0, f1};
                        const size_t len[2] = {lens[a], lens[(b + a) % 15]};
                        pqify_keccak_job jobs[2];
                        for (unsigned i = 0; i < 2; i++) {
                            size_t outlen = fns[f[i]] == SHA3_256   ? 32
                                            : fns[f[i]] == SHA3_512 ? 64
                                                                    : xof_out[(o + i) % 3];
                            pattern(msg[i], len[i], (unsigned)(a * 31 + b * 7 + o + 3 * i));
                            openssl_digest(fns[f[i]], want[i], outlen, msg[i], len[i]);
                            memset(got[i], 0xA5, sizeof got[i]);
                            /* Split as 32 || rest (the z || c shape), or all in the second part. */
                            size_t cut = (o + i) % 2 == 0 && len[i] >= 32 ? 32 : 0;
                            jobs[i] = (pqify_keccak_job){
                                .in = {msg[i], msg[i] + cut}, .inlen = {cut, len[i] - cut},
                                .out = got[i], .outlen = outlen,
                                .rate = rates[f[i]], .dsep = dseps[f[i]]};
                        }
                        pqify_keccak_x2(jobs);
                        for (unsigned i = 0; i < 2; i++) {
                            assert_memory_equal(got[i], want[i], jobs[i].outlen);
                            /* Nothing written past outlen. */
                            if (jobs[i].outlen < sizeof got[i])
                                assert_int_equal(got[i][jobs[i].outlen], 0xA5);
                        }
                    }
}

/* The 4-way slot must equal four single permutations (backend.h contract). */
static void x4_matches_x1(void)
{
    uint64_t st4[100], one[4][25];
    for (unsigned j = 0; j < 4; j++)
        for (unsigned i = 0; i < 25; i++) {
            one[j][i] = 0x9e3779b97f4a7c15ULL * (i + 1) ^ ((uint64_t)j << 56) ^ (i * 0x1234567ULL);
            st4[4 * i + j] = one[j][i];
        }
    for (int round = 0; round < 3; round++) {
        pqify_kem_ops_active->keccakf1600_x4(st4);
        for (unsigned j = 0; j < 4; j++)
            pqify_kem_ops_active->keccakf1600(one[j]);
        for (unsigned j = 0; j < 4; j++)
            for (unsigned i = 0; i < 25; i++)
                assert_true(st4[4 * i + j] == one[j][i]);
    }
}

static void test_vectors(void **state) { (void)state; on_active_backend(vectors); }
static void test_long_squeeze(void **state) { (void)state; on_active_backend(long_squeeze); }
static void test_split_absorb(void **state) { (void)state; on_active_backend(split_absorb); }
static void test_split_squeeze(void **state) { (void)state; on_active_backend(split_squeeze); }
static void test_vs_openssl(void **state) { (void)state; on_active_backend(vs_openssl); }
static void test_x4_matches_x1(void **state) { (void)state; on_active_backend(x4_matches_x1); }
static void test_x2_vs_openssl(void **state) { (void)state; on_active_backend(x2_vs_openssl); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),       cmocka_unit_test(test_long_squeeze),
        cmocka_unit_test(test_split_absorb),  cmocka_unit_test(test_split_squeeze),
        cmocka_unit_test(test_vs_openssl),    cmocka_unit_test(test_x4_matches_x1),
        cmocka_unit_test(test_x2_vs_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
