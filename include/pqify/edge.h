/*
 * pqify edge: the public TLS terminator and reverse proxy (issue 12, docs/edge.md).
 * Clients speak HTTP/1.1 or HTTP/2 (chosen by ALPN) over pqify TLS 1.3, pq preferred;
 * each request goes to the first route whose hostname and path prefix match, to an
 * origin over HTTP/1.1 (http://HOST:PORT, unix:/path, or https://HOST:PORT through the
 * engine, verified, pq preferred) from a keep-alive pool per origin. Bodies stream both
 * ways under flow control, so memory stays bounded whatever their size.
 *
 * Runs on one libuv loop (the caller's); every call on that loop's thread.
 */
#ifndef PQIFY_EDGE_H
#define PQIFY_EDGE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pqify/common.h"
#include "pqify/net/config.h"
#include "pqify/net/metrics.h"
#include "pqify/net/tls_options.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PQIFY_EDGE_MAX_ROUTES 256
#define PQIFY_EDGE_MAX_LISTEN 8
#define PQIFY_EDGE_MAX_CERTS 16

/* One route of edge.yaml's routes: list. hostname NULL = any host; "*.example.com"
 * matches one label in place of the star; path NULL = "/" (a prefix). */
typedef struct pqify_edge_route_config {
    const char *hostname, *path, *origin;
    const char *tunnel;   /* instead of origin: the tunnel's name (its connectors' CN) */
} pqify_edge_route_config;

/* tunnels: the listener pqify tunnel connectors dial (pq required, mutual TLS: a
 * connector's client certificate chains to ca and its CN names its tunnel). */
typedef struct pqify_edge_tunnels_config {
    const char *listen;              /* HOST:PORT; unset = no tunnels */
    pqify_tls_options tls;           /* cert, key, ca */
    unsigned wait_for_connection_ms; /* a request waits this long for a connection; 0 = 502 at once */
} pqify_edge_tunnels_config;

/* An entry's keyless: block: its key lives on these key servers, reached over
 * post-quantum mutual TLS with this client certificate (docs/keyless.md). */
typedef struct pqify_edge_keyless_config {
    pqify_config_list servers;       /* const char * HOST:PORT, failover order */
    pqify_tls_options tls;           /* cert, key, ca, pq (default required), server_name */
} pqify_edge_keyless_config;

/* One entry of certificates: (chosen by SNI, the first the default): the chain and
 * either its key (key) or the key servers that hold it (keyless). */
typedef struct pqify_edge_cert_config {
    const char *cert, *key;
    pqify_edge_keyless_config keyless;
} pqify_edge_cert_config;

typedef struct pqify_edge_limits {
    int64_t max_header_bytes;   /* request line + headers: over it, 431 */
    int64_t max_body_bytes;     /* request body: over it, 413 */
    unsigned header_timeout_ms; /* a request's head must arrive within it: else 408 */
    unsigned idle_timeout_ms;   /* a keep-alive connection with no request is closed */
    unsigned origin_connect_timeout_ms;  /* no connection to the origin: 502 */
    unsigned origin_timeout_ms; /* the origin's response head must come within it: else 504 */
} pqify_edge_limits;

typedef struct pqify_edge_access_log_config {
    const char *file;     /* one JSON line per request, appended */
    const char *logfwd;   /* unix:/path: JSON lines to pqify logfwd's --socket input */
} pqify_edge_access_log_config;

/* The file (edge.yaml), filled by pqify_edge_settings. */
typedef struct pqify_edge_config {
    pqify_config_list listen;        /* const char * HOST:PORT */
    pqify_admin_config admin;
    pqify_tls_options tls;           /* the shared block; its cert/key = one certificate */
    pqify_config_list certificates;  /* pqify_edge_cert_config */
    pqify_config_list routes;        /* pqify_edge_route_config */
    pqify_edge_limits limits;
    pqify_edge_access_log_config access_log;
    pqify_edge_tunnels_config tunnels;
    const char *origin_ca;           /* CA for https:// origins (NULL = refused) */
    int64_t max_connections;
    unsigned grace_ms;
} pqify_edge_config;

extern const pqify_setting pqify_edge_settings[];

/* Checks what the table cannot: routes parse (origin URL, hostname pattern), the
 * certificate is given once. 0, or PQIFY_ERR_ARG with err "routes[2].origin: ...". */
PQIFY_MUST_USE int pqify_edge_config_check(const pqify_edge_config *c, char *err, size_t cap);

typedef struct pqify_edge pqify_edge;

/* Opens the listeners, declares the metrics in m (m outlives the edge). c's strings
 * must live until pqify_edge_free or the next pqify_edge_reload. */
PQIFY_MUST_USE int pqify_edge_start(uv_loop_t *loop, const pqify_edge_config *c, pqify_metrics *m,
                                    pqify_edge **out, char *err, size_t cap);
/* "IP:PORT" of listener i (0 ..), "" if none. */
void pqify_edge_address(const pqify_edge *e, size_t i, char *out, size_t cap);
/* SIGHUP: new certificates and routes for new connections and new requests; the
 * connections and requests in flight keep what they started with. On failure
 * nothing changes and err says why. */
PQIFY_MUST_USE int pqify_edge_reload(pqify_edge *e, const pqify_edge_config *c, char *err,
                                     size_t cap);
/* SIGTERM: stop accepting, finish requests in flight, close; done(arg) when none is left. */
void pqify_edge_drain(pqify_edge *e, void (*done)(void *arg), void *arg);
/* The grace period ran out: close every connection now. */
void pqify_edge_abort(pqify_edge *e);
/* After the drain (or before start returned). The loop must run on to free handles. */
void pqify_edge_free(pqify_edge *e);

#ifdef __cplusplus
}
#endif
#endif
