/*
 * pqify_tls_options_build (include/pqify/net/tls_options.h): every option reaches
 * the engine (checked by a handshake between the two configs it builds), and
 * every way a file or a word can be wrong reads as words naming the option, the
 * file and the reason. The PEM files are written at run time from libcrypto keys.
 */
#include "tls/tls_test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "pqify/net/tls_options.h"

static tt_ca ca;
static tt_identity server_id, other_id;
static char dir[64];
static char cert_path[128], key_path[128], ca_path[128], other_key_path[128], junk_path[128];

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify options CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    tt_identity_new(&other_id, &ca, "P-256", "other.test", "DNS:other.test", -1, 365);
    strcpy(dir, "/tmp/pqify-options-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cert_path, sizeof cert_path, "%s/server.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/server.key", dir);
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    snprintf(other_key_path, sizeof other_key_path, "%s/other.key", dir);
    snprintf(junk_path, sizeof junk_path, "%s/junk.pem", dir);
    write_file(cert_path, server_id.chain.data, server_id.chain.len);
    write_file(key_path, server_id.key.data, server_id.key.len);
    write_file(ca_path, ca.pem.data, ca.pem.len);
    write_file(other_key_path, other_id.key.data, other_id.key.len);
    write_file(junk_path, "not a PEM file\n", 15);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *files[] = {cert_path, key_path, ca_path, other_key_path, junk_path};
    for (size_t i = 0; i < 5; i++)
        unlink(files[i]);
    rmdir(dir);
    tt_identity_free(&server_id);
    tt_identity_free(&other_id);
    tt_ca_free(&ca);
    return 0;
}

static void expect_error(const pqify_tls_options *o, int is_server, const char *words)
{
    char err[512] = "untouched";
    pqify_tls_config *cfg = pqify_tls_options_build(o, is_server, PQIFY_PQ_PREFERRED, err, sizeof err);
    if (cfg != NULL)
        fail_msg("built a config; expected \"%s\"", words);
    assert_string_equal(err, words);
}

static void test_file_errors(void **state)
{
    (void)state;
    char want[512];
    pqify_tls_options o = {.cert = "/nonexistent/x.pem", .key = key_path};
    expect_error(&o, 1, "cert /nonexistent/x.pem: No such file or directory");

    o.cert = dir;
    snprintf(want, sizeof want, "cert %s: is a directory", dir);
    expect_error(&o, 1, want);

    o.cert = junk_path;
    snprintf(want, sizeof want,
             "cert %s: no PEM certificate in it (want -----BEGIN CERTIFICATE-----)", junk_path);
    expect_error(&o, 1, want);

    o.cert = cert_path;
    o.key = "/nonexistent.key";
    expect_error(&o, 1, "key /nonexistent.key: No such file or directory");

    o.key = junk_path;
    snprintf(want, sizeof want,
             "key %s: no readable PEM private key in it (an encrypted key needs decrypting "
             "first: openssl pkey -in KEY -out PLAIN)", junk_path);
    expect_error(&o, 1, want);

    o.key = other_key_path;   /* a good key, but another certificate's */
    snprintf(want, sizeof want,
             "key %s: the private key does not match the certificate's public key (a key and "
             "certificate from different pairs)", other_key_path);
    expect_error(&o, 1, want);

    o.key = key_path;
    o.ca = "/nonexistent-ca.pem";
    expect_error(&o, 1, "ca /nonexistent-ca.pem: No such file or directory");
    o.ca = junk_path;
    snprintf(want, sizeof want,
             "ca %s: no PEM CA certificate in it (want -----BEGIN CERTIFICATE-----)", junk_path);
    expect_error(&o, 1, want);
}

static void test_word_errors(void **state)
{
    (void)state;
    pqify_tls_options o = {.pq = "sometimes"};
    expect_error(&o, 0, "pq must be preferred, required or off (got 'sometimes')");

    /* pq=required leaves nothing of a classical-only list */
    o = (pqify_tls_options){.pq = "required", .groups = "x25519"};
    char want[256];
    expect_error(&o, 0, "groups 'x25519': no group is left with pq=required");
    o.pq = "off";
    o.groups = "X25519MLKEM768";
    expect_error(&o, 0, "groups 'X25519MLKEM768': no group is left with pq=off");

    o = (pqify_tls_options){.cert = cert_path};
    expect_error(&o, 0, "cert without key: a client certificate needs both cert and key");
    o = (pqify_tls_options){.key = key_path};
    expect_error(&o, 0, "key without cert: a client certificate needs both cert and key");
    o = (pqify_tls_options){.key = key_path};
    expect_error(&o, 1, "cert is required on a server");

    o = (pqify_tls_options){.ciphers = "TLS_NULL_WITH_NULL_NULL"};
    char *err = want;
    assert_null(pqify_tls_options_build(&o, 0, PQIFY_PQ_PREFERRED, err, sizeof want));
    assert_true(strncmp(err, "ciphers 'TLS_NULL_WITH_NULL_NULL': ", 35) == 0);
    char long_name[300];   /* RFC 7301 §3.1: a protocol name is at most 255 bytes */
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    o = (pqify_tls_options){.alpn = long_name};
    assert_null(pqify_tls_options_build(&o, 0, PQIFY_PQ_PREFERRED, err, sizeof want));
    assert_true(strncmp(err, "alpn 'aaaa", 10) == 0);
}

/* Runs a handshake between the two configs; returns the client's result. */
static int handshake(const pqify_tls_config *ccfg, const pqify_tls_config *scfg,
                     pqify_tls_info *info)
{
    tt_pair p;
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, 1 << 20);
    int rc = p.client_ret;
    pqify_tls_get_info(p.client, info);
    tt_pair_free(&p);
    return rc;
}

static void test_options_reach_the_engine(void **state)
{
    (void)state;
    char err[512];
    pqify_tls_options so = {.cert = cert_path, .key = key_path, .alpn = "h2,http/1.1",
                            .ciphers = "TLS_CHACHA20_POLY1305_SHA256,TLS_AES_128_GCM_SHA256",
                            .groups = "SecP256r1MLKEM768"};
    pqify_tls_options co = {.ca = ca_path, .server_name = "server.test", .alpn = "http/1.1,h2",
                            .ciphers = "TLS_CHACHA20_POLY1305_SHA256"};
    pqify_tls_config *scfg = pqify_tls_options_build(&so, 1, PQIFY_PQ_PREFERRED, err, sizeof err);
    pqify_tls_config *ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_PREFERRED, err, sizeof err);
    assert_non_null(scfg);
    assert_non_null(ccfg);
    assert_string_equal(err, "");
    pqify_tls_info info;
    assert_int_equal(handshake(ccfg, scfg, &info), 0);
    assert_string_equal(info.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    assert_string_equal(info.alpn, "h2");               /* the server's preference */
    assert_string_equal(info.group, "SecP256r1MLKEM768"); /* by HelloRetryRequest */
    assert_int_equal(info.hrr, 1);
    assert_string_equal(info.server_name, "server.test");
    pqify_tls_config_free(ccfg);

    /* server_name is checked against the certificate: another name fails */
    co.server_name = "other.test";
    ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_PREFERRED, err, sizeof err);
    assert_non_null(ccfg);
    assert_int_equal(handshake(ccfg, scfg, &info), PQIFY_TLS_ERR_CERT_NAME);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

/* The role's default pq mode applies when pq is not set; pq overrides it. */
static void test_default_pq(void **state)
{
    (void)state;
    char err[512];
    pqify_tls_options so = {.cert = cert_path, .key = key_path, .pq = "off"};
    pqify_tls_options co = {.ca = ca_path, .server_name = "server.test"};
    pqify_tls_config *scfg = pqify_tls_options_build(&so, 1, PQIFY_PQ_REQUIRED, err, sizeof err);
    pqify_tls_config *ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    assert_non_null(scfg);
    assert_non_null(ccfg);
    pqify_tls_info info;
    /* a required client against a classical-only server: it refuses the
     * server's HelloRetryRequest for X25519 itself */
    assert_int_equal(handshake(ccfg, scfg, &info), PQIFY_TLS_ERR_PEER_NO_PQ);
    pqify_tls_config_free(ccfg);
    co.pq = "preferred";
    ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    assert_int_equal(handshake(ccfg, scfg, &info), 0);
    assert_string_equal(info.group, "x25519");
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

/* mutual TLS: ca on a server asks for a client certificate */
static void test_server_ca_requires_client_cert(void **state)
{
    (void)state;
    char err[512];
    pqify_tls_options so = {.cert = cert_path, .key = key_path, .ca = ca_path};
    pqify_tls_options co = {.ca = ca_path, .server_name = "server.test"};
    pqify_tls_config *scfg = pqify_tls_options_build(&so, 1, PQIFY_PQ_PREFERRED, err, sizeof err);
    pqify_tls_config *ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_PREFERRED, err, sizeof err);
    tt_pair p;
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.server_ret, PQIFY_TLS_ERR_CERT_REQUIRED);
    tt_pair_free(&p);
    pqify_tls_config_free(ccfg);
    co.cert = cert_path;   /* any identity the CA issued */
    co.key = key_path;
    ccfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_PREFERRED, err, sizeof err);
    tt_pair_new(&p, ccfg, scfg);
    tt_pair_run(&p, 1 << 20);
    assert_int_equal(p.server_ret, 0);
    pqify_tls_info info;
    pqify_tls_get_info(p.server, &info);
    assert_string_equal(info.peer_subject, "CN=server.test,O=pqify test");
    tt_pair_free(&p);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
}

static void test_timeouts(void **state)
{
    (void)state;
    pqify_tls_options o = {0};
    assert_int_equal(pqify_tls_options_handshake_ms(&o), 10000);
    assert_int_equal(pqify_tls_options_idle_ms(&o, 1), 300000);
    assert_int_equal(pqify_tls_options_idle_ms(&o, 0), 0);
    o.handshake_timeout_ms = 1500;
    o.idle_timeout_ms = 20;
    assert_int_equal(pqify_tls_options_handshake_ms(&o), 1500);
    assert_int_equal(pqify_tls_options_idle_ms(&o, 0), 20);
}

/* Flags override the file: what the command line set stays, the rest comes from it. */
static void test_fill_unset(void **state)
{
    (void)state;
    pqify_tls_options flags = {.cert = "flag.pem", .pq = "off", .handshake_timeout_ms = 2000};
    const pqify_tls_options file = {
        .cert = "file.pem", .key = "file.key", .ca = "ca.pem", .pq = "required",
        .groups = "X25519MLKEM768", .alpn = "h2", .server_name = "s.example",
        .ciphers = "TLS_AES_256_GCM_SHA384", .handshake_timeout_ms = 9000,
        .idle_timeout_ms = 60000};
    pqify_tls_options_fill_unset(&flags, &file);
    assert_string_equal(flags.cert, "flag.pem");
    assert_string_equal(flags.pq, "off");
    assert_int_equal(flags.handshake_timeout_ms, 2000);
    assert_string_equal(flags.key, "file.key");
    assert_string_equal(flags.ca, "ca.pem");
    assert_string_equal(flags.groups, "X25519MLKEM768");
    assert_string_equal(flags.alpn, "h2");
    assert_string_equal(flags.server_name, "s.example");
    assert_string_equal(flags.ciphers, "TLS_AES_256_GCM_SHA384");
    assert_int_equal(flags.idle_timeout_ms, 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_word_errors),
        cmocka_unit_test(test_options_reach_the_engine),
        cmocka_unit_test(test_default_pq),
        cmocka_unit_test(test_server_ca_requires_client_cert),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_fill_unset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
