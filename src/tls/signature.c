/* Signature schemes (RFC 8446 §4.2.3) over libcrypto keys. */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "internal.h"

const uint16_t tls_offered_schemes[] = {
    TLS_SIG_ECDSA_P256_SHA256,   TLS_SIG_ECDSA_P384_SHA384,   TLS_SIG_ED25519,
    TLS_SIG_RSA_PSS_RSAE_SHA256, TLS_SIG_RSA_PSS_RSAE_SHA384, TLS_SIG_RSA_PSS_RSAE_SHA512,
    TLS_SIG_RSA_PSS_PSS_SHA256,  TLS_SIG_RSA_PSS_PSS_SHA384,  TLS_SIG_RSA_PSS_PSS_SHA512,
};
const size_t tls_n_offered_schemes = sizeof tls_offered_schemes / sizeof tls_offered_schemes[0];

/* Chains are signed by CAs with older algorithms too (§4.2.3 signature_algorithms_cert). */
const uint16_t tls_offered_cert_schemes[] = {
    TLS_SIG_ECDSA_P256_SHA256,   TLS_SIG_ECDSA_P384_SHA384,   TLS_SIG_ECDSA_P521_SHA512,
    TLS_SIG_ED25519,             TLS_SIG_RSA_PSS_RSAE_SHA256, TLS_SIG_RSA_PSS_RSAE_SHA384,
    TLS_SIG_RSA_PSS_RSAE_SHA512, TLS_SIG_RSA_PSS_PSS_SHA256,  TLS_SIG_RSA_PSS_PSS_SHA384,
    TLS_SIG_RSA_PSS_PSS_SHA512,  TLS_SIG_RSA_PKCS1_SHA256,    TLS_SIG_RSA_PKCS1_SHA384,
    TLS_SIG_RSA_PKCS1_SHA512,
};
const size_t tls_n_offered_cert_schemes =
    sizeof tls_offered_cert_schemes / sizeof tls_offered_cert_schemes[0];


/* The TLS names of SHA-2 digests as libcrypto spells them in RSA-PSS parameters */
static int sha2_bits(const char *name)
{
    static const struct { const char *name; int bits; } names[] = {
        {"SHA256", 256}, {"SHA2-256", 256}, {"SHA-256", 256}, {"sha256", 256},
        {"SHA384", 384}, {"SHA2-384", 384}, {"SHA-384", 384}, {"sha384", 384},
        {"SHA512", 512}, {"SHA2-512", 512}, {"SHA-512", 512}, {"sha512", 512},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].bits;
    return 0;
}

/*
 * An id-RSASSA-PSS key (RFC 4055) may carry parameters that restrict its use: one
 * hash, one MGF1 hash, a minimum salt length. RFC 8446 §4.2.3's rsa_pss_pss_*
 * schemes fix all three (MGF1 with the same hash, salt as long as the hash), so
 * a restricted key fits at most the one scheme its hash names, and none when its
 * MGF1 hash differs or its minimum salt is longer. Unrestricted keys fit all three.
 */
/* RFC 4055 §1.2: an id-RSASSA-PSS key with parameters in its AlgorithmIdentifier
 * is restricted to them; absent parameters leave it free */
static int pss_key_restricted(EVP_PKEY *key)
{
    X509_PUBKEY *pub = NULL;
    const X509_ALGOR *alg = NULL;
    int ptype = V_ASN1_UNDEF, restricted = 0;
    if (X509_PUBKEY_set(&pub, key) == 1 && X509_PUBKEY_get0_param(NULL, NULL, NULL, (X509_ALGOR **)&alg, pub) == 1) {
        X509_ALGOR_get0(NULL, &ptype, NULL, alg);
        restricted = ptype == V_ASN1_SEQUENCE;
    }
    X509_PUBKEY_free(pub);
    return restricted;
}

static size_t pss_key_schemes(EVP_PKEY *key, uint16_t *out, char *why, size_t cap)
{
    char md[64], mgf1[64] = "SHA1";   /* RFC 4055 §3.1: MGF1 defaults to SHA-1 */
    int saltlen = 20;                       /* and the salt to 20 bytes */
    OSSL_PARAM *params = NULL;
    const OSSL_PARAM *p;
    if (!pss_key_restricted(key)) {
        out[0] = TLS_SIG_RSA_PSS_PSS_SHA256;
        out[1] = TLS_SIG_RSA_PSS_PSS_SHA384;
        out[2] = TLS_SIG_RSA_PSS_PSS_SHA512;
        return 3;
    }
    snprintf(md, sizeof md, "SHA1");   /* RFC 4055 §3.1: the hash defaults to SHA-1 */
    /* a restricted key exports those of its parameters not at their default */
    if (EVP_PKEY_todata(key, EVP_PKEY_KEY_PARAMETERS, &params) == 1) {
        const char *v = NULL;
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_DIGEST)) != NULL &&
            OSSL_PARAM_get_utf8_string_ptr(p, &v) == 1)
            snprintf(md, sizeof md, "%s", v);
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_MGF1_DIGEST)) != NULL &&
            OSSL_PARAM_get_utf8_string_ptr(p, &v) == 1)
            snprintf(mgf1, sizeof mgf1, "%s", v);
        if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_PSS_SALTLEN)) != NULL)
            (void)OSSL_PARAM_get_int(p, &saltlen);
    }
    OSSL_PARAM_free(params);
    ERR_clear_error();
    int bits = sha2_bits(md);
    if (bits == 0 || sha2_bits(mgf1) != bits || saltlen > bits / 8) {
        if (why != NULL)
            snprintf(why, cap,
                     "its RSA-PSS parameters (hash %s, MGF1 %s, salt at least %d bytes) fit no TLS 1.3 "
                     "scheme: rsa_pss_pss_sha256/384/512 need MGF1 with the same SHA-2 hash and a "
                     "salt as long as the hash (RFC 8446 4.2.3)",
                     md, mgf1, saltlen);
        return 0;
    }
    out[0] = bits == 256 ? TLS_SIG_RSA_PSS_PSS_SHA256
           : bits == 384 ? TLS_SIG_RSA_PSS_PSS_SHA384 : TLS_SIG_RSA_PSS_PSS_SHA512;
    return 1;
}

static size_t schemes_for_key(EVP_PKEY *key, uint16_t *out, size_t max, char *why, size_t cap)
{
    size_t n = 0;
    if (why != NULL && cap > 0)
        why[0] = 0;
    if (max < 3)
        return 0;
    if (EVP_PKEY_is_a(key, "RSA-PSS")) {
        return pss_key_schemes(key, out, why, cap);
    } else if (EVP_PKEY_is_a(key, "RSA")) {
        out[n++] = TLS_SIG_RSA_PSS_RSAE_SHA256;
        out[n++] = TLS_SIG_RSA_PSS_RSAE_SHA384;
        out[n++] = TLS_SIG_RSA_PSS_RSAE_SHA512;
    } else if (EVP_PKEY_is_a(key, "ED25519")) {
        out[n++] = TLS_SIG_ED25519;
    } else if (EVP_PKEY_is_a(key, "EC")) {
        char curve[32] = "";
        size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve,
                                           &len) != 1)
            curve[0] = 0;
        if (strcmp(curve, "prime256v1") == 0 || strcmp(curve, "P-256") == 0)
            out[n++] = TLS_SIG_ECDSA_P256_SHA256;
        else if (strcmp(curve, "secp384r1") == 0 || strcmp(curve, "P-384") == 0)
            out[n++] = TLS_SIG_ECDSA_P384_SHA384;
        else if (why != NULL)
            snprintf(why, cap, "it is an EC key on curve %s; pqify signs with P-256 or P-384 only",
                     curve[0] != 0 ? curve : "(unnamed)");
    }
    if (n == 0 && why != NULL && why[0] == 0)
        snprintf(why, cap,
                 "it is a %s key; TLS 1.3 CertificateVerify is signed here with P-256, P-384, "
                 "Ed25519, RSA or RSA-PSS keys",
                 EVP_PKEY_get0_type_name(key) != NULL ? EVP_PKEY_get0_type_name(key) : "unknown");
    return n;
}

size_t tls_schemes_for_key(EVP_PKEY *key, uint16_t *out, size_t max)
{
    return schemes_for_key(key, out, max, NULL, 0);
}

void tls_key_unusable_reason(EVP_PKEY *key, char *why, size_t cap)
{
    uint16_t s[TLS_MAX_KEY_SCHEMES];
    (void)schemes_for_key(key, s, TLS_MAX_KEY_SCHEMES, why, cap);
}

/* Digest name and whether the scheme is RSA-PSS; NULL digest for Ed25519. */
static int scheme_params(uint16_t scheme, const char **md, int *pss)
{
    *pss = 0;
    switch (scheme) {
    case TLS_SIG_ECDSA_P256_SHA256: *md = "SHA256"; return 0;
    case TLS_SIG_ECDSA_P384_SHA384: *md = "SHA384"; return 0;
    case TLS_SIG_RSA_PSS_RSAE_SHA256: *md = "SHA256"; *pss = 1; return 0;
    case TLS_SIG_RSA_PSS_RSAE_SHA384: *md = "SHA384"; *pss = 1; return 0;
    case TLS_SIG_RSA_PSS_RSAE_SHA512: *md = "SHA512"; *pss = 1; return 0;
    case TLS_SIG_RSA_PSS_PSS_SHA256: *md = "SHA256"; *pss = 1; return 0;
    case TLS_SIG_RSA_PSS_PSS_SHA384: *md = "SHA384"; *pss = 1; return 0;
    case TLS_SIG_RSA_PSS_PSS_SHA512: *md = "SHA512"; *pss = 1; return 0;
    case TLS_SIG_ED25519: *md = NULL; return 0;
    }
    return -1;
}

/* §4.4.3: in TLS 1.3 the scheme fixes the key type (and the ECDSA curve). */
static int key_fits(EVP_PKEY *key, uint16_t scheme)
{
    uint16_t mine[TLS_MAX_KEY_SCHEMES];
    size_t n = tls_schemes_for_key(key, mine, TLS_MAX_KEY_SCHEMES);
    for (size_t i = 0; i < n; i++)
        if (mine[i] == scheme)
            return 1;
    return 0;
}

static int init_ctx(EVP_MD_CTX *md_ctx, EVP_PKEY *key, uint16_t scheme, int sign)
{
    const char *md;
    int pss;
    EVP_PKEY_CTX *pctx = NULL;
    if (scheme_params(scheme, &md, &pss) < 0 || !key_fits(key, scheme))
        return -1;
    int ok = sign ? EVP_DigestSignInit_ex(md_ctx, &pctx, md, NULL, NULL, key, NULL)
                  : EVP_DigestVerifyInit_ex(md_ctx, &pctx, md, NULL, NULL, key, NULL);
    if (ok != 1)
        return -1;
    if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        return -1;
    return 0;
}

EVP_PKEY_CTX *tls_ecdsa_sign_template(EVP_PKEY *key)
{
    if (!EVP_PKEY_is_a(key, "EC"))
        return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1)
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

/*
 * ECDSA over the prefetched digest on a dup of the config's prepared context:
 * EVP_DigestSignInit_ex fetches the digest and the signature method by name and
 * checks the key on every call (about 40k instructions, 12% of the signature).
 * Same signature as EVP_DigestSign: ECDSA signs H(tbs) (RFC 8446 §4.4.3), DER.
 */
static int ecdsa_sign_prepared(EVP_PKEY_CTX *tmpl, const tls_hash *h, const uint8_t *tbs,
                               size_t tbs_len, uint8_t *sig, size_t cap, size_t *sig_len)
{
    int ret = 0;
    uint8_t digest[TLS_MAX_HASH];
    size_t n = cap;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_dup(tmpl);
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    tls_hash_oneshot(h, tbs, tbs_len, digest);
    ENSURE(EVP_PKEY_sign(ctx, sig, &n, digest, h->len) == 1 && n <= cap, PQIFY_TLS_ERR_SIGN);
    *sig_len = n;
out:
    EVP_PKEY_CTX_free(ctx);
    return ret;
}

int tls_sign_with_key(EVP_PKEY *key, EVP_PKEY_CTX *ecdsa_sign, uint16_t scheme,
                      const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t cap,
                      size_t *sig_len)
{
    int ret = 0;
    EVP_MD_CTX *ctx = NULL;
    size_t n = 0;
    /* ecdsa_sign exists only for EC keys, and the scheme came from the key's own list
     * (tls_pick_scheme over tls_schemes_for_key at configuration), so it fits the curve */
    if (ecdsa_sign != NULL && (scheme == TLS_SIG_ECDSA_P256_SHA256 ||
                               scheme == TLS_SIG_ECDSA_P384_SHA384)) {
        return ecdsa_sign_prepared(ecdsa_sign,
                                   scheme == TLS_SIG_ECDSA_P256_SHA256 ? tls_sha256() : tls_sha384(),
                                   tbs, tbs_len, sig, cap, sig_len);
    }
    ctx = EVP_MD_CTX_new();
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(init_ctx(ctx, key, scheme, 1) == 0, PQIFY_TLS_ERR_SIGN);
    ENSURE(EVP_DigestSign(ctx, NULL, &n, tbs, tbs_len) == 1 && n <= cap, PQIFY_TLS_ERR_SIGN);
    ENSURE(EVP_DigestSign(ctx, sig, &n, tbs, tbs_len) == 1, PQIFY_TLS_ERR_SIGN);
    *sig_len = n;
out:
    EVP_MD_CTX_free(ctx);
    return ret;
}

int tls_verify_signature(EVP_PKEY *key, uint16_t scheme, const uint8_t *tbs, size_t tbs_len,
                         const uint8_t *sig, size_t sig_len)
{
    int ret = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    /* a scheme that does not fit the certificate key is illegal_parameter (§4.4.3) */
    ENSURE(init_ctx(ctx, key, scheme, 0) == 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    ENSURE(EVP_DigestVerify(ctx, sig, sig_len, tbs, tbs_len) == 1, PQIFY_TLS_ERR_BAD_SIGNATURE);
out:
    EVP_MD_CTX_free(ctx);
    return ret;
}
