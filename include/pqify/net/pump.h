/*
 * The engine pump: the one loop that drives a pqify_tls_conn over any transport
 * (DESIGN.md "The service chassis"). It knows no sockets. The caller moves bytes:
 * it hands in what it received (pqify_pump_feed) and sends what the pump leaves in
 * p->out, after EVERY call that may write (feed, next, send, close_notify), even
 * when the call failed, because out may hold the alert that says why.
 *
 *   pqify_pump_init(&p, cfg, is_server);
 *   ev = pqify_pump_next(&p);             client: ClientHello into p.out
 *   loop: send p.out; react to ev:
 *     WANT_INPUT      read bytes, ev = pqify_pump_feed(&p, bytes, n)
 *     HANDSHAKE_DONE  (once) report pqify_tls_get_info(p.conn); ev = pqify_pump_next(&p)
 *     DATA            take plaintext from p.plain (pqify_tls_buf_consume what you
 *                     took); ev = pqify_pump_next(&p)
 *     WANT_SIGNATURE  (once) an asynchronous signer holds CertificateVerify: ask it
 *                     (pqify_pump_signature_request), later hand the answer in
 *                     (pqify_pump_signature_complete or _failed), then
 *                     ev = pqify_pump_next(&p). Input fed meanwhile is kept.
 *     PENDING         still waiting for that signature: nothing to do
 *     PEER_CLOSED     close_notify came; answer with pqify_pump_close_notify
 *     FAILED          pqify_pump_error(&p) says why; send p.out, then close
 *
 * Bytes the engine does not take at once (those after the last handshake message,
 * those fed while a signature is pending) stay in the pump and are passed on by
 * the next pqify_pump_next. A blocking fd loop, libuv callbacks (whose writes
 * complete later: send p.out's bytes, then consume them) and an in-memory pair
 * all drive it the same way. One thread at a time per pump.
 */
#ifndef PQIFY_NET_PUMP_H
#define PQIFY_NET_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pqify_pump_event {
    PQIFY_PUMP_WANT_INPUT = 0,     /* everything fed is taken: read more */
    PQIFY_PUMP_HANDSHAKE_DONE = 1, /* the handshake just completed (returned once) */
    PQIFY_PUMP_DATA = 2,           /* p->plain holds plaintext (until it is consumed) */
    PQIFY_PUMP_WANT_SIGNATURE = 3, /* a signature was just asked for (returned once) */
    PQIFY_PUMP_PENDING = 4,        /* still waiting for that signature */
    PQIFY_PUMP_PEER_CLOSED = 5,    /* the peer sent close_notify; nothing more comes */
    PQIFY_PUMP_FAILED = 6,         /* pqify_pump_error() says why; sticky */
} pqify_pump_event;

typedef struct pqify_pump {
    pqify_tls_conn *conn; /* owned by the pump (a caller may take it: set NULL before dispose) */
    pqify_tls_buf out;    /* to send, in order; the caller consumes what it sent */
    pqify_tls_buf plain;  /* received application data; the caller consumes it */
    /* private */
    uint8_t *pending;     /* bytes fed but not yet taken by the engine */
    size_t pending_len, pending_cap;
    int state, err, resume;
} pqify_pump;

/* Most bytes the pump keeps for the engine (a signature may be pending while the
 * peer sends on); feeding beyond it fails with PQIFY_TLS_ERR_NO_MEMORY. */
#define PQIFY_PUMP_MAX_PENDING (256u * 1024u)

/* A connection for cfg in the given role; 0, or PQIFY_TLS_ERR_NO_MEMORY when
 * pqify_tls_conn_new refuses (out of memory, or a config unusable for the role). */
PQIFY_MUST_USE int pqify_pump_init(pqify_pump *p, const pqify_tls_config *cfg, int is_server);
/* Frees the connection and every buffer (secrets wiped). */
void pqify_pump_dispose(pqify_pump *p);

/* Hand in received bytes (len may be 0) and return the next event. */
PQIFY_MUST_USE pqify_pump_event pqify_pump_feed(pqify_pump *p, const uint8_t *in, size_t len);
/* The next event from what is already held (and a client's first flight). */
PQIFY_MUST_USE pqify_pump_event pqify_pump_next(pqify_pump *p);

/* Encrypt into p->out (once the handshake is done); 0 or a negative error. A
 * failure other than PQIFY_TLS_ERR_ARG/CLOSED (wrong state) fails the pump. */
PQIFY_MUST_USE int pqify_pump_send(pqify_pump *p, const void *data, size_t len);
/* close_notify into p->out (RFC 8446 §6.1); 0 or a negative error. */
PQIFY_MUST_USE int pqify_pump_close_notify(pqify_pump *p);

/* The asynchronous signature (tls.h "Asynchronous signing"), after WANT_SIGNATURE. */
PQIFY_MUST_USE int pqify_pump_signature_request(const pqify_pump *p, uint16_t *scheme,
                                                const uint8_t **tbs, size_t *tbs_len);
PQIFY_MUST_USE int pqify_pump_signature_complete(pqify_pump *p, const uint8_t *sig, size_t len);
PQIFY_MUST_USE int pqify_pump_signature_failed(pqify_pump *p, const char *reason);

/* The error that failed the pump (a pqify_tls_err), or 0. */
int pqify_pump_error(const pqify_pump *p);
/* 1 once the handshake completed. */
int pqify_pump_established(const pqify_pump *p);
/* Bytes fed and held for the engine (not yet taken). */
size_t pqify_pump_pending(const pqify_pump *p);
/* Return the pump's own buffers to the heap while they are empty (an idle
 * connection), and the engine's record buffers too (pqify_tls_release_buffers);
 * they come back on demand. */
void pqify_pump_release_buffers(pqify_pump *p);

#ifdef __cplusplus
}
#endif
#endif
