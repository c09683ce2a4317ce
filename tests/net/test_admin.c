/* The admin endpoint on a real libuv loop: curl as the client (and promtool and
 * python3 reading what it got), then raw sockets for what curl will not send: bad
 * requests, an oversized head (431), a body (413), pipelining, a slow client (408),
 * the connection cap, and listen addresses that must be refused. */
#include "net_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "pqify/net/admin.h"

typedef struct server {
    uv_loop_t loop;
    uv_async_t stop;
    pthread_t thread;
    pqify_admin *admin;
    pqify_metrics *metrics;
    int port;
} server;

static atomic_int ready_state = 1;

static int ready(void *arg, char *reason, size_t cap)
{
    (void)arg;
    if (atomic_load(&ready_state))
        return 1;
    snprintf(reason, cap, "0 of 4 tunnel connections up; upstream \"a\\b\" down");
    return 0;
}

/* a service's own /ready body (the tunnel's cloudflared shape) */
static int ready_body(void *arg, char *json, size_t cap)
{
    (void)arg;
    int ok = atomic_load(&ready_state);
    snprintf(json, cap, "{\"status\":%d,\"readyConnections\":%d}\n", ok ? 200 : 503, ok ? 3 : 0);
    return ok;
}

static void on_stop(uv_async_t *async)
{
    server *s = async->data;
    pqify_admin_stop(s->admin);
    uv_close((uv_handle_t *)async, NULL);
}

static void *run_loop(void *arg)
{
    server *s = arg;
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start(server *s, pqify_admin_options o)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(uv_loop_init(&s->loop), 0);
    s->metrics = pqify_metrics_new();
    pqify_tls_metrics tm;
    assert_int_equal(pqify_tls_metrics_init(&tm, s->metrics), 0);
    pqify_tls_info info = {.group = "X25519MLKEM768", .is_pq = 1, .handshake_us = 1200};
    pqify_tls_metrics_handshake_info(&tm, &info, 1);
    o.listen = o.listen != NULL ? o.listen : "127.0.0.1:0";
    o.metrics = s->metrics;
    o.ready = ready;
    char err[256];
    int ret = pqify_admin_start(&s->loop, &o, &s->admin, err, sizeof err);
    if (ret != 0)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(ret, 0);
    s->port = pqify_admin_port(s->admin);
    assert_true(s->port > 0);
    s->stop.data = s;
    assert_int_equal(uv_async_init(&s->loop, &s->stop, on_stop), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, run_loop, s), 0);
}

static void stop(server *s)
{
    uv_async_send(&s->stop);
    pthread_join(s->thread, NULL);
    /* every handle closed and the admin freed, or the loop would not have ended */
    assert_int_equal(uv_loop_close(&s->loop), 0);
    pqify_metrics_free(s->metrics);
}

static int starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) == 0)
        return 1;
    fprintf(stderr, "expected %s\ngot %.200s\n", prefix, s);
    return 0;
}

/* ---- curl ---- */

static char *curl(const server *s, const char *args, const char *path, int *rc)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, CURL " -sS --max-time 10 %s http://127.0.0.1:%d%s", args, s->port, path);
    char *out;
    *rc = nt_run(cmd, "", 0, &out);
    return out;
}

static void test_curl(void **state)
{
    (void)state;
    server s;
    start(&s, (pqify_admin_options){0});
    int rc;
    char *out = curl(&s, "-i", "/healthz", &rc);
    assert_int_equal(rc, 0);
    assert_true(starts_with(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Length: 3\r\n"));
    assert_non_null(strstr(out, "\r\n\r\nok\n"));
    free(out);

    /* /metrics: promtool reads what curl fetched */
    char cmd[512];
    snprintf(cmd, sizeof cmd, CURL " -sSf --max-time 10 http://127.0.0.1:%d/metrics | " PROMTOOL " check metrics", s.port);
    assert_int_equal(nt_run(cmd, "", 0, &out), 0);
    free(out);
    out = curl(&s, "-i", "/metrics?name=x", &rc);
    assert_int_equal(rc, 0);
    assert_true(starts_with(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(out, "\npqify_tls_handshakes_total{role=\"server\",group=\"X25519MLKEM768\",pq=\"true\",hrr=\"false\"} 1\n"));
    free(out);

    /* /ready both ways; python3 parses the JSON */
    out = curl(&s, "-i", "/ready", &rc);
    assert_true(starts_with(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"status\":\"ready\"}\n"));
    free(out);
    atomic_store(&ready_state, 0);
    out = curl(&s, "-i", "/ready", &rc);
    assert_true(starts_with(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    free(out);
    snprintf(cmd, sizeof cmd, CURL " -sS --max-time 10 http://127.0.0.1:%d/ready | " PYTHON3 " -c 'import json,sys; d=json.load(sys.stdin); print(d[\"status\"] + \"|\" + d[\"reason\"])'",
             s.port);
    assert_int_equal(nt_run(cmd, "", 0, &out), 0);
    assert_string_equal(out, "not ready|0 of 4 tunnel connections up; upstream \"a\\b\" down\n");
    free(out);
    atomic_store(&ready_state, 1);

    /* methods, HEAD, unknown paths */
    out = curl(&s, "-i -X POST", "/metrics", &rc);
    assert_true(starts_with(out, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
    free(out);
    out = curl(&s, "-I", "/healthz", &rc);
    assert_int_equal(rc, 0);
    assert_true(starts_with(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Length: 3\r\n"));
    assert_null(strstr(out, "ok\n"));
    free(out);
    out = curl(&s, "-i", "/nope", &rc);
    assert_true(starts_with(out, "HTTP/1.1 404 Not Found\r\n"));
    free(out);

    /* keep-alive: curl reuses the connection for a second URL */
    snprintf(cmd, sizeof cmd, CURL " -sv --max-time 10 http://127.0.0.1:%d/healthz http://127.0.0.1:%d/ready", s.port, s.port);
    assert_int_equal(nt_run(cmd, "", 0, &out), 0);
    assert_non_null(strstr(out, "Re-using existing connection"));
    free(out);
    stop(&s);
}

/* ---- raw sockets ---- */

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* One byte, or 0 at EOF, -1 on reset; the poll bounds a broken server to 10 s. */
static int get_byte(int fd, char *c)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    ssize_t r = recv(fd, c, 1, 0);
    return r < 0 ? -1 : (int)r;
}

/* One reply: the head, then Content-Length bytes of body (none for HEAD). */
static char *read_reply(int fd, int head_only)
{
    static char buf[65536];
    size_t n = 0;
    while (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4) != 0) {
        assert_true(n < sizeof buf - 1);
        assert_int_equal(get_byte(fd, &buf[n]), 1);
        n++;
    }
    buf[n] = '\0';
    const char *cl = strstr(buf, "Content-Length: ");
    assert_non_null(cl);
    size_t body = head_only ? 0 : (size_t)atol(cl + 16);
    for (size_t i = 0; i < body; i++) {
        assert_true(n < sizeof buf - 1);
        assert_int_equal(get_byte(fd, &buf[n++]), 1);
    }
    buf[n] = '\0';
    return buf;
}

static void expect_eof(int fd)
{
    char c;
    assert_int_equal(get_byte(fd, &c), 0);
}

/* Send a request, expect a reply starting with status_line, then the close. */
static void expect_final(int port, const char *req, size_t len, const char *status_line)
{
    int fd = dial(port);
    send_all(fd, req, len);
    char *r = read_reply(fd, 0);
    if (strncmp(r, status_line, strlen(status_line)) != 0)
        fprintf(stderr, "sent %.60s... got %s\n", req, r);
    assert_int_equal(strncmp(r, status_line, strlen(status_line)), 0);
    assert_non_null(strstr(r, "Connection: close\r\n"));
    expect_eof(fd);
    close(fd);
}

static void test_ready_body(void **state)
{
    (void)state;
    server s;
    start(&s, (pqify_admin_options){.ready_body = ready_body});
    int rc;
    char *out = curl(&s, "-i", "/ready", &rc);
    assert_int_equal(rc, 0);
    assert_true(starts_with(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"status\":200,\"readyConnections\":3}\n"));
    free(out);
    atomic_store(&ready_state, 0);
    out = curl(&s, "-i", "/ready", &rc);
    assert_true(starts_with(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"status\":503,\"readyConnections\":0}\n"));
    free(out);
    atomic_store(&ready_state, 1);
    stop(&s);
}

static void test_raw(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    server s;
    start(&s, (pqify_admin_options){0});

    /* keep-alive: 404 then 200 on one connection; then a pipelined pair in one write */
    int fd = dial(s.port);
    const char *nf = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, nf, strlen(nf));
    assert_true(starts_with(read_reply(fd, 0), "HTTP/1.1 404 Not Found\r\n"));
    const char *two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /ready HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, two, strlen(two));
    char *r = read_reply(fd, 0);
    assert_true(starts_with(r, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(r, "\r\n\r\nok\n"));
    r = read_reply(fd, 1);
    assert_true(starts_with(r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
    /* and a request in one-byte writes */
    const char *slow = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t i = 0; slow[i] != '\0'; i++)
        send_all(fd, slow + i, 1);
    assert_true(starts_with(read_reply(fd, 0), "HTTP/1.1 200 OK\r\n"));
    close(fd);

    /* the replies that end the connection */
    const char *garbage = "HELLO WORLD\r\n\r\n";
    expect_final(s.port, garbage, strlen(garbage), "HTTP/1.1 400 Bad Request\r\n");
    const char *tls_hello = "\x16\x03\x01\x00\x05hello";
    expect_final(s.port, tls_hello, 10, "HTTP/1.1 400 Bad Request\r\n");
    const char *bad_cl = "GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
    expect_final(s.port, bad_cl, strlen(bad_cl), "HTTP/1.1 400 Bad Request\r\n");
    const char *body = "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    expect_final(s.port, body, strlen(body), "HTTP/1.1 413 Content Too Large\r\n");
    const char *chunked = "POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    expect_final(s.port, chunked, strlen(chunked), "HTTP/1.1 413 Content Too Large\r\n");
    const char *h10 = "GET /healthz HTTP/1.0\r\n\r\n";
    expect_final(s.port, h10, strlen(h10), "HTTP/1.1 200 OK\r\n");
    const char *close_req = "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n";
    expect_final(s.port, close_req, strlen(close_req), "HTTP/1.1 200 OK\r\n");   /* nothing after close */
    const char *upgrade = "GET /healthz HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    expect_final(s.port, upgrade, strlen(upgrade), "HTTP/1.1 200 OK\r\n");

    /* a 9 KB header: 431, whether in one write or many */
    char big[9300];
    int n = snprintf(big, sizeof big, "GET /metrics HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 9000);
    memcpy(big + n + 9000, "\r\n\r\n", 4);
    expect_final(s.port, big, (size_t)n + 9004, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    /* many small headers add up the same way */
    char many[12000];
    n = snprintf(many, sizeof many, "GET /metrics HTTP/1.1\r\n");
    for (int i = 0; i < 1500; i++)
        n += snprintf(many + n, sizeof many - (size_t)n, "A: b\r\n");
    n += snprintf(many + n, sizeof many - (size_t)n, "\r\n");
    expect_final(s.port, many, (size_t)n, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    /* a URL past the limit */
    char url[9000];
    n = snprintf(url, sizeof url, "GET /");
    memset(url + n, 'u', 8500);
    n += 8500;
    n += snprintf(url + n, sizeof url - (size_t)n, " HTTP/1.1\r\n\r\n");
    expect_final(s.port, url, (size_t)n, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
    stop(&s);
}

static void test_slow_client(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    server s;
    start(&s, (pqify_admin_options){.request_timeout_ms = 300});
    /* half a request, then silence: 408 and the close */
    int fd = dial(s.port);
    const char *half = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    send_all(fd, half, strlen(half));
    char *r = read_reply(fd, 0);
    assert_true(starts_with(r, "HTTP/1.1 408 Request Timeout\r\n"));
    expect_eof(fd);
    close(fd);
    /* a connection that never says anything, and one idle after a reply: closed quietly */
    fd = dial(s.port);
    expect_eof(fd);
    close(fd);
    fd = dial(s.port);
    const char *req = "GET /healthz HTTP/1.1\r\n\r\n";
    send_all(fd, req, strlen(req));
    assert_true(starts_with(read_reply(fd, 0), "HTTP/1.1 200 OK\r\n"));
    expect_eof(fd);
    close(fd);
    /* the slow ones blocked nobody: a new client is served meanwhile */
    int slow = dial(s.port);
    send_all(slow, "G", 1);
    fd = dial(s.port);
    send_all(fd, req, strlen(req));
    assert_true(starts_with(read_reply(fd, 0), "HTTP/1.1 200 OK\r\n"));
    close(fd);
    assert_true(starts_with(read_reply(slow, 0), "HTTP/1.1 408 Request Timeout\r\n"));
    close(slow);
    stop(&s);
}

static void test_connection_cap(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    server s;
    start(&s, (pqify_admin_options){.max_connections = 2});
    const char *req = "GET /healthz HTTP/1.1\r\n\r\n";
    int a = dial(s.port), b = dial(s.port);
    send_all(a, req, strlen(req));
    send_all(b, req, strlen(req));
    assert_true(starts_with(read_reply(a, 0), "HTTP/1.1 200 OK\r\n"));
    assert_true(starts_with(read_reply(b, 0), "HTTP/1.1 200 OK\r\n"));
    int c = dial(s.port);   /* the third is closed on accept */
    char ch;
    assert_true(get_byte(c, &ch) <= 0);
    close(c);
    close(b);
    /* a slot frees when a connection ends; poll until the server has seen the close */
    int served = 0;
    for (int tries = 0; tries < 100 && !served; tries++) {
        int d = dial(s.port);
        send(d, req, strlen(req), MSG_NOSIGNAL);
        char first;
        if (get_byte(d, &first) == 1 && first == 'H')
            served = 1;
        close(d);
        if (!served)
            usleep(20000);
    }
    assert_true(served);
    close(a);
    stop(&s);
}

static void test_listen_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    static const struct {
        const char *listen, *error;
    } cases[] = {
        {"0.0.0.0:9090", "admin.listen 0.0.0.0:9090: not a loopback address (the admin endpoint is plain HTTP without authentication)"},
        {"[::]:9090", "admin.listen [::]:9090: not a loopback address (the admin endpoint is plain HTTP without authentication)"},
        {"10.1.2.3:80", "admin.listen 10.1.2.3:80: not a loopback address (the admin endpoint is plain HTTP without authentication)"},
        {"example.com:80", "admin.listen example.com:80: expected an IP address or localhost"},
        {"9090", "admin.listen 9090: expected HOST:PORT"},
        {NULL, "admin.listen : expected HOST:PORT"},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pqify_admin *a = (pqify_admin *)1;
        pqify_admin_options o = {.listen = cases[i].listen};
        assert_int_equal(pqify_admin_start(&loop, &o, &a, err, sizeof err), PQIFY_ERR_ARG);
        assert_null(a);
        assert_string_equal(err, cases[i].error);
    }
    /* [::1] and localhost are loopback */
    pqify_admin *v6, *lh, *busy;
    pqify_admin_options o6 = {.listen = "[::1]:0"}, olh = {.listen = "localhost:0"};
    int v6_ret = pqify_admin_start(&loop, &o6, &v6, err, sizeof err);
    if (v6_ret == 0)
        pqify_admin_stop(v6);
    else   /* a host without IPv6 says so in words */
        assert_non_null(strstr(err, "admin.listen [::1]:0: "));
    assert_int_equal(pqify_admin_start(&loop, &olh, &lh, err, sizeof err), 0);
    /* a port in use */
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", pqify_admin_port(lh));
    pqify_admin_options ob = {.listen = taken};
    assert_int_equal(pqify_admin_start(&loop, &ob, &busy, err, sizeof err), UV_EADDRINUSE);
    char want[128];
    snprintf(want, sizeof want, "admin.listen %s: address already in use", taken);
    assert_string_equal(err, want);
    pqify_admin_stop(lh);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curl),
        cmocka_unit_test(test_raw),
        cmocka_unit_test(test_ready_body),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_connection_cap),
        cmocka_unit_test(test_listen_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
