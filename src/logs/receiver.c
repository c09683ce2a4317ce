/*
 * The receiver (include/pqify/logs_receiver.h, docs/logs.md), moved from src/cli
 * unchanged in behaviour: the decoder per connection, a chunk at a time to the sink,
 * the ack only once the sink says durable, the connection held meanwhile.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/rand.h>

#include "pqify/logs.h"
#include "pqify/logs_receiver.h"
#include "pqify/net/conn_set.h"
#include "pqify/net/listener.h"
#include "pqify/net/log.h"
#include "pqify/net/metrics.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"

#define DEFAULT_MAX_CHUNK (8u << 20)
#define SINK_RETRY_MS 1000

/* ---- the TLS configuration; SIGHUP swaps it, connections keep theirs ---------------- */

struct shared_cfg {
    pqify_tls_config *cfg;
    int refs;   /* one loop: no atomics needed */
};

static struct shared_cfg *cfg_wrap(pqify_tls_config *cfg)
{
    struct shared_cfg *sc = malloc(sizeof *sc);
    if (sc == NULL) {
        pqify_tls_config_free(cfg);
        return NULL;
    }
    sc->cfg = cfg;
    sc->refs = 1;
    return sc;
}

static void cfg_put(struct shared_cfg *sc)
{
    if (sc != NULL && --sc->refs == 0) {
        pqify_tls_config_free(sc->cfg);
        free(sc);
    }
}

/* ---- the receiver ------------------------------------------------------------------- */

struct conn;

struct pqify_logrecv {
    pqify_logrecv_options o;
    uv_loop_t *loop;
    pqify_listener *listener;
    struct shared_cfg *cfg;
    pqify_conn_set conns;     /* its gauge: pqify_logrecv_connections */
    int deadline;
    void (*drained)(void *);
    void *drained_arg;
    struct {
        int on;
        pqify_tls_metrics tls;
        pqify_metric *events, *bytes;
        pqify_series *acked, *latency, *sink_errors, *rejected;
    } met;
};

struct conn {
    pqify_conn_link link;
    pqify_logrecv *srv;
    pqify_stream *s;          /* NULL once closed */
    struct shared_cfg *sc;
    pqify_fwd_decoder *dec;
    uint8_t *in;              /* plaintext received, not yet fed to the decoder */
    size_t in_len, in_cap;
    size_t msg_bytes;         /* wire bytes of the message being decoded */
    unsigned n_jobs;          /* chunks at the sink; at the sink's depth, reading waits */
    int established, draining;
    int auth_wait;            /* HELO sent, the PING not yet checked */
    uint8_t nonce[PQIFY_FWD_NONCE_BYTES];
    char peer[64];
};

struct job {
    pqify_logrecv_chunk ch;   /* first: the sink hands it back */
    uv_timer_t retry;
    struct conn *c;
    char *tag;
    size_t tag_len;
    msgpack_sbuffer lines;
    char chunk[128];
    size_t chunk_len;         /* 0: no ack asked */
    size_t n_events, wire_bytes;
    int retry_wait;
    uint64_t start_ns;
    unsigned attempts;
};

static void conn_process(struct conn *c);

static void conn_free(struct conn *c)
{
    pqify_fwd_decoder_free(c->dec);
    cfg_put(c->sc);
    free(c->in);
    pqify_conn_set_remove(&c->srv->conns, &c->link);   /* the last one of a drain: drained() */
    free(c);
}

static void job_free(struct job *j)
{
    msgpack_sbuffer_destroy(&j->lines);
    free(j->tag);
    free(j);
}

static void sink_done(struct job *j);

void pqify_logrecv_chunk_done(pqify_logrecv_chunk *ch)
{
    sink_done((struct job *)ch);
}

static int sink_submit(struct job *j)
{
    pqify_logrecv_sink *sink = j->c->srv->o.sink;
    j->ch.tag = j->tag;
    j->ch.tag_len = j->tag_len;
    j->ch.lines = (const uint8_t *)j->lines.data;
    j->ch.len = j->lines.size;
    j->ch.n_events = j->n_events;
    j->ch.rc = 0;
    j->ch.err[0] = '\0';
    memset(j->ch.priv, 0, sizeof j->ch.priv);
    return sink->submit(sink, &j->ch);
}

static void retry_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    struct conn *c = j->c;
    j->retry_wait = 0;
    if (c->s == NULL) {   /* the sender went away: it still holds the chunk unacked */
        c->n_jobs--;
        job_free(j);
        if (c->n_jobs == 0)
            conn_free(c);
        return;
    }
    if (sink_submit(j) != 0) {
        c->n_jobs--;
        job_free(j);
        pqify_stream_abort(c->s);
    }
}

static void retry_fire(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, retry_closed);
}

static void sink_done(struct job *j)
{
    struct conn *c = j->c;
    pqify_logrecv *srv = c->srv;
    if (j->ch.rc != 0) {
        pqify_counter_add(srv->met.sink_errors, 1);
        int permanent = j->ch.rc == PQIFY_LOGS_ERR_BAD_TAG;
        if (j->attempts++ == 0 || permanent)
            PQIFY_LOG(PQIFY_LOG_ERROR, permanent ? "sink refused the chunk" : "sink failed; not acked, retrying every second",
                      "peer", c->peer, "error", j->ch.err);
        if (permanent || c->s == NULL || srv->deadline) {
            c->n_jobs--;
            job_free(j);
            if (c->s != NULL)
                pqify_stream_close(c->s);
            else if (c->n_jobs == 0)
                conn_free(c);
            return;
        }
        uv_timer_init(srv->loop, &j->retry);
        j->retry.data = j;
        j->retry_wait = 1;
        uv_timer_start(&j->retry, retry_fire, SINK_RETRY_MS, 0);
        return;
    }
    if (j->attempts > 0)
        PQIFY_LOG(PQIFY_LOG_INFO, "sink recovered", "peer", c->peer);
    c->n_jobs--;
    const char *lv[1] = {j->tag};
    pqify_counter_add(pqify_metric_series(srv->met.events, 1, lv), j->n_events);
    pqify_counter_add(pqify_metric_series(srv->met.bytes, 1, lv), j->wire_bytes);
    if (c->s != NULL && j->chunk_len > 0) {
        msgpack_sbuffer ack;
        msgpack_sbuffer_init(&ack);
        if (pqify_fwd_encode_ack((const uint8_t *)j->chunk, j->chunk_len, &ack) == 0 &&
            pqify_stream_send(c->s, ack.data, ack.size) == 0) {
            pqify_counter_add(srv->met.acked, 1);
            pqify_histogram_observe(srv->met.latency,
                                    (double)(uv_hrtime() - j->start_ns) / 1e9);
        }
        msgpack_sbuffer_destroy(&ack);
    }
    job_free(j);
    if (c->s == NULL) {
        if (c->n_jobs == 0)
            conn_free(c);
        return;
    }
    conn_process(c);
}

static void reject(struct conn *c, const char *why, const char *detail)
{
    pqify_counter_add(c->srv->met.rejected, 1);
    PQIFY_LOG(PQIFY_LOG_WARN, "closing connection", "peer", c->peer, "reason", why, "detail", detail);
    c->in_len = 0;
    pqify_stream_abort(c->s);
}

/* One decoded chunk of events: JSON lines now (the message points into the decoder),
 * the write and fsync on the thread pool. */
static int start_job(struct conn *c, const pqify_fwd_msg *m)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -1;
    msgpack_sbuffer_init(&j->lines);
    j->c = c;
    j->start_ns = uv_hrtime();
    j->n_events = m->n_events;
    j->wire_bytes = c->msg_bytes;
    j->tag = malloc(m->tag.len + 1);
    if (j->tag == NULL) {
        job_free(j);
        return -1;
    }
    memcpy(j->tag, m->tag.ptr, m->tag.len);
    j->tag[m->tag.len] = '\0';
    j->tag_len = m->tag.len;
    if (m->chunk.ptr != NULL) {
        if (m->chunk.len == 0 || m->chunk.len >= sizeof j->chunk) {
            job_free(j);
            reject(c, "chunk id is empty or longer than 127 bytes", "");
            return 1;
        }
        memcpy(j->chunk, m->chunk.ptr, m->chunk.len);
        j->chunk_len = m->chunk.len;
    }
    /* room for the lines up front: growing by doubling copied them again and again (the
     * receiver's profile); JSON is about the wire size plus the tag and time per event */
    size_t guess = c->msg_bytes * 2 + m->n_events * (m->tag.len + 48);
    if (m->n_events > 0 && guess < (64u << 20) && (j->lines.data = malloc(guess)) != NULL)
        j->lines.alloc = guess;
    for (size_t i = 0; i < m->n_events; i++) {
        if (pqify_logs_event_json(m->tag, &m->events[i], &j->lines) != 0) {
            job_free(j);
            return -1;
        }
    }
    c->n_jobs++;
    if (m->n_events == 0) {   /* nothing to make durable: ack at once */
        sink_done(j);
        return 1;
    }
    if (sink_submit(j) != 0) {
        c->n_jobs--;
        job_free(j);
        return -1;
    }
    return 1;
}

/* [Forward v1 "Handshake Messages"]: the client's PING must carry
 * sha512_hex(salt ‖ its hostname ‖ our nonce ‖ shared_key). A wrong key gets a PONG
 * saying so (the sender's log can name the cause) and its connection closes; no other
 * connection is touched. */
static int auth_ping(struct conn *c, const pqify_fwd_msg *m)
{
    pqify_logrecv *srv = c->srv;
    pqify_fwd_bytes nonce = {c->nonce, sizeof c->nonce};
    pqify_fwd_bytes key = {(const uint8_t *)srv->o.shared_key, strlen(srv->o.shared_key)};
    pqify_fwd_bytes none = {(const uint8_t *)"", 0};
    if (m->kind != PQIFY_FWD_PING) {
        reject(c, "expected PING: a shared key is configured", "");
        return -1;
    }
    int rc = pqify_fwd_check_ping(m, srv->o.self_hostname, nonce, key, none, NULL);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    const char *reason = rc == PQIFY_LOGS_ERR_SAME_HOST ? "same hostname as the server"
                         : rc != 0                      ? "shared_key mismatch"
                                                        : "";
    int sent = pqify_fwd_encode_pong(rc == 0, reason, srv->o.self_hostname, m->salt, nonce, key, &out) == 0 &&
               pqify_stream_send(c->s, out.data, out.size) == 0;
    msgpack_sbuffer_destroy(&out);
    if (rc != 0 || !sent) {
        char host[256];
        snprintf(host, sizeof host, "%.*s", (int)(m->hostname.len < 255 ? m->hostname.len : 255),
                 m->hostname.ptr ? (const char *)m->hostname.ptr : "");
        pqify_counter_add(srv->met.rejected, 1);
        PQIFY_LOG(PQIFY_LOG_WARN, "closing connection", "peer", c->peer, "reason",
                  rc != 0 ? reason : "cannot send PONG", "hostname", host);
        c->in_len = 0;
        pqify_stream_close(c->s);   /* graceful: the PONG reaches the sender first */
        return -1;
    }
    c->auth_wait = 0;
    return 0;
}

static unsigned sink_depth(const struct conn *c)
{
    return c->srv->o.sink->depth > 1 ? c->srv->o.sink->depth : 1;
}

/* Feed buffered plaintext to the decoder until the sink holds as many chunks of this
 * connection as it takes (then wait for one, not reading) or the bytes run out (then
 * read again). */
static void conn_process(struct conn *c)
{
    while (c->s != NULL && c->n_jobs < sink_depth(c) && c->in_len > 0) {
        const uint8_t *p = c->in;
        size_t len = c->in_len;
        pqify_fwd_msg m;
        int rc = pqify_fwd_decode(c->dec, &p, &len, &m);
        size_t used = c->in_len - len;
        c->msg_bytes += used;
        memmove(c->in, c->in + used, len);
        c->in_len = len;
        if (rc < 0) {
            char detail[64];
            snprintf(detail, sizeof detail, "%zu bytes buffered", pqify_fwd_decoder_buffered(c->dec));
            reject(c, pqify_logs_strerror(rc), detail);
            return;
        }
        if (rc == 0)
            break;
        size_t wire = c->msg_bytes;
        c->msg_bytes = 0;
        if (m.kind == PQIFY_FWD_HEARTBEAT)
            continue;
        if (c->auth_wait) {
            if (auth_ping(c, &m) != 0)
                return;
            continue;
        }
        if (m.kind != PQIFY_FWD_EVENTS) {
            reject(c, c->srv->o.shared_key ? "unexpected Forward message after the handshake"
                                           : "unexpected Forward message (no shared key is configured)", "");
            return;
        }
        c->msg_bytes = wire;
        int r = start_job(c, &m);
        c->msg_bytes = 0;
        if (r < 0) {
            reject(c, "out of memory", "");
            return;
        }
    }
    if (c->s == NULL)
        return;
    if (c->n_jobs == 0 && c->draining) {
        pqify_stream_close(c->s);
        return;
    }
    pqify_stream_hold_reading(c->s, c->n_jobs >= sink_depth(c) || c->draining);
}

/* ---- stream callbacks ---------------------------------------------------------------- */

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct conn *c = ctx;
    c->established = 1;
    pqify_tls_metrics_handshake(&c->srv->met.tls, pqify_stream_conn(s), 1);
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    PQIFY_LOG(PQIFY_LOG_INFO, "accepted", "peer", c->peer, "group", info.group, "pq",
              info.is_pq ? "yes" : "no", "client_cert",
              info.peer_cert && info.peer_subject[0] ? info.peer_subject : "-");
    if (pqify_conn_set_draining(&c->srv->conns)) {
        pqify_stream_close(s);
        return;
    }
    if (c->srv->o.shared_key != NULL) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        pqify_fwd_bytes none = {(const uint8_t *)"", 0};
        if (RAND_bytes(c->nonce, sizeof c->nonce) != 1 ||
            pqify_fwd_encode_helo(c->nonce, none, 1, &out) != 0 ||
            pqify_stream_send(s, out.data, out.size) != 0) {
            msgpack_sbuffer_destroy(&out);
            reject(c, "cannot send HELO", "");
            return;
        }
        msgpack_sbuffer_destroy(&out);
        c->auth_wait = 1;
    }
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    struct conn *c = ctx;
    if (c->s == NULL)
        return;
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 16384;
        while (cap < c->in_len + len)
            cap *= 2;
        uint8_t *n = realloc(c->in, cap);
        if (n == NULL) {
            reject(c, "out of memory", "");
            return;
        }
        c->in = n;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    conn_process(c);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    struct conn *c = ctx;
    pqify_logrecv *srv = c->srv;
    (void)s;
    if (!c->established) {
        if (status != PQIFY_STREAM_ABORTED)
            PQIFY_LOG(PQIFY_LOG_WARN, "handshake failed", "peer", c->peer, "error",
                      pqify_stream_strerror(status));
    } else if (status != 0 && status != PQIFY_STREAM_ABORTED) {
        PQIFY_LOG(PQIFY_LOG_INFO, "connection closed", "peer", c->peer, "why",
                  pqify_stream_strerror(status));
    }
    pqify_conn_set_closed(&srv->conns, &c->link);
    if (srv->listener != NULL)
        pqify_listener_done(srv->listener);
    if (c->n_jobs == 0)
        conn_free(c);   /* else the last job's completion frees it */
}

static const pqify_stream_cbs recv_cbs = {on_handshake, on_data, NULL, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    pqify_logrecv *srv = ctx;
    struct conn *c = calloc(1, sizeof *c);
    pqify_fwd_limits lim = {.max_message = srv->o.max_chunk};
    if (c != NULL)
        c->dec = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, &lim);
    if (c == NULL || c->dec == NULL) {
        free(c);
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->srv = srv;
    pqify_net_format_addr(peer, c->peer, sizeof c->peer);
    if (pqify_stream_accept(srv->loop, fd, srv->cfg->cfg, &srv->o.stream, &recv_cbs, c, &c->s) != 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot create a connection", "peer", c->peer);
        pqify_fwd_decoder_free(c->dec);
        free(c);
        pqify_listener_done(l);
        return;
    }
    c->sc = srv->cfg;
    c->sc->refs++;
    pqify_conn_set_add(&srv->conns, &c->link, c, &c->s);
}

/* ---- stop, drain, reload ----------------------------------------------------------- */

static void srv_drained(void *arg)
{
    pqify_logrecv *srv = arg;
    if (srv->o.sink->quiesce != NULL)
        srv->o.sink->quiesce(srv->o.sink);
    if (srv->drained != NULL)
        srv->drained(srv->drained_arg);
}

/* Chunks already received are written and acked; then close_notify. */
static void conn_drain(void *conn)
{
    struct conn *c = conn;
    c->draining = 1;
    conn_process(c);
}

void pqify_logrecv_drain(pqify_logrecv *srv, void (*done)(void *), void *arg)
{
    srv->drained = done;
    srv->drained_arg = arg;
    if (srv->listener != NULL) {
        pqify_listener_free(srv->listener);
        srv->listener = NULL;
    }
    pqify_conn_set_drain(&srv->conns, conn_drain, srv_drained, srv);
}

void pqify_logrecv_abort(pqify_logrecv *srv)
{
    srv->deadline = 1;
    pqify_conn_set_abort(&srv->conns);
}

void pqify_logrecv_swap_tls(pqify_logrecv *srv, pqify_tls_config *cfg)
{
    struct shared_cfg *fresh = cfg_wrap(cfg);
    if (fresh == NULL) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reload failed (out of memory); still serving the previous certificate");
        return;
    }
    cfg_put(srv->cfg);
    srv->cfg = fresh;
}

static int metrics_init(pqify_logrecv *srv, pqify_metrics *m)
{
    static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    srv->met.on = 1;
    srv->met.events = pqify_metrics_counter(m, "pqify_logrecv_events_total",
                                            "Events made durable in the sink, per stream (tag).", "stream");
    srv->met.bytes = pqify_metrics_counter(m, "pqify_logrecv_bytes_total",
                                           "Forward protocol bytes received, per stream (tag).", "stream");
    pqify_metric *open = pqify_metrics_gauge(m, "pqify_logrecv_connections", "Connections open now.", NULL);
    pqify_metric *acked = pqify_metrics_counter(m, "pqify_logrecv_chunks_acked_total",
                                                "Chunks acknowledged after the sink made them durable.", NULL);
    pqify_metric *lat = pqify_metrics_histogram(m, "pqify_logrecv_ack_latency_seconds",
                                                "From a chunk decoded to its ack sent.", NULL,
                                                lat_bounds, sizeof lat_bounds / sizeof lat_bounds[0]);
    pqify_metric *errs = pqify_metrics_counter(m, "pqify_logrecv_sink_errors_total",
                                               "Sink writes that failed (the chunk was not acked).", NULL);
    pqify_metric *rej = pqify_metrics_counter(m, "pqify_logrecv_rejected_total",
                                              "Connections closed for hostile or malformed input.", NULL);
    if (srv->met.events == NULL || srv->met.bytes == NULL || open == NULL || acked == NULL ||
        lat == NULL || errs == NULL || rej == NULL || pqify_tls_metrics_init(&srv->met.tls, m) != 0)
        return -1;
    srv->conns.open = pqify_metric_series(open, 0, NULL);
    srv->met.acked = pqify_metric_series(acked, 0, NULL);
    srv->met.latency = pqify_metric_series(lat, 0, NULL);
    srv->met.sink_errors = pqify_metric_series(errs, 0, NULL);
    srv->met.rejected = pqify_metric_series(rej, 0, NULL);
    return 0;
}


int pqify_logrecv_start(uv_loop_t *loop, const pqify_logrecv_options *o, pqify_logrecv **out,
                        char *err, size_t cap)
{
    *out = NULL;
    pqify_logrecv *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        pqify_tls_config_free(o->tls);
        snprintf(err, cap, "out of memory");
        return PQIFY_LOGS_ERR_NOMEM;
    }
    srv->o = *o;
    srv->loop = loop;
    if (srv->o.max_chunk == 0)
        srv->o.max_chunk = DEFAULT_MAX_CHUNK;
    srv->cfg = cfg_wrap(o->tls);
    if (srv->cfg == NULL || (o->metrics != NULL && metrics_init(srv, o->metrics) != 0)) {
        snprintf(err, cap, srv->cfg == NULL ? "out of memory" : "cannot declare the metrics");
        cfg_put(srv->cfg);
        free(srv);
        return PQIFY_LOGS_ERR_NOMEM;
    }
    pqify_listener_opts lo = {.host = o->host, .port = o->port, .max_connections = o->max_connections};
    if (pqify_listener_open(loop, &lo, on_accept, srv, &srv->listener, err, cap) != 0) {
        cfg_put(srv->cfg);
        free(srv);
        return PQIFY_LOGS_ERR_IO;
    }
    *out = srv;
    return 0;
}

void pqify_logrecv_address(const pqify_logrecv *srv, char *out, size_t cap)
{
    if (srv->listener != NULL)
        pqify_listener_address(srv->listener, out, cap);
    else
        snprintf(out, cap, "-");
}

void pqify_logrecv_free(pqify_logrecv *srv)
{
    if (srv == NULL)
        return;
    if (srv->listener != NULL)
        pqify_listener_free(srv->listener);
    cfg_put(srv->cfg);
    free(srv);
}

/* ---- the built-in sinks --------------------------------------------------------------- */

struct file_sink {
    pqify_logrecv_sink base;
    uv_loop_t *loop;
    pqify_file_sink *fs;
    pthread_mutex_t mu;   /* the sink is used from the thread pool */
};

struct file_job {
    uv_work_t req;
    struct file_sink *s;
    pqify_logrecv_chunk *ch;
};

static void file_work(uv_work_t *req)
{
    struct file_job *fj = req->data;
    pthread_mutex_lock(&fj->s->mu);
    fj->ch->rc = pqify_file_sink_append(fj->s->fs, fj->ch->tag, fj->ch->tag_len, fj->ch->lines,
                                        fj->ch->len, fj->ch->err, sizeof fj->ch->err);
    pthread_mutex_unlock(&fj->s->mu);
}

static void file_after(uv_work_t *req, int status)
{
    struct file_job *fj = req->data;
    pqify_logrecv_chunk *ch = fj->ch;
    free(fj);
    if (status != 0) {
        ch->rc = PQIFY_LOGS_ERR_IO;
        snprintf(ch->err, sizeof ch->err, "the sink job was cancelled");
    }
    pqify_logrecv_chunk_done(ch);
}

static int file_submit(pqify_logrecv_sink *base, pqify_logrecv_chunk *ch)
{
    struct file_sink *s = (struct file_sink *)base;
    struct file_job *fj = malloc(sizeof *fj);
    if (fj == NULL)
        return -1;
    fj->s = s;
    fj->ch = ch;
    fj->req.data = fj;
    if (uv_queue_work(s->loop, &fj->req, file_work, file_after) != 0) {
        free(fj);
        return -1;
    }
    return 0;
}

static void file_free(pqify_logrecv_sink *base)
{
    struct file_sink *s = (struct file_sink *)base;
    pqify_file_sink_close(s->fs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

pqify_logrecv_sink *pqify_logrecv_file_sink_new(uv_loop_t *loop, const char *dir,
                                                uint64_t max_file_bytes, char *err, size_t cap)
{
    struct file_sink *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->fs = pqify_file_sink_open(dir, max_file_bytes, err, cap);
    if (s->fs == NULL) {
        free(s);
        return NULL;
    }
    s->base.submit = file_submit;
    s->base.free = file_free;
    s->loop = loop;
    pthread_mutex_init(&s->mu, NULL);
    return &s->base;
}

static int null_submit(pqify_logrecv_sink *base, pqify_logrecv_chunk *ch)
{
    (void)base;
    ch->rc = 0;
    pqify_logrecv_chunk_done(ch);
    return 0;
}

static void null_free(pqify_logrecv_sink *base)
{
    free(base);
}

pqify_logrecv_sink *pqify_logrecv_null_sink_new(void)
{
    pqify_logrecv_sink *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->submit = null_submit;
        s->free = null_free;
    }
    return s;
}
