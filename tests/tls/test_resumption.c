/*
 * Resumption with session tickets (RFC 8446 §4.6.1, §4.2.11, §4.2.9), psk_dhe_ke
 * only: a resumed handshake must still negotiate the hybrid group. Clocks are the
 * configs' test clocks, so expiry and key rotation need no sleeping.
 */
#include "tls_test.h"

static tt_ca ca;
static tt_identity server_id, client_id;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify resumption CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    tt_identity_new(&client_id, &ca, "P-256", "client.test", NULL, -1, 365);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&server_id);
    tt_identity_free(&client_id);
    tt_ca_free(&ca);
    return 0;
}

/* A wall clock the test moves by hand; a multiple of every rotation period used. */
#define T0 ((uint64_t)1200000000000u)
static uint64_t server_now, client_now;
static uint64_t read_clock(void *ctx)
{
    return *(uint64_t *)ctx;
}

static pqify_tls_config *server_config(void)
{
    pqify_tls_config *s = tt_server_config(&server_id);
    pqify_tls_config_set_clock(s, read_clock, &server_now);
    return s;
}

static pqify_tls_config *client_config(void)
{
    pqify_tls_config *c = tt_client_config(&ca, "server.test");
    pqify_tls_config_set_clock(c, read_clock, &client_now);
    return c;
}

typedef struct session {
    uint8_t blob[PQIFY_TLS_MAX_SESSION];
    size_t len;
} session;

/* One handshake (offering sess if given); returns both infos; keeps the new session. */
static void handshake(pqify_tls_config *c, pqify_tls_config *s, const session *offer,
                      int want_offered, pqify_tls_info *ci, pqify_tls_info *si, session *next)
{
    tt_pair p;
    tt_pair_new(&p, c, s);
    if (offer != NULL)
        assert_int_equal(pqify_tls_set_session(p.client, offer->blob, offer->len), want_offered);
    tt_pair_run(&p, 1 << 20);
    if (p.client_ret != 0 || p.server_ret != 0)
        fail_msg("handshake: client %d (%s), server %d (%s)", p.client_ret,
                 pqify_tls_strerror(p.client_ret), p.server_ret, pqify_tls_strerror(p.server_ret));
    pqify_tls_get_info(p.client, ci);
    pqify_tls_get_info(p.server, si);
    assert_int_equal(ci->resumed, si->resumed);
    assert_string_equal(ci->group, si->group);
    static const char hello[] = "resumed or not, the keys work";
    tt_transfer(p.client, p.server, hello, sizeof hello, 1 << 20);
    tt_transfer(p.server, p.client, hello, sizeof hello, 1 << 20);
    if (next != NULL) {
        memset(next, 0, sizeof *next);
        assert_int_equal(pqify_tls_get_session(p.client, next->blob, sizeof next->blob, &next->len), 0);
    }
    tt_pair_free(&p);
}

/* A full handshake (no session offered, so it must not resume); its ticket in *t. */
static void new_ticket(pqify_tls_config *c, pqify_tls_config *s, session *t)
{
    pqify_tls_info ci, si;
    handshake(c, s, NULL, 0, &ci, &si, t);
    assert_int_equal(ci.resumed, 0);
}

/* A handshake offering sess, which the client must find usable and offer; returns
 * whether it resumed (handshake() has checked that both sides agree on it). */
static int resumes(pqify_tls_config *c, pqify_tls_config *s, const session *sess)
{
    pqify_tls_info ci, si;
    handshake(c, s, sess, 1, &ci, &si, NULL);
    return ci.resumed;
}

static void reset_clocks(void)
{
    server_now = client_now = T0 + 1000;
}

static void test_resume_stays_pq(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    pqify_tls_info ci, si;
    session s1, s2, s3;
    handshake(c, s, NULL, 0, &ci, &si, &s1);
    assert_int_equal(ci.resumed, 0);
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_true(s1.len > 100);
    client_now += 5000;
    server_now += 5000;
    handshake(c, s, &s1, 1, &ci, &si, &s2);
    assert_int_equal(ci.resumed, 1);
    /* psk_dhe_ke: the resumed handshake did the hybrid exchange all the same */
    assert_string_equal(ci.group, "X25519MLKEM768");
    assert_int_equal(ci.is_pq, 1);
    assert_int_equal(si.is_pq, 1);
    /* no certificate on the wire: the session says who the server was */
    assert_int_equal(ci.signature_scheme, 0);
    assert_non_null(strstr(ci.peer_subject, "CN=server.test"));
    assert_string_equal(si.server_name, "server.test");
    /* a resumed handshake hands out a fresh ticket, and that one works too */
    assert_true(s2.len > 100);
    assert_true(s2.len != s1.len || memcmp(s2.blob, s1.blob, s1.len) != 0);
    handshake(c, s, &s2, 1, &ci, &si, &s3);
    assert_int_equal(ci.resumed, 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The reconnecting client: a config cache, no blob handling at all. */
static void test_session_cache(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_session_cache(c, 4), 0);
    pqify_tls_info ci, si;
    handshake(c, s, NULL, 0, &ci, &si, NULL);
    assert_int_equal(ci.resumed, 0);
    for (int i = 0; i < 3; i++) {
        handshake(c, s, NULL, 0, &ci, &si, NULL);
        assert_int_equal(ci.resumed, 1);
        assert_string_equal(ci.group, "X25519MLKEM768");
    }
    /* a server that issues no tickets: nothing to resume, nothing breaks */
    pqify_tls_config *quiet = server_config(), *c2 = client_config();
    assert_int_equal(pqify_tls_config_set_tickets(quiet, 0), 0);
    assert_int_equal(pqify_tls_config_set_session_cache(c2, 4), 0);
    tt_pair p;
    tt_pair_new(&p, c2, quiet);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.client_ret, 0);
    uint8_t blob[PQIFY_TLS_MAX_SESSION];
    size_t len;
    assert_int_equal(pqify_tls_get_session(p.client, blob, sizeof blob, &len), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_get_session(p.server, blob, sizeof blob, &len), PQIFY_TLS_ERR_ARG);
    tt_pair_free(&p);
    pqify_tls_config_free(quiet);
    pqify_tls_config_free(c2);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_expired_ticket(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_ticket_lifetime(s, 100), 0);
    assert_int_equal(pqify_tls_config_set_ticket_lifetime(s, 0), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_config_set_ticket_lifetime(s, 604801), PQIFY_TLS_ERR_ARG);
    pqify_tls_info ci, si;
    session s1;
    new_ticket(c, s, &s1);
    /* within the lifetime */
    client_now += 99000;
    server_now += 99000;
    assert_int_equal(resumes(c, s, &s1), 1);
    /* past it, the client does not even offer it */
    client_now += 2000;
    server_now += 2000;
    handshake(c, s, &s1, 0, &ci, &si, NULL);
    assert_int_equal(ci.resumed, 0);
    /* and a client that claims a longer lifetime (blob bytes 3..6) meets the server's
     * own check: full handshake */
    session forged = s1;
    forged.blob[3] = 0, forged.blob[4] = 0, forged.blob[5] = 0x0e, forged.blob[6] = 0x10;
    handshake(c, s, &forged, 1, &ci, &si, NULL);
    assert_int_equal(ci.resumed, 0);
    assert_string_equal(ci.group, "X25519MLKEM768");
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The age the client reports must match the server's clock within the window. */
static void test_ticket_age_window(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    session s1;
    new_ticket(c, s, &s1);
    server_now += 60000;   /* the client says the ticket is 0 s old; it is 60 s */
    assert_int_equal(resumes(c, s, &s1), 0);
    client_now += 55000;   /* 5 s apart: inside */
    assert_int_equal(resumes(c, s, &s1), 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_key_rotation(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_ticket_rotation(s, 60), 0);
    session s1;
    new_ticket(c, s, &s1);
    /* next epoch: the previous key still opens it */
    client_now = server_now = T0 + 61000;
    assert_int_equal(resumes(c, s, &s1), 1);
    /* two epochs on: that key has rotated out */
    client_now = server_now = T0 + 121000;
    assert_int_equal(resumes(c, s, &s1), 0);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Another server (another ticket secret) cannot open the ticket; a shared secret can. */
static void test_ticket_secret(void **state)
{
    (void)state;
    reset_clocks();
    static const uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    pqify_tls_config *a = server_config(), *b = server_config(), *other = server_config();
    pqify_tls_config *c = client_config();
    assert_int_equal(pqify_tls_config_set_ticket_secret(a, secret, 32), 0);
    assert_int_equal(pqify_tls_config_set_ticket_secret(b, secret, 32), 0);
    assert_int_equal(pqify_tls_config_set_ticket_secret(b, secret, 31), PQIFY_TLS_ERR_ARG);
    session s1;
    new_ticket(c, a, &s1);
    assert_int_equal(resumes(c, b, &s1), 1);
    assert_int_equal(resumes(c, other, &s1), 0);
    /* a fleet member whose clock is 3 s behind the issuer still resumes; 30 s, not */
    static uint64_t behind;
    pqify_tls_config_set_clock(b, read_clock, &behind);
    behind = server_now - 3000;
    assert_int_equal(resumes(c, b, &s1), 1);
    behind = server_now - 30000;
    assert_int_equal(resumes(c, b, &s1), 0);
    pqify_tls_config_free(a);
    pqify_tls_config_free(b);
    pqify_tls_config_free(other);
    pqify_tls_config_free(c);
}

/* The ticket sits at the end of the blob: flip its bits -> full handshake. */
static void test_tampered_ticket(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    pqify_tls_info ci, si;
    session s1;
    new_ticket(c, s, &s1);
    size_t positions[] = {s1.len - 1, s1.len - 20, s1.len - 60};
    for (size_t i = 0; i < 3; i++) {
        session t = s1;
        t.blob[positions[i]] ^= 0x40;
        handshake(c, s, &t, 1, &ci, &si, NULL);
        assert_int_equal(ci.resumed, 0);
        assert_string_equal(ci.group, "X25519MLKEM768");
    }
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The PSK is at blob offset 20 (after version, suite, lifetime, age_add, time, length):
 * a client with the wrong PSK sends a binder that does not verify: decrypt_error. */
static void test_bad_binder(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    session s1;
    new_ticket(c, s, &s1);
    assert_int_equal(s1.blob[19], 32);   /* SHA-256 suite: 32-byte PSK */
    s1.blob[20] ^= 1;
    tt_pair p;
    tt_pair_new(&p, c, s);
    assert_int_equal(pqify_tls_set_session(p.client, s1.blob, s1.len), 1);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.server_ret, PQIFY_TLS_ERR_BAD_BINDER);
    assert_int_equal(pqify_tls_alert_of(p.server_ret), 51);
    assert_int_equal(p.client_ret, PQIFY_TLS_ERR_PEER_ALERT - 51);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* A client that allows only psk_ke (no key exchange) gets a full handshake. The hello
 * is the engine's own, with its mode byte changed; the server decides before any
 * binder check, so the changed bytes do not matter. */
static void test_psk_ke_only_client(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    session s1;
    new_ticket(c, s, &s1);
    for (int no_modes = 0; no_modes < 2; no_modes++) {
        pqify_tls_conn *client = pqify_tls_conn_new(c, 0), *server = pqify_tls_conn_new(s, 1);
        assert_int_equal(pqify_tls_set_session(client, s1.blob, s1.len), 1);
        pqify_tls_buf hello, out;
        pqify_tls_buf_init(&hello, NULL, 0);
        pqify_tls_buf_init(&out, NULL, 0);
        size_t zero = 0;
        assert_int_equal(pqify_tls_handshake(client, NULL, &zero, &hello), PQIFY_TLS_IN_PROGRESS);
        /* psk_key_exchange_modes: 00 2d 00 02 01 01 */
        static const uint8_t modes[] = {0x00, 0x2d, 0x00, 0x02, 0x01, 0x01};
        uint8_t *at = NULL;
        for (size_t i = 0; i + sizeof modes <= hello.len; i++)
            if (memcmp(hello.base + i, modes, sizeof modes) == 0)
                at = hello.base + i;
        assert_non_null(at);
        if (no_modes)
            at[1] = 0xfe;   /* renamed to an unknown extension: a PSK without modes */
        else
            at[5] = 0x00;   /* psk_ke only */
        size_t used = hello.len;
        int ret = pqify_tls_handshake(server, hello.base, &used, &out);
        pqify_tls_info info;
        pqify_tls_get_info(server, &info);
        if (no_modes) {
            /* §4.2.9: a PSK offer without modes is refused */
            assert_int_equal(ret, PQIFY_TLS_ERR_MISSING_EXTENSION);
        } else {
            assert_int_equal(ret, PQIFY_TLS_IN_PROGRESS);
            assert_int_equal(info.resumed, 0);
            assert_true(out.len > 1000);   /* ServerHello .. CertificateVerify: a full handshake */
        }
        pqify_tls_buf_dispose(&hello);
        pqify_tls_buf_dispose(&out);
        pqify_tls_conn_free(client);
        pqify_tls_conn_free(server);
    }
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The server wants another group: HelloRetryRequest, then the PSK with a new binder. */
static void test_hrr_with_psk(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_groups(s, "SecP256r1MLKEM768"), 0);
    pqify_tls_info ci, si;
    session s1;
    handshake(c, s, NULL, 0, &ci, &si, &s1);
    assert_int_equal(ci.hrr, 1);
    handshake(c, s, &s1, 1, &ci, &si, NULL);
    assert_int_equal(ci.hrr, 1);
    assert_int_equal(ci.resumed, 1);
    assert_string_equal(ci.group, "SecP256r1MLKEM768");
    assert_int_equal(si.is_pq, 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* A ticket from a SHA-384 suite is not used with a SHA-256 suite (§4.2.11). */
static void test_suite_hash_mismatch(void **state)
{
    (void)state;
    reset_clocks();
    static const uint8_t secret[32] = {42};
    pqify_tls_config *s384 = server_config(), *s256 = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_ciphers(s384, "TLS_AES_256_GCM_SHA384"), 0);
    assert_int_equal(pqify_tls_config_set_ciphers(s256, "TLS_AES_128_GCM_SHA256"), 0);
    assert_int_equal(pqify_tls_config_set_ticket_secret(s384, secret, 32), 0);
    assert_int_equal(pqify_tls_config_set_ticket_secret(s256, secret, 32), 0);
    pqify_tls_info ci, si;
    session s1;
    handshake(c, s384, NULL, 0, &ci, &si, &s1);
    assert_string_equal(ci.cipher, "TLS_AES_256_GCM_SHA384");
    assert_int_equal(resumes(c, s384, &s1), 1);
    handshake(c, s256, &s1, 1, &ci, &si, NULL);
    assert_int_equal(ci.resumed, 0);
    assert_string_equal(ci.cipher, "TLS_AES_128_GCM_SHA256");
    /* a client that no longer enables the suite does not offer the session */
    pqify_tls_config *c256 = client_config();
    assert_int_equal(pqify_tls_config_set_ciphers(c256, "TLS_AES_128_GCM_SHA256"), 0);
    handshake(c256, s256, &s1, 0, &ci, &si, NULL);
    assert_int_equal(ci.resumed, 0);
    pqify_tls_config_free(c256);
    pqify_tls_config_free(s384);
    pqify_tls_config_free(s256);
    pqify_tls_config_free(c);
}

/* Client certificates: the ticket remembers who authenticated. */
static void test_client_auth_remembered(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config();
    assert_int_equal(pqify_tls_config_set_ca_pem(s, ca.pem.data, ca.pem.len), 0);
    pqify_tls_config *c = client_config();
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, client_id.chain.data, client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(c, client_id.key.data, client_id.key.len), 0);
    pqify_tls_info ci, si;
    session s1;
    handshake(c, s, NULL, 0, &ci, &si, &s1);
    assert_int_equal(si.peer_cert, 1);
    handshake(c, s, &s1, 1, &ci, &si, NULL);
    assert_int_equal(si.resumed, 1);
    assert_int_equal(si.peer_cert, 1);
    assert_non_null(strstr(si.peer_subject, "CN=client.test"));
    /* a session without a client certificate is not enough where one is required */
    pqify_tls_config *plain_s = server_config(), *plain_c = client_config();
    static const uint8_t secret[32] = {9};
    assert_int_equal(pqify_tls_config_set_ticket_secret(plain_s, secret, 32), 0);
    assert_int_equal(pqify_tls_config_set_ticket_secret(s, secret, 32), 0);
    session anon;
    new_ticket(plain_c, plain_s, &anon);
    handshake(c, s, &anon, 1, &ci, &si, NULL);
    assert_int_equal(si.resumed, 0);
    assert_int_equal(si.peer_cert, 1);   /* it asked for and got the certificate */
    pqify_tls_config_free(plain_s);
    pqify_tls_config_free(plain_c);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_session_api(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    session s1;
    new_ticket(c, s, &s1);
    /* another server name: ignored */
    pqify_tls_config *other = tt_client_config(&ca, "other.test");
    pqify_tls_config_set_clock(other, read_clock, &client_now);
    pqify_tls_conn *conn = pqify_tls_conn_new(other, 0);
    assert_int_equal(pqify_tls_set_session(conn, s1.blob, s1.len), 0);
    pqify_tls_conn_free(conn);
    pqify_tls_config_free(other);
    conn = pqify_tls_conn_new(c, 0);
    /* malformed blobs, every truncation */
    for (size_t n = 0; n < s1.len; n++)
        assert_int_equal(pqify_tls_set_session(conn, s1.blob, n), PQIFY_TLS_ERR_ARG);
    session bad = s1;
    bad.blob[0] = 9;
    assert_int_equal(pqify_tls_set_session(conn, bad.blob, bad.len), PQIFY_TLS_ERR_ARG);
    uint8_t longer[PQIFY_TLS_MAX_SESSION + 1];
    memcpy(longer, s1.blob, s1.len);
    longer[s1.len] = 0;
    assert_int_equal(pqify_tls_set_session(conn, longer, s1.len + 1), PQIFY_TLS_ERR_ARG);
    /* too small a buffer, no ticket yet, server side */
    uint8_t small[16];
    size_t len;
    assert_int_equal(pqify_tls_get_session(conn, small, sizeof small, &len), PQIFY_TLS_ERR_ARG);
    /* after the first handshake call it is too late */
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t zero = 0;
    assert_int_equal(pqify_tls_handshake(conn, NULL, &zero, &out), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(pqify_tls_set_session(conn, s1.blob, s1.len), PQIFY_TLS_ERR_ARG);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(conn);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* Ticket count and lifetime reach the client: with 3 tickets the newest is kept, and
 * its lifetime is the configured one. */
static void test_new_session_ticket_wire(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    assert_int_equal(pqify_tls_config_set_ticket_lifetime(s, 3600), 0);
    assert_int_equal(pqify_tls_config_set_tickets(s, 3), 0);
    assert_int_equal(pqify_tls_config_set_tickets(s, 17), PQIFY_TLS_ERR_ARG);
    session s1;
    new_ticket(c, s, &s1);
    /* blob: version, suite, lifetime (the last of three tickets is kept) */
    assert_int_equal(s1.blob[0], 1);
    assert_int_equal(s1.blob[1] << 8 | s1.blob[2], 0x1301);
    assert_int_equal((uint32_t)s1.blob[3] << 24 | (uint32_t)s1.blob[4] << 16 | s1.blob[5] << 8 | s1.blob[6],
                     3600);
    assert_int_equal(resumes(c, s, &s1), 1);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* §4.2.10: a client that offers early_data gets no 0-RTT; its 0-RTT records are
 * skipped (within a budget) instead of killing the handshake. The hello is the
 * engine's own with an early_data extension appended, lengths fixed up. */
static void test_early_data_skipped(void **state)
{
    (void)state;
    reset_clocks();
    pqify_tls_config *s = server_config(), *c = client_config();
    for (int over_budget = 0; over_budget < 2; over_budget++) {
        pqify_tls_conn *client = pqify_tls_conn_new(c, 0), *server = pqify_tls_conn_new(s, 1);
        pqify_tls_buf hello, out;
        pqify_tls_buf_init(&hello, NULL, 0);
        pqify_tls_buf_init(&out, NULL, 0);
        size_t zero = 0;
        assert_int_equal(pqify_tls_handshake(client, NULL, &zero, &hello), PQIFY_TLS_IN_PROGRESS);
        uint8_t *h = malloc(hello.len + 4 + 6000);
        memcpy(h, hello.base, hello.len);
        /* record 5 | type 1, len 3 | version 2, random 32, session id, suites, compression */
        size_t at = 5 + 4 + 2 + 32;
        at += 1 + h[at];
        at += 2 + ((size_t)h[at] << 8 | h[at + 1]);
        at += 1 + h[at];
        size_t ext_len = (size_t)h[at] << 8 | h[at + 1];
        assert_int_equal(at + 2 + ext_len, hello.len);
        static const uint8_t early_data[4] = {0x00, 0x2a, 0x00, 0x00};
        memcpy(h + hello.len, early_data, 4);
        ext_len += 4;
        h[at] = (uint8_t)(ext_len >> 8), h[at + 1] = (uint8_t)ext_len;
        size_t hs_len = hello.len - 9 + 4, rec_len = hello.len - 5 + 4;
        h[6] = (uint8_t)(hs_len >> 16), h[7] = (uint8_t)(hs_len >> 8), h[8] = (uint8_t)hs_len;
        h[3] = (uint8_t)(rec_len >> 8), h[4] = (uint8_t)rec_len;
        size_t n = hello.len + 4;
        /* 0-RTT records right behind the hello: three small ones, or 5 x 16000
         * bytes, whose fifth goes past the 64 KiB budget */
        size_t records = over_budget ? 5 : 3, body = over_budget ? 16000 : 40;
        uint8_t *all = malloc(n + records * (5 + body));
        memcpy(all, h, n);
        for (size_t r = 0; r < records; r++) {
            uint8_t *rec = all + n + r * (5 + body);
            rec[0] = 23, rec[1] = 3, rec[2] = 3, rec[3] = (uint8_t)(body >> 8), rec[4] = (uint8_t)body;
            for (size_t i = 0; i < body; i++)
                rec[5 + i] = (uint8_t)(i * 37 + r);
        }
        size_t total = n + records * (5 + body), used = total;
        int ret = pqify_tls_handshake(server, all, &used, &out);
        pqify_tls_info info;
        pqify_tls_get_info(server, &info);
        if (over_budget) {
            assert_int_equal(ret, PQIFY_TLS_ERR_BAD_RECORD_MAC);
            assert_int_equal(used, total);
        } else {
            assert_int_equal(ret, PQIFY_TLS_IN_PROGRESS);
            assert_int_equal(used, total);
            assert_int_equal(info.resumed, 0);
        }
        free(all);
        free(h);
        pqify_tls_buf_dispose(&hello);
        pqify_tls_buf_dispose(&out);
        pqify_tls_conn_free(client);
        pqify_tls_conn_free(server);
    }
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_stays_pq),
        cmocka_unit_test(test_session_cache),
        cmocka_unit_test(test_expired_ticket),
        cmocka_unit_test(test_ticket_age_window),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_ticket_secret),
        cmocka_unit_test(test_tampered_ticket),
        cmocka_unit_test(test_bad_binder),
        cmocka_unit_test(test_psk_ke_only_client),
        cmocka_unit_test(test_hrr_with_psk),
        cmocka_unit_test(test_suite_hash_mismatch),
        cmocka_unit_test(test_client_auth_remembered),
        cmocka_unit_test(test_session_api),
        cmocka_unit_test(test_new_session_ticket_wire),
        cmocka_unit_test(test_early_data_skipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
