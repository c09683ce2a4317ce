/*
 * pqify keyless server: the gokeyless protocol served over TLS streams from src/net
 * (docs/keyless.md). One listener on one libuv loop; each request is signed on
 * libuv's thread pool (uv_queue_work), never on the loop, so requests of one
 * connection are pipelined and answered in the order they finish (by id, as
 * gokeyless does). At most max_in_flight requests per connection are being worked
 * on; beyond that the connection stops reading from its socket (backpressure)
 * until answers go out. A malformed packet is answered with error 7 (4 for a
 * version) once the requests before it are answered, then the connection closes.
 * Everything but the signing runs on the loop's thread.
 */
#ifndef PQIFY_KEYLESS_SERVER_H
#define PQIFY_KEYLESS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pqify/keyless.h"
#include "pqify/keyless_client.h"
#include "pqify/net/metrics.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_keyless_server pqify_keyless_server;

/* Proxy mode (gokeyless-internal's role): a request for a key this server does not
 * hold goes to an upstream key server through a keyless client (its pooled PQ
 * mutual-TLS connections), and the answer comes back under the request's own id.
 * The first upstream listing the SKI takes it, else the default one; with neither,
 * the answer is error 2 as without proxying. */
typedef struct pqify_keyless_upstream {
    pqify_keyless_client *client;                      /* borrowed; outlives the server */
    const uint8_t (*skis)[PQIFY_KEYLESS_SKI_BYTES];    /* the keys it holds; borrowed */
    size_t n_skis;
    int is_default;                                    /* takes keys no upstream lists */
} pqify_keyless_upstream;

typedef struct pqify_keyless_server_options {
    const char *host, *port;          /* port "0" picks a free port */
    const pqify_tls_config *tls;      /* server config with a client CA (mutual TLS); borrowed */
    pqify_stream_opts stream;
    pqify_keyless_store *store;       /* the server takes its own reference */
    pqify_metrics *metrics;           /* NULL: no metrics; else the families are declared in it */
    unsigned max_connections;         /* 0 = no limit */
    unsigned max_in_flight;           /* per connection; 0 = PQIFY_KEYLESS_PENDING_PER_CONN */
    const pqify_keyless_upstream *upstreams; /* proxy mode; copied (the SKI lists are borrowed) */
    size_t n_upstreams;
} pqify_keyless_server_options;

/* Listen. 0, or a negative error with words in err. */
PQIFY_MUST_USE int pqify_keyless_server_start(uv_loop_t *loop, const pqify_keyless_server_options *o,
                                              pqify_keyless_server **out, char *err, size_t cap);
/* "127.0.0.1:PORT" of the bound socket. */
void pqify_keyless_server_address(const pqify_keyless_server *s, char *out, size_t cap);
/* SIGHUP: new requests use this store (one reference taken); requests already
 * queued finish with the store they started with. */
void pqify_keyless_server_swap_store(pqify_keyless_server *s, pqify_keyless_store *store);
/* SIGTERM: stop accepting and reading; every connection closes (close_notify) once
 * its requests are answered; handshakes in progress are dropped. done runs once
 * no connection is left (it may run before this returns). */
void pqify_keyless_server_drain(pqify_keyless_server *s, void (*done)(void *arg), void *arg);
/* The grace period is over: close what is left now (answers still on the pool are dropped). */
void pqify_keyless_server_abort(pqify_keyless_server *s);
typedef struct pqify_keyless_server_stats {
    unsigned max_in_flight;   /* the most requests one connection had on the pool at once */
    uint64_t holds;           /* times a connection stopped reading at the in-flight limit */
    uint64_t answered;        /* answers sent */
    uint64_t forwarded;       /* requests answered by an upstream (proxy mode) */
} pqify_keyless_server_stats;
void pqify_keyless_server_get_stats(const pqify_keyless_server *s, pqify_keyless_server_stats *st);
/* Connections open now. */
unsigned pqify_keyless_server_connections(const pqify_keyless_server *s);
/* After the drain (no connection left): close the listener; the memory goes once
 * the loop has run the close callbacks. */
void pqify_keyless_server_free(pqify_keyless_server *s);

#ifdef __cplusplus
}
#endif
#endif
