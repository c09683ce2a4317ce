/*
 * The flight layer the handshake handlers write through: queue handshake messages
 * (one flight shares records), protect them under the current key, switch keys,
 * and mark the connection established. It knows nothing of the public calls.
 */
#include <time.h>

#include "conn.h"

uint64_t tls_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int tls_send_handshake_no_transcript(pqify_tls_conn *c, const pqify_tls_buf *msg, pqify_tls_buf *out)
{
    int ret = 0;
    if (!c->wr.active)
        return tls_record_plain(TLS_CT_HANDSHAKE, msg->base, msg->len, out);
    for (size_t done = 0; done < msg->len;) {
        size_t n = msg->len - done > TLS_MAX_PLAINTEXT ? TLS_MAX_PLAINTEXT : msg->len - done;
        TRY(tls_record_seal(&c->wr, TLS_CT_HANDSHAKE, msg->base + done, n, out));
        done += n;
    }
out:
    return ret;
}

/* Queue a message; the flight goes out in as few records as possible. */
int tls_send_handshake(pqify_tls_conn *c, const pqify_tls_buf *msg, pqify_tls_buf *out)
{
    int ret = 0;
    (void)out;
    TRY(tls_transcript_update(&c->hs->transcript, msg->base, msg->len));
    TRY(tls_write_bytes(&c->hs->flight, msg->base, msg->len));
out:
    return ret;
}

int tls_flush_flight(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    if (c->hs == NULL || c->hs->flight.len == 0)
        return 0;
    TRY(tls_send_handshake_no_transcript(c, &c->hs->flight, out));
    c->hs->flight.len = 0;
out:
    return ret;
}

int tls_send_compat_ccs(pqify_tls_conn *c, pqify_tls_buf *out)
{
    int ret = 0;
    static const uint8_t one = 1;
    if (c->hs->ccs_sent || c->hs->session_id_len == 0)
        return 0;
    TRY(tls_flush_flight(c, out));
    TRY(tls_record_plain(TLS_CT_CCS, &one, 1, out));
    c->hs->ccs_sent = 1;
out:
    return ret;
}

int tls_set_read_key(pqify_tls_conn *c, const uint8_t *secret)
{
    c->rd_changed = 1;
    return tls_traffic_set(&c->rd, c->suite, secret, 0);
}

int tls_set_write_key(pqify_tls_conn *c, const uint8_t *secret, pqify_tls_buf *out)
{
    int ret = tls_flush_flight(c, out);
    return ret < 0 ? ret : tls_traffic_set(&c->wr, c->suite, secret, 1);
}

void tls_established(pqify_tls_conn *c)
{
    c->state = ST_CONNECTED;
    c->established = 1;
    c->handshake_us = tls_now_us() - c->t_start_us;
}

