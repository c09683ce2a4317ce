/* Bounds-checked readers and writers: every read past the end fails, blocks nest. */
#include "tls_test.h"

#include "conn.h"

static void test_reader(void **state)
{
    (void)state;
    const uint8_t data[] = {0x01, 0x02, 0x03, 0x00, 0x02, 0xaa, 0xbb, 0x04};
    tls_reader r, sub;
    uint8_t u8;
    uint16_t u16;
    uint32_t u24;
    const uint8_t *p;
    tls_reader_init(&r, data, sizeof data);
    assert_int_equal(tls_read_u8(&r, &u8), 0);
    assert_int_equal(u8, 1);
    assert_int_equal(tls_read_u16(&r, &u16), 0);
    assert_int_equal(u16, 0x0203);
    assert_int_equal(tls_read_block(&r, 2, &sub), 0);
    assert_int_equal(sub.len, 2);
    assert_int_equal(tls_read_bytes(&sub, 2, &p), 0);
    assert_int_equal(p[1], 0xbb);
    assert_int_equal(tls_read_end(&sub), 0);
    assert_int_equal(tls_read_bytes(&sub, 1, &p), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_read_end(&r), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_read_u16(&r, &u16), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_reader_left(&r), 1);   /* a failed read consumes nothing */
    assert_int_equal(tls_read_u8(&r, &u8), 0);
    assert_int_equal(tls_read_u8(&r, &u8), PQIFY_TLS_ERR_DECODE);

    /* a block longer than what remains */
    const uint8_t over[] = {0x00, 0x05, 1, 2, 3, 4};
    tls_reader_init(&r, over, sizeof over);
    assert_int_equal(tls_read_block(&r, 2, &sub), PQIFY_TLS_ERR_DECODE);
    /* a 24-bit length */
    const uint8_t b24[] = {0x00, 0x00, 0x02, 9, 9};
    tls_reader_init(&r, b24, sizeof b24);
    assert_int_equal(tls_read_block(&r, 3, &sub), 0);
    assert_int_equal(sub.len, 2);
    tls_reader_init(&r, b24, 2);
    assert_int_equal(tls_read_u24(&r, &u24), PQIFY_TLS_ERR_DECODE);
    /* 32- and 64-bit integers, big-endian (RFC 8446 §3.3) */
    const uint8_t b64[] = {0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88, 0xf1, 0xf2, 0xf3, 0xf4};
    uint32_t u32;
    uint64_t u64;
    tls_reader_init(&r, b64, sizeof b64);
    assert_int_equal(tls_read_u64(&r, &u64), 0);
    assert_true(u64 == 0x8102030405060788ull);
    assert_int_equal(tls_read_u32(&r, &u32), 0);
    assert_int_equal(u32, 0xf1f2f3f4u);
    assert_int_equal(tls_read_u32(&r, &u32), PQIFY_TLS_ERR_DECODE);
    tls_reader_init(&r, b64, 7);
    assert_int_equal(tls_read_u64(&r, &u64), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_reader_left(&r), 7);   /* not half of it either */
    tls_reader_init(&r, b64, 3);
    assert_int_equal(tls_read_u32(&r, &u32), PQIFY_TLS_ERR_DECODE);
    assert_int_equal(tls_reader_left(&r), 3);
    /* the prefix size is checked */
    tls_reader_init(&r, b24, sizeof b24);
    assert_int_equal(tls_read_block(&r, 4, &sub), PQIFY_TLS_ERR_INTERNAL);
    /* NULL base reads as empty */
    tls_reader_init(&r, NULL, 10);
    assert_int_equal(tls_reader_left(&r), 0);
}

static void test_writer(void **state)
{
    (void)state;
    uint8_t storage[4];
    pqify_tls_buf b;
    size_t outer, inner;
    pqify_tls_buf_init(&b, storage, sizeof storage);
    assert_int_equal(tls_write_block_open(&b, 2, &outer), 0);
    assert_int_equal(tls_write_u8(&b, 0x11), 0);
    assert_int_equal(tls_write_block_open(&b, 1, &inner), 0);
    assert_int_equal(tls_write_u24(&b, 0x010203), 0);   /* grows past the caller's 4 bytes */
    assert_int_equal(b.is_allocated, 1);
    assert_int_equal(tls_write_block_close(&b, 1, inner), 0);
    assert_int_equal(tls_write_u16(&b, 0xbeef), 0);
    assert_int_equal(tls_write_block_close(&b, 2, outer), 0);
    const uint8_t want[] = {0x00, 0x07, 0x11, 0x03, 0x01, 0x02, 0x03, 0xbe, 0xef};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.base, want, sizeof want);
    /* a block that outgrows its prefix is refused */
    assert_int_equal(tls_write_block_open(&b, 1, &inner), 0);
    uint8_t big[300] = {0};
    assert_int_equal(tls_write_bytes(&b, big, sizeof big), 0);
    assert_int_equal(tls_write_block_close(&b, 1, inner), PQIFY_TLS_ERR_INTERNAL);
    /* consume drops from the front */
    pqify_tls_buf_consume(&b, 2);
    assert_int_equal(b.base[0], 0x11);
    pqify_tls_buf_consume(&b, 100000);
    assert_int_equal(b.len, 0);
    pqify_tls_buf_dispose(&b);
    assert_null(b.base);

    const uint8_t want64[] = {0x81, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88, 0xf1, 0xf2, 0xf3, 0xf4};
    pqify_tls_buf_init(&b, NULL, 0);
    assert_int_equal(tls_write_u64(&b, 0x8102030405060788ull), 0);
    assert_int_equal(tls_write_u32(&b, 0xf1f2f3f4u), 0);
    assert_int_equal(b.len, sizeof want64);
    assert_memory_equal(b.base, want64, sizeof want64);
    pqify_tls_buf_dispose(&b);
}

static void test_constant_time_helpers(void **state)
{
    (void)state;
    uint8_t a[32] = {0}, b[32] = {0};
    assert_int_equal(tls_ct_equal(a, b, 32), 1);
    assert_int_equal(tls_ct_is_zero(a, 32), 1);
    for (size_t i = 0; i < 32; i++) {
        b[i] = 0x80;
        assert_int_equal(tls_ct_equal(a, b, 32), 0);
        assert_int_equal(tls_ct_is_zero(b, 32), 0);
        b[i] = 0;
    }
}

static void test_errors_have_words(void **state)
{
    (void)state;
    assert_string_equal(pqify_tls_strerror(PQIFY_TLS_ERR_PEER_ALERT - 40), "peer sent alert: handshake_failure");
    assert_string_equal(pqify_tls_strerror(PQIFY_TLS_ERR_BAD_EK),
                        "ML-KEM encapsulation key fails the FIPS 203 modulus check: illegal_parameter");
    assert_string_equal(pqify_tls_alert_name(71), "insufficient_security");
    assert_int_equal(pqify_tls_alert_of(PQIFY_TLS_ERR_CONFIG), -1);
    for (int e = -100; e >= -160; e--)
        assert_non_null(pqify_tls_strerror(e));
    pqify_pq_mode m;
    assert_int_equal(pqify_tls_pq_mode_parse("required", &m), 0);
    assert_int_equal(m, PQIFY_PQ_REQUIRED);
    assert_int_equal(pqify_tls_pq_mode_parse("maybe", &m), PQIFY_TLS_ERR_ARG);
    assert_string_equal(pqify_tls_pq_mode_name(PQIFY_PQ_OFF), "off");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_constant_time_helpers),
        cmocka_unit_test(test_errors_have_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
