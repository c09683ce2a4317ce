/*
 * pqify demo: what post-quantum key exchange costs, shown step by step.
 * Each step is one entry in the table below; later steps (real handshakes over
 * loopback) are added there without touching the others.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "demo.h"
#include "demo_report.h"
#include "pqify/net/pair.h"
#include "pqify/net/selfsigned.h"
#include "tls_io.h"

struct demo_opts {
    int quick, keep;
    const char *out;
};

struct demo_step {
    const char *title;
    int (*run)(const struct demo_opts *o);
};

static int step_intro(const struct demo_opts *o)
{
    (void)o;
    printf("pqify makes TLS 1.3 key exchange hybrid post-quantum by default: the client\n"
           "sends an X25519MLKEM768 key share (ML-KEM-768, FIPS 203, next to X25519), so a\n"
           "recording made today cannot be decrypted by a quantum computer later, while\n"
           "X25519 still protects the session if ML-KEM were ever broken.\n"
           "\n"
           "The price is paid in two currencies: CPU (the client adds ML-KEM keygen and\n"
           "decaps, the server adds encaps) and bytes (1184 + 32 from the client, 1088 + 32\n"
           "from the server, against 32 each way for X25519 alone). The next step measures\n"
           "both on this machine, with one X25519 derive as the unit.\n");
    return 0;
}

/* The table runs in pqify-bench, which counts allocations (bench/main.c). */
static int step_kem_table(const struct demo_opts *o)
{
    static char name[] = "pqify-bench", what[] = "kem-demo", quick[] = "--quick";
    char *argv[] = {name, what, o->quick ? quick : NULL, NULL};
    return pqify_run_bench("demo", argv, 1);
}

/* One local handshake per group: a pqify client and server in this process, the
 * bytes one flushes fed straight to the other (the net layer's pqify_pair). */
struct hs_case {
    const char *label;
    const char *client_groups, *server_groups; /* NULL: the defaults */
};

static const struct hs_case hs_cases[] = {
    {"X25519MLKEM768", "X25519MLKEM768", NULL},
    {"SecP256r1MLKEM768", "SecP256r1MLKEM768", NULL},
    {"SecP384r1MLKEM1024", "SecP384r1MLKEM1024", NULL},
    {"X25519", "X25519", NULL},
    {"P-256", "secp256r1", NULL},
    /* legacy groups are used only when both sides name them (DESIGN.md "Groups") */
    {"P256Kyber512 (legacy)", "P256Kyber512", "P256Kyber512"},
    /* pqify's default hello (X25519MLKEM768 + X25519 shares) to a server that
     * accepts only SecP256r1MLKEM768: it costs a HelloRetryRequest */
    {"default -> P-256 hybrid only", NULL, "SecP256r1MLKEM768"},
};
#define N_HS_CASES (sizeof hs_cases / sizeof hs_cases[0])
#define HS_X25519 3

struct pair_result {
    uint16_t group_id;
    int is_pq, hrr;
    size_t client_to_server, server_to_client;
    double us;                   /* both sides, one thread, wall clock */
    int client_err, server_err;  /* on failure */
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int pair_handshake(const pqify_tls_config *ccfg, const pqify_tls_config *scfg,
                          struct pair_result *res)
{
    pqify_pair pair;
    memset(res, 0, sizeof *res);
    double t0 = now_us();
    int rc = pqify_pair_init(&pair, ccfg, scfg);
    if (rc == 0)
        rc = pqify_pair_handshake(&pair);
    res->us = now_us() - t0;
    if (rc == 0) {
        pqify_tls_info info;
        pqify_tls_get_info(pair.client.conn, &info);
        res->group_id = info.group_id;
        res->is_pq = info.is_pq;
        res->hrr = info.hrr;
        res->client_to_server = pair.client_to_server;
        res->server_to_client = pair.server_to_client;
    } else {
        res->client_err = pqify_pump_error(&pair.client);
        res->server_err = pqify_pump_error(&pair.server);
    }
    pqify_pair_dispose(&pair);
    return rc == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) and returns its median (between the two middle ones when n is even). */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int step_handshakes(const struct demo_opts *o)
{
    int ret = 1;
    char *cert = NULL, *key = NULL;
    pqify_tls_config *ccfg[N_HS_CASES] = {0}, *scfg[N_HS_CASES] = {0};
    struct pair_result res[N_HS_CASES];
    const unsigned runs = o->quick ? 5 : 41;
    double *us = calloc(N_HS_CASES * runs, sizeof *us);

    if (us == NULL || pqify_selfsigned_p256("pqify-bench", &cert, &key) != 0) {
        fprintf(stderr, "pqify demo: cannot make a test certificate\n");
        goto out;
    }
    for (size_t i = 0; i < N_HS_CASES; i++) {
        ccfg[i] = pqify_pair_config(0, NULL, NULL, hs_cases[i].client_groups, NULL);
        scfg[i] = pqify_pair_config(1, cert, key, hs_cases[i].server_groups, NULL);
        if (ccfg[i] == NULL || scfg[i] == NULL) {
            fprintf(stderr, "pqify demo: set-up for %s failed\n", hs_cases[i].label);
            goto out;
        }
    }
    /* Rounds interleave the groups, so that load on this machine hits them alike. */
    for (unsigned r = 0; r < runs; r++) {
        for (size_t i = 0; i < N_HS_CASES; i++) {
            if (pair_handshake(ccfg[i], scfg[i], &res[i]) != 0) {
                fprintf(stderr, "pqify demo: %s handshake failed: client: %s; server: %s\n",
                        hs_cases[i].label, pqify_tls_strerror(res[i].client_err),
                        pqify_tls_strerror(res[i].server_err));
                goto out;
            }
            us[i * runs + r] = res[i].us;
        }
    }
    printf("A pqify client and server in this process, bytes passed in memory, one thread\n"
           "doing both sides (time = client + server CPU, median of %u, no network).\n\n",
           runs);
    printf("%-29s %-18s %-3s %-3s %7s %7s %9s %9s\n", "offered -> server", "group", "pq", "hrr",
           "c->s B", "s->c B", "time_us", "vs X25519");
    double med[N_HS_CASES];
    for (size_t i = 0; i < N_HS_CASES; i++)
        med[i] = median(us + i * runs, runs);
    for (size_t i = 0; i < N_HS_CASES; i++) {
        const char *g = pqify_tls_group_name(res[i].group_id);
        printf("%-29s %-18s %-3s %-3s %7zu %7zu %9.0f %8.2fx\n", hs_cases[i].label,
               g ? g : "?", res[i].is_pq ? "yes" : "no", res[i].hrr ? "yes" : "no",
               res[i].client_to_server, res[i].server_to_client, med[i],
               med[i] / med[HS_X25519]);
    }
    printf("\nX25519MLKEM768 against X25519 here: %+.0f%% handshake time (within the noise\n"
           "when small) and %zu + %zu more bytes on the wire; a\n"
           "HelloRetryRequest costs a round trip and a second key share. `pqify bench\n"
           "handshake` measures the server alone over TCP, against libssl.\n",
           100.0 * (med[0] / med[HS_X25519] - 1.0),
           res[0].client_to_server - res[HS_X25519].client_to_server,
           res[0].server_to_client - res[HS_X25519].server_to_client);
    ret = 0;
out:
    for (size_t i = 0; i < N_HS_CASES; i++) {
        pqify_tls_config_free(ccfg[i]);
        pqify_tls_config_free(scfg[i]);
    }
    free(us);
    free(cert);
    if (key != NULL)
        memset(key, 0, strlen(key));   /* a throwaway key, but a key */
    free(key);
    return ret;
}

/* ---- the fleet, the seed's measurements and the report ---------------------- */

#define FIG1_MAX 400
#define FIG2_MAX 200
#define N_HOPS 10
#define TUNNEL_NAME "pqify-demo-client"   /* the CN of client.pem (demo_pki) */

/* What the later steps measure and the report shows. */
static struct demo_run {
    char dir[512];     /* the fleet's folder: certificates, configs, logs, sockets */
    char out[512];     /* the report's folder, which stays */
    int keep_dir;      /* a step failed: the logs stay for reading */
    char ca[600], cert[600], key[600], ccert[600], ckey[600];
    struct demo_proc kafka, logrecv, logfwd, logfwd_cl, keyserver, origin, edge, tunnel;
    int hub_port;
    char kafka_exe[600];   /* pqify-kafka beside pqify, or "" */
    char boot[256];        /* the mock Kafka's bootstrap servers */
    struct demo_kex_costs kex;
    char hop[N_HOPS][7][160];   /* the fleet table: one row per hop */
    size_t n_hops;
    struct demo_get_result get[2];   /* HTTP/1.1, HTTP/2 */
    size_t requests, logged;         /* sent through the edge; their events read back */
    size_t n1;
    double pq_us[FIG1_MAX], cl_us[FIG1_MAX];
    /* Fig. 2: per stream (pq, classical), logfwd's mean batch send duration per
     * interval between two scrapes of its /metrics */
    size_t n2[2], fig2_sent[2];
    double fig2_t[2][FIG2_MAX], fig2_ms[2][FIG2_MAX], fig2_batches[2], fig2_mean_ms[2];
} run;

static void on_signal(int sig)
{
    (void)sig;
    static const char msg[] = "\npqify demo: stopping the fleet\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    demo_stop_all();
    if (run.dir[0] != '\0')
        demo_rmtree(run.dir);
    _exit(130);
}

static int demo_setup(const struct demo_opts *o)
{
    snprintf(run.out, sizeof run.out, "%s", o->out ? o->out : "pqify-demo-report");
    if (mkdir(run.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "pqify demo: --out %s: %s\n", run.out, strerror(errno));
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(run.dir, sizeof run.dir, "%s/pqify-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(run.dir) == NULL) {
        fprintf(stderr, "pqify demo: cannot make a directory in %s: %s\n", tmp && *tmp ? tmp : "/tmp",
                strerror(errno));
        run.dir[0] = '\0';
        return -1;
    }
    snprintf(run.ca, sizeof run.ca, "%s/ca.pem", run.dir);
    snprintf(run.cert, sizeof run.cert, "%s/server.pem", run.dir);
    snprintf(run.key, sizeof run.key, "%s/server.key", run.dir);
    snprintf(run.ccert, sizeof run.ccert, "%s/client.pem", run.dir);
    snprintf(run.ckey, sizeof run.ckey, "%s/client.key", run.dir);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

static int step_table1(const struct demo_opts *o)
{
    if (demo_kex_costs(o->quick, &run.kex) != 0) {
        fprintf(stderr, "pqify demo: measuring the key shares failed\n");
        return 1;
    }
    const struct demo_kex_costs *k = &run.kex;
    printf("The server's work per key share, one encapsulation against one ECDH derive\n"
           "(a scalar multiplication), pqify's KEMs against libcrypto, in this process:\n\n");
    printf("%-32s %10s %10s %8s\n", "pair", "PQ us", "ECDH us", "ratio");
    printf("%-32s %10.1f %10.1f %7.2fx\n", "Kyber-512 encaps / P-256 ECDH", k->kyber512_encaps * 1e6,
           k->p256_ecdh * 1e6, k->kyber512_per_p256);
    printf("%-32s %10.1f %10.1f %7.2fx\n", "ML-KEM-768 encaps / X25519", k->mlkem768_encaps * 1e6,
           k->x25519_ecdh * 1e6, k->mlkem768_per_x25519);
    printf("\n(times: medians of %d interleaved rounds of 16 operations; ratio: the median of\n"
           "each round's ratio; on one CPU while measuring.)\n"
           "Below 1x the lattice KEM costs less than the elliptic curve it sits beside.\n",
           o->quick ? 61 : 201);
    return 0;
}

static void add_hop(const char *hop, const char *group, const char *pq, const char *hrr, const char *us,
                    const char *what, const char *why)
{
    if (run.n_hops == N_HOPS)
        return;
    char(*r)[160] = run.hop[run.n_hops++];
    const char *v[7] = {hop, group, pq, hrr, us, what, why};
    for (int i = 0; i < 7; i++)
        snprintf(r[i], 160, "%s", v[i]);
}

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

/* A config file the demo writes for a service (edge.yaml, tunnel.yaml). */
static int write_config(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int write_config(const char *path, const char *fmt, ...)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int ok = vfprintf(f, fmt, ap) >= 0;
    va_end(ap);
    return fclose(f) == 0 && ok ? 0 : -1;
}

static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int c;
    while (f != NULL && (c = getc(f)) != EOF)
        n += c == '\n';
    if (f != NULL)
        fclose(f);
    return n;
}

/* /metrics of an admin port into text (NUL-terminated; "" when it failed). */
static void scrape(int admin, char *text, size_t cap)
{
    if (demo_http_get(admin, "/metrics", text, cap) < 0)
        text[0] = '\0';
}

/* A hop's row from the handshakes the service at `admin` counted in `role`. */
static void hop_from_metrics(const char *hop, int admin, const char *role, const char *what)
{
    static char text[1 << 17];
    struct demo_hs h;
    char us[48] = "?";
    scrape(admin, text, sizeof text);
    if (demo_metric_handshakes(text, role, &h) != 0) {
        add_hop(hop, "?", "?", "?", "?", what, "");
        return;
    }
    if (isfinite(h.mean_us))
        snprintf(us, sizeof us, "%.0f (%s)", h.mean_us, role);
    char full[160];
    snprintf(full, sizeof full, "%.120s; %.0f handshake%s", what, h.count, h.count == 1 ? "" : "s");
    add_hop(hop, h.group, h.pq ? "yes" : "no", h.hrr ? "yes" : "no", us, full,
            h.groups > 1 ? "some of its handshakes were of another group" : "");
}

/* Wait for `metric` (a full sample name with labels) on the admin port to reach
 * want, at most timeout_ms; its last value. */
static double await_metric(int admin, const char *metric, double want, int timeout_ms)
{
    static char text[1 << 17];
    double v = NAN;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        scrape(admin, text, sizeof text);
        v = demo_metric(text, metric);
        if (v >= want)
            break;
        usleep(100000);
    }
    return v;
}

static int start(struct demo_proc *p, const char *exe, const char *name, char *const argv[])
{
    return demo_start(p, exe, run.dir, name, argv);
}

/* Kafka (pqify-kafka beside us: librdkafka links libssl, which pqify itself never
 * links, so only pqify-kafka holds the Kafka sink) or else the file sink; logrecv;
 * the two forwarders: `access` (the edge's log) and `pq` over PQ, `classical` for
 * Fig. 2 over X25519. */
static int start_logs(void)
{
    char sink[600], to[32], sock[2][700], spool[2][600];
    if (demo_sibling("pqify-kafka", run.kafka_exe, sizeof run.kafka_exe) != 0)
        run.kafka_exe[0] = '\0';
    if (run.kafka_exe[0] != '\0') {
        char *km[] = {"pqify-kafka", "kafka-mock", "--topic", "logs.access", NULL};
        if (start(&run.kafka, run.kafka_exe, "kafka", km) != 0)
            return -1;
        char line[512];
        FILE *f = fopen(run.kafka.log, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "listening on %255s", run.boot) == 1)
                break;
        if (f != NULL)
            fclose(f);
        snprintf(sink, sizeof sink, "kafka:%s", run.boot);
    } else {
        snprintf(sink, sizeof sink, "%s/sink", run.dir);
        if (mkdir(sink, 0700) != 0 && errno != EEXIST)
            return -1;
        snprintf(sink, sizeof sink, "file:%s/sink", run.dir);
    }
    /* pq preferred on the receiver, so that Fig. 1 and Fig. 2 can also open
     * classical connections to it */
    char *lr[] = {run.kafka_exe[0] ? "pqify-kafka" : "pqify", "logrecv", "--listen", "127.0.0.1:0",
                  "--cert", run.cert, "--key", run.key, "--pq", "preferred", "--sink", sink,
                  "--admin", "127.0.0.1:0", "--topic", "logs.{tag}", NULL};
    if (run.kafka_exe[0] == '\0')
        lr[14] = NULL;   /* no topic for the file sink */
    if (start(&run.logrecv, run.kafka_exe[0] ? run.kafka_exe : NULL, "logrecv", lr) != 0)
        return -1;
    snprintf(to, sizeof to, "127.0.0.1:%d", run.logrecv.port);
    snprintf(sock[0], sizeof sock[0], "%s/access.sock=access", run.dir);
    snprintf(sock[1], sizeof sock[1], "%s/pq.sock=pq", run.dir);
    snprintf(spool[0], sizeof spool[0], "%s/logfwd.spool", run.dir);
    snprintf(spool[1], sizeof spool[1], "%s/logfwd-classical.spool", run.dir);
    char *fw[] = {"pqify", "logfwd", "--to", to, "--ca", run.ca, "--servername", "localhost",
                  "--socket", sock[0], "--socket", sock[1], "--spool", spool[0], "--admin", "127.0.0.1:0", NULL};
    if (start(&run.logfwd, NULL, "logfwd", fw) != 0)
        return -1;
    snprintf(sock[0], sizeof sock[0], "%s/classical.sock=classical", run.dir);
    char *fc[] = {"pqify", "logfwd", "--to", to, "--ca", run.ca, "--servername", "localhost", "--pq", "off",
                  "--socket", sock[0], "--spool", spool[1], "--admin", "127.0.0.1:0", NULL};
    return start(&run.logfwd_cl, NULL, "logfwd-classical", fc);
}

/* The key server (it alone holds the edge's key), the origin, the edge (its
 * certificate signed through the key server, its access log into logfwd's socket)
 * and the tunnel connector (registered to the edge, proxying to the origin). */
static int start_web(void)
{
    char keys[600], path[600], text[8192];
    snprintf(keys, sizeof keys, "%s/keys", run.dir);
    char *ks[] = {"pqify", "keyserver", "--listen", "127.0.0.1:0", "--cert", run.cert, "--key", run.key,
                  "--ca", run.ca, "--keys", keys, "--admin", "127.0.0.1:0", "--workers", "1", NULL};
    char *og[] = {"pqify", "serve", "--www", "--listen", "127.0.0.1:0", "--cert", run.cert, "--key", run.key,
                  "--workers", "1", "--admin", "127.0.0.1:0", NULL};
    if (start(&run.keyserver, NULL, "keyserver", ks) != 0 || start(&run.origin, NULL, "origin", og) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/edge.yaml", run.dir);
    char *ed[] = {"pqify", "edge", "--config", path, NULL};
    if (write_config(path,
                     "# pqify demo's edge: its certificate's key is on the key server\n"
                     "listen: [127.0.0.1:0]\n"
                     "admin: {listen: 127.0.0.1:0}\n"
                     "certificates:\n"
                     "  - cert: %s/edge.pem\n"
                     "    keyless: {servers: [127.0.0.1:%d], cert: %s, key: %s, ca: %s, server_name: localhost}\n"
                     "tunnels: {listen: 127.0.0.1:0, cert: %s, key: %s, ca: %s}\n"
                     "routes:\n"
                     "  - {hostname: localhost, tunnel: " TUNNEL_NAME "}\n"
                     "access_log: {logfwd: \"unix:%s/access.sock\"}\n",
                     run.dir, run.keyserver.port, run.ccert, run.ckey, run.ca, run.cert, run.key, run.ca,
                     run.dir) != 0 ||
        start(&run.edge, NULL, "edge", ed) != 0)
        return -1;
    if (read_file(run.edge.log, text, sizeof text) != 0 || strstr(text, "tunnels on ") == NULL ||
        sscanf(strstr(text, "tunnels on "), "tunnels on %*[^:]:%d", &run.hub_port) != 1) {
        fprintf(stderr, "pqify demo: the edge did not say where its tunnels listen; see %s\n", run.edge.log);
        return -1;
    }
    snprintf(path, sizeof path, "%s/tunnel.yaml", run.dir);
    char *tu[] = {"pqify", "tunnel", "--config", path, NULL};
    if (write_config(path,
                     "# pqify demo's connector: it dials the edge and serves the origin\n"
                     "tunnel: " TUNNEL_NAME "\n"
                     "edge: [\"127.0.0.1:%d\"]\n"
                     "tls: {cert: %s, key: %s, ca: %s, server_name: localhost}\n"
                     "admin: {listen: 127.0.0.1:0}\n"
                     "ingress:\n"
                     "  - service: https://127.0.0.1:%d\n"
                     "    originRequest: {caPool: %s, originServerName: localhost}\n",
                     run.hub_port, run.ccert, run.ckey, run.ca, run.origin.port, run.ca) != 0 ||
        start(&run.tunnel, NULL, "tunnel", tu) != 0)
        return -1;
    /* ready: every connection registered at the edge (cloudflared's /ready) */
    for (int i = 0; i < 150; i++) {
        char body[512];
        if (demo_http_get(run.tunnel.admin, "/ready", body, sizeof body) > 0 && strstr(body, "\"status\":200"))
            return 0;
        usleep(100000);
    }
    fprintf(stderr, "pqify demo: the tunnel connector is not ready after 15 s; see %s\n", run.tunnel.log);
    return -1;
}

/* The access log read back: from Kafka with librdkafka (pqify-kafka kafka-count),
 * or from the file sink. */
static size_t read_back_access(void)
{
    if (run.kafka_exe[0] == '\0') {
        char sink[600];
        snprintf(sink, sizeof sink, "%s/sink/access.jsonl", run.dir);
        for (int i = 0; i < 100 && count_lines(sink) < run.requests; i++)
            usleep(100000);
        return count_lines(sink);
    }
    char err[600], out[600], expect[32], text[256];
    snprintf(err, sizeof err, "%s/kafka-count.log", run.dir);
    snprintf(out, sizeof out, "%s/kafka-count.out", run.dir);
    snprintf(expect, sizeof expect, "%zu", run.requests);
    char *argv[] = {"pqify-kafka", "kafka-count", "--brokers", run.boot, "--topic", "logs.access",
                    "--expect", expect, "--timeout", "30", NULL};
    (void)demo_run(run.kafka_exe, argv, NULL, out, err, 40);
    unsigned long n = 0;
    if (read_file(out, text, sizeof text) == 0)
        sscanf(text, "read %lu messages", &n);
    return n;
}

static void client_hop(const char *name, const struct demo_get_result *r, const char *proto)
{
    char us[48], what[160];
    snprintf(us, sizeof us, "%.0f (client)", r->handshake_us);
    snprintf(what, sizeof what, "%zu GETs over %s (ALPN %s), %zu answered 200, %zu body bytes", r->sent, proto,
             r->alpn, r->ok, r->body_bytes);
    add_hop(name, r->group, r->is_pq ? "yes" : "no", r->hrr ? "yes" : "no", us, what, "");
}

static void fleet_hops(void)
{
    static char text[1 << 17];
    char what[160];
    client_hop("client -> edge", &run.get[0], "HTTP/1.1 keep-alive");
    client_hop("client -> edge", &run.get[1], "HTTP/2, all in flight");
    scrape(run.keyserver.admin, text, sizeof text);
    snprintf(what, sizeof what, "%.0f ECDSA P-256 signatures (the edge's CertificateVerify, one per client)",
             demo_metric(text, "pqify_keyless_requests_total{opcode=\"ecdsa-sha256\",result=\"ok\"}"));
    hop_from_metrics("edge -> key server", run.keyserver.admin, "server", what);
    scrape(run.tunnel.admin, text, sizeof text);
    snprintf(what, sizeof what, "%.0f requests as HTTP/2 streams (the connector dials the edge)",
             demo_metric(text, "pqify_tunnel_requests_total"));
    hop_from_metrics("edge -> connector", run.tunnel.admin, "client", what);
    snprintf(what, sizeof what, "%.0f GETs, HTTP/1.1 over TLS to pqify serve --www (%.0f origin errors)",
             demo_metric(text, "pqify_tunnel_requests_total"), demo_metric(text, "pqify_tunnel_origin_errors_total"));
    hop_from_metrics("connector -> origin", run.origin.admin, "server", what);
    scrape(run.logfwd.admin, text, sizeof text);
    snprintf(what, sizeof what, "%.0f access-log events (stream access), acked",
             demo_metric(text, "pqify_logfwd_events_acked_total{stream=\"access\"}"));
    hop_from_metrics("logfwd -> logrecv", run.logfwd.admin, "client", what);
    if (run.kafka_exe[0] != '\0') {
        snprintf(what, sizeof what, "%zu events in topic logs.access, read back", run.logged);
        add_hop("logrecv -> Kafka", "-", "no", "-", "-", what,
                "the mock broker speaks plaintext; a real one over TLS takes PQ through pqify.so");
    } else {
        snprintf(what, sizeof what, "%zu lines in the file sink", run.logged);
        add_hop("logrecv -> file sink", "-", "-", "-", "-", what, "");
    }
}

static int step_fleet(const struct demo_opts *o)
{
    if (demo_pki(run.dir) != 0) {
        fprintf(stderr, "pqify demo: cannot make the certificates in %s\n", run.dir);
        return 1;
    }
    if (start_logs() != 0 || start_web() != 0)
        return 1;
    printf("Started on loopback (configs and logs in %s):\n", run.dir);
    if (run.kafka_exe[0])
        printf("  pqify-kafka kafka-mock  pid %d  %s  librdkafka's mock cluster\n", (int)run.kafka.pid, run.boot);
    printf("  pqify%s logrecv  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  %s sink\n", run.kafka_exe[0] ? "-kafka" : "",
           (int)run.logrecv.pid, run.logrecv.port, run.logrecv.admin, run.kafka_exe[0] ? "Kafka" : "file");
    printf("  pqify logfwd  pid %d  unix sockets access, pq  admin 127.0.0.1:%d  pq required\n", (int)run.logfwd.pid,
           run.logfwd.admin);
    printf("  pqify logfwd  pid %d  unix socket classical  admin 127.0.0.1:%d  pq off (Fig. 2)\n",
           (int)run.logfwd_cl.pid, run.logfwd_cl.admin);
    printf("  pqify keyserver  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  holds the edge's key\n",
           (int)run.keyserver.pid, run.keyserver.port, run.keyserver.admin);
    printf("  pqify serve --www  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  the origin\n", (int)run.origin.pid,
           run.origin.port, run.origin.admin);
    printf("  pqify edge  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  tunnels 127.0.0.1:%d\n", (int)run.edge.pid,
           run.edge.port, run.edge.admin, run.hub_port);
    printf("  pqify tunnel  pid %d  " TUNNEL_NAME "  admin 127.0.0.1:%d\n\n", (int)run.tunnel.pid, run.tunnel.admin);
    fflush(stdout);

    size_t n = o->quick ? 20 : 100;
    for (int h2 = 0; h2 < 2; h2++)
        if (demo_https_gets(run.edge.port, run.ca, h2, n, &run.get[h2]) != 0)
            return 1;
    run.requests = run.get[0].sent + run.get[1].sent;
    size_t ok = run.get[0].ok + run.get[1].ok;
    run.logged = read_back_access();
    /* logfwd's ack count is read when the table is made: the events are in Kafka */
    (void)await_metric(run.logfwd.admin, "pqify_logfwd_events_acked_total{stream=\"access\"}",
                       (double)run.requests, 5000);
    fleet_hops();
    printf("%-20s %-16s %-3s %-3s %-15s %s\n", "hop", "group", "pq", "hrr", "handshake_us", "what travelled");
    for (size_t i = 0; i < run.n_hops; i++)
        printf("%-20s %-16s %-3s %-3s %-15s %s%s%s\n", run.hop[i][0], run.hop[i][1], run.hop[i][2], run.hop[i][3],
               run.hop[i][4], run.hop[i][5], run.hop[i][6][0] ? "; not PQ: " : "", run.hop[i][6]);
    printf("\nrequests sent %zu (%zu HTTP/1.1, %zu HTTP/2), answered 200: %zu; access-log events %s: %zu: %s\n",
           run.requests, run.get[0].sent, run.get[1].sent, ok,
           run.kafka_exe[0] ? "read back from Kafka" : "in the file sink", run.logged,
           run.logged == run.requests && ok == run.requests ? "every request answered and logged" : "MISSING");
    if (ok != run.requests || run.logged != run.requests) {
        fprintf(stderr, "pqify demo: %zu requests sent, %zu answered 200, %zu logged\n", run.requests, ok, run.logged);
        return 1;
    }
    return 0;
}

static int step_fig1(const struct demo_opts *o)
{
    run.n1 = o->quick ? 60 : 200;
    if (demo_handshakes(run.logrecv.port, run.ca, run.n1, run.pq_us, run.cl_us) != 0) {
        fprintf(stderr, "pqify demo: the handshakes to logrecv failed\n");
        return 1;
    }
    double a[FIG1_MAX], b[FIG1_MAX];
    memcpy(a, run.pq_us, run.n1 * sizeof a[0]);
    memcpy(b, run.cl_us, run.n1 * sizeof b[0]);
    printf("%zu handshakes each to pqify logrecv over loopback TCP (the log hop's server;\n"
           "the client is the pqify engine, as in logfwd), alternating, connect() to Finished:\n\n",
           run.n1);
    printf("%-16s %8s %8s %8s\n", "group", "p50 us", "p90 us", "p99 us");
    printf("%-16s %8.0f %8.0f %8.0f\n", "X25519MLKEM768", demo_quantile(a, run.n1, 0.5),
           demo_quantile(a, run.n1, 0.9), demo_quantile(a, run.n1, 0.99));
    printf("%-16s %8.0f %8.0f %8.0f\n", "X25519", demo_quantile(b, run.n1, 0.5), demo_quantile(b, run.n1, 0.9),
           demo_quantile(b, run.n1, 0.99));
    return 0;
}

static int unix_dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* logfwd's batch send duration of one stream: the histogram's sum and count. */
static void send_duration(int admin, const char *stream, double *sum, double *count)
{
    static char text[1 << 17];
    char pre[128];
    scrape(admin, text, sizeof text);
    snprintf(pre, sizeof pre, "pqify_logfwd_batch_send_duration_seconds_sum{stream=\"%s\"}", stream);
    *sum = demo_metric(text, pre);
    snprintf(pre, sizeof pre, "pqify_logfwd_batch_send_duration_seconds_count{stream=\"%s\"}", stream);
    *count = demo_metric(text, pre);
    if (!isfinite(*sum) || !isfinite(*count))
        *sum = *count = 0;
}

/* Fig. 2: the same lines at the same pace into two forwarders, one PQ and one
 * classical; every half second, each forwarder's own histogram
 * pqify_logfwd_batch_send_duration_seconds{stream} gives the mean send-to-ack
 * time of the batches it sent since the last look. */
static int step_fig2(const struct demo_opts *o)
{
    static const char *const stream[2] = {"pq", "classical"};
    const int admin[2] = {run.logfwd.admin, run.logfwd_cl.admin};
    const int ticks = o->quick ? 120 : 400;   /* of 50 ms: 6 or 20 s */
    const size_t per_tick = 25;               /* lines per stream per tick: 500/s */
    int fd[2];
    double sum0[2], cnt0[2], start[2][2];
    char path[600], line[256];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s.sock", run.dir, stream[k]);
        if ((fd[k] = unix_dial(path)) < 0) {
            fprintf(stderr, "pqify demo: cannot connect to logfwd's socket %s: %s\n", path, strerror(errno));
            if (k == 1)
                close(fd[0]);
            return 1;
        }
        run.n2[k] = run.fig2_sent[k] = 0;
    }
    /* untimed: one line per stream first, acked before the clock starts; its batch
     * creates the stream's Kafka topic (a metadata round trip in the broker, not a
     * cost of the stream) */
    for (int k = 0; k < 2; k++) {
        int n = snprintf(line, sizeof line, "{\"message\":\"the %s stream begins\"}\n", stream[k]);
        if (cli_write_all(fd[k], line, (size_t)n) != 0)
            break;
        run.fig2_sent[k] = 1;
    }
    for (int k = 0; k < 2; k++) {
        char acked[128];
        snprintf(acked, sizeof acked, "pqify_logfwd_events_acked_total{stream=\"%s\"}", stream[k]);
        (void)await_metric(admin[k], acked, 1, 10000);
        send_duration(admin[k], stream[k], &start[k][0], &start[k][1]);
        sum0[k] = start[k][0];
        cnt0[k] = start[k][1];
    }
    double t0 = now_us();
    int rc = 0;
    for (int t = 0; t < ticks && rc == 0; t++) {
        for (int k = 0; k < 2 && rc == 0; k++)
            for (size_t i = 0; i < per_tick && rc == 0; i++) {
                int n = snprintf(line, sizeof line,
                                 "{\"message\":\"GET /fig2/%zu HTTP/1.1 200 via the %s stream\",\"seq\":%zu}\n",
                                 run.fig2_sent[k], stream[k], run.fig2_sent[k]);
                rc = cli_write_all(fd[k], line, (size_t)n);
                run.fig2_sent[k] += rc == 0;
            }
        if (t % 10 == 9)
            for (int k = 0; k < 2; k++) {
                double s, c;
                send_duration(admin[k], stream[k], &s, &c);
                if (c > cnt0[k] && run.n2[k] < FIG2_MAX) {
                    run.fig2_t[k][run.n2[k]] = (now_us() - t0) / 1e6;
                    run.fig2_ms[k][run.n2[k]++] = (s - sum0[k]) / (c - cnt0[k]) * 1e3;
                    sum0[k] = s;
                    cnt0[k] = c;
                }
            }
        /* the pace: tick t ends at (t + 1) * 50 ms */
        double next = t0 + (t + 1) * 50000.0, now = now_us();
        if (next > now)
            usleep((useconds_t)(next - now));
    }
    close(fd[0]);
    close(fd[1]);
    if (rc != 0) {
        fprintf(stderr, "pqify demo: writing into logfwd's socket failed\n");
        return 1;
    }
    char acked[2][128];
    double got[2];
    for (int k = 0; k < 2; k++) {
        snprintf(acked[k], sizeof acked[k], "pqify_logfwd_events_acked_total{stream=\"%s\"}", stream[k]);
        got[k] = await_metric(admin[k], acked[k], (double)run.fig2_sent[k], 20000);
        double s, c;
        send_duration(admin[k], stream[k], &s, &c);
        run.fig2_batches[k] = c - start[k][1];
        run.fig2_mean_ms[k] = c > start[k][1] ? (s - start[k][0]) / (c - start[k][1]) * 1e3 : NAN;
    }
    printf("%zu JSON lines per stream, 500 a second, written into the sockets of two pqify\n"
           "logfwd processes: one sends to logrecv over X25519MLKEM768, the other over X25519\n"
           "(--pq off). Each forwarder times its own batches, from the batch handed to TLS to\n"
           "logrecv's ack (which comes once %s), in its histogram\n"
           "pqify_logfwd_batch_send_duration_seconds{stream}; the demo reads it every 0.5 s.\n"
           "Each stream's first line (whose batch creates its topic) is acked before timing.\n\n",
           run.fig2_sent[0], run.kafka_exe[0] ? "Kafka confirmed every event" : "the file sink fsynced them");
    printf("%-16s %8s %8s %10s %10s\n", "stream", "events", "acked", "batches", "mean ms");
    for (int k = 0; k < 2; k++)
        printf("%-16s %8zu %8.0f %10.0f %10.2f\n", k ? "classical" : "pq", run.fig2_sent[k], got[k],
               run.fig2_batches[k], run.fig2_mean_ms[k]);
    printf("\nFig. 2 draws %zu half-second means of the pq stream and %zu of the classical one.\n"
           "Once the handshake is done both streams run the same AES-GCM: the key exchange\n"
           "costs nothing per batch.\n", run.n2[0], run.n2[1]);
    if (got[0] != (double)run.fig2_sent[0] || got[1] != (double)run.fig2_sent[1]) {
        fprintf(stderr, "pqify demo: not every event of Fig. 2 was acked\n");
        return 1;
    }
    return 0;
}

static int step_report(const struct demo_opts *o)
{
    (void)o;
    char path[700], html[700];
    const struct demo_kex_costs *k = &run.kex;
    const char *bar_labels[] = {"Kyber-512 / P-256", "ML-KEM-768 / X25519"};
    double ratios[] = {k->kyber512_per_p256, k->mlkem768_per_x25519};
    struct demo_series f1[] = {{"X25519MLKEM768", run.pq_us, NULL, run.n1}, {"X25519", run.cl_us, NULL, run.n1}};
    struct demo_series f2[] = {{"pq stream (X25519MLKEM768)", run.fig2_t[0], run.fig2_ms[0], run.n2[0]},
                               {"classical stream (X25519)", run.fig2_t[1], run.fig2_ms[1], run.n2[1]}};
    snprintf(path, sizeof path, "%s/table1.svg", run.out);
    int rc = demo_svg_bars(path, "Table 1: encapsulation time / ECDH time (lower is cheaper)",
                           "PQ time per ECDH time", bar_labels, ratios, 2);
    snprintf(path, sizeof path, "%s/fig1.svg", run.out);
    rc = rc ? rc : demo_svg_cdf(path, "Fig. 1: TLS handshake latency to logrecv (loopback TCP)",
                                "handshake time, connect() to Finished (microseconds)", f1, 2);
    snprintf(path, sizeof path, "%s/fig2.svg", run.out);
    rc = rc ? rc : demo_svg_series(path, "Fig. 2: average batch send duration over time (logfwd's metric)",
                                   "time since the first line (seconds)", "mean send to ack (milliseconds)", f2, 2);
    if (rc != 0) {
        fprintf(stderr, "pqify demo: writing %s: %s\n", path, strerror(errno));
        return 1;
    }
    /* the tables */
    static char t1[3][4][48];
    snprintf(t1[0][0], 48, "pair");
    snprintf(t1[0][1], 48, "PQ (us)");
    snprintf(t1[0][2], 48, "ECDH (us)");
    snprintf(t1[0][3], 48, "ratio");
    snprintf(t1[1][0], 48, "Kyber-512 encaps / P-256 ECDH");
    snprintf(t1[1][1], 48, "%.1f", k->kyber512_encaps * 1e6);
    snprintf(t1[1][2], 48, "%.1f", k->p256_ecdh * 1e6);
    snprintf(t1[1][3], 48, "%.2fx", ratios[0]);
    snprintf(t1[2][0], 48, "ML-KEM-768 encaps / X25519 ECDH");
    snprintf(t1[2][1], 48, "%.1f", k->mlkem768_encaps * 1e6);
    snprintf(t1[2][2], 48, "%.1f", k->x25519_ecdh * 1e6);
    snprintf(t1[2][3], 48, "%.2fx", ratios[1]);
    const char *t1c[12];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
            t1c[r * 4 + c] = t1[r][c];
    static const char *const head[] = {"hop", "group", "pq", "HRR", "handshake us", "what travelled", "why not PQ"};
    const char *fc[(N_HOPS + 1) * 7];
    for (int c = 0; c < 7; c++)
        fc[c] = head[c];
    for (size_t r = 0; r < run.n_hops; r++)
        for (int c = 0; c < 7; c++)
            fc[(r + 1) * 7 + (size_t)c] = run.hop[r][c];
    struct demo_table tables[] = {
        {"The fleet, hop by hop", run.n_hops + 1, 7, fc,
         "Every hop ran on this machine's loopback, between the processes pqify demo started: "
         "HTTPS GETs from the demo through the edge, the tunnel and the origin, the edge's access "
         "log through logfwd and logrecv into Kafka. A hop's group, HRR and handshake time come "
         "from the client's own connection or from the service's /metrics "
         "(pqify_tls_handshakes_total and the handshake histogram's mean). A service's time runs "
         "from its first handshake call to completion, so a server taking many handshakes at "
         "once shows its queue too: the origin, when the HTTP/2 burst makes the connector open "
         "a connection per stream in flight."},
        {"Table 1: a key share's cost, measured in this run", 3, 4, t1c,
         "One encapsulation (pqify's own KEM) against one ECDH derive (libcrypto), the server's "
         "work per key share; times are medians of interleaved rounds of 16 operations on one CPU "
         "(201, or 61 with --quick), a ratio the median of each round's ratio."},
    };
    struct demo_figure figs[] = {
        {"Table 1 as bars", "table1.svg", NULL},
        {"Fig. 1: handshake latency distribution on the log hop", "fig1.svg",
         "Handshakes from the pqify engine to the running pqify logrecv over loopback TCP, "
         "alternating X25519MLKEM768 and X25519; the curve is each group's cumulative "
         "distribution, the dot its median. The axis ends at the 99th percentile."},
        {"Fig. 2: batch send duration, PQ against classical", "fig2.svg",
         "The same JSON lines at the same pace (500 a second per stream) into two pqify logfwd "
         "processes, one sending to logrecv over X25519MLKEM768, the other over X25519. Each point "
         "is the mean send-to-ack time of the batches one forwarder sent in the last half second, "
         "from its own histogram pqify_logfwd_batch_send_duration_seconds{stream}."},
    };
    struct demo_page page = {
        .title = "pqify demo: the fleet hop by hop, and what post-quantum costs",
        .intro = "Measured on this machine in one run of pqify demo: every service a child process "
                 "of the demo on loopback, every figure from this run. The table says which group each "
                 "hop negotiated; a hop that is not PQ says why.",
        .tables = tables, .n_tables = 2, .figures = figs, .n_figures = 3,
    };
    snprintf(html, sizeof html, "%s/report.html", run.out);
    if (demo_html(html, &page) != 0) {
        fprintf(stderr, "pqify demo: writing %s: %s\n", html, strerror(errno));
        return 1;
    }
    char abs[PATH_MAX];
    printf("report: %s\n", realpath(html, abs) ? abs : html);
    return 0;
}

static void keep_running(void)
{
    printf("\nThe fleet keeps running (--keep); Ctrl-C stops it and removes %s.\n"
           "To explore it:\n\n"
           "  curl --cacert %s --resolve localhost:%d:127.0.0.1 https://localhost:%d/\n"
           "     (through edge, tunnel and origin; curl's OpenSSL 3.0 gets X25519: the edge prefers PQ,\n"
           "      and lets classical clients in)\n"
           "  pqify scan 127.0.0.1:%d --ca %s --servername localhost\n"
           "  curl -s 127.0.0.1:%d/metrics | grep pqify_tls_handshakes_total     (the edge's)\n",
           run.dir, run.ca, run.edge.port, run.edge.port, run.edge.port, run.ca, run.edge.admin);
    if (run.kafka_exe[0])
        printf("  kcat -C -e -b %s -t logs.access     (each request's access-log event;\n"
               "     Fig. 2's streams are logs.pq and logs.classical)\n",
               run.boot);
    else
        printf("  tail %s/sink/access.jsonl\n", run.dir);
    fflush(stdout);
    for (;;)
        pause();
}

static const struct demo_step steps[] = {
    {"what pqify does", step_intro},
    {"what the KEMs cost, against libcrypto's ECDH", step_kem_table},
    {"a TLS 1.3 handshake per group, PQ against classical", step_handshakes},
    {"Table 1: a key share's cost, PQ against ECDH, as ratios", step_table1},
    {"the fleet on loopback, hop by hop", step_fleet},
    {"Fig. 1: handshake latency on the log hop, PQ against classical", step_fig1},
    {"Fig. 2: batch send duration, a PQ stream against a classical one", step_fig2},
    {"the report: SVG figures and one HTML page", step_report},
};

static const struct pqify_opt demo_opts[] = {
    {"--quick", NULL, PQIFY_OPT_FLAG, offsetof(struct demo_opts, quick), 0, 0, 0,
     "shorter measurements (noisier figures)"},
    {"--out", "DIR", PQIFY_OPT_STRING, offsetof(struct demo_opts, out), 0, 0, 0,
     "where the report (report.html and its SVG figures) goes\n(default: ./pqify-demo-report)"},
    {"--keep", NULL, PQIFY_OPT_FLAG, offsetof(struct demo_opts, keep), 0, 0, 0,
     "leave the fleet running and print commands to explore it;\nCtrl-C stops it"},
};

static struct pqify_cmd_spec demo_spec = {
    .name = "demo",
    .usage = "demo [--quick] [--out DIR] [--keep]\n",
    .opts = demo_opts,
    .n_opts = PQIFY_N_OPTS(demo_opts),
    .footer = "The fleet's certificates, configs, sockets and logs live in a new folder under\n"
              "$TMPDIR (or /tmp), removed when the demo ends (with --keep: at Ctrl-C); when a\n"
              "step fails it stays, so that the services' logs can be read.\n",
};

/* --help lists the steps from their table. */
static void help(FILE *f)
{
    static char about[2048];
    size_t n = (size_t)snprintf(about, sizeof about, "Shows what post-quantum key exchange costs "
                                                     "on this machine, step by step:\n");
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && n < sizeof about; i++)
        n += (size_t)snprintf(about + n, sizeof about - n, "  %zu. %s\n", i + 1, steps[i].title);
    demo_spec.about = about;
    pqify_cli_help(&demo_spec, f);
}

int pqify_cmd_demo(int argc, char **argv)
{
    struct demo_opts o = {0};
    if (pqify_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    if (pqify_cli_parse(&demo_spec, argc, argv, &o) != 0)
        return 2;
    if (demo_setup(&o) != 0)
        return 1;
    const size_t n = sizeof steps / sizeof steps[0];
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        printf("%s== step %zu/%zu: %s ==\n\n", i ? "\n" : "", i + 1, n, steps[i].title);
        fflush(stdout);
        rc = steps[i].run(&o);
        if (rc != 0)
            fprintf(stderr, "pqify demo: step %zu (%s) failed\n", i + 1, steps[i].title);
    }
    if (rc == 0 && o.keep)
        keep_running();
    demo_stop_all();
    if (rc != 0)
        fprintf(stderr, "pqify demo: the fleet's configs and logs are kept in %s\n", run.dir);
    else
        demo_rmtree(run.dir);
    return rc;
}
