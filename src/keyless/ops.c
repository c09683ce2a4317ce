/* The operations a key server performs: (store, request) -> response, as gokeyless answers. */
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include "internal.h"

#include <p11-kit/pkcs11.h>

enum op_kind { OP_RSA_PKCS1 = 1, OP_RSA_PSS, OP_ECDSA, OP_ED25519, OP_RSA_RAW_DECRYPT };

typedef struct op_desc {
    uint8_t op;
    uint8_t kind;
    uint8_t digest_len;          /* the payload's size; 0 = any (Ed25519 message, decrypt) */
    const EVP_MD *(*md)(void);   /* the digest the payload was made with */
    CK_MECHANISM_TYPE ck_hash;   /* the same digest for PKCS#11 PSS parameters */
    CK_RSA_PKCS_MGF_TYPE ck_mgf;
} op_desc;

/* shared/vectors/keyless/README.md "Opcodes"; PSS salt = hash length (gokeyless) */
static const op_desc OPS[] = {
    {PQIFY_KEYLESS_OP_RSA_DECRYPT, OP_RSA_RAW_DECRYPT, 0, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_DECRYPT_RAW, OP_RSA_RAW_DECRYPT, 0, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1, OP_RSA_PKCS1, 36, EVP_md5_sha1, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_SHA1, OP_RSA_PKCS1, 20, EVP_sha1, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_SHA224, OP_RSA_PKCS1, 28, EVP_sha224, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_SHA256, OP_RSA_PKCS1, 32, EVP_sha256, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_SHA384, OP_RSA_PKCS1, 48, EVP_sha384, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_SIGN_SHA512, OP_RSA_PKCS1, 64, EVP_sha512, 0, 0},
    {PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, OP_RSA_PSS, 32, EVP_sha256, CKM_SHA256, CKG_MGF1_SHA256},
    {PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384, OP_RSA_PSS, 48, EVP_sha384, CKM_SHA384, CKG_MGF1_SHA384},
    {PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA512, OP_RSA_PSS, 64, EVP_sha512, CKM_SHA512, CKG_MGF1_SHA512},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_MD5SHA1, OP_ECDSA, 36, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA1, OP_ECDSA, 20, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA224, OP_ECDSA, 28, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, OP_ECDSA, 32, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, OP_ECDSA, 48, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA512, OP_ECDSA, 64, NULL, 0, 0},
    {PQIFY_KEYLESS_OP_ED25519_SIGN, OP_ED25519, 0, NULL, 0, 0},
};

static const op_desc *find_op(uint8_t op)
{
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        if (OPS[i].op == op)
            return &OPS[i];
    return NULL;
}

static int kind_fits_key(int kind, int type)
{
    switch (kind) {
    case OP_RSA_PKCS1:
    case OP_RSA_PSS:
    case OP_RSA_RAW_DECRYPT: return type == PQIFY_KEYLESS_KEY_RSA;
    case OP_ECDSA: return type == PQIFY_KEYLESS_KEY_EC_P256 || type == PQIFY_KEYLESS_KEY_EC_P384;
    case OP_ED25519: return type == PQIFY_KEYLESS_KEY_ED25519;
    default: return 0;
    }
}

/* ---- software keys (libcrypto) ---- */

static int soft_ed25519(const kl_key *k, const uint8_t *msg, size_t len, uint8_t *out, size_t *out_len)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok = mctx != NULL && EVP_DigestSignInit(mctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(mctx, out, out_len, msg, len) == 1;
    EVP_MD_CTX_free(mctx);
    return ok ? 0 : -1;
}

static int soft_setup(EVP_PKEY_CTX *ctx, const op_desc *d)
{
    switch (d->kind) {
    case OP_RSA_PKCS1:
        /* md5-sha1 is signed bare, without a DigestInfo (RFC 5246 §4.7 style), as Go does */
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
               EVP_PKEY_CTX_set_signature_md(ctx, d->md()) == 1;
    case OP_RSA_PSS:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
               EVP_PKEY_CTX_set_signature_md(ctx, d->md()) == 1 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, d->md()) == 1 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    case OP_ECDSA:
        /* the payload is the digest; its length was checked, and ECDSA takes it bare */
        return 1;
    case OP_RSA_RAW_DECRYPT:
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1;
    default:
        return 0;
    }
}

static int soft_operate(const kl_key *k, const op_desc *d, const uint8_t *in, size_t in_len,
                        uint8_t *out, size_t *out_len)
{
    EVP_PKEY_CTX *ctx = NULL;
    int ok;
    if (d->kind == OP_ED25519)
        return soft_ed25519(k, in, in_len, out, out_len);
    if (d->kind == OP_ECDSA && k->ecdsa != NULL) {
        ctx = EVP_PKEY_CTX_dup(k->ecdsa);
        ok = ctx != NULL && EVP_PKEY_sign(ctx, out, out_len, in, in_len) == 1;
        EVP_PKEY_CTX_free(ctx);
        return ok ? 0 : -1;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (d->kind == OP_RSA_RAW_DECRYPT)
        ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 && soft_setup(ctx, d) &&
             EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) == 1;
    else
        ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 && soft_setup(ctx, d) &&
             EVP_PKEY_sign(ctx, out, out_len, in, in_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* ---- token keys (PKCS#11 through p11-kit) ---- */

/* RFC 8017 §9.2 note 1: the DER DigestInfo prefix for each hash */
static const uint8_t DI_SHA1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                  0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
static const uint8_t DI_SHA224[] = {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c};
static const uint8_t DI_SHA256[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
static const uint8_t DI_SHA384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
static const uint8_t DI_SHA512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};

static int digest_info(uint8_t op, const uint8_t **prefix, size_t *len)
{
    switch (op) {
    case PQIFY_KEYLESS_OP_RSA_SIGN_MD5SHA1: *prefix = NULL, *len = 0; return 0;
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA1: *prefix = DI_SHA1, *len = sizeof(DI_SHA1); return 0;
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA224: *prefix = DI_SHA224, *len = sizeof(DI_SHA224); return 0;
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA256: *prefix = DI_SHA256, *len = sizeof(DI_SHA256); return 0;
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA384: *prefix = DI_SHA384, *len = sizeof(DI_SHA384); return 0;
    case PQIFY_KEYLESS_OP_RSA_SIGN_SHA512: *prefix = DI_SHA512, *len = sizeof(DI_SHA512); return 0;
    default: return -1;
    }
}

/* PKCS#11 §2.3.1 CKM_ECDSA gives r || s, each the order's size; TLS wants DER */
static int ecdsa_raw_to_der(const uint8_t *rs, size_t rs_len, uint8_t *out, size_t *out_len)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *p = out;
    int n, ret = -1;
    if (rs_len == 0 || rs_len % 2 != 0)
        return -1;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(rs, (int)(rs_len / 2), NULL);
    s = BN_bin2bn(rs + rs_len / 2, (int)(rs_len / 2), NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
        goto out;
    r = s = NULL;
    n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || (size_t)n > *out_len)
        goto out;
    *out_len = (size_t)i2d_ECDSA_SIG(sig, &p);
    ret = 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ret;
}

static int token_operate(const kl_key *k, const op_desc *d, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t *out_len)
{
    uint8_t tbs[19 + 64];
    uint8_t rs[2 * 66];
    size_t rs_len = sizeof(rs);
    const uint8_t *prefix;
    size_t plen;
    CK_RSA_PKCS_PSS_PARAMS pss;
    switch (d->kind) {
    case OP_RSA_PKCS1:
        if (digest_info(d->op, &prefix, &plen) < 0 || plen + in_len > sizeof(tbs))
            return -1;
        if (plen != 0)
            memcpy(tbs, prefix, plen);
        memcpy(tbs + plen, in, in_len);
        return kl_pkcs11_sign(k, CKM_RSA_PKCS, NULL, 0, tbs, plen + in_len, out, out_len);
    case OP_RSA_PSS:
        pss.hashAlg = d->ck_hash;
        pss.mgf = d->ck_mgf;
        pss.sLen = d->digest_len;
        return kl_pkcs11_sign(k, CKM_RSA_PKCS_PSS, &pss, sizeof(pss), in, in_len, out, out_len);
    case OP_ECDSA:
        if (kl_pkcs11_sign(k, CKM_ECDSA, NULL, 0, in, in_len, rs, &rs_len) < 0)
            return -1;
        return ecdsa_raw_to_der(rs, rs_len, out, out_len);
    case OP_ED25519:
        return kl_pkcs11_sign(k, CKM_EDDSA, NULL, 0, in, in_len, out, out_len);
    case OP_RSA_RAW_DECRYPT:
        return kl_pkcs11_decrypt_raw(k, in, in_len, out, out_len);
    default:
        return -1;
    }
}

/* ---- the dispatch ---- */

static void answer_error(pqify_keyless_result *r, uint8_t code)
{
    r->opcode = PQIFY_KEYLESS_OP_ERROR;
    r->error = code;
    r->buf[0] = code;
    r->payload.data = r->buf;
    r->payload.len = 1;
}

static int is_zero_ski(const uint8_t *ski)
{
    uint8_t d = 0;
    for (size_t i = 0; i < PQIFY_KEYLESS_SKI_BYTES; i++)
        d |= ski[i];
    return d == 0;
}

void pqify_keyless_operate(const pqify_keyless_store *s, const pqify_keyless_packet *req,
                           pqify_keyless_result *r)
{
    const op_desc *d;
    const kl_key *k;
    size_t out_len = sizeof(r->buf);
    int rc;
    memset(r, 0, offsetof(pqify_keyless_result, buf));
    switch (req->opcode) {
    case PQIFY_KEYLESS_OP_PING:
        r->opcode = PQIFY_KEYLESS_OP_PONG;
        r->payload = req->payload;
        return;
    case PQIFY_KEYLESS_OP_RESPONSE:
    case PQIFY_KEYLESS_OP_PONG:
    case PQIFY_KEYLESS_OP_ERROR:
        answer_error(r, PQIFY_KEYLESS_E_UNEXPECTED_OPCODE);
        return;
    default:
        break;
    }
    /* seal, unseal, RPC, custom and anything unknown: this server has no handler */
    d = find_op(req->opcode);
    if (d == NULL) {
        answer_error(r, PQIFY_KEYLESS_E_BAD_OPCODE);
        return;
    }
    /* gokeyless: a missing (all-zero) SKI fails the key lookup itself: internal */
    if (is_zero_ski(req->ski)) {
        answer_error(r, PQIFY_KEYLESS_E_INTERNAL);
        return;
    }
    k = kl_store_find(s, req->ski);
    if (k == NULL) {
        answer_error(r, PQIFY_KEYLESS_E_KEY_NOT_FOUND);
        r->not_held = 1;
        return;
    }
    if (!kind_fits_key(d->kind, k->type) ||
        (d->digest_len != 0 && req->payload.len != d->digest_len) || k->max_sig > sizeof(r->buf)) {
        answer_error(r, PQIFY_KEYLESS_E_CRYPTO);
        return;
    }
    if (k->token != NULL)
        rc = token_operate(k, d, req->payload.data, req->payload.len, r->buf, &out_len);
    else
        rc = soft_operate(k, d, req->payload.data, req->payload.len, r->buf, &out_len);
    if (rc < 0 || out_len == 0 || out_len > sizeof(r->buf)) {
        OPENSSL_cleanse(r->buf, sizeof(r->buf));
        answer_error(r, PQIFY_KEYLESS_E_CRYPTO);
        return;
    }
    r->opcode = PQIFY_KEYLESS_OP_RESPONSE;
    r->payload.data = r->buf;
    r->payload.len = out_len;
}

void pqify_keyless_result_wipe(pqify_keyless_result *r)
{
    if (r != NULL)
        OPENSSL_cleanse(r, sizeof(*r));
}
