/*
 * `pqify bench handshake`: full TLS 1.3 handshakes over loopback TCP, the server
 * pinned to one core and a pqify load client to the other, pqify's server against
 * a libssl 3.0 server (bench_libssl.c) in the same run with the same client.
 *
 * The server thread's CPU (CLOCK_THREAD_CPUTIME_ID, user and kernel time) is taken
 * twice per handshake: cpu, from the accepted socket to its close (handshake, one
 * byte each way so the client knows the server finished, close), and engine, only
 * the TLS library's own calls within it (see serve_one). The rows run in batches,
 * interleaved round by round with the start rotating, so that load from the other
 * engineers on this machine spreads over every row; each ratio is taken per round
 * (the two rows of one round met the same machine) and the median of those is
 * printed.
 */
#include "alloc_count.h"
#include "pqify/net/pump.h"
#include "bench.h"
#include "pqify/net/pair.h"
#include "bench_floor.h"
#include "bench_libssl.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROUNDS 15
#define DEFAULT_PER_ROUND 40
#define QUICK_ROUNDS 2
#define QUICK_PER_ROUND 4
#define IDLE_CONNS 32
#define IDLE_CONNS_QUICK 4
#define BULK_BYTES (64u << 20)
#define BULK_BYTES_QUICK (1u << 20)
#define BULK_CHUNK 16384u
/* RFC 8446 §5.2: a TLSCiphertext is at most 2^14 + 256 bytes after its 5-byte header;
 * one such receive buffer is what "plus the record buffers" allows for. */
#define RECORD_BUFFER (5u + 16384u + 256u)
#define TARGET_IDLE_BYTES 16384.0
#define TARGET_VS_LIBSSL 0.50
#define TARGET_PQ_OVERHEAD 1.10

enum impl { IMPL_PQIFY, IMPL_LIBSSL };

struct row {
    const char *server;   /* column text */
    enum impl impl;
    const char *group;    /* pqify's name; the client's only group */
    const char *ossl_group;
    int resumed;          /* resumed handshakes: the client offers the last ticket */
    int floor;            /* the primitives-alone row (bench_floor.h) */
    /* from here on, made by the run and cleared by free_rows() */
    pqify_tls_config *server_cfg, *client_cfg;
    bench_libssl *libssl;
    double *cpu_us;       /* per round: server thread CPU per handshake, kernel included */
    double *engine_us;    /* per round: the part spent inside the TLS library's calls */
    double *rate;         /* per round: handshakes per second (one client, closed loop) */
    double *latency_us;   /* every handshake, client-observed */
    size_t n_latency;
    size_t c2s, s2c;      /* handshake bytes each way (last handshake) */
    int hrr;
    uint8_t session[PQIFY_TLS_MAX_SESSION];
    size_t session_len;
    bench_floor *prims;
    double *floor_us[BENCH_FLOOR_PARTS];   /* per round, per primitive */
};

static struct row rows[] = {
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "X25519MLKEM768", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "X25519", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "SecP256r1MLKEM768", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "secp256r1", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "SecP384r1MLKEM1024", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "MLKEM768", .ossl_group = NULL},
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "X25519Kyber768Draft00", .ossl_group = NULL},
    {.server = "libssl", .impl = IMPL_LIBSSL, .group = "X25519", .ossl_group = "X25519"},
    {.server = "libssl", .impl = IMPL_LIBSSL, .group = "secp256r1", .ossl_group = "P-256"},
    /* PSK resumption with psk_dhe_ke (RFC 8446 §4.2.9): still a full hybrid key
     * exchange, but no certificate, no CertificateVerify signature */
    {.server = "pqify", .impl = IMPL_PQIFY, .group = "X25519MLKEM768", .resumed = 1},
    /* Not in the table: before each of its handshakes, the server thread does the
     * primitives of one alone, right after the ClientHello's read, where a
     * handshake runs them (cache and all); only they are timed. */
    {.server = "floor", .impl = IMPL_PQIFY, .group = "X25519MLKEM768", .floor = 1},
};
#define N_ROWS (sizeof rows / sizeof rows[0])
enum { ROW_PQ = 0, ROW_X25519 = 1, ROW_LIBSSL_X25519 = 7, ROW_FLOOR = 10 };

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0 ? cpu : -1;
}

/* ---- blocking engine I/O ---------------------------------------------------- */

struct io {
    int fd;
    size_t sent, received;
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
    io->sent += out->len;
    pqify_tls_buf_consume(out, out->len);
    return 0;
}

/* Flushes p's output, then feeds it what one read brings, until the pump says
 * `until`; -1 on anything else. */
static int pump_until(pqify_pump *p, struct io *io, pqify_pump_event ev, pqify_pump_event until)
{
    uint8_t buf[32768];
    for (;;) {
        if (flush_out(io, &p->out) != 0)
            return -1;
        if (ev == until)
            return 0;
        if (ev != PQIFY_PUMP_WANT_INPUT)
            return -1;
        ssize_t r;
        do {
            r = read(io->fd, buf, sizeof buf);
        } while (r < 0 && errno == EINTR);
        if (r <= 0)
            return -1;
        io->received += (size_t)r;
        ev = pqify_pump_feed(p, buf, (size_t)r);
    }
}

/* ---- the server thread -------------------------------------------------------- */

/*
 * Both servers run the same socket loop (serve_one): block for what the client
 * sent, hand all of it to the library, write everything the library produced in
 * one write. So the kernel work, and the number of clock reads, is alike for
 * both; only the library calls between the reads differ. Those are timed as the
 * engine figure: conn_new, every step, conn_free.
 */
struct wire {
    uint8_t in[32768];
    size_t in_len;
    uint8_t out[32768];
    size_t out_len;
};

struct server_conn {
    const struct row *row;
    struct wire wire;
    pqify_pump pump;
    bench_libssl_conn *o;
};

/* One library's side of the exchange: handshake, read one byte, answer it. step
 * takes bytes from wire.in (leaving what it did not consume) and appends its
 * output to wire.out; it returns 1 when the answer is written, 0 when it needs
 * more input, -1 on failure. */
struct server_lib {
    int (*conn_new)(struct server_conn *sc);
    int (*step)(struct server_conn *sc);
    void (*conn_free)(struct server_conn *sc);
};

static int pqify_conn_new(struct server_conn *sc)
{
    return pqify_pump_init(&sc->pump, sc->row->server_cfg, 1) == 0 ? 0 : -1;
}

static int pqify_step(struct server_conn *sc)
{
    struct wire *w = &sc->wire;
    pqify_pump *p = &sc->pump;
    int rc = 0;
    /* the pump keeps what the engine does not take yet */
    pqify_pump_event ev = pqify_pump_feed(p, w->in, w->in_len);
    w->in_len = 0;
    if (ev == PQIFY_PUMP_HANDSHAKE_DONE)
        ev = pqify_pump_next(p);   /* the client's byte may have come with its Finished */
    if (ev == PQIFY_PUMP_DATA)
        rc = pqify_pump_send(p, p->plain.base, 1) == 0 ? 1 : -1;
    else if (ev != PQIFY_PUMP_WANT_INPUT)
        rc = -1;
    /* flushed even on failure: it may hold an alert */
    if (p->out.len > sizeof w->out - w->out_len)
        return -1;
    memcpy(w->out + w->out_len, p->out.base, p->out.len);
    w->out_len += p->out.len;
    pqify_tls_buf_consume(&p->out, p->out.len);
    return rc;
}

static void pqify_conn_free(struct server_conn *sc)
{
    pqify_pump_dispose(&sc->pump);
}

static int libssl_conn_new(struct server_conn *sc)
{
    sc->o = bench_libssl_conn_new(sc->row->libssl);
    return sc->o != NULL ? 0 : -1;
}

static int libssl_step(struct server_conn *sc)
{
    struct wire *w = &sc->wire;
    int rc = bench_libssl_serve_step(sc->o, w->in, w->in_len, w->out, sizeof w->out, &w->out_len);
    w->in_len = 0;
    return rc;
}

static void libssl_conn_free(struct server_conn *sc)
{
    bench_libssl_conn_free(sc->o);
    sc->o = NULL;
}

static const struct server_lib pqify_server = {pqify_conn_new, pqify_step, pqify_conn_free};
static const struct server_lib libssl_server = {libssl_conn_new, libssl_step, libssl_conn_free};

/* One read of what is there, blocking until something is. */
static int wire_read(int fd, struct wire *w)
{
    if (w->in_len == sizeof w->in)
        return -1;
    for (;;) {
        ssize_t r = read(fd, w->in + w->in_len, sizeof w->in - w->in_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        w->in_len += (size_t)r;
        return 0;
    }
}

static int wire_write(int fd, struct wire *w)
{
    size_t off = 0;
    while (off < w->out_len) {
        ssize_t n = write(fd, w->out + off, w->out_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    w->out_len = 0;
    return 0;
}

/*
 * One connection; *engine_ns grows by the thread CPU spent in the library's calls.
 * The connection is made after the first read and freed right after the last
 * step, inside the same timed spans as the first and last steps, so that each
 * step costs two clock reads (each a syscall of about 0.5 us) for either library.
 */
static int serve_one(const struct server_lib *lib, struct server_conn *sc, int fd,
                     uint64_t *engine_ns, uint64_t *floor_ns)
{
    struct wire *w = &sc->wire;
    int rc = 0, open = 0;
    w->in_len = w->out_len = 0;
    while (rc == 0) {
        if (wire_read(fd, w) != 0) {
            rc = -1;
            break;
        }
        if (!open && sc->row->prims != NULL && bench_floor_run(sc->row->prims, floor_ns) != 0) {
            rc = -1;
            break;
        }
        uint64_t t0 = thread_cpu_ns();
        if (!open) {
            rc = lib->conn_new(sc);
            open = rc == 0;
        }
        if (rc == 0)
            rc = lib->step(sc);
        if (rc != 0 && open) {
            lib->conn_free(sc);
            open = 0;
        }
        *engine_ns += thread_cpu_ns() - t0;
        if (wire_write(fd, w) != 0)
            rc = -1;
    }
    if (open)
        lib->conn_free(sc);
    return rc == 1 ? 0 : -1;
}

struct server_job {
    int listen_fd;
    struct row *row;
    unsigned n;
    int cpu;
    uint64_t cpu_ns, engine_ns, floor_ns[BENCH_FLOOR_PARTS];
    int failed;
};

static void *server_main(void *arg)
{
    struct server_job *job = arg;
    const struct server_lib *lib = job->row->impl == IMPL_PQIFY ? &pqify_server : &libssl_server;
    struct server_conn *sc = calloc(1, sizeof *sc);
    if (job->cpu >= 0)
        (void)pin_to(job->cpu);
    if (sc != NULL)
        sc->row = job->row;
    for (unsigned i = 0; i < job->n; i++) {
        int fd = accept(job->listen_fd, NULL, NULL);
        if (fd < 0) {
            job->failed = 1;
            break;
        }
        int one = 1;
        uint64_t t0 = thread_cpu_ns();
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int rc = sc != NULL ? serve_one(lib, sc, fd, &job->engine_ns, job->floor_ns) : -1;
        close(fd);
        job->cpu_ns += thread_cpu_ns() - t0;
        if (rc != 0)
            job->failed = 1;
    }
    free(sc);
    return NULL;
}

/* ---- the client ----------------------------------------------------------------- */

static int client_one(struct row *r, uint16_t port, double *latency_us)
{
    int ret = -1, one = 1;
    struct io io = {.fd = -1};
    pqify_pump p;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    memset(&p, 0, sizeof p);   /* disposable before it is initialised */
    uint64_t t0 = pqify_bench_now_ns();
    io.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (io.fd < 0)
        goto out;
    (void)setsockopt(io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (pqify_pump_init(&p, r->client_cfg, 0) != 0)
        goto out;
    int offered = 0;
    if (r->resumed && r->session_len > 0) {
        offered = pqify_tls_set_session(p.conn, r->session, r->session_len);
        if (offered != 1) {
            fprintf(stderr, "pqify bench handshake: the session ticket was not offered (%d)\n",
                    offered);
            goto out;
        }
    }
    if (connect(io.fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        pump_until(&p, &io, pqify_pump_next(&p), PQIFY_PUMP_HANDSHAKE_DONE) != 0)
        goto out;
    *latency_us = (double)(pqify_bench_now_ns() - t0) / 1e3;
    pqify_tls_info info;
    pqify_tls_get_info(p.conn, &info);
    if (pqify_tls_group_id(r->group) != info.group_id) {
        fprintf(stderr, "pqify bench handshake: %s %s negotiated %s\n", r->server, r->group,
                info.group);
        goto out;
    }
    if (info.resumed != offered) {
        fprintf(stderr, "pqify bench handshake: %s %s: resumed=%d, expected %d\n", r->server,
                r->group, info.resumed, offered);
        goto out;
    }
    r->hrr = info.hrr;
    r->c2s = io.sent;
    r->s2c = io.received;
    static const uint8_t ping = 'p';
    /* the answer: read until at least one plaintext byte arrived */
    if (pqify_pump_send(&p, &ping, 1) != 0 ||
        pump_until(&p, &io, pqify_pump_next(&p), PQIFY_PUMP_DATA) != 0)
        goto out;
    /* the server's ticket came before its answer: keep the newest for the next one */
    if (r->resumed &&
        pqify_tls_get_session(p.conn, r->session, sizeof r->session, &r->session_len) != 0) {
        fprintf(stderr, "pqify bench handshake: no session ticket from the server\n");
        goto out;
    }
    ret = 0;
out:
    if (io.fd >= 0)
        close(io.fd);
    pqify_pump_dispose(&p);
    return ret;
}

static int run_batch(struct row *r, int listen_fd, uint16_t port, unsigned n, int server_cpu,
                     unsigned round)
{
    struct server_job job = {.listen_fd = listen_fd, .row = r, .n = n, .cpu = server_cpu};
    pthread_t t;
    if (pthread_create(&t, NULL, server_main, &job) != 0)
        return -1;
    int failed = 0;
    uint64_t t0 = pqify_bench_now_ns();
    unsigned done = 0;
    for (; done < n; done++) {
        if (client_one(r, port, &r->latency_us[r->n_latency]) != 0) {
            failed = 1;
            break;
        }
        r->n_latency++;
    }
    uint64_t wall = pqify_bench_now_ns() - t0;
    if (failed) {
        /* unblock the server's accept() for the connections never made */
        for (unsigned i = done; i < n; i++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (fd >= 0) {
                (void)connect(fd, (struct sockaddr *)&sa, sizeof sa);
                close(fd);
            }
        }
    }
    pthread_join(t, NULL);
    if (failed || job.failed) {
        fprintf(stderr, "pqify bench handshake: %s server, group %s: a handshake failed\n",
                r->server, r->group);
        return -1;
    }
    r->cpu_us[round] = (double)job.cpu_ns / 1e3 / n;
    r->engine_us[round] = (double)job.engine_ns / 1e3 / n;
    for (int i = 0; r->floor && i < BENCH_FLOOR_PARTS; i++)
        r->floor_us[i][round] = (double)job.floor_ns[i] / 1e3 / n;
    r->rate[round] = (double)n / ((double)wall / 1e9);
    return 0;
}

/* ---- idle memory and bulk throughput (in memory, one thread) ------------------- */

/* Heap bytes that n established, idle server connections hold, per connection:
 * the clients (and every output buffer) are freed right after each handshake, so
 * what stays is the server's. */
static int idle_bytes(struct row *r, unsigned n, double *per_conn)
{
    pqify_tls_conn **servers = calloc(n, sizeof *servers);
    bench_libssl_conn **ossl = calloc(n, sizeof *ossl);
    int ret = -1;
    if (servers == NULL || ossl == NULL)
        goto out;
    for (unsigned warm = 0; warm < 2; warm++) {   /* first use fetches and caches */
        pqify_tls_conn *c = NULL, *s = NULL;
        struct pqify_bench_pair_result res;
        if (r->impl == IMPL_PQIFY) {
            if (pqify_bench_pair_connect(r->client_cfg, r->server_cfg, &c, &s, &res) != 0)
                goto out;
            pqify_tls_conn_free(s);
        } else {
            pqify_pump cp;
            bench_libssl_conn *o = bench_libssl_accept_mem(r->libssl, r->client_cfg, &cp);
            if (o == NULL)
                goto out;
            bench_libssl_conn_free(o);
            pqify_pump_dispose(&cp);
        }
        pqify_tls_conn_free(c);
    }
    long long before = pqify_alloc_live_bytes();
    for (unsigned i = 0; i < n; i++) {
        pqify_tls_conn *c = NULL;
        struct pqify_bench_pair_result res;
        if (r->impl == IMPL_PQIFY) {
            if (pqify_bench_pair_connect(r->client_cfg, r->server_cfg, &c, &servers[i], &res) != 0)
                goto out;
        } else {
            pqify_pump cp;
            ossl[i] = bench_libssl_accept_mem(r->libssl, r->client_cfg, &cp);
            if (ossl[i] == NULL)
                goto out;
            pqify_pump_dispose(&cp);
        }
        pqify_tls_conn_free(c);
    }
    *per_conn = (double)(pqify_alloc_live_bytes() - before) / n;
    ret = 0;
out:
    for (unsigned i = 0; servers != NULL && i < n; i++)
        pqify_tls_conn_free(servers[i]);
    for (unsigned i = 0; ossl != NULL && i < n; i++)
        bench_libssl_conn_free(ossl[i]);
    free(servers);
    free(ossl);
    if (ret != 0)
        fprintf(stderr, "pqify bench handshake: idle-connection measurement (%s) failed\n",
                r->server);
    return ret;
}

/* MB/s of application data one core seals and opens, 16 KiB writes, AES-128-GCM. */
static int bulk(struct row *r, size_t total, double *seal_mbs, double *open_mbs)
{
    int ret = -1;
    pqify_tls_conn *c = NULL, *s = NULL;
    bench_libssl_conn *o = NULL;
    uint64_t seal_ns = 0, open_ns = 0;
    uint8_t *data = calloc(1, BULK_CHUNK);
    pqify_tls_buf sout, cout, plain;
    pqify_tls_buf_init(&sout, NULL, 0);
    pqify_tls_buf_init(&cout, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    if (data == NULL)
        goto out;
    if (r->impl == IMPL_LIBSSL) {
        pqify_pump cp;
        o = bench_libssl_accept_mem(r->libssl, r->client_cfg, &cp);
        if (o == NULL)
            goto out;
        int b = bench_libssl_bulk(o, &cp, total, BULK_CHUNK, &seal_ns, &open_ns);
        pqify_pump_dispose(&cp);
        if (b != 0)
            goto out;
    } else {
        struct pqify_bench_pair_result res;
        if (pqify_bench_pair_connect(r->client_cfg, r->server_cfg, &c, &s, &res) != 0)
            goto out;
        for (size_t done = 0; done < total; done += BULK_CHUNK) {
            uint64_t t0 = thread_cpu_ns();
            if (pqify_tls_send(s, &sout, data, BULK_CHUNK) != 0)
                goto out;
            seal_ns += thread_cpu_ns() - t0;
            size_t n = sout.len;
            if (pqify_tls_receive(c, &plain, sout.base, &n, &cout) != 0 || plain.len != BULK_CHUNK)
                goto out;
            pqify_tls_buf_consume(&sout, sout.len);
            pqify_tls_buf_consume(&plain, plain.len);
        }
        for (size_t done = 0; done < total; done += BULK_CHUNK) {
            if (pqify_tls_send(c, &cout, data, BULK_CHUNK) != 0)
                goto out;
            size_t n = cout.len;
            uint64_t t0 = thread_cpu_ns();
            if (pqify_tls_receive(s, &plain, cout.base, &n, &sout) != 0)
                goto out;
            open_ns += thread_cpu_ns() - t0;
            if (plain.len != BULK_CHUNK)
                goto out;
            pqify_tls_buf_consume(&cout, cout.len);
            pqify_tls_buf_consume(&plain, plain.len);
        }
    }
    *seal_mbs = (double)total / 1e6 / ((double)seal_ns / 1e9);
    *open_mbs = (double)total / 1e6 / ((double)open_ns / 1e9);
    ret = 0;
out:
    if (ret != 0)
        fprintf(stderr, "pqify bench handshake: bulk transfer (%s) failed\n", r->server);
    bench_libssl_conn_free(o);
    pqify_tls_conn_free(c);
    pqify_tls_conn_free(s);
    pqify_tls_buf_dispose(&sout);
    pqify_tls_buf_dispose(&cout);
    pqify_tls_buf_dispose(&plain);
    free(data);
    return ret;
}

/* ---- set-up, run, report ----------------------------------------------------- */

static int listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static double median_of(const double *v, size_t n)
{
    double *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL || n == 0) {
        free(tmp);
        return 0.0;
    }
    memcpy(tmp, v, n * sizeof *tmp);
    double m = pqify_bench_summarise(tmp, n).median;
    free(tmp);
    return m;
}

static double percentile(double *v, size_t n, double q)
{
    pqify_bench_summarise(v, n);   /* sorts */
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* Median over rounds of a's figure over b's in the same round (per-round figures
 * of two rows: both met the same machine state). */
static double paired_ratio(const double *a, const double *b, unsigned rounds)
{
    double *x = malloc(rounds * sizeof *x);
    if (x == NULL)
        return 0.0;
    for (unsigned i = 0; i < rounds; i++)
        x[i] = a[i] / b[i];
    double m = pqify_bench_summarise(x, rounds).median;
    free(x);
    return m;
}

static const char *verdict(double v, double target)
{
    return v <= target ? "ok" : "MISSED";
}

static void free_rows(void)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        pqify_tls_config_free(rows[i].server_cfg);
        pqify_tls_config_free(rows[i].client_cfg);
        bench_libssl_free(rows[i].libssl);
        free(rows[i].cpu_us);
        free(rows[i].engine_us);
        free(rows[i].rate);
        free(rows[i].latency_us);
        bench_floor_free(rows[i].prims);
        for (int k = 0; k < BENCH_FLOOR_PARTS; k++)
            free(rows[i].floor_us[k]);
        memset(&rows[i].server_cfg, 0,
               sizeof rows[i] - offsetof(struct row, server_cfg));
    }
}

int pqify_bench_handshake(const struct pqify_bench_handshake_opts *opts)
{
    FILE *f = opts->out;
    unsigned rounds = opts->rounds ? opts->rounds : opts->quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
    unsigned per = opts->per_round ? opts->per_round
                                   : opts->quick ? QUICK_PER_ROUND : DEFAULT_PER_ROUND;
    char *cert = NULL, *key = NULL;
    int ret = 1, listen_fd = -1, pinned = 0;
    uint16_t port = 0;
    cpu_set_t allowed;

    if (pqify_bench_make_cert(&cert, &key) != 0) {
        fprintf(stderr, "pqify bench handshake: cannot make the P-256 test certificate\n");
        goto out;
    }
    for (size_t i = 0; i < N_ROWS; i++) {
        struct row *r = &rows[i];
        r->client_cfg = pqify_pair_config(0, NULL, NULL, r->group, NULL);
        if (r->impl == IMPL_PQIFY) {
            r->server_cfg = pqify_pair_config(1, cert, key, r->group, NULL);
            if (r->resumed && r->server_cfg != NULL &&
                pqify_tls_config_set_tickets(r->server_cfg, 1) != 0) {
                pqify_tls_config_free(r->server_cfg);
                r->server_cfg = NULL;
            }
        } else
            r->libssl = bench_libssl_new(cert, key, r->ossl_group);
        r->cpu_us = calloc(rounds, sizeof *r->cpu_us);
        r->engine_us = calloc(rounds, sizeof *r->engine_us);
        r->rate = calloc(rounds, sizeof *r->rate);
        r->latency_us = calloc((size_t)rounds * per, sizeof *r->latency_us);
        int floor_ok = 1;
        if (r->floor) {
            r->prims = bench_floor_new(key);
            floor_ok = r->prims != NULL;
            for (int k = 0; k < BENCH_FLOOR_PARTS; k++)
                floor_ok = (r->floor_us[k] = calloc(rounds, sizeof *r->floor_us[k])) != NULL &&
                           floor_ok;
        }
        if (r->client_cfg == NULL || (r->server_cfg == NULL && r->libssl == NULL) ||
            r->cpu_us == NULL || r->engine_us == NULL || r->rate == NULL || r->latency_us == NULL ||
            !floor_ok) {
            fprintf(stderr, "pqify bench handshake: set-up of %s %s failed\n", r->server,
                    r->group);
            goto out;
        }
    }
    listen_fd = listen_loopback(&port);
    if (listen_fd < 0) {
        fprintf(stderr, "pqify bench handshake: cannot listen on 127.0.0.1: %s\n",
                strerror(errno));
        goto out;
    }

    /* Server on CPU 0, client on CPU 1 when both are ours to use. */
    int server_cpu = -1, client_cpu = -1;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_ISSET(0, &allowed) &&
        CPU_ISSET(1, &allowed)) {
        server_cpu = 0;
        client_cpu = pin_to(1);
        pinned = 1;
    }

    fprintf(f, "pqify bench handshake: full TLS 1.3 handshakes over loopback TCP, ECDSA P-256 "
               "certificate, TLS_AES_128_GCM_SHA256\n");
    fprintf(f, "server %s, client (pqify, certificate not checked) %s; %u rounds x %u "
               "handshakes per row, rows interleaved\n",
            server_cpu >= 0 ? "on CPU 0" : "unpinned", client_cpu >= 0 ? "on CPU 1" : "unpinned",
            rounds, per);
    fprintf(f, "baseline: %s (libssl), no session tickets on either server except for\n"
               "the resumed row (PSK + X25519MLKEM768 key share, psk_dhe_ke)\n\n",
            OpenSSL_version(OPENSSL_VERSION));
    fflush(f);

    /* The resumed row's first handshake is a full one that fetches the ticket. */
    for (size_t i = 0; i < N_ROWS; i++) {
        struct row *r = &rows[i];
        if (!r->resumed)
            continue;
        if (run_batch(r, listen_fd, port, 1, server_cpu, 0) != 0)
            goto out;
        r->n_latency = 0;
    }
    for (unsigned round = 0; round < rounds; round++) {
        for (size_t k = 0; k < N_ROWS; k++) {
            struct row *r = &rows[(k + round) % N_ROWS];
            if (run_batch(r, listen_fd, port, per, server_cpu, round) != 0)
                goto out;
        }
    }

    fprintf(f, "%-7s %-22s %5s %10s %13s %8s %9s %9s %4s %6s %6s\n", "server", "group", "pq",
            "cpu_us/hs", "engine_us/hs", "hs/s", "p50_us", "p99_us", "hrr", "c->s", "s->c");
    for (size_t i = 0; i < N_ROWS; i++) {
        struct row *r = &rows[i];
        if (r->floor)
            continue;
        uint16_t id = (uint16_t)pqify_tls_group_id(r->group);
        char label[48];
        snprintf(label, sizeof label, "%s%s", r->resumed ? "resumed:" : "",
                 pqify_tls_group_name(id));
        fprintf(f, "%-7s %-22s %5s %10.1f %13.1f %8.0f %9.1f %9.1f %4s %6zu %6zu\n", r->server,
                label, pqify_tls_group_is_pq(id) ? "yes" : "no", median_of(r->cpu_us, rounds),
                median_of(r->engine_us, rounds), median_of(r->rate, rounds),
                percentile(r->latency_us, r->n_latency, 0.50),
                percentile(r->latency_us, r->n_latency, 0.99), r->hrr ? "yes" : "no", r->c2s,
                r->s2c);
    }

    fprintf(f, "\nmemory per idle established server connection (heap, libcrypto included):\n");
    double pq_idle = 0.0;
    for (size_t i = 0; i < N_ROWS; i++) {
        struct row *r = &rows[i];
        if (i != ROW_X25519 && i != ROW_LIBSSL_X25519)
            continue;
        if (!pqify_alloc_count_available()) {
            fprintf(f, "  %-7s n/a (allocation counter off in sanitizer builds)\n", r->server);
            continue;
        }
        double b;
        if (idle_bytes(r, opts->quick ? IDLE_CONNS_QUICK : IDLE_CONNS, &b) != 0)
            goto out;
        if (r->impl == IMPL_PQIFY) {
            pq_idle = b;
            fprintf(f, "  %-7s %8.0f bytes: engine %zu (record buffer %u) + libcrypto %.0f\n",
                    r->server, b, pqify_tls_conn_size(0), RECORD_BUFFER,
                    b - (double)pqify_tls_conn_size(0));
        } else {
            fprintf(f, "  %-7s %8.0f bytes\n", r->server, b);
        }
    }

    fprintf(f, "\nbulk %s, MB/s of application data per core (16 KiB writes):\n",
            "TLS_AES_128_GCM_SHA256");
    for (size_t i = 0; i < N_ROWS; i++) {
        struct row *r = &rows[i];
        double seal, open;
        if (i != ROW_X25519 && i != ROW_LIBSSL_X25519)
            continue;
        if (bulk(r, opts->quick ? BULK_BYTES_QUICK : BULK_BYTES, &seal, &open) != 0)
            goto out;
        fprintf(f, "  %-7s send %8.0f  receive %8.0f\n", r->server, seal, open);
    }

    {
        /* the TLS work is what the engine spends beyond the primitives */
        const struct row *fl = &rows[ROW_FLOOR];
        double floor_us = 0;
        fprintf(f, "\nthe primitives alone, timed where a handshake runs them (after the ClientHello's\n"
                   "read), done as the engine does them (bench/bench_floor.c), us per handshake:\n");
        for (int k = 0; k < BENCH_FLOOR_PARTS; k++) {
            double us = median_of(fl->floor_us[k], rounds);
            floor_us += us;
            fprintf(f, "  %-36s %7.1f\n", bench_floor_part_names[k], us);
        }
        double pq_us = median_of(rows[ROW_PQ].engine_us, rounds),
               ossl_us = median_of(rows[ROW_LIBSSL_X25519].engine_us, rounds);
        fprintf(f, "  %-36s %7.1f = %.3fx of libssl X25519's engine_us/hs\n", "together", floor_us,
                floor_us / ossl_us);
        fprintf(f, "  pqify X25519MLKEM768's TLS work (engine_us/hs - together): %.1f us; the 0.50x\n"
                   "  target leaves %.1f us for it\n",
                pq_us - floor_us, TARGET_VS_LIBSSL * ossl_us - floor_us);
    }

    /*
     * The CPU targets are judged on the engine figure. The issue's own reference,
     * libssl 3.0 at about 245 us per X25519 handshake, is the library's CPU; the
     * kernel's loopback TCP work (accept, reads, writes, close: cpu_us/hs minus
     * engine_us/hs, 60-80 us per connection here) is the same for both servers
     * and is not the TLS library's, so folding it in would pull every ratio
     * towards 1. The ratios of the total figure follow as information.
     */
    const struct row *pq = &rows[ROW_PQ], *x = &rows[ROW_X25519], *ossl = &rows[ROW_LIBSSL_X25519];
    double vs_libssl = paired_ratio(pq->engine_us, ossl->engine_us, rounds);
    double overhead = paired_ratio(pq->engine_us, x->engine_us, rounds);
    fprintf(f, "\ntargets (ratios of engine_us/hs, median of per-round ratios):\n");
    fprintf(f, "  pqify X25519MLKEM768 / libssl X25519   %6.3fx  target <= %.2fx  %s\n", vs_libssl,
            TARGET_VS_LIBSSL, verdict(vs_libssl, TARGET_VS_LIBSSL));
    fprintf(f, "  pqify X25519MLKEM768 / pqify X25519    %6.3fx  target <= %.2fx  %s\n", overhead,
            TARGET_PQ_OVERHEAD, verdict(overhead, TARGET_PQ_OVERHEAD));
    if (pqify_alloc_count_available()) {
        double beyond = pq_idle - RECORD_BUFFER;
        fprintf(f, "  pqify idle connection - record buffer %6.0f bytes  target <= %.0f  %s\n",
                beyond, TARGET_IDLE_BYTES, verdict(beyond, TARGET_IDLE_BYTES));
    } else {
        fprintf(f, "  pqify idle connection - record buffer    n/a (allocation counter off)\n");
    }
    fprintf(f, "\nthe same ratios of cpu_us/hs (kernel included; information, not targets):\n");
    fprintf(f, "  pqify X25519MLKEM768 / libssl X25519   %6.3fx\n",
            paired_ratio(pq->cpu_us, ossl->cpu_us, rounds));
    fprintf(f, "  pqify X25519MLKEM768 / pqify X25519    %6.3fx\n",
            paired_ratio(pq->cpu_us, x->cpu_us, rounds));
    ret = 0;
out:
    if (listen_fd >= 0)
        close(listen_fd);
    if (pinned)
        (void)sched_setaffinity(0, sizeof allowed, &allowed);
    free_rows();
    free(cert);
    free(key);
    return ret;
}
