/*
 * The admin endpoint's HTTP handling without sockets: bytes in, reply bytes out, so
 * the fuzz harness (tests/fuzz/fuzz_admin_http.c) drives exactly what a connection
 * runs. admin.c puts it on libuv.
 */
#ifndef PQIFY_NET_ADMIN_HTTP_H
#define PQIFY_NET_ADMIN_HTTP_H

#include <http_parser.h>

#include "pqify/net/admin.h"
#include "textbuf.h"

#define ADMIN_URL_MAX 2048
#define ADMIN_MAX_BACKLOG (4u << 20)   /* unread replies a pipelining client may leave */

typedef struct admin_http {
    http_parser parser;
    const pqify_admin_options *o;   /* limits filled in (no zeros) */
    char url[ADMIN_URL_MAX];
    size_t url_len;
    size_t head_bytes;              /* request line and headers seen so far */
    int in_message;                 /* a request has begun and not ended */
    int status;                     /* an error reply chosen in a callback (400, 413, 431) */
    int closing;                    /* no more requests: reply, then close */
    textbuf *out;
    size_t backlog;                 /* replies written but not yet sent, before this feed */
} admin_http;

/* o must have every limit set (admin_http_limits fills the zeros). */
void admin_http_limits(pqify_admin_options *o);
void admin_http_init(admin_http *h, const pqify_admin_options *o);
/* Parse bytes; replies go to out. Returns 1 when the connection must close after out
 * is sent (then feed no more), else 0. */
int admin_http_feed(admin_http *h, const char *data, size_t len, textbuf *out, size_t backlog);
/* The request timer fired: a 408 into out if a request was half received. The
 * connection closes either way. */
void admin_http_timeout(admin_http *h, textbuf *out);

#endif
