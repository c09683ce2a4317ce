/*
 * Malformed and out-of-order handshakes fed as raw bytes: each must fail cleanly with
 * the exact error and the exact alert on the wire (RFC 8446 §6.2).
 */
#include "tls_test.h"

static tt_ca ca;
static tt_identity server_id;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&server_id);
    tt_ca_free(&ca);
    return 0;
}

/* ---- a tiny ClientHello builder: extensions given as hex ---- */

#define SV13 "002b0003020304"
#define SV12 "002b0003020303"
#define GROUPS_X25519 "000a00040002001d"
#define GROUPS_X25519_P256 "000a000600040017001d"
#define GROUPS_PQ_ONLY "000a0004000211ec"
#define SIGALGS "000d000400020403"
/* the X25519 base point u = 9 is a valid public value */
#define X25519_NINE "0900000000000000000000000000000000000000000000000000000000000000"
#define KS_X25519 "003300260024001d0020" X25519_NINE
#define KS_P256_ONLY "0033004700450017004104" /* + 64 bytes, see ks_p256 */
#define KS_X25519_TWICE "0033004a0048001d0020" X25519_NINE "001d0020" X25519_NINE
#define KS_X25519_SHORT "003300250023001d001f" "09000000000000000000000000000000000000000000000000000000000000"
#define KS_X25519_ZERO "003300260024001d0020" "0000000000000000000000000000000000000000000000000000000000000000"
#define PSK_NOT_LAST "002900000" /* placeholder, replaced below */

static size_t hexlen(const char *h)
{
    return strlen(h) / 2;
}

static size_t ch_session_id_len;   /* 0, or 32 for middlebox compatibility mode */

/* Record(handshake(ClientHello)) with the given extension hex strings. */
static size_t build_ch(uint8_t *rec, const char *comp_hex, const char *const *exts, size_t n)
{
    uint8_t body[4096];
    size_t b = 0, len;
    body[b++] = 3;
    body[b++] = 3;
    memset(body + b, 0xab, 32);
    b += 32;
    body[b++] = (uint8_t)ch_session_id_len;
    memset(body + b, 0x5a, ch_session_id_len);
    b += ch_session_id_len;
    body[b++] = 0;
    body[b++] = 2;
    body[b++] = 0x13;
    body[b++] = 0x01;
    tt_unhex(comp_hex, body + b, &len);
    b += len;
    size_t ext_len = 0;
    for (size_t i = 0; i < n; i++)
        ext_len += hexlen(exts[i]);
    body[b++] = (uint8_t)(ext_len >> 8);
    body[b++] = (uint8_t)ext_len;
    for (size_t i = 0; i < n; i++) {
        tt_unhex(exts[i], body + b, &len);
        b += len;
    }
    rec[0] = 22;
    rec[1] = 3;
    rec[2] = 1;
    rec[3] = (uint8_t)((b + 4) >> 8);
    rec[4] = (uint8_t)(b + 4);
    rec[5] = 1;
    rec[6] = 0;
    rec[7] = (uint8_t)(b >> 8);
    rec[8] = (uint8_t)b;
    memcpy(rec + 9, body, b);
    return 9 + b;
}

/* Feed bytes to a fresh server; check the error and the plaintext alert it wrote. */
static void expect_server(const uint8_t *in, size_t len, int want_err, int want_alert,
                          pqify_pq_mode mode)
{
    pqify_tls_config *cfg = tt_server_config(&server_id);
    assert_int_equal(pqify_tls_config_set_pq(cfg, mode), 0);
    pqify_tls_conn *s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t used = len;
    int ret = pqify_tls_handshake(s, in, &used, &out);
    if (ret != want_err)
        fail_msg("got %d (%s), want %d (%s)", ret, pqify_tls_strerror(ret), want_err,
                 pqify_tls_strerror(want_err));
    if (want_alert >= 0) {
        assert_int_equal(pqify_tls_alert_of(want_err), want_alert);
        assert_int_equal(out.len, 7);
        const uint8_t alert[7] = {21, 3, 3, 0, 2, 2, (uint8_t)want_alert};
        assert_memory_equal(out.base, alert, 7);
    }
    /* sticky */
    size_t zero = 0;
    assert_int_equal(pqify_tls_handshake(s, NULL, &zero, &out), want_err);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    pqify_tls_config_free(cfg);
}

static void test_builder_baseline(void **state)
{
    (void)state;
    uint8_t rec[4096];
    const char *exts[] = {SV13, GROUPS_X25519, KS_X25519, SIGALGS};
    size_t n = build_ch(rec, "0100", exts, 4);
    pqify_tls_config *cfg = tt_server_config(&server_id);
    pqify_tls_conn *s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t used = n;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_IN_PROGRESS);
    assert_int_equal(used, n);
    /* ServerHello in clear, then one protected record with EE..Finished */
    assert_int_equal(out.base[0], 22);
    size_t sh = 5 + ((size_t)out.base[3] << 8 | out.base[4]);
    assert_true(out.len > sh + 5);
    assert_int_equal(out.base[sh], 23);
    assert_int_equal(out.len, sh + 5 + ((size_t)out.base[sh + 3] << 8 | out.base[sh + 4]));
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);

    /* Appendix D.4: a client in compatibility mode gets its session id echoed and
     * one change_cipher_spec right after the ServerHello */
    ch_session_id_len = 32;
    size_t n2 = build_ch(rec, "0100", exts, 4);
    ch_session_id_len = 0;
    s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf_init(&out, NULL, 0);
    used = n2;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_IN_PROGRESS);
    sh = 5 + ((size_t)out.base[3] << 8 | out.base[4]);
    const uint8_t sid[33] = {32, 0x5a, 0x5a, 0x5a};
    assert_memory_equal(out.base + 5 + 4 + 2 + 32, sid, 4);
    const uint8_t ccs[6] = {20, 3, 3, 0, 1, 1};
    assert_memory_equal(out.base + sh, ccs, 6);
    assert_int_equal(out.base[sh + 6], 23);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    n = build_ch(rec, "0100", exts, 4);

    /* the same hello one byte per record, then one byte per call */
    uint8_t split[8192];
    size_t m = 0, body = n - 5;
    for (size_t i = 0; i < body; i++) {
        split[m++] = 22;
        split[m++] = 3;
        split[m++] = 3;
        split[m++] = 0;
        split[m++] = 1;
        split[m++] = rec[5 + i];
    }
    s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf_init(&out, NULL, 0);
    int ret = PQIFY_TLS_IN_PROGRESS;
    for (size_t i = 0; i < m; i++) {
        used = 1;
        ret = pqify_tls_handshake(s, split + i, &used, &out);
        assert_int_equal(ret, PQIFY_TLS_IN_PROGRESS);
        assert_int_equal(used, 1);
        if (i + 1 < m)
            assert_int_equal(out.len, 0);
    }
    assert_true(out.len > 0);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    pqify_tls_config_free(cfg);
}

static void test_bad_client_hellos(void **state)
{
    (void)state;
    uint8_t rec[4096];
    size_t n;
    struct {
        const char *what;
        const char *comp;
        const char *exts[6];
        size_t n;
        int err, alert;
        pqify_pq_mode mode;
    } cases[] = {
        {"duplicate extension", "0100", {SV13, SV13, GROUPS_X25519, KS_X25519, SIGALGS}, 5,
         PQIFY_TLS_ERR_DUPLICATE_EXTENSION, 47, PQIFY_PQ_PREFERRED},
        {"TLS 1.2 only", "0100", {SV12, GROUPS_X25519, KS_X25519, SIGALGS}, 4,
         PQIFY_TLS_ERR_PROTOCOL_VERSION, 70, PQIFY_PQ_PREFERRED},
        {"KEM group in a TLS 1.2 hello", "0100", {SV12, GROUPS_PQ_ONLY, SIGALGS}, 3,
         PQIFY_TLS_ERR_PROTOCOL_VERSION, 70, PQIFY_PQ_PREFERRED},
        {"no supported_versions", "0100", {GROUPS_X25519, KS_X25519, SIGALGS}, 3,
         PQIFY_TLS_ERR_PROTOCOL_VERSION, 70, PQIFY_PQ_PREFERRED},
        {"no key_share", "0100", {SV13, GROUPS_X25519, SIGALGS}, 3,
         PQIFY_TLS_ERR_MISSING_EXTENSION, 109, PQIFY_PQ_PREFERRED},
        {"no signature_algorithms", "0100", {SV13, GROUPS_X25519, KS_X25519}, 3,
         PQIFY_TLS_ERR_MISSING_EXTENSION, 109, PQIFY_PQ_PREFERRED},
        {"share for a group not in supported_groups", "0100",
         {SV13, "000a000400020017", KS_X25519, SIGALGS}, 4, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47,
         PQIFY_PQ_PREFERRED},
        {"duplicate key share", "0100", {SV13, GROUPS_X25519, KS_X25519_TWICE, SIGALGS}, 4,
         PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47, PQIFY_PQ_PREFERRED},
        {"truncated X25519 share", "0100", {SV13, GROUPS_X25519, KS_X25519_SHORT, SIGALGS}, 4,
         PQIFY_TLS_ERR_BAD_KEY_SHARE, 47, PQIFY_PQ_PREFERRED},
        {"all-zero X25519", "0100", {SV13, GROUPS_X25519, KS_X25519_ZERO, SIGALGS}, 4,
         PQIFY_TLS_ERR_X25519_ZERO, 47, PQIFY_PQ_PREFERRED},
        {"compression method", "0101", {SV13, GROUPS_X25519, KS_X25519, SIGALGS}, 4,
         PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47, PQIFY_PQ_PREFERRED},
        {"classical client, pq=required", "0100", {SV13, GROUPS_X25519, KS_X25519, SIGALGS}, 4,
         PQIFY_TLS_ERR_NO_PQ_GROUP, 71, PQIFY_PQ_REQUIRED},
        {"PQ-only client, pq=off", "0100", {SV13, GROUPS_PQ_ONLY, SIGALGS, "00330008000611ec0002abcd"}, 4,
         PQIFY_TLS_ERR_NO_COMMON_GROUP, 40, PQIFY_PQ_OFF},
        {"key share without its length", "0100", {SV13, GROUPS_PQ_ONLY, SIGALGS, "003300040002" "11ec"}, 4,
         PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED},
        {"empty key share entry", "0100", {SV13, GROUPS_X25519, "003300060004001d0000", SIGALGS}, 4,
         PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED},
        {"pre_shared_key not last", "0100", {SV13, "002900020000", GROUPS_X25519, KS_X25519, SIGALGS}, 5,
         PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47, PQIFY_PQ_PREFERRED},
        {"no signature scheme for our P-256 key", "0100",
         {SV13, GROUPS_X25519, KS_X25519, "000d000400020807"}, 4,
         PQIFY_TLS_ERR_NO_COMMON_SIGALG, 40, PQIFY_PQ_PREFERRED},
        {"odd supported_groups", "0100", {SV13, "000a0003000100", KS_X25519, SIGALGS}, 4,
         PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED},
        {"extension overruns its block", "0100", {SV13, GROUPS_X25519, KS_X25519, "000d00ff00020403"}, 4,
         PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("  %s\n", cases[i].what);
        n = build_ch(rec, cases[i].comp, cases[i].exts, cases[i].n);
        expect_server(rec, n, cases[i].err, cases[i].alert, cases[i].mode);
    }
}

static void test_bad_framing(void **state)
{
    (void)state;
    uint8_t rec[4096];
    const char *exts[] = {SV13, GROUPS_X25519, KS_X25519, SIGALGS};
    size_t n = build_ch(rec, "0100", exts, 4);
    /* truncated message: the outer lengths say one byte less */
    uint8_t t[4096];
    memcpy(t, rec, n);
    t[4]--;
    t[8]--;
    expect_server(t, n - 1, PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED);
    /* message claims more than its record and no more comes: waits, then garbage type */
    /* record over 2^14 + 256 */
    const uint8_t big[5] = {22, 3, 3, 0x41, 0x01};
    expect_server(big, 5, PQIFY_TLS_ERR_RECORD_OVERFLOW, 22, PQIFY_PQ_PREFERRED);
    /* a plaintext record of 2^14 + 1 */
    static uint8_t over[5 + 16385];
    memset(over, 0, sizeof over);
    over[0] = 22;
    over[1] = over[2] = 3;
    over[3] = 0x40;
    over[4] = 0x01;
    expect_server(over, sizeof over, PQIFY_TLS_ERR_RECORD_OVERFLOW, 22, PQIFY_PQ_PREFERRED);
    /* handshake message larger than we accept */
    const uint8_t huge[9] = {22, 3, 3, 0, 4, 1, 0x10, 0, 0};
    expect_server(huge, 9, PQIFY_TLS_ERR_MESSAGE_TOO_LARGE, 50, PQIFY_PQ_PREFERRED);
    /* out of order: Finished first */
    const uint8_t fin[41] = {22, 3, 3, 0, 36, 20, 0, 0, 32};
    expect_server(fin, 41, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10, PQIFY_PQ_PREFERRED);
    /* application data before any key */
    const uint8_t app[8] = {23, 3, 3, 0, 3, 1, 2, 3};
    expect_server(app, 8, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10, PQIFY_PQ_PREFERRED);
    /* unknown content type */
    const uint8_t odd[6] = {24, 3, 3, 0, 1, 0};
    expect_server(odd, 6, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10, PQIFY_PQ_PREFERRED);
    /* empty handshake record */
    const uint8_t empty[5] = {22, 3, 3, 0, 0};
    expect_server(empty, 5, PQIFY_TLS_ERR_DECODE, 50, PQIFY_PQ_PREFERRED);
    /* a second ClientHello where none was asked for */
    memcpy(t, rec, n);
    memcpy(t + n, rec, n);
    pqify_tls_config *cfg = tt_server_config(&server_id);
    pqify_tls_conn *s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t used = 2 * n;
    /* the first hello switches the read key: the copy cannot even decrypt */
    assert_int_equal(pqify_tls_handshake(s, t, &used, &out), PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    /* early application data after the hello: protected with a key we never agreed */
    const uint8_t early[5 + 20] = {23, 3, 3, 0, 20};
    memcpy(t, rec, n);
    memcpy(t + n, early, sizeof early);
    s = pqify_tls_conn_new(cfg, 1);
    pqify_tls_buf_init(&out, NULL, 0);
    used = n + sizeof early;
    assert_int_equal(pqify_tls_handshake(s, t, &used, &out), PQIFY_TLS_ERR_BAD_RECORD_MAC);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    pqify_tls_config_free(cfg);
}

/* ---- the client against crafted server messages ---- */

/* ServerHello body hex pieces */
#define HRR_RANDOM "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"

static size_t build_sh(uint8_t *rec, const char *random_hex, const char *cipher_hex, const char *exts_hex)
{
    uint8_t body[8192];
    size_t b = 0, len;
    body[b++] = 3;
    body[b++] = 3;
    tt_unhex(random_hex, body + b, &len);
    b += len;
    body[b++] = 0;
    tt_unhex(cipher_hex, body + b, &len);
    b += len;
    body[b++] = 0;
    size_t e = hexlen(exts_hex);
    body[b++] = (uint8_t)(e >> 8);
    body[b++] = (uint8_t)e;
    tt_unhex(exts_hex, body + b, &len);
    b += len;
    rec[0] = 22;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (uint8_t)((b + 4) >> 8);
    rec[4] = (uint8_t)(b + 4);
    rec[5] = 2;
    rec[6] = 0;
    rec[7] = (uint8_t)(b >> 8);
    rec[8] = (uint8_t)b;
    memcpy(rec + 9, body, b);
    return 9 + b;
}

static pqify_tls_config *kept_cfg;

static int client_against(const uint8_t *rec, size_t n, pqify_tls_buf *out, pqify_tls_conn **keep)
{
    pqify_tls_config *cfg = tt_client_config(&ca, "server.test");
    kept_cfg = cfg;
    pqify_tls_conn *c = pqify_tls_conn_new(cfg, 0);
    size_t zero = 0;
    assert_int_equal(pqify_tls_handshake(c, NULL, &zero, out), PQIFY_TLS_IN_PROGRESS);
    out->len = 0;
    size_t used = n;
    int ret = pqify_tls_handshake(c, rec, &used, out);
    if (keep != NULL) {
        *keep = c;
        return ret;   /* the caller frees conn and kept_cfg */
    }
    pqify_tls_conn_free(c);
    pqify_tls_config_free(cfg);
    return ret;
}

static void expect_client(const char *what, const uint8_t *rec, size_t n, int want_err, int want_alert)
{
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    print_message("  %s\n", what);
    int ret = client_against(rec, n, &out, NULL);
    if (ret != want_err)
        fail_msg("%s: got %d (%s), want %d", what, ret, pqify_tls_strerror(ret), want_err);
    const uint8_t alert[7] = {21, 3, 3, 0, 2, 2, (uint8_t)want_alert};
    assert_int_equal(out.len, 7);
    assert_memory_equal(out.base, alert, 7);
    pqify_tls_buf_dispose(&out);
}

static void test_bad_server_hellos(void **state)
{
    (void)state;
    static uint8_t rec[8192];
    const char *random = "1111111111111111111111111111111111111111111111111111111111111111";
    size_t n;
    n = build_sh(rec, HRR_RANDOM, "1301", "002b00020304");
    expect_client("HRR that changes nothing", rec, n, PQIFY_TLS_ERR_HRR, 47);
    n = build_sh(rec, HRR_RANDOM, "1301", "002b00020304" "003300026399");
    expect_client("HRR for a group never offered", rec, n, PQIFY_TLS_ERR_HRR, 47);
    n = build_sh(rec, HRR_RANDOM, "1301", "002b00020304" "0033000211ec");
    expect_client("HRR for a group already shared", rec, n, PQIFY_TLS_ERR_HRR, 47);
    n = build_sh(rec, random, "1301", "ff01000100");
    expect_client("TLS 1.2 ServerHello", rec, n, PQIFY_TLS_ERR_PROTOCOL_VERSION, 70);
    n = build_sh(rec, random, "1301", "002b00020304" "ff01000100");
    expect_client("extension never offered", rec, n, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION, 110);
    n = build_sh(rec, random, "1301", "003300240017002000" "00000000000000000000000000000000000000000000000000000000000000");
    expect_client("no supported_versions", rec, n, PQIFY_TLS_ERR_PROTOCOL_VERSION, 70);
    n = build_sh(rec, random, "1304", "002b00020304");
    expect_client("cipher never offered", rec, n, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47);
    n = build_sh(rec, random, "1301", "002b00020304" "002b00020304");
    expect_client("duplicate extension", rec, n, PQIFY_TLS_ERR_DUPLICATE_EXTENSION, 47);
    n = build_sh(rec, random, "1301", "002b00020304" "003300450017004104"
                 "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                 "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    expect_client("share for a group without our share", rec, n, PQIFY_TLS_ERR_ILLEGAL_PARAMETER, 47);
    n = build_sh(rec, random, "1301", "002b00020304");
    expect_client("no key share at all", rec, n, PQIFY_TLS_ERR_MISSING_EXTENSION, 109);
    n = build_sh(rec, random, "1301", "002b00020304" "0033000811ec000400000000");
    expect_client("short ML-KEM ciphertext", rec, n, PQIFY_TLS_ERR_BAD_CT, 47);
    n = build_sh(rec, random, "1301", "002b00020304" "001d00020000");
    expect_client("cookie in a ServerHello", rec, n, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION, 110);
    /* x25519 share present: "0033 0024 001d 0020 <32 zero bytes>" as the classical answer */
    n = build_sh(rec, random, "1301", "002b00020304" "00330024001d0020"
                                      "0000000000000000000000000000000000000000000000000000000000000000");
    expect_client("all-zero X25519 from the server", rec, n, PQIFY_TLS_ERR_X25519_ZERO, 47);
    /* an HRR cookie larger than we keep */
    static char big_cookie[2 * (4 + 2 + 3000) + 64];
    strcpy(big_cookie, "002b00020304" "002c0bba0bb8");
    for (size_t i = 0; i < 3000; i++)
        strcat(big_cookie, "ab");
    n = build_sh(rec, HRR_RANDOM, "1301", big_cookie);
    expect_client("HRR cookie over 2 KiB", rec, n, PQIFY_TLS_ERR_HRR, 47);
    /* a record that is not a handshake */
    const uint8_t app[8] = {23, 3, 3, 0, 3, 1, 2, 3};
    expect_client("application data first", app, 8, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE, 10);
}

static void test_two_hrrs(void **state)
{
    (void)state;
    uint8_t rec[4096];
    /* first HRR is legal: asks for secp256r1 with a cookie */
    size_t n = build_sh(rec, HRR_RANDOM, "1301", "002b00020304" "003300020017" "002c0006000401020304");
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_conn *c = NULL;
    assert_int_equal(client_against(rec, n, &out, &c), PQIFY_TLS_IN_PROGRESS);
    /* the second ClientHello carries the cookie and one P-256 share */
    assert_true(out.len > 9 + 65);
    const uint8_t cookie_ext[] = {0x00, 0x2c, 0x00, 0x06, 0x00, 0x04, 1, 2, 3, 4};
    int found = 0;
    for (size_t i = 0; i + sizeof cookie_ext <= out.len; i++)
        found |= memcmp(out.base + i, cookie_ext, sizeof cookie_ext) == 0;
    assert_true(found);
    out.len = 0;
    size_t used = n;
    assert_int_equal(pqify_tls_handshake(c, rec, &used, &out), PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    const uint8_t alert[7] = {21, 3, 3, 0, 2, 2, 10};
    assert_memory_equal(out.base, alert, 7);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(c);
    pqify_tls_config_free(kept_cfg);
}

/* A real second ClientHello that differs from the first: the server refuses it. */
static void test_second_client_hello_changed(void **state)
{
    (void)state;
    pqify_tls_config *scfg = tt_server_config(&server_id);
    assert_int_equal(pqify_tls_config_set_groups(scfg, "secp256r1"), 0);
    uint8_t rec[4096];
    const char *exts1[] = {SV13, GROUPS_X25519_P256, KS_X25519, SIGALGS};
    size_t n = build_ch(rec, "0100", exts1, 4);
    pqify_tls_conn *s = pqify_tls_conn_new(scfg, 1);
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    size_t used = n;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_IN_PROGRESS);
    pqify_tls_info info;
    pqify_tls_get_info(s, &info);
    assert_int_equal(info.hrr, 1);
    /* the same hello again (no cookie, old share) */
    out.len = 0;
    used = n;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
    const uint8_t alert[7] = {21, 3, 3, 0, 2, 2, 47};
    assert_memory_equal(out.base, alert, 7);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);

    /* a second hello with different groups */
    s = pqify_tls_conn_new(scfg, 1);
    pqify_tls_buf_init(&out, NULL, 0);
    used = n;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_IN_PROGRESS);
    const char *exts2[] = {SV13, "000a00040002" "0017", KS_X25519, SIGALGS};
    n = build_ch(rec, "0100", exts2, 4);
    out.len = 0;
    used = n;
    assert_int_equal(pqify_tls_handshake(s, rec, &used, &out), PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
    pqify_tls_buf_dispose(&out);
    pqify_tls_conn_free(s);
    pqify_tls_config_free(scfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_baseline),
        cmocka_unit_test(test_bad_client_hellos),
        cmocka_unit_test(test_bad_framing),
        cmocka_unit_test(test_bad_server_hellos),
        cmocka_unit_test(test_two_hrrs),
        cmocka_unit_test(test_second_client_hello_changed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
