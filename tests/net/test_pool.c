/*
 * The pool (net/pool.h) against a TLS echo server on the same loop: all N come up,
 * the server "restarts" (its listener and every connection go away, then it listens
 * again on the same port) and the pool reconnects all N by itself, with data
 * flowing over the new connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_test.h"
#include "tls/tls_test.h"
#include "pqify/net/listener.h"
#include "pqify/net/pool.h"

static tt_ca ca;
static tt_identity server_id;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify pool CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&server_id);
    tt_ca_free(&ca);
    return 0;
}

#define MAX_CONNS 16

struct server {
    uv_loop_t *loop;
    pqify_listener *l;
    pqify_tls_config *cfg;
    pqify_stream *conns[MAX_CONNS];
    int open;
    unsigned accepted;
};

static void srv_on_data(pqify_stream *s, const uint8_t *d, size_t n, void *ctx)
{
    (void)ctx;
    assert_int_equal(pqify_stream_send(s, d, n), 0);
}

static void srv_on_close(pqify_stream *s, int status, void *ctx)
{
    (void)status;
    struct server *sv = ctx;
    for (int i = 0; i < MAX_CONNS; i++)
        if (sv->conns[i] == s)
            sv->conns[i] = NULL;
    sv->open--;
}

static const pqify_stream_cbs srv_cbs = {NULL, srv_on_data, NULL, srv_on_close};

static void srv_on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    struct server *sv = ctx;
    pqify_listener_done(l);
    pqify_stream *s;
    assert_int_equal(pqify_stream_accept(sv->loop, fd, sv->cfg, NULL, &srv_cbs, sv, &s), 0);
    for (int i = 0; i < MAX_CONNS; i++)
        if (sv->conns[i] == NULL) {
            sv->conns[i] = s;
            break;
        }
    sv->open++;
    sv->accepted++;
}

static void server_listen(struct server *sv, const char *port)
{
    char err[256];
    pqify_listener_opts o = {.host = "127.0.0.1", .port = port};
    assert_int_equal(pqify_listener_open(sv->loop, &o, srv_on_accept, sv, &sv->l, err, sizeof err), 0);
}

/* The server goes away: no listener, every connection cut (no close_notify). */
static void server_crash(struct server *sv)
{
    pqify_listener_free(sv->l);
    sv->l = NULL;
    for (int i = 0; i < MAX_CONNS; i++)
        if (sv->conns[i] != NULL)
            pqify_stream_abort(sv->conns[i]);
}

struct watch {
    unsigned want;
    int reached;
    pqify_pool *pool;
    unsigned downs;
    char echoed[64];
    size_t echoed_len;
};

static void on_up(pqify_pool *p, unsigned slot, pqify_stream *s, void *ctx)
{
    (void)slot, (void)s;
    struct watch *w = ctx;
    w->reached = pqify_pool_up(p) == w->want;
}

static void on_down(pqify_pool *p, unsigned slot, int status, void *ctx)
{
    (void)slot, (void)status;
    struct watch *w = ctx;
    w->downs++;
    w->reached = pqify_pool_up(p) == w->want;
}

static void on_data(pqify_pool *p, unsigned slot, const uint8_t *d, size_t n, void *ctx)
{
    (void)p, (void)slot;
    struct watch *w = ctx;
    if (n <= sizeof w->echoed - w->echoed_len) {
        memcpy(w->echoed + w->echoed_len, d, n);
        w->echoed_len += n;
    }
}

static void reconnects_after_peer_restart(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct server sv = {.loop = &loop, .cfg = tt_server_config(&server_id)};
    server_listen(&sv, "0");
    char port[16];
    snprintf(port, sizeof port, "%u", pqify_listener_port(sv.l));

    pqify_tls_config *ccfg = tt_client_config(&ca, "server.test");
    struct watch w = {.want = 3};
    pqify_pool_opts o = {.host = "127.0.0.1", .port = port, .size = 3, .cfg = ccfg,
                         .on_up = on_up, .on_down = on_down, .on_data = on_data, .ctx = &w};
    o.dial.backoff_base_ms = 10;
    o.dial.backoff_cap_ms = 100;
    o.dial.healthy_after_ms = 1;
    pqify_pool *p = pqify_pool_new(&loop, &o);
    assert_non_null(p);
    w.pool = p;
    assert_int_equal(pqify_pool_up(p), 0);
    assert_int_equal(pqify_pool_start(p), 0);
    assert_true(nt_run_until(&loop, &w.reached, 10000));
    assert_int_equal(pqify_pool_up(p), 3);
    assert_int_equal(sv.accepted, 3);

    /* The peer dies: all three go down, and nothing comes up while it is away. */
    server_crash(&sv);
    w.want = 0;
    w.reached = 0;
    assert_true(nt_run_until(&loop, &w.reached, 10000));
    assert_int_equal(w.downs, 3);
    assert_null(pqify_pool_pick(p));
    nt_run_for(&loop, 200);   /* refused dials meanwhile, backing off */
    assert_int_equal(pqify_pool_up(p), 0);
    pqify_pool_stats st;
    pqify_pool_get_stats(p, &st);
    assert_true(st.dial_failures >= 3);

    /* It comes back on the same port: the pool refills by itself. */
    server_listen(&sv, port);
    w.want = 3;
    w.reached = 0;
    assert_true(nt_run_until(&loop, &w.reached, 10000));
    pqify_pool_get_stats(p, &st);
    assert_int_equal(st.up, 3);
    assert_int_equal(st.connects, 6);
    assert_int_equal(st.drops, 3);
    assert_int_equal(sv.accepted, 6);

    /* And carries data. */
    pqify_stream *s = pqify_pool_pick(p);
    assert_non_null(s);
    assert_int_equal(pqify_stream_send(s, "ping", 4), 0);
    for (int i = 0; i < 200 && w.echoed_len < 4; i++)
        nt_run_for(&loop, 10);
    assert_int_equal(w.echoed_len, 4);
    assert_memory_equal(w.echoed, "ping", 4);

    pqify_pool_free(p);
    for (int i = 0; i < 300 && sv.open > 0; i++)
        nt_run_for(&loop, 10);
    assert_int_equal(sv.open, 0);
    pqify_listener_free(sv.l);
    nt_loop_close(&loop);
    pqify_tls_config_free(sv.cfg);
    pqify_tls_config_free(ccfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reconnects_after_peer_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
