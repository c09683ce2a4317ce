/* Connection lifecycle, record reassembly and routing, and the public calls. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

size_t pqify_tls_conn_size(int mode)
{
    size_t n = sizeof(struct pqify_tls_conn);
    if (mode == PQIFY_TLS_SIZE_HANDSHAKING)
        n += sizeof(tls_hs) + TLS_REC_SIZE;
    else if (mode == PQIFY_TLS_SIZE_ESTABLISHED)
        n += TLS_REC_SIZE + TLS_MAX_POST_HS_MSG;
    return n;
}

/* Wipe what a buffer held, then give it back. */
static void buffer_free(uint8_t **buf, size_t *used)
{
    if (*buf != NULL)
        tls_zeroize(*buf, *used);
    free(*buf);
    *buf = NULL;
    *used = 0;
}

void pqify_tls_release_buffers(pqify_tls_conn *c)
{
    if (c == NULL)
        return;
    /* a partial record or post-handshake message stays where it is */
    if (c->rec_len == 0)
        buffer_free(&c->rec, &c->rec_used);
    if (c->ph_len == 0)
        buffer_free(&c->ph, &c->ph_used);
}

static void hs_free(tls_hs *hs)
{
    if (hs == NULL)
        return;
    tls_transcript_free(&hs->transcript);
    for (size_t i = 0; i < TLS_MAX_SHARES; i++)
        tls_group_state_wipe(&hs->shares[i]);
    EVP_PKEY_free(hs->peer_key);
    pqify_tls_buf_dispose(&hs->scratch);
    pqify_tls_buf_dispose(&hs->flight);
    /* everything up to the message buffers holds keys; the buffers hold only
     * handshake messages, which are not key material */
    tls_zeroize(hs, offsetof(tls_hs, msg));
    free(hs);
}

pqify_tls_conn *pqify_tls_conn_new(const pqify_tls_config *cfg, int is_server)
{
    uint16_t groups[TLS_MAX_GROUPS];
    if (cfg == NULL || tls_crypto_init() < 0 || tls_config_groups(cfg, groups, TLS_MAX_GROUPS) == 0)
        return NULL;
    /* identity 0 is the default every server needs; added ones are whole by construction */
    if (is_server && !tls_identity_ready(&cfg->ids[0]))
        return NULL;
    /* the record buffer (16.6 KiB) is written before read (rec_len), so it is not
     * cleared; the post-handshake buffer comes with the first such message */
    pqify_tls_conn *c = calloc(1, sizeof *c);
    if (c != NULL)
        c->rec = malloc(TLS_REC_SIZE);
    /* Only the state before the message buffers needs zeros: msg (32 KiB) and the
     * scratch storage are written before they are read (msg_len, the buffers'
     * lengths), and clearing 40 KiB per connection was the largest memset of a
     * server handshake. */
    tls_hs *hs = malloc(sizeof *hs);
    if (hs != NULL) {
        memset(hs, 0, offsetof(tls_hs, msg));
        hs->msg_len = 0;
    }
    if (c == NULL || c->rec == NULL || hs == NULL || tls_transcript_init(&hs->transcript) < 0) {
        hs_free(hs);
        if (c != NULL)
            free(c->rec);
        free(c);
        return NULL;
    }
    pqify_tls_buf_init(&hs->scratch, hs->scratch_storage, sizeof hs->scratch_storage);
    pqify_tls_buf_init(&hs->flight, NULL, 0);
    c->cfg = cfg;
    c->is_server = is_server != 0;
    c->state = is_server ? ST_SERVER_WAIT_CH : ST_CLIENT_START;
    c->hs = hs;
    return c;
}

void pqify_tls_conn_free(pqify_tls_conn *c)
{
    if (c == NULL)
        return;
    hs_free(c->hs);
    tls_session_free(c->offer);
    tls_session_free(c->ticket);
    tls_traffic_wipe(&c->rd);
    tls_traffic_wipe(&c->wr);
    /* rec held decrypted records, but only its first rec_used bytes were ever
     * written; the rest of the 16.6 KiB never held anything */
    buffer_free(&c->rec, &c->rec_used);
    buffer_free(&c->ph, &c->ph_used);
    tls_zeroize(c, sizeof *c);
    free(c);
}

/* Record the first error, send its alert, and return it. */
static int fail(pqify_tls_conn *c, int err, pqify_tls_buf *out)
{
    if (c->err != 0)
        return c->err;
    c->err = err;
    int alert = pqify_tls_alert_of(err);
    /* best effort: the error stands whether or not the alert could be written */
    if (alert >= 0 && out != NULL && !c->sent_close && tls_alert_send(c, 2, (uint8_t)alert, out) == 0)
        c->sent_close = 1;
    return err;
}

/* Take bytes until one whole record sits in c->rec. */
static int take_record(pqify_tls_conn *c, const uint8_t *in, size_t avail, size_t *used, int *whole)
{
    int ret = 0;
    size_t u = 0;
    *whole = 0;
    if (c->rec == NULL) {
        /* released while idle (pqify_tls_release_buffers): bytes came again */
        c->rec = malloc(TLS_REC_SIZE);
        ENSURE(c->rec != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    }
    if (c->rec_len < TLS_RECORD_HEADER) {
        size_t n = TLS_RECORD_HEADER - c->rec_len;
        n = n < avail ? n : avail;
        memcpy(c->rec + c->rec_len, in, n);
        c->rec_len += n;
        if (c->rec_len > c->rec_used)
            c->rec_used = c->rec_len;
        u += n;
        if (c->rec_len < TLS_RECORD_HEADER)
            goto out;
        uint8_t t = c->rec[0];
        /* the first header tells a non-TLS peer ("SSH-2.0-...", "HTTP/1.1 ...") from a TLS
         * one: a content type of RFC 8446 §5.1 or heartbeat (24), then major version 3 */
        ENSURE(c->got_record || (t >= TLS_CT_CCS && t <= 24 && c->rec[1] == 3),
               PQIFY_TLS_ERR_NOT_TLS);
        ENSURE(t == TLS_CT_CCS || t == TLS_CT_ALERT || t == TLS_CT_HANDSHAKE || t == TLS_CT_APPDATA,
               PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        /* §5.1: legacy_record_version is ignored, but a TLS record has major version 3 */
        ENSURE(c->rec[1] == 3, PQIFY_TLS_ERR_DECODE);
        size_t len = (size_t)c->rec[3] << 8 | c->rec[4];
        ENSURE(len <= TLS_MAX_CIPHERTEXT, PQIFY_TLS_ERR_RECORD_OVERFLOW);
        ENSURE(len > 0 || t == TLS_CT_APPDATA, PQIFY_TLS_ERR_DECODE);
        c->got_record = 1;
    }
    size_t want = TLS_RECORD_HEADER + ((size_t)c->rec[3] << 8 | c->rec[4]);
    size_t n = want - c->rec_len;
    n = n < avail - u ? n : avail - u;
    memcpy(c->rec + c->rec_len, in + u, n);
    c->rec_len += n;
    if (c->rec_len > c->rec_used)
        c->rec_used = c->rec_len;
    u += n;
    *whole = c->rec_len == want;
out:
    *used = u;
    return ret;
}

/*
 * Handshake bytes during the handshake: reassemble and dispatch whole messages. The
 * record is taken in pieces that fit hs->msg, so a message of up to TLS_MAX_HS_MSG
 * bytes followed by more in the same record (a large chain, then CertificateVerify)
 * never overflows it.
 */
static int feed_handshake(pqify_tls_conn *c, const uint8_t *p, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    tls_hs *hs = c->hs;
    for (;;) {
        size_t n = sizeof hs->msg - hs->msg_len, off = 0;
        n = n < len ? n : len;
        memcpy(hs->msg + hs->msg_len, p, n);
        hs->msg_len += n;
        p += n;
        len -= n;
        uint8_t type;
        size_t body;
        while (c->hs != NULL && tls_msg_header(hs->msg + off, hs->msg_len - off, &type, &body)) {
            ENSURE(body <= TLS_MAX_HS_MSG - TLS_HS_HEADER, PQIFY_TLS_ERR_MESSAGE_TOO_LARGE);
            if (hs->msg_len - off < TLS_HS_HEADER + body)
                break;
            c->rd_changed = 0;
            TRY(tls_dispatch(c, type, hs->msg + off, TLS_HS_HEADER + body, out));
            off += TLS_HS_HEADER + body;
            /* §5.1: a key change must fall on a record boundary */
            if (c->rd_changed || c->established)
                ENSURE(off == hs->msg_len && len == 0, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
            if (c->established)
                return 0;
        }
        memmove(hs->msg, hs->msg + off, hs->msg_len - off);
        hs->msg_len -= off;
        if (len == 0)
            break;
        /* a full buffer always starts with a whole message (each fits), so each
         * round dispatches one; this guards the loop all the same */
        ENSURE(off > 0, PQIFY_TLS_ERR_INTERNAL);
    }
out:
    return ret;
}

/* Handshake bytes after the handshake (KeyUpdate, NewSessionTicket). */
static int feed_post_handshake(pqify_tls_conn *c, const uint8_t *p, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    if (c->ph == NULL) {
        /* the first post-handshake message, or the first since a release */
        c->ph = malloc(TLS_MAX_POST_HS_MSG);
        ENSURE(c->ph != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    }
    for (;;) {
        size_t need = TLS_HS_HEADER, body;
        uint8_t type;
        if (tls_msg_header(c->ph, c->ph_len, &type, &body)) {
            need = TLS_HS_HEADER + body;
            if (need > TLS_MAX_POST_HS_MSG) {
                /* only a NewSessionTicket may be this large; it is dropped unread */
                ENSURE(type == TLS_HS_NEW_SESSION_TICKET, PQIFY_TLS_ERR_DECODE);
                ENSURE(!c->is_server, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
                c->ph_skip = need - c->ph_len;
                c->ph_len = 0;
                continue;
            }
            if (c->ph_len == need) {
                c->rd_changed = 0;
                TRY(tls_dispatch(c, type, c->ph, need, out));
                c->ph_len = 0;
                /* §5.1: nothing may follow a KeyUpdate in its record */
                if (c->rd_changed)
                    ENSURE(len == 0, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
                continue;
            }
        }
        if (len == 0)
            break;
        if (c->ph_skip > 0) {
            size_t n = len < c->ph_skip ? len : c->ph_skip;
            c->ph_skip -= n;
            p += n;
            len -= n;
            continue;
        }
        size_t n = need - c->ph_len < len ? need - c->ph_len : len;
        memcpy(c->ph + c->ph_len, p, n);
        c->ph_len += n;
        if (c->ph_len > c->ph_used)
            c->ph_used = c->ph_len;
        p += n;
        len -= n;
    }
out:
    return ret;
}

/* A handshake message is partly read (during or after the handshake). */
static int handshake_fragment_pending(const pqify_tls_conn *c)
{
    return (c->hs != NULL && c->hs->msg_len > 0) || c->ph_len > 0 || c->ph_skip > 0;
}

/* One whole record in c->rec: unprotect and route its content. */
static int process_record(pqify_tls_conn *c, pqify_tls_buf *plaintext, pqify_tls_buf *out)
{
    int ret = 0;
    uint8_t type = c->rec[0];
    uint8_t *data = c->rec + TLS_RECORD_HEADER;
    size_t len = c->rec_len - TLS_RECORD_HEADER;
    uint8_t level, desc;
    if (type == TLS_CT_CCS) {
        /* §5: middlebox compatibility; a single 0x01 before the handshake ends */
        ENSURE(!c->established && len == 1 && data[0] == 1 && c->state != ST_CLIENT_START &&
                   c->state != ST_SERVER_WAIT_CH,
               PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        goto out;
    }
    /* a peer that failed before it could protect its alert sends it in clear; only
     * during the handshake, when it can do no more than end a connection not yet up */
    if (c->rd.active && !(type == TLS_CT_ALERT && len == 2 && !c->established)) {
        int r = tls_record_open(&c->rd, c->rec, c->rec_len, &type, &len);
        /* §4.2.10: 0-RTT data a client offered is never accepted; skip what does
         * not open under the handshake key, within a budget */
        if (r == PQIFY_TLS_ERR_BAD_RECORD_MAC && type == TLS_CT_APPDATA && c->hs != NULL &&
            len <= c->hs->early_data_skip) {
            c->hs->early_data_skip -= len;
            goto out;
        }
        TRY(r);
        if (c->hs != NULL)
            c->hs->early_data_skip = 0;
    } else if (type == TLS_CT_APPDATA && c->hs != NULL && c->state == ST_SERVER_WAIT_CH2 &&
               len <= c->hs->early_data_skip) {
        /* §4.2.10: after a HelloRetryRequest, early data arrives before the second hello */
        c->hs->early_data_skip -= len;
        goto out;
    } else {
        ENSURE(type != TLS_CT_APPDATA, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        ENSURE(len <= TLS_MAX_PLAINTEXT, PQIFY_TLS_ERR_RECORD_OVERFLOW);
    }
    /* §5.1: "if a handshake message is split over two or more records, there MUST
     * NOT be any other records between them" */
    ENSURE(type == TLS_CT_HANDSHAKE || !handshake_fragment_pending(c),
           PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    switch (type) {
    case TLS_CT_HANDSHAKE:
        ENSURE(len > 0, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        if (c->established)
            TRY(feed_post_handshake(c, data, len, out));
        else
            TRY(feed_handshake(c, data, len, out));
        break;
    case TLS_CT_ALERT:
        TRY(tls_alert_parse(data, len, &level, &desc));
        TRY(tls_alert_received(c, level, desc));
        break;
    case TLS_CT_APPDATA:
        /* no early data: application data only once established */
        ENSURE(c->established && plaintext != NULL, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
        c->key_updates_in_a_row = 0;
        TRY(tls_write_bytes(plaintext, data, len));
        break;
    default:
        ret = PQIFY_TLS_ERR_UNEXPECTED_MESSAGE;
    }
out:
    c->rec_len = 0;
    return ret;
}

static void release_handshake(pqify_tls_conn *c)
{
    hs_free(c->hs);
    c->hs = NULL;
    /* the offered session is spent (its subject was copied when it was used) */
    tls_session_free(c->offer);
    c->offer = NULL;
}

int pqify_tls_handshake(pqify_tls_conn *c, const uint8_t *in, size_t *in_len, pqify_tls_buf *out)
{
    int ret = 0;
    size_t avail = in_len != NULL ? *in_len : 0, used = 0;
    if (in_len != NULL)
        *in_len = 0;
    if (c == NULL || out == NULL || (avail != 0 && in == NULL))
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    if (c->established)
        return 0;
    if (c->t_start_us == 0)
        c->t_start_us = tls_now_us();
    if (c->state == ST_CLIENT_START)
        TRY(tls_client_start(c, out));
    if (c->state == ST_WAIT_SIGNATURE && c->hs->sign_status == TLS_SIGN_FAILED)
        ENSURE(0, PQIFY_TLS_ERR_SIGN);
    if (c->state == ST_WAIT_SIGNATURE && c->hs->sign_status == TLS_SIGN_DONE) {
        TRY(tls_send_certificate_verify(c, out));
        TRY(c->hs->after_signature(c, out));
    }
    TRY(tls_flush_flight(c, out));
    /* while a signer works, input waits with the caller (it may be the peer's next
     * flight, or 0.5-RTT data, which only the finished handshake can take) */
    while (used < avail && !c->established && !c->peer_closed && c->state != ST_WAIT_SIGNATURE) {
        size_t n = 0;
        int whole = 0;
        TRY(take_record(c, in + used, avail - used, &n, &whole));
        used += n;
        if (whole) {
            TRY(process_record(c, NULL, out));
            TRY(tls_flush_flight(c, out));
        }
    }
    /* close_notify before the handshake finished is a failure to connect */
    ENSURE(!c->peer_closed || c->established, PQIFY_TLS_ERR_PEER_ALERT - TLS_ALERT_CLOSE_NOTIFY);
    if (c->established) {
        release_handshake(c);
        ret = 0;
    } else if (c->state == ST_WAIT_SIGNATURE) {
        ret = PQIFY_TLS_WANT_SIGNATURE;
    } else {
        ret = PQIFY_TLS_IN_PROGRESS;
    }
out:
    if (in_len != NULL)
        *in_len = used;
    if (ret < 0)
        ret = fail(c, ret, out);
    return ret;
}

int pqify_tls_is_established(const pqify_tls_conn *c)
{
    return c != NULL && c->established;
}

int pqify_tls_error(const pqify_tls_conn *c)
{
    return c == NULL ? PQIFY_TLS_ERR_ARG : c->err;
}

const char *pqify_tls_error_detail(const pqify_tls_conn *c)
{
    if (c == NULL || c->err == 0)
        return "";
    return c->err_detail[0] != 0 ? c->err_detail : pqify_tls_strerror(c->err);
}

static int signature_pending(const pqify_tls_conn *c)
{
    return c->err == 0 && c->hs != NULL && c->state == ST_WAIT_SIGNATURE &&
           c->hs->sign_status == TLS_SIGN_WAITING;
}

int pqify_tls_signature_request(const pqify_tls_conn *c, uint16_t *scheme, const uint8_t **tbs,
                                size_t *tbs_len)
{
    if (c == NULL || scheme == NULL || tbs == NULL || tbs_len == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    if (!signature_pending(c))
        return PQIFY_TLS_ERR_ARG;
    *scheme = c->hs->sign_scheme;
    *tbs = c->hs->sign_tbs;
    *tbs_len = c->hs->sign_tbs_len;
    return 0;
}

int pqify_tls_signature_complete(pqify_tls_conn *c, const uint8_t *sig, size_t len)
{
    if (c == NULL || sig == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    if (!signature_pending(c) || len == 0 || len > PQIFY_TLS_MAX_SIGNATURE)
        return PQIFY_TLS_ERR_ARG;
    memcpy(c->hs->sig, sig, len);
    c->hs->sig_len = len;
    c->hs->sign_status = TLS_SIGN_DONE;
    return 0;
}

int pqify_tls_signature_failed(pqify_tls_conn *c, const char *reason)
{
    if (c == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    if (!signature_pending(c))
        return PQIFY_TLS_ERR_ARG;
    snprintf(c->err_detail, sizeof c->err_detail, "signer failed: %s",
             reason != NULL && reason[0] != 0 ? reason : "no reason given");
    c->hs->sign_status = TLS_SIGN_FAILED;
    return 0;
}

/* §5.5: AES-GCM keys are good for about 2^24.5 records; rekey well before. */
#define TLS_REKEY_AFTER ((uint64_t)1 << 24)

int pqify_tls_send(pqify_tls_conn *c, pqify_tls_buf *out, const void *data, size_t len)
{
    int ret = 0;
    const uint8_t *p = data;
    if (c == NULL || out == NULL || (len != 0 && data == NULL))
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    ENSURE(c->established, PQIFY_TLS_ERR_ARG);
    ENSURE(!c->sent_close, PQIFY_TLS_ERR_CLOSED);
    for (size_t done = 0; done < len;) {
        if (c->wr.seq >= TLS_REKEY_AFTER)
            TRY(pqify_tls_key_update(c, 0, out));
        size_t n = len - done > TLS_MAX_PLAINTEXT ? TLS_MAX_PLAINTEXT : len - done;
        TRY(tls_record_seal(&c->wr, TLS_CT_APPDATA, p + done, n, out));
        done += n;
    }
out:
    if (ret < 0 && ret != PQIFY_TLS_ERR_ARG && ret != PQIFY_TLS_ERR_CLOSED)
        ret = fail(c, ret, out);
    return ret;
}

int pqify_tls_receive(pqify_tls_conn *c, pqify_tls_buf *plaintext, const uint8_t *in,
                      size_t *in_len, pqify_tls_buf *out)
{
    int ret = 0;
    size_t avail = in_len != NULL ? *in_len : 0, used = 0;
    if (in_len != NULL)
        *in_len = 0;
    if (c == NULL || plaintext == NULL || out == NULL || (avail != 0 && in == NULL))
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    ENSURE(c->established, PQIFY_TLS_ERR_ARG);
    while (used < avail && !c->peer_closed) {
        size_t n = 0;
        int whole = 0;
        TRY(take_record(c, in + used, avail - used, &n, &whole));
        used += n;
        if (whole)
            TRY(process_record(c, plaintext, out));
    }
    if (c->peer_closed)
        ret = PQIFY_TLS_PEER_CLOSED;
out:
    if (in_len != NULL)
        *in_len = used;
    if (ret < 0 && ret != PQIFY_TLS_ERR_ARG)
        ret = fail(c, ret, out);
    return ret;
}

int pqify_tls_close_notify(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    if (c == NULL || out == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    if (c->sent_close)
        return 0;
    TRY(tls_alert_send(c, 1, TLS_ALERT_CLOSE_NOTIFY, out));
    c->sent_close = 1;
out:
    return ret;
}

int pqify_tls_key_update(pqify_tls_conn *c, int request_peer, pqify_tls_buf *out)
{
    int ret = 0;
    uint8_t storage[16];
    pqify_tls_buf msg;
    pqify_tls_buf_init(&msg, storage, sizeof storage);
    if (c == NULL || out == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (c->err != 0)
        return c->err;
    ENSURE(c->established, PQIFY_TLS_ERR_ARG);
    ENSURE(!c->sent_close, PQIFY_TLS_ERR_CLOSED);
    TRY(tls_key_update_write(request_peer, &msg));
    TRY(tls_send_handshake_no_transcript(c, &msg, out));
    /* §4.6.3: the sender switches keys right after its KeyUpdate */
    TRY(tls_traffic_update(&c->wr, 1));
    c->key_updates_sent++;
out:
    pqify_tls_buf_dispose(&msg);
    return ret;
}

void pqify_tls_get_info(const pqify_tls_conn *c, pqify_tls_info *info)
{
    memset(info, 0, sizeof *info);
    info->version = "";
    info->cipher = "";
    info->group = "";
    if (c == NULL)
        return;
    if (c->established)
        info->version = "TLSv1.3";
    if (c->suite != NULL) {
        info->cipher = c->suite->name;
        info->cipher_id = c->suite->id;
    }
    if (c->group != NULL) {
        info->group = c->group->name;
        info->group_id = c->group->id;
        info->is_pq = c->group->is_pq;
    }
    info->hrr = c->hrr;
    info->peer_cert = c->peer_cert;
    memcpy(info->peer_subject, c->peer_subject, sizeof info->peer_subject);
    memcpy(info->alpn, c->alpn, sizeof info->alpn);
    memcpy(info->server_name, c->server_name, sizeof info->server_name);
    info->signature_scheme = c->peer_scheme;
    info->handshake_us = c->handshake_us;
    info->key_updates_sent = c->key_updates_sent;
    info->key_updates_received = c->key_updates_received;
    info->resumed = c->resumed;
    info->identity = c->identity;
}
