/*
 * Key management: generation, and import/export of the raw encodings TLS
 * exchanges (DESIGN.md "Groups", byte for byte as OpenSSL 3.5 uses them):
 *   - the public key (OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY or _PUB_KEY) is the
 *     client share: ML-KEM ek and the ECDH public value in wire order;
 *   - the private key (_PRIV_KEY) is the ML-KEM dk (FIPS 203, expanded) and the
 *     ECDH scalar, in the same order (OpenSSL 3.5's hybrid layout).
 * Every public key is checked when it arrives, so that libssl answers a bad
 * client share with illegal_parameter: libssl 3.0 sends that alert when setting
 * the encoded public key fails, and internal_error when encapsulation fails.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "provider.h"

static size_t point_len(const pqp_alg *a)
{
    return a->curve == PQP_NO_CURVE ? 0 : pqp_curve_point_len(a->curve);
}

static pqp_key *key_new(const pqp_alg *alg)
{
    pqp_key *k = OPENSSL_zalloc(sizeof *k);
    if (k != NULL)
        k->alg = alg;
    return k;
}

static void key_forget_private(pqp_key *k)
{
    EVP_PKEY_free(k->ecdh);
    k->ecdh = NULL;
    OPENSSL_cleanse(k->dk, sizeof k->dk);
    OPENSSL_cleanse(k->ecdh_priv, sizeof k->ecdh_priv);
    k->has_priv = 0;
}

static void key_free(void *vk)
{
    pqp_key *k = vk;
    if (k == NULL)
        return;
    key_forget_private(k);
    OPENSSL_clear_free(k, sizeof *k);
}

static int key_generate(pqp_key *k)
{
    const pqp_alg *a = k->alg;
    uint8_t *ek = k->pub + pqp_alg_kem_at(a, point_len(a));
    int ret = PQP_OK;
    int r = pqify_kem_keypair(a->kem, ek, a->kem->ek_bytes, k->dk, a->kem->dk_bytes);
    PQP_ENSURE(r == PQIFY_OK, r == PQIFY_ERR_RNG ? PQP_ERR_RNG : PQP_ERR_LIBCRYPTO);
    if (a->curve != PQP_NO_CURVE)
        PQP_TRY(pqp_ecdh_keypair(a->curve, &k->ecdh, k->pub + pqp_alg_ecdh_at(a, a->kem->ek_bytes),
                                 k->ecdh_priv));
    k->has_pub = k->has_priv = 1;
out:
    if (ret < 0)
        key_forget_private(k);
    return ret;
}

/* A peer's public key, with every check the engine makes on a client share. */
static int key_set_public(pqp_key *k, const uint8_t *pub, size_t len)
{
    const pqp_alg *a = k->alg;
    int ret = PQP_OK;
    PQP_ENSURE(len == pqp_alg_pub_len(a), PQP_ERR_LENGTH);
    if (a->curve != PQP_NO_CURVE)
        PQP_TRY(pqp_ecdh_check_public(a->curve, pub + pqp_alg_ecdh_at(a, a->kem->ek_bytes),
                                      point_len(a)));
    /* FIPS 203 §7.2 modulus check */
    PQP_ENSURE(pqify_kem_check_ek(a->kem, pub + pqp_alg_kem_at(a, point_len(a)),
                                  a->kem->ek_bytes) == PQIFY_OK,
               PQP_ERR_EK);
    key_forget_private(k);
    memcpy(k->pub, pub, len);
    k->has_pub = 1;
out:
    return ret;
}

/*
 * A key pair from its private key (wire order: dk, ECDH scalar) and public key.
 * ML-KEM alone needs no public key: the dk holds ek (FIPS 203 Alg. 16: dk = dk_pke
 * || ek || H(ek) || z). A hybrid needs both, and the ek inside dk must be the one
 * in the public key.
 */
static int key_set_private(pqp_key *k, const uint8_t *priv, size_t priv_len, const uint8_t *pub,
                           size_t pub_len)
{
    const pqp_alg *a = k->alg;
    size_t plen = point_len(a), ek_in_dk = 384 * (a->kem->ek_bytes / 384);
    size_t dk_at = a->ecdh_first ? pqp_curve_priv_len(a->curve) : 0;
    const uint8_t *dk = priv + dk_at;
    uint8_t own_pub[PQP_MAX_PUB];
    int ret = PQP_OK;
    PQP_ENSURE(priv_len == pqp_alg_priv_len(a), PQP_ERR_LENGTH);
    if (pub == NULL) {
        PQP_ENSURE(a->curve == PQP_NO_CURVE, PQP_ERR_NO_KEY);
        pub = dk + ek_in_dk;
        pub_len = a->kem->ek_bytes;
    }
    PQP_ENSURE(pub_len == pqp_alg_pub_len(a), PQP_ERR_LENGTH);
    memcpy(own_pub, pub, pub_len);
    PQP_TRY(key_set_public(k, own_pub, pub_len));
    PQP_ENSURE(memcmp(dk + ek_in_dk, own_pub + pqp_alg_kem_at(a, plen), a->kem->ek_bytes) == 0,
               PQP_ERR_EK);
    memcpy(k->dk, dk, a->kem->dk_bytes);
    if (a->curve != PQP_NO_CURVE) {
        const uint8_t *scalar = priv + (a->ecdh_first ? 0 : a->kem->dk_bytes);
        memcpy(k->ecdh_priv, scalar, pqp_curve_priv_len(a->curve));
        PQP_TRY(pqp_ecdh_from_private(a->curve, scalar,
                                      own_pub + pqp_alg_ecdh_at(a, a->kem->ek_bytes), &k->ecdh));
    }
    k->has_priv = 1;
out:
    if (ret < 0) {
        key_forget_private(k);
        k->has_pub = 0;
    }
    return ret;
}

/* The private key in wire order into out (pqp_alg_priv_len bytes). */
static void key_private_bytes(const pqp_key *k, uint8_t *out)
{
    const pqp_alg *a = k->alg;
    size_t s = a->curve == PQP_NO_CURVE ? 0 : pqp_curve_priv_len(a->curve);
    memcpy(out + (a->ecdh_first ? s : 0), k->dk, a->kem->dk_bytes);
    if (s != 0)
        memcpy(out + (a->ecdh_first ? 0 : a->kem->dk_bytes), k->ecdh_priv, s);
}

/* ---- OSSL_FUNC_keymgmt_* ---- */

static int key_has(const void *vk, int selection)
{
    const pqp_key *k = vk;
    if (k == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !k->has_priv)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !k->has_pub)
        return 0;
    return 1;
}

static int key_match(const void *vk1, const void *vk2, int selection)
{
    const pqp_key *k1 = vk1, *k2 = vk2;
    if (k1->alg != k2->alg)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 1;
    if (!k1->has_pub || !k2->has_pub)
        return k1->has_pub == k2->has_pub;
    return memcmp(k1->pub, k2->pub, pqp_alg_pub_len(k1->alg)) == 0;
}

static int key_import(void *vk, int selection, const OSSL_PARAM params[])
{
    pqp_key *k = vk;
    const void *pub = NULL, *priv = NULL;
    size_t pub_len = 0, priv_len = 0;
    int ret;
    if (k == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 1;   /* the algorithm is the only domain parameter */
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    if (p == NULL)
        p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    if (p != NULL && OSSL_PARAM_get_octet_string_ptr(p, &pub, &pub_len) != 1)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
        (p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY)) != NULL &&
        OSSL_PARAM_get_octet_string_ptr(p, &priv, &priv_len) != 1)
        return 0;
    if (priv != NULL)
        ret = key_set_private(k, priv, priv_len, pub, pub_len);
    else if (pub != NULL)
        ret = key_set_public(k, pub, pub_len);
    else
        ret = PQP_ERR_NO_KEY;
    return ret < 0 ? pqp_raise(ret, k->alg->name) : 1;
}

static int key_export(void *vk, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    pqp_key *k = vk;
    uint8_t priv[PQP_MAX_ECDH_PRIV + PQP_MAX_DK];
    OSSL_PARAM params[3];
    size_t n = 0;
    if (k == NULL || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0 || !k->has_pub)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0)
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, k->pub,
                                                        pqp_alg_pub_len(k->alg));
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->has_priv) {
        key_private_bytes(k, priv);
        params[n++] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, priv,
                                                        pqp_alg_priv_len(k->alg));
    }
    params[n] = OSSL_PARAM_construct_end();
    int ok = cb(params, cbarg);
    OPENSSL_cleanse(priv, sizeof priv);
    return ok;
}

static const OSSL_PARAM key_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *key_imexport_types(int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 ? key_types : NULL;
}

static int key_get_params(void *vk, OSSL_PARAM params[])
{
    pqp_key *k = vk;
    const pqp_alg *a = k->alg;
    OSSL_PARAM *p;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, (int)(8 * a->kem->ek_bytes)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, (int)a->secbits))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, (int)pqp_alg_ct_len(a)))
        return 0;
    if (!k->has_pub)
        return 1;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY)) != NULL &&
        !OSSL_PARAM_set_octet_string(p, k->pub, pqp_alg_pub_len(a)))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY)) != NULL &&
        !OSSL_PARAM_set_octet_string(p, k->pub, pqp_alg_pub_len(a)))
        return 0;
    return 1;
}

static const OSSL_PARAM *key_gettable_params(void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return list;
}

/* libssl 3.0 puts a received key share here (tls13_set_encoded_pub_key) */
static int key_set_params(void *vk, const OSSL_PARAM params[])
{
    pqp_key *k = vk;
    const void *pub;
    size_t len;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    if (p == NULL)
        return 1;
    if (OSSL_PARAM_get_octet_string_ptr(p, &pub, &len) != 1)
        return 0;
    int ret = key_set_public(k, pub, len);
    return ret < 0 ? pqp_raise(ret, k->alg->name) : 1;
}

static const OSSL_PARAM *key_settable_params(void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return list;
}

static void *key_dup(const void *vk, int selection)
{
    const pqp_key *k = vk;
    pqp_key *d = key_new(k->alg);
    if (d == NULL)
        return NULL;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && k->has_pub) {
        memcpy(d->pub, k->pub, sizeof d->pub);
        d->has_pub = 1;
    }
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->has_priv) {
        memcpy(d->dk, k->dk, sizeof d->dk);
        memcpy(d->ecdh_priv, k->ecdh_priv, sizeof d->ecdh_priv);
        if (k->ecdh != NULL && EVP_PKEY_up_ref(k->ecdh) != 1) {
            key_free(d);
            return NULL;
        }
        d->ecdh = k->ecdh;
        d->has_priv = 1;
    }
    return d;
}

/* ---- generation ---- */

typedef struct gen_ctx {
    const pqp_alg *alg;
    int selection;
} gen_ctx;

static void *gen_init_alg(const pqp_alg *alg, int selection)
{
    gen_ctx *g = OPENSSL_zalloc(sizeof *g);
    if (g != NULL) {
        g->alg = alg;
        g->selection = selection;
    }
    return g;
}

/* libssl names the group (EVP_PKEY_CTX_set_group_name); the algorithm already is it */
static int gen_set_params(void *vg, const OSSL_PARAM params[])
{
    (void)vg;
    (void)params;
    return 1;
}

static const OSSL_PARAM *gen_settable_params(void *vg, void *provctx)
{
    static const OSSL_PARAM list[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vg;
    (void)provctx;
    return list;
}

/* Without a key pair in the selection (EVP_PKEY_paramgen, as libssl does for a
 * server's peer key) the key is empty, waiting for the client's share. */
static void *gen(void *vg, OSSL_CALLBACK *cb, void *cbarg)
{
    gen_ctx *g = vg;
    (void)cb;
    (void)cbarg;
    pqp_key *k = key_new(g->alg);
    if (k == NULL || (g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return k;
    int ret = key_generate(k);
    if (ret < 0) {
        key_free(k);
        pqp_raise(ret, g->alg->name);
        return NULL;
    }
    return k;
}

static void gen_cleanup(void *vg)
{
    OPENSSL_free(vg);
}

static const char *query_operation_name(int operation_id)
{
    (void)operation_id;
    return NULL;
}

/* One constructor pair per algorithm: OpenSSL's new() and gen_init() do not say which. */
#define PER_ALG(i)                                                                            \
    static void *key_new_##i(void *provctx)                                                   \
    {                                                                                         \
        (void)provctx;                                                                        \
        return key_new(&pqp_algs[i]);                                                         \
    }                                                                                         \
    static void *gen_init_##i(void *provctx, int selection, const OSSL_PARAM params[])        \
    {                                                                                         \
        (void)provctx;                                                                        \
        (void)params;                                                                         \
        return gen_init_alg(&pqp_algs[i], selection);                                         \
    }                                                                                         \
    static const OSSL_DISPATCH keymgmt_##i[] = {                                              \
        {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))key_new_##i},                                 \
        {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))key_free},                                   \
        {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))gen_init_##i},                           \
        {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))gen_set_params},                   \
        {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))gen_settable_params},         \
        {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))gen},                                         \
        {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))gen_cleanup},                         \
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))key_get_params},                       \
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))key_gettable_params},             \
        {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))key_set_params},                       \
        {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))key_settable_params},             \
        {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))key_has},                                     \
        {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))key_match},                                 \
        {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))key_import},                               \
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))key_imexport_types},                 \
        {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))key_export},                               \
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))key_imexport_types},                 \
        {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))key_dup},                                     \
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))query_operation_name},       \
        {0, NULL},                                                                            \
    };

PER_ALG(0)
PER_ALG(1)
PER_ALG(2)
PER_ALG(3)
PER_ALG(4)
PER_ALG(5)

#define N0 PQP_NAMES_X25519MLKEM768
#define N1 PQP_NAMES_SECP256R1MLKEM768
#define N2 PQP_NAMES_SECP384R1MLKEM1024
#define N3 PQP_NAMES_MLKEM512
#define N4 PQP_NAMES_MLKEM768
#define N5 PQP_NAMES_MLKEM1024

const OSSL_ALGORITHM pqp_keymgmt_algorithms[] = {
    {N0, "provider=pqify", keymgmt_0, "pqify X25519MLKEM768 (ML-KEM-768 + X25519)"},
    {N1, "provider=pqify", keymgmt_1, "pqify SecP256r1MLKEM768 (P-256 + ML-KEM-768)"},
    {N2, "provider=pqify", keymgmt_2, "pqify SecP384r1MLKEM1024 (P-384 + ML-KEM-1024)"},
    {N3, "provider=pqify", keymgmt_3, "pqify ML-KEM-512 (FIPS 203)"},
    {N4, "provider=pqify", keymgmt_4, "pqify ML-KEM-768 (FIPS 203)"},
    {N5, "provider=pqify", keymgmt_5, "pqify ML-KEM-1024 (FIPS 203)"},
    {NULL, NULL, NULL, NULL},
};

const OSSL_ALGORITHM pqp_kem_algorithms[] = {
    {N0, "provider=pqify", pqp_kem_functions, "pqify X25519MLKEM768"},
    {N1, "provider=pqify", pqp_kem_functions, "pqify SecP256r1MLKEM768"},
    {N2, "provider=pqify", pqp_kem_functions, "pqify SecP384r1MLKEM1024"},
    {N3, "provider=pqify", pqp_kem_functions, "pqify ML-KEM-512"},
    {N4, "provider=pqify", pqp_kem_functions, "pqify ML-KEM-768"},
    {N5, "provider=pqify", pqp_kem_functions, "pqify ML-KEM-1024"},
    {NULL, NULL, NULL, NULL},
};
