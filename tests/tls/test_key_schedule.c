/* RFC 8446 §7 key schedule checked against the RFC 8448 §3 trace, message by message. */
#include "tls_test.h"

#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

#include "conn.h"
#include "rfc8448.h"

static void hash_of(const char *hexes[], size_t n, uint8_t out[32])
{
    tls_transcript t;
    uint8_t buf[2048];
    size_t len;
    assert_int_equal(tls_transcript_init(&t), 0);
    for (size_t i = 0; i < n; i++) {
        tt_unhex(hexes[i], buf, &len);
        assert_int_equal(tls_transcript_update(&t, buf, len), 0);
    }
    assert_int_equal(tls_transcript_choose(&t, tls_sha256()), 0);
    assert_int_equal(tls_transcript_hash(&t, out), 0);
    tls_transcript_free(&t);
}

static void expect(const uint8_t *got, const char *hex)
{
    uint8_t want[64];
    size_t n;
    tt_unhex(hex, want, &n);
    assert_memory_equal(got, want, n);
}

static void test_x25519_shared_secret(void **state)
{
    (void)state;
    uint8_t priv[32], pub[32], secret[32];
    tt_unhex(RFC8448_CLIENT_PRIVATE, priv, NULL);
    tt_unhex(RFC8448_SERVER_PUBLIC, pub, NULL);
    tls_group_state st;
    memset(&st, 0, sizeof st);
    st.ecdh = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    assert_non_null(st.ecdh);
    assert_int_equal(tls_part_x25519.client_finish(&tls_part_x25519, &st, pub, secret), 0);
    expect(secret, RFC8448_SHARED);
    tls_group_state_wipe(&st);
}

static void test_schedule(void **state)
{
    (void)state;
    assert_int_equal(tls_crypto_init(), 0);
    const tls_hash *h = tls_sha256();
    uint8_t shared[32], th[32], c_hs[32], s_hs[32], c_ap[32], s_ap[32], v[32];
    tt_unhex(RFC8448_SHARED, shared, NULL);

    const char *ch_sh[] = {RFC8448_CLIENT_HELLO, RFC8448_SERVER_HELLO};
    hash_of(ch_sh, 2, th);
    expect(th, RFC8448_TH_CH_SH);

    tls_key_schedule ks;
    assert_int_equal(tls_ks_early(&ks, h), 0);
    expect(ks.secret, RFC8448_EARLY);
    assert_int_equal(tls_ks_handshake(&ks, shared, 32), 0);
    expect(ks.secret, RFC8448_HANDSHAKE);
    assert_int_equal(tls_derive_secret(h, ks.secret, "c hs traffic", th, c_hs), 0);
    assert_int_equal(tls_derive_secret(h, ks.secret, "s hs traffic", th, s_hs), 0);
    expect(c_hs, RFC8448_C_HS);
    expect(s_hs, RFC8448_S_HS);

    /* §7.3 traffic keys */
    uint8_t key[16], iv[12];
    assert_int_equal(tls_hkdf_expand_label(h, s_hs, "key", NULL, 0, key, 16), 0);
    assert_int_equal(tls_hkdf_expand_label(h, s_hs, "iv", NULL, 0, iv, 12), 0);
    expect(key, RFC8448_S_HS_KEY);
    expect(iv, RFC8448_S_HS_IV);
    assert_int_equal(tls_hkdf_expand_label(h, c_hs, "key", NULL, 0, key, 16), 0);
    assert_int_equal(tls_hkdf_expand_label(h, c_hs, "iv", NULL, 0, iv, 12), 0);
    expect(key, RFC8448_C_HS_KEY);
    expect(iv, RFC8448_C_HS_IV);

    /* server Finished over CH..CertificateVerify */
    const char *to_cv[] = {RFC8448_CLIENT_HELLO, RFC8448_SERVER_HELLO, RFC8448_EE,
                           RFC8448_CERTIFICATE, RFC8448_CERTIFICATE_VERIFY};
    hash_of(to_cv, 5, th);
    assert_int_equal(tls_finished_mac(h, s_hs, th, v), 0);
    expect(v, &RFC8448_SERVER_FINISHED[8]); /* skip the 4-byte header */

    /* application secrets over CH..server Finished; client Finished too */
    const char *to_fin[] = {RFC8448_CLIENT_HELLO, RFC8448_SERVER_HELLO, RFC8448_EE,
                            RFC8448_CERTIFICATE, RFC8448_CERTIFICATE_VERIFY, RFC8448_SERVER_FINISHED};
    hash_of(to_fin, 6, th);
    assert_int_equal(tls_finished_mac(h, c_hs, th, v), 0);
    expect(v, &RFC8448_CLIENT_FINISHED[8]);
    assert_int_equal(tls_ks_master(&ks), 0);
    expect(ks.secret, RFC8448_MASTER);
    assert_int_equal(tls_derive_secret(h, ks.secret, "c ap traffic", th, c_ap), 0);
    assert_int_equal(tls_derive_secret(h, ks.secret, "s ap traffic", th, s_ap), 0);
    expect(c_ap, RFC8448_C_AP);
    expect(s_ap, RFC8448_S_AP);
    assert_int_equal(tls_hkdf_expand_label(h, s_ap, "key", NULL, 0, key, 16), 0);
    assert_int_equal(tls_hkdf_expand_label(h, s_ap, "iv", NULL, 0, iv, 12), 0);
    expect(key, RFC8448_S_AP_KEY);
    expect(iv, RFC8448_S_AP_IV);
    assert_int_equal(tls_hkdf_expand_label(h, c_ap, "key", NULL, 0, key, 16), 0);
    assert_int_equal(tls_hkdf_expand_label(h, c_ap, "iv", NULL, 0, iv, 12), 0);
    expect(key, RFC8448_C_AP_KEY);
    expect(iv, RFC8448_C_AP_IV);
    tls_ks_wipe(&ks);
}

/* HKDF-SHA384 and "traffic upd": cross-checked against libcrypto's own HKDF. */
static void test_expand_label_against_libcrypto_hkdf(void **state)
{
    (void)state;
    assert_int_equal(tls_crypto_init(), 0);
    const tls_hash *hashes[] = {tls_sha256(), tls_sha384()};
    for (size_t k = 0; k < 2; k++) {
        const tls_hash *h = hashes[k];
        uint8_t secret[48], ours[48], theirs[48], info[64];
        for (size_t i = 0; i < 48; i++)
            secret[i] = (uint8_t)(i + 1);
        assert_int_equal(tls_hkdf_expand_label(h, secret, "traffic upd", NULL, 0, ours, h->len), 0);
        /* HkdfLabel built by hand from §7.1 */
        size_t n = 0;
        info[n++] = 0;
        info[n++] = (uint8_t)h->len;
        info[n++] = 17;
        memcpy(info + n, "tls13 traffic upd", 17);
        n += 17;
        info[n++] = 0;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_hkdf_mode(ctx, EVP_PKEY_HKDEF_MODE_EXPAND_ONLY), 1);
        assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(ctx, k == 0 ? EVP_sha256() : EVP_sha384()), 1);
        assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(ctx, secret, (int)h->len), 1);
        assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(ctx, info, (int)n), 1);
        size_t out_len = h->len;
        assert_int_equal(EVP_PKEY_derive(ctx, theirs, &out_len), 1);
        EVP_PKEY_CTX_free(ctx);
        assert_memory_equal(ours, theirs, h->len);
        /* tls_next_traffic_secret is that same derivation */
        assert_int_equal(tls_next_traffic_secret(h, secret), 0);
        assert_memory_equal(secret, theirs, h->len);
    }
}

/* Our HMAC against libcrypto's, across the key-length boundaries of RFC 2104. */
static void test_hmac_against_libcrypto(void **state)
{
    (void)state;
    assert_int_equal(tls_crypto_init(), 0);
    uint8_t key[300], msg[300], ours[48], theirs[64];
    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = (uint8_t)(i * 13 + 1);
        msg[i] = (uint8_t)(i * 7 + 3);
    }
    const size_t key_lens[] = {0, 1, 32, 48, 63, 64, 65, 127, 128, 129, 300};
    const size_t msg_lens[] = {0, 1, 55, 56, 64, 300};
    for (int k = 0; k < 2; k++) {
        const tls_hash *h = k == 0 ? tls_sha256() : tls_sha384();
        for (size_t i = 0; i < sizeof key_lens / sizeof key_lens[0]; i++)
            for (size_t j = 0; j < sizeof msg_lens / sizeof msg_lens[0]; j++) {
                unsigned int n = 0;
                tls_hmac_oneshot(h, key, key_lens[i], msg, msg_lens[j], ours);
                assert_non_null(HMAC(k == 0 ? EVP_sha256() : EVP_sha384(), key, (int)key_lens[i], msg,
                                     msg_lens[j], theirs, &n));
                assert_int_equal(n, h->len);
                assert_memory_equal(ours, theirs, h->len);
            }
    }
}

static void test_hrr_transcript(void **state)
{
    (void)state;
    /* §4.4.1: message_hash = 254 || 00 00 32 || SHA-256(ClientHello1) */
    tls_transcript t;
    uint8_t ch[512], got[32], want[32], expected_input[4 + 32];
    size_t len;
    tt_unhex(RFC8448_CLIENT_HELLO, ch, &len);
    assert_int_equal(tls_transcript_init(&t), 0);
    assert_int_equal(tls_transcript_update(&t, ch, len), 0);
    assert_int_equal(tls_transcript_choose(&t, tls_sha256()), 0);
    assert_int_equal(tls_transcript_hrr_restart(&t), 0);
    assert_int_equal(tls_transcript_hash(&t, got), 0);
    expected_input[0] = 254;
    expected_input[1] = 0;
    expected_input[2] = 0;
    expected_input[3] = 32;
    SHA256(ch, len, expected_input + 4);
    SHA256(expected_input, sizeof expected_input, want);
    assert_memory_equal(got, want, 32);
    tls_transcript_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x25519_shared_secret),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_expand_label_against_libcrypto_hkdf),
        cmocka_unit_test(test_hmac_against_libcrypto),
        cmocka_unit_test(test_hrr_transcript),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
