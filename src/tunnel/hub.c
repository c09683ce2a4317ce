/*
 * The edge's side of the tunnel (include/pqify/tunnel.h): a listener where connectors
 * dial in over pq: required mutual TLS, an HTTP/2 client session (nghttp2) on each
 * connection, the registration exchange that binds the connection to the tunnel its
 * certificate names, and requests spread round robin over a tunnel's registered
 * connections, retried on another when safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"
#include "pqify/net/listener.h"

#define REQ_BODY_HIGH_WATER (256u * 1024u)
#define MAX_RESP_HEADERS 128

typedef struct hconn hconn;

typedef struct tunnel {
    struct tunnel *next;
    char name[64];
    hconn **conns;                     /* registered and not going away */
    size_t n, cap, rr;
    pqify_series *m_conns;
} tunnel;

struct pqify_tunnel_hub {
    uv_loop_t *loop;
    pqify_tunnel_hub_options o;
    pqify_listener *listener;
    tunnel *tunnels;
    hconn *all;                        /* every connection */
    int freeing;
    pqify_tls_metrics tls_metrics;
    int have_tls_metrics;
    pqify_metric *m_conns, *m_requests, *m_retries, *m_errors;
    /* requests waiting for a connection (wait_for_connection_ms), oldest first: their
     * deadlines come in the same order, so one timer for the first does */
    pqify_tunnel_req *wait_head, *wait_tail;
    uv_timer_t *wait_timer;
};

struct hconn {
    pqify_tunnel_hub *hub;
    hconn *next, *prev;
    pqify_stream *s;
    nghttp2_session *h2;
    char name[64];                     /* the CN of the client certificate */
    char group[48];
    tunnel *tun;                       /* set once registered */
    int registered, going_away, closing, in_recv;
    int32_t register_id;
    int register_status;
    char register_name[64];
    pqify_tunnel_req *reqs;            /* requests on this connection */
};

struct pqify_tunnel_req {
    pqify_tunnel_hub *hub;
    tunnel *tun;
    hconn *c;
    pqify_tunnel_req *next, *prev;     /* on c */
    pqify_tunnel_req *wnext, *wprev;   /* on the hub's wait list, while waiting */
    int waiting, waited;               /* waited: once after its connections died */
    uint64_t deadline;                 /* uv_now when it stops waiting */
    int32_t id;
    pqify_tunnel_req_cbs cbs;
    void *ctx;
    nghttp2_nv *nv;                    /* the request head, kept for a retry */
    size_t n_nv;
    int idempotent, has_body;
    unsigned retries;
    /* request body (body.eof: the caller ended it) */
    tunnel_body body;
    int body_sent, want_writable;
    /* response */
    int head_seen, done;
    size_t unconsumed;
    pqify_tunnel_header hdrs[MAX_RESP_HEADERS];
    char *hstore;
    size_t hlen, hcap, n_hdrs;
    int status;
};

static void conn_flush(hconn *c);
static int submit(pqify_tunnel_req *r, char *err, size_t cap);

static pqify_series *labelled(pqify_metric *m, const char *tunnel_name)
{
    return pqify_metric_series(m, 1, (const char *[]){tunnel_name});
}

/* ---- tunnels by name ---- */

static tunnel *tunnel_find(const pqify_tunnel_hub *h, const char *name)
{
    for (tunnel *t = h->tunnels; t != NULL; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static tunnel *tunnel_get(pqify_tunnel_hub *h, const char *name)
{
    tunnel *t = tunnel_find(h, name);
    if (t != NULL)
        return t;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->m_conns = labelled(h->m_conns, name);
    t->next = h->tunnels;
    h->tunnels = t;
    return t;
}

static void tunnel_remove(hconn *c)
{
    tunnel *t = c->tun;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (t->conns[i] == c) {
            t->conns[i] = t->conns[--t->n];
            break;
        }
    pqify_gauge_set(t->m_conns, (double)t->n);
    c->tun = NULL;
}

static hconn *tunnel_pick(tunnel *t, const hconn *avoid)
{
    if (t == NULL || t->n == 0)
        return NULL;
    for (size_t k = 0; k < t->n; k++) {
        hconn *c = t->conns[t->rr++ % t->n];
        if (c != avoid || t->n == 1)
            return c != avoid ? c : NULL;
    }
    return NULL;
}

/* ---- requests ---- */

static void req_unlink(pqify_tunnel_req *r)
{
    hconn *c = r->c;
    if (c == NULL)
        return;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
    if (c->h2 != NULL && r->id > 0) {
        nghttp2_session_set_stream_user_data(c->h2, r->id, NULL);
        if (r->unconsumed > 0)
            nghttp2_session_consume_connection(c->h2, r->unconsumed);
    }
    r->unconsumed = 0;
    r->c = NULL;
    r->id = 0;
}

/* ---- requests waiting for a connection ---- */

static void wait_unlink(pqify_tunnel_req *r)
{
    pqify_tunnel_hub *h = r->hub;
    if (!r->waiting)
        return;
    if (r->wprev != NULL)
        r->wprev->wnext = r->wnext;
    else
        h->wait_head = r->wnext;
    if (r->wnext != NULL)
        r->wnext->wprev = r->wprev;
    else
        h->wait_tail = r->wprev;
    r->wnext = r->wprev = NULL;
    r->waiting = 0;
}

static void on_wait_timer(uv_timer_t *t);

static void wait_arm(pqify_tunnel_hub *h)
{
    if (h->wait_timer == NULL)
        return;
    if (h->wait_head == NULL) {
        uv_timer_stop(h->wait_timer);
        return;
    }
    uint64_t now = uv_now(h->loop), at = h->wait_head->deadline;
    uv_timer_start(h->wait_timer, on_wait_timer, at > now ? at - now : 0, 0);
}

/* r (on no connection) waits for one of its tunnel's to register */
static void wait_add(pqify_tunnel_req *r)
{
    pqify_tunnel_hub *h = r->hub;
    r->waiting = 1;
    r->deadline = uv_now(h->loop) + h->o.wait_for_connection_ms;
    r->wprev = h->wait_tail;
    r->wnext = NULL;
    if (h->wait_tail != NULL)
        h->wait_tail->wnext = r;
    else
        h->wait_head = r;
    h->wait_tail = r;
    wait_arm(h);
}

static void req_fail(pqify_tunnel_req *r, const char *why);

static void on_wait_timer(uv_timer_t *t)
{
    pqify_tunnel_hub *h = t->data;
    uint64_t now = uv_now(h->loop);
    while (h->wait_head != NULL && h->wait_head->deadline <= now) {
        pqify_tunnel_req *r = h->wait_head;
        char why[160];
        snprintf(why, sizeof why, "tunnel %s has no registered connection (waited %u ms)", r->tun->name,
                 h->o.wait_for_connection_ms);
        req_fail(r, why);
    }
    wait_arm(h);
}

static void req_free(pqify_tunnel_req *r)
{
    wait_unlink(r);
    req_unlink(r);
    free(r->nv);
    tunnel_body_free(&r->body);
    free(r->hstore);
    free(r);
}

static void req_fail(pqify_tunnel_req *r, const char *why)
{
    pqify_counter_add(labelled(r->hub->m_errors, r->tun->name), 1);
    req_unlink(r);
    r->done = 1;
    r->cbs.on_error(r, why, r->ctx);
    req_free(r);
}

/* the connection r was on is gone or refused it: another one, when that is safe */
/* The connection r was on is gone or refused it: another one, when that is safe. With
 * a wait configured, a request that finds no other connection (or used its retries on
 * connections that died one after another, as when a connector is killed) waits once
 * for a new one: retries and that one wait bound what it costs. */
static void req_retry_or_fail(pqify_tunnel_req *r, hconn *dead, int refused, const char *why)
{
    pqify_tunnel_hub *h = r->hub;
    req_unlink(r);
    int safe = !r->head_seen && !r->body_sent && (r->idempotent || refused);
    unsigned max = h->o.max_retries ? h->o.max_retries : 2;
    hconn *next = safe && r->retries < max ? tunnel_pick(r->tun, dead) : NULL;
    char err[160];
    if (next != NULL) {
        r->retries++;
        pqify_counter_add(labelled(h->m_retries, r->tun->name), 1);
        r->c = next;
        if (submit(r, err, sizeof err) == 0) {
            conn_flush(next);
            return;
        }
        r->c = NULL;
    } else if (safe && !r->waited && h->o.wait_for_connection_ms > 0 && !h->freeing) {
        r->waited = 1;
        pqify_counter_add(labelled(h->m_retries, r->tun->name), 1);
        wait_add(r);
        return;
    }
    req_fail(r, why);
}

static ssize_t read_req_body(nghttp2_session *h2, int32_t id, uint8_t *out, size_t length, uint32_t *flags,
                             nghttp2_data_source *src, void *user)
{
    (void)h2;
    (void)id;
    (void)user;
    pqify_tunnel_req *r = src->ptr;
    ssize_t n = tunnel_body_read(&r->body, out, length, flags);
    if (n > 0)
        r->body_sent = 1;
    if (tunnel_body_waiting(&r->body) < REQ_BODY_HIGH_WATER / 2 && r->want_writable)
        r->want_writable = 2;   /* told after the flush, outside nghttp2 */
    return n;
}

static int submit(pqify_tunnel_req *r, char *err, size_t cap)
{
    hconn *c = r->c;
    nghttp2_data_provider dp = {.source = {.ptr = r}, .read_callback = read_req_body};
    int32_t id = nghttp2_submit_request(c->h2, NULL, r->nv, r->n_nv, r->has_body ? &dp : NULL, r);
    if (id < 0) {
        snprintf(err, cap, "cannot open a stream to tunnel %s: %s", r->tun->name, nghttp2_strerror(id));
        return -1;
    }
    r->id = id;
    r->body.deferred = 0;
    r->next = c->reqs;
    r->prev = NULL;
    if (c->reqs != NULL)
        c->reqs->prev = r;
    c->reqs = r;
    return 0;
}

static int copy_head(pqify_tunnel_req *r, const pqify_tunnel_request *rq)
{
    const char *pseudo[5][2] = {{":method", rq->method}, {":protocol", rq->protocol},
                                {":scheme", rq->scheme ? rq->scheme : "https"}, {":authority", rq->authority},
                                {":path", rq->path}};
    size_t total = 0, n = 0;
    for (size_t i = 0; i < 5; i++)
        if (pseudo[i][1] != NULL)
            total += strlen(pseudo[i][0]) + strlen(pseudo[i][1]) + 2, n++;
    for (size_t i = 0; i < rq->n_headers; i++)
        total += rq->headers[i].name_len + rq->headers[i].value_len + 2;
    n += rq->n_headers;
    r->nv = malloc(n * sizeof *r->nv + total);
    if (r->nv == NULL)
        return -1;
    char *p = (char *)(r->nv + n);
    size_t k = 0;
#define PUT(nm, nl, vl_, vn)                                                                    \
    do {                                                                                        \
        memcpy(p, nm, nl);                                                                      \
        p[nl] = '\0';                                                                           \
        r->nv[k].name = (uint8_t *)p;                                                           \
        r->nv[k].namelen = nl;                                                                  \
        p += (nl) + 1;                                                                          \
        memcpy(p, vl_, vn);                                                                     \
        p[vn] = '\0';                                                                           \
        r->nv[k].value = (uint8_t *)p;                                                          \
        r->nv[k].valuelen = vn;                                                                 \
        r->nv[k].flags = NGHTTP2_NV_FLAG_NONE;                                                  \
        p += (vn) + 1;                                                                          \
        k++;                                                                                    \
    } while (0)
    for (size_t i = 0; i < 5; i++)
        if (pseudo[i][1] != NULL)
            PUT(pseudo[i][0], strlen(pseudo[i][0]), pseudo[i][1], strlen(pseudo[i][1]));
    for (size_t i = 0; i < rq->n_headers; i++)
        PUT(rq->headers[i].name, rq->headers[i].name_len, rq->headers[i].value, rq->headers[i].value_len);
#undef PUT
    r->n_nv = k;
    return 0;
}

pqify_tunnel_req *pqify_tunnel_hub_request(pqify_tunnel_hub *h, const char *name, const pqify_tunnel_request *rq,
                                           const pqify_tunnel_req_cbs *cbs, void *ctx, char *err, size_t cap)
{
    tunnel *t = h->o.wait_for_connection_ms > 0 ? tunnel_get(h, name) : tunnel_find(h, name);
    hconn *c = tunnel_pick(t, NULL);
    if (c == NULL && (t == NULL || h->o.wait_for_connection_ms == 0)) {
        snprintf(err, cap, "tunnel %s has no registered connection", name);
        return NULL;
    }
    if (rq->method == NULL || rq->path == NULL) {
        snprintf(err, cap, "a request needs a method and a path");
        return NULL;
    }
    pqify_tunnel_req *r = calloc(1, sizeof *r);
    if (r == NULL || copy_head(r, rq) < 0) {
        free(r);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    r->hub = h;
    r->tun = t;
    r->c = c;
    r->cbs = *cbs;
    r->ctx = ctx;
    r->has_body = rq->has_body;
    /* RFC 9110 §9.2.2: these may be sent again without changing anything */
    r->idempotent = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD") || !strcmp(rq->method, "OPTIONS");
    pqify_counter_add(labelled(h->m_requests, name), 1);
    if (c == NULL) {
        wait_add(r);
        return r;
    }
    if (submit(r, err, cap) < 0) {
        free(r->nv);
        free(r);
        return NULL;
    }
    conn_flush(c);
    return r;
}

/* more of the body or its end is in: nghttp2 reads again if it was waiting */
static void body_resume(pqify_tunnel_req *r)
{
    if (r->c != NULL && r->body.deferred) {
        tunnel_body_resume(&r->body, r->c->h2, r->id);
        conn_flush(r->c);
    }
}

int pqify_tunnel_req_write(pqify_tunnel_req *r, const void *data, size_t len)
{
    if (r->body.eof || r->done || !r->has_body || tunnel_body_append(&r->body, data, len) != 0)
        return -1;
    body_resume(r);
    if (tunnel_body_waiting(&r->body) >= REQ_BODY_HIGH_WATER) {
        r->want_writable = 1;
        return 1;
    }
    return 0;
}

int pqify_tunnel_req_end(pqify_tunnel_req *r)
{
    if (r->body.eof || r->done)
        return -1;
    r->body.eof = 1;
    body_resume(r);
    return 0;
}

void pqify_tunnel_req_consumed(pqify_tunnel_req *r, size_t n)
{
    if (r->c == NULL || r->c->h2 == NULL)
        return;
    if (n > r->unconsumed)
        n = r->unconsumed;
    r->unconsumed -= n;
    nghttp2_session_consume(r->c->h2, r->id, n);
    conn_flush(r->c);
}

void pqify_tunnel_req_cancel(pqify_tunnel_req *r)
{
    hconn *c = r->c;
    if (c != NULL && c->h2 != NULL && r->id > 0)
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, r->id, NGHTTP2_CANCEL);
    req_free(r);
    if (c != NULL)
        conn_flush(c);
}

const char *pqify_tunnel_req_group(const pqify_tunnel_req *r)
{
    return r->c != NULL ? r->c->group : "";
}

/* ---- nghttp2 callbacks (the edge is the client) ---- */

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
    (void)flags;
    hconn *c = user;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (f->hd.stream_id == c->register_id) {
        if (nlen == 7 && memcmp(name, ":status", 7) == 0)
            c->register_status = atoi((const char *)value);
        else if (nlen == strlen(TUNNEL_HDR_NAME) && memcmp(name, TUNNEL_HDR_NAME, nlen) == 0)
            snprintf(c->register_name, sizeof c->register_name, "%.*s", (int)(vlen < 63 ? vlen : 63), value);
        return 0;
    }
    pqify_tunnel_req *r = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (r == NULL)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        r->status = atoi((const char *)value);
        r->n_hdrs = 0;
        r->hlen = 0;
        return 0;
    }
    if (r->n_hdrs == MAX_RESP_HEADERS || r->hlen + nlen + vlen + 2 > TUNNEL_MAX_HEAD)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* resets the stream */
    if (r->hlen + nlen + vlen + 2 > r->hcap) {
        size_t cap = r->hcap ? r->hcap * 2 : 2048;
        while (cap < r->hlen + nlen + vlen + 2)
            cap *= 2;
        char *b = realloc(r->hstore, cap);
        if (b == NULL)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        /* the pointers already handed out move with the store */
        for (size_t i = 0; i < r->n_hdrs; i++) {
            r->hdrs[i].name = b + (r->hdrs[i].name - r->hstore);
            r->hdrs[i].value = b + (r->hdrs[i].value - r->hstore);
        }
        r->hstore = b;
        r->hcap = cap;
    }
    char *p = r->hstore + r->hlen;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    r->hdrs[r->n_hdrs++] = (pqify_tunnel_header){p, p + nlen + 1, nlen, vlen};
    r->hlen += nlen + vlen + 2;
    return 0;
}

/* a connection of t registered: the requests waiting for t go, in arrival order */
static void wait_release(pqify_tunnel_hub *h, tunnel *t)
{
    for (;;) {
        /* from the head each time: a failure's callback may cancel other waiting requests */
        pqify_tunnel_req *r = h->wait_head;
        while (r != NULL && r->tun != t)
            r = r->wnext;
        if (r == NULL)
            break;
        wait_unlink(r);
        r->c = tunnel_pick(t, NULL);
        char err[160] = "no connection";
        if (r->c == NULL || submit(r, err, sizeof err) != 0) {
            r->c = NULL;
            req_fail(r, err);
            continue;
        }
        if (!r->c->in_recv)
            conn_flush(r->c);
    }
    wait_arm(h);
}

static void registered(hconn *c)
{
    pqify_tunnel_hub *h = c->hub;
    if (c->register_status != 200 || strcmp(c->register_name, c->name) != 0) {
        fprintf(stderr, "pqify tunnel hub: connector %s refused registration: status %d, it names tunnel '%s', its certificate '%s'\n",
                pqify_stream_peer(c->s), c->register_status, c->register_name, c->name);
        c->closing = 1;
        pqify_stream_close(c->s);
        return;
    }
    tunnel *t = tunnel_get(h, c->name);
    if (t == NULL || (t->n == t->cap && (t->conns = realloc(t->conns, (t->cap = t->cap ? t->cap * 2 : 4) * sizeof *t->conns)) == NULL)) {
        c->closing = 1;
        pqify_stream_abort(c->s);
        return;
    }
    t->conns[t->n++] = c;
    c->tun = t;
    c->registered = 1;
    pqify_gauge_set(t->m_conns, (double)t->n);
    fprintf(stderr, "pqify tunnel hub: registered tunnel=%s connector=%s group=%s connections=%zu\n", t->name,
            pqify_stream_peer(c->s), c->group, t->n);
    wait_release(h, t);
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    hconn *c = user;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        /* RFC 9113 §6.8: the connector is leaving: no new requests here */
        c->going_away = 1;
        tunnel_remove(c);
        return 0;
    }
    if (f->hd.stream_id == c->register_id && f->hd.type == NGHTTP2_HEADERS) {
        if (!c->registered)
            registered(c);
        return 0;
    }
    int32_t id = f->hd.stream_id;
    pqify_tunnel_req *r = nghttp2_session_get_stream_user_data(h2, id);
    if (r == NULL)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        if (r->status >= 100 && r->status < 200)
            return 0;   /* interim */
        r->head_seen = 1;
        r->cbs.on_head(r, r->status, r->hdrs, r->n_hdrs, r->ctx);
        if ((r = nghttp2_session_get_stream_user_data(h2, id)) == NULL)
            return 0;   /* the caller let go of it */
    }
    int end = (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) && (f->hd.flags & NGHTTP2_FLAG_END_STREAM);
    if (end && r->head_seen && r->has_body && !r->body.eof) {
        /* RFC 9113 §8.1: the response is complete while the request is still open (a
         * relayed WebSocket the origin closed, an early answer): it is over, and the
         * rest of the request is not wanted */
        req_unlink(r);
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
        r->done = 1;
        r->cbs.on_end(r, r->ctx);
        req_free(r);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    (void)flags;
    (void)user;
    pqify_tunnel_req *r = nghttp2_session_get_stream_user_data(h2, id);
    if (r == NULL) {
        nghttp2_session_consume(h2, id, len);
        return 0;
    }
    r->unconsumed += len;
    r->cbs.on_body(r, data, len, r->ctx);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
    hconn *c = user;
    pqify_tunnel_req *r = nghttp2_session_get_stream_user_data(h2, id);
    if (r == NULL)
        return 0;
    if (code == NGHTTP2_NO_ERROR && r->head_seen) {
        req_unlink(r);
        r->done = 1;
        r->cbs.on_end(r, r->ctx);
        req_free(r);
        return 0;
    }
    char why[160];
    snprintf(why, sizeof why, "the connector reset the stream (%s)", nghttp2_http2_strerror(code));
    req_retry_or_fail(r, c, code == NGHTTP2_REFUSED_STREAM, why);
    return 0;
}

/* ---- connections ---- */

static void conn_flush(hconn *c)
{
    if (c->h2 == NULL || c->s == NULL || c->in_recv)
        return;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->h2, &data);
        if (n < 0) {
            pqify_stream_abort(c->s);
            return;
        }
        if (n == 0)
            break;
        if (pqify_stream_send(c->s, data, (size_t)n) < 0)
            return;
    }
    /* writers waiting for room, told outside nghttp2's callbacks */
    for (pqify_tunnel_req *r = c->reqs, *next; r != NULL; r = next) {
        next = r->next;
        if (r->want_writable == 2) {
            r->want_writable = 0;
            if (r->cbs.on_writable != NULL)
                r->cbs.on_writable(r, r->ctx);
        }
    }
    if (!c->closing && c->going_away && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)) {
        c->closing = 1;
        pqify_stream_close(c->s);
    }
}

static void on_handshake(pqify_stream *s, void *ctx)
{
    hconn *c = ctx;
    pqify_tunnel_hub *h = c->hub;
    if (h->have_tls_metrics)
        pqify_tls_metrics_handshake(&h->tls_metrics, pqify_stream_conn(s), 1);
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    snprintf(c->group, sizeof c->group, "%s", info.group != NULL ? info.group : "");
    if (!info.peer_cert || pqify_tunnel_subject_cn(info.peer_subject, c->name, sizeof c->name) < 0) {
        fprintf(stderr, "pqify tunnel hub: connector %s: its certificate has no CN to name a tunnel (subject '%s')\n",
                pqify_stream_peer(s), info.peer_subject);
        c->closing = 1;
        pqify_stream_close(s);
        return;
    }
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        goto fail;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        goto fail;
    }
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int ret = nghttp2_session_client_new2(&c->h2, cb, c, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    if (ret != 0) {
        c->h2 = NULL;
        goto fail;
    }
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, TUNNEL_STREAM_WINDOW}};
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, TUNNEL_CONN_WINDOW);
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"tunnel", 10, 6, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)TUNNEL_REGISTER_PATH, 5, strlen(TUNNEL_REGISTER_PATH), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)TUNNEL_HDR_CERT, (uint8_t *)c->name, strlen(TUNNEL_HDR_CERT), strlen(c->name),
         NGHTTP2_NV_FLAG_NONE},
    };
    c->register_id = nghttp2_submit_request(c->h2, NULL, nv, sizeof nv / sizeof nv[0], NULL, NULL);
    if (c->register_id < 0)
        goto fail;
    conn_flush(c);
    return;
fail:
    c->closing = 1;
    pqify_stream_abort(s);
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    hconn *c = ctx;
    if (c->h2 == NULL)
        return;
    c->in_recv = 1;
    ssize_t n = nghttp2_session_mem_recv(c->h2, data, len);
    c->in_recv = 0;
    if (n < 0) {
        fprintf(stderr, "pqify tunnel hub: HTTP/2 from connector %s: %s\n", pqify_stream_peer(c->s),
                nghttp2_strerror((int)n));
        c->going_away = 1;
        tunnel_remove(c);
        conn_flush(c);
        if (!c->closing) {
            c->closing = 1;
            pqify_stream_close(c->s);
        }
        return;
    }
    conn_flush(c);
}

static void hub_release(pqify_tunnel_hub *h);

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    hconn *c = ctx;
    pqify_tunnel_hub *h = c->hub;
    if (c->registered)
        fprintf(stderr, "pqify tunnel hub: tunnel=%s connector=%s down: %s\n", c->name, pqify_stream_peer(s),
                pqify_stream_strerror(status));
    tunnel_remove(c);
    c->s = NULL;
    /* the requests it carried: again elsewhere when safe, else an error */
    while (c->reqs != NULL)
        req_retry_or_fail(c->reqs, c, 0, "the tunnel connection carrying the request was lost");
    if (c->h2 != NULL)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        h->all = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (h->listener != NULL)
        pqify_listener_done(h->listener);
    free(c);
    if (h->freeing && h->all == NULL)
        hub_release(h);
}

static void hub_release(pqify_tunnel_hub *h)
{
    while (h->tunnels != NULL) {
        tunnel *t = h->tunnels;
        h->tunnels = t->next;
        free(t->conns);
        free(t);
    }
    free(h);
}

static const pqify_stream_cbs hub_stream_cbs = {on_handshake, on_data, NULL, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    pqify_tunnel_hub *h = ctx;
    hconn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->hub = h;
    c->register_id = -1;
    if (pqify_stream_accept(h->loop, fd, h->o.tls, &h->o.stream, &hub_stream_cbs, c, &c->s) != 0) {
        free(c);
        pqify_listener_done(l);
        return;
    }
    c->next = h->all;
    if (h->all != NULL)
        h->all->prev = c;
    h->all = c;
}

static void free_timer(uv_handle_t *t)
{
    free(t);
}

int pqify_tunnel_hub_start(uv_loop_t *loop, const pqify_tunnel_hub_options *o, pqify_tunnel_hub **out, char *err,
                           size_t cap)
{
    char host[256], port[16];
    if (o->listen == NULL || pqify_net_split_hostport(o->listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, cap, "tunnels.listen '%s' is not HOST:PORT", o->listen ? o->listen : "");
        return PQIFY_ERR_ARG;
    }
    pqify_tunnel_hub *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, cap, "out of memory");
        return PQIFY_ERR_ARG;
    }
    h->loop = loop;
    h->o = *o;
    if (o->metrics != NULL) {
        h->have_tls_metrics = pqify_tls_metrics_init(&h->tls_metrics, o->metrics) == 0;
        h->m_conns = pqify_metrics_gauge(o->metrics, "pqify_tunnel_hub_connections",
                                         "Registered connector connections by tunnel.", "tunnel");
        h->m_requests = pqify_metrics_counter(o->metrics, "pqify_tunnel_hub_requests_total",
                                              "Requests sent into tunnels.", "tunnel");
        h->m_retries = pqify_metrics_counter(o->metrics, "pqify_tunnel_hub_retries_total",
                                             "Requests sent again on another connection after theirs was lost.",
                                             "tunnel");
        h->m_errors = pqify_metrics_counter(o->metrics, "pqify_tunnel_hub_errors_total",
                                            "Requests that failed in the tunnel (no answer from the connector).",
                                            "tunnel");
    }
    if (o->wait_for_connection_ms > 0) {
        h->wait_timer = malloc(sizeof *h->wait_timer);
        if (h->wait_timer == NULL || uv_timer_init(loop, h->wait_timer) != 0) {
            free(h->wait_timer);
            free(h);
            snprintf(err, cap, "out of memory");
            return PQIFY_ERR_ARG;
        }
        h->wait_timer->data = h;
    }
    pqify_listener_opts lo = {.host = host, .port = port,
                              .max_connections = o->max_connections ? o->max_connections : 10000};
    int ret = pqify_listener_open(loop, &lo, on_accept, h, &h->listener, err, cap);
    if (ret < 0) {
        if (h->wait_timer != NULL)
            uv_close((uv_handle_t *)h->wait_timer, free_timer);
        free(h);
        return ret;
    }
    *out = h;
    return 0;
}

void pqify_tunnel_hub_address(const pqify_tunnel_hub *h, char *out, size_t cap)
{
    pqify_listener_address(h->listener, out, cap);
}

unsigned pqify_tunnel_hub_registered(const pqify_tunnel_hub *h, const char *name)
{
    const tunnel *t = tunnel_find(h, name);
    return t != NULL ? (unsigned)t->n : 0;
}

int pqify_tunnel_hub_drop_connection(pqify_tunnel_hub *h, const char *name)
{
    tunnel *t = tunnel_find(h, name);
    if (t == NULL || t->n == 0)
        return -1;
    hconn *c = t->conns[0];
    tunnel_remove(c);
    c->closing = 1;
    pqify_stream_abort(c->s);
    return 0;
}

void pqify_tunnel_hub_free(pqify_tunnel_hub *h)
{
    if (h == NULL)
        return;
    pqify_listener_free(h->listener);
    h->listener = NULL;
    for (hconn *c = h->all; c != NULL; c = c->next) {
        tunnel_remove(c);
        c->going_away = 1;
        if (c->s != NULL && !c->closing) {
            c->closing = 1;
            pqify_stream_abort(c->s);
        }
    }
    /* the connections free themselves in on_close (requests on them get on_error
     * then); the last one frees the hub */
    h->freeing = 1;
    while (h->wait_head != NULL)
        req_fail(h->wait_head, "the edge's tunnel listener is shutting down");
    if (h->wait_timer != NULL)
        uv_close((uv_handle_t *)h->wait_timer, free_timer);
    h->wait_timer = NULL;
    if (h->all == NULL)
        hub_release(h);
}
