/*
 * The connector's HTTP/1.1 client to origins (http:// over TCP, unix: over a Unix
 * socket), with a keep-alive pool per origin address. Responses are parsed by
 * http-parser. Memory stays bounded: request body bytes are copied only as HTTP/2
 * flow control lets them in, and a response is read only while the connector's
 * buffer for it is below its high-water mark (origin_req_pause).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "internal.h"
#include "pqify/net/dialer.h"
#include "pqify/net/stream.h"
#include "pqify/net/tls_options.h"

#define MAX_HEADERS 128
/* https:// origins: request body bytes queued in the TLS stream beyond this wait before
 * their HTTP/2 credit goes back (the stream has no "drained" callback: a short timer
 * looks again) */
#define TLS_QUEUE_HIGH (1u << 20)
#define TLS_CREDIT_POLL_MS 2

typedef struct tls_cfg {
    struct tls_cfg *next;
    char key[700];
    pqify_tls_config *cfg;
} tls_cfg;

typedef struct origin_conn origin_conn;

struct origin_pool {
    uv_loop_t *loop;
    origin_conn *idle;          /* idle keep-alive connections, any origin */
    size_t n_idle;
    tls_cfg *tls;               /* client configs of https:// origins, built on first use */
    int freeing;
};

struct origin_conn {
    origin_pool *pool;
    uv_stream_t *handle;        /* uv_tcp_t from the dialer or our uv_pipe_t; NULL while connecting */
    pqify_stream *tls;          /* https://: the TLS stream owns the TCP handle instead */
    uv_timer_t *credit_timer;   /* https://: credit held back while the TLS queue is long */
    size_t held_credit;
    int tls_up;
    char key[160];              /* "tcp HOST PORT" or "unix PATH": which idle connections fit */
    origin_req *req;            /* the exchange on it, NULL when idle */
    origin_conn *next_idle;
    http_parser parser;
    int closing;
};

typedef struct pending {
    struct pending *next;
    size_t len, body;
    uint8_t data[];
} pending;

struct origin_req {
    origin_pool *pool;
    origin_conn *conn;
    const pqify_ingress_rule *rule;
    origin_cbs cbs;
    void *ctx;
    pqify_dialer *dialer;
    uv_pipe_t *pipe;            /* unix: while connecting */
    uv_connect_t *pipe_connect; /* unix: its data goes NULL when r stops waiting for it */
    uv_timer_t *timer;          /* unix: connect timeout */
    pending *queue, *queue_tail;   /* written once connected */
    int chunked, is_head, req_ended, head_seen, resp_done, keep_alive, failed, released, paused;
    int interim;                /* parsing a 1xx response that is not passed on */
    /* the response head being parsed: name\0value\0 pairs */
    char *hbuf;
    size_t hlen, hcap;
    size_t n_fields;
    size_t field_off[MAX_HEADERS], value_off[MAX_HEADERS];
    int last_was_value;
};

typedef struct write_req {
    uv_write_t w;
    origin_conn *conn;
    size_t body;                /* request body bytes in it (reported by on_sent) */
    size_t len;
    uint8_t data[];
} write_req;

static const http_parser_settings parser_settings;

int pqify_tunnel_hop_header(const uint8_t *name, size_t len)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "te", "trailer", "proxy-authenticate", "proxy-authorization"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strlen(hop[i]) == len && strncasecmp((const char *)name, hop[i], len) == 0)
            return 1;
    return 0;
}

origin_pool *origin_pool_new(uv_loop_t *loop)
{
    origin_pool *p = calloc(1, sizeof *p);
    if (p != NULL)
        p->loop = loop;
    return p;
}

static void conn_closed(uv_handle_t *h)
{
    origin_conn *c = h->data;
    free(h);
    free(c);
}

static void timer_free(uv_handle_t *h) { free(h); }

static void conn_close(origin_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->credit_timer != NULL) {
        uv_close((uv_handle_t *)c->credit_timer, timer_free);
        c->credit_timer = NULL;
    }
    if (c->tls != NULL) {
        pqify_stream_close(c->tls);   /* tls_closed frees c */
        return;
    }
    if (c->handle == NULL) {
        free(c);
        return;
    }
    uv_read_stop(c->handle);
    uv_close((uv_handle_t *)c->handle, conn_closed);
}

static void idle_remove(origin_pool *p, origin_conn *c)
{
    for (origin_conn **pp = &p->idle; *pp != NULL; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            p->n_idle--;
            return;
        }
}

void origin_pool_free(origin_pool *p)
{
    if (p == NULL)
        return;
    while (p->idle != NULL) {
        origin_conn *c = p->idle;
        idle_remove(p, c);
        conn_close(c);
    }
    while (p->tls != NULL) {
        tls_cfg *t = p->tls;
        p->tls = t->next;
        pqify_tls_config_free(t->cfg);
        free(t);
    }
    free(p);
}

/* ---- failing and finishing ---- */

static void req_fail(origin_req *r, const char *why)
{
    if (r->failed || r->released)
        return;
    r->failed = 1;
    if (r->conn != NULL) {
        r->conn->req = NULL;
        conn_close(r->conn);
        r->conn = NULL;
    }
    r->cbs.on_error(r, why, r->ctx);
}

/* ---- writing ---- */

static void on_written(uv_write_t *w, int status)
{
    write_req *wr = (write_req *)w;
    origin_conn *c = wr->conn;
    origin_req *r = c->req;
    size_t body = wr->body;
    free(wr);
    if (r == NULL || r->released || r->failed)
        return;
    if (status < 0) {
        req_fail(r, uv_strerror(status));
        return;
    }
    if (body > 0 && r->cbs.on_sent != NULL)
        r->cbs.on_sent(r, body, r->ctx);
}

static void credit_poll(uv_timer_t *t);

/* TLS: credit for body bytes goes back once the stream's queue is short again */
static void tls_credit(origin_conn *c)
{
    origin_req *r = c->req;
    if (c->held_credit == 0 || r == NULL || r->released || r->failed)
        return;
    if (pqify_stream_queued(c->tls) > TLS_QUEUE_HIGH) {
        if (c->credit_timer == NULL && (c->credit_timer = malloc(sizeof *c->credit_timer)) != NULL) {
            uv_timer_init(c->pool->loop, c->credit_timer);
            c->credit_timer->data = c;
        }
        if (c->credit_timer != NULL)
            uv_timer_start(c->credit_timer, credit_poll, TLS_CREDIT_POLL_MS, 0);
        return;
    }
    size_t n = c->held_credit;
    c->held_credit = 0;
    if (r->cbs.on_sent != NULL)
        r->cbs.on_sent(r, n, r->ctx);
}

static void credit_poll(uv_timer_t *t) { tls_credit(t->data); }

static int conn_write(origin_conn *c, const uint8_t *data, size_t len, size_t body)
{
    if (c->tls != NULL) {
        int ret = pqify_stream_send(c->tls, data, len);
        if (ret == 0 && body > 0) {
            c->held_credit += body;
            tls_credit(c);
        }
        return ret;
    }
    write_req *wr = malloc(sizeof *wr + len);
    if (wr == NULL)
        return -1;
    wr->conn = c;
    wr->body = body;
    wr->len = len;
    memcpy(wr->data, data, len);
    uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)len);
    int ret = uv_write(&wr->w, c->handle, &b, 1, on_written);
    if (ret < 0)
        free(wr);
    return ret;
}

/* data with chunk framing when chunked (RFC 9112 §7.1) */
static int req_send(origin_req *r, const uint8_t *data, size_t len, size_t body)
{
    pending *p = malloc(sizeof *p + len + 24);
    if (p == NULL)
        return -1;
    size_t n = 0;
    if (r->chunked && body > 0)
        n = (size_t)snprintf((char *)p->data, 24, "%zx\r\n", body);
    memcpy(p->data + n, data, len);
    n += len;
    if (r->chunked && body > 0) {
        memcpy(p->data + n, "\r\n", 2);
        n += 2;
    }
    p->len = n;
    p->body = body;
    p->next = NULL;
    if (r->conn != NULL && (r->conn->handle != NULL || r->conn->tls_up) && r->queue == NULL) {
        int ret = conn_write(r->conn, p->data, p->len, p->body);
        free(p);
        return ret;
    }
    if (r->queue_tail != NULL)
        r->queue_tail->next = p;
    else
        r->queue = p;
    r->queue_tail = p;
    return 0;
}

static void flush_queue(origin_req *r)
{
    while (r->queue != NULL && !r->failed) {
        pending *p = r->queue;
        r->queue = p->next;
        if (r->queue == NULL)
            r->queue_tail = NULL;
        int ret = conn_write(r->conn, p->data, p->len, p->body);
        free(p);
        if (ret < 0)
            req_fail(r, uv_strerror(ret));
    }
}

int origin_req_write(origin_req *r, const uint8_t *data, size_t len)
{
    if (r->failed || r->req_ended)
        return -1;
    if (len == 0)
        return 0;
    return req_send(r, data, len, len);
}

int origin_req_end(origin_req *r)
{
    if (r->failed || r->req_ended)
        return r->failed ? -1 : 0;
    r->req_ended = 1;
    if (r->chunked)
        return req_send(r, (const uint8_t *)"0\r\n\r\n", 5, 0);
    return 0;
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536];   /* one loop thread: the parser copies what it keeps */
    *buf = uv_buf_init(slab, sizeof slab);
}

/* bytes from the origin (plain or decrypted) */
static void conn_input(origin_conn *c, const char *data, size_t n)
{
    origin_req *r = c->req;
    if (r == NULL) {
        /* idle: the origin spoke out of turn */
        idle_remove(c->pool, c);
        conn_close(c);
        return;
    }
    size_t done = http_parser_execute(&c->parser, &parser_settings, data, n);
    r = c->req;
    if (r == NULL || r->failed)
        return;
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK && HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED) {
        char why[160];
        snprintf(why, sizeof why, "the origin's response is not HTTP/1.1: %s",
                 http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
        req_fail(r, why);
        return;
    }
    if (r->resp_done && done < n)
        r->keep_alive = 0;   /* bytes after the response: never reuse */
}

/* the origin closed (EOF) or the connection failed (why) */
static void conn_eof(origin_conn *c, int is_eof, const char *why)
{
    origin_req *r = c->req;
    if (r == NULL) {
        idle_remove(c->pool, c);
        conn_close(c);
        return;
    }
    /* EOF ends a response delimited by the close (RFC 9112 §6.3 item 8) */
    if (is_eof)
        http_parser_execute(&c->parser, &parser_settings, NULL, 0);
    r = c->req;
    if (r != NULL && !r->resp_done)
        req_fail(r, is_eof ? "the origin closed the connection before the response ended" : why);
    else if (r != NULL)
        r->keep_alive = 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    origin_conn *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0)
        conn_eof(c, nread == UV_EOF, uv_strerror((int)nread));
    else
        conn_input(c, buf->base, (size_t)nread);
}

static origin_req *parser_req(http_parser *p)
{
    origin_conn *c = p->data;
    return c->req;
}

static int hb_put(origin_req *r, const char *at, size_t len)
{
    if (r->hlen + len + 1 > TUNNEL_MAX_HEAD)
        return -1;
    if (r->hlen + len + 1 > r->hcap) {
        size_t cap = r->hcap ? r->hcap * 2 : 4096;
        while (cap < r->hlen + len + 1)
            cap *= 2;
        char *b = realloc(r->hbuf, cap);
        if (b == NULL)
            return -1;
        r->hbuf = b;
        r->hcap = cap;
    }
    memcpy(r->hbuf + r->hlen, at, len);
    r->hlen += len;
    return 0;
}

static int on_message_begin(http_parser *p)
{
    origin_req *r = parser_req(p);
    if (r == NULL)
        return -1;
    r->hlen = 0;
    r->n_fields = 0;
    r->last_was_value = 1;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    origin_req *r = parser_req(p);
    if (r->last_was_value) {
        if (r->n_fields > 0 && hb_put(r, "", 1) < 0)   /* end the previous value */
            return -1;
        if (r->n_fields == MAX_HEADERS)
            return -1;
        r->field_off[r->n_fields++] = r->hlen;
        r->last_was_value = 0;
    }
    return hb_put(r, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    origin_req *r = parser_req(p);
    if (!r->last_was_value) {
        if (hb_put(r, "", 1) < 0)   /* end the name */
            return -1;
        r->value_off[r->n_fields - 1] = r->hlen;
        r->last_was_value = 1;
    }
    return hb_put(r, at, len);
}

static int on_headers_complete(http_parser *p)
{
    origin_req *r = parser_req(p);
    if (r->n_fields > 0 && r->last_was_value && hb_put(r, "", 1) < 0)
        return -1;
    int status = p->status_code;
    /* RFC 9110 §15.2: interim answers are not the response; 101 would switch protocols */
    if (status >= 100 && status < 200) {
        if (status == 101)
            return -1;
        r->interim = 1;
        return 0;
    }
    r->interim = 0;
    nghttp2_nv nv[MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < r->n_fields; i++) {
        char *name = r->hbuf + r->field_off[i];
        size_t nlen = strlen(name);
        for (size_t k = 0; k < nlen; k++)
            if (name[k] >= 'A' && name[k] <= 'Z')
                name[k] = (char)(name[k] - 'A' + 'a');
        if (pqify_tunnel_hop_header((const uint8_t *)name, nlen))
            continue;
        const char *value = r->hbuf + r->value_off[i];
        nv[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, strlen(value), NGHTTP2_NV_FLAG_NONE};
    }
    r->head_seen = 1;
    r->cbs.on_head(r, status, nv, n, r->ctx);
    if (r->released || r->failed)
        return -1;
    return r->is_head || status == 204 || status == 304 ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    origin_req *r = parser_req(p);
    if (r == NULL || r->released || r->failed)
        return -1;
    r->cbs.on_body(r, (const uint8_t *)at, len, r->ctx);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    origin_req *r = parser_req(p);
    if (r == NULL || r->released || r->failed)
        return -1;
    if (r->interim) {
        r->interim = 0;
        return 0;
    }
    r->resp_done = 1;
    r->keep_alive = http_should_keep_alive(p);
    r->cbs.on_end(r, r->ctx);
    http_parser_pause(p, 1);   /* nothing more belongs to this exchange */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connecting ---- */

static void start_exchange(origin_req *r, origin_conn *c)
{
    r->conn = c;
    c->req = r;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    if (c->tls != NULL) {
        pqify_stream_hold_reading(c->tls, r->paused);
        flush_queue(r);
        return;
    }
    c->handle->data = c;
    int ret = uv_read_start(c->handle, on_alloc, on_read);
    if (ret < 0) {
        req_fail(r, uv_strerror(ret));
        return;
    }
    if (r->paused)
        uv_read_stop(c->handle);
    flush_queue(r);
}

/* ---- https:// origins: a pqify TLS client stream (pq preferred on the way out) ---- */

static pqify_tls_config *tls_for(origin_pool *p, const pqify_ingress_rule *rule, char *err, size_t cap)
{
    const char *name = rule->origin_server_name != NULL ? rule->origin_server_name : rule->host;
    char key[700];
    snprintf(key, sizeof key, "%s|%s|%d", rule->ca_pool ? rule->ca_pool : "", name, rule->no_tls_verify);
    for (tls_cfg *t = p->tls; t != NULL; t = t->next)
        if (strcmp(t->key, key) == 0)
            return t->cfg;
    /* no caPool: the system's trust store (the engine's default) */
    pqify_tls_options o = {.ca = rule->ca_pool, .server_name = name, .pq = "preferred", .alpn = "http/1.1"};
    pqify_tls_config *cfg = pqify_tls_options_build(&o, 0, PQIFY_PQ_PREFERRED, err, cap);
    if (cfg == NULL)
        return NULL;
    if (rule->no_tls_verify)
        pqify_tls_config_set_verify_peer(cfg, 0);
    tls_cfg *t = calloc(1, sizeof *t);
    if (t == NULL) {
        pqify_tls_config_free(cfg);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    snprintf(t->key, sizeof t->key, "%s", key);
    t->cfg = cfg;
    t->next = p->tls;
    p->tls = t;
    return cfg;
}

static void tls_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    origin_conn *c = ctx;
    c->tls_up = 1;
    if (c->req != NULL)
        start_exchange(c->req, c);
}

static void tls_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    origin_conn *c = ctx;
    if (!c->closing)
        conn_input(c, (const char *)data, len);
}

static void tls_closed(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    origin_conn *c = ctx;
    c->tls = NULL;
    if (!c->closing) {
        char why[200];
        snprintf(why, sizeof why, "%s%s", c->tls_up ? "" : "TLS to the origin failed: ", pqify_stream_strerror(status));
        c->closing = 1;   /* nothing left to close */
        if (c->credit_timer != NULL) {
            uv_close((uv_handle_t *)c->credit_timer, timer_free);
            c->credit_timer = NULL;
        }
        conn_eof(c, c->tls_up && (status == 0 || status == PQIFY_STREAM_EOF), why);
        if (c->req != NULL) {
            c->req->conn = NULL;
            c->req = NULL;
        }
    }
    free(c);
}

static const pqify_stream_cbs tls_cbs = {tls_handshake, tls_data, NULL, tls_closed};

static void tls_connect(origin_req *r, origin_conn *c, uv_tcp_t *tcp)
{
    char err[300];
    pqify_tls_config *cfg = tls_for(r->pool, r->rule, err, sizeof err);
    if (cfg == NULL) {
        uv_close((uv_handle_t *)tcp, timer_free);
        char why[400];
        snprintf(why, sizeof why, "TLS to the origin: %s", err);
        req_fail(r, why);
        return;
    }
    pqify_stream_opts so = {.handshake_timeout_ms = r->rule->connect_timeout_ms};
    if (pqify_stream_connect(r->pool->loop, tcp, cfg, &so, &tls_cbs, c, &c->tls) != 0) {
        c->tls = NULL;
        req_fail(r, "TLS to the origin: cannot start the handshake");
    }
}

static void on_dialled(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    origin_req *r = ctx;
    pqify_dialer_free(d);
    r->dialer = NULL;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof why, "cannot connect to the origin %s:%s: %s", r->rule->host, r->rule->port,
                 uv_strerror(status));
        req_fail(r, why);
        return;
    }
    origin_conn *c = r->conn;
    if (r->rule->kind == PQIFY_ORIGIN_HTTPS) {
        tls_connect(r, c, tcp);
        return;
    }
    c->handle = (uv_stream_t *)tcp;
    start_exchange(r, c);
}

static void pipe_timer_closed(uv_handle_t *h) { free(h); }

static void on_pipe_connected(uv_connect_t *cr, int status)
{
    origin_req *r = cr->data;
    free(cr);
    if (r == NULL)
        return;   /* timed out or released: the pipe is already closing */
    r->pipe_connect = NULL;
    if (r->timer != NULL) {
        uv_close((uv_handle_t *)r->timer, pipe_timer_closed);
        r->timer = NULL;
    }
    uv_pipe_t *pipe = r->pipe;
    r->pipe = NULL;
    origin_conn *c = r->conn;
    c->handle = (uv_stream_t *)pipe;
    pipe->data = c;
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof why, "cannot connect to the origin unix:%s: %s", r->rule->unix_path,
                 status == UV_ECANCELED ? "connection timed out" : uv_strerror(status));
        req_fail(r, why);
        return;
    }
    start_exchange(r, c);
}

/* stop waiting for a Unix socket connect: close the pipe (the connect callback then
 * runs with UV_ECANCELED and finds nobody) */
static void pipe_abandon(origin_req *r)
{
    if (r->timer != NULL) {
        uv_close((uv_handle_t *)r->timer, pipe_timer_closed);
        r->timer = NULL;
    }
    if (r->pipe_connect != NULL) {
        r->pipe_connect->data = NULL;
        r->pipe_connect = NULL;
    }
    if (r->pipe != NULL) {
        origin_conn *c = r->conn;
        c->req = NULL;
        c->handle = (uv_stream_t *)r->pipe;
        c->closing = 1;
        r->pipe->data = c;
        uv_close((uv_handle_t *)r->pipe, conn_closed);
        r->pipe = NULL;
        r->conn = NULL;
    }
}

static void on_pipe_timeout(uv_timer_t *t)
{
    origin_req *r = t->data;
    pipe_abandon(r);
    req_fail(r, "cannot connect to the origin: connection timed out");
}

static int dial(origin_req *r, origin_conn *c)
{
    const pqify_ingress_rule *rule = r->rule;
    if (rule->kind == PQIFY_ORIGIN_UNIX) {
        r->pipe = calloc(1, sizeof *r->pipe);
        r->timer = calloc(1, sizeof *r->timer);
        if (r->pipe == NULL || r->timer == NULL || uv_pipe_init(r->pool->loop, r->pipe, 0) < 0) {
            free(r->pipe);
            free(r->timer);
            r->pipe = NULL;
            r->timer = NULL;
            return -1;
        }
        r->pipe->data = c;
        r->pipe_connect = malloc(sizeof *r->pipe_connect);
        if (r->pipe_connect == NULL) {
            uv_close((uv_handle_t *)r->pipe, pipe_timer_closed);
            free(r->timer);
            r->pipe = NULL;
            r->timer = NULL;
            return -1;
        }
        r->pipe_connect->data = r;
        uv_pipe_connect(r->pipe_connect, r->pipe, rule->unix_path, on_pipe_connected);
        uv_timer_init(r->pool->loop, r->timer);
        r->timer->data = r;
        uv_timer_start(r->timer, on_pipe_timeout, rule->connect_timeout_ms, 0);
        return 0;
    }
    pqify_dialer_opts o = {.host = rule->host, .port = rule->port, .connect_timeout_ms = rule->connect_timeout_ms,
                           .max_attempts = 1};
    r->dialer = pqify_dialer_new(r->pool->loop, &o, on_dialled, r);
    if (r->dialer == NULL)
        return -1;
    if (pqify_dialer_start(r->dialer) < 0) {
        pqify_dialer_free(r->dialer);
        r->dialer = NULL;
        return -1;
    }
    return 0;
}

static void make_key(const pqify_ingress_rule *rule, char *key, size_t cap)
{
    if (rule->kind == PQIFY_ORIGIN_UNIX)
        snprintf(key, cap, "unix %s", rule->unix_path);
    else if (rule->kind == PQIFY_ORIGIN_HTTPS)
        snprintf(key, cap, "tls %s %s %s %s %d", rule->host, rule->port, rule->ca_pool ? rule->ca_pool : "",
                 rule->origin_server_name ? rule->origin_server_name : "", rule->no_tls_verify);
    else
        snprintf(key, cap, "tcp %s %s", rule->host, rule->port);
}

origin_req *origin_req_start(origin_pool *p, const pqify_ingress_rule *rule, const char *head, size_t head_len,
                             int chunked, int is_head, const origin_cbs *cbs, void *ctx)
{
    origin_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->pool = p;
    r->rule = rule;
    r->cbs = *cbs;
    r->ctx = ctx;
    r->chunked = chunked;
    r->is_head = is_head;
    /* the head goes first in the queue, with the framing headers and the blank line */
    char tail[96];
    int tn = snprintf(tail, sizeof tail, "%s\r\n", chunked ? "Transfer-Encoding: chunked\r\n" : "");
    pending *h = malloc(sizeof *h + head_len + (size_t)tn);
    if (h == NULL) {
        free(r);
        return NULL;
    }
    memcpy(h->data, head, head_len);
    memcpy(h->data + head_len, tail, (size_t)tn);
    h->len = head_len + (size_t)tn;
    h->body = 0;
    h->next = NULL;
    r->queue = r->queue_tail = h;

    char key[160];
    make_key(rule, key, sizeof key);
    for (origin_conn *c = p->idle; c != NULL; c = c->next_idle)
        if (strcmp(c->key, key) == 0) {
            idle_remove(p, c);
            if (c->handle != NULL)
                uv_read_stop(c->handle);
            start_exchange(r, c);
            return r;
        }
    origin_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        free(h);
        free(r);
        return NULL;
    }
    c->pool = p;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->req = r;
    r->conn = c;
    if (dial(r, c) < 0) {
        free(c);
        free(h);
        free(r);
        return NULL;
    }
    return r;
}

void origin_req_pause(origin_req *r, int pause)
{
    if (r->paused == pause)
        return;
    r->paused = pause;
    if (r->conn == NULL || r->conn->closing)
        return;
    if (r->conn->tls != NULL) {
        if (r->conn->tls_up)
            pqify_stream_hold_reading(r->conn->tls, pause);
        return;
    }
    if (r->conn->handle == NULL)
        return;
    if (pause)
        uv_read_stop(r->conn->handle);
    else if (uv_read_start(r->conn->handle, on_alloc, on_read) < 0)
        req_fail(r, "cannot read from the origin");
}

void origin_req_release(origin_req *r)
{
    if (r == NULL)
        return;
    r->released = 1;
    if (r->dialer != NULL) {
        pqify_dialer_free(r->dialer);
        r->dialer = NULL;
        free(r->conn);   /* never connected */
        r->conn = NULL;
    }
    pipe_abandon(r);
    origin_conn *c = r->conn;
    if (c != NULL) {
        c->req = NULL;
        origin_pool *p = r->pool;
        if (r->resp_done && r->req_ended && r->keep_alive && r->queue == NULL && !r->failed &&
            p->n_idle < r->rule->keep_alive_connections && !c->closing && c->held_credit == 0 &&
            (c->tls != NULL ? (pqify_stream_hold_reading(c->tls, 0), 1)
                            : uv_read_start(c->handle, on_alloc, on_read) == 0)) {
            c->next_idle = p->idle;
            p->idle = c;
            p->n_idle++;
        } else
            conn_close(c);
    }
    while (r->queue != NULL) {
        pending *q = r->queue;
        r->queue = q->next;
        free(q);
    }
    free(r->hbuf);
    free(r);
}
