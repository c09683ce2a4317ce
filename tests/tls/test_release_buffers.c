/*
 * pqify_tls_release_buffers (issue 9): an idle connection gives back its record and
 * post-handshake buffers and gets them again on the next bytes. Data of many sizes,
 * cut in many ways, and KeyUpdates cross release/re-acquire cycles unchanged; a
 * partial record or message held at release time is kept; a failed re-acquire is
 * PQIFY_TLS_ERR_NO_MEMORY and sticky. This program is linked with -Wl,--wrap=malloc
 * so the engine's allocations can be made to fail.
 */
#include <malloc.h>

#include "tls_test.h"

#include "conn.h"

static int fail_mallocs;   /* the next N engine mallocs return NULL */
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    if (fail_mallocs > 0) {
        fail_mallocs--;
        return NULL;
    }
    return __real_malloc(n);
}

static tt_ca ca;
static tt_identity server_id;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "Release CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 30);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tt_identity_free(&server_id);
    tt_ca_free(&ca);
    return 0;
}

static void pair_up(tt_pair *p, pqify_tls_config **s, pqify_tls_config **c)
{
    *s = tt_server_config(&server_id);
    *c = tt_client_config(&ca, "server.test");
    tt_pair_new(p, *c, *s);
    tt_pair_run(p, 1 << 20);
    assert_int_equal(p->client_ret, 0);
    assert_int_equal(p->server_ret, 0);
}

/* The pattern the receiver must see, written independently of the engine. */
static uint8_t pattern(size_t i, unsigned seed)
{
    return (uint8_t)(i * 131u + seed * 17u + (i >> 8));
}

/* a sends len bytes; b receives them chunk bytes per call and releases its buffers
 * (and a its own) after every call, as an idle stream would. */
static void transfer_releasing(pqify_tls_conn *a, pqify_tls_conn *b, size_t len, size_t chunk,
                               unsigned seed)
{
    uint8_t *msg = malloc(len + 1);
    assert_non_null(msg);
    for (size_t i = 0; i < len; i++)
        msg[i] = pattern(i, seed);
    pqify_tls_buf wire, back, plain;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    assert_int_equal(pqify_tls_send(a, &wire, msg, len), 0);
    pqify_tls_release_buffers(a);
    for (size_t off = 0; off < wire.len;) {
        size_t n = wire.len - off < chunk ? wire.len - off : chunk, used = n;
        assert_int_equal(pqify_tls_receive(b, &plain, wire.base + off, &used, &back), 0);
        assert_int_equal(used, n);
        off += used;
        pqify_tls_release_buffers(b);
        /* released exactly when no partial record is held */
        if (b->rec_len == 0)
            assert_null(b->rec);
        else
            assert_non_null(b->rec);
    }
    assert_int_equal(plain.len, len);
    if (len > 0)
        assert_memory_equal(plain.base, msg, len);
    assert_int_equal(back.len, 0);
    assert_int_equal(pqify_tls_error(b), 0);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&plain);
    free(msg);
}

/* a asks b for a KeyUpdate; both sides release after every call. */
static void key_update_releasing(pqify_tls_conn *a, pqify_tls_conn *b, size_t chunk)
{
    pqify_tls_buf wire, back, plain, none;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    pqify_tls_buf_init(&none, NULL, 0);
    pqify_tls_info before, after;
    pqify_tls_get_info(b, &before);
    assert_int_equal(pqify_tls_key_update(a, 1, &wire), 0);
    for (size_t off = 0; off < wire.len;) {
        size_t n = wire.len - off < chunk ? wire.len - off : chunk, used = n;
        assert_int_equal(pqify_tls_receive(b, &plain, wire.base + off, &used, &back), 0);
        off += used;
        pqify_tls_release_buffers(b);
    }
    pqify_tls_get_info(b, &after);
    assert_int_equal(after.key_updates_received, before.key_updates_received + 1);
    assert_int_equal(after.key_updates_sent, before.key_updates_sent + 1);   /* the answer */
    assert_true(back.len > 0);
    pqify_tls_release_buffers(a);
    size_t used = back.len;
    assert_int_equal(pqify_tls_receive(a, &plain, back.base, &used, &none), 0);
    assert_int_equal(used, back.len);
    pqify_tls_release_buffers(a);
    assert_int_equal(plain.len, 0);
    assert_null(a->rec);
    assert_null(a->ph);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_buf_dispose(&none);
}

static void test_many_sizes_and_key_updates(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 5, 100, 1000, 16383, 16384, 16385, 40000, 70001};
    static const size_t chunks[] = {1, 4, 5, 6, 1000, 16389, 1u << 20};
    pqify_tls_config *s, *c;
    tt_pair p;
    pair_up(&p, &s, &c);
    unsigned seed = 0;
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            /* 1-byte chunks of 70 KB are slow for nothing: cap them */
            if (chunks[k] == 1 && sizes[i] > 16385)
                continue;
            transfer_releasing(p.client, p.server, sizes[i], chunks[k], seed++);
            transfer_releasing(p.server, p.client, sizes[i], chunks[k], seed++);
        }
        key_update_releasing(k % 2 ? p.server : p.client, k % 2 ? p.client : p.server, chunks[k]);
        transfer_releasing(p.client, p.server, 3000, chunks[k], seed++);
        transfer_releasing(p.server, p.client, 3000, chunks[k], seed++);
    }
    pqify_tls_info info;
    pqify_tls_get_info(p.client, &info);
    assert_int_equal(info.key_updates_sent + info.key_updates_received,
                     2 * (sizeof chunks / sizeof chunks[0]));
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_partial_record_kept(void **state)
{
    (void)state;
    pqify_tls_config *s, *c;
    tt_pair p;
    pair_up(&p, &s, &c);
    pqify_tls_buf wire, back, plain;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    assert_int_equal(pqify_tls_send(p.client, &wire, "held across a release", 21), 0);
    /* the header and part of the body, then a release */
    for (size_t cut = 1; cut < wire.len; cut += 7) {
        size_t used = cut;
        assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &used, &back), 0);
        assert_int_equal(used, cut);
        pqify_tls_release_buffers(p.server);
        assert_non_null(p.server->rec);
        assert_int_equal(p.server->rec_len, cut);
        used = wire.len - cut;
        assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base + cut, &used, &back), 0);
        assert_int_equal(plain.len, 21);
        assert_memory_equal(plain.base, "held across a release", 21);
        pqify_tls_buf_consume(&plain, plain.len);
        pqify_tls_release_buffers(p.server);
        assert_null(p.server->rec);
        /* the same record again: rewind the sender's key by re-sending */
        pqify_tls_buf_consume(&wire, wire.len);
        assert_int_equal(pqify_tls_send(p.client, &wire, "held across a release", 21), 0);
    }

    /* a KeyUpdate split over two records (§5.1 allows it): the first part sits in the
     * post-handshake buffer, which a release must keep */
    static const uint8_t ku[5] = {TLS_HS_KEY_UPDATE, 0, 0, 1, 0};
    size_t rest = wire.len;   /* the last record sent above, whole */
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &rest, &back), 0);
    assert_int_equal(plain.len, 21);
    pqify_tls_buf_consume(&plain, plain.len);
    pqify_tls_buf_consume(&wire, wire.len);
    assert_int_equal(tls_record_seal(&p.client->wr, TLS_CT_HANDSHAKE, ku, 3, &wire), 0);
    size_t first = wire.len;
    assert_int_equal(tls_record_seal(&p.client->wr, TLS_CT_HANDSHAKE, ku + 3, 2, &wire), 0);
    size_t used = first;
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &used, &back), 0);
    pqify_tls_release_buffers(p.server);
    assert_null(p.server->rec);
    assert_non_null(p.server->ph);
    assert_int_equal(p.server->ph_len, 3);
    used = wire.len - first;
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base + first, &used, &back), 0);
    pqify_tls_release_buffers(p.server);
    assert_null(p.server->ph);
    pqify_tls_info info;
    pqify_tls_get_info(p.server, &info);
    assert_int_equal(info.key_updates_received, 1);
    /* the sender switches after its KeyUpdate (§4.6.3); the server reads the new key */
    assert_int_equal(tls_traffic_update(&p.client->wr, 1), 0);
    transfer_releasing(p.client, p.server, 5000, 333, 9);
    transfer_releasing(p.server, p.client, 5000, 333, 10);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&plain);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

static void test_no_memory_on_reacquire(void **state)
{
    (void)state;
    pqify_tls_config *s, *c;
    tt_pair p;
    pair_up(&p, &s, &c);
    pqify_tls_buf wire, back, plain;
    pqify_tls_buf_init(&wire, NULL, 0);
    pqify_tls_buf_init(&back, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    pqify_tls_release_buffers(p.server);
    assert_null(p.server->rec);
    assert_int_equal(pqify_tls_send(p.client, &wire, "x", 1), 0);
    size_t used = wire.len;
    fail_mallocs = 1;
    int ret = pqify_tls_receive(p.server, &plain, wire.base, &used, &back);
    fail_mallocs = 0;
    assert_int_equal(ret, PQIFY_TLS_ERR_NO_MEMORY);
    assert_int_equal(used, 0);
    /* sticky: later calls report the first error */
    used = wire.len;
    assert_int_equal(pqify_tls_receive(p.server, &plain, wire.base, &used, &back),
                     PQIFY_TLS_ERR_NO_MEMORY);
    assert_int_equal(pqify_tls_send(p.server, &back, "y", 1), PQIFY_TLS_ERR_NO_MEMORY);
    assert_int_equal(pqify_tls_error(p.server), PQIFY_TLS_ERR_NO_MEMORY);
    assert_int_equal(plain.len, 0);
    pqify_tls_buf_dispose(&wire);
    pqify_tls_buf_dispose(&back);
    pqify_tls_buf_dispose(&plain);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

/* The documented sizes, and what the heap really gets back. */
static void test_sizes(void **state)
{
    (void)state;
    size_t hs = pqify_tls_conn_size(PQIFY_TLS_SIZE_HANDSHAKING);
    size_t est = pqify_tls_conn_size(PQIFY_TLS_SIZE_ESTABLISHED);
    size_t idle = pqify_tls_conn_size(PQIFY_TLS_SIZE_IDLE);
    print_message("  handshaking %zu, established %zu, established-idle %zu bytes\n", hs, est, idle);
    assert_true(idle < est && est < hs);
    /* issue 9: an idle established connection in pqify serve within 8 KiB all told */
    assert_true(idle < 4096);
    assert_int_equal(est - idle, (size_t)16645 + 2048);   /* the two buffers, tls.h */
    pqify_tls_config *s, *c;
    tt_pair p;
    pair_up(&p, &s, &c);
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_COUNTED_ELSEWHERE 1   /* ASan keeps its own heap: mallinfo2 sees none of it */
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HEAP_COUNTED_ELSEWHERE 1
#endif
#ifndef HEAP_COUNTED_ELSEWHERE
    /* the client got tickets, so it holds both buffers */
    assert_non_null(p.client->ph);
    struct mallinfo2 m0 = mallinfo2();
    pqify_tls_release_buffers(p.client);
    struct mallinfo2 m1 = mallinfo2();
    print_message("  the heap got %zu bytes back from an idle client\n", m0.uordblks - m1.uordblks);
    assert_true(m0.uordblks - m1.uordblks >= est - idle);
    /* a second release has nothing to give */
    pqify_tls_release_buffers(p.client);
    struct mallinfo2 m2 = mallinfo2();
    assert_int_equal(m2.uordblks, m1.uordblks);
#endif
    pqify_tls_release_buffers(NULL);
    tt_pair_free(&p);
    pqify_tls_config_free(s);
    pqify_tls_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_sizes_and_key_updates),
        cmocka_unit_test(test_partial_record_kept),
        cmocka_unit_test(test_no_memory_on_reacquire),
        cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
