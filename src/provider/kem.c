/*
 * The KEM operations. Encapsulation is the TLS server's side: the ciphertext is
 * the server share (ML-KEM ct and an ephemeral ECDH public value, wire order) and
 * the secret is the parts' secrets in the same order (DESIGN.md "Groups").
 * Decapsulation is the client's side. One dispatch table serves every algorithm:
 * the key says which it is.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "provider.h"

typedef struct kem_ctx {
    pqp_key *key;
} kem_ctx;

static size_t point_len(const pqp_alg *a)
{
    return a->curve == PQP_NO_CURVE ? 0 : pqp_curve_point_len(a->curve);
}

static size_t ecdh_secret_len(const pqp_alg *a)
{
    return a->curve == PQP_NO_CURVE ? 0 : pqp_curve_secret_len(a->curve);
}

static int encaps(const pqp_key *k, uint8_t *ct, uint8_t *ss)
{
    const pqp_alg *a = k->alg;
    const pqify_kem *kem = a->kem;
    EVP_PKEY *eph = NULL;
    uint8_t eph_priv[PQP_MAX_ECDH_PRIV];
    int ret = PQP_OK;
    PQP_ENSURE(k->has_pub, PQP_ERR_NO_KEY);
    int r = pqify_kem_encaps(kem, ct + pqp_alg_kem_at(a, point_len(a)), kem->ct_bytes,
                             ss + pqp_alg_kem_at(a, ecdh_secret_len(a)), kem->ss_bytes,
                             k->pub + pqp_alg_kem_at(a, point_len(a)), kem->ek_bytes);
    PQP_ENSURE(r != PQIFY_ERR_INVALID_EK, PQP_ERR_EK);
    PQP_ENSURE(r == PQIFY_OK, r == PQIFY_ERR_RNG ? PQP_ERR_RNG : PQP_ERR_LIBCRYPTO);
    if (a->curve != PQP_NO_CURVE) {
        PQP_TRY(pqp_ecdh_keypair(a->curve, &eph, ct + pqp_alg_ecdh_at(a, kem->ct_bytes), eph_priv));
        PQP_TRY(pqp_ecdh_derive(a->curve, eph, k->pub + pqp_alg_ecdh_at(a, kem->ek_bytes),
                                ss + pqp_alg_ecdh_at(a, kem->ss_bytes)));
    }
out:
    EVP_PKEY_free(eph);
    OPENSSL_cleanse(eph_priv, sizeof eph_priv);
    if (ret < 0)
        OPENSSL_cleanse(ss, pqp_alg_secret_len(a));
    return ret;
}

static int decaps(const pqp_key *k, uint8_t *ss, const uint8_t *ct, size_t ct_len)
{
    const pqp_alg *a = k->alg;
    const pqify_kem *kem = a->kem;
    int ret = PQP_OK;
    PQP_ENSURE(k->has_priv, PQP_ERR_NO_KEY);
    /* DESIGN.md: the client checks the ciphertext length */
    PQP_ENSURE(ct_len == pqp_alg_ct_len(a), PQP_ERR_LENGTH);
    if (a->curve != PQP_NO_CURVE)
        PQP_TRY(pqp_ecdh_derive(a->curve, k->ecdh, ct + pqp_alg_ecdh_at(a, kem->ct_bytes),
                                ss + pqp_alg_ecdh_at(a, kem->ss_bytes)));
    /* a bad ciphertext of the right length is not an error: implicit rejection */
    PQP_ENSURE(pqify_kem_decaps(kem, ss + pqp_alg_kem_at(a, ecdh_secret_len(a)), kem->ss_bytes,
                                ct + pqp_alg_kem_at(a, point_len(a)), kem->ct_bytes, k->dk,
                                kem->dk_bytes) == PQIFY_OK,
               PQP_ERR_LIBCRYPTO);
out:
    if (ret < 0)
        OPENSSL_cleanse(ss, pqp_alg_secret_len(a));
    return ret;
}

/* ---- OSSL_FUNC_kem_* ---- */

static void *kem_newctx(void *provctx)
{
    (void)provctx;
    return OPENSSL_zalloc(sizeof(kem_ctx));
}

static void kem_freectx(void *vctx)
{
    OPENSSL_free(vctx);
}

static void *kem_dupctx(void *vctx)
{
    kem_ctx *d = OPENSSL_malloc(sizeof *d);
    if (d != NULL)
        memcpy(d, vctx, sizeof *d);
    return d;
}

static int kem_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    kem_ctx *c = vctx;
    (void)params;
    if (c == NULL || vkey == NULL)
        return 0;
    c->key = vkey;
    return 1;
}

static int kem_encapsulate(void *vctx, unsigned char *out, size_t *outlen, unsigned char *secret,
                           size_t *secretlen)
{
    kem_ctx *c = vctx;
    const pqp_alg *a = c->key->alg;
    size_t ct_len = pqp_alg_ct_len(a), ss_len = pqp_alg_secret_len(a);
    if (out == NULL) {
        if (outlen != NULL)
            *outlen = ct_len;
        if (secretlen != NULL)
            *secretlen = ss_len;
        return outlen != NULL || secretlen != NULL;
    }
    if (secret == NULL || (outlen != NULL && *outlen != 0 && *outlen < ct_len) ||
        (secretlen != NULL && *secretlen != 0 && *secretlen < ss_len))
        return pqp_raise(PQP_ERR_LENGTH, a->name);
    int ret = encaps(c->key, out, secret);
    if (ret < 0)
        return pqp_raise(ret, a->name);
    if (outlen != NULL)
        *outlen = ct_len;
    if (secretlen != NULL)
        *secretlen = ss_len;
    return 1;
}

static int kem_decapsulate(void *vctx, unsigned char *out, size_t *outlen, const unsigned char *in,
                           size_t inlen)
{
    kem_ctx *c = vctx;
    const pqp_alg *a = c->key->alg;
    size_t ss_len = pqp_alg_secret_len(a);
    if (out == NULL) {
        if (outlen == NULL)
            return 0;
        *outlen = ss_len;
        return 1;
    }
    if (outlen != NULL && *outlen != 0 && *outlen < ss_len)
        return pqp_raise(PQP_ERR_LENGTH, a->name);
    int ret = decaps(c->key, out, in, inlen);
    if (ret < 0)
        return pqp_raise(ret, a->name);
    if (outlen != NULL)
        *outlen = ss_len;
    return 1;
}

static int kem_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    (void)vctx;
    (void)params;
    return 1;
}

static const OSSL_PARAM *kem_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM none[] = {OSSL_PARAM_END};
    (void)vctx;
    (void)provctx;
    return none;
}

const OSSL_DISPATCH pqp_kem_functions[] = {
    {OSSL_FUNC_KEM_NEWCTX, (void (*)(void))kem_newctx},
    {OSSL_FUNC_KEM_FREECTX, (void (*)(void))kem_freectx},
    {OSSL_FUNC_KEM_DUPCTX, (void (*)(void))kem_dupctx},
    {OSSL_FUNC_KEM_ENCAPSULATE_INIT, (void (*)(void))kem_init},
    {OSSL_FUNC_KEM_ENCAPSULATE, (void (*)(void))kem_encapsulate},
    {OSSL_FUNC_KEM_DECAPSULATE_INIT, (void (*)(void))kem_init},
    {OSSL_FUNC_KEM_DECAPSULATE, (void (*)(void))kem_decapsulate},
    {OSSL_FUNC_KEM_SET_CTX_PARAMS, (void (*)(void))kem_set_ctx_params},
    {OSSL_FUNC_KEM_SETTABLE_CTX_PARAMS, (void (*)(void))kem_settable_ctx_params},
    {0, NULL},
};
