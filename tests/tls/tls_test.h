/*
 * Helpers for the tls tests: test certificates made with libcrypto at run time (no
 * private key is committed), and an in-memory pipe that drives a client and a server.
 */
#ifndef PQIFY_TLS_TEST_H
#define PQIFY_TLS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pqify/tls.h"

static inline void tt_unhex(const char *hex, uint8_t *out, size_t *len)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    if (len != NULL)
        *len = n;
}

/* ---- certificates ---- */

typedef struct tt_pem {
    char *data;
    size_t len;
} tt_pem;

typedef struct tt_identity {
    tt_pem chain;   /* leaf (then intermediate, if any) */
    tt_pem key;
} tt_identity;

/* id-RSASSA-PSS keys (RFC 4055): "" unrestricted, or "-HASH[-MGF1HASH]" restricted
 * to that hash (and MGF1 hash, default the same) with a salt as long as the hash */
static inline EVP_PKEY *tt_keygen_pss(const char *params)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    char md[16] = "", mgf1[16] = "";
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
    if (params[0] == '-') {
        assert_true(sscanf(params + 1, "%15[^-]-%15s", md, mgf1) >= 1);
        if (mgf1[0] == 0)
            strcpy(mgf1, md);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_keygen_md_name(ctx, md, NULL), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_keygen_mgf1_md_name(ctx, mgf1), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_keygen_saltlen(ctx, EVP_MD_get_size(EVP_get_digestbyname(md))), 1);
    }
    assert_int_equal(EVP_PKEY_generate(ctx, &k), 1);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static inline EVP_PKEY *tt_keygen(const char *type)
{
    EVP_PKEY *k = NULL;
    if (strcmp(type, "P-256") == 0 || strcmp(type, "P-384") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
    else if (strcmp(type, "RSA") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (strcmp(type, "Ed25519") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else if (strcmp(type, "Ed448") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    else if (strcmp(type, "P-521") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    else if (strncmp(type, "RSA-PSS", 7) == 0)
        k = tt_keygen_pss(type + 7);
    assert_non_null(k);
    return k;
}

static inline void tt_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* days_from/days_to relative to now; issuer NULL = self-signed. */
static inline X509 *tt_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                            int is_ca, const char *san, long days_from, long days_to)
{
    X509 *x = X509_new();
    assert_non_null(x);
    static long serial = 1;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), days_from * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), days_to * 86400L);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pqify test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : x;
    tt_add_ext(x, iss, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    tt_add_ext(x, iss, NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    tt_add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (san != NULL)
        tt_add_ext(x, iss, NID_subject_alt_name, san);
    /* Ed25519 signs without a separate digest */
    EVP_PKEY *signer = issuer_key ? issuer_key : key;
    const EVP_MD *md = EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256();
    assert_true(X509_sign(x, signer, md) > 0);
    return x;
}

static inline void tt_pem_append_cert(tt_pem *p, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    p->data = realloc(p->data, p->len + (size_t)n + 1);
    memcpy(p->data + p->len, data, (size_t)n);
    p->len += (size_t)n;
    p->data[p->len] = 0;
    BIO_free(b);
}

static inline void tt_pem_key(tt_pem *p, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    p->data = malloc((size_t)n + 1);
    memcpy(p->data, data, (size_t)n);
    p->data[n] = 0;
    p->len = (size_t)n;
    BIO_free(b);
}

/* Read back the private key, or the first certificate, of a PEM (asserted there). */
static inline EVP_PKEY *tt_pem_read_key(const tt_pem *p)
{
    BIO *b = BIO_new_mem_buf(p->data, (int)p->len);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static inline X509 *tt_pem_read_cert(const tt_pem *p)
{
    BIO *b = BIO_new_mem_buf(p->data, (int)p->len);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(x);
    return x;
}

static inline void tt_pem_free(tt_pem *p)
{
    free(p->data);
    p->data = NULL;
    p->len = 0;
}

/* A CA (P-256) that issues leaves of any key type. */
typedef struct tt_ca {
    EVP_PKEY *key;
    X509 *cert;
    tt_pem pem;
} tt_ca;

static inline void tt_ca_new(tt_ca *ca, const char *cn)
{
    memset(ca, 0, sizeof *ca);
    ca->key = tt_keygen("P-256");
    ca->cert = tt_cert(ca->key, cn, NULL, NULL, 1, NULL, -1, 3650);
    tt_pem_append_cert(&ca->pem, ca->cert);
}

static inline void tt_ca_free(tt_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    tt_pem_free(&ca->pem);
}

static inline void tt_identity_new(tt_identity *id, const tt_ca *ca, const char *key_type,
                                   const char *cn, const char *san, long days_from, long days_to)
{
    memset(id, 0, sizeof *id);
    EVP_PKEY *k = tt_keygen(key_type);
    X509 *x = tt_cert(k, cn, ca->cert, ca->key, 0, san, days_from, days_to);
    tt_pem_append_cert(&id->chain, x);
    tt_pem_key(&id->key, k);
    X509_free(x);
    EVP_PKEY_free(k);
}

static inline void tt_identity_free(tt_identity *id)
{
    tt_pem_free(&id->chain);
    tt_pem_free(&id->key);
}

/* ---- configs ---- */

static inline pqify_tls_config *tt_server_config(const tt_identity *id)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    assert_non_null(cfg);
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(cfg, id->chain.data, id->chain.len), 0);
    assert_int_equal(pqify_tls_config_set_key_pem(cfg, id->key.data, id->key.len), 0);
    return cfg;
}

static inline pqify_tls_config *tt_client_config(const tt_ca *ca, const char *server_name)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    assert_non_null(cfg);
    assert_int_equal(pqify_tls_config_set_ca_pem(cfg, ca->pem.data, ca->pem.len), 0);
    if (server_name != NULL)
        assert_int_equal(pqify_tls_config_set_server_name(cfg, server_name), 0);
    return cfg;
}

/* ---- in-memory connection pair ---- */

typedef struct tt_pair {
    pqify_tls_conn *client, *server;
    pqify_tls_buf to_server, to_client;   /* bytes in flight */
    int client_ret, server_ret;
} tt_pair;

static inline void tt_pair_new(tt_pair *p, const pqify_tls_config *ccfg, const pqify_tls_config *scfg)
{
    memset(p, 0, sizeof *p);
    p->client = pqify_tls_conn_new(ccfg, 0);
    p->server = pqify_tls_conn_new(scfg, 1);
    assert_non_null(p->client);
    assert_non_null(p->server);
    pqify_tls_buf_init(&p->to_server, NULL, 0);
    pqify_tls_buf_init(&p->to_client, NULL, 0);
    p->client_ret = p->server_ret = PQIFY_TLS_IN_PROGRESS;
}

static inline void tt_pair_free(tt_pair *p)
{
    pqify_tls_conn_free(p->client);
    pqify_tls_conn_free(p->server);
    pqify_tls_buf_dispose(&p->to_server);
    pqify_tls_buf_dispose(&p->to_client);
}

/* Feed src into conn's handshake, at most chunk bytes per call; consumed bytes leave src. */
static inline int tt_feed(pqify_tls_conn *conn, pqify_tls_buf *src, pqify_tls_buf *dst, size_t chunk)
{
    int ret = PQIFY_TLS_IN_PROGRESS;
    size_t off = 0;
    while (off < src->len) {
        size_t n = src->len - off < chunk ? src->len - off : chunk;
        size_t used = n;
        ret = pqify_tls_handshake(conn, src->base + off, &used, dst);
        off += used;
        if (ret <= 0)
            break;
        assert_int_equal(used, n);
    }
    pqify_tls_buf_consume(src, off);
    return ret;
}

/* Run the handshake until both finish or nothing moves; chunk = bytes per call. */
static inline void tt_pair_run(tt_pair *p, size_t chunk)
{
    size_t zero = 0;
    p->client_ret = pqify_tls_handshake(p->client, NULL, &zero, &p->to_server);
    for (int round = 0; round < 20; round++) {
        int moved = 0;
        if (p->to_server.len > 0 && p->server_ret > 0) {
            p->server_ret = tt_feed(p->server, &p->to_server, &p->to_client, chunk);
            moved = 1;
        }
        if (p->to_client.len > 0 && p->client_ret > 0) {
            p->client_ret = tt_feed(p->client, &p->to_client, &p->to_server, chunk);
            moved = 1;
        }
        if (!moved)
            break;
    }
    /* what the server sends after the handshake (NewSessionTickets) goes to the client
     * too, as a socket would deliver it; it carries no application data */
    if (p->client_ret == 0 && p->server_ret == 0 && p->to_client.len > 0) {
        pqify_tls_buf plain;
        pqify_tls_buf_init(&plain, NULL, 0);
        size_t used = p->to_client.len;
        assert_int_equal(pqify_tls_receive(p->client, &plain, p->to_client.base, &used, &p->to_server), 0);
        assert_int_equal(plain.len, 0);
        pqify_tls_buf_consume(&p->to_client, used);
        pqify_tls_buf_dispose(&plain);
    }
}

/* Send msg from a to b and check it arrives intact (also answers KeyUpdates). */
static inline void tt_transfer(pqify_tls_conn *a, pqify_tls_conn *b, const void *msg, size_t len,
                               size_t chunk)
{
    pqify_tls_buf wire, back, plain;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    assert_int_equal(pqify_tls_send(a, &wire, msg, len), 0);
    size_t off = 0;
    while (off < wire.len) {
        size_t n = wire.len - off < chunk ? wire.len - off : chunk, used = n;
        assert_int_equal(pqify_tls_receive(b, &plain, wire.base + off, &used, &back), 0);
        assert_int_equal(used, n);
        off += used;
    }
    assert_int_equal(plain.len, len);
    assert_memory_equal(plain.base, msg, len);
    if (back.len > 0) {
        /* e.g. a KeyUpdate answer: a must accept it */
        size_t used = back.len;
        pqify_tls_buf none;
        pqify_tls_buf_init(&none, NULL, 0);
        assert_int_equal(pqify_tls_receive(a, &plain, back.base, &used, &none), 0);
        pqify_tls_buf_dispose(&none);
    }
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&plain);
}

#endif
