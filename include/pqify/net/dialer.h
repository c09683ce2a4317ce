/*
 * pqify net: outbound TCP on a libuv loop, with capped exponential back-off and
 * full jitter between attempts (DESIGN.md "The service chassis": long-lived
 * outbound connections reconnect without hammering a peer that is down).
 *
 * Back-off ("full jitter"): after the n-th consecutive failure (n = 0, 1, ...) the
 * next attempt waits a uniformly random time in [0, min(cap, base * 2^n)] ms, so a
 * fleet that lost its peer at the same moment does not come back in lock-step.
 * The clock and the random source are injectable so tests can check the schedule
 * without sleeping; by default they are the monotonic clock and the kernel CSPRNG.
 *
 * The dialer resolves the name with getaddrinfo on the loop's thread pool, tries
 * each address in order, each under the connect timeout, and hands back a
 * connected uv_tcp_t with TCP_NODELAY set.
 */
#ifndef PQIFY_NET_DIALER_H
#define PQIFY_NET_DIALER_H

#include <stdint.h>
#include <uv.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t (*pqify_clock_fn)(void *ctx);   /* milliseconds, monotonic */
typedef uint64_t (*pqify_rand_fn)(void *ctx);    /* 64 uniformly random bits */

typedef struct pqify_backoff {
    uint64_t base_ms, cap_ms;
    unsigned failures;            /* consecutive failures so far */
    uint64_t not_before_ms;       /* the clock time the next attempt may start */
    pqify_clock_fn now;
    pqify_rand_fn rand;
    void *clock_ctx, *rand_ctx;
} pqify_backoff;

/* now/rand may be NULL for the defaults. base_ms >= 1, cap_ms >= base_ms. */
void pqify_backoff_init(pqify_backoff *b, uint64_t base_ms, uint64_t cap_ms, pqify_clock_fn now,
                        void *clock_ctx, pqify_rand_fn rand, void *rand_ctx);
/* The ceiling of the n-th wait: min(cap, base * 2^n), without overflow. */
uint64_t pqify_backoff_ceiling(const pqify_backoff *b, unsigned n);
/* An attempt failed: draws the wait, sets not_before_ms = now + wait, returns wait. */
uint64_t pqify_backoff_failed(pqify_backoff *b);
/* Milliseconds from now until the next attempt may start (0 = now). */
uint64_t pqify_backoff_remaining(const pqify_backoff *b);
/* A connection succeeded and stayed up: start again from base. */
void pqify_backoff_reset(pqify_backoff *b);
uint64_t pqify_backoff_now(const pqify_backoff *b);

typedef struct pqify_dialer pqify_dialer;

/* status 0: tcp is connected and now the callee's (uv_close it, then free() it).
 * status < 0 (libuv error): the dialer gave up (max_attempts reached); tcp NULL. */
typedef void (*pqify_dial_cb)(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx);
/* Each failed attempt, before waiting delay_ms (logs, metrics, tests). */
typedef void (*pqify_retry_cb)(pqify_dialer *d, int status, uint64_t delay_ms, void *ctx);

typedef struct pqify_dialer_opts {
    const char *host, *port;
    unsigned connect_timeout_ms;          /* per address; 0 = 10 s */
    uint64_t backoff_base_ms;             /* 0 = 100 ms */
    uint64_t backoff_cap_ms;              /* 0 = 30 s */
    unsigned max_attempts;                /* 0 = until stopped */
    /* A connection that lived at least this long resets the back-off when it is
     * redialled; a peer that accepts and drops at once does not. 0 = the cap. */
    uint64_t healthy_after_ms;
    pqify_clock_fn now;                   /* NULL = monotonic */
    void *clock_ctx;
    pqify_rand_fn rand;                   /* NULL = getrandom */
    void *rand_ctx;
    pqify_retry_cb on_retry;              /* may be NULL */
} pqify_dialer_opts;

/* The strings in o are copied. NULL if out of memory. */
pqify_dialer *pqify_dialer_new(uv_loop_t *loop, const pqify_dialer_opts *o, pqify_dial_cb cb,
                               void *ctx);
/* Dial now, or once the back-off of earlier failures has passed. A second call
 * while dialling does nothing. Call it again to redial after a connection ended. */
PQIFY_MUST_USE int pqify_dialer_start(pqify_dialer *d);
/* Cancel a dial in progress or waiting (no callback follows). */
void pqify_dialer_stop(pqify_dialer *d);
const pqify_backoff *pqify_dialer_backoff(const pqify_dialer *d);
/* Stops, then frees once libuv released the handles (the loop must run on). */
void pqify_dialer_free(pqify_dialer *d);

#ifdef __cplusplus
}
#endif
#endif
