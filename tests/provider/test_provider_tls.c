/*
 * pqify.so under libssl 3.0 in one process: a libssl client and a libssl server
 * joined by BIO pairs, both with the provider in their library context. Every
 * provider group end to end (and application data both ways), a HelloRetryRequest
 * to a provider group, classical fallback with the provider loaded, and malformed
 * client shares answered with illegal_parameter. Built under the sanitizers this is
 * how the provider meets libssl under ASan (Debian's own binaries are not
 * instrumented; tests/provider/provider_interop.sh drives those).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "conn.h"
#include "tls/negative_corpus.h"

static OSSL_LIB_CTX *g_lib;
static OSSL_PROVIDER *g_pqify, *g_default;
static EVP_PKEY *g_key;
static X509 *g_cert;

static int setup(void **state)
{
    (void)state;
    g_lib = OSSL_LIB_CTX_new();
    if (g_lib == NULL || !OSSL_PROVIDER_set_default_search_path(g_lib, PQIFY_PROVIDER_DIR) ||
        (g_default = OSSL_PROVIDER_load(g_lib, "default")) == NULL ||
        (g_pqify = OSSL_PROVIDER_load(g_lib, "pqify")) == NULL)
        return -1;
    /* a self-signed ECDSA P-256 certificate, made here */
    g_key = EVP_PKEY_Q_keygen(g_lib, NULL, "EC", "P-256");
    g_cert = X509_new_ex(g_lib, NULL);
    if (g_key == NULL || g_cert == NULL)
        return -1;
    X509_NAME *name = X509_get_subject_name(g_cert);
    if (!X509_set_version(g_cert, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(g_cert), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(g_cert), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(g_cert), 3600) || !X509_set_pubkey(g_cert, g_key) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(g_cert, name) || !X509_sign(g_cert, g_key, EVP_sha256()))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(g_cert);
    EVP_PKEY_free(g_key);
    OSSL_PROVIDER_unload(g_pqify);
    OSSL_PROVIDER_unload(g_default);
    OSSL_LIB_CTX_free(g_lib);
    return 0;
}

static SSL_CTX *ctx_for(int server, const char *groups)
{
    SSL_CTX *c = SSL_CTX_new_ex(g_lib, NULL, server ? TLS_server_method() : TLS_client_method());
    assert_non_null(c);
    assert_int_equal(SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION), 1);
    if (SSL_CTX_set1_groups_list(c, groups) != 1) {
        ERR_print_errors_fp(stderr);
        fail_msg("groups '%s' refused by libssl", groups);
    }
    if (server) {
        assert_int_equal(SSL_CTX_use_certificate(c, g_cert), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey(c, g_key), 1);
        SSL_CTX_set_num_tickets(c, 0);
    }
    return c;
}

/* Moves bytes between the pair until both handshakes end; 1 when both succeeded. */
static int handshake(SSL *client, SSL *server)
{
    int c_done = 0, s_done = 0;
    for (int i = 0; i < 50 && !(c_done && s_done); i++) {
        if (!c_done) {
            int r = SSL_do_handshake(client);
            if (r == 1)
                c_done = 1;
            else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
                return 0;
        }
        if (!s_done) {
            int r = SSL_do_handshake(server);
            if (r == 1)
                s_done = 1;
            else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
                return 0;
        }
    }
    return c_done && s_done;
}

/* libssl 3.0 reports a classical group by its NID and a group it has no NID for
 * (every provider group) as TLSEXT_nid_unknown | id */
static unsigned group_of(SSL *s)
{
    return (unsigned)SSL_get_negotiated_group(s);
}

static int hrr_seen;

static void on_msg(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
                   void *arg)
{
    (void)version;
    (void)ssl;
    (void)arg;
    const uint8_t *p = buf;
    /* RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest */
    static const uint8_t hrr_random[4] = {0xcf, 0x21, 0xad, 0x74};
    if (!write_p && type == SSL3_RT_HANDSHAKE && len > 10 && p[0] == 2 &&
        memcmp(p + 6, hrr_random, 4) == 0)
        hrr_seen = 1;
}

/* client and server with these group lists: the group they agree on, or 0 */
static unsigned connect_pair(const char *client_groups, const char *server_groups, int *hrr)
{
    SSL_CTX *cc = ctx_for(0, client_groups), *sc = ctx_for(1, server_groups);
    SSL *c = SSL_new(cc), *s = SSL_new(sc);
    BIO *cb = NULL, *sb = NULL;
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    hrr_seen = 0;
    SSL_set_msg_callback(c, on_msg);
    unsigned g = 0;
    if (handshake(c, s)) {
        char buf[16];
        /* application data both ways: the two sides hold the same keys */
        assert_int_equal(SSL_write(c, "ping", 4), 4);
        assert_int_equal(SSL_read(s, buf, sizeof buf), 4);
        assert_int_equal(SSL_write(s, "pong", 4), 4);
        assert_int_equal(SSL_read(c, buf, sizeof buf), 4);
        assert_memory_equal(buf, "pong", 4);
        g = group_of(c);
        assert_int_equal(group_of(s), g);
    } else {
        ERR_print_errors_fp(stderr);
    }
    *hrr = hrr_seen;
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return g;
}

static void test_every_group(void **state)
{
    (void)state;
    static const struct { const char *name; unsigned id; } groups[] = {
        {"X25519MLKEM768", 0x11EC}, {"SecP256r1MLKEM768", 0x11EB}, {"SecP384r1MLKEM1024", 0x11ED},
        {"MLKEM512", 0x0200},       {"MLKEM768", 0x0201},          {"MLKEM1024", 0x0202},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        int hrr;
        unsigned g = connect_pair(groups[i].name, groups[i].name, &hrr);
        if (g != (TLSEXT_nid_unknown | groups[i].id))
            fail_msg("%s: negotiated 0x%04x", groups[i].name, g);
        assert_false(hrr);
    }
}

static void test_hrr_to_hybrid(void **state)
{
    (void)state;
    int hrr;
    /* the client's one share is X25519; the server wants only the hybrid */
    assert_int_equal(connect_pair("X25519:X25519MLKEM768", "X25519MLKEM768", &hrr),
                     TLSEXT_nid_unknown | 0x11EC);
    assert_true(hrr);
}

static void test_classical_fallback(void **state)
{
    (void)state;
    int hrr;
    assert_int_equal(connect_pair("X25519", "X25519MLKEM768:X25519", &hrr), NID_X25519);
    assert_false(hrr);
    assert_int_equal(connect_pair("X25519MLKEM768:P-256", "P-256", &hrr), NID_X9_62_prime256v1);
    assert_true(hrr);
}

/* The server's first bytes for a hand-written ClientHello: a plaintext alert? */
static int alert_for(const uint8_t *hello, size_t len)
{
    SSL_CTX *sc = ctx_for(1, "X25519MLKEM768:SecP256r1MLKEM768:SecP384r1MLKEM1024:"
                             "MLKEM512:MLKEM768:MLKEM1024:X25519");
    SSL *s = SSL_new(sc);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    uint8_t r[7];
    assert_int_equal(BIO_write(in, hello, (int)len), (int)len);
    SSL_set_bio(s, in, out);
    SSL_set_accept_state(s);
    int ok = SSL_do_handshake(s);
    int alert = -1;
    if (ok != 1 && BIO_read(out, r, sizeof r) == (int)sizeof r && r[0] == SSL3_RT_ALERT && r[5] == 2)
        alert = r[6];
    SSL_free(s);
    SSL_CTX_free(sc);
    ERR_clear_error();
    return alert;
}

static void send_share(const char *what, uint16_t id, const uint8_t *share, size_t len, int want)
{
    nc_bytes e = {0}, b = {0};
    nc_exts_one_share(&e, id, 0, share, len);
    nc_client_hello(&b, "1301", "0100", e.p, e.len, TLS_MAX_PLAINTEXT);
    int got = alert_for(b.p, b.len);
    free(e.p);
    free(b.p);
    if (got != want)
        fail_msg("0x%04x %s: alert %d, want %d", id, what, got, want);
}

static void test_malformed_shares(void **state)
{
    (void)state;
    uint8_t share[4 * 1700];
    for (size_t gi = 0; gi < 6; gi++) {   /* the provider's groups: nc_groups[0..5] */
        uint16_t id = nc_groups[gi].id;
        size_t len = nc_valid_share(gi, share);
        size_t ecdh = nc_groups[gi].ecdh_len;
        size_t kem_at = nc_groups[gi].ecdh_first == 1 ? ecdh : 0;
        size_t ecdh_at = nc_groups[gi].ecdh_first == 1 ? 0 : len - ecdh;
        send_share("one byte short", id, share, len - 1, TLS_ALERT_ILLEGAL_PARAMETER);
        share[len] = 0;
        send_share("one byte more", id, share, len + 1, TLS_ALERT_ILLEGAL_PARAMETER);
        len = nc_valid_share(gi, share);
        share[kem_at] = 0x01;   /* coefficient 0 = q: FIPS 203 §7.2 */
        share[kem_at + 1] = (uint8_t)((share[kem_at + 1] & 0xf0) | 0x0d);
        send_share("modulus check", id, share, len, TLS_ALERT_ILLEGAL_PARAMETER);
        if (ecdh == 32) {
            for (size_t k = 0; k < sizeof nc_x25519_small / sizeof nc_x25519_small[0]; k++) {
                len = nc_valid_share(gi, share);
                nc_unhex(nc_x25519_small[k], share + ecdh_at, 32);
                send_share("small-order X25519", id, share, len, TLS_ALERT_ILLEGAL_PARAMETER);
            }
        } else if (ecdh != 0) {
            for (int kind = 0; kind < 6; kind++) {
                len = nc_valid_share(gi, share);
                nc_bad_point(share + ecdh_at, ecdh, kind);
                send_share(nc_point_names[kind], id, share, len, TLS_ALERT_ILLEGAL_PARAMETER);
            }
        }
        /* the control: the valid share draws no alert (a ServerHello) */
        len = nc_valid_share(gi, share);
        send_share("valid share", id, share, len, -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_group),
        cmocka_unit_test(test_hrr_to_hybrid),
        cmocka_unit_test(test_classical_fallback),
        cmocka_unit_test(test_malformed_shares),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
