/* EncryptedExtensions (RFC 8446 §4.3.1): parser and writer. */
#include <string.h>

#include "conn.h"

static int on_extension(void *ctx, uint16_t type, tls_reader *body)
{
    int ret = 0;
    tls_encrypted_extensions *ee = ctx;
    switch (type) {
    case TLS_EXT_SERVER_NAME:
        /* RFC 6066 §3: the server's acknowledgement is empty */
        ee->has_sni = 1;
        break;
    case TLS_EXT_ALPN: {
        tls_reader list, name;
        /* RFC 7301 §3.1: exactly one protocol */
        TRY(tls_read_block(body, 2, &list));
        TRY(tls_read_block(&list, 1, &name));
        ENSURE(name.len > 0, PQIFY_TLS_ERR_DECODE);
        TRY(tls_read_end(&list));
        ee->has_alpn = 1;
        ee->alpn = name.base;
        ee->alpn_len = name.len;
        break;
    }
    case TLS_EXT_SUPPORTED_GROUPS: {
        /* §4.2.7: the server's preferences, informational only */
        tls_reader list;
        TRY(tls_read_block(body, 2, &list));
        return 0;
    }
    case TLS_EXT_KEY_SHARE:
    case TLS_EXT_SUPPORTED_VERSIONS:
    case TLS_EXT_SIGNATURE_ALGORITHMS:
    case TLS_EXT_COOKIE:
    case TLS_EXT_PRE_SHARED_KEY:
        /* §4.2: known, but not allowed in this message */
        ret = PQIFY_TLS_ERR_ILLEGAL_PARAMETER;
        goto out;
    default:
        ret = PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION;
        goto out;
    }
    TRY(tls_read_end(body));
out:
    return ret;
}

int tls_encrypted_extensions_parse(const uint8_t *body, size_t len, tls_encrypted_extensions *ee)
{
    int ret = 0;
    tls_reader r;
    memset(ee, 0, sizeof *ee);
    tls_reader_init(&r, body, len);
    TRY(tls_extensions_parse(&r, on_extension, ee));
    TRY(tls_read_end(&r));
out:
    return ret;
}

int tls_encrypted_extensions_write(const pqify_tls_conn *c, int ack_sni, pqify_tls_buf *m)
{
    int ret = 0;
    size_t msg, exts, e, list;
    size_t alpn_len = strlen(c->alpn);
    TRY(tls_msg_begin(m, TLS_HS_ENCRYPTED_EXTENSIONS, &msg));
    TRY(tls_write_block_open(m, 2, &exts));
    if (ack_sni) {
        TRY(tls_write_u16(m, TLS_EXT_SERVER_NAME));
        TRY(tls_write_u16(m, 0));
    }
    if (alpn_len != 0) {
        TRY(tls_write_u16(m, TLS_EXT_ALPN));
        TRY(tls_write_block_open(m, 2, &e));
        TRY(tls_write_block_open(m, 2, &list));
        TRY(tls_write_u8(m, (uint8_t)alpn_len));
        TRY(tls_write_bytes(m, c->alpn, alpn_len));
        TRY(tls_write_block_close(m, 2, list));
        TRY(tls_write_block_close(m, 2, e));
    }
    TRY(tls_write_block_close(m, 2, exts));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}
