/*
 * ECDH halves of key exchange: X25519 (RFC 7748) and P-256/P-384 (SEC 1, uncompressed
 * points only, RFC 8446 §4.2.8.2), through libcrypto.
 *
 * Speed: libcrypto 3.0 looks the key manager up by name (and walks its name table)
 * every time a context is made from a name. The keygen and import contexts are
 * therefore prepared once per thread (a context is not to be shared between
 * threads) and reused for every handshake on that thread; they are freed when the
 * thread exits. This removed about 6% of a server's instructions per handshake.
 *
 * The server's ephemeral X25519 key pair is made with libcrypto's X25519 function
 * itself, scalar times the base point u = 9 (RFC 7748 §6.1), instead of
 * EVP_PKEY_keygen: libcrypto 3.0 computes a generated key's public half with its
 * portable Edwards-curve code, about 20% slower here than the Montgomery ladder
 * behind X25519 derivation (x25519_server_keypair).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "internal.h"

enum { CURVE_X25519, CURVE_P256, CURVE_P384, N_CURVES };

static int is_x25519(const tls_kx_part *p)
{
    return p->curve[0] == 'X';
}

static int curve_index(const tls_kx_part *p)
{
    if (is_x25519(p))
        return CURVE_X25519;
    return strcmp(p->curve, "P-256") == 0 ? CURVE_P256 : CURVE_P384;
}

struct ecdh_thread_ctx {
    EVP_PKEY_CTX *keygen[N_CURVES];   /* EVP_PKEY_keygen_init done, curve set */
    EVP_PKEY_CTX *import[N_CURVES];   /* EVP_PKEY_fromdata_init done */
    /* The last peer key, reused for the next peer's point: building an EC key from
     * scratch rebuilds the curve (EC_GROUP) each time, about 200k instructions for
     * P-256. A peer key only lives within one exchange call on this thread. */
    EVP_PKEY *peer[N_CURVES];
    EVP_PKEY *x25519_base;            /* the public value u = 9 */
};

static _Thread_local struct ecdh_thread_ctx thread_ctx;
static pthread_key_t thread_ctx_key;
static pthread_once_t thread_ctx_once = PTHREAD_ONCE_INIT;
static int thread_ctx_key_ok;

static void thread_ctx_free(void *arg)
{
    struct ecdh_thread_ctx *t = arg;
    for (int i = 0; i < N_CURVES; i++) {
        EVP_PKEY_CTX_free(t->keygen[i]);
        EVP_PKEY_CTX_free(t->import[i]);
        EVP_PKEY_free(t->peer[i]);
        t->keygen[i] = t->import[i] = NULL;
        t->peer[i] = NULL;
    }
    EVP_PKEY_free(t->x25519_base);
    t->x25519_base = NULL;
}

static void thread_ctx_key_make(void)
{
    thread_ctx_key_ok = pthread_key_create(&thread_ctx_key, thread_ctx_free) == 0;
}

/* Registers this thread's contexts for release at thread exit (once per thread). */
static int thread_ctx_register(void)
{
    if (pthread_once(&thread_ctx_once, thread_ctx_key_make) != 0 || !thread_ctx_key_ok)
        return -1;
    if (pthread_getspecific(thread_ctx_key) == NULL &&
        pthread_setspecific(thread_ctx_key, &thread_ctx) != 0)
        return -1;
    return 0;
}

static EVP_PKEY_CTX *keygen_ctx(const tls_kx_part *p)
{
    int c = curve_index(p);
    if (thread_ctx.keygen[c] != NULL)
        return thread_ctx.keygen[c];
    if (thread_ctx_register() != 0)
        return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, is_x25519(p) ? "X25519" : "EC", NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1)
        goto fail;
    if (!is_x25519(p)) {
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)p->curve, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_PKEY_CTX_set_params(ctx, params) != 1)
            goto fail;
    }
    thread_ctx.keygen[c] = ctx;
    return ctx;
fail:
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

static EVP_PKEY_CTX *import_ctx(const tls_kx_part *p)
{
    int c = curve_index(p);
    if (thread_ctx.import[c] != NULL)
        return thread_ctx.import[c];
    if (thread_ctx_register() != 0)
        return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, is_x25519(p) ? "X25519" : "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    thread_ctx.import[c] = ctx;
    return ctx;
}

/*
 * The peer's public value, valid until the next call on this thread (do not free);
 * every rejection is illegal_parameter (DESIGN.md "Groups").
 */
static int peer_key(const tls_kx_part *p, const uint8_t *share, EVP_PKEY **peer)
{
    int c = curve_index(p);
    /* §4.2.8.2: only the uncompressed form; this also rejects the point at infinity */
    if (!is_x25519(p) && share[0] != 0x04)
        return PQIFY_TLS_ERR_BAD_POINT;
    if (thread_ctx.peer[c] != NULL) {
        /* setting an EC point decodes it, which fails for a point off the curve */
        if (EVP_PKEY_set1_encoded_public_key(thread_ctx.peer[c], share, p->client_share_len) != 1)
            return PQIFY_TLS_ERR_BAD_POINT;
        *peer = thread_ctx.peer[c];
        return 0;
    }
    EVP_PKEY_CTX *ctx = import_ctx(p);
    OSSL_PARAM params[3];
    size_t n = 0;
    if (ctx == NULL)
        return PQIFY_TLS_ERR_NO_MEMORY;
    if (!is_x25519(p))
        params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                       (char *)p->curve, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)share,
                                                    p->client_share_len);
    params[n] = OSSL_PARAM_construct_end();
    /* importing an EC point decodes it, which fails for a point off the curve */
    if (EVP_PKEY_fromdata(ctx, &thread_ctx.peer[c], EVP_PKEY_PUBLIC_KEY, params) != 1)
        return PQIFY_TLS_ERR_BAD_POINT;
    *peer = thread_ctx.peer[c];
    return 0;
}

/* A derivation context for my key; validation of peers is described in derive(). */
static int derive_ctx(EVP_PKEY *mine, EVP_PKEY_CTX **ctx)
{
    *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    if (*ctx == NULL)
        return PQIFY_TLS_ERR_NO_MEMORY;
    return EVP_PKEY_derive_init(*ctx) == 1 ? 0 : PQIFY_TLS_ERR_INTERNAL;
}

static int derive(const tls_kx_part *p, EVP_PKEY_CTX *ctx, EVP_PKEY *peer, uint8_t *secret)
{
    int ret = 0;
    size_t n = p->secret_len;
    /*
     * validate = 0: peer_key() already did the whole check. Decoding put the point on
     * the curve; P-256 and P-384 have cofactor 1, so every point on the curve but
     * infinity is in the prime-order group, and libcrypto's extra n*Q == O test (a
     * full scalar multiplication, a quarter of a P-256 server handshake) adds
     * nothing (SP 800-56A Rev. 3 §5.6.2.3.4, partial validation). X25519 has no
     * point validation (RFC 7748 §6.1): the all-zero output check below is it.
     */
    ENSURE(EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1, PQIFY_TLS_ERR_BAD_POINT);
    /* libcrypto refuses an all-zero X25519 output (RFC 7748 §6.1); we check again below */
    ENSURE(EVP_PKEY_derive(ctx, secret, &n) == 1,
           is_x25519(p) ? PQIFY_TLS_ERR_X25519_ZERO : PQIFY_TLS_ERR_BAD_POINT);
    ENSURE(n == p->secret_len, PQIFY_TLS_ERR_INTERNAL);
    if (is_x25519(p))
        ENSURE(!tls_ct_is_zero(secret, n), PQIFY_TLS_ERR_X25519_ZERO);
out:
    return ret;
}

static const uint8_t x25519_nine[32] = {9};

static EVP_PKEY *x25519_base(const tls_kx_part *p)
{
    if (thread_ctx.x25519_base != NULL)
        return thread_ctx.x25519_base;
    EVP_PKEY_CTX *ctx = import_ctx(p);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)x25519_nine, 32),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_PKEY_fromdata(ctx, &thread_ctx.x25519_base, EVP_PKEY_PUBLIC_KEY,
                                         params) != 1)
        return NULL;
    return thread_ctx.x25519_base;
}

/*
 * The server's ephemeral X25519 key pair: a random private value imported with a
 * placeholder public half (without one, libcrypto would compute it the slow way),
 * then the real public value X25519(k, 9) into share. The placeholder is never read:
 * X25519 derivation uses only my private value, the share sent is the one computed
 * here, and the key object does not leave ecdh_server_exchange().
 */
static int x25519_server_keypair(const tls_kx_part *p, EVP_PKEY **key, EVP_PKEY_CTX **ctx,
                                 uint8_t *share)
{
    int ret = 0;
    uint8_t k[32];
    EVP_PKEY_CTX *import = import_ctx(p);
    EVP_PKEY *base = x25519_base(p);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, k, sizeof k),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)x25519_nine, 32),
        OSSL_PARAM_construct_end(),
    };
    ENSURE(import != NULL && base != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(RAND_priv_bytes(k, sizeof k) == 1, PQIFY_TLS_ERR_RNG);
    ENSURE(EVP_PKEY_fromdata(import, key, EVP_PKEY_KEYPAIR, params) == 1, PQIFY_TLS_ERR_INTERNAL);
    TRY(derive_ctx(*key, ctx));
    TRY(derive(p, *ctx, base, share));
out:
    tls_zeroize(k, sizeof k);
    return ret;
}

/* A fresh key pair from libcrypto's key generation and its public share. */
static int keypair(const tls_kx_part *p, EVP_PKEY **key, uint8_t *share)
{
    int ret = 0, ok;
    size_t n = p->client_share_len;
    EVP_PKEY_CTX *gen = keygen_ctx(p);
    ENSURE(gen != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(EVP_PKEY_keygen(gen, key) == 1, PQIFY_TLS_ERR_INTERNAL);
    if (is_x25519(p))
        ok = EVP_PKEY_get_raw_public_key(*key, share, &n) == 1;
    else
        ok = EVP_PKEY_get_octet_string_param(*key, OSSL_PKEY_PARAM_PUB_KEY, share, n, &n) == 1 &&
             share[0] == 0x04;
    ENSURE(ok && n == p->client_share_len, PQIFY_TLS_ERR_INTERNAL);
out:
    return ret;
}

static int ecdh_client_share(const tls_kx_part *p, tls_group_state *st, uint8_t *share)
{
    EVP_PKEY_free(st->ecdh);
    st->ecdh = NULL;
    return keypair(p, &st->ecdh, share);
}

static int ecdh_server_exchange(const tls_kx_part *p, const uint8_t *client_share,
                                uint8_t *server_share, uint8_t *secret)
{
    int ret = 0;
    EVP_PKEY *peer = NULL, *mine = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    TRY(peer_key(p, client_share, &peer));
    if (is_x25519(p)) {
        TRY(x25519_server_keypair(p, &mine, &ctx, server_share));
    } else {
        TRY(keypair(p, &mine, server_share));
        TRY(derive_ctx(mine, &ctx));
    }
    TRY(derive(p, ctx, peer, secret));
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    return ret;
}

static int ecdh_client_finish(const tls_kx_part *p, tls_group_state *st, const uint8_t *server_share,
                              uint8_t *secret)
{
    int ret = 0;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    ENSURE(st->ecdh != NULL, PQIFY_TLS_ERR_INTERNAL);
    TRY(peer_key(p, server_share, &peer));
    TRY(derive_ctx(st->ecdh, &ctx));
    TRY(derive(p, ctx, peer, secret));
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

#define ECDH_PART(var, nm, crv, share, ss)                                                    \
    const tls_kx_part var = {nm,   share, share, ss, crv, NULL, ecdh_client_share,            \
                             ecdh_server_exchange, ecdh_client_finish}

ECDH_PART(tls_part_x25519, "x25519", "X25519", 32, 32);
ECDH_PART(tls_part_p256, "secp256r1", "P-256", 65, 32);
ECDH_PART(tls_part_p384, "secp384r1", "P-384", 97, 48);
