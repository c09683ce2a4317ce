/*
 * Issue 16: RSA-PSS keys (id-RSASSA-PSS certificates, RFC 4055) in both roles with
 * rsa_pss_pss_sha256/384/512 (RFC 8446 §4.2.3), restricted keys choosing the one
 * scheme their parameters allow, and the words a key that cannot sign gets.
 * Node 24 checks the same keys from outside (tests/interop/node_pqify_*.sh).
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

/* mTLS with an RSA-PSS key of `type` on both sides; both must sign with `scheme`. */
static void handshake_with(const char *type, uint16_t scheme)
{
    tt_identity server_id, client_id;
    tt_identity_new(&server_id, &ca, type, "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&client_id, &ca, type, "client.test", NULL, -1, 30);
    pqify_tls_config *s = tt_server_config(&server_id), *c = tt_client_config(&ca, "server.test");
    assert_int_equal(pqify_tls_config_set_ca_pem(s, ca.pem.data, ca.pem.len), 0);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(c, client_id.chain.data, client_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(c, client_id.key.data, client_id.key.len), 0);
    tt_pair p;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    if (p.client_ret != 0 || p.server_ret != 0)
        fail_msg("%s: client %s, server %s", type, pqify_tls_strerror(p.client_ret),
                 pqify_tls_strerror(p.server_ret));
    pqify_tls_info ci, si;
    pqify_tls_get_info(p.client, &ci);
    pqify_tls_get_info(p.server, &si);
    /* each side reports the scheme of the signature it verified */
    assert_int_equal(ci.signature_scheme, scheme);
    assert_int_equal(si.signature_scheme, scheme);
    assert_int_equal(si.peer_cert, 1);
    assert_string_equal(ci.group, "X25519MLKEM768");
    static const char msg[] = "over an RSA-PSS authenticated connection";
    tt_transfer(p.client, p.server, msg, sizeof msg, 1 << 20);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&server_id);
    tt_identity_free(&client_id);
}

/* The certificate really carries id-RSASSA-PSS, not rsaEncryption. */
static void test_certificate_is_rsassa_pss(void **state)
{
    (void)state;
    tt_identity id;
    tt_identity_new(&id, &ca, "RSA-PSS", "server.test", "DNS:server.test", -1, 30);
    X509 *x = tt_pem_read_cert(&id.chain);
    X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
    ASN1_OBJECT *alg = NULL;
    assert_int_equal(X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, pub), 1);
    assert_int_equal(OBJ_obj2nid(alg), NID_rsassaPss);
    X509_free(x);
    tt_identity_free(&id);
}

static void test_unrestricted_pss_key_both_roles(void **state)
{
    (void)state;
    handshake_with("RSA-PSS", 0x0809);
}

static void test_pss_key_restricted_to_sha384(void **state)
{
    (void)state;
    handshake_with("RSA-PSS-SHA384", 0x080a);
}

static void test_pss_key_restricted_to_sha512(void **state)
{
    (void)state;
    handshake_with("RSA-PSS-SHA512", 0x080b);
}

/* A peer that accepts only rsa_pss_rsae_* cannot be served by a PSS key: the server
 * says so before its ServerHello (handshake_failure). */
static void test_rsae_only_peer_refused(void **state)
{
    (void)state;
    tt_identity id;
    tt_identity_new(&id, &ca, "RSA-PSS", "server.test", "DNS:server.test", -1, 30);
    pqify_tls_config *s = tt_server_config(&id), *c = tt_client_config(&ca, "server.test");
    tt_pair p;
    tt_pair_new(&p, c, s);
    /* the client's hello with signature_algorithms narrowed to rsa_pss_rsae_sha256 */
    size_t zero = 0;
    pqify_tls_buf ch, out;
    pqify_tls_buf_init(&ch, NULL, 0);
    pqify_tls_buf_init(&out, NULL, 0);
    assert_int_equal(pqify_tls_handshake(p.client, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
    uint8_t *at = NULL;
    for (size_t i = 0; i + 6 < ch.len; i++)
        if (ch.base[i] == 0x00 && ch.base[i + 1] == 0x0d) {   /* signature_algorithms */
            at = ch.base + i;
            break;
        }
    assert_non_null(at);
    size_t n = (size_t)at[4] << 8 | at[5];
    for (size_t j = 0; j < n; j += 2) {
        at[6 + j] = 0x08;
        at[7 + j] = 0x04;
    }
    size_t used = ch.len;
    int r = pqify_tls_handshake(p.server, ch.base, &used, &out);
    assert_int_equal(r, PQIFY_TLS_ERR_NO_COMMON_SIGALG);
    assert_int_equal(out.base[0], 21);   /* alert */
    assert_int_equal(out.base[6], 40);   /* handshake_failure */
    pqify_tls_buf_dispose(&ch);
    pqify_tls_buf_dispose(&out);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
    tt_identity_free(&id);
}

/* Keys that cannot sign TLS 1.3: refused at configuration, with the reason. */
static void unusable(const char *type, const char *words)
{
    tt_identity id;
    tt_identity_new(&id, &ca, type, "server.test", "DNS:server.test", -1, 30);
    pqify_tls_config *s = pqify_tls_config_new();
    assert_non_null(s);
    if (pqify_tls_config_set_key_pem(s, id.key.data, id.key.len) != PQIFY_TLS_ERR_CONFIG)
        fail_msg("%s: the key was accepted", type);
    const char *d = pqify_tls_config_error_detail(s);
    if (strstr(d, words) == NULL || strstr(d, "cannot sign TLS 1.3") == NULL)
        fail_msg("%s: detail \"%s\" does not say \"%s\"", type, d, words);
    pqify_tls_config_free(s);
    tt_identity_free(&id);
}

static void test_unusable_keys_say_why(void **state)
{
    (void)state;
    unusable("RSA-PSS-SHA256-SHA1", "MGF1");
    unusable("RSA-PSS-SHA1", "RSA-PSS parameters");
    unusable("P-521", "curve secp521r1");
    unusable("Ed448", "ED448 key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certificate_is_rsassa_pss),
        cmocka_unit_test(test_unrestricted_pss_key_both_roles),
        cmocka_unit_test(test_pss_key_restricted_to_sha384),
        cmocka_unit_test(test_pss_key_restricted_to_sha512),
        cmocka_unit_test(test_rsae_only_peer_refused),
        cmocka_unit_test(test_unusable_keys_say_why),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
