/*
 * The keyless signer (keyless_client.h): a certificate whose private key lives on a
 * key server. The TLS engine asks for CertificateVerify with a SignatureScheme and
 * the bytes to sign (RFC 8446 §4.4.3); the scheme picks the gokeyless opcode and
 * the hash, the certificate's public key the SKI, and the key server signs through
 * the client's pool while the handshake waits (PQIFY_TLS_SIGN_PENDING).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "internal.h"
#include "pqify/keyless_client.h"

/* TLS SignatureScheme codes (RFC 8446 §4.2.3) */
#define SCHEME_ECDSA_P256_SHA256 0x0403
#define SCHEME_ECDSA_P384_SHA384 0x0503
#define SCHEME_ECDSA_P521_SHA512 0x0603
#define SCHEME_RSA_PSS_RSAE_SHA256 0x0804
#define SCHEME_RSA_PSS_RSAE_SHA384 0x0805
#define SCHEME_RSA_PSS_RSAE_SHA512 0x0806
#define SCHEME_ED25519 0x0807

struct pqify_keyless_remote_key {
    pqify_keyless_client *client;
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES];
    uint16_t schemes[3];
    pqify_tls_signer signer;
};

uint8_t pqify_keyless_scheme_opcode(uint16_t scheme, size_t *digest_len)
{
    size_t d = 0;
    uint8_t op = 0;
    switch (scheme) {
    case SCHEME_ECDSA_P256_SHA256: op = PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, d = 32; break;
    case SCHEME_ECDSA_P384_SHA384: op = PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA384, d = 48; break;
    case SCHEME_ECDSA_P521_SHA512: op = PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA512, d = 64; break;
    case SCHEME_RSA_PSS_RSAE_SHA256: op = PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, d = 32; break;
    case SCHEME_RSA_PSS_RSAE_SHA384: op = PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA384, d = 48; break;
    case SCHEME_RSA_PSS_RSAE_SHA512: op = PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA512, d = 64; break;
    case SCHEME_ED25519: op = PQIFY_KEYLESS_OP_ED25519_SIGN, d = 0; break; /* PureEdDSA: the message */
    default: break;
    }
    if (digest_len != NULL)
        *digest_len = d;
    return op;
}

/* The engine calls this inside the handshake; the answer comes later. */
static int sign_pending(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                        size_t sig_capacity, size_t *sig_len)
{
    (void)ctx, (void)scheme, (void)tbs, (void)tbs_len, (void)sig, (void)sig_capacity, (void)sig_len;
    return PQIFY_TLS_SIGN_PENDING;
}

pqify_keyless_remote_key *pqify_keyless_remote_key_new(pqify_keyless_client *c, const char *cert_file,
                                                       char *err, size_t cap)
{
    pqify_keyless_remote_key *k = NULL;
    X509 *x = NULL;
    FILE *f = cert_file ? fopen(cert_file, "r") : NULL;
    if (c == NULL || f == NULL) {
        kl_err(err, cap, "%s: cannot open the certificate", cert_file ? cert_file : "(none)");
        goto fail;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        kl_err(err, cap, "%s: no PEM certificate in it", cert_file);
        goto fail;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        kl_err(err, cap, "out of memory");
        goto fail;
    }
    EVP_PKEY *pub = X509_get0_pubkey(x);
    char why[256];
    int type = pub ? kl_key_type(pub, why, sizeof why) : 0;
    if (type == 0 || pqify_keyless_ski(pub, k->ski) != 0) {
        kl_err(err, cap, "%s: the certificate's key is not one a key server signs with (%s)",
               cert_file, pub ? why : "unreadable");
        goto fail;
    }
    size_t n = 0;
    switch (type) {
    case PQIFY_KEYLESS_KEY_RSA:
        k->schemes[n++] = SCHEME_RSA_PSS_RSAE_SHA256;
        k->schemes[n++] = SCHEME_RSA_PSS_RSAE_SHA384;
        k->schemes[n++] = SCHEME_RSA_PSS_RSAE_SHA512;
        break;
    case PQIFY_KEYLESS_KEY_EC_P256: k->schemes[n++] = SCHEME_ECDSA_P256_SHA256; break;
    case PQIFY_KEYLESS_KEY_EC_P384: k->schemes[n++] = SCHEME_ECDSA_P384_SHA384; break;
    default: k->schemes[n++] = SCHEME_ED25519; break;
    }
    k->client = c;
    k->signer.ctx = k;
    k->signer.schemes = k->schemes;
    k->signer.n_schemes = n;
    k->signer.sign = sign_pending;
    X509_free(x);
    return k;
fail:
    X509_free(x);
    free(k);
    return NULL;
}

void pqify_keyless_remote_key_free(pqify_keyless_remote_key *k)
{
    free(k);
}

const uint8_t *pqify_keyless_remote_key_ski(const pqify_keyless_remote_key *k)
{
    return k->ski;
}

const pqify_tls_signer *pqify_keyless_signer(pqify_keyless_remote_key *k)
{
    return &k->signer;
}

/* On the client's thread: hand the answer to the stream's loop. */
static void on_signed(void *arg, const pqify_keyless_reply *r)
{
    pqify_stream_signature *h = arg;
    char why[160];
    if (r->status != 0) {
        pqify_stream_signature_post(h, NULL, 0, pqify_keyless_strerror(r->status));
    } else if (r->opcode == PQIFY_KEYLESS_OP_RESPONSE && r->len > 0) {
        pqify_stream_signature_post(h, r->payload, r->len, NULL);
    } else {
        snprintf(why, sizeof why, "the key server answered %s %u (%s)",
                 r->opcode == PQIFY_KEYLESS_OP_ERROR ? "error" : "opcode",
                 r->opcode == PQIFY_KEYLESS_OP_ERROR ? r->error : r->opcode,
                 r->opcode == PQIFY_KEYLESS_OP_ERROR ? pqify_keyless_wire_error_name(r->error)
                                                     : pqify_keyless_op_name(r->opcode));
        pqify_stream_signature_post(h, NULL, 0, why);
    }
}

void pqify_keyless_sign_stream(pqify_stream *s, pqify_keyless_remote_key *k)
{
    uint16_t scheme = 0;
    const uint8_t *tbs = NULL;
    size_t tbs_len = 0, dlen = 0;
    uint8_t digest[EVP_MAX_MD_SIZE];
    const uint8_t *payload = NULL;
    size_t plen = 0;
    const char *why = NULL;
    pqify_stream_signature *h = pqify_stream_signature_begin(s);
    if (h == NULL)
        return; /* no signature pending, or out of memory: the handshake timeout ends it */
    uint8_t op = 0;
    if (pqify_stream_signature_request(s, &scheme, &tbs, &tbs_len) != 0) {
        why = "no signature request";
    } else if ((op = pqify_keyless_scheme_opcode(scheme, &dlen)) == 0) {
        why = "the signature scheme is not one a key server signs";
    } else if (dlen == 0) {
        payload = tbs, plen = tbs_len;
    } else {
        const EVP_MD *md = dlen == 32 ? EVP_sha256() : dlen == 48 ? EVP_sha384() : EVP_sha512();
        unsigned int n = 0;
        if (EVP_Digest(tbs, tbs_len, digest, &n, md, NULL) != 1 || n != dlen)
            why = "hashing the handshake failed";
        payload = digest, plen = n;
    }
    if (why == NULL) {
        int rc = pqify_keyless_client_submit(k->client, op, k->ski, payload, plen, on_signed, h);
        if (rc != 0)
            why = pqify_keyless_strerror(rc);
    }
    if (why != NULL)
        pqify_stream_signature_post(h, NULL, 0, why);
}
