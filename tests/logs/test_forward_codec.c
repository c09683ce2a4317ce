/* The Forward protocol v1 codec on hand-built bytes (from the spec's message shapes),
 * gzip made by Python's gzip module, digests made by Python's hashlib; streaming in
 * every split; the limits and the negative cases the spec's hostile peers produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pqify/logs.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        while (*h == ' ')
            h++;
        if (!h[0] || !h[1])
            break;
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Feeds everything in one call; returns the result of the call that produced a message. */
static int decode_all(pqify_fwd_decoder *d, const uint8_t *p, size_t n, pqify_fwd_msg *m)
{
    return pqify_fwd_decode(d, &p, &n, m);
}

static const pqify_fwd_event *one_event(const pqify_fwd_msg *m, size_t i)
{
    assert_true(i < m->n_events);
    return &m->events[i];
}

static int64_t rec_int(const pqify_fwd_event *e, const char *key)
{
    const msgpack_object *r = e->record;
    for (uint32_t i = 0; i < r->via.map.size; i++)
        if (r->via.map.ptr[i].key.via.str.size == strlen(key) &&
            memcmp(r->via.map.ptr[i].key.via.str.ptr, key, strlen(key)) == 0)
            return r->via.map.ptr[i].val.via.i64;
    fail_msg("no key %s", key);
    return -1;
}

static void test_message_mode_integer_time(void **state)
{
    (void)state;
    uint8_t b[64];
    size_t n = unhex("93a3617070ce6553f10081a16101", b);
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    pqify_fwd_msg m;
    assert_int_equal(decode_all(d, b, n, &m), 1);
    assert_int_equal(m.kind, PQIFY_FWD_EVENTS);
    assert_int_equal(m.mode, PQIFY_FWD_MODE_MESSAGE);
    assert_int_equal(m.tag.len, 3);
    assert_memory_equal(m.tag.ptr, "app", 3);
    assert_int_equal(m.n_events, 1);
    assert_int_equal(one_event(&m, 0)->sec, 1700000000);
    assert_int_equal(one_event(&m, 0)->nsec, 0);
    assert_int_equal(one_event(&m, 0)->event_time, 0);
    assert_int_equal(rec_int(one_event(&m, 0), "a"), 1);
    assert_null(m.chunk.ptr);
    pqify_fwd_decoder_free(d);
}

/* Forward mode, EventTime as fixext8 (d7 00), chunk and size options, unknown key. */
static const char *FORWARD_HEX =
    "93a3617070 91 92d7006553f10000000005 81a178a179"
    "83a56368756e6ba3616263a473697a6501a7756e6b6e6f776ec0";

static void test_forward_mode_event_time_in_every_split(void **state)
{
    (void)state;
    uint8_t b[128];
    size_t n = unhex(FORWARD_HEX, b);
    /* each split point, and one byte at a time */
    for (size_t cut = 0; cut <= n; cut++) {
        pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
        pqify_fwd_msg m;
        const uint8_t *p = b;
        size_t a = cut, rest = n - cut;
        int r = pqify_fwd_decode(d, &p, &a, &m);
        if (cut < n) {
            assert_int_equal(r, 0);
            assert_int_equal(a, 0);
            assert_int_equal(pqify_fwd_decoder_buffered(d), cut);
            r = pqify_fwd_decode(d, &p, &rest, &m);
        }
        assert_int_equal(r, 1);
        assert_int_equal(m.mode, PQIFY_FWD_MODE_FORWARD);
        assert_int_equal(m.n_events, 1);
        assert_int_equal(one_event(&m, 0)->sec, 1700000000);
        assert_int_equal(one_event(&m, 0)->nsec, 5);
        assert_int_equal(one_event(&m, 0)->event_time, 1);
        assert_int_equal(m.chunk.len, 3);
        assert_memory_equal(m.chunk.ptr, "abc", 3);
        assert_true(m.has_size);
        assert_int_equal(m.size, 1);
        pqify_fwd_decoder_free(d);
    }
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    pqify_fwd_msg m;
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = b + i;
        size_t one = 1;
        int r = pqify_fwd_decode(d, &p, &one, &m);
        assert_int_equal(r, i + 1 == n ? 1 : 0);
        got += r;
    }
    assert_int_equal(got, 1);
    pqify_fwd_decoder_free(d);
}

/* Two messages and a heartbeat in one buffer come out one per call, in order. */
static void test_back_to_back_and_heartbeat(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n = unhex("93a3617070ce6553f10081a16101", b);
    n += unhex("c0", b + n);
    n += unhex(FORWARD_HEX, b + n);
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    pqify_fwd_msg m;
    const uint8_t *p = b;
    size_t len = n;
    assert_int_equal(pqify_fwd_decode(d, &p, &len, &m), 1);
    assert_int_equal(m.mode, PQIFY_FWD_MODE_MESSAGE);
    assert_int_equal(pqify_fwd_decode(d, &p, &len, &m), 1);
    assert_int_equal(m.kind, PQIFY_FWD_HEARTBEAT);
    assert_int_equal(pqify_fwd_decode(d, &p, &len, &m), 1);
    assert_int_equal(m.mode, PQIFY_FWD_MODE_FORWARD);
    assert_int_equal(len, 0);
    assert_int_equal(pqify_fwd_decode(d, &p, &len, &m), 0);
    pqify_fwd_decoder_free(d);
}

/* gzip from Python's gzip module, two members back to back (as Fluentd appends). */
static void test_compressed_gzip_two_members(void **state)
{
    (void)state;
    uint8_t gz[128], b[256];
    size_t gl = unhex("1f8b0800a5b20f6b02ff9bc4d80000ed0775f5030000001f8b0800a5b20f6b02ff9bc4"
                      "d4b8307b61190042835a9b07000000", gz);
    size_t n = 0;
    n += unhex("93a174c4", b);
    b[n++] = (uint8_t)gl;
    memcpy(b + n, gz, gl);
    n += gl;
    n += unhex("82aa636f6d70726573736564a4677a6970a473697a6502", b + n);
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    pqify_fwd_msg m;
    assert_int_equal(decode_all(d, b, n, &m), 1);
    assert_int_equal(m.mode, PQIFY_FWD_MODE_COMPRESSED);
    assert_int_equal(m.compression, PQIFY_FWD_GZIP);
    assert_int_equal(m.n_events, 2);
    assert_int_equal(one_event(&m, 0)->sec, 1);
    assert_int_equal(one_event(&m, 1)->sec, 2);
    assert_int_equal(one_event(&m, 1)->record->via.map.size, 1);
    pqify_fwd_decoder_free(d);

    /* the same with the last member cut short is corrupt, not a shorter batch */
    n = unhex("93a174c4", b);
    b[n++] = (uint8_t)(gl - 3);
    memcpy(b + n, gz, gl - 3);
    n += gl - 3;
    n += unhex("81aa636f6d70726573736564a4677a6970", b + n);
    d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    assert_int_equal(decode_all(d, b, n, &m), PQIFY_LOGS_ERR_INFLATE);
    pqify_fwd_decoder_free(d);
}

/* Our encoder's batches decode back, in every compression, with chunk and size. */
static void test_encoder_round_trip(void **state)
{
    (void)state;
    pqify_fwd_compression cs[] = {PQIFY_FWD_NONE, PQIFY_FWD_GZIP, PQIFY_FWD_ZSTD};
    pqify_fwd_mode modes[] = {PQIFY_FWD_MODE_PACKED, PQIFY_FWD_MODE_COMPRESSED,
                              PQIFY_FWD_MODE_COMPRESSED};
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], chunk2[PQIFY_FWD_CHUNK_ID_LEN + 1];
    assert_int_equal(pqify_fwd_chunk_id(chunk), 0);
    assert_int_equal(pqify_fwd_chunk_id(chunk2), 0);
    assert_int_equal(strlen(chunk), 24);
    assert_string_not_equal(chunk, chunk2);
    for (size_t c = 0; c < 3; c++) {
        pqify_fwd_batch bt;
        msgpack_sbuffer out;
        pqify_fwd_batch_init(&bt);
        msgpack_sbuffer_init(&out);
        for (int i = 0; i < 300; i++) {
            uint8_t rec[32];
            /* {"seq": i} as raw msgpack: 81 a3 's' 'e' 'q' cd hi lo */
            size_t rl = unhex("81a3736571cd", rec);
            rec[rl++] = (uint8_t)(i >> 8);
            rec[rl++] = (uint8_t)i;
            assert_int_equal(pqify_fwd_batch_add_raw(&bt, 1700000000 + i, (uint32_t)i, rec, rl), 0);
        }
        assert_int_equal(pqify_fwd_encode_packed(&bt, "s.x", 3, cs[c], chunk, &out), 0);
        pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
        pqify_fwd_msg m;
        assert_int_equal(decode_all(d, (const uint8_t *)out.data, out.size, &m), 1);
        assert_int_equal(m.mode, modes[c]);
        assert_int_equal(m.compression, cs[c]);
        assert_int_equal(m.n_events, 300);
        assert_int_equal(m.size, 300);
        assert_memory_equal(m.chunk.ptr, chunk, 24);
        for (size_t i = 0; i < 300; i++) {
            assert_int_equal(one_event(&m, i)->sec, 1700000000 + (int64_t)i);
            assert_int_equal(one_event(&m, i)->nsec, i);
            assert_int_equal(rec_int(one_event(&m, i), "seq"), (int64_t)i);
        }
        pqify_fwd_decoder_free(d);
        pqify_fwd_batch_free(&bt);
        msgpack_sbuffer_destroy(&out);
    }
}

static void test_batch_rejects_non_map_records(void **state)
{
    (void)state;
    pqify_fwd_batch bt;
    uint8_t arr[] = {0x91, 0x01}, trunc[] = {0x81, 0xa1, 'k'}, two[] = {0x80, 0x80};
    pqify_fwd_batch_init(&bt);
    assert_int_equal(pqify_fwd_batch_add_raw(&bt, 1, 0, arr, sizeof arr), PQIFY_LOGS_ERR_ENTRY);
    assert_int_equal(pqify_fwd_batch_add_raw(&bt, 1, 0, trunc, sizeof trunc), PQIFY_LOGS_ERR_MSGPACK);
    assert_int_equal(pqify_fwd_batch_add_raw(&bt, 1, 0, two, sizeof two), PQIFY_LOGS_ERR_MSGPACK);
    assert_int_equal(bt.n_events, 0);
    assert_int_equal(bt.entries.size, 0);
    pqify_fwd_batch_free(&bt);
}

static int decode_hex_err(pqify_fwd_role role, const char *hex, const pqify_fwd_limits *lim)
{
    uint8_t b[512];
    size_t n = unhex(hex, b);
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(role, lim);
    pqify_fwd_msg m;
    int r = decode_all(d, b, n, &m);
    if (r < 0) /* the first error sticks */
        assert_int_equal(decode_all(d, b, n, &m), PQIFY_LOGS_ERR_FAILED);
    pqify_fwd_decoder_free(d);
    return r;
}

static void test_negative(void **state)
{
    (void)state;
    /* 0xc1 is never used */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "c1", NULL), PQIFY_LOGS_ERR_MSGPACK);
    /* bin32 claiming 4 GiB: refused at its header, before any payload */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174c6ffffffff", NULL),
                     PQIFY_LOGS_ERR_TOO_LARGE);
    /* array32 of 2^32-1 elements with 6 bytes present: no allocation, it waits */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "ddffffffff00", NULL), 0);
    /* 33 nested arrays */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER,
                                    "919191919191919191919191919191919191919191919191919191919191919191",
                                    NULL), PQIFY_LOGS_ERR_TOO_DEEP);
    /* EventTime of type 1, and of 4 bytes */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174d7016553f1000000000580", NULL),
                     PQIFY_LOGS_ERR_TIME);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174d6006553f10080", NULL), PQIFY_LOGS_ERR_TIME);
    /* nanoseconds past 999999999 */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174d7006553f1003b9aca0080", NULL),
                     PQIFY_LOGS_ERR_TIME);
    /* time as a boolean, record as an array; a str second element means PackedForward */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174c380", NULL), PQIFY_LOGS_ERR_TIME);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a174a13180", NULL), PQIFY_LOGS_ERR_ENTRY);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a1740190", NULL), PQIFY_LOGS_ERR_ENTRY);
    /* tag empty, tag not a string; 5 elements */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a00180", NULL), PQIFY_LOGS_ERR_SHAPE);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "930101 80", NULL), PQIFY_LOGS_ERR_SHAPE);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "95a17401800000", NULL), PQIFY_LOGS_ERR_SHAPE);
    /* size option 2 with one entry; size as a string */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a17491920180 81a473697a6502", NULL),
                     PQIFY_LOGS_ERR_SIZE_MISMATCH);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a17491920180 81a473697a65a132", NULL),
                     PQIFY_LOGS_ERR_OPTION);
    /* compressed: "lz4" */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER,
                                    "93a174c4029201 81aa636f6d70726573736564a36c7a34", NULL),
                     PQIFY_LOGS_ERR_COMPRESSION);
    /* gzip that is not gzip */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER,
                                    "93a174c403010203 81aa636f6d70726573736564a4677a6970", NULL),
                     PQIFY_LOGS_ERR_INFLATE);
    /* packed entries cut mid-entry */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "92a174c403920181", NULL), PQIFY_LOGS_ERR_MSGPACK);
    /* packed stream whose entry claims 2^32-1 elements */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "92a174c405ddffffffff", NULL),
                     PQIFY_LOGS_ERR_MSGPACK);
    /* a server never receives HELO; a client never receives events */
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "92a448454c4f81a56e6f6e6365a0", NULL),
                     PQIFY_LOGS_ERR_SHAPE);
    assert_int_equal(decode_hex_err(PQIFY_FWD_CLIENT, "93a1740180", NULL), PQIFY_LOGS_ERR_UNEXPECTED);
    /* limits: one message over max_message, events over max_events */
    pqify_fwd_limits small = {.max_message = 16, .max_events = 2};
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "93a3617070ce6553f10083a16101a16202a16303", &small),
                     PQIFY_LOGS_ERR_TOO_LARGE);
    assert_int_equal(decode_hex_err(PQIFY_FWD_SERVER, "92a174 93 920180 920180 920180", &small),
                     PQIFY_LOGS_ERR_TOO_LARGE);
}

/* 1 MiB of zeros gzipped is ~1 KiB: past max_decompressed it is refused. */
static void test_decompression_bomb(void **state)
{
    (void)state;
    pqify_fwd_batch bt;
    msgpack_sbuffer out;
    uint8_t rec[8 + 65536];
    size_t rl = 0;
    pqify_fwd_batch_init(&bt);
    msgpack_sbuffer_init(&out);
    rec[rl++] = 0x81;
    rec[rl++] = 0xa1;
    rec[rl++] = 'z';
    rec[rl++] = 0xc5; /* bin16 */
    rec[rl++] = 0xff;
    rec[rl++] = 0xff;
    memset(rec + rl, 0, 65535);
    rl += 65535;
    for (int i = 0; i < 16; i++)
        assert_int_equal(pqify_fwd_batch_add_raw(&bt, 1, 0, rec, rl), 0);
    for (int c = PQIFY_FWD_GZIP; c <= PQIFY_FWD_ZSTD; c++) {
        out.size = 0;
        assert_int_equal(pqify_fwd_encode_packed(&bt, "t", 1, (pqify_fwd_compression)c, NULL, &out), 0);
        assert_true(out.size < 8192);
        pqify_fwd_limits lim = {.max_message = 65536, .max_decompressed = 512 * 1024};
        pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, &lim);
        pqify_fwd_msg m;
        assert_int_equal(decode_all(d, (const uint8_t *)out.data, out.size, &m), PQIFY_LOGS_ERR_BOMB);
        pqify_fwd_decoder_free(d);
        lim.max_decompressed = 2 << 20;
        d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, &lim);
        assert_int_equal(decode_all(d, (const uint8_t *)out.data, out.size, &m), 1);
        assert_int_equal(m.n_events, 16);
        pqify_fwd_decoder_free(d);
    }
    pqify_fwd_batch_free(&bt);
    msgpack_sbuffer_destroy(&out);
}

/* SHA-512(salt ‖ hostname ‖ nonce ‖ key) from Python's hashlib for salt1/host-a/00..0f/secret. */
static const char *DIGEST =
    "ea47f392b705bb71df4152dcad32dbaff395faa4083060beea26d13b5a0110f8e1eb78f463c3366459f73"
    "2235d527836541288876c4dc798ddff9b32651a113b";

static pqify_fwd_bytes B(const void *p, size_t n)
{
    pqify_fwd_bytes b = {p, n};
    return b;
}

static void test_handshake(void **state)
{
    (void)state;
    uint8_t nonce[16];
    char hex[129];
    for (int i = 0; i < 16; i++)
        nonce[i] = (uint8_t)i;
    assert_int_equal(pqify_fwd_shared_key_digest(B("salt1", 5), B("host-a", 6), B(nonce, 16),
                                                 B("secret", 6), hex), 0);
    assert_string_equal(hex, DIGEST);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pqify_fwd_decoder *cli = pqify_fwd_decoder_new(PQIFY_FWD_CLIENT, NULL);
    pqify_fwd_decoder *srv = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    pqify_fwd_msg helo, ping, pong;

    assert_int_equal(pqify_fwd_encode_helo(nonce, B(NULL, 0), 1, &sb), 0);
    assert_int_equal(decode_all(cli, (const uint8_t *)sb.data, sb.size, &helo), 1);
    assert_int_equal(helo.kind, PQIFY_FWD_HELO);
    assert_int_equal(helo.nonce.len, 16);
    assert_true(helo.keepalive);

    sb.size = 0;
    assert_int_equal(pqify_fwd_encode_ping("host-a", B("salt1", 5), helo.nonce, B("secret", 6),
                                           NULL, NULL, B(NULL, 0), &sb), 0);
    assert_int_equal(decode_all(srv, (const uint8_t *)sb.data, sb.size, &ping), 1);
    assert_int_equal(ping.kind, PQIFY_FWD_PING);
    assert_int_equal(ping.digest.len, 128);
    assert_memory_equal(ping.digest.ptr, DIGEST, 128);
    assert_int_equal(pqify_fwd_check_ping(&ping, "server-b", B(nonce, 16), B("secret", 6),
                                          B(NULL, 0), NULL), 0);
    assert_int_equal(pqify_fwd_check_ping(&ping, "server-b", B(nonce, 16), B("Secret", 6),
                                          B(NULL, 0), NULL), PQIFY_LOGS_ERR_AUTH);
    assert_int_equal(pqify_fwd_check_ping(&ping, "host-a", B(nonce, 16), B("secret", 6),
                                          B(NULL, 0), NULL), PQIFY_LOGS_ERR_SAME_HOST);

    sb.size = 0;
    assert_int_equal(pqify_fwd_encode_pong(1, "", "server-b", ping.salt, B(nonce, 16),
                                           B("secret", 6), &sb), 0);
    assert_int_equal(decode_all(cli, (const uint8_t *)sb.data, sb.size, &pong), 1);
    assert_int_equal(pong.kind, PQIFY_FWD_PONG);
    assert_int_equal(pqify_fwd_check_pong(&pong, "host-a", B("salt1", 5), B(nonce, 16),
                                          B("secret", 6)), 0);
    assert_int_equal(pqify_fwd_check_pong(&pong, "host-a", B("salt2", 5), B(nonce, 16),
                                          B("secret", 6)), PQIFY_LOGS_ERR_AUTH);
    sb.size = 0;
    assert_int_equal(pqify_fwd_encode_pong(0, "shared key mismatch", "server-b", ping.salt,
                                           B(nonce, 16), B("secret", 6), &sb), 0);
    assert_int_equal(decode_all(cli, (const uint8_t *)sb.data, sb.size, &pong), 1);
    assert_int_equal(pqify_fwd_check_pong(&pong, "host-a", B("salt1", 5), B(nonce, 16),
                                          B("secret", 6)), PQIFY_LOGS_ERR_AUTH_REFUSED);

    /* user authentication: sha512_hex(auth_salt + username + password) */
    sb.size = 0;
    const char *users[] = {"alice", "pw1", "bob", "pw2", NULL};
    assert_int_equal(pqify_fwd_encode_ping("host-a", B("salt1", 5), B(nonce, 16), B("secret", 6),
                                           "bob", "pw2", B("as", 2), &sb), 0);
    pqify_fwd_decoder *srv2 = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    assert_int_equal(decode_all(srv2, (const uint8_t *)sb.data, sb.size, &ping), 1);
    assert_int_equal(pqify_fwd_check_ping(&ping, "s", B(nonce, 16), B("secret", 6), B("as", 2), users), 0);
    const char *wrong[] = {"bob", "pw1", NULL};
    assert_int_equal(pqify_fwd_check_ping(&ping, "s", B(nonce, 16), B("secret", 6), B("as", 2), wrong),
                     PQIFY_LOGS_ERR_AUTH);

    /* the ack reply */
    sb.size = 0;
    assert_int_equal(pqify_fwd_encode_ack((const uint8_t *)"abc", 3, &sb), 0);
    uint8_t want[16];
    size_t wl = unhex("81a361636ba3616263", want);
    assert_int_equal(sb.size, wl);
    assert_memory_equal(sb.data, want, wl);
    pqify_fwd_msg ack;
    assert_int_equal(decode_all(cli, (const uint8_t *)sb.data, sb.size, &ack), 1);
    assert_int_equal(ack.kind, PQIFY_FWD_ACK);
    assert_memory_equal(ack.chunk.ptr, "abc", 3);

    pqify_fwd_decoder_free(cli);
    pqify_fwd_decoder_free(srv);
    pqify_fwd_decoder_free(srv2);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_mode_integer_time),
        cmocka_unit_test(test_forward_mode_event_time_in_every_split),
        cmocka_unit_test(test_back_to_back_and_heartbeat),
        cmocka_unit_test(test_compressed_gzip_two_members),
        cmocka_unit_test(test_encoder_round_trip),
        cmocka_unit_test(test_batch_rejects_non_map_records),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_decompression_bomb),
        cmocka_unit_test(test_handshake),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
