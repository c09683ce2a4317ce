/* HTTP/1.1 to clients (RFC 9112): one request at a time per connection; bytes of a
 * pipelined next request wait (and reading stops) until the response is out. The
 * request's body is relayed as it comes; reading stops while the origin holds more
 * than the high-water mark, and starts again when it drains (up_resume). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "pqify/net/log.h"

static const edge_front_ops h1_ops;
static void h1_process(edge_conn *c, const uint8_t *data, size_t len);

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

const char *edge_status_reason(int status);
const char *edge_status_reason(int status)
{
    return reason(status);
}

static void send_all(edge_conn *c, const void *data, size_t len)
{
    if (!c->closing && pqify_stream_send(c->s, data, len) != 0)
        c->closing = 1;   /* the stream is closing itself; on_close follows */
}

static void on_header_timer(uv_timer_t *t);

/* From the connection's start or the previous response's end, a request's head must
 * come within header_timeout (408 if it began; an idle connection is just closed). */
static void arm_header_timer(edge_conn *c)
{
    uv_timer_start(&c->timer, on_header_timer, c->e->lim.header_timeout_ms, 0);
}

/* The edge's own answer; close says whether the connection ends after it. */
static void local_answer(edge_conn *c, int status, int close)
{
    char buf[512];
    const char *why = reason(status);
    int body_len = snprintf(NULL, 0, "%d %s\n", status, why);
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Via: 1.1 pqify-edge\r\n%s\r\n%d %s\n",
                     status, why, body_len, close ? "Connection: close\r\n" : "", status, why);
    send_all(c, buf, (size_t)n);
    if (close) {
        c->close_after = 1;
        c->closing = 1;
        pqify_stream_close(c->s);
    }
}

/* The exchange is over: log, free, and read the next request (or close). */
static void finish(edge_conn *c)
{
    edge_req *r = c->req;
    c->req = NULL;
    int unread = r != NULL && !r->body_done;
    if (r != NULL)
        edge_req_free(r);
    if (c->closing)
        return;
    if (c->close_after || c->e->draining) {
        c->closing = 1;
        /* Nothing more to read (the request whole, nothing pipelined): no drain. */
        if (!unread && c->rest_len == 0)
            pqify_stream_close_now(c->s);
        else
            pqify_stream_close(c->s);
        return;
    }
    edge_h1_next(&c->h1);
    arm_header_timer(c);
    pqify_stream_hold_reading(c->s, 0);
    if (c->rest_len > 0) {
        uint8_t *rest = c->rest;
        size_t n = c->rest_len;
        c->rest = NULL;
        c->rest_len = 0;
        h1_process(c, rest, n);
        free(rest);
    }
}

/* ---- the parser's callbacks ---------------------------------------------------------- */

static int on_head(void *ctx, edge_h1 *h)
{
    edge_conn *c = ctx;
    edge_req *r = edge_req_new(c, &h1_ops, 0);
    if (r == NULL)
        return 500;
    c->req = r;
    uv_timer_stop(&c->timer);
    c->close_after = !edge_h1_keep_alive(h);
    const char *names[EDGE_H1_MAX_HEADERS], *values[EDGE_H1_MAX_HEADERS];
    size_t vlens[EDGE_H1_MAX_HEADERS];
    for (size_t i = 0; i < h->n_hdrs; i++) {
        names[i] = edge_h1_str(h, h->name[i]);
        values[i] = edge_h1_str(h, h->value[i]);
        vlens[i] = h->value[i].len;
    }
    int body_mode = edge_h1_upgrade(h) ? EDGE_BODY_UPGRADE : edge_h1_chunked(h) ? 2 : edge_h1_has_body(h) ? 1 : 0;
    int st = edge_req_start(r, edge_h1_method(h), edge_h1_host(h), edge_h1_str(h, h->url),
                            names, values, vlens, h->n_hdrs, body_mode, h->content_length);
    if (st != 0) {
        /* Answered at the message's end, once its body (if any) is read and dropped. */
        r->status = st;
        r->finished = 1;
        return 0;
    }
    /* RFC 9110 §10.1.1: the client waits for 100 before sending the body; the edge
     * says it at once, having taken the request (Expect is not forwarded). */
    if (h->expect_continue && body_mode != 0)
        send_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static void on_body(void *ctx, const char *data, size_t len)
{
    edge_conn *c = ctx;
    if (c->req != NULL)
        edge_req_body(c->req, (const uint8_t *)data, len);
}

static void on_end(void *ctx)
{
    edge_conn *c = ctx;
    edge_req *r = c->req;
    if (r == NULL)
        return;
    edge_req_body_end(r);
    if (r->finished && !r->responded && r->status != 0) {
        r->responded = 1;
        local_answer(c, r->status, c->close_after);
        finish(c);
        return;
    }
    /* Pipelined requests wait their turn (edge_h1_data keeps them and stops reading
     * then): reading stays on meanwhile, so a client that waits for the response costs
     * no epoll_ctl per request. */
}

static const edge_h1_cbs h1_cbs = {on_head, on_body, on_end};

/* ---- the frontend the origin answers through ------------------------------------------ */

static void put_str(char *buf, size_t *len, const char *s, size_t n)
{
    memcpy(buf + *len, s, n);
    *len += n;
}

static void send_with_head(edge_conn *c, const void *data, size_t len);

/* The 101 head is out (h1_head built it with the origin's fields, Sec-WebSocket-Accept
 * ...): from here the bytes go both ways as they are (RFC 6455 §4.2.2). */
static void h1_switched(edge_req *r)
{
    edge_conn *c = r->c;
    send_with_head(c, "", 0);
    c->close_after = 1;
    uv_timer_stop(&c->timer);
    /* what the client sent after its head waited in rest: it is the new protocol's */
    uint8_t *rest = c->rest;
    size_t rest_len = c->rest_len;
    c->rest = NULL;
    c->rest_len = 0;
    if (rest_len > 0)
        edge_req_body(r, rest, rest_len);
    free(rest);
    if (!edge_req_up_full(r))
        pqify_stream_hold_reading(c->s, 0);
}

static void h1_head(edge_req *r, int status, const char *const *names,
                    const char *const *values, size_t n, int64_t cl)
{
    edge_conn *c = r->c;
    if (r->body_mode == EDGE_BODY_UPGRADE) {
        /* the origin took it: a 101 from a direct origin, 200 to the tunnel's CONNECT */
        if (status == 101 || (status == 200 && r->tr != NULL)) {
            status = r->status = 101;
            c->upgraded = 1;
        } else {
            c->close_after = 1;   /* refused: an ordinary answer, and the connection ends */
        }
    }
    size_t cap = 256;
    for (size_t i = 0; i < n; i++)
        cap += strlen(names[i]) + strlen(values[i]) + 4;
    char *buf = malloc(cap);
    if (buf == NULL) {
        c->close_after = 1;
        return;
    }
    /* Built by hand, not by snprintf: this runs once per proxied response. The fixed
     * parts (status line, framing, Via, Connection) fit the 256 bytes added to cap. */
    size_t len = 0;
    int no_body = !strcmp(r->method, "HEAD") || status == 204 || status == 304;
    const char *why = reason(status);
    put_str(buf, &len, "HTTP/1.1 ", 9);
    char num[21];
    const char *digits = pqify_log_u64(num, (uint64_t)(status >= 0 && status < 1000 ? status : 0));
    put_str(buf, &len, digits, strlen(digits));
    buf[len++] = ' ';
    put_str(buf, &len, why, strlen(why));
    put_str(buf, &len, "\r\n", 2);
    for (size_t i = 0; i < n; i++) {
        put_str(buf, &len, names[i], strlen(names[i]));
        put_str(buf, &len, ": ", 2);
        put_str(buf, &len, values[i], strlen(values[i]));
        put_str(buf, &len, "\r\n", 2);
    }
    c->resp_chunked = 0;
    if (c->upgraded) {
        put_str(buf, &len, "Connection: Upgrade\r\nUpgrade: websocket\r\n", 41);
    } else if (cl >= 0 && status != 204 && status != 304) {
        put_str(buf, &len, "Content-Length: ", 16);
        digits = pqify_log_u64(num, (uint64_t)cl);
        put_str(buf, &len, digits, strlen(digits));
        put_str(buf, &len, "\r\n", 2);
    } else if (no_body) {
        /* no framing */
    } else if (edge_h1_minor(&c->h1) >= 1) {
        c->resp_chunked = 1;
        put_str(buf, &len, "Transfer-Encoding: chunked\r\n", 28);
    } else {
        c->close_after = 1;   /* HTTP/1.0: the close delimits the body */
    }
    put_str(buf, &len, "Via: 1.1 pqify-edge\r\n", 21);
    if (!c->upgraded && (c->close_after || c->e->draining))
        put_str(buf, &len, "Connection: close\r\n", 19);
    put_str(buf, &len, "\r\n", 2);
    /* held back to go out with the first piece of the body: one record, one write */
    free(c->head_out);
    c->head_out = buf;
    c->head_out_len = len;
    if (c->upgraded)
        h1_switched(r);
}

/* The response head, if still held back, then data, in one send when they fit. */
static void send_with_head(edge_conn *c, const void *data, size_t len)
{
    static uint8_t joined[65536 + 8192];
    if (c->head_out == NULL) {
        if (len > 0)
            send_all(c, data, len);
        return;
    }
    if (c->head_out_len + len <= sizeof joined) {
        memcpy(joined, c->head_out, c->head_out_len);
        if (len > 0)
            memcpy(joined + c->head_out_len, data, len);
        send_all(c, joined, c->head_out_len + len);
    } else {
        send_all(c, c->head_out, c->head_out_len);
        send_all(c, data, len);
    }
    free(c->head_out);
    c->head_out = NULL;
    c->head_out_len = 0;
}

static uint8_t chunk_buf[65536 + 32];

static void h1_body(edge_req *r, const uint8_t *data, size_t len)
{
    edge_conn *c = r->c;
    /* The origin's bytes of one read go out in one write: h1_flush, h1_end or
     * h1_error (one of which follows every read) uncorks. */
    pqify_stream_cork(c->s, 1);
    if (!c->resp_chunked) {
        send_with_head(c, data, len);
        return;
    }
    while (len > 0) {
        size_t take = len > 65536 ? 65536 : len;
        int n = snprintf((char *)chunk_buf, 16, "%zx\r\n", take);
        memcpy(chunk_buf + n, data, take);
        memcpy(chunk_buf + (size_t)n + take, "\r\n", 2);
        send_with_head(c, chunk_buf, (size_t)n + take + 2);
        data += take;
        len -= take;
    }
}

static void h1_end(edge_req *r)
{
    edge_conn *c = r->c;
    pqify_stream *s = c->s;
    /* The response's last bytes and, when the connection ends with it, the
     * close_notify: one write (finish frees neither c nor s before the loop's next turn). */
    pqify_stream_cork(s, 1);
    send_with_head(c, c->resp_chunked ? "0\r\n\r\n" : "", c->resp_chunked ? 5 : 0);
    if (!r->body_done)
        c->close_after = 1;   /* the origin answered before the body ended */
    finish(c);
    pqify_stream_cork(s, 0);
}

static void h1_error(edge_req *r, int status)
{
    edge_conn *c = r->c;
    pqify_stream_cork(c->s, 0);
    if (status == 0) {
        /* A response half sent cannot be mended on HTTP/1.1: close (RFC 9112 §9.6). */
        c->closing = 1;
        pqify_stream_abort(c->s);
        return;
    }
    r->status = status;
    r->responded = 1;
    if (!r->body_done)
        c->close_after = 1;
    local_answer(c, status, c->close_after);
    finish(c);
}

static int h1_down_full(edge_req *r)
{
    return pqify_stream_queued(r->c->s) > EDGE_HIGH_WATER;
}

static void h1_up_resume(edge_req *r)
{
    edge_conn *c = r->c;
    if (c->req == r && !r->body_done)
        pqify_stream_hold_reading(c->s, 0);
}

static void h1_flush(edge_req *r)
{
    send_with_head(r->c, "", 0);
    pqify_stream_cork(r->c->s, 0);
}

static const edge_front_ops h1_ops = {h1_head, h1_body, h1_end, h1_error, h1_down_full,
                                      h1_up_resume, h1_flush};

/* ---- the connection --------------------------------------------------------------------- */

/* A request refused before it was one (malformed, too large, too slow) is still a
 * line in the access log and a count in the metrics. */
static void log_refusal(edge_conn *c, int status)
{
    edge_req *r = edge_req_new(c, &h1_ops, 0);
    if (r == NULL)
        return;
    r->status = status;
    r->responded = 1;
    if (c->h1.url.len > 0 && c->h1.head_done) {
        snprintf(r->method, sizeof r->method, "%s", edge_h1_method(&c->h1));
    }
    edge_req_free(r);
}

static void on_header_timer(uv_timer_t *t)
{
    edge_conn *c = t->data;
    if (c->closing)
        return;
    if (edge_h1_in_request(&c->h1) && c->req == NULL) {
        log_refusal(c, 408);
        local_answer(c, 408, 1);   /* RFC 9110 §15.5.9 */
        return;
    }
    if (c->req == NULL) {
        c->closing = 1;
        pqify_stream_close(c->s);   /* an idle keep-alive connection */
    }
}

static void h1_process(edge_conn *c, const uint8_t *data, size_t len)
{
    while (len > 0 && !c->closing) {
        size_t used = 0;
        int st = edge_h1_feed(&c->h1, (const char *)data, len, &used);
        if (st != 0) {
            edge_req *r = c->req;
            c->req = NULL;
            if (r != NULL && r->responded) {
                /* A response is under way: nothing sane can follow on this stream. */
                edge_req_free(r);
                c->closing = 1;
                pqify_stream_abort(c->s);
                return;
            }
            if (r != NULL) {
                r->status = st;
                r->responded = 1;
                edge_req_free(r);
            } else {
                log_refusal(c, st);
            }
            local_answer(c, st, 1);
            return;
        }
        data += used;
        len -= used;
        if (c->h1.paused) {
            /* A complete request waits for its response: keep the rest for later. */
            if (len > 0 && c->req != NULL) {
                uint8_t *p = realloc(c->rest, c->rest_len + len);
                if (p == NULL) {
                    c->closing = 1;
                    pqify_stream_abort(c->s);
                    return;
                }
                memcpy(p + c->rest_len, data, len);
                c->rest = p;
                c->rest_len += len;
                pqify_stream_hold_reading(c->s, 1);
            }
            return;
        }
        if (used == 0)
            break;
    }
    if (c->req != NULL && !c->req->body_done && edge_req_up_full(c->req))
        pqify_stream_hold_reading(c->s, 1);
}

void edge_h1_start(edge_conn *c)
{
    edge *e = c->e;
    if (edge_h1_init(&c->h1, (size_t)e->lim.max_header_bytes, (uint64_t)e->lim.max_body_bytes,
                     &h1_cbs, c) != 0) {
        c->closing = 1;
        pqify_stream_abort(c->s);
        return;
    }
    uv_timer_init(e->loop, &c->timer);
    c->timer.data = c;
    c->timer_open = 1;
    arm_header_timer(c);
}

void edge_h1_data(edge_conn *c, const uint8_t *data, size_t len)
{
    if (c->upgraded) {
        if (c->req != NULL) {
            edge_req_body(c->req, data, len);
            if (edge_req_up_full(c->req))
                pqify_stream_hold_reading(c->s, 1);
        }
        return;
    }
    if (c->h1.paused && c->req != NULL) {
        uint8_t *p = realloc(c->rest, c->rest_len + len);
        if (p == NULL)
            return;
        memcpy(p + c->rest_len, data, len);
        c->rest = p;
        c->rest_len += len;
        pqify_stream_hold_reading(c->s, 1);   /* what is kept stays one read's worth */
        return;
    }
    h1_process(c, data, len);
}

void edge_h1_writable(edge_conn *c)
{
    if (c->req != NULL)
        edge_req_down_resume(c->req);
}

static void timer_closed(uv_handle_t *h)
{
    free(h->data);   /* the connection, freed last */
}

void edge_h1_closed(edge_conn *c)
{
    edge_req *r = c->req;
    c->req = NULL;
    if (r != NULL) {
        if (!r->responded && r->status == 0)
            r->status = 499;   /* the client went away first */
        edge_req_free(r);
    }
    edge_h1_free(&c->h1);
    free(c->rest);
    c->rest = NULL;
    free(c->head_out);
    c->head_out = NULL;
}

int edge_h1_close_timer(edge_conn *c);
int edge_h1_close_timer(edge_conn *c)
{
    if (!c->timer_open)
        return 0;
    c->timer_open = 0;
    uv_close((uv_handle_t *)&c->timer, timer_closed);
    return 1;
}

void edge_h1_drain(edge_conn *c)
{
    if (c->req == NULL && !c->closing) {
        c->closing = 1;
        pqify_stream_close(c->s);
    }
}
