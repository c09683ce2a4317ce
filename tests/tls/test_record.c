/* RFC 8446 §5 record protection: RFC 8448 records, every suite, and every rejection. */
#include "tls_test.h"

#include "conn.h"
#include "rfc8448.h"

static void set(tls_traffic *t, uint16_t suite, const char *secret_hex, int enc)
{
    uint8_t secret[48];
    memset(t, 0, sizeof *t);
    tt_unhex(secret_hex, secret, NULL);
    assert_int_equal(tls_crypto_init(), 0);
    assert_int_equal(tls_traffic_set(t, tls_suite_by_id(suite), secret, enc), 0);
}

static void test_rfc8448_client_records(void **state)
{
    (void)state;
    tls_traffic t;
    uint8_t data[64], want[128];
    size_t n, want_len;
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);

    /* client Finished under the client handshake key, sequence 0 */
    set(&t, 0x1301, RFC8448_C_HS, 1);
    tt_unhex(RFC8448_CLIENT_FINISHED, data, &n);
    assert_int_equal(tls_record_seal(&t, TLS_CT_HANDSHAKE, data, n, &out), 0);
    tt_unhex(RFC8448_CLIENT_FINISHED_RECORD, want, &want_len);
    assert_int_equal(out.len, want_len);
    assert_memory_equal(out.base, want, want_len);
    tls_traffic_wipe(&t);

    /* application data then close_notify under the client application key */
    out.len = 0;
    set(&t, 0x1301, RFC8448_C_AP, 1);
    tt_unhex(RFC8448_CLIENT_DATA, data, &n);
    assert_int_equal(tls_record_seal(&t, TLS_CT_APPDATA, data, n, &out), 0);
    tt_unhex(RFC8448_CLIENT_DATA_RECORD, want, &want_len);
    assert_int_equal(out.len, want_len);
    assert_memory_equal(out.base, want, want_len);
    out.len = 0;
    uint8_t alert[2] = {1, 0};
    assert_int_equal(tls_record_seal(&t, TLS_CT_ALERT, alert, 2, &out), 0);
    tt_unhex(RFC8448_CLIENT_ALERT_RECORD, want, &want_len);
    assert_memory_equal(out.base, want, want_len);
    tls_traffic_wipe(&t);

    /* and the server side opens them */
    set(&t, 0x1301, RFC8448_C_AP, 0);
    uint8_t rec[128], type;
    tt_unhex(RFC8448_CLIENT_DATA_RECORD, rec, &want_len);
    assert_int_equal(tls_record_open(&t, rec, want_len, &type, &n), 0);
    assert_int_equal(type, TLS_CT_APPDATA);
    tt_unhex(RFC8448_CLIENT_DATA, data, NULL);
    assert_int_equal(n, 50);
    assert_memory_equal(rec + 5, data, 50);
    tt_unhex(RFC8448_CLIENT_ALERT_RECORD, rec, &want_len);
    assert_int_equal(tls_record_open(&t, rec, want_len, &type, &n), 0);
    assert_int_equal(type, TLS_CT_ALERT);
    assert_int_equal(n, 2);
    tls_traffic_wipe(&t);
    pqify_tls_buf_dispose(&out);
}

/* Seal with libcrypto directly: inner plaintext is given whole (content, type, padding). */
static size_t manual_seal(uint16_t suite_id, const uint8_t *secret, uint64_t seq,
                          const uint8_t *inner, size_t inner_len, uint8_t *rec)
{
    const tls_suite *s = tls_suite_by_id(suite_id);
    uint8_t key[32], iv[12];
    assert_int_equal(tls_hkdf_expand_label(s->hash, secret, "key", NULL, 0, key, s->key_len), 0);
    assert_int_equal(tls_hkdf_expand_label(s->hash, secret, "iv", NULL, 0, iv, 12), 0);
    for (int i = 0; i < 8; i++)
        iv[11 - i] ^= (uint8_t)(seq >> (8 * i));
    size_t body = inner_len + 16;
    rec[0] = 23;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (uint8_t)(body >> 8);
    rec[4] = (uint8_t)body;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n;
    assert_int_equal(EVP_EncryptInit_ex(ctx, s->cipher, NULL, key, iv), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, rec, 5), 1);
    assert_int_equal(EVP_EncryptUpdate(ctx, rec + 5, &n, inner, (int)inner_len), 1);
    assert_int_equal(EVP_EncryptFinal_ex(ctx, rec + 5 + inner_len, &n), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, rec + 5 + inner_len), 1);
    EVP_CIPHER_CTX_free(ctx);
    return 5 + body;
}

static const uint16_t suites[] = {0x1301, 0x1302, 0x1303};
static const char secret_hex[] =
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f30";

static void test_round_trip_every_suite(void **state)
{
    (void)state;
    static uint8_t big[TLS_MAX_PLAINTEXT];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    for (size_t k = 0; k < 3; k++) {
        tls_traffic w, r;
        pqify_tls_buf out;
        pqify_tls_buf_init(&out, NULL, 0);
        set(&w, suites[k], secret_hex, 1);
        set(&r, suites[k], secret_hex, 0);
        size_t sizes[] = {0, 1, 100, TLS_MAX_PLAINTEXT};
        for (size_t j = 0; j < 4; j++) {
            out.len = 0;
            assert_int_equal(tls_record_seal(&w, TLS_CT_APPDATA, big, sizes[j], &out), 0);
            assert_int_equal(out.len, 5 + sizes[j] + 1 + 16);
            uint8_t type;
            size_t n;
            assert_int_equal(tls_record_open(&r, out.base, out.len, &type, &n), 0);
            assert_int_equal(type, TLS_CT_APPDATA);
            assert_int_equal(n, sizes[j]);
            assert_memory_equal(out.base + 5, big, sizes[j]);
        }
        /* the nonce moves with the sequence number: the same record twice fails */
        out.len = 0;
        assert_int_equal(tls_record_seal(&w, TLS_CT_APPDATA, big, 10, &out), 0);
        pqify_tls_buf copy;
        pqify_tls_buf_init(&copy, NULL, 0);
        assert_int_equal(tls_write_bytes(&copy, out.base, out.len), 0);
        uint8_t type;
        size_t n;
        assert_int_equal(tls_record_open(&r, out.base, out.len, &type, &n), 0);
        assert_int_equal(tls_record_open(&r, copy.base, copy.len, &type, &n), PQIFY_TLS_ERR_BAD_RECORD_MAC);
        /* a plaintext over 2^14 is refused on the way out */
        assert_int_equal(tls_record_seal(&w, TLS_CT_APPDATA, big, TLS_MAX_PLAINTEXT + 1, &out),
                         PQIFY_TLS_ERR_INTERNAL);
        pqify_tls_buf_dispose(&copy);
        pqify_tls_buf_dispose(&out);
        tls_traffic_wipe(&w);
        tls_traffic_wipe(&r);
    }
}

static void test_padding_and_limits(void **state)
{
    (void)state;
    static uint8_t inner[TLS_MAX_PLAINTEXT + 300], rec[TLS_MAX_PLAINTEXT + 400];
    uint8_t secret[48];
    tt_unhex(secret_hex, secret, NULL);
    for (size_t k = 0; k < 3; k++) {
        tls_traffic r;
        uint8_t type;
        size_t n, len;
        set(&r, suites[k], secret_hex, 0);
        /* §5.4: zero padding after the type is stripped */
        memset(inner, 0, sizeof inner);
        memcpy(inner, "abc", 3);
        inner[3] = TLS_CT_APPDATA;
        len = manual_seal(suites[k], secret, r.seq, inner, 3 + 1 + 200, rec);
        assert_int_equal(tls_record_open(&r, rec, len, &type, &n), 0);
        assert_int_equal(type, TLS_CT_APPDATA);
        assert_int_equal(n, 3);
        /* all padding, no type: unexpected_message */
        memset(inner, 0, 50);
        len = manual_seal(suites[k], secret, r.seq, inner, 50, rec);
        assert_int_equal(tls_record_open(&r, rec, len, &type, &n), PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        /* plaintext of 2^14 + 1: record_overflow even though the ciphertext fits */
        memset(inner, 'x', TLS_MAX_PLAINTEXT + 1);
        inner[TLS_MAX_PLAINTEXT + 1] = TLS_CT_APPDATA;
        len = manual_seal(suites[k], secret, r.seq, inner, TLS_MAX_PLAINTEXT + 2, rec);
        assert_int_equal(tls_record_open(&r, rec, len, &type, &n), PQIFY_TLS_ERR_RECORD_OVERFLOW);
        /* a ciphertext over 2^14 + 256 */
        memset(rec, 0, sizeof rec);
        rec[0] = 23;
        rec[1] = rec[2] = 3;
        rec[3] = (uint8_t)((TLS_MAX_CIPHERTEXT + 1) >> 8);
        rec[4] = (uint8_t)(TLS_MAX_CIPHERTEXT + 1);
        assert_int_equal(tls_record_open(&r, rec, 5 + TLS_MAX_CIPHERTEXT + 1, &type, &n),
                         PQIFY_TLS_ERR_RECORD_OVERFLOW);
        /* shorter than a tag */
        assert_int_equal(tls_record_open(&r, rec, 5 + 16, &type, &n), PQIFY_TLS_ERR_BAD_RECORD_MAC);
        /* tampered: every byte of a small record */
        inner[0] = 'q';
        inner[1] = TLS_CT_APPDATA;
        for (size_t pos = 0; pos < 5 + 2 + 16; pos++) {
            len = manual_seal(suites[k], secret, r.seq, inner, 2, rec);
            rec[pos] ^= 0x01;
            int ret = tls_record_open(&r, rec, len, &type, &n);
            /* flipping the outer type is caught before decryption */
            assert_int_equal(ret, pos == 0 ? PQIFY_TLS_ERR_UNEXPECTED_MESSAGE : PQIFY_TLS_ERR_BAD_RECORD_MAC);
        }
        /* sequence-number limit: the last value is never used */
        r.seq = UINT64_MAX;
        len = manual_seal(suites[k], secret, 0, inner, 2, rec);
        assert_int_equal(tls_record_open(&r, rec, len, &type, &n), PQIFY_TLS_ERR_SEQUENCE_LIMIT);
        tls_traffic_wipe(&r);

        tls_traffic w;
        pqify_tls_buf out;
        pqify_tls_buf_init(&out, NULL, 0);
        set(&w, suites[k], secret_hex, 1);
        w.seq = UINT64_MAX;
        assert_int_equal(tls_record_seal(&w, TLS_CT_APPDATA, inner, 1, &out), PQIFY_TLS_ERR_SEQUENCE_LIMIT);
        assert_int_equal(out.len, 0);
        pqify_tls_buf_dispose(&out);
        tls_traffic_wipe(&w);
    }
}

static void test_key_update_secret(void **state)
{
    (void)state;
    /* after a KeyUpdate both sides hold the same next key */
    tls_traffic w, r;
    pqify_tls_buf out;
    pqify_tls_buf_init(&out, NULL, 0);
    set(&w, 0x1302, secret_hex, 1);
    set(&r, 0x1302, secret_hex, 0);
    assert_int_equal(tls_traffic_update(&w, 1), 0);
    assert_int_equal(tls_record_seal(&w, TLS_CT_APPDATA, (const uint8_t *)"k", 1, &out), 0);
    uint8_t type;
    size_t n;
    pqify_tls_buf copy;
    pqify_tls_buf_init(&copy, NULL, 0);
    assert_int_equal(tls_write_bytes(&copy, out.base, out.len), 0);
    assert_int_equal(tls_record_open(&r, copy.base, copy.len, &type, &n), PQIFY_TLS_ERR_BAD_RECORD_MAC);
    tls_traffic_wipe(&r);
    set(&r, 0x1302, secret_hex, 0);
    assert_int_equal(tls_traffic_update(&r, 0), 0);
    assert_int_equal(tls_record_open(&r, out.base, out.len, &type, &n), 0);
    assert_int_equal(n, 1);
    pqify_tls_buf_dispose(&copy);
    pqify_tls_buf_dispose(&out);
    tls_traffic_wipe(&w);
    tls_traffic_wipe(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8448_client_records),
        cmocka_unit_test(test_round_trip_every_suite),
        cmocka_unit_test(test_padding_and_limits),
        cmocka_unit_test(test_key_update_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
