/*
 * Client sessions for resumption: the opaque blob a caller keeps between
 * connections (tls.h "Sessions"); the per-config cache is session_cache.c.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define SESSION_BLOB_VERSION 1

void tls_session_free(tls_session *s)
{
    if (s == NULL)
        return;
    tls_zeroize(s, sizeof *s);   /* it holds a PSK */
    free(s);
}

/* blob: version | suite u16 | lifetime u32 | age_add u32 | received_ms u64 |
 *       psk<1> | server_name<1> | peer_subject<2> | ticket<2> */
int pqify_tls_get_session(const pqify_tls_conn *c, uint8_t *blob, size_t capacity, size_t *len)
{
    int ret = 0;
    pqify_tls_buf b;
    if (c == NULL || blob == NULL || len == NULL || c->is_server || c->ticket == NULL)
        return PQIFY_TLS_ERR_ARG;
    const tls_session *s = c->ticket;
    size_t sn = strnlen(s->server_name, sizeof s->server_name - 1);
    size_t subj = strnlen(s->peer_subject, sizeof s->peer_subject - 1);
    size_t need = 1 + 2 + 4 + 4 + 8 + 1 + s->psk_len + 1 + sn + 2 + subj + 2 + s->ticket_len;
    if (capacity < need)
        return PQIFY_TLS_ERR_ARG;
    pqify_tls_buf_init(&b, blob, capacity);
    TRY(tls_write_u8(&b, SESSION_BLOB_VERSION));
    TRY(tls_write_u16(&b, s->suite));
    TRY(tls_write_u32(&b, s->lifetime_s));
    TRY(tls_write_u32(&b, s->age_add));
    TRY(tls_write_u64(&b, s->received_ms));
    TRY(tls_write_u8(&b, (uint8_t)s->psk_len));
    TRY(tls_write_bytes(&b, s->psk, s->psk_len));
    TRY(tls_write_u8(&b, (uint8_t)sn));
    TRY(tls_write_bytes(&b, s->server_name, sn));
    TRY(tls_write_u16(&b, (uint16_t)subj));
    TRY(tls_write_bytes(&b, s->peer_subject, subj));
    TRY(tls_write_u16(&b, (uint16_t)s->ticket_len));
    TRY(tls_write_bytes(&b, s->ticket, s->ticket_len));
    ENSURE(!b.is_allocated && b.len == need, PQIFY_TLS_ERR_INTERNAL);
    *len = b.len;
out:
    return ret;
}

static int read_string(tls_reader *r, size_t prefix, char *dst, size_t cap)
{
    int ret = 0;
    tls_reader v;
    TRY(tls_read_block(r, prefix, &v));
    ENSURE(v.len < cap, PQIFY_TLS_ERR_ARG);
    memcpy(dst, v.base, v.len);
    dst[v.len] = 0;
out:
    return ret;
}

int pqify_tls_set_session(pqify_tls_conn *c, const uint8_t *blob, size_t len)
{
    int ret = 0;
    tls_reader r, psk, ticket;
    uint8_t version;
    tls_session *s = NULL;
    if (c == NULL || blob == NULL || c->is_server || c->state != ST_CLIENT_START || c->err != 0)
        return PQIFY_TLS_ERR_ARG;
    s = calloc(1, sizeof *s);
    ENSURE(s != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    tls_reader_init(&r, blob, len);
    TRY(tls_read_u8(&r, &version));
    ENSURE(version == SESSION_BLOB_VERSION, PQIFY_TLS_ERR_ARG);
    TRY(tls_read_u16(&r, &s->suite));
    TRY(tls_read_u32(&r, &s->lifetime_s));
    TRY(tls_read_u32(&r, &s->age_add));
    TRY(tls_read_u64(&r, &s->received_ms));
    TRY(tls_read_block(&r, 1, &psk));
    ENSURE(psk.len == 32 || psk.len == 48, PQIFY_TLS_ERR_ARG);
    memcpy(s->psk, psk.base, psk.len);
    s->psk_len = psk.len;
    TRY(read_string(&r, 1, s->server_name, sizeof s->server_name));
    TRY(read_string(&r, 2, s->peer_subject, sizeof s->peer_subject));
    TRY(tls_read_block(&r, 2, &ticket));
    ENSURE(ticket.len > 0 && ticket.len <= TLS_MAX_TICKET, PQIFY_TLS_ERR_ARG);
    memcpy(s->ticket, ticket.base, ticket.len);
    s->ticket_len = ticket.len;
    TRY(tls_read_end(&r));
    tls_session_free(c->offer);
    c->offer = s;
    s = NULL;
    ret = tls_client_psk_choose(c);
out:
    tls_session_free(s);
    /* a malformed blob is the caller's mistake, whatever the cursor said */
    return ret < 0 && ret != PQIFY_TLS_ERR_NO_MEMORY ? PQIFY_TLS_ERR_ARG : ret;
}
