/*
 * Server identities chosen by SNI (tls.h "identities"): three certificates in one
 * config (ECDSA P-256 for a.test, RSA for b.test, Ed25519 for *.c.test behind an
 * asynchronous signer), which one each client gets, the default, the choice by
 * signature scheme among identities for one name, and the config errors.
 * Which leaf arrived is read from the client (its peer subject, and libcrypto's
 * host check when the client names the server); the name rule itself is checked
 * against libcrypto's X509_check_host.
 */
#include "tls_test.h"

#include <unistd.h>

#include <openssl/x509v3.h>

#include "internal.h"

static tt_ca ca;
static tt_identity id_a, id_b, id_c, id_a_rsa, id_no_san, id_odd;
static EVP_PKEY *key_c;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify sni CA");
    tt_identity_new(&id_a, &ca, "P-256", "a.test", "DNS:a.test", -1, 365);
    tt_identity_new(&id_b, &ca, "RSA", "b.test", "DNS:b.test", -1, 365);
    tt_identity_new(&id_c, &ca, "Ed25519", "wild.c.test", "DNS:*.c.test", -1, 365);
    tt_identity_new(&id_a_rsa, &ca, "RSA", "a-rsa.test", "DNS:a.test", -1, 365);
    /* a CN that looks like a name but no SAN: never chosen by name */
    tt_identity_new(&id_no_san, &ca, "P-256", "nosan.test", NULL, -1, 365);
    /* entries that must never match: partial wildcard, wildcard over one label,
     * a bare "*", an empty label, a space; and one good name last */
    tt_identity_new(&id_odd, &ca, "P-256", "odd.test",
                    "DNS:f*.odd.test,DNS:*.test,DNS:*,DNS:x..odd.test,DNS:sp ace.odd.test,"
                    "IP:127.0.0.1,DNS:Good.ODD.test", -1, 365);
    key_c = tt_pem_read_key(&id_c.key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key_c);
    tt_identity_free(&id_a);
    tt_identity_free(&id_b);
    tt_identity_free(&id_c);
    tt_identity_free(&id_a_rsa);
    tt_identity_free(&id_no_san);
    tt_identity_free(&id_odd);
    tt_ca_free(&ca);
    return 0;
}

/* The keyless side of *.c.test: says "pending", the test signs with libcrypto. */
struct remote {
    int calls;
};
static struct remote remote_c;

static int pending_sign(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
                        uint8_t *sig, size_t cap, size_t *sig_len)
{
    (void)scheme, (void)tbs, (void)tbs_len, (void)sig, (void)cap, (void)sig_len;
    ((struct remote *)ctx)->calls++;
    return PQIFY_TLS_SIGN_PENDING;
}

static const uint16_t ed25519_schemes[] = {0x0807};

static void answer_ed25519(pqify_tls_conn *conn)
{
    uint16_t scheme = 0;
    const uint8_t *tbs = NULL;
    size_t tbs_len = 0, n = PQIFY_TLS_MAX_SIGNATURE;
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
    assert_int_equal(pqify_tls_signature_request(conn, &scheme, &tbs, &tbs_len), 0);
    assert_int_equal(scheme, 0x0807);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, key_c), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &n, tbs, tbs_len), 1);
    EVP_MD_CTX_free(md);
    assert_int_equal(pqify_tls_signature_complete(conn, sig, n), 0);
}

static pqify_tls_config *three_identities(void)
{
    pqify_tls_config *s = pqify_tls_config_new();
    pqify_tls_signer signer = {&remote_c, ed25519_schemes, 1, pending_sign};
    assert_non_null(s);
    assert_int_equal(pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len, id_a.key.data,
                                                   id_a.key.len, NULL), 0);
    assert_int_equal(pqify_tls_config_add_identity(s, id_b.chain.data, id_b.chain.len, id_b.key.data,
                                                   id_b.key.len, NULL), 1);
    assert_int_equal(pqify_tls_config_add_identity(s, id_c.chain.data, id_c.chain.len, NULL, 0, &signer), 2);
    assert_int_equal(pqify_tls_config_identities(s), 3);
    return s;
}

struct outcome {
    int identity;            /* the server's pqify_tls_info.identity */
    char subject[256];       /* the leaf the client got */
    int signer_calls;
};

/* A full handshake to sni (NULL: none). With verify, the client checks the chain
 * and libcrypto's host check of sni against the leaf; without, it only reports. */
static struct outcome connect_to(const pqify_tls_config *s, const char *sni, int verify)
{
    struct outcome o;
    pqify_tls_config *c = tt_client_config(&ca, sni);
    pqify_tls_config_set_verify_peer(c, verify);
    tt_pair p;
    pqify_tls_info si, ci;
    remote_c.calls = 0;
    tt_pair_new(&p, c, s);
    tt_pair_run(&p, 1 << 20);
    if (p.server_ret == PQIFY_TLS_WANT_SIGNATURE) {
        answer_ed25519(p.server);
        size_t zero = 0;
        p.server_ret = pqify_tls_handshake(p.server, NULL, &zero, &p.to_client);
        for (int round = 0; round < 4 && (p.client_ret > 0 || p.server_ret > 0); round++) {
            if (p.to_client.len > 0 && p.client_ret > 0)
                p.client_ret = tt_feed(p.client, &p.to_client, &p.to_server, 1 << 20);
            if (p.to_server.len > 0 && p.server_ret > 0)
                p.server_ret = tt_feed(p.server, &p.to_server, &p.to_client, 1 << 20);
        }
    }
    if (p.client_ret != 0 || p.server_ret != 0)
        fail_msg("sni %s: client %d (%s), server %d (%s)", sni ? sni : "(none)", p.client_ret,
                 pqify_tls_strerror(p.client_ret), p.server_ret, pqify_tls_strerror(p.server_ret));
    pqify_tls_get_info(p.server, &si);
    pqify_tls_get_info(p.client, &ci);
    o.identity = si.identity;
    snprintf(o.subject, sizeof o.subject, "%s", ci.peer_subject);
    o.signer_calls = remote_c.calls;
    assert_int_equal(ci.identity, 0);
    tt_pair_free(&p);
    pqify_tls_config_free(c);
    return o;
}

static void expect(const pqify_tls_config *s, const char *sni, int verify, int identity, const char *cn)
{
    struct outcome o = connect_to(s, sni, verify);
    char want[300];
    snprintf(want, sizeof want, "CN=%s,O=pqify test", cn);
    if (o.identity != identity || strcmp(o.subject, want) != 0)
        fail_msg("sni %s: identity %d subject \"%s\", want %d \"%s\"", sni ? sni : "(none)", o.identity,
                 o.subject, identity, want);
    /* only the keyless identity goes to the signer */
    assert_int_equal(o.signer_calls, identity == 2 ? 1 : 0);
}

static void test_exact_names(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    expect(s, "a.test", 1, 0, "a.test");
    expect(s, "b.test", 1, 1, "b.test");
    pqify_tls_config_free(s);
}

static void test_wildcard_and_async_signer(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    expect(s, "x.c.test", 1, 2, "wild.c.test");
    expect(s, "other-1.c.test", 1, 2, "wild.c.test");
    /* two labels under the wildcard, or the bare parent: not matched, the default */
    expect(s, "y.x.c.test", 0, 0, "a.test");
    expect(s, "c.test", 0, 0, "a.test");
    pqify_tls_config_free(s);
}

static void test_case_insensitive(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    expect(s, "B.TEST", 1, 1, "b.test");
    expect(s, "A.Test", 1, 0, "a.test");
    expect(s, "X.C.Test", 1, 2, "wild.c.test");
    pqify_tls_config_free(s);
}

static void test_default(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    expect(s, NULL, 1, 0, "a.test");
    expect(s, "unknown.test", 0, 0, "a.test");
    /* an IP literal is never sent as SNI (RFC 6066 §3) */
    expect(s, "127.0.0.1", 0, 0, "a.test");
    pqify_tls_config_free(s);
}

/* The one-identity setters are identity 0; add_identity appends after them. */
static void test_setters_are_identity_zero(void **state)
{
    (void)state;
    pqify_tls_config *s = tt_server_config(&id_b);
    assert_int_equal(pqify_tls_config_identities(s), 1);
    assert_int_equal(pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len, id_a.key.data,
                                                   id_a.key.len, NULL), 1);
    expect(s, "a.test", 1, 1, "a.test");
    expect(s, NULL, 1, 0, "b.test");
    pqify_tls_config_free(s);
    /* two identities for a.test, both exact: the first in config order answers */
    s = tt_server_config(&id_a_rsa);
    assert_int_equal(pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len, id_a.key.data,
                                                   id_a.key.len, NULL), 1);
    expect(s, "a.test", 1, 0, "a-rsa.test");
    expect(s, "zzz.test", 0, 0, "a-rsa.test");
    pqify_tls_config_free(s);
}

/* The ClientHello the client would send to sni, its signature_algorithms narrowed
 * to one scheme (every entry rewritten; the server drops the repeats), fed to the
 * server alone: what the server decided before its ServerHello. */
static int server_choice(const pqify_tls_config *s, const char *sni, uint16_t scheme, int *identity)
{
    pqify_tls_config *c = tt_client_config(&ca, sni);
    tt_pair p;
    tt_pair_new(&p, c, s);
    size_t zero = 0;
    pqify_tls_buf ch, out;
    pqify_tls_buf_init(&ch, NULL, 0);
    pqify_tls_buf_init(&out, NULL, 0);
    assert_int_equal(pqify_tls_handshake(p.client, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
    /* walk the record to the extension: record header, handshake header, version,
     * random, session_id<1>, cipher_suites<2>, compression<1>, extensions<2> */
    size_t pos = 5 + 4 + 2 + 32;
    pos += 1 + ch.base[pos];
    pos += 2 + ((size_t)ch.base[pos] << 8 | ch.base[pos + 1]);
    pos += 1 + ch.base[pos];
    pos += 2;
    uint8_t *at = NULL;
    while (pos + 4 <= ch.len && at == NULL) {
        size_t len = (size_t)ch.base[pos + 2] << 8 | ch.base[pos + 3];
        if (ch.base[pos] == 0x00 && ch.base[pos + 1] == 0x0d)
            at = ch.base + pos;
        pos += 4 + len;
    }
    assert_non_null(at);
    size_t n = (size_t)at[4] << 8 | at[5];
    assert_int_equal((size_t)(at[2] << 8 | at[3]), n + 2);
    for (size_t j = 0; j < n; j += 2) {
        at[6 + j] = (uint8_t)(scheme >> 8);
        at[7 + j] = (uint8_t)scheme;
    }
    size_t used = ch.len;
    int r = pqify_tls_handshake(p.server, ch.base, &used, &out);
    pqify_tls_info si;
    pqify_tls_get_info(p.server, &si);
    *identity = si.identity;
    pqify_tls_buf_dispose(&ch);
    pqify_tls_buf_dispose(&out);
    tt_pair_free(&p);
    pqify_tls_config_free(c);
    return r;
}

static void test_scheme_picks_among_same_name(void **state)
{
    (void)state;
    int identity = -1;
    pqify_tls_config *s = three_identities();
    /* identity 3: an RSA chain for a.test, after the ECDSA one */
    assert_int_equal(pqify_tls_config_add_identity(s, id_a_rsa.chain.data, id_a_rsa.chain.len,
                                                   id_a_rsa.key.data, id_a_rsa.key.len, NULL), 3);
    assert_int_equal(server_choice(s, "a.test", 0x0403, &identity), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(identity, 0);
    assert_int_equal(server_choice(s, "a.test", 0x0804, &identity), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(identity, 3);
    /* a client that takes only Ed25519: a.test has no such key, and the Ed25519
     * identity is not for this name */
    assert_int_equal(server_choice(s, "a.test", 0x0807, &identity), PQIFY_TLS_ERR_NO_COMMON_SIGALG);
    /* the wildcard serves Ed25519 (its signer is asked) ... but not an RSA-only client */
    assert_int_equal(server_choice(s, "q.c.test", 0x0807, &identity), PQIFY_TLS_WANT_SIGNATURE);
    assert_int_equal(identity, 2);
    assert_int_equal(server_choice(s, "q.c.test", 0x0804, &identity), PQIFY_TLS_ERR_NO_COMMON_SIGALG);
    /* no match: the default only (ECDSA), whatever else could sign */
    assert_int_equal(server_choice(s, "zzz.test", 0x0403, &identity), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(identity, 0);
    assert_int_equal(server_choice(s, "zzz.test", 0x0804, &identity), PQIFY_TLS_ERR_NO_COMMON_SIGALG);
    pqify_tls_config_free(s);
}

/* The name rule against libcrypto's own host check (SAN only, no partial
 * wildcards): both must agree on every well-formed name. */
static void test_rule_agrees_with_libcrypto(void **state)
{
    (void)state;
    const tt_identity *ids[] = {&id_a, &id_b, &id_c, &id_no_san, &id_odd};
    static const char *const names[] = {
        "a.test", "A.TEST", "b.test", "x.c.test", "X-Y.C.TEST", "c.test", "y.x.c.test",
        "nosan.test", "good.odd.test", "GOOD.odd.TEST", "f.odd.test", "foo.odd.test",
        "odd.test", "x.test", "a.tes", "aa.test", "test", "xc.test",
    };
    const unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
                           X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        pqify_tls_config *s = tt_server_config(ids[i]);
        X509 *leaf = tt_pem_read_cert(&ids[i]->chain);
        for (size_t j = 0; j < sizeof names / sizeof names[0]; j++) {
            size_t index = 99;
            int by_name = -1;
            const uint16_t schemes[] = {0x0403, 0x0804, 0x0807};
            assert_int_equal(tls_choose_identity(s, (const uint8_t *)names[j], strlen(names[j]),
                                                 schemes, 3, &index, &by_name), 0);
            assert_int_equal(index, 0);
            int want = X509_check_host(leaf, names[j], 0, flags, NULL) == 1;
            if (by_name != want)
                fail_msg("cert %zu, name %s: pqify %d, libcrypto %d", i, names[j], by_name, want);
        }
        X509_free(leaf);
        pqify_tls_config_free(s);
    }
}

/* Server names that are not plain host names never match (the default answers). */
static void test_odd_server_names(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    const uint16_t schemes[] = {0x0403, 0x0804, 0x0807};
    char long_label[80], long_name[300];
    memset(long_label, 'q', 64);
    memcpy(long_label + 64, ".c.test", 8);
    /* 254 bytes: a label of 60 'q', then ".c.test" labels */
    memset(long_name, 0, sizeof long_name);
    for (size_t i = 0; i < 247; i++)
        long_name[i] = (i % 8 == 7) ? '.' : 'q';
    memcpy(long_name + 247, ".c.test", 7);
    struct {
        const char *name;
        size_t len;
    } odd[] = {
        {"b.test.", 7},          /* trailing dot: RFC 6066 §3 */
        {"x.c.test.", 9},
        {"b..test", 7},
        {".b.test", 7},
        {"*.c.test", 8},         /* a wildcard is no host name */
        {"b.test\0x", 8},        /* an embedded NUL */
        {"b.test x", 8},
        {"b_x.test", 8},         /* '_' is no host name character (RFC 1123) */
        {"b\xc3\xa9.test", 8},   /* UTF-8, not an A-label */
        {long_label, strlen(long_label)},   /* a 64-byte label */
        {long_name, 254},        /* over 253 */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        size_t index = 99;
        int by_name = -1;
        assert_int_equal(tls_choose_identity(s, (const uint8_t *)odd[i].name, odd[i].len, schemes, 3,
                                             &index, &by_name), 0);
        if (index != 0 || by_name != 0)
            fail_msg("odd name %zu matched identity %zu", i, index);
    }
    /* one label of 63 under the wildcard is a host name, and matches it */
    memset(long_label, 'q', 63);
    memcpy(long_label + 63, ".c.test", 8);
    size_t index = 99;
    int by_name = -1;
    assert_int_equal(tls_choose_identity(s, (const uint8_t *)long_label, strlen(long_label), schemes, 3,
                                         &index, &by_name), 0);
    assert_int_equal(index, 2);
    assert_int_equal(by_name, 1);
    pqify_tls_config_free(s);
}

static void expect_config_error(pqify_tls_config *s, int got, const char *words)
{
    assert_int_equal(got, PQIFY_TLS_ERR_CONFIG);
    const char *d = pqify_tls_config_error_detail(s);
    if (strstr(d, words) == NULL)
        fail_msg("detail \"%s\" does not say \"%s\"", d, words);
}

static void test_add_identity_errors(void **state)
{
    (void)state;
    pqify_tls_config *s = three_identities();
    pqify_tls_signer signer = {&remote_c, ed25519_schemes, 1, pending_sign};
    const uint16_t rsa_schemes[] = {0x0804};
    pqify_tls_signer wrong = {&remote_c, rsa_schemes, 1, pending_sign};
    pqify_tls_signer empty = {&remote_c, rsa_schemes, 0, pending_sign};
    /* exactly one of key and signer */
    assert_int_equal(pqify_tls_config_add_identity(s, id_c.chain.data, id_c.chain.len, id_c.key.data,
                                                   id_c.key.len, &signer), PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_config_add_identity(s, id_c.chain.data, id_c.chain.len, NULL, 0, NULL),
                     PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_config_add_identity(s, id_c.chain.data, id_c.chain.len, NULL, 0, &empty),
                     PQIFY_TLS_ERR_ARG);
    assert_int_equal(pqify_tls_config_add_identity(NULL, id_c.chain.data, id_c.chain.len, NULL, 0, &signer),
                     PQIFY_TLS_ERR_ARG);
    /* a key from another pair */
    expect_config_error(s, pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len, id_b.key.data,
                                                         id_b.key.len, NULL), "does not match");
    /* a signer that claims RSA for an Ed25519 certificate */
    expect_config_error(s, pqify_tls_config_add_identity(s, id_c.chain.data, id_c.chain.len, NULL, 0, &wrong),
                        "0x0804");
    /* no certificate, a key that is no key, a truncated certificate */
    expect_config_error(s, pqify_tls_config_add_identity(s, id_a.key.data, id_a.key.len, id_a.key.data,
                                                         id_a.key.len, NULL), "no PEM certificate");
    expect_config_error(s, pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len, id_a.chain.data,
                                                         id_a.chain.len, NULL), "no readable PEM private key");
    expect_config_error(s, pqify_tls_config_add_identity(s, id_a.chain.data, id_a.chain.len / 2,
                                                         id_a.key.data, id_a.key.len, NULL), "no PEM certificate");
    /* files: each error names its file */
    expect_config_error(s, pqify_tls_config_add_identity_files(s, "/nonexistent/a.pem", "/nonexistent/a.key", NULL),
                        "/nonexistent/a.pem: No such file");
    char chain_path[] = "/tmp/pqify-sni-XXXXXX";
    int fd = mkstemp(chain_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, id_a.chain.data, id_a.chain.len), (ssize_t)id_a.chain.len);
    close(fd);
    expect_config_error(s, pqify_tls_config_add_identity_files(s, chain_path, "/nonexistent/a.key", NULL),
                        "/nonexistent/a.key: No such file");
    expect_config_error(s, pqify_tls_config_add_identity_files(s, chain_path, chain_path, NULL),
                        "no readable PEM private key");
    assert_non_null(strstr(pqify_tls_config_error_detail(s), chain_path));
    /* nothing of the failures stuck */
    assert_int_equal(pqify_tls_config_identities(s), 3);
    /* the same file with the signer of an ECDSA-shaped key would be refused; with a
     * matching key file it is identity 3 */
    char key_path[] = "/tmp/pqify-sni-key-XXXXXX";
    fd = mkstemp(key_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, id_a.key.data, id_a.key.len), (ssize_t)id_a.key.len);
    close(fd);
    assert_int_equal(pqify_tls_config_add_identity_files(s, chain_path, key_path, NULL), 3);
    assert_string_equal(pqify_tls_config_error_detail(s), "");
    unlink(chain_path);
    unlink(key_path);
    pqify_tls_config_free(s);
}

/* An empty config's first identity is identity 0; a server needs one. */
static void test_server_needs_identity_zero(void **state)
{
    (void)state;
    pqify_tls_config *s = pqify_tls_config_new();
    assert_non_null(s);
    assert_null(pqify_tls_conn_new(s, 1));
    assert_int_equal(pqify_tls_config_identities(s), 1);
    assert_int_equal(pqify_tls_config_add_identity(s, id_b.chain.data, id_b.chain.len, id_b.key.data,
                                                   id_b.key.len, NULL), 0);
    assert_int_equal(pqify_tls_config_identities(s), 1);
    pqify_tls_conn *c = pqify_tls_conn_new(s, 1);
    assert_non_null(c);
    pqify_tls_conn_free(c);
    pqify_tls_config_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_names),
        cmocka_unit_test(test_wildcard_and_async_signer),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_setters_are_identity_zero),
        cmocka_unit_test(test_scheme_picks_among_same_name),
        cmocka_unit_test(test_rule_agrees_with_libcrypto),
        cmocka_unit_test(test_odd_server_names),
        cmocka_unit_test(test_add_identity_errors),
        cmocka_unit_test(test_server_needs_identity_zero),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
