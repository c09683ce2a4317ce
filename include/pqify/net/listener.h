/*
 * pqify net: a TCP listener on a libuv loop (DESIGN.md "The service chassis").
 *
 * It owns its socket (so it can set SO_REUSEPORT for --workers and pick the backlog)
 * and accepts with accept4() under a uv_poll_t, which lets it stop and restart
 * accepting without closing the socket:
 *  - a connection limit: at max_connections it stops accepting (the kernel queue
 *    holds newcomers) and starts again when pqify_listener_done() frees a place;
 *  - accept errors never stop it: EMFILE, ENFILE, ENOMEM and ENOBUFS pause
 *    accepting for a back-off (10 ms doubling to 1 s, reset by the next success);
 *    any other error (ECONNABORTED, EPROTO, EPERM ...) is counted and skipped.
 * Every accepted socket has TCP_NODELAY (a reply must not wait ~40 ms for a
 * delayed ACK behind the session ticket) and is non-blocking and close-on-exec.
 */
#ifndef PQIFY_NET_LISTENER_H
#define PQIFY_NET_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* listen(2) backlog: the larger of 511 (nginx's) and net.core.somaxconn. */
#define PQIFY_LISTEN_BACKLOG_MIN 511

typedef struct pqify_listener pqify_listener;

/* A new connection: fd belongs to the callee, who calls pqify_listener_done()
 * once it is closed (the limit counts it until then). */
typedef void (*pqify_accept_cb)(pqify_listener *l, int fd, const struct sockaddr *peer,
                                void *ctx);

typedef struct pqify_listener_opts {
    const char *host, *port;     /* numeric or names; port "0" picks a free port */
    unsigned max_connections;    /* 0 = no limit */
    int reuseport;               /* SO_REUSEPORT: several loops share one port */
    int backlog;                 /* 0 = PQIFY_LISTEN_BACKLOG_MIN or somaxconn */
} pqify_listener_opts;

typedef struct pqify_listener_stats {
    uint64_t accepted;
    uint64_t accept_errors;      /* every failed accept4() but EAGAIN/EINTR */
    uint64_t resource_pauses;    /* pauses for EMFILE/ENFILE/ENOMEM/ENOBUFS */
    uint64_t limit_pauses;       /* times the connection limit stopped accepting */
    unsigned active;             /* accepted and not yet pqify_listener_done() */
    int last_error;              /* errno of the last accept error, 0 if none */
} pqify_listener_stats;

/* Binds and listens. 0 or a negative libuv error (UV_EADDRINUSE ...) with words
 * in err ("cannot listen on 127.0.0.1:80: permission denied"). */
PQIFY_MUST_USE int pqify_listener_open(uv_loop_t *loop, const pqify_listener_opts *o,
                                       pqify_accept_cb cb, void *ctx, pqify_listener **out,
                                       char *err, size_t cap);
/* "127.0.0.1:PORT" or "[::1]:PORT" of the bound socket (the port 0 picked). */
void pqify_listener_address(const pqify_listener *l, char *out, size_t cap);
unsigned pqify_listener_port(const pqify_listener *l);
int pqify_listener_backlog(const pqify_listener *l);
/* One accepted connection is closed: it no longer counts against the limit. */
void pqify_listener_done(pqify_listener *l);
/* Stop accepting for good and close the socket (SIGTERM); connections carry on. */
void pqify_listener_stop(pqify_listener *l);
void pqify_listener_get_stats(const pqify_listener *l, pqify_listener_stats *s);
/* Stops, then frees once libuv released the handles (the loop must run on). */
void pqify_listener_free(pqify_listener *l);

/* "IP:PORT" / "[IP6]:PORT" of an address (the `accepted peer=` form). */
void pqify_net_format_addr(const struct sockaddr *sa, char *out, size_t cap);
/* Split "HOST:PORT" / "[IP6]:PORT"; 0 or UV_EINVAL. */
PQIFY_MUST_USE int pqify_net_split_hostport(const char *arg, char *host, size_t host_cap,
                                            char *port, size_t port_cap);

#ifdef __cplusplus
}
#endif
#endif
