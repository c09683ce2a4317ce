/*
 * The keyless client (keyless_client.h): per key server a chassis pool of TLS
 * streams (net/pool.h: dialer with back-off and jitter, handshake, redial), and on
 * top of it what the protocol needs: ids, in-flight tables, deadlines, resending
 * after a connection died, health pings and failover between servers.
 *
 * Threads: submit runs on any thread and only touches the inbox (under mu) and the
 * wake-up handle; everything else runs on the client's own loop thread.
 *
 * Ids: a request in flight on a connection sits in one of its 1024 slots; its id is
 * (sequence << 10) | slot, so an answer finds its request in O(1), and an answer
 * whose sequence does not match (its request expired, the slot was reused) is
 * dropped rather than given to the wrong request.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "internal.h"
#include "pqify/keyless_client.h"
#include "pqify/net/listener.h"
#include "pqify/net/pool.h"

#define SLOT_BITS 10u
#define SLOT_MAX (1u << SLOT_BITS) /* = the key server's 1024 in flight */
#define SLOT_MASK (SLOT_MAX - 1u)
#define SEQ_MASK ((1u << (32u - SLOT_BITS)) - 1u)
#define SWEEP_MS 20u               /* deadline resolution */
#define MAX_PAYLOAD 2048u          /* an RSA-16384 block; digests are far smaller */
#define REQ_BUF 4096u
#define TX_CAP 16384u              /* one TLS record: requests dispatched together go in one write */

struct req {
    struct req *next, *prev;
    uint64_t deadline;             /* ms on the uv_hrtime clock */
    pqify_keyless_done_fn done;
    void *arg;
    uint32_t id;                   /* while in flight */
    unsigned attempts;
    int ping;                      /* the client's own health check */
    size_t len;
    uint8_t pkt[];                 /* the encoded packet; bytes 4..7 are the id */
};

struct list {
    struct req *head, *tail;
};

struct server;

struct conn {
    struct server *srv;
    pqify_stream *s;               /* while live */
    int live;                      /* established and trusted */
    struct req *slots[SLOT_MAX];
    uint16_t free_slots[SLOT_MAX];
    unsigned n_free, in_flight;
    uint32_t seq;
    uint8_t *rx;                   /* PQIFY_KEYLESS_MAX_PACKET bytes: one frame always fits */
    size_t rx_len;
    uint8_t *tx;                   /* TX_CAP bytes: requests not yet handed to the stream */
    size_t tx_len;
    uint64_t next_ping;
    int ping_out;
    char group[48];
};

struct server {
    pqify_keyless_client *c;
    unsigned index;
    char host[256], port[16];
    pqify_pool *pool;
    struct conn *conns;
    unsigned live;
};

struct pqify_keyless_client {
    pqify_keyless_client_options o;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t sweep;
    pthread_mutex_t mu;
    struct list inbox;             /* under mu */
    int stopping;                  /* under mu */
    unsigned pending;              /* accepted, not completed; under mu */
    struct list waiting;           /* loop thread: not yet on a connection */
    int closing;                   /* loop thread */
    struct server srv[PQIFY_KEYLESS_CLIENT_MAX_SERVERS];
    size_t n_srv;
    atomic_uint up;
    atomic_uint_fast64_t st_submitted, st_answered, st_expired, st_closed, st_resent, st_connects,
        st_drops, st_pings_failed, st_unmatched;
};

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000u;
}

static void bump(atomic_uint_fast64_t *v)
{
    atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

/* ---- lists ------------------------------------------------------------------------------ */

static void list_push_tail(struct list *l, struct req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
}

static void list_remove(struct list *l, struct req *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->next = r->prev = NULL;
}

/* Move all of src to the end of dst. */
static void list_splice(struct list *dst, struct list *src)
{
    if (src->head == NULL)
        return;
    if (dst->tail != NULL) {
        dst->tail->next = src->head;
        src->head->prev = dst->tail;
    } else {
        dst->head = src->head;
    }
    dst->tail = src->tail;
    src->head = src->tail = NULL;
}

/* ---- completion: the one place a request ends ------------------------------------------- */

static void finish(pqify_keyless_client *c, struct req *r, const pqify_keyless_reply *rep)
{
    if (!r->ping) {
        if (rep->status == 0)
            bump(&c->st_answered);
        else if (rep->status == PQIFY_KEYLESS_ERR_DEADLINE)
            bump(&c->st_expired);
        else
            bump(&c->st_closed);
        r->done(r->arg, rep);
        pthread_mutex_lock(&c->mu);
        c->pending--;
        pthread_mutex_unlock(&c->mu);
    }
    free(r);
}

static void finish_error(pqify_keyless_client *c, struct req *r, int status)
{
    pqify_keyless_reply rep = {.status = status, .attempts = r->attempts, .group = ""};
    finish(c, r, &rep);
}

/* ---- connections ------------------------------------------------------------------------ */

static struct req *slot_take(struct conn *k, unsigned slot)
{
    struct req *r = k->slots[slot];
    k->slots[slot] = NULL;
    k->free_slots[k->n_free++] = (uint16_t)slot;
    k->in_flight--;
    return r;
}

/* The connection cannot be trusted or used any more: stop sending on it now; its
 * requests move on when the pool reports it down (on_down). */
static void conn_fail(struct conn *k)
{
    if (!k->live)
        return;
    k->live = 0;
    k->tx_len = 0; /* their requests sit in slots: on_down sends them elsewhere */
    k->srv->live--;
    atomic_fetch_sub(&k->srv->c->up, 1);
    pqify_stream *s = k->s;
    k->s = NULL;
    pqify_stream_abort(s);
}

static int conn_has_room(const pqify_keyless_client *c, const struct conn *k)
{
    /* half the stream's high-water mark: the stream never stops reading our answers
     * because of what we queued */
    return k->live && k->in_flight < c->o.max_in_flight && k->n_free > 0 &&
           pqify_stream_queued(k->s) < PQIFY_STREAM_DEFAULT_HIGH_WATER / 2;
}

/* Hand what was batched to the stream: one TLS record and one write for many requests. */
static void conn_flush(struct conn *k)
{
    if (k->tx_len == 0 || !k->live)
        return;
    size_t n = k->tx_len;
    k->tx_len = 0;
    if (pqify_stream_send(k->s, k->tx, n) != 0)
        conn_fail(k); /* the requests stay in their slots: on_down sends them elsewhere */
}

static void flush_all(pqify_keyless_client *c)
{
    for (size_t i = 0; i < c->n_srv; i++)
        for (unsigned j = 0; j < c->o.connections; j++)
            conn_flush(&c->srv[i].conns[j]);
}

static void conn_send(struct conn *k, struct req *r)
{
    unsigned slot = k->free_slots[--k->n_free];
    k->seq = (k->seq + 1) & SEQ_MASK;
    if (k->seq == 0)
        k->seq = 1;
    r->id = (k->seq << SLOT_BITS) | slot;
    r->pkt[4] = (uint8_t)(r->id >> 24);
    r->pkt[5] = (uint8_t)(r->id >> 16);
    r->pkt[6] = (uint8_t)(r->id >> 8);
    r->pkt[7] = (uint8_t)r->id;
    k->slots[slot] = r;
    k->in_flight++;
    r->attempts++;
    if (k->tx_len + r->len > TX_CAP)
        conn_flush(k);
    if (!k->live)
        return; /* r stays in its slot: on_down sends it elsewhere */
    memcpy(k->tx + k->tx_len, r->pkt, r->len);
    k->tx_len += r->len;
}

/* The first server with a live connection takes the work (the others are the
 * failover); among its connections the least loaded one with room. NULL: wait. */
static struct conn *pick(pqify_keyless_client *c)
{
    for (size_t i = 0; i < c->n_srv; i++) {
        struct server *sv = &c->srv[i];
        if (sv->live == 0)
            continue;
        struct conn *best = NULL;
        for (unsigned j = 0; j < c->o.connections; j++) {
            struct conn *k = &sv->conns[j];
            if (conn_has_room(c, k) && (best == NULL || k->in_flight < best->in_flight))
                best = k;
        }
        return best;
    }
    return NULL;
}

static void dispatch(pqify_keyless_client *c)
{
    pthread_mutex_lock(&c->mu);
    list_splice(&c->waiting, &c->inbox);
    pthread_mutex_unlock(&c->mu);
    if (c->closing)
        return;
    while (c->waiting.head != NULL) {
        struct conn *k = pick(c);
        if (k == NULL)
            break;
        struct req *r = c->waiting.head;
        list_remove(&c->waiting, r);
        conn_send(k, r);
    }
    flush_all(c);
}

static void on_up(pqify_pool *p, unsigned slot, pqify_stream *s, void *ctx)
{
    (void)p;
    struct server *sv = ctx;
    pqify_keyless_client *c = sv->c;
    struct conn *k = &sv->conns[slot];
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    snprintf(k->group, sizeof k->group, "%s", info.group ? info.group : "");
    k->s = s;
    k->live = 1;
    k->rx_len = 0;
    k->tx_len = 0;
    k->ping_out = 0;
    k->next_ping = now_ms() + c->o.ping_interval_ms;
    sv->live++;
    atomic_fetch_add(&c->up, 1);
    bump(&c->st_connects);
    dispatch(c);
}

/* The connection ended: every request it carried goes back to the front of the
 * queue, to be sent again on another connection. None was answered (an answer
 * takes the request out of its slot), so none is answered twice. */
static void on_down(pqify_pool *p, unsigned slot, int status, void *ctx)
{
    (void)p, (void)status;
    struct server *sv = ctx;
    pqify_keyless_client *c = sv->c;
    struct conn *k = &sv->conns[slot];
    if (k->live) {
        k->live = 0;
        sv->live--;
        atomic_fetch_sub(&c->up, 1);
    }
    k->s = NULL;
    bump(&c->st_drops);
    struct list back = {0};
    for (unsigned i = 0; i < SLOT_MAX; i++) {
        if (k->slots[i] == NULL)
            continue;
        struct req *r = slot_take(k, i);
        if (r->ping) {
            free(r);
        } else {
            list_push_tail(&back, r);
            bump(&c->st_resent);
        }
    }
    k->ping_out = 0;
    list_splice(&back, &c->waiting);
    c->waiting = back;
    dispatch(c);
}

static void answer(struct conn *k, const uint8_t *frame, size_t n)
{
    pqify_keyless_client *c = k->srv->c;
    pqify_keyless_packet p;
    if (pqify_keyless_decode(frame, n, &p) != 0) {
        conn_fail(k); /* a server that sends garbage gets no more requests */
        return;
    }
    unsigned slot = p.id & SLOT_MASK;
    struct req *r = k->slots[slot];
    if (r == NULL || r->id != p.id) {
        bump(&c->st_unmatched);
        return;
    }
    slot_take(k, slot);
    if (r->ping) {
        k->ping_out = 0;
        free(r);
        return;
    }
    pqify_keyless_reply rep = {
        .status = 0,
        .opcode = p.opcode,
        .error = p.opcode == PQIFY_KEYLESS_OP_ERROR && p.payload.len == 1 ? p.payload.data[0] : 0,
        .payload = p.payload.data,
        .len = p.payload.len,
        .server = k->srv->index,
        .attempts = r->attempts,
        .group = k->group,
    };
    finish(c, r, &rep);
}

static void on_data(pqify_pool *p, unsigned slot, const uint8_t *data, size_t len, void *ctx)
{
    (void)p;
    struct server *sv = ctx;
    struct conn *k = &sv->conns[slot];
    while (len > 0 && k->live) {
        size_t take = PQIFY_KEYLESS_MAX_PACKET - k->rx_len;
        if (take > len)
            take = len;
        memcpy(k->rx + k->rx_len, data, take);
        k->rx_len += take;
        data += take;
        len -= take;
        size_t off = 0;
        while (k->live) {
            size_t n = pqify_keyless_frame_len(k->rx + off, k->rx_len - off);
            if (n == 0 || n > k->rx_len - off)
                break;
            answer(k, k->rx + off, n);
            off += n;
        }
        memmove(k->rx, k->rx + off, k->rx_len - off);
        k->rx_len -= off;
    }
    dispatch(sv->c);
}

/* ---- deadlines and health checks ------------------------------------------------------- */

static int make_req(uint8_t opcode, const uint8_t *ski, const uint8_t *payload, size_t len,
                    struct req **out)
{
    int ret = 0;
    uint8_t buf[REQ_BUF];
    size_t n = 0;
    pqify_keyless_packet p;
    pqify_keyless_packet_init(&p, 0, opcode);
    if (ski != NULL)
        memcpy(p.ski, ski, sizeof p.ski);
    p.payload.data = payload;
    p.payload.len = len;
    TRY(pqify_keyless_encode(&p, buf, sizeof buf, &n));
    struct req *r = calloc(1, sizeof *r + n);
    ENSURE(r != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    memcpy(r->pkt, buf, n);
    r->len = n;
    *out = r;
out:
    return ret;
}

static void ping(pqify_keyless_client *c, struct conn *k, uint64_t now)
{
    struct req *r = NULL;
    k->next_ping = now + c->o.ping_interval_ms;
    if (make_req(PQIFY_KEYLESS_OP_PING, NULL, NULL, 0, &r) != 0)
        return;
    r->ping = 1;
    r->deadline = now + c->o.deadline_ms;
    k->ping_out = 1;
    conn_send(k, r);
}

static void on_sweep(uv_timer_t *t)
{
    pqify_keyless_client *c = t->data;
    uint64_t now = now_ms();
    pthread_mutex_lock(&c->mu);
    list_splice(&c->waiting, &c->inbox);
    pthread_mutex_unlock(&c->mu);
    for (struct req *r = c->waiting.head, *next; r != NULL; r = next) {
        next = r->next;
        if (now >= r->deadline) {
            list_remove(&c->waiting, r);
            finish_error(c, r, PQIFY_KEYLESS_ERR_DEADLINE);
        }
    }
    for (size_t i = 0; i < c->n_srv; i++) {
        for (unsigned j = 0; j < c->o.connections; j++) {
            struct conn *k = &c->srv[i].conns[j];
            for (unsigned s = 0; k->live && k->in_flight > 0 && s < SLOT_MAX; s++) {
                struct req *r = k->slots[s];
                if (r == NULL || now < r->deadline)
                    continue;
                if (r->ping) { /* no pong in time: the peer is gone or wedged */
                    bump(&c->st_pings_failed);
                    conn_fail(k);
                    break;
                }
                finish_error(c, slot_take(k, s), PQIFY_KEYLESS_ERR_DEADLINE);
            }
            if (k->live && !k->ping_out && now >= k->next_ping && conn_has_room(c, k))
                ping(c, k, now);
        }
    }
    dispatch(c);
}

/* ---- the thread, start and stop ----------------------------------------------------------- */

static void on_closed_handle(uv_handle_t *h)
{
    (void)h;
}

static void begin_close(pqify_keyless_client *c)
{
    if (c->closing)
        return;
    pthread_mutex_lock(&c->mu);
    list_splice(&c->waiting, &c->inbox);
    pthread_mutex_unlock(&c->mu);
    c->closing = 1;
    while (c->waiting.head != NULL) {
        struct req *r = c->waiting.head;
        list_remove(&c->waiting, r);
        finish_error(c, r, PQIFY_KEYLESS_ERR_CLOSED);
    }
    for (size_t i = 0; i < c->n_srv; i++) {
        struct server *sv = &c->srv[i];
        for (unsigned j = 0; j < c->o.connections; j++)
            for (unsigned s = 0; s < SLOT_MAX; s++)
                if (sv->conns[j].slots[s] != NULL)
                    finish_error(c, slot_take(&sv->conns[j], s), PQIFY_KEYLESS_ERR_CLOSED);
        pqify_pool_free(sv->pool);
        sv->pool = NULL;
    }
    uv_timer_stop(&c->sweep);
    uv_close((uv_handle_t *)&c->sweep, on_closed_handle);
    uv_close((uv_handle_t *)&c->wake, on_closed_handle);
}

static void on_wake(uv_async_t *a)
{
    pqify_keyless_client *c = a->data;
    pthread_mutex_lock(&c->mu);
    int stop = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (stop)
        begin_close(c);
    else
        dispatch(c);
}

static void run(void *arg)
{
    pqify_keyless_client *c = arg;
    /* A write to a key server that died raises SIGPIPE in the writing thread; a
     * library must not kill its host for that (nor change the process's handlers):
     * blocked here, the write fails with EPIPE and the connection is redialled. */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    for (size_t i = 0; i < c->n_srv; i++)
        if (pqify_pool_start(c->srv[i].pool) != 0)
            break; /* the sweep expires what cannot be sent */
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

static void free_servers(pqify_keyless_client *c)
{
    for (size_t i = 0; i < c->n_srv; i++) {
        struct server *sv = &c->srv[i];
        if (sv->conns != NULL)
            for (unsigned j = 0; j < c->o.connections; j++) {
                free(sv->conns[j].rx);
                free(sv->conns[j].tx);
            }
        free(sv->conns);
    }
}

pqify_keyless_client *pqify_keyless_client_new(const pqify_keyless_client_options *o, char *err,
                                               size_t cap)
{
    if (o == NULL || o->servers == NULL || o->n_servers == 0 ||
        o->n_servers > PQIFY_KEYLESS_CLIENT_MAX_SERVERS || o->tls == NULL) {
        kl_err(err, cap, "keyless client: 1 to %d servers and a TLS config are needed",
               PQIFY_KEYLESS_CLIENT_MAX_SERVERS);
        return NULL;
    }
    if (o->max_in_flight > SLOT_MAX) {
        kl_err(err, cap, "keyless client: max_in_flight %u is above the key server's %u",
               o->max_in_flight, SLOT_MAX);
        return NULL;
    }
    pqify_keyless_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        kl_err(err, cap, "keyless client: out of memory");
        return NULL;
    }
    c->o = *o;
    c->o.servers = NULL;
    if (c->o.connections == 0)
        c->o.connections = 1;
    if (c->o.max_in_flight == 0)
        c->o.max_in_flight = 128;
    if (c->o.max_pending == 0)
        c->o.max_pending = 65536;
    if (c->o.deadline_ms == 0)
        c->o.deadline_ms = 5000;
    if (c->o.ping_interval_ms == 0)
        c->o.ping_interval_ms = 10000;
    if (c->o.connect_timeout_ms == 0)
        c->o.connect_timeout_ms = 5000;
    if (c->o.backoff_base_ms == 0)
        c->o.backoff_base_ms = 50;
    if (c->o.backoff_cap_ms < c->o.backoff_base_ms)
        c->o.backoff_cap_ms = c->o.backoff_base_ms > 5000 ? c->o.backoff_base_ms : 5000;
    c->n_srv = o->n_servers;
    for (size_t i = 0; i < c->n_srv; i++) {
        struct server *sv = &c->srv[i];
        sv->c = c;
        sv->index = (unsigned)i;
        if (o->servers[i] == NULL ||
            pqify_net_split_hostport(o->servers[i], sv->host, sizeof sv->host, sv->port,
                                     sizeof sv->port) != 0) {
            kl_err(err, cap, "keyless client: '%s' is not HOST:PORT",
                   o->servers[i] ? o->servers[i] : "(null)");
            free_servers(c);
            free(c);
            return NULL;
        }
        sv->conns = calloc(c->o.connections, sizeof *sv->conns);
        if (sv->conns == NULL)
            goto oom;
        for (unsigned j = 0; j < c->o.connections; j++) {
            struct conn *k = &sv->conns[j];
            k->srv = sv;
            k->rx = malloc(PQIFY_KEYLESS_MAX_PACKET);
            k->tx = malloc(TX_CAP);
            if (k->rx == NULL || k->tx == NULL)
                goto oom;
            for (unsigned s = 0; s < SLOT_MAX; s++)
                k->free_slots[s] = (uint16_t)(SLOT_MAX - 1 - s);
            k->n_free = SLOT_MAX;
        }
    }
    if (uv_loop_init(&c->loop) != 0)
        goto oom;
    pthread_mutex_init(&c->mu, NULL);
    uv_async_init(&c->loop, &c->wake, on_wake);
    c->wake.data = c;
    uv_timer_init(&c->loop, &c->sweep);
    c->sweep.data = c;
    uv_timer_start(&c->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    size_t made = 0;
    for (; made < c->n_srv; made++) {
        struct server *sv = &c->srv[made];
        pqify_pool_opts po = {
            .host = sv->host,
            .port = sv->port,
            .size = c->o.connections,
            .cfg = c->o.tls,
            .stream = {.handshake_timeout_ms = c->o.connect_timeout_ms},
            .dial = {.connect_timeout_ms = c->o.connect_timeout_ms,
                     .backoff_base_ms = c->o.backoff_base_ms,
                     .backoff_cap_ms = c->o.backoff_cap_ms},
            .on_up = on_up,
            .on_down = on_down,
            .on_data = on_data,
            .ctx = sv,
        };
        sv->pool = pqify_pool_new(&c->loop, &po);
        if (sv->pool == NULL)
            break;
    }
    if (made < c->n_srv || uv_thread_create(&c->thread, run, c) != 0) {
        /* close what was made on this thread, then give up */
        c->closing = 1;
        for (size_t i = 0; i < made; i++)
            pqify_pool_free(c->srv[i].pool);
        uv_close((uv_handle_t *)&c->sweep, on_closed_handle);
        uv_close((uv_handle_t *)&c->wake, on_closed_handle);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        uv_loop_close(&c->loop);
        pthread_mutex_destroy(&c->mu);
        goto oom;
    }
    return c;
oom:
    kl_err(err, cap, "keyless client: out of memory");
    free_servers(c);
    free(c);
    return NULL;
}

int pqify_keyless_client_submit(pqify_keyless_client *c, uint8_t opcode,
                                const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES], const uint8_t *payload,
                                size_t len, pqify_keyless_done_fn done, void *arg)
{
    int ret = 0;
    struct req *r = NULL;
    ENSURE(c != NULL && done != NULL && opcode != 0 && (len == 0 || payload != NULL),
           PQIFY_KEYLESS_ERR_ARG);
    ENSURE(ski != NULL || opcode == PQIFY_KEYLESS_OP_PING, PQIFY_KEYLESS_ERR_ARG);
    ENSURE(len <= MAX_PAYLOAD, PQIFY_KEYLESS_ERR_TOO_LARGE);
    TRY(make_req(opcode, ski, payload, len, &r));
    r->done = done;
    r->arg = arg;
    r->deadline = now_ms() + c->o.deadline_ms;
    pthread_mutex_lock(&c->mu);
    if (c->stopping)
        ret = PQIFY_KEYLESS_ERR_CLOSED;
    else if (c->pending >= c->o.max_pending)
        ret = PQIFY_KEYLESS_ERR_BUSY;
    if (ret == 0) {
        list_push_tail(&c->inbox, r);
        c->pending++;
        r = NULL;
        bump(&c->st_submitted);
        uv_async_send(&c->wake); /* under mu: the handle is not closed before stopping is seen */
    }
    pthread_mutex_unlock(&c->mu);
out:
    free(r);
    return ret;
}

unsigned pqify_keyless_client_up(const pqify_keyless_client *c)
{
    return atomic_load(&c->up);
}

void pqify_keyless_client_get_stats(const pqify_keyless_client *c, pqify_keyless_client_stats *st)
{
    pqify_keyless_client *m = (pqify_keyless_client *)c;
    st->submitted = atomic_load(&m->st_submitted);
    st->answered = atomic_load(&m->st_answered);
    st->expired = atomic_load(&m->st_expired);
    st->closed = atomic_load(&m->st_closed);
    st->resent = atomic_load(&m->st_resent);
    st->connects = atomic_load(&m->st_connects);
    st->drops = atomic_load(&m->st_drops);
    st->pings_failed = atomic_load(&m->st_pings_failed);
    st->unmatched = atomic_load(&m->st_unmatched);
}

void pqify_keyless_client_free(pqify_keyless_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    uv_async_send(&c->wake);
    pthread_mutex_unlock(&c->mu);
    uv_thread_join(&c->thread);
    uv_loop_close(&c->loop);
    pthread_mutex_destroy(&c->mu);
    free_servers(c);
    free(c);
}
