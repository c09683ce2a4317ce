/* The listener (listener.h): accept4() under a uv_poll_t so that accepting can
 * pause (connection limit, fd exhaustion) without closing the socket. */
#include "pqify/net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Accepts per readiness event: bounded so that a flood of connects cannot keep
 * the loop from its other handles (timers, established connections). */
#define ACCEPT_BATCH 64
#define PAUSE_MIN_MS 10
#define PAUSE_MAX_MS 1000

struct pqify_listener {
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t pause;
    int fd;
    int polling;          /* uv_poll_start is in effect */
    int stopped;          /* pqify_listener_stop: never accept again */
    int free_requested;
    int open_handles;     /* handles not yet through their close callback */
    unsigned max;
    uint64_t pause_ms;
    int backlog;
    pqify_accept_cb cb;
    void *ctx;
    pqify_listener_stats stats;
    struct sockaddr_storage addr;
};

void pqify_net_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in4->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

int pqify_net_split_hostport(const char *arg, char *host, size_t host_cap, char *port,
                             size_t port_cap)
{
    const char *colon, *h = arg;
    size_t hlen;

    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':')
            return UV_EINVAL;
        h = arg + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL)
            return UV_EINVAL;
        hlen = (size_t)(colon - arg);
    }
    size_t plen = strlen(colon + 1);
    if (hlen == 0 || hlen >= host_cap || plen == 0 || plen >= port_cap)
        return UV_EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return UV_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    return 0;
}

static int default_backlog(void)
{
    int backlog = PQIFY_LISTEN_BACKLOG_MIN;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f != NULL) {
        int v;
        if (fscanf(f, "%d", &v) == 1 && v > backlog)
            backlog = v;
        fclose(f);
    }
    return backlog;
}

static void on_readable(uv_poll_t *h, int status, int events);

static void poll_on(pqify_listener *l)
{
    if (!l->polling && !l->stopped && (l->max == 0 || l->stats.active < l->max) &&
        !uv_is_active((uv_handle_t *)&l->pause)) {
        if (uv_poll_start(&l->poll, UV_READABLE, on_readable) == 0)
            l->polling = 1;
    }
}

static void poll_off(pqify_listener *l)
{
    if (l->polling) {
        uv_poll_stop(&l->poll);
        l->polling = 0;
    }
}

static void on_pause_over(uv_timer_t *t)
{
    poll_on(t->data);
}

/* errno values that say "out of a resource": accepting again at once would spin. */
static int is_resource_error(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    pqify_listener *l = h->data;
    (void)events;
    if (status < 0) {
        /* The socket reported an error (not an accept error); keep trying. */
        l->stats.accept_errors++;
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !l->stopped; i++) {
        if (l->max != 0 && l->stats.active >= l->max) {
            poll_off(l);
            l->stats.limit_pauses++;
            return;
        }
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR)
                continue;
            l->stats.accept_errors++;
            l->stats.last_error = e;
            if (is_resource_error(e)) {
                poll_off(l);
                l->stats.resource_pauses++;
                uv_timer_start(&l->pause, on_pause_over, l->pause_ms, 0);
                l->pause_ms = l->pause_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : l->pause_ms * 2;
                return;
            }
            continue;   /* ECONNABORTED, EPROTO, EPERM (firewall) ...: the next may work */
        }
        l->pause_ms = PAUSE_MIN_MS;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        l->stats.accepted++;
        l->stats.active++;
        l->cb(l, fd, (struct sockaddr *)&peer, l->ctx);
    }
}

static int open_socket(const pqify_listener_opts *o, int backlog, struct sockaddr_storage *bound,
                       char *err, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(o->host, o->port, &hints, &res);
    if (g != 0) {
        snprintf(err, cap, "cannot listen on %s:%s: %s", o->host, o->port, gai_strerror(g));
        return UV_EAI_NONAME;
    }
    int fd = -1, ret = UV_EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            ret = -errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (o->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            ret = -errno;
        } else if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
            socklen_t sl = sizeof *bound;
            if (getsockname(fd, (struct sockaddr *)bound, &sl) == 0) {
                ret = 0;
                break;
            }
        }
        ret = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, cap, "cannot listen on %s:%s: %s", o->host, o->port, uv_strerror(ret));
        return ret;
    }
    return fd;
}

int pqify_listener_open(uv_loop_t *loop, const pqify_listener_opts *o, pqify_accept_cb cb,
                        void *ctx, pqify_listener **out, char *err, size_t cap)
{
    *out = NULL;
    if (o == NULL || o->host == NULL || o->port == NULL || cb == NULL) {
        snprintf(err, cap, "listener: host, port and callback are required");
        return UV_EINVAL;
    }
    pqify_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, cap, "listener: out of memory");
        return UV_ENOMEM;
    }
    l->backlog = o->backlog > 0 ? o->backlog : default_backlog();
    int fd = open_socket(o, l->backlog, &l->addr, err, cap);
    if (fd < 0) {
        free(l);
        return fd;
    }
    l->loop = loop;
    l->fd = fd;
    l->max = o->max_connections;
    l->cb = cb;
    l->ctx = ctx;
    l->pause_ms = PAUSE_MIN_MS;
    int r = uv_poll_init(loop, &l->poll, fd);
    if (r != 0) {
        snprintf(err, cap, "listener: %s", uv_strerror(r));
        close(fd);
        free(l);
        return r;
    }
    uv_timer_init(loop, &l->pause);
    l->poll.data = l;
    l->pause.data = l;
    l->open_handles = 2;
    poll_on(l);
    *out = l;
    return 0;
}

void pqify_listener_address(const pqify_listener *l, char *out, size_t cap)
{
    pqify_net_format_addr((const struct sockaddr *)&l->addr, out, cap);
}

unsigned pqify_listener_port(const pqify_listener *l)
{
    const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

int pqify_listener_backlog(const pqify_listener *l)
{
    return l->backlog;
}

void pqify_listener_done(pqify_listener *l)
{
    if (l->stats.active > 0)
        l->stats.active--;
    poll_on(l);
}

void pqify_listener_get_stats(const pqify_listener *l, pqify_listener_stats *s)
{
    *s = l->stats;
}

static void on_handle_closed(uv_handle_t *h)
{
    pqify_listener *l = h->data;
    if (h == (uv_handle_t *)&l->poll && l->fd >= 0) {
        /* libuv: close the fd only after its poll handle is closed. */
        close(l->fd);
        l->fd = -1;
    }
    if (--l->open_handles == 0 && l->free_requested)
        free(l);
}

void pqify_listener_stop(pqify_listener *l)
{
    if (l->stopped)
        return;
    l->stopped = 1;
    poll_off(l);
    uv_timer_stop(&l->pause);
    uv_close((uv_handle_t *)&l->poll, on_handle_closed);
    uv_close((uv_handle_t *)&l->pause, on_handle_closed);
}

void pqify_listener_free(pqify_listener *l)
{
    if (l == NULL)
        return;
    l->free_requested = 1;
    if (!l->stopped)
        pqify_listener_stop(l);
    else if (l->open_handles == 0)
        free(l);
}
