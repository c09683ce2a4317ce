/* Origin connections (edge_internal.h): HTTP/1.1 to http://, unix: and https:// origins,
 * a keep-alive pool per origin, the response parsed by http-parser and handed to the
 * request's frontend. Reading stops while the client side is full (edge_oconn_resume
 * starts it again), so a download holds at most a few high-water marks in memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "pqify/net/dialer.h"

enum oc_state { OC_CONNECTING, OC_OPEN, OC_CLOSED };

struct edge_pool {
    edge *e;
    pqify_tls_config *tls;      /* https://: owned; freed with the pool's last connection */
    edge_origin o;
    edge_oconn *idle;
    size_t n_idle;
    int closing;
    size_t live;                /* connections not yet freed */
};

struct edge_oconn {
    edge_pool *pool;
    edge_req *r;
    enum oc_state state;
    uv_stream_t *raw;           /* http:// (uv_tcp_t) and unix: (uv_pipe_t) */
    pqify_stream *tls;          /* https:// */
    pqify_dialer *dialer;
    uv_connect_t pipe_connect;
    uv_timer_t timer;
    int handles;                /* raw + timer not yet closed */
    edge_bq pending;            /* written before the connection was up */
    size_t raw_queued;
    int up_full, held;
    edge_oconn *next_idle, *prev_idle;
    int idle;
    /* the response */
    http_parser rp;
    int got_bytes, skip_1xx, in_value, head_done, complete;
    char *hbuf;                 /* names and values, NUL-terminated */
    size_t hlen;
    uint32_t name_off[128], value_off[128];
    size_t n_hdrs;
    int too_big;
    const char *write_failed;   /* a write failed: reported from the timer, not inside it */
};

struct raw_write {
    uv_write_t req;
    edge_oconn *oc;
    size_t len;
    uint8_t data[];
};

static _Thread_local uint8_t origin_read_buf[65536];

static void oc_close(edge_oconn *oc);
static void oc_fail(edge_oconn *oc, int status, const char *reason);
static void oc_feed(edge_oconn *oc, const uint8_t *data, size_t len);

/* ---- the byte queue ------------------------------------------------------------------ */

int edge_bq_push(edge_bq *q, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    edge_chunk *c = malloc(sizeof *c + len);
    if (c == NULL)
        return -1;
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, data, len);
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->len += len;
    return 0;
}

size_t edge_bq_pop(edge_bq *q, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (n < cap && q->head != NULL) {
        edge_chunk *c = q->head;
        size_t take = c->len - c->off;
        if (take > cap - n)
            take = cap - n;
        memcpy(out + n, c->data + c->off, take);
        c->off += take;
        n += take;
        if (c->off == c->len) {
            q->head = c->next;
            if (q->head == NULL)
                q->tail = NULL;
            free(c);
        }
    }
    q->len -= n;
    return n;
}

void edge_bq_clear(edge_bq *q)
{
    for (edge_chunk *c = q->head, *n; c != NULL; c = n) {
        n = c->next;
        free(c);
    }
    memset(q, 0, sizeof *q);
}

/* ---- the response -------------------------------------------------------------------- */

static edge_oconn *rp_oc(http_parser *p)
{
    return p->data;
}

static int hput(edge_oconn *oc, const char *at, size_t n)
{
    if (n >= EDGE_MAX_RESPONSE_HEAD - oc->hlen) {
        oc->too_big = 1;
        return -1;
    }
    memcpy(oc->hbuf + oc->hlen, at, n);
    oc->hlen += n;
    return 0;
}

static int rp_begin(http_parser *p)
{
    edge_oconn *oc = rp_oc(p);
    oc->hlen = 0;
    oc->n_hdrs = 0;
    oc->in_value = 0;
    oc->head_done = 0;
    oc->skip_1xx = 0;
    return 0;
}

static int rp_field(http_parser *p, const char *at, size_t n)
{
    edge_oconn *oc = rp_oc(p);
    if (oc->in_value || oc->n_hdrs == 0) {
        if (oc->n_hdrs > 0 && hput(oc, "", 1) != 0)
            return -1;
        if (oc->n_hdrs == 128) {
            oc->too_big = 1;
            return -1;
        }
        oc->name_off[oc->n_hdrs] = (uint32_t)oc->hlen;
        oc->value_off[oc->n_hdrs] = 0;
        oc->n_hdrs++;
        oc->in_value = 0;
    }
    return hput(oc, at, n);
}

static int rp_value(http_parser *p, const char *at, size_t n)
{
    edge_oconn *oc = rp_oc(p);
    if (oc->n_hdrs == 0)
        return -1;
    if (!oc->in_value) {
        if (hput(oc, "", 1) != 0)
            return -1;
        oc->value_off[oc->n_hdrs - 1] = (uint32_t)oc->hlen;
        oc->in_value = 1;
    }
    return hput(oc, at, n);
}

/* Names listed in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
static int listed_in_connection(const char *conn, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = conn; p != NULL && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == nl && n > 0) {
            size_t i = 0;
            for (; i < n; i++) {
                char a = p[i], b = name[i];
                if (a >= 'A' && a <= 'Z')
                    a = (char)(a - 'A' + 'a');
                if (b >= 'A' && b <= 'Z')
                    b = (char)(b - 'A' + 'a');
                if (a != b)
                    break;
            }
            if (i == n)
                return 1;
        }
        p += n;
    }
    return 0;
}

static int rp_headers_complete(http_parser *p)
{
    edge_oconn *oc = rp_oc(p);
    edge_req *r = oc->r;
    if (oc->n_hdrs > 0 && !oc->in_value) {   /* a name without value: not HTTP */
        return -1;
    }
    if (hput(oc, "", 1) != 0)
        return -1;
    if (p->status_code >= 100 && p->status_code < 200) {
        oc->skip_1xx = 1;   /* 100 Continue and the like end at their head */
        return 0;
    }
    uv_timer_stop(&oc->timer);
    oc->head_done = 1;
    if (r == NULL)
        return -1;
    const char *names[128], *values[128], *conn = NULL;
    size_t n = 0;
    for (size_t i = 0; i < oc->n_hdrs; i++)
        if (edge_token_is(oc->hbuf + oc->name_off[i], strlen(oc->hbuf + oc->name_off[i]),
                          "connection"))
            conn = oc->hbuf + oc->value_off[i];
    for (size_t i = 0; i < oc->n_hdrs; i++) {
        const char *name = oc->hbuf + oc->name_off[i];
        size_t nl = strlen(name);
        if (edge_hop_by_hop(name, nl) || edge_token_is(name, nl, "content-length") ||
            listed_in_connection(conn, name))
            continue;
        names[n] = name;
        values[n] = oc->hbuf + oc->value_off[i];
        n++;
    }
    int64_t cl = (p->flags & F_CHUNKED) || p->content_length == ULLONG_MAX ? -1
                                                                            : (int64_t)p->content_length;
    /* RFC 9110 §6.4.1: no body after HEAD, 204 and 304, whatever the fields say. */
    int no_body = !strcmp(r->method, "HEAD") || p->status_code == 204 || p->status_code == 304;
    r->responded = 1;
    r->status = p->status_code;
    r->ops->head(r, p->status_code, p, names, values, n, cl);
    return no_body ? 1 : 0;
}

static int rp_body(http_parser *p, const char *at, size_t n)
{
    edge_oconn *oc = rp_oc(p);
    edge_req *r = oc->r;
    if (r == NULL)
        return -1;
    r->bytes_out += n;
    r->ops->body(r, (const uint8_t *)at, n);
    return 0;
}

static int rp_complete(http_parser *p)
{
    edge_oconn *oc = rp_oc(p);
    if (oc->skip_1xx) {
        oc->skip_1xx = 0;
        return 0;
    }
    oc->complete = 1;
    http_parser_pause(p, 1);
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

/* The response ended: the request lets go of the connection, then hears the end. */
static void oc_response_done(edge_oconn *oc)
{
    edge_req *r = oc->r;
    int reusable = http_should_keep_alive(&oc->rp) && r != NULL && r->body_done;
    if (r != NULL) {
        r->oc = NULL;
        r->finished = 1;
    }
    oc->r = NULL;
    edge_oconn_release(oc, reusable);
    if (r != NULL)
        r->ops->end(r);
}

static void oc_feed(edge_oconn *oc, const uint8_t *data, size_t len)
{
    if (oc->r == NULL) {   /* bytes while idle: the origin is confused; drop it */
        if (oc->idle && len > 0)
            oc_close(oc);
        return;
    }
    oc->got_bytes = 1;
    size_t n = http_parser_execute(&oc->rp, &rp_settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&oc->rp);
    if (oc->complete) {
        (void)n;   /* bytes after the response: the connection is not reused */
        if (n < len)
            http_parser_init(&oc->rp, HTTP_RESPONSE);   /* makes keep-alive false */
        oc_response_done(oc);
        return;
    }
    if (e != HPE_OK) {
        oc_fail(oc, 502, oc->too_big ? "response head over 64 KiB" : http_errno_description(e));
        return;
    }
    if (oc->r != NULL)
        oc->r->ops->flush(oc->r);
    if (oc->r != NULL && !oc->held && oc->r->ops->down_full(oc->r)) {
        oc->held = 1;
        if (oc->tls != NULL)
            pqify_stream_hold_reading(oc->tls, 1);
        else if (oc->raw != NULL)
            uv_read_stop(oc->raw);
    }
}

/* ---- transport ----------------------------------------------------------------------- */

static void pool_maybe_free(edge_pool *p)
{
    if (p->closing && p->live == 0) {
        pqify_tls_config_free(p->tls);
        free(p);
    }
}

/* One of the connection's parts (timer, socket, TLS stream) is gone. */
static void oc_unref(edge_oconn *oc)
{
    if (--oc->handles > 0)
        return;
    edge_pool *p = oc->pool;
    edge_bq_clear(&oc->pending);
    free(oc->hbuf);
    free(oc);
    p->live--;
    pool_maybe_free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    edge_oconn *oc = h->data;
    if (h != (uv_handle_t *)&oc->timer)
        free(h);
    oc_unref(oc);
}

static void unlink_idle(edge_oconn *oc)
{
    if (!oc->idle)
        return;
    if (oc->prev_idle != NULL)
        oc->prev_idle->next_idle = oc->next_idle;
    else
        oc->pool->idle = oc->next_idle;
    if (oc->next_idle != NULL)
        oc->next_idle->prev_idle = oc->prev_idle;
    oc->idle = 0;
    oc->pool->n_idle--;
}

/* Close: the handles go (their callbacks free oc); a TLS stream's on_close comes later. */
static void oc_close(edge_oconn *oc)
{
    if (oc->state == OC_CLOSED)
        return;
    unlink_idle(oc);
    oc->state = OC_CLOSED;
    uv_timer_stop(&oc->timer);
    if (oc->dialer != NULL) {
        pqify_dialer_free(oc->dialer);
        oc->dialer = NULL;
    }
    if (oc->raw != NULL) {
        uv_close((uv_handle_t *)oc->raw, on_handle_closed);
        oc->raw = NULL;
    } else if (oc->tls != NULL) {
        pqify_stream_close(oc->tls);   /* its on_close lets go of oc (the config it uses) */
    } else {
        oc->handles--;   /* no transport came */
    }
    uv_close((uv_handle_t *)&oc->timer, on_handle_closed);
}

static void oc_fail(edge_oconn *oc, int status, const char *reason)
{
    edge_req *r = oc->r;
    oc->r = NULL;
    if (r != NULL)
        r->oc = NULL;
    oc_close(oc);
    if (r != NULL)
        edge_req_fail(r, status, reason);
}

static void raw_written(uv_write_t *w, int status)
{
    struct raw_write *rw = (struct raw_write *)w;
    edge_oconn *oc = rw->oc;
    oc->raw_queued -= rw->len;
    free(rw);
    if (status < 0 || oc->state == OC_CLOSED)
        return;   /* the read side reports the failure */
    if (oc->up_full && oc->raw_queued <= EDGE_HIGH_WATER / 2) {
        oc->up_full = 0;
        if (oc->r != NULL)
            oc->r->ops->up_resume(oc->r);
    }
}

static void on_timer(uv_timer_t *t);

/* A write failed inside a request's own call: fail it from the loop, so the caller
 * never sees its request freed under it. */
static void defer_fail(edge_oconn *oc, const char *why)
{
    if (oc->write_failed == NULL)
        oc->write_failed = why;
    uv_timer_start(&oc->timer, on_timer, 0, 0);
}

static void raw_send(edge_oconn *oc, const void *data, size_t len)
{
    struct raw_write *rw = malloc(sizeof *rw + len);
    if (rw == NULL) {
        defer_fail(oc, "out of memory");
        return;
    }
    rw->oc = oc;
    rw->len = len;
    memcpy(rw->data, data, len);
    uv_buf_t b = uv_buf_init((char *)rw->data, (unsigned)len);
    if (uv_write(&rw->req, oc->raw, &b, 1, raw_written) != 0) {
        free(rw);
        defer_fail(oc, "write to the origin failed");
        return;
    }
    oc->raw_queued += len;
}

static void arm_response_timer(edge_oconn *oc);

void edge_oconn_write(edge_oconn *oc, const void *data, size_t len)
{
    if (len == 0 || oc->state == OC_CLOSED || oc->write_failed != NULL)
        return;
    if (!oc->head_done)
        arm_response_timer(oc);
    if (oc->state == OC_CONNECTING) {
        if (edge_bq_push(&oc->pending, data, len) != 0)
            defer_fail(oc, "out of memory");
        return;
    }
    if (oc->tls != NULL) {
        if (pqify_stream_send(oc->tls, data, len) != 0)
            defer_fail(oc, "write to the origin failed");
    } else {
        raw_send(oc, data, len);
    }
}

size_t edge_oconn_queued(const edge_oconn *oc)
{
    size_t q = oc->pending.len + (oc->tls ? pqify_stream_queued(oc->tls) : oc->raw_queued);
    if (q > EDGE_HIGH_WATER)
        ((edge_oconn *)oc)->up_full = 1;
    return q;
}

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h, (void)s;
    *b = uv_buf_init((char *)origin_read_buf, sizeof origin_read_buf);
}

static void raw_read(uv_stream_t *h, ssize_t n, const uv_buf_t *b)
{
    edge_oconn *oc = h->data;
    if (n == 0)
        return;
    if (n < 0) {
        if (oc->r != NULL && oc->head_done && n == UV_EOF) {
            /* A body delimited by the close (RFC 9112 §6.3 rule 8). */
            http_parser_execute(&oc->rp, &rp_settings, NULL, 0);
            if (oc->complete) {
                http_parser_init(&oc->rp, HTTP_RESPONSE);
                oc_response_done(oc);
                return;
            }
        }
        if (oc->r != NULL)
            oc_fail(oc, 502, n == UV_EOF ? "the origin closed the connection" : uv_strerror((int)n));
        else
            oc_close(oc);
        return;
    }
    oc_feed(oc, (const uint8_t *)b->base, (size_t)n);
}

static void oc_up(edge_oconn *oc)
{
    oc->state = OC_OPEN;
    uv_timer_stop(&oc->timer);
    if (oc->raw != NULL)
        uv_read_start(oc->raw, raw_alloc, raw_read);
    uint8_t buf[65536];
    while (oc->pending.len > 0 && oc->state == OC_OPEN) {
        size_t n = edge_bq_pop(&oc->pending, buf, sizeof buf);
        edge_oconn_write(oc, buf, n);
    }
    if (oc->state == OC_OPEN && !oc->head_done && oc->r != NULL)
        arm_response_timer(oc);
    if (oc->state == OC_OPEN && oc->r != NULL && oc->up_full && edge_oconn_queued(oc) <= EDGE_HIGH_WATER / 2) {
        oc->up_full = 0;
        oc->r->ops->up_resume(oc->r);
    }
}

/* https:// origins: the engine's stream */
static void tls_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    edge_oconn *oc = ctx;
    if (oc->state != OC_CLOSED)
        oc_up(oc);
}

static void tls_data(pqify_stream *s, const uint8_t *d, size_t n, void *ctx)
{
    (void)s;
    edge_oconn *oc = ctx;
    if (oc->state != OC_CLOSED)
        oc_feed(oc, d, n);
}

static void tls_closed(pqify_stream *s, int status, void *ctx)
{
    edge_oconn *oc = ctx;
    if (oc->state == OC_CLOSED) {
        oc->tls = NULL;
        oc_unref(oc);
        return;
    }
    oc->tls = NULL;   /* gone: oc_close counts it as a transport that never came */
    if (oc->r != NULL && oc->head_done && (status == 0 || status == PQIFY_STREAM_EOF)) {
        http_parser_execute(&oc->rp, &rp_settings, NULL, 0);
        if (oc->complete) {
            http_parser_init(&oc->rp, HTTP_RESPONSE);
            oc_response_done(oc);
            return;
        }
    }
    if (oc->r != NULL) {
        char why[200];
        snprintf(why, sizeof why, "%s%s", oc->state == OC_CONNECTING ? "TLS handshake: " : "",
                 pqify_stream_strerror(status));
        oc_fail(oc, 502, why);
    } else {
        oc_close(oc);
    }
    (void)s;
}

static void tls_writable(pqify_stream *s, void *ctx)
{
    (void)s;
    edge_oconn *oc = ctx;
    if (oc->state != OC_CLOSED && oc->up_full && oc->r != NULL) {
        oc->up_full = 0;
        oc->r->ops->up_resume(oc->r);
    }
}

static const pqify_stream_cbs tls_cbs = {tls_handshake, tls_data, NULL, tls_closed};

static void dialed(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    edge_oconn *oc = ctx;
    if (status != 0 || oc->state == OC_CLOSED) {
        if (tcp != NULL)
            uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        oc_fail(oc, 502, uv_strerror(status));
        return;
    }
    if (oc->pool->o.kind == EDGE_ORIGIN_HTTPS) {
        pqify_stream_opts so = {.handshake_timeout_ms = oc->pool->e->lim.origin_connect_timeout_ms};
        if (pqify_stream_connect(oc->pool->e->loop, tcp, oc->pool->tls, &so, &tls_cbs, oc,
                                 &oc->tls) != 0) {
            oc_fail(oc, 502, "cannot start TLS to the origin");
            return;
        }
        pqify_stream_on_writable(oc->tls, tls_writable);
        return;   /* up at the handshake */
    }
    oc->raw = (uv_stream_t *)tcp;
    tcp->data = oc;
    oc_up(oc);
}

static void pipe_connected(uv_connect_t *c, int status)
{
    edge_oconn *oc = c->data;
    if (oc->state == OC_CLOSED)
        return;
    if (status != 0) {
        oc_fail(oc, 502, uv_strerror(status));
        return;
    }
    oc_up(oc);
}

static void on_timer(uv_timer_t *t)
{
    edge_oconn *oc = t->data;
    if (oc->write_failed != NULL && oc->r != NULL)
        oc_fail(oc, 502, oc->write_failed);
    else if (oc->idle || oc->r == NULL)
        oc_close(oc);
    else if (oc->state == OC_CONNECTING)
        oc_fail(oc, 502, "connect timed out");
    else
        oc_fail(oc, 504, "the origin did not answer in time");
}

static void arm_response_timer(edge_oconn *oc)
{
    if (oc->state == OC_OPEN && oc->write_failed == NULL)
        uv_timer_start(&oc->timer, on_timer, oc->pool->e->lim.origin_timeout_ms, 0);
}

static edge_oconn *oc_new(edge_pool *p)
{
    edge_oconn *oc = calloc(1, sizeof *oc);
    if (oc == NULL)
        return NULL;
    oc->hbuf = malloc(EDGE_MAX_RESPONSE_HEAD);
    if (oc->hbuf == NULL) {
        free(oc);
        return NULL;
    }
    oc->pool = p;
    oc->state = OC_CONNECTING;
    uv_timer_init(p->e->loop, &oc->timer);
    oc->timer.data = oc;
    oc->handles = 2;
    p->live++;
    http_parser_init(&oc->rp, HTTP_RESPONSE);
    oc->rp.data = oc;
    if (p->o.kind == EDGE_ORIGIN_UNIX) {
        uv_pipe_t *pipe = malloc(sizeof *pipe);
        if (pipe == NULL) {
            oc->handles--;
            oc_close(oc);
            return NULL;
        }
        uv_pipe_init(p->e->loop, pipe, 0);
        pipe->data = oc;
        oc->raw = (uv_stream_t *)pipe;
        oc->pipe_connect.data = oc;
        uv_pipe_connect(&oc->pipe_connect, pipe, p->o.path, pipe_connected);
        uv_timer_start(&oc->timer, on_timer, p->e->lim.origin_connect_timeout_ms, 0);
        return oc;
    }
    pqify_dialer_opts d = {.host = p->o.host, .port = p->o.port, .max_attempts = 1,
                           .connect_timeout_ms = p->e->lim.origin_connect_timeout_ms};
    oc->dialer = pqify_dialer_new(p->e->loop, &d, dialed, oc);
    if (oc->dialer == NULL || pqify_dialer_start(oc->dialer) != 0) {
        oc_close(oc);
        return NULL;
    }
    return oc;
}

/* ---- the pool ------------------------------------------------------------------------- */

edge_pool *edge_pool_new(edge *e, const edge_origin *o, pqify_tls_config *tls)
{
    edge_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->e = e;
    p->tls = tls;
    p->o = *o;
    return p;
}

void edge_pool_free(edge_pool *p)
{
    if (p == NULL)
        return;
    p->closing = 1;
    while (p->idle != NULL)
        oc_close(p->idle);
    pool_maybe_free(p);
}

edge_oconn *edge_pool_get(edge_pool *p, edge_req *r, int *reused)
{
    edge_oconn *oc = p->idle;
    *reused = oc != NULL;
    if (oc != NULL) {
        unlink_idle(oc);
        uv_timer_stop(&oc->timer);
    } else {
        oc = oc_new(p);
        if (oc == NULL)
            return NULL;
    }
    oc->r = r;
    oc->write_failed = NULL;
    oc->got_bytes = 0;
    oc->head_done = 0;
    oc->complete = 0;
    oc->held = 0;
    oc->up_full = 0;
    http_parser_init(&oc->rp, HTTP_RESPONSE);
    oc->rp.data = oc;
    if (oc->raw != NULL && oc->state == OC_OPEN)
        uv_read_start(oc->raw, raw_alloc, raw_read);
    return oc;
}

void edge_oconn_resume(edge_oconn *oc)
{
    if (!oc->held || oc->state == OC_CLOSED)
        return;
    oc->held = 0;
    if (oc->tls != NULL)
        pqify_stream_hold_reading(oc->tls, 0);
    else if (oc->raw != NULL)
        uv_read_start(oc->raw, raw_alloc, raw_read);
}

void edge_oconn_release(edge_oconn *oc, int reusable)
{
    edge_pool *p = oc->pool;
    oc->r = NULL;
    if (!reusable || oc->state != OC_OPEN || p->closing || p->n_idle >= EDGE_POOL_IDLE_MAX ||
        oc->pending.len > 0 || edge_oconn_queued(oc) > 0 || oc->held) {
        oc_close(oc);
        return;
    }
    oc->idle = 1;
    oc->prev_idle = NULL;
    oc->next_idle = p->idle;
    if (p->idle != NULL)
        p->idle->prev_idle = oc;
    p->idle = oc;
    p->n_idle++;
    uv_timer_start(&oc->timer, on_timer, EDGE_POOL_IDLE_MS, 0);
}
