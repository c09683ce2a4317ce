/*
 * Shared by the libFuzzer harnesses and the seed generator: a test PKI that is the
 * same in every process (Ed25519 keys from fixed seeds, fixed validity dates, and
 * Ed25519 signatures are deterministic), so a certificate seed written by
 * gen_seeds verifies in every later fuzzing run without any file being shared.
 * No private key is committed: the keys are derived here at run time.
 */
#ifndef PQIFY_FUZZ_COMMON_H
#define PQIFY_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pqify/tls.h"

#define FUZZ_SERVER_NAME "server.test"

static inline void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz setup: %s\n", what);
    abort();
}

static inline EVP_PKEY *fuzz_ed25519(uint8_t tag)
{
    uint8_t seed[32];
    memset(seed, tag, sizeof seed);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
    if (k == NULL)
        fuzz_die("Ed25519 key");
    return k;
}

static inline void fuzz_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL || X509_add_ext(x, e, -1) != 1)
        fuzz_die("extension");
    X509_EXTENSION_free(e);
}

static inline X509 *fuzz_cert(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
                              EVP_PKEY *issuer_key, const char *san)
{
    X509 *x = X509_new();
    if (x == NULL)
        fuzz_die("X509_new");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    if (ASN1_TIME_set_string(X509_getm_notBefore(x), "20240101000000Z") != 1 ||
        ASN1_TIME_set_string(X509_getm_notAfter(x), "20991231000000Z") != 1)
        fuzz_die("validity");
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    fuzz_ext(x, iss, NID_basic_constraints, issuer ? "CA:FALSE" : "critical,CA:TRUE");
    fuzz_ext(x, iss, NID_key_usage, issuer ? "critical,digitalSignature" : "critical,keyCertSign");
    if (san != NULL)
        fuzz_ext(x, iss, NID_subject_alt_name, san);
    if (X509_sign(x, issuer_key ? issuer_key : key, NULL) <= 0)
        fuzz_die("X509_sign");
    return x;
}

/* What was written to the memory BIO b, as a NUL-terminated heap copy; frees b. */
static inline char *fuzz_bio_text(BIO *b, size_t *len)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *copy = n < 0 ? NULL : malloc((size_t)n + 1);
    if (copy == NULL)
        fuzz_die("PEM copy");
    memcpy(copy, data, (size_t)n);
    copy[n] = 0;
    *len = (size_t)n;
    BIO_free(b);
    return copy;
}

static inline char *fuzz_pem_cert(X509 *x, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_X509(b, x) != 1)
        fuzz_die("PEM cert");
    return fuzz_bio_text(b, len);
}

static inline char *fuzz_pem_key(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
        fuzz_die("PEM key");
    return fuzz_bio_text(b, len);
}

typedef struct fuzz_pki {
    char *ca_pem, *server_chain_pem, *server_key_pem, *client_chain_pem, *client_key_pem;
    size_t ca_len, server_chain_len, server_key_len, client_chain_len, client_key_len;
    /* a second server identity, chosen by SNI through its wildcard name */
    char *wild_chain_pem, *wild_key_pem;
    size_t wild_chain_len, wild_key_len;
} fuzz_pki;

static inline void fuzz_pki_init(fuzz_pki *pki)
{
    EVP_PKEY *ca_key = fuzz_ed25519(0xca), *server_key = fuzz_ed25519(0x5e),
             *client_key = fuzz_ed25519(0xc1), *wild_key = fuzz_ed25519(0x77);
    X509 *ca = fuzz_cert(ca_key, "pqify fuzz CA", 1, NULL, NULL, NULL);
    X509 *server = fuzz_cert(server_key, FUZZ_SERVER_NAME, 2, ca, ca_key, "DNS:" FUZZ_SERVER_NAME);
    X509 *client = fuzz_cert(client_key, "client.test", 3, ca, ca_key, NULL);
    X509 *wild = fuzz_cert(wild_key, "wild.test", 4, ca, ca_key, "DNS:*.wild.test,DNS:Wild.TEST");
    pki->ca_pem = fuzz_pem_cert(ca, &pki->ca_len);
    pki->server_chain_pem = fuzz_pem_cert(server, &pki->server_chain_len);
    pki->server_key_pem = fuzz_pem_key(server_key, &pki->server_key_len);
    pki->client_chain_pem = fuzz_pem_cert(client, &pki->client_chain_len);
    pki->client_key_pem = fuzz_pem_key(client_key, &pki->client_key_len);
    pki->wild_chain_pem = fuzz_pem_cert(wild, &pki->wild_chain_len);
    pki->wild_key_pem = fuzz_pem_key(wild_key, &pki->wild_key_len);
    X509_free(wild);
    EVP_PKEY_free(wild_key);
    X509_free(ca);
    X509_free(server);
    X509_free(client);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(server_key);
    EVP_PKEY_free(client_key);
}

static inline void fuzz_pki_free(fuzz_pki *pki)
{
    free(pki->ca_pem);
    free(pki->server_chain_pem);
    free(pki->server_key_pem);   /* a fixed, public test key: nothing to wipe */
    free(pki->client_chain_pem);
    free(pki->client_key_pem);
    free(pki->wild_chain_pem);
    free(pki->wild_key_pem);
    memset(pki, 0, sizeof *pki);
}

/* A fixed wall clock and ticket secret, so a ticket recorded in a seed opens and
 * passes its age check in every later run (resumption paths stay reachable). */
static inline uint64_t fuzz_clock(void *ctx)
{
    (void)ctx;
    return 1767225600000u;   /* 2026-01-01T00:00:00Z */
}

static inline void fuzz_tickets(pqify_tls_config *cfg)
{
    uint8_t secret[32];
    memset(secret, 0x7e, sizeof secret);
    if (pqify_tls_config_set_ticket_secret(cfg, secret, sizeof secret) != 0)
        fuzz_die("ticket secret");
    pqify_tls_config_set_clock(cfg, fuzz_clock, NULL);
}

/* A server that requests client certificates when mtls is set. */
static inline pqify_tls_config *fuzz_server_config(const fuzz_pki *pki, int mtls)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    if (cfg == NULL ||
        pqify_tls_config_set_cert_chain_pem(cfg, pki->server_chain_pem, pki->server_chain_len) != 0 ||
        pqify_tls_config_set_key_pem(cfg, pki->server_key_pem, pki->server_key_len) != 0)
        fuzz_die("server config");
    /* fuzzed server_names reach the name rule (src/tls/identity.c) with a wildcard
     * identity to match */
    if (pqify_tls_config_add_identity(cfg, pki->wild_chain_pem, pki->wild_chain_len, pki->wild_key_pem,
                                      pki->wild_key_len, NULL) != 1)
        fuzz_die("server wildcard identity");
    if (mtls && pqify_tls_config_set_ca_pem(cfg, pki->ca_pem, pki->ca_len) != 0)
        fuzz_die("server CA");
    fuzz_tickets(cfg);
    return cfg;
}

static inline pqify_tls_config *fuzz_client_config(const fuzz_pki *pki, int mtls)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    if (cfg == NULL || pqify_tls_config_set_ca_pem(cfg, pki->ca_pem, pki->ca_len) != 0 ||
        pqify_tls_config_set_server_name(cfg, FUZZ_SERVER_NAME) != 0)
        fuzz_die("client config");
    if (mtls &&
        (pqify_tls_config_set_cert_chain_pem(cfg, pki->client_chain_pem, pki->client_chain_len) != 0 ||
         pqify_tls_config_set_key_pem(cfg, pki->client_key_pem, pki->client_key_len) != 0))
        fuzz_die("client identity");
    pqify_tls_config_set_clock(cfg, fuzz_clock, NULL);
    return cfg;
}

#endif
