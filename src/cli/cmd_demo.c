/*
 * pqify demo: what post-quantum key exchange costs, shown step by step.
 * Each step is one entry in the table below; later steps (real handshakes over
 * loopback) are added there without touching the others.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "cli.h"
#include "pqify/net/pair.h"
#include "pqify/net/selfsigned.h"

struct demo_opts {
    int quick;
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

static const struct demo_step steps[] = {
    {"what pqify does", step_intro},
    {"what the KEMs cost, against libcrypto's ECDH", step_kem_table},
    {"a TLS 1.3 handshake per group, PQ against classical", step_handshakes},
};

static const struct pqify_opt demo_opts[] = {
    {"--quick", NULL, PQIFY_OPT_FLAG, offsetof(struct demo_opts, quick), 0, 0, 0,
     "shorter measurements (noisier figures)"},
};

static struct pqify_cmd_spec demo_spec = {
    .name = "demo",
    .usage = "demo [--quick]\n",
    .opts = demo_opts,
    .n_opts = PQIFY_N_OPTS(demo_opts),
};

/* --help lists the steps from their table. */
static void help(FILE *f)
{
    static char about[1024];
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
    const size_t n = sizeof steps / sizeof steps[0];
    for (size_t i = 0; i < n; i++) {
        printf("%s== step %zu/%zu: %s ==\n\n", i ? "\n" : "", i + 1, n, steps[i].title);
        fflush(stdout);
        int rc = steps[i].run(&o);
        if (rc != 0) {
            fprintf(stderr, "pqify demo: step %zu (%s) failed\n", i + 1, steps[i].title);
            return rc;
        }
    }
    return 0;
}
