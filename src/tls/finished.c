/* Finished (RFC 8446 §4.4.4): parser and writer. */
#include "conn.h"

int tls_finished_parse(const uint8_t *body, size_t len, size_t hash_len, const uint8_t **verify_data)
{
    if (len != hash_len)
        return PQIFY_TLS_ERR_DECODE;
    *verify_data = body;
    return 0;
}

int tls_finished_write(const uint8_t *verify_data, size_t len, pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg;
    TRY(tls_msg_begin(m, TLS_HS_FINISHED, &msg));
    TRY(tls_write_bytes(m, verify_data, len));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}
