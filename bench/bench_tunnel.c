/*
 * `pqify bench tunnel`: the tunnel (pqify edge's hub + pqify tunnel) against the
 * classical way to tunnel, nginx -> stunnel4 -> stunnel4 -> the origin, in the same run,
 * in front of the same origin (Debian's nginx serving a 40-byte file), driven by the same
 * h2load (HTTP/2, TLS 1.3, -c 8 -m 16).
 *  - pqify: h2load -> pqify edge (TLS, HTTP/2) -> the tunnel (X25519MLKEM768, mutual TLS,
 *    HTTP/2 streams, 4 connections) -> pqify tunnel -> origin (HTTP/1.1 keep-alive).
 *  - classical: h2load -> nginx (TLS, HTTP/2, proxy_pass keep-alive) -> stunnel4 client
 *    (plain in, TLS out) -> stunnel4 server (mutual TLS in, plain out) -> origin; TLS
 *    1.3 X25519 between the stunnels, TCP_NODELAY on every socket.
 *  - direct: h2load straight to the origin over TLS and HTTP/2 (its second listener).
 * CPU per request is each side's processes together, read from /proc/PID/stat (utime +
 * stime, every thread, also those that ended: stunnel runs a thread per connection) and
 * /proc/PID/task/ * /schedstat (finer; live threads only) around each run. The proxies
 * run on CPU 0, the origin and h2load on CPU 1. Requests/s are h2load's; latency
 * percentiles come from its --log-file (per-request time to the response's end). Runs
 * are interleaved round by round. Nothing here is a test.
 */
#include "bench.h"
#include "bench_nginx.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int pqify_bench_tunnel(int argc, char **argv);

#define TUNNEL_NAME "pqify-bench"   /* the CN pqify_bench_make_cert gives */
#define MAX_PROCS 3

enum { PATH_TUNNEL, PATH_CLASSIC, PATH_DIRECT, N_PATHS };

struct path {
    const char *name;
    struct pqify_bench_proc *front;             /* where h2load connects */
    struct pqify_bench_proc *procs[MAX_PROCS];  /* whose CPU counts */
    size_t n_procs;
    unsigned long long ticks, ns, requests;
    double seconds;                             /* h2load's "finished in" */
    double *lat;                                /* microseconds, every request */
    size_t n_lat, cap_lat;
};

static char dir[64];

static int lat_add(struct path *p, double us)
{
    if (p->n_lat == p->cap_lat) {
        size_t cap = p->cap_lat ? p->cap_lat * 2 : 65536;
        double *l = realloc(p->lat, cap * sizeof *l);
        if (l == NULL)
            return -1;
        p->lat = l;
        p->cap_lat = cap;
    }
    p->lat[p->n_lat++] = us;
    return 0;
}

/* One h2load run; 0 when all n requests answered 2xx. Counted: its time and the
 * latency of every request are kept. */
static int h2load(struct path *p, unsigned n, int counted)
{
    char logf[128], line[256];
    double secs;
    snprintf(logf, sizeof logf, "%s/h2load.log", dir);
    remove(logf);
    if (pqify_bench_h2load(dir, p->front->port, 0, n, logf, &secs) < 0)
        return -1;
    if (!counted)
        return 0;
    p->seconds += secs;
    p->requests += n;
    FILE *f = fopen(logf, "r");   /* start (us since the epoch), status, duration (us) */
    unsigned long long start, dur;
    int status;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%llu %d %llu", &start, &status, &dur) == 3 && lat_add(p, (double)dur) != 0)
            break;
    if (f != NULL)
        fclose(f);
    return 0;
}

static int cpu_sum(const struct path *p, unsigned long long *ticks, unsigned long long *ns)
{
    *ticks = *ns = 0;
    for (size_t i = 0; i < p->n_procs; i++) {
        unsigned long long t, n;
        if (pqify_bench_cpu(p->procs[i]->pid, &t, &n) != 0)
            return -1;
        *ticks += t;
        *ns += n;
    }
    return 0;
}

static int measure(struct path *p, unsigned n, int counted)
{
    unsigned long long t0, t1, n0, n1;
    if (cpu_sum(p, &t0, &n0) != 0)
        return -1;
    int rc = h2load(p, n, counted);
    usleep(20000);
    if (rc != 0 || cpu_sum(p, &t1, &n1) != 0) {
        fprintf(stderr, "pqify bench tunnel: h2load through %s failed; see %s/h2load.out\n", p->name, dir);
        return -1;
    }
    if (counted) {
        p->ticks += t1 - t0;
        p->ns += n1 - n0;
    }
    return 0;
}

/* ---- the processes ---- */

static int write_stunnel(const char *name, int client, uint16_t accept, uint16_t connect)
{
    char text[2048], file[64];
    snprintf(text, sizeof text,
             "foreground = yes\npid =\ndebug = 4\n"
             "socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n"
             "[%s]\nclient = %s\naccept = 127.0.0.1:%u\nconnect = 127.0.0.1:%u\n"
             "cert = %s/cert.pem\nkey = %s/key.pem\nCAfile = %s/cert.pem\nverifyChain = yes\n"
             "%s"
             "sslVersionMin = TLSv1.3\ncurves = X25519\n",
             name, client ? "yes" : "no", (unsigned)accept, (unsigned)connect, dir, dir, dir,
             client ? "checkHost = " TUNNEL_NAME "\n" : "");
    snprintf(file, sizeof file, "%s.conf", name);
    return pqify_bench_put(dir, file, text);
}

static double pct(const double *sorted, size_t n, double q)
{
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(struct path *paths, unsigned rounds)
{
    double tck = (double)sysconf(_SC_CLK_TCK);
    printf("pqify bench tunnel: pqify edge + pqify tunnel (X25519MLKEM768 tunnel hop, 4 HTTP/2\n"
           "  connections) against nginx -> stunnel4 -> stunnel4 (TLS 1.3 X25519, mutual), same\n"
           "  nginx origin (a 40-byte file), h2load HTTP/2 -c 8 -m 16; proxies on CPU 0, origin and\n"
           "  h2load on CPU 1; %u rounds, interleaved\n\n",
           rounds);
    printf("  CPU per request, the path's processes together:\n");
    printf("  %-34s %10s %14s %16s\n", "", "requests", "us/request", "(schedstat)");
    double us[N_PATHS], us_ns[N_PATHS];
    for (int i = 0; i < PATH_DIRECT; i++) {
        struct path *p = &paths[i];
        us[i] = (double)p->ticks * 1e6 / tck / (double)p->requests;
        us_ns[i] = (double)p->ns / 1e3 / (double)p->requests;
        printf("  %-34s %10llu %14.2f %16.2f\n", p->name, p->requests, us[i], us_ns[i]);
    }
    double ratio = us[PATH_TUNNEL] / us[PATH_CLASSIC];
    printf("  tunnel / classical CPU per request = %.2fx (schedstat %.2fx; target <= 0.5x: %s)\n\n", ratio,
           us_ns[PATH_TUNNEL] / us_ns[PATH_CLASSIC], ratio <= 0.5 ? "ok" : "MISSED");
    printf("  %-34s %10s %10s %10s %12s %12s\n", "throughput and latency", "req/s", "p50 us", "p99 us",
           "+p50 us", "+p99 us");
    double p50[N_PATHS], p99[N_PATHS], rps[N_PATHS];
    for (int i = 0; i < N_PATHS; i++) {
        struct path *p = &paths[i];
        qsort(p->lat, p->n_lat, sizeof *p->lat, cmp_double);
        p50[i] = p->n_lat ? pct(p->lat, p->n_lat, 0.50) : 0;
        p99[i] = p->n_lat ? pct(p->lat, p->n_lat, 0.99) : 0;
        rps[i] = (double)p->requests / p->seconds;
    }
    for (int i = 0; i < N_PATHS; i++)
        printf("  %-34s %10.0f %10.0f %10.0f %12.0f %12.0f\n", paths[i].name, rps[i], p50[i], p99[i],
               p50[i] - p50[PATH_DIRECT], p99[i] - p99[PATH_DIRECT]);
    printf("  requests/s through the tunnel / direct to the origin = %.2fx (classical %.2fx)\n",
           rps[PATH_TUNNEL] / rps[PATH_DIRECT], rps[PATH_CLASSIC] / rps[PATH_DIRECT]);
}

int pqify_bench_tunnel(int argc, char **argv)
{
    unsigned rounds = 3, requests = 20000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            rounds = 1, requests = 2000;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: pqify bench tunnel [--quick]\n\n"
                   "pqify edge + pqify tunnel against nginx -> stunnel4 -> stunnel4, in front of the\n"
                   "same nginx origin, under the same h2load (HTTP/2, small responses): CPU per\n"
                   "request of each path's processes together (target <= 0.5x), and requests/s\n"
                   "and p50/p99 latency of each path against h2load straight to the origin.\n"
                   "Needs nginx, stunnel4 and h2load (Debian's nginx, stunnel4, nghttp2-client).\n");
            return 0;
        } else {
            fprintf(stderr, "pqify bench tunnel: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    char pqify[600];
    if (pqify_cli_sibling_path("pqify", pqify, sizeof pqify) != 0)
        return 1;
    char *cert = NULL, *key = NULL;
    struct pqify_bench_proc origin = {"nginx (origin)", -1, 0}, ngx = {"nginx (front)", -1, 0},
                            sa = {"stunnel4 (client)", -1, 0}, sb = {"stunnel4 (server)", -1, 0},
                            edge = {"pqify edge", -1, 0}, hub = {"pqify edge's tunnels", -1, 0},
                            conn = {"pqify tunnel", -1, 0};
    uint16_t origin_tls = 0;
    struct pqify_bench_proc direct = {"nginx (origin, TLS)", -1, 0};
    struct path paths[N_PATHS] = {
        {.name = "tunnel: pqify edge + pqify tunnel", .front = &edge, .procs = {&edge, &conn}, .n_procs = 2},
        {.name = "classical: nginx + 2 x stunnel4", .front = &ngx, .procs = {&ngx, &sa, &sb}, .n_procs = 3},
        {.name = "direct: the origin over TLS", .front = &direct, .procs = {&origin}, .n_procs = 1},
    };
    int ret = 1;
    char conf[4096];
    if (pqify_bench_dir_make(dir, sizeof dir, "tunnel") != 0 || pqify_bench_make_cert(&cert, &key) != 0 ||
        pqify_bench_put(dir, "cert.pem", cert) != 0 || pqify_bench_put(dir, "key.pem", key) != 0 ||
        pqify_bench_put(dir, "small.txt", "a small response, 40 bytes of payload.\n") != 0) {
        fprintf(stderr, "pqify bench tunnel: cannot prepare %s\n", dir);
        goto out;
    }
    snprintf(conf, sizeof conf, "%s/key.pem", dir);
    (void)chmod(conf, 0600);   /* stunnel warns about a key others may read */
    origin.port = pqify_bench_free_port();
    origin_tls = direct.port = pqify_bench_free_port();
    ngx.port = pqify_bench_free_port();
    sa.port = pqify_bench_free_port();
    sb.port = pqify_bench_free_port();
    edge.port = pqify_bench_free_port();
    hub.port = pqify_bench_free_port();
    pqify_bench_nginx_origin(conf, sizeof conf, dir, origin.port, origin_tls);
    if (pqify_bench_nginx_conf(dir, "origin", conf) != 0)
        goto out;
    /* as many idle upstream connections as h2load has requests in flight (8 x 16): no
     * stunnel connection (a thread and a handshake each) is made and closed per burst */
    pqify_bench_nginx_proxy(conf, sizeof conf, dir, ngx.port, sa.port, 256);
    if (pqify_bench_nginx_conf(dir, "front", conf) != 0 || write_stunnel("stunnel-client", 1, sa.port, sb.port) != 0 ||
        write_stunnel("stunnel-server", 0, sb.port, origin.port) != 0)
        goto out;
    snprintf(conf, sizeof conf,
             "listen: [127.0.0.1:%u]\n"
             "tls: {cert: %s/cert.pem, key: %s/key.pem}\n"
             "tunnels: {listen: \"127.0.0.1:%u\", cert: %s/cert.pem, key: %s/key.pem, ca: %s/cert.pem}\n"
             "routes:\n  - {tunnel: " TUNNEL_NAME "}\n",
             (unsigned)edge.port, dir, dir, (unsigned)hub.port, dir, dir, dir);
    if (pqify_bench_put(dir, "edge.yaml", conf) != 0)
        goto out;
    char ey[128], hubaddr[64], cp[128], kp[128], url[64], sac[128], sbc[128];
    snprintf(ey, sizeof ey, "%s/edge.yaml", dir);
    snprintf(hubaddr, sizeof hubaddr, "127.0.0.1:%u", (unsigned)hub.port);
    snprintf(cp, sizeof cp, "%s/cert.pem", dir);
    snprintf(kp, sizeof kp, "%s/key.pem", dir);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)origin.port);
    snprintf(sac, sizeof sac, "%s/stunnel-client.conf", dir);
    snprintf(sbc, sizeof sbc, "%s/stunnel-server.conf", dir);
    char *eargv[] = {pqify, "edge", "--config", ey, "--admin", "off", NULL};
    char *targv[] = {pqify, "tunnel", "--edge", hubaddr, "--name", TUNNEL_NAME, "--cert", cp, "--key", kp,
                     "--ca", cp, "--servername", TUNNEL_NAME, "--url", url, NULL};
    char *saargv[] = {"stunnel4", sac, NULL}, *sbargv[] = {"stunnel4", sbc, NULL};
    const char *nginx = pqify_bench_nginx_binary();
    if (pqify_bench_nginx_start(&origin, nginx, dir, "origin", 1, NULL) != 0 ||
        pqify_bench_nginx_start(&ngx, nginx, dir, "front", 0, NULL) != 0)
        goto out;
    sb.pid = pqify_bench_spawn(dir, sbargv, 0, "stunnel-server.log", NULL);
    sa.pid = pqify_bench_spawn(dir, saargv, 0, "stunnel-client.log", NULL);
    edge.pid = pqify_bench_spawn(dir, eargv, 0, "edge.log", NULL);
    if (pqify_bench_wait_port(&sb, dir) != 0 || pqify_bench_wait_port(&sa, dir) != 0 ||
        pqify_bench_wait_port(&edge, dir) != 0)
        goto out;
    hub.pid = edge.pid;
    if (pqify_bench_wait_port(&hub, dir) != 0)
        goto out;
    conn.pid = pqify_bench_spawn(dir, targv, 0, "tunnel.log", NULL);
    /* the connector registers its connections within a second or two: warm-up runs until
     * requests pass (the edge answers 502 while none is registered) */
    int warm = -1;
    for (int i = 0; i < 50 && warm != 0; i++) {
        usleep(100000);
        warm = h2load(&paths[PATH_TUNNEL], 200, 0);
    }
    if (warm != 0)
        goto out;
    sleep(1);   /* all four connections */
    for (int i = 0; i < N_PATHS; i++)
        if (measure(&paths[i], requests / 10, 0) != 0)
            goto out;
    for (unsigned round = 0; round < rounds; round++)
        for (unsigned k = 0; k < N_PATHS; k++)
            if (measure(&paths[(round + k) % N_PATHS], requests, 1) != 0)
                goto out;
    report(paths, rounds);
    ret = 0;
out:
    pqify_bench_stop(&conn);
    pqify_bench_stop(&edge);
    pqify_bench_stop(&sa);
    pqify_bench_stop(&sb);
    pqify_bench_stop(&ngx);
    pqify_bench_stop(&origin);
    for (int i = 0; i < N_PATHS; i++)
        free(paths[i].lat);
    free(cert);
    free(key);
    if (ret == 0)
        pqify_bench_dir_remove(dir);
    else
        fprintf(stderr, "pqify bench tunnel: the logs are in %s\n", dir);
    return ret;
}
