/*
 * Configuration errors say what is wrong (issue 16 for keys, issue 9 for the rest):
 * PQIFY_TLS_ERR_CONFIG comes with words from pqify_tls_config_error_detail that
 * name the file and the problem, instead of a bare "configuration unusable".
 */
#include <unistd.h>

#include "tls_test.h"

static tt_ca ca;
static tt_identity p256, other;
static char dir[] = "/tmp/pqify-config-errors-XXXXXX";

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&p256, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    tt_identity_new(&other, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&p256);
    tt_identity_free(&other);
    tt_ca_free(&ca);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void says(const pqify_tls_config *cfg, const char *words)
{
    const char *d = pqify_tls_config_error_detail(cfg);
    if (strstr(d, words) == NULL)
        fail_msg("detail \"%s\" does not say \"%s\"", d, words);
}

static void test_missing_file_named(void **state)
{
    (void)state;
    pqify_tls_config *cfg = pqify_tls_config_new();
    char path[128];
    snprintf(path, sizeof path, "%s/absent.pem", dir);
    assert_int_equal(pqify_tls_config_set_cert_chain_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, path);
    says(cfg, "No such file or directory");
    assert_int_equal(pqify_tls_config_set_ca_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, "No such file or directory");
    assert_int_equal(pqify_tls_config_set_key_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, path);
    pqify_tls_config_free(cfg);
}

static void test_key_not_matching_certificate(void **state)
{
    (void)state;
    pqify_tls_config *cfg = pqify_tls_config_new();
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(cfg, p256.chain.data, p256.chain.len), 0);
    assert_string_equal(pqify_tls_config_error_detail(cfg), "");
    assert_int_equal(pqify_tls_config_set_key_pem(cfg, other.key.data, other.key.len), PQIFY_TLS_ERR_CONFIG);
    says(cfg, "does not match the certificate");
    pqify_tls_config_free(cfg);
}

static void test_chain_too_long(void **state)
{
    (void)state;
    pqify_tls_config *cfg = pqify_tls_config_new();
    size_t n = 17 * p256.chain.len;
    char *pem = malloc(n);
    for (int i = 0; i < 17; i++)
        memcpy(pem + i * p256.chain.len, p256.chain.data, p256.chain.len);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(cfg, pem, n), PQIFY_TLS_ERR_CONFIG);
    says(cfg, "more than 16 certificates");
    /* sixteen is fine */
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(cfg, pem, 16 * p256.chain.len), 0);
    free(pem);
    pqify_tls_config_free(cfg);
}

static void test_not_pem(void **state)
{
    (void)state;
    pqify_tls_config *cfg = pqify_tls_config_new();
    char path[128];
    snprintf(path, sizeof path, "%s/garbage.pem", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not PEM\n", f);
    fclose(f);
    assert_int_equal(pqify_tls_config_set_cert_chain_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, path);
    says(cfg, "no PEM certificate");
    assert_int_equal(pqify_tls_config_set_key_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, "no readable PEM private key");
    assert_int_equal(pqify_tls_config_set_ca_file(cfg, path), PQIFY_TLS_ERR_CONFIG);
    says(cfg, "no PEM CA certificate");
    pqify_tls_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file_named),
        cmocka_unit_test(test_key_not_matching_certificate),
        cmocka_unit_test(test_chain_too_long),
        cmocka_unit_test(test_not_pem),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
