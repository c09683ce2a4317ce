/*
 * The edge's HTTP/1.1 request parser (RFC 9112), on http-parser, without sockets: bytes
 * in, a request head, body pieces and an end out, or the status that refuses it. The
 * limits and the request-smuggling rules live here, so tests/fuzz/fuzz_edge_http1.c
 * drives exactly what a connection runs.
 *
 * Refused with 400 (and the connection closed): malformed syntax or chunking (http-
 * parser's verdict), both Content-Length and Transfer-Encoding (RFC 9112 §6.1: "ought
 * to be handled as an error"), more than one Content-Length, a Transfer-Encoding other
 * than chunked (RFC 9112 §6.3: the length cannot be known), no Host or two Hosts in an
 * HTTP/1.1 request (RFC 9112 §3.2), an upgrade other than a WebSocket GET, CONNECT. 431: request line and
 * headers over max_head bytes or EDGE_H1_MAX_HEADERS fields. 413: a Content-Length or
 * a chunked body over max_body. 505: a version other than HTTP/1.x. The two bytes
 * after a chunk's data must be CRLF (RFC 9112 §7.1), which Debian's non-strict
 * http-parser does not check.
 */
#ifndef PQIFY_EDGE_HTTP1_H
#define PQIFY_EDGE_HTTP1_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define EDGE_H1_MAX_HEADERS 100

typedef struct edge_span {
    uint32_t off, len;   /* in the parser's arena */
} edge_span;

typedef struct edge_h1 edge_h1;

typedef struct edge_h1_cbs {
    /* The head is complete (read it with the accessors). Return 0 to go on, or a
     * status (404, 413 ...) that refuses the request: the parser then stops. */
    int (*on_head)(void *ctx, edge_h1 *h);
    void (*on_body)(void *ctx, const char *data, size_t len);
    /* The message is complete; the parser pauses until edge_h1_next(). */
    void (*on_end)(void *ctx);
} edge_h1_cbs;

struct edge_h1 {
    http_parser p;
    const edge_h1_cbs *cbs;
    void *ctx;
    size_t max_head;
    uint64_t max_body;
    char *arena;               /* max_head bytes: the URL and the header fields */
    size_t used;               /* of the arena */
    edge_span url;
    size_t n_hdrs;
    edge_span name[EDGE_H1_MAX_HEADERS], value[EDGE_H1_MAX_HEADERS];
    int in_value;              /* the last piece was part of a value */
    int in_message, head_done, paused;
    int status;                /* the refusal, once one is chosen */
    int cl_count, te_seen, te_chunked_only, host_count, expect_continue;
    int upgrade;               /* a GET asking for Upgrade: websocket (RFC 6455 §4.1) */
    uint64_t content_length, body_bytes;
    /* Debian's http-parser is built non-strict and takes any two bytes after a
     * chunk's data; RFC 9112 §7.1 says CRLF. feed checks them itself. */
    const char *buf;           /* the bytes being fed */
    size_t buf_len;
    size_t crlf_at;            /* where in buf they start, or past its end */
    int crlf_pending;          /* bytes of that CRLF not yet checked (0..2) */
};

/* 0, or -1 without memory. */
int edge_h1_init(edge_h1 *h, size_t max_head, uint64_t max_body, const edge_h1_cbs *cbs,
                 void *ctx);
void edge_h1_free(edge_h1 *h);
/* Parse; *used says how much was taken (less than len when paused at a message's end).
 * Returns 0, or the refusal status (400, 413, 431, or one on_head chose): reply, close. */
int edge_h1_feed(edge_h1 *h, const char *data, size_t len, size_t *used);
/* 1 when the request is a WebSocket upgrade: a GET without a body with Connection:
 * upgrade and Upgrade: websocket. The bytes after its head are not HTTP: feed stops
 * there (as at a message's end) and the caller relays the rest. */
int edge_h1_upgrade(const edge_h1 *h);
/* The connection ended: a half-received request is malformed (400), none is 0. */
int edge_h1_eof(edge_h1 *h);
/* After on_end: ready for the next request on the connection. */
void edge_h1_next(edge_h1 *h);
/* Bytes of a request received and not yet complete (a header timeout answers 408). */
int edge_h1_in_request(const edge_h1 *h);

/* Accessors, valid from on_head until edge_h1_next. */
const char *edge_h1_method(const edge_h1 *h);
const char *edge_h1_str(const edge_h1 *h, edge_span s);   /* NUL-terminated in the arena */
int edge_h1_keep_alive(const edge_h1 *h);
int edge_h1_has_body(const edge_h1 *h);   /* a Content-Length > 0 or chunked */
int edge_h1_chunked(const edge_h1 *h);
int edge_h1_minor(const edge_h1 *h);
/* The Host field's value, or NULL. */
const char *edge_h1_host(const edge_h1 *h);

/* Case-insensitive ASCII compare of a token with a NUL-terminated lowercase word.
 * Inline: with a literal word the length test folds to a constant, and most fields
 * of every request and response are turned away by it. */
static inline int edge_token_is(const char *s, size_t n, const char *lower)
{
    if (strlen(lower) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return 0;
    }
    return 1;
}
/* RFC 9110 §7.6.1: a hop-by-hop field a proxy must not forward. */
int edge_hop_by_hop(const char *name, size_t n);

#endif
