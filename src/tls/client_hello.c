/* ClientHello (RFC 8446 §4.1.2): parser, second-hello fingerprint, writer. */
#include <string.h>

#include "conn.h"

/* A u16 list<2..2^16-2> in a block of its own: even, non-empty. */
static int u16_list(tls_reader *body, size_t prefix, tls_reader *list)
{
    int ret = 0;
    TRY(tls_read_block(body, prefix, list));
    ENSURE(list->len >= 2 && list->len % 2 == 0, PQIFY_TLS_ERR_DECODE);
out:
    return ret;
}

/* §4.2.8: KeyShareEntry list, each group at most once; shares for groups we do
 * not know are kept in the list and ignored by the choice, however many (§9.3). */
static int check_key_shares(tls_reader list)
{
    int ret = 0;
    tls_u16_set seen;
    tls_u16_set_clear(&seen);
    while (tls_reader_left(&list) > 0) {
        uint16_t group;
        tls_reader share;
        TRY(tls_read_u16(&list, &group));
        TRY(tls_read_block(&list, 2, &share));
        ENSURE(share.len > 0, PQIFY_TLS_ERR_DECODE);
        ENSURE(tls_u16_set_add(&seen, group), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    }
out:
    return ret;
}

/* §3 of RFC 6066: one host_name entry is all we read */
static int parse_sni(tls_reader *body, tls_client_hello *ch)
{
    int ret = 0;
    tls_reader list, name;
    uint8_t type;
    TRY(tls_read_block(body, 2, &list));
    TRY(tls_read_u8(&list, &type));
    TRY(tls_read_block(&list, 2, &name));
    ENSURE(type == 0 && name.len > 0, PQIFY_TLS_ERR_DECODE);
    ch->sni = name.base;
    ch->sni_len = name.len;
    ch->has_sni = 1;
out:
    return ret;
}

/* RFC 7301 §3.1: ProtocolNameList of non-empty names */
static int parse_alpn_list(tls_reader *body, tls_reader *list)
{
    int ret = 0;
    TRY(tls_read_block(body, 2, list));
    ENSURE(list->len > 0, PQIFY_TLS_ERR_DECODE);
    tls_reader it = *list, name;
    while (tls_reader_left(&it) > 0) {
        TRY(tls_read_block(&it, 1, &name));
        ENSURE(name.len > 0, PQIFY_TLS_ERR_DECODE);
    }
out:
    return ret;
}

static int on_extension(void *ctx, uint16_t type, tls_reader *body)
{
    int ret = 0;
    tls_client_hello *ch = ctx;
    ENSURE(!ch->has_psk, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);   /* §4.2.11: pre_shared_key is last */
    switch (type) {
    case TLS_EXT_SUPPORTED_VERSIONS: {
        tls_reader list;
        TRY(tls_read_block(body, 1, &list));
        ENSURE(list.len >= 2 && list.len % 2 == 0, PQIFY_TLS_ERR_DECODE);
        while (tls_reader_left(&list) > 0) {
            uint16_t v;
            TRY(tls_read_u16(&list, &v));
            if (v == 0x0304)
                ch->offers_tls13 = 1;
        }
        break;
    }
    case TLS_EXT_SUPPORTED_GROUPS:
        TRY(u16_list(body, 2, &ch->groups));
        ch->has_groups = 1;
        break;
    case TLS_EXT_KEY_SHARE:
        TRY(tls_read_block(body, 2, &ch->key_shares));
        TRY(check_key_shares(ch->key_shares));
        ch->has_key_share = 1;
        break;
    case TLS_EXT_SIGNATURE_ALGORITHMS:
        TRY(u16_list(body, 2, &ch->sigalgs));
        ch->has_sigalgs = 1;
        break;
    case TLS_EXT_SIGNATURE_ALGORITHMS_CERT:
        TRY(u16_list(body, 2, &ch->sigalgs_cert));
        ch->has_sigalgs_cert = 1;
        break;
    case TLS_EXT_SERVER_NAME:
        TRY(parse_sni(body, ch));
        break;
    case TLS_EXT_ALPN:
        TRY(parse_alpn_list(body, &ch->alpn));
        ch->has_alpn = 1;
        break;
    case TLS_EXT_COOKIE: {
        tls_reader cookie;
        TRY(tls_read_block(body, 2, &cookie));
        ENSURE(cookie.len > 0, PQIFY_TLS_ERR_DECODE);
        ch->cookie = cookie.base;
        ch->cookie_len = cookie.len;
        ch->has_cookie = 1;
        break;
    }
    case TLS_EXT_PRE_SHARED_KEY:
        /* parsed once every extension is read, so "not last" is reported as such */
        ch->psk_body = *body;
        ch->has_psk = 1;
        return 0;
    case TLS_EXT_PSK_KEY_EXCHANGE_MODES:
        TRY(tls_psk_modes_parse(body, ch));
        break;
    case TLS_EXT_EARLY_DATA:
        ch->has_early_data = 1;
        return 0;
    default:
        /* §4.2: unknown extensions are ignored */
        return 0;
    }
    TRY(tls_read_end(body));
out:
    return ret;
}

int tls_client_hello_parse(const uint8_t *body, size_t len, tls_client_hello *ch)
{
    int ret = 0;
    tls_reader r, sid, comp;
    uint16_t legacy_version;
    memset(ch, 0, sizeof *ch);
    tls_reader_init(&r, body, len);
    TRY(tls_read_u16(&r, &legacy_version));
    TRY(tls_read_bytes(&r, 32, &ch->random));
    TRY(tls_read_block(&r, 1, &sid));
    ENSURE(sid.len <= 32, PQIFY_TLS_ERR_DECODE);
    ch->session_id = sid.base;
    ch->session_id_len = sid.len;
    TRY(u16_list(&r, 2, &ch->cipher_suites));
    TRY(tls_read_block(&r, 1, &comp));
    ENSURE(comp.len >= 1, PQIFY_TLS_ERR_DECODE);
    /* no extensions at all: a pre-TLS 1.2 hello */
    ENSURE(tls_reader_left(&r) > 0, PQIFY_TLS_ERR_PROTOCOL_VERSION);
    tls_reader ext_copy = r;
    TRY(tls_extensions_parse(&r, on_extension, ch));
    TRY(tls_read_end(&r));
    TRY(tls_read_block(&ext_copy, 2, &ch->extensions));
    if (ch->has_psk) {
        TRY(tls_pre_shared_key_parse(&ch->psk_body, ch));
        TRY(tls_read_end(&ch->psk_body));
    }
    ENSURE(ch->offers_tls13 && legacy_version >= 0x0301, PQIFY_TLS_ERR_PROTOCOL_VERSION);
    /* §4.1.2: TLS 1.3 hellos carry exactly one compression method, null */
    ENSURE(comp.len == 1 && comp.base[0] == 0, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
out:
    return ret;
}

/*
 * §4.1.2: the second ClientHello repeats the first except key_share, early_data,
 * cookie, pre_shared_key and padding. Hash everything else in order.
 */
int tls_client_hello_fingerprint(const tls_client_hello *ch, uint8_t out[32])
{
    int ret = 0;
    tls_hash_ctx md;
    tls_reader ext = ch->extensions, body;
    uint8_t sid_len = (uint8_t)ch->session_id_len;
    tls_hash_init(&md, tls_sha256());
    tls_hash_update(&md, ch->random, 32);
    tls_hash_update(&md, &sid_len, 1);
    tls_hash_update(&md, ch->session_id, ch->session_id_len);
    tls_hash_update(&md, ch->cipher_suites.base, ch->cipher_suites.len);
    while (tls_reader_left(&ext) > 0) {
        uint16_t type;
        const uint8_t *start = ext.base + ext.pos;
        TRY(tls_read_u16(&ext, &type));
        TRY(tls_read_block(&ext, 2, &body));
        if (type == TLS_EXT_KEY_SHARE || type == TLS_EXT_EARLY_DATA || type == TLS_EXT_COOKIE ||
            type == TLS_EXT_PRE_SHARED_KEY || type == 21 /* padding, RFC 7685 */)
            continue;
        tls_hash_update(&md, start, 4 + body.len);
    }
    tls_hash_final(&md, out);
out:
    if (ret != 0)
        tls_zeroize(&md, sizeof md);
    return ret;
}

static int ext_begin(pqify_tls_buf *m, uint16_t type, size_t *mark)
{
    int ret = tls_write_u16(m, type);
    return ret < 0 ? ret : tls_write_block_open(m, 2, mark);
}

static int write_u16_list(pqify_tls_buf *m, const uint16_t *v, size_t n)
{
    int ret = 0;
    size_t mark;
    TRY(tls_write_block_open(m, 2, &mark));
    for (size_t i = 0; i < n; i++)
        TRY(tls_write_u16(m, v[i]));
    TRY(tls_write_block_close(m, 2, mark));
out:
    return ret;
}

int tls_client_hello_write(const pqify_tls_conn *c, pqify_tls_buf *m)
{
    int ret = 0;
    const tls_hs *hs = c->hs;
    const pqify_tls_config *cfg = c->cfg;
    size_t msg, exts, e, inner, inner2, binder_at = 0, start = m->len;
    TRY(tls_msg_begin(m, TLS_HS_CLIENT_HELLO, &msg));
    TRY(tls_write_u16(m, 0x0303));
    TRY(tls_write_bytes(m, hs->random, 32));
    TRY(tls_write_u8(m, (uint8_t)hs->session_id_len));
    TRY(tls_write_bytes(m, hs->session_id, hs->session_id_len));
    TRY(write_u16_list(m, cfg->ciphers, cfg->n_ciphers));
    TRY(tls_write_u8(m, 1));
    TRY(tls_write_u8(m, 0));
    TRY(tls_write_block_open(m, 2, &exts));

    TRY(ext_begin(m, TLS_EXT_SUPPORTED_VERSIONS, &e));
    TRY(tls_write_u8(m, 2));
    TRY(tls_write_u16(m, 0x0304));
    TRY(tls_write_block_close(m, 2, e));

    if (cfg->server_name[0] != 0 && !tls_is_ip_literal(cfg->server_name)) {
        size_t n = strlen(cfg->server_name);
        TRY(ext_begin(m, TLS_EXT_SERVER_NAME, &e));
        TRY(tls_write_block_open(m, 2, &inner));
        TRY(tls_write_u8(m, 0));
        TRY(tls_write_u16(m, (uint16_t)n));
        TRY(tls_write_bytes(m, cfg->server_name, n));
        TRY(tls_write_block_close(m, 2, inner));
        TRY(tls_write_block_close(m, 2, e));
    }

    TRY(ext_begin(m, TLS_EXT_SUPPORTED_GROUPS, &e));
    TRY(write_u16_list(m, hs->offered_groups, hs->n_offered_groups));
    TRY(tls_write_block_close(m, 2, e));

    TRY(ext_begin(m, TLS_EXT_KEY_SHARE, &e));
    TRY(tls_write_block_open(m, 2, &inner));
    for (size_t i = 0; i < hs->n_shares; i++) {
        TRY(tls_write_u16(m, hs->share_ids[i]));
        TRY(tls_write_block_open(m, 2, &inner2));
        TRY(tls_write_bytes(m, hs->share_pub[i], hs->share_pub_len[i]));
        TRY(tls_write_block_close(m, 2, inner2));
    }
    TRY(tls_write_block_close(m, 2, inner));
    TRY(tls_write_block_close(m, 2, e));

    TRY(ext_begin(m, TLS_EXT_SIGNATURE_ALGORITHMS, &e));
    TRY(write_u16_list(m, tls_offered_schemes, tls_n_offered_schemes));
    TRY(tls_write_block_close(m, 2, e));
    TRY(ext_begin(m, TLS_EXT_SIGNATURE_ALGORITHMS_CERT, &e));
    TRY(write_u16_list(m, tls_offered_cert_schemes, tls_n_offered_cert_schemes));
    TRY(tls_write_block_close(m, 2, e));

    if (cfg->alpn_len != 0) {
        TRY(ext_begin(m, TLS_EXT_ALPN, &e));
        TRY(tls_write_u16(m, (uint16_t)cfg->alpn_len));
        TRY(tls_write_bytes(m, cfg->alpn, cfg->alpn_len));
        TRY(tls_write_block_close(m, 2, e));
    }

    if (hs->cookie_len != 0) {
        TRY(ext_begin(m, TLS_EXT_COOKIE, &e));
        TRY(tls_write_u16(m, (uint16_t)hs->cookie_len));
        TRY(tls_write_bytes(m, hs->cookie, hs->cookie_len));
        TRY(tls_write_block_close(m, 2, e));
    }

    TRY(tls_client_psk_modes_write(m));
    if (hs->psk_offered)
        TRY(tls_client_psk_write(c, m, &binder_at));   /* §4.2.11: the last extension */

    TRY(tls_write_block_close(m, 2, exts));
    TRY(tls_msg_end(m, msg));
    if (hs->psk_offered)
        TRY(tls_client_psk_binder(c, m, start, binder_at));
out:
    return ret;
}
