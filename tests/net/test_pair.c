/*
 * The in-memory pair (include/pqify/net/pair.h) and the throwaway identity
 * (selfsigned.h): libcrypto reads the identity back on its own; a pair completes
 * a handshake per group, counts the bytes each way, reports HelloRetryRequest,
 * and names the side that failed first.
 */
#include "tls/tls_test.h"

#include "pqify/net/pair.h"
#include "pqify/net/selfsigned.h"

static char *cert, *key;

static int setup(void **state)
{
    (void)state;
    return pqify_selfsigned_p256("pair.test", &cert, &key);
}

static int teardown(void **state)
{
    (void)state;
    free(cert);
    free(key);
    return 0;
}

static void test_selfsigned_reads_back(void **state)
{
    (void)state;
    BIO *b = BIO_new_mem_buf(cert, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(key, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    assert_non_null(k);
    assert_int_equal(X509_check_private_key(x, k), 1);
    assert_true(EVP_PKEY_is_a(k, "EC"));
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "pair.test");
    /* self-signed: its own key verifies it */
    assert_int_equal(X509_verify(x, k), 1);
    X509_free(x);
    EVP_PKEY_free(k);
}

static pqify_tls_config *server_cfg(const char *groups)
{
    pqify_tls_config *s = pqify_tls_config_new();
    assert_non_null(s);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(s, cert, strlen(cert)), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(s, key, strlen(key)), 0);
    assert_int_equal(pqify_tls_config_set_groups(s, groups), 0);
    return s;
}

static pqify_tls_config *client_cfg(const char *groups)
{
    pqify_tls_config *c = pqify_tls_config_new();
    assert_non_null(c);
    pqify_tls_config_set_verify_peer(c, 0);   /* a throwaway identity chains to nothing */
    assert_int_equal(pqify_tls_config_set_groups(c, groups), 0);
    return c;
}

static void test_pair_handshakes(void **state)
{
    (void)state;
    static const struct {
        const char *client, *server, *group;
        int hrr;
        size_t min_hello;  /* the client's key share alone (DESIGN.md "Groups") */
    } cases[] = {
        {NULL, NULL, "X25519MLKEM768", 0, 1184 + 32},
        {"secp256r1", NULL, "secp256r1", 0, 65},
        {NULL, "SecP256r1MLKEM768", "SecP256r1MLKEM768", 1, 1184 + 32},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pqify_tls_config *c = client_cfg(cases[i].client), *s = server_cfg(cases[i].server);
        pqify_pair p;
        assert_int_equal(pqify_pair_init(&p, c, s), 0);
        assert_int_equal(pqify_pair_handshake(&p), 0);
        pqify_tls_info ci, si;
        pqify_tls_get_info(p.client.conn, &ci);
        pqify_tls_get_info(p.server.conn, &si);
        assert_string_equal(ci.group, cases[i].group);
        assert_string_equal(si.group, cases[i].group);
        assert_int_equal(ci.hrr, cases[i].hrr);
        assert_true(p.client_hello_bytes > cases[i].min_hello);
        assert_true(p.client_to_server >= p.client_hello_bytes);
        assert_true(p.server_to_client > 0);
        /* the session ticket the server sent after its handshake reached the client */
        uint8_t blob[PQIFY_TLS_MAX_SESSION];
        size_t len = 0;
        assert_int_equal(pqify_tls_get_session(p.client.conn, blob, sizeof blob, &len), 0);
        /* and the pumps carry data on */
        assert_int_equal(pqify_pump_send(&p.client, "x", 1), 0);
        assert_int_equal(pqify_pump_feed(&p.server, p.client.out.base, p.client.out.len),
                         PQIFY_PUMP_DATA);
        pqify_pair_dispose(&p);
        pqify_tls_config_free(c);
        pqify_tls_config_free(s);
    }
}

/* A classical-only client against a server that demands PQ: the server fails
 * first (insufficient_security), the client then on that alert. */
static void test_pair_names_first_failure(void **state)
{
    (void)state;
    pqify_tls_config *c = client_cfg("x25519"), *s = server_cfg(NULL);
    assert_int_equal(pqify_tls_config_set_pq(s, PQIFY_PQ_REQUIRED), 0);
    pqify_pair p;
    assert_int_equal(pqify_pair_init(&p, c, s), 0);
    assert_int_equal(pqify_pair_handshake(&p), PQIFY_TLS_ERR_NO_PQ_GROUP);
    assert_int_equal(pqify_pump_error(&p.client), PQIFY_TLS_ERR_PEER_ALERT - 71);
    pqify_pair_dispose(&p);
    pqify_tls_config_free(c);
    pqify_tls_config_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selfsigned_reads_back),
        cmocka_unit_test(test_pair_handshakes),
        cmocka_unit_test(test_pair_names_first_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
