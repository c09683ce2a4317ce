/*
 * libFuzzer harness for the Forward protocol v1 decoder (src/logs). The input is a byte
 * stream fed in pieces of 1 + len % 97 bytes, once as a server reads clients (events,
 * PING, heartbeats) and once as a client reads servers (HELO, PONG, acks). Every
 * decoded event is turned into JSON and packed again into a batch; the batch, encoded
 * in each compression, must decode to the same events with the same JSON: the
 * decoder's and the encoder's views of an event have to agree.
 * Seeds: forward_seeds/ (bytes captured from @fluent-org/logger and our encoder).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pqify/logs.h"

#define CHECK(c)        \
    do {                \
        if (!(c))       \
            abort();    \
    } while (0)

static const pqify_fwd_limits LIMITS = {.max_message = 1 << 16, .max_decompressed = 1 << 20,
                                        .max_events = 4096};

static void events_round_trip(const pqify_fwd_msg *m)
{
    msgpack_sbuffer json, json2, wire;
    pqify_fwd_batch bt;
    int ok = 1;

    msgpack_sbuffer_init(&json);
    msgpack_sbuffer_init(&json2);
    msgpack_sbuffer_init(&wire);
    pqify_fwd_batch_init(&bt);
    for (size_t i = 0; i < m->n_events; i++) {
        const pqify_fwd_event *e = &m->events[i];
        CHECK(pqify_logs_event_json(m->tag, e, &json) == 0);
        /* EventTime holds 32-bit seconds: integer times outside it cannot be re-sent */
        if (e->sec < 0 || e->sec > UINT32_MAX)
            ok = 0;
        else
            CHECK(pqify_fwd_batch_add(&bt, e->sec, e->nsec, e->record) == 0);
    }
    for (int c = PQIFY_FWD_NONE; ok && m->n_events && c <= PQIFY_FWD_ZSTD; c++) {
        pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, &LIMITS);
        pqify_fwd_msg m2;
        const uint8_t *in;
        size_t len;
        int r;
        wire.size = 0;
        json2.size = 0;
        CHECK(pqify_fwd_encode_packed(&bt, (const char *)m->tag.ptr, m->tag.len,
                                      (pqify_fwd_compression)c, "AAAAAAAAAAAAAAAAAAAAAA==", &wire) == 0);
        in = (const uint8_t *)wire.data;
        len = wire.size;
        r = pqify_fwd_decode(d, &in, &len, &m2);
        /* re-encoding may grow a message past the limit; anything else must decode */
        if (r == PQIFY_LOGS_ERR_TOO_LARGE) {
            pqify_fwd_decoder_free(d);
            continue;
        }
        CHECK(r == 1 && len == 0 && m2.kind == PQIFY_FWD_EVENTS);
        CHECK(m2.n_events == m->n_events);
        for (size_t i = 0; i < m2.n_events; i++) {
            pqify_fwd_event e = m2.events[i];
            e.event_time = m->events[i].event_time;
            CHECK(pqify_logs_event_json(m2.tag, &e, &json2) == 0);
        }
        CHECK(json2.size == json.size && memcmp(json.data, json2.data, json.size) == 0);
        pqify_fwd_decoder_free(d);
    }
    pqify_fwd_batch_free(&bt);
    msgpack_sbuffer_destroy(&json);
    msgpack_sbuffer_destroy(&json2);
    msgpack_sbuffer_destroy(&wire);
}

static void handshake(const pqify_fwd_msg *m)
{
    static const uint8_t nonce[16] = {1, 2, 3};
    pqify_fwd_bytes n = {nonce, 16}, key = {(const uint8_t *)"k", 1}, none = {NULL, 0};
    static const char *const users[] = {"u", "p", NULL};
    int r;
    if (m->kind == PQIFY_FWD_PING) {
        r = pqify_fwd_check_ping(m, "self", n, key, none, users);
        CHECK(r == PQIFY_LOGS_ERR_AUTH || r == PQIFY_LOGS_ERR_SAME_HOST || r == 0);
    } else if (m->kind == PQIFY_FWD_PONG) {
        r = pqify_fwd_check_pong(m, "self", key, n, key);
        CHECK(r == PQIFY_LOGS_ERR_AUTH || r == PQIFY_LOGS_ERR_SAME_HOST ||
              r == PQIFY_LOGS_ERR_AUTH_REFUSED || r == 0);
    } else if (m->kind == PQIFY_FWD_ACK) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        CHECK(pqify_fwd_encode_ack(m->chunk.ptr, m->chunk.len, &sb) == 0);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void run(pqify_fwd_role role, const uint8_t *data, size_t size)
{
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(role, &LIMITS);
    size_t piece = 1 + size % 97, at = 0;
    CHECK(d != NULL);
    while (at < size) {
        const uint8_t *in = data + at;
        size_t n = size - at < piece ? size - at : piece, len = n;
        pqify_fwd_msg m;
        int r = pqify_fwd_decode(d, &in, &len, &m);
        CHECK(len <= n && in == data + at + (n - len));
        CHECK(pqify_fwd_decoder_buffered(d) <= LIMITS.max_message);
        at += n - len;
        if (r < 0) {
            CHECK(pqify_logs_strerror(r)[0] != 0);
            /* the first error sticks */
            len = size - at;
            CHECK(pqify_fwd_decode(d, &in, &len, &m) == PQIFY_LOGS_ERR_FAILED);
            break;
        }
        if (r == 1 && m.kind == PQIFY_FWD_EVENTS)
            events_round_trip(&m);
        else if (r == 1)
            handshake(&m);
        CHECK(r == 1 || len == 0);
    }
    pqify_fwd_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(PQIFY_FWD_SERVER, data, size);
    run(PQIFY_FWD_CLIENT, data, size);
    return 0;
}
