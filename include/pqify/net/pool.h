/*
 * pqify net: a pool of N long-lived outbound TLS connections to one peer
 * (DESIGN.md "The service chassis": a keyless edge to its key servers, a log
 * shipper to its collector). Each slot dials (dialer.h: back-off with full jitter),
 * handshakes (stream.h) and, whenever its connection ends, dials again; a
 * connection that drops at once counts as a failure, so a peer that accepts and
 * closes is not hammered. pqify_pool_up() says how many are established now.
 */
#ifndef PQIFY_NET_POOL_H
#define PQIFY_NET_POOL_H

#include <stdint.h>
#include <uv.h>

#include "pqify/net/dialer.h"
#include "pqify/net/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_pool pqify_pool;

typedef struct pqify_pool_opts {
    const char *host, *port;
    unsigned size;                         /* connections, >= 1 */
    const pqify_tls_config *cfg;           /* client config; outlives the pool */
    pqify_stream_opts stream;
    pqify_dialer_opts dial;                /* host/port/callbacks ignored; back-off, clock, RNG */
    /* May be NULL. slot is 0 .. size-1. */
    void (*on_up)(pqify_pool *p, unsigned slot, pqify_stream *s, void *ctx);
    void (*on_down)(pqify_pool *p, unsigned slot, int status, void *ctx);
    void (*on_data)(pqify_pool *p, unsigned slot, const uint8_t *data, size_t len, void *ctx);
    void *ctx;
} pqify_pool_opts;

typedef struct pqify_pool_stats {
    unsigned up;               /* established now */
    uint64_t connects;         /* handshakes completed, ever */
    uint64_t drops;            /* established connections that ended */
    uint64_t dial_failures;    /* failed dials and handshakes */
} pqify_pool_stats;

/* NULL if out of memory or the options are unusable. */
pqify_pool *pqify_pool_new(uv_loop_t *loop, const pqify_pool_opts *o);
/* Start every slot dialling. */
PQIFY_MUST_USE int pqify_pool_start(pqify_pool *p);
unsigned pqify_pool_up(const pqify_pool *p);
void pqify_pool_get_stats(const pqify_pool *p, pqify_pool_stats *st);
/* An established connection, round robin; NULL when none is up. */
pqify_stream *pqify_pool_pick(pqify_pool *p);
/* The slot's stream if established, else NULL. */
pqify_stream *pqify_pool_stream(pqify_pool *p, unsigned slot);
/* Close every connection gracefully and free the pool once they are gone (the
 * loop must run on). */
void pqify_pool_free(pqify_pool *p);

#ifdef __cplusplus
}
#endif
#endif
