/*
 * pqify logs forwarder: the core of `pqify logfwd` (docs/logs.md) on src/net. Inputs
 * (files by glob, Unix sockets of JSON lines, stdin) are cut into lines, batched per
 * input (bytes, events, delay), compressed, and written durably to the spool BEFORE
 * anything is sent; a batch leaves the spool only when a receiver acks its chunk
 * (at-least-once). A file's offset is checkpointed (fsynced) only once the lines up
 * to it are in the spool, so a restart resumes where the spool ends, never past it.
 * When the spool is full every input pauses (files are read later, the socket and
 * stdin are not read, so their writers block); nothing is dropped.
 * Everything runs on one libuv loop.
 */
#ifndef PQIFY_LOGS_FORWARDER_H
#define PQIFY_LOGS_FORWARDER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pqify/logs.h"
#include "pqify/net/metrics.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pqify_logfwd_input_kind {
    PQIFY_LOGFWD_FILE = 1,   /* path is a glob(3) pattern; every regular file it matches */
    PQIFY_LOGFWD_SOCKET,     /* path is a Unix stream socket: one JSON object per line */
    PQIFY_LOGFWD_STDIN,      /* fd 0, one event per line */
} pqify_logfwd_input_kind;

typedef struct pqify_logfwd_input {
    pqify_logfwd_input_kind kind;
    const char *path;   /* FILE, SOCKET */
    const char *tag;    /* the stream (Forward tag) */
} pqify_logfwd_input;

typedef struct pqify_logfwd_options {
    const char *const *targets;   /* "HOST:PORT" receivers, tried in order (failover) */
    size_t n_targets;
    const pqify_tls_config *tls;  /* client config; borrowed, must outlive the forwarder */
    unsigned handshake_ms;        /* 0 = the stream's default */
    const char *spool_dir;        /* created if missing */
    uint64_t spool_max_bytes;     /* 0 = 256 MiB */
    const char *checkpoint;       /* file offsets; NULL = SPOOL_DIR/offsets */
    size_t batch_bytes;           /* 0 = 1 MiB */
    size_t batch_events;          /* 0 = 10,000 */
    unsigned batch_ms;            /* 0 = 200 */
    unsigned poll_ms;             /* how often files are looked at; 0 = 250 */
    unsigned ack_timeout_ms;      /* no ack this long for a batch sent: reconnect; 0 = 30 s */
    size_t max_line;              /* a longer line is cut there; 0 = 1 MiB */
    pqify_fwd_compression compression;   /* PQIFY_FWD_NONE here means the default (zstd) */
    int no_compression;                  /* 1: PackedForward, uncompressed */
    pqify_metrics *metrics;       /* NULL: none; else the families are declared in it */
    /* The Forward v1 shared-key handshake: answer the receiver's HELO with a PING, and
     * send nothing before its PONG proves the key. NULL = none. self_hostname is the
     * name our PING gives (required with a shared key). */
    const char *shared_key, *self_hostname;
    /* stdin's EOF came and everything read was acked (only called when stdin is the
     * only input). */
    void (*on_stdin_done)(void *ctx);
    /* Each batch acked: its send-to-ack time (the bench's percentiles). May be NULL. */
    void (*on_ack_sample)(void *ctx, double seconds);
    void *ctx;
} pqify_logfwd_options;

typedef struct pqify_logfwd pqify_logfwd;

/* Opens the spool (resuming what a previous run left) and the checkpoint, starts the
 * inputs and dials. 0, or a negative error with words in err. */
PQIFY_MUST_USE int pqify_logfwd_start(uv_loop_t *loop, const pqify_logfwd_options *o,
                                      const pqify_logfwd_input *inputs, size_t n_inputs,
                                      pqify_logfwd **out, char *err, size_t cap);
/* SIGHUP: the new set of inputs. Inputs kept (same kind, path and tag) keep their
 * state; removed ones flush their batch and stop; new ones start. 0, or an error with
 * words (nothing changed then). The strings are copied. */
PQIFY_MUST_USE int pqify_logfwd_set_inputs(pqify_logfwd *f, const pqify_logfwd_input *inputs,
                                           size_t n_inputs, char *err, size_t cap);
/* SIGTERM: stop reading, spool every open batch, checkpoint, and call done once
 * everything spooled is acked (it may run before this returns). */
void pqify_logfwd_drain(pqify_logfwd *f, void (*done)(void *arg), void *arg);
/* The grace period is over: close the connection now; what is spooled stays for the
 * next run. done (of the drain) then runs. */
void pqify_logfwd_abort(pqify_logfwd *f);

typedef struct pqify_logfwd_stats {
    uint64_t events_read, events_acked, batches_spooled, batches_acked, reconnects;
    uint64_t spool_batches, spool_bytes;
    int paused;   /* 1 while the spool is full */
    uint64_t handshake_us;   /* the last connection's handshake */
    char group[64];          /* and its group ("" before any) */
} pqify_logfwd_stats;
void pqify_logfwd_get_stats(const pqify_logfwd *f, pqify_logfwd_stats *st);
/* After the drain: closes every handle; the memory goes once the loop has run the
 * close callbacks. */
void pqify_logfwd_free(pqify_logfwd *f);

/* ---- the checkpoint file (exposed for tests and the fuzzer) ---- */

typedef struct pqify_logfwd_offset {
    uint64_t dev, ino, offset;
    char path[1024];
} pqify_logfwd_offset;

/* Parses a checkpoint file's text: "pqify-logfwd-offsets 1\n" then one line per file,
 * "DEV INO OFFSET PATH\n" (decimal; PATH is the rest of the line, informative only).
 * Fills up to cap entries; *n gets the count. 0, or PQIFY_LOGS_ERR_CORRUPT for anything
 * else (the forwarder then starts without offsets and says so). */
PQIFY_MUST_USE int pqify_logfwd_offsets_parse(const uint8_t *text, size_t len,
                                              pqify_logfwd_offset *out, size_t cap, size_t *n);

/* ---- JSON lines (the socket's contract) ---- */

/* One JSON object (RFC 8259; whitespace around it allowed) packed as a msgpack map
 * onto pk's buffer: objects become maps, arrays arrays, numbers int or float64,
 * strings str (escapes decoded to UTF-8). Depth bound PQIFY_FWD_MAX_DEPTH. 0, or
 * PQIFY_LOGS_ERR_SHAPE for anything that is not one JSON object (out unchanged then). */
PQIFY_MUST_USE int pqify_logs_json_to_msgpack(const char *text, size_t len, msgpack_sbuffer *out);

#ifdef __cplusplus
}
#endif
#endif
