/*
 * The tunnel end to end on loopback: the edge's hub runs in this process on a libuv
 * loop, `pqify tunnel` runs as a process (4 connections, pq: required, mutual TLS),
 * and a real Debian nginx is the origin (TCP and a Unix socket; PUT through its DAV
 * module). Requests go through the hub and the connector to nginx; the test checks
 * statuses and bodies against what nginx serves, that the tunnel hop negotiated
 * X25519MLKEM768, the ingress rules (hostname, path, http_status), /ready and
 * /metrics; then the faults: a connection killed under load (zero failed GETs), the
 * hub restarted (/ready back to 200 within 2 s of the hub returning), SIGHUP with
 * new rules mid-load (zero failures, new rules applied), a 256 MiB download and
 * upload with the connector's peak RSS bounded, SIGTERM exits 0.
 * Every wait is bounded; every process is killed by its PID at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "pqify/net/tls_options.h"
#include "pqify/tunnel.h"

#define TUNNEL_NAME "pqify-test-client"   /* the CN of client-p256.pem */
#define BIG (256u << 20)
#define BLOCK 65536u
/* The connector's peak RSS after the big transfers. AddressSanitizer keeps freed
 * memory in quarantine (capped for the child below) and adds shadow memory, so the
 * sanitizer build gets a looser bound; both are far below the 256 MiB moved. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BOUND_KIB (160L * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_BOUND_KIB (160L * 1024)
#endif
#endif
#ifndef RSS_BOUND_KIB
#define RSS_BOUND_KIB (64L * 1024)
#endif

static uv_loop_t loop;
static uv_timer_t tick;
static pqify_tunnel_hub *hub;
static pqify_tls_config *hub_tls;
static pqify_metrics *hub_metrics;
static char dir[64], certs[200], hub_addr[64];
static int hub_port, nginx_port, nginx_tls_port, admin_port;
static pid_t nginx_pid = -1, tunnel_pid = -1;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* run the loop until done() or timeout_ms; 1 if done */
static int run_until(int (*done)(void *), void *arg, unsigned timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;
    while (!done(arg)) {
        if (now_ms() > end)
            return 0;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return 1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The hub's port, which the hub must get back when it restarts: below the kernel's
 * ephemeral range (ip_local_port_range, 32768 and up by default), so no outgoing
 * connection of another process on this machine takes it in between. */
static int stable_port(void)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = 20000 + (int)((unsigned)getpid() * 7919u + (unsigned)attempt * 104729u) % 12000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fail_msg("no free port in 20000..31999");
    return -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* the bytes of the big file: a keyed pattern, so a moved or lost block shows */
static void pattern(uint8_t *out, size_t off, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)(off + i) / 8u * 0x9E3779B97F4A7C15ull;
        out[i] = (uint8_t)(x >> (8 * ((off + i) % 8)));
    }
}

/* a blocking HTTP/1.0 GET to the connector's admin endpoint: status, body in out */
static int admin_get(const char *path, char *out, size_t cap)   /* out: the whole answer */
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)admin_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(fd, out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* ---- the hub ---- */

static void hub_start(void)
{
    pqify_tunnel_hub_options o = {.listen = hub_addr, .tls = hub_tls, .metrics = hub_metrics};
    char err[256];
    assert_int_equal(pqify_tunnel_hub_start(&loop, &o, &hub, err, sizeof err), 0);
}

static int four_registered(void *arg)
{
    (void)arg;
    return pqify_tunnel_hub_registered(hub, TUNNEL_NAME) == 4;
}

/* ---- requests through the hub ---- */

typedef struct call {
    int status, done, failed, big;
    char body[65536];
    size_t body_len, received;
    int pattern_ok;
    char err[256], group[48], header[128];
    pqify_tunnel_req *r;
    /* upload */
    size_t sent, to_send;
} call;

static void c_head(pqify_tunnel_req *r, int status, const pqify_tunnel_header *h, size_t n, void *ctx)
{
    call *c = ctx;
    c->status = status;
    snprintf(c->group, sizeof c->group, "%s", pqify_tunnel_req_group(r));
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, "content-type") == 0)
            snprintf(c->header, sizeof c->header, "%s", h[i].value);
}

static void c_body(pqify_tunnel_req *r, const uint8_t *data, size_t len, void *ctx)
{
    call *c = ctx;
    if (c->big) {
        uint8_t want[BLOCK];
        for (size_t done = 0; done < len;) {
            size_t k = len - done < BLOCK ? len - done : BLOCK;
            pattern(want, c->received + done, k);
            if (memcmp(want, data + done, k) != 0)
                c->pattern_ok = 0;
            done += k;
        }
    } else if (c->body_len + len < sizeof c->body) {
        memcpy(c->body + c->body_len, data, len);
        c->body_len += len;
    }
    c->received += len;
    pqify_tunnel_req_consumed(r, len);
}

static void c_end(pqify_tunnel_req *r, void *ctx)
{
    (void)r;
    call *c = ctx;
    c->done = 1;
    c->body[c->body_len < sizeof c->body ? c->body_len : sizeof c->body - 1] = '\0';
}

static void c_error(pqify_tunnel_req *r, const char *why, void *ctx)
{
    (void)r;
    call *c = ctx;
    c->done = c->failed = 1;
    snprintf(c->err, sizeof c->err, "%s", why);
}

static void c_pump(call *c)
{
    uint8_t block[BLOCK];
    while (c->sent < c->to_send) {
        size_t k = c->to_send - c->sent < BLOCK ? c->to_send - c->sent : BLOCK;
        pattern(block, c->sent, k);
        int ret = pqify_tunnel_req_write(c->r, block, k);
        assert_true(ret >= 0);
        c->sent += k;
        if (ret == 1)
            return;   /* on_writable continues */
    }
    assert_int_equal(pqify_tunnel_req_end(c->r), 0);
}

static void c_writable(pqify_tunnel_req *r, void *ctx)
{
    (void)r;
    c_pump(ctx);
}

static const pqify_tunnel_req_cbs cbs = {c_head, c_body, c_end, c_error, c_writable};

static int start(call *c, const char *method, const char *host, const char *path)
{
    memset(c, 0, sizeof *c);
    c->pattern_ok = 1;
    pqify_tunnel_header ua = {"user-agent", "pqify-test", 10, 10};
    pqify_tunnel_request rq = {.method = method, .scheme = "https", .authority = host, .path = path,
                               .headers = &ua, .n_headers = 1};
    char err[256];
    c->r = pqify_tunnel_hub_request(hub, TUNNEL_NAME, &rq, &cbs, c, err, sizeof err);
    if (c->r == NULL) {
        c->done = 1;
        c->failed = 1;
        snprintf(c->err, sizeof c->err, "%s", err);
        return -1;
    }
    return 0;
}

static int call_done(void *arg) { return ((call *)arg)->done; }

static void fetch(call *c, const char *method, const char *host, const char *path)
{
    start(c, method, host, path);
    assert_true(run_until(call_done, c, 20000));
    if (c->failed)
        fail_msg("%s %s%s failed: %s", method, host, path, c->err);
}

/* ---- processes ---- */

/* death_signal: what the child gets if this test process dies first (nginx: SIGTERM,
 * so its master takes its workers down with it) */
static pid_t spawn(char *const argv[], const char *err_path, int death_signal)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, death_signal);
        setenv("ASAN_OPTIONS", "quarantine_size_mb=16:detect_leaks=1", 1);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(nul, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int wait_line(const char *path, const char *needle, char *line, size_t cap, unsigned timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            while (fgets(line, (int)cap, f) != NULL)
                if (strstr(line, needle) != NULL) {
                    fclose(f);
                    return 0;
                }
            fclose(f);
        }
        usleep(20000);
    }
    return -1;
}

static void write_tunnel_yaml(const char *special_rule)
{
    char path[128], text[8192];
    snprintf(path, sizeof path, "%s/tunnel.yaml", dir);
    snprintf(text, sizeof text,
             "tunnel: " TUNNEL_NAME "\n"
             "edge: [\"%s\"]\n"
             "ha_connections: 4\n"
             "grace_period: 10s\n"
             "tls: {cert: %s/client-p256.pem, key: %s/client-p256.key, ca: %s/ca.pem, server_name: localhost}\n"
             "ingress:\n"
             "%s"
             "  - hostname: sock.example.com\n"
             "    service: unix:%s/nginx.sock\n"
             "  - hostname: \"*.example.com\"\n"
             "    path: ^/gone\n"
             "    service: http_status:410\n"
             "  - hostname: tls.example.com\n"
             "    service: https://localhost:%d\n"
             "    originRequest: {caPool: %s/ca.pem}\n"
             "  - hostname: tlsbad.example.com\n"
             "    service: https://localhost:%d\n"
             "  - hostname: tlsany.example.com\n"
             "    service: https://127.0.0.1:%d\n"
             "    originRequest: {noTLSVerify: true, originServerName: not.the.name}\n"
             "  - hostname: named.example.com\n"
             "    service: http://127.0.0.1:%d\n"
             "    originRequest: {httpHostHeader: origin.internal, connectTimeout: 2s}\n"
             "  - service: http://127.0.0.1:%d\n",
             hub_addr, certs, certs, certs, special_rule, dir, nginx_tls_port, certs, nginx_tls_port, nginx_tls_port,
             nginx_port, nginx_port);
    write_file(path, text);
}

static int loop_ready;

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    const char *bin = getenv("PQIFY_BINARY_DIR");
    assert_non_null(bin);
    snprintf(certs, sizeof certs, "%s/tests/interop/certs", bin);
    snprintf(dir, sizeof dir, "/tmp/pqify-tunnel-XXXXXX");
    assert_non_null(mkdtemp(dir));
    /* nginx's worker may run as another user (nobody, when the test runs as root) */
    chmod(dir, 0755);
    char path[256], text[4096];
    snprintf(path, sizeof path, "%s/www", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/www/upload", dir);
    mkdir(path, 0777);
    chmod(path, 0777);
    snprintf(path, sizeof path, "%s/tmp", dir);
    mkdir(path, 0777);
    chmod(path, 0777);
    snprintf(path, sizeof path, "%s/www/small.txt", dir);
    write_file(path, "hello through the post-quantum tunnel\n");
    /* the big file */
    snprintf(path, sizeof path, "%s/www/big.bin", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static uint8_t block[BLOCK];
    for (size_t off = 0; off < BIG; off += BLOCK) {
        pattern(block, off, BLOCK);
        assert_int_equal(fwrite(block, 1, BLOCK, f), BLOCK);
    }
    fclose(f);

    nginx_port = free_port();
    nginx_tls_port = free_port();
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    snprintf(text, sizeof text,
             "worker_processes 1;\nerror_log %s/nginx.err;\npid %s/nginx.pid;\nevents { worker_connections 512; }\n"
             "http {\n access_log off;\n client_body_temp_path %s/tmp;\n proxy_temp_path %s/tmp;\n"
             " fastcgi_temp_path %s/tmp;\n uwsgi_temp_path %s/tmp;\n scgi_temp_path %s/tmp;\n"
             " default_type text/plain;\n"
             " server {\n  listen 127.0.0.1:%d;\n  listen unix:%s/nginx.sock;\n  root %s/www;\n"
             "  listen 127.0.0.1:%d ssl;\n  ssl_certificate %s/server-p256.pem;\n"
             "  ssl_certificate_key %s/server-p256.key;\n  ssl_protocols TLSv1.3;\n"
             "  client_max_body_size 0;\n"
             "  location /upload/ { dav_methods PUT; create_full_put_path on; }\n"
             "  location = /who { return 200 \"nginx host=$host\\n\"; }\n }\n}\n",
             dir, dir, dir, dir, dir, dir, dir, nginx_port, dir, dir, nginx_tls_port, certs, certs);
    write_file(path, text);
    char conf_arg[160], prefix[160];
    snprintf(conf_arg, sizeof conf_arg, "%s/nginx.conf", dir);
    snprintf(prefix, sizeof prefix, "%s/", dir);
    snprintf(path, sizeof path, "%s/nginx.stderr", dir);
    char *nginx_argv[] = {"/usr/sbin/nginx", "-p", prefix, "-c", conf_arg, "-g", "daemon off;", NULL};
    nginx_pid = spawn(nginx_argv, path, SIGTERM);

    uv_loop_init(&loop);
    loop_ready = 1;
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    hub_metrics = pqify_metrics_new();
    char err[512];
    snprintf(path, sizeof path, "%s/server-p256.pem", certs);
    char key[256], ca[256];
    snprintf(key, sizeof key, "%s/server-p256.key", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    pqify_tls_options to = {.cert = path, .key = key, .ca = ca, .pq = "required"};
    hub_tls = pqify_tls_options_build(&to, 1, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (hub_tls == NULL)
        fail_msg("hub tls: %s", err);
    hub_port = stable_port();
    snprintf(hub_addr, sizeof hub_addr, "127.0.0.1:%d", hub_port);
    hub_start();

    write_tunnel_yaml("");
    char exe[512], yaml[160], errp[160];
    snprintf(exe, sizeof exe, "%s/src/cli/pqify", bin);
    snprintf(yaml, sizeof yaml, "%s/tunnel.yaml", dir);
    snprintf(errp, sizeof errp, "%s/tunnel.stderr", dir);
    char *tunnel_argv[] = {exe, "tunnel", "--config", yaml, "--admin", "127.0.0.1:0", NULL};
    tunnel_pid = spawn(tunnel_argv, errp, SIGKILL);
    char line[512];
    if (wait_line(errp, "admin endpoint on ", line, sizeof line, 10000) < 0)
        fail_msg("pqify tunnel did not start (see %s)", errp);
    char *colon = strrchr(strstr(line, "admin endpoint on "), ':');
    admin_port = atoi(colon + 1);
    if (!run_until(four_registered, NULL, 15000))
        fail_msg("4 connections did not register (%u did; see %s)", pqify_tunnel_hub_registered(hub, TUNNEL_NAME),
                 errp);
    return 0;
}

/* SIGTERM first: nginx's master stops its workers (a SIGKILL'd master would orphan
 * them); SIGKILL after 5 s */
static void kill_wait(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 250 && waitpid(*pid, NULL, WNOHANG) == 0; i++)
        usleep(20000);
    if (kill(*pid, 0) == 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = -1;
}

static int teardown(void **state)
{
    (void)state;
    kill_wait(&tunnel_pid);
    kill_wait(&nginx_pid);
    if (hub != NULL)
        pqify_tunnel_hub_free(hub);
    hub = NULL;
    if (loop_ready) {   /* a setup that failed before may leave no loop to close */
        uv_timer_stop(&tick);
        uv_close((uv_handle_t *)&tick, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    pqify_tls_config_free(hub_tls);
    pqify_metrics_free(hub_metrics);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (getenv("PQIFY_KEEP") == NULL && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

/* ---- the cases ---- */

/* The sum of the values of the /metrics lines that start with prefix. */
static unsigned long long sum_series(const char *text, const char *prefix)
{
    unsigned long long sum = 0;
    size_t plen = strlen(prefix);
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, prefix, plen) == 0) {
            const char *sp = memchr(line, ' ', end != NULL ? (size_t)(end - line) : strlen(line));
            if (sp == NULL)
                sp = line + plen - 1;
            sum += strtoull(sp + 1, NULL, 10);
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return sum;
}

static void test_requests(void **state)
{
    (void)state;
    call c;
    fetch(&c, "GET", "www.other.org", "/small.txt");
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body, "hello through the post-quantum tunnel\n");
    assert_string_equal(c.group, "X25519MLKEM768");   /* the tunnel hop */
    fetch(&c, "HEAD", "www.other.org", "/small.txt");
    assert_int_equal(c.status, 200);
    assert_int_equal(c.body_len, 0);
    fetch(&c, "GET", "www.other.org", "/missing");
    assert_int_equal(c.status, 404);
    assert_non_null(strstr(c.body, "nginx"));                 /* nginx's own 404 page */
    fetch(&c, "GET", "a.example.com", "/gone/x");             /* wildcard + path: http_status:410 */
    assert_int_equal(c.status, 410);
    assert_int_equal(c.body_len, 0);
    fetch(&c, "GET", "a.b.example.com", "/gone/x");           /* '*' is one label: nginx */
    assert_int_equal(c.status, 404);
    fetch(&c, "GET", "sock.example.com:443", "/small.txt");   /* the Unix socket origin */
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body, "hello through the post-quantum tunnel\n");
    fetch(&c, "GET", "tls.example.com", "/small.txt");        /* https:// origin, verified with caPool */
    assert_int_equal(c.status, 200);
    assert_string_equal(c.body, "hello through the post-quantum tunnel\n");
    fetch(&c, "GET", "tls.example.com", "/who");              /* again, on the kept connection */
    assert_string_equal(c.body, "nginx host=tls.example.com\n");
    fetch(&c, "GET", "tlsbad.example.com", "/small.txt");     /* the system store does not know the test CA */
    assert_int_equal(c.status, 502);
    assert_non_null(strstr(c.body, "502 Bad Gateway: "));
    fetch(&c, "GET", "tlsany.example.com", "/small.txt");     /* noTLSVerify: any certificate */
    assert_int_equal(c.status, 200);
    fetch(&c, "GET", "named.example.com", "/who");            /* httpHostHeader */
    assert_string_equal(c.body, "nginx host=origin.internal\n");
    fetch(&c, "GET", "www.other.org", "/who");
    assert_string_equal(c.body, "nginx host=www.other.org\n");

    /* a body without content-length reaches the origin chunked (RFC 9112 §7.1) */
    pqify_tunnel_request put = {.method = "PUT", .scheme = "https", .authority = "www.other.org",
                                .path = "/upload/chunked.txt", .has_body = 1};
    char err[256];
    memset(&c, 0, sizeof c);
    c.r = pqify_tunnel_hub_request(hub, TUNNEL_NAME, &put, &cbs, &c, err, sizeof err);
    assert_non_null(c.r);
    assert_int_equal(pqify_tunnel_req_write(c.r, "part one, ", 10), 0);
    assert_int_equal(pqify_tunnel_req_write(c.r, "part two\n", 9), 0);
    assert_int_equal(pqify_tunnel_req_end(c.r), 0);
    assert_true(run_until(call_done, &c, 20000));
    assert_false(c.failed);
    assert_int_equal(c.status, 201);
    fetch(&c, "GET", "www.other.org", "/upload/chunked.txt");
    assert_string_equal(c.body, "part one, part two\n");

    static char body[65536];
    assert_int_equal(admin_get("/ready", body, sizeof body), 200);
    assert_non_null(strstr(body, "{\"status\":200,\"readyConnections\":4,"));
    assert_int_equal(admin_get("/metrics", body, sizeof body), 200);
    assert_non_null(strstr(body, "pqify_tunnel_ha_connections 4\n"));
    assert_non_null(strstr(body, "group=\"X25519MLKEM768\"} 1\n"));
    assert_non_null(strstr(body, "pqify_tunnel_responses_total{code=\"410\"} 1\n"));
    /* one response per request: the 4 registrations count in neither */
    assert_int_equal(sum_series(body, "pqify_tunnel_responses_total{"),
                     sum_series(body, "pqify_tunnel_requests_total "));
}

/* GETs in flight while one of the four connections is killed: none fails */
static void test_connection_killed(void **state)
{
    (void)state;
    enum { N = 200, IN_FLIGHT = 40 };
    static call calls[N];
    size_t started = 0;
    int dropped = 0;
    uint64_t end = now_ms() + 60000;
    while (now_ms() < end) {
        size_t running = 0, done = 0;
        for (size_t i = 0; i < started; i++)
            calls[i].done ? done++ : running++;
        if (done == N)
            break;
        while (running < IN_FLIGHT && started < N) {
            start(&calls[started++], "GET", "www.other.org", "/small.txt");
            running++;
        }
        if (!dropped && started >= N / 3) {
            assert_int_equal(pqify_tunnel_hub_drop_connection(hub, TUNNEL_NAME), 0);
            dropped = 1;
        }
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(dropped);
    for (size_t i = 0; i < N; i++) {
        if (!calls[i].done || calls[i].failed || calls[i].status != 200)
            fail_msg("request %zu: done=%d status=%d %s", i, calls[i].done, calls[i].status, calls[i].err);
        assert_string_equal(calls[i].body, "hello through the post-quantum tunnel\n");
    }
    /* the drop hit requests in flight, which went again on another connection */
    char *m = pqify_metrics_render(hub_metrics, NULL);
    assert_non_null(m);
    unsigned retries = 0;
    const char *at = strstr(m, "pqify_tunnel_hub_retries_total{tunnel=\"" TUNNEL_NAME "\"} ");
    assert_non_null(at);
    retries = (unsigned)atoi(strchr(at, '}') + 2);
    fprintf(stderr, "%u requests retried after the drop\n", retries);
    assert_true(retries > 0);
    free(m);
    /* the connector dials the lost one again */
    assert_true(run_until(four_registered, NULL, 10000));
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static int ready_is(void *arg)
{
    char body[1024];
    return admin_get("/ready", body, sizeof body) == *(int *)arg;
}

/* /ready answers 200, asked only once the hub (in this process) registered a connection:
 * each ask is a blocking request to the connector's admin endpoint on this loop's thread,
 * and asking after every loop turn starved the hub's own side of the registration on a
 * loaded machine (the connector registers first: it answers the hub's registration) */
static int registered_and_ready(void *arg)
{
    return pqify_tunnel_hub_registered(hub, TUNNEL_NAME) > 0 && ready_is(arg);
}

/* the hub goes away: /ready 503; it returns: /ready 200 within 2 s */
static void test_hub_restart(void **state)
{
    (void)state;
    pqify_tunnel_hub_free(hub);
    hub = NULL;
    int want = 503;
    assert_true(run_until(ready_is, &want, 10000));
    char body[1024];
    admin_get("/ready", body, sizeof body);
    assert_non_null(strstr(body, "{\"status\":503,\"readyConnections\":0,"));
    run_until(never, NULL, 1500);   /* the listener closes; the connector's dials fail and back off */
    hub_start();
    uint64_t back = now_ms();
    want = 200;
    assert_true(run_until(registered_and_ready, &want, 2000));
    fprintf(stderr, "ready again %llu ms after the hub returned\n", (unsigned long long)(now_ms() - back));
    assert_true(run_until(four_registered, NULL, 10000));
}

/* SIGHUP with a new rule while GETs run: none fails, the new rule answers */
static void test_reload(void **state)
{
    (void)state;
    enum { N = 150, IN_FLIGHT = 30 };
    static call calls[N];
    size_t started = 0;
    int reloaded = 0;
    uint64_t end = now_ms() + 60000;
    while (now_ms() < end) {
        size_t running = 0, done = 0;
        for (size_t i = 0; i < started; i++)
            calls[i].done ? done++ : running++;
        if (done == N)
            break;
        while (running < IN_FLIGHT && started < N) {
            start(&calls[started++], "GET", "www.other.org", "/small.txt");
            running++;
        }
        if (!reloaded && started >= N / 2) {
            write_tunnel_yaml("  - path: ^/teapot$\n    service: http_status:418\n");
            kill(tunnel_pid, SIGHUP);
            reloaded = 1;
        }
        uv_run(&loop, UV_RUN_ONCE);
    }
    for (size_t i = 0; i < N; i++)
        if (!calls[i].done || calls[i].failed || calls[i].status != 200)
            fail_msg("request %zu: done=%d status=%d %s", i, calls[i].done, calls[i].status, calls[i].err);
    char errp[160], line[512];
    snprintf(errp, sizeof errp, "%s/tunnel.stderr", dir);
    assert_int_equal(wait_line(errp, "reloaded 8 ingress rules", line, sizeof line, 5000), 0);
    call c;
    fetch(&c, "GET", "www.other.org", "/teapot");
    assert_int_equal(c.status, 418);
    assert_int_equal(pqify_tunnel_hub_registered(hub, TUNNEL_NAME), 4);   /* no connection dropped */
}

static long peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kib;
}

static void test_big_transfers(void **state)
{
    (void)state;
    call *c = calloc(1, sizeof *c);
    start(c, "GET", "www.other.org", "/big.bin");
    c->big = 1;
    assert_true(run_until(call_done, c, 120000));
    if (c->failed)
        fail_msg("download: %s", c->err);
    assert_int_equal(c->status, 200);
    assert_int_equal(c->received, BIG);
    assert_true(c->pattern_ok);

    memset(c, 0, sizeof *c);
    pqify_tunnel_header len = {"content-length", "268435456", 14, 9};
    pqify_tunnel_request rq = {.method = "PUT", .scheme = "https", .authority = "www.other.org",
                               .path = "/upload/big.bin", .headers = &len, .n_headers = 1, .has_body = 1};
    char err[256];
    c->r = pqify_tunnel_hub_request(hub, TUNNEL_NAME, &rq, &cbs, c, err, sizeof err);
    assert_non_null(c->r);
    c->to_send = BIG;
    c_pump(c);
    assert_true(run_until(call_done, c, 120000));
    if (c->failed)
        fail_msg("upload: %s", c->err);
    assert_int_equal(c->status, 201);
    /* nginx wrote what came through: same size, same bytes */
    char path[160];
    snprintf(path, sizeof path, "%s/www/upload/big.bin", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static uint8_t got[BLOCK], want[BLOCK];
    size_t total = 0, n;
    while ((n = fread(got, 1, BLOCK, f)) > 0) {
        pattern(want, total, n);
        assert_memory_equal(got, want, n);
        total += n;
    }
    fclose(f);
    assert_int_equal(total, BIG);
    long rss = peak_rss_kib(tunnel_pid);
    fprintf(stderr, "connector peak RSS after 2 x 256 MiB: %ld KiB (bound %ld KiB)\n", rss, RSS_BOUND_KIB);
    /* unbounded buffering would hold a good part of the 256 MiB */
    assert_true(rss > 0 && rss < RSS_BOUND_KIB);
    free(c);
}

static int head_seen(void *arg) { return ((call *)arg)->status != 0 || ((call *)arg)->done; }

/* SIGTERM while a 32 MiB answer is streaming: it finishes whole, then exit 0 */
static void test_sigterm(void **state)
{
    (void)state;
    call *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->pattern_ok = 1;
    c->big = 1;
    pqify_tunnel_header range = {"range", "bytes=0-33554431", 5, 16};
    pqify_tunnel_request rq = {.method = "GET", .scheme = "https", .authority = "www.other.org", .path = "/big.bin",
                               .headers = &range, .n_headers = 1};
    char err[256];
    c->r = pqify_tunnel_hub_request(hub, TUNNEL_NAME, &rq, &cbs, c, err, sizeof err);
    assert_non_null(c->r);
    assert_true(run_until(head_seen, c, 20000));
    assert_int_equal(c->status, 206);   /* the connector is serving it */
    kill(tunnel_pid, SIGTERM);
    assert_true(run_until(call_done, c, 60000));
    if (c->failed)
        fail_msg("in flight at SIGTERM: %s", c->err);
    assert_int_equal(c->received, 32u << 20);
    assert_true(c->pattern_ok);
    free(c);
    int status = -1;
    for (int i = 0; i < 500 && waitpid(tunnel_pid, &status, WNOHANG) == 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(20000);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tunnel_pid = -1;
    char errp[160], line[512];
    snprintf(errp, sizeof errp, "%s/tunnel.stderr", dir);
    assert_int_equal(wait_line(errp, "pqify tunnel: drained", line, sizeof line, 1000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_connection_killed),
        cmocka_unit_test(test_hub_restart),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_big_transfers),
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
