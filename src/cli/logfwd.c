/* pqify logfwd: the log pipeline's forwarder (issue 11, docs/logs.md). Reads stdin as
 * one stream, one event per line ({"message": LINE}), batches it (bytes, events,
 * delay), compresses with zstd and writes every batch durably to the spool BEFORE it
 * is sent; a batch leaves the spool only when the receiver acks its chunk. After a
 * reconnect (the chassis dialer's back-off, the next --to on failure) every batch
 * still spooled is sent again, oldest first, so a crash of either side loses nothing
 * (at-least-once). A full spool pauses reading stdin. It exits 0 after stdin's EOF
 * once everything read is acked. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "pqify/logs.h"
#include "pqify/net/dialer.h"
#include "pqify/net/listener.h"
#include "pqify/net/log.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"
#include "tls_io.h"

#define MAX_TARGETS 8
#define READ_CHUNK 65536
#define MAX_LINE (1u << 20)

struct fwd_args {
    const char *to, *spool, *tag, *servername;
    pqify_tls_options tls;
    unsigned batch_bytes, batch_events, batch_ms, spool_mb;
};

#define A(field) offsetof(struct fwd_args, field)
static const struct pqify_opt fwd_opts[] = {
    {"--to", "HOST:PORT", PQIFY_OPT_STRING, A(to), 0, 0, 0,
     "a receiver; give --to again for failover, tried in order"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0, "CA certificates to verify the receiver"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "client certificate (mutual TLS)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--servername", "NAME", PQIFY_OPT_STRING, A(servername), 0, 0, 0,
     "name checked in the receiver's certificate (default: the host)"},
    {"--spool", "DIR", PQIFY_OPT_STRING, A(spool), 0, 0, 0,
     "where batches wait for their ack (default ./pqify-logfwd.spool);\na restart resends what is there"},
    {"--spool-max", "MiB", PQIFY_OPT_UINT, A(spool_mb), 1, 1u << 20, 0,
     "spool bound (default 256); full pauses reading"},
    {"--tag", "NAME", PQIFY_OPT_STRING, A(tag), 0, 0, 0, "the stream stdin is read as (default stdin)"},
    {"--batch-bytes", "N", PQIFY_OPT_UINT, A(batch_bytes), 64, 64u << 20, 0,
     "send a batch at this many bytes of events (default 1 MiB)"},
    {"--batch-events", "N", PQIFY_OPT_UINT, A(batch_events), 1, 1000000, 0,
     "... or this many events (default 10000)"},
    {"--batch-ms", "MS", PQIFY_OPT_UINT, A(batch_ms), 1, 600000, 0,
     "... or this long after its first event (default 200)"},
};
#undef A

static const struct pqify_cmd_spec fwd_spec = {
    .name = "logfwd",
    .usage = "logfwd --to HOST:PORT [--to HOST:PORT ...] --ca FILE [options]\n",
    .about = "Forward stdin, one event per line, to pqify logrecv (or any Forward protocol\n"
             "receiver speaking TLS) with post-quantum TLS; every batch is spooled until acked.\n",
    .opts = fwd_opts,
    .n_opts = PQIFY_N_OPTS(fwd_opts),
    .footer = "Exit status: 0 after stdin's EOF once every event read was acked.\n",
};

struct target {
    char host[256], port[16];
    pqify_dialer *dialer;
};

struct fwd {
    struct fwd_args a;
    uv_loop_t *loop;
    pqify_tls_config *cfg;
    pqify_spool *spool;
    struct target t[MAX_TARGETS];
    unsigned n_t, cur;
    pqify_stream *s;
    int established, dialing;
    pqify_fwd_decoder *dec;
    size_t n_sent;            /* spooled batches (oldest first) sent on this connection */
    /* input */
    uv_fs_t rreq;
    char rbuf[READ_CHUNK];
    char *line;
    size_t line_len, line_cap;
    int eof, reading, paused;
    /* the open batch */
    pqify_fwd_batch batch;
    size_t batch_bytes;
    uv_timer_t btimer;
    int btimer_on;
    int done, status;
    uint64_t acked;
};

static void try_read(struct fwd *f);
static void dial(struct fwd *f);

static void finish_if_done(struct fwd *f)
{
    pqify_spool_stats st;
    pqify_spool_stat(f->spool, &st);
    if (!f->eof || f->batch.n_events > 0 || st.batches > 0 || f->done)
        return;
    f->done = 1;
    PQIFY_LOG(PQIFY_LOG_INFO, "everything acked; exiting");
    if (f->s != NULL)
        pqify_stream_close(f->s);
    for (unsigned i = 0; i < f->n_t; i++)
        pqify_dialer_stop(f->t[i].dialer);
    uv_timer_stop(&f->btimer);
}

/* Send the spooled batches this connection has not sent yet, oldest first. */
static void send_spooled(struct fwd *f)
{
    if (f->s == NULL || !f->established)
        return;
    for (;;) {
        uint64_t id;
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
        uint8_t *data;
        size_t len;
        if (pqify_spool_get(f->spool, f->n_sent, &id, chunk, &data, &len) != 0)
            return;   /* none left */
        int rc = pqify_stream_send(f->s, data, len);
        free(data);
        if (rc != 0)
            return;
        f->n_sent++;
    }
}

/* Close the open batch: encode, spool durably, then send. 1 = spool full (input
 * pauses, the batch stays open until an ack frees room). */
static int flush_batch(struct fwd *f)
{
    if (f->batch.n_events == 0)
        return 0;
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], err[300];
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    if (pqify_fwd_chunk_id(chunk) != 0 ||
        pqify_fwd_encode_packed(&f->batch, f->a.tag, strlen(f->a.tag), PQIFY_FWD_ZSTD, chunk,
                                &out) != 0) {
        msgpack_sbuffer_destroy(&out);
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot encode a batch");
        f->status = 1;
        return -1;
    }
    uint64_t id;
    int rc = pqify_spool_put(f->spool, chunk, (const uint8_t *)out.data, out.size, &id, err, sizeof err);
    msgpack_sbuffer_destroy(&out);
    if (rc == PQIFY_LOGS_ERR_SPOOL_FULL) {
        if (!f->paused)
            PQIFY_LOG(PQIFY_LOG_WARN, "spool full; input paused until acks free room");
        f->paused = 1;
        return 1;
    }
    if (rc != 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "spool write failed; retrying", "error", err);
        f->paused = 1;
        return 1;
    }
    pqify_fwd_batch_reset(&f->batch);
    f->batch_bytes = 0;
    if (f->btimer_on) {
        uv_timer_stop(&f->btimer);
        f->btimer_on = 0;
    }
    send_spooled(f);
    return 0;
}

static void on_btimer(uv_timer_t *t)
{
    struct fwd *f = t->data;
    f->btimer_on = 0;
    if (flush_batch(f) == 0)
        finish_if_done(f);
}

static int add_line(struct fwd *f, const char *line, size_t len)
{
    /* {"message": line} */
    msgpack_sbuffer rec;
    msgpack_packer pk;
    msgpack_sbuffer_init(&rec);
    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "message", 7);
    msgpack_pack_str_with_body(&pk, line, len);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int rc = pqify_fwd_batch_add_raw(&f->batch, ts.tv_sec, (uint32_t)ts.tv_nsec,
                                     (const uint8_t *)rec.data, rec.size);
    f->batch_bytes += rec.size + 12;
    msgpack_sbuffer_destroy(&rec);
    if (rc != 0)
        return -1;
    if (!f->btimer_on) {
        uv_timer_start(&f->btimer, on_btimer, f->a.batch_ms, 0);
        f->btimer_on = 1;
    }
    if (f->batch_bytes >= f->a.batch_bytes || f->batch.n_events >= f->a.batch_events)
        return flush_batch(f);
    return 0;
}

static void on_read(uv_fs_t *req)
{
    struct fwd *f = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    f->reading = 0;
    if (n < 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reading stdin failed", "error", uv_strerror((int)n));
        f->status = 1;
        n = 0;
    }
    if (n == 0) {
        f->eof = 1;
        if (f->line_len > 0 && add_line(f, f->line, f->line_len) < 0)
            f->status = 1;
        f->line_len = 0;
        if (flush_batch(f) == 0)
            finish_if_done(f);
        return;
    }
    int blocked = 0;
    for (ssize_t i = 0; i < n; i++) {
        char ch = f->rbuf[i];
        if (ch == '\n') {
            if (add_line(f, f->line, f->line_len) != 0)
                blocked = 1;
            f->line_len = 0;
            continue;
        }
        if (f->line_len == f->line_cap) {
            if (f->line_cap >= MAX_LINE) {
                continue;   /* a line over 1 MiB is cut there */
            }
            size_t cap = f->line_cap ? f->line_cap * 2 : 4096;
            char *nl = realloc(f->line, cap);
            if (nl == NULL)
                continue;
            f->line = nl;
            f->line_cap = cap;
        }
        f->line[f->line_len++] = ch;
    }
    if (!blocked)
        try_read(f);
}

static void try_read(struct fwd *f)
{
    if (f->eof || f->reading || f->paused || f->done)
        return;
    f->reading = 1;
    f->rreq.data = f;
    uv_buf_t b = uv_buf_init(f->rbuf, sizeof f->rbuf);
    if (uv_fs_read(f->loop, &f->rreq, 0, &b, 1, -1, on_read) != 0) {
        f->reading = 0;
        f->eof = 1;
        f->status = 1;
    }
}

/* ---- the connection ------------------------------------------------------------------ */

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct fwd *f = ctx;
    f->established = 1;
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    PQIFY_LOG(PQIFY_LOG_INFO, "connected", "to", pqify_stream_peer(s), "group", info.group, "pq",
              info.is_pq ? "yes" : "no");
    send_spooled(f);
    finish_if_done(f);
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    struct fwd *f = ctx;
    while (len > 0) {
        pqify_fwd_msg m;
        int rc = pqify_fwd_decode(f->dec, &data, &len, &m);
        if (rc < 0) {
            PQIFY_LOG(PQIFY_LOG_WARN, "receiver sent something unreadable", "error",
                      pqify_logs_strerror(rc));
            pqify_stream_abort(s);
            return;
        }
        if (rc == 0)
            break;
        if (m.kind != PQIFY_FWD_ACK)
            continue;
        if (pqify_spool_ack(f->spool, (const char *)m.chunk.ptr, m.chunk.len) == 0) {
            if (f->n_sent > 0)
                f->n_sent--;
            f->acked++;
        }
    }
    if (f->paused) {   /* room may be free again */
        f->paused = 0;
        if (flush_batch(f) == 0)
            try_read(f);
    }
    finish_if_done(f);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct fwd *f = ctx;
    f->s = NULL;
    f->established = 0;
    f->n_sent = 0;
    pqify_fwd_decoder_free(f->dec);
    f->dec = NULL;
    if (f->done)
        return;
    PQIFY_LOG(PQIFY_LOG_WARN, "connection lost; unacked batches will be resent", "why",
              pqify_stream_strerror(status));
    f->cur = (f->cur + 1) % f->n_t;   /* fail over */
    dial(f);
}

static const pqify_stream_cbs fwd_cbs = {on_handshake, on_data, NULL, on_close};

static void on_dialed(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    struct fwd *f = ctx;
    f->dialing = 0;
    if (status != 0 || f->done) {
        if (tcp != NULL)
            uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        if (status != 0 && !f->done) {   /* this receiver gave up: the next one */
            f->cur = (f->cur + 1) % f->n_t;
            dial(f);
        }
        return;
    }
    f->dec = pqify_fwd_decoder_new(PQIFY_FWD_CLIENT, NULL);
    pqify_stream_opts so = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&f->a.tls)};
    if (f->dec == NULL || pqify_stream_connect(f->loop, tcp, f->cfg, &so, &fwd_cbs, f, &f->s) != 0) {
        f->s = NULL;
        f->cur = (f->cur + 1) % f->n_t;
        dial(f);
    }
}

static void on_retry(pqify_dialer *d, int status, uint64_t delay_ms, void *ctx)
{
    (void)d;
    struct fwd *f = ctx;
    char ms[21];
    PQIFY_LOG(PQIFY_LOG_WARN, "connect failed", "to", f->t[f->cur].host, "port", f->t[f->cur].port,
              "error", uv_strerror(status), "retry_ms", pqify_log_u64(ms, delay_ms));
}

static void dial(struct fwd *f)
{
    if (f->done || f->dialing)
        return;
    f->dialing = 1;
    if (pqify_dialer_start(f->t[f->cur].dialer) != 0)
        f->dialing = 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int pqify_cmd_logfwd(int argc, char **argv)
{
    struct fwd *f = calloc(1, sizeof *f);
    char err[300];
    int status = 1;
    uv_loop_t loop;
    if (f == NULL)
        return 1;
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&fwd_spec, stdout);
        free(f);
        return 0;
    }
    if (pqify_cli_parse(&fwd_spec, argc, argv, &f->a) != 0) {
        free(f);
        return 2;
    }
    /* --to may repeat: the table keeps the last, so collect them all here. */
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--to") != 0)
            continue;
        if (f->n_t == MAX_TARGETS) {
            fprintf(stderr, "pqify logfwd: at most %d --to\n", MAX_TARGETS);
            free(f);
            return 2;
        }
        struct target *t = &f->t[f->n_t];
        if (pqify_net_split_hostport(argv[++i], t->host, sizeof t->host, t->port, sizeof t->port) != 0) {
            fprintf(stderr, "pqify logfwd: --to '%s' is not HOST:PORT\n", argv[i]);
            free(f);
            return 2;
        }
        f->n_t++;
    }
    if (f->n_t == 0 || f->a.tls.ca == NULL) {
        fprintf(stderr, "pqify logfwd: --to and --ca are required (see pqify logfwd --help)\n");
        free(f);
        return 2;
    }
    if (f->a.tag == NULL)
        f->a.tag = "stdin";
    if (f->a.spool == NULL)
        f->a.spool = "pqify-logfwd.spool";
    if (f->a.tls.pq == NULL)
        f->a.tls.pq = "required";
    f->a.tls.server_name = f->a.servername ? f->a.servername : f->t[0].host;
    if (f->a.batch_bytes == 0)
        f->a.batch_bytes = 1u << 20;
    if (f->a.batch_events == 0)
        f->a.batch_events = 10000;
    if (f->a.batch_ms == 0)
        f->a.batch_ms = 200;
    uint64_t spool_max = (uint64_t)(f->a.spool_mb ? f->a.spool_mb : 256) << 20;

    f->cfg = cli_tls_config("logfwd", &f->a.tls, 0);
    if (f->cfg == NULL)
        goto out;
    f->spool = pqify_spool_open(f->a.spool, spool_max, err, sizeof err);
    if (f->spool == NULL) {
        fprintf(stderr, "pqify logfwd: spool %s: %s\n", f->a.spool, err);
        goto out;
    }
    pqify_spool_stats st;
    pqify_spool_stat(f->spool, &st);
    if (st.batches > 0) {
        char nb[21];
        PQIFY_LOG(PQIFY_LOG_INFO, "resuming the spool", "batches", pqify_log_u64(nb, st.batches));
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    f->loop = &loop;
    uv_timer_init(&loop, &f->btimer);
    f->btimer.data = f;
    pqify_fwd_batch_init(&f->batch);
    for (unsigned i = 0; i < f->n_t; i++) {
        pqify_dialer_opts o = {.host = f->t[i].host, .port = f->t[i].port, .backoff_base_ms = 100,
                               .backoff_cap_ms = 5000, .on_retry = on_retry,
                               /* with several receivers, fail over after a few tries */
                               .max_attempts = f->n_t > 1 ? 3 : 0};
        f->t[i].dialer = pqify_dialer_new(&loop, &o, on_dialed, f);
        if (f->t[i].dialer == NULL)
            goto out_loop;
    }
    dial(f);
    try_read(f);
    uv_run(&loop, UV_RUN_DEFAULT);
    status = f->status;
out_loop:
    for (unsigned i = 0; i < f->n_t; i++)
        if (f->t[i].dialer != NULL)
            pqify_dialer_free(f->t[i].dialer);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    pqify_fwd_batch_free(&f->batch);
out:
    if (f->spool != NULL)
        pqify_spool_close(f->spool);
    pqify_tls_config_free(f->cfg);
    pqify_fwd_decoder_free(f->dec);
    free(f->line);
    free(f);
    return status;
}
