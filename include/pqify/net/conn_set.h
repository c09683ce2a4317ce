/*
 * pqify net: the live connections of a listening service (DESIGN.md "The service
 * chassis": SIGTERM stops accepting and finishes what is in flight).
 *
 * A connection joins the set once its stream is accepted and leaves it when the
 * service frees it, which may be after its stream closed (keyless: requests still on
 * the worker pool; logrecv: a chunk still at its sink). The set:
 *  - counts its members (pqify_conn_set_count) and, in an optional gauge, the streams
 *    open now (+1 on add, -1 on pqify_conn_set_closed);
 *  - drains: established streams are handed to the service's finish callback (answer
 *    what is in flight, then close_notify), handshakes in progress are aborted (not
 *    work yet), and `done` runs once, when the last member leaves;
 *  - aborts every open stream at the drain deadline.
 * The links are intrusive (no allocation); one loop thread uses a set.
 */
#ifndef PQIFY_NET_CONN_SET_H
#define PQIFY_NET_CONN_SET_H

#include "pqify/net/metrics.h"
#include "pqify/net/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_conn_link {
    struct pqify_conn_link *prev, *next;
    void *conn;          /* the service's connection, handed to the finish callback */
    pqify_stream **s;    /* where the connection keeps its stream, NULL once closed */
} pqify_conn_link;

typedef struct pqify_conn_set {
    pqify_conn_link *head;
    unsigned n;                  /* members: added and not yet removed */
    int draining;
    pqify_series *open;          /* gauge of streams open now; NULL = none */
    void (*drained)(void *arg);  /* runs once the draining set is empty */
    void *drained_arg;
} pqify_conn_set;

/* A zeroed set is empty; set->open may be filled in before the first add. */
void pqify_conn_set_add(pqify_conn_set *set, pqify_conn_link *l, void *conn, pqify_stream **s);
/* From the stream's on_close: the stream is gone (*s = NULL, the gauge -1); the
 * connection stays a member until pqify_conn_set_remove. */
void pqify_conn_set_closed(pqify_conn_set *set, pqify_conn_link *l);
/* The service frees the connection: it leaves; when it was the last one of a
 * draining set, the drained callback runs (once). */
void pqify_conn_set_remove(pqify_conn_set *set, pqify_conn_link *l);
/* Stop work: every established stream goes to finish(conn), every handshake in
 * progress is aborted; done(arg) runs once the set is empty (at once if it is). */
void pqify_conn_set_drain(pqify_conn_set *set, void (*finish)(void *conn),
                          void (*done)(void *arg), void *arg);
/* The deadline: abort every stream still open. */
void pqify_conn_set_abort(pqify_conn_set *set);

static inline unsigned pqify_conn_set_count(const pqify_conn_set *set)
{
    return set->n;
}

static inline int pqify_conn_set_draining(const pqify_conn_set *set)
{
    return set->draining;
}

#ifdef __cplusplus
}
#endif
#endif
