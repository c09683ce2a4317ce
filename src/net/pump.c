/*
 * The engine pump (include/pqify/net/pump.h): handshake, then receive, over
 * bytes the caller moves. The engine takes every byte it is given while the
 * handshake is in progress and every byte once established (tls.h), except after
 * its last handshake message, while a signature is pending and after
 * close_notify; those bytes are the only ones the pump keeps.
 */
#include "pqify/net/pump.h"

#include <stdlib.h>
#include <string.h>

enum pump_state {
    ST_START,      /* nothing done yet (a client has not sent its ClientHello) */
    ST_HANDSHAKE,  /* the engine waits for the peer's next flight */
    ST_SIGNING,    /* the engine waits for an asynchronous signature */
    ST_OPEN,       /* established: bytes go to pqify_tls_receive */
    ST_CLOSED,     /* close_notify came: input is dropped */
    ST_FAILED,
};

int pqify_pump_init(pqify_pump *p, const pqify_tls_config *cfg, int is_server)
{
    memset(p, 0, sizeof *p);
    pqify_tls_buf_init(&p->out, NULL, 0);
    pqify_tls_buf_init(&p->plain, NULL, 0);
    p->state = ST_START;
    p->conn = cfg != NULL ? pqify_tls_conn_new(cfg, is_server) : NULL;
    if (p->conn == NULL) {
        p->state = ST_FAILED;
        p->err = PQIFY_TLS_ERR_NO_MEMORY;
        return PQIFY_TLS_ERR_NO_MEMORY;
    }
    /* A client speaks first; a server waits (the role is the engine's to keep). */
    p->resume = !is_server;
    return 0;
}

void pqify_pump_dispose(pqify_pump *p)
{
    pqify_tls_conn_free(p->conn);
    p->conn = NULL;
    pqify_tls_buf_dispose(&p->out);
    pqify_tls_buf_dispose(&p->plain);
    free(p->pending);
    p->pending = NULL;
    p->pending_len = p->pending_cap = 0;
}

static pqify_pump_event fail(pqify_pump *p, int err)
{
    if (p->state != ST_FAILED) {
        p->state = ST_FAILED;
        p->err = err;
    }
    p->pending_len = 0;
    return PQIFY_PUMP_FAILED;
}

/* Appends to the held bytes; 0 or -1 when that would pass PQIFY_PUMP_MAX_PENDING. */
static int hold(pqify_pump *p, const uint8_t *in, size_t len)
{
    if (len == 0)
        return 0;
    if (len > PQIFY_PUMP_MAX_PENDING - p->pending_len)
        return -1;
    if (p->pending_len + len > p->pending_cap) {
        size_t cap = p->pending_cap ? p->pending_cap : 4096;
        while (cap < p->pending_len + len)
            cap *= 2;
        uint8_t *grown = realloc(p->pending, cap);
        if (grown == NULL)
            return -1;
        p->pending = grown;
        p->pending_cap = cap;
    }
    memcpy(p->pending + p->pending_len, in, len);
    p->pending_len += len;
    return 0;
}

static pqify_pump_event handshake(pqify_pump *p, const uint8_t *in, size_t len, size_t *used)
{
    size_t n = len;
    int rc = pqify_tls_handshake(p->conn, len ? in : NULL, &n, &p->out);
    *used = n;
    p->resume = 0;
    if (rc < 0)
        return fail(p, rc);
    if (rc == 0) {
        p->state = ST_OPEN;
        return PQIFY_PUMP_HANDSHAKE_DONE;
    }
    if (rc == PQIFY_TLS_WANT_SIGNATURE) {
        p->state = ST_SIGNING;
        return PQIFY_PUMP_WANT_SIGNATURE;
    }
    if (rc != PQIFY_TLS_IN_PROGRESS)
        return fail(p, PQIFY_TLS_ERR_INTERNAL);
    p->state = ST_HANDSHAKE;
    return PQIFY_PUMP_WANT_INPUT;
}

static pqify_pump_event receive(pqify_pump *p, const uint8_t *in, size_t len, size_t *used)
{
    size_t n = len;
    int rc = pqify_tls_receive(p->conn, &p->plain, in, &n, &p->out);
    *used = n;
    if (rc < 0)
        return fail(p, rc);
    if (rc == PQIFY_TLS_PEER_CLOSED) {
        /* RFC 8446 §6.1: nothing after close_notify counts */
        p->state = ST_CLOSED;
        *used = len;
    }
    if (p->plain.len > 0)
        return PQIFY_PUMP_DATA;
    return p->state == ST_CLOSED ? PQIFY_PUMP_PEER_CLOSED : PQIFY_PUMP_WANT_INPUT;
}

/* One step over in[0..len); *used says how much of it is spent. */
static pqify_pump_event step(pqify_pump *p, const uint8_t *in, size_t len, size_t *used)
{
    *used = 0;
    switch (p->state) {
    case ST_START:
    case ST_HANDSHAKE:
        if (len == 0 && !p->resume)
            return PQIFY_PUMP_WANT_INPUT;
        return handshake(p, in, len, used);
    case ST_SIGNING:
        if (!p->resume)
            return PQIFY_PUMP_PENDING;
        return handshake(p, in, len, used);
    case ST_OPEN:
        if (p->plain.len > 0)
            return PQIFY_PUMP_DATA;
        if (len == 0)
            return PQIFY_PUMP_WANT_INPUT;
        return receive(p, in, len, used);
    case ST_CLOSED:
        *used = len;
        return p->plain.len > 0 ? PQIFY_PUMP_DATA : PQIFY_PUMP_PEER_CLOSED;
    default:
        *used = len;
        return PQIFY_PUMP_FAILED;
    }
}

pqify_pump_event pqify_pump_next(pqify_pump *p)
{
    size_t used = 0;
    pqify_pump_event ev = step(p, p->pending, p->pending_len, &used);
    if (used >= p->pending_len) {
        p->pending_len = 0;
    } else if (used > 0) {
        memmove(p->pending, p->pending + used, p->pending_len - used);
        p->pending_len -= used;
    }
    return ev;
}

pqify_pump_event pqify_pump_feed(pqify_pump *p, const uint8_t *in, size_t len)
{
    if (p->pending_len > 0 || len == 0) {
        if (hold(p, in, len) != 0)
            return fail(p, PQIFY_TLS_ERR_NO_MEMORY);
        return pqify_pump_next(p);
    }
    /* The usual case: the engine reads the caller's bytes in place. */
    size_t used = 0;
    pqify_pump_event ev = step(p, in, len, &used);
    if (used < len && hold(p, in + used, len - used) != 0)
        return fail(p, PQIFY_TLS_ERR_NO_MEMORY);
    return ev;
}

int pqify_pump_send(pqify_pump *p, const void *data, size_t len)
{
    if (p->state == ST_FAILED)
        return p->err;
    int rc = pqify_tls_send(p->conn, &p->out, data, len);
    if (rc < 0 && rc != PQIFY_TLS_ERR_ARG && rc != PQIFY_TLS_ERR_CLOSED)
        (void)fail(p, rc);
    return rc;
}

int pqify_pump_close_notify(pqify_pump *p)
{
    if (p->state == ST_FAILED)
        return p->err;
    return pqify_tls_close_notify(p->conn, &p->out);
}

int pqify_pump_signature_request(const pqify_pump *p, uint16_t *scheme, const uint8_t **tbs,
                                 size_t *tbs_len)
{
    return pqify_tls_signature_request(p->conn, scheme, tbs, tbs_len);
}

int pqify_pump_signature_complete(pqify_pump *p, const uint8_t *sig, size_t len)
{
    int rc = pqify_tls_signature_complete(p->conn, sig, len);
    if (rc == 0)
        p->resume = 1;
    return rc;
}

int pqify_pump_signature_failed(pqify_pump *p, const char *reason)
{
    int rc = pqify_tls_signature_failed(p->conn, reason);
    if (rc == 0)
        p->resume = 1;   /* the next step fails the handshake with its alert */
    return rc;
}

int pqify_pump_error(const pqify_pump *p)
{
    return p->state == ST_FAILED ? p->err : 0;
}

int pqify_pump_established(const pqify_pump *p)
{
    return p->conn != NULL && pqify_tls_is_established(p->conn);
}

size_t pqify_pump_pending(const pqify_pump *p)
{
    return p->pending_len;
}

void pqify_pump_release_buffers(pqify_pump *p)
{
    if (p->out.len == 0) {
        pqify_tls_buf_dispose(&p->out);
        pqify_tls_buf_init(&p->out, NULL, 0);
    }
    if (p->plain.len == 0) {
        pqify_tls_buf_dispose(&p->plain);
        pqify_tls_buf_init(&p->plain, NULL, 0);
    }
    if (p->pending_len == 0) {
        free(p->pending);
        p->pending = NULL;
        p->pending_cap = 0;
    }
    /* the engine's 18.7 KiB of record buffers are most of an idle connection */
    pqify_tls_release_buffers(p->conn);
}
