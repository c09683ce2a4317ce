/* The TLS stream on libuv (stream.h): the pump's events turned into socket work. */
#include "pqify/net/stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pqify/net/listener.h"

/* One read buffer per loop thread: reads are handled before the next one, and
 * the pump keeps what the engine did not take, so no connection owns one. */
#define READ_BUFFER 65536
static _Thread_local uint8_t read_buffer[READ_BUFFER];

enum stream_state { HANDSHAKING, OPEN, SHUTTING, CLOSED };

struct pqify_stream_signature {
    uv_async_t async;
    pthread_mutex_t mu;
    pqify_stream *s;          /* NULL once the stream closed */
    int refs;                 /* the stream's and the signer's (loop thread only) */
    int posted;
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
    size_t len;
    char reason[160];
};

struct pqify_stream {
    uv_loop_t *loop;
    uv_tcp_t *tcp;
    uv_timer_t timer;         /* handshake, then idle, then drain */
    uv_shutdown_t shutdown;
    pqify_pump pump;
    pqify_stream_cbs cbs;
    void *ctx;
    enum stream_state state;
    int status;               /* the first reason to close */
    int reading, read_paused, in_events, open_handles;
    int held;                 /* the application holds reading (pqify_stream_hold_reading) */
    int corked;               /* pqify_stream_cork: sends wait in pump.out */
    int is_server;
    int hold_tickets;         /* server: the session tickets wait for the first response */
    int over_high_water;      /* queued went above high_water: on_writable when it halves */
    void (*on_writable)(pqify_stream *s, void *ctx);
    unsigned handshake_ms, idle_ms, drain_ms;
    size_t high_water, queued;
    pqify_stream_signature *sig;
    char peer[64];
};

struct write_req {
    uv_write_t req;
    pqify_stream *s;
    size_t len;
    uint8_t data[];
};

static void final_close(pqify_stream *s, int status);
static void begin_shutdown(pqify_stream *s, int status);
static void handle(pqify_stream *s, pqify_pump_event ev);
static void start_reading(pqify_stream *s);

const char *pqify_stream_strerror(int status)
{
    switch (status) {
    case 0: return "closed";
    case PQIFY_STREAM_HANDSHAKE_TIMEOUT: return "handshake timed out";
    case PQIFY_STREAM_IDLE_TIMEOUT: return "idle timeout";
    case PQIFY_STREAM_EOF: return "the peer closed the connection without close_notify";
    case PQIFY_STREAM_ABORTED: return "aborted";
    default: break;
    }
    return status <= -100 && status > -2000 ? pqify_tls_strerror(status) : uv_strerror(status);
}

/* ---- writing --------------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    pqify_stream *s = w->s;
    s->queued -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED) {
        final_close(s, s->status ? s->status : status);
        return;
    }
    if (s->read_paused && s->queued <= s->high_water / 2) {
        s->read_paused = 0;
        start_reading(s);
    }
    if (s->over_high_water && s->queued <= s->high_water / 2 && s->state == OPEN) {
        s->over_high_water = 0;
        if (s->on_writable != NULL)
            s->on_writable(s, s->ctx);   /* last: it may close the stream */
    }
}

/* Hand p.out to the socket: straight into the kernel when it takes it, else
 * copied into a write request (the pump's buffer is reused at once). */
static void flush(pqify_stream *s)
{
    pqify_tls_buf *out = &s->pump.out;
    s->hold_tickets = 0;   /* whatever waited goes now */
    if (out->len == 0 || s->state == CLOSED) {
        pqify_tls_buf_consume(out, out->len);
        return;
    }
    size_t off = 0;
    if (s->queued == 0) {
        uv_buf_t b = uv_buf_init((char *)out->base, (unsigned)out->len);
        int n = uv_try_write((uv_stream_t *)s->tcp, &b, 1);
        if (n > 0)
            off = (size_t)n;
    }
    if (off < out->len) {
        size_t len = out->len - off;
        struct write_req *w = malloc(sizeof *w + len);
        if (w == NULL) {
            pqify_tls_buf_consume(out, out->len);
            final_close(s, UV_ENOMEM);
            return;
        }
        w->s = s;
        w->len = len;
        memcpy(w->data, out->base + off, len);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
        int r = uv_write(&w->req, (uv_stream_t *)s->tcp, &b, 1, on_written);
        if (r != 0) {
            free(w);
            pqify_tls_buf_consume(out, out->len);
            final_close(s, r);
            return;
        }
        s->queued += len;
        if (s->queued > s->high_water)
            s->over_high_water = 1;
        if (s->queued > s->high_water && s->state != SHUTTING && s->reading) {
            uv_read_stop((uv_stream_t *)s->tcp);
            s->reading = 0;
            s->read_paused = 1;
        }
    }
    pqify_tls_buf_consume(out, out->len);
}

/* ---- timers ---------------------------------------------------------------------- */

/* RFC 8446 §6.1: close_notify, then shut the write side down and drain. */
static void close_gracefully(pqify_stream *s, int status)
{
    int rc = pqify_pump_close_notify(&s->pump);
    (void)rc;   /* a failure means the engine already closed: shut down anyway */
    flush(s);
    begin_shutdown(s, status);
}

static void on_timer(uv_timer_t *t)
{
    pqify_stream *s = t->data;
    if (s->state == HANDSHAKING)
        final_close(s, PQIFY_STREAM_HANDSHAKE_TIMEOUT);
    else if (s->state == OPEN)
        close_gracefully(s, PQIFY_STREAM_IDLE_TIMEOUT);
    else
        final_close(s, s->status);   /* the drain ran out */
}

static void arm_idle(pqify_stream *s)
{
    if (s->state == OPEN && s->idle_ms > 0)
        uv_timer_start(&s->timer, on_timer, s->idle_ms, 0);
}

/* ---- reading --------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    *buf = uv_buf_init((char *)read_buffer, sizeof read_buffer);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
    pqify_stream *s = h->data;
    if (nread == 0 || s->state == CLOSED)
        return;
    if (nread < 0) {
        if (s->state == SHUTTING)
            final_close(s, s->status);   /* the drain is over: the peer closed too */
        else
            final_close(s, nread == UV_EOF ? PQIFY_STREAM_EOF : (int)nread);
        return;
    }
    if (s->state == SHUTTING)
        return;   /* draining: what the peer sends after our close is not read */
    arm_idle(s);
    handle(s, pqify_pump_feed(&s->pump, (const uint8_t *)buf->base, (size_t)nread));
}

static void start_reading(pqify_stream *s)
{
    if (!s->reading && !s->read_paused && !(s->held && s->state != SHUTTING) && s->state != CLOSED &&
        uv_read_start((uv_stream_t *)s->tcp, on_alloc, on_read) == 0)
        s->reading = 1;
}

/* ---- the pump's events ------------------------------------------------------------ */

static void handle(pqify_stream *s, pqify_pump_event ev)
{
    s->in_events++;
    int data = 0;
    for (;;) {
        /* The session tickets a server sends after the client's Finished ride with
         * the response to a request that came with it (one write, one segment);
         * without such a request they go at once (a client may wait for them). */
        if (ev == PQIFY_PUMP_HANDSHAKE_DONE && s->is_server && s->pump.out.len > 0)
            s->hold_tickets = 1;
        if (!s->hold_tickets)
            flush(s);
        if (s->state == CLOSED || s->state == SHUTTING)
            break;
        if (ev == PQIFY_PUMP_WANT_INPUT) {
            if (s->hold_tickets && !data) {
                s->hold_tickets = 0;   /* no request came with the Finished: send them now */
                flush(s);
            }
            if (s->state == OPEN && s->pump.out.len == 0)
                pqify_pump_release_buffers(&s->pump);
            break;
        }
        if (ev == PQIFY_PUMP_PENDING)
            break;
        if (ev == PQIFY_PUMP_WANT_SIGNATURE) {
            if (s->cbs.on_want_signature == NULL) {
                int rc = pqify_pump_signature_failed(&s->pump, "no asynchronous signer");
                (void)rc;   /* the next event reports the failure */
                ev = pqify_pump_next(&s->pump);
                continue;
            }
            s->cbs.on_want_signature(s, s->ctx);
            break;
        }
        if (ev == PQIFY_PUMP_HANDSHAKE_DONE) {
            s->state = OPEN;
            uv_timer_stop(&s->timer);
            arm_idle(s);
            if (s->cbs.on_handshake != NULL)
                s->cbs.on_handshake(s, s->ctx);
        } else if (ev == PQIFY_PUMP_DATA) {
            data = 1;
            pqify_tls_buf *plain = &s->pump.plain;
            if (s->cbs.on_data != NULL)
                s->cbs.on_data(s, plain->base, plain->len, s->ctx);
            pqify_tls_buf_consume(plain, plain->len);
        } else if (ev == PQIFY_PUMP_PEER_CLOSED) {
            /* RFC 8446 §6.1: answer close_notify with our own. */
            close_gracefully(s, 0);
            break;
        } else { /* PQIFY_PUMP_FAILED: the alert is in out; send it, then close gently */
            flush(s);
            begin_shutdown(s, pqify_pump_error(&s->pump));
            break;
        }
        if (s->state == CLOSED || s->state == SHUTTING)
            break;
        ev = pqify_pump_next(&s->pump);
    }
    s->in_events--;
}

/* ---- closing --------------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    pqify_stream *s = req->data;
    if (status < 0 && s->state != CLOSED)
        final_close(s, s->status);
}

static void begin_shutdown(pqify_stream *s, int status)
{
    if (s->state == SHUTTING || s->state == CLOSED)
        return;
    s->state = SHUTTING;
    s->status = status;
    /* Read (and discard) until the peer's FIN, for at most drain_ms. */
    uv_timer_start(&s->timer, on_timer, s->drain_ms, 0);
    s->read_paused = 0;
    start_reading(s);
    s->shutdown.data = s;
    if (uv_shutdown(&s->shutdown, (uv_stream_t *)s->tcp, on_shutdown) != 0)
        final_close(s, status);
}

static void signature_unref(pqify_stream_signature *h);

static void on_handle_closed(uv_handle_t *h)
{
    pqify_stream *s = h->data;
    if (--s->open_handles > 0)
        return;
    if (s->cbs.on_close != NULL)
        s->cbs.on_close(s, s->status, s->ctx);
    pqify_pump_dispose(&s->pump);
    free(s->tcp);
    free(s);
}

static void final_close(pqify_stream *s, int status)
{
    if (s->state == CLOSED)
        return;
    if (s->state != SHUTTING || s->status == 0)
        s->status = status;
    s->state = CLOSED;
    if (s->sig != NULL) {
        pthread_mutex_lock(&s->sig->mu);
        s->sig->s = NULL;
        pthread_mutex_unlock(&s->sig->mu);
        signature_unref(s->sig);
        s->sig = NULL;
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)s->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

void pqify_stream_close(pqify_stream *s)
{
    if (s->state == OPEN)
        close_gracefully(s, 0);
    else if (s->state == HANDSHAKING)
        begin_shutdown(s, PQIFY_STREAM_ABORTED);
}

void pqify_stream_close_now(pqify_stream *s)
{
    if (s->state != OPEN) {
        pqify_stream_close(s);
        return;
    }
    int rc = pqify_pump_close_notify(&s->pump);
    (void)rc;   /* a failure means the engine already closed: close anyway */
    flush(s);
    /* libuv would cancel writes still queued: those wait for the drain's path */
    if (s->state == OPEN && s->queued == 0)
        final_close(s, 0);
    else
        begin_shutdown(s, 0);
}

void pqify_stream_abort(pqify_stream *s)
{
    final_close(s, PQIFY_STREAM_ABORTED);
}

/* ---- set-up ---------------------------------------------------------------------- */

static int stream_new(uv_loop_t *loop, uv_tcp_t *tcp, const pqify_tls_config *cfg, int is_server,
                      const pqify_stream_opts *o, const pqify_stream_cbs *cbs, void *ctx,
                      pqify_stream **out)
{
    pqify_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return UV_ENOMEM;
    if (pqify_pump_init(&s->pump, cfg, is_server) != 0) {
        free(s);
        return PQIFY_TLS_ERR_NO_MEMORY;
    }
    s->loop = loop;
    s->tcp = tcp;
    s->is_server = is_server;
    s->cbs = *cbs;
    s->ctx = ctx;
    s->handshake_ms = o && o->handshake_timeout_ms ? o->handshake_timeout_ms
                                                   : PQIFY_STREAM_DEFAULT_HANDSHAKE_MS;
    s->idle_ms = o ? o->idle_timeout_ms : 0;
    s->high_water = o && o->write_high_water ? o->write_high_water : PQIFY_STREAM_DEFAULT_HIGH_WATER;
    s->drain_ms = o && o->drain_ms ? o->drain_ms : PQIFY_STREAM_DEFAULT_DRAIN_MS;
    tcp->data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->open_handles = 2;
    if (!is_server)
        (void)uv_tcp_nodelay(tcp, 1);   /* an accepted socket has it from the listener */
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (o != NULL && o->peer != NULL)
        pqify_net_format_addr(o->peer, s->peer, sizeof s->peer);
    else if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &sl) == 0)
        pqify_net_format_addr((struct sockaddr *)&ss, s->peer, sizeof s->peer);
    else
        strcpy(s->peer, "?");
    uv_timer_start(&s->timer, on_timer, s->handshake_ms, 0);
    *out = s;
    start_reading(s);
    if (!is_server)
        handle(s, pqify_pump_next(&s->pump));   /* the ClientHello */
    return 0;
}

static void free_tcp(uv_handle_t *h)
{
    free(h);
}

int pqify_stream_accept(uv_loop_t *loop, int fd, const pqify_tls_config *cfg,
                        const pqify_stream_opts *o, const pqify_stream_cbs *cbs, void *ctx,
                        pqify_stream **out)
{
    *out = NULL;
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    if (tcp == NULL) {
        close(fd);
        return UV_ENOMEM;
    }
    uv_tcp_init(loop, tcp);
    int r = uv_tcp_open(tcp, fd);
    if (r != 0)
        close(fd);   /* not the handle's yet */
    else
        r = stream_new(loop, tcp, cfg, 1, o, cbs, ctx, out);
    if (r != 0)
        uv_close((uv_handle_t *)tcp, free_tcp);
    return r;
}

int pqify_stream_connect(uv_loop_t *loop, uv_tcp_t *tcp, const pqify_tls_config *cfg,
                         const pqify_stream_opts *o, const pqify_stream_cbs *cbs, void *ctx,
                         pqify_stream **out)
{
    *out = NULL;
    int r = stream_new(loop, tcp, cfg, 0, o, cbs, ctx, out);
    if (r != 0)
        uv_close((uv_handle_t *)tcp, free_tcp);
    return r;
}

/* ---- the rest of the API ------------------------------------------------------------ */

int pqify_stream_send(pqify_stream *s, const void *data, size_t len)
{
    if (s->state != OPEN)
        return PQIFY_TLS_ERR_CLOSED;
    int r = pqify_pump_send(&s->pump, data, len);
    if (!s->corked || r != 0)
        flush(s);
    if (r == 0)
        arm_idle(s);
    else if (pqify_pump_error(&s->pump) != 0)
        begin_shutdown(s, pqify_pump_error(&s->pump));
    return r;
}

void pqify_stream_cork(pqify_stream *s, int cork)
{
    s->corked = cork != 0;
    if (!s->corked)
        flush(s);
}

pqify_tls_conn *pqify_stream_conn(pqify_stream *s)
{
    return s->pump.conn;
}

int pqify_stream_established(const pqify_stream *s)
{
    return pqify_pump_established(&s->pump);
}

size_t pqify_stream_queued(const pqify_stream *s)
{
    return s->queued;
}

void pqify_stream_hold_reading(pqify_stream *s, int hold)
{
    if (s->state == CLOSED)
        return;
    s->held = hold != 0;
    if (s->held && s->reading && s->state != SHUTTING) {
        uv_read_stop((uv_stream_t *)s->tcp);
        s->reading = 0;
    } else if (!s->held) {
        start_reading(s);
    }
}

void pqify_stream_on_writable(pqify_stream *s, void (*cb)(pqify_stream *s, void *ctx))
{
    s->on_writable = cb;
}

int pqify_stream_read_paused(const pqify_stream *s)
{
    return s->read_paused;
}

const char *pqify_stream_peer(const pqify_stream *s)
{
    return s->peer;
}

void pqify_stream_set_ctx(pqify_stream *s, void *ctx)
{
    s->ctx = ctx;
}

/* ---- asynchronous signing ------------------------------------------------------------ */

int pqify_stream_signature_request(const pqify_stream *s, uint16_t *scheme, const uint8_t **tbs,
                                   size_t *tbs_len)
{
    return pqify_pump_signature_request(&s->pump, scheme, tbs, tbs_len);
}

static void on_signature_closed(uv_handle_t *h)
{
    pqify_stream_signature *sh = h->data;
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static void signature_unref(pqify_stream_signature *h)
{
    if (--h->refs == 0)
        uv_close((uv_handle_t *)&h->async, on_signature_closed);
}

static void on_signature_posted(uv_async_t *a)
{
    pqify_stream_signature *h = a->data;
    pthread_mutex_lock(&h->mu);
    pqify_stream *s = h->s;
    int posted = h->posted;
    pthread_mutex_unlock(&h->mu);
    if (!posted)
        return;
    if (s != NULL && s->state == HANDSHAKING) {
        int r = h->len > 0 ? pqify_pump_signature_complete(&s->pump, h->sig, h->len)
                           : pqify_pump_signature_failed(&s->pump, h->reason);
        (void)r;   /* a refusal leaves the pump failed or waiting: next() reports it */
        s->sig = NULL;
        signature_unref(h);              /* the stream's reference */
        handle(s, pqify_pump_next(&s->pump));
    }
    signature_unref(h);                  /* the signer's reference */
}

pqify_stream_signature *pqify_stream_signature_begin(pqify_stream *s)
{
    if (s->sig != NULL || s->state != HANDSHAKING)
        return NULL;
    pqify_stream_signature *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    if (uv_async_init(s->loop, &h->async, on_signature_posted) != 0) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->async.data = h;
    h->s = s;
    h->refs = 2;
    s->sig = h;
    return h;
}

void pqify_stream_signature_post(pqify_stream_signature *h, const uint8_t *sig, size_t len,
                                 const char *reason)
{
    pthread_mutex_lock(&h->mu);
    if (sig != NULL && len > 0 && len <= sizeof h->sig) {
        memcpy(h->sig, sig, len);
        h->len = len;
    } else {
        h->len = 0;
        snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "signer failed");
    }
    h->posted = 1;
    pthread_mutex_unlock(&h->mu);
    uv_async_send(&h->async);
}
