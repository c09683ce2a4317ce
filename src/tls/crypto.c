/*
 * libcrypto algorithms, fetched once per process and shared read-only: per-call
 * lookups are what make libssl 3.0 slow (DESIGN.md "Dependencies").
 *
 * SHA-256 and SHA-384 go through libcrypto's block functions (SHA256_Init and
 * kin) on state the caller holds: through EVP, every digest allocates and frees a
 * provider context, which made the key schedule's twenty-odd HMACs, the transcript
 * copies and the signature digest cost about twice as much. The functions are
 * deprecated in 3.0 but remain its own SHA-2 code, with the same CPU dispatch.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <pthread.h>

#include <string.h>

#include "internal.h"

static struct {
    EVP_CIPHER *aes128gcm, *aes256gcm, *chacha;
    int ok;
} algs;

static const tls_hash hash_sha256 = {32};
static const tls_hash hash_sha384 = {48};

/* RFC 8446 §B.4 */
static tls_suite suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", NULL, 16, &hash_sha256},
    {0x1302, "TLS_AES_256_GCM_SHA384", NULL, 32, &hash_sha384},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", NULL, 32, &hash_sha256},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    algs.aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    algs.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    algs.chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    suites[0].cipher = algs.aes128gcm;
    suites[1].cipher = algs.aes256gcm;
    suites[2].cipher = algs.chacha;
    algs.ok = algs.aes128gcm && algs.aes256gcm && algs.chacha;
}

int tls_crypto_init(void)
{
    if (pthread_once(&once, fetch_all) != 0 || !algs.ok)
        return PQIFY_TLS_ERR_INTERNAL;
    return 0;
}

const tls_hash *tls_sha256(void)
{
    return &hash_sha256;
}

const tls_hash *tls_sha384(void)
{
    return &hash_sha384;
}

const tls_suite *tls_suite_by_id(uint16_t id)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

const char *pqify_tls_cipher_name(uint16_t id)
{
    const tls_suite *s = tls_suite_by_id(id);
    return s == NULL ? NULL : s->name;
}

void tls_hash_init(tls_hash_ctx *c, const tls_hash *h)
{
    c->hash = h;
    if (h == &hash_sha256)
        SHA256_Init(&c->u.sha256);
    else
        SHA384_Init(&c->u.sha384);
}

void tls_hash_update(tls_hash_ctx *c, const void *p, size_t n)
{
    if (c->hash == &hash_sha256)
        SHA256_Update(&c->u.sha256, p, n);
    else
        SHA384_Update(&c->u.sha384, p, n);
}

void tls_hash_final(tls_hash_ctx *c, uint8_t *out)
{
    if (c->hash == &hash_sha256)
        SHA256_Final(out, &c->u.sha256);
    else
        SHA384_Final(out, &c->u.sha384);
    tls_zeroize(&c->u, sizeof c->u);
}

void tls_hash_oneshot(const tls_hash *h, const uint8_t *in, size_t len, uint8_t *out)
{
    tls_hash_ctx c;
    tls_hash_init(&c, h);
    tls_hash_update(&c, in, len);
    tls_hash_final(&c, out);
}

/* RFC 2104 HMAC. The key schedule makes some twenty of these per handshake. */
void tls_hmac_oneshot(const tls_hash *h, const uint8_t *key, size_t key_len, const uint8_t *in,
                      size_t len, uint8_t *out)
{
    size_t block = h->len == 32 ? 64 : 128;   /* SHA-256 / SHA-384 block sizes */
    uint8_t k[128], pad[128], inner[TLS_MAX_HASH];
    tls_hash_ctx c;
    memset(k, 0, sizeof k);
    if (key_len > block)
        tls_hash_oneshot(h, key, key_len, k);
    else if (key_len != 0)
        memcpy(k, key, key_len);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x36;
    tls_hash_init(&c, h);
    tls_hash_update(&c, pad, block);
    tls_hash_update(&c, in, len);
    tls_hash_final(&c, inner);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x5c;
    tls_hash_init(&c, h);
    tls_hash_update(&c, pad, block);
    tls_hash_update(&c, inner, h->len);
    tls_hash_final(&c, out);
    tls_zeroize(k, sizeof k);
    tls_zeroize(pad, sizeof pad);
    tls_zeroize(inner, sizeof inner);
}
