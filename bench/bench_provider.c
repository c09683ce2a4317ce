/*
 * `pqify bench provider`: what pqify.so costs a stock server. Debian's nginx (its
 * libssl 3.0, unchanged) runs as one process (master_process off) with the provider
 * loaded through OPENSSL_CONF and `ssl_ecdh_curve X25519MLKEM768:X25519`; a pqify
 * client makes full handshakes over loopback TCP, each followed by one HTTP request
 * on a closing connection, offering only X25519MLKEM768 or only X25519. Batches of
 * the two alternate round by round against the same server in the same run. The
 * server's CPU is read from the nginx process itself, /proc/PID/stat (utime +
 * stime, clock ticks) and /proc/PID/schedstat (run time in ns, the finer cross-
 * check), around every batch; the client's work is not in it.
 */
#include "bench.h"
#include "bench_nginx.h"
#include "pqify/net/pair.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pqify/tls.h"

#define DEFAULT_ROUNDS 8
#define DEFAULT_PER_ROUND 250
#define QUICK_ROUNDS 2
#define QUICK_PER_ROUND 20
#define TARGET_RATIO 1.10

/* Where pqify.so is: the build tree's (and the directory pqify-bench is built
 * in), and OpenSSL's modules directory it is installed into (dist/CMakeLists.txt). */
#ifndef PQIFY_BENCH_PROVIDER
#define PQIFY_BENCH_PROVIDER ""
#endif
#ifndef PQIFY_BENCH_BUILD_DIR
#define PQIFY_BENCH_BUILD_DIR ""
#endif
#ifndef PQIFY_BENCH_MODULESDIR
#define PQIFY_BENCH_MODULESDIR ""
#endif

struct group_row {
    const char *group;   /* what the client offers, alone */
    const char *pq;
    pqify_tls_config *cfg;
    unsigned handshakes;
    unsigned long long ticks;   /* /proc/PID/stat utime + stime */
    unsigned long long run_ns;  /* /proc/PID/schedstat */
    uint64_t wall_ns;           /* client side, for handshakes/s */
};

struct server {
    char dir[64];
    struct pqify_bench_proc proc;
};

static int write_configs(const struct server *s, const char *provider, const char *cert_pem,
                         const char *key_pem)
{
    char text[4096];
    if (pqify_bench_put(s->dir, "cert.pem", cert_pem) != 0 || pqify_bench_put(s->dir, "key.pem", key_pem) != 0)
        return -1;
    snprintf(text, sizeof text,
             "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
             "[provider_sect]\ndefault = default_sect\npqify = pqify_sect\n"
             "[default_sect]\nactivate = 1\n[pqify_sect]\nmodule = %s\nactivate = 1\n",
             provider);
    if (pqify_bench_put(s->dir, "openssl.cnf", text) != 0)
        return -1;
    snprintf(text, sizeof text,
             "  server {\n    listen 127.0.0.1:%u ssl;\n"
             "    ssl_certificate %s/cert.pem;\n    ssl_certificate_key %s/key.pem;\n"
             "    ssl_protocols TLSv1.3;\n    ssl_ecdh_curve X25519MLKEM768:X25519;\n"
             "    keepalive_timeout 0;\n    location / { return 200 \"ok\\n\"; }\n  }\n",
             (unsigned)s->proc.port, s->dir, s->dir);
    return pqify_bench_nginx_conf(s->dir, "nginx", text);
}

static void show_log(const struct server *s)
{
    char path[128], line[512];
    snprintf(path, sizeof path, "%s/nginx.err", s->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL)
        fprintf(stderr, "  nginx: %s", line);
    fclose(f);
}

/* ---- the client: one handshake and one request per connection ---- */

struct io {
    int fd;
    uint8_t in[32768];
    size_t len;
};

static int flush_out(struct io *io, pqify_tls_buf *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t w = write(io->fd, out->base + off, out->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    pqify_tls_buf_consume(out, out->len);
    return 0;
}

static int read_more(struct io *io)
{
    for (;;) {
        ssize_t r = read(io->fd, io->in + io->len, sizeof io->in - io->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        io->len += (size_t)r;
        return 0;
    }
}

static void consume(struct io *io, size_t n)
{
    memmove(io->in, io->in + n, io->len - n);
    io->len -= n;
}

/* Reads the response until nginx closes; 0 when it began "HTTP/1.1 200". */
static int read_response(pqify_tls_conn *c, struct io *io, pqify_tls_buf *out, pqify_tls_buf *plain)
{
    for (;;) {
        size_t n = io->len;
        int rc = n > 0 ? pqify_tls_receive(c, plain, io->in, &n, out) : 0;
        consume(io, n);
        if (rc < 0 || flush_out(io, out) != 0)
            return -1;
        if (rc == PQIFY_TLS_PEER_CLOSED || (io->len == 0 && read_more(io) != 0))
            break;
    }
    return plain->len >= 12 && memcmp(plain->base, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static int client_one(const struct group_row *r, uint16_t port)
{
    static const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    int ret = -1;
    struct io *io = calloc(1, sizeof *io);
    pqify_tls_conn *c = pqify_tls_conn_new(r->cfg, 0);
    pqify_tls_buf out, plain;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    if (io == NULL || c == NULL || (io->fd = pqify_bench_tcp_connect(port)) < 0)
        goto out;
    size_t zero = 0;
    int rc = pqify_tls_handshake(c, NULL, &zero, &out);
    while (flush_out(io, &out) == 0 && rc == PQIFY_TLS_IN_PROGRESS && read_more(io) == 0) {
        size_t n = io->len;
        rc = pqify_tls_handshake(c, io->in, &n, &out);
        consume(io, n);
    }
    if (rc != 0)
        goto out;
    pqify_tls_info info;
    pqify_tls_get_info(c, &info);
    if (info.group_id != pqify_tls_group_id(r->group)) {
        fprintf(stderr, "pqify bench provider: offered %s alone, negotiated %s\n", r->group,
                info.group);
        goto out;
    }
    if (pqify_tls_send(c, &out, request, sizeof request - 1) != 0 || flush_out(io, &out) != 0 ||
        read_response(c, io, &out, &plain) != 0)
        goto out;
    ret = 0;
out:
    if (ret != 0)
        fprintf(stderr, "pqify bench provider: %s handshake or request failed: %s\n", r->group,
                c != NULL ? pqify_tls_strerror(pqify_tls_error(c)) : "no connection");
    if (io != NULL && io->fd > 0)
        close(io->fd);
    pqify_tls_conn_free(c);
    pqify_tls_buf_dispose(&out);
    pqify_tls_buf_dispose(&plain);
    free(io);
    return ret;
}

static int run_batch(struct group_row *r, const struct server *s, unsigned n)
{
    unsigned long long t0, t1, ns0, ns1;
    if (pqify_bench_cpu(s->proc.pid, &t0, &ns0) != 0)
        return -1;
    uint64_t w0 = pqify_bench_now_ns();
    for (unsigned i = 0; i < n; i++)
        if (client_one(r, s->proc.port) != 0)
            return -1;
    r->wall_ns += pqify_bench_now_ns() - w0;
    /* nginx may still be closing the last connection: let it finish first */
    usleep(20000);
    if (pqify_bench_cpu(s->proc.pid, &t1, &ns1) != 0)
        return -1;
    r->ticks += t1 - t0;
    r->run_ns += ns1 - ns0;
    r->handshakes += n;
    return 0;
}

/* ---- the command ---- */

static const char *default_provider(void);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pqify bench provider [--quick] [--rounds N] [--per-round N]\n"
            "                            [--provider FILE] [--nginx FILE]\n"
            "\n"
            "Server CPU per handshake of Debian's nginx (libssl 3.0) with pqify.so loaded\n"
            "through OPENSSL_CONF: X25519MLKEM768 against X25519 on the same server in the\n"
            "same run, read from the nginx process's own /proc/PID/stat (and schedstat).\n"
            "A pqify client offers one group alone, handshakes, sends one HTTP request on\n"
            "a closing connection; batches of the two groups alternate round by round.\n"
            "Prints both figures, their ratio and the target (<= %.2fx).\n"
            "\n"
            "options:\n"
            "  --quick          a short, noisy run that checks everything works\n"
            "  --rounds N       interleaved rounds (default %d; --quick %d)\n"
            "  --per-round N    handshakes per group and round (default %d; --quick %d)\n"
            "  --provider FILE  pqify.so (default: $PQIFY_PROVIDER, else the build tree's\n"
            "                   when run from it, else the installed one in OpenSSL's\n"
            "                   modules directory; here: %s)\n"
            "  --nginx FILE     the nginx binary (default /usr/sbin/nginx, else PATH)\n"
            "  -h, --help       print this text\n",
            TARGET_RATIO, DEFAULT_ROUNDS, QUICK_ROUNDS, DEFAULT_PER_ROUND, QUICK_PER_ROUND, default_provider());
}

static int number(const char *opt, const char *v, unsigned long max, unsigned *out)
{
    char *end;
    unsigned long n = v != NULL ? strtoul(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || n < 1 || n > max) {
        fprintf(stderr, "pqify bench provider: %s needs a number from 1 to %lu\n", opt, max);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* The directory of this executable, resolved; 0 or -1. */
static int exe_dir(char *out, size_t cap)
{
    char *self = realpath("/proc/self/exe", NULL);
    char *slash = self ? strrchr(self, '/') : NULL;
    int ok = slash != NULL && (size_t)(slash - self) < cap;
    if (ok) {
        *slash = '\0';
        snprintf(out, cap, "%s", self);
    }
    free(self);
    return ok ? 0 : -1;
}

/* pqify.so, first found of: $PQIFY_PROVIDER; the build tree's, when this binary
 * runs from the build tree; the installed one, OpenSSL's modules directory as it
 * was at build time, under this binary's root (so that an install into a DESTDIR
 * or a chroot finds its own: the root is tried from this binary's directory up);
 * the modules directory `openssl version -m` names now. */
static const char *default_provider(void)
{
    static char path[PATH_MAX];
    char here[PATH_MAX], *build = NULL;
    const char *env = getenv("PQIFY_PROVIDER");
    if (env != NULL && *env != '\0')
        return env;
    int have_here = exe_dir(here, sizeof here) == 0;
    if (have_here && PQIFY_BENCH_BUILD_DIR[0] != '\0' && (build = realpath(PQIFY_BENCH_BUILD_DIR, NULL)) != NULL &&
        strcmp(build, here) == 0 && access(PQIFY_BENCH_PROVIDER, R_OK) == 0) {
        free(build);
        return PQIFY_BENCH_PROVIDER;
    }
    free(build);
    for (int up = 0; have_here && PQIFY_BENCH_MODULESDIR[0] == '/' && up < 4; up++) {
        char *slash = strrchr(here, '/');
        if (slash == NULL)
            break;
        *slash = '\0';   /* "/usr/bin" -> "/usr" -> "" (the root) */
        if ((size_t)snprintf(path, sizeof path, "%s%s/pqify.so", here, PQIFY_BENCH_MODULESDIR) < sizeof path &&
            access(path, R_OK) == 0)
            return path;
    }
    /* what `openssl version -m` says, as the install rule does */
    snprintf(path, sizeof path, "/usr/lib/x86_64-linux-gnu/ossl-modules/pqify.so");
    FILE *p;
    if ((p = popen("openssl version -m 2>/dev/null", "r")) != NULL) {
        char line[400], dir[400];
        if (fgets(line, sizeof line, p) != NULL && sscanf(line, "MODULESDIR: \"%399[^\"]\"", dir) == 1)
            snprintf(path, sizeof path, "%s/pqify.so", dir);
        pclose(p);
    }
    return path;
}

static int parse(int argc, char **argv, unsigned *rounds, unsigned *per_round,
                 const char **provider, const char **nginx)
{
    int quick = 0, given_r = 0, given_p = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--rounds")) {
            if (number(a, v, 1000, rounds) != 0)
                return -1;
            given_r = 1;
            i++;
        } else if (!strcmp(a, "--per-round")) {
            if (number(a, v, 100000, per_round) != 0)
                return -1;
            given_p = 1;
            i++;
        } else if (!strcmp(a, "--provider") || !strcmp(a, "--nginx")) {
            if (v == NULL) {
                fprintf(stderr, "pqify bench provider: %s needs a value (see --help)\n", a);
                return -1;
            }
            *(a[2] == 'p' ? provider : nginx) = v;
            i++;
        } else {
            fprintf(stderr, "pqify bench provider: unknown option '%s' (see --help)\n", a);
            return -1;
        }
    }
    if (!given_r)
        *rounds = quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
    if (!given_p)
        *per_round = quick ? QUICK_PER_ROUND : DEFAULT_PER_ROUND;
    return 0;
}

static void report(const struct group_row *rows, unsigned rounds, unsigned per_round,
                   const char *provider)
{
    long hz = sysconf(_SC_CLK_TCK);
    double us[2], us_ns[2];
    printf("pqify bench provider: Debian's nginx with %s (OPENSSL_CONF), TLS 1.3,\n"
           "  ECDSA P-256 certificate, ssl_ecdh_curve X25519MLKEM768:X25519; %u rounds x %u\n"
           "  handshakes per group, interleaved; server CPU of the nginx process only\n\n",
           provider, rounds, per_round);
    printf("  %-16s %10s %16s %18s %12s\n", "group", "handshakes", "server us/hs",
           "(schedstat us/hs)", "client hs/s");
    for (int i = 0; i < 2; i++) {
        const struct group_row *r = &rows[i];
        us[i] = (double)r->ticks * 1e6 / (double)hz / r->handshakes;
        us_ns[i] = (double)r->run_ns / 1e3 / r->handshakes;
        printf("  %-16s %10u %16.1f %18.1f %12.0f\n", r->group, r->handshakes, us[i], us_ns[i],
               r->handshakes / ((double)r->wall_ns / 1e9));
    }
    double ratio = us[1] / us[0], ratio_ns = us_ns[1] / us_ns[0];
    printf("\n  ratio X25519MLKEM768 / X25519, server CPU per handshake: %.3fx "
           "(/proc/PID/stat; schedstat %.3fx)\n",
           ratio, ratio_ns);
    printf("  target <= %.2fx: %s\n", TARGET_RATIO, ratio <= TARGET_RATIO ? "ok" : "MISSED");
}

int pqify_bench_provider_main(int argc, char **argv)
{
    unsigned rounds = 0, per_round = 0;
    const char *provider = NULL, *nginx = NULL;
    char *cert_pem = NULL, *key_pem = NULL;
    struct server s = {.proc = {"nginx with pqify.so", -1, 0}};
    struct group_row rows[2] = {{.group = "x25519", .pq = "off"},
                                {.group = "X25519MLKEM768", .pq = "required"}};
    int ret = 1;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (parse(argc, argv, &rounds, &per_round, &provider, &nginx) != 0)
        return 2;
    if (provider == NULL)
        provider = default_provider();
    if (nginx == NULL)
        nginx = pqify_bench_nginx_binary();
    if (access(provider, R_OK) != 0) {
        fprintf(stderr, "pqify bench provider: %s: %s (build it, or give --provider)\n", provider,
                strerror(errno));
        return 1;
    }
    if (pqify_bench_dir_make(s.dir, sizeof s.dir, "provider") != 0 || (s.proc.port = pqify_bench_free_port()) == 0 ||
        pqify_bench_make_cert(&cert_pem, &key_pem) != 0 ||
        write_configs(&s, provider, cert_pem, key_pem) != 0) {
        fprintf(stderr, "pqify bench provider: cannot prepare %s: %s\n", s.dir, strerror(errno));
        goto out;
    }
    for (int i = 0; i < 2; i++)
        if ((rows[i].cfg = pqify_pair_config(0, NULL, NULL, rows[i].group, rows[i].pq)) == NULL)
            goto out;
    char env[200];
    snprintf(env, sizeof env, "OPENSSL_CONF=%s/openssl.cnf", s.dir);
    if (pqify_bench_nginx_start(&s.proc, nginx, s.dir, "nginx", -1, env) != 0)
        goto out;
    /* a warm-up batch each, not counted: first-use fetches and page faults */
    struct group_row warm[2] = {rows[0], rows[1]};
    for (int i = 0; i < 2; i++)
        if (run_batch(&warm[i], &s, per_round < 20 ? per_round : 20) != 0)
            goto fail;
    for (unsigned round = 0; round < rounds; round++)
        for (int k = 0; k < 2; k++)   /* the first group alternates each round */
            if (run_batch(&rows[(round + k) % 2], &s, per_round) != 0)
                goto fail;
    report(rows, rounds, per_round, provider);
    ret = 0;
    goto out;
fail:
    show_log(&s);
out:
    pqify_bench_stop(&s.proc);
    for (int i = 0; i < 2; i++)
        pqify_tls_config_free(rows[i].cfg);
    free(cert_pem);
    free(key_pem);
    pqify_bench_dir_remove(s.dir);
    return ret;
}
