/*
 * NewSessionTicket (RFC 8446 §4.6.1): the server's self-encrypted tickets and the
 * client's side of receiving one.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ticket.h"

#define TICKET_VERSION 1
#define TICKET_HEADER (1 + 8)           /* version, rotation epoch: the AEAD's AAD */
#define TICKET_IV 12
#define TICKET_TAG 16
#define TICKET_MAX_PLAIN (8 + 4 + 4 + 2 + 1 + TLS_MAX_HASH + 1 + 3 * (1 + 255))

/* The key of one rotation epoch: every server holding the ticket secret agrees on
 * it without talking, and an epoch's key is gone once the epoch is two behind. */
static int epoch_key(const pqify_tls_config *cfg, uint64_t epoch, uint8_t key[32])
{
    uint8_t context[8];
    for (int i = 0; i < 8; i++)
        context[i] = (uint8_t)(epoch >> (56 - 8 * i));
    return tls_hkdf_expand_label(tls_sha256(), cfg->ticket_secret, "pqify ticket key", context,
                                 sizeof context, key, 32);
}

static uint64_t epoch_of(const pqify_tls_config *cfg, uint64_t now_ms)
{
    return now_ms / ((uint64_t)cfg->ticket_rotation_s * 1000u);
}

static int read_opaque8(tls_reader *r, uint8_t *dst, size_t cap, size_t *len)
{
    int ret = 0;
    tls_reader b;
    TRY(tls_read_block(r, 1, &b));
    ENSURE(b.len <= cap, PQIFY_TLS_ERR_DECODE);
    memcpy(dst, b.base, b.len);
    *len = b.len;
out:
    return ret;
}

static int write_opaque8(pqify_tls_buf *b, const uint8_t *p, size_t len)
{
    int ret = 0;
    ENSURE(len <= 255, PQIFY_TLS_ERR_INTERNAL);
    TRY(tls_write_u8(b, (uint8_t)len));
    TRY(tls_write_bytes(b, p, len));
out:
    return ret;
}

/* AES-256-GCM (the libcrypto cipher fetched for TLS_AES_256_GCM_SHA384) */
static int gcm(int encrypt, const uint8_t key[32], const uint8_t *iv, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *outp, uint8_t *tag)
{
    int ret = 0, n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const tls_suite *s = tls_suite_by_id(0x1302);
    ENSURE(ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(s != NULL && len <= TICKET_MAX_PLAIN, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherInit_ex(ctx, s->cipher, NULL, key, iv, encrypt) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(ctx, outp, &n, in, (int)len) == 1, PQIFY_TLS_ERR_INTERNAL);
    if (!encrypt)
        ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TICKET_TAG, tag) == 1,
               PQIFY_TLS_ERR_INTERNAL);
    /* a forged or damaged ticket fails here */
    ENSURE(EVP_CipherFinal_ex(ctx, outp + n, &n) == 1, PQIFY_TLS_ERR_BAD_RECORD_MAC);
    if (encrypt)
        ENSURE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TICKET_TAG, tag) == 1,
               PQIFY_TLS_ERR_INTERNAL);
out:
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

int tls_ticket_seal(const pqify_tls_config *cfg, const tls_ticket *t, uint64_t now_ms,
                    pqify_tls_buf *out)
{
    int ret = 0;
    uint8_t storage[TICKET_MAX_PLAIN], key[32], iv[TICKET_IV];
    pqify_tls_buf plain;
    uint64_t epoch = epoch_of(cfg, now_ms);
    pqify_tls_buf_init(&plain, storage, sizeof storage);
    TRY(tls_write_u64(&plain, t->issued_ms));
    TRY(tls_write_u32(&plain, t->lifetime_s));
    TRY(tls_write_u32(&plain, t->age_add));
    TRY(tls_write_u16(&plain, t->suite));
    TRY(write_opaque8(&plain, t->psk, t->psk_len));
    TRY(tls_write_u8(&plain, t->client_auth ? 1 : 0));
    TRY(write_opaque8(&plain, t->alpn, t->alpn_len));
    TRY(write_opaque8(&plain, t->sni, t->sni_len));
    TRY(write_opaque8(&plain, t->subject, t->subject_len));
    ENSURE(!plain.is_allocated, PQIFY_TLS_ERR_INTERNAL);

    size_t at = out->len;
    TRY(tls_write_u8(out, TICKET_VERSION));
    TRY(tls_write_u64(out, epoch));
    ENSURE(RAND_bytes(iv, sizeof iv) == 1, PQIFY_TLS_ERR_RNG);
    TRY(tls_write_bytes(out, iv, sizeof iv));
    TRY(tls_buf_reserve(out, plain.len + TICKET_TAG));
    TRY(epoch_key(cfg, epoch, key));
    TRY(gcm(1, key, iv, out->base + at, TICKET_HEADER, plain.base, plain.len, out->base + out->len,
            out->base + out->len + plain.len));
    out->len += plain.len + TICKET_TAG;
out:
    tls_zeroize(key, sizeof key);
    tls_zeroize(storage, sizeof storage);
    return ret;
}

int tls_ticket_open(const pqify_tls_config *cfg, const uint8_t *ticket, size_t len, uint64_t now_ms,
                    tls_ticket *t)
{
    int ret = 0;
    uint8_t plain[TICKET_MAX_PLAIN], key[32], tag[TICKET_TAG];
    tls_reader r;
    uint64_t epoch, current = epoch_of(cfg, now_ms);
    memset(t, 0, sizeof *t);
    ENSURE(len > TICKET_HEADER + TICKET_IV + TICKET_TAG &&
               len - (TICKET_HEADER + TICKET_IV + TICKET_TAG) <= sizeof plain,
           PQIFY_TLS_ERR_DECODE);
    ENSURE(ticket[0] == TICKET_VERSION, PQIFY_TLS_ERR_DECODE);
    tls_reader_init(&r, ticket + 1, 8);
    TRY(tls_read_u64(&r, &epoch));
    /* the current key and the one before it; older keys have rotated out */
    ENSURE(epoch == current || epoch + 1 == current, PQIFY_TLS_ERR_DECODE);
    size_t plain_len = len - (TICKET_HEADER + TICKET_IV + TICKET_TAG);
    TRY(epoch_key(cfg, epoch, key));
    memcpy(tag, ticket + len - TICKET_TAG, TICKET_TAG);
    TRY(gcm(0, key, ticket + TICKET_HEADER, ticket, TICKET_HEADER,
            ticket + TICKET_HEADER + TICKET_IV, plain_len, plain, tag));
    tls_reader_init(&r, plain, plain_len);
    uint8_t auth;
    TRY(tls_read_u64(&r, &t->issued_ms));
    TRY(tls_read_u32(&r, &t->lifetime_s));
    TRY(tls_read_u32(&r, &t->age_add));
    TRY(tls_read_u16(&r, &t->suite));
    TRY(read_opaque8(&r, t->psk, sizeof t->psk, &t->psk_len));
    TRY(tls_read_u8(&r, &auth));
    t->client_auth = auth == 1;
    TRY(read_opaque8(&r, t->alpn, sizeof t->alpn, &t->alpn_len));
    TRY(read_opaque8(&r, t->sni, sizeof t->sni, &t->sni_len));
    TRY(read_opaque8(&r, t->subject, sizeof t->subject, &t->subject_len));
    TRY(tls_read_end(&r));
out:
    if (ret < 0)
        tls_zeroize(t, sizeof *t);
    tls_zeroize(key, sizeof key);
    tls_zeroize(plain, sizeof plain);
    return ret;
}

static size_t bounded_strlen(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != 0)
        n++;
    return n;
}

/* §4.6.1: sent after the client's Finished, under the server's application key. */
int tls_server_send_tickets(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    const tls_hash *h = c->suite->hash;
    uint8_t th[TLS_MAX_HASH], res_master[TLS_MAX_HASH], age_add[4];
    tls_ticket t;
    size_t mark, block;
    memset(&t, 0, sizeof t);
    if (c->cfg->tickets == 0)
        return 0;
    TRY(tls_transcript_hash(&hs->transcript, th));
    TRY(tls_derive_secret(h, hs->ks.secret, "res master", th, res_master));
    uint64_t now = tls_config_now_ms(c->cfg);
    t.issued_ms = now;
    t.lifetime_s = c->cfg->ticket_lifetime_s;
    t.suite = c->suite->id;
    t.psk_len = h->len;
    t.client_auth = c->peer_cert;
    t.alpn_len = bounded_strlen(c->alpn, 255);
    memcpy(t.alpn, c->alpn, t.alpn_len);
    t.sni_len = bounded_strlen(c->server_name, 255);
    memcpy(t.sni, c->server_name, t.sni_len);
    t.subject_len = bounded_strlen(c->peer_subject, 255);
    memcpy(t.subject, c->peer_subject, t.subject_len);
    for (unsigned i = 0; i < c->cfg->tickets; i++) {
        /* ticket_nonce: unique per ticket of this connection */
        uint8_t nonce = (uint8_t)i;
        TRY(tls_hkdf_expand_label(h, res_master, "resumption", &nonce, 1, t.psk, h->len));
        ENSURE(RAND_bytes(age_add, sizeof age_add) == 1, PQIFY_TLS_ERR_RNG);
        t.age_add = (uint32_t)age_add[0] << 24 | (uint32_t)age_add[1] << 16 |
                    (uint32_t)age_add[2] << 8 | age_add[3];
        hs->scratch.len = 0;
        pqify_tls_buf *m = &hs->scratch;
        TRY(tls_msg_begin(m, TLS_HS_NEW_SESSION_TICKET, &mark));
        TRY(tls_write_u32(m, t.lifetime_s));
        TRY(tls_write_u32(m, t.age_add));
        TRY(tls_write_u8(m, 1));
        TRY(tls_write_u8(m, nonce));
        TRY(tls_write_block_open(m, 2, &block));
        TRY(tls_ticket_seal(c->cfg, &t, now, m));
        TRY(tls_write_block_close(m, 2, block));
        TRY(tls_write_u16(m, 0));   /* no extensions: in particular no early_data */
        TRY(tls_msg_end(m, mark));
        TRY(tls_send_handshake_no_transcript(c, m, out));
    }
out:
    tls_zeroize(res_master, sizeof res_master);
    tls_zeroize(&t, sizeof t);
    return ret;
}

/* §4.6.1, in state CONNECTED (state_machine.c): only a server sends tickets */
int tls_on_new_session_ticket(pqify_tls_conn *c, const uint8_t *msg, size_t len, pqify_tls_buf *out)
{
    (void)out;
    if (c->is_server)
        return PQIFY_TLS_ERR_UNEXPECTED_MESSAGE;
    return tls_client_on_new_session_ticket(c, msg + TLS_HS_HEADER, len - TLS_HS_HEADER);
}

int tls_client_on_new_session_ticket(pqify_tls_conn *c, const uint8_t *body, size_t len)
{
    int ret = 0;
    tls_reader r, nonce, ticket, exts;
    uint32_t lifetime, age_add;
    tls_session *s = NULL;
    tls_reader_init(&r, body, len);
    TRY(tls_read_u32(&r, &lifetime));
    TRY(tls_read_u32(&r, &age_add));
    TRY(tls_read_block(&r, 1, &nonce));
    TRY(tls_read_block(&r, 2, &ticket));
    ENSURE(ticket.len > 0, PQIFY_TLS_ERR_DECODE);
    TRY(tls_read_block(&r, 2, &exts));   /* early_data is the only one defined; never used */
    TRY(tls_read_end(&r));
    /* §4.6.1: longer than 7 days is illegal_parameter; 0 means "do not use" */
    ENSURE(lifetime <= 604800, PQIFY_TLS_ERR_ILLEGAL_PARAMETER);
    if (lifetime == 0 || ticket.len > TLS_MAX_TICKET || c->suite == NULL)
        goto out;
    if (c->ticket == NULL) {
        c->ticket = calloc(1, sizeof *c->ticket);
        ENSURE(c->ticket != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    }
    s = c->ticket;
    tls_zeroize(s, sizeof *s);
    const tls_hash *h = c->suite->hash;
    s->suite = c->suite->id;
    s->lifetime_s = lifetime;
    s->age_add = age_add;
    s->received_ms = tls_config_now_ms(c->cfg);
    TRY(tls_hkdf_expand_label(h, c->res_master, "resumption", nonce.base, nonce.len, s->psk, h->len));
    s->psk_len = h->len;
    memcpy(s->server_name, c->cfg->server_name, sizeof s->server_name);
    memcpy(s->peer_subject, c->peer_subject, sizeof s->peer_subject);
    memcpy(s->ticket, ticket.base, ticket.len);
    s->ticket_len = ticket.len;
    if (c->cfg->cache != NULL)
        tls_session_cache_put(c->cfg, s);
out:
    if (ret < 0 && s != NULL)
        tls_zeroize(s, sizeof *s);
    return ret;
}
