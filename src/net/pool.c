/* The pool (pool.h): N slots, each a dialer and at most one stream. */
#include "pqify/net/pool.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    pqify_pool *pool;
    unsigned index;
    pqify_dialer *dialer;
    pqify_stream *stream;
    int up;
};

struct pqify_pool {
    uv_loop_t *loop;
    pqify_pool_opts o;
    struct slot *slots;
    unsigned next_pick, streams_open;
    int stopping;
    pqify_pool_stats st;
};

static void maybe_free(pqify_pool *p)
{
    if (p->stopping && p->streams_open == 0) {
        free(p->slots);
        free(p);
    }
}

static void redial(struct slot *sl)
{
    if (!sl->pool->stopping && pqify_dialer_start(sl->dialer) != 0)
        sl->pool->st.dial_failures++;
}

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct slot *sl = ctx;
    pqify_pool *p = sl->pool;
    sl->up = 1;
    p->st.up++;
    p->st.connects++;
    if (p->o.on_up != NULL)
        p->o.on_up(p, sl->index, s, p->o.ctx);
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    struct slot *sl = ctx;
    if (sl->pool->o.on_data != NULL)
        sl->pool->o.on_data(sl->pool, sl->index, data, len, sl->pool->o.ctx);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct slot *sl = ctx;
    pqify_pool *p = sl->pool;
    sl->stream = NULL;
    p->streams_open--;
    if (sl->up) {
        sl->up = 0;
        p->st.up--;
        p->st.drops++;
        if (p->o.on_down != NULL)
            p->o.on_down(p, sl->index, status, p->o.ctx);
    } else {
        p->st.dial_failures++;
    }
    redial(sl);
    maybe_free(p);
}

static const pqify_stream_cbs pool_cbs = {on_handshake, on_data, NULL, on_close};

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_dialled(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    struct slot *sl = ctx;
    pqify_pool *p = sl->pool;
    if (status != 0) {   /* only with max_attempts: start over, the back-off holds */
        p->st.dial_failures++;
        redial(sl);
        return;
    }
    if (p->stopping) {
        uv_close((uv_handle_t *)tcp, free_handle);
        return;
    }
    if (pqify_stream_connect(p->loop, tcp, p->o.cfg, &p->o.stream, &pool_cbs, sl, &sl->stream) != 0) {
        p->st.dial_failures++;
        redial(sl);
        return;
    }
    p->streams_open++;
}

static void on_retry(pqify_dialer *d, int status, uint64_t delay_ms, void *ctx)
{
    (void)d, (void)status, (void)delay_ms;
    ((struct slot *)ctx)->pool->st.dial_failures++;
}

pqify_pool *pqify_pool_new(uv_loop_t *loop, const pqify_pool_opts *o)
{
    if (o == NULL || o->host == NULL || o->port == NULL || o->cfg == NULL || o->size == 0)
        return NULL;
    pqify_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->slots = calloc(o->size, sizeof *p->slots);
    if (p->slots == NULL) {
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->o = *o;
    pqify_dialer_opts d = o->dial;
    d.host = o->host;
    d.port = o->port;
    d.on_retry = on_retry;
    for (unsigned i = 0; i < o->size; i++) {
        struct slot *sl = &p->slots[i];
        sl->pool = p;
        sl->index = i;
        sl->dialer = pqify_dialer_new(loop, &d, on_dialled, sl);
        if (sl->dialer == NULL) {
            for (unsigned j = 0; j < i; j++)
                pqify_dialer_free(p->slots[j].dialer);
            free(p->slots);
            free(p);
            return NULL;
        }
    }
    return p;
}

int pqify_pool_start(pqify_pool *p)
{
    for (unsigned i = 0; i < p->o.size; i++) {
        int r = pqify_dialer_start(p->slots[i].dialer);
        if (r != 0)
            return r;
    }
    return 0;
}

unsigned pqify_pool_up(const pqify_pool *p)
{
    return p->st.up;
}

void pqify_pool_get_stats(const pqify_pool *p, pqify_pool_stats *st)
{
    *st = p->st;
}

pqify_stream *pqify_pool_stream(pqify_pool *p, unsigned slot)
{
    return slot < p->o.size && p->slots[slot].up ? p->slots[slot].stream : NULL;
}

pqify_stream *pqify_pool_pick(pqify_pool *p)
{
    for (unsigned k = 0; k < p->o.size; k++) {
        unsigned i = (p->next_pick + k) % p->o.size;
        if (p->slots[i].up) {
            p->next_pick = i + 1;
            return p->slots[i].stream;
        }
    }
    return NULL;
}

void pqify_pool_free(pqify_pool *p)
{
    if (p == NULL || p->stopping)
        return;
    p->stopping = 1;
    for (unsigned i = 0; i < p->o.size; i++) {
        struct slot *sl = &p->slots[i];
        pqify_dialer_free(sl->dialer);
        sl->dialer = NULL;
        if (sl->stream != NULL)
            pqify_stream_close(sl->stream);
    }
    maybe_free(p);
}
