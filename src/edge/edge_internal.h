/* The edge's parts and how they meet (README.md): a client connection (conn) speaks
 * HTTP/1.1 (h1.c) or HTTP/2 (h2.c); each request (req) is relayed by proxy.c to its
 * route's origin through net/http_origin (upstream.c hands the answer to the frontend).
 * Everything runs on one loop. */
#ifndef PQIFY_EDGE_INTERNAL_H
#define PQIFY_EDGE_INTERNAL_H

#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <uv.h>

#include "http1.h"
#include "pqify/edge.h"
#include "pqify/net/http_origin.h"
#include "pqify/net/listener.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"
#include "route.h"

/* Bytes one direction of a request may hold in the edge's queues before it stops
 * reading the side that sends them (the other side's window does the rest). */
#define EDGE_HIGH_WATER (256u * 1024u)
#define EDGE_MAX_RESPONSE_HEAD (64u * 1024u)
#define EDGE_POOL_IDLE_MAX 64
#define EDGE_POOL_IDLE_MS 30000u

typedef struct pqify_edge edge;
typedef struct edge_conn edge_conn;
typedef struct edge_req edge_req;
typedef struct pqify_http_origin edge_pool;   /* a route's origin and its keep-alive pool */

/* A queue of bytes in chunks (h2 response bodies, bytes for an origin not yet up). */
typedef struct edge_chunk {
    struct edge_chunk *next;
    size_t len, off;
    uint8_t data[];
} edge_chunk;
typedef struct edge_bq {
    edge_chunk *head, *tail;
    size_t len;
} edge_bq;
int edge_bq_push(edge_bq *q, const void *data, size_t len);
size_t edge_bq_pop(edge_bq *q, uint8_t *out, size_t cap);
void edge_bq_clear(edge_bq *q);

typedef struct edge_route {
    const char *hostname;   /* NULL = any */
    const char *path;       /* NULL = any */
    char label[300];        /* the metrics' route label: hostname+path */
    const char *tunnel;     /* a tunnel's name (tunnel.c), else NULL: the origin */
    edge_origin origin;
    pqify_tls_config *origin_tls;   /* https:// origins: verified against origin_ca */
    edge_pool *pool;
} edge_route;

/* One certificate of the listeners' config (its index is the engine's identity):
 * the file it came from names it in logs and metrics; a keyless one holds its own
 * keyless client (a thread and its connections to the key servers). */
typedef struct edge_ident {
    char *cert;                         /* the chain's file */
    pqify_tls_config *kl_tls;           /* keyless: the hop's client config */
    struct pqify_keyless_client *kl;    /* keyless: the client */
    struct pqify_keyless_remote_key *rk;/* keyless: the signer's key */
} edge_ident;

/* What a reload swaps: routes with their pools, the certificates; held by reference
 * by each connection (tls) and each request (routes) that started with it. */
typedef struct edge_gen {
    int refs;
    edge *e;
    size_t n_routes;
    edge_route routes[PQIFY_EDGE_MAX_ROUTES];
    pqify_tls_config *tls;          /* the listeners' */
    size_t n_idents;
    edge_ident idents[PQIFY_EDGE_MAX_CERTS];
} edge_gen;
void edge_gen_put(edge_gen *g);

/* The frontend a request answers through (h1.c, h2.c). */
typedef struct edge_front_ops {
    /* The origin's response head (hop-by-hop fields already dropped). */
    void (*head)(edge_req *r, int status, const char *const *names,
                 const char *const *values, size_t n, int64_t content_length);
    void (*body)(edge_req *r, const uint8_t *data, size_t len);
    void (*end)(edge_req *r);
    /* The edge's own answer (404, 502, 504 ...), or, once a head went out, an abort. */
    void (*error)(edge_req *r, int status);
    /* 1 while the client side holds more than EDGE_HIGH_WATER of this response. */
    int (*down_full)(edge_req *r);
    /* The origin took what was queued: read the request's body again. */
    void (*up_resume)(edge_req *r);
    /* The origin's bytes of this read are handed over: send what head() and body()
     * gathered (they gather so a small response goes out as one record and one write). */
    void (*flush)(edge_req *r);
} edge_front_ops;

/* edge_req.body_mode of an HTTP/1.1 WebSocket upgrade: after the 101 the client's bytes
 * are the request's body, unframed, until either side closes. */
#define EDGE_BODY_UPGRADE 3

struct edge_req {
    edge_conn *c;
    const edge_front_ops *ops;
    int32_t sid;               /* HTTP/2 stream id; 0 on HTTP/1.1 */
    edge_gen *gen;
    edge_route *route;
    pqify_http_origin_req *oc; /* the exchange with the origin, NULL once it ended */
    char method[24];
    char *host, *path;         /* malloc'd */
    uint8_t *head;             /* the request head for the origin, kept for a retry */
    size_t head_len;
    int body_mode;             /* 0 none, 1 Content-Length, 2 chunked to the origin, 3 a WebSocket upgrade (EDGE_BODY_UPGRADE) */
    int body_started;          /* request body bytes went to the origin (no retry) */
    int body_done;             /* the client's body ended */
    int retried, reused;
    int responded;             /* a head (or an error) went to the client */
    int finished;              /* the response ended (or failed) */
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t t0_us;
    edge_bq down;              /* HTTP/2: response body waiting for the client's window */
    int down_end;              /* HTTP/2: the response ended, after down */
    int down_deferred;
    size_t up_unconsumed;      /* HTTP/2: received but not yet acknowledged */
    uint64_t body_limit_seen;
    struct pqify_tunnel_req *tr;   /* a tunnel route: the request in the hub (tunnel.c) */
    size_t tr_unconsumed;      /* response bytes whose credit waits for the client */
    int tr_full;               /* the hub's request-body buffer is over half full */
    edge_req *next;            /* HTTP/2: the connection's requests */
    void *fe;                  /* the frontend's own state */
};

struct edge_conn {
    edge *e;
    edge_gen *gen;             /* the certificate it was accepted with */
    pqify_stream *s;
    pqify_listener *listener;  /* the one that accepted it */
    int established, h2, closing, draining_close;
    int signing;               /* a keyless signature was asked for its handshake */
    char peer[64];
    pqify_tls_info info;
    edge_conn *prev, *next;
    /* HTTP/1.1 */
    edge_h1 h1;
    edge_req *req;             /* the one in flight */
    uint8_t *rest;             /* bytes after a complete request (pipelining) */
    size_t rest_len;
    uv_timer_t timer;          /* the header timeout */
    int timer_open;
    int resp_chunked, close_after;
    int upgraded;              /* a WebSocket upgrade was answered 101: bytes relayed as they are */
    char *head_out;            /* a response head waiting for its body's first bytes */
    size_t head_out_len;
    /* HTTP/2 */
    nghttp2_session *ng;
    edge_req *reqs;
    size_t ng_head_bytes;
    edge_conn *flush_next;     /* on the edge's h2_soon list (h2.c) */
    int flush_soon;
};

/* The metrics (STYLE.md "Metrics are named once"). */
typedef struct edge_metrics {
    pqify_tls_metrics tls;
    pqify_metric *requests, *duration, *origin_errors, *cert_handshakes;
    pqify_series *conns, *dropped, *reloads, *logged;
} edge_metrics;

struct pqify_edge {
    uv_loop_t *loop;
    pqify_edge_config cfg;        /* the current one (strings the caller's) */
    pqify_edge_limits lim;
    edge_gen *gen;
    pqify_listener *listeners[PQIFY_EDGE_MAX_LISTEN];
    size_t n_listeners;
    edge_conn *conns;
    size_t n_conns;
    edge_metrics m;
    int draining;
    void (*drained)(void *);
    void *drained_arg;
    struct edge_alog *alog;
    struct pqify_tunnel_hub *hub;      /* tunnels: (tunnel.c) */
    pqify_tls_config *hub_tls;
    uv_idle_t *h2_idle;                /* flushes the h2_soon connections (h2.c) */
    edge_conn *h2_soon;
};

/* edge.c */
void edge_conn_close(edge_conn *c);
void edge_log_request(edge_req *r);
uint64_t edge_now_us(void);

/* proxy.c: a request from a frontend */
edge_req *edge_req_new(edge_conn *c, const edge_front_ops *ops, int32_t sid);
/* Route and start; 0, or the status the frontend answers (404 ...). */
int edge_req_start(edge_req *r, const char *method, const char *host, const char *path,
                   const char *const *names, const char *const *values, const size_t *vlens,
                   size_t n, int body_mode, uint64_t content_length);
void edge_req_body(edge_req *r, const uint8_t *data, size_t len);
void edge_req_body_end(edge_req *r);
/* 1 while the origin side holds more than EDGE_HIGH_WATER of the request's body. */
int edge_req_up_full(const edge_req *r);
/* The client drained: read the origin again. */
void edge_req_down_resume(edge_req *r);
/* The frontend is done with it (answered, reset, or its connection closed). */
void edge_req_free(edge_req *r);
void edge_req_fail(edge_req *r, int status, const char *reason);

/* tunnel.c: routes to tunnels through the hub */
int edge_tunnel_open(edge *e, const pqify_edge_config *c, pqify_metrics *m, char *err, size_t cap);
void edge_tunnel_close(edge *e);
/* Like edge_req_start's tail for a tunnel route: 0 or the status to answer. */
int edge_tunnel_start(edge_req *r, const char *path, const char *const *names,
                      const char *const *values, const size_t *vlens, size_t n, int body_mode,
                      uint64_t content_length);
void edge_tunnel_body(edge_req *r, const uint8_t *data, size_t len);
void edge_tunnel_body_end(edge_req *r);
void edge_tunnel_down_resume(edge_req *r);
void edge_tunnel_cancel(edge_req *r);

/* upstream.c: a route's origin (net/http_origin with the edge's limits) and the
 * callbacks that hand its answer to the request's frontend */
edge_pool *edge_pool_new(edge *e, const edge_origin *o, pqify_tls_config *tls);
void edge_pool_free(edge_pool *p);
extern const pqify_http_origin_cbs edge_origin_cbs;

/* h1.c / h2.c */
void edge_h1_start(edge_conn *c);
void edge_h1_data(edge_conn *c, const uint8_t *data, size_t len);
void edge_h1_writable(edge_conn *c);
void edge_h1_closed(edge_conn *c);
void edge_h1_drain(edge_conn *c);
int edge_h2_start(edge_conn *c);
void edge_h2_data(edge_conn *c, const uint8_t *data, size_t len);
void edge_h2_writable(edge_conn *c);
void edge_h2_closed(edge_conn *c);
void edge_h2_drain(edge_conn *c);
/* Send what nghttp2 has (a request's body or end arrived). */
void edge_h2_flush(edge_conn *c);
void edge_h2_free_idle(edge *e);

#endif
