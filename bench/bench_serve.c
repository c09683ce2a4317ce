/*
 * pqify bench serve: what the service chassis costs around the engine, measured on
 * a real `pqify serve` process (one worker) over loopback:
 *  1. memory per idle established TLS connection: the server's RSS growth while N
 *     connections are opened and left idle, divided by N (target <= 8 KiB);
 *  2. handshakes per CPU-second of the serve process (X25519MLKEM768, one loop),
 *     against the engine's own server side in process in the same run (the same
 *     certificate, one session ticket each, thread CPU clock): the loop, the
 *     sockets and the kernel's TCP work may cost at most 15%.
 * The serve process's CPU comes from /proc/PID/schedstat (nanoseconds on CPU);
 * the clients are this process's children, CLIENTS blocking handshakes at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_nginx.h"
#include "cli.h"
#include "pqify/net/pair.h"
#include "pqify/net/pump.h"
#include "pqify/tls.h"

/* Client processes for the speed figure. */
#define CLIENTS 4

struct serve_proc {
    pid_t pid;
    unsigned port;
    char dir[64], cert[96], key[96], log[96];
};

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int serve_start(struct serve_proc *sp, const char *cert_pem, const char *key_pem,
                       unsigned max_conns)
{
    char exe[PATH_MAX], maxc[16];
    memset(sp, 0, sizeof *sp);
    snprintf(sp->dir, sizeof sp->dir, "/tmp/pqify-bench-serve-XXXXXX");
    if (mkdtemp(sp->dir) == NULL || pqify_cli_sibling_path("pqify", exe, sizeof exe) != 0)
        return -1;
    snprintf(sp->cert, sizeof sp->cert, "%s/cert.pem", sp->dir);
    snprintf(sp->key, sizeof sp->key, "%s/key.pem", sp->dir);
    snprintf(sp->log, sizeof sp->log, "%s/serve.log", sp->dir);
    if (write_file(sp->cert, cert_pem) != 0 || write_file(sp->key, key_pem) != 0)
        return -1;
    snprintf(maxc, sizeof maxc, "%u", max_conns);
    sp->pid = fork();
    if (sp->pid < 0)
        return -1;
    if (sp->pid == 0) {
        int fd = open(sp->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execl(exe, "pqify", "serve", "--listen", "127.0.0.1:0", "--cert", sp->cert, "--key",
              sp->key, "--workers", "1", "--max-connections", maxc, "--idle-timeout", "0",
              (char *)NULL);
        _exit(127);
    }
    /* Wait (at most 10 s) for "listening on 127.0.0.1:PORT". */
    for (int i = 0; i < 1000 && sp->port == 0; i++) {
        FILE *f = fopen(sp->log, "r");
        char line[256];
        if (f != NULL) {
            if (fgets(line, sizeof line, f) != NULL)
                (void)sscanf(line, "listening on 127.0.0.1:%u", &sp->port);
            fclose(f);
        }
        if (sp->port == 0)
            usleep(10000);
    }
    return sp->port ? 0 : -1;
}

static void serve_stop(struct serve_proc *sp)
{
    if (sp->pid > 0) {
        kill(sp->pid, SIGTERM);
        int st;
        for (int i = 0; i < 1500 && waitpid(sp->pid, &st, WNOHANG) == 0; i++)
            usleep(10000);
        if (waitpid(sp->pid, &st, WNOHANG) == 0) {
            kill(sp->pid, SIGKILL);
            waitpid(sp->pid, &st, 0);
        }
    }
    unlink(sp->cert);
    unlink(sp->key);
    unlink(sp->log);
    rmdir(sp->dir);
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Nanoseconds the process's main thread (the one loop with --workers 1) ran. */
static uint64_t cpu_ns(pid_t pid)
{
    char path[64];
    unsigned long long ns = 0;
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu", &ns) != 1)
        ns = 0;
    fclose(f);
    return ns;
}

static int write_out(int fd, pqify_tls_buf *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t n = write(fd, out->base + off, out->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    pqify_tls_buf_consume(out, out->len);
    return 0;
}

/* One client handshake over a blocking socket; returns the fd (established) or -1.
 * With bye, the client then says close_notify and waits for the server's close. */
static int client_handshake(unsigned port, const pqify_tls_config *cfg, int bye)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    struct timeval tv = {10, 0};
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    pqify_pump p;
    if (pqify_pump_init(&p, cfg, 0) != 0) {
        close(fd);
        return -1;
    }
    uint8_t buf[16384];
    int ok = 0;
    pqify_pump_event ev = pqify_pump_next(&p);
    for (;;) {
        if (write_out(fd, &p.out) != 0)
            break;
        if (ev == PQIFY_PUMP_HANDSHAKE_DONE) {
            ok = 1;
            break;
        }
        if (ev != PQIFY_PUMP_WANT_INPUT)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        ev = pqify_pump_feed(&p, buf, (size_t)n);
    }
    if (ok && bye) {
        if (pqify_pump_close_notify(&p) == 0 && write_out(fd, &p.out) == 0) {
            shutdown(fd, SHUT_WR);
            while (read(fd, buf, sizeof buf) > 0)
                ;
        }
    }
    pqify_pump_dispose(&p);
    if (!ok || bye) {
        close(fd);
        return ok ? 0 : -1;
    }
    return fd;
}

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The engine's server side alone: pumps joined in memory, only the server's calls
 * timed. Returns server CPU ns per handshake, 0 on failure. */
static double engine_server_ns(const pqify_tls_config *ccfg, const pqify_tls_config *scfg, unsigned n)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        pqify_pump c, s;
        if (pqify_pump_init(&c, ccfg, 0) != 0)
            return 0;
        uint64_t t0 = thread_ns();
        int r = pqify_pump_init(&s, scfg, 1);
        total += thread_ns() - t0;
        if (r != 0) {
            pqify_pump_dispose(&c);
            return 0;
        }
        pqify_pump_event ce = pqify_pump_next(&c), se = PQIFY_PUMP_WANT_INPUT;
        int done = 0;
        for (int round = 0; round < 16 && !done; round++) {
            if (c.out.len > 0) {
                t0 = thread_ns();
                se = pqify_pump_feed(&s, c.out.base, c.out.len);
                total += thread_ns() - t0;
                pqify_tls_buf_consume(&c.out, c.out.len);
            }
            if (s.out.len > 0) {
                ce = pqify_pump_feed(&c, s.out.base, s.out.len);
                pqify_tls_buf_consume(&s.out, s.out.len);
            }
            if (ce == PQIFY_PUMP_HANDSHAKE_DONE)
                ce = pqify_pump_next(&c);
            done = pqify_pump_established(&s) && pqify_pump_established(&c) && c.out.len == 0 &&
                   s.out.len == 0;
            if (ce == PQIFY_PUMP_FAILED || se == PQIFY_PUMP_FAILED)
                break;
        }
        t0 = thread_ns();
        pqify_pump_dispose(&s);
        total += thread_ns() - t0;
        pqify_pump_dispose(&c);
        if (!done)
            return 0;
    }
    return (double)total / n;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pqify bench serve [--connections N] [--handshakes N] [--quick]\n"
            "\n"
            "Starts `pqify serve --workers 1` (beside this program) on loopback and measures\n"
            "  memory per idle established TLS connection: the server's RSS growth over N\n"
            "    connections opened and left idle (target <= 8 KiB; needs 2N+200 descriptors);\n"
            "  handshakes per CPU-second of the serve process (X25519MLKEM768, one loop),\n"
            "    against the engine's own server side in process in the same run: the loop\n"
            "    and sockets may cost at most 15%%.\n"
            "\n"
            "options:\n"
            "  --connections N  idle connections for the memory figure (default 10000)\n"
            "  --handshakes N   handshakes for the speed figures (default 2000)\n"
            "  --quick          1000 connections and 200 handshakes (checks it works)\n");
}

int pqify_bench_serve(int argc, char **argv)
{
    unsigned conns = 10000, hs = 2000;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            conns = 1000;
            hs = 200;
        } else if ((!strcmp(argv[i], "--connections") || !strcmp(argv[i], "--handshakes")) &&
                   i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[i + 1], &end, 10);
            if (*end != '\0' || v < 10 || v > 100000) {
                fprintf(stderr, "pqify bench serve: %s must be 10..100000\n", argv[i]);
                return 2;
            }
            if (argv[i][2] == 'c')
                conns = (unsigned)v;
            else
                hs = (unsigned)v;
            i++;
        } else {
            fprintf(stderr, "pqify bench serve: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)conns * 2 + 300;
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)conns + 300) {
            fprintf(stderr, "pqify bench serve: %u connections need %u descriptors; the limit is %lu\n",
                    conns, conns + 300, (unsigned long)rl.rlim_cur);
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    char *cert = NULL, *key = NULL;
    int status = 1;
    pqify_tls_config *ccfg = NULL, *scfg = NULL;
    int *fds = calloc(conns, sizeof *fds);
    struct serve_proc sp = {0};
    if (fds == NULL || pqify_bench_make_cert(&cert, &key) != 0)
        goto out;
    ccfg = pqify_pair_config(0, cert, key, "X25519MLKEM768", "preferred");
    /* The engine's server as serve builds it: the certificate, one ticket each. */
    scfg = pqify_tls_config_new();
    if (ccfg == NULL || scfg == NULL ||
        pqify_tls_config_set_cert_chain_pem(scfg, cert, strlen(cert)) != 0 ||
        pqify_tls_config_set_key_pem(scfg, key, strlen(key)) != 0)
        goto out;
    if (serve_start(&sp, cert, key, conns + 200) != 0) {
        fprintf(stderr, "pqify bench serve: cannot start pqify serve (is pqify beside pqify-bench?)\n");
        goto out;
    }
    printf("pqify serve --workers 1 (pid %d) on 127.0.0.1:%u, X25519MLKEM768, ECDSA P-256\n\n",
           (int)sp.pid, sp.port);

    /* 1. memory: warm the allocator with 100 connections, then count N more. */
    int warm[100];
    for (int i = 0; i < 100; i++)
        if ((warm[i] = client_handshake(sp.port, ccfg, 0)) < 0)
            goto fail;
    usleep(200000);
    long rss0 = rss_kib(sp.pid);
    for (unsigned i = 0; i < conns; i++)
        if ((fds[i] = client_handshake(sp.port, ccfg, 0)) < 0)
            goto fail;
    usleep(500000);
    long rss1 = rss_kib(sp.pid);
    double per = (double)(rss1 - rss0) * 1024.0 / conns;
    printf("memory per idle established connection: %.0f bytes (%.2f KiB; RSS %ld -> %ld KiB over "
           "%u connections; target <= 8 KiB: %s)\n",
           per, per / 1024.0, rss0, rss1, conns, per <= 8192.0 ? "met" : "NOT met");
    printf("  of which the engine holds %zu bytes per idle established connection, %zu while it "
           "reads (pqify_tls_conn_size)\n",
           pqify_tls_conn_size(PQIFY_TLS_SIZE_IDLE), pqify_tls_conn_size(PQIFY_TLS_SIZE_ESTABLISHED));
    for (unsigned i = 0; i < conns; i++)
        close(fds[i]);
    for (int i = 0; i < 100; i++)
        close(warm[i]);
    usleep(500000);

    /* 2. speed: serve's CPU per handshake against the engine's own server side. */
    for (int i = 0; i < 20; i++)
        (void)client_handshake(sp.port, ccfg, 1);
    /* CLIENTS processes at once keep the loop busy, as real load does: one
     * blocking client would have it sleep in epoll_wait between every step and
     * count a context switch per message against the loop. */
    uint64_t c0 = cpu_ns(sp.pid), w0 = pqify_bench_now_ns();
    pid_t kids[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (unsigned i = k; i < hs; i += CLIENTS)
                if (client_handshake(sp.port, ccfg, 1) != 0)
                    _exit(1);
            _exit(0);
        }
    }
    int kids_ok = 1;
    for (int k = 0; k < CLIENTS; k++) {
        int st = 1;
        if (kids[k] < 0 || waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            kids_ok = 0;
    }
    uint64_t c1 = cpu_ns(sp.pid), w1 = pqify_bench_now_ns();
    if (!kids_ok)
        goto fail;
    double serve_ns = (double)(c1 - c0) / hs;
    double engine_ns = engine_server_ns(ccfg, scfg, hs);
    if (engine_ns <= 0)
        goto fail;
    double cost = 100.0 * (serve_ns - engine_ns) / serve_ns;
    printf("pqify serve: %.0f handshakes per CPU-second of its loop (%.1f us CPU each; %u "
           "handshakes from %d client processes, %.0f/s wall)\n",
           1e9 / serve_ns, serve_ns / 1000.0, hs, CLIENTS, hs * 1e9 / (double)(w1 - w0));
    printf("engine in process (server side only): %.0f handshakes per CPU-second (%.1f us each)\n",
           1e9 / engine_ns, engine_ns / 1000.0);
    printf("loop + sockets + kernel TCP: %.1f%% of serve's CPU per handshake (target <= 15%%: %s)\n",
           cost, cost <= 15.0 ? "met" : "NOT met");
    status = 0;
    goto out;
fail:
    fprintf(stderr, "pqify bench serve: a handshake with pqify serve failed (see %s)\n", sp.log);
out:
    serve_stop(&sp);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
    free(cert);
    free(key);
    free(fds);
    return status;
}
