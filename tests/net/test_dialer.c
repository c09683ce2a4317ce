/*
 * The dialer and its back-off (net/dialer.h): the full-jitter schedule with an
 * injected clock and random source, retries against a refused port, the connect
 * timeout against a peer whose accept queue is full, and the back-off reset after
 * a connection that stayed up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_test.h"
#include "pqify/net/dialer.h"

/* A clock the test moves by hand. */
static uint64_t fake_now(void *ctx)
{
    return *(uint64_t *)ctx;
}

/* A random source that replays a list, then repeats its last value. */
struct script {
    const uint64_t *v;
    size_t n, i;
};

static uint64_t scripted(void *ctx)
{
    struct script *s = ctx;
    uint64_t r = s->v[s->i < s->n ? s->i : s->n - 1];
    s->i++;
    return r;
}

static void ceiling_doubles_to_the_cap(void **state)
{
    (void)state;
    pqify_backoff b;
    pqify_backoff_init(&b, 100, 30000, NULL, NULL, NULL, NULL);
    /* 100 * 2^n: 100 200 400 ... 25600, then the 30 s cap for ever (no overflow). */
    const uint64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (unsigned n = 0; n < sizeof want / sizeof want[0]; n++)
        assert_int_equal(pqify_backoff_ceiling(&b, n), want[n]);
    assert_int_equal(pqify_backoff_ceiling(&b, 200), 30000);
    assert_int_equal(pqify_backoff_ceiling(&b, UINT32_MAX), 30000);
}

static void full_jitter_with_injected_clock(void **state)
{
    (void)state;
    uint64_t now = 5000;
    /* Draws chosen against the ceilings 100, 200, 400, 800: the top of the range,
     * the bottom, a value that wraps (1000 mod 401 = 198) and 0. */
    const uint64_t draws[] = {100, 201, 1000, 0};
    struct script s = {draws, 4, 0};
    pqify_backoff b;
    pqify_backoff_init(&b, 100, 30000, fake_now, &now, scripted, &s);

    assert_int_equal(pqify_backoff_remaining(&b), 0);   /* nothing failed yet */
    assert_int_equal(pqify_backoff_failed(&b), 100);
    assert_int_equal(b.not_before_ms, 5100);
    assert_int_equal(pqify_backoff_remaining(&b), 100);
    now += 99;
    assert_int_equal(pqify_backoff_remaining(&b), 1);
    now += 1;
    assert_int_equal(pqify_backoff_remaining(&b), 0);
    now += 1000;                                         /* late is fine too */
    assert_int_equal(pqify_backoff_remaining(&b), 0);

    assert_int_equal(pqify_backoff_failed(&b), 0);       /* 201 mod 201 */
    assert_int_equal(pqify_backoff_remaining(&b), 0);
    assert_int_equal(pqify_backoff_failed(&b), 198);     /* 1000 mod 401 */
    assert_int_equal(pqify_backoff_remaining(&b), 198);
    assert_int_equal(b.failures, 3);

    pqify_backoff_reset(&b);
    assert_int_equal(b.failures, 0);
    assert_int_equal(pqify_backoff_remaining(&b), 0);
    assert_int_equal(pqify_backoff_failed(&b), 0);
}

/* Every wait stays within [0, ceiling] and the default source is not constant. */
static void default_source_stays_in_range(void **state)
{
    (void)state;
    pqify_backoff b;
    pqify_backoff_init(&b, 10, 1000, NULL, NULL, NULL, NULL);
    uint64_t first = 0;
    int differs = 0;
    for (int i = 0; i < 200; i++) {
        unsigned n = b.failures;
        uint64_t w = pqify_backoff_failed(&b);
        assert_true(w <= pqify_backoff_ceiling(&b, n));
        if (i >= 7 && first == 0)
            first = w + 1;
        else if (i > 7 && w + 1 != first)
            differs = 1;
    }
    assert_true(differs);
}

/* ---- the dialer on a loop -------------------------------------------------------- */

struct run {
    int done, status, retries, connects;
    int retry_status[16];
    uint64_t retry_delay[16];
    uv_tcp_t *tcp;
};

static void on_dial(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    struct run *r = ctx;
    r->done = 1;
    r->status = status;
    r->tcp = tcp;
    if (status == 0)
        r->connects++;
}

static void on_retry(pqify_dialer *d, int status, uint64_t delay_ms, void *ctx)
{
    (void)d;
    struct run *r = ctx;
    if (r->retries < 16) {
        r->retry_status[r->retries] = status;
        r->retry_delay[r->retries] = delay_ms;
    }
    r->retries++;
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* A port nothing listens on: bind one, read it back, close it. */
static unsigned closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int raw_listener(int backlog, unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void retries_refused_port_on_schedule(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char port[16];
    snprintf(port, sizeof port, "%u", closed_port());
    uint64_t now = 0;
    /* base 2, cap 8: ceilings 2, 4, 8; draws 7 -> 7 mod 3 = 1, 7 mod 5 = 2, 7 mod 9 = 7. */
    const uint64_t draws[] = {7};
    struct script s = {draws, 1, 0};
    struct run r = {0};
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .backoff_base_ms = 2,
                           .backoff_cap_ms = 8, .max_attempts = 4, .now = fake_now,
                           .clock_ctx = &now, .rand = scripted, .rand_ctx = &s,
                           .on_retry = on_retry};
    pqify_dialer *d = pqify_dialer_new(&loop, &o, on_dial, &r);
    assert_non_null(d);
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_true(nt_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.status, UV_ECONNREFUSED);
    assert_null(r.tcp);
    assert_int_equal(r.retries, 3);   /* four attempts, three waits between them */
    const uint64_t want[] = {1, 2, 7};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.retry_status[i], UV_ECONNREFUSED);
        assert_int_equal(r.retry_delay[i], want[i]);
    }
    pqify_dialer_free(d);
    nt_loop_close(&loop);
}

static void connect_timeout_when_queue_is_full(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    unsigned p;
    /* backlog 0: the accept queue holds one connection; Linux then drops SYNs
     * (tcp_abort_on_overflow = 0), so a further connect neither succeeds nor fails. */
    int lfd = raw_listener(0, &p);
    int fillers[4];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fillers[i], (struct sockaddr *)&a, sizeof a);
    }
    nt_run_for(&loop, 100);
    char port[16];
    snprintf(port, sizeof port, "%u", p);
    struct run r = {0};
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .connect_timeout_ms = 300,
                           .max_attempts = 1};
    pqify_dialer *d = pqify_dialer_new(&loop, &o, on_dial, &r);
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_true(nt_run_until(&loop, &r.done, 10000));
    assert_int_equal(r.status, UV_ETIMEDOUT);
    pqify_dialer_free(d);
    nt_loop_close(&loop);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void reset_only_after_a_healthy_connection(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    unsigned p;
    int lfd = raw_listener(16, &p);
    char port[16];
    snprintf(port, sizeof port, "%u", p);
    uint64_t now = 1000;
    const uint64_t draws[] = {0};
    struct script s = {draws, 1, 0};
    struct run r = {0};
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .backoff_base_ms = 50,
                           .healthy_after_ms = 1000, .now = fake_now, .clock_ctx = &now,
                           .rand = scripted, .rand_ctx = &s, .on_retry = on_retry};
    pqify_dialer *d = pqify_dialer_new(&loop, &o, on_dial, &r);
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_true(nt_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.status, 0);
    assert_non_null(r.tcp);
    /* TCP_NODELAY on the dialled socket too. */
    uv_os_fd_t fd;
    assert_int_equal(uv_fileno((uv_handle_t *)r.tcp, &fd), 0);
    int nodelay = 0;
    socklen_t nl = sizeof nodelay;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl), 0);
    assert_int_equal(nodelay, 1);

    /* Dropped after 5 ms: redialling counts it as a failure and waits. */
    uv_close((uv_handle_t *)r.tcp, free_handle);
    now += 5;
    r.done = 0;
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_int_equal(r.retries, 1);
    assert_int_equal(r.retry_status[0], UV_ECONNRESET);
    assert_int_equal(pqify_dialer_backoff(d)->failures, 1);
    assert_true(nt_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.status, 0);

    /* Up for 2 s of the injected clock: the back-off starts again from zero. */
    uv_close((uv_handle_t *)r.tcp, free_handle);
    now += 2000;
    r.done = 0;
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_int_equal(r.retries, 1);
    assert_int_equal(pqify_dialer_backoff(d)->failures, 0);
    assert_true(nt_run_until(&loop, &r.done, 5000));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.connects, 3);
    uv_close((uv_handle_t *)r.tcp, free_handle);
    pqify_dialer_free(d);
    nt_loop_close(&loop);
    close(lfd);
}

/* Stopping a dial that waits in its back-off: no callback ever follows. */
static void stop_cancels_without_callback(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    char port[16];
    snprintf(port, sizeof port, "%u", closed_port());
    struct run r = {0};
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .backoff_base_ms = 60000,
                           .backoff_cap_ms = 60000, .on_retry = on_retry};
    const uint64_t draws[] = {59999};
    struct script s = {draws, 1, 0};
    o.rand = scripted;
    o.rand_ctx = &s;
    pqify_dialer *d = pqify_dialer_new(&loop, &o, on_dial, &r);
    assert_int_equal(pqify_dialer_start(d), 0);
    assert_true(nt_run_until(&loop, &r.retries, 5000));
    pqify_dialer_stop(d);
    nt_run_for(&loop, 50);
    assert_int_equal(r.done, 0);
    pqify_dialer_free(d);
    nt_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ceiling_doubles_to_the_cap),
        cmocka_unit_test(full_jitter_with_injected_clock),
        cmocka_unit_test(default_source_stays_in_range),
        cmocka_unit_test(retries_refused_port_on_schedule),
        cmocka_unit_test(connect_timeout_when_queue_is_full),
        cmocka_unit_test(reset_only_after_a_healthy_connection),
        cmocka_unit_test(stop_cancels_without_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
