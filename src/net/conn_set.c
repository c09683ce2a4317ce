/* A service's live connections (conn_set.h): one intrusive list, its drain and abort. */
#include "pqify/net/conn_set.h"

#include <stddef.h>

void pqify_conn_set_add(pqify_conn_set *set, pqify_conn_link *l, void *conn, pqify_stream **s)
{
    l->conn = conn;
    l->s = s;
    l->prev = NULL;
    l->next = set->head;
    if (set->head != NULL)
        set->head->prev = l;
    set->head = l;
    set->n++;
    pqify_gauge_add(set->open, 1);
}

void pqify_conn_set_closed(pqify_conn_set *set, pqify_conn_link *l)
{
    *l->s = NULL;
    pqify_gauge_add(set->open, -1);
}

static void maybe_drained(pqify_conn_set *set)
{
    if (set->draining && set->n == 0 && set->drained != NULL) {
        void (*done)(void *) = set->drained;
        set->drained = NULL;
        done(set->drained_arg);
    }
}

void pqify_conn_set_remove(pqify_conn_set *set, pqify_conn_link *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        set->head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    set->n--;
    maybe_drained(set);
}

void pqify_conn_set_drain(pqify_conn_set *set, void (*finish)(void *conn),
                          void (*done)(void *arg), void *arg)
{
    set->draining = 1;
    set->drained = done;
    set->drained_arg = arg;
    for (pqify_conn_link *l = set->head, *next; l != NULL; l = next) {
        next = l->next;
        pqify_stream *s = *l->s;
        if (s == NULL)
            continue;
        if (!pqify_stream_established(s))
            pqify_stream_abort(s);
        else
            finish(l->conn);
    }
    maybe_drained(set);
}

void pqify_conn_set_abort(pqify_conn_set *set)
{
    for (pqify_conn_link *l = set->head, *next; l != NULL; l = next) {
        next = l->next;
        if (*l->s != NULL)
            pqify_stream_abort(*l->s);
    }
}
