/* Keys on PKCS#11 tokens named by RFC 7512 URIs, through p11-kit's URI parser and
 * module loading. The private key never leaves the token; the store keeps the public
 * key (for the SKI) and the object handle. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "internal.h"

#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#define KL_IDLE_SESSIONS 16
#define KL_MAX_OBJECTS 1024
#define KL_MAX_SLOTS 256
#define KL_MAX_PIN 256

struct kl_token {
    atomic_int refs;
    CK_FUNCTION_LIST *mod;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE login_session; /* open for the token's life: it keeps the login */
    pthread_mutex_t lock;
    CK_SESSION_HANDLE idle[KL_IDLE_SESSIONS];
    size_t n_idle;
};

void kl_token_hold(kl_token *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void kl_token_release(kl_token *t)
{
    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* no C_Logout: login state is per application and token, and another store built by
     * a reload may share it; closing our sessions is enough */
    for (size_t i = 0; i < t->n_idle; i++)
        t->mod->C_CloseSession(t->idle[i]);
    if (t->login_session != CK_INVALID_HANDLE)
        t->mod->C_CloseSession(t->login_session);
    p11_kit_module_finalize(t->mod);
    p11_kit_module_release(t->mod);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* ---- sessions: one per operation in flight, reused ---- */

static CK_SESSION_HANDLE take_session(kl_token *t)
{
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    pthread_mutex_lock(&t->lock);
    if (t->n_idle != 0)
        h = t->idle[--t->n_idle];
    pthread_mutex_unlock(&t->lock);
    if (h == CK_INVALID_HANDLE && t->mod->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL,
                                                        &h) != CKR_OK)
        h = CK_INVALID_HANDLE;
    return h;
}

/* a session whose operation failed may still hold it active: close it, do not reuse */
static void give_session(kl_token *t, CK_SESSION_HANDLE h, int ok)
{
    if (ok) {
        pthread_mutex_lock(&t->lock);
        if (t->n_idle < KL_IDLE_SESSIONS) {
            t->idle[t->n_idle++] = h;
            h = CK_INVALID_HANDLE;
        }
        pthread_mutex_unlock(&t->lock);
    }
    if (h != CK_INVALID_HANDLE)
        t->mod->C_CloseSession(h);
}

int kl_pkcs11_sign(const kl_key *k, unsigned long mech_type, const void *param, size_t param_len,
                   const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
    CK_MECHANISM mech = {mech_type, (void *)param, (CK_ULONG)param_len};
    CK_ULONG n = *out_len;
    CK_SESSION_HANDLE h = take_session(k->token);
    int ok;
    if (h == CK_INVALID_HANDLE)
        return -1;
    ok = k->token->mod->C_SignInit(h, &mech, k->handle) == CKR_OK &&
         k->token->mod->C_Sign(h, (CK_BYTE *)in, in_len, out, &n) == CKR_OK;
    give_session(k->token, h, ok);
    *out_len = n;
    return ok ? 0 : -1;
}

int kl_pkcs11_decrypt_raw(const kl_key *k, const uint8_t *in, size_t in_len, uint8_t *out,
                          size_t *out_len)
{
    /* textbook RSA, as gokeyless decrypts with a software key: the caller removes padding */
    CK_MECHANISM mech = {CKM_RSA_X_509, NULL, 0};
    CK_ULONG n = *out_len;
    CK_SESSION_HANDLE h = take_session(k->token);
    int ok;
    if (h == CK_INVALID_HANDLE)
        return -1;
    ok = k->token->mod->C_DecryptInit(h, &mech, k->handle) == CKR_OK &&
         k->token->mod->C_Decrypt(h, (CK_BYTE *)in, in_len, out, &n) == CKR_OK;
    give_session(k->token, h, ok);
    *out_len = n;
    return ok ? 0 : -1;
}

/* ---- loading ---- */

typedef struct load_ctx {
    const char *uri;
    char *err;
    size_t cap;
} load_ctx;

static int fail(const load_ctx *c, const char *what, CK_RV rv)
{
    if (rv != CKR_OK)
        kl_err(c->err, c->cap, "%s: %s (%s)", c->uri, what, p11_kit_strerror(rv));
    else
        kl_err(c->err, c->cap, "%s: %s", c->uri, what);
    return PQIFY_KEYLESS_ERR_ARG;
}

/* pin-value=, or pin-source= naming a file (RFC 7512 §2.4) */
static int read_pin(const load_ctx *c, P11KitUri *puri, char *pin, size_t cap)
{
    const char *v = p11_kit_uri_get_pin_value(puri);
    const char *src = p11_kit_uri_get_pin_source(puri);
    FILE *f;
    size_t n;
    pin[0] = 0;
    if (v != NULL) {
        if (strlen(v) >= cap)
            return fail(c, "pin-value too long", CKR_OK);
        strcpy(pin, v);
        return 0;
    }
    if (src == NULL)
        return 0;
    if (strncmp(src, "file:", 5) == 0)
        src += 5;
    f = fopen(src, "rb");
    if (f == NULL) {
        kl_err(c->err, c->cap, "%s: pin-source %s: cannot open", c->uri, src);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    n = fread(pin, 1, cap - 1, f);
    fclose(f);
    pin[n] = 0;
    while (n > 0 && (pin[n - 1] == '\n' || pin[n - 1] == '\r'))
        pin[--n] = 0;
    return 0;
}

static int find_slot(const load_ctx *c, kl_token *t, P11KitUri *puri)
{
    CK_SLOT_ID slots[KL_MAX_SLOTS];
    CK_ULONG n = KL_MAX_SLOTS;
    CK_SLOT_ID want = p11_kit_uri_get_slot_id(puri);
    CK_RV rv = t->mod->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK)
        return fail(c, "cannot list the module's slots", rv);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_SLOT_INFO si;
        CK_TOKEN_INFO ti;
        if (want != (CK_SLOT_ID)-1 && slots[i] != want)
            continue;
        if (t->mod->C_GetSlotInfo(slots[i], &si) != CKR_OK ||
            t->mod->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if (p11_kit_uri_match_slot_info(puri, &si) && p11_kit_uri_match_token_info(puri, &ti)) {
            t->slot = slots[i];
            return (ti.flags & CKF_LOGIN_REQUIRED) ? 1 : 0;
        }
    }
    return fail(c, "no token matches", CKR_OK);
}

static int open_token(const load_ctx *c, P11KitUri *puri, const char *default_module, kl_token **out)
{
    const char *path = p11_kit_uri_get_module_path(puri);
    char pin[KL_MAX_PIN];
    kl_token *t = NULL;
    CK_RV rv;
    int login, ret = 0;
    if (path == NULL)
        path = default_module;
    if (path == NULL)
        return fail(c, "names no module (module-path=) and no PKCS#11 module is configured", CKR_OK);
    t = calloc(1, sizeof(*t));
    ENSURE(t != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    pthread_mutex_init(&t->lock, NULL);
    atomic_init(&t->refs, 1);
    t->login_session = CK_INVALID_HANDLE;
    t->mod = p11_kit_module_load(path, 0);
    if (t->mod == NULL) {
        kl_err(c->err, c->cap, "%s: cannot load module %s: %s", c->uri, path,
               p11_kit_message() ? p11_kit_message() : "?");
        pthread_mutex_destroy(&t->lock);
        free(t);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    rv = p11_kit_module_initialize(t->mod);
    if (rv != CKR_OK) {
        p11_kit_module_release(t->mod);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return fail(c, "cannot initialize the module", rv);
    }
    TRY(login = find_slot(c, t, puri));
    rv = t->mod->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &t->login_session);
    if (rv != CKR_OK) {
        t->login_session = CK_INVALID_HANDLE;
        ret = fail(c, "cannot open a session", rv);
        goto out;
    }
    if (login) {
        TRY(read_pin(c, puri, pin, sizeof(pin)));
        rv = t->mod->C_Login(t->login_session, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
        OPENSSL_cleanse(pin, sizeof(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            ret = fail(c, "login failed (pin-value= or pin-source= in the URI)", rv);
            goto out;
        }
    }
    *out = t;
    t = NULL;
out:
    if (t != NULL)
        kl_token_release(t);
    return ret;
}

static int get_attr(kl_token *t, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, uint8_t *buf,
                    size_t cap, size_t *len)
{
    CK_ATTRIBUTE a = {type, buf, cap};
    if (t->mod->C_GetAttributeValue(t->login_session, o, &a, 1) != CKR_OK ||
        a.ulValueLen == (CK_ULONG)-1 || a.ulValueLen > cap)
        return -1;
    *len = a.ulValueLen;
    return 0;
}

/* CKA_EC_POINT is a DER OCTET STRING holding the point (PKCS#11 §2.3.3); some tokens
 * give the bare point. want is the bare point's length. */
static int ec_point(const uint8_t *a, size_t n, size_t want, const uint8_t **pt)
{
    tls_reader r;
    uint8_t tag, l1;
    const uint8_t *p;
    if (n == want) {
        *pt = a;
        return 0;
    }
    tls_reader_init(&r, a, n);
    if (tls_read_u8(&r, &tag) < 0 || tag != 0x04 || tls_read_u8(&r, &l1) < 0)
        return -1;
    if (l1 == 0x81 && tls_read_u8(&r, &l1) < 0)
        return -1;
    if (l1 != want || tls_read_bytes(&r, want, &p) < 0 || tls_reader_left(&r) != 0)
        return -1;
    *pt = p;
    return 0;
}

/* the public key of a private key object: RSA from its own attributes, EC and Ed25519
 * from the public key object with the same CKA_ID */
static CK_OBJECT_HANDLE public_twin(kl_token *t, CK_OBJECT_HANDLE priv)
{
    uint8_t id[256];
    size_t id_len = 0;
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_ID, id, 0}};
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (get_attr(t, priv, CKA_ID, id, sizeof(id), &id_len) < 0)
        return CK_INVALID_HANDLE;
    tmpl[1].ulValueLen = id_len;
    if (t->mod->C_FindObjectsInit(t->login_session, tmpl, 2) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (t->mod->C_FindObjects(t->login_session, &o, 1, &n) != CKR_OK || n != 1)
        o = CK_INVALID_HANDLE;
    t->mod->C_FindObjectsFinal(t->login_session);
    return o;
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_public(kl_token *t, CK_OBJECT_HANDLE o)
{
    uint8_t n[1024], e[16];
    size_t n_len, e_len;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld != NULL && get_attr(t, o, CKA_MODULUS, n, sizeof(n), &n_len) == 0 &&
        get_attr(t, o, CKA_PUBLIC_EXPONENT, e, sizeof(e), &e_len) == 0 &&
        (bn = BN_bin2bn(n, (int)n_len, NULL)) != NULL && (be = BN_bin2bn(e, (int)e_len, NULL)) != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        pkey = fromdata("RSA", bld);
    BN_free(bn);
    BN_free(be);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *ec_public(kl_token *t, CK_OBJECT_HANDLE priv)
{
    uint8_t params[64], pt[256];
    size_t params_len, pt_len, want;
    const unsigned char *p = params;
    const uint8_t *point;
    const char *group;
    ASN1_OBJECT *oid = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    CK_OBJECT_HANDLE pub = public_twin(t, priv);
    if (pub == CK_INVALID_HANDLE || get_attr(t, priv, CKA_EC_PARAMS, params, sizeof(params), &params_len) < 0 ||
        get_attr(t, pub, CKA_EC_POINT, pt, sizeof(pt), &pt_len) < 0)
        return NULL;
    oid = d2i_ASN1_OBJECT(NULL, &p, (long)params_len);
    switch (oid == NULL ? 0 : OBJ_obj2nid(oid)) {
    case NID_X9_62_prime256v1: group = "prime256v1", want = 65; break;
    case NID_secp384r1: group = "secp384r1", want = 97; break;
    default: group = NULL, want = 0; break;
    }
    ASN1_OBJECT_free(oid);
    if (group == NULL || ec_point(pt, pt_len, want, &point) < 0)
        return NULL;
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, want) == 1)
        pkey = fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

static EVP_PKEY *ed25519_public(kl_token *t, CK_OBJECT_HANDLE priv)
{
    uint8_t pt[64];
    size_t pt_len;
    const uint8_t *point;
    CK_OBJECT_HANDLE pub = public_twin(t, priv);
    if (pub == CK_INVALID_HANDLE || get_attr(t, pub, CKA_EC_POINT, pt, sizeof(pt), &pt_len) < 0 ||
        ec_point(pt, pt_len, 32, &point) < 0)
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, point, 32);
}

static int add_object(const load_ctx *c, kl_token *t, CK_OBJECT_HANDLE o, kl_keylist *l)
{
    CK_KEY_TYPE kt = 0;
    uint8_t label[128];
    size_t label_len = 0;
    char source[1024], why[160];
    EVP_PKEY *pub = NULL;
    int type, ret = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};
    if (get_attr(t, o, CKA_LABEL, label, sizeof(label) - 1, &label_len) < 0)
        label_len = 0;
    label[label_len] = 0;
    snprintf(source, sizeof(source), "%s (object '%s')", c->uri, (char *)label);
    if (t->mod->C_GetAttributeValue(t->login_session, o, &a, 1) != CKR_OK)
        return fail(c, "cannot read a key's type", CKR_OK);
    if (kt == CKK_RSA)
        pub = rsa_public(t, o);
    else if (kt == CKK_EC)
        pub = ec_public(t, o);
    else if (kt == CKK_EC_EDWARDS)
        pub = ed25519_public(t, o);
    if (pub == NULL) {
        kl_err(c->err, c->cap, "%s: cannot read its public key (RSA, EC P-256/P-384 or Ed25519 "
                               "with a public key object of the same CKA_ID)", source);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    type = kl_key_type(pub, why, sizeof(why));
    if (type == 0) {
        kl_err(c->err, c->cap, "%s: %s", source, why);
        ret = PQIFY_KEYLESS_ERR_ARG;
        goto out;
    }
    TRY(kl_keylist_add(l, pub, type, t, o, source, c->err, c->cap));
    pub = NULL;
out:
    EVP_PKEY_free(pub);
    return ret;
}

static int find_keys(const load_ctx *c, kl_token *t, P11KitUri *puri, kl_keylist *l)
{
    CK_ULONG n_attrs = 0;
    CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(puri, &n_attrs);
    CK_ATTRIBUTE tmpl[8];
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    CK_OBJECT_HANDLE objs[KL_MAX_OBJECTS];
    CK_ULONG n = 0, k = 0;
    int has_class = 0, ret = 0;
    CK_RV rv;
    for (CK_ULONG i = 0; i < n_attrs && k < 7; i++) {
        if (attrs[i].type == CKA_CLASS) {
            has_class = 1;
            if (attrs[i].ulValueLen != sizeof(CK_OBJECT_CLASS) ||
                *(CK_OBJECT_CLASS *)attrs[i].pValue != CKO_PRIVATE_KEY)
                return fail(c, "names an object that is not a private key (type=private)", CKR_OK);
        }
        tmpl[k++] = attrs[i];
    }
    if (!has_class)
        tmpl[k++] = (CK_ATTRIBUTE){CKA_CLASS, &priv, sizeof(priv)};
    rv = t->mod->C_FindObjectsInit(t->login_session, tmpl, k);
    if (rv != CKR_OK)
        return fail(c, "cannot search the token", rv);
    rv = t->mod->C_FindObjects(t->login_session, objs, KL_MAX_OBJECTS, &n);
    t->mod->C_FindObjectsFinal(t->login_session);
    if (rv != CKR_OK)
        return fail(c, "cannot search the token", rv);
    if (n == 0)
        return fail(c, "no private key on the token matches", CKR_OK);
    for (CK_ULONG i = 0; i < n; i++)
        TRY(add_object(c, t, objs[i], l));
out:
    return ret;
}

int kl_pkcs11_load(const char *uri, const char *default_module, kl_keylist *l, char *err, size_t cap)
{
    /* words and log sources name the URI without its query: pin-value= must not leak */
    char *shown = strndup(uri, strcspn(uri, "?"));
    load_ctx c = {shown, err, cap};
    P11KitUri *puri = p11_kit_uri_new();
    kl_token *t = NULL;
    int prc, ret = 0;
    ENSURE(puri != NULL && shown != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    prc = p11_kit_uri_parse(uri, P11_KIT_URI_FOR_ANY, puri);
    if (prc != P11_KIT_URI_OK) {
        kl_err(err, cap, "%s: not a PKCS#11 URI (RFC 7512): %s", shown, p11_kit_uri_message(prc));
        ret = PQIFY_KEYLESS_ERR_ARG;
        goto out;
    }
    TRY(open_token(&c, puri, default_module, &t));
    TRY(find_keys(&c, t, puri, l));
out:
    if (t != NULL)
        kl_token_release(t); /* the keys hold their own references */
    p11_kit_uri_free(puri);
    free(shown);
    return ret;
}
