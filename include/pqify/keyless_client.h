/*
 * pqify keyless client: a pool of long-lived post-quantum mutual-TLS connections to
 * one or more key servers (docs/keyless.md "The client side"), and the TLS signer
 * that makes a certificate's CertificateVerify through them.
 *
 * The client runs its own libuv loop on its own thread, so any thread (serve's
 * worker loops, a CLI's main thread) may submit. A request is encoded at submit,
 * queued, and sent on an established connection of the first server in the list
 * that has one up (the next servers take over while none of the first's is: the
 * failover), with a fresh request id; answers are matched by id, in whatever order
 * they come. Each connection carries at most max_in_flight requests and never more
 * than half the stream's write high-water mark queued, so neither the key server's
 * in-flight limit (1024) nor the stream's backpressure (256 KiB) is reached.
 *
 * Exactly once: every accepted request gets one completion: its answer, or
 * PQIFY_KEYLESS_ERR_DEADLINE when its deadline passed, or PQIFY_KEYLESS_ERR_CLOSED
 * when the client is freed. A request whose connection died before its answer came
 * is sent again on another connection (signing is idempotent); an answer that comes
 * for an id no longer waiting (its deadline passed) is dropped. Connections
 * reconnect with capped exponential back-off and full jitter (net/dialer.h), and an
 * established connection is pinged every ping_interval_ms: no pong within the
 * request deadline closes it, and its requests go elsewhere.
 *
 * Completions run on the client's thread: keep them short, and hand the answer to
 * your own loop (uv_async_send, or pqify_stream_signature_post, which does).
 */
#ifndef PQIFY_KEYLESS_CLIENT_H
#define PQIFY_KEYLESS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/keyless.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors of the client (besides those of keyless.h). */
enum pqify_keyless_client_err {
    PQIFY_KEYLESS_ERR_DEADLINE = -420, /* no answer before the request's deadline */
    PQIFY_KEYLESS_ERR_CLOSED = -421,   /* the client was freed first */
    PQIFY_KEYLESS_ERR_BUSY = -422,     /* max_pending requests are pending already */
};

#define PQIFY_KEYLESS_CLIENT_MAX_SERVERS 16

typedef struct pqify_keyless_client_options {
    const char *const *servers;   /* "HOST:PORT", in failover order; copied */
    size_t n_servers;             /* 1 .. PQIFY_KEYLESS_CLIENT_MAX_SERVERS */
    const pqify_tls_config *tls;  /* client config with a certificate; borrowed, outlives the client */
    unsigned connections;         /* per server; 0 = 1 */
    unsigned max_in_flight;       /* per connection, 1..1024; 0 = 128 */
    unsigned max_pending;         /* accepted and not yet completed, beyond: ERR_BUSY; 0 = 65536 */
    unsigned deadline_ms;         /* per request, from submit; 0 = 5000 */
    unsigned ping_interval_ms;    /* health check of each connection; 0 = 10000 */
    unsigned connect_timeout_ms;  /* TCP connect and TLS handshake each; 0 = 5000 */
    unsigned backoff_base_ms, backoff_cap_ms; /* reconnect back-off; 0 = 50 ms, 5 s */
} pqify_keyless_client_options;

typedef struct pqify_keyless_client pqify_keyless_client;

/* What a completion gets. Pointers are valid during the callback only. */
typedef struct pqify_keyless_reply {
    int status;            /* 0: the server answered (see opcode); else a negative error */
    uint8_t opcode;        /* RESPONSE, PONG or ERROR when status is 0 */
    uint8_t error;         /* the wire error when opcode is ERROR */
    const uint8_t *payload;
    size_t len;
    unsigned server;       /* index of the server that answered */
    unsigned attempts;     /* times it was sent (more than 1 after a connection died) */
    const char *group;     /* the key exchange group of the connection that answered */
} pqify_keyless_reply;

typedef void (*pqify_keyless_done_fn)(void *arg, const pqify_keyless_reply *r);

/* Start the client's thread and its connections. NULL with words in err. */
pqify_keyless_client *pqify_keyless_client_new(const pqify_keyless_client_options *o, char *err,
                                               size_t cap);
/*
 * Queue one request from any thread: opcode, the key's SKI (NULL for a ping) and the
 * payload (the digest, or the message for Ed25519; copied). 0: done runs exactly once
 * later, on the client's thread. Negative (ERR_ARG, ERR_TOO_LARGE, ERR_BUSY,
 * ERR_CLOSED, ERR_NO_MEMORY): done never runs.
 */
PQIFY_MUST_USE int pqify_keyless_client_submit(pqify_keyless_client *c, uint8_t opcode,
                                               const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES],
                                               const uint8_t *payload, size_t len,
                                               pqify_keyless_done_fn done, void *arg);
/* Connections established now (any thread). */
unsigned pqify_keyless_client_up(const pqify_keyless_client *c);

typedef struct pqify_keyless_client_stats {
    uint64_t submitted, answered, expired, closed; /* completions: answered + expired + closed */
    uint64_t resent;       /* requests sent again after their connection died */
    uint64_t connects;     /* handshakes completed */
    uint64_t drops;        /* established connections that ended */
    uint64_t pings_failed; /* health checks that closed a connection */
    uint64_t unmatched;    /* answers for no waiting request (late, after the deadline) */
} pqify_keyless_client_stats;
void pqify_keyless_client_get_stats(const pqify_keyless_client *c, pqify_keyless_client_stats *st);

/* Complete what is left with ERR_CLOSED, close the connections (close_notify), stop
 * the thread and free. Not from a completion. NULL is fine. */
void pqify_keyless_client_free(pqify_keyless_client *c);

/* ---- the signer: a certificate whose private key lives on the key server ---- */
typedef struct pqify_keyless_remote_key pqify_keyless_remote_key;

/* cert_file: PEM, leaf first; the leaf's public key names the key (its SKI, RFC 5280
 * §4.2.1.2 method 1, as the store computes it) and the schemes it can sign (ECDSA
 * P-256/P-384, RSA-PSS with rsaEncryption keys, Ed25519). The client is borrowed. */
pqify_keyless_remote_key *pqify_keyless_remote_key_new(pqify_keyless_client *c, const char *cert_file,
                                                       char *err, size_t cap);
void pqify_keyless_remote_key_free(pqify_keyless_remote_key *k);
/* The SKI (for logs and tests). */
const uint8_t *pqify_keyless_remote_key_ski(const pqify_keyless_remote_key *k);

/* The signer to give pqify_tls_config_set_signer (with the certificate chain and no
 * key): its sign() answers PQIFY_TLS_SIGN_PENDING, and the stream's
 * on_want_signature must then call pqify_keyless_sign_stream. Lives as long as k. */
const pqify_tls_signer *pqify_keyless_signer(pqify_keyless_remote_key *k);

/* In a stream's on_want_signature (on its loop): read the scheme and the bytes to
 * sign, hash them as the scheme says (RFC 8446 §4.4.3), ask the key server, and post
 * the answer to the stream (pqify_stream_signature_post) from the client's thread.
 * A failure (no answer in time, an error answer) fails the handshake with words. */
void pqify_keyless_sign_stream(pqify_stream *s, pqify_keyless_remote_key *k);

/* The opcode and the hash for a TLS SignatureScheme (0 when not one a key server
 * signs): digest_len 0 means the payload is the message itself (Ed25519). */
uint8_t pqify_keyless_scheme_opcode(uint16_t scheme, size_t *digest_len);

#ifdef __cplusplus
}
#endif
#endif
