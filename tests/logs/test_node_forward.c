/*
 * Interop with the real peer, @fluent-org/logger 1.0 under Node 24, over plain TCP on
 * loopback (TLS comes with the chassis):
 *  - Node's FluentClient sends 50 events in each mode it has (Message with integer and
 *    EventTime times, Forward, PackedForward, CompressedPackedForward), asking for acks,
 *    once behind the shared-key handshake; our decoder must find exactly those events,
 *    in order, and our acks must satisfy the client (it prints "acked 50").
 *  - our encoder's PackedForward and gzip CompressedPackedForward batches go to Node's
 *    FluentServer (also once with the shared key); every chunk must be acked and every
 *    event printed back by the server, checked one by one.
 *  - zstd, which FluentServer lacks, and the others are decoded by @msgpack/msgpack with
 *    Node's zlib (zstdDecompressSync), event by event.
 * With PQIFY_FWD_CAPTURE_DIR set, Node's bytes are saved there (the fuzz seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>

#include <cmocka.h>
#include <openssl/rand.h>

#include "logs/logs_test_util.h"
#include "pqify/logs.h"

#define N_EVENTS 50
#define TIMEOUT_S 30.0

static pqify_fwd_bytes B(const void *p, size_t n)
{
    pqify_fwd_bytes b = {p, n};
    return b;
}

static int rec_field(const msgpack_object *r, const char *key, const msgpack_object **v)
{
    for (uint32_t i = 0; i < r->via.map.size; i++) {
        const msgpack_object *k = &r->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            *v = &r->via.map.ptr[i].val;
            return 1;
        }
    }
    return 0;
}

static void check_node_event(const pqify_fwd_event *e, int64_t seq, int event_time)
{
    const msgpack_object *v = NULL;
    char want[32];
    assert_true(rec_field(e->record, "seq", &v));
    assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal((int64_t)v->via.u64, seq);
    assert_true(rec_field(e->record, "msg", &v));
    snprintf(want, sizeof want, "m-%" PRId64, seq);
    assert_int_equal(v->type, MSGPACK_OBJECT_STR);
    assert_int_equal(v->via.str.size, strlen(want));
    assert_memory_equal(v->via.str.ptr, want, strlen(want));
    assert_int_equal(e->sec, 1700000000 + seq);
    assert_int_equal(e->event_time, event_time);
    assert_int_equal(e->nsec, event_time ? (uint32_t)(seq * 1000) : 0);
}

static FILE *capture_file(const char *name)
{
    const char *dir = getenv("PQIFY_FWD_CAPTURE_DIR");
    char path[4096];
    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return fopen(path, "wb");
}

/* Node's client sends; we are the server. */
static void node_client_to_us(const char *mode, pqify_fwd_mode want_mode, int event_time,
                              const char *key)
{
    int port, lfd = listen_loopback(&port), fd;
    char ports[16], line[256], cap_name[64];
    peer p = {0};
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, NULL);
    msgpack_sbuffer out;
    uint8_t nonce[16], buf[65536];
    int64_t next = 0;
    int authed = key == NULL, chunks = 0;
    size_t keylen = key ? strlen(key) : 0;
    struct pollfd pf;
    FILE *cap;

    assert_true(lfd >= 0);
    msgpack_sbuffer_init(&out);
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(cap_name, sizeof cap_name, "node_%s%s.bin", mode, key ? "_key" : "");
    cap = capture_file(cap_name);
    const char *args[] = {"client", ports, mode, "50", key, NULL};
    assert_int_equal(peer_start(&p, args), 0);
    pf.fd = lfd;
    pf.events = POLLIN;
    assert_int_equal(poll(&pf, 1, (int)(TIMEOUT_S * 1000)), 1);
    fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    if (key) {
        assert_int_equal(RAND_bytes(nonce, sizeof nonce), 1);
        assert_int_equal(pqify_fwd_encode_helo(nonce, B(NULL, 0), 1, &out), 0);
        assert_int_equal(write_all_fd(fd, out.data, out.size), 0);
    }
    for (;;) {
        ssize_t r = read_timeout(fd, buf, sizeof buf, TIMEOUT_S);
        assert_true(r >= 0);
        if (r == 0)
            break;
        if (cap)
            fwrite(buf, 1, (size_t)r, cap);
        const uint8_t *in = buf;
        size_t len = (size_t)r;
        pqify_fwd_msg m;
        int k;
        while ((k = pqify_fwd_decode(d, &in, &len, &m)) == 1) {
            out.size = 0;
            if (m.kind == PQIFY_FWD_PING) {
                assert_false(authed);
                assert_int_equal(pqify_fwd_check_ping(&m, "pqify-test", B(nonce, 16),
                                                      B(key, keylen), B(NULL, 0), NULL), 0);
                assert_int_equal(pqify_fwd_encode_pong(1, "", "pqify-test", m.salt, B(nonce, 16),
                                                       B(key, keylen), &out), 0);
                authed = 1;
            } else {
                assert_true(authed);
                assert_int_equal(m.kind, PQIFY_FWD_EVENTS);
                assert_int_equal(m.mode, want_mode);
                assert_int_equal(m.tag.len, 10);
                assert_memory_equal(m.tag.ptr, "pqify.test", 10);
                for (size_t i = 0; i < m.n_events; i++)
                    check_node_event(&m.events[i], next++, event_time);
                assert_non_null(m.chunk.ptr); /* the client asked for acks */
                assert_int_equal(pqify_fwd_encode_ack(m.chunk.ptr, m.chunk.len, &out), 0);
                chunks++;
            }
            assert_int_equal(write_all_fd(fd, out.data, out.size), 0);
        }
        assert_int_equal(k, 0);
    }
    assert_int_equal(next, N_EVENTS);
    assert_true(chunks >= 5); /* the script awaits each batch of 10 */
    assert_int_equal(peer_line(&p, line, sizeof line, TIMEOUT_S), 1);
    assert_string_equal(line, "acked 50");
    assert_int_equal(peer_wait(&p, TIMEOUT_S), 0);
    if (cap)
        fclose(cap);
    close(fd);
    close(lfd);
    pqify_fwd_decoder_free(d);
    msgpack_sbuffer_destroy(&out);
}

static void test_node_message_int(void **s) { (void)s; node_client_to_us("Message-int", PQIFY_FWD_MODE_MESSAGE, 0, NULL); }
static void test_node_message(void **s) { (void)s; node_client_to_us("Message", PQIFY_FWD_MODE_MESSAGE, 1, NULL); }
static void test_node_forward(void **s) { (void)s; node_client_to_us("Forward", PQIFY_FWD_MODE_FORWARD, 1, NULL); }
static void test_node_packed(void **s) { (void)s; node_client_to_us("PackedForward", PQIFY_FWD_MODE_PACKED, 1, NULL); }
static void test_node_compressed(void **s) { (void)s; node_client_to_us("CompressedPackedForward", PQIFY_FWD_MODE_COMPRESSED, 1, NULL); }
static void test_node_packed_shared_key(void **s) { (void)s; node_client_to_us("PackedForward", PQIFY_FWD_MODE_PACKED, 1, "k3y-shared"); }

/* A batch of n events from seq first: {"seq": i, "msg": "m-<i>"}, EventTime(1.7e9+i, 7*i). */
static void make_batch(pqify_fwd_batch *bt, int first, int n)
{
    msgpack_sbuffer rec;
    msgpack_packer pk;
    msgpack_sbuffer_init(&rec);
    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    for (int i = first; i < first + n; i++) {
        char msg[32];
        int ml = snprintf(msg, sizeof msg, "m-%d", i);
        rec.size = 0;
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "seq", 3);
        msgpack_pack_int(&pk, i);
        msgpack_pack_str_with_body(&pk, "msg", 3);
        msgpack_pack_str_with_body(&pk, msg, (size_t)ml);
        assert_int_equal(pqify_fwd_batch_add_raw(bt, 1700000000 + i, (uint32_t)(7 * i),
                                                 (const uint8_t *)rec.data, rec.size), 0);
    }
    msgpack_sbuffer_destroy(&rec);
}

static void check_node_line(const char *line, const char *tag, int seq)
{
    char want[256];
    snprintf(want, sizeof want, "{\"tag\":\"%s\",\"sec\":%d,\"nsec\":%d,\"record\":{\"seq\":%d,\"msg\":\"m-%d\"}",
             tag, 1700000000 + seq, 7 * seq, seq, seq);
    assert_memory_equal(line, want, strlen(want));
}

static FILE *g_server_cap;

/* Reads from fd until the client decoder yields one message. */
static void read_msg(int fd, pqify_fwd_decoder *d, pqify_fwd_msg *m)
{
    static uint8_t buf[4096];
    static size_t have = 0, at = 0;
    for (;;) {
        const uint8_t *in = buf + at;
        size_t len = have - at;
        int r = pqify_fwd_decode(d, &in, &len, m);
        assert_true(r >= 0);
        at = have - len;
        if (r == 1)
            return;
        ssize_t n = read_timeout(fd, buf, sizeof buf, TIMEOUT_S);
        assert_true(n > 0);
        if (g_server_cap)
            fwrite(buf, 1, (size_t)n, g_server_cap);
        have = (size_t)n;
        at = 0;
    }
}

static void us_to_node_server(const char *key)
{
    peer p = {0};
    char line[512];
    int port, fd;
    const char *args[] = {"server", key, NULL};
    pqify_fwd_decoder *d = pqify_fwd_decoder_new(PQIFY_FWD_CLIENT, NULL);
    msgpack_sbuffer out;
    pqify_fwd_msg m;
    size_t keylen = key ? strlen(key) : 0;

    msgpack_sbuffer_init(&out);
    g_server_cap = capture_file(key ? "node_server_key.bin" : "node_server.bin");
    assert_int_equal(peer_start(&p, args), 0);
    assert_int_equal(peer_line(&p, line, sizeof line, TIMEOUT_S), 1);
    assert_int_equal(sscanf(line, "listening on 127.0.0.1:%d", &port), 1);
    fd = connect_loopback(port);
    assert_true(fd >= 0);
    if (key) {
        uint8_t nonce[16];
        read_msg(fd, d, &m);
        assert_int_equal(m.kind, PQIFY_FWD_HELO);
        assert_int_equal(m.nonce.len, 16);
        memcpy(nonce, m.nonce.ptr, 16);
        assert_int_equal(pqify_fwd_encode_ping("pqify-fwd", B("s4lt", 4), B(nonce, 16),
                                               B(key, keylen), NULL, NULL, B(NULL, 0), &out), 0);
        assert_int_equal(write_all_fd(fd, out.data, out.size), 0);
        read_msg(fd, d, &m);
        assert_int_equal(pqify_fwd_check_pong(&m, "pqify-fwd", B("s4lt", 4), B(nonce, 16),
                                              B(key, keylen)), 0);
    }
    for (int b = 0; b < 5; b++) {
        pqify_fwd_batch bt;
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
        pqify_fwd_batch_init(&bt);
        make_batch(&bt, b * 20, 20);
        assert_int_equal(pqify_fwd_chunk_id(chunk), 0);
        out.size = 0;
        assert_int_equal(pqify_fwd_encode_packed(&bt, "pqify.fwd", 9,
                                                 b % 2 ? PQIFY_FWD_GZIP : PQIFY_FWD_NONE, chunk, &out), 0);
        assert_int_equal(write_all_fd(fd, out.data, out.size), 0);
        read_msg(fd, d, &m);
        assert_int_equal(m.kind, PQIFY_FWD_ACK);
        assert_int_equal(m.chunk.len, 24);
        assert_memory_equal(m.chunk.ptr, chunk, 24);
        pqify_fwd_batch_free(&bt);
    }
    for (int i = 0; i < 100; i++) {
        assert_int_equal(peer_line(&p, line, sizeof line, TIMEOUT_S), 1);
        check_node_line(line, "pqify.fwd", i);
    }
    close(fd);
    assert_int_equal(peer_wait(&p, TIMEOUT_S), 0);
    if (g_server_cap)
        fclose(g_server_cap);
    g_server_cap = NULL;
    pqify_fwd_decoder_free(d);
    msgpack_sbuffer_destroy(&out);
}

static void test_us_to_node_server(void **s) { (void)s; us_to_node_server(NULL); }
static void test_us_to_node_server_shared_key(void **s) { (void)s; us_to_node_server("k3y-shared"); }

/* Node decodes our batches in every compression, zstd included. */
static void test_node_decodes_our_batches(void **s)
{
    (void)s;
    char path[] = "/tmp/pqify_fwd_XXXXXX", line[512], chunks[3][PQIFY_FWD_CHUNK_ID_LEN + 1];
    static const char *names[] = {"none", "gzip", "zstd"};
    int fd = mkstemp(path);
    msgpack_sbuffer out;
    peer p = {0};

    assert_true(fd >= 0);
    msgpack_sbuffer_init(&out);
    for (int c = 0; c < 3; c++) {
        pqify_fwd_batch bt;
        pqify_fwd_batch_init(&bt);
        make_batch(&bt, c * 30, 30);
        assert_int_equal(pqify_fwd_chunk_id(chunks[c]), 0);
        assert_int_equal(pqify_fwd_encode_packed(&bt, "z.t", 3, (pqify_fwd_compression)c, chunks[c], &out), 0);
        pqify_fwd_batch_free(&bt);
    }
    assert_int_equal(write_all_fd(fd, out.data, out.size), 0);
    close(fd);
    FILE *cap = capture_file("pqify_batches.bin");
    if (cap) {
        fwrite(out.data, 1, out.size, cap);
        fclose(cap);
    }
    const char *args[] = {"decode", path, NULL};
    assert_int_equal(peer_start(&p, args), 0);
    for (int i = 0; i < 90; i++) {
        char tail[256];
        assert_int_equal(peer_line(&p, line, sizeof line, TIMEOUT_S), 1);
        check_node_line(line, "z.t", i);
        snprintf(tail, sizeof tail, "},\"chunk\":\"%s\",\"size\":30,\"compressed\":\"%s\"}",
                 chunks[i / 30], names[i / 30]);
        assert_non_null(strstr(line, tail));
    }
    assert_int_equal(peer_line(&p, line, sizeof line, TIMEOUT_S), 0);
    assert_int_equal(peer_wait(&p, TIMEOUT_S), 0);
    unlink(path);
    msgpack_sbuffer_destroy(&out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (find_node() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_message_int),
        cmocka_unit_test(test_node_message),
        cmocka_unit_test(test_node_forward),
        cmocka_unit_test(test_node_packed),
        cmocka_unit_test(test_node_compressed),
        cmocka_unit_test(test_node_packed_shared_key),
        cmocka_unit_test(test_us_to_node_server),
        cmocka_unit_test(test_us_to_node_server_shared_key),
        cmocka_unit_test(test_node_decodes_our_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
