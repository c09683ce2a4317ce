/* Inside the tunnel layer: the origins (origins.c) the connector proxies to, and
 * the names of the registration exchange both sides speak (docs/tunnel.md). */
#ifndef PQIFY_TUNNEL_INTERNAL_H
#define PQIFY_TUNNEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "pqify/net/http_origin.h"
#include "pqify/tunnel.h"

/* Registration (docs/tunnel.md "Registration"): the edge's first stream on a new
 * connection is  POST /.pqify/tunnel/register  with pqify-tunnel-cert: the name the
 * client certificate it verified carries. The connector answers 200 with
 * pqify-tunnel: its configured name when the two agree, else 403 and it closes the
 * connection. The edge routes requests to the connection only after that 200, and
 * only when the names agree: a tunnel's name is bound to its certificate. */
#define TUNNEL_REGISTER_PATH "/.pqify/tunnel/register"
#define TUNNEL_HDR_CERT "pqify-tunnel-cert"
#define TUNNEL_HDR_NAME "pqify-tunnel"

/* HTTP/2 flow control windows: what may be in flight per stream and per connection,
 * so what each side may have to buffer (RFC 9113 §5.2) */
#define TUNNEL_STREAM_WINDOW (1u << 20)
#define TUNNEL_CONN_WINDOW (16u << 20)
#define TUNNEL_MAX_STREAMS 1000u
/* a response body buffered from the origin before reading from it pauses */
#define TUNNEL_BODY_HIGH_WATER (256u * 1024u)
#define TUNNEL_MAX_HEAD (64u * 1024u)

/* A body waiting for the peer's HTTP/2 window (body.c): the hub's request bodies, the
 * connector's response bodies. eof: the last byte is in; deferred: nghttp2 was told
 * NGHTTP2_ERR_DEFERRED and waits for tunnel_body_resume. */
typedef struct tunnel_body {
    uint8_t *buf;
    size_t off, len, cap;
    int eof, deferred;
} tunnel_body;

/* Appends a copy of data; 0 or -1 (out of memory). */
int tunnel_body_append(tunnel_body *b, const void *data, size_t len);
/* Bytes waiting. */
static inline size_t tunnel_body_waiting(const tunnel_body *b) { return b->len - b->off; }
/* The core of an nghttp2 data provider's read callback: up to length bytes into out,
 * NGHTTP2_DATA_FLAG_EOF once the last one went, NGHTTP2_ERR_DEFERRED (and deferred
 * set) when nothing waits yet. */
ssize_t tunnel_body_read(tunnel_body *b, uint8_t *out, size_t length, uint32_t *flags);
/* Bytes or the end came in: nghttp2 reads again when it had been deferred. */
void tunnel_body_resume(tunnel_body *b, nghttp2_session *h2, int32_t id);
void tunnel_body_free(tunnel_body *b);

/* The tunnel name a client certificate carries: the CN of the subject as the engine
 * prints it (RFC 4514: "CN=office,O=x"; a backslash escapes the next character). 0 and
 * out = "office", or -1 when there is no CN, it is empty, or it does not fit in cap
 * (a name is never cut short: a cut name could name another tunnel). */
int pqify_tunnel_subject_cn(const char *subject, char *out, size_t cap);

/* 1 for headers a proxy never forwards (RFC 9110 §7.6.1, RFC 9113 §8.2.2) */
int pqify_tunnel_hop_header(const uint8_t *name, size_t len);

/* The connector's origins (origins.c): one net/http_origin pool per distinct origin. */
typedef struct origin_pool origin_pool;
origin_pool *origin_pool_new(uv_loop_t *loop);
/* Frees the idle connections; requests still running keep theirs until released. */
void origin_pool_free(origin_pool *p);
/* The pool for rule's origin, made on first use; NULL with err (its TLS config failed,
 * or out of memory). */
pqify_http_origin *origin_pool_get(origin_pool *p, const pqify_ingress_rule *rule, char *err, size_t cap);

#endif
