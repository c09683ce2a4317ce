/*
 * `pqify bench kem`: the KEMs against libcrypto's X25519 and P-256 ECDH.
 *
 * Every figure is the median of many samples of one operation. The samples of all
 * operations are interleaved round by round (each round starting one job later), so
 * that a burst of load from the other core, or a frequency change, spreads over
 * every figure instead of landing on one. The ratios are to one X25519 derive, the
 * unit the deployment figures are quoted in: each round yields one ratio (this
 * operation's sample over the X25519 derive sample of the same round) and x is the
 * median of those. This shared machine switches between a fast and a slow state
 * for milliseconds at a time; pairing within a round cancels most of it, where a
 * ratio of two medians would depend on how often each state was hit.
 */
#include "alloc_count.h"
#include "bench.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <stdlib.h>
#include <string.h>

#include "pqify/kem.h"

enum { OP_KEYGEN, OP_ENCAPS, OP_DECAPS, N_OPS };
static const char *const op_name[N_OPS] = {"keygen", "encaps", "decaps"};

/* A sample shorter than this would be dominated by the clock read. */
#define MIN_SAMPLE_NS 2000.0

/* Key material for one KEM: fixed inputs made once, and scratch outputs. */
struct kem_keys {
    uint8_t ek[PQIFY_MLKEM1024_EK_BYTES], dk[PQIFY_MLKEM1024_DK_BYTES];
    uint8_t ct[PQIFY_MLKEM1024_CT_BYTES];
    uint8_t ek_out[PQIFY_MLKEM1024_EK_BYTES], dk_out[PQIFY_MLKEM1024_DK_BYTES];
    uint8_t ct_out[PQIFY_MLKEM1024_CT_BYTES], ss_out[PQIFY_KEM_SS_BYTES];
};

/* A classical group. The contexts are prepared once: algorithms fetched, keygen
 * initialised, the peer set on the derive context. Per-call fetches are what make
 * libcrypto 3.0 slow; timing them would inflate the unit every ratio divides by. */
struct ecdh {
    const char *name;
    const char *keytype, *group;
    EVP_PKEY_CTX *keygen_ctx, *derive_ctx;
    EVP_PKEY *own, *peer;
    size_t share_bytes, secret_bytes;
    uint8_t secret[64];
};

/* One thing timed. For ECDH, OP_KEYGEN is EVP_PKEY_keygen and OP_DECAPS is
 * EVP_PKEY_derive (what the client does with the server's share). */
struct job {
    const pqify_kem *kem;
    struct kem_keys *keys;
    struct ecdh *ecdh;
    int backend; /* index into the run's backends; -1 for ECDH */
    int op;
    unsigned batch;
    double *samples;
    unsigned long long allocs, ops;
    struct pqify_bench_stats st;
    double x;       /* median over rounds of sample / X25519 derive sample */
    double x_iqr;   /* interquartile range of those per-round ratios, relative */
    double speedup; /* median over rounds of backend 0's sample / this one's */
};

struct run {
    const struct pqify_bench_kem_opts *o;
    const char *backends[PQIFY_BENCH_MAX_BACKENDS];
    size_t n_backends;
    int active; /* backend index now set in the KEM layer */
    size_t n_kems;
    struct kem_keys *keys; /* n_kems */
    struct ecdh ecdh[2];
    struct job *jobs;
    size_t n_jobs;
    double *samples;
    int cpu;
    double unit_ns;
    double kyber_p256[PQIFY_BENCH_MAX_BACKENDS]; /* paired like x */
};

static int run_job_once(struct job *j)
{
    struct kem_keys *k = j->keys;
    if (j->ecdh != NULL) {
        struct ecdh *e = j->ecdh;
        if (j->op == OP_KEYGEN) {
            EVP_PKEY *pkey = NULL;
            if (EVP_PKEY_keygen(e->keygen_ctx, &pkey) <= 0)
                return -1;
            EVP_PKEY_free(pkey);
            return 0;
        }
        size_t len = sizeof e->secret;
        if (EVP_PKEY_derive(e->derive_ctx, e->secret, &len) <= 0 || len != e->secret_bytes)
            return -1;
        return 0;
    }
    switch (j->op) {
    case OP_KEYGEN:
        return j->kem->keypair(k->ek_out, k->dk_out);
    case OP_ENCAPS:
        return j->kem->encaps(k->ct_out, k->ss_out, k->ek);
    default:
        return j->kem->decaps(k->ss_out, k->ct, k->dk);
    }
}

static const char *job_name(const struct job *j)
{
    return j->ecdh != NULL ? j->ecdh->name : j->kem->name;
}

static const char *job_op_name(const struct job *j)
{
    if (j->ecdh != NULL)
        return j->op == OP_KEYGEN ? "keygen" : "derive";
    return op_name[j->op];
}

static int select_backend(struct run *r, int b)
{
    if (b < 0 || b == r->active)
        return 0;
    int rc = pqify_kem_set_backend(r->backends[b]);
    if (rc != 0) {
        fprintf(stderr, "pqify bench kem: cannot switch to backend %s: %s\n", r->backends[b],
                pqify_strerror(rc));
        return -1;
    }
    r->active = b;
    return 0;
}

static int fail_op(const struct job *j, int rc)
{
    fprintf(stderr, "pqify bench kem: %s %s failed: %s\n", job_name(j), job_op_name(j),
            j->ecdh != NULL ? "libcrypto error" : pqify_strerror(rc));
    return -1;
}

/* One sample: batch operations timed together, recorded per operation. */
static int sample(struct run *r, struct job *j, double *out)
{
    if (select_backend(r, j->backend) != 0)
        return -1;
    unsigned long long a0 = pqify_alloc_count();
    uint64_t t0 = pqify_bench_now_ns();
    for (unsigned i = 0; i < j->batch; i++) {
        int rc = run_job_once(j);
        if (rc != 0)
            return fail_op(j, rc);
    }
    uint64_t t1 = pqify_bench_now_ns();
    unsigned long long a1 = pqify_alloc_count();
    j->allocs += a1 - a0;
    j->ops += j->batch;
    *out = (double)(t1 - t0) / (double)j->batch;
    return 0;
}

/* Warms caches, branch predictors and the clock frequency, and sizes the batch. */
static int warm_up(struct run *r, struct job *j)
{
    if (select_backend(r, j->backend) != 0)
        return -1;
    uint64_t budget = (uint64_t)r->o->warmup_ms * 1000000u;
    uint64_t start = pqify_bench_now_ns(), now = start;
    unsigned long n = 0;
    do {
        int rc = run_job_once(j);
        if (rc != 0)
            return fail_op(j, rc);
        n++;
        now = pqify_bench_now_ns();
    } while (n < 3 || now - start < budget);
    double mean = (double)(now - start) / (double)n;
    j->batch = mean >= MIN_SAMPLE_NS ? 1 : (unsigned)(MIN_SAMPLE_NS / mean) + 1;
    return 0;
}

static void ecdh_free(struct ecdh *e)
{
    EVP_PKEY_CTX_free(e->keygen_ctx);
    EVP_PKEY_CTX_free(e->derive_ctx);
    EVP_PKEY_free(e->own);
    EVP_PKEY_free(e->peer);
    OPENSSL_cleanse(e->secret, sizeof e->secret);
}

static int ecdh_setup(struct ecdh *e)
{
    uint8_t *pub = NULL;
    e->keygen_ctx = EVP_PKEY_CTX_new_from_name(NULL, e->keytype, NULL);
    if (e->keygen_ctx == NULL || EVP_PKEY_keygen_init(e->keygen_ctx) <= 0)
        goto fail;
    if (e->group != NULL && EVP_PKEY_CTX_set_group_name(e->keygen_ctx, e->group) <= 0)
        goto fail;
    if (EVP_PKEY_keygen(e->keygen_ctx, &e->own) <= 0 ||
        EVP_PKEY_keygen(e->keygen_ctx, &e->peer) <= 0)
        goto fail;
    e->derive_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, e->own, NULL);
    if (e->derive_ctx == NULL || EVP_PKEY_derive_init(e->derive_ctx) <= 0 ||
        EVP_PKEY_derive_set_peer(e->derive_ctx, e->peer) <= 0)
        goto fail;
    size_t len = 0;
    if (EVP_PKEY_derive(e->derive_ctx, NULL, &len) <= 0 || len == 0 || len > sizeof e->secret)
        goto fail;
    e->secret_bytes = len;
    /* The key share as TLS sends it (RFC 8446 §4.2.8.2: an uncompressed point for
     * P-256), measured from libcrypto rather than assumed. */
    e->share_bytes = EVP_PKEY_get1_encoded_public_key(e->own, &pub);
    OPENSSL_free(pub);
    if (e->share_bytes == 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "pqify bench kem: libcrypto cannot set up %s\n", e->name);
    return -1;
}

static int kem_setup(const pqify_kem *kem, struct kem_keys *k)
{
    uint8_t ss[PQIFY_KEM_SS_BYTES], ss2[PQIFY_KEM_SS_BYTES];
    int rc = 0;
    if (kem->ek_bytes > sizeof k->ek || kem->dk_bytes > sizeof k->dk ||
        kem->ct_bytes > sizeof k->ct || kem->ss_bytes != PQIFY_KEM_SS_BYTES) {
        fprintf(stderr, "pqify bench kem: %s has sizes this benchmark cannot hold\n", kem->name);
        return -1;
    }
    if ((rc = kem->keypair(k->ek, k->dk)) != 0 || (rc = kem->encaps(k->ct, ss, k->ek)) != 0 ||
        (rc = kem->decaps(ss2, k->ct, k->dk)) != 0) {
        fprintf(stderr, "pqify bench kem: %s set-up failed: %s\n", kem->name, pqify_strerror(rc));
        rc = -1;
    } else if (memcmp(ss, ss2, sizeof ss) != 0) {
        /* Timing a KEM that does not round-trip would be meaningless. */
        fprintf(stderr, "pqify bench kem: %s decaps does not recover the shared secret\n",
                kem->name);
        rc = -1;
    }
    pqify_zeroize(ss, sizeof ss);
    pqify_zeroize(ss2, sizeof ss2);
    return rc;
}

size_t pqify_bench_kem_backends(const char *names[], size_t max)
{
    /* Every name the KEM layer knows; set_backend refuses the ones this CPU lacks. */
    static const char *const known[] = {"portable", "avx2", "avx512"};
    const char *was = pqify_kem_backend();
    size_t n = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0] && n < max; i++)
        if (pqify_kem_set_backend(known[i]) == 0)
            names[n++] = known[i];
    if (pqify_kem_set_backend(was) != 0)
        fprintf(stderr, "pqify bench: could not restore KEM backend %s\n", was);
    return n;
}

static int choose_backends(struct run *r)
{
    const char *want = r->o->backend;
    const char *avail[PQIFY_BENCH_MAX_BACKENDS];
    size_t n = pqify_bench_kem_backends(avail, PQIFY_BENCH_MAX_BACKENDS);
    if (want == NULL) {
        r->backends[0] = pqify_kem_backend();
        r->n_backends = 1;
        return 0;
    }
    if (!strcmp(want, "all")) {
        memcpy(r->backends, avail, n * sizeof avail[0]);
        r->n_backends = n;
        return n > 0 ? 0 : -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!strcmp(want, avail[i])) {
            r->backends[0] = avail[i];
            r->n_backends = 1;
            return 0;
        }
    fprintf(stderr, "pqify bench kem: backend '%s' is unknown or this CPU lacks it; available:",
            want);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %s", avail[i]);
    fprintf(stderr, ", all\n");
    return -1;
}

static struct job *find(struct run *r, const void *alg, int backend, int op)
{
    for (size_t i = 0; i < r->n_jobs; i++) {
        struct job *j = &r->jobs[i];
        const void *a = j->ecdh != NULL ? (const void *)j->ecdh : (const void *)j->kem;
        if (a == alg && j->backend == backend && j->op == op)
            return j;
    }
    return NULL;
}

/* Median over rounds of num[i] / den[i]; scratch holds n doubles. */
static double paired_ratio(const double *num, const double *den, size_t n, double *scratch,
                           double *iqr)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = num[i] / den[i];
    struct pqify_bench_stats st = pqify_bench_summarise(scratch, n);
    if (iqr != NULL)
        *iqr = (st.q3 - st.q1) / st.median;
    return st.median;
}

/* allocations per operation; ECDH encaps is keygen + derive, as its ns is. */
static double allocs_per_op(const struct job *j)
{
    return j->ops ? (double)j->allocs / (double)j->ops : 0.0;
}

static void print_allocs(FILE *f, int width, int available, double a)
{
    if (!available)
        fprintf(f, " %*s", width, "n/a");
    else if (a == (double)(unsigned long long)a)
        fprintf(f, " %*llu", width, (unsigned long long)a);
    else
        fprintf(f, " %*.1f", width, a);
}

/* ---- targets (issue 2 for portable C, issue 3 for AVX2) ---- */

struct target {
    const char *backend;
    double max[N_OPS];    /* ML-KEM-768, in X25519 derives */
    double kyber512_p256; /* Kyber512 encaps / P-256 derive; 0: none set */
    const char *source;
};

static const struct target targets[] = {
    {"portable", {0.90, 1.05, 1.30}, 0.0, "issue 2, portable C"},
    {"avx2", {0.34, 0.34, 0.37}, 0.20, "issue 3, AVX2"},
};

static const struct target *target_for(const char *backend)
{
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(targets[i].backend, backend))
            return &targets[i];
    return NULL;
}

/* The 2022 deployment's measurement (Kyber-512 encaps vs P-256 ECDH derive). */
#define DEPLOY2022_KYBER512_ENCAPS_NS 11793.0
#define DEPLOY2022_P256_DERIVE_NS 52204.0

static double kyber_p256(struct run *r, int b)
{
    return r->kyber_p256[b];
}

static void print_targets(FILE *f, struct run *r)
{
    for (size_t b = 0; b < r->n_backends; b++) {
        const struct target *t = target_for(r->backends[b]);
        fprintf(f, "\n");
        if (t != NULL) {
            fprintf(f, "targets for %s (%s), ML-KEM-768 in X25519 derives:\n", r->backends[b],
                    t->source);
            for (int op = 0; op < N_OPS; op++) {
                const struct job *j = find(r, &pqify_kem_mlkem768, (int)b, op);
                if (j == NULL)
                    continue;
                double x = j->x;
                fprintf(f, "  %-7s %6.3fx  target <= %.2fx  %s\n", op_name[op], x, t->max[op],
                        x <= t->max[op] ? "ok" : "MISSED");
            }
        } else {
            fprintf(f, "no targets are set for backend %s\n", r->backends[b]);
        }
        double k = kyber_p256(r, (int)b);
        fprintf(f, "Kyber512 encaps / P-256 derive (%s): %.3fx", r->backends[b], k);
        if (t != NULL && t->kyber512_p256 > 0.0)
            fprintf(f, "  target <= %.2fx  %s", t->kyber512_p256,
                    k <= t->kyber512_p256 ? "ok" : "MISSED");
        fprintf(f, "  (2022 deployment: %.2fx = %.0f / %.0f ns)\n",
                DEPLOY2022_KYBER512_ENCAPS_NS / DEPLOY2022_P256_DERIVE_NS,
                DEPLOY2022_KYBER512_ENCAPS_NS, DEPLOY2022_P256_DERIVE_NS);
    }
}

/* The raw spread shows how noisy the machine was; the spread of the per-round
 * ratios shows how far the x column can be trusted. */
static void print_spread(FILE *f, struct run *r)
{
    const struct job *raw = NULL, *paired = NULL;
    double w_raw = -1.0, w_paired = -1.0;
    for (size_t i = 0; i < r->n_jobs; i++) {
        const struct job *j = &r->jobs[i];
        double iqr = (j->st.q3 - j->st.q1) / j->st.median;
        if (iqr > w_raw) {
            w_raw = iqr;
            raw = j;
        }
        /* The unit over itself is 1 in every round: no information. */
        if (j->x_iqr > w_paired && !(j->ecdh == &r->ecdh[0] && j->op == OP_DECAPS)) {
            w_paired = j->x_iqr;
            paired = j;
        }
    }
    if (raw == NULL || paired == NULL)
        return;
    fprintf(f, "noise (widest interquartile range / median): ns %.1f%% (%s %s%s%s), "
               "x %.1f%% (%s %s%s%s)\n",
            100.0 * w_raw, job_name(raw), job_op_name(raw), raw->backend >= 0 ? ", " : "",
            raw->backend >= 0 ? r->backends[raw->backend] : "", 100.0 * w_paired,
            job_name(paired), job_op_name(paired), paired->backend >= 0 ? ", " : "",
            paired->backend >= 0 ? r->backends[paired->backend] : "");
}

static void print_header(FILE *f, struct run *r)
{
    fprintf(f, "pqify bench kem: ML-KEM and round-3 Kyber against libcrypto ECDH (OpenSSL %s)\n",
            OpenSSL_version(OPENSSL_VERSION_STRING));
    fprintf(f, "backend%s:", r->n_backends > 1 ? "s" : "");
    for (size_t b = 0; b < r->n_backends; b++)
        fprintf(f, " %s", r->backends[b]);
    fprintf(f, "; %u runs per figure, median ns per operation; operations interleaved; ",
            r->o->runs);
    if (r->cpu >= 0)
        fprintf(f, "pinned to CPU %d\n", r->cpu);
    else
        fprintf(f, "not pinned (sched_setaffinity failed)\n");
    fprintf(f, "unit: one X25519 derive (EVP_PKEY_derive, prepared context), median %.0f ns\n"
               "x: median over the runs of (this operation / the X25519 derive of the same round)\n\n",
            r->unit_ns);
}

#define NAME_W 12

/* One row in the single-backend layout. ECDH rows put derive under decaps and
 * keygen + derive (the server's side of the exchange) under encaps, marked '*'. */
static void print_row(FILE *f, struct run *r, const void *alg, int backend, const char *name,
                      size_t client, size_t server)
{
    const struct job *j[N_OPS];
    double ns[N_OPS], x[N_OPS], al[N_OPS];
    int is_ecdh = backend < 0;
    for (int op = 0; op < N_OPS; op++)
        j[op] = find(r, alg, backend, op);
    for (int op = 0; op < N_OPS; op += 2) {
        ns[op] = j[op]->st.median;
        x[op] = j[op]->x;
    }
    al[OP_KEYGEN] = allocs_per_op(j[OP_KEYGEN]);
    al[OP_DECAPS] = allocs_per_op(j[OP_DECAPS]);
    if (is_ecdh) {
        ns[OP_ENCAPS] = ns[OP_KEYGEN] + ns[OP_DECAPS];
        x[OP_ENCAPS] = x[OP_KEYGEN] + x[OP_DECAPS];
        al[OP_ENCAPS] = al[OP_KEYGEN] + al[OP_DECAPS];
    } else {
        ns[OP_ENCAPS] = j[OP_ENCAPS]->st.median;
        x[OP_ENCAPS] = j[OP_ENCAPS]->x;
        al[OP_ENCAPS] = allocs_per_op(j[OP_ENCAPS]);
    }
    fprintf(f, "%-*s", NAME_W, name);
    for (int op = 0; op < N_OPS; op++) {
        if (is_ecdh && op == OP_ENCAPS)
            fprintf(f, " %9.0f* %5.2f", ns[op], x[op]);
        else
            fprintf(f, " %10.0f %5.2f", ns[op], x[op]);
    }
    fprintf(f, " %7zu %7zu ", client, server);
    for (int op = 0; op < N_OPS; op++)
        print_allocs(f, 4, pqify_alloc_count_available(), al[op]);
    fprintf(f, "\n");
}

static void print_ecdh_rows(FILE *f, struct run *r)
{
    for (int e = 0; e < 2; e++)
        print_row(f, r, &r->ecdh[e], -1, r->ecdh[e].name, r->ecdh[e].share_bytes,
                  r->ecdh[e].share_bytes);
}

static const char row_header[] =
    "algorithm     keygen ns     x  encaps ns     x  decaps ns     x  client  server   "
    "allocs/op\n"
    "                                                                  bytes   bytes   kg  enc  dec\n";

static void print_single(FILE *f, struct run *r)
{
    print_header(f, r);
    fputs(row_header, f);
    for (size_t k = 0; k < r->n_kems; k++)
        print_row(f, r, pqify_kems[k], 0, pqify_kems[k]->name, pqify_kems[k]->ek_bytes,
                  pqify_kems[k]->ct_bytes);
    print_ecdh_rows(f, r);
    fprintf(f, "* ECDH has no encapsulation: encaps shows keygen + derive (the server's side),\n"
               "  decaps shows derive (the client's side).\n");
}

/* Backends side by side: one row per KEM operation, the speed-up relative to the
 * first backend (portable) for each later one. */
static void print_multi(FILE *f, struct run *r)
{
    print_header(f, r);
    fprintf(f, "%-*s %-6s", NAME_W, "algorithm", "op");
    for (size_t b = 0; b < r->n_backends; b++)
        fprintf(f, " %10s ns     x", r->backends[b]);
    for (size_t b = 1; b < r->n_backends; b++)
        fprintf(f, "  %8s", "speed-up");
    fprintf(f, "  allocs/op\n");
    for (size_t k = 0; k < r->n_kems; k++)
        for (int op = 0; op < N_OPS; op++) {
            fprintf(f, "%-*s %-6s", NAME_W, op == 0 ? pqify_kems[k]->name : "", op_name[op]);
            double worst_allocs = 0.0;
            for (size_t b = 0; b < r->n_backends; b++) {
                const struct job *j = find(r, pqify_kems[k], (int)b, op);
                if (allocs_per_op(j) > worst_allocs)
                    worst_allocs = allocs_per_op(j);
                fprintf(f, " %13.0f %5.2f", j->st.median, j->x);
            }
            for (size_t b = 1; b < r->n_backends; b++)
                fprintf(f, "  %7.2fx", find(r, pqify_kems[k], (int)b, op)->speedup);
            fprintf(f, " ");
            print_allocs(f, 9, pqify_alloc_count_available(), worst_allocs);
            fprintf(f, "\n");
        }
    fprintf(f, "\nclassical reference (libcrypto, independent of the KEM backend):\n");
    fputs(row_header, f);
    print_ecdh_rows(f, r);
    fprintf(f, "* ECDH has no encapsulation: encaps shows keygen + derive (the server's side),\n"
               "  decaps shows derive (the client's side).\n");
}

static void json_op(FILE *f, const char *name, const struct job *j, int last)
{
    double allocs = allocs_per_op(j);
    fprintf(f, "\"%s\":{\"ns\":%.1f,\"q1_ns\":%.1f,\"q3_ns\":%.1f,\"x\":%.4f,\"allocs\":", name,
            j->st.median, j->st.q1, j->st.q3, j->x);
    if (pqify_alloc_count_available())
        fprintf(f, "%.2f}", allocs);
    else
        fprintf(f, "null}");
    fprintf(f, "%s", last ? "" : ",");
}

static void print_json(FILE *f, struct run *r)
{
    fprintf(f, "{\"benchmark\":\"kem\",\"runs\":%u,\"warmup_ms\":%u,\"cpu\":%d,", r->o->runs,
            r->o->warmup_ms, r->cpu);
    fprintf(f, "\"openssl\":\"%s\",\"allocs_counted\":%s,", OpenSSL_version(OPENSSL_VERSION_STRING),
            pqify_alloc_count_available() ? "true" : "false");
    fprintf(f, "\"unit\":{\"what\":\"X25519 derive\",\"ns\":%.1f},\"backends\":[", r->unit_ns);
    for (size_t b = 0; b < r->n_backends; b++)
        fprintf(f, "%s\"%s\"", b ? "," : "", r->backends[b]);
    fprintf(f, "],\"results\":[");
    int first = 1;
    for (size_t b = 0; b < r->n_backends; b++)
        for (size_t k = 0; k < r->n_kems; k++) {
            const pqify_kem *kem = pqify_kems[k];
            fprintf(f, "%s{\"algorithm\":\"%s\",\"backend\":\"%s\",\"client_share_bytes\":%zu,"
                       "\"server_share_bytes\":%zu,\"ops\":{",
                    first ? "" : ",", kem->name, r->backends[b], kem->ek_bytes, kem->ct_bytes);
            first = 0;
            for (int op = 0; op < N_OPS; op++) {
                const struct job *j = find(r, kem, (int)b, op);
                json_op(f, op_name[op], j, op == N_OPS - 1);
            }
            fprintf(f, "}}");
        }
    for (int e = 0; e < 2; e++) {
        const struct job *kg = find(r, &r->ecdh[e], -1, OP_KEYGEN);
        const struct job *dv = find(r, &r->ecdh[e], -1, OP_DECAPS);
        fprintf(f, ",{\"algorithm\":\"%s\",\"backend\":null,\"client_share_bytes\":%zu,"
                   "\"server_share_bytes\":%zu,\"ops\":{",
                r->ecdh[e].name, r->ecdh[e].share_bytes, r->ecdh[e].share_bytes);
        json_op(f, "keygen", kg, 0);
        json_op(f, "derive", dv, 1);
        fprintf(f, "}}");
    }
    fprintf(f, "],\"targets\":[");
    first = 1;
    for (size_t b = 0; b < r->n_backends; b++) {
        const struct target *t = target_for(r->backends[b]);
        for (int op = 0; t != NULL && op < N_OPS; op++) {
            const struct job *j = find(r, &pqify_kem_mlkem768, (int)b, op);
            double x = j->x;
            fprintf(f, "%s{\"backend\":\"%s\",\"what\":\"ML-KEM-768 %s / X25519 derive\","
                       "\"x\":%.4f,\"max\":%.2f,\"ok\":%s}",
                    first ? "" : ",", r->backends[b], op_name[op], x, t->max[op],
                    x <= t->max[op] ? "true" : "false");
            first = 0;
        }
        double k = kyber_p256(r, (int)b);
        fprintf(f, "%s{\"backend\":\"%s\",\"what\":\"Kyber512 encaps / P-256 derive\","
                   "\"x\":%.4f,",
                first ? "" : ",", r->backends[b], k);
        if (t != NULL && t->kyber512_p256 > 0.0)
            fprintf(f, "\"max\":%.2f,\"ok\":%s,", t->kyber512_p256,
                    k <= t->kyber512_p256 ? "true" : "false");
        else
            fprintf(f, "\"max\":null,\"ok\":null,");
        fprintf(f, "\"deployment_2022\":%.4f}", DEPLOY2022_KYBER512_ENCAPS_NS /
                                                      DEPLOY2022_P256_DERIVE_NS);
        first = 0;
    }
    fprintf(f, "]}\n");
}

static int build_jobs(struct run *r)
{
    r->n_jobs = r->n_backends * r->n_kems * N_OPS + 2 * 2;
    r->jobs = calloc(r->n_jobs, sizeof *r->jobs);
    r->samples = calloc(r->n_jobs * (size_t)r->o->runs, sizeof *r->samples);
    if (r->jobs == NULL || r->samples == NULL) {
        fprintf(stderr, "pqify bench kem: out of memory for %u runs\n", r->o->runs);
        return -1;
    }
    size_t n = 0;
    for (size_t b = 0; b < r->n_backends; b++)
        for (size_t k = 0; k < r->n_kems; k++)
            for (int op = 0; op < N_OPS; op++)
                r->jobs[n++] = (struct job){.kem = pqify_kems[k], .keys = &r->keys[k],
                                            .backend = (int)b, .op = op};
    for (int e = 0; e < 2; e++) {
        r->jobs[n++] = (struct job){.ecdh = &r->ecdh[e], .backend = -1, .op = OP_KEYGEN};
        r->jobs[n++] = (struct job){.ecdh = &r->ecdh[e], .backend = -1, .op = OP_DECAPS};
    }
    for (size_t i = 0; i < n; i++)
        r->jobs[i].samples = r->samples + i * r->o->runs;
    return 0;
}

static int measure(struct run *r)
{
    for (size_t i = 0; i < r->n_jobs; i++)
        if (warm_up(r, &r->jobs[i]) != 0)
            return -1;
    for (unsigned round = 0; round < r->o->runs; round++)
        for (size_t k = 0; k < r->n_jobs; k++) {
            struct job *j = &r->jobs[(k + round) % r->n_jobs];
            if (sample(r, j, &j->samples[round]) != 0)
                return -1;
        }
    /* Ratios first: summarising sorts the samples and loses the pairing. */
    double *scratch = calloc(r->o->runs, sizeof *scratch);
    if (scratch == NULL) {
        fprintf(stderr, "pqify bench kem: out of memory\n");
        return -1;
    }
    const double *unit = find(r, &r->ecdh[0], -1, OP_DECAPS)->samples;
    const double *p256 = find(r, &r->ecdh[1], -1, OP_DECAPS)->samples;
    for (size_t i = 0; i < r->n_jobs; i++) {
        struct job *j = &r->jobs[i];
        j->x = paired_ratio(j->samples, unit, r->o->runs, scratch, &j->x_iqr);
        if (j->backend > 0)
            j->speedup = paired_ratio(find(r, j->kem, 0, j->op)->samples, j->samples,
                                      r->o->runs, scratch, NULL);
    }
    for (size_t b = 0; b < r->n_backends; b++)
        r->kyber_p256[b] = paired_ratio(find(r, &pqify_kem_kyber512, (int)b, OP_ENCAPS)->samples,
                                        p256, r->o->runs, scratch, NULL);
    free(scratch);
    for (size_t i = 0; i < r->n_jobs; i++)
        r->jobs[i].st = pqify_bench_summarise(r->jobs[i].samples, r->o->runs);
    r->unit_ns = find(r, &r->ecdh[0], -1, OP_DECAPS)->st.median;
    return 0;
}

int pqify_bench_kem(const struct pqify_bench_kem_opts *o)
{
    struct run r = {
        .o = o,
        .active = -1,
        .ecdh = {{.name = "X25519", .keytype = "X25519"},
                 {.name = "P-256", .keytype = "EC", .group = "P-256"}},
    };
    const char *was = pqify_kem_backend();
    int status = 1, rc;

    if (o->runs < 1) {
        fprintf(stderr, "pqify bench kem: at least one run is needed\n");
        return 2;
    }
    if (choose_backends(&r) != 0)
        return 2;
    while (pqify_kems[r.n_kems] != NULL)
        r.n_kems++;
    r.keys = calloc(r.n_kems ? r.n_kems : 1, sizeof *r.keys);
    if (r.keys == NULL) {
        fprintf(stderr, "pqify bench kem: out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < r.n_kems; k++)
        if (kem_setup(pqify_kems[k], &r.keys[k]) != 0)
            goto out;
    if (ecdh_setup(&r.ecdh[0]) != 0 || ecdh_setup(&r.ecdh[1]) != 0)
        goto out;
    if (build_jobs(&r) != 0)
        goto out;

    r.cpu = pqify_bench_pin();
    rc = measure(&r);
    pqify_bench_unpin();
    if (rc != 0)
        goto out;

    if (o->json) {
        print_json(o->out, &r);
    } else {
        if (r.n_backends > 1)
            print_multi(o->out, &r);
        else
            print_single(o->out, &r);
        print_targets(o->out, &r);
        print_spread(o->out, &r);
    }
    if (o->summary != NULL) {
        struct pqify_bench_kem_summary *sum = o->summary;
        sum->backend = r.backends[0];
        sum->unit_ns = r.unit_ns;
        for (int op = 0; op < N_OPS; op++)
            sum->mlkem768_x[op] = find(&r, &pqify_kem_mlkem768, 0, op)->x;
        sum->x25519_keygen_x = find(&r, &r.ecdh[0], -1, OP_KEYGEN)->x;
    }
    status = fflush(o->out) == 0 ? 0 : 1;
out:
    if (pqify_kem_set_backend(was) != 0)
        fprintf(stderr, "pqify bench kem: could not restore KEM backend %s\n", was);
    ecdh_free(&r.ecdh[0]);
    ecdh_free(&r.ecdh[1]);
    if (r.keys != NULL) {
        /* dk and the shared secrets are secret even here. */
        pqify_zeroize(r.keys, r.n_kems * sizeof *r.keys);
        free(r.keys);
    }
    free(r.jobs);
    free(r.samples);
    return status;
}
