/*
 * The HTTP/1.1 origin client (include/pqify/net/http_origin.h), folded from the edge's
 * and the tunnel connector's own copies: the edge's transport (one timer per
 * connection for connect, response and idle timeouts; pqify_stream_on_writable for
 * https:// backpressure; failures inside a caller's call reported from the loop) with
 * the tunnel's shape (a request apart from its connection, callbacks, chunked framing,
 * credit for body bytes that reached the socket, pause/resume).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "pqify/net/dialer.h"
#include "pqify/net/http_origin.h"
#include "pqify/net/stream.h"

#define MAX_HEAD (64u * 1024u)
#define MAX_FIELDS 128u

enum conn_state { C_CONNECTING, C_OPEN, C_CLOSED };

typedef struct chunk {
    struct chunk *next;
    size_t len, body;   /* body: request body bytes in it (for on_sent) */
    uint8_t data[];
} chunk;

typedef struct conn conn;

struct pqify_http_origin {
    uv_loop_t *loop;
    pqify_http_origin_opts o;
    char *host, *port, *path;
    conn *idle;
    size_t n_idle;
    size_t live;                /* connections not yet freed */
    int closing;
};

struct pqify_http_origin_req {
    pqify_http_origin *pool;
    conn *c;                    /* NULL once the exchange let go of it */
    pqify_http_origin_cbs cbs;
    void *ctx;
    unsigned flags;
    int reused, ended, resp_done, keep_alive, failed, paused, up_full;
};

struct conn {
    pqify_http_origin *pool;
    pqify_http_origin_req *r;
    enum conn_state state;
    uv_stream_t *raw;           /* http:// (uv_tcp_t) and unix: (uv_pipe_t) */
    pqify_stream *tls;          /* https:// */
    pqify_dialer *dialer;
    uv_connect_t pipe_connect;
    uv_timer_t timer;           /* connect (unix:), response, idle, a deferred failure */
    int handles;                /* timer + transport not yet gone */
    chunk *pending, *pending_tail;   /* written before the connection was up */
    size_t pending_len, raw_queued, held_credit;
    int idle, reading;
    conn *next_idle, *prev_idle;
    /* the response being parsed */
    http_parser rp;
    int head_done, interim, complete, in_value;
    int upgraded;               /* a 101 to an UPGRADE request: raw bytes from here */
    char *hbuf;
    size_t hlen, hcap, n_fields;
    size_t name_off[MAX_FIELDS], value_off[MAX_FIELDS];
    enum pqify_http_origin_error fail_e;   /* a failure inside a caller's call */
    const char *fail_why;
};

typedef struct raw_write {
    uv_write_t w;
    conn *c;
    size_t len, body;
    uint8_t data[];
} raw_write;

static _Thread_local uint8_t read_buf[65536];   /* one loop thread; the parser copies what it keeps */

static void conn_close(conn *c);
static void conn_fail(conn *c, enum pqify_http_origin_error e, const char *why);
static void start_reading(conn *c);
static void on_timer(uv_timer_t *t);

static size_t high_water(const pqify_http_origin *p)
{
    return p->o.high_water ? p->o.high_water : 256u * 1024u;
}

/* ---- the pool's bookkeeping ---------------------------------------------------------- */

static void pool_maybe_free(pqify_http_origin *p)
{
    if (!p->closing || p->live > 0)
        return;
    if (p->o.own_tls)
        pqify_tls_config_free(p->o.tls);
    free(p->host);
    free(p->port);
    free(p->path);
    free(p);
}

static void conn_unref(conn *c)
{
    if (--c->handles > 0)
        return;
    pqify_http_origin *p = c->pool;
    for (chunk *k = c->pending, *n; k != NULL; k = n) {
        n = k->next;
        free(k);
    }
    free(c->hbuf);
    free(c);
    p->live--;
    pool_maybe_free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (h != (uv_handle_t *)&c->timer)
        free(h);
    conn_unref(c);
}

static void unlink_idle(conn *c)
{
    if (!c->idle)
        return;
    if (c->prev_idle != NULL)
        c->prev_idle->next_idle = c->next_idle;
    else
        c->pool->idle = c->next_idle;
    if (c->next_idle != NULL)
        c->next_idle->prev_idle = c->prev_idle;
    c->idle = 0;
    c->pool->n_idle--;
}

/* Close: the handles go (their callbacks free c); a TLS stream's on_close comes later. */
static void conn_close(conn *c)
{
    if (c->state == C_CLOSED)
        return;
    unlink_idle(c);
    c->state = C_CLOSED;
    if (c->r != NULL) {
        c->r->c = NULL;
        c->r = NULL;
    }
    uv_timer_stop(&c->timer);
    if (c->dialer != NULL) {
        pqify_dialer_free(c->dialer);
        c->dialer = NULL;
    }
    if (c->raw != NULL) {
        uv_close((uv_handle_t *)c->raw, on_handle_closed);
        c->raw = NULL;
    } else if (c->tls != NULL) {
        pqify_stream_close(c->tls);   /* its on_close lets go of c */
    } else {
        c->handles--;                 /* no transport came */
    }
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* The request fails; the connection goes with it. Last callback. */
static void conn_fail(conn *c, enum pqify_http_origin_error e, const char *why)
{
    pqify_http_origin_req *r = c->r;
    conn_close(c);
    if (r != NULL && !r->failed) {
        r->failed = 1;
        r->cbs.on_error(r, e, why, r->ctx);
    }
}

/* A failure inside the caller's own call: reported from the loop, so the caller never
 * hears of it inside pqify_http_origin_write. */
static void defer_fail(conn *c, enum pqify_http_origin_error e, const char *why)
{
    if (c->fail_why == NULL) {
        c->fail_e = e;
        c->fail_why = why;
    }
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* ---- writing ------------------------------------------------------------------------- */

static void check_writable(conn *c)
{
    pqify_http_origin_req *r = c->r;
    if (r == NULL || !r->up_full || pqify_http_origin_queued(r) > high_water(c->pool) / 2)
        return;
    r->up_full = 0;
    if (r->cbs.on_writable != NULL)
        r->cbs.on_writable(r, r->ctx);
}

static void raw_written(uv_write_t *w, int status)
{
    raw_write *rw = (raw_write *)w;
    conn *c = rw->c;
    size_t body = rw->body;
    c->raw_queued -= rw->len;
    free(rw);
    if (status < 0 || c->state == C_CLOSED || c->r == NULL)
        return;   /* the read side reports the failure */
    pqify_http_origin_req *r = c->r;
    if (body > 0 && r->cbs.on_sent != NULL)
        r->cbs.on_sent(r, body, r->ctx);
    if (c->r == r)
        check_writable(c);
}

/* https://: credit for body bytes goes back while the stream's queue is short; beyond
 * its high-water mark it waits for the stream's on_writable (tls_writable). */
static void tls_credit(conn *c)
{
    pqify_http_origin_req *r = c->r;
    if (c->held_credit == 0 || r == NULL ||
        pqify_stream_queued(c->tls) > PQIFY_STREAM_DEFAULT_HIGH_WATER)
        return;
    size_t n = c->held_credit;
    c->held_credit = 0;
    if (r->cbs.on_sent != NULL)
        r->cbs.on_sent(r, n, r->ctx);
}

static void arm_response_timer(conn *c)
{
    if (c->state == C_OPEN && c->fail_why == NULL && c->pool->o.response_timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, c->pool->o.response_timeout_ms, 0);
}

/* Copy bufs into dst, skipping the first skip bytes. */
static void gather(uint8_t *dst, const uv_buf_t *bufs, unsigned nb, size_t skip)
{
    for (unsigned i = 0; i < nb; i++) {
        size_t l = bufs[i].len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(dst, bufs[i].base + skip, l - skip);
        dst += l - skip;
        skip = 0;
    }
}

/* One message (a head, a body piece with its chunk framing) in one write: body is the
 * request body bytes in it, credited (on_sent) once they reached the socket. */
static void conn_sendv(conn *c, const uv_buf_t *bufs, unsigned nb, size_t body)
{
    size_t len = 0;
    for (unsigned i = 0; i < nb; i++)
        len += bufs[i].len;
    if (len == 0 || c->state == C_CLOSED || c->fail_why != NULL)
        return;
    if (!c->head_done)
        arm_response_timer(c);   /* a long upload keeps the wait for the head going */
    if (c->state == C_CONNECTING) {
        chunk *k = malloc(sizeof *k + len);
        if (k == NULL) {
            defer_fail(c, PQIFY_HTTP_ORIGIN_NOMEM, "out of memory");
            return;
        }
        k->next = NULL;
        k->len = len;
        k->body = body;
        gather(k->data, bufs, nb, 0);
        if (c->pending_tail != NULL)
            c->pending_tail->next = k;
        else
            c->pending = k;
        c->pending_tail = k;
        c->pending_len += len;
        return;
    }
    if (c->tls != NULL) {
        for (unsigned i = 0; i < nb; i++)
            if (pqify_stream_send(c->tls, bufs[i].base, bufs[i].len) != 0) {
                defer_fail(c, PQIFY_HTTP_ORIGIN_CLOSED, "write to the origin failed");
                return;
            }
        c->held_credit += body;
        tls_credit(c);
        return;
    }
    size_t off = 0;
    if (c->raw_queued == 0) {
        /* Straight into the kernel when it takes it (a request head, a small body):
         * one writev, no copy, no allocation. */
        int n = uv_try_write(c->raw, bufs, nb);
        if (n > 0)
            off = (size_t)n;
        if (off == len) {
            if (body > 0 && c->r != NULL && c->r->cbs.on_sent != NULL)
                c->r->cbs.on_sent(c->r, body, c->r->ctx);   /* last: it may release */
            return;
        }
    }
    raw_write *rw = malloc(sizeof *rw + (len - off));
    if (rw == NULL) {
        defer_fail(c, PQIFY_HTTP_ORIGIN_NOMEM, "out of memory");
        return;
    }
    rw->c = c;
    rw->len = len - off;
    rw->body = body;   /* credited when the rest is written */
    gather(rw->data, bufs, nb, off);
    uv_buf_t b = uv_buf_init((char *)rw->data, (unsigned)rw->len);
    if (uv_write(&rw->w, c->raw, &b, 1, raw_written) != 0) {
        free(rw);
        defer_fail(c, PQIFY_HTTP_ORIGIN_CLOSED, "write to the origin failed");
        return;
    }
    c->raw_queued += rw->len;
}

static void conn_send(conn *c, const uint8_t *data, size_t len, size_t body)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    conn_sendv(c, &b, 1, body);
}

/* ---- the response -------------------------------------------------------------------- */

static int hput(conn *c, const char *at, size_t n)
{
    if (n >= MAX_HEAD - c->hlen)
        return -1;
    if (c->hlen + n + 1 > c->hcap) {
        size_t cap = c->hcap ? c->hcap : 4096;
        while (cap < c->hlen + n + 1)
            cap *= 2;
        char *b = realloc(c->hbuf, cap);
        if (b == NULL)
            return -1;
        c->hbuf = b;
        c->hcap = cap;
    }
    memcpy(c->hbuf + c->hlen, at, n);
    c->hlen += n;
    return 0;
}

static int rp_begin(http_parser *p)
{
    conn *c = p->data;
    c->hlen = 0;
    c->n_fields = 0;
    c->in_value = 0;
    c->interim = 0;
    return 0;
}

static int rp_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->in_value || c->n_fields == 0) {
        if (c->n_fields > 0 && hput(c, "", 1) != 0)
            return -1;
        if (c->n_fields == MAX_FIELDS)
            return -1;
        c->name_off[c->n_fields] = c->hlen;
        c->value_off[c->n_fields] = 0;
        c->n_fields++;
        c->in_value = 0;
    }
    return hput(c, at, n);
}

static int rp_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (c->n_fields == 0)
        return -1;
    if (!c->in_value) {
        if (hput(c, "", 1) != 0)
            return -1;
        c->value_off[c->n_fields - 1] = c->hlen;
        c->in_value = 1;
    }
    return hput(c, at, n);
}

static int rp_headers_complete(http_parser *p)
{
    conn *c = p->data;
    pqify_http_origin_req *r = c->r;
    if (r == NULL || (c->n_fields > 0 && !c->in_value))   /* a name without a value */
        return -1;
    if (hput(c, "", 1) != 0)
        return -1;
    /* RFC 9110 §15.2: interim answers are not the response; 101 would switch protocols,
     * which a request without Upgrade never asked for. */
    int upgrade = p->status_code == 101 && (r->flags & PQIFY_HTTP_ORIGIN_UPGRADE);
    if (p->status_code >= 100 && p->status_code < 200 && !upgrade) {
        if (p->status_code == 101)
            return -1;
        c->interim = 1;
        return 0;
    }
    uv_timer_stop(&c->timer);
    c->head_done = 1;
    const char *names[MAX_FIELDS], *values[MAX_FIELDS];
    for (size_t i = 0; i < c->n_fields; i++) {
        names[i] = c->hbuf + c->name_off[i];
        values[i] = c->hbuf + c->value_off[i];
    }
    pqify_http_origin_head h = {
        .status = p->status_code, .http_major = p->http_major, .http_minor = p->http_minor,
        .names = names, .values = values, .n = c->n_fields,
        .content_length = (p->flags & F_CHUNKED) || p->content_length == ULLONG_MAX
                              ? -1 : (int64_t)p->content_length,
    };
    if (upgrade) {
        c->upgraded = 1;
        h.content_length = -1;
    }
    r->cbs.on_head(r, &h, r->ctx);
    if (c->r != r)
        return -1;   /* released: stop */
    if (upgrade)
        return 2;    /* http-parser: no body, the bytes after the head are not HTTP */
    /* RFC 9110 §6.4.1: no body after HEAD, 204 and 304, whatever the fields say. */
    return (r->flags & PQIFY_HTTP_ORIGIN_HEAD) || p->status_code == 204 || p->status_code == 304;
}

static int rp_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    pqify_http_origin_req *r = c->r;
    if (r == NULL)
        return -1;
    r->cbs.on_body(r, (const uint8_t *)at, n, r->ctx);
    return c->r == r ? 0 : -1;
}

static int rp_complete(http_parser *p)
{
    conn *c = p->data;
    if (c->interim) {
        c->interim = 0;
        return 0;
    }
    c->complete = 1;
    http_parser_pause(p, 1);   /* nothing more belongs to this exchange */
    return 0;
}

static const http_parser_settings rp_settings = {
    .on_message_begin = rp_begin,
    .on_header_field = rp_field,
    .on_header_value = rp_value,
    .on_headers_complete = rp_headers_complete,
    .on_body = rp_body,
    .on_message_complete = rp_complete,
};

/* The exchange on c is over for the connection when the response is complete and the
 * request ended: back to the pool when it may be reused, else closed. */
static void conn_settle(conn *c)
{
    pqify_http_origin_req *r = c->r;
    pqify_http_origin *p = c->pool;
    if (r != NULL && !(r->resp_done && r->ended))
        return;
    if (r != NULL) {
        if (!r->keep_alive) {
            conn_close(c);
            return;
        }
        r->c = NULL;
        c->r = NULL;
    }
    if (c->state != C_OPEN || p->closing || p->n_idle >= p->o.idle_max || c->pending != NULL ||
        c->raw_queued > 0 || (c->tls != NULL && pqify_stream_queued(c->tls) > 0) || c->held_credit > 0 ||
        !c->complete || c->fail_why != NULL) {
        conn_close(c);
        return;
    }
    c->idle = 1;
    c->prev_idle = NULL;
    c->next_idle = p->idle;
    if (p->idle != NULL)
        p->idle->prev_idle = c;
    p->idle = c;
    p->n_idle++;
    start_reading(c);   /* an idle connection hears its close */
    uv_timer_start(&c->timer, on_timer, p->o.idle_timeout_ms ? p->o.idle_timeout_ms : 30000u, 0);
}

static void response_done(conn *c)
{
    pqify_http_origin_req *r = c->r;
    r->resp_done = 1;
    r->keep_alive = http_should_keep_alive(&c->rp);
    conn_settle(c);    /* may close c; r stays the caller's */
    r->cbs.on_end(r, r->ctx);
}

static void conn_feed(conn *c, const uint8_t *data, size_t len)
{
    pqify_http_origin_req *r = c->r;
    if (r == NULL || r->resp_done) {
        /* bytes while idle or after the response: the origin is confused; drop it */
        if (len > 0) {
            if (r != NULL)
                r->keep_alive = 0;
            conn_close(c);
        }
        return;
    }
    size_t n = c->upgraded ? 0 : http_parser_execute(&c->rp, &rp_settings, (const char *)data, len);
    if (c->r != r || c->state == C_CLOSED)
        return;   /* released or failed inside a callback */
    if (c->upgraded) {
        /* the other protocol's bytes, those after the 101 head included */
        if (n < len)
            r->cbs.on_body(r, data + n, len - n, r->ctx);
        if (c->r == r && r->cbs.on_flush != NULL)
            r->cbs.on_flush(r, r->ctx);
        return;
    }
    if (c->complete) {
        if (n < len)
            http_parser_init(&c->rp, HTTP_RESPONSE);   /* bytes after it: keep-alive false */
        response_done(c);
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->rp);
    if (e != HPE_OK) {
        char why[160];
        snprintf(why, sizeof why, "the origin's response is not HTTP/1.1: %s",
                 c->hlen + 1 >= MAX_HEAD ? "head over 64 KiB" : http_errno_description(e));
        conn_fail(c, PQIFY_HTTP_ORIGIN_PROTOCOL, why);
        return;
    }
    if (r->cbs.on_flush != NULL)
        r->cbs.on_flush(r, r->ctx);
}

/* The origin closed (EOF), or the connection failed. */
static void conn_gone(conn *c, int eof, const char *why)
{
    pqify_http_origin_req *r = c->r;
    if (r != NULL && c->upgraded && eof && !r->resp_done) {
        r->resp_done = 1;   /* the switched protocol ends with the connection */
        r->keep_alive = 0;
        conn_settle(c);
        r->cbs.on_end(r, r->ctx);
        return;
    }
    if (r != NULL && c->head_done && eof && !r->resp_done) {
        /* A body delimited by the close (RFC 9112 §6.3 rule 8). */
        http_parser_execute(&c->rp, &rp_settings, NULL, 0);
        if (c->r == r && c->complete) {
            http_parser_init(&c->rp, HTTP_RESPONSE);
            response_done(c);
            return;
        }
    }
    if (r != NULL && !r->resp_done) {
        conn_fail(c, PQIFY_HTTP_ORIGIN_CLOSED,
                  eof ? "the origin closed the connection before the response ended" : why);
        return;
    }
    if (r != NULL)
        r->keep_alive = 0;
    conn_close(c);
}

/* ---- transport ----------------------------------------------------------------------- */

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h, (void)s;
    *b = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void raw_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
    conn *c = h->data;
    if (n == 0)
        return;
    if (n < 0)
        conn_gone(c, n == UV_EOF, uv_strerror((int)n));
    else
        conn_feed(c, (const uint8_t *)b->base, (size_t)n);
}

static void start_reading(conn *c)
{
    if (c->state != C_OPEN)
        return;
    int want = c->r == NULL || !c->r->paused;
    if (c->tls != NULL) {
        pqify_stream_hold_reading(c->tls, !want);
        return;
    }
    if (want && !c->reading) {
        if (uv_read_start(c->raw, raw_alloc, raw_read) != 0) {
            defer_fail(c, PQIFY_HTTP_ORIGIN_CLOSED, "cannot read from the origin");
            return;
        }
        c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop(c->raw);
        c->reading = 0;
    }
}

static void conn_up(conn *c)
{
    c->state = C_OPEN;
    uv_timer_stop(&c->timer);
    start_reading(c);
    chunk *k = c->pending;
    c->pending = c->pending_tail = NULL;
    c->pending_len = 0;
    while (k != NULL) {
        chunk *n = k->next;
        conn_send(c, k->data, k->len, k->body);
        free(k);
        k = n;
    }
    if (c->state == C_OPEN && !c->head_done && c->r != NULL)
        arm_response_timer(c);
    if (c->state == C_OPEN)
        check_writable(c);
}

static void tls_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    conn *c = ctx;
    if (c->state != C_CLOSED)
        conn_up(c);
}

static void tls_data(pqify_stream *s, const uint8_t *d, size_t n, void *ctx)
{
    (void)s;
    conn *c = ctx;
    if (c->state != C_CLOSED)
        conn_feed(c, d, n);
}

static void tls_closed(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    conn *c = ctx;
    int was_connecting = c->state == C_CONNECTING;
    c->tls = NULL;   /* gone: conn_close counts it as a transport that never came */
    if (c->state == C_CLOSED) {
        conn_unref(c);
        return;
    }
    char why[200];
    snprintf(why, sizeof why, "%s%s", was_connecting ? "TLS to the origin failed: " : "",
             pqify_stream_strerror(status));
    if (was_connecting)
        conn_fail(c, PQIFY_HTTP_ORIGIN_CONNECT, why);
    else
        conn_gone(c, status == 0 || status == PQIFY_STREAM_EOF, why);
}

static void tls_writable(pqify_stream *s, void *ctx)
{
    (void)s;
    conn *c = ctx;
    if (c->state == C_CLOSED || c->r == NULL)
        return;
    pqify_http_origin_req *r = c->r;
    tls_credit(c);
    if (c->r == r && c->state != C_CLOSED)
        check_writable(c);
}

static const pqify_stream_cbs tls_cbs = {tls_handshake, tls_data, NULL, tls_closed};

static unsigned connect_timeout(const pqify_http_origin *p)
{
    return p->o.connect_timeout_ms ? p->o.connect_timeout_ms : 10000u;
}

static void dialed(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    conn *c = ctx;
    pqify_dialer_free(d);
    c->dialer = NULL;
    pqify_http_origin *p = c->pool;
    if (status != 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot connect to the origin %s:%s: %s", p->host, p->port,
                 uv_strerror(status));
        conn_fail(c, PQIFY_HTTP_ORIGIN_CONNECT, why);
        return;
    }
    if (p->o.kind == PQIFY_HTTP_ORIGIN_HTTPS) {
        pqify_stream_opts so = {.handshake_timeout_ms = connect_timeout(p)};
        if (pqify_stream_connect(p->loop, tcp, p->o.tls, &so, &tls_cbs, c, &c->tls) != 0) {
            c->tls = NULL;   /* the stream took tcp and freed it */
            conn_fail(c, PQIFY_HTTP_ORIGIN_CONNECT, "TLS to the origin: cannot start the handshake");
            return;
        }
        pqify_stream_on_writable(c->tls, tls_writable);
        return;   /* up at the handshake */
    }
    c->raw = (uv_stream_t *)tcp;
    tcp->data = c;
    conn_up(c);
}

static void pipe_connected(uv_connect_t *cr, int status)
{
    conn *c = cr->data;
    if (c->state == C_CLOSED)
        return;
    if (status != 0) {
        char why[300];
        snprintf(why, sizeof why, "cannot connect to the origin unix:%s: %s", c->pool->path,
                 uv_strerror(status));
        conn_fail(c, PQIFY_HTTP_ORIGIN_CONNECT, why);
        return;
    }
    conn_up(c);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->fail_why != NULL && c->r != NULL)
        conn_fail(c, c->fail_e, c->fail_why);
    else if (c->idle || c->r == NULL)
        conn_close(c);
    else if (c->state == C_CONNECTING)
        conn_fail(c, PQIFY_HTTP_ORIGIN_CONNECT, "cannot connect to the origin: connection timed out");
    else
        conn_fail(c, PQIFY_HTTP_ORIGIN_TIMEOUT, "the origin did not answer in time");
}

static conn *conn_new(pqify_http_origin *p)
{
    conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->pool = p;
    c->state = C_CONNECTING;
    uv_timer_init(p->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    p->live++;
    if (p->o.kind == PQIFY_HTTP_ORIGIN_UNIX) {
        uv_pipe_t *pipe = malloc(sizeof *pipe);
        if (pipe == NULL) {
            conn_close(c);
            return NULL;
        }
        uv_pipe_init(p->loop, pipe, 0);
        pipe->data = c;
        c->raw = (uv_stream_t *)pipe;
        c->pipe_connect.data = c;
        uv_pipe_connect(&c->pipe_connect, pipe, p->path, pipe_connected);
        uv_timer_start(&c->timer, on_timer, connect_timeout(p), 0);
        return c;
    }
    pqify_dialer_opts d = {.host = p->host, .port = p->port, .max_attempts = 1,
                           .connect_timeout_ms = connect_timeout(p)};
    c->dialer = pqify_dialer_new(p->loop, &d, dialed, c);
    if (c->dialer == NULL || pqify_dialer_start(c->dialer) != 0) {
        conn_close(c);
        return NULL;
    }
    return c;
}

/* ---- the API ------------------------------------------------------------------------- */

static char *dup_opt(const char *s, int *oom)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = 1;
    return d;
}

pqify_http_origin *pqify_http_origin_new(uv_loop_t *loop, const pqify_http_origin_opts *o)
{
    pqify_http_origin *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    int oom = 0;
    p->loop = loop;
    p->o = *o;
    p->host = dup_opt(o->host, &oom);
    p->port = dup_opt(o->port, &oom);
    p->path = dup_opt(o->path, &oom);
    if (oom) {
        p->closing = 1;
        p->o.own_tls = 0;   /* the caller still has it */
        pool_maybe_free(p);
        return NULL;
    }
    return p;
}

void pqify_http_origin_free(pqify_http_origin *p)
{
    if (p == NULL)
        return;
    p->closing = 1;
    while (p->idle != NULL)
        conn_close(p->idle);
    pool_maybe_free(p);
}

size_t pqify_http_origin_idle(const pqify_http_origin *p)
{
    return p->n_idle;
}

pqify_http_origin_req *pqify_http_origin_start(pqify_http_origin *p, const void *head, size_t head_len,
                                               unsigned flags, const pqify_http_origin_cbs *cbs, void *ctx)
{
    pqify_http_origin_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->pool = p;
    r->cbs = *cbs;
    r->ctx = ctx;
    r->flags = flags;
    conn *c = p->idle;
    if (c != NULL) {
        unlink_idle(c);
        uv_timer_stop(&c->timer);
        r->reused = 1;
    } else if ((c = conn_new(p)) == NULL) {
        free(r);
        return NULL;
    }
    c->r = r;
    r->c = c;
    c->head_done = 0;
    c->complete = 0;
    c->interim = 0;
    c->fail_why = NULL;
    http_parser_init(&c->rp, HTTP_RESPONSE);
    c->rp.data = c;
    conn_send(c, head, head_len, 0);
    return r;
}

int pqify_http_origin_reused(const pqify_http_origin_req *r)
{
    return r->reused;
}

int pqify_http_origin_write(pqify_http_origin_req *r, const void *data, size_t len)
{
    if (r->failed || r->ended)
        return -1;
    if (len == 0)
        return 0;
    conn *c = r->c;
    if (c == NULL)
        return 0;   /* answered early: the rest of the body has nowhere to go */
    if (r->flags & PQIFY_HTTP_ORIGIN_CHUNKED) {
        char line[24];
        int n = snprintf(line, sizeof line, "%zx\r\n", len);
        uv_buf_t b[3] = {uv_buf_init(line, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                         uv_buf_init("\r\n", 2)};
        conn_sendv(c, b, 3, len);
    } else {
        conn_send(c, data, len, len);
    }
    if (pqify_http_origin_full(r))
        r->up_full = 1;   /* on_writable once it halves */
    return 0;
}

int pqify_http_origin_end(pqify_http_origin_req *r)
{
    if (r->failed)
        return -1;
    if (r->ended)
        return 0;
    r->ended = 1;
    if (r->c != NULL && (r->flags & PQIFY_HTTP_ORIGIN_CHUNKED))
        conn_send(r->c, (const uint8_t *)"0\r\n\r\n", 5, 0);
    if (r->c != NULL && r->resp_done && r->c->fail_why == NULL)
        conn_settle(r->c);   /* the response came first: no callback from here */
    return 0;
}

size_t pqify_http_origin_queued(const pqify_http_origin_req *r)
{
    const conn *c = r->c;
    if (c == NULL)
        return 0;
    return c->pending_len + (c->tls != NULL ? pqify_stream_queued(c->tls) : c->raw_queued);
}

int pqify_http_origin_full(const pqify_http_origin_req *r)
{
    /* without its connection the pool may be gone: nothing is queued then */
    return r->c != NULL && pqify_http_origin_queued(r) > high_water(r->c->pool);
}

void pqify_http_origin_pause(pqify_http_origin_req *r, int pause)
{
    r->paused = pause != 0;
    if (r->c != NULL && r->c->state == C_OPEN)
        start_reading(r->c);
}

void pqify_http_origin_release(pqify_http_origin_req *r)
{
    if (r == NULL)
        return;
    conn *c = r->c;
    if (c != NULL) {
        if (r->resp_done && r->ended && r->keep_alive)
            conn_settle(c);
        else
            conn_close(c);
    }
    free(r);
}
