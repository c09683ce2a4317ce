/*
 * `pqify bench edge`: pqify edge against Debian's nginx as a TLS-terminating reverse
 * proxy, in the same run, in front of the same origin (a second nginx serving a small
 * file, keep-alive), driven by the same client.
 *  1. CPU per proxied request: h2load, HTTP/1.1 keep-alive and HTTP/2, small
 *     responses; the proxy's CPU is read from /proc/PID/stat (utime + stime) and
 *     /proc/PID/schedstat around each run. nginx runs as one process
 *     (master_process off, proxy_pass to an upstream with keepalive), so its number
 *     is that process's, as the edge's is. h2load offers X25519 (OpenSSL 3.0) to both.
 *  2. Full handshakes on one core: both proxies pinned to CPU 0, a pqify client on
 *     another core making one handshake and one request per connection; the edge
 *     negotiates X25519MLKEM768 with its ECDSA P-256 certificate, nginx X25519 (on
 *     libssl 3.0 it cannot do PQ). Handshakes per second on one core = 1 / the
 *     proxy's CPU per handshake.
 * Runs are interleaved round by round. Nothing here is a test.
 */
#include "bench.h"
#include "bench_nginx.h"
#include "cli.h"
#include "pqify/net/pair.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pqify/tls.h"

int pqify_bench_edge(int argc, char **argv);

#define proc pqify_bench_proc

static char dir[64];

/* ---- h2load runs ---- */

struct row {
    unsigned long long ticks, ns, requests;
};

static int measure(struct row *r, const struct proc *p, int h1, unsigned n)
{
    unsigned long long t0, t1, n0, n1;
    if (pqify_bench_cpu(p->pid, &t0, &n0) != 0)
        return -1;
    long ok = pqify_bench_h2load(dir, p->port, h1, n, NULL, NULL);
    usleep(20000);
    if (ok < 0 || pqify_bench_cpu(p->pid, &t1, &n1) != 0) {
        fprintf(stderr, "pqify bench edge: h2load against %s (%s) failed; see %s/h2load.out\n",
                p->name, h1 ? "HTTP/1.1" : "HTTP/2", dir);
        return -1;
    }
    r->ticks += t1 - t0;
    r->ns += n1 - n0;
    r->requests += (unsigned long long)ok;
    return 0;
}

/* ---- handshakes: one handshake and one request per connection ---- */

static int flush_out(int fd, pqify_tls_buf *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t w = write(fd, out->base + off, out->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    pqify_tls_buf_consume(out, out->len);
    return 0;
}

static int one_handshake(pqify_tls_config *cfg, uint16_t port, const char *want_group)
{
    static const char req[] = "GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    uint8_t in[32768];
    size_t have = 0;
    int ret = -1, fd = pqify_bench_tcp_connect(port);
    pqify_tls_conn *c = pqify_tls_conn_new(cfg, 0);
    pqify_tls_buf out, plain;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    if (fd < 0 || c == NULL)
        goto done;
    size_t n = 0;
    int rc = pqify_tls_handshake(c, NULL, &n, &out);
    while (flush_out(fd, &out) == 0 && rc == PQIFY_TLS_IN_PROGRESS) {
        ssize_t r = read(fd, in + have, sizeof in - have);
        if (r <= 0)
            goto done;
        have += (size_t)r;
        n = have;
        rc = pqify_tls_handshake(c, in, &n, &out);
        memmove(in, in + n, have - n);
        have -= n;
    }
    pqify_tls_info info;
    pqify_tls_get_info(c, &info);
    if (rc != 0 || strcmp(info.group, want_group) != 0)
        goto done;
    if (pqify_tls_send(c, &out, req, sizeof req - 1) != 0 || flush_out(fd, &out) != 0)
        goto done;
    for (;;) {   /* read until the proxy closes (Connection: close) */
        n = have;
        rc = have > 0 ? pqify_tls_receive(c, &plain, in, &n, &out) : 0;
        memmove(in, in + n, have - n);
        have -= n;
        if (rc < 0 || flush_out(fd, &out) != 0 || rc == PQIFY_TLS_PEER_CLOSED)
            break;
        if (have == 0) {
            ssize_t r = read(fd, in, sizeof in);
            if (r <= 0)
                break;
            have = (size_t)r;
        }
    }
    ret = plain.len >= 12 && memcmp(plain.base, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
done:
    if (fd >= 0)
        close(fd);
    pqify_tls_conn_free(c);
    pqify_tls_buf_dispose(&out);
    pqify_tls_buf_dispose(&plain);
    return ret;
}

static int handshakes(struct row *r, const struct proc *p, pqify_tls_config *cfg, const char *group,
                      unsigned n)
{
    unsigned long long t0, t1, n0, n1;
    if (pqify_bench_cpu(p->pid, &t0, &n0) != 0)
        return -1;
    for (unsigned i = 0; i < n; i++)
        if (one_handshake(cfg, p->port, group) != 0) {
            fprintf(stderr, "pqify bench edge: a %s handshake with %s failed\n", group, p->name);
            return -1;
        }
    usleep(20000);
    if (pqify_bench_cpu(p->pid, &t1, &n1) != 0)
        return -1;
    r->ticks += t1 - t0;
    r->ns += n1 - n0;
    r->requests += n;
    return 0;
}

/* ---- the command ---- */

static double us_per(const struct row *r)
{
    return (double)r->ns / 1e3 / (double)r->requests;
}

static double us_per_ticks(const struct row *r)
{
    return (double)r->ticks * 1e6 / (double)sysconf(_SC_CLK_TCK) / (double)r->requests;
}

int pqify_bench_edge(int argc, char **argv)
{
    unsigned rounds = 3, requests = 20000, hs = 300;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            rounds = 1, requests = 2000, hs = 30;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: pqify bench edge [--quick]\n\n"
                   "pqify edge against Debian's nginx as a TLS-terminating reverse proxy\n"
                   "(proxy_pass, keep-alive upstream) in front of the same nginx origin:\n"
                   "proxy CPU per request under h2load (HTTP/1.1 keep-alive, HTTP/2), and\n"
                   "full handshakes per second on one core (edge X25519MLKEM768 + ECDSA P-256,\n"
                   "nginx X25519). Needs nginx and h2load (Debian's nginx, nghttp2-client).\n");
            return 0;
        } else {
            fprintf(stderr, "pqify bench edge: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    char pqify[600];
    if (pqify_cli_sibling_path("pqify", pqify, sizeof pqify) != 0)
        return 1;
    char *cert = NULL, *key = NULL;
    struct proc origin = {"nginx (origin)", -1, 0}, ngx = {"nginx (proxy)", -1, 0},
                edge = {"pqify edge", -1, 0};
    pqify_tls_config *pq = NULL, *classic = NULL;
    int ret = 1;
    if (pqify_bench_dir_make(dir, sizeof dir, "edge") != 0 || pqify_bench_make_cert(&cert, &key) != 0 ||
        pqify_bench_put(dir, "cert.pem", cert) != 0 || pqify_bench_put(dir, "key.pem", key) != 0 ||
        pqify_bench_put(dir, "small.txt", "a small response, 40 bytes of payload.\n") != 0) {
        fprintf(stderr, "pqify bench edge: cannot prepare %s\n", dir);
        goto out;
    }
    origin.port = pqify_bench_free_port();
    ngx.port = pqify_bench_free_port();
    edge.port = pqify_bench_free_port();
    char conf[4096];
    pqify_bench_nginx_origin(conf, sizeof conf, dir, origin.port, 0);
    if (pqify_bench_nginx_conf(dir, "origin", conf) != 0)
        goto out;
    pqify_bench_nginx_proxy(conf, sizeof conf, dir, ngx.port, origin.port, 64);
    if (pqify_bench_nginx_conf(dir, "proxy", conf) != 0)
        goto out;
    char el[64], cp[128], kp[128], route[64];
    snprintf(el, sizeof el, "127.0.0.1:%u", (unsigned)edge.port);
    snprintf(cp, sizeof cp, "%s/cert.pem", dir);
    snprintf(kp, sizeof kp, "%s/key.pem", dir);
    snprintf(route, sizeof route, "*=http://127.0.0.1:%u", (unsigned)origin.port);
    char *eargv[] = {pqify, "edge", "--listen", el, "--cert", cp, "--key", kp, "--route", route,
                     "--admin", "off", NULL};
    const char *nginx = pqify_bench_nginx_binary();
    if (pqify_bench_nginx_start(&origin, nginx, dir, "origin", 1, NULL) != 0 ||
        pqify_bench_nginx_start(&ngx, nginx, dir, "proxy", 0, NULL) != 0)
        goto out;
    edge.pid = pqify_bench_spawn(dir, eargv, 0, "edge.log", NULL);
    if (pqify_bench_wait_port(&edge, dir) != 0)
        goto out;
    pq = pqify_pair_config(0, NULL, NULL, "X25519MLKEM768", "required");
    classic = pqify_pair_config(0, NULL, NULL, "x25519", "off");
    if (pq == NULL || classic == NULL)
        goto out;

    struct proc *px[2] = {&edge, &ngx};
    struct row req[2][2] = {{{0}}};   /* [proxy][h1=0, h2=1] */
    struct row hsr[2] = {{0}};
    /* warm-up, not counted */
    struct row warm = {0};
    for (int p = 0; p < 2; p++)
        if (measure(&warm, px[p], 1, requests / 10) != 0 || measure(&warm, px[p], 0, requests / 10) != 0)
            goto out;
    for (unsigned round = 0; round < rounds; round++)
        for (int k = 0; k < 2; k++) {
            int p = (int)((round + (unsigned)k) % 2);
            if (measure(&req[p][0], px[p], 1, requests) != 0 || measure(&req[p][1], px[p], 0, requests) != 0 ||
                handshakes(&hsr[p], px[p], p == 0 ? pq : classic, p == 0 ? "X25519MLKEM768" : "x25519", hs) != 0)
                goto out;
        }

    printf("pqify bench edge: pqify edge against Debian nginx (TLS-terminating reverse proxy,\n"
           "  proxy_pass with a keep-alive upstream), same nginx origin (a 40-byte file), both\n"
           "  proxies one process pinned to CPU 0; %u rounds, interleaved\n\n", rounds);
    printf("  CPU per proxied request (h2load -c 8; HTTP/2 -m 16), proxy process only:\n");
    printf("  %-20s %12s %14s %16s\n", "", "requests", "us/request", "(stat us/req)");
    const char *proto[2] = {"HTTP/1.1 keep-alive", "HTTP/2"};
    double ratio[2];
    for (int m = 0; m < 2; m++) {
        for (int p = 0; p < 2; p++)
            printf("  %-9s %-10s %12llu %14.2f %16.2f\n", p == 0 ? "edge" : "nginx",
                   m == 0 ? "h1" : "h2", req[p][m].requests, us_per(&req[p][m]), us_per_ticks(&req[p][m]));
        ratio[m] = us_per(&req[0][m]) / us_per(&req[1][m]);
        printf("  %s: edge / nginx CPU per request = %.2fx (target <= 1.0x: %s)\n", proto[m], ratio[m],
               ratio[m] <= 1.0 ? "ok" : "MISSED");
    }
    printf("\n  full handshakes (+ one request, Connection: close), proxy CPU on one core:\n");
    double cap[2];
    for (int p = 0; p < 2; p++) {
        cap[p] = 1e6 / us_per(&hsr[p]);
        printf("  %-6s %-15s %8llu handshakes %10.1f us/hs  => %7.0f handshakes/s per core\n",
               p == 0 ? "edge" : "nginx", p == 0 ? "X25519MLKEM768" : "X25519", hsr[p].requests,
               us_per(&hsr[p]), cap[p]);
    }
    printf("  edge X25519MLKEM768 / nginx X25519 handshakes/s per core = %.2fx (target >= 1.5x: %s)\n",
           cap[0] / cap[1], cap[0] / cap[1] >= 1.5 ? "ok" : "MISSED");
    ret = 0;
out:
    pqify_bench_stop(&edge);
    pqify_bench_stop(&ngx);
    pqify_bench_stop(&origin);
    pqify_tls_config_free(pq);
    pqify_tls_config_free(classic);
    free(cert);
    free(key);
    if (ret == 0)
        pqify_bench_dir_remove(dir);
    return ret;
}
