/*
 * The forwarder (include/pqify/logs_forwarder.h, docs/logs.md): inputs -> lines ->
 * a batch per input -> the spool (durable) -> the receiver -> its ack -> out of the
 * spool. The order of those arrows is the at-least-once argument: nothing is sent
 * before it is on disk, nothing leaves the disk before it is acked, and a file's
 * checkpoint never passes what is on disk.
 *
 * Files are read with pread(2) on the loop: a local regular file does not block for
 * long, and pread lets a paused file be read again later from its offset. Rotation:
 * a file is known by (device, inode). When its path names another inode (renamed
 * away, a new file created), the old descriptor is read to its end and closed once
 * it stayed quiet for a poll interval, and the new file is read from its start; a
 * file that shrank below the offset (truncated) is read again from 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "internal.h"
#include "pqify/logs_forwarder.h"
#include "pqify/net/dialer.h"
#include "pqify/net/listener.h"
#include "pqify/net/log.h"
#include "pqify/net/stream.h"

#define MAX_TARGETS 8
#define READ_CHUNK 65536
#define FILE_BUDGET (4u << 20)      /* bytes read from one file per turn of the loop */
#define SEND_WINDOW 64              /* batches sent and not yet acked */
#define MAX_OFFSETS 4096
#define QUIET_MS 1000               /* a rotated file is closed after this long at its end */

enum { AUTH_DONE = 0, AUTH_WAIT_HELO, AUTH_WAIT_PONG };

enum { MET_EVENTS_READ, MET_BYTES_READ, MET_EVENTS_ACKED, MET_BYTES_ACKED, MET_BATCHES,
       MET_BATCHES_ACKED, MET_SEND_DURATION, MET_N };

struct pend {   /* one spooled batch, in spool order */
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
    char *tag;
    uint64_t events, bytes, sent_ns;
};

struct input {
    struct input *next;
    pqify_logfwd *f;
    pqify_logfwd_input_kind kind;
    char *tag, *spec;            /* spec: the glob or socket path it came from */
    /* the line being assembled */
    char *line;
    size_t line_len, line_cap;
    /* the open batch */
    pqify_fwd_batch batch;
    msgpack_sbuffer rec;         /* SOCKET: a line's record, reused line after line */
    size_t batch_bytes;
    uint64_t batch_start_ns, raw_bytes;
    int blocked;                 /* its batch is full and the spool had no room */
    int closing;                 /* freed once its batch is spooled */
    int removed;                 /* no longer in the configuration (SIGHUP) */
    /* FILE */
    int fd;
    char *path;
    uint64_t dev, ino, read_off, batch_end_off, committed, quiet_since;
    int rotated;
    /* SOCKET connection and STDIN */
    uv_stream_t *h;              /* a malloc'd uv_pipe_t or uv_tty_t; NULL once closed */
    int reading, eof;
    uv_fs_t req;                 /* STDIN that is a regular file */
    int fs_busy, orphan;         /* orphan: freed by the read's callback */
    char *rbuf;
    pqify_series *met[MET_N];
};

struct sock {
    struct sock *next;
    pqify_logfwd *f;
    uv_pipe_t pipe;
    char *path, *tag;
    int removed;
};

struct target {
    char host[256], port[16];
    pqify_dialer *dialer;
};

struct pqify_logfwd {
    pqify_logfwd_options o;
    uv_loop_t *loop;
    pqify_spool *spool;
    char *spool_dir, *ckpt_path;
    struct target t[MAX_TARGETS];
    unsigned n_t, cur;
    pqify_stream *s;
    int established, dialing;
    pqify_fwd_decoder *dec;
    int auth;                    /* AUTH_*: the shared-key handshake on this connection */
    uint64_t auth_start_ns;
    uint8_t nonce[64];
    size_t nonce_len;
    char salt[33];
    char group[64];
    size_t n_sent;
    struct pend *pend;
    size_t n_pend, cap_pend;
    struct input *inputs;
    struct sock *socks;
    pqify_logfwd_input *specs;   /* the configured inputs (owned copies) */
    size_t n_specs;
    pqify_logfwd_offset *saved;  /* the checkpoint read at start */
    size_t n_saved;
    int ckpt_dirty;
    uv_timer_t tick, kick;
    uint64_t last_poll_ns;
    int full, draining, aborted, stdin_done, freeing;
    unsigned open_handles;
    void (*drain_done)(void *);
    void *drain_arg;
    char rbuf[READ_CHUNK];
    pqify_logfwd_stats st;
    struct {
        pqify_metric *fam[MET_N];
        pqify_metric *conn;
        pqify_series *spool_bytes, *spool_batches, *paused, *reconnects;
        pqify_tls_metrics tls;
        int on;
    } met;
};

static void send_spooled(pqify_logfwd *f);
static void dial(pqify_logfwd *f);
static void kick(pqify_logfwd *f);
static void input_free(struct input *in);
static void check_progress(pqify_logfwd *f);
static void specs_free(pqify_logfwd_input *s, size_t n);

static uint64_t now_ns(void)
{
    return uv_hrtime();
}

static char *dupstr(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* ---- metrics ------------------------------------------------------------------------ */

static pqify_series *tag_series(pqify_logfwd *f, int which, const char *tag)
{
    if (!f->met.on)
        return NULL;
    const char *v[1] = {tag};
    return pqify_metric_series(f->met.fam[which], 1, v);
}

static void add(pqify_series *s, uint64_t n)
{
    if (s != NULL)
        pqify_counter_add(s, n);
}

static void spool_gauges(pqify_logfwd *f)
{
    pqify_spool_stats st;
    pqify_spool_stat(f->spool, &st);
    f->st.spool_batches = st.batches;
    f->st.spool_bytes = st.bytes;
    if (f->met.on) {
        pqify_gauge_set(f->met.spool_bytes, (double)st.bytes);
        pqify_gauge_set(f->met.spool_batches, (double)st.batches);
        pqify_gauge_set(f->met.paused, f->full ? 1 : 0);
    }
}

static int metrics_init(pqify_logfwd *f, pqify_metrics *m)
{
    static const double dur_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    static const char *const names[MET_N][2] = {
        {"pqify_logfwd_events_read_total", "Events read from the inputs, per stream."},
        {"pqify_logfwd_bytes_read_total", "Bytes of lines read from the inputs, per stream."},
        {"pqify_logfwd_events_acked_total", "Events the receiver acknowledged, per stream."},
        {"pqify_logfwd_bytes_acked_total", "Bytes of lines the receiver acknowledged, per stream."},
        {"pqify_logfwd_batches_total", "Batches written to the spool, per stream."},
        {"pqify_logfwd_batches_acked_total", "Batches acknowledged (and removed from the spool), per stream."},
        {"pqify_logfwd_batch_send_duration_seconds",
         "From a batch handed to the TLS stream to its ack, per stream (the seed's Fig. 2)."},
    };
    for (int i = 0; i < MET_N; i++) {
        f->met.fam[i] = i == MET_SEND_DURATION
                            ? pqify_metrics_histogram(m, names[i][0], names[i][1], "stream", dur_bounds,
                                                      sizeof dur_bounds / sizeof dur_bounds[0])
                            : pqify_metrics_counter(m, names[i][0], names[i][1], "stream");
        if (f->met.fam[i] == NULL)
            return -1;
    }
    pqify_metric *sb = pqify_metrics_gauge(m, "pqify_logfwd_spool_bytes", "Bytes in the spool (sent or not, unacked).", NULL);
    pqify_metric *sn = pqify_metrics_gauge(m, "pqify_logfwd_spool_batches", "Batches in the spool.", NULL);
    pqify_metric *pa = pqify_metrics_gauge(m, "pqify_logfwd_inputs_paused", "1 while the spool is full and the inputs are paused.", NULL);
    pqify_metric *rc = pqify_metrics_counter(m, "pqify_logfwd_reconnects_total", "Connections to a receiver lost or given up.", NULL);
    f->met.conn = pqify_metrics_gauge(m, "pqify_logfwd_connection",
                                      "1 for the connection open now, with its receiver and negotiated group.", "to,group");
    if (sb == NULL || sn == NULL || pa == NULL || rc == NULL || f->met.conn == NULL ||
        pqify_tls_metrics_init(&f->met.tls, m) != 0)
        return -1;
    f->met.spool_bytes = pqify_metric_series(sb, 0, NULL);
    f->met.spool_batches = pqify_metric_series(sn, 0, NULL);
    f->met.paused = pqify_metric_series(pa, 0, NULL);
    f->met.reconnects = pqify_metric_series(rc, 0, NULL);
    f->met.on = 1;
    return 0;
}

/* ---- the checkpoint ------------------------------------------------------------------ */

static void checkpoint(pqify_logfwd *f)
{
    int files = f->n_saved > 0;
    for (size_t i = 0; i < f->n_specs; i++)
        files |= f->specs[i].kind == PQIFY_LOGFWD_FILE;
    if (!f->ckpt_dirty || !files)
        return;   /* no file was ever followed: no checkpoint to keep */
    size_t n = 0, cap = 0;
    for (struct input *in = f->inputs; in != NULL; in = in->next)
        if (in->kind == PQIFY_LOGFWD_FILE)
            cap++;
    pqify_logfwd_offset *e = calloc(cap ? cap : 1, sizeof *e);
    if (e == NULL)
        return;
    for (struct input *in = f->inputs; in != NULL; in = in->next) {
        if (in->kind != PQIFY_LOGFWD_FILE)
            continue;
        e[n].dev = in->dev;
        e[n].ino = in->ino;
        e[n].offset = in->committed;
        snprintf(e[n].path, sizeof e[n].path, "%s", in->path);
        n++;
    }
    if (logs_offsets_write(f->ckpt_path, e, n) == 0)
        f->ckpt_dirty = 0;
    else
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot write the checkpoint; retrying", "file", f->ckpt_path,
                  "error", strerror(errno));
    free(e);
}

static void checkpoint_load(pqify_logfwd *f)
{
    FILE *fp = fopen(f->ckpt_path, "rb");
    if (fp == NULL)
        return;
    size_t cap = 1u << 20, len = 0;
    uint8_t *buf = malloc(cap);
    if (buf != NULL)
        len = fread(buf, 1, cap, fp);
    fclose(fp);
    f->saved = calloc(MAX_OFFSETS, sizeof *f->saved);
    if (buf == NULL || f->saved == NULL ||
        pqify_logfwd_offsets_parse(buf, len, f->saved, MAX_OFFSETS, &f->n_saved) != 0) {
        PQIFY_LOG(PQIFY_LOG_WARN, "checkpoint unreadable; files are read from their start",
                  "file", f->ckpt_path);
        f->n_saved = 0;
    }
    free(buf);
}

/* ---- batches ------------------------------------------------------------------------- */

static int pend_push(pqify_logfwd *f, const char *chunk, const char *tag, uint64_t events,
                     uint64_t bytes)
{
    if (f->n_pend == f->cap_pend) {
        size_t cap = f->cap_pend ? f->cap_pend * 2 : 64;
        struct pend *p = realloc(f->pend, cap * sizeof *p);
        if (p == NULL)
            return -1;
        f->pend = p;
        f->cap_pend = cap;
    }
    struct pend *p = &f->pend[f->n_pend];
    memset(p, 0, sizeof *p);
    snprintf(p->chunk, sizeof p->chunk, "%s", chunk);
    p->tag = strdup(tag);
    if (p->tag == NULL)
        return -1;
    p->events = events;
    p->bytes = bytes;
    f->n_pend++;
    return 0;
}

/* Spool the input's open batch. 0 done (or nothing to do), 1 no room (the input
 * waits, and every input pauses until an ack frees room). */
static int flush_input(struct input *in)
{
    pqify_logfwd *f = in->f;
    if (in->batch.n_events == 0)
        return 0;
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], err[300];
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    pqify_fwd_compression c = f->o.no_compression ? PQIFY_FWD_NONE
                              : f->o.compression != PQIFY_FWD_NONE ? f->o.compression
                                                                   : PQIFY_FWD_DEFAULT_COMPRESSION;
    if (pqify_fwd_chunk_id(chunk) != 0 ||
        pqify_fwd_encode_packed(&in->batch, in->tag, strlen(in->tag), c, chunk, &out) != 0) {
        msgpack_sbuffer_destroy(&out);
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot encode a batch; retrying", "stream", in->tag);
        in->blocked = 1;
        return 1;
    }
    uint64_t id;
    int rc = pqify_spool_put(f->spool, chunk, (const uint8_t *)out.data, out.size, &id, err, sizeof err);
    msgpack_sbuffer_destroy(&out);
    if (rc == 0 && pend_push(f, chunk, in->tag, in->batch.n_events, in->raw_bytes) != 0) {
        /* the batch is on disk: it is sent and acked after a restart at the latest */
        PQIFY_LOG(PQIFY_LOG_ERROR, "out of memory tracking a batch");
    }
    if (rc != 0) {
        if (!f->full)
            PQIFY_LOG(PQIFY_LOG_WARN,
                      rc == PQIFY_LOGS_ERR_SPOOL_FULL ? "spool full; inputs paused until acks free room"
                                                      : "spool write failed; inputs paused, retrying",
                      "error", rc == PQIFY_LOGS_ERR_SPOOL_FULL ? "full" : err);
        in->blocked = 1;
        f->full = 1;
        f->st.paused = 1;
        spool_gauges(f);
        return 1;
    }
    f->st.batches_spooled++;
    add(in->met[MET_BATCHES], 1);
    pqify_fwd_batch_reset(&in->batch);
    in->batch_bytes = 0;
    in->raw_bytes = 0;
    in->blocked = 0;
    if (in->kind == PQIFY_LOGFWD_FILE) {
        in->committed = in->batch_end_off;
        f->ckpt_dirty = 1;
        checkpoint(f);
    }
    spool_gauges(f);
    send_spooled(f);
    return 0;
}

static void add_line(struct input *in, const char *line, size_t len)
{
    pqify_logfwd *f = in->f;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t before = in->batch.entries.size;
    int rc = -1;
    /* The socket's contract is JSON lines: an object becomes the record itself. Any
     * other line (and every line of a file or stdin) is {"message": LINE}, packed
     * straight into the batch: no allocation per line. */
    if (in->kind == PQIFY_LOGFWD_SOCKET) {
        in->rec.size = 0;
        if (pqify_logs_json_to_msgpack(line, len, &in->rec) == 0)
            rc = pqify_fwd_batch_add_raw(&in->batch, ts.tv_sec, (uint32_t)ts.tv_nsec,
                                         (const uint8_t *)in->rec.data, in->rec.size);
    }
    if (rc != 0)
        rc = pqify_fwd_batch_add_message(&in->batch, ts.tv_sec, (uint32_t)ts.tv_nsec, line, len);
    if (rc != 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot add an event to a batch", "stream", in->tag);
    } else {
        if (in->batch.n_events == 1)
            in->batch_start_ns = now_ns();
        in->batch_bytes += in->batch.entries.size - before;
        in->raw_bytes += len;
        f->st.events_read++;
        add(in->met[MET_EVENTS_READ], 1);
        add(in->met[MET_BYTES_READ], len);
    }
    if (!in->blocked &&
        (in->batch_bytes >= f->o.batch_bytes || in->batch.n_events >= f->o.batch_events))
        (void)flush_input(in);
}

/* Cut bytes into lines. base: the file offset of data[0] (FILE only). */
static void take_bytes(struct input *in, const char *data, size_t n, uint64_t base)
{
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - data) : n;
        size_t piece = end - i;
        if (nl != NULL)
            in->batch_end_off = base + end + 1;   /* before add_line: it may spool the batch */
        if (in->line_len == 0 && nl != NULL && piece <= in->f->o.max_line) {
            add_line(in, data + i, piece);   /* the common case: no copy */
        } else {
            size_t room = in->f->o.max_line > in->line_len ? in->f->o.max_line - in->line_len : 0;
            size_t take = piece < room ? piece : room;   /* past max_line a line is cut */
            if (in->line_len + take > in->line_cap) {
                size_t cap = in->line_cap ? in->line_cap : 4096;
                while (cap < in->line_len + take)
                    cap *= 2;
                char *p = realloc(in->line, cap);
                if (p != NULL) {
                    in->line = p;
                    in->line_cap = cap;
                } else {
                    take = 0;
                }
            }
            if (take > 0)
                memcpy(in->line + in->line_len, data + i, take);
            in->line_len += take;
            if (nl != NULL) {
                add_line(in, in->line, in->line_len);
                in->line_len = 0;
            }
        }
        if (nl == NULL)
            break;
        i = end + 1;
    }
}

/* ---- inputs ------------------------------------------------------------------------- */

static int paused(const pqify_logfwd *f)
{
    return f->full || f->aborted || f->freeing;
}

static struct input *input_new(pqify_logfwd *f, pqify_logfwd_input_kind kind, const char *tag,
                               const char *spec)
{
    struct input *in = calloc(1, sizeof *in);
    if (in == NULL)
        return NULL;
    in->f = f;
    in->kind = kind;
    in->fd = -1;
    in->tag = dupstr(tag);
    in->spec = dupstr(spec);
    if (in->tag == NULL || (spec != NULL && in->spec == NULL)) {
        free(in->tag);
        free(in->spec);
        free(in);
        return NULL;
    }
    pqify_fwd_batch_init(&in->batch);
    msgpack_sbuffer_init(&in->rec);
    for (int i = 0; i < MET_N; i++)
        in->met[i] = i == MET_EVENTS_ACKED || i == MET_BYTES_ACKED || i == MET_BATCHES_ACKED ||
                             i == MET_SEND_DURATION
                         ? NULL
                         : tag_series(f, i, tag);
    in->next = f->inputs;
    f->inputs = in;
    return in;
}

static void input_unlink(struct input *in)
{
    pqify_logfwd *f = in->f;
    for (struct input **pp = &f->inputs; *pp != NULL; pp = &(*pp)->next)
        if (*pp == in) {
            *pp = in->next;
            break;
        }
}

static void handle_closed(uv_handle_t *h)
{
    struct input *in = h->data;
    free(h);
    if (in != NULL) {
        in->h = NULL;
        if (in->closing && in->batch.n_events == 0 && !in->fs_busy)
            input_free(in);
    }
}

static void input_free(struct input *in)
{
    pqify_logfwd *f = in->f;
    if (in->h != NULL) {   /* after its handle closes */
        if (!uv_is_closing((uv_handle_t *)in->h))
            uv_close((uv_handle_t *)in->h, handle_closed);
        in->closing = 1;
        return;
    }
    if (in->fs_busy) {
        in->closing = 1;
        return;
    }
    input_unlink(in);
    if (in->fd >= 0)
        close(in->fd);
    if (in->kind == PQIFY_LOGFWD_FILE)
        f->ckpt_dirty = 1;
    pqify_fwd_batch_free(&in->batch);
    msgpack_sbuffer_destroy(&in->rec);
    free(in->line);
    free(in->rbuf);
    free(in->tag);
    free(in->spec);
    free(in->path);
    free(in);
    check_progress(f);
}

/* The input is finished (EOF, removed, rotated away): spool what it holds, then go. */
static void input_finish(struct input *in)
{
    if (in->line_len > 0) {   /* a last line without its newline */
        add_line(in, in->line, in->line_len);
        in->line_len = 0;
        if (in->kind == PQIFY_LOGFWD_FILE)
            in->batch_end_off = in->read_off;
    }
    in->closing = 1;
    if (flush_input(in) == 0) {
        if (in->kind == PQIFY_LOGFWD_FILE) {
            checkpoint(in->f);
        }
        input_free(in);
    }
}

/* -- a file -- */

static void file_pump(struct input *in)
{
    pqify_logfwd *f = in->f;
    size_t budget = FILE_BUDGET;
    while (!paused(f) && !in->blocked && !in->closing && in->fd >= 0 && budget > 0) {
        ssize_t n = pread(in->fd, f->rbuf, sizeof f->rbuf, (off_t)in->read_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            PQIFY_LOG(PQIFY_LOG_ERROR, "reading a file failed; retrying", "file", in->path,
                      "error", strerror(errno));
            return;
        }
        if (n == 0)
            return;
        in->quiet_since = now_ns();
        take_bytes(in, f->rbuf, (size_t)n, in->read_off);
        in->read_off += (uint64_t)n;
        budget -= (size_t)n < budget ? (size_t)n : budget;
    }
    if (budget == 0)
        kick(f);   /* more to read: after the other inputs had their turn */
}

static uint64_t saved_offset(pqify_logfwd *f, uint64_t dev, uint64_t ino, uint64_t size)
{
    for (size_t i = 0; i < f->n_saved; i++)
        if (f->saved[i].dev == dev && f->saved[i].ino == ino)
            return f->saved[i].offset <= size ? f->saved[i].offset : 0;   /* shrank: from 0 */
    return 0;
}

static void file_open(pqify_logfwd *f, const pqify_logfwd_input *spec, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct input *in = input_new(f, PQIFY_LOGFWD_FILE, spec->tag, spec->path);
    if (in == NULL || (in->path = strdup(path)) == NULL) {
        close(fd);
        if (in != NULL)
            input_free(in);
        return;
    }
    in->fd = fd;
    in->dev = (uint64_t)st.st_dev;
    in->ino = (uint64_t)st.st_ino;
    in->read_off = saved_offset(f, in->dev, in->ino, (uint64_t)st.st_size);
    in->batch_end_off = in->committed = in->read_off;
    in->quiet_since = now_ns();
    f->ckpt_dirty = 1;
    char off[21];
    PQIFY_LOG(PQIFY_LOG_INFO, "following a file", "file", path, "stream", spec->tag, "offset",
              pqify_log_u64(off, in->read_off));
}

/* One look at the files: new matches, rotation, truncation, closing rotated ones. */
static void files_poll(pqify_logfwd *f)
{
    if (f->aborted || f->draining)
        return;
    uint64_t now = now_ns();
    for (size_t s = 0; s < f->n_specs; s++) {
        const pqify_logfwd_input *spec = &f->specs[s];
        if (spec->kind != PQIFY_LOGFWD_FILE)
            continue;
        glob_t g;
        if (glob(spec->path, GLOB_NOSORT, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *path = g.gl_pathv[i];
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            struct input *same = NULL, *at_path = NULL;
            for (struct input *in = f->inputs; in != NULL; in = in->next) {
                if (in->kind != PQIFY_LOGFWD_FILE)
                    continue;
                if (in->dev == (uint64_t)st.st_dev && in->ino == (uint64_t)st.st_ino)
                    same = in;
                else if (!in->rotated && strcmp(in->path, path) == 0)
                    at_path = in;
            }
            if (at_path != NULL) {   /* the path names another file now: rotated */
                at_path->rotated = 1;
                PQIFY_LOG(PQIFY_LOG_INFO, "file rotated; reading the old one to its end", "file", path);
            }
            if (same != NULL) {   /* a file renamed to a name the glob also matches */
                if (strcmp(same->path, path) != 0) {
                    char *p = strdup(path);
                    if (p != NULL) {
                        free(same->path);
                        same->path = p;
                        f->ckpt_dirty = 1;
                    }
                }
                same->rotated = 0;
                continue;
            }
            file_open(f, spec, path);
        }
        globfree(&g);
    }
    for (struct input *in = f->inputs, *next; in != NULL; in = next) {
        next = in->next;
        if (in->kind != PQIFY_LOGFWD_FILE || in->closing)
            continue;
        struct stat st, pst;
        if (fstat(in->fd, &st) == 0 && (uint64_t)st.st_size < in->read_off) {
            /* truncated: what was read of it is spooled first, then from 0 */
            if (in->batch.n_events > 0 && flush_input(in) != 0)
                continue;
            PQIFY_LOG(PQIFY_LOG_INFO, "file truncated; reading it from the start", "file", in->path);
            in->line_len = 0;
            in->read_off = in->batch_end_off = in->committed = 0;
            f->ckpt_dirty = 1;
            checkpoint(f);
        }
        if (!in->rotated && (stat(in->path, &pst) != 0 || (uint64_t)pst.st_ino != in->ino ||
                             (uint64_t)pst.st_dev != in->dev))
            in->rotated = 1;   /* renamed to a name the glob does not match, or deleted */
        if (in->rotated && fstat(in->fd, &st) == 0 && (uint64_t)st.st_size <= in->read_off &&
            now - in->quiet_since >= (uint64_t)QUIET_MS * 1000000u)
            input_finish(in);
        else if (in->removed)
            input_finish(in);
    }
    if (f->ckpt_dirty)
        checkpoint(f);
}

/* -- stdin and socket connections: libuv streams -- */

static void stream_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct input *in = h->data;
    if (in->rbuf == NULL)
        in->rbuf = malloc(READ_CHUNK);
    *buf = uv_buf_init(in->rbuf, in->rbuf ? READ_CHUNK : 0);
}

static void stream_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct input *in = h->data;
    if (n > 0) {
        take_bytes(in, in->rbuf, (size_t)n, 0);
        if (paused(in->f) || in->blocked) {
            uv_read_stop(h);   /* the writer blocks; read again when room is back */
            in->reading = 0;
        }
        return;
    }
    if (n == 0)
        return;
    if (n != UV_EOF)
        PQIFY_LOG(PQIFY_LOG_WARN, "input read failed", "stream", in->tag, "error", uv_strerror((int)n));
    uv_read_stop(h);
    in->reading = 0;
    in->eof = 1;
    if (in->kind == PQIFY_LOGFWD_STDIN) {
        if (in->line_len > 0) {
            add_line(in, in->line, in->line_len);
            in->line_len = 0;
        }
        (void)flush_input(in);
        check_progress(in->f);
        return;
    }
    input_finish(in);
}

static void stream_resume(struct input *in)
{
    if (in->h == NULL || in->reading || in->eof || in->closing || in->blocked || paused(in->f) ||
        in->f->draining)
        return;
    if (uv_read_start(in->h, stream_alloc, stream_read) == 0)
        in->reading = 1;
}

static void stdin_fs_read(struct input *in);

static void stdin_fs_done(uv_fs_t *req)
{
    struct input *in = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    in->fs_busy = 0;
    if (in->orphan) {   /* the forwarder was freed while this read ran */
        free(in->rbuf);
        free(in);
        return;
    }
    if (n > 0) {
        take_bytes(in, in->rbuf, (size_t)n, 0);
    } else {
        if (n < 0)
            PQIFY_LOG(PQIFY_LOG_ERROR, "reading stdin failed", "error", uv_strerror((int)n));
        in->eof = 1;
        if (in->line_len > 0) {
            add_line(in, in->line, in->line_len);
            in->line_len = 0;
        }
        (void)flush_input(in);
    }
    if (in->closing) {
        input_free(in);
        return;
    }
    stdin_fs_read(in);
    check_progress(in->f);
}

static void stdin_fs_read(struct input *in)
{
    if (in->fs_busy || in->eof || in->closing || in->blocked || paused(in->f) || in->f->draining)
        return;
    if (in->rbuf == NULL && (in->rbuf = malloc(READ_CHUNK)) == NULL)
        return;
    in->req.data = in;
    uv_buf_t b = uv_buf_init(in->rbuf, READ_CHUNK);
    if (uv_fs_read(in->f->loop, &in->req, 0, &b, 1, -1, stdin_fs_done) == 0)
        in->fs_busy = 1;
}

static int stdin_open(pqify_logfwd *f, const char *tag)
{
    struct input *in = input_new(f, PQIFY_LOGFWD_STDIN, tag, NULL);
    if (in == NULL)
        return -1;
    uv_handle_type t = uv_guess_handle(0);
    if (t == UV_NAMED_PIPE || t == UV_TTY) {
        uv_stream_t *h = malloc(t == UV_TTY ? sizeof(uv_tty_t) : sizeof(uv_pipe_t));
        int rc = h == NULL ? -1
                 : t == UV_TTY ? uv_tty_init(f->loop, (uv_tty_t *)h, 0, 0)
                               : uv_pipe_init(f->loop, (uv_pipe_t *)h, 0);
        if (rc == 0 && t == UV_NAMED_PIPE)
            rc = uv_pipe_open((uv_pipe_t *)h, 0);
        if (rc != 0) {
            free(h);
            return -1;
        }
        h->data = in;
        in->h = h;
        stream_resume(in);
    } else {
        stdin_fs_read(in);   /* a regular file (or /dev/null) */
    }
    return 0;
}

static void on_sock_conn(uv_stream_t *server, int status)
{
    struct sock *sk = server->data;
    pqify_logfwd *f = sk->f;
    if (status != 0)
        return;
    uv_pipe_t *p = malloc(sizeof *p);
    if (p == NULL || uv_pipe_init(f->loop, p, 0) != 0) {
        free(p);
        return;
    }
    p->data = NULL;
    struct input *in = NULL;
    if (uv_accept(server, (uv_stream_t *)p) != 0 || f->draining ||
        (in = input_new(f, PQIFY_LOGFWD_SOCKET, sk->tag, sk->path)) == NULL) {
        uv_close((uv_handle_t *)p, handle_closed);
        return;
    }
    p->data = in;
    in->h = (uv_stream_t *)p;
    stream_resume(in);
}

static void sock_closed(uv_handle_t *h)
{
    struct sock *sk = h->data;
    free(sk->path);
    free(sk->tag);
    free(sk);
}

static int sock_open(pqify_logfwd *f, const pqify_logfwd_input *spec, char *err, size_t cap)
{
    struct sock *sk = calloc(1, sizeof *sk);
    if (sk == NULL)
        return -1;
    sk->f = f;
    sk->path = dupstr(spec->path);
    sk->tag = dupstr(spec->tag);
    uv_pipe_init(f->loop, &sk->pipe, 0);
    sk->pipe.data = sk;
    struct stat st;
    /* a socket left by a previous run is ours to replace; any other file is not */
    if (lstat(spec->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(spec->path);
    int rc = sk->path == NULL || sk->tag == NULL ? UV_ENOMEM : uv_pipe_bind(&sk->pipe, spec->path);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&sk->pipe, 128, on_sock_conn);
    if (rc != 0) {
        snprintf(err, cap, "socket %s: %s", spec->path, uv_strerror(rc));
        uv_close((uv_handle_t *)&sk->pipe, sock_closed);
        return -1;
    }
    sk->next = f->socks;
    f->socks = sk;
    PQIFY_LOG(PQIFY_LOG_INFO, "reading JSON lines from a socket", "socket", spec->path, "stream", spec->tag);
    return 0;
}

static void sock_close(pqify_logfwd *f, struct sock *sk)
{
    for (struct sock **pp = &f->socks; *pp != NULL; pp = &(*pp)->next)
        if (*pp == sk) {
            *pp = sk->next;
            break;
        }
    unlink(sk->path);
    uv_close((uv_handle_t *)&sk->pipe, sock_closed);
}

/* After room came back (an ack) or on the tick: spool what waited, then read again. */
static void resume_inputs(pqify_logfwd *f)
{
    if (f->full) {
        f->full = 0;
        for (struct input *in = f->inputs, *next; in != NULL; in = next) {
            next = in->next;
            if (!in->blocked)
                continue;
            if (flush_input(in) != 0)
                break;
            if (in->closing)
                input_finish(in);
        }
        if (!f->full) {
            f->st.paused = 0;
            spool_gauges(f);
        }
    }
    if (f->full)
        return;
    for (struct input *in = f->inputs, *next; in != NULL; in = next) {
        next = in->next;
        if (in->kind == PQIFY_LOGFWD_FILE)
            file_pump(in);
        else if (in->kind == PQIFY_LOGFWD_STDIN && in->h == NULL)
            stdin_fs_read(in);
        else
            stream_resume(in);
    }
}

static void on_kick(uv_timer_t *t)
{
    resume_inputs(t->data);
}

static void kick(pqify_logfwd *f)
{
    if (!f->freeing && !uv_is_active((uv_handle_t *)&f->kick))
        uv_timer_start(&f->kick, on_kick, 0, 0);
}

/* ---- the connection ------------------------------------------------------------------- */

/* Done (drained, or stdin's end): nothing keeps the loop alive any more, so it ends
 * once the connection's close_notify is out; pqify_logfwd_free then closes the rest. */
static void quiesce(pqify_logfwd *f)
{
    uv_timer_stop(&f->tick);
    uv_timer_stop(&f->kick);
    for (unsigned i = 0; i < f->n_t; i++)
        pqify_dialer_stop(f->t[i].dialer);
    f->dialing = 0;
    if (f->s != NULL)
        pqify_stream_close(f->s);
}

static void free_mem(pqify_logfwd *f)
{
    if (!f->freeing || f->open_handles > 0 || f->s != NULL)
        return;
    specs_free(f->specs, f->n_specs);
    for (size_t i = 0; i < f->n_pend; i++)
        free(f->pend[i].tag);
    free(f->pend);
    free(f->saved);
    free(f->spool_dir);
    free(f->ckpt_path);
    free(f);
}

/* stdin's end, the drain's end. */
static void check_progress(pqify_logfwd *f)
{
    if (f->freeing)
        return;
    if (f->draining) {
        int left = f->n_pend > 0;
        for (struct input *in = f->inputs; in != NULL; in = in->next)
            left |= in->batch.n_events > 0;
        if ((!left || f->aborted) && f->drain_done != NULL) {
            void (*done)(void *) = f->drain_done;
            f->drain_done = NULL;
            quiesce(f);
            done(f->drain_arg);
        }
        return;
    }
    if (f->stdin_done || f->o.on_stdin_done == NULL)
        return;
    struct input *in = f->inputs;
    if (in == NULL || in->next != NULL || in->kind != PQIFY_LOGFWD_STDIN || !in->eof ||
        in->batch.n_events > 0 || f->n_pend > 0 || f->n_specs != 1)
        return;
    f->stdin_done = 1;
    quiesce(f);
    f->o.on_stdin_done(f->o.ctx);
}

static void send_spooled(pqify_logfwd *f)
{
    if (f->s == NULL || !f->established || f->auth != AUTH_DONE)
        return;
    while (f->n_sent < f->n_pend && f->n_sent < SEND_WINDOW) {
        uint64_t id;
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
        uint8_t *data;
        size_t len;
        if (pqify_spool_get(f->spool, f->n_sent, &id, chunk, &data, &len) != 0)
            return;
        int rc = pqify_stream_send(f->s, data, len);
        free(data);
        if (rc != 0)
            return;
        f->pend[f->n_sent].sent_ns = now_ns();
        f->n_sent++;
    }
}

static void on_ack(pqify_logfwd *f, const uint8_t *chunk, size_t len)
{
    size_t i = 0;
    while (i < f->n_pend && !(strlen(f->pend[i].chunk) == len && memcmp(f->pend[i].chunk, chunk, len) == 0))
        i++;
    if (pqify_spool_ack(f->spool, (const char *)chunk, len) != 0 || i == f->n_pend)
        return;   /* not ours (or acked twice): nothing to remove */
    struct pend *p = &f->pend[i];
    if (f->met.on) {
        const char *v[1] = {p->tag};
        add(pqify_metric_series(f->met.fam[MET_EVENTS_ACKED], 1, v), p->events);
        add(pqify_metric_series(f->met.fam[MET_BYTES_ACKED], 1, v), p->bytes);
        add(pqify_metric_series(f->met.fam[MET_BATCHES_ACKED], 1, v), 1);
        pqify_series *d = pqify_metric_series(f->met.fam[MET_SEND_DURATION], 1, v);
        if (d != NULL && p->sent_ns != 0)
            pqify_histogram_observe(d, (double)(now_ns() - p->sent_ns) / 1e9);
    }
    if (f->o.on_ack_sample != NULL && p->sent_ns != 0)
        f->o.on_ack_sample(f->o.ctx, (double)(now_ns() - p->sent_ns) / 1e9);
    f->st.events_acked += p->events;
    f->st.batches_acked++;
    free(p->tag);
    memmove(p, p + 1, (f->n_pend - i - 1) * sizeof *p);
    f->n_pend--;
    if (i < f->n_sent)
        f->n_sent--;
}

static void conn_gauge(pqify_logfwd *f, double v)
{
    if (!f->met.on || f->group[0] == '\0')
        return;
    char to[300];
    snprintf(to, sizeof to, "%s:%s", f->t[f->cur].host, f->t[f->cur].port);
    const char *lv[2] = {to, f->group};
    pqify_series *s = pqify_metric_series(f->met.conn, 2, lv);
    if (s != NULL)
        pqify_gauge_set(s, v);
}

static void on_handshake(pqify_stream *s, void *ctx)
{
    pqify_logfwd *f = ctx;
    f->established = 1;
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    snprintf(f->group, sizeof f->group, "%s", info.group);
    snprintf(f->st.group, sizeof f->st.group, "%s", info.group);
    f->st.handshake_us = info.handshake_us;
    if (f->met.on)
        pqify_tls_metrics_handshake_info(&f->met.tls, &info, 0);
    conn_gauge(f, 1);
    f->auth = f->o.shared_key != NULL ? AUTH_WAIT_HELO : AUTH_DONE;
    f->auth_start_ns = now_ns();
    char us[21];
    PQIFY_LOG(PQIFY_LOG_INFO, "connected", "to", pqify_stream_peer(s), "group", info.group, "pq",
              info.is_pq ? "yes" : "no", "handshake_us", pqify_log_u64(us, info.handshake_us));
    send_spooled(f);
    check_progress(f);
}

/* [Forward v1 "Handshake Messages"]: HELO gives a nonce; our PING proves the key
 * (sha512_hex(salt ‖ our hostname ‖ nonce ‖ key)); the PONG proves the receiver's. */
static int auth_step(pqify_logfwd *f, const pqify_fwd_msg *m)
{
    pqify_fwd_bytes key = {(const uint8_t *)(f->o.shared_key ? f->o.shared_key : ""),
                           f->o.shared_key ? strlen(f->o.shared_key) : 0};
    pqify_fwd_bytes salt = {(const uint8_t *)f->salt, strlen(f->salt)};
    pqify_fwd_bytes none = {(const uint8_t *)"", 0};
    if (m->kind == PQIFY_FWD_HELO) {
        if (f->o.shared_key == NULL) {
            PQIFY_LOG(PQIFY_LOG_ERROR, "the receiver asks for the shared-key handshake; set security.shared_key");
            return -1;
        }
        if (f->auth != AUTH_WAIT_HELO || m->nonce.len == 0 || m->nonce.len > sizeof f->nonce) {
            PQIFY_LOG(PQIFY_LOG_ERROR, "the receiver sent a HELO out of place or with a bad nonce");
            return -1;
        }
        memcpy(f->nonce, m->nonce.ptr, m->nonce.len);
        f->nonce_len = m->nonce.len;
        uint8_t r[16];
        if (RAND_bytes(r, sizeof r) != 1)
            return -1;
        for (size_t i = 0; i < sizeof r; i++)
            snprintf(f->salt + 2 * i, 3, "%02x", r[i]);
        salt.len = strlen(f->salt);
        pqify_fwd_bytes nonce = {f->nonce, f->nonce_len};
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        int ok = pqify_fwd_encode_ping(f->o.self_hostname, salt, nonce, key, NULL, NULL, none, &out) == 0 &&
                 pqify_stream_send(f->s, out.data, out.size) == 0;
        msgpack_sbuffer_destroy(&out);
        f->auth = AUTH_WAIT_PONG;
        return ok ? 0 : -1;
    }
    if (f->auth != AUTH_WAIT_PONG) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "the receiver sent a PONG out of place");
        return -1;
    }
    pqify_fwd_bytes nonce = {f->nonce, f->nonce_len};
    int rc = pqify_fwd_check_pong(m, f->o.self_hostname, salt, nonce, key);
    if (rc != 0) {
        char reason[256];
        snprintf(reason, sizeof reason, "%.*s", (int)(m->reason.len < 255 ? m->reason.len : 255),
                 m->reason.ptr ? (const char *)m->reason.ptr : "");
        PQIFY_LOG(PQIFY_LOG_ERROR,
                  rc == PQIFY_LOGS_ERR_AUTH_REFUSED ? "the receiver refused our shared key"
                  : rc == PQIFY_LOGS_ERR_SAME_HOST  ? "the receiver has our hostname: set security.self_hostname"
                                                    : "the receiver's PONG does not prove the shared key",
                  "reason", reason[0] ? reason : "-");
        return -1;
    }
    f->auth = AUTH_DONE;
    PQIFY_LOG(PQIFY_LOG_INFO, "shared key accepted");
    return 0;
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    pqify_logfwd *f = ctx;
    int acked = 0;
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
        if (m.kind == PQIFY_FWD_HELO || m.kind == PQIFY_FWD_PONG) {
            if (auth_step(f, &m) != 0) {
                pqify_stream_abort(s);
                return;
            }
            acked = 1;   /* authenticated: what is spooled goes now */
            continue;
        }
        if (m.kind == PQIFY_FWD_ACK) {
            on_ack(f, m.chunk.ptr, m.chunk.len);
            acked = 1;
        }
    }
    if (!acked)
        return;
    spool_gauges(f);
    send_spooled(f);
    resume_inputs(f);
    check_progress(f);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    pqify_logfwd *f = ctx;
    conn_gauge(f, 0);
    f->group[0] = '\0';
    f->s = NULL;
    f->established = 0;
    f->n_sent = 0;
    pqify_fwd_decoder_free(f->dec);
    f->dec = NULL;
    if (f->freeing) {
        free_mem(f);
        return;
    }
    if (f->aborted || (f->draining && f->drain_done == NULL) || f->stdin_done)
        return;
    f->st.reconnects++;
    if (f->met.on)
        pqify_counter_add(f->met.reconnects, 1);
    PQIFY_LOG(PQIFY_LOG_WARN, "connection lost; unacked batches will be resent", "why",
              pqify_stream_strerror(status));
    f->cur = (f->cur + 1) % f->n_t;   /* fail over */
    dial(f);
}

static const pqify_stream_cbs fwd_cbs = {on_handshake, on_data, NULL, on_close};

static void on_dialed(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    pqify_logfwd *f = ctx;
    f->dialing = 0;
    int stop = f->freeing || f->aborted || f->stdin_done || (f->draining && f->drain_done == NULL);
    if (status != 0 || stop) {
        if (tcp != NULL)
            uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
        if (status != 0 && !stop) {   /* this receiver gave up: the next one */
            f->cur = (f->cur + 1) % f->n_t;
            dial(f);
        }
        return;
    }
    f->dec = pqify_fwd_decoder_new(PQIFY_FWD_CLIENT, NULL);
    pqify_stream_opts so = {.handshake_timeout_ms = f->o.handshake_ms};
    if (f->dec == NULL || pqify_stream_connect(f->loop, tcp, f->o.tls, &so, &fwd_cbs, f, &f->s) != 0) {
        f->s = NULL;
        f->cur = (f->cur + 1) % f->n_t;
        dial(f);
    }
}

static void on_retry(pqify_dialer *d, int status, uint64_t delay_ms, void *ctx)
{
    (void)d;
    pqify_logfwd *f = ctx;
    char ms[21];
    PQIFY_LOG(PQIFY_LOG_WARN, "connect failed", "to", f->t[f->cur].host, "port", f->t[f->cur].port,
              "error", uv_strerror(status), "retry_ms", pqify_log_u64(ms, delay_ms));
}

static void dial(pqify_logfwd *f)
{
    if (f->freeing || f->aborted || f->dialing || f->s != NULL)
        return;
    f->dialing = 1;
    if (pqify_dialer_start(f->t[f->cur].dialer) != 0)
        f->dialing = 0;
}

/* ---- the tick: batch delays, file polls, ack timeouts, retries ------------------------ */

static void on_tick(uv_timer_t *t)
{
    pqify_logfwd *f = t->data;
    uint64_t now = now_ns();
    for (struct input *in = f->inputs, *next; in != NULL; in = next) {
        next = in->next;
        if (in->batch.n_events > 0 && !in->blocked &&
            now - in->batch_start_ns >= (uint64_t)f->o.batch_ms * 1000000u)
            (void)flush_input(in);
    }
    if (now - f->last_poll_ns >= (uint64_t)f->o.poll_ms * 1000000u) {
        f->last_poll_ns = now;
        files_poll(f);
        resume_inputs(f);   /* also retries a spool write that failed */
    }
    now = now_ns();   /* the poll above may have sent batches after the first reading */
    if (f->s != NULL && f->established && f->auth != AUTH_DONE && now > f->auth_start_ns &&
        now - f->auth_start_ns >= (uint64_t)f->o.ack_timeout_ms * 1000000u) {
        PQIFY_LOG(PQIFY_LOG_ERROR, f->auth == AUTH_WAIT_HELO
                                       ? "no HELO from the receiver: is a shared key configured there?"
                                       : "no PONG from the receiver; reconnecting");
        pqify_stream_abort(f->s);
        return;
    }
    if (f->s != NULL && f->established && f->n_sent > 0 && now > f->pend[0].sent_ns &&
        now - f->pend[0].sent_ns >= (uint64_t)f->o.ack_timeout_ms * 1000000u) {
        char ms[21];
        PQIFY_LOG(PQIFY_LOG_WARN, "no ack in time; reconnecting", "after_ms",
                  pqify_log_u64(ms, f->o.ack_timeout_ms));
        pqify_stream_abort(f->s);
    }
    check_progress(f);
}

/* ---- life -------------------------------------------------------------------------- */

static int specs_copy(const pqify_logfwd_input *in, size_t n, pqify_logfwd_input **out)
{
    pqify_logfwd_input *s = calloc(n ? n : 1, sizeof *s);
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        s[i].kind = in[i].kind;
        s[i].path = dupstr(in[i].path);
        s[i].tag = dupstr(in[i].tag);
    }
    *out = s;
    return 0;
}

static void specs_free(pqify_logfwd_input *s, size_t n)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        free((char *)s[i].path);
        free((char *)s[i].tag);
    }
    free(s);
}

static int same_spec(const pqify_logfwd_input *a, const pqify_logfwd_input *b)
{
    return a->kind == b->kind && strcmp(a->tag, b->tag) == 0 &&
           ((a->path == NULL && b->path == NULL) ||
            (a->path != NULL && b->path != NULL && strcmp(a->path, b->path) == 0));
}

static int resume_spool(pqify_logfwd *f)
{
    pqify_spool_stats st;
    pqify_spool_stat(f->spool, &st);
    for (size_t i = 0; i < st.batches; i++) {
        uint64_t id;
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
        uint8_t *data;
        size_t len;
        if (pqify_spool_get(f->spool, i, &id, chunk, &data, &len) != 0)
            return -1;
        /* the stream and event count, for the metrics, from the batch itself */
        pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
        const uint8_t *p = data;
        size_t left = len;
        pqify_fwd_msg m;
        char tag[256] = "unknown";
        uint64_t events = 0;
        if (d != NULL && pqify_fwd_decode(d, &p, &left, &m) == 1 && m.kind == PQIFY_FWD_EVENTS) {
            snprintf(tag, sizeof tag, "%.*s", (int)(m.tag.len < 255 ? m.tag.len : 255), m.tag.ptr);
            events = m.n_events;
        }
        pqify_fwd_decoder_free(d);
        free(data);
        if (pend_push(f, chunk, tag, events, 0) != 0)
            return -1;
    }
    return 0;
}

int pqify_logfwd_start(uv_loop_t *loop, const pqify_logfwd_options *o,
                       const pqify_logfwd_input *inputs, size_t n_inputs, pqify_logfwd **out,
                       char *err, size_t cap)
{
    pqify_logfwd *f = calloc(1, sizeof *f);
    *out = NULL;
    if (f == NULL) {
        snprintf(err, cap, "out of memory");
        return PQIFY_LOGS_ERR_NOMEM;
    }
    f->o = *o;
    f->loop = loop;
    if (f->o.spool_max_bytes == 0)
        f->o.spool_max_bytes = 256u << 20;
    if (f->o.batch_bytes == 0)
        f->o.batch_bytes = 1u << 20;
    if (f->o.batch_events == 0)
        f->o.batch_events = 10000;
    if (f->o.batch_ms == 0)
        f->o.batch_ms = 200;
    if (f->o.poll_ms == 0)
        f->o.poll_ms = 250;
    if (f->o.ack_timeout_ms == 0)
        f->o.ack_timeout_ms = 30000;
    if (f->o.max_line == 0)
        f->o.max_line = 1u << 20;
    if (o->n_targets == 0 || o->n_targets > MAX_TARGETS) {
        snprintf(err, cap, "between 1 and %d receivers", MAX_TARGETS);
        goto fail;
    }
    for (size_t i = 0; i < o->n_targets; i++) {
        if (pqify_net_split_hostport(o->targets[i], f->t[i].host, sizeof f->t[i].host,
                                     f->t[i].port, sizeof f->t[i].port) != 0) {
            snprintf(err, cap, "receiver '%s' is not HOST:PORT", o->targets[i]);
            goto fail;
        }
    }
    f->n_t = (unsigned)o->n_targets;
    f->spool_dir = dupstr(o->spool_dir);
    size_t clen = strlen(o->spool_dir) + 16;
    f->ckpt_path = o->checkpoint ? dupstr(o->checkpoint) : malloc(clen);
    if (f->spool_dir == NULL || f->ckpt_path == NULL) {
        snprintf(err, cap, "out of memory");
        goto fail;
    }
    if (o->checkpoint == NULL)
        snprintf(f->ckpt_path, clen, "%s/offsets", o->spool_dir);
    f->spool = pqify_spool_open(o->spool_dir, f->o.spool_max_bytes, err, cap);
    if (f->spool == NULL)
        goto fail;
    if (resume_spool(f) != 0) {
        snprintf(err, cap, "spool %s: cannot read the batches it holds", o->spool_dir);
        goto fail;
    }
    if (f->n_pend > 0) {
        char nb[21];
        PQIFY_LOG(PQIFY_LOG_INFO, "resuming the spool", "batches", pqify_log_u64(nb, f->n_pend));
    }
    checkpoint_load(f);
    if (o->metrics != NULL && metrics_init(f, o->metrics) != 0) {
        snprintf(err, cap, "cannot declare the metrics");
        goto fail;
    }
    spool_gauges(f);
    uv_timer_init(loop, &f->tick);
    uv_timer_init(loop, &f->kick);
    f->tick.data = f->kick.data = f;
    f->open_handles = 2;
    for (unsigned i = 0; i < f->n_t; i++) {
        pqify_dialer_opts d = {.host = f->t[i].host, .port = f->t[i].port, .backoff_base_ms = 100,
                               .backoff_cap_ms = 5000, .on_retry = on_retry,
                               /* with several receivers, fail over after a few tries */
                               .max_attempts = f->n_t > 1 ? 3 : 0};
        f->t[i].dialer = pqify_dialer_new(loop, &d, on_dialed, f);
        if (f->t[i].dialer == NULL) {
            snprintf(err, cap, "out of memory");
            f->freeing = 1;
            *out = f;
            return PQIFY_LOGS_ERR_NOMEM;   /* the caller frees it: handles are open */
        }
    }
    *out = f;
    if (pqify_logfwd_set_inputs(f, inputs, n_inputs, err, cap) != 0) {
        f->freeing = 1;
        return PQIFY_LOGS_ERR_IO;
    }
    unsigned tick = f->o.batch_ms < 100 ? f->o.batch_ms : 100;
    uv_timer_start(&f->tick, on_tick, tick, tick);
    dial(f);
    resume_inputs(f);
    return 0;
fail:
    if (f->spool != NULL)
        pqify_spool_close(f->spool);
    free(f->spool_dir);
    free(f->ckpt_path);
    free(f);
    return PQIFY_LOGS_ERR_IO;
}

int pqify_logfwd_set_inputs(pqify_logfwd *f, const pqify_logfwd_input *inputs, size_t n,
                            char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        if (inputs[i].tag == NULL || inputs[i].tag[0] == '\0' ||
            (inputs[i].kind != PQIFY_LOGFWD_STDIN && (inputs[i].path == NULL || inputs[i].path[0] == '\0'))) {
            snprintf(err, cap, "input %zu: a path and a tag are needed", i + 1);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (same_spec(&inputs[i], &inputs[j]) ||
                (inputs[i].kind == PQIFY_LOGFWD_STDIN && inputs[j].kind == PQIFY_LOGFWD_STDIN)) {
                snprintf(err, cap, "input %zu repeats input %zu", i + 1, j + 1);
                return -1;
            }
    }
    pqify_logfwd_input *fresh;
    if (specs_copy(inputs, n, &fresh) != 0) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    /* sockets: bind the new ones first, so a bad path changes nothing */
    struct sock *added = NULL;
    for (size_t i = 0; i < n; i++) {
        if (fresh[i].kind != PQIFY_LOGFWD_SOCKET)
            continue;
        int have = 0;
        for (struct sock *sk = f->socks; sk != NULL; sk = sk->next)
            have |= strcmp(sk->path, fresh[i].path) == 0 && strcmp(sk->tag, fresh[i].tag) == 0;
        if (have)
            continue;
        struct sock *before = f->socks;
        if (sock_open(f, &fresh[i], err, cap) != 0) {
            while (f->socks != before && f->socks != NULL)
                sock_close(f, f->socks);
            specs_free(fresh, n);
            return -1;
        }
        if (added == NULL)
            added = f->socks;
    }
    (void)added;
    for (struct sock *sk = f->socks, *next; sk != NULL; sk = next) {
        next = sk->next;
        int keep = 0;
        for (size_t i = 0; i < n; i++)
            keep |= fresh[i].kind == PQIFY_LOGFWD_SOCKET && strcmp(sk->path, fresh[i].path) == 0 &&
                    strcmp(sk->tag, fresh[i].tag) == 0;
        if (!keep) {
            PQIFY_LOG(PQIFY_LOG_INFO, "socket input removed", "socket", sk->path);
            sock_close(f, sk);
        }
    }
    int had_stdin = 0;
    for (size_t i = 0; i < f->n_specs; i++)
        had_stdin |= f->specs[i].kind == PQIFY_LOGFWD_STDIN;
    /* file inputs of a glob no longer configured finish (spool their batch) */
    for (struct input *in = f->inputs; in != NULL; in = in->next) {
        if (in->kind != PQIFY_LOGFWD_FILE)
            continue;
        int keep = 0;
        for (size_t i = 0; i < n; i++)
            keep |= fresh[i].kind == PQIFY_LOGFWD_FILE && strcmp(fresh[i].path, in->spec) == 0 &&
                    strcmp(fresh[i].tag, in->tag) == 0;
        in->removed = !keep;
    }
    specs_free(f->specs, f->n_specs);
    f->specs = fresh;
    f->n_specs = n;
    for (size_t i = 0; i < n; i++)
        if (fresh[i].kind == PQIFY_LOGFWD_STDIN && !had_stdin && stdin_open(f, fresh[i].tag) != 0) {
            snprintf(err, cap, "cannot read stdin");
            return -1;
        }
    files_poll(f);
    kick(f);
    return 0;
}

void pqify_logfwd_drain(pqify_logfwd *f, void (*done)(void *), void *arg)
{
    f->draining = 1;
    f->drain_done = done;
    f->drain_arg = arg;
    while (f->socks != NULL)
        sock_close(f, f->socks);
    for (struct input *in = f->inputs, *next; in != NULL; in = next) {
        next = in->next;
        if (in->h != NULL && in->reading) {
            uv_read_stop(in->h);
            in->reading = 0;
        }
        if (in->line_len > 0 && in->kind != PQIFY_LOGFWD_FILE) {
            add_line(in, in->line, in->line_len);   /* a file's partial line is read again */
            in->line_len = 0;
        }
        (void)flush_input(in);
    }
    f->ckpt_dirty = 1;
    checkpoint(f);
    check_progress(f);
}

void pqify_logfwd_abort(pqify_logfwd *f)
{
    f->aborted = 1;
    if (f->s != NULL)
        pqify_stream_abort(f->s);
    size_t lost = 0;
    for (struct input *in = f->inputs; in != NULL; in = in->next)
        if (in->kind != PQIFY_LOGFWD_FILE)
            lost += in->batch.n_events;
    if (lost > 0) {
        char nb[21];
        PQIFY_LOG(PQIFY_LOG_ERROR, "the spool stayed full to the end: events of stdin or the socket not spooled",
                  "events", pqify_log_u64(nb, lost));
    }
    check_progress(f);
}

void pqify_logfwd_get_stats(const pqify_logfwd *f, pqify_logfwd_stats *st)
{
    *st = f->st;
    st->paused = f->full;
}

static void fwd_handle_closed(uv_handle_t *h)
{
    pqify_logfwd *f = h->data;
    f->open_handles--;
    free_mem(f);
}

void pqify_logfwd_free(pqify_logfwd *f)
{
    if (f == NULL)
        return;
    if (f->inputs != NULL && !f->aborted) {
        f->ckpt_dirty = 1;
        checkpoint(f);
    }
    f->freeing = 1;
    if (f->s != NULL)
        pqify_stream_abort(f->s);
    while (f->socks != NULL)
        sock_close(f, f->socks);
    for (unsigned i = 0; i < f->n_t; i++)
        if (f->t[i].dialer != NULL)
            pqify_dialer_free(f->t[i].dialer);
    while (f->inputs != NULL) {
        struct input *in = f->inputs;
        input_unlink(in);
        if (in->h != NULL) {
            in->h->data = NULL;
            uv_close((uv_handle_t *)in->h, handle_closed);
            in->h = NULL;
        }
        if (in->fd >= 0)
            close(in->fd);
        pqify_fwd_batch_free(&in->batch);
        free(in->line);
        free(in->tag);
        free(in->spec);
        free(in->path);
        if (in->fs_busy) {   /* the read still writes into rbuf: its callback frees both */
            in->orphan = 1;
            uv_cancel((uv_req_t *)&in->req);
            continue;
        }
        free(in->rbuf);
        free(in);
    }
    pqify_fwd_decoder_free(f->dec);
    f->dec = NULL;
    if (f->spool != NULL)
        pqify_spool_close(f->spool);
    f->spool = NULL;
    uv_close((uv_handle_t *)&f->tick, fwd_handle_closed);
    uv_close((uv_handle_t *)&f->kick, fwd_handle_closed);
}
