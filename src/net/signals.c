/* SIGTERM/SIGINT drain and SIGHUP reload on the loop (signals.h). */
#include "pqify/net/signals.h"

#include <signal.h>
#include <string.h>

static void deadline(pqify_signals *s)
{
    if (s->deadline_done)
        return;
    s->deadline_done = 1;
    uv_timer_stop(&s->grace);
    if (s->cbs.on_deadline != NULL)
        s->cbs.on_deadline(s->cbs.ctx);
}

static void on_grace_over(uv_timer_t *t)
{
    deadline(t->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
    pqify_signals *s = h->data;
    if (signum == SIGHUP) {
        if (s->cbs.on_reload != NULL)
            s->cbs.on_reload(s->cbs.ctx);
        return;
    }
    if (s->stopping) {
        /* A second SIGTERM/SIGINT: the operator does not want to wait. */
        deadline(s);
        return;
    }
    s->stopping = 1;
    uv_timer_start(&s->grace, on_grace_over, s->cbs.grace_ms ? s->cbs.grace_ms : 10000, 0);
    if (s->cbs.on_stop != NULL)
        s->cbs.on_stop(s->cbs.ctx, signum);
}

int pqify_signals_start(pqify_signals *s, uv_loop_t *loop, const pqify_signals_cbs *cbs)
{
    memset(s, 0, sizeof *s);
    s->cbs = *cbs;
    uv_signal_t *hs[3] = {&s->term, &s->intr, &s->hup};
    const int nums[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop, hs[i]);
        hs[i]->data = s;
        int r = uv_signal_start(hs[i], on_signal, nums[i]);
        if (r != 0)
            return r;
    }
    uv_timer_init(loop, &s->grace);
    s->grace.data = s;
    s->open_handles = 4;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    pqify_signals *s = h->data;
    if (--s->open_handles == 0 && s->on_closed != NULL)
        s->on_closed(s);
}

void pqify_signals_close(pqify_signals *s, void (*on_closed)(pqify_signals *s))
{
    s->on_closed = on_closed;
    uv_handle_t *hs[4] = {(uv_handle_t *)&s->term, (uv_handle_t *)&s->intr,
                          (uv_handle_t *)&s->hup, (uv_handle_t *)&s->grace};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], on_handle_closed);
}
