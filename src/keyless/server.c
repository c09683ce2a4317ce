/* The key server on the chassis: TLS streams from src/net carry gokeyless packets;
 * each request is signed on libuv's thread pool and answered when done
 * (include/pqify/keyless_server.h, docs/keyless.md). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "internal.h"
#include "pqify/keyless_server.h"
#include "pqify/net/conn_set.h"
#include "pqify/net/listener.h"

/* Sign latency buckets, seconds: an ECDSA P-256 sign is ~30 us, RSA-4096 ~5 ms, a
 * PKCS#11 token may take longer. */
static const double latency_bounds[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25};

struct kconn;

/* A request forwarded upstream (proxy mode), and later its answer. */
struct fwd {
    struct fwd *next;
    pqify_keyless_server *srv;
    struct kconn *c;
    uint32_t id;              /* the request's id on our client's connection */
    uint8_t opcode;           /* the request's */
    int status;               /* the upstream's answer: 0, or the client's error */
    uint8_t result, error;
    size_t len;
    uint8_t payload[PQIFY_KEYLESS_MAX_RESULT];
};

struct pqify_keyless_server {
    uv_loop_t *loop;
    pqify_listener *listener;
    const pqify_tls_config *tls;
    pqify_stream_opts sopts;
    pqify_keyless_store *store;
    unsigned max_in_flight;
    pqify_conn_set conns;     /* its gauge: pqify_keyless_connections */
    pqify_keyless_server_stats st;
    struct {
        pqify_tls_metrics tls;
        pqify_metric *requests, *latency;
        pqify_series *in_flight, *held, *forwarded;
        int on;
    } met;
    /* proxy mode: answers come back on the clients' threads, through fwd_async */
    pqify_keyless_upstream *up;
    size_t n_up;
    uv_async_t fwd_async;
    pthread_mutex_t fwd_mu;
    struct fwd *fwd_done;     /* under fwd_mu */
    int fwd_closed;           /* under fwd_mu: answers after the server's end are dropped */
    /* Answers completed in one loop iteration leave in one write per connection. */
    uv_check_t *flush;
    struct kconn *dirty;
};

struct kconn {
    pqify_conn_link link;
    pqify_keyless_server *srv;
    pqify_stream *s;        /* NULL once the stream closed (jobs may still be on the pool) */
    uint8_t *in;            /* bytes read but not yet framed: in[off, len) */
    size_t off, len, cap;
    unsigned in_flight;
    int held;
    int closing;            /* no more requests: drain, or a malformed packet */
    uint8_t *last;          /* the answer to a malformed packet, sent before closing */
    size_t last_len;
    /* answers waiting for the end of this loop iteration (may hold a decrypt's
     * premaster secret: wiped once sent) */
    uint8_t *pend;
    size_t pend_len;
    struct kconn *next_dirty;
    int dirty;
};

/* Up to this much of answers goes out as one send: one TLS record, one write(). */
#define KS_COALESCE_BYTES 16384u

struct job {
    uv_work_t req;
    struct kconn *c;
    pqify_keyless_store *store;
    int rc;
    pqify_keyless_answer a;
    double seconds;
    size_t in_len, out_cap;
    uint8_t *out;
    uint8_t in[];
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_request(pqify_keyless_server *srv, uint8_t opcode, uint8_t result, uint8_t error)
{
    if (!srv->met.on)
        return;
    const char *res = result == PQIFY_KEYLESS_OP_ERROR ? pqify_keyless_wire_error_name(error)
                      : result == PQIFY_KEYLESS_OP_PONG ? "pong"
                                                         : "ok";
    /* Both labels come from fixed word lists, so the series stay bounded. */
    const char *v[2] = {pqify_keyless_op_name(opcode), res};
    pqify_counter_add(pqify_metric_series(srv->met.requests, 2, v), 1);
}

static void conn_free(struct kconn *c)
{
    pqify_keyless_server *srv = c->srv;
    if (c->dirty)
        for (struct kconn **pp = &srv->dirty; *pp != NULL; pp = &(*pp)->next_dirty)
            if (*pp == c) {
                *pp = c->next_dirty;
                break;
            }
    if (c->pend != NULL)
        OPENSSL_cleanse(c->pend, KS_COALESCE_BYTES);
    free(c->pend);
    free(c->in);
    free(c->last);
    pqify_conn_set_remove(&srv->conns, &c->link);   /* the last one of a drain: drained() */
    free(c);
}

static void set_hold(struct kconn *c, int hold)
{
    if (c->s == NULL || c->held == hold)
        return;
    c->held = hold;
    if (hold)
        c->srv->st.holds++;
    pqify_gauge_add(c->srv->met.held, hold ? 1 : -1);
    pqify_stream_hold_reading(c->s, hold);
}

static void flush_answers(struct kconn *c)
{
    if (c->pend_len == 0)
        return;
    if (c->s != NULL && pqify_stream_send(c->s, c->pend, c->pend_len) != 0)
        c->closing = 1;
    OPENSSL_cleanse(c->pend, c->pend_len);
    c->pend_len = 0;
}

static void on_flush(uv_check_t *h)
{
    pqify_keyless_server *srv = h->data;
    struct kconn *c = srv->dirty;
    srv->dirty = NULL;
    uv_check_stop(h);
    while (c != NULL) {
        struct kconn *next = c->next_dirty;
        c->dirty = 0;
        c->next_dirty = NULL;
        flush_answers(c);
        c = next;
    }
}

/* The answer goes out with the others completed in this loop iteration; 0, or -1 when
 * it cannot be sent at all. */
static int queue_answer(struct kconn *c, const uint8_t *a, size_t n)
{
    pqify_keyless_server *srv = c->srv;
    if (c->s == NULL)
        return -1;
    if (srv->flush == NULL || n > KS_COALESCE_BYTES)
        return pqify_stream_send(c->s, a, n);
    if (c->pend == NULL && (c->pend = malloc(KS_COALESCE_BYTES)) == NULL)
        return pqify_stream_send(c->s, a, n);
    if (c->pend_len + n > KS_COALESCE_BYTES)
        flush_answers(c);
    memcpy(c->pend + c->pend_len, a, n);
    c->pend_len += n;
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = srv->dirty;
        srv->dirty = c;
        uv_check_start(srv->flush, on_flush);
    }
    return 0;
}

/* A connection that takes no more requests closes once its answers are out. */
static void maybe_finish(struct kconn *c)
{
    if (c->s == NULL || !c->closing || c->in_flight > 0)
        return;
    flush_answers(c);
    if (c->last != NULL) {
        int rc = pqify_stream_send(c->s, c->last, c->last_len);
        (void)rc; /* closing either way */
        free(c->last);
        c->last = NULL;
    }
    pqify_stream_close(c->s);
}

static void work(uv_work_t *req)
{
    struct job *j = req->data;
    double t0 = now_seconds();
    unsigned flags = j->c->srv->n_up > 0 ? PQIFY_KEYLESS_HANDLE_FORWARD_UNKNOWN : 0;
    j->rc = pqify_keyless_handle(j->store, flags, j->in, j->in_len, j->out, j->out_cap, &j->a);
    j->seconds = now_seconds() - t0;
}

static void process_input(struct kconn *c);

/* ---- proxy mode ---------------------------------------------------------------------- */

static const pqify_keyless_upstream *pick_upstream(const pqify_keyless_server *srv,
                                                  const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES])
{
    const pqify_keyless_upstream *def = NULL;
    for (size_t i = 0; i < srv->n_up; i++) {
        const pqify_keyless_upstream *u = &srv->up[i];
        for (size_t k = 0; k < u->n_skis; k++)
            if (memcmp(u->skis[k], ski, PQIFY_KEYLESS_SKI_BYTES) == 0)
                return u;
        if (u->is_default && def == NULL)
            def = u;
    }
    return def;
}

/* On an upstream client's thread: hand the answer to the server's loop. */
static void on_forwarded(void *arg, const pqify_keyless_reply *r)
{
    struct fwd *f = arg;
    pqify_keyless_server *srv = f->srv;
    f->status = r->status;
    f->result = r->opcode;
    f->error = r->error;
    if (r->status == 0 && r->len <= sizeof f->payload) {
        memcpy(f->payload, r->payload, r->len);
        f->len = r->len;
    } else if (r->status == 0) {
        f->status = PQIFY_KEYLESS_ERR_TOO_LARGE;
    }
    pthread_mutex_lock(&srv->fwd_mu);
    if (srv->fwd_closed) {
        pthread_mutex_unlock(&srv->fwd_mu);
        free(f); /* the server is gone; its connection was closed with it */
        return;
    }
    f->next = srv->fwd_done;
    srv->fwd_done = f;
    uv_async_send(&srv->fwd_async);
    pthread_mutex_unlock(&srv->fwd_mu);
}

/* Send the request in j upstream; 0 when it went (the connection's in-flight count
 * keeps it until the answer), else the caller answers error 2. */
static int forward(pqify_keyless_server *srv, struct kconn *c, const struct job *j)
{
    pqify_keyless_packet req;
    if (pqify_keyless_decode(j->in, j->in_len, &req) != 0)
        return -1;
    const pqify_keyless_upstream *u = pick_upstream(srv, req.ski);
    if (u == NULL)
        return -1;
    struct fwd *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->srv = srv;
    f->c = c;
    f->id = req.id;
    f->opcode = req.opcode;
    if (pqify_keyless_client_submit(u->client, req.opcode, req.ski, req.payload.data,
                                    req.payload.len, on_forwarded, f) != 0) {
        free(f);
        return -1;
    }
    return 0;
}

static void send_answer(struct kconn *c, uint32_t id, uint8_t opcode, const uint8_t *payload,
                        size_t len)
{
    uint8_t out[PQIFY_KEYLESS_PADDED_BYTES + PQIFY_KEYLESS_MAX_RESULT + 64];
    size_t n = 0;
    pqify_keyless_packet p;
    pqify_keyless_packet_init(&p, id, opcode);
    p.payload.data = payload;
    p.payload.len = len;
    if (pqify_keyless_encode(&p, out, sizeof out, &n) != 0 || queue_answer(c, out, n) != 0)
        c->closing = 1;
    else
        c->srv->st.answered++;
    OPENSSL_cleanse(out, sizeof out);
}


/* On the loop: the upstreams' answers, each under its request's own id. */
static void on_fwd_async(uv_async_t *a)
{
    pqify_keyless_server *srv = a->data;
    pthread_mutex_lock(&srv->fwd_mu);
    struct fwd *f = srv->fwd_done;
    srv->fwd_done = NULL;
    pthread_mutex_unlock(&srv->fwd_mu);
    while (f != NULL) {
        struct fwd *next = f->next;
        struct kconn *c = f->c;
        uint8_t code = PQIFY_KEYLESS_E_INTERNAL; /* the upstream did not answer in time */
        int answered = f->status == 0;
        c->in_flight--;
        pqify_gauge_add(srv->met.in_flight, -1);
        srv->st.forwarded++;
        pqify_counter_add(srv->met.forwarded, 1);
        count_request(srv, f->opcode, answered ? f->result : PQIFY_KEYLESS_OP_ERROR,
                      answered ? f->error : code);
        if (c->s != NULL) {
            if (answered)
                send_answer(c, f->id, f->result, f->payload, f->len);
            else
                send_answer(c, f->id, PQIFY_KEYLESS_OP_ERROR, &code, 1);
        }
        OPENSSL_cleanse(f, sizeof *f);
        free(f);
        if (c->s == NULL) {
            if (c->in_flight == 0)
                conn_free(c);
        } else {
            process_input(c);
            maybe_finish(c);
        }
        f = next;
    }
}

static void after_work(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct kconn *c = j->c;
    pqify_keyless_server *srv = c->srv;
    if (status == 0 && j->rc == 0 && j->a.verdict == PQIFY_KEYLESS_FORWARD) {
        if (c->s != NULL && forward(srv, c, j) == 0) {
            pqify_keyless_store_release(j->store);
            free(j);
            return; /* still in flight: on_fwd_async answers it */
        }
        /* no upstream takes this key: answer as a server without proxying does */
        uint8_t code = PQIFY_KEYLESS_E_KEY_NOT_FOUND;
        pqify_keyless_packet p;
        pqify_keyless_packet_init(&p, j->a.id, PQIFY_KEYLESS_OP_ERROR);
        p.payload.data = &code;
        p.payload.len = 1;
        j->a.verdict = PQIFY_KEYLESS_REPLY;
        j->a.result = PQIFY_KEYLESS_OP_ERROR;
        j->a.error = code;
        j->rc = pqify_keyless_encode(&p, j->out, j->out_cap, &j->a.out_len);
    }
    c->in_flight--;
    pqify_gauge_add(srv->met.in_flight, -1);
    if (status == 0 && j->rc == 0) {
        count_request(srv, j->a.opcode, j->a.result, j->a.error);
        if (j->a.opcode != PQIFY_KEYLESS_OP_PING && srv->met.on) {
            const char *v[1] = {pqify_keyless_op_name(j->a.opcode)};
            pqify_histogram_observe(pqify_metric_series(srv->met.latency, 1, v), j->seconds);
        }
        if (c->s != NULL) {
            if (queue_answer(c, j->out, j->a.out_len) != 0)
                c->closing = 1;
            else
                srv->st.answered++;
        }
        if (j->a.verdict == PQIFY_KEYLESS_REPLY_CLOSE)
            c->closing = 1;
    } else {
        c->closing = 1;   /* out of room for the answer: cannot happen with out_cap (see submit) */
    }
    pqify_keyless_store_release(j->store);
    /* A decrypt's answer holds the premaster secret. */
    OPENSSL_cleanse(j->out, j->out_cap);
    free(j);
    if (c->s == NULL) {
        if (c->in_flight == 0)
            conn_free(c);
        return;
    }
    process_input(c);
    maybe_finish(c);
}

static int submit(struct kconn *c, const uint8_t *frame, size_t n)
{
    pqify_keyless_server *srv = c->srv;
    /* An answer is at most the request's payload (pong) plus its own items and
     * padding, or a signature of PQIFY_KEYLESS_MAX_RESULT bytes. */
    size_t out_cap = n + PQIFY_KEYLESS_PADDED_BYTES + PQIFY_KEYLESS_MAX_RESULT + 64;
    if (out_cap > PQIFY_KEYLESS_MAX_PACKET)
        out_cap = PQIFY_KEYLESS_MAX_PACKET;
    struct job *j = malloc(sizeof *j + n + out_cap);
    if (j == NULL)
        return PQIFY_KEYLESS_ERR_NO_MEMORY;
    memset(j, 0, sizeof *j);
    j->c = c;
    j->in_len = n;
    j->out_cap = out_cap;
    j->out = j->in + n;
    memcpy(j->in, frame, n);
    j->store = srv->store;
    pqify_keyless_store_hold(j->store);
    j->req.data = j;
    if (uv_queue_work(srv->loop, &j->req, work, after_work) != 0) {
        pqify_keyless_store_release(j->store);
        free(j);
        return PQIFY_KEYLESS_ERR_NO_MEMORY;
    }
    c->in_flight++;
    if (c->in_flight > srv->st.max_in_flight)
        srv->st.max_in_flight = c->in_flight;
    pqify_gauge_add(srv->met.in_flight, 1);
    return 0;
}

/* Frame what was read into requests while fewer than max_in_flight are on the pool. */
static void process_input(struct kconn *c)
{
    pqify_keyless_server *srv = c->srv;
    while (!c->closing && c->in_flight < srv->max_in_flight) {
        const uint8_t *p = c->in + c->off;
        size_t avail = c->len - c->off;
        size_t n = pqify_keyless_frame_len(p, avail);
        if (n == 0 || n > avail)
            break;
        pqify_keyless_packet pkt;
        if (pqify_keyless_decode(p, n, &pkt) < 0) {
            /* The framing can no longer be trusted: answer it (with the header's id)
             * after the requests before it, then close. The handler only decodes here. */
            pqify_keyless_answer a;
            c->last = malloc(PQIFY_KEYLESS_MAX_PACKET);
            if (c->last != NULL &&
                pqify_keyless_handle(srv->store, 0, p, n, c->last, PQIFY_KEYLESS_MAX_PACKET, &a) == 0) {
                c->last_len = a.out_len;
                count_request(srv, a.opcode, a.result, a.error);
            } else {
                free(c->last);
                c->last = NULL;
            }
            c->closing = 1;
            c->off += n;
            break;
        }
        if (submit(c, p, n) != 0) {
            c->closing = 1;
            break;
        }
        c->off += n;
    }
    if (c->off == c->len)
        c->off = c->len = 0;
    set_hold(c, c->closing || c->in_flight >= srv->max_in_flight);
}

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct kconn *c = ctx;
    if (c->srv->met.on)
        pqify_tls_metrics_handshake(&c->srv->met.tls, pqify_stream_conn(s), 1);
    if (pqify_conn_set_draining(&c->srv->conns)) {
        c->closing = 1;
        maybe_finish(c);
    }
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    struct kconn *c = ctx;
    if (c->closing)
        return;   /* nothing after a malformed packet or the drain is read */
    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->len + len > c->cap) {
        /* Compact first; grow only as far as what is buffered needs. */
        if (c->off > 0) {
            memmove(c->in, c->in + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (c->len + len > c->cap) {
            size_t cap = c->cap ? c->cap : 16384;
            while (cap < c->len + len)
                cap *= 2;
            uint8_t *in = realloc(c->in, cap);
            if (in == NULL) {
                pqify_stream_abort(c->s);
                return;
            }
            c->in = in;
            c->cap = cap;
        }
    }
    memcpy(c->in + c->len, data, len);
    c->len += len;
    process_input(c);
    maybe_finish(c);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s, (void)status;
    struct kconn *c = ctx;
    pqify_keyless_server *srv = c->srv;
    if (c->held)
        pqify_gauge_add(srv->met.held, -1);
    pqify_conn_set_closed(&srv->conns, &c->link);
    if (srv->listener != NULL)
        pqify_listener_done(srv->listener);
    if (c->in_flight == 0)
        conn_free(c);
    /* else the last job's after_work frees it */
}

static const pqify_stream_cbs conn_cbs = {on_handshake, on_data, NULL, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    pqify_keyless_server *srv = ctx;
    struct kconn *c = calloc(1, sizeof *c);
    if (c == NULL || pqify_conn_set_draining(&srv->conns)) {
        free(c);
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->srv = srv;
    if (pqify_stream_accept(srv->loop, fd, srv->tls, &srv->sopts, &conn_cbs, c, &c->s) != 0) {
        free(c);
        pqify_listener_done(l);
        return;
    }
    pqify_conn_set_add(&srv->conns, &c->link, c, &c->s);
}

static int metrics_init(pqify_keyless_server *srv, pqify_metrics *m)
{
    pqify_metric *req = pqify_metrics_counter(m, "pqify_keyless_requests_total",
                                              "Requests answered, by opcode and result.", "opcode,result");
    pqify_metric *lat = pqify_metrics_histogram(
        m, "pqify_keyless_sign_duration_seconds", "Time a worker spent on one operation.", "opcode",
        latency_bounds, sizeof latency_bounds / sizeof latency_bounds[0]);
    pqify_metric *inf = pqify_metrics_gauge(m, "pqify_keyless_in_flight",
                                            "Requests on the worker pool now.", NULL);
    pqify_metric *con = pqify_metrics_gauge(m, "pqify_keyless_connections",
                                            "Connections open now.", NULL);
    pqify_metric *held = pqify_metrics_gauge(
        m, "pqify_keyless_connections_held",
        "Connections not read from now: their in-flight limit is reached.", NULL);
    pqify_metric *fwd = pqify_metrics_counter(
        m, "pqify_keyless_forwarded_total",
        "Requests for keys not held here, answered by an upstream key server (proxy mode).", NULL);
    if (req == NULL || lat == NULL || inf == NULL || con == NULL || held == NULL || fwd == NULL ||
        pqify_tls_metrics_init(&srv->met.tls, m) != 0)
        return -1;
    srv->met.requests = req;
    srv->met.latency = lat;
    srv->met.in_flight = pqify_metric_series(inf, 0, NULL);
    srv->conns.open = pqify_metric_series(con, 0, NULL);
    srv->met.held = pqify_metric_series(held, 0, NULL);
    srv->met.forwarded = pqify_metric_series(fwd, 0, NULL);
    srv->met.on = 1;
    return 0;
}

int pqify_keyless_server_start(uv_loop_t *loop, const pqify_keyless_server_options *o,
                               pqify_keyless_server **out, char *err, size_t cap)
{
    if (loop == NULL || o == NULL || o->tls == NULL || o->store == NULL || out == NULL) {
        snprintf(err, cap, "keyless server: missing loop, TLS config or key store");
        return PQIFY_KEYLESS_ERR_ARG;
    }
    pqify_keyless_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        snprintf(err, cap, "keyless server: out of memory");
        return PQIFY_KEYLESS_ERR_NO_MEMORY;
    }
    srv->loop = loop;
    srv->tls = o->tls;
    srv->sopts = o->stream;
    srv->max_in_flight = o->max_in_flight ? o->max_in_flight : PQIFY_KEYLESS_PENDING_PER_CONN;
    if (o->metrics != NULL && metrics_init(srv, o->metrics) != 0) {
        snprintf(err, cap, "keyless server: cannot declare the metrics (declared twice?)");
        free(srv);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    pqify_listener_opts lo = {.host = o->host, .port = o->port,
                              .max_connections = o->max_connections};
    int rc = pqify_listener_open(loop, &lo, on_accept, srv, &srv->listener, err, cap);
    if (rc != 0) {
        free(srv);
        return rc;
    }
    srv->store = o->store;
    pqify_keyless_store_hold(srv->store);
    pthread_mutex_init(&srv->fwd_mu, NULL);
    /* Without it every answer is its own send: slower, still correct. */
    srv->flush = malloc(sizeof *srv->flush);
    if (srv->flush != NULL) {
        uv_check_init(loop, srv->flush);
        srv->flush->data = srv;
    }
    if (o->n_upstreams > 0) {
        srv->up = calloc(o->n_upstreams, sizeof *srv->up);
        if (srv->up == NULL || uv_async_init(loop, &srv->fwd_async, on_fwd_async) != 0) {
            snprintf(err, cap, "keyless server: out of memory");
            free(srv->up);
            srv->up = NULL;
            pqify_keyless_server_free(srv);
            return PQIFY_KEYLESS_ERR_NO_MEMORY;
        }
        memcpy(srv->up, o->upstreams, o->n_upstreams * sizeof *srv->up);
        srv->n_up = o->n_upstreams;
        srv->fwd_async.data = srv;
    }
    *out = srv;
    return 0;
}

void pqify_keyless_server_address(const pqify_keyless_server *s, char *out, size_t cap)
{
    if (s->listener != NULL)
        pqify_listener_address(s->listener, out, cap);
    else
        snprintf(out, cap, "-");
}

void pqify_keyless_server_swap_store(pqify_keyless_server *s, pqify_keyless_store *store)
{
    pqify_keyless_store_hold(store);
    pqify_keyless_store *old = s->store;
    s->store = store;
    pqify_keyless_store_release(old);
}

void pqify_keyless_server_get_stats(const pqify_keyless_server *s, pqify_keyless_server_stats *st)
{
    *st = s->st;
}

unsigned pqify_keyless_server_connections(const pqify_keyless_server *s)
{
    return pqify_conn_set_count(&s->conns);
}

/* No more requests: answer those in flight, then close_notify. */
static void conn_drain(void *conn)
{
    struct kconn *c = conn;
    c->closing = 1;
    set_hold(c, 1);
    maybe_finish(c);
}

void pqify_keyless_server_drain(pqify_keyless_server *s, void (*done)(void *arg), void *arg)
{
    if (s->listener != NULL)
        pqify_listener_stop(s->listener);
    pqify_conn_set_drain(&s->conns, conn_drain, done, arg);
}

void pqify_keyless_server_abort(pqify_keyless_server *s)
{
    pqify_conn_set_abort(&s->conns);
}

static void free_server(uv_handle_t *h)
{
    pqify_keyless_server *s = h->data;
    pthread_mutex_destroy(&s->fwd_mu);
    free(s->up);
    free(s);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void pqify_keyless_server_free(pqify_keyless_server *s)
{
    if (s == NULL)
        return;
    if (s->flush != NULL) {
        /* answers not yet flushed belong to connections being torn down */
        for (struct kconn *c = s->dirty; c != NULL; c = c->next_dirty)
            c->dirty = 0;
        s->dirty = NULL;
        uv_close((uv_handle_t *)s->flush, free_handle);
        s->flush = NULL;
    }
    if (s->listener != NULL)
        pqify_listener_free(s->listener);
    s->listener = NULL;
    pqify_keyless_store_release(s->store);
    s->store = NULL;
    if (s->up == NULL) {
        pthread_mutex_destroy(&s->fwd_mu);
        free(s);
        return;
    }
    pthread_mutex_lock(&s->fwd_mu);
    s->fwd_closed = 1;
    pthread_mutex_unlock(&s->fwd_mu);
    uv_close((uv_handle_t *)&s->fwd_async, free_server);
}
