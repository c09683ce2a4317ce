/*
 * pqify logs receiver: the core of `pqify logrecv` (docs/logs.md) on src/net. Fluentd
 * Forward protocol v1 over pqify TLS: each connection a TLS stream whose bytes feed the
 * streaming decoder; each chunk's events become JSON lines handed to a sink, and only
 * when the sink says they are durable is {"ack": chunk} sent (at-least-once). While a
 * connection's chunk waits on the sink, that connection is not read (backpressure
 * reaches the sender through TCP); a failing sink is retried every second without
 * acking. Hostile input closes only its own connection, with a log line naming why.
 * Everything but the file sink's writes runs on one libuv loop.
 */
#ifndef PQIFY_LOGS_RECEIVER_H
#define PQIFY_LOGS_RECEIVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pqify/logs.h"
#include "pqify/net/metrics.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sinks: where a chunk's JSON lines are made durable ---- */

/* One chunk handed to a sink. The sink sets rc (0 = durable) and err, then calls
 * pqify_logrecv_chunk_done on the loop's thread, once. */
typedef struct pqify_logrecv_chunk {
    const char *tag;          /* NUL-terminated */
    size_t tag_len;
    const uint8_t *lines;     /* whole JSON lines, '\n' after each */
    size_t len, n_events;
    int rc;
    char err[640];
    size_t priv[4];           /* the sink's own state for this chunk */
} pqify_logrecv_chunk;

void pqify_logrecv_chunk_done(pqify_logrecv_chunk *c);

typedef struct pqify_logrecv_sink {
    /* Start making the chunk durable. 0, or an error (the connection then closes). */
    int (*submit)(struct pqify_logrecv_sink *s, pqify_logrecv_chunk *c);
    /* The receiver drained: stop what keeps the loop alive (timers). May be NULL. */
    void (*quiesce)(struct pqify_logrecv_sink *s);
    /* Frees the sink (after the loop ended). May be NULL. */
    void (*free)(struct pqify_logrecv_sink *s);
    /* PQIFY_LOGS_ERR_BAD_TAG from a sink is permanent: the chunk is refused, not retried. */
    /* Chunks of one connection the sink may hold at once (0 = 1). Above 1 the receiver
     * decodes and converts the next chunk while the sink works on the previous ones, and
     * acks each when it is durable; a sink that must see one connection's chunks in
     * order keeps them in order itself (the file sink keeps 1). */
    unsigned depth;
} pqify_logrecv_sink;

/* The file sink (file_sink.c) on libuv's thread pool: append and fsync per chunk. */
pqify_logrecv_sink *pqify_logrecv_file_sink_new(uv_loop_t *loop, const char *dir,
                                                uint64_t max_file_bytes, char *err, size_t cap);
/* The null sink: every chunk durable at once, nothing written. For benchmarks only
 * (`pqify bench logs`): it measures the pipeline without a disk. */
pqify_logrecv_sink *pqify_logrecv_null_sink_new(void);

/* ---- the receiver ---- */

typedef struct pqify_logrecv pqify_logrecv;

typedef struct pqify_logrecv_options {
    const char *host, *port;          /* port "0" picks a free port */
    pqify_tls_config *tls;            /* server config; the receiver owns it from now on */
    pqify_stream_opts stream;
    size_t max_chunk;                 /* largest Forward message; 0 = 8 MiB */
    unsigned max_connections;         /* 0 = no limit */
    pqify_logrecv_sink *sink;         /* borrowed; outlives the receiver */
    pqify_metrics *metrics;           /* NULL: none */
    /* The Forward v1 shared-key handshake (HELO/PING/PONG) before any event; NULL = none.
     * self_hostname is what PONG names (required with a shared key). */
    const char *shared_key, *self_hostname;
} pqify_logrecv_options;

PQIFY_MUST_USE int pqify_logrecv_start(uv_loop_t *loop, const pqify_logrecv_options *o,
                                       pqify_logrecv **out, char *err, size_t cap);
/* "127.0.0.1:PORT" of the bound socket. */
void pqify_logrecv_address(const pqify_logrecv *r, char *out, size_t cap);
/* SIGHUP: new connections use cfg (owned from now on); open ones keep theirs. */
void pqify_logrecv_swap_tls(pqify_logrecv *r, pqify_tls_config *cfg);
/* SIGTERM: stop accepting; every connection finishes (written and acked) the chunks it
 * received, then closes with close_notify. done runs once none is left. */
void pqify_logrecv_drain(pqify_logrecv *r, void (*done)(void *arg), void *arg);
/* The grace period is over: close what is left now. */
void pqify_logrecv_abort(pqify_logrecv *r);
/* After the loop ended. */
void pqify_logrecv_free(pqify_logrecv *r);

#ifdef __cplusplus
}
#endif
#endif
