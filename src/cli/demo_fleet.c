/*
 * pqify demo's fleet (demo.h): the PKI, the child services and the measurements
 * taken through them. The services are this very binary (/proc/self/exe), run
 * as their own commands, so the demo shows the real processes an operator runs.
 * Measurements use the engine through tls_io.c's blocking sockets.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pqify/kem.h"
#include "tls_io.h"

/* ---- the PKI ---------------------------------------------------------------- */

static EVP_PKEY *p256_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A certificate for key named cn, signed by (issuer, ikey), or self-signed when
 * issuer is NULL; exts: NULL-terminated pairs of (nid as text, value). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, long serial,
                       const int *nids, const char *const *values)
{
    X509 *x = X509_new();
    if (x == NULL)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    int ok = X509_set_version(x, 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), 7 * 86400L) != NULL &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1 &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
             X509_set_pubkey(x, key) == 1;
    for (size_t i = 0; ok && nids[i] != 0; i++)
        ok = add_ext(x, issuer ? issuer : x, nids[i], values[i]) == 0;
    if (!ok || X509_sign(x, ikey ? ikey : key, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *dir, const char *file, X509 *x, EVP_PKEY *k)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int ok = x ? PEM_write_X509(f, x) == 1 : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int demo_pki(const char *dir)
{
    static const int ca_nids[] = {NID_basic_constraints, NID_key_usage, NID_subject_key_identifier, 0};
    static const char *const ca_vals[] = {"critical,CA:TRUE", "critical,keyCertSign,cRLSign", "hash"};
    /* the edge's key is the one the key server signs with: its SKI (RFC 5280
     * §4.2.1.2 method 1, what the key server finds keys by) is in its cert */
    static const int srv_nids[] = {NID_basic_constraints, NID_ext_key_usage, NID_subject_alt_name,
                                   NID_subject_key_identifier, 0};
    static const char *const srv_vals[] = {"critical,CA:FALSE", "serverAuth", "DNS:localhost,IP:127.0.0.1", "hash"};
    static const int cli_nids[] = {NID_basic_constraints, NID_ext_key_usage, NID_subject_alt_name, 0};
    static const char *const cli_vals[] = {"critical,CA:FALSE", "clientAuth", "DNS:pqify-demo-client"};
    EVP_PKEY *cak = p256_key(), *sk = p256_key(), *ck = p256_key(), *ek = p256_key();
    X509 *ca = NULL, *sc = NULL, *cc = NULL, *ec = NULL;
    int rc = -1;
    if (cak == NULL || sk == NULL || ck == NULL || ek == NULL)
        goto out;
    ca = make_cert(cak, "pqify demo CA", NULL, NULL, 1, ca_nids, ca_vals);
    sc = ca ? make_cert(sk, "localhost", ca, cak, 2, srv_nids, srv_vals) : NULL;
    cc = ca ? make_cert(ck, "pqify-demo-client", ca, cak, 3, cli_nids, cli_vals) : NULL;
    ec = ca ? make_cert(ek, "localhost", ca, cak, 4, srv_nids, srv_vals) : NULL;
    if (sc == NULL || cc == NULL || ec == NULL)
        goto out;
    if (write_pem(dir, "ca.pem", ca, NULL) || write_pem(dir, "server.pem", sc, NULL) ||
        write_pem(dir, "server.key", NULL, sk) || write_pem(dir, "client.pem", cc, NULL) ||
        write_pem(dir, "client.key", NULL, ck) || write_pem(dir, "edge.pem", ec, NULL))
        goto out;
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    if ((mkdir(keys, 0700) != 0 && errno != EEXIST) || write_pem(keys, "edge.key", NULL, ek))
        goto out;
    rc = 0;
out:
    X509_free(ca);
    X509_free(sc);
    X509_free(cc);
    X509_free(ec);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(sk);
    EVP_PKEY_free(ck);
    EVP_PKEY_free(ek);
    return rc;
}

/* ---- child processes --------------------------------------------------------- */

#define MAX_PROCS 16
static volatile pid_t started[MAX_PROCS];
static volatile int n_started;

static int self_path(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return 0;
}

int demo_sibling(const char *name, char *out, size_t cap)
{
    char self[512];
    if (self_path(self, sizeof self) != 0)
        return -1;
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    if ((size_t)snprintf(out, cap, "%s/%s", self, name) >= cap)
        return -1;
    return access(out, X_OK) == 0 ? 0 : -1;
}

static pid_t spawn(const char *exe, char *const argv[], const char *in, const char *out, const char *err)
{
    char self[512];
    if (exe == NULL) {
        if (self_path(self, sizeof self) != 0)
            return -1;
        exe = self;
    }
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fi = open(in ? in : "/dev/null", O_RDONLY);
    int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fi < 0 || fo < 0 || fe < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
        _exit(127);
    /* the services drain on SIGTERM; the demo sends it (Ctrl-C reaches the
     * demo, which stops them by pid) */
    signal(SIGINT, SIG_IGN);
    execv(exe, argv);
    _exit(127);
}

static int grep_port(const char *log, const char *marker, int *port)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int found = 0;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
        const char *m = strstr(line, marker), *colon;
        if (m == NULL || (colon = strrchr(m, ':')) == NULL)
            continue;
        *port = atoi(colon + 1);   /* 0 for unix:/path */
        found = 1;
    }
    if (f != NULL)
        fclose(f);
    return found;
}

int demo_start(struct demo_proc *p, const char *exe, const char *dir, const char *name,
               char *const argv[])
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->log, sizeof p->log, "%s/%s.log", dir, name);
    if (n_started == MAX_PROCS)
        return -1;
    p->pid = spawn(exe, argv, NULL, NULL, p->log);
    if (p->pid < 0)
        return -1;
    started[n_started] = p->pid;
    n_started++;
    for (int i = 0; i < 300; i++) {   /* 15 s */
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            fprintf(stderr, "pqify demo: %s exited at start; its log: %s\n", name, p->log);
            p->pid = 0;
            return -1;
        }
        if (grep_port(p->log, "listening on ", &p->port)) {
            grep_port(p->log, "admin endpoint on ", &p->admin);
            return 0;
        }
        usleep(50000);
    }
    fprintf(stderr, "pqify demo: %s did not start listening within 15 s; its log: %s\n", name, p->log);
    return -1;
}

/* The child demo_run waits for, if any: Ctrl-C ends it too (demo_stop_all). */
static volatile pid_t running;

int demo_run(const char *exe, char *const argv[], const char *in, const char *out, const char *err,
             unsigned timeout_s)
{
    pid_t pid = spawn(exe, argv, in, out, err);
    if (pid < 0)
        return -1;
    running = pid;
    int rc = -1, done = 0;
    for (unsigned i = 0; i < timeout_s * 20 && !done; i++) {
        int st;
        if ((done = waitpid(pid, &st, WNOHANG) == pid))
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        else
            usleep(50000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    running = 0;
    return rc;
}

void demo_stop_all(void)
{
    if (running > 0)
        kill(running, SIGKILL);   /* a tool run to its end (kafka-count): nothing to drain */
    /* the last started first: a receiver drains into the Kafka it was started after */
    for (int i = n_started - 1; i >= 0; i--) {
        if (started[i] <= 0)
            continue;
        kill(started[i], SIGTERM);
        int done = 0;
        for (int k = 0; k < 100 && !done; k++) {   /* 5 s, then SIGKILL */
            done = waitpid(started[i], NULL, WNOHANG) != 0;
            if (!done) {
                struct timespec ts = {0, 50000000};
                nanosleep(&ts, NULL);
            }
        }
        if (!done) {
            kill(started[i], SIGKILL);
            waitpid(started[i], NULL, 0);
        }
        started[i] = 0;
    }
}

/* ---- the admin endpoint -------------------------------------------------------- */

long demo_http_get(int port, const char *path, char *buf, size_t cap)
{
    char p[16], req[256];
    const char *why;
    snprintf(p, sizeof p, "%d", port);
    int fd = cli_dial("127.0.0.1", p, 5000, &why);
    if (fd < 0)
        return -1;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    size_t len = 0;
    if (cli_write_all(fd, req, (size_t)n) == 0) {
        long r;
        while (len + 1 < cap && (r = cli_read(fd, (uint8_t *)buf + len, cap - 1 - len, 5000)) > 0)
            len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    char *body = strstr(buf, "\r\n\r\n");
    if (body == NULL)
        return -1;
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return (long)strlen(buf);
}

/* The quoted value of label `key` in a sample line, into out; 0 or -1. */
static int label(const char *line, const char *key, char *out, size_t cap)
{
    char k[32];
    snprintf(k, sizeof k, "%s=\"", key);
    const char *p = strstr(line, k), *nl = strchr(line, '\n');
    if (p == NULL || (nl != NULL && p > nl))
        return -1;
    p += strlen(k);
    size_t n = 0;
    while (p[n] != '\0' && p[n] != '"' && n + 1 < cap) {
        out[n] = p[n];
        n++;
    }
    out[n] = '\0';
    return p[n] == '"' ? 0 : -1;
}

int demo_metric_handshakes(const char *text, const char *role, struct demo_hs *h)
{
    char pre[96], g[64], pq[8], hrr[8];
    double best = 0;
    memset(h, 0, sizeof *h);
    int n = snprintf(pre, sizeof pre, "pqify_tls_handshakes_total{role=\"%s\",", role);
    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, pre, (size_t)n) != 0 || label(l, "group", g, sizeof g) || label(l, "pq", pq, sizeof pq) ||
            label(l, "hrr", hrr, sizeof hrr))
            continue;
        const char *sp = strchr(l, '}');
        double v = sp != NULL ? strtod(sp + 1, NULL) : 0;
        if (!(v > 0))
            continue;
        h->count += v;
        h->groups++;
        if (v > best) {
            best = v;
            snprintf(h->group, sizeof h->group, "%s", g);
            h->pq = strcmp(pq, "true") == 0;
            h->hrr = strcmp(hrr, "true") == 0;
        }
    }
    if (h->count == 0)
        return -1;
    char sum[200], cnt[200];
    snprintf(sum, sizeof sum, "pqify_tls_handshake_duration_seconds_sum{role=\"%s\",group=\"%s\",pq=\"%s\"}", role,
             h->group, h->pq ? "true" : "false");
    snprintf(cnt, sizeof cnt, "pqify_tls_handshake_duration_seconds_count{role=\"%s\",group=\"%s\",pq=\"%s\"}",
             role, h->group, h->pq ? "true" : "false");
    double s = demo_metric(text, sum), c = demo_metric(text, cnt);
    h->mean_us = c > 0 && isfinite(s) ? s / c * 1e6 : NAN;
    return 0;
}

/* ---- the run's directory ------------------------------------------------------- */

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Empty the directory fd (two passes: entries removed while the listing goes on
 * may be skipped by the first); depth bounds the recursion. */
static void rm_below(int fd, int depth)
{
    char buf[4096] __attribute__((aligned(8)));
    for (int pass = 0; pass < 2; pass++) {
        long n;
        (void)lseek(fd, 0, SEEK_SET);
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
                struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
                off += d->d_reclen;
                if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
                    continue;
                if (d->d_type == DT_DIR && depth < 8) {
                    int sub = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                    if (sub >= 0) {
                        rm_below(sub, depth + 1);
                        close(sub);
                    }
                    (void)unlinkat(fd, d->d_name, AT_REMOVEDIR);
                } else {
                    (void)unlinkat(fd, d->d_name, 0);
                }
            }
        }
    }
}

void demo_rmtree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    rm_below(fd, 0);
    close(fd);
    (void)rmdir(dir);
}

double demo_metric(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *l = text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, n) != 0)
            continue;
        const char *sp = strchr(l + n, ' ');
        const char *nl = strchr(l + n, '\n');
        if (sp != NULL && (nl == NULL || sp < nl))
            return strtod(sp + 1, NULL);
    }
    return NAN;
}

/* ---- Fig. 1 and Fig. 2: the engine over loopback TCP --------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pqify_tls_config *client_config(const char *ca, int pq)
{
    pqify_tls_options o = {.ca = ca, .server_name = "localhost",
                           .pq = pq ? "required" : "off", .groups = pq ? "X25519MLKEM768" : "X25519"};
    return cli_tls_config("demo", &o, 0);
}

/* One connection: dial, handshake; fd or -1. */
static int dial_tls(int port, const pqify_tls_config *cfg, pqify_pump *p)
{
    char ps[16];
    const char *why;
    snprintf(ps, sizeof ps, "%d", port);
    int fd = cli_dial("127.0.0.1", ps, 5000, &why);
    if (fd < 0)
        return -1;
    if (pqify_pump_init(p, cfg, 0) != 0) {
        close(fd);
        return -1;
    }
    int rc = cli_handshake(fd, p, 10000);
    if (rc != 0) {
        fprintf(stderr, "pqify demo: handshake with 127.0.0.1:%d failed: %s\n", port, cli_strerror(rc));
        pqify_pump_dispose(p);
        close(fd);
        return -1;
    }
    return fd;
}

static void hang_up(int fd, pqify_pump *p)
{
    if (pqify_pump_close_notify(p) == 0)
        (void)cli_flush(fd, &p->out);
    pqify_pump_dispose(p);
    close(fd);
}

int demo_handshakes(int port, const char *ca, size_t n, double *pq_us, double *classical_us)
{
    pqify_tls_config *cfg[2] = {client_config(ca, 1), client_config(ca, 0)};
    int rc = cfg[0] && cfg[1] ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < 2 * n; i++) {
        int pq = i % 2 == 0;
        pqify_pump p;
        double t0 = now_s();
        int fd = dial_tls(port, cfg[pq ? 0 : 1], &p);
        double us = (now_s() - t0) * 1e6;
        if (fd < 0) {
            rc = -1;
            break;
        }
        pqify_tls_info info;
        pqify_tls_get_info(p.conn, &info);
        if (info.is_pq != pq) {   /* the server must have taken what was offered */
            fprintf(stderr, "pqify demo: asked for %s, got %s\n", pq ? "X25519MLKEM768" : "X25519", info.group);
            rc = -1;
        }
        (pq ? pq_us : classical_us)[i / 2] = us;
        hang_up(fd, &p);
    }
    pqify_tls_config_free(cfg[0]);
    pqify_tls_config_free(cfg[1]);
    return rc;
}

/* ---- Table 1: one key-share operation each, libcrypto's ECDH as the unit ------- */

struct ecdh {
    EVP_PKEY_CTX *ctx;
    uint8_t out[64];
};

static int ecdh_init(struct ecdh *e, const char *type, const char *curve)
{
    EVP_PKEY *mine = curve ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    EVP_PKEY *peer = curve ? EVP_PKEY_Q_keygen(NULL, NULL, type, curve) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    e->ctx = mine ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
    int ok = e->ctx != NULL && peer != NULL && EVP_PKEY_derive_init(e->ctx) == 1 &&
             EVP_PKEY_derive_set_peer(e->ctx, peer) == 1;
    EVP_PKEY_free(mine);
    EVP_PKEY_free(peer);
    return ok ? 0 : -1;
}

/* The server's share of the work in each hybrid: one derive (a scalar
 * multiplication with the peer's point) against one encapsulation. */
static int ecdh_once(void *arg)
{
    struct ecdh *e = arg;
    size_t len = sizeof e->out;
    return EVP_PKEY_derive(e->ctx, e->out, &len) == 1 ? 0 : -1;
}

struct kem_arg {
    uint8_t ek[PQIFY_MLKEM768_EK_BYTES], ct[PQIFY_MLKEM768_CT_BYTES], ss[PQIFY_KEM_SS_BYTES];
    uint8_t dk[PQIFY_MLKEM768_DK_BYTES];
};

static int kyber512_once(void *arg)
{
    struct kem_arg *k = arg;
    return pqify_kyber512_encaps(k->ct, k->ss, k->ek);
}

static int mlkem768_once(void *arg)
{
    struct kem_arg *k = arg;
    return pqify_mlkem768_encaps(k->ct, k->ss, k->ek);
}

/* Seconds per call of op over a batch of iters. */
static double per_op(int (*op)(void *), void *arg, unsigned iters)
{
    double t0 = now_s();
    for (unsigned i = 0; i < iters; i++)
        if (op(arg) != 0)
            return NAN;
    return (now_s() - t0) / iters;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int demo_kex_costs(int quick, struct demo_kex_costs *c)
{
    struct ecdh p256 = {0}, x25519 = {0};
    struct kem_arg k512, k768;
    int rc = -1;
    /* many short rounds: on a busy machine a time slice lost to another process
     * spoils a few rounds, which the medians leave out, not every batch */
    enum { ROUNDS = 201 };
    static double t[4][ROUNDS], r512[ROUNDS], r768[ROUNDS];
    const int rounds = quick ? 61 : ROUNDS;
    const unsigned iters = 16;
    if (ecdh_init(&p256, "EC", "P-256") || ecdh_init(&x25519, "X25519", NULL) ||
        pqify_kyber512_keypair(k512.ek, k512.dk) || pqify_mlkem768_keypair(k768.ek, k768.dk))
        goto out;
    /* on one CPU while measuring (as pqify-bench pins), so that a migration does
     * not land in one side of a ratio; the children started later are not pinned */
    cpu_set_t saved, one;
    int pinned = sched_getaffinity(0, sizeof saved, &saved) == 0 && sched_getcpu() >= 0;
    if (pinned) {
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    }
    /* rounds interleave the four, so that load on the machine hits them alike */
    for (int r = 0; r < rounds; r++) {
        t[0][r] = per_op(kyber512_once, &k512, iters);
        t[1][r] = per_op(ecdh_once, &p256, iters);
        t[2][r] = per_op(mlkem768_once, &k768, iters);
        t[3][r] = per_op(ecdh_once, &x25519, iters);
        r512[r] = t[0][r] / t[1][r];
        r768[r] = t[2][r] / t[3][r];
    }
    if (pinned)
        (void)sched_setaffinity(0, sizeof saved, &saved);
    double med[4];
    for (int i = 0; i < 4; i++) {
        qsort(t[i], (size_t)rounds, sizeof(double), cmp_d);
        med[i] = t[i][rounds / 2];
        if (!(med[i] > 0))
            goto out;
    }
    qsort(r512, (size_t)rounds, sizeof(double), cmp_d);
    qsort(r768, (size_t)rounds, sizeof(double), cmp_d);
    c->kyber512_encaps = med[0];
    c->p256_ecdh = med[1];
    c->mlkem768_encaps = med[2];
    c->x25519_ecdh = med[3];
    c->kyber512_per_p256 = r512[rounds / 2];
    c->mlkem768_per_x25519 = r768[rounds / 2];
    rc = 0;
out:
    EVP_PKEY_CTX_free(p256.ctx);
    EVP_PKEY_CTX_free(x25519.ctx);
    return rc;
}
