/*
 * Each message parser alone (they are pure functions over bytes): the valid form,
 * then truncated, oversized, duplicated and out-of-place inputs.
 */
#include "tls_test.h"

#include "conn.h"

static size_t hx(const char *hex, uint8_t *out)
{
    size_t n;
    tt_unhex(hex, out, &n);
    return n;
}

static void test_encrypted_extensions(void **state)
{
    (void)state;
    uint8_t b[256];
    tls_encrypted_extensions ee;
    size_t n = hx("000d" "00000000" "001000050003026832", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), 0);
    assert_int_equal(ee.has_sni, 1);
    assert_int_equal(ee.has_alpn, 1);
    assert_int_equal(ee.alpn_len, 2);
    assert_memory_equal(ee.alpn, "h2", 2);
    /* empty block */
    n = hx("0000", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), 0);
    /* truncated: block longer than the message */
    n = hx("000d" "00000000" "0010000500030268", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_DECODE);
    /* trailing byte after the block */
    n = hx("0000" "00", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_DECODE);
    /* duplicated */
    n = hx("0008" "00000000" "00000000", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_DUPLICATE_EXTENSION);
    /* ALPN with two protocols */
    n = hx("000b" "00100007000502683201" "6a", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_DECODE);
    /* empty ALPN name */
    n = hx("0007" "00100003000100", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_DECODE);
    /* key_share does not belong here; an unknown one was never offered */
    n = hx("0006" "003300020017", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    n = hx("0004" "abcd0000", b);
    assert_int_equal(tls_encrypted_extensions_parse(b, n, &ee), PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
}

static void test_certificate(void **state)
{
    (void)state;
    uint8_t b[64];
    STACK_OF(X509) *chain = NULL;
    /* empty list is well formed (the caller decides if that is allowed) */
    size_t n = hx("00" "000000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), 0);
    assert_int_equal(sk_X509_num(chain), 0);
    sk_X509_pop_free(chain, X509_free);
    chain = NULL;
    /* non-empty request context in the main handshake */
    n = hx("0101" "000000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    /* list longer than the message */
    n = hx("00" "000010" "000001aa0000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_DECODE);
    /* an entry with no data */
    n = hx("00" "000005" "0000000000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_DECODE);
    /* bytes that are not a certificate */
    n = hx("00" "000006" "000001aa0000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_BAD_CERT);
    /* entry extensions we never asked for */
    n = hx("00" "00000a" "000001aa000400050000", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
    /* trailing bytes */
    n = hx("00" "000000" "00", b);
    assert_int_equal(tls_certificate_parse(b, n, &chain), PQIFY_TLS_ERR_DECODE);
    assert_null(chain);
}

static void test_certificate_request(void **state)
{
    (void)state;
    uint8_t b[64];
    tls_reader schemes;
    uint16_t s0 = 0, s1 = 0;
    size_t n = hx("00" "000a" "000d0006000404030807", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), 0);
    assert_int_equal(schemes.len, 4);
    assert_int_equal(tls_read_u16(&schemes, &s0), 0);
    assert_int_equal(tls_read_u16(&schemes, &s1), 0);
    assert_int_equal(s0, 0x0403);
    assert_int_equal(s1, 0x0807);
    /* certificate_authorities and unknown extensions are skipped */
    n = hx("00" "0010" "002f0000" "abcd0000" "000d000400020403", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), 0);
    /* signature_algorithms is mandatory */
    n = hx("00" "0004" "abcd0000", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), PQIFY_TLS_ERR_MISSING_EXTENSION);
    /* non-empty context */
    n = hx("0101" "000a" "000d0006000404030807", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    /* odd scheme list, duplicated extension, truncation */
    n = hx("00" "0007" "000d0003000104", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), PQIFY_TLS_ERR_DECODE);
    n = hx("00" "0010" "000d000400020403" "000d000400020403", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), PQIFY_TLS_ERR_DUPLICATE_EXTENSION);
    n = hx("00" "000a" "000d000600040403", b);
    assert_int_equal(tls_certificate_request_parse(b, n, &schemes), PQIFY_TLS_ERR_DECODE);
}

static void test_certificate_verify_finished_key_update_alert(void **state)
{
    (void)state;
    uint8_t b[64];
    uint16_t scheme;
    const uint8_t *sig;
    size_t sig_len;
    size_t n = hx("0403" "0003" "aabbcc", b);
    assert_int_equal(tls_certificate_verify_parse(b, n, &scheme, &sig, &sig_len), 0);
    assert_int_equal(scheme, 0x0403);
    assert_int_equal(sig_len, 3);
    assert_int_equal(tls_certificate_verify_parse(b, n - 1, &scheme, &sig, &sig_len), PQIFY_TLS_ERR_DECODE);
    n = hx("0403" "0003" "aabbccdd", b);
    assert_int_equal(tls_certificate_verify_parse(b, n, &scheme, &sig, &sig_len), PQIFY_TLS_ERR_DECODE);
    /* §4.4.3: signature<0..2^16-1>: empty decodes (and later fails to verify) */
    n = hx("0403" "0000", b);
    assert_int_equal(tls_certificate_verify_parse(b, n, &scheme, &sig, &sig_len), 0);
    assert_int_equal(sig_len, 0);
    assert_int_equal(tls_certificate_verify_parse(b, 1, &scheme, &sig, &sig_len), PQIFY_TLS_ERR_DECODE);

    /* CertificateVerify content (§4.4.3) */
    uint8_t th[32], tbs[200];
    size_t tbs_len;
    memset(th, 0x11, 32);
    assert_int_equal(tls_certificate_verify_tbs(1, th, 32, tbs, &tbs_len), 0);
    assert_int_equal(tbs_len, 64 + 33 + 1 + 32);
    assert_int_equal(tbs[0], 0x20);
    assert_int_equal(tbs[63], 0x20);
    assert_memory_equal(tbs + 64, "TLS 1.3, server CertificateVerify", 33);
    assert_int_equal(tbs[97], 0);
    assert_int_equal(tls_certificate_verify_tbs(0, th, 32, tbs, &tbs_len), 0);
    assert_memory_equal(tbs + 64, "TLS 1.3, client CertificateVerify", 33);

    const uint8_t *v;
    assert_int_equal(tls_finished_parse(b, 32, 32, &v), 0);
    assert_int_equal(tls_finished_parse(b, 31, 32, &v), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_finished_parse(b, 48, 32, &v), PQIFY_TLS_ERR_DECODE);

    int req;
    b[0] = 1;
    assert_int_equal(tls_key_update_parse(b, 1, &req), 0);
    assert_int_equal(req, 1);
    b[0] = 2;
    assert_int_equal(tls_key_update_parse(b, 1, &req), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    assert_int_equal(tls_key_update_parse(b, 0, &req), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_key_update_parse(b, 2, &req), PQIFY_TLS_ERR_DECODE);

    uint8_t level, desc;
    assert_int_equal(tls_alert_parse(b, 2, &level, &desc), 0);
    assert_int_equal(tls_alert_parse(b, 1, &level, &desc), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_alert_parse(b, 3, &level, &desc), PQIFY_TLS_ERR_DECODE);
}

static void test_server_hello_parser(void **state)
{
    (void)state;
    uint8_t b[128];
    tls_server_hello sh;
    const char *base = "0303" "1111111111111111111111111111111111111111111111111111111111111111" "00" "1301" "00";
    char hex[512];
    snprintf(hex, sizeof hex, "%s%s", base, "000a" "002b00020304" "00330002");
    size_t n = hx(hex, b);
    /* key_share truncated inside the extension */
    assert_int_equal(tls_server_hello_parse(b, n, &sh), PQIFY_TLS_ERR_DECODE);
    snprintf(hex, sizeof hex, "%s%s", base, "0006" "002b00020304");
    n = hx(hex, b);
    assert_int_equal(tls_server_hello_parse(b, n, &sh), 0);
    assert_int_equal(sh.is_hrr, 0);
    assert_int_equal(sh.cipher, 0x1301);
    /* truncated anywhere before the extensions */
    for (size_t cut = 0; cut < 2 + 32 + 1 + 2 + 1; cut++)
        assert_int_not_equal(tls_server_hello_parse(b, cut, &sh), 0);
    /* legacy_version must be 0x0303 */
    b[1] = 4;
    assert_int_equal(tls_server_hello_parse(b, n, &sh), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    b[1] = 3;
    /* session id over 32 bytes */
    b[34] = 33;
    assert_int_equal(tls_server_hello_parse(b, n, &sh), PQIFY_TLS_ERR_DECODE);
    /* supported_versions naming TLS 1.2 */
    snprintf(hex, sizeof hex, "%s%s", base, "0006" "002b00020303");
    n = hx(hex, b);
    assert_int_equal(tls_server_hello_parse(b, n, &sh), PQIFY_TLS_ERR_PROTOCOL_VERSION);
}

static void test_client_hello_fingerprint(void **state)
{
    (void)state;
    /* padding, key_share, cookie and early_data may change; anything else may not */
    const char *pre = "0303" "2222222222222222222222222222222222222222222222222222222222222222" "00" "00021301" "0100";
    const char *variants[][2] = {
        {"002b0003020304" "000a00040002001d" "003300260024001d0020" "0900000000000000000000000000000000000000000000000000000000000000",
         "002b0003020304" "000a00040002001d" "003300260024001d0020" "0a00000000000000000000000000000000000000000000000000000000000000"},
        {"002b0003020304" "000a00040002001d",
         "002b0003020304" "000a00040002001d" "00150003000000" "002c0004000201ff"},
    };
    uint8_t b1[512], b2[512], f1[32], f2[32];
    char hex[1024];
    for (size_t i = 0; i < 2; i++) {
        tls_client_hello ch1, ch2;
        snprintf(hex, sizeof hex, "%s%04zx%s", pre, strlen(variants[i][0]) / 2, variants[i][0]);
        size_t n1 = hx(hex, b1);
        snprintf(hex, sizeof hex, "%s%04zx%s", pre, strlen(variants[i][1]) / 2, variants[i][1]);
        size_t n2 = hx(hex, b2);
        assert_int_equal(tls_client_hello_parse(b1, n1, &ch1), 0);
        assert_int_equal(tls_client_hello_parse(b2, n2, &ch2), 0);
        assert_int_equal(tls_client_hello_fingerprint(&ch1, f1), 0);
        assert_int_equal(tls_client_hello_fingerprint(&ch2, f2), 0);
        assert_memory_equal(f1, f2, 32);
    }
    /* a changed group list changes the fingerprint */
    tls_client_hello a, c;
    snprintf(hex, sizeof hex, "%s%04x%s", pre, 15, "002b0003020304" "000a00040002001d");
    size_t n = hx(hex, b1);
    assert_int_equal(tls_client_hello_parse(b1, n, &a), 0);
    snprintf(hex, sizeof hex, "%s%04x%s", pre, 15, "002b0003020304" "000a000400020017");
    n = hx(hex, b2);
    assert_int_equal(tls_client_hello_parse(b2, n, &c), 0);
    assert_int_equal(tls_client_hello_fingerprint(&a, f1), 0);
    assert_int_equal(tls_client_hello_fingerprint(&c, f2), 0);
    assert_memory_not_equal(f1, f2, 32);
    /* every truncation of a valid hello fails to parse */
    snprintf(hex, sizeof hex, "%s%04x%s", pre, 15, "002b0003020304" "000a00040002001d");
    n = hx(hex, b1);
    for (size_t cut = 0; cut < n; cut++)
        assert_true(tls_client_hello_parse(b1, cut, &a) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypted_extensions),
        cmocka_unit_test(test_certificate),
        cmocka_unit_test(test_certificate_request),
        cmocka_unit_test(test_certificate_verify_finished_key_update_alert),
        cmocka_unit_test(test_server_hello_parser),
        cmocka_unit_test(test_client_hello_fingerprint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
