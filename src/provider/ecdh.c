/*
 * The ECDH halves of the hybrids: X25519 (RFC 7748) and P-256/P-384 (SEC 1,
 * uncompressed points only, RFC 8446 §4.2.8.2), through libcrypto's default
 * library context (the default provider; pqify.so offers none of these).
 *
 * Speed, as in the engine (src/tls/group_ecdh.c, which this layer may not
 * include): libcrypto 3.0 looks a key manager up by name every time a context is
 * made from a name, so the keygen and import contexts and the last peer key are
 * kept per thread and reused; a server's X25519 key pair is a random scalar and
 * X25519(k, 9) through the ladder, not EVP_PKEY_keygen (whose public half comes
 * from slower Edwards-curve code in 3.0).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "provider.h"

static const char *const curve_names[PQP_N_CURVES] = {"X25519", "P-256", "P-384"};
static const size_t point_lens[PQP_N_CURVES] = {32, 65, 97};
static const size_t priv_lens[PQP_N_CURVES] = {32, 32, 48};

size_t pqp_curve_point_len(enum pqp_curve c)
{
    return point_lens[c];
}

size_t pqp_curve_priv_len(enum pqp_curve c)
{
    return priv_lens[c];
}

size_t pqp_curve_secret_len(enum pqp_curve c)
{
    return priv_lens[c];
}

/* ---- per-thread libcrypto objects ---- */

struct thread_cache {
    EVP_PKEY_CTX *keygen[PQP_N_CURVES];   /* keygen_init done, curve set (EC only) */
    EVP_PKEY_CTX *import[PQP_N_CURVES];   /* fromdata_init done */
    EVP_PKEY *peer[PQP_N_CURVES];         /* reused for each peer value on this thread */
    EVP_PKEY *x25519_base;                /* u = 9 */
};

static _Thread_local struct thread_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

static void cache_free(void *arg)
{
    struct thread_cache *t = arg;
    for (int i = 0; i < PQP_N_CURVES; i++) {
        EVP_PKEY_CTX_free(t->keygen[i]);
        EVP_PKEY_CTX_free(t->import[i]);
        EVP_PKEY_free(t->peer[i]);
    }
    EVP_PKEY_free(t->x25519_base);
    memset(t, 0, sizeof *t);
}

void pqp_ecdh_thread_cleanup(void)
{
    cache_free(&cache);
}

static void cache_key_make(void)
{
    cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

/* Registers this thread's cache for release when the thread exits. */
static int cache_register(void)
{
    if (pthread_once(&cache_once, cache_key_make) != 0 || !cache_key_ok)
        return -1;
    if (pthread_getspecific(cache_key) == NULL && pthread_setspecific(cache_key, &cache) != 0)
        return -1;
    return 0;
}

static EVP_PKEY_CTX *new_ctx(enum pqp_curve c)
{
    if (cache_register() != 0)
        return NULL;
    return EVP_PKEY_CTX_new_from_name(NULL, c == PQP_X25519 ? "X25519" : "EC", NULL);
}

static EVP_PKEY_CTX *import_ctx(enum pqp_curve c)
{
    if (cache.import[c] != NULL)
        return cache.import[c];
    EVP_PKEY_CTX *ctx = new_ctx(c);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return cache.import[c] = ctx;
}

static EVP_PKEY_CTX *keygen_ctx(enum pqp_curve c)
{
    if (cache.keygen[c] != NULL)
        return cache.keygen[c];
    EVP_PKEY_CTX *ctx = new_ctx(c);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve_names[c], 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_params(ctx, params) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return cache.keygen[c] = ctx;
}

/* ---- checks on received values ---- */

/*
 * RFC 7748 §6.1: X25519(k, u) is all zero exactly when u is of small order.
 * With the top bit masked (§5), those u are 0, 1, p-1, p, p+1 and the two
 * points of order 8 (the list libsodium and BoringSSL also use). A value is
 * public, so comparing it with the list may branch.
 */
static const uint8_t x25519_small_order[][32] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

static int x25519_small(const uint8_t u[32])
{
    uint8_t masked[32];
    memcpy(masked, u, 32);
    masked[31] &= 0x7f;
    for (size_t i = 0; i < sizeof x25519_small_order / sizeof x25519_small_order[0]; i++)
        if (memcmp(masked, x25519_small_order[i], 32) == 0)
            return 1;
    return 0;
}

/* The peer's value as a key object, valid until the next call on this thread. */
static int peer_key(enum pqp_curve c, const uint8_t *pub, EVP_PKEY **peer)
{
    size_t len = point_lens[c];
    if (c == PQP_X25519) {
        if (x25519_small(pub))
            return PQP_ERR_X25519;
    } else if (pub[0] != 0x04) {
        /* RFC 8446 §4.2.8.2: uncompressed only; this also refuses infinity (0x00) */
        return PQP_ERR_POINT;
    }
    if (cache.peer[c] != NULL) {
        /* setting an EC point decodes it, which fails for a point off the curve */
        if (EVP_PKEY_set1_encoded_public_key(cache.peer[c], pub, len) != 1)
            return c == PQP_X25519 ? PQP_ERR_LIBCRYPTO : PQP_ERR_POINT;
        *peer = cache.peer[c];
        return PQP_OK;
    }
    EVP_PKEY_CTX *ctx = import_ctx(c);
    OSSL_PARAM params[3];
    size_t n = 0;
    if (ctx == NULL)
        return PQP_ERR_LIBCRYPTO;
    if (c != PQP_X25519)
        params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                       (char *)curve_names[c], 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len);
    params[n] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_fromdata(ctx, &cache.peer[c], EVP_PKEY_PUBLIC_KEY, params) != 1)
        return c == PQP_X25519 ? PQP_ERR_LIBCRYPTO : PQP_ERR_POINT;
    *peer = cache.peer[c];
    return PQP_OK;
}

int pqp_ecdh_check_public(enum pqp_curve c, const uint8_t *pub, size_t len)
{
    EVP_PKEY *peer;
    if (len != point_lens[c])
        return PQP_ERR_LENGTH;
    return peer_key(c, pub, &peer);
}

/* ---- derivation ---- */

static int derive_with(enum pqp_curve c, EVP_PKEY *mine, EVP_PKEY *peer, uint8_t *secret)
{
    int ret = PQP_OK;
    size_t n = priv_lens[c];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    PQP_ENSURE(ctx != NULL && EVP_PKEY_derive_init(ctx) == 1, PQP_ERR_LIBCRYPTO);
    /*
     * validate = 0: peer_key() did the whole check. Decoding put the point on the
     * curve, and P-256/P-384 have cofactor 1, so the extra n*Q == O test adds
     * nothing (SP 800-56A Rev. 3 §5.6.2.3.4); X25519 has no point validation
     * (RFC 7748 §6.1), the small-order list is it.
     */
    PQP_ENSURE(EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1, PQP_ERR_POINT);
    /* libcrypto also refuses an all-zero X25519 output */
    PQP_ENSURE(EVP_PKEY_derive(ctx, secret, &n) == 1,
               c == PQP_X25519 ? PQP_ERR_X25519 : PQP_ERR_POINT);
    PQP_ENSURE(n == priv_lens[c], PQP_ERR_LIBCRYPTO);
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

int pqp_ecdh_derive(enum pqp_curve c, EVP_PKEY *mine, const uint8_t *peer_pub, uint8_t *secret)
{
    EVP_PKEY *peer;
    int ret = peer_key(c, peer_pub, &peer);
    return ret < 0 ? ret : derive_with(c, mine, peer, secret);
}

/* ---- key pairs ---- */

static const uint8_t x25519_nine[32] = {9};

static EVP_PKEY *x25519_base(void)
{
    if (cache.x25519_base != NULL)
        return cache.x25519_base;
    EVP_PKEY_CTX *ctx = import_ctx(PQP_X25519);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)x25519_nine, 32),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL ||
        EVP_PKEY_fromdata(ctx, &cache.x25519_base, EVP_PKEY_PUBLIC_KEY, params) != 1)
        return NULL;
    return cache.x25519_base;
}

/* An X25519 key object for scalar k; pub (may be NULL) is stored as its public half
 * unchecked. Without one libcrypto would compute it the slow way; with the
 * placeholder u = 9 it is never read: derivation uses only the scalar, and what is
 * sent is what pqp_ecdh_keypair computes. */
static int x25519_from_scalar(const uint8_t k[32], const uint8_t *pub, EVP_PKEY **key)
{
    EVP_PKEY_CTX *ctx = import_ctx(PQP_X25519);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)k, 32),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                          (void *)(pub != NULL ? pub : x25519_nine), 32),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_PKEY_fromdata(ctx, key, EVP_PKEY_KEYPAIR, params) != 1)
        return PQP_ERR_LIBCRYPTO;
    return PQP_OK;
}

static int x25519_keypair(EVP_PKEY **key, uint8_t *pub, uint8_t *priv)
{
    int ret = PQP_OK;
    EVP_PKEY *base = x25519_base();
    PQP_ENSURE(base != NULL, PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(RAND_priv_bytes(priv, 32) == 1, PQP_ERR_RNG);
    PQP_TRY(x25519_from_scalar(priv, NULL, key));
    PQP_TRY(derive_with(PQP_X25519, *key, base, pub));
out:
    if (ret < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
        OPENSSL_cleanse(priv, 32);
    }
    return ret;
}

static int ec_keypair(enum pqp_curve c, EVP_PKEY **key, uint8_t *pub, uint8_t *priv)
{
    int ret = PQP_OK;
    size_t n = point_lens[c];
    BIGNUM *d = NULL;
    EVP_PKEY_CTX *gen = keygen_ctx(c);
    PQP_ENSURE(gen != NULL, PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(EVP_PKEY_keygen(gen, key) == 1, PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(EVP_PKEY_get_octet_string_param(*key, OSSL_PKEY_PARAM_PUB_KEY, pub, n, &n) == 1 &&
                   n == point_lens[c] && pub[0] == 0x04,
               PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(EVP_PKEY_get_bn_param(*key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1, PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(BN_bn2binpad(d, priv, (int)priv_lens[c]) == (int)priv_lens[c], PQP_ERR_LIBCRYPTO);
out:
    BN_clear_free(d);
    if (ret < 0) {
        EVP_PKEY_free(*key);
        *key = NULL;
    }
    return ret;
}

int pqp_ecdh_keypair(enum pqp_curve c, EVP_PKEY **key, uint8_t *pub, uint8_t *priv)
{
    *key = NULL;
    return c == PQP_X25519 ? x25519_keypair(key, pub, priv) : ec_keypair(c, key, pub, priv);
}

int pqp_ecdh_from_private(enum pqp_curve c, const uint8_t *priv, const uint8_t *pub,
                          EVP_PKEY **key)
{
    int ret = PQP_OK;
    uint8_t le[PQP_MAX_ECDH_PRIV];
    *key = NULL;
    if (c == PQP_X25519)
        return x25519_from_scalar(priv, pub, key);
    /* OSSL_PARAM integers are native-endian: the big-endian scalar reversed */
    for (size_t i = 0; i < priv_lens[c]; i++)
        le[i] = priv[priv_lens[c] - 1 - i];
    EVP_PKEY_CTX *ctx = import_ctx(c);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve_names[c], 0),
        OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, le, priv_lens[c]),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, point_lens[c]),
        OSSL_PARAM_construct_end(),
    };
    PQP_ENSURE(ctx != NULL, PQP_ERR_LIBCRYPTO);
    PQP_ENSURE(EVP_PKEY_fromdata(ctx, key, EVP_PKEY_KEYPAIR, params) == 1, PQP_ERR_POINT);
out:
    OPENSSL_cleanse(le, sizeof le);
    return ret;
}
