/* The edge server (pqify/edge.h): listeners, client connections (ALPN picks HTTP/2 or
 * HTTP/1.1), the generation of routes and certificate a reload swaps, the metrics and
 * the access log. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edge_internal.h"
#include "pqify/keyless_client.h"
#include "pqify/net/tls_options.h"

int edge_h1_close_timer(edge_conn *c);
static const char *conn_cert(const edge_conn *c);

uint64_t edge_now_us(void)
{
    return uv_hrtime() / 1000u;
}

/* ---- the access log ------------------------------------------------------------------- */

/* One JSON line per request to a file (appended with one write each) or to pqify
 * logfwd's --socket input (a Unix stream socket of JSON lines). The socket never
 * blocks a request: while it is down or its queue is over 1 MiB, lines are dropped
 * and counted (pqify_edge_access_log_dropped_total); it is redialled every second. */
#define ALOG_MAX_QUEUE (1u << 20)

typedef struct edge_alog {
    edge *e;
    int fd;
    char path[108];
    uv_pipe_t *pipe;
    int connected, connecting;
    uv_connect_t creq;
    uv_timer_t retry;
    int closing, timer_closed;
    unsigned writes;   /* uv_writes not yet called back: each holds a pointer to this */
} edge_alog;

struct alog_write {
    uv_write_t req;
    size_t len;
    char data[];
};

static void alog_dial(edge_alog *a);

/* After alog_close: freed once the timer is closed and no write can call back. libuv
 * finishes closing handles last-closed first, so the timer's close callback runs
 * before the pipe's queued writes are called back with UV_ECANCELED. */
static void alog_maybe_free(edge_alog *a)
{
    if (a->closing && a->timer_closed && a->writes == 0)
        free(a);
}

static void alog_pipe_closed(uv_handle_t *h)
{
    free(h);
}

static void on_retry(uv_timer_t *t)
{
    alog_dial(t->data);
}

static void alog_connected(uv_connect_t *c, int status)
{
    /* cancelled: alog_close closed the pipe while it was connecting, and the log
     * (a) may be gone already; touching it would close the pipe twice */
    if (status == UV_ECANCELED)
        return;
    edge_alog *a = c->data;
    if (a->pipe == NULL || (uv_pipe_t *)c->handle != a->pipe)
        return;
    a->connecting = 0;
    if (status != 0) {
        uv_close((uv_handle_t *)a->pipe, alog_pipe_closed);
        a->pipe = NULL;
        if (!a->closing)
            uv_timer_start(&a->retry, on_retry, 1000, 0);
        return;
    }
    a->connected = 1;
}

static void alog_dial(edge_alog *a)
{
    if (a->closing || a->pipe != NULL)
        return;
    a->pipe = malloc(sizeof *a->pipe);
    if (a->pipe == NULL)
        return;
    uv_pipe_init(a->e->loop, a->pipe, 0);
    a->creq.data = a;
    a->connecting = 1;
    uv_pipe_connect(&a->creq, a->pipe, a->path, alog_connected);
}

static void alog_written(uv_write_t *w, int status)
{
    edge_alog *a = w->data;
    free(w);
    a->writes--;
    if (a->closing) {
        alog_maybe_free(a);
        return;
    }
    pqify_counter_add(status == 0 ? a->e->m.logged : a->e->m.dropped, 1);
    if (status < 0 && status != UV_ECANCELED && a->connected) {
        uv_close((uv_handle_t *)a->pipe, alog_pipe_closed);
        a->pipe = NULL;
        a->connected = 0;
        uv_timer_start(&a->retry, on_retry, 1000, 0);
    }
}

static void alog_line(edge *e, const char *line, size_t len)
{
    edge_alog *a = e->alog;
    if (a == NULL)
        return;
    if (a->fd >= 0) {
        ssize_t n = write(a->fd, line, len);
        pqify_counter_add(n == (ssize_t)len ? e->m.logged : e->m.dropped, 1);
        return;
    }
    if (!a->connected || uv_stream_get_write_queue_size((uv_stream_t *)a->pipe) > ALOG_MAX_QUEUE) {
        pqify_counter_add(e->m.dropped, 1);
        return;
    }
    struct alog_write *w = malloc(sizeof *w + len);
    if (w == NULL) {
        pqify_counter_add(e->m.dropped, 1);
        return;
    }
    memcpy(w->data, line, len);
    w->req.data = a;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)a->pipe, &b, 1, alog_written) != 0) {
        free(w);
        pqify_counter_add(e->m.dropped, 1);
        return;
    }
    a->writes++;
}

static int alog_open(edge *e, const pqify_edge_access_log_config *c, char *err, size_t cap)
{
    if (c->file == NULL && c->logfwd == NULL)
        return 0;
    if (c->file != NULL && c->logfwd != NULL) {
        snprintf(err, cap, "access_log: give file or logfwd, not both");
        return PQIFY_ERR_ARG;
    }
    edge_alog *a = calloc(1, sizeof *a);
    if (a == NULL)
        return PQIFY_ERR_ARG;
    a->e = e;
    a->fd = -1;
    if (c->file != NULL) {
        a->fd = open(c->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (a->fd < 0) {
            snprintf(err, cap, "access_log.file %s: %s", c->file, strerror(errno));
            free(a);
            return PQIFY_ERR_ARG;
        }
    } else {
        if (strncmp(c->logfwd, "unix:/", 6) != 0 || strlen(c->logfwd + 5) >= sizeof a->path) {
            snprintf(err, cap, "access_log.logfwd: '%s' is not unix:/path (under 108 bytes)", c->logfwd);
            free(a);
            return PQIFY_ERR_ARG;
        }
        snprintf(a->path, sizeof a->path, "%s", c->logfwd + 5);
    }
    uv_timer_init(e->loop, &a->retry);
    a->retry.data = a;
    e->alog = a;
    if (a->fd < 0)
        alog_dial(a);
    return 0;
}

static void alog_timer_closed(uv_handle_t *h)
{
    edge_alog *a = h->data;
    a->timer_closed = 1;
    alog_maybe_free(a);
}

static void alog_close(edge *e)
{
    edge_alog *a = e->alog;
    if (a == NULL)
        return;
    e->alog = NULL;
    a->closing = 1;
    if (a->fd >= 0)
        close(a->fd);
    if (a->pipe != NULL)
        uv_close((uv_handle_t *)a->pipe, alog_pipe_closed);
    uv_close((uv_handle_t *)&a->retry, alog_timer_closed);
}

/* JSON string body (RFC 8259 §7): quotes, backslashes and control bytes escaped;
 * bytes that are not UTF-8 are escaped as \u00XX so the line stays valid JSON. */
static size_t json_str(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 8 < cap; p++) {
        unsigned char ch = *p;
        if (ch == '"' || ch == '\\') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        } else {
            out[n++] = (char)ch;
        }
    }
    out[n] = '\0';
    return n;
}

void edge_log_request(edge_req *r)
{
    edge_conn *c = r->c;
    edge *e = c->e;
    int status = r->status ? r->status : 499;
    double secs = (double)(edge_now_us() - r->t0_us) / 1e6;
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    /* The host label: the request's host once a route took it, else "-" (a label fed
     * from the network stays bounded by the routes, not by what clients send). */
    char host[256] = "-";
    if (r->route != NULL && r->host != NULL) {
        size_t i = 0;
        for (; r->host[i] && r->host[i] != ':' && i < sizeof host - 1; i++)
            host[i] = (char)(r->host[i] >= 'A' && r->host[i] <= 'Z' ? r->host[i] - 'A' + 'a' : r->host[i]);
        host[i] = '\0';
    }
    const char *route = r->route != NULL ? r->route->label : "-";
    const char *lv[3] = {host, st, route};
    pqify_counter_add(pqify_metric_series(e->m.requests, 3, lv), 1);
    pqify_histogram_observe(pqify_metric_series(e->m.duration, 1, &route), secs);
    if (e->alog == NULL)
        return;
    static char line[12288];
    char jhost[1024], jpath[8192 + 16], jmethod[64], ts[96];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);
    json_str(jhost, sizeof jhost, r->host ? r->host : "");
    json_str(jpath, sizeof jpath, r->path ? r->path : "");
    json_str(jmethod, sizeof jmethod, r->method);
    char jsni[1024], jcert[2048];
    json_str(jsni, sizeof jsni, c->info.server_name);
    json_str(jcert, sizeof jcert, conn_cert(c));
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"client\":\"%s\",\"host\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                     "\"proto\":\"%s\",\"status\":%d,\"bytes\":%llu,\"bytes_in\":%llu,"
                     "\"duration_ms\":%.3f,\"route\":\"%s\",\"tls_group\":\"%s\",\"pq\":%s,\"hrr\":%s,"
                     "\"sni\":\"%s\",\"certificate\":\"%s\"}\n",
                     ts, c->peer, jhost, jmethod, jpath, c->h2 ? "h2" : "http/1.1", status,
                     (unsigned long long)r->bytes_out, (unsigned long long)r->bytes_in, secs * 1000.0,
                     route, c->info.group ? c->info.group : "", c->info.is_pq ? "true" : "false",
                     c->info.hrr ? "true" : "false", jsni, jcert);
    if (n > 0 && (size_t)n < sizeof line)
        alog_line(e, line, (size_t)n);
    else
        pqify_counter_add(e->m.dropped, 1);
}

/* ---- generations ------------------------------------------------------------------------ */

static void gen_free(edge_gen *g)
{
    for (size_t i = 0; i < g->n_routes; i++) {
        free((char *)g->routes[i].hostname);
        free((char *)g->routes[i].path);
        free((char *)g->routes[i].tunnel);
        if (g->routes[i].pool != NULL)
            edge_pool_free(g->routes[i].pool);   /* frees the origin's TLS config with it */
        else
            pqify_tls_config_free(g->routes[i].origin_tls);
    }
    /* the config first: its identities hold the signers, which hold the remote keys */
    pqify_tls_config_free(g->tls);
    for (size_t i = 0; i < g->n_idents; i++) {
        edge_ident *id = &g->idents[i];
        pqify_keyless_remote_key_free(id->rk);
        pqify_keyless_client_free(id->kl);   /* completes what is left with ERR_CLOSED */
        pqify_tls_config_free(id->kl_tls);
        free(id->cert);
    }
    free(g);
}

void edge_gen_put(edge_gen *g)
{
    if (g != NULL && --g->refs == 0)
        gen_free(g);
}

/* An entry's keyless: block: the hop's client config (pq required unless it says
 * otherwise), the client with its connections, and the remote key its certificate
 * names (docs/keyless.md). Each entry has its own client: its servers and
 * credentials are its own, and a dead key server stalls only its certificate. */
static int ident_keyless(edge_ident *id, const pqify_edge_cert_config *ce, unsigned deadline_ms,
                         char *err, size_t cap)
{
    char host[256], port[16], why[600];
    const char *const *servers = ce->keyless.servers.items;
    pqify_tls_options o = ce->keyless.tls;
    if (pqify_net_split_hostport(servers[0], host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, cap, "servers: '%s' is not HOST:PORT", servers[0]);
        return -1;
    }
    if (o.server_name == NULL)
        o.server_name = host;
    o.alpn = NULL;
    id->kl_tls = pqify_tls_options_build(&o, 0, PQIFY_PQ_REQUIRED, why, sizeof why);
    if (id->kl_tls == NULL) {
        snprintf(err, cap, "%s", why);
        return -1;
    }
    pqify_keyless_client_options co = {.servers = servers, .n_servers = ce->keyless.servers.count,
                                       .tls = id->kl_tls, .connections = 2, .deadline_ms = deadline_ms};
    id->kl = pqify_keyless_client_new(&co, why, sizeof why);
    if (id->kl == NULL) {
        snprintf(err, cap, "%s", why);
        return -1;
    }
    id->rk = pqify_keyless_remote_key_new(id->kl, ce->cert, why, sizeof why);
    if (id->rk == NULL) {
        snprintf(err, cap, "%s", why);
        return -1;
    }
    return 0;
}

static edge_gen *gen_build(edge *e, const pqify_edge_config *c, char *err, size_t cap)
{
    char why[600];
    if (pqify_edge_config_check(c, err, cap) != 0)
        return NULL;
    edge_gen *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    g->e = e;
    g->refs = 1;
    pqify_tls_options o = c->tls;
    const pqify_edge_cert_config *ce = c->certificates.items;
    if (c->certificates.count > 0) {
        /* the first entry is identity 0, the default, set as the config's own chain
         * (and key); the others are added as identities after it */
        o.cert = ce[0].cert;
        o.key = ce[0].key;
    }
    if (o.alpn == NULL)
        o.alpn = "h2,http/1.1";
    if (o.cert == NULL) {
        snprintf(err, cap, "no certificate: give tls.cert and tls.key, or certificates: (or --cert, --key)");
        free(g);
        return NULL;
    }
    g->tls = pqify_tls_options_build(&o, 1, PQIFY_PQ_PREFERRED, why, sizeof why);
    if (g->tls == NULL) {
        if (c->certificates.count > 0)
            snprintf(err, cap, "certificates[0]: %s", why);
        else
            snprintf(err, cap, "tls.%s", why);
        free(g);
        return NULL;
    }
    g->n_idents = 1;
    g->idents[0].cert = strdup(o.cert);
    if (g->idents[0].cert == NULL) {
        snprintf(err, cap, "out of memory");
        goto fail_quiet;
    }
    for (size_t i = 0; i < c->certificates.count; i++) {
        edge_ident *id = &g->idents[i];
        g->n_idents = i + 1;
        if (i > 0 && (id->cert = strdup(ce[i].cert)) == NULL) {
            snprintf(err, cap, "out of memory");
            goto fail_quiet;
        }
        const pqify_tls_signer *signer = NULL;
        /* the key server's deadline ends before the handshake's, so a dead key server
         * fails the handshake with the signer's words, not with a bare timeout */
        unsigned deadline = pqify_tls_options_handshake_ms(&c->tls) * 2 / 3;
        if (ce[i].keyless.servers.count > 0 &&
            ident_keyless(id, &ce[i], deadline > 0 ? deadline : 1, why, sizeof why) != 0) {
            snprintf(err, cap, "certificates[%zu].keyless: %s", i, why);
            goto fail_quiet;
        }
        if (id->rk != NULL)
            signer = pqify_keyless_signer(id->rk);
        int rc;
        if (i == 0)
            rc = signer != NULL ? pqify_tls_config_set_signer(g->tls, signer) : 0;
        else
            rc = pqify_tls_config_add_identity_files(g->tls, ce[i].cert, ce[i].key, signer);
        if (rc < 0) {
            const char *d = pqify_tls_config_error_detail(g->tls);
            snprintf(err, cap, "certificates[%zu]: %s", i, d[0] ? d : pqify_tls_strerror(rc));
            goto fail_quiet;
        }
    }
    const pqify_edge_route_config *rc = c->routes.items;
    for (size_t i = 0; i < c->routes.count; i++) {
        edge_route *rt = &g->routes[i];
        g->n_routes = i + 1;
        /* copies: a request keeps its generation after the file that made it is gone */
        rt->hostname = rc[i].hostname ? strdup(rc[i].hostname) : NULL;
        rt->path = rc[i].path ? strdup(rc[i].path) : NULL;
        if ((rc[i].hostname && !rt->hostname) || (rc[i].path && !rt->path)) {
            snprintf(err, cap, "out of memory");
            goto fail_quiet;
        }
        snprintf(rt->label, sizeof rt->label, "%s%s", rc[i].hostname ? rc[i].hostname : "*",
                 rc[i].path ? rc[i].path : "/");
        if (rc[i].tunnel != NULL) {
            if ((rt->tunnel = strdup(rc[i].tunnel)) == NULL) {
                snprintf(err, cap, "out of memory");
                goto fail_quiet;
            }
            continue;   /* no pool: the hub carries it */
        }
        if (edge_origin_parse(rc[i].origin, &rt->origin, why, sizeof why) != 0)
            goto fail;   /* checked above */
        if (rt->origin.kind == EDGE_ORIGIN_HTTPS) {
            pqify_tls_options oo = {.ca = c->origin_ca, .server_name = rt->origin.host,
                                    .alpn = "http/1.1"};
            rt->origin_tls = pqify_tls_options_build(&oo, 0, PQIFY_PQ_PREFERRED, why, sizeof why);
            if (rt->origin_tls == NULL) {
                snprintf(err, cap, "routes[%zu] (origin_ca): %s", i, why);
                goto fail_quiet;
            }
        }
        rt->pool = edge_pool_new(e, &rt->origin, rt->origin_tls);
        if (rt->pool == NULL) {
            snprintf(err, cap, "out of memory");
            goto fail_quiet;
        }
    }
    return g;
fail:
    snprintf(err, cap, "routes: %s", why);
fail_quiet:
    gen_free(g);
    return NULL;
}

/* ---- client connections ------------------------------------------------------------------- */

/* The file of the certificate that answered this connection (its identity). */
static const char *conn_cert(const edge_conn *c)
{
    size_t i = (size_t)(c->info.identity >= 0 ? c->info.identity : 0);
    return i < c->gen->n_idents && c->gen->idents[i].cert != NULL ? c->gen->idents[i].cert : "-";
}

/* A keyless certificate answered the ClientHello: its CertificateVerify is signed on
 * its key servers, asynchronously; the other connections carry on meanwhile. */
static void conn_want_signature(pqify_stream *s, void *ctx)
{
    edge_conn *c = ctx;
    pqify_tls_get_info(pqify_stream_conn(s), &c->info);
    size_t i = (size_t)(c->info.identity >= 0 ? c->info.identity : 0);
    if (i < c->gen->n_idents && c->gen->idents[i].rk != NULL) {
        c->signing = 1;
        pqify_keyless_sign_stream(s, c->gen->idents[i].rk);
    }
    else   /* cannot happen: only keyless identities have a pending signer */
        pqify_stream_abort(s);
}

static void conn_handshake(pqify_stream *s, void *ctx)
{
    edge_conn *c = ctx;
    edge *e = c->e;
    c->established = 1;
    pqify_tls_get_info(pqify_stream_conn(s), &c->info);
    pqify_tls_metrics_handshake_info(&e->m.tls, &c->info, 1);
    const char *lv[2] = {conn_cert(c), "ok"};
    pqify_counter_add(pqify_metric_series(e->m.cert_handshakes, 2, lv), 1);
    if (!strcmp(c->info.alpn, "h2")) {
        c->h2 = 1;
        if (edge_h2_start(c) != 0) {
            c->closing = 1;
            pqify_stream_abort(s);
            return;
        }
    } else {
        edge_h1_start(c);
    }
    if (e->draining && !c->closing) {
        if (c->h2)
            edge_h2_drain(c);
        else
            edge_h1_drain(c);
    }
}

static void conn_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    edge_conn *c = ctx;
    if (c->h2)
        edge_h2_data(c, data, len);
    else
        edge_h1_data(c, data, len);
}

static void conn_writable(pqify_stream *s, void *ctx)
{
    (void)s;
    edge_conn *c = ctx;
    if (c->h2)
        edge_h2_writable(c);
    else
        edge_h1_writable(c);
}

static void maybe_drained(edge *e)
{
    if (e->draining && e->n_conns == 0 && e->drained != NULL) {
        void (*cb)(void *) = e->drained;
        e->drained = NULL;
        cb(e->drained_arg);
    }
}

static void conn_closed(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    edge_conn *c = ctx;
    edge *e = c->e;
    if (!c->established && status != PQIFY_STREAM_ABORTED && status != PQIFY_STREAM_EOF) {
        /* which certificate, and the engine's words (a keyless signer's reason:
         * "signer failed: ... deadline") so a dead key server is named as such */
        const pqify_tls_conn *tc = pqify_stream_conn(s);
        const char *detail = tc != NULL ? pqify_tls_error_detail(tc) : "";
        if (tc != NULL)
            pqify_tls_get_info(tc, &c->info);
        int signer = tc != NULL && pqify_tls_error(tc) == PQIFY_TLS_ERR_SIGN;
        fprintf(stderr, "pqify edge: handshake with %s failed: %s%s%s (certificate %s%s)\n", c->peer,
                pqify_stream_strerror(status), detail[0] ? ": " : "", detail, conn_cert(c),
                signer ? ", its key server did not sign"
                       : c->signing ? ", its key server was asked to sign" : "");
        const char *lv[2] = {conn_cert(c), signer ? "sign_failed" : "failed"};
        pqify_counter_add(pqify_metric_series(e->m.cert_handshakes, 2, lv), 1);
    }
    if (c->h2)
        edge_h2_closed(c);
    else if (c->established)
        edge_h1_closed(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        e->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    e->n_conns--;
    pqify_gauge_add(e->m.conns, -1);
    if (c->listener != NULL && !e->draining)
        pqify_listener_done(c->listener);   /* freed once draining */
    edge_gen_put(c->gen);
    if (!edge_h1_close_timer(c))
        free(c);
    maybe_drained(e);
}

static const pqify_stream_cbs conn_cbs = {conn_handshake, conn_data, conn_want_signature, conn_closed};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    edge *e = ctx;
    edge_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->e = e;
    c->gen = e->gen;
    c->gen->refs++;
    pqify_net_format_addr(peer, c->peer, sizeof c->peer);
    pqify_stream_opts so = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&e->cfg.tls),
                            .idle_timeout_ms = e->lim.idle_timeout_ms, .peer = peer};
    if (pqify_stream_accept(e->loop, fd, c->gen->tls, &so, &conn_cbs, c, &c->s) != 0) {
        edge_gen_put(c->gen);
        free(c);
        pqify_listener_done(l);
        return;
    }
    c->listener = l;
    pqify_stream_on_writable(c->s, conn_writable);
    c->next = e->conns;
    if (e->conns != NULL)
        e->conns->prev = c;
    e->conns = c;
    e->n_conns++;
    pqify_gauge_add(e->m.conns, 1);
}

/* ---- the API -------------------------------------------------------------------------------- */

static int declare_metrics(edge *e, pqify_metrics *m)
{
    static const double lat[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    edge_metrics *em = &e->m;
    em->requests = pqify_metrics_counter(m, "pqify_edge_requests_total",
                                         "Requests answered, by host, status and route.", "host,status,route");
    em->duration = pqify_metrics_histogram(m, "pqify_edge_request_duration_seconds",
                                           "From a request's first byte to its answer's end, by route.",
                                           "route", lat, sizeof lat / sizeof lat[0]);
    em->origin_errors = pqify_metrics_counter(m, "pqify_edge_origin_errors_total",
                                              "Requests an origin failed (failed: refused, reset, malformed; timeout).",
                                              "route,reason");
    em->cert_handshakes = pqify_metrics_counter(
        m, "pqify_edge_certificate_handshakes_total",
        "Client handshakes by the certificate (file) that answered and result (ok, failed, "
        "sign_failed: its key server did not sign).", "certificate,result");
    pqify_metric *conns = pqify_metrics_gauge(m, "pqify_edge_connections", "Client connections open.", NULL);
    pqify_metric *dropped = pqify_metrics_counter(m, "pqify_edge_access_log_dropped_total",
                                                  "Access log lines dropped (the logfwd socket down or full).", NULL);
    pqify_metric *logged = pqify_metrics_counter(m, "pqify_edge_access_log_lines_total",
                                                 "Access log lines written.", NULL);
    pqify_metric *reloads = pqify_metrics_counter(m, "pqify_edge_reloads_total",
                                                  "SIGHUP reloads that took effect.", NULL);
    if (em->requests == NULL || em->duration == NULL || em->origin_errors == NULL ||
        em->cert_handshakes == NULL || conns == NULL ||
        dropped == NULL || logged == NULL || reloads == NULL || pqify_tls_metrics_init(&em->tls, m) != 0)
        return -1;
    em->conns = pqify_metric_series(conns, 0, NULL);
    em->dropped = pqify_metric_series(dropped, 0, NULL);
    em->logged = pqify_metric_series(logged, 0, NULL);
    em->reloads = pqify_metric_series(reloads, 0, NULL);
    return 0;
}

int pqify_edge_start(uv_loop_t *loop, const pqify_edge_config *c, pqify_metrics *m, pqify_edge **out,
                     char *err, size_t cap)
{
    *out = NULL;
    edge *e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(err, cap, "out of memory");
        return PQIFY_ERR_ARG;
    }
    e->loop = loop;
    e->cfg = *c;
    e->lim = c->limits;
    if (declare_metrics(e, m) != 0) {
        snprintf(err, cap, "cannot declare the edge's metrics");
        free(e);
        return PQIFY_ERR_ARG;
    }
    e->gen = gen_build(e, c, err, cap);
    if (e->gen == NULL) {
        free(e);
        return PQIFY_ERR_ARG;
    }
    if (alog_open(e, &c->access_log, err, cap) != 0) {
        edge_gen_put(e->gen);
        free(e);
        return PQIFY_ERR_ARG;
    }
    if (edge_tunnel_open(e, c, m, err, cap) != 0) {
        alog_close(e);
        edge_gen_put(e->gen);
        free(e);
        return PQIFY_ERR_ARG;
    }
    const char *const *addrs = c->listen.items;
    size_t n = c->listen.count;
    static const char *const def[] = {"0.0.0.0:443"};
    if (n == 0) {
        addrs = def;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        char host[256], port[16];
        if (pqify_net_split_hostport(addrs[i], host, sizeof host, port, sizeof port) != 0) {
            snprintf(err, cap, "listen: '%s' is not HOST:PORT", addrs[i]);
            goto fail;
        }
        pqify_listener_opts lo = {.host = host, .port = port,
                                  .max_connections = (unsigned)(c->max_connections / (int64_t)n + 1)};
        char why[300];
        if (pqify_listener_open(loop, &lo, on_accept, e, &e->listeners[i], why, sizeof why) != 0) {
            snprintf(err, cap, "%s", why);
            goto fail;
        }
        e->n_listeners++;
    }
    *out = e;
    return 0;
fail:
    for (size_t i = 0; i < e->n_listeners; i++)
        pqify_listener_free(e->listeners[i]);
    edge_tunnel_close(e);
    alog_close(e);
    edge_gen_put(e->gen);
    free(e);
    return PQIFY_ERR_ARG;
}

void pqify_edge_address(const pqify_edge *e, size_t i, char *out, size_t cap)
{
    if (i < e->n_listeners && e->listeners[i] != NULL)
        pqify_listener_address(e->listeners[i], out, cap);
    else if (cap > 0)
        out[0] = '\0';
}

int pqify_edge_reload(pqify_edge *e, const pqify_edge_config *c, char *err, size_t cap)
{
    edge_gen *g = gen_build(e, c, err, cap);
    if (g == NULL)
        return PQIFY_ERR_ARG;
    edge_gen *old = e->gen;
    e->gen = g;
    e->cfg.routes = c->routes;
    e->cfg.certificates = c->certificates;
    e->cfg.tls = c->tls;
    e->cfg.origin_ca = c->origin_ca;
    e->cfg.limits = c->limits;
    e->lim = c->limits;
    edge_gen_put(old);
    pqify_counter_add(e->m.reloads, 1);
    return 0;
}

void pqify_edge_drain(pqify_edge *e, void (*done)(void *), void *arg)
{
    e->draining = 1;
    e->drained = done;
    e->drained_arg = arg;
    for (size_t i = 0; i < e->n_listeners; i++) {
        pqify_listener_free(e->listeners[i]);
        e->listeners[i] = NULL;
    }
    for (edge_conn *c = e->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->closing)
            continue;
        if (!c->established) {
            c->closing = 1;
            pqify_stream_abort(c->s);
        } else if (c->h2) {
            edge_h2_drain(c);
        } else {
            edge_h1_drain(c);
        }
    }
    maybe_drained(e);
}

void pqify_edge_abort(pqify_edge *e)
{
    for (edge_conn *c = e->conns, *next; c != NULL; c = next) {
        next = c->next;
        c->closing = 1;
        pqify_stream_abort(c->s);
    }
}

void pqify_edge_free(pqify_edge *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_listeners; i++)
        if (e->listeners[i] != NULL)
            pqify_listener_free(e->listeners[i]);
    edge_tunnel_close(e);
    alog_close(e);
    edge_h2_free_idle(e);
    edge_gen_put(e->gen);
    free(e);
}
