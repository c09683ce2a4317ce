/* Inside the tunnel layer: the origin client (origin.c) the connector proxies to, and
 * the names of the registration exchange both sides speak (docs/tunnel.md). */
#ifndef PQIFY_TUNNEL_INTERNAL_H
#define PQIFY_TUNNEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

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

/* The tunnel name a client certificate carries: the CN of the subject as the engine
 * prints it (RFC 4514: "CN=office,O=x"; a backslash escapes the next character). 0 and
 * out = "office", or -1 when there is no CN, it is empty, or it does not fit in cap
 * (a name is never cut short: a cut name could name another tunnel). */
int pqify_tunnel_subject_cn(const char *subject, char *out, size_t cap);

/* 1 for headers a proxy never forwards (RFC 9110 §7.6.1, RFC 9113 §8.2.2) */
int pqify_tunnel_hop_header(const uint8_t *name, size_t len);

/* Words for nghttp2 and origin errors in logs. */
typedef struct origin_req origin_req;
typedef struct origin_pool origin_pool;

typedef struct origin_cbs {
    /* The response head: status and headers (names lower case, hop-by-hop removed). */
    void (*on_head)(origin_req *r, int status, const nghttp2_nv *nv, size_t n, void *ctx);
    void (*on_body)(origin_req *r, const uint8_t *data, size_t len, void *ctx);
    void (*on_end)(origin_req *r, void *ctx);                      /* the response is complete */
    /* The request could not complete: before the head (connect failed, origin closed:
     * the connector answers 502) or after it (the stream is reset). Last call. */
    void (*on_error)(origin_req *r, const char *why, void *ctx);
    /* n request body bytes reached the origin's socket (give the HTTP/2 window back). */
    void (*on_sent)(origin_req *r, size_t n, void *ctx);
} origin_cbs;

origin_pool *origin_pool_new(uv_loop_t *loop);
/* Closes the idle connections; requests still running keep theirs until they end. */
void origin_pool_free(origin_pool *p);

/* Start a request to rule's origin. head: "METHOD PATH HTTP/1.1\r\n...headers..." without
 * the final CRLF (the origin client adds Connection handling and the blank line).
 * chunked: the body is sent with Transfer-Encoding: chunked. is_head: a HEAD (no body
 * in the answer). NULL when out of memory. Callbacks start on a later loop turn. */
origin_req *origin_req_start(origin_pool *p, const pqify_ingress_rule *rule, const char *head, size_t head_len,
                             int chunked, int is_head, const origin_cbs *cbs, void *ctx);
/* Request body bytes (copied); on_sent reports them once written. */
int origin_req_write(origin_req *r, const uint8_t *data, size_t len);
int origin_req_end(origin_req *r);
/* Stop (1) or resume (0) reading the response (the body buffer is full). */
void origin_req_pause(origin_req *r, int pause);
/* The caller is done (the stream ended or was reset): no more callbacks. A connection
 * whose exchange finished cleanly goes back to the pool. */
void origin_req_release(origin_req *r);

#endif
