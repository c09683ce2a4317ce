/* The dialer and its back-off (dialer.h). */
#include "pqify/net/dialer.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- back-off ------------------------------------------------------------------ */

static uint64_t monotonic_ms(void *ctx)
{
    (void)ctx;
    return uv_hrtime() / 1000000u;
}

static uint64_t kernel_rand(void *ctx)
{
    (void)ctx;
    uint64_t r = 0;
    /* A short read leaves part of r zero: still a valid (less random) wait. */
    if (getrandom(&r, sizeof r, 0) < 0)
        r = uv_hrtime();
    return r;
}

void pqify_backoff_init(pqify_backoff *b, uint64_t base_ms, uint64_t cap_ms, pqify_clock_fn now,
                        void *clock_ctx, pqify_rand_fn rand, void *rand_ctx)
{
    memset(b, 0, sizeof *b);
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->now = now ? now : monotonic_ms;
    b->clock_ctx = clock_ctx;
    b->rand = rand ? rand : kernel_rand;
    b->rand_ctx = rand_ctx;
}

uint64_t pqify_backoff_ceiling(const pqify_backoff *b, unsigned n)
{
    uint64_t c = b->base_ms;
    for (unsigned i = 0; i < n && c < b->cap_ms; i++)
        c = c > UINT64_MAX / 2 ? UINT64_MAX : c * 2;
    return c < b->cap_ms ? c : b->cap_ms;
}

uint64_t pqify_backoff_now(const pqify_backoff *b)
{
    return b->now(b->clock_ctx);
}

uint64_t pqify_backoff_failed(pqify_backoff *b)
{
    uint64_t ceiling = pqify_backoff_ceiling(b, b->failures);
    /* "Full jitter": uniform over [0, ceiling]. The modulo bias is below
     * ceiling / 2^64, far under a millisecond's worth. */
    uint64_t wait = ceiling == UINT64_MAX ? b->rand(b->rand_ctx) : b->rand(b->rand_ctx) % (ceiling + 1);
    if (b->failures < UINT32_MAX)
        b->failures++;
    b->not_before_ms = pqify_backoff_now(b) + wait;
    return wait;
}

uint64_t pqify_backoff_remaining(const pqify_backoff *b)
{
    uint64_t now = pqify_backoff_now(b);
    return b->not_before_ms > now ? b->not_before_ms - now : 0;
}

void pqify_backoff_reset(pqify_backoff *b)
{
    b->failures = 0;
    b->not_before_ms = 0;
}

/* ---- dialer -------------------------------------------------------------------- */

enum dial_state { IDLE, WAITING, RESOLVING, CONNECTING };

/* One attempt: resolve, then connect address by address. It outlives a stop
 * (libuv still calls back) and then touches only itself. */
struct attempt {
    pqify_dialer *d;
    int cancelled, timed_out, last_error;
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_tcp_t *tcp;
    struct addrinfo *res, *ai;
};

struct pqify_dialer {
    uv_loop_t *loop;
    char *host, *port;
    unsigned connect_timeout_ms, max_attempts, failed_attempts;
    uint64_t healthy_after_ms, connected_at_ms;
    int ever_connected, free_requested, open_handles;
    enum dial_state state;
    pqify_backoff backoff;
    uv_timer_t wait, timeout;
    struct attempt *att;
    pqify_dial_cb cb;
    pqify_retry_cb on_retry;
    void *ctx;
};

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void attempt_free(struct attempt *a)
{
    if (a->res != NULL)
        uv_freeaddrinfo(a->res);
    free(a);
}

static void begin_attempt(pqify_dialer *d);

static void on_wait_over(uv_timer_t *t)
{
    begin_attempt(t->data);
}

static void wait_then_retry(pqify_dialer *d, int status)
{
    uint64_t delay = pqify_backoff_failed(&d->backoff);
    d->state = WAITING;
    uv_timer_start(&d->wait, on_wait_over, delay, 0);
    if (d->on_retry != NULL)
        d->on_retry(d, status, delay, d->ctx);
}

static void attempt_failed(pqify_dialer *d, struct attempt *a, int status)
{
    d->att = NULL;
    attempt_free(a);
    d->failed_attempts++;
    if (d->max_attempts != 0 && d->failed_attempts >= d->max_attempts) {
        d->state = IDLE;
        d->failed_attempts = 0;
        d->cb(d, status, NULL, d->ctx);
        return;
    }
    wait_then_retry(d, status);
}

static void on_connect(uv_connect_t *req, int status);
static void on_connect_timeout(uv_timer_t *t);

static void close_tcp(uv_tcp_t *tcp)
{
    if (!uv_is_closing((uv_handle_t *)tcp))
        uv_close((uv_handle_t *)tcp, free_handle);
}

static void try_connect(struct attempt *a)
{
    pqify_dialer *d = a->d;
    for (; a->ai != NULL; a->ai = a->ai->ai_next) {
        a->tcp = malloc(sizeof *a->tcp);
        if (a->tcp == NULL) {
            a->last_error = UV_ENOMEM;
            break;
        }
        uv_tcp_init(d->loop, a->tcp);
        a->connect.data = a;
        int r = uv_tcp_connect(&a->connect, a->tcp, a->ai->ai_addr, on_connect);
        if (r == 0) {
            d->state = CONNECTING;
            uv_timer_start(&d->timeout, on_connect_timeout, d->connect_timeout_ms, 0);
            return;
        }
        a->last_error = r;
        close_tcp(a->tcp);
        a->tcp = NULL;
    }
    attempt_failed(d, a, a->last_error ? a->last_error : UV_EADDRNOTAVAIL);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct attempt *a = req->data;
    uv_tcp_t *tcp = (uv_tcp_t *)req->handle;
    if (a->cancelled) {
        close_tcp(tcp);
        attempt_free(a);
        return;
    }
    pqify_dialer *d = a->d;
    uv_timer_stop(&d->timeout);
    if (status == 0) {
        (void)uv_tcp_nodelay(tcp, 1);
        d->att = NULL;
        attempt_free(a);
        d->state = IDLE;
        d->failed_attempts = 0;
        d->ever_connected = 1;
        d->connected_at_ms = pqify_backoff_now(&d->backoff);
        d->cb(d, 0, tcp, d->ctx);
        return;
    }
    a->last_error = a->timed_out ? UV_ETIMEDOUT : status;
    a->timed_out = 0;
    close_tcp(tcp);
    a->tcp = NULL;
    a->ai = a->ai->ai_next;
    try_connect(a);
}

static void on_connect_timeout(uv_timer_t *t)
{
    pqify_dialer *d = t->data;
    if (d->att != NULL && d->att->tcp != NULL) {
        d->att->timed_out = 1;
        close_tcp(d->att->tcp);   /* on_connect follows with UV_ECANCELED */
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct attempt *a = req->data;
    a->res = res;
    if (a->cancelled) {
        attempt_free(a);
        return;
    }
    if (status < 0) {
        attempt_failed(a->d, a, status);
        return;
    }
    a->ai = res;
    try_connect(a);
}

static void begin_attempt(pqify_dialer *d)
{
    struct attempt *a = calloc(1, sizeof *a);
    if (a == NULL) {
        wait_then_retry(d, UV_ENOMEM);
        return;
    }
    a->d = d;
    a->gai.data = a;
    d->att = a;
    d->state = RESOLVING;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int r = uv_getaddrinfo(d->loop, &a->gai, on_resolved, d->host, d->port, &hints);
    if (r != 0)
        attempt_failed(d, a, r);
}

pqify_dialer *pqify_dialer_new(uv_loop_t *loop, const pqify_dialer_opts *o, pqify_dial_cb cb,
                               void *ctx)
{
    if (o == NULL || o->host == NULL || o->port == NULL || cb == NULL)
        return NULL;
    pqify_dialer *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->host = strdup(o->host);
    d->port = strdup(o->port);
    if (d->host == NULL || d->port == NULL) {
        free(d->host);
        free(d->port);
        free(d);
        return NULL;
    }
    d->loop = loop;
    d->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    d->max_attempts = o->max_attempts;
    pqify_backoff_init(&d->backoff, o->backoff_base_ms ? o->backoff_base_ms : 100,
                       o->backoff_cap_ms ? o->backoff_cap_ms : 30000, o->now, o->clock_ctx, o->rand,
                       o->rand_ctx);
    d->healthy_after_ms = o->healthy_after_ms ? o->healthy_after_ms : d->backoff.cap_ms;
    d->cb = cb;
    d->on_retry = o->on_retry;
    d->ctx = ctx;
    uv_timer_init(loop, &d->wait);
    uv_timer_init(loop, &d->timeout);
    d->wait.data = d;
    d->timeout.data = d;
    d->open_handles = 2;
    return d;
}

int pqify_dialer_start(pqify_dialer *d)
{
    if (d->state != IDLE)
        return 0;
    if (d->ever_connected) {
        d->ever_connected = 0;
        uint64_t lived = pqify_backoff_now(&d->backoff) - d->connected_at_ms;
        if (lived >= d->healthy_after_ms) {
            pqify_backoff_reset(&d->backoff);
        } else {
            /* Accepted and dropped at once: as good as a failure, or we would
             * redial in a tight loop. */
            wait_then_retry(d, UV_ECONNRESET);
            return 0;
        }
    }
    uint64_t rem = pqify_backoff_remaining(&d->backoff);
    if (rem > 0) {
        d->state = WAITING;
        return uv_timer_start(&d->wait, on_wait_over, rem, 0);
    }
    begin_attempt(d);
    return 0;
}

void pqify_dialer_stop(pqify_dialer *d)
{
    struct attempt *a = d->att;
    uv_timer_stop(&d->wait);
    uv_timer_stop(&d->timeout);
    if (a != NULL) {
        a->cancelled = 1;
        if (d->state == RESOLVING)
            (void)uv_cancel((uv_req_t *)&a->gai);   /* on_resolved frees it */
        else if (a->tcp != NULL)
            close_tcp(a->tcp);                      /* on_connect frees it */
        d->att = NULL;
    }
    d->state = IDLE;
}

const pqify_backoff *pqify_dialer_backoff(const pqify_dialer *d)
{
    return &d->backoff;
}

static void on_timer_closed(uv_handle_t *h)
{
    pqify_dialer *d = h->data;
    if (--d->open_handles == 0) {
        free(d->host);
        free(d->port);
        free(d);
    }
}

void pqify_dialer_free(pqify_dialer *d)
{
    if (d == NULL || d->free_requested)
        return;
    d->free_requested = 1;
    pqify_dialer_stop(d);
    uv_close((uv_handle_t *)&d->wait, on_timer_closed);
    uv_close((uv_handle_t *)&d->timeout, on_timer_closed);
}
