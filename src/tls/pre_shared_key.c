/*
 * pre_shared_key and psk_key_exchange_modes (RFC 8446 §4.2.11, §4.2.9): the
 * ClientHello offer, its binders, and the server's choice. Only psk_dhe_ke is ever
 * offered or accepted, so a resumed handshake still runs a full (hybrid) key
 * exchange; the PSK replaces only certificate authentication.
 */
#include <string.h>

#include "conn.h"
#include "ticket.h"

#define TLS_PSK_KE 0
#define TLS_PSK_DHE_KE 1
#define TLS_MAX_PSK_IDENTITIES 8   /* more are parsed but not tried */
/* §8.3 suggests a small window for the ticket age; without 0-RTT it only has to
 * absorb round trips and scheduling, so 10 s is generous and still bounds replay */
#define TLS_TICKET_AGE_WINDOW_MS 10000

/* §4.2.11: identities<7..2^16-1>, binders<33..2^16-1>, one binder per identity. */
int tls_pre_shared_key_parse(tls_reader *body, tls_client_hello *ch)
{
    int ret = 0;
    tls_reader ids, binders, it;
    size_t n_ids = 0, n_binders = 0;
    TRY(tls_read_block(body, 2, &ids));
    ENSURE(ids.len >= 7, PQIFY_TLS_ERR_DECODE);
    ch->psk_binders_at = body->base + body->pos;
    TRY(tls_read_block(body, 2, &binders));
    ENSURE(binders.len >= 33, PQIFY_TLS_ERR_DECODE);
    for (it = ids; tls_reader_left(&it) > 0; n_ids++) {
        tls_reader identity;
        const uint8_t *age;
        TRY(tls_read_block(&it, 2, &identity));
        ENSURE(identity.len > 0, PQIFY_TLS_ERR_DECODE);
        TRY(tls_read_bytes(&it, 4, &age));
    }
    for (it = binders; tls_reader_left(&it) > 0; n_binders++) {
        tls_reader binder;
        TRY(tls_read_block(&it, 1, &binder));
        ENSURE(binder.len >= 32, PQIFY_TLS_ERR_DECODE);
    }
    /* §4.2.11: a binder for every identity */
    ENSURE(n_ids == n_binders, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    ch->psk_identities = ids;
    ch->psk_binders = binders;
    ch->n_psk = n_ids;
out:
    return ret;
}

/* §4.2.9: ke_modes<1..255> */
int tls_psk_modes_parse(tls_reader *body, tls_client_hello *ch)
{
    int ret = 0;
    tls_reader modes;
    TRY(tls_read_block(body, 1, &modes));
    ENSURE(modes.len >= 1, PQIFY_TLS_ERR_DECODE);
    while (tls_reader_left(&modes) > 0) {
        uint8_t m;
        TRY(tls_read_u8(&modes, &m));
        ch->psk_dhe_ke |= m == TLS_PSK_DHE_KE;
    }
    ch->has_psk_modes = 1;
out:
    return ret;
}

int tls_psk_binder(const tls_hash *h, const uint8_t *psk, size_t psk_len,
                   const uint8_t *transcript_hash, uint8_t *binder)
{
    int ret = 0;
    tls_key_schedule early;
    uint8_t empty_hash[TLS_MAX_HASH], binder_key[TLS_MAX_HASH];
    TRY(tls_ks_early_psk(&early, h, psk, psk_len));
    tls_hash_oneshot(h, NULL, 0, empty_hash);
    /* §7.1: resumption PSKs use "res binder" */
    TRY(tls_derive_secret(h, early.secret, "res binder", empty_hash, binder_key));
    /* §4.2.11.2: computed like Finished (§4.4.4) over the truncated ClientHello */
    TRY(tls_finished_mac(h, binder_key, transcript_hash, binder));
out:
    tls_ks_wipe(&early);
    tls_zeroize(binder_key, sizeof binder_key);
    return ret;
}

/* ---- client ---- */

int tls_client_psk_modes_write(pqify_tls_buf *m)
{
    int ret = 0;
    /* always sent: without it a server may not issue tickets (§4.2.9), and it
     * tells it we resume only with psk_dhe_ke */
    TRY(tls_write_u16(m, TLS_EXT_PSK_KEY_EXCHANGE_MODES));
    TRY(tls_write_u16(m, 2));
    TRY(tls_write_u8(m, 1));
    TRY(tls_write_u8(m, TLS_PSK_DHE_KE));
out:
    return ret;
}

static uint32_t obfuscated_age(const pqify_tls_conn *c, const tls_session *s)
{
    uint64_t now = tls_config_now_ms(c->cfg);
    uint64_t age = now > s->received_ms ? now - s->received_ms : 0;
    /* §4.2.11.1: age in ms plus ticket_age_add, modulo 2^32 */
    return (uint32_t)age + s->age_add;
}

int tls_client_psk_write(const pqify_tls_conn *c, pqify_tls_buf *m, size_t *binder_at)
{
    int ret = 0;
    const tls_session *s = c->offer;
    const tls_hash *h = c->hs->psk_hash;
    size_t e, list, id;
    TRY(tls_write_u16(m, TLS_EXT_PRE_SHARED_KEY));
    TRY(tls_write_block_open(m, 2, &e));
    TRY(tls_write_block_open(m, 2, &list));
    TRY(tls_write_block_open(m, 2, &id));
    TRY(tls_write_bytes(m, s->ticket, s->ticket_len));
    TRY(tls_write_block_close(m, 2, id));
    uint32_t age = obfuscated_age(c, s);
    TRY(tls_write_u32(m, age));
    TRY(tls_write_block_close(m, 2, list));
    TRY(tls_write_u16(m, (uint16_t)(1 + h->len)));
    TRY(tls_write_u8(m, (uint8_t)h->len));
    *binder_at = m->len;
    for (size_t i = 0; i < h->len; i++)
        TRY(tls_write_u8(m, 0));   /* filled by tls_client_psk_binder */
    TRY(tls_write_block_close(m, 2, e));
out:
    return ret;
}

int tls_client_psk_binder(const pqify_tls_conn *c, pqify_tls_buf *m, size_t start, size_t binder_at)
{
    int ret = 0;
    const tls_hs *hs = c->hs;
    const tls_hash *h = hs->psk_hash;
    uint8_t th[TLS_MAX_HASH];
    /* the hello up to binders<>: its 2-byte length, 1-byte binder length, binder */
    size_t truncated = binder_at - 3 - start;
    ENSURE(binder_at + h->len == m->len, PQIFY_TLS_ERR_INTERNAL);
    /* after a HelloRetryRequest the transcript already holds message_hash and HRR */
    TRY(tls_transcript_hash_with(&hs->transcript, h, m->base + start, truncated, th));
    TRY(tls_psk_binder(h, hs->psk, hs->psk_len, th, m->base + binder_at));
out:
    return ret;
}

int tls_client_psk_choose(pqify_tls_conn *c)
{
    tls_hs *hs = c->hs;
    const tls_session *s = c->offer;
    hs->psk_offered = 0;
    if (s == NULL)
        return 0;
    const tls_suite *suite = tls_suite_by_id(s->suite);
    int enabled = 0;
    for (size_t i = 0; i < c->cfg->n_ciphers; i++)
        enabled |= c->cfg->ciphers[i] == s->suite;
    uint64_t now = tls_config_now_ms(c->cfg);
    if (suite == NULL || !enabled || s->psk_len != suite->hash->len ||
        now >= s->received_ms + (uint64_t)s->lifetime_s * 1000u ||
        strcmp(s->server_name, c->cfg->server_name) != 0)
        return 0;
    memcpy(hs->psk, s->psk, s->psk_len);
    hs->psk_len = s->psk_len;
    hs->psk_hash = suite->hash;
    hs->psk_offered = 1;
    return 1;
}

/* ---- server ---- */

/* Every check a ticket must pass before its binder is even looked at. */
static int ticket_usable(const pqify_tls_conn *c, const tls_client_hello *ch, const tls_ticket *t,
                         uint32_t obfuscated, uint64_t now)
{
    const pqify_tls_config *cfg = c->cfg;
    const tls_suite *ts = tls_suite_by_id(t->suite);
    if (ts == NULL || ts->hash != c->suite->hash || t->psk_len != ts->hash->len)
        return 0;   /* §4.2.11: the PSK's hash must be the suite's */
    /* servers sharing a ticket secret may disagree a little on the time: a ticket
     * "from the future" within the age window is taken as just issued */
    if (t->issued_ms > now + TLS_TICKET_AGE_WINDOW_MS)
        return 0;
    uint64_t server_age = now > t->issued_ms ? now - t->issued_ms : 0;
    if (server_age >= (uint64_t)t->lifetime_s * 1000u)
        return 0;   /* expired */
    uint32_t client_age = obfuscated - t->age_add;
    uint64_t diff = client_age > server_age ? client_age - server_age : server_age - client_age;
    if (diff > TLS_TICKET_AGE_WINDOW_MS)
        return 0;
    /* §4.2.11 / §4.6.1: resume only for the name the session was made for */
    size_t sni_len = ch->has_sni ? ch->sni_len : 0;
    if (t->sni_len != sni_len || (sni_len != 0 && memcmp(t->sni, ch->sni, sni_len) != 0))
        return 0;
    /* a server that now wants a client certificate will not take a session without one */
    if (cfg->have_ca && cfg->require_client_cert && !t->client_auth)
        return 0;
    return 1;
}

int tls_server_accept_psk(pqify_tls_conn *c, const tls_client_hello *ch, const uint8_t *msg)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    tls_ticket t;
    tls_reader ids = ch->psk_identities, binders = ch->psk_binders;
    uint8_t th[TLS_MAX_HASH], expected[TLS_MAX_HASH];
    const tls_hash *h = c->suite->hash;
    uint64_t now = tls_config_now_ms(c->cfg);
    int found = 0;
    memset(&t, 0, sizeof t);
    if (!ch->has_psk)
        return 0;
    /* §4.2.9: a PSK offer without modes is refused outright */
    ENSURE(ch->has_psk_modes, PQIFY_TLS_ERR_MISSING_EXTENSION);
    /* psk_ke alone would drop the key exchange: full handshake instead */
    if (!ch->psk_dhe_ke || c->cfg->tickets == 0)
        goto out;
    size_t i;
    for (i = 0; i < ch->n_psk && i < TLS_MAX_PSK_IDENTITIES; i++) {
        tls_reader identity;
        uint32_t obfuscated;
        TRY(tls_read_block(&ids, 2, &identity));
        TRY(tls_read_u32(&ids, &obfuscated));
        if (tls_ticket_open(c->cfg, identity.base, identity.len, now, &t) == 0 &&
            ticket_usable(c, ch, &t, obfuscated, now)) {
            found = 1;
            break;
        }
        tls_zeroize(&t, sizeof t);
    }
    if (!found)
        goto out;
    tls_reader binder;
    for (size_t j = 0; j <= i; j++)
        TRY(tls_read_block(&binders, 1, &binder));
    TRY(tls_transcript_hash_with(&hs->transcript, h, msg, (size_t)(ch->psk_binders_at - msg), th));
    TRY(tls_psk_binder(h, t.psk, t.psk_len, th, expected));
    /* §4.2.11.2: a binder that does not verify aborts the handshake */
    ENSURE(binder.len == h->len && tls_ct_equal(binder.base, expected, h->len),
           PQIFY_TLS_ERR_BAD_BINDER);
    memcpy(hs->psk, t.psk, t.psk_len);
    hs->psk_len = t.psk_len;
    hs->psk_hash = h;
    hs->psk_identity = (uint16_t)i;
    c->resumed = 1;
    if (t.client_auth) {
        c->peer_cert = 1;
        memcpy(c->peer_subject, t.subject, t.subject_len);
        c->peer_subject[t.subject_len] = 0;
    }
    ret = 1;
out:
    tls_zeroize(&t, sizeof t);
    tls_zeroize(expected, sizeof expected);
    return ret;
}
