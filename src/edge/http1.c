/* The edge's HTTP/1.1 request parser (http1.h). */
#include "http1.h"

#include <stdlib.h>
#include <string.h>

int edge_hop_by_hop(const char *name, size_t n)
{
    /* Compared only where the length matches: every field of every request and
     * response passes here. */
    static const struct {
        const char *name;
        size_t len;
    } hop[] = {{"connection", 10}, {"keep-alive", 10}, {"proxy-connection", 16}, {"te", 2},
               {"trailer", 7}, {"transfer-encoding", 17}, {"upgrade", 7},
               {"proxy-authenticate", 18}, {"proxy-authorization", 19}};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (hop[i].len == n && edge_token_is(name, n, hop[i].name))
            return 1;
    return 0;
}

static edge_h1 *of(http_parser *p)
{
    return p->data;
}

/* Append a piece of the current span; the head's limit is the arena's size. */
static int append(edge_h1 *h, edge_span *s, const char *at, size_t n)
{
    if (n >= h->max_head - h->used) {   /* keep a byte for the terminator */
        h->status = 431;
        return -1;
    }
    memcpy(h->arena + h->used, at, n);
    h->used += n;
    s->len += (uint32_t)n;
    return 0;
}

/* The current span ended: NUL after it, and the next span starts after that. */
static int terminate(edge_h1 *h)
{
    if (h->used >= h->max_head) {
        h->status = 431;
        return -1;
    }
    h->arena[h->used++] = '\0';
    return 0;
}

enum { IN_URL, IN_NAME, IN_VALUE };

static void reset_message(edge_h1 *h)
{
    h->used = 0;
    memset(&h->url, 0, sizeof h->url);
    h->n_hdrs = 0;
    h->in_value = IN_URL;
    h->in_message = 0;
    h->head_done = 0;
    h->cl_count = h->te_seen = h->te_chunked_only = h->host_count = h->expect_continue = 0;
    h->upgrade = 0;
    h->content_length = 0;
    h->body_bytes = 0;
    h->crlf_pending = 0;
}

static int on_message_begin(http_parser *p)
{
    edge_h1 *h = of(p);
    reset_message(h);
    h->in_message = 1;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    edge_h1 *h = of(p);
    return append(h, &h->url, at, n) == 0 ? 0 : -1;
}

/* A field ended: note what it says about framing. */
static void note_field(edge_h1 *h)
{
    size_t i = h->n_hdrs - 1;
    const char *name = h->arena + h->name[i].off, *v = h->arena + h->value[i].off;
    size_t nl = h->name[i].len, vl = h->value[i].len;
    if (edge_token_is(name, nl, "content-length")) {
        h->cl_count++;
    } else if (edge_token_is(name, nl, "transfer-encoding")) {
        /* RFC 9112 §6.3: a request's body length is known only when chunked is the
         * final (here: the only) coding. */
        h->te_chunked_only = h->te_seen == 0 && edge_token_is(v, vl, "chunked");
        h->te_seen++;
    } else if (edge_token_is(name, nl, "host")) {
        h->host_count++;
    } else if (edge_token_is(name, nl, "expect")) {
        h->expect_continue = edge_token_is(v, vl, "100-continue");
    }
}

/* http-parser calls the value callback for every field, an empty value with 0 bytes,
 * so name and value alternate; pieces of one split across reads arrive in a row. */
static int on_header_field(http_parser *p, const char *at, size_t n)
{
    edge_h1 *h = of(p);
    if (h->in_value != IN_NAME) {
        if (terminate(h) != 0)
            return -1;   /* ends the URL or the previous value */
        if (h->in_value == IN_VALUE)
            note_field(h);
        if (h->n_hdrs == EDGE_H1_MAX_HEADERS) {
            h->status = 431;
            return -1;
        }
        h->name[h->n_hdrs] = (edge_span){(uint32_t)h->used, 0};
        h->value[h->n_hdrs] = (edge_span){0, 0};
        h->n_hdrs++;
        h->in_value = IN_NAME;
    }
    return append(h, &h->name[h->n_hdrs - 1], at, n) == 0 ? 0 : -1;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    edge_h1 *h = of(p);
    if (h->in_value != IN_VALUE) {
        if (h->in_value != IN_NAME || terminate(h) != 0)
            return -1;
        h->value[h->n_hdrs - 1] = (edge_span){(uint32_t)h->used, 0};
        h->in_value = IN_VALUE;
    }
    return append(h, &h->value[h->n_hdrs - 1], at, n) == 0 ? 0 : -1;
}

static int refuse(edge_h1 *h, int status)
{
    h->status = status;
    return -1;
}

static int websocket_asked(const edge_h1 *h)
{
    for (size_t i = 0; i < h->n_hdrs; i++)
        if (edge_token_is(h->arena + h->name[i].off, h->name[i].len, "upgrade"))
            return edge_token_is(h->arena + h->value[i].off, h->value[i].len, "websocket");
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    edge_h1 *h = of(p);
    if (h->in_value == IN_NAME)
        return refuse(h, 400);
    if (terminate(h) != 0)
        return -1;
    if (h->in_value == IN_VALUE)
        note_field(h);
    if (h->url.len == 0)
        return refuse(h, 400);
    if (p->http_major != 1)
        return refuse(h, 505);   /* RFC 9110 §15.6.6: only HTTP/1.x is spoken here */
    /* Request smuggling (RFC 9112 §6.1, §6.3): one way to frame a body, stated once. */
    if (h->cl_count > 0 && h->te_seen > 0)
        return refuse(h, 400);
    if (h->cl_count > 1 || (h->te_seen > 0 && !h->te_chunked_only))
        return refuse(h, 400);
    if ((p->http_major == 1 && p->http_minor >= 1 && h->host_count != 1) || h->host_count > 1)
        return refuse(h, 400);
    if (p->method == HTTP_CONNECT)
        return refuse(h, 400);
    if (p->upgrade) {
        /* RFC 6455 §4.1: a WebSocket opening handshake is a GET with no body; any other
         * protocol switch is not relayed */
        h->upgrade = p->method == HTTP_GET && h->cl_count == 0 && h->te_seen == 0 && websocket_asked(h);
        if (!h->upgrade)
            return refuse(h, 400);
    }
    if (h->cl_count == 1) {
        h->content_length = p->content_length;
        if (h->content_length > h->max_body)
            return refuse(h, 413);
    }
    h->head_done = 1;
    int st = h->cbs->on_head(h->ctx, h);
    if (st != 0)
        return refuse(h, st);
    return 0;
}

/* The CRLF after a chunk's data, from buf[from] on (some of it may be in the next
 * feed): 0, or -1 with the refusal set. */
static int check_crlf(edge_h1 *h, size_t from)
{
    while (h->crlf_pending > 0 && from < h->buf_len) {
        char want = h->crlf_pending == 2 ? '\r' : '\n';
        if (h->buf[from] != want)
            return refuse(h, 400);
        h->crlf_pending--;
        from++;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    edge_h1 *h = of(p);
    h->body_bytes += n;
    if (h->body_bytes > h->max_body)
        return refuse(h, 413);
    h->cbs->on_body(h->ctx, at, n);
    if ((p->flags & F_CHUNKED) && p->content_length == 0) {
        h->crlf_pending = 2;   /* this chunk's data ended here */
        if (check_crlf(h, (size_t)(at + n - h->buf)) != 0)
            return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    edge_h1 *h = of(p);
    h->in_message = 0;
    h->paused = 1;
    http_parser_pause(p, 1);
    h->cbs->on_end(h->ctx);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int edge_h1_init(edge_h1 *h, size_t max_head, uint64_t max_body, const edge_h1_cbs *cbs,
                 void *ctx)
{
    memset(h, 0, sizeof *h);
    h->arena = malloc(max_head);
    if (h->arena == NULL)
        return -1;
    h->max_head = max_head;
    h->max_body = max_body;
    h->cbs = cbs;
    h->ctx = ctx;
    http_parser_init(&h->p, HTTP_REQUEST);
    h->p.data = h;
    return 0;
}

void edge_h1_free(edge_h1 *h)
{
    free(h->arena);
    h->arena = NULL;
}

int edge_h1_feed(edge_h1 *h, const char *data, size_t len, size_t *used)
{
    *used = 0;
    if (h->status != 0)
        return h->status;
    if (h->paused || len == 0)
        return 0;
    h->buf = data;
    h->buf_len = len;
    if (h->crlf_pending > 0 && check_crlf(h, 0) != 0)
        return h->status;
    size_t n = http_parser_execute(&h->p, &settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
    *used = n;
    if (e == HPE_OK || (e == HPE_PAUSED && h->paused))
        return 0;
    if (h->status == 0)
        h->status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    return h->status;
}

int edge_h1_eof(edge_h1 *h)
{
    return h->in_message && h->status == 0 ? 400 : 0;
}

void edge_h1_next(edge_h1 *h)
{
    h->paused = 0;
    reset_message(h);
    http_parser_pause(&h->p, 0);
}

int edge_h1_in_request(const edge_h1 *h)
{
    return h->in_message;
}

const char *edge_h1_method(const edge_h1 *h)
{
    return http_method_str((enum http_method)h->p.method);
}

const char *edge_h1_str(const edge_h1 *h, edge_span s)
{
    return h->arena + s.off;
}

int edge_h1_keep_alive(const edge_h1 *h)
{
    return http_should_keep_alive(&h->p);
}

int edge_h1_upgrade(const edge_h1 *h)
{
    return h->upgrade;
}

int edge_h1_chunked(const edge_h1 *h)
{
    return h->te_seen > 0;
}

int edge_h1_has_body(const edge_h1 *h)
{
    return edge_h1_chunked(h) || (h->cl_count == 1 && h->content_length > 0);
}

int edge_h1_minor(const edge_h1 *h)
{
    return h->p.http_minor;
}

const char *edge_h1_host(const edge_h1 *h)
{
    for (size_t i = 0; i < h->n_hdrs; i++)
        if (edge_token_is(h->arena + h->name[i].off, h->name[i].len, "host"))
            return h->arena + h->value[i].off;
    return NULL;
}
