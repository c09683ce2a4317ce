/*
 * pqify net: the signals every service handles alike (DESIGN.md "The service
 * chassis"), on a libuv loop:
 *   SIGTERM, SIGINT  on_stop: stop accepting, let in-flight work finish. The grace
 *                    period starts; when it ends (or at a second SIGTERM/SIGINT)
 *                    on_deadline: close what is left (with close_notify) and exit.
 *   SIGHUP           on_reload: reload certificates and keys for new work.
 * The handlers run on the loop's thread, never in signal context.
 */
#ifndef PQIFY_NET_SIGNALS_H
#define PQIFY_NET_SIGNALS_H

#include <uv.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_signals_cbs {
    void (*on_stop)(void *ctx, int signum);
    void (*on_deadline)(void *ctx);
    void (*on_reload)(void *ctx);     /* may be NULL: SIGHUP is then ignored */
    void *ctx;
    unsigned grace_ms;                /* 0 = 10 s */
} pqify_signals_cbs;

typedef struct pqify_signals {
    uv_signal_t term, intr, hup;
    uv_timer_t grace;
    pqify_signals_cbs cbs;
    int stopping, deadline_done, open_handles;
    void (*on_closed)(struct pqify_signals *s);
} pqify_signals;

PQIFY_MUST_USE int pqify_signals_start(pqify_signals *s, uv_loop_t *loop,
                                       const pqify_signals_cbs *cbs);
/* Once the drain is over: the handles close (on_closed, may be NULL, follows) and
 * the loop can end. */
void pqify_signals_close(pqify_signals *s, void (*on_closed)(pqify_signals *s));

#ifdef __cplusplus
}
#endif
#endif
