/* The request handler a key server's worker runs: gokeyless's own request packets in,
 * answers carrying their ids out; malformed packets answered 7 (4 for the version) and
 * the connection closed; proxy mode's "forward"; many threads over one shared store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "keyless_test.h"

enum { RSA_K, P256_K, P384_K, ED_K };

static char dir[512];
static pqify_keyless_store *store;
static EVP_PKEY *pubs[KT_NKEYS + 1]; /* + the vectors' key */
static uint8_t skis[KT_NKEYS + 1][20];
static int have_vectors;

typedef struct vec {
    uint8_t b[2048];
    size_t n;
} vec;

static void load_vec(const char *name, vec *v)
{
    assert_int_equal(kt_vector(name, v->b, sizeof(v->b), &v->n), 0);
}

/* the vectors' P-256 key (d alone; pub = d*G), written as a PEM file for the store */
static int write_vector_key(const char *path)
{
    vec d;
    uint8_t pub[65];
    int ok;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *pt = EC_POINT_new(g);
    BIGNUM *bd;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    FILE *f;
    if (kt_vector("d", d.b, sizeof(d.b), &d.n) != 0)
        return -1;
    bd = BN_bin2bn(d.b, (int)d.n, NULL);
    ok = EC_POINT_mul(g, pt, bd, NULL, NULL, NULL) == 1 &&
         EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, 65, NULL) == 65 &&
         OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) == 1;
    params = ok ? OSSL_PARAM_BLD_to_param(bld) : NULL;
    ok = ok && EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) == 1;
    f = ok ? fopen(path, "w") : NULL;
    ok = f != NULL && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f != NULL)
        fclose(f);
    pubs[KT_NKEYS] = k;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bd);
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    return ok ? 0 : -1;
}

static int setup(void **state)
{
    char err[512], path[1024];
    pqify_keyless_store_options o = {0};
    (void)state;
    kt_tmpdir(dir, sizeof(dir), "khandler");
    if (dir[0] == 0 || kt_make_keys(dir) != 0)
        return -1;
    have_vectors = kt_vectors_file() != NULL;
    snprintf(path, sizeof(path), "%s/vector.key", dir);
    if (have_vectors && (write_vector_key(path) != 0 || kt_vector("ski", skis[KT_NKEYS], 20, &(size_t){0}) != 0))
        return -1;
    o.dir = dir;
    store = pqify_keyless_store_load(&o, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "store: %s\n", err);
        return -1;
    }
    for (int i = 0; i < KT_NKEYS; i++) {
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
    for (int i = 0; i <= KT_NKEYS; i++)
        EVP_PKEY_free(pubs[i]);
    pqify_keyless_store_release(store);
    return kt_sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static uint8_t out[PQIFY_KEYLESS_MAX_PACKET];

/* gokeyless's sign request for the vectors' key: our answer carries id 1 and a signature
 * that verifies, padded as gokeyless pads */
static void test_vector_sign_request(void **state)
{
    vec req, digest;
    pqify_keyless_answer a;
    pqify_keyless_packet resp;
    EVP_PKEY_CTX *ctx;
    (void)state;
    if (!have_vectors)
        skip();
    load_vec("sign_request", &req);
    load_vec("digest", &digest);
    assert_int_equal(pqify_keyless_handle(store, 0, req.b, req.n, out, sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_REPLY);
    assert_int_equal(a.id, 1);
    assert_int_equal(a.opcode, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
    assert_int_equal(a.result, PQIFY_KEYLESS_OP_RESPONSE);
    assert_memory_equal(a.ski, skis[KT_NKEYS], 20);
    assert_int_equal(a.out_len, 1024);
    assert_int_equal(pqify_keyless_decode(out, a.out_len, &resp), 0);
    assert_int_equal(resp.id, 1);
    assert_int_equal(resp.opcode, PQIFY_KEYLESS_OP_RESPONSE);
    assert_true(resp.padded);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[KT_NKEYS], NULL);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_verify(ctx, resp.payload.data, resp.payload.len, digest.b, digest.n), 1);
    EVP_PKEY_CTX_free(ctx);
}

/* gokeyless's ping: the pong is gokeyless's unpadded pong, padded */
static void test_vector_ping(void **state)
{
    vec req, pong;
    pqify_keyless_answer a;
    pqify_keyless_packet resp;
    size_t n;
    uint8_t again[2048];
    (void)state;
    if (!have_vectors)
        skip();
    load_vec("ping_request", &req);
    load_vec("pong_unpadded", &pong);
    assert_int_equal(pqify_keyless_handle(store, 0, req.b, req.n, out, sizeof(out), &a), 0);
    assert_int_equal(a.result, PQIFY_KEYLESS_OP_PONG);
    assert_int_equal(pqify_keyless_decode(out, a.out_len, &resp), 0);
    resp.padded = 0;
    assert_int_equal(pqify_keyless_encode(&resp, again, sizeof(again), &n), 0);
    assert_int_equal(n, pong.n);
    assert_memory_equal(again, pong.b, n);
}

static void expect_close(const uint8_t *in, size_t n, uint32_t id, uint8_t code)
{
    pqify_keyless_answer a;
    pqify_keyless_packet resp;
    assert_int_equal(pqify_keyless_handle(store, 0, in, n, out, sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_REPLY_CLOSE);
    assert_int_equal(a.result, PQIFY_KEYLESS_OP_ERROR);
    assert_int_equal(a.error, code);
    assert_int_equal(pqify_keyless_decode(out, a.out_len, &resp), 0);
    assert_int_equal(resp.id, id);
    assert_int_equal(resp.opcode, PQIFY_KEYLESS_OP_ERROR);
    assert_int_equal(resp.payload.len, 1);
    assert_int_equal(resp.payload.data[0], code);
}

static size_t request(uint8_t *b, size_t cap, uint32_t id, uint8_t op, int key, const uint8_t *payload,
                      size_t len)
{
    pqify_keyless_packet p;
    size_t n = 0;
    pqify_keyless_packet_init(&p, id, op);
    if (key >= 0)
        memcpy(p.ski, skis[key], 20);
    p.payload = (pqify_keyless_bytes){payload, len};
    assert_int_equal(pqify_keyless_encode(&p, b, cap, &n), 0);
    return n;
}

static void test_malformed(void **state)
{
    uint8_t b[2048], d32[32] = {0};
    size_t n;
    (void)state;
    n = request(b, sizeof(b), 77, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, P256_K, d32, 32);
    expect_close(b, n - 1, 77, PQIFY_KEYLESS_E_FORMAT); /* truncated */
    b[0] = 2;
    expect_close(b, n, 77, PQIFY_KEYLESS_E_VERSION_MISMATCH);
    b[0] = 1;
    /* a second opcode item in place of the padding item's head */
    b[8 + 4 + 35 + 23] = PQIFY_KEYLESS_TAG_OPCODE;
    b[8 + 4 + 35 + 23 + 1] = 0;
    b[8 + 4 + 35 + 23 + 2] = 1;
    b[8 + 4 + 35 + 23 + 3] = PQIFY_KEYLESS_OP_PING;
    b[8 + 4 + 35 + 23 + 4] = 0x7f; /* then an unknown item covering the rest */
    b[8 + 4 + 35 + 23 + 5] = (uint8_t)((n - (8 + 4 + 35 + 23 + 7)) >> 8);
    b[8 + 4 + 35 + 23 + 6] = (uint8_t)(n - (8 + 4 + 35 + 23 + 7));
    expect_close(b, n, 77, PQIFY_KEYLESS_E_FORMAT);
    /* fewer than 8 bytes: no id to name */
    expect_close(b, 5, 0, PQIFY_KEYLESS_E_FORMAT);
}

static void test_forward_and_errors(void **state)
{
    uint8_t b[2048], d32[32] = {0}, unknown[20];
    size_t n;
    pqify_keyless_answer a;
    pqify_keyless_packet resp;
    (void)state;
    memset(unknown, 0x42, sizeof(unknown));
    {
        pqify_keyless_packet p;
        pqify_keyless_packet_init(&p, 9, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
        memcpy(p.ski, unknown, 20);
        p.payload = (pqify_keyless_bytes){d32, 32};
        assert_int_equal(pqify_keyless_encode(&p, b, sizeof(b), &n), 0);
    }
    /* proxy mode: not held here -> forward, nothing written, the SKI to route by */
    assert_int_equal(pqify_keyless_handle(store, PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN, b, n, out,
                                          sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_FORWARD);
    assert_int_equal(a.out_len, 0);
    assert_int_equal(a.id, 9);
    assert_memory_equal(a.ski, unknown, 20);
    /* a plain server answers 2 */
    assert_int_equal(pqify_keyless_handle(store, 0, b, n, out, sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_REPLY);
    assert_int_equal(a.error, PQIFY_KEYLESS_E_KEY_NOT_FOUND);
    assert_int_equal(pqify_keyless_decode(out, a.out_len, &resp), 0);
    assert_int_equal(resp.id, 9);
    assert_int_equal(resp.payload.data[0], PQIFY_KEYLESS_E_KEY_NOT_FOUND);
    /* held keys are never forwarded; missing SKI and bad opcodes are answered here */
    n = request(b, sizeof(b), 10, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, P256_K, d32, 32);
    assert_int_equal(pqify_keyless_handle(store, PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN, b, n, out,
                                          sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_REPLY);
    assert_int_equal(a.result, PQIFY_KEYLESS_OP_RESPONSE);
    n = request(b, sizeof(b), 11, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, -1, d32, 32);
    assert_int_equal(pqify_keyless_handle(store, PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN, b, n, out,
                                          sizeof(out), &a), 0);
    assert_int_equal(a.verdict, PQIFY_KEYLESS_REPLY);
    assert_int_equal(a.error, PQIFY_KEYLESS_E_INTERNAL);
    n = request(b, sizeof(b), 12, PQIFY_KEYLESS_OP_SEAL, P256_K, d32, 32);
    assert_int_equal(pqify_keyless_handle(store, 0, b, n, out, sizeof(out), &a), 0);
    assert_int_equal(a.error, PQIFY_KEYLESS_E_BAD_OPCODE);
    assert_int_equal(a.opcode, PQIFY_KEYLESS_OP_SEAL);
    /* an output buffer too small is the caller's error, not an answer */
    n = request(b, sizeof(b), 13, PQIFY_KEYLESS_OP_PING, -1, d32, 4);
    assert_int_equal(pqify_keyless_handle(store, 0, b, n, out, 100, &a), PQIFY_KEYLESS_ERR_TOO_LARGE);
    assert_int_equal(pqify_keyless_handle(store, 0, b, n, NULL, 100, &a), PQIFY_KEYLESS_ERR_ARG);
}

/* ---- many workers over one shared, read-only store ---- */
#define THREADS 4
#define PER_THREAD 300

typedef struct worker {
    int index;
    int failures;
    char why[256];
} worker;

static int verify(int key, uint8_t op, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig, size_t n)
{
    int ok;
    if (key == ED_K) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(m, NULL, NULL, NULL, pubs[key]) == 1 &&
             EVP_DigestVerify(m, sig, n, tbs, tbs_len) == 1;
        EVP_MD_CTX_free(m);
        return ok;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pubs[key], NULL);
    ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1;
    if (ok && op == PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256)
        ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1;
    ok = ok && EVP_PKEY_verify(ctx, sig, n, tbs, tbs_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void *work(void *arg)
{
    static const struct { int key; uint8_t op; size_t len; } mix[] = {
        {P256_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, 32}, {ED_K, PQIFY_KEYLESS_OP_ED25519_SIGN, 100},
        {P384_K, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, 48}, {RSA_K, PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, 32},
        {-1, PQIFY_KEYLESS_OP_PING, 16},
    };
    worker *w = arg;
    uint8_t *o = malloc(PQIFY_KEYLESS_MAX_PACKET);
    uint8_t b[2048], tbs[100];
    for (int i = 0; i < PER_THREAD && o != NULL; i++) {
        int m = (i + w->index) % 5;
        uint32_t id = (uint32_t)(w->index << 16 | i);
        pqify_keyless_packet p, resp;
        pqify_keyless_answer a;
        size_t n;
        int ok;
        if (RAND_bytes(tbs, sizeof(tbs)) != 1)
            break;
        pqify_keyless_packet_init(&p, id, mix[m].op);
        if (mix[m].key >= 0)
            memcpy(p.ski, skis[mix[m].key], 20);
        p.payload = (pqify_keyless_bytes){tbs, mix[m].len};
        ok = pqify_keyless_encode(&p, b, sizeof(b), &n) == 0 &&
             pqify_keyless_handle(store, 0, b, n, o, PQIFY_KEYLESS_MAX_PACKET, &a) == 0 &&
             a.verdict == PQIFY_KEYLESS_REPLY && pqify_keyless_decode(o, a.out_len, &resp) == 0 &&
             resp.id == id;
        if (ok && mix[m].key < 0)
            ok = resp.opcode == PQIFY_KEYLESS_OP_PONG && resp.payload.len == 16 &&
                 memcmp(resp.payload.data, tbs, 16) == 0;
        else if (ok)
            ok = resp.opcode == PQIFY_KEYLESS_OP_RESPONSE &&
                 verify(mix[m].key, mix[m].op, tbs, mix[m].len, resp.payload.data, resp.payload.len);
        if (!ok && w->failures++ == 0)
            snprintf(w->why, sizeof(w->why), "thread %d request %d (%s) failed", w->index, i,
                     pqify_keyless_op_name(mix[m].op));
    }
    if (o == NULL)
        w->failures++;
    free(o);
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[THREADS];
    worker w[THREADS];
    (void)state;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.index = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failures != 0)
            fail_msg("%d failures; first: %s", w[i].failures, w[i].why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_sign_request), cmocka_unit_test(test_vector_ping),
        cmocka_unit_test(test_malformed),           cmocka_unit_test(test_forward_and_errors),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
