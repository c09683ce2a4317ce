/* A request between its frontend (h1.c, h2.c) and its origin (upstream.c): the route,
 * the head the origin gets (RFC 9110 §7.6: hop-by-hop fields dropped, Via added;
 * X-Forwarded-For and X-Forwarded-Proto set), the body's framing, one retry of an
 * idempotent request whose reused connection the origin had closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "pqify/net/log.h"

edge_req *edge_req_new(edge_conn *c, const edge_front_ops *ops, int32_t sid)
{
    edge_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->c = c;
    r->ops = ops;
    r->sid = sid;
    r->t0_us = edge_now_us();
    memcpy(r->method, "-", 2);
    return r;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* "IP" of "IP:PORT" / "[V6]:PORT". */
static void client_ip(const char *peer, char *out, size_t cap)
{
    const char *end = strrchr(peer, ':');
    size_t n = end ? (size_t)(end - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, peer, n);
    out[n] = '\0';
}

typedef struct hbuf {
    char *p;
    size_t len, cap;
    int oom;
} hbuf;

static void put(hbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > b->cap - b->len) {
        size_t cap = (b->cap + n) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts_(hbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static int write_head(edge_req *r)
{
    unsigned flags = (r->body_mode == 2 ? PQIFY_HTTP_ORIGIN_CHUNKED : 0) |
                     (!strcmp(r->method, "HEAD") ? PQIFY_HTTP_ORIGIN_HEAD : 0) |
                     (r->body_mode == EDGE_BODY_UPGRADE ? PQIFY_HTTP_ORIGIN_UPGRADE : 0);
    r->oc = pqify_http_origin_start(r->route->pool, r->head, r->head_len, flags, &edge_origin_cbs, r);
    if (r->oc == NULL)
        return -1;
    r->reused = pqify_http_origin_reused(r->oc);
    if (r->body_done)
        pqify_http_origin_end(r->oc);
    return 0;
}

int edge_req_start(edge_req *r, const char *method, const char *host, const char *path,
                   const char *const *names, const char *const *values, const size_t *vlens,
                   size_t n, int body_mode, uint64_t content_length)
{
    edge *e = r->c->e;
    size_t ml = strlen(method);
    if (ml >= sizeof r->method)
        ml = sizeof r->method - 1;
    memcpy(r->method, method, ml);
    r->method[ml] = '\0';
    r->host = dup_or_empty(host);
    r->path = dup_or_empty(path);
    r->gen = e->gen;
    r->gen->refs++;
    if (r->host == NULL || r->path == NULL)
        return 500;
    size_t hl = strlen(r->host);
    for (size_t i = 0; i < r->gen->n_routes; i++) {
        edge_route *rt = &r->gen->routes[i];
        if (edge_hostname_match(rt->hostname, r->host, hl) && edge_path_match(rt->path, r->path)) {
            r->route = rt;
            break;
        }
    }
    if (r->route == NULL)
        return 404;
    if (r->route->tunnel != NULL)
        return edge_tunnel_start(r, path, names, values, vlens, n, body_mode, content_length);

    /* One allocation for the head in the common case: what the client sent plus
     * room for the fields the edge adds. */
    size_t est = 256 + strlen(method) + strlen(path) + hl;
    for (size_t i = 0; i < n; i++)
        est += strlen(names[i]) + vlens[i] + 4;
    hbuf b = {.p = malloc(est), .cap = est};
    b.oom = b.p == NULL;
    char ip[64];
    client_ip(r->c->peer, ip, sizeof ip);
    const char *xff = NULL, *via = NULL;
    size_t xff_len = 0, via_len = 0;
    const char *conn = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (edge_token_is(names[i], nl, "connection"))
            conn = values[i];
    }
    puts_(&b, method);
    puts_(&b, " ");
    puts_(&b, path);
    puts_(&b, " HTTP/1.1\r\nHost: ");
    puts_(&b, r->host);
    puts_(&b, "\r\n");
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        size_t nl = strlen(name);
        if (edge_token_is(name, nl, "x-forwarded-for")) {
            xff = values[i], xff_len = vlens[i];
            continue;
        }
        if (edge_token_is(name, nl, "via")) {
            via = values[i], via_len = vlens[i];
            continue;
        }
        if (edge_hop_by_hop(name, nl) || edge_token_is(name, nl, "host") ||
            edge_token_is(name, nl, "content-length") || edge_token_is(name, nl, "expect") ||
            edge_token_is(name, nl, "x-forwarded-proto") || name[0] == ':')
            continue;
        if (conn != NULL) {
            /* fields the client's Connection names are for this hop only */
            int listed = 0;
            for (const char *p = conn; *p && !listed;) {
                while (*p == ' ' || *p == ',' || *p == '\t')
                    p++;
                size_t tl = strcspn(p, ", \t");
                if (tl == nl && tl > 0 && strncasecmp(p, name, nl) == 0)
                    listed = 1;
                p += tl;
            }
            if (listed)
                continue;
        }
        put(&b, name, nl);
        puts_(&b, ": ");
        put(&b, values[i], vlens[i]);
        puts_(&b, "\r\n");
    }
    puts_(&b, "X-Forwarded-For: ");
    if (xff != NULL) {
        put(&b, xff, xff_len);
        puts_(&b, ", ");
    }
    puts_(&b, ip);
    puts_(&b, "\r\nX-Forwarded-Proto: https\r\nVia: ");
    if (via != NULL) {
        put(&b, via, via_len);
        puts_(&b, ", ");
    }
    puts_(&b, r->sid != 0 ? "2 pqify-edge\r\n" : "1.1 pqify-edge\r\n");
    char line[64];
    if (body_mode == 1) {
        puts_(&b, "Content-Length: ");
        puts_(&b, pqify_log_u64(line, content_length));
        puts_(&b, "\r\n");
    } else if (body_mode == 2) {
        puts_(&b, "Transfer-Encoding: chunked\r\n");
    } else if (body_mode == EDGE_BODY_UPGRADE) {
        puts_(&b, "Connection: Upgrade\r\nUpgrade: websocket\r\n");   /* RFC 6455 §4.1, this hop's */
    }
    puts_(&b, "\r\n");
    if (b.oom) {
        free(b.p);
        return 500;
    }
    r->head = (uint8_t *)b.p;
    r->head_len = b.len;
    r->body_mode = body_mode;
    r->body_done = body_mode == 0;
    if (write_head(r) != 0)
        return 502;
    return 0;
}

void edge_req_body(edge_req *r, const uint8_t *data, size_t len)
{
    r->bytes_in += len;
    if (r->tr != NULL) {
        edge_tunnel_body(r, data, len);
        return;
    }
    if (r->oc == NULL || len == 0 || r->finished)
        return;   /* answered already: the rest of the body is dropped */
    r->body_started = 1;
    pqify_http_origin_write(r->oc, data, len);   /* chunks framed there (body_mode 2) */
}

void edge_req_body_end(edge_req *r)
{
    if (r->body_done || r->body_mode == EDGE_BODY_UPGRADE)
        return;   /* an upgrade's bytes end when a side closes, not with its head */
    r->body_done = 1;
    if (r->tr != NULL)
        edge_tunnel_body_end(r);
    if (r->oc != NULL)
        pqify_http_origin_end(r->oc);
}

int edge_req_up_full(const edge_req *r)
{
    return (r->oc != NULL && pqify_http_origin_full(r->oc)) || r->tr_full;
}

void edge_req_down_resume(edge_req *r)
{
    if (r->tr != NULL)
        edge_tunnel_down_resume(r);
    if (r->oc != NULL)
        pqify_http_origin_pause(r->oc, 0);
}

static int idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS") ||
           !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

void edge_req_fail(edge_req *r, int status, const char *reason)
{
    edge *e = r->c->e;
    /* A kept-alive connection the origin closed before our request reached it
     * (RFC 9112 §9.3.1: a client may retry an idempotent request then). */
    if (status == 502 && r->reused && !r->responded && !r->body_started && r->retried < 3 &&
        idempotent(r->method) && r->route != NULL) {
        r->retried++;
        if (write_head(r) == 0)
            return;
    }
    const char *kind = status == 504 ? "timeout" : "failed";
    if (r->route != NULL) {
        const char *lv[2] = {r->route->label, kind};
        pqify_counter_add(pqify_metric_series(e->m.origin_errors, 2, lv), 1);
        fprintf(stderr, "pqify edge: origin %s for %s %s%s: %s\n",
                r->route->origin.authority, r->method, r->host ? r->host : "",
                r->path ? r->path : "", reason);
    }
    r->finished = 1;
    r->ops->error(r, r->responded ? 0 : status);
}

void edge_req_free(edge_req *r)
{
    if (r == NULL)
        return;
    if (r->tr != NULL)
        edge_tunnel_cancel(r);
    if (r->oc != NULL) {
        pqify_http_origin_release(r->oc);
        r->oc = NULL;
    }
    edge_log_request(r);
    if (r->gen != NULL)
        edge_gen_put(r->gen);
    edge_bq_clear(&r->down);
    free(r->host);
    free(r->path);
    free(r->head);
    free(r);
}
