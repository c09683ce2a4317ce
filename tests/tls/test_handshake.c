/* pqify client <-> pqify server in memory: every group, suite, mode, HRR, mTLS, delivery. */
#include "tls_test.h"

static tt_ca ca;
static tt_identity server_p256, server_p384, server_rsa, server_ed25519, client_id;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&server_p256, &ca, "P-256", "server.test", "DNS:server.test,IP:127.0.0.1", -1, 30);
    tt_identity_new(&server_p384, &ca, "P-384", "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&server_rsa, &ca, "RSA", "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&server_ed25519, &ca, "Ed25519", "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&client_id, &ca, "P-256", "client one", NULL, -1, 30);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&server_p256);
    tt_identity_free(&server_p384);
    tt_identity_free(&server_rsa);
    tt_identity_free(&server_ed25519);
    tt_identity_free(&client_id);
    tt_ca_free(&ca);
    return 0;
}

/* Handshake, check both views agree, exchange data both ways, close. */
static void run_ok(pqify_tls_config *ccfg, pqify_tls_config *scfg, size_t chunk,
                   pqify_tls_info *cinfo, pqify_tls_info *sinfo)
{
    tt_pair p;
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, chunk);
    if (p.client_ret != 0 || p.server_ret != 0)
        fail_msg("handshake: client %d (%s), server %d (%s)", p.client_ret,
                 pqify_tls_strerror(p.client_ret), p.server_ret, pqify_tls_strerror(p.server_ret));
    pqify_tls_get_info(p.client, cinfo);
    pqify_tls_get_info(p.server, sinfo);
    assert_string_equal(cinfo->version, "TLSv1.3");
    assert_string_equal(cinfo->group, sinfo->group);
    assert_string_equal(cinfo->cipher, sinfo->cipher);
    assert_int_equal(cinfo->hrr, sinfo->hrr);
    assert_int_equal(cinfo->peer_cert, 1);

    static const char hello[] = "hello over post-quantum TLS";
    tt_transfer(p.client, p.server, hello, sizeof hello, chunk);
    tt_transfer(p.server, p.client, hello, sizeof hello, chunk);
    /* a large message spans several records */
    size_t big_len = 40000;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 7);
    tt_transfer(p.client, p.server, big, big_len, chunk == 1 ? 4096 : chunk);
    free(big);

    pqify_tls_buf wire, plain, back;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    assert_int_equal(pqify_tls_close_notify(p.client, &wire), 0);
    assert_int_equal(pqify_tls_send(p.client, &wire, "x", 1), PQIFY_TLS_ERR_CLOSED);
    size_t used = wire.len;
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &used, &back), PQIFY_TLS_PEER_CLOSED);
    assert_int_equal(plain.len, 0);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_buf_dispose(&back);
    tt_pair_free(&p);
}

/* Handshake that must fail; returns both results. */
static void run_fail(pqify_tls_config *ccfg, pqify_tls_config *scfg, int *cret, int *sret)
{
    tt_pair p;
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, 1 << 20);
    *cret = p.client_ret;
    *sret = p.server_ret;
    if (*cret == 0 && p.to_client.len > 0) {
        /* TLS 1.3 clients finish first: a server's refusal arrives after it */
        pqify_tls_buf plain, back;
        pqify_tls_buf_init(&plain, NULL, 0);
        pqify_tls_buf_init(&back, NULL, 0);
        size_t used = p.to_client.len;
        *cret = pqify_tls_receive(p.client, &plain, p.to_client.base, &used, &back);
        assert_int_equal(plain.len, 0);
        pqify_tls_buf_dispose(&plain);
        pqify_tls_buf_dispose(&back);
    }
    tt_pair_free(&p);
}

static void test_default_is_x25519mlkem768(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_int_equal(ci.group_id, 0x11EC);
    assert_int_equal(ci.is_pq, 1);
    assert_int_equal(ci.hrr, 0);
    assert_string_equal(ci.cipher, "TLS_AES_128_GCM_SHA256");
    assert_string_equal(si.server_name, "server.test");
    assert_string_equal(ci.server_name, "server.test");
    assert_non_null(strstr(ci.peer_subject, "CN=server.test"));
    assert_int_equal(ci.signature_scheme, 0x0403);
    assert_int_equal(si.peer_cert, 0);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Every group, named explicitly on both sides (legacy ones only work this way). */
static void test_every_group(void **state)
{
    (void)state;
    uint16_t ids[32];
    size_t n = pqify_tls_groups_all(ids, 32);
    assert_int_equal(n, 13);
    for (size_t i = 0; i < n; i++) {
        const char *name = pqify_tls_group_name(ids[i]);
        pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
        assert_int_equal(pqify_tls_config_set_groups(s, name), 0);
        assert_int_equal(pqify_tls_config_set_groups(c, name), 0);
        pqify_tls_info ci, si;
        run_ok(c, s, 1 << 20, &ci, &si);
        assert_string_equal(ci.group, name);
        assert_int_equal(ci.group_id, ids[i]);
        assert_int_equal(ci.is_pq, pqify_tls_group_is_pq(ids[i]));
        assert_int_equal(ci.hrr, 0);
        pqify_tls_config_free(s);
        pqify_tls_config_free(c);
    }
}

static void test_every_cipher_suite(void **state)
{
    (void)state;
    static const char *suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"};
    for (size_t i = 0; i < 3; i++) {
        pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
        assert_int_equal(pqify_tls_config_set_ciphers(c, suites[i]), 0);
        pqify_tls_info ci, si;
        run_ok(c, s, 1 << 20, &ci, &si);
        assert_string_equal(ci.cipher, suites[i]);
        pqify_tls_config_free(s);
        pqify_tls_config_free(c);
    }
    /* the server's preference wins when the client offers all three */
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_ciphers(s, "TLS_CHACHA20_POLY1305_SHA256,TLS_AES_128_GCM_SHA256"), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_every_key_type(void **state)
{
    (void)state;
    const tt_identity *ids[] = {&server_p256, &server_p384, &server_rsa, &server_ed25519};
    const uint16_t schemes[] = {0x0403, 0x0503, 0x0804, 0x0807};
    for (size_t i = 0; i < 4; i++) {
        pqify_tls_config *s = tt_server_config(ids[i]), *c = tt_client_config(&ca, "server.test");
        pqify_tls_info ci, si;
        run_ok(c, s, 1 << 20, &ci, &si);
        assert_int_equal(ci.signature_scheme, schemes[i]);
        pqify_tls_config_free(s);
        pqify_tls_config_free(c);
    }
}

/* Server insists on a group the client supports but sent no share for. */
static void test_hrr_server_side(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_groups(s, "SecP256r1MLKEM768"), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "SecP256r1MLKEM768");
    assert_int_equal(ci.hrr, 1);
    assert_int_equal(si.hrr, 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* preferred: a client that sent only a classical share but supports PQ is asked for PQ. */
static void test_hrr_to_reach_pq(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_groups(c, "x25519,X25519MLKEM768"), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_int_equal(ci.hrr, 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* preferred client, classical-only server: the X25519 share avoids a round trip. */
static void test_preferred_with_classical_server(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_pq(s, PQIFY_PQ_OFF), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "x25519");
    assert_int_equal(ci.is_pq, 0);
    assert_int_equal(ci.hrr, 0);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_required_server_classical_client(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_pq(s, PQIFY_PQ_REQUIRED), 0);
    assert_int_equal(pqify_tls_config_set_pq(c, PQIFY_PQ_OFF), 0);
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_NO_PQ_GROUP);
    assert_int_equal(pqify_tls_alert_of(sret), 71);
    assert_string_equal(pqify_tls_strerror(sret),
                        "peer offered no post-quantum group (pq=required): insufficient_security");
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_ALERT - 71);
    assert_string_equal(pqify_tls_strerror(cret), "peer sent alert: insufficient_security");
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_required_client_classical_server(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_pq(s, PQIFY_PQ_OFF), 0);
    assert_int_equal(pqify_tls_config_set_pq(c, PQIFY_PQ_REQUIRED), 0);
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_NO_COMMON_GROUP);
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_NO_PQ);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_required_both(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_pq(s, PQIFY_PQ_REQUIRED), 0);
    assert_int_equal(pqify_tls_config_set_pq(c, PQIFY_PQ_REQUIRED), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_int_equal(ci.is_pq, 1);
    /* required drops classical names from an override */
    assert_int_equal(pqify_tls_config_set_groups(c, "x25519"), 0);
    assert_null(pqify_tls_conn_new(c, 0));
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_off_both(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_pq(c, PQIFY_PQ_OFF), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.group, "x25519");
    assert_int_equal(ci.is_pq, 0);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_rsa), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_groups(s, "SecP384r1MLKEM1024"), 0);
    pqify_tls_info ci, si;
    /* HRR, a 1.7 KB hybrid share and an RSA chain, all fed one byte per call */
    run_ok(c, s, 1, &ci, &si);
    assert_string_equal(ci.group, "SecP384r1MLKEM1024");
    assert_int_equal(ci.hrr, 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_mutual_tls(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_ca_pem(s, ca.pem.data, ca.pem.len), 0);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, client_id.chain.data, client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(c, client_id.key.data, client_id.key.len), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_int_equal(si.peer_cert, 1);
    assert_non_null(strstr(si.peer_subject, "CN=client one"));
    assert_int_equal(si.signature_scheme, 0x0403);
    pqify_tls_config_free(c);

    /* Ed25519, RSA and P-384 client keys too */
    const char *types[] = {"Ed25519", "RSA", "P-384"};
    const uint16_t want[] = {0x0807, 0x0804, 0x0503};
    for (int i = 0; i < 3; i++) {
        tt_identity other_client;
        tt_identity_new(&other_client, &ca, types[i], "client two", NULL, -1, 30);
        c = tt_client_config(&ca, "server.test");
        assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, other_client.chain.data, other_client.chain.len), 0);
        assert_int_equal(pqify_tls_config_set_key_pem(c, other_client.key.data, other_client.key.len), 0);
        run_ok(c, s, 1 << 20, &ci, &si);
        assert_int_equal(si.signature_scheme, want[i]);
        pqify_tls_config_free(c);
        tt_identity_free(&other_client);
    }

    /* without a client certificate the server refuses */
    c = tt_client_config(&ca, "server.test");
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_CERT_REQUIRED);
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_ALERT - 116);
    pqify_tls_config_free(c);

    /* a client certificate from another CA is unknown_ca */
    tt_ca other;
    tt_identity stranger;
    tt_ca_new(&other, "other CA");
    tt_identity_new(&stranger, &other, "Ed25519", "stranger", NULL, -1, 30);
    c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, stranger.chain.data, stranger.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(c, stranger.key.data, stranger.key.len), 0);
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_UNKNOWN_CA);
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_ALERT - 48);
    pqify_tls_config_free(c);
    tt_identity_free(&stranger);
    tt_ca_free(&other);
    pqify_tls_config_free(s);
}

static void test_server_certificate_checks(void **state)
{
    (void)state;
    int cret, sret;
    pqify_tls_config *s = tt_server_config(&server_p256);
    /* wrong name */
    pqify_tls_config *c = tt_client_config(&ca, "other.test");
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_CERT_NAME);
    assert_int_equal(sret, PQIFY_TLS_ERR_PEER_ALERT - 42);
    pqify_tls_config_free(c);
    /* IP literal in the SAN */
    c = tt_client_config(&ca, "127.0.0.1");
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    /* RFC 6066 §3: an address is checked but never sent as SNI */
    assert_string_equal(si.server_name, "");
    assert_string_equal(ci.server_name, "");
    pqify_tls_config_free(c);
    c = tt_client_config(&ca, "127.0.0.2");
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_CERT_NAME);
    pqify_tls_config_free(c);
    /* unknown CA */
    tt_ca other;
    tt_ca_new(&other, "other CA");
    c = tt_client_config(&other, "server.test");
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_UNKNOWN_CA);
    assert_int_equal(sret, PQIFY_TLS_ERR_PEER_ALERT - 48);
    pqify_tls_config_free(c);
    tt_ca_free(&other);
    /* no CA configured: the system store does not know our test CA */
    c = pqify_tls_config_new();
    assert_int_equal(pqify_tls_config_set_server_name(c, "server.test"), 0);
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_UNKNOWN_CA);
    /* unless verification is off (scans, tests) */
    pqify_tls_config_set_verify_peer(c, 0);
    run_ok(c, s, 1 << 20, &ci, &si);
    pqify_tls_config_free(c);
    pqify_tls_config_free(s);
    /* expired */
    tt_identity old;
    tt_identity_new(&old, &ca, "P-256", "server.test", "DNS:server.test", -30, -1);
    s = tt_server_config(&old);
    c = tt_client_config(&ca, "server.test");
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_CERT_EXPIRED);
    assert_int_equal(sret, PQIFY_TLS_ERR_PEER_ALERT - 45);
    pqify_tls_config_free(c);
    pqify_tls_config_free(s);
    tt_identity_free(&old);
}

static void test_alpn(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_alpn(s, "h2,http/1.1"), 0);
    assert_int_equal(pqify_tls_config_set_alpn(c, "http/1.1,h2"), 0);
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    /* the server's preference */
    assert_string_equal(ci.alpn, "h2");
    assert_string_equal(si.alpn, "h2");
    pqify_tls_config_free(c);
    /* no overlap */
    c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_alpn(c, "spdy/3"), 0);
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_NO_ALPN);
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_ALERT - 120);
    pqify_tls_config_free(c);
    /* a client without ALPN still connects, and no protocol is reported */
    c = tt_client_config(&ca, "server.test");
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_string_equal(ci.alpn, "");
    pqify_tls_config_free(c);
    pqify_tls_config_free(s);
}

static void test_key_update(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "server.test");
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.client_ret, 0);
    assert_int_equal(p.server_ret, 0);
    pqify_tls_buf wire;
    pqify_tls_buf_init(&wire, NULL, 0);
    /* client updates and asks the server to follow; the server's answer comes back */
    assert_int_equal(pqify_tls_key_update(p.client, 1, &wire), 0);
    pqify_tls_buf plain, back;
    pqify_tls_buf_init(&plain, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    assert_int_equal(pqify_tls_send(p.client, &wire, "after", 5), 0);
    size_t used = wire.len;
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &used, &back), 0);
    assert_int_equal(plain.len, 5);
    assert_true(back.len > 0);
    used = back.len;
    plain.len = 0;
    pqify_tls_buf none;
    pqify_tls_buf_init(&none, NULL, 0);
    assert_int_equal(pqify_tls_receive(p.client, &plain, back.base, &used, &none), 0);
    assert_int_equal(none.len, 0);
    tt_transfer(p.server, p.client, "server", 6, 1 << 20);
    tt_transfer(p.client, p.server, "client", 6, 3);
    /* the server updates on its own */
    wire.len = 0;
    assert_int_equal(pqify_tls_key_update(p.server, 0, &wire), 0);
    used = wire.len;
    assert_int_equal(pqify_tls_receive(p.client, &plain, wire.base, &used, &none), 0);
    tt_transfer(p.server, p.client, "again", 5, 1 << 20);
    pqify_tls_info ci, si;
    pqify_tls_get_info(p.client, &ci);
    pqify_tls_get_info(p.server, &si);
    assert_int_equal(ci.key_updates_sent, 1);
    assert_int_equal(ci.key_updates_received, 2);
    assert_int_equal(si.key_updates_sent, 2);
    assert_int_equal(si.key_updates_received, 1);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&none);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_sticky_error_and_memory(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&server_p256), *c = tt_client_config(&ca, "wrong.test");
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.client_ret, PQIFY_TLS_ERR_CERT_NAME);
    assert_int_equal(pqify_tls_error(p.client), PQIFY_TLS_ERR_CERT_NAME);
    size_t zero = 0;
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    assert_int_equal(pqify_tls_handshake(p.client, NULL, &zero, &out), PQIFY_TLS_ERR_CERT_NAME);
    assert_int_equal(pqify_tls_send(p.client, &out, "x", 1), PQIFY_TLS_ERR_CERT_NAME);
    assert_int_equal(out.len, 0);
    pqify_tls_buf_dispose(&out);
    tt_pair_free(&p);
    /* the documented sizes: established connections stay small */
    assert_true(pqify_tls_conn_size(PQIFY_TLS_SIZE_ESTABLISHED) < 20 * 1024);
    assert_true(pqify_tls_conn_size(PQIFY_TLS_SIZE_IDLE) < pqify_tls_conn_size(PQIFY_TLS_SIZE_ESTABLISHED));
    assert_true(pqify_tls_conn_size(1) > pqify_tls_conn_size(0));
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Leaf signed by an intermediate: the server sends both, the client trusts the root. */
static void test_intermediate_chain(void **state)
{
    (void)state;
    EVP_PKEY *ik = tt_keygen("P-384");
    X509 *inter = tt_cert(ik, "pqify intermediate", ca.cert, ca.key, 1, NULL, -1, 30);
    EVP_PKEY *lk = tt_keygen("RSA");
    X509 *leaf = tt_cert(lk, "server.test", inter, ik, 0, "DNS:server.test", -1, 30);
    tt_identity id;
    memset(&id, 0, sizeof id);
    tt_pem_append_cert(&id.chain, leaf);
    tt_pem_append_cert(&id.chain, inter);
    tt_pem_key(&id.key, lk);
    pqify_tls_config *s = tt_server_config(&id), *c = tt_client_config(&ca, "server.test");
    pqify_tls_info ci, si;
    run_ok(c, s, 7, &ci, &si);
    assert_int_equal(ci.signature_scheme, 0x0804);
    pqify_tls_config_free(s);
    /* without the intermediate the chain does not verify */
    tt_identity alone;
    memset(&alone, 0, sizeof alone);
    tt_pem_append_cert(&alone.chain, leaf);
    tt_pem_key(&alone.key, lk);
    s = tt_server_config(&alone);
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_UNKNOWN_CA);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&id);
    tt_identity_free(&alone);
    X509_free(leaf);
    X509_free(inter);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ik);
}

/* A 22 KB certificate: the server's flight spans records, so the client reassembles
 * its Certificate message from two protected records. */
static tt_identity *cert_with_names(int names)
{
    size_t cap = 64 * 1024, len = 0;
    char *san = malloc(cap);
    len += (size_t)snprintf(san + len, cap - len, "DNS:server.test");
    for (int i = 0; i < names; i++)
        len += (size_t)snprintf(san + len, cap - len, ",DNS:host-%04d.a-rather-long-internal-zone.test", i);
    tt_identity *id = malloc(sizeof *id);
    tt_identity_new(id, &ca, "P-256", "server.test", san, -1, 30);
    free(san);
    return id;
}

static void test_large_certificate_spans_records(void **state)
{
    (void)state;
    tt_identity *big = cert_with_names(450);
    assert_true(big->chain.len > 4 * 16384 / 3 + 2000); /* DER over 16 KiB */
    pqify_tls_config *s = tt_server_config(big), *c = tt_client_config(&ca, "host-0449.a-rather-long-internal-zone.test");
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    run_ok(c, s, 1000, &ci, &si);
    pqify_tls_config_free(s);
    tt_identity_free(big);
    free(big);
    /* over the documented 32 KiB handshake-message limit: "too big", decode_error on
     * the wire, no crash */
    big = cert_with_names(1000);
    s = tt_server_config(big);
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(cret, PQIFY_TLS_ERR_MESSAGE_TOO_LARGE);
    assert_int_equal(sret, PQIFY_TLS_ERR_PEER_ALERT - 50);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(big);
    free(big);
}

/* The signer interface (issue 5 makes it asynchronous): a custom synchronous signer. */
struct test_signer {
    EVP_PKEY *key;
    int calls;
    int fail;
};

static int sign_cb(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                   size_t cap, size_t *sig_len)
{
    struct test_signer *ts = ctx;
    ts->calls++;
    if (ts->fail || scheme != 0x0403)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n = cap;
    int ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ts->key) == 1 &&
             EVP_DigestSign(md, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(md);
    *sig_len = n;
    return ok ? 0 : -1;
}

static void test_custom_signer(void **state)
{
    (void)state;
    struct test_signer ts = {tt_pem_read_key(&server_p256.key), 0, 0};
    static const uint16_t schemes[] = {0x0403};
    pqify_tls_signer signer = {&ts, schemes, 1, sign_cb};
    pqify_tls_config *s = pqify_tls_config_new();
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(s, server_p256.chain.data, server_p256.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_signer(s, &signer), 0);
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    pqify_tls_info ci, si;
    run_ok(c, s, 1 << 20, &ci, &si);
    assert_int_equal(ts.calls, 1);
    /* a failing signer aborts with internal_error */
    ts.fail = 1;
    int cret, sret;
    run_fail(c, s, &cret, &sret);
    assert_int_equal(sret, PQIFY_TLS_ERR_SIGN);
    assert_int_equal(cret, PQIFY_TLS_ERR_PEER_ALERT - 80);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    EVP_PKEY_free(ts.key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_x25519mlkem768),
        cmocka_unit_test(test_every_group),
        cmocka_unit_test(test_every_cipher_suite),
        cmocka_unit_test(test_every_key_type),
        cmocka_unit_test(test_hrr_server_side),
        cmocka_unit_test(test_hrr_to_reach_pq),
        cmocka_unit_test(test_preferred_with_classical_server),
        cmocka_unit_test(test_required_server_classical_client),
        cmocka_unit_test(test_required_client_classical_server),
        cmocka_unit_test(test_required_both),
        cmocka_unit_test(test_off_both),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_server_certificate_checks),
        cmocka_unit_test(test_alpn),
        cmocka_unit_test(test_key_update),
        cmocka_unit_test(test_sticky_error_and_memory),
        cmocka_unit_test(test_intermediate_chain),
        cmocka_unit_test(test_custom_signer),
        cmocka_unit_test(test_large_certificate_spans_records),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
