/*
 * A service's live connections (net/conn_set.h) over real loopback streams: the drain
 * hands established streams to the service and aborts handshakes in progress, waits
 * for a member whose stream closed but whose work is still in flight, and runs its
 * done callback exactly once; the gauge counts open streams; abort closes every one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "net/net_test.h"
#include "tls/tls_test.h"
#include "pqify/net/conn_set.h"
#include "pqify/net/dialer.h"
#include "pqify/net/listener.h"
#include "pqify/net/stream.h"

struct env;

/* A server-side connection as a service keeps it. */
struct sconn {
    pqify_conn_link link;
    pqify_stream *s;
    struct env *e;
    int finished, hold;       /* hold: "work in flight" keeps it a member after close */
    int status;
};

struct env {
    tt_ca ca;
    tt_identity id;
    uv_loop_t loop;
    pqify_listener *listener;
    pqify_dialer *dialer;
    pqify_tls_config *scfg, *ccfg;
    pqify_metrics *m;
    pqify_conn_set set;
    struct sconn *accepted[4];
    int n_accepted, n_established, n_closed, n_freed, done_calls;
    pqify_stream *client;
    int client_up, client_closed, client_status;
};

static void s_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    ((struct sconn *)ctx)->e->n_established++;
}

static void s_data(pqify_stream *s, const uint8_t *d, size_t n, void *ctx)
{
    (void)s, (void)d, (void)n, (void)ctx;
}

static void sconn_free(struct sconn *c)
{
    c->e->n_freed++;
    pqify_conn_set_remove(&c->e->set, &c->link);
}

static void s_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct sconn *c = ctx;
    c->status = status;
    c->e->n_closed++;
    pqify_conn_set_closed(&c->e->set, &c->link);
    assert_null(c->s);
    pqify_listener_done(c->e->listener);
    if (!c->hold)
        sconn_free(c);
}

static const pqify_stream_cbs s_cbs = {s_handshake, s_data, NULL, s_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)l, (void)peer;
    struct env *e = ctx;
    assert_true(e->n_accepted < 4);
    struct sconn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->e = e;
    e->accepted[e->n_accepted++] = c;
    pqify_stream_opts o = {.handshake_timeout_ms = 10000};
    assert_int_equal(pqify_stream_accept(&e->loop, fd, e->scfg, &o, &s_cbs, c, &c->s), 0);
    pqify_conn_set_add(&e->set, &c->link, c, &c->s);
}

static void c_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    ((struct env *)ctx)->client_up = 1;
}

static void c_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct env *e = ctx;
    e->client_closed = 1;
    e->client_status = status;
    e->client = NULL;
}

static const pqify_stream_cbs c_cbs = {c_handshake, s_data, NULL, c_close};

static void on_dialled(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    struct env *e = ctx;
    assert_int_equal(status, 0);
    pqify_stream_opts co = {.handshake_timeout_ms = 5000};
    assert_int_equal(pqify_stream_connect(&e->loop, tcp, e->ccfg, &co, &c_cbs, e, &e->client), 0);
}

static void on_done(void *arg)
{
    ((struct env *)arg)->done_calls++;
}

/* The service's finish: what is in flight is answered, then close_notify. */
static void finish(void *conn)
{
    struct sconn *c = conn;
    c->finished = 1;
    pqify_stream_close(c->s);
}

static int raw_connect(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* One established connection (a TLS client) and one handshake in progress (a raw
 * socket that says nothing). */
static int env_start(struct env *e)
{
    memset(e, 0, sizeof *e);
    uv_loop_init(&e->loop);
    tt_ca_new(&e->ca, "pqify conn_set CA");
    tt_identity_new(&e->id, &e->ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    e->scfg = tt_server_config(&e->id);
    e->ccfg = tt_client_config(&e->ca, "server.test");
    e->m = pqify_metrics_new();
    pqify_metric *g = pqify_metrics_gauge(e->m, "test_connections", "Open.", NULL);
    assert_non_null(g);
    e->set.open = pqify_metric_series(g, 0, NULL);
    char err[256], port[16];
    pqify_listener_opts lo = {.host = "127.0.0.1", .port = "0"};
    assert_int_equal(pqify_listener_open(&e->loop, &lo, on_accept, e, &e->listener, err, sizeof err), 0);
    snprintf(port, sizeof port, "%u", pqify_listener_port(e->listener));
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .max_attempts = 1};
    e->dialer = pqify_dialer_new(&e->loop, &o, on_dialled, e);
    assert_int_equal(pqify_dialer_start(e->dialer), 0);
    assert_true(nt_run_until(&e->loop, &e->client_up, 5000));
    int fd = raw_connect(pqify_listener_port(e->listener));
    for (int i = 0; i < 100 && e->n_accepted < 2; i++)
        nt_run_for(&e->loop, 20);
    assert_int_equal(e->n_accepted, 2);
    assert_int_equal(e->n_established, 1);
    assert_int_equal(pqify_conn_set_count(&e->set), 2);
    assert_true(pqify_gauge_value(e->set.open) == 2.0);
    return fd;
}

static void env_end(struct env *e, int fd)
{
    close(fd);
    if (e->client != NULL)
        pqify_stream_abort(e->client);
    pqify_listener_free(e->listener);
    pqify_dialer_free(e->dialer);
    nt_loop_close(&e->loop);
    for (int i = 0; i < e->n_accepted; i++)
        free(e->accepted[i]);
    pqify_metrics_free(e->m);
    pqify_tls_config_free(e->scfg);
    pqify_tls_config_free(e->ccfg);
    tt_identity_free(&e->id);
    tt_ca_free(&e->ca);
}

static void drain_finishes_established_and_aborts_handshakes(void **state)
{
    (void)state;
    struct env e;
    int fd = env_start(&e);
    struct sconn *tls = e.accepted[0], *raw = e.accepted[1];
    tls->hold = 1;   /* its work outlives its stream */
    pqify_conn_set_drain(&e.set, finish, on_done, &e);
    assert_true(pqify_conn_set_draining(&e.set));
    assert_int_equal(tls->finished, 1);
    assert_int_equal(raw->finished, 0);
    assert_true(nt_run_until(&e.loop, &e.client_closed, 5000));
    for (int i = 0; i < 100 && e.n_closed < 2; i++)
        nt_run_for(&e.loop, 20);
    assert_int_equal(e.n_closed, 2);
    assert_int_equal(e.client_status, 0);                 /* close_notify reached the client */
    assert_int_equal(raw->status, PQIFY_STREAM_ABORTED);  /* the handshake was dropped */
    char b;
    assert_true(read(fd, &b, 1) <= 0);
    assert_true(pqify_gauge_value(e.set.open) == 0.0);
    /* the held one is still a member: not drained yet */
    assert_int_equal(pqify_conn_set_count(&e.set), 1);
    assert_int_equal(e.done_calls, 0);
    sconn_free(tls);
    assert_int_equal(pqify_conn_set_count(&e.set), 0);
    assert_int_equal(e.done_calls, 1);
    nt_run_for(&e.loop, 50);
    assert_int_equal(e.done_calls, 1);
    env_end(&e, fd);
}

static void drain_of_an_empty_set_is_done_at_once(void **state)
{
    (void)state;
    struct env e;
    memset(&e, 0, sizeof e);
    pqify_conn_set_drain(&e.set, finish, on_done, &e);
    assert_true(pqify_conn_set_draining(&e.set));
    assert_int_equal(e.done_calls, 1);
}

static void abort_closes_every_stream(void **state)
{
    (void)state;
    struct env e;
    int fd = env_start(&e);
    pqify_conn_set_abort(&e.set);
    for (int i = 0; i < 100 && e.n_closed < 2; i++)
        nt_run_for(&e.loop, 20);
    assert_int_equal(e.n_closed, 2);
    assert_int_equal(e.accepted[0]->status, PQIFY_STREAM_ABORTED);
    assert_int_equal(e.accepted[1]->status, PQIFY_STREAM_ABORTED);
    assert_int_equal(e.n_freed, 2);
    assert_int_equal(pqify_conn_set_count(&e.set), 0);
    assert_true(pqify_gauge_value(e.set.open) == 0.0);
    assert_int_equal(e.done_calls, 0);   /* not draining: nobody to tell */
    env_end(&e, fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(drain_finishes_established_and_aborts_handshakes),
        cmocka_unit_test(drain_of_an_empty_set_is_done_at_once),
        cmocka_unit_test(abort_closes_every_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
