/*
 * ECDH halves of key exchange: X25519 (RFC 7748) and P-256/P-384 (SEC 1, uncompressed
 * points only, RFC 8446 §4.2.8.2), through libcrypto.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "internal.h"

static int is_x25519(const tls_kx_part *p)
{
    return p->curve[0] == 'X';
}

static int keygen(const tls_kx_part *p, EVP_PKEY **key)
{
    int ret = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, is_x25519(p) ? "X25519" : "EC", NULL);
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(EVP_PKEY_keygen_init(ctx) == 1, PQIFY_TLS_ERR_INTERNAL);
    if (!is_x25519(p)) {
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)p->curve, 0),
            OSSL_PARAM_construct_end(),
        };
        ENSURE(EVP_PKEY_CTX_set_params(ctx, params) == 1, PQIFY_TLS_ERR_INTERNAL);
    }
    ENSURE(EVP_PKEY_keygen(ctx, key) == 1, PQIFY_TLS_ERR_INTERNAL);
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

static int public_bytes(const tls_kx_part *p, EVP_PKEY *key, uint8_t *share)
{
    size_t n = p->client_share_len;
    if (is_x25519(p)) {
        if (EVP_PKEY_get_raw_public_key(key, share, &n) != 1 || n != p->client_share_len)
            return PQIFY_TLS_ERR_INTERNAL;
        return 0;
    }
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, share, p->client_share_len,
                                        &n) != 1 ||
        n != p->client_share_len || share[0] != 0x04)
        return PQIFY_TLS_ERR_INTERNAL;
    return 0;
}

/* The peer's public value; every rejection is illegal_parameter (DESIGN.md "Groups"). */
static int peer_key(const tls_kx_part *p, const uint8_t *share, EVP_PKEY **peer)
{
    int ret = 0;
    EVP_PKEY_CTX *ctx = NULL;
    if (is_x25519(p)) {
        *peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, share, 32);
        ENSURE(*peer != NULL, PQIFY_TLS_ERR_BAD_POINT);
        goto out;
    }
    /* §4.2.8.2: only the uncompressed form; this also rejects the point at infinity */
    ENSURE(share[0] == 0x04, PQIFY_TLS_ERR_BAD_POINT);
    OSSL_PARAM params[3] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)p->curve, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)share,
                                          p->client_share_len),
        OSSL_PARAM_construct_end(),
    };
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(EVP_PKEY_fromdata_init(ctx) == 1, PQIFY_TLS_ERR_INTERNAL);
    /* import decodes the point, which fails for a point off the curve */
    ENSURE(EVP_PKEY_fromdata(ctx, peer, EVP_PKEY_PUBLIC_KEY, params) == 1, PQIFY_TLS_ERR_BAD_POINT);
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

static int derive(const tls_kx_part *p, EVP_PKEY *mine, EVP_PKEY *peer, uint8_t *secret)
{
    int ret = 0;
    size_t n = p->secret_len;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(EVP_PKEY_derive_init(ctx) == 1, PQIFY_TLS_ERR_INTERNAL);
    /* validate = 1: libcrypto checks the peer point is on the curve */
    ENSURE(EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) == 1, PQIFY_TLS_ERR_BAD_POINT);
    /* libcrypto refuses an all-zero X25519 output (RFC 7748 §6.1); we check again below */
    ENSURE(EVP_PKEY_derive(ctx, secret, &n) == 1,
           is_x25519(p) ? PQIFY_TLS_ERR_X25519_ZERO : PQIFY_TLS_ERR_BAD_POINT);
    ENSURE(n == p->secret_len, PQIFY_TLS_ERR_INTERNAL);
    if (is_x25519(p))
        ENSURE(!tls_ct_is_zero(secret, n), PQIFY_TLS_ERR_X25519_ZERO);
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

static int ecdh_client_share(const tls_kx_part *p, tls_group_state *st, uint8_t *share)
{
    int ret = 0;
    EVP_PKEY_free(st->ecdh);
    st->ecdh = NULL;
    TRY(keygen(p, &st->ecdh));
    TRY(public_bytes(p, st->ecdh, share));
out:
    return ret;
}

static int ecdh_server_exchange(const tls_kx_part *p, const uint8_t *client_share,
                                uint8_t *server_share, uint8_t *secret)
{
    int ret = 0;
    EVP_PKEY *peer = NULL, *mine = NULL;
    TRY(peer_key(p, client_share, &peer));
    TRY(keygen(p, &mine));
    TRY(public_bytes(p, mine, server_share));
    TRY(derive(p, mine, peer, secret));
out:
    EVP_PKEY_free(peer);
    EVP_PKEY_free(mine);
    return ret;
}

static int ecdh_client_finish(const tls_kx_part *p, tls_group_state *st, const uint8_t *server_share,
                              uint8_t *secret)
{
    int ret = 0;
    EVP_PKEY *peer = NULL;
    ENSURE(st->ecdh != NULL, PQIFY_TLS_ERR_INTERNAL);
    TRY(peer_key(p, server_share, &peer));
    TRY(derive(p, st->ecdh, peer, secret));
out:
    EVP_PKEY_free(peer);
    return ret;
}

#define ECDH_PART(var, nm, crv, share, ss)                                                    \
    const tls_kx_part var = {nm,   share, share, ss, crv, NULL, ecdh_client_share,            \
                             ecdh_server_exchange, ecdh_client_finish}

ECDH_PART(tls_part_x25519, "x25519", "X25519", 32, 32);
ECDH_PART(tls_part_p256, "secp256r1", "P-256", 65, 32);
ECDH_PART(tls_part_p384, "secp384r1", "P-384", 97, 48);
