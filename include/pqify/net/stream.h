/*
 * pqify net: a TLS stream on a libuv TCP handle, driving the engine through the
 * pump (pump.h). What every service gets from it (DESIGN.md "The service chassis"):
 *  - a handshake timeout (a slowloris peer is dropped, blocking nobody) and an idle
 *    timeout once established (closed with close_notify);
 *  - backpressure: when more than write_high_water bytes wait to be written, the
 *    stream stops reading until the queue is below half of it again;
 *  - close_notify on a graceful close (RFC 8446 §6.1); after a fatal alert, and on
 *    every graceful close, the write side is shut down and the read side drained,
 *    bounded by drain_ms, before the socket closes: closing with unread bytes would
 *    send a RST that can destroy the alert before the peer reads it;
 *  - an asynchronous signer (keyless) completed from any thread, resumed on the loop;
 *  - TCP_NODELAY; and idle connections hand their pump buffers back to the heap
 *    (they come back with the next read). One shared read buffer per loop thread.
 * A stream lives on one loop and is used from its thread, except
 * pqify_stream_signature_post.
 */
#ifndef PQIFY_NET_STREAM_H
#define PQIFY_NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pqify/net/pump.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a stream closed, besides 0 (graceful), pqify_tls_err values (the engine's
 * error, or the peer's alert) and libuv socket errors (UV_ECONNRESET ...). */
enum pqify_stream_status {
    PQIFY_STREAM_HANDSHAKE_TIMEOUT = -2001,
    PQIFY_STREAM_IDLE_TIMEOUT = -2002,
    PQIFY_STREAM_EOF = -2003,          /* the peer closed TCP without close_notify */
    PQIFY_STREAM_ABORTED = -2004,      /* pqify_stream_abort */
};

typedef struct pqify_stream pqify_stream;
typedef struct pqify_stream_signature pqify_stream_signature;

typedef struct pqify_stream_cbs {
    void (*on_handshake)(pqify_stream *s, void *ctx);            /* established */
    void (*on_data)(pqify_stream *s, const uint8_t *data, size_t len, void *ctx);
    /* An asynchronous signer said "pending": take pqify_stream_signature_begin()
     * and post the answer from any thread. May be NULL when no signer is async. */
    void (*on_want_signature)(pqify_stream *s, void *ctx);
    /* Last call; the stream is freed after it returns. status: see above. */
    void (*on_close)(pqify_stream *s, int status, void *ctx);
} pqify_stream_cbs;

typedef struct pqify_stream_opts {
    unsigned handshake_timeout_ms;   /* 0 = 10 s */
    unsigned idle_timeout_ms;        /* 0 = none */
    size_t write_high_water;         /* 0 = 256 KiB */
    unsigned drain_ms;               /* bound on the drain after shutdown; 0 = 1 s */
    const struct sockaddr *peer;     /* accept: the address accept4 gave (else getpeername) */
} pqify_stream_opts;

#define PQIFY_STREAM_DEFAULT_HANDSHAKE_MS 10000u
#define PQIFY_STREAM_DEFAULT_HIGH_WATER (256u * 1024u)
#define PQIFY_STREAM_DEFAULT_DRAIN_MS 1000u

/* Server side of a socket pqify_listener accepted (fd is taken: closed on failure
 * too; the listener set TCP_NODELAY). A client sends its ClientHello at once. cfg
 * must outlive the stream. */
PQIFY_MUST_USE int pqify_stream_accept(uv_loop_t *loop, int fd, const pqify_tls_config *cfg,
                                       const pqify_stream_opts *o, const pqify_stream_cbs *cbs,
                                       void *ctx, pqify_stream **out);
/* Client side of a connected handle from the dialer (tcp is taken: it must come
 * from malloc and is freed with the stream, also on failure). */
PQIFY_MUST_USE int pqify_stream_connect(uv_loop_t *loop, uv_tcp_t *tcp,
                                        const pqify_tls_config *cfg, const pqify_stream_opts *o,
                                        const pqify_stream_cbs *cbs, void *ctx,
                                        pqify_stream **out);

/* Encrypt and queue; 0 or a negative error (not yet established, closing). */
PQIFY_MUST_USE int pqify_stream_send(pqify_stream *s, const void *data, size_t len);
/* Corked (1), what pqify_stream_send encrypts waits in the stream's buffer; uncorking
 * (0) writes it all at once. A response and the close_notify after it go out in one
 * write. A close, the pump's own events and uncorking flush whatever waits. */
void pqify_stream_cork(pqify_stream *s, int cork);
/* Graceful close: close_notify (if established), shutdown, bounded drain, close. */
void pqify_stream_close(pqify_stream *s);
/* Close without the drain, when nothing more is to be read (a whole request answered
 * with Connection: close, nothing pipelined behind it): close_notify, then the socket
 * at once if the kernel holds everything written (it still delivers it, then FIN);
 * the peer's FIN is not awaited (nginx's close without lingering). Else, or before
 * the handshake ended, as pqify_stream_close. */
void pqify_stream_close_now(pqify_stream *s);
/* Close now, with nothing more sent. */
void pqify_stream_abort(pqify_stream *s);

pqify_tls_conn *pqify_stream_conn(pqify_stream *s);
int pqify_stream_established(const pqify_stream *s);
/* Bytes handed to the socket that it has not yet taken. */
size_t pqify_stream_queued(const pqify_stream *s);
/* The application's own backpressure: hold 1 stops reading from the socket (data
 * already read may still arrive in on_data during the current callback), hold 0
 * reads again. A service with work in flight per connection (keyless: 1024
 * requests; logrecv: a chunk waiting on its sink) uses it; the write-queue backpressure below works independently. */
void pqify_stream_hold_reading(pqify_stream *s, int hold);
/* A proxy's other half of backpressure: cb runs (on the loop, after a write
 * completed) when the write queue, having gone above write_high_water, has fallen to
 * half of it, so a proxy that stopped reading its other side (the edge relaying a
 * download) reads it again. NULL = none (the default). */
void pqify_stream_on_writable(pqify_stream *s, void (*cb)(pqify_stream *s, void *ctx));
/* 1 while reading is paused by backpressure. */
int pqify_stream_read_paused(const pqify_stream *s);
/* "IP:PORT" of the peer. */
const char *pqify_stream_peer(const pqify_stream *s);
void pqify_stream_set_ctx(pqify_stream *s, void *ctx);
/* Words for a close status (0 -> "closed"). */
const char *pqify_stream_strerror(int status);

/* Asynchronous signing. In on_want_signature (on the loop): read the request with
 * pqify_stream_signature_request, take a handle with pqify_stream_signature_begin
 * and hand it to any thread, which calls pqify_stream_signature_post exactly once
 * (sig NULL = failed, with reason). The handshake resumes on the loop; if the
 * stream closed meanwhile the answer is dropped. */
PQIFY_MUST_USE int pqify_stream_signature_request(const pqify_stream *s, uint16_t *scheme,
                                                  const uint8_t **tbs, size_t *tbs_len);
pqify_stream_signature *pqify_stream_signature_begin(pqify_stream *s);
void pqify_stream_signature_post(pqify_stream_signature *h, const uint8_t *sig, size_t len,
                                 const char *reason);

#ifdef __cplusplus
}
#endif
#endif
