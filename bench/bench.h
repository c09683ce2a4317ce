/*
 * pqify benchmarks, linked into the pqify binary (`pqify bench ...`, `pqify demo`).
 * They print figures and ratios measured in the same run. Nothing here is a test,
 * and nothing here is needed by the library.
 */
#ifndef PQIFY_BENCH_H
#define PQIFY_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- pqify bench kem ---- */

#define PQIFY_BENCH_MAX_BACKENDS 4

/* A few figures of the run (first backend), for callers that narrate them
 * (pqify demo); all are ratios to one X25519 derive. */
struct pqify_bench_kem_summary {
    const char *backend;
    double unit_ns;
    double mlkem768_x[3]; /* keygen, encaps, decaps */
    double x25519_keygen_x;
};

struct pqify_bench_kem_opts {
    unsigned runs;       /* samples per figure; the median is reported */
    unsigned warmup_ms;  /* per operation, before any sample is taken */
    const char *backend; /* NULL: the active one; "all": every one this CPU has */
    int json;            /* 1: one JSON object instead of the table */
    int quick;           /* a short run (pqify-bench sets runs and warm-up from it) */
    FILE *out;
    struct pqify_bench_kem_summary *summary; /* filled on success when not NULL */
};

/* Returns 0, 1 when a measurement failed (a message went to stderr), or 2 when
 * opts->backend names no backend (message on stderr). */
int pqify_bench_kem(const struct pqify_bench_kem_opts *opts);

/* Writes the names of the KEM backends this CPU can run, in the KEM layer's
 * order, and returns how many (at most max). Leaves the active backend as it was. */
size_t pqify_bench_kem_backends(const char *names[], size_t max);

/* ---- pqify bench handshake ---- */

struct pqify_bench_handshake_opts {
    int quick;           /* a short, noisy run that checks everything works */
    unsigned rounds;     /* 0: the default; rows are interleaved round by round */
    unsigned per_round;  /* 0: the default; handshakes per row and round */
    FILE *out;
};

/* Returns 0, or 1 when a measurement failed (a message went to stderr). */
int pqify_bench_handshake(const struct pqify_bench_handshake_opts *opts);

/* ---- pqify bench provider (bench_provider.c) ---- */

/* The whole command: options, help, run and report (nginx with pqify.so).
 * Returns 0, 1 when a measurement failed, 2 on a usage error. */
int pqify_bench_provider_main(int argc, char **argv);

/* `pqify bench serve` (bench_serve.c): argv starts at "serve". */
int pqify_bench_serve(int argc, char **argv);
/* bench_logs.c: the log pipeline's throughput */
int pqify_bench_logs(int argc, char **argv);

/* ---- in-process client/server pairs (bench_pair.c, on src/net/pair.c) ---- */

#include "pqify/tls.h"

/* A self-signed ECDSA P-256 certificate and its key, as malloc'd PEM strings. */
int pqify_bench_make_cert(char **cert_pem, char **key_pem);

struct pqify_bench_pair_result {
    uint16_t group_id;
    int is_pq, hrr;
    size_t client_hello_bytes;   /* the first flight, in records */
    size_t client_to_server, server_to_client;  /* handshake bytes on the wire */
    uint64_t ns;                 /* both sides, one thread, wall clock */
    int client_err, server_err;  /* on failure */
};

/* One handshake in memory; 0 or -1 (errors in res). The _connect variant hands
 * back the established connections (caller frees); on failure both are NULL. */
int pqify_bench_pair_handshake(const pqify_tls_config *client_cfg,
                               const pqify_tls_config *server_cfg,
                               struct pqify_bench_pair_result *res);
int pqify_bench_pair_connect(const pqify_tls_config *client_cfg,
                             const pqify_tls_config *server_cfg, pqify_tls_conn **client,
                             pqify_tls_conn **server, struct pqify_bench_pair_result *res);

/* ---- helpers shared by every benchmark ---- */

/* Pins the calling thread to the CPU it runs on, so that migrations and the other
 * core's load do not land in the samples. Returns the CPU or -1 (not pinned). */
int pqify_bench_pin(void);
/* Restores the CPU set pqify_bench_pin found. */
void pqify_bench_unpin(void);

uint64_t pqify_bench_now_ns(void);
/* A loopback port free right now (bind to port 0 and read it back); 0 on failure. */
uint16_t pqify_bench_free_port(void);
/* A TCP connection to 127.0.0.1:port with TCP_NODELAY; -1 on failure. */
int pqify_bench_tcp_connect(uint16_t port);

struct pqify_bench_stats {
    double median, q1, q3; /* nanoseconds per operation */
};
/* Sorts samples[0..n) in place and summarises them; n >= 1. */
struct pqify_bench_stats pqify_bench_summarise(double *samples, size_t n);

#endif
