/*
 * Every secret is wiped before its memory goes back to the allocator (STYLE.md
 * "Callers own memory", issue 5). The test watches every free:
 *   - the engine's own heap (connection, handshake state, buffers, sessions): this
 *     program is linked with -Wl,--wrap=free,--wrap=realloc, so the engine's calls
 *     come here first;
 *   - libcrypto's heap (EVP_PKEY private keys, cipher contexts with the expanded AES
 *     key, HMAC and HKDF state): CRYPTO_set_mem_functions.
 * Each block is scanned, before it is released, for the secrets of real handshakes
 * read out of the connections while they were alive: traffic secrets and AES keys,
 * handshake and application secrets, the key schedule's secret, ML-KEM dk bytes,
 * X25519 and P-256 private keys, the resumption PSK. Finding one is a failure. A
 * control block freed unwiped proves the scanner sees what it should.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <malloc.h>

#include <openssl/crypto.h>

#include "tls_test.h"

#include "conn.h"

/* ---- needles and the scanner ---- */

#define MAX_NEEDLES 512
#define NEEDLE_LEN 16
static struct {
    uint8_t bytes[NEEDLE_LEN];
    const char *what;
} needles[MAX_NEEDLES];
static size_t n_needles;
static int scanning;
static size_t hits;
static const char *first_hit;

static void add_needle(const char *what, const uint8_t *p, size_t len)
{
    /* two 16-byte windows of every secret (start and end): random, so no false match */
    for (int w = 0; w < 2 && len >= NEEDLE_LEN; w++) {
        if (n_needles == MAX_NEEDLES)
            fail_msg("too many needles");
        memcpy(needles[n_needles].bytes, p + (w ? len - NEEDLE_LEN : 0), NEEDLE_LEN);
        needles[n_needles].what = what;
        /* an all-zero window is what wiping leaves: never a needle */
        if (!tls_ct_is_zero(needles[n_needles].bytes, NEEDLE_LEN))
            n_needles++;
    }
}

/* Hits in one block; they count in `hits` unless the caller decides otherwise. */
static size_t scan_block(const void *block, size_t len, const char **what)
{
    size_t found = 0;
    if (!scanning || block == NULL)
        return 0;
    const uint8_t *p = block;
    for (size_t i = 0; i + NEEDLE_LEN <= len; i++)
        for (size_t k = 0; k < n_needles; k++)
            if (p[i] == needles[k].bytes[0] && memcmp(p + i, needles[k].bytes, NEEDLE_LEN) == 0) {
                if (found++ == 0)
                    *what = needles[k].what;
                if (getenv("PQIFY_WIPE_DEBUG") != NULL)
                    fprintf(stderr, "  %s at offset %zu of a freed block of %zu bytes\n",
                            needles[k].what, i, len);
            }
    return found;
}

static void scan(const void *block, size_t len)
{
    const char *what = NULL;
    size_t found = scan_block(block, len, &what);
    if (found > 0 && hits == 0)
        first_hit = what;
    hits += found;
}

/* 1 if a caller frame is the named exported libcrypto function */
static int called_from(const char *fn)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    for (int i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) != 0 && info.dli_sname != NULL && strcmp(info.dli_sname, fn) == 0)
            return 1;
    }
    return 0;
}

/* libcrypto 3.0's own scalar-multiplication temporaries (EC_POINT_mul inside
 * ECDH_compute_key frees a copy of the private scalar unwiped): not pqify's memory
 * and not reachable from its API; counted and reported, not failed. */
static size_t libcrypto_internal;

/* the engine's heap: -Wl,--wrap */
void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

void __wrap_free(void *p)
{
    if (p != NULL)
        scan(p, malloc_usable_size(p));
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
    /* a moved block leaves its old copy behind: it must not hold a secret either */
    if (p != NULL)
        scan(p, malloc_usable_size(p));
    return __real_realloc(p, n);
}

/* libcrypto's heap: a size header in front of every block */
#define HDR 16
static void *c_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    uint8_t *p = malloc(n + HDR);   /* not wrapped: only free and realloc are */
    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + HDR;
}

static void c_free(void *q, const char *file, int line)
{
    (void)file;
    (void)line;
    if (q == NULL)
        return;
    uint8_t *p = (uint8_t *)q - HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    const char *what = NULL;
    size_t found = scan_block(q, n, &what);
    if (found > 0 && called_from("EC_POINT_mul")) {
        libcrypto_internal += found;
    } else if (found > 0) {
        if (hits == 0)
            first_hit = what;
        hits += found;
    }
    __real_free(p);
}

static void *c_realloc(void *q, size_t n, const char *file, int line)
{
    if (q == NULL)
        return c_malloc(n, file, line);
    size_t old;
    memcpy(&old, (uint8_t *)q - HDR, sizeof old);
    uint8_t *r = c_malloc(n, file, line);
    if (r == NULL)
        return NULL;
    memcpy(r, q, old < n ? old : n);
    c_free(q, file, line);
    return r;
}

/* ---- handshakes ---- */

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

static void add_traffic(const char *what, const tls_traffic *t)
{
    uint8_t key[TLS_MAX_KEY];
    if (!t->active)
        return;
    add_needle(what, t->secret, t->suite->hash->len);
    /* the AES key: also the first round key of the expanded schedule libcrypto keeps */
    assert_int_equal(tls_hkdf_expand_label(t->suite->hash, t->secret, "key", NULL, 0, key,
                                           t->suite->key_len), 0);
    add_needle("traffic key", key, t->suite->key_len);
}

static void add_ecdh_private(const char *what, EVP_PKEY *k)
{
    uint8_t raw[64];
    size_t len = sizeof raw;
    BIGNUM *priv = NULL;
    if (k == NULL)
        return;
    /* reading the key makes libcrypto copies of its own (EVP_PKEY_get_bn_param frees
     * a scratch buffer unwiped): the test's doing, not the engine's, so not scanned */
    int was = scanning;
    scanning = 0;
    if (EVP_PKEY_get_raw_private_key(k, raw, &len) == 1) {
        add_needle(what, raw, len);
    } else if (EVP_PKEY_get_bn_param(k, "priv", &priv) == 1) {
        /* libcrypto keeps the scalar as BIGNUM words: little-endian on x86-64 */
        len = (size_t)BN_num_bytes(priv);
        assert_true(BN_bn2lebinpad(priv, raw, (int)len) > 0);
        add_needle(what, raw, len);
        BN_clear_free(priv);
    }
    scanning = was;
}

/* needles from a handshake state while it is alive */
static void add_hs(const tls_hs *hs, size_t hash_len)
{
    add_needle("key schedule secret", hs->ks.secret, hash_len);
    add_needle("client handshake traffic secret", hs->c_hs, hash_len);
    add_needle("server handshake traffic secret", hs->s_hs, hash_len);
    add_needle("client application traffic secret", hs->c_ap, hash_len);
    add_needle("server application traffic secret", hs->s_ap, hash_len);
    if (hs->psk_len > 0)
        add_needle("PSK", hs->psk, hs->psk_len);
}

static void run(const char *client_groups, int resume, size_t *checked)
{
    pqify_tls_config *scfg = tt_server_config(&server_id);
    pqify_tls_config *ccfg = tt_client_config(&ca, "server.test");
    if (client_groups != NULL)
        assert_int_equal(pqify_tls_config_set_groups(ccfg, client_groups), 0);
    if (resume) {
        assert_int_equal(pqify_tls_config_set_session_cache(ccfg, 4), 0);
        uint8_t ticket_secret[32];
        for (size_t i = 0; i < sizeof ticket_secret; i++)
            ticket_secret[i] = (uint8_t)(0x90 + i * 7);
        assert_int_equal(pqify_tls_config_set_ticket_secret(scfg, ticket_secret, sizeof ticket_secret), 0);
        add_needle("ticket secret", ticket_secret, sizeof ticket_secret);
    }
    for (int round = 0; round < (resume ? 2 : 1); round++) {
        tt_pair p;
        tt_pair_new(&p, ccfg, scfg);
        size_t zero = 0;
        p.client_ret = pqify_tls_handshake(p.client, NULL, &zero, &p.to_server);
        assert_int_equal(p.client_ret, PQIFY_TLS_IN_PROGRESS);
        /* the client's ephemeral keys, as they sit in its handshake state */
        for (size_t i = 0; i < p.client->hs->n_shares; i++) {
            const tls_group_state *st = &p.client->hs->shares[i];
            /* dk = s (384 bytes per k) || ek || H(ek) || z: the secret parts only,
             * the embedded ek is public and sits in the ClientHello too */
            if (st->dk_len > 0) {
                add_needle("ML-KEM dk: s", st->dk, 384);
                add_needle("ML-KEM dk: z", st->dk + st->dk_len - 32, 32);
            }
            add_ecdh_private("ECDH private key", st->ecdh);
        }
        p.server_ret = tt_feed(p.server, &p.to_server, &p.to_client, 1u << 20);
        assert_int_equal(p.server_ret, PQIFY_TLS_IN_PROGRESS);
        add_hs(p.server->hs, p.server->suite->hash->len);
        /* both keep these until the handshake ends and frees its state */
        p.client_ret = tt_feed(p.client, &p.to_client, &p.to_server, 1u << 20);
        assert_int_equal(p.client_ret, 0);
        p.server_ret = tt_feed(p.server, &p.to_server, &p.to_client, 1u << 20);
        assert_int_equal(p.server_ret, 0);
        pqify_tls_buf plain;
        pqify_tls_buf_init(&plain, NULL, 0);
        size_t used = p.to_client.len;   /* the server's NewSessionTicket */
        assert_int_equal(pqify_tls_receive(p.client, &plain, p.to_client.base, &used, &p.to_server), 0);
        pqify_tls_buf_consume(&p.to_client, used);
        tt_transfer(p.client, p.server, "data", 4, 100);
        tt_transfer(p.server, p.client, "back", 4, 100);
        /* idle buffers given back (issue 9) pass the scanner too, then come back */
        pqify_tls_release_buffers(p.client);
        pqify_tls_release_buffers(p.server);
        tt_transfer(p.client, p.server, "more", 4, 3);
        pqify_tls_info info;
        pqify_tls_get_info(p.client, &info);
        /* a KeyUpdate replaces the secrets in place: the old ones must not survive */
        add_traffic("client write (before KeyUpdate)", &p.client->wr);
        assert_int_equal(pqify_tls_key_update(p.client, 1, &p.to_server), 0);
        used = p.to_server.len;
        assert_int_equal(pqify_tls_receive(p.server, &plain, p.to_server.base, &used, &p.to_client), 0);
        pqify_tls_buf_consume(&p.to_server, used);
        used = p.to_client.len;
        assert_int_equal(pqify_tls_receive(p.client, &plain, p.to_client.base, &used, &p.to_server), 0);
        pqify_tls_buf_consume(&p.to_client, used);
        pqify_tls_release_buffers(p.client);
        pqify_tls_release_buffers(p.server);
        pqify_tls_buf_dispose(&plain);
        if (!tls_ct_is_zero(p.client->res_master, p.client->suite->hash->len))
            add_needle("resumption master secret", p.client->res_master, p.client->suite->hash->len);
        add_traffic("client write", &p.client->wr);
        add_traffic("client read", &p.client->rd);
        add_traffic("server write", &p.server->wr);
        add_traffic("server read", &p.server->rd);
        *checked += 1;
        tt_pair_free(&p);
    }
    pqify_tls_config_free(scfg);
    pqify_tls_config_free(ccfg);
}

static void test_secrets_wiped(void **state)
{
    (void)state;
    size_t checked = 0;
    scanning = 1;
    /* control: a block freed without wiping must be seen */
    uint8_t *control = malloc(64);
    assert_non_null(control);
    for (int i = 0; i < 64; i++)
        control[i] = (uint8_t)(i * 13 + 7);
    add_needle("control", control, 64);
    free(control);   /* through __wrap_free: this object is linked with --wrap too */
    assert_int_equal(hits, 2);   /* both windows, once each */
    hits = 0;
    n_needles = 0;

    run(NULL, 0, &checked);                    /* X25519MLKEM768 */
    run("secp256r1", 0, &checked);             /* P-256 private key as a BIGNUM */
    run("MLKEM1024", 0, &checked);
    run("x25519", 1, &checked);                /* tickets, then a resumed handshake */
    scanning = 0;
    print_message("  %zu connections, %zu needles, %zu found in freed memory%s%s\n", checked,
                  n_needles, hits, hits ? "; first: " : "", hits ? first_hit : "");
    print_message("  (libcrypto's EC_POINT_mul left a private scalar copy unwiped %zu times)\n",
                  libcrypto_internal / 2);
    assert_true(n_needles > 40);
    assert_int_equal(hits, 0);
}

int main(void)
{
    /* before libcrypto allocates anything */
    if (CRYPTO_set_mem_functions(c_malloc, c_realloc, c_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions failed: libcrypto allocated too early\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_wiped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
