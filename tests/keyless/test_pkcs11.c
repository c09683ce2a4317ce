/* Keys on a PKCS#11 token (SoftHSM2 in a temp dir, its own SOFTHSM2_CONF), named by
 * RFC 7512 URIs and used through p11-kit: keys imported with softhsm2-util and one
 * generated on the token by p11tool (GnuTLS); SKIs as openssl computes them; every
 * signature verified by libcrypto against the public key; RSA decrypt on the token;
 * refused URIs in words without the PIN; a reload beside a live store; many threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "keyless_test.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN "pqify-test"
#define PIN "4321"

enum { RSA_K, P256_K, P384_GEN_K, ED_K, NK };
static const char *const labels[NK] = {"rsa", "p256", "gen384", "ed"};

static char dir[512];
static EVP_PKEY *pubs[NK];
static uint8_t skis[NK][20];
static char uris[NK][512];
static pqify_keyless_store *store;

/* SHA-1 over the SPKI's last n bytes: the BIT STRING contents for EC and Ed25519 keys */
static int ski_of_pub_tail(const char *pub, int n, uint8_t ski[20])
{
    char line[256];
    size_t len;
    if (kt_sh_line(line, sizeof(line), "openssl pkey -pubin -in %s -outform DER | tail -c %d | "
                   "openssl dgst -sha1 -r | cut -c1-40", pub, n) < 0)
        return -1;
    return kt_unhex(line, ski, 20, &len) == 0 && len == 20 ? 0 : -1;
}

static int setup_fail(int step)
{
    fprintf(stderr, "test_pkcs11 setup failed at step %d (see the commands in setup())\n", step);
    return -1;
}

static int setup(void **state)
{
    char conf[1024], path[1024], err[512];
    const char *uri_ptrs[NK];
    pqify_keyless_store_options o = {0};
    (void)state;
    kt_tmpdir(dir, sizeof(dir), "kp11");
    if (dir[0] == 0 || kt_make_keys(dir) != 0)
        return setup_fail(1);
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
    if (kt_sh("mkdir %s/tokens && printf 'directories.tokendir = %s/tokens\\nobjectstore.backend = file\\n"
              "log.level = ERROR\\n' > %s", dir, dir, conf) != 0 ||
        setenv("SOFTHSM2_CONF", conf, 1) != 0)
        return setup_fail(2);
    if (kt_sh("softhsm2-util --init-token --free --label " TOKEN " --pin " PIN " --so-pin 8765 >/dev/null") != 0)
        return setup_fail(3);
    /* three keys imported (the openssl files hold their public halves) */
    static const char *const files[] = {"rsa2048", "p256", NULL, "ed25519"};
    for (int i = 0; i < NK; i++) {
        if (files[i] == NULL)
            continue;
        if (kt_sh("softhsm2-util --import %s/%s.key --token " TOKEN " --label %s --id 0%d --pin " PIN
                  " >/dev/null", dir, files[i], labels[i], i + 1) != 0)
            return setup_fail(4);
        snprintf(path, sizeof(path), "%s/%s.pub", dir, files[i]);
        pubs[i] = kt_read_pubkey(path);
        if (pubs[i] == NULL || kt_openssl_ski(dir, files[i], skis[i]) != 0)
            return setup_fail(5);
    }
    /* one generated on the token by GnuTLS's p11tool: its private half never existed outside */
    snprintf(path, sizeof(path), "%s/gen384.pub", dir);
    if (kt_sh("p11tool --provider " MODULE " --login --set-pin=" PIN " --generate-privkey=ecdsa "
              "--curve=secp384r1 --label gen384 --id 03 'pkcs11:token=" TOKEN "' >/dev/null 2>&1 && "
              "p11tool --provider " MODULE " --login --set-pin=" PIN " --export-pubkey 'pkcs11:token=" TOKEN ";object=gen384;type=public'"
              " --outfile %s 2>/dev/null", path) != 0)
        return setup_fail(6);
    pubs[P384_GEN_K] = kt_read_pubkey(path);
    if (pubs[P384_GEN_K] == NULL || ski_of_pub_tail(path, 97, skis[P384_GEN_K]) != 0)
        return setup_fail(7);
    for (int i = 0; i < NK; i++) {
        snprintf(uris[i], sizeof(uris[i]),
                 "pkcs11:token=" TOKEN ";object=%s;type=private?pin-value=" PIN "&module-path=" MODULE,
                 labels[i]);
        uri_ptrs[i] = uris[i];
    }
    o.pkcs11_uris = uri_ptrs;
    o.pkcs11_uri_count = NK;
    store = pqify_keyless_store_load(&o, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "store: %s\n", err);
        return setup_fail(8);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pqify_keyless_store_release(store);
    for (int i = 0; i < NK; i++)
        EVP_PKEY_free(pubs[i]);
    return kt_sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static void test_skis(void **state)
{
    (void)state;
    assert_int_equal(pqify_keyless_store_count(store), NK);
    for (int i = 0; i < NK; i++) {
        if (!pqify_keyless_store_has(store, skis[i]))
            fail_msg("the token's %s key is not found by its openssl SKI", labels[i]);
    }
    for (size_t j = 0; j < NK; j++) {
        const char *src;
        assert_int_equal(pqify_keyless_store_key(store, j, NULL, NULL, &src), 0);
        assert_non_null(strstr(src, "pkcs11:token=" TOKEN));
        assert_null(strstr(src, PIN)); /* the PIN never reaches a log line */
    }
}

static int verify(int key, uint8_t op, const uint8_t *tbs, size_t len, const pqify_keyless_result *r)
{
    int ok;
    if (key == ED_K) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(m, NULL, NULL, NULL, pubs[key]) == 1 &&
             EVP_DigestVerify(m, r->payload.data, r->payload.len, tbs, len) == 1;
        EVP_MD_CTX_free(m);
        return ok;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[key], NULL);
    const EVP_MD *md = len == 32 ? EVP_sha256() : len == 48 ? EVP_sha384() : len == 64 ? EVP_sha512()
                     : len == 20 ? EVP_sha1() : len == 28 ? EVP_sha224() : NULL;
    ok = EVP_PKEY_verify_init(ctx) == 1;
    if (ok && key == RSA_K && op >= PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)len) == 1;
    else if (ok && key == RSA_K)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
    ok = ok && EVP_PKEY_verify(ctx, r->payload.data, r->payload.len, tbs, len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void sign_and_verify(pqify_keyless_store *s, int key, uint8_t op, size_t len)
{
    uint8_t tbs[100];
    pqify_keyless_packet req;
    pqify_keyless_result r;
    assert_int_equal(RAND_bytes(tbs, sizeof(tbs)), 1);
    pqify_keyless_packet_init(&req, 1, op);
    memcpy(req.ski, skis[key], 20);
    req.payload = (pqify_keyless_bytes){tbs, len};
    pqify_keyless_operate(s, &req, &r);
    if (r.opcode != PQIFY_KEYLESS_OP_RESPONSE)
        fail_msg("%s on the token's %s key: error %u", pqify_keyless_op_name(op), labels[key], r.error);
    if (!verify(key, op, tbs, len, &r))
        fail_msg("%s on the token's %s key does not verify", pqify_keyless_op_name(op), labels[key]);
    tbs[0] ^= 1;
    assert_false(verify(key, op, tbs, len, &r));
}

static void test_sign(void **state)
{
    (void)state;
    static const struct { int key; uint8_t op; size_t len; } cases[] = {
        {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA1, 20},       {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA224, 28},
        {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, 32},     {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA384, 48},
        {RSA_K, PQIFY_KEYLESS_OP_RSA_SIGN_SHA512, 64},     {RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, 32},
        {RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384, 48}, {RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA512, 64},
        {P256_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, 32},  {P256_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA1, 20},
        {P384_GEN_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, 48}, {P384_GEN_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA512, 64},
        {ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, 100},        {ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, 7},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        sign_and_verify(store, cases[i].key, cases[i].op, cases[i].len);
}

/* MD5SHA1 through CKM_RSA_PKCS: the 36 bytes bare, read back with the public key */
static void test_md5sha1_and_decrypt(void **state)
{
    uint8_t digest[36], em[256], pms[48], ct[256];
    size_t em_len = sizeof(em), ct_len = sizeof(ct);
    pqify_keyless_packet req;
    pqify_keyless_result r;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
    (void)state;
    assert_int_equal(RAND_bytes(digest, 36), 1);
    pqify_keyless_packet_init(&req, 1, PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1);
    memcpy(req.ski, skis[RSA_K], 20);
    req.payload = (pqify_keyless_bytes){digest, 36};
    pqify_keyless_operate(store, &req, &r);
    assert_int_equal(r.opcode, PQIFY_KEYLESS_OP_RESPONSE);
    assert_int_equal(EVP_PKEY_verify_recover_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
    assert_int_equal(EVP_PKEY_verify_recover(ctx, em, &em_len, r.payload.data, r.payload.len), 1);
    assert_int_equal(em[1], 0x01);
    assert_int_equal(em[256 - 37], 0x00);
    assert_memory_equal(em + 256 - 36, digest, 36);
    EVP_PKEY_CTX_free(ctx);
    /* decrypt on the token (CKM_RSA_X_509): the block libcrypto's PKCS#1 encryption made */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[RSA_K], NULL);
    assert_int_equal(RAND_bytes(pms, sizeof(pms)), 1);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, ct, &ct_len, pms, sizeof(pms)), 1);
    pqify_keyless_packet_init(&req, 2, PQIFY_KEYLESS_OP_RSA_DECRYPT);
    memcpy(req.ski, skis[RSA_K], 20);
    req.payload = (pqify_keyless_bytes){ct, ct_len};
    pqify_keyless_operate(store, &req, &r);
    assert_int_equal(r.opcode, PQIFY_KEYLESS_OP_RESPONSE);
    assert_int_equal(r.payload.len, 256);
    assert_int_equal(r.payload.data[1], 0x02);
    assert_int_equal(r.payload.data[256 - 49], 0x00);
    assert_memory_equal(r.payload.data + 256 - 48, pms, 48);
    pqify_keyless_result_wipe(&r);
    EVP_PKEY_CTX_free(ctx);
}

/* one URI for the whole token (every private key), the PIN from a file, the module
 * from the store's option; then the first store goes while the second keeps signing */
static void test_token_uri_and_reload(void **state)
{
    char pinfile[600], uri[1024], err[512];
    const char *u = uri;
    pqify_keyless_store_options o = {0};
    pqify_keyless_store *second;
    (void)state;
    snprintf(pinfile, sizeof(pinfile), "%s/pin.txt", dir);
    assert_int_equal(kt_sh("echo " PIN " > %s", pinfile), 0);
    snprintf(uri, sizeof(uri), "pkcs11:token=" TOKEN "?pin-source=file:%s", pinfile);
    o.pkcs11_uris = &u;
    o.pkcs11_uri_count = 1;
    o.pkcs11_module = MODULE;
    second = pqify_keyless_store_load(&o, err, sizeof(err));
    if (second == NULL)
        fail_msg("%s", err);
    assert_int_equal(pqify_keyless_store_count(second), NK);
    pqify_keyless_store_release(store); /* the reload's swap */
    store = second;
    sign_and_verify(store, P256_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, 32);
    sign_and_verify(store, RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, 32);
    sign_and_verify(store, ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, 50);
}

static void refused(const char *uri, const char *module, const char *want)
{
    char err[512];
    pqify_keyless_store_options o = {.pkcs11_uris = &uri, .pkcs11_uri_count = 1, .pkcs11_module = module};
    pqify_keyless_store *s = pqify_keyless_store_load(&o, err, sizeof(err));
    if (s != NULL || strstr(err, want) == NULL || strstr(err, "pin-value=" PIN) != NULL ||
        strstr(err, "=9999") != NULL)
        fail_msg("URI %s: store %p, words '%s' (want '%s')", uri, (void *)s, err, want);
}

static pqify_keyless_store *load_one(const char *uri, char *err, size_t cap)
{
    pqify_keyless_store_options o = {.pkcs11_uris = &uri, .pkcs11_uri_count = 1, .pkcs11_module = MODULE};
    return pqify_keyless_store_load(&o, err, cap);
}

static void test_refused(void **state)
{
    char err[512];
    pqify_keyless_store *s;
    (void)state;
    /* PKCS#11 login state belongs to the application: while a live store holds the
     * login, a second URI's PIN is not asked again (documented in docs/keyless.md) */
    s = load_one("pkcs11:token=" TOKEN ";object=rsa?pin-value=9999", err, sizeof(err));
    assert_non_null(s);
    pqify_keyless_store_release(s);
    /* with no store left the module is finalized, and a wrong PIN is refused */
    pqify_keyless_store_release(store);
    store = NULL;
    refused("pkcs11:token=" TOKEN ";object=rsa?pin-value=9999", MODULE, "login failed");
    refused("pkcs11:token=" TOKEN ";object=rsa?pin-value=" PIN, NULL, "names no module");
    refused("pkcs11:token=" TOKEN ";object=nothing?pin-value=" PIN, MODULE, "no private key");
    refused("pkcs11:token=other?pin-value=" PIN, MODULE, "no token matches");
    refused("pkcs11:token=" TOKEN ";object=rsa;type=public?pin-value=" PIN, MODULE, "not a private key");
    refused("pkcs11:token=" TOKEN "?pin-value=" PIN, "/nonexistent/libpkcs11.so", "cannot load module");
    refused("https://example.com/key", MODULE, "not a PKCS#11 URI");
    refused("pkcs11:token=" TOKEN ";object=rsa?pin-source=/nonexistent/pin", MODULE, "/nonexistent/pin");
    store = load_one("pkcs11:token=" TOKEN "?pin-value=" PIN, err, sizeof(err));
    if (store == NULL)
        fail_msg("%s", err);
    sign_and_verify(store, P384_GEN_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, 48);
}

#define THREADS 4
#define PER_THREAD 100

static void *work(void *arg)
{
    int *failures = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        int key = i % 2 ? P256_K : ED_K;
        uint8_t op = key == P256_K ? PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256 : PQIFY_KEYLESS_OP_ED25519_SIGN;
        uint8_t tbs[32];
        pqify_keyless_packet req;
        pqify_keyless_result r;
        if (RAND_bytes(tbs, 32) != 1)
            (*failures)++;
        pqify_keyless_packet_init(&req, (uint32_t)i, op);
        memcpy(req.ski, skis[key], 20);
        req.payload = (pqify_keyless_bytes){tbs, 32};
        pqify_keyless_operate(store, &req, &r);
        if (r.opcode != PQIFY_KEYLESS_OP_RESPONSE || !verify(key, op, tbs, 32, &r))
            (*failures)++;
    }
    return NULL;
}

/* the token's sessions are shared out one per operation: concurrent signs all verify */
static void test_threads(void **state)
{
    pthread_t t[THREADS];
    int failures[THREADS] = {0};
    (void)state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, work, &failures[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(failures[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skis),    cmocka_unit_test(test_sign),
        cmocka_unit_test(test_md5sha1_and_decrypt), cmocka_unit_test(test_token_uri_and_reload),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
