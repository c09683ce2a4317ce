/* The life of a service process around its loop: the signals (SIGTERM/SIGINT drain,
 * SIGHUP reload), the admin endpoint, the readiness answer while draining, the
 * "listening on" line, and closing the loop at the end. Every pqify service (serve,
 * keyserver, logrecv, logfwd, edge, tunnel) runs through it, so an operator meets the
 * same behaviour everywhere (DESIGN.md, "The service chassis"). */
#ifndef PQIFY_NET_SERVICE_H
#define PQIFY_NET_SERVICE_H

#include <stddef.h>

#include <uv.h>

#include "pqify/common.h"
#include "pqify/net/admin.h"
#include "pqify/net/metrics.h"
#include "pqify/net/signals.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_service_hooks {
    /* SIGTERM/SIGINT: stop accepting and finish what is in flight; call
     * pqify_service_drained() once nothing is left. */
    void (*stop)(void *ctx);
    /* The grace period is over (or a second signal came): abort what is left. */
    void (*deadline)(void *ctx);
    void (*reload)(void *ctx);                            /* SIGHUP; NULL = ignored */
    int (*ready)(void *ctx, char *reason, size_t cap);    /* NULL = ready until draining */
    void *ctx;
} pqify_service_hooks;

typedef struct pqify_service_options {
    const char *name;            /* "keyserver": the prefix of its stderr lines */
    const char *admin;           /* HOST:PORT on loopback; NULL or "off" = none */
    pqify_metrics *metrics;      /* what /metrics renders */
    unsigned grace_ms;           /* 0 = 10 s */
    pqify_service_hooks hooks;
    /* The whole JSON body of /ready (pqify_admin_ready_body_fn) with hooks.ctx, told
     * whether the service is draining (then the answer is 503 whatever it returns).
     * NULL = the chassis's body from hooks.ready. */
    int (*ready_body)(void *ctx, int draining, char *json, size_t cap);
} pqify_service_options;

typedef struct pqify_service {
    uv_loop_t *loop;
    pqify_service_options o;
    pqify_signals signals;
    pqify_admin *admin;
    int signals_open, draining, drained;
} pqify_service;

/* Installs the signal handlers and starts the admin endpoint on loop. On failure
 * nothing is left open and err says why. */
PQIFY_MUST_USE int pqify_service_start(pqify_service *s, uv_loop_t *loop,
                                       const pqify_service_options *o, char *err, size_t cap);
/* Prints the admin endpoint's address and then "listening on ADDR" (the line tests and
 * supervisors wait for) on stderr. */
void pqify_service_announce(const pqify_service *s, const char *listen_addr);
/* The service finished draining: closes the signals and the admin endpoint, so the
 * loop ends once the service's own handles are closed. Safe to call twice. */
void pqify_service_drained(pqify_service *s);
int pqify_service_draining(const pqify_service *s);
/* Closes every handle still open on loop, runs it to the end and closes it. */
void pqify_service_close_loop(uv_loop_t *loop);

#ifdef __cplusplus
}
#endif
#endif
