/*
 * Issue 9, found in serve and connect: a peer chain of more than 8 certificates that
 * verifies is taken (RFC 8446 §4.4.2), a chain over the 32 KiB message limit says it
 * is too big, and a peer that does not speak TLS (an SSH banner, an HTTP reply) is
 * reported as such instead of as unexpected_message.
 */
#include "tls_test.h"

static tt_ca ca;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_ca_free(&ca);
    return 0;
}

/* leaf + n_intermediates below the test CA, leaf first; san_pad makes each
 * certificate about that many bytes bigger (extra DNS names) */
static void long_chain(tt_identity *id, int n_intermediates, const char *cn, size_t san_pad)
{
    EVP_PKEY *keys[20];
    X509 *certs[20];
    memset(id, 0, sizeof *id);
    assert_true(n_intermediates < 19);
    char *san = malloc(san_pad + 64);
    strcpy(san, "DNS:server.test");
    for (size_t i = 0; strlen(san) + 40 < san_pad; i++)
        sprintf(san + strlen(san), ",DNS:padding-%04zu.server.test", i);
    X509 *issuer = ca.cert;
    EVP_PKEY *issuer_key = ca.key;
    for (int i = 0; i < n_intermediates; i++) {
        char name[32];
        snprintf(name, sizeof name, "intermediate %d", i);
        keys[i] = tt_keygen("P-256");
        certs[i] = tt_cert(keys[i], name, issuer, issuer_key, 1, san_pad ? san : NULL, -1, 30);
        issuer = certs[i];
        issuer_key = keys[i];
    }
    EVP_PKEY *leaf_key = tt_keygen("P-256");
    X509 *leaf = tt_cert(leaf_key, cn, issuer, issuer_key, 0, san, -1, 30);
    tt_pem_append_cert(&id->chain, leaf);
    for (int i = n_intermediates - 1; i >= 0; i--)
        tt_pem_append_cert(&id->chain, certs[i]);
    tt_pem_key(&id->key, leaf_key);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    for (int i = 0; i < n_intermediates; i++) {
        X509_free(certs[i]);
        EVP_PKEY_free(keys[i]);
    }
    free(san);
}

/* A 12-certificate chain (leaf and 11 intermediates) in both roles. */
static void test_chain_of_twelve_in_both_roles(void **state)
{
    (void)state;
    tt_identity server_id, client_id;
    long_chain(&server_id, 11, "server.test", 0);
    long_chain(&client_id, 11, "client.test", 0);
    pqify_tls_config *s = tt_server_config(&server_id), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_ca_pem(s, ca.pem.data, ca.pem.len), 0);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, client_id.chain.data, client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(c, client_id.key.data, client_id.key.len), 0);
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    if (p.client_ret != 0 || p.server_ret != 0)
        fail_msg("client %s, server %s", pqify_tls_strerror(p.client_ret), pqify_tls_strerror(p.server_ret));
    pqify_tls_info si;
    pqify_tls_get_info(p.server, &si);
    assert_non_null(strstr(si.peer_subject, "CN=client.test"));
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&server_id);
    tt_identity_free(&client_id);
}

/* A long chain that does not reach the CA is still refused (unknown_ca). */
static void test_long_chain_from_elsewhere_refused(void **state)
{
    (void)state;
    tt_identity server_id;
    long_chain(&server_id, 10, "server.test", 0);
    tt_ca other;
    tt_ca_new(&other, "another CA");
    pqify_tls_config *s = tt_server_config(&server_id), *c = tt_client_config(&other, "server.test");
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.client_ret, PQIFY_TLS_ERR_UNKNOWN_CA);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&server_id);
    tt_ca_free(&other);
}

/* A Certificate message over 32 KiB: "too big", decode_error on the wire. */
static void test_chain_over_32k_says_too_big(void **state)
{
    (void)state;
    tt_identity server_id;
    long_chain(&server_id, 14, "server.test", 2600);
    pqify_tls_config *s = tt_server_config(&server_id), *c = tt_client_config(&ca, "server.test");
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.client_ret, PQIFY_TLS_ERR_MESSAGE_TOO_LARGE);
    assert_non_null(strstr(pqify_tls_strerror(p.client_ret), "over the 32 KiB limit"));
    assert_non_null(strstr(pqify_tls_strerror(p.client_ret), "decode_error"));
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&server_id);
}

/* What a client that dialled the wrong port reads first. */
static void not_tls_to(int is_server, const char *first_bytes)
{
    tt_identity id;
    tt_identity_new(&id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    pqify_tls_config *cfg = is_server ? tt_server_config(&id) : tt_client_config(&ca, "server.test");
    pqify_tls_conn *conn = pqify_tls_conn_new(cfg, is_server);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t zero = 0, used = strlen(first_bytes);
    if (!is_server)
        assert_int_equal(pqify_tls_handshake(conn, NULL, &zero, &out), PQIFY_TLS_IN_PROGRESS);
    int r = pqify_tls_handshake(conn, (const uint8_t *)first_bytes, &used, &out);
    if (r != PQIFY_TLS_ERR_NOT_TLS)
        fail_msg("%s fed \"%.20s\": %d (%s)", is_server ? "server" : "client", first_bytes, r,
                 pqify_tls_strerror(r));
    assert_non_null(strstr(pqify_tls_strerror(r), "the peer did not answer with TLS"));
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(conn);
    pqify_tls_config_free(cfg);
    tt_identity_free(&id);
}

static void test_non_tls_peers_named(void **state)
{
    (void)state;
    not_tls_to(0, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    not_tls_to(0, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    not_tls_to(0, "220 mail.example ESMTP\r\n");
    not_tls_to(1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    /* a TLS 1.2-style header with an unknown type is still TLS framing: unexpected_message */
    tt_identity id;
    tt_identity_new(&id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    pqify_tls_config *cfg = tt_server_config(&id);
    pqify_tls_conn *conn = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    const uint8_t type24[6] = {24, 3, 3, 0, 1, 0};
    size_t used = sizeof type24;
    assert_int_equal(pqify_tls_handshake(conn, type24, &used, &out), PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(conn);
    pqify_tls_config_free(cfg);
    tt_identity_free(&id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_of_twelve_in_both_roles),
        cmocka_unit_test(test_long_chain_from_elsewhere_refused),
        cmocka_unit_test(test_chain_over_32k_says_too_big),
        cmocka_unit_test(test_non_tls_peers_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
