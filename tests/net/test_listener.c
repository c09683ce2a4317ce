/*
 * The listener (net/listener.h): TCP_NODELAY and the backlog on what it accepts,
 * the connection limit, and fd exhaustion (EMFILE) pausing it instead of stopping
 * it: once descriptors are free again every waiting client is accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net_test.h"
#include "pqify/net/listener.h"

#define MAX_FDS 64

struct acc {
    int fds[MAX_FDS];
    char peers[MAX_FDS][64];
    int n;
    int want;
    int reached;
};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)l;
    struct acc *a = ctx;
    assert_true(a->n < MAX_FDS);
    pqify_net_format_addr(peer, a->peers[a->n], sizeof a->peers[0]);
    a->fds[a->n++] = fd;
    a->reached = a->n >= a->want;
}

static pqify_listener *open_listener(uv_loop_t *loop, unsigned max, struct acc *a)
{
    pqify_listener *l = NULL;
    char err[256];
    pqify_listener_opts o = {.host = "127.0.0.1", .port = "0", .max_connections = max};
    assert_int_equal(pqify_listener_open(loop, &o, on_accept, a, &l, err, sizeof err), 0);
    return l;
}

static int connect_to(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    assert_true(r == 0 || errno == EINPROGRESS);
    return fd;
}

static void close_all(struct acc *a)
{
    for (int i = 0; i < a->n; i++)
        close(a->fds[i]);
}

static void accepts_with_nodelay(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct acc a = {.want = 3};
    pqify_listener *l = open_listener(&loop, 0, &a);
    char addr[64], want[64];
    pqify_listener_address(l, addr, sizeof addr);
    snprintf(want, sizeof want, "127.0.0.1:%u", pqify_listener_port(l));
    assert_string_equal(addr, want);
    assert_true(pqify_listener_port(l) > 0);
    assert_true(pqify_listener_backlog(l) >= PQIFY_LISTEN_BACKLOG_MIN);

    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = connect_to(pqify_listener_port(l));
    assert_true(nt_run_until(&loop, &a.reached, 5000));
    for (int i = 0; i < 3; i++) {
        int v = 0;
        socklen_t vl = sizeof v;
        assert_int_equal(getsockopt(a.fds[i], IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
        assert_int_equal(v, 1);
        assert_true(fcntl(a.fds[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(a.fds[i], F_GETFD) & FD_CLOEXEC);
        /* The peer address is the client's own address, as the client sees it. */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char mine[64];
        assert_int_equal(getsockname(c[i], (struct sockaddr *)&ss, &sl), 0);
        pqify_net_format_addr((struct sockaddr *)&ss, mine, sizeof mine);
        int found = 0;
        for (int j = 0; j < 3; j++)
            found |= !strcmp(mine, a.peers[j]);
        assert_true(found);
    }
    pqify_listener_stats st;
    pqify_listener_get_stats(l, &st);
    assert_int_equal(st.accepted, 3);
    assert_int_equal(st.active, 3);
    assert_int_equal(st.accept_errors, 0);

    /* After stop the port refuses. */
    unsigned port = pqify_listener_port(l);
    pqify_listener_free(l);
    nt_run_for(&loop, 10);
    int late = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(late, (struct sockaddr *)&sa, sizeof sa), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(late);
    close_all(&a);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    nt_loop_close(&loop);
}

static void connection_limit_holds_the_rest_back(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct acc a = {.want = 2};
    pqify_listener *l = open_listener(&loop, 2, &a);
    int c[5];
    for (int i = 0; i < 5; i++)
        c[i] = connect_to(pqify_listener_port(l));
    assert_true(nt_run_until(&loop, &a.reached, 5000));
    nt_run_for(&loop, 100);   /* the other three had their chance: still 2 */
    pqify_listener_stats st;
    pqify_listener_get_stats(l, &st);
    assert_int_equal(a.n, 2);
    assert_int_equal(st.active, 2);
    assert_true(st.limit_pauses >= 1);

    /* One closes: exactly one more is taken. */
    close(a.fds[0]);
    pqify_listener_done(l);
    a.want = 3;
    a.reached = 0;
    assert_true(nt_run_until(&loop, &a.reached, 5000));
    nt_run_for(&loop, 100);
    assert_int_equal(a.n, 3);
    /* Two more places: the last two come in. */
    close(a.fds[1]);
    close(a.fds[2]);
    pqify_listener_done(l);
    pqify_listener_done(l);
    a.want = 5;
    a.reached = 0;
    assert_true(nt_run_until(&loop, &a.reached, 5000));
    pqify_listener_get_stats(l, &st);
    assert_int_equal(st.accepted, 5);
    assert_int_equal(st.active, 2);
    for (int i = 3; i < 5; i++)
        close(a.fds[i]);
    for (int i = 0; i < 5; i++)
        close(c[i]);
    pqify_listener_free(l);
    nt_loop_close(&loop);
}

static void emfile_pauses_and_recovers(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct acc a = {.want = 3};
    pqify_listener *l = open_listener(&loop, 0, &a);
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = connect_to(pqify_listener_port(l));

    /* Use up every descriptor the soft limit allows. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 256 < old.rlim_cur ? 256 : old.rlim_cur;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    static int filler[1024];
    int nfill = 0;
    while (nfill < 1024) {
        int fd = dup(0);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        filler[nfill++] = fd;
    }
    assert_true(nfill < 1024);

    nt_run_for(&loop, 150);
    pqify_listener_stats st;
    pqify_listener_get_stats(l, &st);
    assert_int_equal(a.n, 0);
    assert_true(st.resource_pauses >= 1);
    assert_int_equal(st.last_error, EMFILE);
    /* Paused with back-off, not spinning: 150 ms allow at most ~5 pauses (10, 20,
     * 40, 80 ms); a spinning accept loop would count thousands of errors. */
    assert_true(st.accept_errors < 50);

    for (int i = 0; i < nfill; i++)
        close(filler[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true(nt_run_until(&loop, &a.reached, 5000));
    pqify_listener_get_stats(l, &st);
    assert_int_equal(st.accepted, 3);
    close_all(&a);
    for (int i = 0; i < 3; i++)
        close(c[i]);
    pqify_listener_free(l);
    nt_loop_close(&loop);
}

static void refuses_bad_address_in_words(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_listener *l = NULL;
    char err[256];
    struct acc a = {0};
    pqify_listener_opts o = {.host = "127.0.0.1", .port = "0"};
    assert_int_equal(pqify_listener_open(&loop, &o, on_accept, &a, &l, err, sizeof err), 0);
    char port[16];
    snprintf(port, sizeof port, "%u", pqify_listener_port(l));
    pqify_listener *l2 = NULL;
    pqify_listener_opts o2 = {.host = "127.0.0.1", .port = port};
    assert_int_equal(pqify_listener_open(&loop, &o2, on_accept, &a, &l2, err, sizeof err),
                     UV_EADDRINUSE);
    assert_null(l2);
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    assert_non_null(strstr(err, "address already in use"));
    /* With SO_REUSEPORT on both, a second socket shares the port (--workers). */
    pqify_listener_free(l);
    nt_run_for(&loop, 10);
    pqify_listener_opts r1 = {.host = "127.0.0.1", .port = "0", .reuseport = 1};
    assert_int_equal(pqify_listener_open(&loop, &r1, on_accept, &a, &l, err, sizeof err), 0);
    snprintf(port, sizeof port, "%u", pqify_listener_port(l));
    pqify_listener_opts r2 = {.host = "127.0.0.1", .port = port, .reuseport = 1};
    assert_int_equal(pqify_listener_open(&loop, &r2, on_accept, &a, &l2, err, sizeof err), 0);
    pqify_listener_free(l);
    pqify_listener_free(l2);

    char host[64], p[16];
    assert_int_equal(pqify_net_split_hostport("[::1]:443", host, sizeof host, p, sizeof p), 0);
    assert_string_equal(host, "::1");
    assert_string_equal(p, "443");
    assert_int_equal(pqify_net_split_hostport("nohost", host, sizeof host, p, sizeof p), UV_EINVAL);
    assert_int_equal(pqify_net_split_hostport("h:12x", host, sizeof host, p, sizeof p), UV_EINVAL);
    assert_int_equal(pqify_net_split_hostport(":80", host, sizeof host, p, sizeof p), UV_EINVAL);
    nt_loop_close(&loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_with_nodelay),
        cmocka_unit_test(connection_limit_holds_the_rest_back),
        cmocka_unit_test(emfile_pauses_and_recovers),
        cmocka_unit_test(refuses_bad_address_in_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
