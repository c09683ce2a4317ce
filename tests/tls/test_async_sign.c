/*
 * Asynchronous signing (tls.h "Asynchronous signing"): the signer answers "pending",
 * the handshake waits with PQIFY_TLS_WANT_SIGNATURE, and the caller completes or
 * fails the signature later, as a keyless TLS terminator does.
 */
#include "tls_test.h"

static tt_ca ca;
static tt_identity server_id, client_id;
static EVP_PKEY *server_key, *client_key;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify async CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    tt_identity_new(&client_id, &ca, "P-256", "client.test", NULL, -1, 365);
    server_key = tt_pem_read_key(&server_id.key);
    client_key = tt_pem_read_key(&client_id.key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
    tt_identity_free(&server_id);
    tt_identity_free(&client_id);
    tt_ca_free(&ca);
    return 0;
}

/* The "remote key server": the signer only counts and says "pending". */
struct remote {
    int calls;
};

static int pending_sign(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
                        uint8_t *sig, size_t cap, size_t *sig_len)
{
    (void)scheme, (void)tbs, (void)tbs_len, (void)sig, (void)cap, (void)sig_len;
    ((struct remote *)ctx)->calls++;
    return PQIFY_TLS_SIGN_PENDING;
}

static const uint16_t p256_schemes[] = {0x0403};

/* What the key server computes, independently of the engine (libcrypto ECDSA). */
static size_t key_server_sign(EVP_PKEY *key, const uint8_t *tbs, size_t len, uint8_t *sig)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = PQIFY_TLS_MAX_SIGNATURE;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &n, tbs, len), 1);
    EVP_MD_CTX_free(md);
    return n;
}

static void answer(pqify_tls_conn *conn, EVP_PKEY *key)
{
    uint16_t scheme = 0;
    const uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
    assert_int_equal(pqify_tls_signature_request(conn, &scheme, &tbs, &tbs_len), 0);
    assert_int_equal(scheme, 0x0403);
    /* §4.4.3: 64 spaces, then the context string */
    assert_true(tbs_len > 64 + 33);
    for (size_t i = 0; i < 64; i++)
        assert_int_equal(tbs[i], 0x20);
    size_t n = key_server_sign(key, tbs, tbs_len, sig);
    assert_int_equal(pqify_tls_signature_complete(conn, sig, n), 0);
}

static pqify_tls_config *async_server_config(struct remote *r)
{
    pqify_tls_signer signer = {r, p256_schemes, 1, pending_sign};
    pqify_tls_config *s = pqify_tls_config_new();
    assert_non_null(s);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(s, server_id.chain.data, server_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_signer(s, &signer), 0);
    return s;
}

/* one client/server pair driven by hand */
typedef struct link {
    pqify_tls_conn *c, *s;
    pqify_tls_buf cs, sc;   /* client -> server, server -> client */
    int cret, sret;
} link;

static void link_new(link *l, const pqify_tls_config *ccfg, const pqify_tls_config *scfg)
{
    memset(l, 0, sizeof *l);
    l->c = pqify_tls_conn_new(ccfg, 0);
    l->s = pqify_tls_conn_new(scfg, 1);
    assert_non_null(l->c);
    assert_non_null(l->s);
    pqify_tls_buf_init(&l->cs, NULL, 0);
    pqify_tls_buf_init(&l->sc, NULL, 0);
    l->cret = l->sret = PQIFY_TLS_IN_PROGRESS;
}

static void link_free(link *l)
{
    pqify_tls_conn_free(l->c);
    pqify_tls_conn_free(l->s);
    pqify_tls_buf_dispose(&l->cs);
    pqify_tls_buf_dispose(&l->sc);
}

static int step(pqify_tls_conn *conn, pqify_tls_buf *in, pqify_tls_buf *out)
{
    size_t used = in->len;
    int r = pqify_tls_handshake(conn, in->base, &used, out);
    pqify_tls_buf_consume(in, used);
    return r;
}

/* Move bytes both ways until neither side can go on (done, failed or waiting). */
static void drive(link *l)
{
    for (int round = 0; round < 8; round++) {
        if (l->cret > 0)
            l->cret = step(l->c, &l->sc, &l->cs);
        if (l->sret > 0)
            l->sret = step(l->s, &l->cs, &l->sc);
    }
}

static void expect_established_pq(link *l)
{
    assert_int_equal(l->cret, 0);
    assert_int_equal(l->sret, 0);
    pqify_tls_info ci, si;
    pqify_tls_get_info(l->c, &ci);
    pqify_tls_get_info(l->s, &si);
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_int_equal(ci.is_pq, 1);
    assert_int_equal(ci.signature_scheme, 0x0403);
    assert_string_equal(si.group, ci.group);
    const char msg[] = "signed far away";
    tt_transfer(l->c, l->s, msg, sizeof msg, 1 << 20);
}

/* The signature comes after several handshake calls; another connection finishes meanwhile. */
static void test_completes_after_delay(void **state)
{
    (void)state;
    struct remote r = {0};
    pqify_tls_config *s = async_server_config(&r);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    link a, b;
    link_new(&a, c, s);
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_WANT_SIGNATURE);
    assert_int_equal(a.cret, PQIFY_TLS_IN_PROGRESS);   /* has ServerHello..Certificate, waits for CV */
    assert_int_equal(r.calls, 1);
    for (int i = 0; i < 5; i++) {
        /* repeated calls wait; bytes offered meanwhile are left with the caller */
        uint8_t junk[3] = {22, 3, 3};
        size_t used = sizeof junk;
        assert_int_equal(pqify_tls_handshake(a.s, junk, &used, &a.sc), PQIFY_TLS_WANT_SIGNATURE);
        assert_int_equal(used, 0);
        size_t zero = 0;
        assert_int_equal(pqify_tls_handshake(a.s, NULL, &zero, &a.sc), PQIFY_TLS_WANT_SIGNATURE);
        drive(&a);
        assert_int_equal(a.cret, PQIFY_TLS_IN_PROGRESS);
    }
    /* a second connection runs its whole handshake while the first waits */
    link_new(&b, c, s);
    drive(&b);
    assert_int_equal(b.sret, PQIFY_TLS_WANT_SIGNATURE);
    answer(b.s, server_key);
    drive(&b);
    expect_established_pq(&b);
    assert_int_equal(a.sret, PQIFY_TLS_WANT_SIGNATURE);
    /* now the first one's signature arrives */
    answer(a.s, server_key);
    a.sret = PQIFY_TLS_IN_PROGRESS;
    drive(&a);
    expect_established_pq(&a);
    assert_int_equal(r.calls, 2);
    link_free(&a);
    link_free(&b);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* 50 connections wait at once; their signatures complete in a shuffled order. */
static void test_out_of_order(void **state)
{
    (void)state;
    enum { N = 50 };
    struct remote r = {0};
    pqify_tls_config *s = async_server_config(&r);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    link *l = calloc(N, sizeof *l);
    size_t order[N];
    assert_non_null(l);
    for (size_t i = 0; i < N; i++) {
        link_new(&l[i], c, s);
        drive(&l[i]);
        assert_int_equal(l[i].sret, PQIFY_TLS_WANT_SIGNATURE);
        order[i] = i;
    }
    assert_int_equal(r.calls, N);
    uint32_t x = 12345;   /* fixed-seed Fisher-Yates, so a failure replays */
    for (size_t i = N - 1; i > 0; i--) {
        x = x * 1103515245u + 12345u;
        size_t j = (x >> 8) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < N; k++) {
        link *cur = &l[order[k]];
        answer(cur->s, server_key);
        cur->sret = PQIFY_TLS_IN_PROGRESS;
        drive(cur);
        expect_established_pq(cur);
        /* the ones not answered yet still wait, untouched */
        for (size_t m = k + 1; m < N; m++)
            assert_int_equal(pqify_tls_handshake(l[order[m]].s, NULL, &(size_t){0}, &l[order[m]].sc),
                             PQIFY_TLS_WANT_SIGNATURE);
    }
    for (size_t i = 0; i < N; i++)
        link_free(&l[i]);
    free(l);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The key server fails: internal_error to the client, the reason in the error detail. */
static void test_signer_fails(void **state)
{
    (void)state;
    struct remote r = {0};
    pqify_tls_config *s = async_server_config(&r);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    link a;
    link_new(&a, c, s);
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_WANT_SIGNATURE);
    assert_string_equal(pqify_tls_error_detail(a.s), "");
    assert_int_equal(pqify_tls_signature_failed(a.s, "key server 10.0.0.7 timed out"), 0);
    a.sret = PQIFY_TLS_IN_PROGRESS;
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_ERR_SIGN);
    assert_int_equal(pqify_tls_alert_of(a.sret), 80);
    assert_string_equal(pqify_tls_error_detail(a.s), "signer failed: key server 10.0.0.7 timed out");
    assert_int_equal(a.cret, PQIFY_TLS_ERR_PEER_ALERT - 80);
    /* sticky, and nothing more can be completed */
    uint8_t sig[8] = {1};
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, sizeof sig), PQIFY_TLS_ERR_SIGN);
    assert_int_equal(pqify_tls_handshake(a.s, NULL, &(size_t){0}, &a.sc), PQIFY_TLS_ERR_SIGN);
    link_free(&a);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* A signature that is not the key's (or is cut short) is sent as given; the client
 * catches it with decrypt_error. */
static void test_bad_signature_rejected_by_client(void **state)
{
    (void)state;
    struct remote r = {0};
    pqify_tls_config *s = async_server_config(&r);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    for (int variant = 0; variant < 3; variant++) {
        link a;
        link_new(&a, c, s);
        drive(&a);
        assert_int_equal(a.sret, PQIFY_TLS_WANT_SIGNATURE);
        uint16_t scheme;
        const uint8_t *tbs;
        size_t tbs_len, n;
        uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
        assert_int_equal(pqify_tls_signature_request(a.s, &scheme, &tbs, &tbs_len), 0);
        if (variant == 0) {
            n = key_server_sign(client_key, tbs, tbs_len, sig);   /* the wrong key */
        } else if (variant == 1) {
            n = key_server_sign(server_key, tbs, tbs_len, sig);
            n -= 5;                                               /* truncated */
        } else {
            n = key_server_sign(server_key, tbs, tbs_len, sig);
            sig[n - 1] ^= 1;                                      /* one bit off */
        }
        assert_int_equal(pqify_tls_signature_complete(a.s, sig, n), 0);
        a.sret = PQIFY_TLS_IN_PROGRESS;
        drive(&a);
        assert_int_equal(a.cret, PQIFY_TLS_ERR_BAD_SIGNATURE);
        assert_int_equal(pqify_tls_alert_of(a.cret), 51);
        assert_int_equal(a.sret, PQIFY_TLS_ERR_PEER_ALERT - 51);
        link_free(&a);
    }
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Completion at the wrong time or with a length out of range: a clear error, no change. */
static void test_misuse(void **state)
{
    (void)state;
    struct remote r = {0};
    pqify_tls_config *s = async_server_config(&r);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE + 1];
    memset(sig, 7, sizeof sig);
    uint16_t scheme;
    const uint8_t *tbs;
    size_t tbs_len;
    link a;
    link_new(&a, c, s);
    /* before anything is pending */
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, 64), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_failed(a.s, "x"), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_request(a.s, &scheme, &tbs, &tbs_len), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_complete(NULL, sig, 64), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_complete(a.c, sig, 64), PQIFY_TLS_ERR_ARG);
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_WANT_SIGNATURE);
    /* out-of-range lengths leave it pending */
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, 0), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, PQIFY_TLS_MAX_SIGNATURE + 1),
                     PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_complete(a.s, NULL, 64), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_request(a.s, &scheme, &tbs, &tbs_len), 0);
    answer(a.s, server_key);
    /* twice, and failing after completing */
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, 64), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_failed(a.s, "late"), PQIFY_TLS_ERR_ARG);
    a.sret = PQIFY_TLS_IN_PROGRESS;
    drive(&a);
    expect_established_pq(&a);
    /* after the handshake */
    assert_int_equal(pqify_tls_signature_complete(a.s, sig, 64), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_signature_failed(a.s, NULL), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_error(a.s), 0);
    link_free(&a);
    /* a failure without a reason still says who failed */
    link_new(&a, c, s);
    drive(&a);
    assert_int_equal(pqify_tls_signature_failed(a.s, NULL), 0);
    assert_int_equal(pqify_tls_signature_failed(a.s, NULL), PQIFY_TLS_ERR_ARG);
    a.sret = PQIFY_TLS_IN_PROGRESS;
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_ERR_SIGN);
    assert_string_equal(pqify_tls_error_detail(a.s), "signer failed: no reason given");
    link_free(&a);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* A synchronous signer's failure also names the signer. */
static int failing_sign(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
                        uint8_t *sig, size_t cap, size_t *sig_len)
{
    (void)ctx, (void)scheme, (void)tbs, (void)tbs_len, (void)sig, (void)cap, (void)sig_len;
    return -7;
}

static void test_sync_failure_detail(void **state)
{
    (void)state;
    pqify_tls_signer signer = {NULL, p256_schemes, 1, failing_sign};
    pqify_tls_config *s = pqify_tls_config_new();
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(s, server_id.chain.data, server_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_signer(s, &signer), 0);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    link a;
    link_new(&a, c, s);
    drive(&a);
    assert_int_equal(a.sret, PQIFY_TLS_ERR_SIGN);
    assert_non_null(strstr(pqify_tls_error_detail(a.s), "sign() returned -7"));
    assert_int_equal(a.cret, PQIFY_TLS_ERR_PEER_ALERT - 80);
    link_free(&a);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Mutual TLS: the client's CertificateVerify goes through the same interface. */
static void test_client_signs_async(void **state)
{
    (void)state;
    struct remote r = {0};
    pqify_tls_signer signer = {&r, p256_schemes, 1, pending_sign};
    pqify_tls_config *s = tt_server_config(&server_id);
    assert_int_equal(pqify_tls_config_set_ca_pem(s, ca.pem.data, ca.pem.len), 0);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, client_id.chain.data, client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_signer(c, &signer), 0);
    link a;
    link_new(&a, c, s);
    drive(&a);
    assert_int_equal(a.cret, PQIFY_TLS_WANT_SIGNATURE);
    assert_int_equal(a.sret, PQIFY_TLS_IN_PROGRESS);
    answer(a.c, client_key);
    a.cret = PQIFY_TLS_IN_PROGRESS;
    drive(&a);
    expect_established_pq(&a);
    pqify_tls_info si;
    pqify_tls_get_info(a.s, &si);
    assert_int_equal(si.peer_cert, 1);
    assert_non_null(strstr(si.peer_subject, "CN=client.test"));
    assert_int_equal(si.signature_scheme, 0x0403);
    link_free(&a);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completes_after_delay),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_signer_fails),
        cmocka_unit_test(test_bad_signature_rejected_by_client),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_sync_failure_detail),
        cmocka_unit_test(test_client_signs_async),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
