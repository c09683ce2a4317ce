/*
 * Every NamedGroup of DESIGN.md "Groups": share and secret layouts, checked part by
 * part against libcrypto and the KEM API directly, and every input check.
 */
#include "tls_test.h"

#include <openssl/core_names.h>

#include "conn.h"

/* DESIGN.md table: id, client share, server share, secret, and the wire order */
static const struct {
    uint16_t id;
    const char *name;
    size_t client_len, server_len, secret_len;
    const char *first, *second;   /* part names in wire order */
    int is_pq, is_legacy;
} rows[] = {
    {0x11EC, "X25519MLKEM768", 1184 + 32, 1088 + 32, 64, "ML-KEM-768", "x25519", 1, 0},
    {0x11EB, "SecP256r1MLKEM768", 65 + 1184, 65 + 1088, 64, "secp256r1", "ML-KEM-768", 1, 0},
    {0x11ED, "SecP384r1MLKEM1024", 97 + 1568, 97 + 1568, 80, "secp384r1", "ML-KEM-1024", 1, 0},
    {0x0200, "MLKEM512", 800, 768, 32, "ML-KEM-512", NULL, 1, 0},
    {0x0201, "MLKEM768", 1184, 1088, 32, "ML-KEM-768", NULL, 1, 0},
    {0x0202, "MLKEM1024", 1568, 1568, 32, "ML-KEM-1024", NULL, 1, 0},
    {0x6399, "X25519Kyber768Draft00", 32 + 1184, 32 + 1088, 64, "x25519", "Kyber768", 1, 1},
    {0xFE30, "X25519Kyber512Draft00", 32 + 800, 32 + 768, 64, "x25519", "Kyber512", 1, 1},
    {0xFE32, "P256Kyber768Draft00", 65 + 1184, 65 + 1088, 64, "secp256r1", "Kyber768", 1, 1},
    {0x2F3A, "P256Kyber512", 65 + 800, 65 + 768, 64, "secp256r1", "Kyber512", 1, 1},
    {0x001D, "x25519", 32, 32, 32, "x25519", NULL, 0, 0},
    {0x0017, "secp256r1", 65, 65, 32, "secp256r1", NULL, 0, 0},
    {0x0018, "secp384r1", 97, 97, 48, "secp384r1", NULL, 0, 0},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

/* ECDH with libcrypto alone: our private key against the peer's public bytes. */
static void ecdh_check(const tls_kx_part *p, EVP_PKEY *mine, const uint8_t *my_pub,
                       const uint8_t *peer_pub, const uint8_t *expected_secret)
{
    EVP_PKEY *peer;
    uint8_t pub[97], secret[48];
    size_t n = sizeof pub;
    if (p->curve[0] == 'X') {
        assert_int_equal(EVP_PKEY_get_raw_public_key(mine, pub, &n), 1);
        peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, 32);
    } else {
        assert_int_equal(EVP_PKEY_get_octet_string_param(mine, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &n), 1);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        OSSL_PARAM params[] = {
            OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)p->curve, 0),
            OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)peer_pub, p->client_share_len),
            OSSL_PARAM_END,
        };
        peer = NULL;
        assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(ctx, &peer, EVP_PKEY_PUBLIC_KEY, params), 1);
        EVP_PKEY_CTX_free(ctx);
    }
    assert_non_null(peer);
    assert_int_equal(n, p->client_share_len);
    assert_memory_equal(pub, my_pub, n);
    EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(mine, NULL);
    n = sizeof secret;
    assert_int_equal(EVP_PKEY_derive_init(d), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(d, peer), 1);
    assert_int_equal(EVP_PKEY_derive(d, secret, &n), 1);
    assert_int_equal(n, p->secret_len);
    assert_memory_equal(secret, expected_secret, n);
    EVP_PKEY_CTX_free(d);
    EVP_PKEY_free(peer);
}

static void test_table_matches_design(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ROWS; i++) {
        const tls_group *g = tls_group_by_id(rows[i].id);
        assert_non_null(g);
        assert_string_equal(g->name, rows[i].name);
        assert_string_equal(g->first->name, rows[i].first);
        if (rows[i].second == NULL)
            assert_null(g->second);
        else
            assert_string_equal(g->second->name, rows[i].second);
        assert_int_equal(tls_group_client_share_len(g), rows[i].client_len);
        assert_int_equal(tls_group_server_share_len(g), rows[i].server_len);
        assert_int_equal(pqify_tls_group_is_pq(rows[i].id), rows[i].is_pq);
        assert_int_equal(pqify_tls_group_is_legacy(rows[i].id), rows[i].is_legacy);
        assert_int_equal(pqify_tls_group_id(rows[i].name), rows[i].id);
    }
    assert_int_equal(pqify_tls_group_id("P-256"), 0x0017);
    assert_int_equal(pqify_tls_group_id("x25519mlkem768"), 0x11EC);
    assert_int_equal(pqify_tls_group_id("nonsense"), -1);
    assert_null(pqify_tls_group_name(0x1234));
}

/* Client share -> server exchange -> client finish; each secret half re-derived alone. */
static void test_round_trip_and_layout(void **state)
{
    (void)state;
    assert_int_equal(tls_crypto_init(), 0);
    static uint8_t cs[TLS_MAX_CLIENT_SHARE], ss[TLS_MAX_SERVER_SHARE];
    for (size_t i = 0; i < N_ROWS; i++) {
        const tls_group *g = tls_group_by_id(rows[i].id);
        tls_group_state st;
        memset(&st, 0, sizeof st);
        uint8_t secret_s[TLS_MAX_GROUP_SECRET], secret_c[TLS_MAX_GROUP_SECRET];
        size_t cs_len = 0, ss_len = 0, sec_s = 0, sec_c = 0;
        assert_int_equal(g->client_share(g, &st, cs, &cs_len), 0);
        assert_int_equal(cs_len, rows[i].client_len);
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret_s, &sec_s), 0);
        assert_int_equal(ss_len, rows[i].server_len);
        assert_int_equal(sec_s, rows[i].secret_len);
        assert_int_equal(g->client_finish(g, &st, ss, ss_len, secret_c, &sec_c), 0);
        assert_int_equal(sec_c, sec_s);
        assert_memory_equal(secret_c, secret_s, sec_s);

        /* secret = part1 secret ‖ part2 secret, shares likewise, no length prefixes */
        size_t coff = 0, soff = 0, koff = 0;
        const tls_kx_part *parts[2] = {g->first, g->second};
        for (int k = 0; k < 2 && parts[k] != NULL; k++) {
            const tls_kx_part *p = parts[k];
            if (p->kem != NULL) {
                uint8_t k1[32], k2[32], ct[PQIFY_MLKEM1024_CT_BYTES];
                /* the server's ciphertext decapsulates to this slice of the secret */
                assert_int_equal(pqify_kem_decaps(p->kem, k1, 32, ss + soff, p->server_share_len,
                                                  st.dk, st.dk_len), 0);
                assert_memory_equal(k1, secret_c + koff, 32);
                /* and the client share slice is the ek that matches dk */
                assert_int_equal(pqify_kem_encaps(p->kem, ct, p->kem->ct_bytes, k2, 32, cs + coff,
                                                  p->client_share_len), 0);
                assert_int_equal(pqify_kem_decaps(p->kem, k1, 32, ct, p->kem->ct_bytes, st.dk, st.dk_len), 0);
                assert_memory_equal(k1, k2, 32);
            } else {
                ecdh_check(p, st.ecdh, cs + coff, ss + soff, secret_c + koff);
            }
            coff += p->client_share_len;
            soff += p->server_share_len;
            koff += p->secret_len;
        }
        assert_int_equal(coff, cs_len);
        assert_int_equal(soff, ss_len);
        assert_int_equal(koff, sec_c);
        tls_group_state_wipe(&st);
    }
}

static void test_length_checks(void **state)
{
    (void)state;
    static uint8_t cs[TLS_MAX_CLIENT_SHARE + 1], ss[TLS_MAX_SERVER_SHARE + 1];
    for (size_t i = 0; i < N_ROWS; i++) {
        const tls_group *g = tls_group_by_id(rows[i].id);
        tls_group_state st;
        memset(&st, 0, sizeof st);
        uint8_t secret[TLS_MAX_GROUP_SECRET];
        size_t cs_len = 0, ss_len = 0, sec = 0;
        assert_int_equal(g->client_share(g, &st, cs, &cs_len), 0);
        /* truncated and padded client shares: illegal_parameter on the server */
        assert_int_equal(g->server_exchange(g, cs, cs_len - 1, ss, &ss_len, secret, &sec),
                         PQIFY_TLS_ERR_BAD_KEY_SHARE);
        assert_int_equal(g->server_exchange(g, cs, cs_len + 1, ss, &ss_len, secret, &sec),
                         PQIFY_TLS_ERR_BAD_KEY_SHARE);
        assert_int_equal(pqify_tls_alert_of(PQIFY_TLS_ERR_BAD_KEY_SHARE), 47);
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec), 0);
        /* wrong server share (ciphertext) length: illegal_parameter on the client */
        int want = rows[i].is_pq ? PQIFY_TLS_ERR_BAD_CT : PQIFY_TLS_ERR_BAD_KEY_SHARE;
        assert_int_equal(g->client_finish(g, &st, ss, ss_len - 1, secret, &sec), want);
        assert_int_equal(g->client_finish(g, &st, ss, ss_len + 1, secret, &sec), want);
        assert_int_equal(pqify_tls_alert_of(want), 47);
        tls_group_state_wipe(&st);
    }
}

/* Offsets of the parts inside a client share. */
static size_t part_offset(const tls_group *g, int want_kem)
{
    if ((g->first->kem != NULL) == want_kem)
        return 0;
    return g->first->client_share_len;
}

static void test_mlkem_modulus_check(void **state)
{
    (void)state;
    static uint8_t cs[TLS_MAX_CLIENT_SHARE], ss[TLS_MAX_SERVER_SHARE];
    const uint16_t ids[] = {0x11EC, 0x11EB, 0x11ED, 0x0200, 0x0201, 0x0202};
    for (size_t i = 0; i < 6; i++) {
        const tls_group *g = tls_group_by_id(ids[i]);
        tls_group_state st;
        memset(&st, 0, sizeof st);
        uint8_t secret[TLS_MAX_GROUP_SECRET];
        size_t cs_len = 0, ss_len = 0, sec = 0;
        assert_int_equal(g->client_share(g, &st, cs, &cs_len), 0);
        /* FIPS 203 §7.2: the first 12-bit coefficient set to 4095 >= q */
        size_t off = part_offset(g, 1);
        cs[off] = 0xff;
        cs[off + 1] |= 0x0f;
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_EK);
        assert_int_equal(pqify_tls_alert_of(PQIFY_TLS_ERR_BAD_EK), 47);
        tls_group_state_wipe(&st);
    }
}

static void test_x25519_all_zero(void **state)
{
    (void)state;
    static uint8_t cs[TLS_MAX_CLIENT_SHARE], ss[TLS_MAX_SERVER_SHARE];
    const uint16_t ids[] = {0x001D, 0x11EC, 0x6399, 0xFE30};
    for (size_t i = 0; i < 4; i++) {
        const tls_group *g = tls_group_by_id(ids[i]);
        const tls_kx_part *x = g->first == &tls_part_x25519 ? g->first : g->second;
        size_t off = g->first == &tls_part_x25519 ? 0 : g->first->client_share_len;
        size_t soff = g->first == &tls_part_x25519 ? 0 : g->first->server_share_len;
        assert_ptr_equal(x, &tls_part_x25519);
        tls_group_state st;
        memset(&st, 0, sizeof st);
        uint8_t secret[TLS_MAX_GROUP_SECRET];
        size_t cs_len = 0, ss_len = 0, sec = 0;
        assert_int_equal(g->client_share(g, &st, cs, &cs_len), 0);
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec), 0);
        /* a low-order point (here 0) makes the shared secret all zero */
        memset(cs + off, 0, 32);
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec),
                         PQIFY_TLS_ERR_X25519_ZERO);
        /* the point 1 has order 1 as well */
        cs[off] = 1;
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec),
                         PQIFY_TLS_ERR_X25519_ZERO);
        /* the client checks the server's half the same way */
        memset(ss + soff, 0, 32);
        assert_int_equal(g->client_finish(g, &st, ss, ss_len, secret, &sec), PQIFY_TLS_ERR_X25519_ZERO);
        tls_group_state_wipe(&st);
    }
}

static void test_ec_points(void **state)
{
    (void)state;
    static uint8_t cs[TLS_MAX_CLIENT_SHARE], ss[TLS_MAX_SERVER_SHARE], bad[TLS_MAX_CLIENT_SHARE];
    const uint16_t ids[] = {0x0017, 0x0018, 0x11EB, 0x11ED, 0xFE32, 0x2F3A};
    for (size_t i = 0; i < 6; i++) {
        const tls_group *g = tls_group_by_id(ids[i]);
        const tls_kx_part *ec = g->first;   /* P-256/P-384 always come first */
        assert_non_null(ec->curve);
        size_t plen = ec->client_share_len;
        tls_group_state st;
        memset(&st, 0, sizeof st);
        uint8_t secret[TLS_MAX_GROUP_SECRET];
        size_t cs_len = 0, ss_len = 0, sec = 0;
        assert_int_equal(g->client_share(g, &st, cs, &cs_len), 0);
        assert_int_equal(cs[0], 0x04);
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec), 0);
        /* compressed form (same length, other prefix) */
        memcpy(bad, cs, cs_len);
        bad[0] = 0x02;
        assert_int_equal(g->server_exchange(g, bad, cs_len, ss, &ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        /* point at infinity encoding */
        memset(bad, 0, plen);
        assert_int_equal(g->server_exchange(g, bad, cs_len, ss, &ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        /* off the curve: y + 1 */
        memcpy(bad, cs, cs_len);
        bad[plen - 1] ^= 1;
        assert_int_equal(g->server_exchange(g, bad, cs_len, ss, &ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        /* (0, 0) is not on the curve either */
        memset(bad + 1, 0, plen - 1);
        bad[0] = 0x04;
        assert_int_equal(g->server_exchange(g, bad, cs_len, ss, &ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        /* client side: the server's point is checked too */
        assert_int_equal(g->server_exchange(g, cs, cs_len, ss, &ss_len, secret, &sec), 0);
        ss[plen - 1] ^= 1;
        assert_int_equal(g->client_finish(g, &st, ss, ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        ss[plen - 1] ^= 1;
        ss[0] = 0x03;
        assert_int_equal(g->client_finish(g, &st, ss, ss_len, secret, &sec), PQIFY_TLS_ERR_BAD_POINT);
        tls_group_state_wipe(&st);
    }
}

/* The server's choice under each pq mode (DESIGN.md "The post-quantum switch"). */
static void test_selection(void **state)
{
    (void)state;
    pqify_tls_config *cfg = pqify_tls_config_new();
    assert_non_null(cfg);
    uint8_t groups_wire[64], shares_wire[64];
    struct {
        pqify_pq_mode mode;
        uint16_t groups[4];
        size_t n_groups;
        uint16_t share;   /* 0: none */
        int want_ret;
        uint16_t want_group;
        int want_share;
    } cases[] = {
        /* preferred: PQ with a share wins */
        {PQIFY_PQ_PREFERRED, {0x11EC, 0x001D}, 2, 0x11EC, 0, 0x11EC, 1},
        /* preferred: PQ supported but only a classical share -> HRR for PQ */
        {PQIFY_PQ_PREFERRED, {0x001D, 0x11EC}, 2, 0x001D, 0, 0x11EC, 0},
        /* preferred: classical-only client keeps its share */
        {PQIFY_PQ_PREFERRED, {0x001D, 0x0017}, 2, 0x0017, 0, 0x0017, 1},
        /* required: a classical client is refused */
        {PQIFY_PQ_REQUIRED, {0x001D, 0x0017}, 2, 0x001D, PQIFY_TLS_ERR_NO_PQ_GROUP, 0, 0},
        /* off: a PQ-only client has nothing in common */
        {PQIFY_PQ_OFF, {0x11EC}, 1, 0x11EC, PQIFY_TLS_ERR_NO_COMMON_GROUP, 0, 0},
        /* legacy groups are not on by default */
        {PQIFY_PQ_PREFERRED, {0x6399}, 1, 0x6399, PQIFY_TLS_ERR_NO_COMMON_GROUP, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(pqify_tls_config_set_pq(cfg, cases[i].mode), 0);
        size_t n = 0;
        for (size_t j = 0; j < cases[i].n_groups; j++) {
            groups_wire[n++] = (uint8_t)(cases[i].groups[j] >> 8);
            groups_wire[n++] = (uint8_t)cases[i].groups[j];
        }
        tls_reader groups, shares;
        tls_reader_init(&groups, groups_wire, n);
        uint8_t *s = shares_wire;
        *s++ = (uint8_t)(cases[i].share >> 8);
        *s++ = (uint8_t)cases[i].share;
        *s++ = 0;
        *s++ = 3;
        *s++ = 'a';
        *s++ = 'b';
        *s++ = 'c';
        tls_reader_init(&shares, shares_wire, 7);
        uint16_t group = 0;
        const uint8_t *share;
        size_t share_len;
        int ret = tls_select_group(cfg, groups, shares, &group, &share, &share_len);
        assert_int_equal(ret, cases[i].want_ret);
        if (ret == 0) {
            assert_int_equal(group, cases[i].want_group);
            assert_int_equal(share != NULL, cases[i].want_share);
            if (share != NULL)
                assert_int_equal(share_len, 3);
        }
    }
    /* legacy groups work once named */
    assert_int_equal(pqify_tls_config_set_pq(cfg, PQIFY_PQ_PREFERRED), 0);
    assert_int_equal(pqify_tls_config_set_groups(cfg, "X25519Kyber768Draft00"), 0);
    uint16_t ids[16];
    assert_int_equal(tls_config_groups(cfg, ids, 16), 1);
    assert_int_equal(ids[0], 0x6399);
    /* client shares: preferred sends PQ first plus the first classical */
    assert_int_equal(pqify_tls_config_set_groups(cfg, NULL), 0);
    assert_int_equal(tls_config_share_groups(cfg, ids, 2), 2);
    assert_int_equal(ids[0], 0x11EC);
    assert_int_equal(ids[1], 0x001D);
    assert_int_equal(pqify_tls_config_set_pq(cfg, PQIFY_PQ_REQUIRED), 0);
    assert_int_equal(tls_config_share_groups(cfg, ids, 2), 1);
    assert_int_equal(ids[0], 0x11EC);
    assert_int_equal(pqify_tls_config_set_pq(cfg, PQIFY_PQ_OFF), 0);
    assert_int_equal(tls_config_share_groups(cfg, ids, 2), 1);
    assert_int_equal(ids[0], 0x001D);
    assert_int_equal(pqify_tls_config_set_groups(cfg, "bogus"), PQIFY_TLS_ERR_CONFIG);
    pqify_tls_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_design),
        cmocka_unit_test(test_round_trip_and_layout),
        cmocka_unit_test(test_length_checks),
        cmocka_unit_test(test_mlkem_modulus_check),
        cmocka_unit_test(test_x25519_all_zero),
        cmocka_unit_test(test_ec_points),
        cmocka_unit_test(test_selection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
