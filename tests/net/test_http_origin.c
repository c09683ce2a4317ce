/*
 * The HTTP/1.1 origin client (net/http_origin.h) against a real origin: Python's
 * http.server (tests/net/http_origin_server.py) on loopback, started per test program
 * and killed by its PID. It counts the TCP connections it accepts and checks upload
 * bodies itself, so what the client claims is seen from the other side.
 */
#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "net/net_test.h"
#include "pqify/net/http_origin.h"

static pid_t server_pid;
static char server_port[16];

static int setup(void **state)
{
    (void)state;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(PYTHON3, "python3", SOURCE_DIR "/tests/net/http_origin_server.py", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char line[128] = {0};
    size_t n = 0;
    while (n < sizeof line - 1 && read(fds[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(fds[0]);
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || colon == NULL)
        return -1;
    snprintf(server_port, sizeof server_port, "%.*s", (int)strcspn(colon + 1, "\r\n"), colon + 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    return 0;
}

/* One request's outcome, as the callbacks saw it. */
typedef struct result {
    pqify_http_origin_req *r;
    int status, ended, failed, done;
    enum pqify_http_origin_error err;
    char why[300];
    char xconn[16];
    uint8_t *body;
    size_t len, cap;
    int keep_body;
    /* pause/resume: the caller's own buffer, drained by a timer */
    int pausing, paused;
    size_t buffered, max_buffered, total, pattern_errors;
    uv_timer_t drain;
    void (*then)(struct result *);   /* run at the end (the next request) */
    void *user;
} result;

static void on_head(pqify_http_origin_req *r, const pqify_http_origin_head *h, void *ctx)
{
    (void)r;
    result *x = ctx;
    x->status = h->status;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->names[i], "x-conn") == 0)
            snprintf(x->xconn, sizeof x->xconn, "%s", h->values[i]);
}

static void on_body(pqify_http_origin_req *r, const uint8_t *d, size_t n, void *ctx)
{
    result *x = ctx;
    for (size_t i = 0; i < n; i++)
        if (d[i] != (uint8_t)(((x->total + i) * 7) % 251))
            x->pattern_errors++;
    x->total += n;
    if (x->keep_body) {
        if (x->len + n + 1 > x->cap) {
            x->cap = (x->len + n + 1) * 2;
            x->body = realloc(x->body, x->cap);
            assert_non_null(x->body);
        }
        memcpy(x->body + x->len, d, n);
        x->len += n;
        x->body[x->len] = 0;
    }
    if (x->pausing) {
        x->buffered += n;
        if (x->buffered > x->max_buffered)
            x->max_buffered = x->buffered;
        if (!x->paused && x->buffered > 256 * 1024) {
            x->paused = 1;
            pqify_http_origin_pause(r, 1);
        }
    }
}

static void on_end(pqify_http_origin_req *r, void *ctx)
{
    (void)r;
    result *x = ctx;
    x->ended = 1;
    if (x->then != NULL)
        x->then(x);
    x->done = 1;
}

static void on_error(pqify_http_origin_req *r, enum pqify_http_origin_error e, const char *why, void *ctx)
{
    (void)r;
    result *x = ctx;
    x->failed = 1;
    x->err = e;
    snprintf(x->why, sizeof x->why, "%s", why);
    x->done = 1;
}

static const pqify_http_origin_cbs cbs = {.on_head = on_head, .on_body = on_body, .on_end = on_end,
                                          .on_error = on_error};

static pqify_http_origin *pool_for(uv_loop_t *loop, const char *port, unsigned idle_max)
{
    pqify_http_origin_opts o = {.kind = PQIFY_HTTP_ORIGIN_HTTP, .host = "127.0.0.1", .port = port,
                                .connect_timeout_ms = 5000, .response_timeout_ms = 20000,
                                .idle_max = idle_max};
    pqify_http_origin *p = pqify_http_origin_new(loop, &o);
    assert_non_null(p);
    return p;
}

static void get(pqify_http_origin *p, const char *path, result *x)
{
    char head[256];
    int n = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: origin.test\r\n\r\n", path);
    x->keep_body = 1;
    x->r = pqify_http_origin_start(p, head, (size_t)n, 0, &cbs, x);
    assert_non_null(x->r);
    pqify_http_origin_end(x->r);
}

static void done_with(result *x)
{
    pqify_http_origin_release(x->r);
    x->r = NULL;
    free(x->body);
}

/* N sequential requests go out on one TCP connection, as the origin counts them. */
static void test_keep_alive_reuse(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin *p = pool_for(&loop, server_port, 4);
    result first = {0};
    get(p, "/conns", &first);
    assert_true(nt_run_until(&loop, &first.done, 10000));
    assert_int_equal(first.status, 200);
    assert_int_equal(pqify_http_origin_reused(first.r), 0);
    long before = strtol((char *)first.body, NULL, 10);
    done_with(&first);
    char conn_no[16] = {0};
    for (int i = 0; i < 10; i++) {
        result x = {0};
        get(p, "/hello", &x);
        assert_true(nt_run_until(&loop, &x.done, 10000));
        assert_false(x.failed);
        assert_int_equal(x.status, 200);
        assert_string_equal((char *)x.body, "hello");
        assert_int_equal(pqify_http_origin_reused(x.r), 1);
        if (i == 0)
            snprintf(conn_no, sizeof conn_no, "%s", x.xconn);
        assert_string_equal(x.xconn, conn_no);   /* the origin saw the same connection */
        done_with(&x);
        assert_int_equal(pqify_http_origin_idle(p), 1);
    }
    result last = {0};
    get(p, "/conns", &last);
    assert_true(nt_run_until(&loop, &last.done, 10000));
    assert_int_equal(strtol((char *)last.body, NULL, 10), before);   /* no new connection */
    done_with(&last);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
}

static void upload(unsigned flags, size_t total, const char *want)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin *p = pool_for(&loop, server_port, 4);
    char head[256];
    int n = flags & PQIFY_HTTP_ORIGIN_CHUNKED
                ? snprintf(head, sizeof head, "POST /check HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\n")
                : snprintf(head, sizeof head, "POST /check HTTP/1.1\r\nHost: o\r\nContent-Length: %zu\r\n\r\n", total);
    result x = {.keep_body = 1};
    x.r = pqify_http_origin_start(p, head, (size_t)n, flags, &cbs, &x);
    assert_non_null(x.r);
    uint8_t *body = malloc(total);
    assert_non_null(body);
    for (size_t i = 0; i < total; i++)
        body[i] = (uint8_t)((i * 7) % 251);
    /* in pieces of odd sizes, waiting while the queue is full (bounded in rounds) */
    size_t off = 0, rounds = 0;
    while (off < total && rounds++ < 100000) {
        if (pqify_http_origin_full(x.r)) {
            uv_run(&loop, UV_RUN_ONCE);
            continue;
        }
        size_t k = total - off < 70001 ? total - off : 70001;
        assert_int_equal(pqify_http_origin_write(x.r, body + off, k), 0);
        off += k;
    }
    assert_int_equal(off, total);
    assert_int_equal(pqify_http_origin_end(x.r), 0);
    assert_true(nt_run_until(&loop, &x.done, 20000));
    assert_false(x.failed);
    assert_int_equal(x.status, 200);
    assert_string_equal((char *)x.body, want);
    done_with(&x);
    free(body);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
}

static void test_upload_content_length(void **state)
{
    (void)state;
    upload(0, 3u << 20, "ok 3145728 length");
}

static void test_upload_chunked(void **state)
{
    (void)state;
    upload(PQIFY_HTTP_ORIGIN_CHUNKED, 3u << 20, "ok 3145728 chunked");
}

static void drain_tick(uv_timer_t *t)
{
    result *x = t->data;
    x->buffered = x->buffered > 64 * 1024 ? x->buffered - 64 * 1024 : 0;   /* the slow consumer */
    if (x->paused && x->buffered < 64 * 1024 && x->r != NULL && !x->done) {
        x->paused = 0;
        pqify_http_origin_pause(x->r, 0);
    }
}

/* 16 MiB through a caller that holds at most ~256 KiB: pause stops the reading, so
 * what the caller buffers stays near the mark, not the response's size. */
static void test_pause_resume_bounded(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin *p = pool_for(&loop, server_port, 4);
    result x = {.pausing = 1};
    uv_timer_init(&loop, &x.drain);
    x.drain.data = &x;
    uv_timer_start(&x.drain, drain_tick, 1, 1);
    char head[128];
    int n = snprintf(head, sizeof head, "GET /big?n=%u HTTP/1.1\r\nHost: o\r\n\r\n", 16u << 20);
    x.r = pqify_http_origin_start(p, head, (size_t)n, 0, &cbs, &x);
    assert_non_null(x.r);
    pqify_http_origin_end(x.r);
    assert_true(nt_run_until(&loop, &x.done, 50000));
    assert_false(x.failed);
    assert_int_equal(x.total, 16u << 20);
    assert_int_equal(x.pattern_errors, 0);
    /* the mark plus what one read (64 KiB) may hand over after pausing */
    assert_true(x.max_buffered <= 256 * 1024 + 65536);
    uv_timer_stop(&x.drain);
    uv_close((uv_handle_t *)&x.drain, NULL);
    done_with(&x);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
}

/* /bye answers with keep-alive fields, then the origin closes. The next request, sent
 * at once on the pooled connection, fails and says it went out on a reused one; the
 * retry on a new connection succeeds. A pooled connection the origin closes while
 * idle leaves the pool. */
static void test_origin_closes_pooled(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin *p = pool_for(&loop, server_port, 4);
    result bye = {0};
    result next = {0};
    get(p, "/bye", &bye);
    assert_true(nt_run_until(&loop, &bye.done, 10000));
    assert_int_equal(bye.status, 200);
    assert_int_equal(pqify_http_origin_idle(p), 1);   /* it said keep-alive */
    get(p, "/hello", &next);                           /* before the loop reads the close */
    assert_int_equal(pqify_http_origin_reused(next.r), 1);
    assert_true(nt_run_until(&loop, &next.done, 10000));
    assert_true(next.failed);
    assert_int_equal(next.err, PQIFY_HTTP_ORIGIN_CLOSED);
    assert_int_equal(pqify_http_origin_reused(next.r), 1);   /* so the caller may retry */
    done_with(&next);
    result retry = {0};
    get(p, "/hello", &retry);
    assert_int_equal(pqify_http_origin_reused(retry.r), 0);
    assert_true(nt_run_until(&loop, &retry.done, 10000));
    assert_false(retry.failed);
    assert_string_equal((char *)retry.body, "hello");
    done_with(&retry);
    done_with(&bye);

    /* idle: the origin closes it, the pool drops it */
    result bye2 = {0};
    get(p, "/bye", &bye2);
    assert_true(nt_run_until(&loop, &bye2.done, 10000));
    done_with(&bye2);
    assert_int_equal(pqify_http_origin_idle(p), 1);
    for (int i = 0; i < 500 && pqify_http_origin_idle(p) > 0; i++)
        uv_run(&loop, UV_RUN_ONCE);   /* the EOF arrives (bounded) */
    assert_int_equal(pqify_http_origin_idle(p), 0);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
}

/* A port nobody listens on (bound, read back, closed). */
static void test_connect_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char port[16];
    snprintf(port, sizeof port, "%u", ntohs(a.sin_port));
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin *p = pool_for(&loop, port, 4);
    result x = {0};
    get(p, "/hello", &x);
    assert_true(nt_run_until(&loop, &x.done, 10000));
    assert_true(x.failed);
    assert_int_equal(x.err, PQIFY_HTTP_ORIGIN_CONNECT);
    assert_non_null(strstr(x.why, "refused"));
    done_with(&x);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
}

/* A listener whose backlog is full never completes the handshake: the connect times out. */
static void test_connect_timeout(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 0), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {   /* fill the accept queue (never accepted) */
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    char port[16];
    snprintf(port, sizeof port, "%u", ntohs(a.sin_port));
    uv_loop_t loop;
    uv_loop_init(&loop);
    pqify_http_origin_opts o = {.kind = PQIFY_HTTP_ORIGIN_HTTP, .host = "127.0.0.1", .port = port,
                                .connect_timeout_ms = 300, .idle_max = 4};
    pqify_http_origin *p = pqify_http_origin_new(&loop, &o);
    assert_non_null(p);
    result x = {0};
    get(p, "/hello", &x);
    assert_true(nt_run_until(&loop, &x.done, 10000));
    assert_true(x.failed);
    assert_int_equal(x.err, PQIFY_HTTP_ORIGIN_CONNECT);
    assert_non_null(strstr(x.why, "timed out"));
    done_with(&x);
    pqify_http_origin_free(p);
    nt_loop_close(&loop);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_alive_reuse),
        cmocka_unit_test(test_upload_content_length),
        cmocka_unit_test(test_upload_chunked),
        cmocka_unit_test(test_pause_resume_bounded),
        cmocka_unit_test(test_origin_closes_pooled),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
