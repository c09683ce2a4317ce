/*
 * pqify demo: what post-quantum key exchange costs, shown step by step.
 * Each step is one entry in the table below; later steps (real handshakes over
 * loopback) are added there without touching the others.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "demo.h"
#include "demo_report.h"
#include "pqify/net/pair.h"
#include "pqify/net/selfsigned.h"

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
#define FIG2_MAX 100

/* What the later steps measure and the report shows. */
static struct demo_run {
    char dir[512];
    char ca[600], cert[600], key[600];
    struct demo_proc logrecv, serve, kafka, keyserver;
    char kafka_exe[600];   /* pqify-kafka beside pqify, or "" */
    char boot[256];        /* the mock Kafka's bootstrap servers */
    struct demo_kex_costs kex;
    /* the fleet table: one row per hop */
    char hop[6][7][128];
    size_t n_hops;
    size_t fwd_sent, fwd_stored;
    size_t n1, n2;
    double pq_us[FIG1_MAX], cl_us[FIG1_MAX];
    double pq_t[FIG2_MAX], pq_ms[FIG2_MAX], cl_t[FIG2_MAX], cl_ms[FIG2_MAX];
} run;

static void on_signal(int sig)
{
    (void)sig;
    static const char msg[] = "\npqify demo: stopping the fleet\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    demo_stop_all();
    _exit(130);
}

static int demo_setup(const struct demo_opts *o)
{
    if (o->out != NULL) {
        snprintf(run.dir, sizeof run.dir, "%s", o->out);
        if (mkdir(run.dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "pqify demo: --out %s: %s\n", run.dir, strerror(errno));
            return -1;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(run.dir, sizeof run.dir, "%s/pqify-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(run.dir) == NULL) {
            fprintf(stderr, "pqify demo: cannot make a directory in %s: %s\n", tmp && *tmp ? tmp : "/tmp",
                    strerror(errno));
            return -1;
        }
    }
    snprintf(run.ca, sizeof run.ca, "%s/ca.pem", run.dir);
    snprintf(run.cert, sizeof run.cert, "%s/server.pem", run.dir);
    snprintf(run.key, sizeof run.key, "%s/server.key", run.dir);
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
    char(*r)[128] = run.hop[run.n_hops++];
    snprintf(r[0], 128, "%s", hop);
    snprintf(r[1], 128, "%s", group);
    snprintf(r[2], 128, "%s", pq);
    snprintf(r[3], 128, "%s", hrr);
    snprintf(r[4], 128, "%s", us);
    snprintf(r[5], 128, "%s", what);
    snprintf(r[6], 128, "%s", why);
}

/* key=value from a status line (`connected ... group=X pq=yes ...`). */
static void field(const char *line, const char *key, char *out, size_t cap)
{
    char k[32];
    snprintf(k, sizeof k, " %s=", key);
    const char *p = strstr(line, k);
    size_t n = 0;
    if (p != NULL)
        for (p += strlen(k); p[n] && p[n] != ' ' && p[n] != '\n' && n + 1 < cap; n++)
            out[n] = p[n];
    out[n] = '\0';
    if (n == 0)
        snprintf(out, cap, "?");
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

static int hop_client_serve(void)
{
    char in[600], out[600], err[600], text[4096], g[64], pq[8], hrr[8], us[32], port[16];
    snprintf(in, sizeof in, "%s/hello.txt", run.dir);
    snprintf(out, sizeof out, "%s/connect.out", run.dir);
    snprintf(err, sizeof err, "%s/connect.log", run.dir);
    FILE *f = fopen(in, "w");
    if (f == NULL)
        return -1;
    fputs("hello through pqify\n", f);
    fclose(f);
    snprintf(port, sizeof port, "127.0.0.1:%d", run.serve.port);
    char *argv[] = {"pqify", "connect", port, "--ca", run.ca, "--servername", "localhost", NULL};
    int rc = demo_run(NULL, argv, in, out, err, 20);
    if (rc != 0 || read_file(err, text, sizeof text) != 0 || strstr(text, "connected ") == NULL) {
        fprintf(stderr, "pqify demo: pqify connect to pqify serve failed (exit %d); see %s\n", rc, err);
        return -1;
    }
    field(text, "group", g, sizeof g);
    field(text, "pq", pq, sizeof pq);
    field(text, "hrr", hrr, sizeof hrr);
    field(text, "handshake_us", us, sizeof us);
    char echoed[4096];
    if (read_file(out, echoed, sizeof echoed) != 0 || strcmp(echoed, "hello through pqify\n") != 0) {
        fprintf(stderr, "pqify demo: pqify serve did not echo the line back (%s)\n", out);
        return -1;
    }
    add_hop("client -> serve", g, pq, hrr, us, "20 bytes echoed (pqify connect)", "");
    return 0;
}

static int hex_to_bytes(const char *hex, unsigned char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    for (; hex[0] && hex[0] != '\n' && hex[1] && n < cap; hex += 2) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            return -1;
        out[n++] = (unsigned char)v;
    }
    *len = n;
    return n > 0 ? 0 : -1;
}

/* The edge's signer, stood in for by `pqify keyless`: a ping, then an ECDSA
 * signature by the key the key server holds, verified here with libcrypto. */
static int hop_keyless(void)
{
    char out[600], err[600], text[65536], port[32], ski[41], dig_hex[65], g[64] = "?";
    unsigned char digest[32], sig[256];
    size_t slen = 0;
    snprintf(out, sizeof out, "%s/keyless.out", run.dir);
    snprintf(err, sizeof err, "%s/keyless.log", run.dir);
    snprintf(port, sizeof port, "127.0.0.1:%d", run.keyserver.port);
    char client_pem[600], client_key[600];
    snprintf(client_pem, sizeof client_pem, "%s/client.pem", run.dir);
    snprintf(client_key, sizeof client_key, "%s/client.key", run.dir);
    char *ping[] = {"pqify", "keyless", "ping", port, "--cert", client_pem, "--key", client_key, "--ca", run.ca, NULL};
    if (demo_run(NULL, ping, NULL, out, err, 20) != 0 || read_file(out, text, sizeof text) != 0 ||
        sscanf(text, "pong in %*f ms group %63s", g) != 1) {
        fprintf(stderr, "pqify demo: pqify keyless ping to the key server failed; see %s\n", err);
        return -1;
    }
    /* HRR and the handshake time from the key server's metrics: one handshake so far */
    const char *hrr = "?";
    char us[32] = "?";
    if (demo_http_get(run.keyserver.admin, "/metrics", text, sizeof text) > 0) {
        char pre[160];
        snprintf(pre, sizeof pre, "pqify_tls_handshakes_total{role=\"server\",group=\"%s\",pq=\"true\",hrr=\"false\"}", g);
        hrr = demo_metric(text, pre) == 1.0 ? "no" : "yes";
        double sum = demo_metric(text, "pqify_tls_handshake_duration_seconds_sum{role=\"server\"");
        double cnt = demo_metric(text, "pqify_tls_handshake_duration_seconds_count{role=\"server\"");
        if (cnt == 1.0 && isfinite(sum))
            snprintf(us, sizeof us, "%.0f (server)", sum * 1e6);
    }
    /* a digest of something the demo says, signed by the key server */
    static const char msg[] = "pqify demo: signed by the key server";
    if (demo_ski_hex(run.cert, ski) != 0 || EVP_Digest(msg, sizeof msg - 1, digest, NULL, EVP_sha256(), NULL) != 1)
        return -1;
    for (int i = 0; i < 32; i++)
        snprintf(dig_hex + 2 * i, 3, "%02x", digest[i]);
    char *sign[] = {"pqify", "keyless", "sign", port, "--cert", client_pem, "--key", client_key, "--ca", run.ca,
                    "--ski", ski, "--op", "ecdsa-sha256", "--payload", dig_hex, NULL};
    int rc = demo_run(NULL, sign, NULL, out, err, 20);
    if (rc != 0 || read_file(out, text, sizeof text) != 0 || hex_to_bytes(text, sig, sizeof sig, &slen) != 0 ||
        demo_verify_digest(run.cert, digest, sizeof digest, sig, slen) != 0) {
        fprintf(stderr, "pqify demo: the key server's signature did not verify (exit %d; see %s)\n", rc, err);
        return -1;
    }
    add_hop("keyless -> keyserver", g, "yes", hrr, us, "a ping; an ECDSA P-256 signature, verified", "");
    return 0;
}

/* Read the topic back from Kafka with librdkafka (pqify-kafka kafka-count). */
static int hop_logrecv_kafka(void)
{
    char err[600], out[600], expect[32], text[256];
    snprintf(err, sizeof err, "%s/kafka-count.log", run.dir);
    snprintf(out, sizeof out, "%s/kafka-count.out", run.dir);
    snprintf(expect, sizeof expect, "%zu", run.fwd_sent);
    char *argv[] = {"pqify-kafka", "kafka-count", "--brokers", run.boot, "--topic", "logs.access",
                    "--expect", expect, "--timeout", "30", NULL};
    int rc = demo_run(run.kafka_exe, argv, NULL, out, err, 40);
    unsigned long n = 0;
    if (read_file(out, text, sizeof text) == 0)
        sscanf(text, "read %lu messages", &n);
    run.fwd_stored = n;
    char what[96];
    snprintf(what, sizeof what, "%lu events in topic logs.access, read back", n);
    add_hop("logrecv -> Kafka", "-", "no", "-", "-", what,
            "the mock broker speaks plaintext; a real one over TLS takes PQ through pqify.so");
    if (rc != 0)
        fprintf(stderr, "pqify demo: reading logs.access back from Kafka found %lu of %zu (see %s)\n", n,
                run.fwd_sent, err);
    return 0;
}

static int hop_logfwd_logrecv(const struct demo_opts *o)
{
    char in[600], err[600], spool[600], sink[600], port[16], text[65536];
    snprintf(in, sizeof in, "%s/access.log", run.dir);
    snprintf(err, sizeof err, "%s/logfwd.log", run.dir);
    snprintf(spool, sizeof spool, "%s/logfwd.spool", run.dir);
    snprintf(sink, sizeof sink, "%s/sink/access.jsonl", run.dir);
    run.fwd_sent = o->quick ? 2000 : 10000;
    FILE *f = fopen(in, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < run.fwd_sent; i++)
        fprintf(f, "127.0.0.1 - - \"GET /item/%zu HTTP/1.1\" 200 %zu\n", i, 100 + i % 900);
    fclose(f);
    snprintf(port, sizeof port, "127.0.0.1:%d", run.logrecv.port);
    char *argv[] = {"pqify", "logfwd", "--to", port, "--ca", run.ca, "--servername", "localhost",
                    "--spool", spool, "--tag", "access", NULL};
    int rc = demo_run(NULL, argv, in, NULL, err, 60);
    if (run.kafka_exe[0] == '\0')
        run.fwd_stored = count_lines(sink);
    if (rc != 0) {
        fprintf(stderr, "pqify demo: pqify logfwd exited %d; see %s\n", rc, err);
        return -1;
    }
    /* the group from logfwd's own line; HRR and the time from logrecv's
     * metrics, which have counted exactly this one handshake so far */
    char g[64] = "?", pq[8] = "?", us[32] = "?";
    if (read_file(err, text, sizeof text) == 0) {
        const char *c = strstr(text, "msg=connected");
        if (c != NULL) {
            field(c, "group", g, sizeof g);
            field(c, "pq", pq, sizeof pq);
        }
    }
    const char *hrr = "?";
    if (demo_http_get(run.logrecv.admin, "/metrics", text, sizeof text) > 0) {
        char pre[160];
        snprintf(pre, sizeof pre, "pqify_tls_handshakes_total{role=\"server\",group=\"%s\",pq=\"true\",hrr=\"false\"}", g);
        hrr = demo_metric(text, pre) == 1.0 ? "no" : "yes";
        double sum = demo_metric(text, "pqify_tls_handshake_duration_seconds_sum{role=\"server\"");
        double cnt = demo_metric(text, "pqify_tls_handshake_duration_seconds_count{role=\"server\"");
        if (cnt == 1.0 && isfinite(sum))
            snprintf(us, sizeof us, "%.0f (server)", sum * 1e6);
    }
    char what[96];
    snprintf(what, sizeof what, "%zu access-log lines, each acked", run.fwd_sent);
    add_hop("logfwd -> logrecv", g, pq, hrr, us, what, "");
    if (run.kafka_exe[0] == '\0') {
        snprintf(what, sizeof what, "%zu lines in the file sink", run.fwd_stored);
        add_hop("logrecv -> file sink", "-", "-", "-", "-", what, "");
    } else if (hop_logrecv_kafka() != 0) {
        return -1;
    }
    if (run.fwd_stored != run.fwd_sent) {
        fprintf(stderr, "pqify demo: %zu of the %zu lines sent arrived\n", run.fwd_stored, run.fwd_sent);
        return -1;
    }
    return 0;
}

static int step_fleet(const struct demo_opts *o)
{
    char sink[600];
    snprintf(sink, sizeof sink, "%s/sink", run.dir);
    if (mkdir(sink, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "pqify demo: %s: %s\n", sink, strerror(errno));
        return 1;
    }
    if (demo_pki(run.dir) != 0) {
        fprintf(stderr, "pqify demo: cannot make the certificates in %s\n", run.dir);
        return 1;
    }
    /* Kafka when pqify-kafka is beside us (librdkafka links libssl, so pqify
     * itself cannot hold the Kafka sink), else the file sink */
    if (demo_sibling("pqify-kafka", run.kafka_exe, sizeof run.kafka_exe) != 0)
        run.kafka_exe[0] = '\0';
    if (run.kafka_exe[0] != '\0') {
        char *km[] = {"pqify-kafka", "kafka-mock", "--topic", "logs.access", NULL};
        if (demo_start(&run.kafka, run.kafka_exe, run.dir, "kafka", km) != 0)
            return 1;
        char line[512];
        FILE *f = fopen(run.kafka.log, "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "listening on %255s", run.boot) == 1)
                break;
        if (f != NULL)
            fclose(f);
        snprintf(sink, sizeof sink, "kafka:%s", run.boot);
    } else {
        snprintf(sink, sizeof sink, "file:%s/sink", run.dir);
    }
    /* pq preferred on the receiver, so that Fig. 1 and Fig. 2 can also open
     * classical connections to it; the forwarder requires PQ all the same */
    char *lr[] = {run.kafka_exe[0] ? "pqify-kafka" : "pqify", "logrecv", "--listen", "127.0.0.1:0",
                  "--cert", run.cert, "--key", run.key, "--pq", "preferred", "--sink", sink,
                  "--admin", "127.0.0.1:0", "--topic", "logs.{tag}", NULL};
    if (run.kafka_exe[0] == '\0')
        lr[14] = NULL;   /* no topic for the file sink */
    char *sv[] = {"pqify", "serve", "--listen", "127.0.0.1:0", "--cert", run.cert, "--key", run.key,
                  "--workers", "1", "--admin", "127.0.0.1:0", NULL};
    /* the key server holds the edge's key (DIR/keys/edge.key); clients need a
     * certificate from the demo CA, and PQ (its default) */
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", run.dir);
    char *ks[] = {"pqify", "keyserver", "--listen", "127.0.0.1:0", "--cert", run.cert, "--key", run.key,
                  "--ca", run.ca, "--keys", keys, "--admin", "127.0.0.1:0", "--workers", "2", NULL};
    if (demo_start(&run.logrecv, run.kafka_exe[0] ? run.kafka_exe : NULL, run.dir, "logrecv", lr) != 0 ||
        demo_start(&run.serve, NULL, run.dir, "serve", sv) != 0 ||
        demo_start(&run.keyserver, NULL, run.dir, "keyserver", ks) != 0)
        return 1;
    printf("Started on loopback (logs in %s):\n", run.dir);
    if (run.kafka_exe[0])
        printf("  pqify-kafka kafka-mock  pid %d  %s  librdkafka's mock cluster\n", (int)run.kafka.pid, run.boot);
    printf("  pqify%s logrecv  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  %s sink\n", run.kafka_exe[0] ? "-kafka" : "",
           (int)run.logrecv.pid, run.logrecv.port, run.logrecv.admin, run.kafka_exe[0] ? "Kafka" : "file");
    printf("  pqify serve  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d\n", (int)run.serve.pid, run.serve.port,
           run.serve.admin);
    printf("  pqify keyserver  pid %d  127.0.0.1:%d  admin 127.0.0.1:%d  holds the edge's key\n\n",
           (int)run.keyserver.pid, run.keyserver.port, run.keyserver.admin);
    if (hop_client_serve() != 0 || hop_keyless() != 0 || hop_logfwd_logrecv(o) != 0)
        return 1;
    printf("%-20s %-16s %-3s %-3s %-14s %s\n", "hop", "group", "pq", "hrr", "handshake_us", "what travelled");
    for (size_t i = 0; i < run.n_hops; i++)
        printf("%-20s %-16s %-3s %-3s %-14s %s%s%s\n", run.hop[i][0], run.hop[i][1], run.hop[i][2], run.hop[i][3],
               run.hop[i][4], run.hop[i][5], run.hop[i][6][0] ? "; not PQ: " : "", run.hop[i][6]);
    printf("\nforwarded %zu, %s %zu: %s\n", run.fwd_sent, run.kafka_exe[0] ? "read back from Kafka" : "stored",
           run.fwd_stored, run.fwd_sent == run.fwd_stored ? "every line arrived" : "LINES MISSING");
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

static int step_fig2(const struct demo_opts *o)
{
    const size_t events = 500;
    run.n2 = o->quick ? 15 : 40;
    if (demo_batches(run.logrecv.port, run.ca, run.n2, events, run.pq_t, run.pq_ms, run.cl_t, run.cl_ms) != 0)
        return 1;
    double a[FIG2_MAX], b[FIG2_MAX];
    memcpy(a, run.pq_ms, run.n2 * sizeof a[0]);
    memcpy(b, run.cl_ms, run.n2 * sizeof b[0]);
    double ma = 0, mb = 0;
    for (size_t i = 0; i < run.n2; i++) {
        ma += a[i] / (double)run.n2;
        mb += b[i] / (double)run.n2;
    }
    printf("%zu Forward batches of %zu events (zstd) on each of two long-lived connections to\n"
           "logrecv, one X25519MLKEM768 and one X25519, alternating; each timed from its first\n"
           "byte written to its ack (logrecv acks once %s). Timed by\n"
           "the demo itself: logfwd does not export its batch send duration yet. Each stream's\n"
           "first batch (which creates its Kafka topic) goes before the clock starts.\n\n",
           run.n2, events, run.kafka_exe[0] ? "Kafka confirmed every event" : "the file sink fsynced them");
    printf("%-16s %10s %10s\n", "stream", "mean ms", "p50 ms");
    printf("%-16s %10.2f %10.2f\n", "pq", ma, demo_quantile(a, run.n2, 0.5));
    printf("%-16s %10.2f %10.2f\n", "classical", mb, demo_quantile(b, run.n2, 0.5));
    printf("\nOnce the handshake is done both streams run the same AES-GCM: the key exchange\n"
           "costs nothing per batch.\n");
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
    struct demo_series f2[] = {{"pq stream (X25519MLKEM768)", run.pq_t, run.pq_ms, run.n2},
                               {"classical stream (X25519)", run.cl_t, run.cl_ms, run.n2}};
    snprintf(path, sizeof path, "%s/table1.svg", run.dir);
    int rc = demo_svg_bars(path, "Table 1: encapsulation time / ECDH time (lower is cheaper)",
                           "PQ time per ECDH time", bar_labels, ratios, 2);
    snprintf(path, sizeof path, "%s/fig1.svg", run.dir);
    rc = rc ? rc : demo_svg_cdf(path, "Fig. 1: TLS handshake latency to logrecv (loopback TCP)",
                                "handshake time, connect() to Finished (microseconds)", f1, 2);
    snprintf(path, sizeof path, "%s/fig2.svg", run.dir);
    rc = rc ? rc : demo_svg_series(path, "Fig. 2: Forward batch send duration over time",
                                   "time since the first batch (seconds)", "send to ack (milliseconds)", f2, 2);
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
    const char *fc[7 * 7];
    for (int c = 0; c < 7; c++)
        fc[c] = head[c];
    for (size_t r = 0; r < run.n_hops; r++)
        for (int c = 0; c < 7; c++)
            fc[(r + 1) * 7 + (size_t)c] = run.hop[r][c];
    struct demo_table tables[] = {
        {"The fleet, hop by hop", run.n_hops + 1, 7, fc,
         "Every hop ran on this machine's loopback, between the processes pqify demo started."},
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
         "Forward batches of 500 events on one long-lived X25519MLKEM768 connection and one "
         "X25519 connection to logrecv, alternating, timed by the demo from the first byte "
         "written to the ack (logfwd's own batch metric is not there yet); each stream's first "
         "batch, which creates its Kafka topic, is sent before timing starts."},
    };
    struct demo_page page = {
        .title = "pqify demo: the fleet hop by hop, and what post-quantum costs",
        .intro = "Measured on this machine in one run of pqify demo: every service a child process "
                 "of the demo on loopback, every figure from this run. The table says which group each "
                 "hop negotiated; a hop that is not PQ says why.",
        .tables = tables, .n_tables = 2, .figures = figs, .n_figures = 3,
    };
    snprintf(html, sizeof html, "%s/report.html", run.dir);
    if (demo_html(html, &page) != 0) {
        fprintf(stderr, "pqify demo: writing %s: %s\n", html, strerror(errno));
        return 1;
    }
    printf("report: %s\n", html);
    return 0;
}

static void keep_running(void)
{
    printf("\nThe fleet keeps running (--keep); Ctrl-C stops it. To explore it:\n\n"
           "  curl -s 127.0.0.1:%d/metrics | grep pqify_tls_handshakes_total\n"
           "  pqify scan 127.0.0.1:%d --ca %s --servername localhost\n"
           "  echo hi | pqify connect 127.0.0.1:%d --ca %s --servername localhost\n"
           "  echo 'one more line' | pqify logfwd --to 127.0.0.1:%d --ca %s --servername localhost "
           "--spool %s/more.spool --tag access\n"
           "  %s %s\n",
           run.logrecv.admin, run.logrecv.port, run.ca, run.serve.port, run.ca,
           run.logrecv.port, run.ca, run.dir, run.kafka_exe[0] ? "kcat -C -e -b" : "tail",
           run.kafka_exe[0] ? run.boot : run.dir);
    if (run.kafka_exe[0])
        printf("     (add -t logs.access; the classical and PQ streams of Fig. 2 are logs.classical, logs.pq)\n");
    else
        printf("     (the file %s/sink/access.jsonl)\n", run.dir);
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
     "where the report, the certificates and the services' logs go\n(default: a new directory under $TMPDIR or /tmp)"},
    {"--keep", NULL, PQIFY_OPT_FLAG, offsetof(struct demo_opts, keep), 0, 0, 0,
     "leave the fleet running and print commands to explore it;\nCtrl-C stops it"},
};

static struct pqify_cmd_spec demo_spec = {
    .name = "demo",
    .usage = "demo [--quick] [--out DIR] [--keep]\n",
    .opts = demo_opts,
    .n_opts = PQIFY_N_OPTS(demo_opts),
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
    return rc;
}
