/*
 * libcrypto algorithms, fetched once per process and shared read-only: per-call
 * lookups are what make libssl 3.0 slow (DESIGN.md "Dependencies").
 */
#include <pthread.h>

#include <string.h>


#include "internal.h"

static struct {
    EVP_MD *sha256, *sha384;
    EVP_CIPHER *aes128gcm, *aes256gcm, *chacha;
    int ok;
} algs;

static tls_hash hash_sha256 = {NULL, 32, "SHA256"};
static tls_hash hash_sha384 = {NULL, 48, "SHA384"};

/* RFC 8446 §B.4 */
static tls_suite suites[] = {
    {0x1301, "TLS_AES_128_GCM_SHA256", NULL, 16, &hash_sha256},
    {0x1302, "TLS_AES_256_GCM_SHA384", NULL, 32, &hash_sha384},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256", NULL, 32, &hash_sha256},
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void fetch_all(void)
{
    algs.sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    algs.sha384 = EVP_MD_fetch(NULL, "SHA2-384", NULL);
    algs.aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    algs.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    algs.chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    hash_sha256.md = algs.sha256;
    hash_sha384.md = algs.sha384;
    suites[0].cipher = algs.aes128gcm;
    suites[1].cipher = algs.aes256gcm;
    suites[2].cipher = algs.chacha;
    algs.ok = algs.sha256 && algs.sha384 && algs.aes128gcm && algs.aes256gcm && algs.chacha;
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

int tls_hash_oneshot(const tls_hash *h, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int n = 0;
    if (EVP_Digest(in, len, out, &n, h->md, NULL) != 1 || n != h->len)
        return PQIFY_TLS_ERR_INTERNAL;
    return 0;
}

/*
 * RFC 2104 HMAC over the prefetched digest. libcrypto's EVP_MAC costs about three
 * times as much per call on the short inputs of the key schedule, which makes
 * some twenty HMACs per handshake.
 */
int tls_hmac_oneshot(const tls_hash *h, const uint8_t *key, size_t key_len, const uint8_t *in,
                     size_t len, uint8_t *out)
{
    int ret = 0;
    size_t block = h->len == 32 ? 64 : 128;   /* SHA-256 / SHA-384 block sizes */
    uint8_t k[128], pad[128], inner[TLS_MAX_HASH];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    memset(k, 0, sizeof k);
    if (key_len > block)
        TRY(tls_hash_oneshot(h, key, key_len, k));
    else if (key_len != 0)
        memcpy(k, key, key_len);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x36;
    ENSURE(EVP_DigestInit_ex(ctx, h->md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, block) == 1 &&
               EVP_DigestUpdate(ctx, in, len) == 1 && EVP_DigestFinal_ex(ctx, inner, &n) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    for (size_t i = 0; i < block; i++)
        pad[i] = k[i] ^ 0x5c;
    ENSURE(EVP_DigestInit_ex(ctx, h->md, NULL) == 1 && EVP_DigestUpdate(ctx, pad, block) == 1 &&
               EVP_DigestUpdate(ctx, inner, h->len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
               n == h->len,
           PQIFY_TLS_ERR_INTERNAL);
out:
    EVP_MD_CTX_free(ctx);
    tls_zeroize(k, sizeof k);
    tls_zeroize(pad, sizeof pad);
    tls_zeroize(inner, sizeof inner);
    return ret;
}
