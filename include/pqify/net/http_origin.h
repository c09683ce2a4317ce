/*
 * An HTTP/1.1 client to one origin on libuv, with a keep-alive pool (the edge's routes
 * and the tunnel connector's ingress rules both proxy through it). The origin is
 * http://HOST:PORT (TCP), unix:PATH (a Unix socket) or https://HOST:PORT (the engine,
 * with a pqify_tls_config the caller builds: verification, SNI, pq preference).
 *
 * A request is a head the caller serialised ("METHOD PATH HTTP/1.1\r\n...\r\n\r\n",
 * framing fields included) and a streamed body; the response is parsed by http-parser
 * and handed over as head, body pieces and end, or an error. Both directions are
 * bounded: pqify_http_origin_write queues and the caller stops sending while
 * pqify_http_origin_queued is above the high-water mark (on_writable says when to go
 * on); pqify_http_origin_pause stops reading the response while the caller's own
 * buffer is full.
 *
 * A request that went out on a reused connection says so (pqify_http_origin_reused):
 * the origin may have closed that connection just as the request was written
 * (RFC 9112 §9.3.1), and the caller may then retry an idempotent request.
 */
#ifndef PQIFY_NET_HTTP_ORIGIN_H
#define PQIFY_NET_HTTP_ORIGIN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "pqify/tls.h"

typedef struct pqify_http_origin pqify_http_origin;
typedef struct pqify_http_origin_req pqify_http_origin_req;

enum pqify_http_origin_kind {
    PQIFY_HTTP_ORIGIN_HTTP = 1,   /* host, port: TCP */
    PQIFY_HTTP_ORIGIN_HTTPS,      /* host, port, tls: the engine over TCP */
    PQIFY_HTTP_ORIGIN_UNIX,       /* path: a Unix socket */
};

typedef struct pqify_http_origin_opts {
    enum pqify_http_origin_kind kind;
    const char *host, *port;      /* HTTP, HTTPS (copied) */
    const char *path;             /* UNIX (copied) */
    /* HTTPS: the client config (server name, trust, pq). Borrowed: it must outlive the
     * pool's last connection, unless own_tls, when the pool frees it with that one. */
    pqify_tls_config *tls;
    int own_tls;
    unsigned connect_timeout_ms;  /* TCP connect (and the TLS handshake); 0 = 10 s */
    /* from the request's first byte to the response head; 0 = none. Past it the
     * request fails with PQIFY_HTTP_ORIGIN_TIMEOUT. */
    unsigned response_timeout_ms;
    unsigned idle_max;            /* idle connections kept; 0 = none (no reuse) */
    unsigned idle_timeout_ms;     /* an idle connection is closed after it; 0 = 30 s */
    size_t high_water;            /* request bytes queued before "full"; 0 = 256 KiB */
} pqify_http_origin_opts;

/* Why a request failed. */
enum pqify_http_origin_error {
    PQIFY_HTTP_ORIGIN_CONNECT = 1,  /* could not connect (refused, timed out, TLS failed) */
    PQIFY_HTTP_ORIGIN_CLOSED,       /* the origin closed or reset before the response ended */
    PQIFY_HTTP_ORIGIN_PROTOCOL,     /* not an HTTP/1.1 response (or a head over 64 KiB) */
    PQIFY_HTTP_ORIGIN_TIMEOUT,      /* no response head within response_timeout_ms */
    PQIFY_HTTP_ORIGIN_NOMEM,
};

typedef struct pqify_http_origin_head {
    int status;
    unsigned http_major, http_minor;
    /* every field as the origin sent it (names in its case, hop-by-hop ones included:
     * what a proxy forwards is the caller's choice); NUL-terminated */
    const char *const *names, *const *values;
    size_t n;
    int64_t content_length;       /* -1: chunked or delimited by the close */
} pqify_http_origin_head;

typedef struct pqify_http_origin_cbs {
    /* The final response head (1xx interim answers are skipped; 101 is an error unless
     * the request was PQIFY_HTTP_ORIGIN_UPGRADE). */
    void (*on_head)(pqify_http_origin_req *r, const pqify_http_origin_head *h, void *ctx);
    void (*on_body)(pqify_http_origin_req *r, const uint8_t *data, size_t len, void *ctx);
    /* The response is complete; the connection is back in the pool when it may be.
     * The request stays the caller's until pqify_http_origin_release. */
    void (*on_end)(pqify_http_origin_req *r, void *ctx);
    /* The request failed (before the head: the caller answers 502/504 or retries; after
     * it: the response is cut). Last callback. why: words for a log. */
    void (*on_error)(pqify_http_origin_req *r, enum pqify_http_origin_error e, const char *why,
                     void *ctx);
    /* Optional: n request body bytes reached the origin's socket (a proxy gives its
     * HTTP/2 window back). */
    void (*on_sent)(pqify_http_origin_req *r, size_t n, void *ctx);
    /* Optional: the queue went above high_water and has drained to half of it. */
    void (*on_writable)(pqify_http_origin_req *r, void *ctx);
    /* Optional: the bytes of one read were handed over (a proxy sends what it gathered). */
    void (*on_flush)(pqify_http_origin_req *r, void *ctx);
} pqify_http_origin_cbs;

/* NULL when out of memory. */
pqify_http_origin *pqify_http_origin_new(uv_loop_t *loop, const pqify_http_origin_opts *o);
/* Closes the idle connections; requests still running keep theirs until released, and
 * the pool's memory goes with its last connection. */
void pqify_http_origin_free(pqify_http_origin *p);
/* Idle connections now (for tests and metrics). */
size_t pqify_http_origin_idle(const pqify_http_origin *p);

/* The request's framing: chunked makes write() send chunks and end() the last chunk
 * (RFC 9112 §7.1; the head carries Transfer-Encoding: chunked); no_body_response: a
 * HEAD, the response has no body whatever its fields say (RFC 9110 §9.3.2). */
#define PQIFY_HTTP_ORIGIN_CHUNKED 1u
#define PQIFY_HTTP_ORIGIN_HEAD 2u
/* The head asks to switch protocols (RFC 9110 §7.8, e.g. Upgrade: websocket): a 101
 * answer is the final head (on_head with status 101), and from then on the origin's
 * bytes go to on_body as they come and write() sends bytes as they are, until the
 * origin closes (on_end); the connection is never reused. Any other answer is an
 * ordinary response. */
#define PQIFY_HTTP_ORIGIN_UPGRADE 4u

/* Start a request: an idle connection when there is one, else a new one. head is
 * copied. Callbacks run on later loop turns, never inside this call. NULL when out of
 * memory. */
pqify_http_origin_req *pqify_http_origin_start(pqify_http_origin *p, const void *head, size_t head_len,
                                               unsigned flags, const pqify_http_origin_cbs *cbs, void *ctx);
/* 1 when the request went out on a connection an earlier request used. */
int pqify_http_origin_reused(const pqify_http_origin_req *r);
/* Request body bytes (copied). 0, or -1 after an error or end. Only on_sent may run
 * inside it (https://: the bytes went into a short TLS queue). */
int pqify_http_origin_write(pqify_http_origin_req *r, const void *data, size_t len);
int pqify_http_origin_end(pqify_http_origin_req *r);
/* Bytes of the request not yet written to the socket. */
size_t pqify_http_origin_queued(const pqify_http_origin_req *r);
/* 1 while more than high_water is queued (on_writable follows when it drains). */
int pqify_http_origin_full(const pqify_http_origin_req *r);
/* Stop (1) or resume (0) reading the response. */
void pqify_http_origin_pause(pqify_http_origin_req *r, int pause);
/* The caller is done: no more callbacks. A connection whose exchange ended cleanly
 * (response complete, request ended, keep-alive, nothing queued) stays in the pool;
 * any other is closed. Safe inside any callback. */
void pqify_http_origin_release(pqify_http_origin_req *r);

#endif
