/* Routes to tunnels (docs/tunnel.md, issue 13): the edge runs a pqify_tunnel_hub on its
 * loop where pqify tunnel connectors register over post-quantum mutual TLS, and sends a
 * tunnel route's request through it as an HTTP/2 stream. Bodies stream both ways under
 * the hub's credit: the request body stops being read while the hub's buffer is over
 * half full (until on_writable), and response bytes are given back as consumed only
 * once the client side took them (edge_req_down_resume), so memory stays bounded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "pqify/net/tls_options.h"
#include "pqify/tunnel.h"

int edge_tunnel_open(edge *e, const pqify_edge_config *c, pqify_metrics *m, char *err, size_t cap)
{
    if (c->tunnels.listen == NULL)
        return 0;
    char why[600];
    pqify_tls_options o = c->tunnels.tls;
    o.pq = "required";   /* the internal hop is post-quantum only (DESIGN.md) */
    o.alpn = NULL;
    e->hub_tls = pqify_tls_options_build(&o, 1, PQIFY_PQ_REQUIRED, why, sizeof why);
    if (e->hub_tls == NULL) {
        snprintf(err, cap, "tunnels.%s", why);
        return PQIFY_ERR_ARG;
    }
    pqify_tunnel_hub_options ho = {
        .listen = c->tunnels.listen,
        .tls = e->hub_tls,
        .stream = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&c->tls)},
        .metrics = m,
        .wait_for_connection_ms = c->tunnels.wait_for_connection_ms,
    };
    if (pqify_tunnel_hub_start(e->loop, &ho, &e->hub, why, sizeof why) != 0) {
        snprintf(err, cap, "tunnels.listen %s: %s", c->tunnels.listen, why);
        pqify_tls_config_free(e->hub_tls);
        e->hub_tls = NULL;
        return PQIFY_ERR_ARG;
    }
    char addr[300];
    pqify_tunnel_hub_address(e->hub, addr, sizeof addr);
    fprintf(stderr, "pqify edge: tunnels on %s (pq required, mutual TLS)\n", addr);
    return 0;
}

void edge_tunnel_close(edge *e)
{
    if (e->hub != NULL)
        pqify_tunnel_hub_free(e->hub);   /* requests in flight get on_error */
    e->hub = NULL;
    /* the hub's handles close on the loop; its config goes with the edge's last turn */
    pqify_tls_config_free(e->hub_tls);
    e->hub_tls = NULL;
}

static void t_head(pqify_tunnel_req *tr, int status, const pqify_tunnel_header *h, size_t n, void *ctx)
{
    (void)tr;
    edge_req *r = ctx;
    /* the frontends want NUL-terminated names and values: one block for them all */
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += h[i].name_len + h[i].value_len + 2;
    char *buf = malloc(need + 1);
    const char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
    if (buf == NULL || names == NULL || values == NULL) {
        free(buf);
        free(names);
        free(values);
        pqify_tunnel_req_cancel(r->tr);
        r->tr = NULL;
        r->finished = 1;
        r->ops->error(r, 502);
        return;
    }
    size_t k = 0, off = 0;
    int64_t cl = -1;
    for (size_t i = 0; i < n; i++) {
        if (edge_hop_by_hop(h[i].name, h[i].name_len))
            continue;
        char *nm = buf + off;
        memcpy(nm, h[i].name, h[i].name_len);
        nm[h[i].name_len] = '\0';
        off += h[i].name_len + 1;
        char *v = buf + off;
        memcpy(v, h[i].value, h[i].value_len);
        v[h[i].value_len] = '\0';
        off += h[i].value_len + 1;
        if (edge_token_is(nm, h[i].name_len, "content-length")) {
            char *end = NULL;
            unsigned long long x = strtoull(v, &end, 10);
            if (end != v && *end == '\0' && x <= (unsigned long long)INT64_MAX)
                cl = (int64_t)x;
            continue;   /* the frontend frames the body itself */
        }
        names[k] = nm;
        values[k] = v;
        k++;
    }
    if (!strcmp(r->method, "HEAD"))
        cl = -1;
    r->responded = 1;
    r->status = status;
    r->ops->head(r, status, names, values, k, cl);
    free(buf);
    free(names);
    free(values);
}

static void t_body(pqify_tunnel_req *tr, const uint8_t *data, size_t len, void *ctx)
{
    edge_req *r = ctx;
    r->bytes_out += len;
    r->ops->body(r, data, len);
    r->ops->flush(r);
    if (r->tr == NULL)
        return;
    /* credit back only what the client side took; the rest when it drains */
    if (r->ops->down_full(r))
        r->tr_unconsumed += len;
    else
        pqify_tunnel_req_consumed(tr, len);
}

static void t_end(pqify_tunnel_req *tr, void *ctx)
{
    (void)tr;
    edge_req *r = ctx;
    r->tr = NULL;
    r->finished = 1;
    r->ops->end(r);
}

static void t_error(pqify_tunnel_req *tr, const char *why, void *ctx)
{
    (void)tr;
    edge_req *r = ctx;
    edge *e = r->c->e;
    r->tr = NULL;
    const char *lv[2] = {r->route->label, "failed"};
    pqify_counter_add(pqify_metric_series(e->m.origin_errors, 2, lv), 1);
    fprintf(stderr, "pqify edge: tunnel %s for %s %s%s: %s\n", r->route->tunnel, r->method,
            r->host ? r->host : "", r->path ? r->path : "", why);
    r->finished = 1;
    r->ops->error(r, r->responded ? 0 : 502);
}

static void t_writable(pqify_tunnel_req *tr, void *ctx)
{
    (void)tr;
    edge_req *r = ctx;
    if (r->tr_full) {
        r->tr_full = 0;
        r->ops->up_resume(r);
    }
}

static const pqify_tunnel_req_cbs t_cbs = {t_head, t_body, t_end, t_error, t_writable};

int edge_tunnel_start(edge_req *r, const char *path, const char *const *names,
                      const char *const *values, const size_t *vlens, size_t n, int body_mode,
                      uint64_t content_length)
{
    edge *e = r->c->e;
    /* HTTP/2 field names are lower case (RFC 9113 §8.2.1); hop-by-hop fields, Host and
     * the fields the edge sets itself stay behind; X-Forwarded-For gets the client */
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]);
    pqify_tunnel_header *h = calloc(n + 4, sizeof *h);
    char *lower = malloc(total);   /* every name fits: one block, never moved */
    size_t used = 0;
    if (h == NULL || lower == NULL) {
        free(h);
        free(lower);
        return 500;
    }
    char ip[64], xff[1024], cl[32];
    const char *peer = r->c->peer, *colon = strrchr(peer, ':');
    size_t pl = colon ? (size_t)(colon - peer) : strlen(peer);
    if (pl >= 2 && peer[0] == '[' && peer[pl - 1] == ']')
        peer++, pl -= 2;
    snprintf(ip, sizeof ip, "%.*s", (int)pl, peer);
    snprintf(xff, sizeof xff, "%s", ip);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *nm = names[i];
        size_t nl = strlen(nm);
        if (nm[0] == ':' || edge_hop_by_hop(nm, nl) || edge_token_is(nm, nl, "host") ||
            edge_token_is(nm, nl, "content-length") || edge_token_is(nm, nl, "expect") ||
            edge_token_is(nm, nl, "x-forwarded-proto") || edge_token_is(nm, nl, "via"))
            continue;
        if (edge_token_is(nm, nl, "x-forwarded-for")) {
            snprintf(xff, sizeof xff, "%.*s, %s", (int)(vlens[i] < 900 ? vlens[i] : 900), values[i], ip);
            continue;
        }
        for (size_t j = 0; j < nl; j++)
            lower[used + j] = (char)(nm[j] >= 'A' && nm[j] <= 'Z' ? nm[j] - 'A' + 'a' : nm[j]);
        h[k] = (pqify_tunnel_header){lower + used, values[i], nl, vlens[i]};
        used += nl;
        k++;
    }
    h[k++] = (pqify_tunnel_header){"x-forwarded-for", xff, 15, strlen(xff)};
    h[k++] = (pqify_tunnel_header){"x-forwarded-proto", "https", 17, 5};
    h[k++] = (pqify_tunnel_header){"via", r->sid != 0 ? "2 pqify-edge" : "1.1 pqify-edge", 3,
                                   r->sid != 0 ? 12u : 14u};
    if (body_mode == 1) {
        snprintf(cl, sizeof cl, "%llu", (unsigned long long)content_length);
        h[k++] = (pqify_tunnel_header){"content-length", cl, 14, strlen(cl)};
    }
    /* a WebSocket upgrade crosses the tunnel as an extended CONNECT (RFC 8441 §4); the
     * client's Sec-WebSocket-Key goes along, so the origin's Accept comes back to it */
    int upgrade = body_mode == EDGE_BODY_UPGRADE;
    pqify_tunnel_request rq = {.method = upgrade ? "CONNECT" : r->method, .scheme = "https",
                               .authority = r->host, .path = path,
                               .protocol = upgrade ? "websocket" : NULL, .headers = h, .n_headers = k,
                               .has_body = body_mode != 0};
    char why[300];
    r->body_mode = body_mode;
    r->body_done = body_mode == 0;
    r->tr = e->hub != NULL ? pqify_tunnel_hub_request(e->hub, r->route->tunnel, &rq, &t_cbs, r, why,
                                                      sizeof why)
                           : NULL;
    free(h);
    free(lower);
    if (r->tr == NULL) {
        const char *lv[2] = {r->route->label, "failed"};
        pqify_counter_add(pqify_metric_series(e->m.origin_errors, 2, lv), 1);
        fprintf(stderr, "pqify edge: tunnel %s for %s %s%s: %s\n", r->route->tunnel, r->method,
                r->host, path, e->hub != NULL ? why : "no tunnels: listener");
        return 502;
    }
    return 0;
}

void edge_tunnel_body(edge_req *r, const uint8_t *data, size_t len)
{
    if (len == 0 || r->finished)
        return;
    r->body_started = 1;
    if (pqify_tunnel_req_write(r->tr, data, len) == 1)
        r->tr_full = 1;   /* the frontend stops reading until on_writable */
}

void edge_tunnel_body_end(edge_req *r)
{
    if (r->tr != NULL && !r->finished)
        (void)pqify_tunnel_req_end(r->tr);
}

void edge_tunnel_down_resume(edge_req *r)
{
    if (r->tr != NULL && r->tr_unconsumed > 0) {
        size_t n = r->tr_unconsumed;
        r->tr_unconsumed = 0;
        pqify_tunnel_req_consumed(r->tr, n);
    }
}

void edge_tunnel_cancel(edge_req *r)
{
    pqify_tunnel_req *tr = r->tr;
    r->tr = NULL;
    if (tr != NULL)
        pqify_tunnel_req_cancel(tr);
}
