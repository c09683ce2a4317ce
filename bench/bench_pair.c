/*
 * In-process pqify client and server joined in memory: the bytes one flushes are
 * the bytes the other is fed. Used by `pqify demo` (a handshake per group) and by
 * `pqify bench handshake` (idle-connection memory, bulk throughput).
 */
#include "bench.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

int pqify_bench_make_cert(char **cert_pem, char **key_pem)
{
    int ok = 0;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = NULL;
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    *cert_pem = *key_pem = NULL;
    if (key == NULL || x == NULL || cb == NULL || kb == NULL)
        goto out;
    name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"pqify-bench",
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    if (PEM_write_bio_X509(cb, x) != 1 || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    *cert_pem = bio_to_string(cb);
    *key_pem = bio_to_string(kb);
    ok = *cert_pem != NULL && *key_pem != NULL;
out:
    if (!ok) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

pqify_tls_config *pqify_bench_config(int is_server, const char *cert_pem, const char *key_pem,
                                     const char *groups, const char *pq)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    pqify_pq_mode mode = PQIFY_PQ_PREFERRED;
    if (cfg == NULL)
        return NULL;
    if ((pq != NULL && (pqify_tls_pq_mode_parse(pq, &mode) != 0 ||
                        pqify_tls_config_set_pq(cfg, mode) != 0)) ||
        pqify_tls_config_set_groups(cfg, groups) != 0 ||
        pqify_tls_config_set_ciphers(cfg, "TLS_AES_128_GCM_SHA256") != 0)
        goto fail;
    if (is_server) {
        /* No session tickets: a full handshake is what is timed (the resumed row
         * turns them back on), as on the libssl baseline. */
        if (pqify_tls_config_set_cert_chain_pem(cfg, cert_pem, strlen(cert_pem)) != 0 ||
            pqify_tls_config_set_key_pem(cfg, key_pem, strlen(key_pem)) != 0 ||
            pqify_tls_config_set_tickets(cfg, 0) != 0)
            goto fail;
    } else {
        /* The server's CPU is what is measured; the self-signed test certificate is
         * not checked (a verifying client would only add client-side latency). */
        pqify_tls_config_set_verify_peer(cfg, 0);
    }
    return cfg;
fail:
    pqify_tls_config_free(cfg);
    return NULL;
}

/* Feed everything in `from` to `to` (handshake or, once established, receive). */
static int deliver(pqify_tls_conn *to, pqify_tls_buf *from, pqify_tls_buf *to_out,
                   pqify_tls_buf *plain, int *to_rc)
{
    size_t off = 0;
    while (off < from->len) {
        size_t n = from->len - off;
        int rc;
        if (pqify_tls_is_established(to)) {
            rc = pqify_tls_receive(to, plain, from->base + off, &n, to_out);
        } else {
            rc = pqify_tls_handshake(to, from->base + off, &n, to_out);
            *to_rc = rc;
        }
        if (rc < 0)
            return rc;
        off += n;
        if (n == 0)
            break;
    }
    pqify_tls_buf_consume(from, from->len);
    return 0;
}

int pqify_bench_pair_connect(const pqify_tls_config *client_cfg,
                             const pqify_tls_config *server_cfg, pqify_tls_conn **client,
                             pqify_tls_conn **server, struct pqify_bench_pair_result *res)
{
    int ret = -1, crc, src = PQIFY_TLS_IN_PROGRESS;
    pqify_tls_buf cout, sout, plain;
    size_t zero = 0;
    memset(res, 0, sizeof *res);
    pqify_tls_buf_init(&cout, NULL, 0);
    pqify_tls_buf_init(&sout, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    uint64_t t0 = pqify_bench_now_ns();
    *client = pqify_tls_conn_new(client_cfg, 0);
    *server = pqify_tls_conn_new(server_cfg, 1);
    if (*client == NULL || *server == NULL)
        goto out;
    crc = pqify_tls_handshake(*client, NULL, &zero, &cout);
    res->client_hello_bytes = cout.len;
    /* each exchange is one flight; a handshake with HRR and client auth takes 4 */
    for (int flight = 0; flight < 8 && (crc != 0 || src != 0); flight++) {
        if (crc < 0 || src < 0)
            break;
        res->client_to_server += cout.len;
        if (deliver(*server, &cout, &sout, &plain, &src) < 0)
            break;
        res->server_to_client += sout.len;
        if (deliver(*client, &sout, &cout, &plain, &crc) < 0)
            break;
    }
    res->client_to_server += cout.len;
    if (cout.len > 0 && deliver(*server, &cout, &sout, &plain, &src) < 0)
        goto out;
    if (crc != 0 || src != 0 || !pqify_tls_is_established(*server))
        goto out;
    res->ns = pqify_bench_now_ns() - t0;
    pqify_tls_info info;
    pqify_tls_get_info(*client, &info);
    res->group_id = info.group_id;
    res->is_pq = info.is_pq;
    res->hrr = info.hrr;
    ret = 0;
out:
    if (ret != 0) {
        res->client_err = pqify_tls_error(*client);
        res->server_err = pqify_tls_error(*server);
        pqify_tls_conn_free(*client);
        pqify_tls_conn_free(*server);
        *client = *server = NULL;
    }
    pqify_tls_buf_dispose(&cout);
    pqify_tls_buf_dispose(&sout);
    pqify_tls_buf_dispose(&plain);
    return ret;
}

int pqify_bench_pair_handshake(const pqify_tls_config *client_cfg,
                               const pqify_tls_config *server_cfg,
                               struct pqify_bench_pair_result *res)
{
    pqify_tls_conn *c, *s;
    int rc = pqify_bench_pair_connect(client_cfg, server_cfg, &c, &s, res);
    pqify_tls_conn_free(c);
    pqify_tls_conn_free(s);
    return rc;
}
