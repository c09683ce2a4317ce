/* Client side of the handshake (RFC 8446 §2, Appendix A.1): coordination only. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "conn.h"

static int make_share(tls_hs *hs, size_t i, uint16_t id)
{
    int ret = 0;
    const tls_group *g = tls_group_by_id(id);
    ENSURE(g != NULL, PQIFY_TLS_ERR_INTERNAL);
    tls_group_state_wipe(&hs->shares[i]);
    hs->share_ids[i] = id;
    TRY(g->client_share(g, &hs->shares[i], hs->share_pub[i], &hs->share_pub_len[i]));
out:
    return ret;
}

static int send_client_hello(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    hs->scratch.len = 0;
    TRY(tls_client_hello_write(c, &hs->scratch));
    TRY(tls_send_handshake(c, &hs->scratch, out));
out:
    return ret;
}

int tls_client_start(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint16_t ids[TLS_MAX_SHARES];
    ENSURE(RAND_bytes(hs->random, 32) == 1, PQIFY_TLS_ERR_RNG);
    /* §4.1.2: an empty legacy_session_id; we do not use middlebox compatibility mode */
    hs->session_id_len = 0;
    hs->n_offered_groups = tls_config_groups(c->cfg, hs->offered_groups, TLS_MAX_GROUPS);
    size_t n = tls_config_share_groups(c->cfg, ids, TLS_MAX_SHARES);
    ENSURE(n > 0 && hs->n_offered_groups > 0, PQIFY_TLS_ERR_CONFIG);
    for (size_t i = 0; i < n; i++)
        TRY(make_share(hs, i, ids[i]));
    hs->n_shares = n;
    if (c->cfg->server_name[0] != 0 && !tls_is_ip_literal(c->cfg->server_name))
        strcpy(c->server_name, c->cfg->server_name);
    /* resumption: a session the caller gave, else the config's cache */
    if (c->offer == NULL && c->cfg->cache != NULL) {
        tls_session *s = calloc(1, sizeof *s);
        ENSURE(s != NULL, PQIFY_TLS_ERR_NO_MEMORY);
        if (tls_session_cache_get(c->cfg, c->cfg->server_name, s))
            c->offer = s;
        else
            tls_session_free(s);
    }
    tls_client_psk_choose(c);
    TRY(send_client_hello(c, out));
    c->state = ST_CLIENT_WAIT_SH;
out:
    return ret;
}

static int offered_group(const tls_hs *hs, uint16_t id)
{
    for (size_t i = 0; i < hs->n_offered_groups; i++)
        if (hs->offered_groups[i] == id)
            return 1;
    return 0;
}

static int offered_cipher(const pqify_tls_config *cfg, uint16_t id)
{
    for (size_t i = 0; i < cfg->n_ciphers; i++)
        if (cfg->ciphers[i] == id)
            return 1;
    return 0;
}

/* §4.1.4: answer a HelloRetryRequest with a second ClientHello. */
static int on_hello_retry_request(pqify_tls_conn *c, const tls_server_hello *sh, const uint8_t *msg,
                                  size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    /* a second HelloRetryRequest is unexpected_message */
    ENSURE(!c->hrr, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    /* it must change something, and ask only for a group we offered without a share */
    ENSURE(sh->has_key_share || sh->has_cookie, PQIFY_TLS_ERR_HRR);
    if (sh->has_key_share) {
        ENSURE(offered_group(hs, sh->group), PQIFY_TLS_ERR_HRR);
        for (size_t i = 0; i < hs->n_shares; i++)
            ENSURE(hs->share_ids[i] != sh->group, PQIFY_TLS_ERR_HRR);
    }
    c->hrr = 1;
    hs->hrr_cipher = sh->cipher;
    /* §4.1.4: a PSK whose hash is not the retried suite's is dropped from the retry */
    if (hs->psk_offered && hs->psk_hash != c->suite->hash)
        hs->psk_offered = 0;
    hs->hrr_group = sh->has_key_share ? sh->group : 0;
    TRY(tls_transcript_choose(&hs->transcript, c->suite->hash));
    TRY(tls_transcript_hrr_restart(&hs->transcript));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    if (sh->has_cookie) {
        ENSURE(sh->cookie_len <= sizeof hs->cookie, PQIFY_TLS_ERR_HRR);
        memcpy(hs->cookie, sh->cookie, sh->cookie_len);
        hs->cookie_len = sh->cookie_len;
    }
    if (sh->has_key_share) {
        for (size_t i = 0; i < TLS_MAX_SHARES; i++)
            tls_group_state_wipe(&hs->shares[i]);
        TRY(make_share(hs, 0, sh->group));
        hs->n_shares = 1;
    }
    TRY(send_client_hello(c, out));
out:
    return ret;
}

int tls_client_on_server_hello(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    tls_server_hello sh;
    uint8_t secret[TLS_MAX_GROUP_SECRET], th[TLS_MAX_HASH];
    size_t secret_len = 0, idx = TLS_MAX_SHARES;
    TRY(tls_server_hello_parse(msg + 4, len - 4, &sh));
    ENSURE(sh.session_id_len == hs->session_id_len &&
               memcmp(sh.session_id, hs->session_id, hs->session_id_len) == 0,
           PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    ENSURE(offered_cipher(c->cfg, sh.cipher), PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    /* §4.1.4: the ServerHello keeps the suite of the HelloRetryRequest */
    ENSURE(!c->hrr || sh.cipher == hs->hrr_cipher, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    c->suite = tls_suite_by_id(sh.cipher);
    ENSURE(c->suite != NULL, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    if (sh.is_hrr) {
        TRY(on_hello_retry_request(c, &sh, msg, len, out));
        goto out;
    }
    /* psk_dhe_ke only: a resumed handshake still needs the server's share */
    ENSURE(sh.has_key_share, PQIFY_TLS_ERR_MISSING_EXTENSION);
    if (sh.has_psk) {
        /* §4.2.11: only an identity we offered (we offer one), with the PSK's hash */
        ENSURE(hs->psk_offered, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
        ENSURE(sh.psk_identity == 0 && c->suite->hash == hs->psk_hash,
               PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
        c->resumed = 1;
    }
    for (size_t i = 0; i < hs->n_shares; i++)
        if (hs->share_ids[i] == sh.group)
            idx = i;
    /* §4.2.8: the server must pick a group we sent a share for */
    ENSURE(idx < TLS_MAX_SHARES, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    c->group = tls_group_by_id(sh.group);
    TRY(c->group->client_finish(c->group, &hs->shares[idx], sh.share, sh.share_len, secret,
                                &secret_len));
    for (size_t i = 0; i < TLS_MAX_SHARES; i++)
        tls_group_state_wipe(&hs->shares[i]);
    if (hs->transcript.chosen == NULL)
        TRY(tls_transcript_choose(&hs->transcript, c->suite->hash));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    if (c->resumed)
        TRY(tls_ks_early_psk(&hs->ks, c->suite->hash, hs->psk, hs->psk_len));
    else
        TRY(tls_ks_early(&hs->ks, c->suite->hash));
    TRY(tls_ks_handshake(&hs->ks, secret, secret_len));
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(c->suite->hash, hs->ks.secret, "c hs traffic", th, hs->c_hs));
    TRY(tls_derive_secret(c->suite->hash, hs->ks.secret, "s hs traffic", th, hs->s_hs));
    TRY(tls_set_read_key(c, hs->s_hs));
    TRY(tls_set_write_key(c, hs->c_hs, out));
    c->state = ST_CLIENT_WAIT_EE;
out:
    tls_zeroize(secret, sizeof secret);
    return ret;
}

int tls_client_on_encrypted_extensions(pqify_tls_conn *c, const uint8_t *msg, size_t len,
                                       pqify_tls_buf *out)
{
    int ret = 0;
    tls_encrypted_extensions ee;
    (void)out;
    TRY(tls_encrypted_extensions_parse(msg + 4, len - 4, &ee));
    ENSURE(!ee.has_sni || (c->cfg->server_name[0] != 0 && !tls_is_ip_literal(c->cfg->server_name)),
           PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
    if (ee.has_alpn) {
        /* RFC 7301 §3.2: the server's choice must be one we offered */
        const pqify_tls_config *cfg = c->cfg;
        int found = 0;
        ENSURE(cfg->alpn_len != 0, PQIFY_TLS_ERR_UNSUPPORTED_EXTENSION);
        for (size_t i = 0; i < cfg->alpn_len; i += 1 + cfg->alpn[i])
            found |= cfg->alpn[i] == ee.alpn_len && memcmp(cfg->alpn + i + 1, ee.alpn, ee.alpn_len) == 0;
        ENSURE(found, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
        memcpy(c->alpn, ee.alpn, ee.alpn_len);
        c->alpn[ee.alpn_len] = 0;
    }
    TRY(tls_transcript_update(&c->hs->transcript, msg, len));
    c->state = ST_CLIENT_WAIT_CERT_CR;
    if (c->resumed) {
        /* §2.2: the PSK authenticates the server; the session says who it was */
        c->peer_cert = c->offer->peer_subject[0] != 0;
        memcpy(c->peer_subject, c->offer->peer_subject, sizeof c->peer_subject);
        c->state = ST_CLIENT_WAIT_FINISHED;
    }
out:
    return ret;
}

int tls_client_on_certificate_request(pqify_tls_conn *c, const uint8_t *msg, size_t len,
                                      pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    (void)out;
    tls_reader schemes;
    TRY(tls_certificate_request_parse(msg + 4, len - 4, &schemes));
    tls_note_peer_schemes(c, schemes);
    hs->cert_requested = 1;
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    c->state = ST_CLIENT_WAIT_CERT;
out:
    return ret;
}

/* The client's last flight once its CertificateVerify (if any) is queued. */
static int finish_client_flight(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint8_t th[TLS_MAX_HASH];
    TRY(tls_send_finished(c, hs->c_hs, out));
    TRY(tls_set_write_key(c, hs->c_ap, out));
    /* §7.1: resumption_master_secret hashes the transcript through the client Finished */
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(c->suite->hash, hs->ks.secret, "res master", th, c->res_master));
    tls_established(c);
out:
    return ret;
}

int tls_client_on_finished(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    uint8_t th[TLS_MAX_HASH];
    TRY(tls_check_finished(c, hs->s_hs, msg + 4, len - 4));
    TRY(tls_transcript_update(&hs->transcript, msg, len));
    /* §7.1: application secrets hash the transcript through the server Finished */
    TRY(tls_ks_master(&hs->ks));
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(c->suite->hash, hs->ks.secret, "c ap traffic", th, hs->c_ap));
    TRY(tls_derive_secret(c->suite->hash, hs->ks.secret, "s ap traffic", th, hs->s_ap));
    TRY(tls_set_read_key(c, hs->s_ap));
    if (hs->cert_requested)
        TRY(tls_send_certificate_and_verify(c, out, finish_client_flight));
    else
        TRY(finish_client_flight(c, out));
out:
    return ret;
}
