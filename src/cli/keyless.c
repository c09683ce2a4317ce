/* pqify keyless ping|sign|bench: requests to a key server over post-quantum mutual
 * TLS (docs/keyless.md) through the keyless client library (keyless_client.h), the
 * one client: its pool, ids, deadlines and reconnects serve the CLI as they serve
 * pqify serve --keyless. */
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "cli.h"
#include "pqify/keyless.h"
#include "pqify/keyless_client.h"
#include "pqify/net/listener.h"
#include "pqify/net/tls_options.h"

#define KL_DEADLINE_MS 10000u

struct kl_args {
    const char *server, *ski, *op, *payload;
    pqify_tls_options tls;
    unsigned count;
};

#define A(field) offsetof(struct kl_args, field)
static const struct pqify_opt kl_opts[] = {
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "client certificate (PEM; the key server requires one)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0, "CA the key server's certificate must chain to"},
    {"--servername", "NAME", PQIFY_OPT_STRING, A(tls.server_name), 0, 0, 0,
     "name to check in its certificate (default: the host)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--ski", "HEX", PQIFY_OPT_STRING, A(ski), 0, 0, 0, "sign: the key's SKI (40 hex digits)"},
    {"--op", "NAME", PQIFY_OPT_STRING, A(op), 0, 0, 0,
     "sign: ecdsa-sha256, rsa-pss-sha256, ed25519, rsa-sha256 ... (as in /metrics)"},
    {"--payload", "HEX", PQIFY_OPT_STRING, A(payload), 0, 0, 0,
     "sign: the digest (or the message for ed25519), in hex"},
    {"--count", "N", PQIFY_OPT_UINT, A(count), 100, 10000000, 0,
     "bench: ECDSA P-256 signs at 64 in flight (default 20000)"},
};
#undef A

static const struct pqify_cmd_spec kl_spec = {
    .name = "keyless",
    .usage = "keyless ping HOST:PORT --cert FILE --key FILE --ca FILE\n"
             "       keyless sign HOST:PORT --cert FILE --key FILE --ca FILE --ski HEX --op NAME "
             "--payload HEX\n"
             "       keyless bench HOST:PORT --cert FILE --key FILE --ca FILE --ski HEX (a P-256 key)\n",
    .about = "Ask a key server (pqify keyserver, gokeyless) for a pong or a signature.\n",
    .opts = kl_opts,
    .n_opts = PQIFY_N_OPTS(kl_opts),
    .operand = "HOST:PORT",
    .operand_offset = offsetof(struct kl_args, server),
    .footer = "stdout: ping: 'pong in MS ms group NAME'; sign: the signature in hex;\n"
              "bench: ECDSA P-256 signs/s through one connection at 64 in flight against raw\n"
              "libcrypto signing on one core, and p50/p99 latency at 1 and 64 in flight.\n"
              "Exit 0 on an answer, 1 on an error answer or a failure.\n",
};

/* One CLI run: the client library does the network; this waits for its answers. */
struct kl_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pqify_keyless_client *c;
    int finished, status;
    uint64_t t0;
    /* ping / sign */
    int is_ping;
    /* bench */
    unsigned window, total, sent, done, failed;
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES];
    uint8_t digest[32];
    uint64_t *sent_at;   /* by request number */
    double *lat;         /* ms, in answer order */
    uint64_t phase_t0;
    double rate, p50, p99;
    char group[64];
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run_finish(struct kl_run *r, int status)
{
    r->status = status;
    r->finished = 1;
    pthread_cond_signal(&r->cv);
}

/* Wait (bounded) for run_finish. */
static void run_wait(struct kl_run *r, unsigned seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    pthread_mutex_lock(&r->mu);
    while (!r->finished)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&r->mu);
}

static void on_answer(void *arg, const pqify_keyless_reply *rep)
{
    struct kl_run *r = arg;
    pthread_mutex_lock(&r->mu);
    if (rep->status != 0) {
        fprintf(stderr, "pqify keyless: no answer: %s\n", pqify_keyless_strerror(rep->status));
    } else if (rep->opcode == PQIFY_KEYLESS_OP_ERROR) {
        fprintf(stderr, "pqify keyless: the key server answered error %u (%s)\n", rep->error,
                pqify_keyless_wire_error_name(rep->error));
    } else if (r->is_ping && rep->opcode == PQIFY_KEYLESS_OP_PONG) {
        printf("pong in %.3f ms group %s\n", (double)(uv_hrtime() - r->t0) / 1e6, rep->group);
        r->status = 0;
    } else if (!r->is_ping && rep->opcode == PQIFY_KEYLESS_OP_RESPONSE) {
        for (size_t i = 0; i < rep->len; i++)
            printf("%02x", rep->payload[i]);
        printf("\n");
        r->status = 0;
    } else {
        fprintf(stderr, "pqify keyless: unexpected answer opcode 0x%02x\n", rep->opcode);
    }
    run_finish(r, r->status);
    pthread_mutex_unlock(&r->mu);
}

static void bench_answer(void *arg, const pqify_keyless_reply *rep);
static struct kl_run *bench_run; /* the one run of this process */

/* Under r->mu. */
static void bench_send(struct kl_run *r)
{
    unsigned n = r->sent++;
    r->sent_at[n] = uv_hrtime();
    if (pqify_keyless_client_submit(r->c, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, r->ski, r->digest,
                                    sizeof r->digest, bench_answer, (void *)(uintptr_t)n) != 0) {
        r->failed++;
        run_finish(r, 1);
    }
}

/* Each answer frees one place in the window; arg is the request's number, so its
 * latency is its own even when answers come out of order. */
static void bench_answer(void *arg, const pqify_keyless_reply *rep)
{
    struct kl_run *r = bench_run;
    unsigned n = (unsigned)(uintptr_t)arg;
    pthread_mutex_lock(&r->mu);
    if (r->finished) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    if (rep->status != 0 || rep->opcode != PQIFY_KEYLESS_OP_RESPONSE) {
        fprintf(stderr, "pqify keyless bench: a sign failed: %s\n",
                rep->status != 0 ? pqify_keyless_strerror(rep->status)
                                 : pqify_keyless_wire_error_name(rep->error));
        r->failed++;
        run_finish(r, 1);
        pthread_mutex_unlock(&r->mu);
        return;
    }
    snprintf(r->group, sizeof r->group, "%s", rep->group);
    if (n >= r->sent) { /* an answer of an earlier phase cannot come: all were answered */
        pthread_mutex_unlock(&r->mu);
        return;
    }
    r->lat[r->done] = (double)(uv_hrtime() - r->sent_at[n]) / 1e6;
    r->done++;
    if (r->sent < r->total)
        bench_send(r);
    else if (r->done == r->total)
        run_finish(r, 0);
    pthread_mutex_unlock(&r->mu);
}

/* One phase: total signs, window in flight. */
static int bench_phase(struct kl_run *r, unsigned window, unsigned total)
{
    pthread_mutex_lock(&r->mu);
    r->window = window;
    r->total = total;
    r->sent = r->done = 0;
    r->finished = 0;
    r->phase_t0 = uv_hrtime();
    for (unsigned i = 0; i < window && r->sent < total && !r->finished; i++)
        bench_send(r);
    pthread_mutex_unlock(&r->mu);
    run_wait(r, 600);
    pthread_mutex_lock(&r->mu);
    int ok = r->finished && r->status == 0 && r->done == total;
    if (ok) {
        double secs = (double)(uv_hrtime() - r->phase_t0) / 1e9;
        qsort(r->lat, total, sizeof r->lat[0], cmp_double);
        r->rate = total / secs;
        r->p50 = r->lat[total / 2];
        r->p99 = r->lat[(size_t)((double)total * 0.99)];
    } else {
        fprintf(stderr, "pqify keyless bench: stopped after %u answers (%u bad)\n", r->done, r->failed);
    }
    r->finished = 1; /* late answers are ignored */
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -1;
}

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(h);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

/* Signs per second of libcrypto alone on this thread for about a second: ECDSA P-256
 * over a SHA-256 digest, the operation the key server does per request. */
static double raw_p256_rate(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
    uint8_t dg[32] = {1}, sig[128];
    unsigned n = 0;
    double rate = 0;
    if (c != NULL && EVP_PKEY_sign_init(c) == 1) {
        uint64_t t0 = uv_hrtime(), t;
        do {
            for (int i = 0; i < 100; i++, n++) {
                size_t sl = sizeof sig;
                if (EVP_PKEY_sign(c, sig, &sl, dg, sizeof dg) != 1)
                    goto out;
            }
            t = uv_hrtime();
        } while (t - t0 < 1000000000ull);
        rate = n / ((double)(t - t0) / 1e9);
    }
out:
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return rate;
}

int pqify_cmd_keyless(int argc, char **argv)
{
    static struct kl_run r;
    struct kl_args a;
    char host[256], port[16], err[768];
    int bench = 0;
    if (argc < 2 || pqify_wants_help(argc, argv)) {
        pqify_cli_help(&kl_spec, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    r.status = 1;
    if (strcmp(argv[1], "ping") == 0)
        r.is_ping = 1;
    else if (strcmp(argv[1], "bench") == 0)
        bench = 1;
    else if (strcmp(argv[1], "sign") != 0)
        return pqify_cli_unknown("keyless", argv[1]);
    if (pqify_cli_parse(&kl_spec, argc - 1, argv + 1, &a) != 0)
        return 2;
    if (a.server == NULL || a.tls.cert == NULL || a.tls.key == NULL || a.tls.ca == NULL) {
        fprintf(stderr, "pqify keyless: HOST:PORT, --cert, --key and --ca are required (see pqify "
                        "keyless --help)\n");
        return 2;
    }
    if (pqify_net_split_hostport(a.server, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify keyless: '%s' is not HOST:PORT\n", a.server);
        return 2;
    }
    uint8_t op = PQIFY_KEYLESS_OP_PING;
    uint8_t payload[1024];
    size_t plen = 0, skl = 0;
    if (bench) {
        /* ECDSA P-256 over a fixed digest: the server's cost is the sign, as in a handshake */
        a.op = "ecdsa-sha256";
        a.payload = "8e1f0c6b4ad8a1b34f2a3b9d5c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";
    }
    if (!r.is_ping) {
        op = 0;
        for (unsigned o = 1; o < 0xF0 && op == 0; o++)
            if (a.op != NULL && strcmp(pqify_keyless_op_name((uint8_t)o), a.op) == 0)
                op = (uint8_t)o;
        if (op == 0 || a.ski == NULL || a.payload == NULL ||
            unhex(a.ski, r.ski, sizeof r.ski, &skl) != 0 || skl != PQIFY_KEYLESS_SKI_BYTES ||
            unhex(a.payload, payload, sizeof payload, &plen) != 0) {
            fprintf(stderr, "pqify keyless: sign needs --op NAME (as in /metrics), --ski (40 hex "
                            "digits) and --payload HEX\n");
            return 2;
        }
    }
    if (a.tls.server_name == NULL)
        a.tls.server_name = host;
    pqify_tls_config *cfg = pqify_tls_options_build(&a.tls, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "pqify keyless: --%s\n", err);
        return 1;
    }
    const char *servers[1] = {a.server};
    pqify_keyless_client_options co = {
        .servers = servers,
        .n_servers = 1,
        .tls = cfg,
        .connections = 1,
        .max_in_flight = 64,
        .deadline_ms = bench ? 60000 : KL_DEADLINE_MS,
        .connect_timeout_ms = KL_DEADLINE_MS,
    };
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.c = pqify_keyless_client_new(&co, err, sizeof err);
    if (r.c == NULL) {
        fprintf(stderr, "pqify keyless: %s\n", err);
        pqify_tls_config_free(cfg);
        return 1;
    }
    if (!bench) {
        r.t0 = uv_hrtime();
        pthread_mutex_lock(&r.mu);
        int rc = pqify_keyless_client_submit(r.c, op, r.is_ping ? NULL : r.ski, payload, plen,
                                             on_answer, &r);
        pthread_mutex_unlock(&r.mu);
        if (rc != 0)
            fprintf(stderr, "pqify keyless: %s\n", pqify_keyless_strerror(rc));
        else
            run_wait(&r, KL_DEADLINE_MS / 1000 + 5);
    } else {
        unsigned total = a.count ? a.count : 20000;
        bench_run = &r;
        memcpy(r.digest, payload, sizeof r.digest);
        r.sent_at = calloc(total, sizeof *r.sent_at);
        r.lat = calloc(total, sizeof *r.lat);
        double rate1 = 0, p50_1 = 0, p99_1 = 0;
        if (r.sent_at != NULL && r.lat != NULL && bench_phase(&r, 1, total / 10) == 0) {
            rate1 = r.rate, p50_1 = r.p50, p99_1 = r.p99;
            if (bench_phase(&r, 64, total) == 0) {
                double raw = raw_p256_rate();
                printf("raw libcrypto ECDSA P-256 sign, one core: %.0f signs/s\n", raw);
                printf("keyless 1 in flight:  %.0f signs/s  p50 %.3f ms  p99 %.3f ms  (%u signs)\n",
                       rate1, p50_1, p99_1, total / 10);
                printf("keyless 64 in flight: %.0f signs/s  p50 %.3f ms  p99 %.3f ms  (%u signs, "
                       "%.2fx raw, one PQ mTLS connection, group %s)\n",
                       r.rate, r.p50, r.p99, total, raw > 0 ? r.rate / raw : 0.0, r.group);
                r.status = 0;
            } else {
                r.status = 1;
            }
        } else {
            r.status = 1;
        }
    }
    pqify_keyless_client_free(r.c);
    pqify_tls_config_free(cfg);
    free(r.sent_at);
    free(r.lat);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return r.status;
}
