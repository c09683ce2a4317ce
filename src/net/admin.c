/* The admin HTTP endpoint: /metrics, /ready, /healthz on a libuv loop (see
 * include/pqify/net/admin.h). The HTTP half (admin_http_*) knows no sockets. */
#include "pqify/net/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"
#include "pqify/net/config.h"

/* ---- HTTP without sockets ---- */

void admin_http_limits(pqify_admin_options *o)
{
    if (o->request_timeout_ms == 0)
        o->request_timeout_ms = 5000;
    if (o->max_header_bytes == 0)
        o->max_header_bytes = 8192;
    if (o->max_connections == 0)
        o->max_connections = 64;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static void reply(admin_http *h, int status, const char *type, const char *body, size_t len,
                  int head_only, const char *extra)
{
    tb_printf(h->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
              status, reason_of(status), type, len, extra != NULL ? extra : "",
              h->closing ? "Connection: close\r\n" : "");
    if (!head_only)
        tb_putn(h->out, body, len);
}

static void reply_error(admin_http *h, int status)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", reason_of(status));
    h->closing = 1;
    reply(h, status, "text/plain; charset=utf-8", body, (size_t)n, 0, NULL);
}

/* JSON string contents (RFC 8259 §7) of a reason a service wrote */
static void put_json_text(textbuf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tb_printf(b, "\\%c", c);
        else if (c < 0x20)
            tb_printf(b, "\\u%04x", c);
        else
            tb_putc(b, (char)c);
    }
}

static void serve_ready_body(admin_http *h, int head_only)
{
    char json[1024] = "";
    int ok = h->o->ready_body(h->o->ready_arg, json, sizeof json);
    json[sizeof json - 1] = '\0';
    reply(h, ok ? 200 : 503, "application/json", json, strlen(json), head_only, NULL);
}

static void serve_ready(admin_http *h, int head_only)
{
    if (h->o->ready_body != NULL) {
        serve_ready_body(h, head_only);
        return;
    }
    char why[256] = "";
    int ok = h->o->ready == NULL || h->o->ready(h->o->ready_arg, why, sizeof why);
    why[sizeof why - 1] = '\0';
    textbuf body = {0};
    if (ok)
        tb_puts(&body, "{\"status\":\"ready\"}\n");
    else {
        /* the reason must be UTF-8 to be JSON: anything else is replaced */
        for (size_t i = 0, n = strlen(why); i < n;) {
            size_t l = tb_utf8_len((const unsigned char *)why + i, n - i);
            if (l == 0)
                why[i++] = '?';
            else
                i += l;
        }
        tb_puts(&body, "{\"status\":\"not ready\",\"reason\":\"");
        put_json_text(&body, why[0] != '\0' ? why : "not ready");
        tb_puts(&body, "\"}\n");
    }
    size_t len;
    char *text = tb_take(&body, &len);
    if (text == NULL) {
        reply_error(h, 500);
        return;
    }
    reply(h, ok ? 200 : 503, "application/json", text, len, head_only, NULL);
    free(text);
}

static void serve_metrics(admin_http *h, int head_only)
{
    size_t len = 0;
    char *text = h->o->metrics != NULL ? pqify_metrics_render(h->o->metrics, &len) : strdup("");
    if (text == NULL) {
        reply_error(h, 500);
        return;
    }
    reply(h, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, head_only, NULL);
    free(text);
}

static void dispatch(admin_http *h)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(h->url, h->url_len, 0, &u) != 0 || !(u.field_set & (1u << UF_PATH))) {
        reply_error(h, 400);
        return;
    }
    const char *path = h->url + u.field_data[UF_PATH].off;
    size_t plen = u.field_data[UF_PATH].len;
    enum http_method m = (enum http_method)h->parser.method;
    int head_only = m == HTTP_HEAD;
    int known = (plen == 8 && memcmp(path, "/metrics", 8) == 0) || (plen == 6 && memcmp(path, "/ready", 6) == 0) ||
                (plen == 8 && memcmp(path, "/healthz", 8) == 0);
    if (!known) {
        reply(h, 404, "text/plain; charset=utf-8", "Not Found\n", 10, head_only, NULL);
        return;
    }
    if (m != HTTP_GET && m != HTTP_HEAD) {
        reply(h, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", 19, 0, "Allow: GET, HEAD\r\n");
        return;
    }
    if (path[1] == 'm')
        serve_metrics(h, head_only);
    else if (path[1] == 'r')
        serve_ready(h, head_only);
    else
        reply(h, 200, "text/plain; charset=utf-8", "ok\n", 3, head_only, NULL);
}

static int head_grow(admin_http *h, size_t n)
{
    h->head_bytes += n;
    if (h->head_bytes > h->o->max_header_bytes) {
        h->status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    admin_http *h = p->data;
    h->in_message = 1;
    h->url_len = 0;
    h->head_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    admin_http *h = p->data;
    if (head_grow(h, n) < 0)
        return -1;
    if (n > ADMIN_URL_MAX - h->url_len) {
        h->status = 431;   /* the URL is part of the head the limit covers */
        return -1;
    }
    memcpy(h->url + h->url_len, at, n);
    h->url_len += n;
    return 0;
}

static int on_header_part(http_parser *p, const char *at, size_t n)
{
    (void)at;
    /* +4 per part for ": " and CRLF, so many tiny headers count too */
    return head_grow(p->data, n + 4);
}

static int on_headers_complete(http_parser *p)
{
    admin_http *h = p->data;
    /* these endpoints take no body; refusing one avoids buffering it */
    if ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0)) {
        h->status = 413;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    admin_http *h = p->data;
    h->in_message = 0;
    h->closing = !http_should_keep_alive(p) || p->upgrade;
    dispatch(h);
    if (h->out->len + h->backlog > ADMIN_MAX_BACKLOG)
        h->closing = 1;   /* a client pipelining replies it never reads */
    return h->closing ? -1 : 0;   /* stop: nothing after this reply is read */
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_part,
    .on_header_value = on_header_part,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

void admin_http_init(admin_http *h, const pqify_admin_options *o)
{
    memset(h, 0, sizeof *h);
    h->o = o;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
}

int admin_http_feed(admin_http *h, const char *data, size_t len, textbuf *out, size_t backlog)
{
    if (h->closing)
        return 1;
    h->out = out;
    h->backlog = backlog;
    size_t used = http_parser_execute(&h->parser, &settings, data, len);
    if (h->closing)
        return 1;
    if (h->status != 0) {
        reply_error(h, h->status);
        return 1;
    }
    if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK || used != len || h->parser.upgrade) {
        reply_error(h, HTTP_PARSER_ERRNO(&h->parser) == HPE_HEADER_OVERFLOW ? 431 : 400);
        return 1;
    }
    return 0;
}

void admin_http_timeout(admin_http *h, textbuf *out)
{
    h->out = out;
    if (h->in_message && !h->closing)
        reply_error(h, 408);
    h->closing = 1;
}

/* ---- on libuv ---- */

typedef struct admin_conn {
    struct admin_conn *next, **prev;
    pqify_admin *admin;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    admin_http http;
    char rbuf[16384];
    int handles_open;
    int draining;   /* the last reply is sent: discard input until EOF or the timer */
    int closed;
} admin_conn;

typedef struct write_req {
    uv_write_t req;
    admin_conn *conn;
    char *data;
    int last;
} write_req;

struct pqify_admin {
    uv_loop_t *loop;
    uv_tcp_t listener;
    pqify_admin_options o;
    admin_conn *conns;
    unsigned n_conns;
    int port;
    int handles_open;   /* the listener plus every connection's handles */
    int stopping;
};

static void admin_maybe_free(pqify_admin *a)
{
    if (a->stopping && a->handles_open == 0)
        free(a);
}

static void conn_handle_closed(uv_handle_t *handle)
{
    admin_conn *c = handle->data;
    pqify_admin *a = c->admin;
    a->handles_open--;
    if (--c->handles_open == 0) {
        free(c);
        admin_maybe_free(a);
    }
}

static void conn_close(admin_conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    if (c->next != NULL)
        c->next->prev = c->prev;
    *c->prev = c->next;
    c->admin->n_conns--;
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void on_timer(uv_timer_t *t);

static void arm_timer(admin_conn *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    admin_conn *c = req->data;
    if (status < 0)
        conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    admin_conn *c = w->conn;
    int last = w->last;
    free(w->data);
    free(w);
    if (c->closed)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (last) {
        /* half-close and drain: closing with unread input would send a reset that
         * can destroy the reply before the client reads it */
        c->draining = 1;
        c->shutdown.data = c;
        if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
            conn_close(c);
        else
            arm_timer(c, c->admin->o.request_timeout_ms < 2000 ? c->admin->o.request_timeout_ms : 2000);
    }
}

static void send_out(admin_conn *c, textbuf *out, int last)
{
    size_t len;
    char *data = tb_take(out, &len);
    write_req *w = data != NULL ? calloc(1, sizeof *w) : NULL;
    if (w == NULL) {
        free(data);
        conn_close(c);
        return;
    }
    w->conn = c;
    w->data = data;
    w->last = last;
    uv_buf_t buf = uv_buf_init(data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
        free(data);
        free(w);
        conn_close(c);
    }
}

static void on_timer(uv_timer_t *t)
{
    admin_conn *c = t->data;
    if (c->draining || c->http.closing) {
        conn_close(c);
        return;
    }
    textbuf out = {0};
    admin_http_timeout(&c->http, &out);
    if (out.len == 0) {
        tb_free(&out);
        conn_close(c);   /* an idle keep-alive connection: nothing to say */
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    send_out(c, &out, 1);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    admin_conn *c = handle->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    admin_conn *c = stream->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0 || c->draining || c->http.closing)
        return;
    textbuf out = {0};
    size_t backlog = uv_stream_get_write_queue_size(stream);
    int last = admin_http_feed(&c->http, buf->base, (size_t)nread, &out, backlog);
    int replied = out.len > 0;
    if (replied)
        send_out(c, &out, last);   /* the last one: on_write half-closes */
    else
        tb_free(&out);
    if (replied && !last && !c->closed)
        arm_timer(c, c->admin->o.request_timeout_ms);   /* the keep-alive wait starts at a reply */
}

static void on_connection(uv_stream_t *server, int status)
{
    pqify_admin *a = server->data;
    if (status < 0)
        return;   /* the loop goes on; the next connection may succeed */
    admin_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->admin = a;
    uv_tcp_init(a->loop, &c->tcp);
    uv_timer_init(a->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    a->handles_open += 2;
    c->next = a->conns;
    c->prev = &a->conns;
    if (a->conns != NULL)
        a->conns->prev = &c->next;
    a->conns = c;
    a->n_conns++;
    admin_http_init(&c->http, &a->o);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || a->n_conns > a->o.max_connections ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    arm_timer(c, a->o.request_timeout_ms);
}

/* The endpoint has no authentication, so it may only listen where only this host's
 * processes can reach it. */
static int loopback_address(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (uv_ip4_addr(host, port, in4) == 0)
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
    if (uv_ip6_addr(host, port, in6) == 0)
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ? 0 : -1;
    return -2;
}

static void listener_closed(uv_handle_t *handle)
{
    pqify_admin *a = handle->data;
    a->handles_open--;
    admin_maybe_free(a);
}

int pqify_admin_start(uv_loop_t *loop, const pqify_admin_options *o, pqify_admin **out, char *err, size_t cap)
{
    *out = NULL;
    char host[256];
    uint16_t port;
    struct sockaddr_storage ss;
    const char *listen = o->listen != NULL ? o->listen : "";
    if (pqify_hostport_parse(listen, host, sizeof host, &port) < 0) {
        snprintf(err, cap, "admin.listen %s: expected HOST:PORT", listen);
        return PQIFY_ERR_ARG;
    }
    int kind = loopback_address(host, port, &ss);
    if (kind == -2) {
        snprintf(err, cap, "admin.listen %s: expected an IP address or localhost", listen);
        return PQIFY_ERR_ARG;
    }
    if (kind < 0) {
        snprintf(err, cap, "admin.listen %s: not a loopback address (the admin endpoint is plain HTTP without authentication)", listen);
        return PQIFY_ERR_ARG;
    }
    pqify_admin *a = calloc(1, sizeof *a);
    if (a == NULL) {
        snprintf(err, cap, "admin.listen %s: out of memory", listen);
        return UV_ENOMEM;
    }
    a->loop = loop;
    a->o = *o;
    admin_http_limits(&a->o);
    uv_tcp_init(loop, &a->listener);
    a->listener.data = a;
    a->handles_open = 1;
    int ret = uv_tcp_bind(&a->listener, (const struct sockaddr *)&ss, 0);
    if (ret == 0)
        ret = uv_listen((uv_stream_t *)&a->listener, 128, on_connection);
    if (ret == 0) {
        struct sockaddr_storage bound;
        int blen = sizeof bound;
        ret = uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &blen);
        a->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (ret < 0) {
        snprintf(err, cap, "admin.listen %s: %s", listen, uv_strerror(ret));
        a->stopping = 1;
        uv_close((uv_handle_t *)&a->listener, listener_closed);
        return ret;
    }
    *out = a;
    return 0;
}

int pqify_admin_port(const pqify_admin *a)
{
    return a->port;
}

void pqify_admin_stop(pqify_admin *a)
{
    if (a == NULL || a->stopping)
        return;
    a->stopping = 1;
    while (a->conns != NULL)
        conn_close(a->conns);
    uv_close((uv_handle_t *)&a->listener, listener_closed);
}
