/*
 * pqify-bench: `pqify bench <what>`, figures and ratios measured in one run. Its
 * own executable, because it links libssl (the baseline) and defines malloc (the
 * allocation counter), which the production binary never does; `pqify bench`
 * runs it from beside the pqify binary, so its words still say "pqify bench".
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cli.h"

#define KEM_DEFAULT_RUNS 1001
#define KEM_DEFAULT_WARMUP_MS 20
#define KEM_QUICK_RUNS 31
#define KEM_QUICK_WARMUP_MS 1

#define O(field) offsetof(struct pqify_bench_kem_opts, field)
static const struct pqify_opt kem_opts[] = {
    {"--runs", "N", PQIFY_OPT_UINT, O(runs), 1, 1000000, 0,
     "samples per figure, the median is printed (default 1001)"},
    {"--quick", NULL, PQIFY_OPT_FLAG, O(quick), 0, 0, 0,
     "a short, noisy run (31 samples) that checks everything works"},
    {"--backend", "NAME", PQIFY_OPT_STRING, O(backend), 0, 0, 0,
     "KEM backend: portable, avx2 (if this CPU has it), or all to\n"
     "print every backend side by side with the speed-up\n"
     "(default: the active one: PQIFY_KEM_BACKEND or the fastest)"},
    {"--json", NULL, PQIFY_OPT_FLAG, O(json), 0, 0, 0, "print one JSON object instead of the table"},
};
#undef O

static const struct pqify_cmd_spec kem_spec = {
    .name = "bench kem",
    .usage = "bench kem [--runs N] [--quick] [--backend NAME|all] [--json]\n",
    .about = "Times keygen, encaps and decaps of ML-KEM-512/768/1024 (FIPS 203) and round-3\n"
             "Kyber-512/768/1024, and keygen and derive of libcrypto's X25519 and P-256, all\n"
             "interleaved on one pinned CPU. Prints the median ns per operation, each as a\n"
             "ratio to one X25519 derive from the same run, the bytes each side sends, the\n"
             "heap allocations per operation, and the ML-KEM-768 targets. docs/commands.md\n"
             "explains every column.\n",
    .opts = kem_opts,
    .n_opts = PQIFY_N_OPTS(kem_opts),
};

static int bench_kem(int argc, char **argv)
{
    struct pqify_bench_kem_opts o = {.out = stdout};
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&kem_spec, stdout);
        return 0;
    }
    if (pqify_cli_parse(&kem_spec, argc, argv, &o) != 0)
        return 2;
    o.warmup_ms = o.quick ? KEM_QUICK_WARMUP_MS : KEM_DEFAULT_WARMUP_MS;
    if (o.runs == 0)   /* not given (its range starts at 1) */
        o.runs = o.quick ? KEM_QUICK_RUNS : KEM_DEFAULT_RUNS;
    return pqify_bench_kem(&o);
}

#define O(field) offsetof(struct pqify_bench_handshake_opts, field)
static const struct pqify_opt handshake_opts[] = {
    {"--quick", NULL, PQIFY_OPT_FLAG, O(quick), 0, 0, 0,
     "a short, noisy run that checks everything works"},
    {"--rounds", "N", PQIFY_OPT_UINT, O(rounds), 1, 10000, 0,
     "interleaved rounds (default 15; --quick 2)"},
    {"--per-round", "N", PQIFY_OPT_UINT, O(per_round), 1, 100000, 0,
     "handshakes per row and round (default 40; --quick 4)"},
};
#undef O

static const struct pqify_cmd_spec handshake_spec = {
    .name = "bench handshake",
    .usage = "bench handshake [--quick] [--rounds N] [--per-round N]\n",
    .about = "Full TLS 1.3 handshakes over loopback TCP with an ECDSA P-256 certificate: a\n"
             "server pinned to CPU 0, a pqify load client pinned to CPU 1. Per group it\n"
             "prints the server's CPU time per handshake (thread CPU clock, accept to close),\n"
             "handshakes/s of the closed-loop client, client-observed latency p50/p99, and\n"
             "the handshake bytes each way; a libssl 3.0 server (Debian's) runs in the same\n"
             "run with the same client for X25519 and P-256. Then the heap bytes an idle\n"
             "established connection holds, bulk AES-128-GCM MB/s per core, and the targets\n"
             "with ok/MISSED. docs/commands.md explains every column.\n",
    .opts = handshake_opts,
    .n_opts = PQIFY_N_OPTS(handshake_opts),
};

static int bench_handshake(int argc, char **argv)
{
    struct pqify_bench_handshake_opts o = {.out = stdout};
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&handshake_spec, stdout);
        return 0;
    }
    if (pqify_cli_parse(&handshake_spec, argc, argv, &o) != 0)
        return 2;
    return pqify_bench_handshake(&o);
}

struct kem_demo_args {
    int quick;
};

static const struct pqify_opt kem_demo_opts[] = {
    {"--quick", NULL, PQIFY_OPT_FLAG, offsetof(struct kem_demo_args, quick), 0, 0, 0,
     "31 samples per figure instead of 201"},
};

static const struct pqify_cmd_spec kem_demo_spec = {
    .name = "bench kem-demo",
    .usage = "bench kem-demo [--quick]\n",
    .about = "The short KEM table of `pqify demo` (its step 2), and what ML-KEM-768 adds\n"
             "to one X25519MLKEM768 handshake on each side.\n",
    .opts = kem_demo_opts,
    .n_opts = PQIFY_N_OPTS(kem_demo_opts),
};

/* The KEM step of `pqify demo` (src/cli/cmd_demo.c runs it here, where the
 * allocations are counted): a short table and what it means for a handshake. */
static int bench_kem_demo(int argc, char **argv)
{
    struct kem_demo_args d = {0};
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&kem_demo_spec, stdout);
        return 0;
    }
    if (pqify_cli_parse(&kem_demo_spec, argc, argv, &d) != 0)
        return 2;
    int quick = d.quick;
    struct pqify_bench_kem_summary sum;
    struct pqify_bench_kem_opts b = {
        .runs = quick ? 31 : 201,
        .warmup_ms = quick ? 1 : 10,
        .out = stdout,
        .summary = &sum,
    };
    printf("(a short run; `pqify bench kem` measures longer, `--backend all` compares\n"
           "the portable C and AVX2 code)\n\n");
    fflush(stdout);
    int rc = pqify_bench_kem(&b);
    if (rc != 0)
        return rc;
    /* RFC 8446 §4.2.8: the client makes its shares and later derives; the server
     * answers in one go. X25519 costs keygen + derive on each side. */
    double x25519 = sum.x25519_keygen_x + 1.0;
    double client = sum.mlkem768_x[0] + sum.mlkem768_x[2];
    double server = sum.mlkem768_x[1];
    printf("\nIn one X25519MLKEM768 handshake (%s backend), next to the %.2f X25519\n"
           "derives that X25519 alone costs each side, ML-KEM-768 adds %.2f on the client\n"
           "(keygen + decaps) and %.2f on the server (encaps): %.0f%% and %.0f%% more key\n"
           "exchange CPU, for 1184 + 1088 more bytes on the wire.\n",
           sum.backend, x25519, client, server, 100.0 * client / x25519,
           100.0 * server / x25519);
    return 0;
}

int pqify_bench_edge(int argc, char **argv);
int pqify_bench_tunnel(int argc, char **argv);

static const struct pqify_command benches[] = {
    {"kem", "ML-KEM and round-3 Kyber against libcrypto's X25519 and P-256 ECDH", bench_kem},
    {"handshake", "full TLS 1.3 handshakes over loopback, pqify against libssl 3.0", bench_handshake},
    {"provider", "Debian's nginx with pqify.so: X25519MLKEM768 against X25519 server CPU", pqify_bench_provider_main},
    {"kem-demo", "the short KEM table `pqify demo` shows (its step 2)", bench_kem_demo},
    {"serve", "pqify serve: memory per idle connection, loop cost per handshake", pqify_bench_serve},
    {"edge", "pqify edge against nginx as a reverse proxy: CPU per request, handshakes/s", pqify_bench_edge},
    {"tunnel", "pqify edge + pqify tunnel against nginx -> stunnel4 -> stunnel4: CPU per request, req/s, p50/p99", pqify_bench_tunnel},
    {"logs", "logfwd -> logrecv (null sink) over X25519MLKEM768 and X25519: MiB/s, batch p50/p99; into Kafka: events/s", pqify_bench_logs},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pqify bench <what> [options]\n\nwhat:\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].summary);
    fprintf(f, "\n`pqify bench <what> --help` describes the options of one.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "pqify bench: say what to measure\n");
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!strcmp(argv[1], benches[i].name))
            return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pqify bench: unknown benchmark '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
