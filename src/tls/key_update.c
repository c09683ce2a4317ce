/* KeyUpdate (RFC 8446 §4.6.3) and the other post-handshake messages. */
#include "conn.h"

int tls_key_update_parse(const uint8_t *body, size_t len, int *update_requested)
{
    if (len != 1)
        return PQIFY_TLS_ERR_DECODE;
    if (body[0] > 1)
        return PQIFY_TLS_ERR_ILLEGAL_PARAMETER;
    *update_requested = body[0];
    return 0;
}

int tls_key_update_write(int update_requested, pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg;
    TRY(tls_msg_begin(m, TLS_HS_KEY_UPDATE, &msg));
    TRY(tls_write_u8(m, update_requested ? 1 : 0));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}

/* §4.6.3, in state CONNECTED (state_machine.c) */
int tls_on_key_update(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    int requested = 0;
    TRY(tls_key_update_parse(msg + TLS_HS_HEADER, len - TLS_HS_HEADER, &requested));
    /* bound a peer that sends KeyUpdates and nothing else */
    ENSURE(++c->key_updates_in_a_row <= TLS_MAX_KEY_UPDATES_IN_A_ROW, PQIFY_TLS_ERR_KEY_UPDATE_LIMIT);
    TRY(tls_traffic_update(&c->rd, 0));
    c->rd_changed = 1;
    c->key_updates_received++;
    if (requested && !c->sent_close)
        TRY(pqify_tls_key_update(c, 0, out));
out:
    return ret;
}
