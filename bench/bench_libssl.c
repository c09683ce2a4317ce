/*
 * libssl 3.0 baseline server for `pqify bench handshake` (see bench_libssl.h).
 * Configured as a deployment would be for a fair comparison: one group, the same
 * suite the pqify server picks, no session tickets (libssl sends two after every
 * full handshake by default, which pqify's server does not).
 */
#include "bench_libssl.h"
#include "pqify/net/pump.h"

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

struct bench_libssl {
    SSL_CTX *ctx;
};

struct bench_libssl_conn {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
};

static void report(const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, "pqify bench handshake: libssl %s failed%s%s\n", what, e ? ": " : "", buf);
    ERR_clear_error();
}

bench_libssl *bench_libssl_new(const char *cert_pem, const char *key_pem, const char *group)
{
    bench_libssl *s = calloc(1, sizeof *s);
    BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
    X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int ok = 0;
    if (s == NULL || cert == NULL || key == NULL) {
        report("reading the certificate");
        goto out;
    }
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (s->ctx == NULL || SSL_CTX_set_min_proto_version(s->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(s->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(s->ctx, "TLS_AES_128_GCM_SHA256") != 1 ||
        SSL_CTX_set1_groups_list(s->ctx, group) != 1 || SSL_CTX_use_certificate(s->ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey(s->ctx, key) != 1 || SSL_CTX_set_num_tickets(s->ctx, 0) != 1) {
        report("server set-up");
        goto out;
    }
    SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
    ok = 1;
out:
    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
        bench_libssl_free(s);
        s = NULL;
    }
    return s;
}

void bench_libssl_free(bench_libssl *s)
{
    if (s == NULL)
        return;
    SSL_CTX_free(s->ctx);
    free(s);
}

/* Move whatever libssl wrote to the pqify client's pump, and its output back;
 * *plain_bytes (if not NULL) grows by the application data that came. */
static int carry(bench_libssl_conn *c, pqify_pump *client, size_t *plain_bytes)
{
    uint8_t buf[16384 + 512];
    int n;
    while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
        pqify_pump_event ev = pqify_pump_feed(client, buf, (size_t)n);
        for (; ev == PQIFY_PUMP_HANDSHAKE_DONE || ev == PQIFY_PUMP_DATA; ev = pqify_pump_next(client)) {
            if (plain_bytes != NULL)
                *plain_bytes += client->plain.len;
            pqify_tls_buf_consume(&client->plain, client->plain.len);
        }
        if (ev != PQIFY_PUMP_WANT_INPUT)
            return -1;
    }
    if (client->out.len > 0) {
        if (BIO_write(c->rbio, client->out.base, (int)client->out.len) != (int)client->out.len)
            return -1;
        pqify_tls_buf_consume(&client->out, client->out.len);
    }
    return 0;
}

int bench_libssl_callgrind;

/* Callgrind counts only libssl's server calls when the driver asks for it
 * (bench/callgrind/); a client request costs a few instructions otherwise. */
static void bench_libssl_collect(int on)
{
    (void)on;
    if (bench_libssl_callgrind)
        CALLGRIND_TOGGLE_COLLECT;
}

bench_libssl_conn *bench_libssl_conn_new(bench_libssl *s)
{
    bench_libssl_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    bench_libssl_collect(1);
    c->ssl = SSL_new(s->ctx);
    bench_libssl_collect(0);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        report("SSL_new");
        bench_libssl_conn_free(c);
        return NULL;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    return c;
}

/* 1: the byte was read and answered; 0: libssl wants more input; -1: failed. */
static int serve_progress(bench_libssl_conn *c)
{
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1)
            return SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    unsigned char b;
    int r = SSL_read(c->ssl, &b, 1);
    if (r != 1)
        return SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ ? 0 : -1;
    return SSL_write(c->ssl, &b, 1) == 1 ? 1 : -1;
}

int bench_libssl_serve_step(bench_libssl_conn *c, const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t cap, size_t *out_len)
{
    int rc = -1;
    if (in_len <= (size_t)INT_MAX &&
        (in_len == 0 || BIO_write(c->rbio, in, (int)in_len) == (int)in_len))
        rc = serve_progress(c);
    /* what libssl wrote goes out even after a failure: it may be an alert */
    while (BIO_ctrl_pending(c->wbio) > 0) {
        size_t room = cap - *out_len;
        int n = BIO_read(c->wbio, out + *out_len, room > (size_t)INT_MAX ? INT_MAX : (int)room);
        if (n <= 0) {
            rc = -1;   /* more than cap */
            break;
        }
        *out_len += (size_t)n;
    }
    if (rc < 0)
        report("handshake");
    return rc;
}

bench_libssl_conn *bench_libssl_accept_mem(bench_libssl *s, const pqify_tls_config *client_cfg,
                                           pqify_pump *client)
{
    bench_libssl_conn *c = bench_libssl_conn_new(s);
    if (pqify_pump_init(client, client_cfg, 0) != 0 || c == NULL)
        goto fail;
    if (pqify_pump_next(client) != PQIFY_PUMP_WANT_INPUT)
        goto fail;
    if (BIO_write(c->rbio, client->out.base, (int)client->out.len) != (int)client->out.len)
        goto fail;
    pqify_tls_buf_consume(&client->out, client->out.len);
    for (int round = 0; round < 8; round++) {
        bench_libssl_collect(1);
        int r = SSL_do_handshake(c->ssl);
        bench_libssl_collect(0);
        if (r != 1 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
            report("in-memory handshake");
            goto fail;
        }
        if (carry(c, client, NULL) != 0)
            goto fail;
        if (r == 1 && pqify_pump_established(client))
            break;
    }
    if (!SSL_is_init_finished(c->ssl) || !pqify_pump_established(client))
        goto fail;
    return c;
fail:
    pqify_pump_dispose(client);
    bench_libssl_conn_free(c);
    return NULL;
}

void bench_libssl_conn_free(bench_libssl_conn *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl);
    free(c);
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_libssl_bulk(bench_libssl_conn *c, pqify_pump *client, size_t total, size_t chunk,
                      uint64_t *seal_ns, uint64_t *open_ns)
{
    int ret = -1;
    uint8_t *data = calloc(1, chunk);
    *seal_ns = *open_ns = 0;
    if (data == NULL)
        goto out;
    for (size_t done = 0; done < total; done += chunk) {
        uint64_t t0 = thread_cpu_ns();
        if (SSL_write(c->ssl, data, (int)chunk) != (int)chunk)
            goto out;
        *seal_ns += thread_cpu_ns() - t0;
        size_t got = 0;
        if (carry(c, client, &got) != 0 || got != chunk)
            goto out;
    }
    for (size_t done = 0; done < total; done += chunk) {
        if (pqify_pump_send(client, data, chunk) != 0 ||
            BIO_write(c->rbio, client->out.base, (int)client->out.len) != (int)client->out.len)
            goto out;
        pqify_tls_buf_consume(&client->out, client->out.len);
        uint64_t t0 = thread_cpu_ns();
        size_t got = 0;
        while (got < chunk) {
            int n = SSL_read(c->ssl, data, (int)(chunk - got));
            if (n <= 0)
                goto out;
            got += (size_t)n;
        }
        *open_ns += thread_cpu_ns() - t0;
    }
    ret = 0;
out:
    if (ret != 0)
        report("bulk transfer");
    free(data);
    return ret;
}
