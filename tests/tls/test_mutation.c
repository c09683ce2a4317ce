/*
 * Mutated and truncated handshakes, both directions, with a fixed-seed generator:
 * the engine must fail cleanly (negative error, alert if any) or wait for more;
 * never crash, never read out of bounds (run under ASan in CI), never loop.
 */
#include "tls_test.h"

static tt_ca ca;
static tt_identity server_id;
static pqify_tls_config *scfg, *ccfg;
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify test CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    scfg = tt_server_config(&server_id);
    ccfg = tt_client_config(&ca, "server.test");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pqify_tls_config_free(scfg);
    pqify_tls_config_free(ccfg);
    tt_identity_free(&server_id);
    tt_ca_free(&ca);
    return 0;
}

static void mutate(pqify_tls_buf *b, size_t limit)
{
    size_t span = limit < b->len ? limit : b->len;
    int flips = 1 + (int)(next() % 3);
    for (int i = 0; i < flips; i++)
        b->base[next() % span] ^= (uint8_t)(1 + next() % 255);
}

/* Feed in random chunk sizes; returns the last result. */
static int feed_random(pqify_tls_conn *c, const uint8_t *p, size_t len, pqify_tls_buf *out)
{
    int ret = PQIFY_TLS_IN_PROGRESS;
    size_t off = 0;
    while (off < len && ret == PQIFY_TLS_IN_PROGRESS) {
        size_t n = 1 + next() % 700;
        if (n > len - off)
            n = len - off;
        size_t used = n;
        ret = pqify_tls_handshake(c, p + off, &used, out);
        assert_true(used <= n);
        if (ret == PQIFY_TLS_IN_PROGRESS)
            assert_int_equal(used, n);
        off += used;
    }
    return ret;
}

static void check_result(int ret, const pqify_tls_buf *out, size_t before)
{
    assert_true(ret == PQIFY_TLS_IN_PROGRESS || ret == 0 || ret < 0);
    if (ret < 0 && ret > PQIFY_TLS_ERR_PEER_ALERT && pqify_tls_alert_of(ret) >= 0)
        assert_true(out->len > before);   /* an alert went out */
}

static void test_mutated_client_hello(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        pqify_tls_conn *c = pqify_tls_conn_new(ccfg, 0), *s = pqify_tls_conn_new(scfg, 1);
        pqify_tls_buf ch, out;
        pqify_tls_buf_init(&ch, NULL, 0);
        pqify_tls_buf_init(&out, NULL, 0);
        size_t zero = 0;
        assert_int_equal(pqify_tls_handshake(c, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
        mutate(&ch, ch.len);
        int ret = feed_random(s, ch.base, ch.len, &out);
        check_result(ret, &out, 0);
        failures += ret < 0;
        pqify_tls_buf_dispose(&ch);
        pqify_tls_buf_dispose(&out);
        pqify_tls_conn_free(c);
        pqify_tls_conn_free(s);
    }
    /* most single-byte changes in a ClientHello break it (the shares' bytes do not) */
    assert_true(failures > 30);
}

static void test_mutated_server_flight(void **state)
{
    (void)state;
    int failures = 0;
    for (int i = 0; i < 300; i++) {
        pqify_tls_conn *c = pqify_tls_conn_new(ccfg, 0), *s = pqify_tls_conn_new(scfg, 1);
        pqify_tls_buf ch, flight, out;
        pqify_tls_buf_init(&ch, NULL, 0);
        pqify_tls_buf_init(&flight, NULL, 0);
        pqify_tls_buf_init(&out, NULL, 0);
        size_t zero = 0, used;
        assert_int_equal(pqify_tls_handshake(c, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
        used = ch.len;
        assert_int_equal(pqify_tls_handshake(s, ch.base, &used, &flight), PQIFY_TLS_IN_PROGRESS);
        /* half the time aim at the clear ServerHello, else anywhere */
        size_t sh_end = 5 + ((size_t)flight.base[3] << 8 | flight.base[4]);
        mutate(&flight, (i & 1) ? sh_end : flight.len);
        int ret = feed_random(c, flight.base, flight.len, &out);
        check_result(ret, &out, 0);
        /* no change may yield a completed handshake; a longer record length or the
         * ignored legacy_record_version byte may leave it waiting */
        assert_true(ret != 0);
        failures += ret < 0;
        pqify_tls_buf_dispose(&ch);
        pqify_tls_buf_dispose(&flight);
        pqify_tls_buf_dispose(&out);
        pqify_tls_conn_free(c);
        pqify_tls_conn_free(s);
    }
    assert_true(failures > 250);
}

static void test_truncations(void **state)
{
    (void)state;
    pqify_tls_conn *c = pqify_tls_conn_new(ccfg, 0), *s = pqify_tls_conn_new(scfg, 1);
    pqify_tls_buf ch, flight;
    pqify_tls_buf_init(&ch, NULL, 0);
    pqify_tls_buf_init(&flight, NULL, 0);
    size_t zero = 0, used;
    assert_int_equal(pqify_tls_handshake(c, NULL, &zero, &ch), PQIFY_TLS_IN_PROGRESS);
    used = ch.len;
    assert_int_equal(pqify_tls_handshake(s, ch.base, &used, &flight), PQIFY_TLS_IN_PROGRESS);
    pqify_tls_conn_free(c);
    pqify_tls_conn_free(s);
    /* every prefix of the ClientHello leaves a fresh server waiting, output-less */
    for (size_t len = 0; len < ch.len; len += 1 + len / 8) {
        s = pqify_tls_conn_new(scfg, 1);
        pqify_tls_buf out;
        pqify_tls_buf_init(&out, NULL, 0);
        used = len;
        assert_int_equal(pqify_tls_handshake(s, ch.base, &used, &out), PQIFY_TLS_IN_PROGRESS);
        assert_int_equal(used, len);
        assert_int_equal(out.len, 0);
        pqify_tls_buf_dispose(&out);
        pqify_tls_conn_free(s);
    }
    pqify_tls_buf_dispose(&ch);
    pqify_tls_buf_dispose(&flight);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_client_hello),
        cmocka_unit_test(test_mutated_server_flight),
        cmocka_unit_test(test_truncations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
