/*
 * The connector (include/pqify/tunnel.h, docs/tunnel.md): ha_connections pqify TLS
 * connections out to the edges (src/net pools: back-off with jitter, redial), each
 * an HTTP/2 server session (nghttp2) on which the edge opens one stream per request.
 * A stream's request goes to the origin its ingress rule names (origin.c), and the
 * response comes back on the stream. Memory per stream is bounded both ways by
 * HTTP/2 flow control: the connector gives window back for a request body only once
 * the bytes reached the origin's socket, and reads an origin's response only while
 * less than TUNNEL_BODY_HIGH_WATER of it waits for the edge's window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "internal.h"
#include "pqify/net/listener.h"
#include "pqify/net/pool.h"

typedef struct tconn tconn;
typedef struct tstream tstream;

struct ingress_ref {
    pqify_ingress *in;
    unsigned refs;
};

struct pqify_tunnel_connector {
    uv_loop_t *loop;
    char name[64];
    pqify_tunnel_connector_options o;
    struct ingress_ref *ingress;      /* the current rules; streams hold a reference */
    origin_pool *origins;
    pqify_pool **pools;               /* one per edge */
    size_t n_pools;
    tconn *conns;                     /* ha_connections, pool by pool */
    unsigned *pool_base;              /* first conn index of each pool */
    unsigned registered;
    int draining, aborting, pools_freed, freeing, drain_started;
    unsigned live;                    /* connections whose stream the pools have not closed yet */
    void (*drained)(void *);
    void *drained_arg;
    uv_idle_t drain_check;
    uv_idle_t flush_later;            /* flushes for the origin callbacks (see conn_flush_later) */
    unsigned handles_open;
    /* metrics */
    pqify_tls_metrics tls_metrics;
    int have_tls_metrics;
    pqify_series *m_registered, *m_requests, *m_origin_errors;
    pqify_metric *m_responses, *m_conn_info;
};

struct tconn {
    pqify_tunnel_connector *t;
    unsigned edge, slot, index;
    pqify_stream *s;
    nghttp2_session *h2;
    tstream *streams;                 /* every open stream, for cleanup when the connection drops */
    int registered, goaway_sent, closing;
    int in_recv;                      /* inside nghttp2_session_mem_recv: no sending (nghttp2's rule) */
    int flush_pending;
    pqify_series *info;               /* pqify_tunnel_connection_info{connection,edge,group} */
};

struct tstream {
    tconn *c;
    tstream *prev, *next;
    int32_t id;
    struct ingress_ref *ingress;
    const pqify_ingress_rule *rule;
    /* the request */
    char method[16], protocol[16], *path, *authority;
    char *hdrs;                        /* "Name: value\r\n" lines forwarded to the origin */
    size_t hdrs_len, hdrs_cap;
    int has_length, end_stream, is_register, bad;
    char cert_name[64];
    pqify_http_origin_req *origin;
    int origin_done;                   /* the origin said its last word (end or error) */
    /* the response body waiting for the edge's window */
    tunnel_body body;
    int submitted, paused;
};

static void conn_flush(tconn *c);
static void flush_pending_conns(uv_idle_t *h);

/* The origin's callbacks run inside http-parser and the origin client: a flush there
 * could close an HTTP/2 stream and free its origin request under the caller's feet.
 * They ask for a flush on this loop turn's idle phase instead. */
static void conn_flush_later(tconn *c)
{
    c->flush_pending = 1;
    uv_idle_start(&c->t->flush_later, flush_pending_conns);
}

/* ---- ingress references: a reload swaps, requests in flight keep theirs ---- */

static struct ingress_ref *ingress_ref_new(pqify_ingress *in)
{
    struct ingress_ref *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->in = in;
    r->refs = 1;
    return r;
}

static void ingress_unref(struct ingress_ref *r)
{
    if (r != NULL && --r->refs == 0) {
        pqify_ingress_free(r->in);
        free(r);
    }
}

/* ---- metrics ---- */

static void declare_metrics(pqify_tunnel_connector *t)
{
    pqify_metrics *m = t->o.metrics;
    if (m == NULL)
        return;
    t->have_tls_metrics = pqify_tls_metrics_init(&t->tls_metrics, m) == 0;
    pqify_metric *f = pqify_metrics_gauge(m, "pqify_tunnel_ha_connections",
                                          "Connections to the edges that the edge has registered now.", NULL);
    t->m_registered = pqify_metric_series(f, 0, NULL);
    f = pqify_metrics_counter(m, "pqify_tunnel_requests_total", "Requests the edges sent through the tunnel.", NULL);
    t->m_requests = pqify_metric_series(f, 0, NULL);
    t->m_responses = pqify_metrics_counter(m, "pqify_tunnel_responses_total", "Responses by status code.", "code");
    f = pqify_metrics_counter(m, "pqify_tunnel_origin_errors_total",
                              "Requests that failed at the origin (connect, reset, bad response).", NULL);
    t->m_origin_errors = pqify_metric_series(f, 0, NULL);
    t->m_conn_info = pqify_metrics_gauge(m, "pqify_tunnel_connection_info",
                                         "1 while a connection is registered, with its edge and TLS group.",
                                         "connection,edge,group");
}

static void count_response(pqify_tunnel_connector *t, int status)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    pqify_counter_add(pqify_metric_series(t->m_responses, 1, (const char *[]){code}), 1);
}

/* ---- streams ---- */

static tstream *stream_new(tconn *c, int32_t id)
{
    tstream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    st->c = c;
    st->id = id;
    st->next = c->streams;
    if (c->streams != NULL)
        c->streams->prev = st;
    c->streams = st;
    return st;
}

static void stream_free(tstream *st)
{
    tconn *c = st->c;
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    pqify_http_origin_release(st->origin);
    ingress_unref(st->ingress);
    free(st->path);
    free(st->authority);
    free(st->hdrs);
    tunnel_body_free(&st->body);
    free(st);
}

static int hdrs_put(tstream *st, const char *a, size_t an, const char *b, size_t bn)
{
    size_t need = st->hdrs_len + an + bn + 4;
    if (need > TUNNEL_MAX_HEAD)
        return -1;
    if (need > st->hdrs_cap) {
        size_t cap = st->hdrs_cap ? st->hdrs_cap * 2 : 1024;
        while (cap < need)
            cap *= 2;
        char *p = realloc(st->hdrs, cap);
        if (p == NULL)
            return -1;
        st->hdrs = p;
        st->hdrs_cap = cap;
    }
    memcpy(st->hdrs + st->hdrs_len, a, an);
    st->hdrs_len += an;
    memcpy(st->hdrs + st->hdrs_len, ": ", 2);
    st->hdrs_len += 2;
    memcpy(st->hdrs + st->hdrs_len, b, bn);
    st->hdrs_len += bn;
    memcpy(st->hdrs + st->hdrs_len, "\r\n", 2);
    st->hdrs_len += 2;
    return 0;
}

/* the response body: read by nghttp2 as the edge's window allows */
static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *out, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    (void)h2;
    (void)id;
    (void)user;
    tstream *st = src->ptr;
    ssize_t n = tunnel_body_read(&st->body, out, length, flags);
    if (st->paused && tunnel_body_waiting(&st->body) < TUNNEL_BODY_HIGH_WATER / 2) {
        st->paused = 0;
        if (st->origin != NULL)
            pqify_http_origin_pause(st->origin, 0);
    }
    return n;
}

static void resume(tstream *st)
{
    tunnel_body_resume(&st->body, st->c->h2, st->id);
}

static void respond(tstream *st, int status, const nghttp2_nv *extra, size_t n_extra, int with_body)
{
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    nghttp2_nv nv[130];
    size_t n = 0;
    nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, strlen(code), NGHTTP2_NV_FLAG_NONE};
    for (size_t i = 0; i < n_extra && n < sizeof nv / sizeof nv[0]; i++)
        nv[n++] = extra[i];
    nghttp2_data_provider dp = {.source = {.ptr = st}, .read_callback = read_body};
    st->submitted = 1;
    if (!st->is_register)   /* the edge's registrations are not requests */
        count_response(st->c->t, status);
    if (nghttp2_submit_response(st->c->h2, st->id, nv, n, with_body ? &dp : NULL) != 0)
        nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
}

static void respond_text(tstream *st, int status, const char *text)
{
    st->body.off = st->body.len = 0;
    if (tunnel_body_append(&st->body, text, strlen(text)) != 0) {
        nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    st->body.eof = 1;
    nghttp2_nv ct = {(uint8_t *)"content-type", (uint8_t *)"text/plain; charset=utf-8", 12, 25, NGHTTP2_NV_FLAG_NONE};
    respond(st, status, &ct, 1, 1);
}

/* ---- the origin's side ---- */

/* The origin's fields as HTTP/2 wants them: names in lower case (RFC 9113 §8.2.1),
 * hop-by-hop ones dropped (§8.2.2). */
static void origin_head(pqify_http_origin_req *r, const pqify_http_origin_head *h, void *ctx)
{
    (void)r;
    tstream *st = ctx;
    nghttp2_nv nv[128];
    char lower[TUNNEL_MAX_HEAD];
    size_t n = 0, used = 0;
    for (size_t i = 0; i < h->n && n < sizeof nv / sizeof nv[0]; i++) {
        size_t nlen = strlen(h->names[i]);
        if (pqify_tunnel_hop_header((const uint8_t *)h->names[i], nlen) || nlen > sizeof lower - used)
            continue;
        char *name = lower + used;
        for (size_t k = 0; k < nlen; k++) {
            char ch = h->names[i][k];
            name[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        used += nlen;
        nv[n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)h->values[i], nlen, strlen(h->values[i]),
                               NGHTTP2_NV_FLAG_NONE};
    }
    /* a 101 to the relayed upgrade: the stream carries the new protocol (RFC 8441 §5) */
    respond(st, h->status == 101 ? 200 : h->status, nv, n, strcmp(st->method, "HEAD") != 0);
    if (strcmp(st->method, "HEAD") == 0)
        st->body.eof = 1;
    conn_flush_later(st->c);
}

static void origin_body(pqify_http_origin_req *r, const uint8_t *data, size_t len, void *ctx)
{
    tstream *st = ctx;
    if (tunnel_body_append(&st->body, data, len) != 0) {
        nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        conn_flush_later(st->c);
        return;
    }
    if (tunnel_body_waiting(&st->body) >= TUNNEL_BODY_HIGH_WATER && !st->paused) {
        st->paused = 1;
        pqify_http_origin_pause(r, 1);
    }
    resume(st);
    conn_flush_later(st->c);
}

static void origin_end(pqify_http_origin_req *r, void *ctx)
{
    (void)r;
    tstream *st = ctx;
    st->body.eof = 1;
    st->origin_done = 1;
    resume(st);
    conn_flush_later(st->c);
}

static void origin_failed(tstream *st, const char *why)
{
    st->origin_done = 1;
    pqify_counter_add(st->c->t->m_origin_errors, 1);
    fprintf(stderr, "pqify tunnel: origin error rule=%zu service=%s path=%s: %s\n", st->rule->index + 1,
            st->rule->service, st->path != NULL ? st->path : "", why);
    if (!st->submitted) {
        char text[300];
        snprintf(text, sizeof text, "502 Bad Gateway: %s\n", why);
        respond_text(st, 502, text);
    } else
        nghttp2_submit_rst_stream(st->c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    conn_flush_later(st->c);
}

static void origin_error(pqify_http_origin_req *r, enum pqify_http_origin_error e, const char *why, void *ctx)
{
    (void)r;
    (void)e;
    origin_failed(ctx, why);
}

static void origin_sent(pqify_http_origin_req *r, size_t n, void *ctx)
{
    (void)r;
    tstream *st = ctx;
    /* the bytes are on the origin's socket: the edge may send as many more */
    nghttp2_session_consume(st->c->h2, st->id, n);
    conn_flush_later(st->c);
}

static const pqify_http_origin_cbs origin_callbacks = {.on_head = origin_head, .on_body = origin_body,
                                                       .on_end = origin_end, .on_error = origin_error,
                                                       .on_sent = origin_sent};

/* ---- a request's head is complete ---- */

static int is_body_method(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static void do_register(tstream *st)
{
    tconn *c = st->c;
    pqify_tunnel_connector *t = c->t;
    if (strcmp(st->cert_name, t->name) != 0) {
        fprintf(stderr, "pqify tunnel: edge %s refused: its certificate check says tunnel '%s', this connector is '%s'\n",
                t->o.edges[c->edge], st->cert_name, t->name);
        respond_text(st, 403, "the client certificate does not name this tunnel\n");
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_REFUSED_STREAM, NULL, 0);
        c->goaway_sent = 1;
        return;
    }
    nghttp2_nv nv = {(uint8_t *)TUNNEL_HDR_NAME, (uint8_t *)t->name, strlen(TUNNEL_HDR_NAME), strlen(t->name),
                     NGHTTP2_NV_FLAG_NONE};
    st->body.eof = 1;
    respond(st, 200, &nv, 1, 0);
    if (!c->registered) {
        c->registered = 1;
        t->registered++;
        pqify_gauge_set(t->m_registered, t->registered);
        pqify_tls_info info;
        pqify_tls_get_info(pqify_stream_conn(c->s), &info);
        char conn_id[16];
        snprintf(conn_id, sizeof conn_id, "%u", c->index);
        c->info = pqify_metric_series(t->m_conn_info, 3,
                                      (const char *[]){conn_id, t->o.edges[c->edge], info.group ? info.group : "?"});
        pqify_gauge_set(c->info, 1);
        fprintf(stderr, "pqify tunnel: registered connection=%u edge=%s group=%s tunnel=%s ready=%u/%u\n", c->index,
                t->o.edges[c->edge], info.group ? info.group : "?", t->name, t->registered, t->o.ha_connections);
    }
}

static void dispatch(tstream *st)
{
    tconn *c = st->c;
    pqify_tunnel_connector *t = c->t;
    if (st->is_register) {
        do_register(st);
        return;
    }
    pqify_counter_add(t->m_requests, 1);
    if (st->bad || st->path == NULL || st->method[0] == '\0') {
        respond_text(st, 400, "400 Bad Request: the request lacks :method or :path, or a header is too large\n");
        return;
    }
    st->ingress = t->ingress;
    st->ingress->refs++;
    const char *host = st->authority != NULL ? st->authority : "";
    st->rule = pqify_ingress_match(st->ingress->in, host, strlen(host), st->path, strlen(st->path));
    const pqify_ingress_rule *rule = st->rule;
    if (rule->kind == PQIFY_ORIGIN_STATUS) {
        st->body.eof = 1;
        respond(st, rule->status, NULL, 0, 0);
        return;
    }
    /* RFC 8441: an extended CONNECT with :protocol websocket is the edge relaying a
     * client's WebSocket upgrade; to the origin it is that HTTP/1.1 upgrade again */
    int upgrade = strcmp(st->method, "CONNECT") == 0;
    if (upgrade && strcmp(st->protocol, "websocket") != 0) {
        respond_text(st, 501, "501 Not Implemented: only CONNECT with :protocol websocket is relayed\n");
        return;
    }
    /* RFC 9112 §3.2: Host first; the rule may replace it (httpHostHeader) */
    const char *host_hdr = rule->http_host_header != NULL ? rule->http_host_header : host;
    size_t head_cap = strlen(st->method) + strlen(st->path) + strlen(host_hdr) + st->hdrs_len + 96;
    char *head = malloc(head_cap);
    if (head == NULL) {
        respond_text(st, 503, "503 Service Unavailable: out of memory\n");
        return;
    }
    int n = snprintf(head, head_cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", upgrade ? "GET" : st->method, st->path,
                     host_hdr, upgrade ? "Connection: Upgrade\r\nUpgrade: websocket\r\n" : "");
    if (st->hdrs_len > 0)
        memcpy(head + n, st->hdrs, st->hdrs_len);
    size_t len = (size_t)n + st->hdrs_len;
    int chunked = !st->end_stream && !st->has_length && !upgrade;
    if (st->end_stream && !st->has_length && is_body_method(st->method))
        len += (size_t)snprintf(head + len, head_cap - len, "Content-Length: 0\r\n");
    /* the framing (RFC 9112 §6.1) and the blank line that ends the head */
    len += (size_t)snprintf(head + len, head_cap - len, "%s\r\n", chunked ? "Transfer-Encoding: chunked\r\n" : "");
    char err[500];
    pqify_http_origin *o = origin_pool_get(t->origins, rule, err, sizeof err);
    if (o == NULL) {
        free(head);
        origin_failed(st, err);
        return;
    }
    unsigned flags = (chunked ? PQIFY_HTTP_ORIGIN_CHUNKED : 0) |
                     (strcmp(st->method, "HEAD") == 0 ? PQIFY_HTTP_ORIGIN_HEAD : 0) |
                     (upgrade ? PQIFY_HTTP_ORIGIN_UPGRADE : 0);
    st->origin = pqify_http_origin_start(o, head, len, flags, &origin_callbacks, st);
    free(head);
    if (st->origin == NULL) {
        respond_text(st, 503, "503 Service Unavailable: out of memory\n");
        return;
    }
    if (st->end_stream)
        pqify_http_origin_end(st->origin);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    tconn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    tstream *st = stream_new(c, f->hd.stream_id);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, st);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    tstream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (st == NULL)
        return 0;
    /* nghttp2 has checked the field syntax (RFC 9113 §8.2.1): no CR, LF or NUL */
    if (nlen == 7 && memcmp(name, ":method", 7) == 0) {
        if (vlen >= sizeof st->method)
            st->bad = 1;
        else {
            memcpy(st->method, value, vlen);
            st->method[vlen] = '\0';
        }
    } else if (nlen == 5 && memcmp(name, ":path", 5) == 0) {
        free(st->path);
        st->path = strndup((const char *)value, vlen);
        st->is_register = vlen == strlen(TUNNEL_REGISTER_PATH) && memcmp(value, TUNNEL_REGISTER_PATH, vlen) == 0;
    } else if (nlen == 10 && memcmp(name, ":authority", 10) == 0) {
        free(st->authority);
        st->authority = strndup((const char *)value, vlen);
    } else if (nlen == 9 && memcmp(name, ":protocol", 9) == 0) {
        /* RFC 8441 §4: the extended CONNECT's protocol */
        snprintf(st->protocol, sizeof st->protocol, "%.*s", (int)(vlen < 15 ? vlen : 15), (const char *)value);
    } else if (name[0] == ':') {
        /* :scheme: the origin's scheme is the rule's */
    } else if (nlen == strlen(TUNNEL_HDR_CERT) && memcmp(name, TUNNEL_HDR_CERT, nlen) == 0) {
        snprintf(st->cert_name, sizeof st->cert_name, "%.*s", (int)(vlen < 63 ? vlen : 63), (const char *)value);
    } else if (nlen == 4 && memcmp(name, "host", 4) == 0) {
        if (st->authority == NULL)
            st->authority = strndup((const char *)value, vlen);
    } else if (!pqify_tunnel_hop_header(name, nlen)) {
        if (nlen == 14 && memcmp(name, "content-length", 14) == 0)
            st->has_length = 1;
        if (hdrs_put(st, (const char *)name, nlen, (const char *)value, vlen) < 0)
            st->bad = 1;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    (void)user;
    tstream *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (st == NULL)
        return 0;
    int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        st->end_stream = end;
        dispatch(st);
    } else if (f->hd.type == NGHTTP2_DATA && end && st->origin != NULL && !st->origin_done) {
        st->end_stream = 1;
        pqify_http_origin_end(st->origin);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    (void)flags;
    (void)user;
    tstream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st != NULL && st->origin != NULL && !st->origin_done) {
        if (pqify_http_origin_write(st->origin, data, len) == 0)
            return 0;   /* consumed once written (origin_sent) */
    }
    nghttp2_session_consume(h2, id, len);   /* nobody wants it: give the window back now */
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
    (void)code;
    (void)user;
    tstream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(h2, id, NULL);
        stream_free(st);
    }
    return 0;
}

/* ---- connections ---- */

static void conn_drop_streams(tconn *c)
{
    while (c->streams != NULL)
        stream_free(c->streams);
}

static void conn_unregister(tconn *c)
{
    if (!c->registered)
        return;
    c->registered = 0;
    c->t->registered--;
    pqify_gauge_set(c->t->m_registered, c->t->registered);
    pqify_gauge_set(c->info, 0);
}

static void conn_flush(tconn *c)
{
    if (c->h2 == NULL || c->s == NULL || c->in_recv)
        return;
    /* One write for all the frames: a response's HEADERS and DATA reach the edge
     * together or not at all, so a connector killed between them leaves no answer
     * half begun, which the edge could not retry on another connection. */
    pqify_stream_cork(c->s, 1);
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0) {
            fprintf(stderr, "pqify tunnel: HTTP/2 on connection %u: %s\n", c->index, nghttp2_strerror((int)n));
            pqify_stream_abort(c->s);
            return;
        }
        if (n == 0)
            break;
        if (pqify_stream_send(c->s, data, (size_t)n) < 0)
            return;
    }
    pqify_stream_cork(c->s, 0);
    if (!c->closing && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
        c->closing = 1;
        pqify_stream_close(c->s);
    }
}

static void maybe_free(pqify_tunnel_connector *t);
static void pool_up(pqify_pool *p, unsigned slot, pqify_stream *s, void *ctx);
static void pool_down(pqify_pool *p, unsigned slot, int status, void *ctx);
static void pool_data(pqify_pool *p, unsigned slot, const uint8_t *data, size_t len, void *ctx);

static tconn *find_conn(pqify_tunnel_connector *t, pqify_pool *p, unsigned slot)
{
    for (size_t i = 0; i < t->n_pools; i++)
        if (t->pools[i] == p)
            return &t->conns[t->pool_base[i] + slot];
    return NULL;
}

static void pool_up(pqify_pool *p, unsigned slot, pqify_stream *s, void *ctx)
{
    pqify_tunnel_connector *t = ctx;
    tconn *c = find_conn(t, p, slot);
    if (c == NULL)
        return;
    if (t->have_tls_metrics)
        pqify_tls_metrics_handshake(&t->tls_metrics, pqify_stream_conn(s), 0);
    c->s = s;
    t->live++;
    c->closing = 0;
    c->goaway_sent = 0;
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0) {
        pqify_stream_abort(s);
        return;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    /* window given back only when a body reached the origin (see the file comment) */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int ret = nghttp2_session_server_new2(&c->h2, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (ret != 0) {
        c->h2 = NULL;
        pqify_stream_abort(s);
        return;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, TUNNEL_MAX_STREAMS},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, TUNNEL_STREAM_WINDOW},
                                   {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1}};   /* RFC 8441 §3 */
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 3);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, TUNNEL_CONN_WINDOW);
    if (t->draining) {
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
        c->goaway_sent = 1;
    }
    conn_flush(c);
}

static void pool_down(pqify_pool *p, unsigned slot, int status, void *ctx)
{
    pqify_tunnel_connector *t = ctx;
    tconn *c = find_conn(t, p, slot);
    if (c == NULL)
        return;
    if (c->registered)
        fprintf(stderr, "pqify tunnel: connection=%u to %s down: %s\n", c->index, t->o.edges[c->edge],
                pqify_stream_strerror(status));
    conn_unregister(c);
    conn_drop_streams(c);
    if (c->h2 != NULL)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
    if (c->s != NULL) {
        c->s = NULL;
        t->live--;
    }
    if (t->freeing)
        maybe_free(t);
}

static void pool_data(pqify_pool *p, unsigned slot, const uint8_t *data, size_t len, void *ctx)
{
    pqify_tunnel_connector *t = ctx;
    tconn *c = find_conn(t, p, slot);
    if (c == NULL || c->h2 == NULL)
        return;
    c->in_recv = 1;
    ssize_t n = nghttp2_session_mem_recv(c->h2, data, len);
    c->in_recv = 0;
    if (n < 0) {
        fprintf(stderr, "pqify tunnel: HTTP/2 from %s: %s\n", t->o.edges[c->edge], nghttp2_strerror((int)n));
        conn_flush(c);   /* the GOAWAY nghttp2 queued */
        if (c->s != NULL)
            pqify_stream_close(c->s);
        return;
    }
    conn_flush(c);
}

static void flush_pending_conns(uv_idle_t *h)
{
    pqify_tunnel_connector *t = h->data;
    uv_idle_stop(h);
    for (unsigned i = 0; i < t->o.ha_connections; i++)
        if (t->conns[i].flush_pending) {
            t->conns[i].flush_pending = 0;
            conn_flush(&t->conns[i]);
        }
}

/* ---- the connector ---- */

int pqify_tunnel_connector_start(uv_loop_t *loop, const pqify_tunnel_connector_options *o,
                                 pqify_tunnel_connector **out, char *err, size_t cap)
{
    pqify_tunnel_connector *t = calloc(1, sizeof *t);
    if (t == NULL || o->n_edges == 0 || o->ha_connections == 0 || o->name == NULL ||
        strlen(o->name) >= sizeof t->name) {
        snprintf(err, cap, "%s", t == NULL ? "out of memory" : "a tunnel needs a name, an edge and a connection");
        free(t);
        pqify_ingress_free(o->ingress);
        return PQIFY_ERR_ARG;
    }
    t->loop = loop;
    t->o = *o;
    snprintf(t->name, sizeof t->name, "%s", o->name);
    t->ingress = ingress_ref_new(o->ingress);
    t->origins = origin_pool_new(loop);
    size_t n_pools = o->n_edges < o->ha_connections ? o->n_edges : o->ha_connections;
    t->pools = calloc(n_pools, sizeof *t->pools);
    t->pool_base = calloc(n_pools, sizeof *t->pool_base);
    t->conns = calloc(o->ha_connections, sizeof *t->conns);
    if (t->ingress == NULL || t->origins == NULL || t->pools == NULL || t->pool_base == NULL || t->conns == NULL) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    declare_metrics(t);
    uv_idle_init(loop, &t->flush_later);
    t->flush_later.data = t;
    t->handles_open = 1;
    unsigned base = 0;
    for (size_t i = 0; i < n_pools; i++) {
        /* edge i gets an even share, the first ones one more when it does not divide */
        unsigned share = o->ha_connections / (unsigned)n_pools + (i < o->ha_connections % n_pools ? 1 : 0);
        char host[256], port[16];
        if (pqify_net_split_hostport(o->edges[i], host, sizeof host, port, sizeof port) != 0) {
            snprintf(err, cap, "edge '%s' is not HOST:PORT", o->edges[i]);
            goto fail;
        }
        t->pool_base[i] = base;
        for (unsigned k = 0; k < share; k++)
            t->conns[base + k] = (tconn){.t = t, .edge = (unsigned)i, .slot = k, .index = base + k};
        base += share;
        pqify_pool_opts po = {.host = host, .port = port, .size = share, .cfg = o->tls, .stream = o->stream,
                              .dial = {.backoff_base_ms = o->backoff_base_ms, .backoff_cap_ms = o->backoff_cap_ms,
                                       .connect_timeout_ms = 5000},
                              .on_up = pool_up, .on_down = pool_down, .on_data = pool_data, .ctx = t};
        t->pools[i] = pqify_pool_new(loop, &po);
        if (t->pools[i] == NULL) {
            snprintf(err, cap, "edge %s: cannot make its connection pool", o->edges[i]);
            goto fail;
        }
        t->n_pools = i + 1;
    }
    for (size_t i = 0; i < t->n_pools; i++)
        if (pqify_pool_start(t->pools[i]) != 0) {
            snprintf(err, cap, "edge %s: cannot start dialling", o->edges[i]);
            goto fail;
        }
    *out = t;
    return 0;
fail:
    pqify_tunnel_connector_free(t);
    return PQIFY_ERR_ARG;
}

unsigned pqify_tunnel_connector_registered(const pqify_tunnel_connector *c) { return c->registered; }

void pqify_tunnel_connector_ready_json(const pqify_tunnel_connector *c, int draining, char *json, size_t cap)
{
    int ok = c->registered > 0 && !draining;
    snprintf(json, cap, "{\"status\":%d,\"readyConnections\":%u,\"haConnections\":%u,\"tunnel\":\"%s\"%s}\n",
             ok ? 200 : 503, c->registered, c->o.ha_connections, c->name, draining ? ",\"draining\":true" : "");
}

void pqify_tunnel_connector_swap_ingress(pqify_tunnel_connector *c, pqify_ingress *in)
{
    struct ingress_ref *r = ingress_ref_new(in);
    if (r == NULL) {
        pqify_ingress_free(in);
        return;
    }
    ingress_unref(c->ingress);
    c->ingress = r;
}

static unsigned open_streams(const pqify_tunnel_connector *t)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->o.ha_connections; i++)
        for (tstream *st = t->conns[i].streams; st != NULL; st = st->next)
            n++;
    return n;
}

static void drain_idle(uv_idle_t *h)
{
    pqify_tunnel_connector *t = h->data;
    if (open_streams(t) > 0 && !t->aborting)
        return;
    uv_idle_stop(h);
    /* nothing in flight: close every connection (close_notify) and stop redialling */
    origin_pool_free(t->origins);
    t->origins = NULL;
    if (!t->pools_freed) {
        t->pools_freed = 1;
        for (size_t i = 0; i < t->n_pools; i++)
            pqify_pool_free(t->pools[i]);
    }
    if (t->drained != NULL)
        t->drained(t->drained_arg);
}

void pqify_tunnel_connector_drain(pqify_tunnel_connector *t, void (*done)(void *), void *arg)
{
    t->draining = 1;
    t->drained = done;
    t->drained_arg = arg;
    for (unsigned i = 0; i < t->o.ha_connections; i++) {
        tconn *c = &t->conns[i];
        if (c->h2 != NULL && !c->goaway_sent) {
            /* RFC 9113 §6.8: the streams the edge already opened are served; it opens no new ones here */
            nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->h2),
                                  NGHTTP2_NO_ERROR, NULL, 0);
            c->goaway_sent = 1;
            conn_unregister(c);
            conn_flush(c);
        }
    }
    if (!t->drain_started) {
        t->drain_started = 1;
        uv_idle_init(t->loop, &t->drain_check);
        t->drain_check.data = t;
        t->handles_open++;
    }
    uv_idle_start(&t->drain_check, drain_idle);
}

void pqify_tunnel_connector_abort(pqify_tunnel_connector *t)
{
    t->aborting = 1;
    for (unsigned i = 0; i < t->o.ha_connections; i++)
        conn_drop_streams(&t->conns[i]);
}

static void release(pqify_tunnel_connector *t)
{
    free(t->conns);
    free(t->pools);
    free(t->pool_base);
    free(t);
}

static void handle_closed(uv_handle_t *h)
{
    pqify_tunnel_connector *t = h->data;
    if (--t->handles_open == 0)
        release(t);
}

/* the pools call pool_down for every connection they still close: t lives until then */
static void maybe_free(pqify_tunnel_connector *t)
{
    if (t->live > 0)
        return;
    t->freeing = 0;   /* once */
    if (t->handles_open == 0) {
        release(t);
        return;
    }
    if (t->drain_started)
        uv_close((uv_handle_t *)&t->drain_check, handle_closed);
    if (t->flush_later.data == t)
        uv_close((uv_handle_t *)&t->flush_later, handle_closed);
}

void pqify_tunnel_connector_free(pqify_tunnel_connector *t)
{
    if (t == NULL || t->freeing)
        return;
    if (!t->pools_freed) {
        t->pools_freed = 1;
        for (size_t i = 0; i < t->n_pools; i++)
            pqify_pool_free(t->pools[i]);
    }
    for (unsigned i = 0; t->conns != NULL && i < t->o.ha_connections; i++) {
        tconn *c = &t->conns[i];
        conn_unregister(c);
        conn_drop_streams(c);
        if (c->h2 != NULL)
            nghttp2_session_del(c->h2);
        c->h2 = NULL;
    }
    origin_pool_free(t->origins);
    t->origins = NULL;
    ingress_unref(t->ingress);
    t->ingress = NULL;
    if (t->drain_started)
        uv_idle_stop(&t->drain_check);
    if (t->handles_open > 0)
        uv_idle_stop(&t->flush_later);
    t->freeing = 1;
    maybe_free(t);
}
