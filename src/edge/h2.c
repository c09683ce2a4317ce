/* HTTP/2 to clients (RFC 9113) with nghttp2: a request per stream. Flow control both
 * ways: a request body's bytes are acknowledged to the client (WINDOW_UPDATE) only
 * once the origin took them, and a response body waits in a bounded queue for the
 * client's window while the origin is not read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"

#define H2_WINDOW (256 * 1024)
#define H2_MAX_STREAMS 128
#define H2_MAX_FIELDS 100

const char *edge_status_reason(int status);

typedef struct h2s {
    char *buf;
    size_t len, cap;
    size_t name_off[H2_MAX_FIELDS], value_off[H2_MAX_FIELDS], value_len[H2_MAX_FIELDS];
    size_t n;
    size_t head_bytes;
    int too_big;
    long method, path, authority;   /* offsets of the pseudo-headers' values, -1 if absent */
    int64_t cl;
    int started, local, client_ended;
} h2s;

static const edge_front_ops h2_ops;

static void list_remove(edge_conn *c, edge_req *r)
{
    for (edge_req **p = &c->reqs; *p != NULL; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

static long hstore(h2s *s, const uint8_t *d, size_t n)
{
    if (n + 1 > s->cap - s->len) {
        size_t cap = (s->cap + n + 1) * 2;
        char *p = realloc(s->buf, cap);
        if (p == NULL)
            return -1;
        s->buf = p;
        s->cap = cap;
    }
    long off = (long)s->len;
    memcpy(s->buf + s->len, d, n);
    s->len += n;
    s->buf[s->len++] = '\0';
    return off;
}

/* ---- answering -------------------------------------------------------------------------- */

static ssize_t read_body(nghttp2_session *ng, int32_t sid, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)ng, (void)sid, (void)ud;
    edge_req *r = src->ptr;
    size_t n = edge_bq_pop(&r->down, buf, length);
    if (n == 0 && !r->down_end) {
        r->down_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (r->down_end && r->down.len == 0)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    if ((r->oc != NULL || r->tr != NULL) && r->down.len < EDGE_HIGH_WATER / 2)
        edge_req_down_resume(r);
    return (ssize_t)n;
}

static void submit(edge_req *r, const nghttp2_nv *nv, size_t n)
{
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = read_body};
    if (nghttp2_submit_response(r->c->ng, r->sid, nv, n, &dp) != 0)
        nghttp2_submit_rst_stream(r->c->ng, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
}

static void local_answer(edge_req *r, int status)
{
    h2s *s = r->fe;
    if (s != NULL)
        s->local = 1;
    r->status = status;
    r->responded = 1;
    r->finished = 1;
    char st[8], text[64], len[16];
    snprintf(st, sizeof st, "%d", status);
    int tl = snprintf(text, sizeof text, "%d %s\n", status, edge_status_reason(status));
    snprintf(len, sizeof len, "%d", tl);
    edge_bq_clear(&r->down);
    if (edge_bq_push(&r->down, text, (size_t)tl) != 0) {
        nghttp2_submit_rst_stream(r->c->ng, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    r->down_end = 1;
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-length", (uint8_t *)len, 14, strlen(len), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"via", (uint8_t *)"2 pqify-edge", 3, 12, NGHTTP2_NV_FLAG_NONE},
    };
    submit(r, nv, 4);
}

static void h2_head(edge_req *r, int status, const char *const *names,
                    const char *const *values, size_t n, int64_t cl)
{
    nghttp2_nv nv[132];
    char st[8], clbuf[24];
    char *lower = NULL;
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]) + 1;
    lower = malloc(total + 1);
    if (lower == NULL) {
        nghttp2_submit_rst_stream(r->c->ng, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    snprintf(st, sizeof st, "%d", status);
    nv[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE};
    size_t off = 0;
    for (size_t i = 0; i < n && k < 128; i++) {
        size_t nl = strlen(names[i]);
        char *lname = lower + off;
        for (size_t j = 0; j < nl; j++) {
            char ch = names[i][j];
            lname[j] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        lname[nl] = '\0';
        off += nl + 1;
        nv[k++] = (nghttp2_nv){(uint8_t *)lname, (uint8_t *)values[i], nl, strlen(values[i]),
                               NGHTTP2_NV_FLAG_NONE};
    }
    if (cl >= 0 && status != 204 && status != 304) {
        snprintf(clbuf, sizeof clbuf, "%lld", (long long)cl);
        nv[k++] = (nghttp2_nv){(uint8_t *)"content-length", (uint8_t *)clbuf, 14, strlen(clbuf),
                               NGHTTP2_NV_FLAG_NONE};
    }
    nv[k++] = (nghttp2_nv){(uint8_t *)"via", (uint8_t *)"2 pqify-edge", 3, 12, NGHTTP2_NV_FLAG_NONE};
    submit(r, nv, k);   /* nghttp2 copies the fields */
    free(lower);
}

static void h2_body(edge_req *r, const uint8_t *data, size_t len)
{
    if (edge_bq_push(&r->down, data, len) != 0) {
        nghttp2_submit_rst_stream(r->c->ng, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    if (r->down_deferred) {
        r->down_deferred = 0;
        nghttp2_session_resume_data(r->c->ng, r->sid);
    }
}

/* What the origins answer during one turn of the loop goes out together: a connection
 * is flushed once, after the loop has run every read callback that was ready (uv_idle
 * runs before the next poll, which it makes non-blocking, and after a timer's answer),
 * so that the responses of several streams share a TLS record and a write. */
static void h2_idle_cb(uv_idle_t *h)
{
    edge *e = h->data;
    edge_conn *c = e->h2_soon;
    e->h2_soon = NULL;
    uv_idle_stop(h);
    while (c != NULL) {
        edge_conn *next = c->flush_next;
        c->flush_soon = 0;
        c->flush_next = NULL;
        edge_h2_flush(c);
        c = next;
    }
}

static void h2_flush_soon(edge_conn *c)
{
    edge *e = c->e;
    if (c->flush_soon)
        return;
    if (e->h2_idle == NULL) {
        e->h2_idle = malloc(sizeof *e->h2_idle);
        if (e->h2_idle == NULL) {
            edge_h2_flush(c);
            return;
        }
        uv_idle_init(e->loop, e->h2_idle);
        e->h2_idle->data = e;
    }
    if (e->h2_soon == NULL)
        uv_idle_start(e->h2_idle, h2_idle_cb);
    c->flush_soon = 1;
    c->flush_next = e->h2_soon;
    e->h2_soon = c;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void edge_h2_free_idle(edge *e)
{
    if (e->h2_idle != NULL && !uv_is_closing((uv_handle_t *)e->h2_idle))
        uv_close((uv_handle_t *)e->h2_idle, free_handle);
    e->h2_idle = NULL;
}

static void h2_end(edge_req *r)
{
    r->down_end = 1;
    if (r->down_deferred) {
        r->down_deferred = 0;
        nghttp2_session_resume_data(r->c->ng, r->sid);
    }
    h2_flush_soon(r->c);
}

static void h2_error(edge_req *r, int status)
{
    edge_conn *c = r->c;
    if (status == 0)
        nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, r->sid, NGHTTP2_INTERNAL_ERROR);
    else
        local_answer(r, status);
    h2_flush_soon(c);
}

static int h2_down_full(edge_req *r)
{
    return r->down.len > EDGE_HIGH_WATER || pqify_stream_queued(r->c->s) > EDGE_HIGH_WATER;
}

static void h2_up_resume(edge_req *r)
{
    if (r->up_unconsumed > 0) {
        nghttp2_session_consume(r->c->ng, r->sid, r->up_unconsumed);
        r->up_unconsumed = 0;
        edge_h2_flush(r->c);
    }
}

static void h2_flush_req(edge_req *r)
{
    h2_flush_soon(r->c);
}

static const edge_front_ops h2_ops = {h2_head, h2_body, h2_end, h2_error, h2_down_full,
                                      h2_up_resume, h2_flush_req};

/* ---- nghttp2's callbacks ------------------------------------------------------------------ */

static ssize_t no_send(nghttp2_session *ng, const uint8_t *d, size_t n, int f, void *ud)
{
    (void)ng, (void)d, (void)n, (void)f, (void)ud;
    return NGHTTP2_ERR_CALLBACK_FAILURE;   /* mem_send only */
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    edge_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    edge_req *r = edge_req_new(c, &h2_ops, f->hd.stream_id);
    h2s *s = calloc(1, sizeof *s);
    if (r == NULL || s == NULL) {
        free(r);
        free(s);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* resets the stream */
    }
    s->method = s->path = s->authority = -1;
    s->cl = -1;
    r->fe = s;
    r->next = c->reqs;
    c->reqs = r;
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, r);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t nl, const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)flags, (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    edge_req *r = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (r == NULL)
        return 0;
    h2s *s = r->fe;
    edge *e = r->c->e;
    s->head_bytes += nl + vl + 4;   /* as HTTP/1.1 would count "name: value\r\n" */
    if (s->too_big || s->head_bytes > (size_t)e->lim.max_header_bytes || s->n == H2_MAX_FIELDS) {
        s->too_big = 1;
        return 0;
    }
    long no = hstore(s, name, nl), vo = hstore(s, value, vl);
    if (no < 0 || vo < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const char *n = s->buf + no;
    if (n[0] == ':') {
        if (!strcmp(n, ":method"))
            s->method = vo;
        else if (!strcmp(n, ":path"))
            s->path = vo;
        else if (!strcmp(n, ":authority"))
            s->authority = vo;
        return 0;
    }
    if (!strcmp(n, "content-length")) {
        char *end;
        s->cl = strtoll(s->buf + vo, &end, 10);   /* nghttp2 checked it is digits */
    }
    if (!strcmp(n, "host") && s->authority < 0)
        s->authority = vo;
    s->name_off[s->n] = (size_t)no;
    s->value_off[s->n] = (size_t)vo;
    s->value_len[s->n] = vl;
    s->n++;
    return 0;
}

static void start_request(edge_conn *c, edge_req *r, int end_stream)
{
    h2s *s = r->fe;
    edge *e = c->e;
    if (s->too_big) {
        local_answer(r, 431);
        return;
    }
    if (s->method < 0 || s->path < 0) {
        local_answer(r, 400);   /* CONNECT (no :path) is not proxied */
        return;
    }
    if (s->cl > e->lim.max_body_bytes) {
        local_answer(r, 413);
        return;
    }
    const char *names[H2_MAX_FIELDS], *values[H2_MAX_FIELDS];
    for (size_t i = 0; i < s->n; i++) {
        names[i] = s->buf + s->name_off[i];
        values[i] = s->buf + s->value_off[i];
    }
    int body_mode = end_stream ? 0 : s->cl >= 0 ? 1 : 2;
    s->started = 1;
    int st = edge_req_start(r, s->buf + s->method, s->authority >= 0 ? s->buf + s->authority : NULL,
                            s->buf + s->path, names, values, s->value_len, s->n, body_mode,
                            s->cl >= 0 ? (uint64_t)s->cl : 0);
    free(s->buf);   /* the head is built: the fields are no longer needed */
    s->buf = NULL;
    s->len = s->cap = 0;
    if (st != 0)
        local_answer(r, st);
    else if (end_stream)
        edge_req_body_end(r);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *ud)
{
    edge_conn *c = ud;
    edge_req *r = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (r == NULL)
        return 0;
    int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
        ((h2s *)r->fe)->client_ended = end;
        start_request(c, r, end);
    } else if (end && (f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS)) {
        h2s *s = r->fe;
        s->client_ended = 1;
        if (s->started && !s->local)
            edge_req_body_end(r);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    edge_conn *c = ud;
    edge_req *r = nghttp2_session_get_stream_user_data(ng, sid);
    h2s *s = r != NULL ? r->fe : NULL;
    if (r == NULL || s->local || r->finished) {
        nghttp2_session_consume(ng, sid, len);   /* dropped: the window opens at once */
        return 0;
    }
    if (r->bytes_in + len > (uint64_t)c->e->lim.max_body_bytes) {
        nghttp2_session_consume(ng, sid, len);
        if (r->oc != NULL) {
            pqify_http_origin_release(r->oc);
            r->oc = NULL;
        }
        if (!r->responded)
            local_answer(r, 413);   /* the rest of the upload is read and dropped */
        else
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
        return 0;
    }
    edge_req_body(r, data, len);
    if (edge_req_up_full(r))
        r->up_unconsumed += len;   /* acknowledged once the origin drains (up_resume) */
    else
        nghttp2_session_consume(ng, sid, len);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t sid, uint32_t code, void *ud)
{
    (void)code;
    edge_conn *c = ud;
    edge_req *r = nghttp2_session_get_stream_user_data(ng, sid);
    if (r == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(ng, sid, NULL);
    list_remove(c, r);
    if (!r->responded && r->status == 0)
        r->status = 499;
    h2s *s = r->fe;
    if (s != NULL)
        free(s->buf);
    free(s);
    r->fe = NULL;
    edge_req_free(r);
    return 0;
}

/* ---- the connection ------------------------------------------------------------------------ */

/* nghttp2 hands out one frame at a time: frames are gathered into one buffer so that a
 * response (HEADERS + DATA) goes out as one TLS record and one write, not several. */
static uint8_t h2_out[16384];

void edge_h2_flush(edge_conn *c)
{
    if (c->ng == NULL || c->closing)
        return;
    size_t have = 0;
    while (pqify_stream_queued(c->s) <= EDGE_HIGH_WATER) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(c->ng, &p);
        if (n < 0) {
            c->closing = 1;
            pqify_stream_abort(c->s);
            return;
        }
        if (n == 0)
            break;
        if ((size_t)n > sizeof h2_out - have && have > 0) {
            if (pqify_stream_send(c->s, h2_out, have) != 0) {
                c->closing = 1;
                return;
            }
            have = 0;
        }
        if ((size_t)n > sizeof h2_out) {
            if (pqify_stream_send(c->s, p, (size_t)n) != 0) {
                c->closing = 1;
                return;
            }
            continue;
        }
        memcpy(h2_out + have, p, (size_t)n);
        have += (size_t)n;
    }
    if (have > 0 && pqify_stream_send(c->s, h2_out, have) != 0) {
        c->closing = 1;
        return;
    }
    if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)) {
        c->closing = 1;
        pqify_stream_close(c->s);
    }
}

int edge_h2_start(edge_conn *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_send_callback(cb, no_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rc = nghttp2_session_server_new2(&c->ng, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->e->lim.max_header_bytes},
    };
    if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, 4 * H2_WINDOW) != 0)
        return -1;
    edge_h2_flush(c);
    return 0;
}

void edge_h2_data(edge_conn *c, const uint8_t *data, size_t len)
{
    if (c->ng == NULL || c->closing)
        return;
    ssize_t n = nghttp2_session_mem_recv(c->ng, data, len);
    if (n < 0) {
        /* A protocol error: nghttp2 queued GOAWAY; send it and close. */
        edge_h2_flush(c);
        if (!c->closing) {
            c->closing = 1;
            pqify_stream_close(c->s);
        }
        return;
    }
    edge_h2_flush(c);
}

void edge_h2_writable(edge_conn *c)
{
    edge_h2_flush(c);
    for (edge_req *r = c->reqs; r != NULL; r = r->next)
        if ((r->oc != NULL || r->tr != NULL) && !h2_down_full(r))
            edge_req_down_resume(r);
}

void edge_h2_closed(edge_conn *c)
{
    if (c->flush_soon) {
        edge_conn **p = &c->e->h2_soon;
        while (*p != c)
            p = &(*p)->flush_next;
        *p = c->flush_next;
        c->flush_soon = 0;
    }
    while (c->reqs != NULL) {
        edge_req *r = c->reqs;
        c->reqs = r->next;
        if (!r->responded && r->status == 0)
            r->status = 499;
        h2s *s = r->fe;
        if (s != NULL)
            free(s->buf);
        free(s);
        edge_req_free(r);
    }
    if (c->ng != NULL)
        nghttp2_session_del(c->ng);
    c->ng = NULL;
}

void edge_h2_drain(edge_conn *c)
{
    if (c->ng == NULL || c->closing)
        return;
    nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    edge_h2_flush(c);
}
