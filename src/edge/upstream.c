/* The edge's side of net/http_origin (edge_internal.h): a route's origin with the
 * edge's limits, and the callbacks that hand the origin's answer to the request's
 * frontend (hop-by-hop fields dropped, 502/504 on failure, reading paused while the
 * client side is full); and the byte queue the frontends keep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"

/* ---- the byte queue ------------------------------------------------------------------ */


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


/* ---- a route's origin ----------------------------------------------------------------- */

/* tls (https://) is the pool's: freed with its last connection. */
edge_pool *edge_pool_new(edge *e, const edge_origin *o, pqify_tls_config *tls)
{
    pqify_http_origin_opts po = {
        .kind = o->kind == EDGE_ORIGIN_UNIX    ? PQIFY_HTTP_ORIGIN_UNIX
                : o->kind == EDGE_ORIGIN_HTTPS ? PQIFY_HTTP_ORIGIN_HTTPS
                                               : PQIFY_HTTP_ORIGIN_HTTP,
        .host = o->host, .port = o->port, .path = o->path,
        .tls = tls, .own_tls = tls != NULL,
        .connect_timeout_ms = e->lim.origin_connect_timeout_ms,
        .response_timeout_ms = e->lim.origin_timeout_ms,
        .idle_max = EDGE_POOL_IDLE_MAX, .idle_timeout_ms = EDGE_POOL_IDLE_MS,
        .high_water = EDGE_HIGH_WATER,
    };
    return pqify_http_origin_new(e->loop, &po);
}

void edge_pool_free(edge_pool *p)
{
    pqify_http_origin_free(p);
}

/* ---- the origin's answer to the frontend ---------------------------------------------- */

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

static void up_head(pqify_http_origin_req *o, const pqify_http_origin_head *h, void *ctx)
{
    (void)o;
    edge_req *r = ctx;
    const char *names[128], *values[128], *conn = NULL;
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++)
        if (edge_token_is(h->names[i], strlen(h->names[i]), "connection"))
            conn = h->values[i];
    for (size_t i = 0; i < h->n && n < 128; i++) {
        const char *name = h->names[i];
        size_t nl = strlen(name);
        if (edge_hop_by_hop(name, nl) || edge_token_is(name, nl, "content-length") ||
            listed_in_connection(conn, name))
            continue;
        names[n] = name;
        values[n] = h->values[i];
        n++;
    }
    r->responded = 1;
    r->status = h->status;
    r->ops->head(r, h->status, names, values, n, h->content_length);
}

static void up_body(pqify_http_origin_req *o, const uint8_t *data, size_t len, void *ctx)
{
    (void)o;
    edge_req *r = ctx;
    r->bytes_out += len;
    r->ops->body(r, data, len);
}

/* The bytes of one read are handed over: stop reading the origin while the client
 * side is full (edge_req_down_resume reads again), then send what was gathered (last:
 * sending may end the request). */
static void up_flush(pqify_http_origin_req *o, void *ctx)
{
    edge_req *r = ctx;
    if (r->ops->down_full(r))
        pqify_http_origin_pause(o, 1);
    r->ops->flush(r);
}

/* The response ended: the request lets go of the exchange (the connection goes back to
 * the pool when the request's body had ended too), then the frontend hears the end. */
static void up_end(pqify_http_origin_req *o, void *ctx)
{
    edge_req *r = ctx;
    r->oc = NULL;
    r->finished = 1;
    pqify_http_origin_release(o);
    r->ops->end(r);   /* last: it may free r */
}

static void up_error(pqify_http_origin_req *o, enum pqify_http_origin_error e, const char *why, void *ctx)
{
    edge_req *r = ctx;
    r->oc = NULL;
    pqify_http_origin_release(o);
    edge_req_fail(r, e == PQIFY_HTTP_ORIGIN_TIMEOUT ? 504 : 502, why);
}

static void up_writable(pqify_http_origin_req *o, void *ctx)
{
    (void)o;
    edge_req *r = ctx;
    r->ops->up_resume(r);
}

const pqify_http_origin_cbs edge_origin_cbs = {.on_head = up_head, .on_body = up_body, .on_end = up_end,
                                               .on_error = up_error, .on_writable = up_writable,
                                               .on_flush = up_flush};
