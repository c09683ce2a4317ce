/* The life of a service process around its loop (service.h). */
#include "pqify/net/service.h"

#include <stdio.h>
#include <string.h>

#include "pqify/net/listener.h"
#include "pqify/net/log.h"

static void on_stop(void *ctx, int signum)
{
    (void)signum;
    pqify_service *s = ctx;
    if (s->draining)
        return;
    s->draining = 1;
    char grace[16];
    snprintf(grace, sizeof grace, "%u", s->o.grace_ms ? s->o.grace_ms : 10000u);
    PQIFY_LOG(PQIFY_LOG_INFO, "draining", "service", s->o.name, "grace_ms", grace);
    s->o.hooks.stop(s->o.hooks.ctx);
}

static void on_deadline(void *ctx)
{
    pqify_service *s = ctx;
    if (s->o.hooks.deadline != NULL)
        s->o.hooks.deadline(s->o.hooks.ctx);
}

static void on_reload(void *ctx)
{
    pqify_service *s = ctx;
    if (s->o.hooks.reload != NULL)
        s->o.hooks.reload(s->o.hooks.ctx);
}

static int ready(void *arg, char *reason, size_t cap)
{
    pqify_service *s = arg;
    if (s->draining) {
        snprintf(reason, cap, "draining: stopped accepting after SIGTERM/SIGINT");
        return 0;
    }
    return s->o.hooks.ready == NULL || s->o.hooks.ready(s->o.hooks.ctx, reason, cap);
}

static int ready_body(void *arg, char *json, size_t cap)
{
    pqify_service *s = arg;
    int ok = s->o.ready_body(s->o.hooks.ctx, s->draining, json, cap);
    return ok && !s->draining;
}

int pqify_service_start(pqify_service *s, uv_loop_t *loop, const pqify_service_options *o,
                        char *err, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->o = *o;
    pqify_signals_cbs cbs = {on_stop, on_deadline, o->hooks.reload ? on_reload : NULL, s,
                             o->grace_ms};
    if (pqify_signals_start(&s->signals, loop, &cbs) != 0) {
        pqify_signals_close(&s->signals, NULL);
        snprintf(err, cap, "cannot install the signal handlers");
        return -1;
    }
    s->signals_open = 1;
    if (o->admin != NULL && strcmp(o->admin, "off") != 0) {
        pqify_admin_options ao = {.listen = o->admin, .metrics = o->metrics, .ready = ready,
                                  .ready_arg = s, .ready_body = o->ready_body ? ready_body : NULL};
        if (pqify_admin_start(loop, &ao, &s->admin, err, cap) != 0) {
            pqify_service_drained(s);
            return -1;
        }
    }
    return 0;
}

void pqify_service_announce(const pqify_service *s, const char *listen_addr)
{
    if (s->admin != NULL) {
        char host[256], port[16];
        if (pqify_net_split_hostport(s->o.admin, host, sizeof host, port, sizeof port) != 0)
            snprintf(host, sizeof host, "127.0.0.1");
        int v6 = strchr(host, ':') != NULL;
        fprintf(stderr, "pqify %s: admin endpoint on %s%s%s:%d (/metrics, /ready, /healthz)\n",
                s->o.name, v6 ? "[" : "", host, v6 ? "]" : "", pqify_admin_port(s->admin));
    }
    fprintf(stderr, "listening on %s\n", listen_addr);
}

void pqify_service_drained(pqify_service *s)
{
    s->drained = 1;
    if (s->signals_open) {
        s->signals_open = 0;
        pqify_signals_close(&s->signals, NULL);
    }
    if (s->admin != NULL) {
        pqify_admin_stop(s->admin);
        s->admin = NULL;
    }
}

int pqify_service_draining(const pqify_service *s)
{
    return s->draining;
}

static void close_one(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void pqify_service_close_loop(uv_loop_t *loop)
{
    uv_walk(loop, close_one, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}
