/* Alerts (RFC 8446 §6): parser, sender, and what a received one means. */
#include "conn.h"

int tls_alert_parse(const uint8_t *body, size_t len, uint8_t *level, uint8_t *desc)
{
    if (len != 2)
        return PQIFY_TLS_ERR_DECODE;
    *level = body[0];
    *desc = body[1];
    return 0;
}

int tls_alert_send(pqify_tls_conn *c, uint8_t level, uint8_t desc, pqify_tls_buf *out)
{
    uint8_t a[2] = {level, desc};
    if (c->wr.active)
        return tls_record_seal(&c->wr, TLS_CT_ALERT, a, 2, out);
    return tls_record_plain(TLS_CT_ALERT, a, 2, out);
}

int tls_alert_received(pqify_tls_conn *c, uint8_t level, uint8_t desc)
{
    (void)level;
    /* §6.1: close_notify ends reading; user_canceled is followed by close_notify */
    if (desc == TLS_ALERT_CLOSE_NOTIFY) {
        c->peer_closed = 1;
        return 0;
    }
    if (desc == TLS_ALERT_USER_CANCELED)
        return 0;
    /* §6.2: every other alert is fatal, whatever level it claims */
    if (c->cfg->pq == PQIFY_PQ_REQUIRED && !c->is_server && c->state == ST_CLIENT_WAIT_SH &&
        (desc == TLS_ALERT_HANDSHAKE_FAILURE || desc == TLS_ALERT_INSUFFICIENT_SECURITY))
        return PQIFY_TLS_ERR_PEER_NO_PQ;
    return PQIFY_TLS_ERR_PEER_ALERT - desc;
}
