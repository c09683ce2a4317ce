/*
 * pqify demo's HTTPS client (demo.h): GETs to the edge over one pqify TLS
 * connection, HTTP/1.1 (keep-alive, one request after the other; responses parsed
 * by http-parser) or HTTP/2 (nghttp2, agreed by ALPN; every request a stream, all
 * in flight at once). Blocking sockets (tls_io.c); every read bounded in time.
 */
#include "demo.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <http_parser.h>
#include <nghttp2/nghttp2.h>

#include "tls_io.h"

struct conn {
    int fd;
    pqify_pump p;
    pqify_tls_config *cfg;
};

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        if (pqify_pump_close_notify(&c->p) == 0)
            (void)cli_flush(c->fd, &c->p.out);
        pqify_pump_dispose(&c->p);
        close(c->fd);
    }
    pqify_tls_config_free(c->cfg);
}

/* Dial, handshake, check the ALPN agreed; what was negotiated goes to r. */
static int conn_open(struct conn *c, int port, const char *ca, const char *alpn, struct demo_get_result *r)
{
    char ps[16];
    const char *why = "";
    pqify_tls_options o = {.ca = ca, .server_name = "localhost", .alpn = alpn};
    c->fd = -1;
    if ((c->cfg = cli_tls_config("demo", &o, 0)) == NULL)
        return -1;
    snprintf(ps, sizeof ps, "%d", port);
    int fd = cli_dial("127.0.0.1", ps, 5000, &why);
    if (fd < 0 || pqify_pump_init(&c->p, c->cfg, 0) != 0) {
        fprintf(stderr, "pqify demo: cannot connect to the edge at 127.0.0.1:%d: %s\n", port, why);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    c->fd = fd;
    int rc = cli_handshake(fd, &c->p, 10000);
    if (rc != 0) {
        fprintf(stderr, "pqify demo: handshake with the edge failed: %s\n", cli_strerror(rc));
        return -1;
    }
    pqify_tls_info info;
    pqify_tls_get_info(c->p.conn, &info);
    snprintf(r->group, sizeof r->group, "%s", info.group);
    snprintf(r->alpn, sizeof r->alpn, "%.31s", info.alpn);
    r->is_pq = info.is_pq;
    r->hrr = info.hrr;
    r->handshake_us = (double)info.handshake_us;
    if (strcmp(info.alpn, alpn) != 0) {
        fprintf(stderr, "pqify demo: the edge agreed ALPN '%s', not %s\n", info.alpn, alpn);
        return -1;
    }
    return 0;
}

/* Hand received plaintext to eat() until done() says so; 0, or -1 when the
 * connection failed, closed or stalled (10 s without a byte). */
static int conn_until(struct conn *c, int (*eat)(void *, const uint8_t *, size_t), int (*done)(void *),
                      void *ctx)
{
    uint8_t buf[CLI_READ_CHUNK];
    pqify_pump_event ev = pqify_pump_next(&c->p);
    for (int rounds = 0; rounds < 1000000; rounds++) {
        if (cli_flush(c->fd, &c->p.out) != 0)
            return -1;
        if (done(ctx))
            return 0;
        if (ev == PQIFY_PUMP_DATA) {
            int rc = eat(ctx, c->p.plain.base, c->p.plain.len);
            pqify_tls_buf_consume(&c->p.plain, c->p.plain.len);
            if (rc != 0)
                return -1;
            ev = pqify_pump_next(&c->p);
        } else if (ev == PQIFY_PUMP_WANT_INPUT) {
            long n = cli_read(c->fd, buf, sizeof buf, 10000);
            if (n <= 0)
                return -1;
            ev = pqify_pump_feed(&c->p, buf, (size_t)n);
        } else {
            return -1;
        }
    }
    return -1;
}

/* ---- HTTP/1.1 ------------------------------------------------------------------ */

struct h1 {
    http_parser hp;
    http_parser_settings s;
    size_t complete;
    struct demo_get_result *r;
};

static int h1_body(http_parser *hp, const char *at, size_t len)
{
    (void)at;
    ((struct h1 *)hp->data)->r->body_bytes += len;
    return 0;
}

static int h1_complete(http_parser *hp)
{
    struct h1 *h = hp->data;
    h->complete++;
    h->r->ok += hp->status_code == 200;
    return 0;
}

static int h1_eat(void *ctx, const uint8_t *d, size_t len)
{
    struct h1 *h = ctx;
    size_t n = http_parser_execute(&h->hp, &h->s, (const char *)d, len);
    return n == len && HTTP_PARSER_ERRNO(&h->hp) == HPE_OK ? 0 : -1;
}

static int h1_done_one(void *ctx)
{
    struct h1 *h = ctx;
    return h->complete == h->r->sent;
}

static int gets_h1(struct conn *c, size_t n, struct demo_get_result *r)
{
    struct h1 h = {.r = r};
    http_parser_init(&h.hp, HTTP_RESPONSE);
    h.hp.data = &h;
    http_parser_settings_init(&h.s);
    h.s.on_body = h1_body;
    h.s.on_message_complete = h1_complete;
    char req[256];
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(req, sizeof req,
                           "GET /demo/http1/%zu HTTP/1.1\r\nHost: localhost\r\nUser-Agent: pqify-demo\r\n\r\n", i);
        if (pqify_pump_send(&c->p, req, (size_t)len) != 0)
            return -1;
        r->sent++;
        if (conn_until(c, h1_eat, h1_done_one, &h) != 0) {
            fprintf(stderr, "pqify demo: HTTP/1.1 request %zu through the edge got no answer\n", i);
            return -1;
        }
    }
    return 0;
}

/* ---- HTTP/2 -------------------------------------------------------------------- */

struct h2 {
    nghttp2_session *s;
    struct conn *c;
    size_t closed;
    struct demo_get_result *r;
};

static int h2_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ctx)
{
    (void)s, (void)flags;
    struct h2 *h = ctx;
    if (f->hd.type == NGHTTP2_HEADERS && nlen == 7 && memcmp(name, ":status", 7) == 0 && vlen == 3 &&
        memcmp(value, "200", 3) == 0)
        h->r->ok++;
    return 0;
}

static int h2_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len, void *ctx)
{
    (void)s, (void)flags, (void)id, (void)d;
    ((struct h2 *)ctx)->r->body_bytes += len;
    return 0;
}

static int h2_close(nghttp2_session *s, int32_t id, uint32_t code, void *ctx)
{
    (void)s, (void)id, (void)code;
    ((struct h2 *)ctx)->closed++;
    return 0;
}

/* What nghttp2 wants sent, into the engine and out. */
static int h2_flush(struct h2 *h)
{
    const uint8_t *d;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(h->s, &d)) > 0)
        if (pqify_pump_send(&h->c->p, d, (size_t)n) != 0)
            return -1;
    return n == 0 ? cli_flush(h->c->fd, &h->c->p.out) : -1;
}

static int h2_eat(void *ctx, const uint8_t *d, size_t len)
{
    struct h2 *h = ctx;
    ssize_t n = nghttp2_session_mem_recv(h->s, d, len);
    return n == (ssize_t)len ? h2_flush(h) : -1;
}

static int h2_done(void *ctx)
{
    struct h2 *h = ctx;
    return h->closed == h->r->sent;
}

static int gets_h2(struct conn *c, size_t n, struct demo_get_result *r)
{
    struct h2 h = {.c = c, .r = r};
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_close);
    int rc = nghttp2_session_client_new(&h.s, cb, &h);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    rc = nghttp2_submit_settings(h.s, NGHTTP2_FLAG_NONE, NULL, 0) == 0 ? 0 : -1;
    char path[64];
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    for (size_t i = 0; rc == 0 && i < n; i++) {
        snprintf(path, sizeof path, "/demo/h2/%zu", i);
        nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "https"), NV(":authority", "localhost"),
                           NV(":path", path), NV("user-agent", "pqify-demo")};
        rc = nghttp2_submit_request(h.s, NULL, nv, sizeof nv / sizeof nv[0], NULL, NULL) > 0 ? 0 : -1;
        r->sent += rc == 0;
    }
#undef NV
    if (rc == 0)
        rc = h2_flush(&h);
    if (rc == 0 && conn_until(c, h2_eat, h2_done, &h) != 0) {
        fprintf(stderr, "pqify demo: %zu of %zu HTTP/2 streams through the edge ended\n", h.closed, r->sent);
        rc = -1;
    }
    if (rc == 0 && nghttp2_session_terminate_session(h.s, NGHTTP2_NO_ERROR) == 0)
        (void)h2_flush(&h);
    nghttp2_session_del(h.s);
    return rc;
}

int demo_https_gets(int port, const char *ca, int h2, size_t n, struct demo_get_result *r)
{
    struct conn c;
    memset(r, 0, sizeof *r);
    int rc = conn_open(&c, port, ca, h2 ? "h2" : "http/1.1", r);
    if (rc == 0)
        rc = h2 ? gets_h2(&c, n, r) : gets_h1(&c, n, r);
    conn_close(&c);
    return rc;
}
