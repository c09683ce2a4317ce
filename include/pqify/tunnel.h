/*
 * The tunnel (DESIGN.md "Services"): a connector inside a private network dials out
 * to the edge over post-quantum mutual TLS, and the edge sends requests back through
 * it to origins that have no public address.
 *
 * This header holds the ingress rules: which origin a request goes to, in
 * cloudflared's config.yml shape (docs/tunnel.md):
 *
 *   ingress:
 *     - hostname: app.example.com          # exact, or "*.example.com" (one leftmost label)
 *       path: ^/api/                       # POSIX extended regular expression on the path
 *       service: http://127.0.0.1:8080     # http://, https://, unix:/path, http_status:NNN
 *       originRequest: {connectTimeout: 5s, noTLSVerify: false, caPool: ca.pem,
 *                       originServerName: app.internal, httpHostHeader: app.internal,
 *                       keepAliveConnections: 100}
 *     - service: http_status:404           # the last rule matches everything
 *
 * Rules are read through the chassis's settings table (pqify_ingress_rule_settings,
 * a LIST of MAP) and then compiled: every check that spans a rule (the service's
 * form, the regular expression, the hostname pattern) or the list (the last rule is a
 * catch-all, no catch-all before it) names FILE:LINE: ingress[i].KEY. Compiled rules
 * are immutable: a reload compiles a new set and swaps it in, so a request in flight
 * keeps the rule it matched.
 */
#ifndef PQIFY_TUNNEL_H
#define PQIFY_TUNNEL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"
#include "pqify/net/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ingress rules as the file writes them (filled by the settings table) ---- */

typedef struct pqify_origin_request_cfg {
    unsigned connect_timeout_ms;       /* connectTimeout, default 30s */
    int no_tls_verify;                 /* noTLSVerify: https:// origins unverified */
    const char *http_host_header;      /* httpHostHeader: Host sent to the origin */
    int64_t keep_alive_connections;    /* keepAliveConnections: idle origin connections kept */
    const char *ca_pool;               /* caPool: CA file for https:// origins (unset: the system's) */
    const char *origin_server_name;    /* originServerName: name checked (and sent as SNI) instead of the host */
} pqify_origin_request_cfg;

typedef struct pqify_ingress_rule_cfg {
    unsigned line;                     /* where the rule starts in its file */
    const char *hostname, *path, *service;
    pqify_origin_request_cfg origin_request;
} pqify_ingress_rule_cfg;

/* The table of one rule; a service's table holds
 *   {.name = "ingress", .type = PQIFY_SET_LIST, .elem = PQIFY_SET_MAP,
 *    .elem_size = sizeof(pqify_ingress_rule_cfg), .sub = pqify_ingress_rule_settings} */
extern const pqify_setting pqify_ingress_rule_settings[];

/* ---- compiled rules ---- */

typedef enum pqify_origin_kind {
    PQIFY_ORIGIN_HTTP = 1,     /* http://HOST[:PORT] */
    PQIFY_ORIGIN_HTTPS,        /* https://HOST[:PORT], pqify TLS, verified unless noTLSVerify */
    PQIFY_ORIGIN_UNIX,         /* unix:/path: HTTP/1.1 over a Unix socket */
    PQIFY_ORIGIN_STATUS,       /* http_status:NNN, answered by the connector itself */
} pqify_origin_kind;

typedef struct pqify_ingress_rule {
    size_t index;              /* 0-based position in the list */
    unsigned line;             /* 0 when the rule came from flags (--url) */
    const char *hostname;      /* lower case; NULL = every host */
    int wildcard;              /* hostname is "*.SUFFIX": hostname points at ".SUFFIX" */
    const char *path;          /* the expression as written; NULL = every path */
    regex_t path_re;
    const char *service;       /* as written */
    pqify_origin_kind kind;
    const char *host;          /* HTTP/HTTPS: the host (no brackets) */
    char port[6];              /* HTTP/HTTPS: "80", "443" or as written */
    const char *unix_path;     /* UNIX */
    int status;                /* STATUS: 100..599 */
    unsigned connect_timeout_ms;
    int no_tls_verify;
    const char *http_host_header;   /* NULL = the request's own */
    unsigned keep_alive_connections;
    const char *ca_pool;            /* HTTPS: NULL = the system's trust store */
    const char *origin_server_name; /* HTTPS: NULL = host */
} pqify_ingress_rule;

typedef struct pqify_ingress pqify_ingress;

/*
 * Compile rules (count items of pqify_ingress_rule_cfg) read from file (its name for
 * errors). NULL with err "FILE:LINE: ingress[i].KEY: what" (or "FILE: ingress: ..."
 * when the list is empty). The result owns copies of every string.
 */
pqify_ingress *pqify_ingress_compile(const pqify_ingress_rule_cfg *rules, size_t count, const char *file,
                                     char *err, size_t cap);
/* One catch-all rule to service (`pqify tunnel --url`); errors name origin ("--url"). */
pqify_ingress *pqify_ingress_single(const char *service, const char *origin, char *err, size_t cap);
void pqify_ingress_free(pqify_ingress *in);

size_t pqify_ingress_count(const pqify_ingress *in);
const pqify_ingress_rule *pqify_ingress_rule_at(const pqify_ingress *in, size_t i);

/*
 * The first rule matching a request: host is the request's authority (a port and a
 * trailing dot are ignored, case does not matter), path its path (a query after '?'
 * is not part of it, as cloudflared matches the URL's path). Never NULL: the last
 * rule matches everything.
 */
const pqify_ingress_rule *pqify_ingress_match(const pqify_ingress *in, const char *host, size_t host_len,
                                              const char *path, size_t path_len);

/* ---- the connector (`pqify tunnel`) ---- */

#include <uv.h>

#include "pqify/net/metrics.h"
#include "pqify/net/stream.h"

typedef struct pqify_tunnel_connector pqify_tunnel_connector;

typedef struct pqify_tunnel_connector_options {
    const char *name;                  /* the tunnel's name (its client certificate names it) */
    const char *const *edges;          /* HOST:PORT of each edge's tunnel listener */
    size_t n_edges;
    unsigned ha_connections;           /* spread over the edges: edge i gets its share */
    const pqify_tls_config *tls;       /* client: cert+key (mutual TLS), ca, pq required */
    pqify_stream_opts stream;
    uint64_t backoff_base_ms, backoff_cap_ms;   /* 0 = 100 ms, 30 s */
    pqify_ingress *ingress;            /* taken (freed with the connector or on a swap) */
    pqify_metrics *metrics;            /* NULL = none */
} pqify_tunnel_connector_options;

/*
 * Dial every connection (each reconnects with capped back-off and full jitter when it
 * ends) and serve HTTP/2 on it: the edge opens one stream per request, proxied to the
 * origin the ingress rules pick. 0, or PQIFY_ERR_ARG with err (bad edge address, no
 * memory); on failure the ingress is freed.
 */
PQIFY_MUST_USE int pqify_tunnel_connector_start(uv_loop_t *loop, const pqify_tunnel_connector_options *o,
                                                pqify_tunnel_connector **out, char *err, size_t cap);
/* Connections the edge has registered (readiness). */
unsigned pqify_tunnel_connector_registered(const pqify_tunnel_connector *c);
/* The cloudflared-shaped readiness body: {"status":200|503,"readyConnections":N,...}. */
void pqify_tunnel_connector_ready_json(const pqify_tunnel_connector *c, int draining, char *json, size_t cap);
/* SIGHUP: new requests use in (taken); requests in flight keep the rules they matched. */
void pqify_tunnel_connector_swap_ingress(pqify_tunnel_connector *c, pqify_ingress *in);
/* SIGTERM: GOAWAY on every connection (the edge sends no new requests on them), the
 * requests in flight finish, then the connections close; done(arg) once all are gone. */
void pqify_tunnel_connector_drain(pqify_tunnel_connector *c, void (*done)(void *arg), void *arg);
/* The grace period is over: reset what is left and close (done still follows). */
void pqify_tunnel_connector_abort(pqify_tunnel_connector *c);
/* After drain's done (or to give up at start-up): frees once libuv closed the handles. */
void pqify_tunnel_connector_free(pqify_tunnel_connector *c);

/* ---- the edge's side: the hub where connectors register ---- */

/*
 * A tunnel listener (pq: required, mutual TLS: a connector's client certificate
 * must chain to the configured CA, and its CN is the tunnel's name). Each connection
 * registers (docs/tunnel.md "Registration"); the edge then sends requests to a tunnel
 * by name, spread round robin over its registered connections. Everything runs on
 * one libuv loop, callbacks included.
 */
typedef struct pqify_tunnel_hub pqify_tunnel_hub;
typedef struct pqify_tunnel_req pqify_tunnel_req;

typedef struct pqify_tunnel_hub_options {
    const char *listen;                /* HOST:PORT; port 0 picks one */
    const pqify_tls_config *tls;       /* server: cert+key, ca (client certificates required) */
    pqify_stream_opts stream;
    pqify_metrics *metrics;            /* NULL = none */
    unsigned max_connections;          /* 0 = 10000 */
    unsigned max_retries;              /* idempotent retries on another connection; 0 = 2 */
    /* A request for a tunnel with no registered connection (none yet, or the connector
     * is coming back) waits up to this long for one, in arrival order, then fails
     * (on_error); an idempotent one whose connections all died waits the same way.
     * 0 = no wait: pqify_tunnel_hub_request fails at once. */
    unsigned wait_for_connection_ms;
} pqify_tunnel_hub_options;

typedef struct pqify_tunnel_header {
    const char *name, *value;          /* names lower case (HTTP/2) */
    size_t name_len, value_len;
} pqify_tunnel_header;

typedef struct pqify_tunnel_request {
    const char *method, *scheme, *authority, *path;
    const char *protocol;              /* RFC 8441 extended CONNECT (method "CONNECT"): "websocket"; else NULL */
    const pqify_tunnel_header *headers;   /* no hop-by-hop headers, no pseudo-headers */
    size_t n_headers;
    int has_body;                      /* 0: the request ends with its head */
} pqify_tunnel_request;

typedef struct pqify_tunnel_req_cbs {
    void (*on_head)(pqify_tunnel_req *r, int status, const pqify_tunnel_header *h, size_t n, void *ctx);
    /* Body bytes; the caller gives the credit back with pqify_tunnel_req_consumed once it
     * has passed them on (at most 1 MiB per request is in flight without credit). */
    void (*on_body)(pqify_tunnel_req *r, const uint8_t *data, size_t len, void *ctx);
    void (*on_end)(pqify_tunnel_req *r, void *ctx);                    /* last call */
    void (*on_error)(pqify_tunnel_req *r, const char *why, void *ctx);  /* last call */
    /* The request body buffer went below half its size again (may be NULL). */
    void (*on_writable)(pqify_tunnel_req *r, void *ctx);
} pqify_tunnel_req_cbs;

PQIFY_MUST_USE int pqify_tunnel_hub_start(uv_loop_t *loop, const pqify_tunnel_hub_options *o,
                                          pqify_tunnel_hub **out, char *err, size_t cap);
/* "IP:PORT" it listens on. */
void pqify_tunnel_hub_address(const pqify_tunnel_hub *h, char *out, size_t cap);
/* Registered connections of a tunnel now (0 for an unknown name). */
unsigned pqify_tunnel_hub_registered(const pqify_tunnel_hub *h, const char *tunnel);
/* Close one registered connection of the tunnel at once, as a network fault would
 * (operators: to move a connector's load; tests). 0, or -1 if it has none. */
int pqify_tunnel_hub_drop_connection(pqify_tunnel_hub *h, const char *tunnel);
/* Stop accepting, close every connection (requests in flight get on_error) and free
 * once libuv released the handles. */
void pqify_tunnel_hub_free(pqify_tunnel_hub *h);

/*
 * Open a request to a tunnel. When the tunnel has no registered connection the
 * request waits for one up to wait_for_connection_ms (on_error past it: "tunnel NAME
 * has no registered connection (waited N ms)"); with no wait, NULL with err at once.
 * NULL with err too when memory ran out; no callback then. An
 * idempotent request (GET, HEAD, OPTIONS) whose connection dies before its answer
 * began, and any request the connector refused unprocessed (GOAWAY), is sent again on
 * another connection, up to max_retries times; the caller sees none of that.
 */
pqify_tunnel_req *pqify_tunnel_hub_request(pqify_tunnel_hub *h, const char *tunnel, const pqify_tunnel_request *rq,
                                           const pqify_tunnel_req_cbs *cbs, void *ctx, char *err, size_t cap);
/* Request body bytes (copied). 0 while the buffer has room; 1 when the caller should
 * wait for on_writable; -1 after an error or the end. */
int pqify_tunnel_req_write(pqify_tunnel_req *r, const void *data, size_t len);
int pqify_tunnel_req_end(pqify_tunnel_req *r);
void pqify_tunnel_req_consumed(pqify_tunnel_req *r, size_t n);
/* The caller gives up (its client went away): the stream is reset, no more callbacks. */
void pqify_tunnel_req_cancel(pqify_tunnel_req *r);
/* The TLS group of the connection carrying the request ("X25519MLKEM768"). */
const char *pqify_tunnel_req_group(const pqify_tunnel_req *r);

/* ---- tunnel.yaml: the connector's file (docs/tunnel.md) ---- */

#define PQIFY_TUNNEL_MAX_EDGES 16

typedef struct pqify_tunnel_file {
    const char *tunnel;              /* the tunnel's name, as the edge's routes say it */
    pqify_config_list edge;          /* HOST:PORT of each edge's tunnel listener (const char *) */
    int64_t ha_connections;
    unsigned grace_ms;
    pqify_tls_options tls;
    pqify_admin_config admin;
    pqify_config_list ingress;       /* of pqify_ingress_rule_cfg */
} pqify_tunnel_file;

extern const pqify_setting pqify_tunnel_settings[];

/*
 * Load a tunnel.yaml and compile its ingress rules: 0 with *cfg (owning the
 * strings of file) and *ingress, or PQIFY_ERR_ARG with err naming FILE:LINE: KEY.
 */
PQIFY_MUST_USE int pqify_tunnel_file_load(const char *path, pqify_tunnel_file *file, pqify_config **cfg,
                                          pqify_ingress **ingress, char *err, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
