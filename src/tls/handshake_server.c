/* Server side of the handshake (RFC 8446 §2, Appendix A.2): coordination only. */
#include <string.h>

#include <openssl/rand.h>

#include "conn.h"

static int choose_cipher(const pqify_tls_config *cfg, tls_reader offered, const tls_suite **suite)
{
    for (size_t i = 0; i < cfg->n_ciphers; i++) {
        tls_reader it = offered;
        uint16_t v;
        while (tls_read_u16(&it, &v) == 0)
            if (v == cfg->ciphers[i]) {
                *suite = tls_suite_by_id(v);
                return 0;
            }
    }
    return PQIFY_TLS_ERR_NO_COMMON_CIPHER;
}

/* §4.2.8: every share must be for a group in supported_groups (one pass over
 * each list, however long) */
static int check_shares_in_groups(const tls_client_hello *ch, size_t *n_shares)
{
    int ret = 0;
    tls_reader shares = ch->key_shares, groups = ch->groups, s;
    tls_u16_set offered;
    size_t n = 0;
    uint16_t g;
    tls_u16_set_clear(&offered);
    while (tls_read_u16(&groups, &g) == 0)
        (void)tls_u16_set_add(&offered, g);
    while (tls_reader_left(&shares) > 0) {
        TRY(tls_read_u16(&shares, &g));
        TRY(tls_read_block(&shares, 2, &s));
        ENSURE(tls_u16_set_has(&offered, g), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
        n++;
    }
    *n_shares = n;
out:
    return ret;
}

/* RFC 7301 §3.2: the server's preference, among what the client offered */
static int choose_alpn(pqify_tls_conn *c, const tls_client_hello *ch)
{
    const pqify_tls_config *cfg = c->cfg;
    if (cfg->alpn_len == 0 || !ch->has_alpn)
        return 0;
    for (size_t i = 0; i < cfg->alpn_len; i += 1 + cfg->alpn[i]) {
        tls_reader it = ch->alpn, name;
        while (tls_read_block(&it, 1, &name) == 0)
            if (name.len == cfg->alpn[i] && memcmp(name.base, cfg->alpn + i + 1, name.len) == 0) {
                memcpy(c->alpn, name.base, name.len);
                c->alpn[name.len] = 0;
                return 0;
            }
    }
    return PQIFY_TLS_ERR_NO_ALPN;
}

static void note_server_name(pqify_tls_conn *c, const tls_client_hello *ch)
{
    c->server_name[0] = 0;
    if (!ch->has_sni || ch->sni_len >= sizeof c->server_name)
        return;
    for (size_t i = 0; i < ch->sni_len; i++)
        if (ch->sni[i] < 0x21 || ch->sni[i] > 0x7e)
            return;   /* only printable names are reported */
    memcpy(c->server_name, ch->sni, ch->sni_len);
    c->server_name[ch->sni_len] = 0;
}

static int send_hello_retry_request(pqify_tls_conn *c, const uint8_t *msg, size_t len,
                                    pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    /* the cookie proves the second ClientHello answers this server's HRR */
    ENSURE(RAND_bytes(hs->cookie, 32) == 1, PQIFY_TLS_ERR_RNG);
    hs->cookie_len = 32;
    hs->hrr_group = c->group->id;
    TRY(tls_transcript_choose(&hs->transcript, c->suite->hash));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    TRY(tls_transcript_hrr_restart(&hs->transcript));
    hs->scratch.len = 0;
    TRY(tls_server_hello_write(c, 1, NULL, NULL, 0, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
    TRY(tls_send_compat_ccs(c, out));
    c->hrr = 1;
    c->state = ST_SERVER_WAIT_CH2;
out:
    return ret;
}

/* The rest of the server flight once CertificateVerify is queued (§4.4.4, §7.1). */
static int finish_server_flight(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint8_t th[TLS_MAX_HASH];
    const tls_hash *h = c->suite->hash;
    TRY(tls_send_finished(c, hs->s_hs, out));
    TRY(tls_ks_master(&hs->ks));
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(h, hs->ks.secret, "c ap traffic", th, hs->c_ap));
    TRY(tls_derive_secret(h, hs->ks.secret, "s ap traffic", th, hs->s_ap));
    TRY(tls_set_write_key(c, hs->s_ap, out));
    c->state = hs->cert_requested ? ST_SERVER_WAIT_CERT : ST_SERVER_WAIT_FINISHED;
out:
    return ret;
}

static int send_server_flight(pqify_tls_conn *c, const uint8_t *server_share, size_t share_len,
                              const uint8_t *secret, size_t secret_len, int ack_sni,
                              pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint8_t random[32], th[TLS_MAX_HASH];
    const tls_hash *h = c->suite->hash;
    ENSURE(RAND_bytes(random, 32) == 1, PQIFY_TLS_ERR_RNG);
    hs->scratch.len = 0;
    TRY(tls_server_hello_write(c, 0, random, server_share, share_len, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
    TRY(tls_send_compat_ccs(c, out));
    TRY(tls_ks_handshake(&hs->ks, secret, secret_len));
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(h, hs->ks.secret, "c hs traffic", th, hs->c_hs));
    TRY(tls_derive_secret(h, hs->ks.secret, "s hs traffic", th, hs->s_hs));
    TRY(tls_set_write_key(c, hs->s_hs, out));
    TRY(tls_set_read_key(c, hs->c_hs));

    hs->scratch.len = 0;
    TRY(tls_encrypted_extensions_write(c, ack_sni, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
    /* §4.3.2, §4.4.2: a PSK handshake authenticates with the PSK alone */
    if (!c->resumed) {
        if (c->cfg->have_ca && c->cfg->require_client_cert) {
            hs->scratch.len = 0;
            TRY(tls_certificate_request_write(&hs->scratch));
            TRY(tls_send_handshake(c, &hs->scratch, out));
            hs->cert_requested = 1;
        }
        TRY(tls_send_certificate_and_verify(c, out, finish_server_flight));
    } else {
        TRY(finish_server_flight(c, out));
    }
out:
    return ret;
}

int tls_server_on_client_hello(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    tls_client_hello ch;
    uint8_t fp[32];
    const tls_suite *suite = NULL;
    uint16_t group_id = 0;
    const uint8_t *share = NULL;
    size_t share_len = 0, n_shares = 0, server_share_len = 0, secret_len = 0;
    uint8_t server_share[TLS_MAX_SERVER_SHARE], secret[TLS_MAX_GROUP_SECRET];
    int second = c->state == ST_SERVER_WAIT_CH2;
    int sni_used = 0;

    TRY(tls_client_hello_parse(msg + 4, len - 4, &ch));
    TRY(tls_client_hello_fingerprint(&ch, fp));
    if (second) {
        /* §4.1.2: a second hello must not offer early data */
        ENSURE(!ch.has_early_data, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
        /* §4.1.2: the same hello again, plus our cookie, with the one share asked for */
        ENSURE(memcmp(fp, hs->ch1_fingerprint, 32) == 0, PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
        ENSURE(ch.has_cookie && ch.cookie_len == hs->cookie_len &&
                   memcmp(ch.cookie, hs->cookie, hs->cookie_len) == 0,
               PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
        /* §4.2.10: early data can only follow the first hello; from here on a record
         * that does not open is bad_record_mac (§5.2), not refused 0-RTT */
        hs->early_data_skip = 0;
    } else {
        memcpy(hs->ch1_fingerprint, fp, 32);
        /* §4.2.10: we never accept early data, so a client that offered it may
         * already be sending some; it is skipped rather than fatal */
        if (ch.has_early_data)
            hs->early_data_skip = TLS_MAX_EARLY_DATA_SKIP;
    }
    /* psk_dhe_ke only: even a resuming hello must carry a full (EC)DHE/KEM offer */
    ENSURE(ch.has_groups && ch.has_key_share && ch.has_sigalgs, PQIFY_TLS_ERR_MISSING_EXTENSION);
    TRY(choose_cipher(c->cfg, ch.cipher_suites, &suite));
    ENSURE(!second || suite == c->suite, PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
    TRY(check_shares_in_groups(&ch, &n_shares));
    TRY(tls_select_group(c->cfg, ch.groups, ch.key_shares, &group_id, &share, &share_len));
    if (second)
        ENSURE(group_id == hs->hrr_group && share != NULL && n_shares == 1,
               PQIFY_TLS_ERR_SECOND_CLIENT_HELLO);
    c->suite = suite;
    c->group = tls_group_by_id(group_id);
    ENSURE(c->group != NULL, PQIFY_TLS_ERR_INTERNAL);

    tls_note_peer_schemes(c, ch.sigalgs);
    /* the identity for this name; refused before the ServerHello if none we would
     * use can sign anything the client accepts */
    size_t identity = 0;
    TRY(tls_choose_identity(c->cfg, ch.has_sni ? ch.sni : NULL, ch.sni_len, hs->peer_schemes,
                            hs->n_peer_schemes, &identity, &sni_used));
    c->identity = (uint16_t)identity;
    TRY(tls_pick_scheme(c, &hs->my_scheme));
    note_server_name(c, &ch);
    TRY(choose_alpn(c, &ch));
    hs->session_id_len = ch.session_id_len;
    memcpy(hs->session_id, ch.session_id, ch.session_id_len);

    if (share == NULL) {
        TRY(send_hello_retry_request(c, msg, len, out));
        goto out;
    }
    if (hs->transcript.chosen == NULL)
        TRY(tls_transcript_choose(&hs->transcript, suite->hash));
    /* §4.2.11: decided on the hello that gets the ServerHello (after any HRR) */
    TRY(tls_server_accept_psk(c, &ch, msg));
    if (c->resumed)
        TRY(tls_ks_early_psk(&hs->ks, suite->hash, hs->psk, hs->psk_len));
    else
        TRY(tls_ks_early(&hs->ks, suite->hash));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    TRY(c->group->server_exchange(c->group, share, share_len, server_share, &server_share_len,
                                  secret, &secret_len));
    /* RFC 6066 §3: the empty server_name answer says the name chose the certificate */
    TRY(send_server_flight(c, server_share, server_share_len, secret, secret_len, sni_used, out));
out:
    tls_zeroize(secret, sizeof secret);
    return ret;
}

int tls_server_on_finished(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    /* a requested certificate that never came */
    ENSURE(!hs->cert_requested || c->peer_cert || !c->cfg->require_client_cert,
           PQIFY_TLS_ERR_CERT_REQUIRED);
    TRY(tls_check_finished(c, hs->c_hs, msg + 4, len - 4));
    TRY(tls_set_read_key(c, hs->c_ap));
    /* §4.6.1: tickets need the transcript through the client Finished */
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    TRY(tls_server_send_tickets(c, out));
    tls_established(c);
out:
    return ret;
}
