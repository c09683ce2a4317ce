/* ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4): parser and writer. */
#include <string.h>

#include "conn.h"

/* §4.1.3: SHA-256("HelloRetryRequest") */
const uint8_t tls_hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

static int on_extension(void *ctx, uint16_t type, tls_reader *body)
{
    int ret = 0;
    tls_server_hello *sh = ctx;
    switch (type) {
    case TLS_EXT_SUPPORTED_VERSIONS:
        TRY(tls_read_u16(body, &sh->version));
        sh->has_version = 1;
        break;
    case TLS_EXT_KEY_SHARE:
        TRY(tls_read_u16(body, &sh->group));
        if (!sh->is_hrr) {
            tls_reader share;
            TRY(tls_read_block(body, 2, &share));
            ENSURE(share.len > 0, PQIFY_TLS_ERR_DECODE);
            sh->share = share.base;
            sh->share_len = share.len;
        }
        sh->has_key_share = 1;
        break;
    case TLS_EXT_COOKIE: {
        tls_reader cookie;
        /* §4.2.2: only a HelloRetryRequest carries a cookie */
        ENSURE(sh->is_hrr, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
        TRY(tls_read_block(body, 2, &cookie));
        ENSURE(cookie.len > 0, PQIFY_TLS_ERR_DECODE);
        sh->cookie = cookie.base;
        sh->cookie_len = cookie.len;
        sh->has_cookie = 1;
        break;
    }
    case TLS_EXT_PRE_SHARED_KEY:
        /* §4.2.11: a ServerHello names the identity; an HRR carries no PSK */
        ENSURE(!sh->is_hrr, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
        TRY(tls_read_u16(body, &sh->psk_identity));
        sh->has_psk = 1;
        break;
    default:
        /* §4.2: a client aborts on any extension it did not offer (we offer no PSK);
         * decided after the version, so a TLS 1.2 server reads as protocol_version */
        sh->unknown_extension = 1;
        return 0;
    }
    TRY(tls_read_end(body));
out:
    return ret;
}

int tls_server_hello_parse(const uint8_t *body, size_t len, tls_server_hello *sh)
{
    int ret = 0;
    tls_reader r, sid;
    uint16_t legacy_version;
    uint8_t comp;
    memset(sh, 0, sizeof *sh);
    tls_reader_init(&r, body, len);
    TRY(tls_read_u16(&r, &legacy_version));
    TRY(tls_read_bytes(&r, 32, &sh->random));
    TRY(tls_read_block(&r, 1, &sid));
    ENSURE(sid.len <= 32, PQIFY_TLS_ERR_DECODE);
    sh->session_id = sid.base;
    sh->session_id_len = sid.len;
    TRY(tls_read_u16(&r, &sh->cipher));
    TRY(tls_read_u8(&r, &comp));
    /* a TLS 1.2 ServerHello may have no extensions: not our protocol */
    ENSURE(tls_reader_left(&r) > 0, PQIFY_TLS_ERR_PROTOCOL_VERSION);
    sh->is_hrr = memcmp(sh->random, tls_hrr_random, 32) == 0;
    TRY(tls_extensions_parse(&r, on_extension, sh));
    TRY(tls_read_end(&r));
    ENSURE(sh->has_version && sh->version == 0x0304, PQIFY_TLS_ERR_PROTOCOL_VERSION);
    ENSURE(!sh->unknown_extension, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
    ENSURE(legacy_version == 0x0303 && comp == 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
out:
    return ret;
}

int tls_server_hello_write(const pqify_tls_conn *c, int is_hrr, const uint8_t *random,
                           const uint8_t *share, size_t share_len, pqify_tls_buf *m)
{
    int ret = 0;
    const tls_hs *hs = c->hs;
    size_t msg, exts, e, inner;
    TRY(tls_msg_begin(m, TLS_HS_SERVER_HELLO, &msg));
    TRY(tls_write_u16(m, 0x0303));
    TRY(tls_write_bytes(m, is_hrr ? tls_hrr_random : random, 32));
    /* §4.1.3: echo legacy_session_id */
    TRY(tls_write_u8(m, (uint8_t)hs->session_id_len));
    TRY(tls_write_bytes(m, hs->session_id, hs->session_id_len));
    TRY(tls_write_u16(m, c->suite->id));
    TRY(tls_write_u8(m, 0));
    TRY(tls_write_block_open(m, 2, &exts));
    TRY(tls_write_u16(m, TLS_EXT_SUPPORTED_VERSIONS));
    TRY(tls_write_u16(m, 2));
    TRY(tls_write_u16(m, 0x0304));
    TRY(tls_write_u16(m, TLS_EXT_KEY_SHARE));
    TRY(tls_write_block_open(m, 2, &e));
    TRY(tls_write_u16(m, c->group->id));
    if (!is_hrr) {
        TRY(tls_write_block_open(m, 2, &inner));
        TRY(tls_write_bytes(m, share, share_len));
        TRY(tls_write_block_close(m, 2, inner));
    }
    TRY(tls_write_block_close(m, 2, e));
    if (!is_hrr && c->resumed) {
        TRY(tls_write_u16(m, TLS_EXT_PRE_SHARED_KEY));
        TRY(tls_write_u16(m, 2));
        TRY(tls_write_u16(m, hs->psk_identity));
    }
    if (is_hrr && hs->cookie_len != 0) {
        TRY(tls_write_u16(m, TLS_EXT_COOKIE));
        TRY(tls_write_block_open(m, 2, &e));
        TRY(tls_write_u16(m, (uint16_t)hs->cookie_len));
        TRY(tls_write_bytes(m, hs->cookie, hs->cookie_len));
        TRY(tls_write_block_close(m, 2, e));
    }
    TRY(tls_write_block_close(m, 2, exts));
    TRY(tls_msg_end(m, msg));
out:
    return ret;
}
