/*
 * The admin HTTP endpoint (DESIGN.md "The service chassis"): plain HTTP/1.1 on a
 * loopback address, on a libuv loop, answering
 *   GET /metrics  200, the registry in Prometheus text format 0.0.4
 *   GET /ready    200 {"status":"ready"} or 503 {"status":"not ready","reason":"..."}
 *   GET /healthz  200 ok
 * HEAD too; other methods 405, other paths 404. Requests are parsed by http-parser.
 * Limits: request line + headers (max_header_bytes, 431), no body (413), each request
 * complete within request_timeout_ms of the connection or of the previous reply (408;
 * an idle keep-alive connection is just closed), max_connections at once (more are
 * closed on accept), malformed requests 400. Replies keep the connection alive as
 * HTTP/1.1 says (Connection: close and HTTP/1.0 close it); after a final reply the
 * server half-closes and drains what the client still sends, so the reply is not lost
 * to a TCP reset. Everything runs on the loop's thread; pqify_admin_* must be called
 * there too. Like every libuv server, the process must ignore SIGPIPE.
 */
#ifndef PQIFY_NET_ADMIN_H
#define PQIFY_NET_ADMIN_H

#include <stddef.h>

#include <uv.h>

#include "pqify/common.h"
#include "pqify/net/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readiness, asked on every GET /ready (on the loop's thread): return 1 when the
 * service can do its job; else 0 with a short reason in reason[cap] ("0 of 4 tunnel
 * connections up"), which the reply carries as JSON. */
typedef int (*pqify_admin_ready_fn)(void *arg, char *reason, size_t cap);
/* A service whose readiness has a known shape (the tunnel's is cloudflared's
 * {"status":200,"readyConnections":N}) writes the whole JSON body of /ready into
 * json[cap] and returns 1 (200) or 0 (503); used instead of ready when set. */
typedef int (*pqify_admin_ready_body_fn)(void *arg, char *json, size_t cap);

typedef struct pqify_admin_options {
    const char *listen;              /* HOST:PORT on loopback (127.0.0.0/8, ::1, localhost); port 0 = any */
    pqify_metrics *metrics;          /* rendered by /metrics; NULL = an empty page */
    pqify_admin_ready_fn ready;      /* NULL = always ready */
    void *ready_arg;
    unsigned request_timeout_ms;     /* 0 = 5000 */
    size_t max_header_bytes;         /* 0 = 8192 */
    unsigned max_connections;        /* 0 = 64 */
    pqify_admin_ready_body_fn ready_body;   /* NULL = the body above (ready_arg is its arg too) */
} pqify_admin_options;

typedef struct pqify_admin pqify_admin;

/*
 * Bind and listen. 0 and *out, or a negative code (PQIFY_ERR_ARG for a bad or
 * non-loopback address, else libuv's, e.g. UV_EADDRINUSE) with err holding words:
 * "admin.listen 0.0.0.0:9090: not a loopback address (...)", "admin.listen
 * 127.0.0.1:9090: address already in use".
 */
PQIFY_MUST_USE int pqify_admin_start(uv_loop_t *loop, const pqify_admin_options *o, pqify_admin **out,
                                     char *err, size_t cap);
/* The port it listens on (the one chosen when listen said port 0). */
int pqify_admin_port(const pqify_admin *a);
/* Close the listener and every connection; the memory goes once the loop has run the
 * close callbacks (uv_run). */
void pqify_admin_stop(pqify_admin *a);

#ifdef __cplusplus
}
#endif
#endif
