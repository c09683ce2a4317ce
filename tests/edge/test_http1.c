/* The edge's HTTP/1.1 request parser (src/edge/http1.c): what it hands on and what it
 * refuses, with the status. The requests are written out by hand (RFC 9112 forms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

typedef struct seen {
    int heads, ends;
    char method[16], url[256], host[128];
    char body[4096];
    size_t body_len;
    int chunked, has_body, keep_alive, expect;
    int refuse_with;   /* what on_head answers */
} seen;

static int on_head(void *ctx, edge_h1 *h)
{
    seen *s = ctx;
    s->heads++;
    snprintf(s->method, sizeof s->method, "%s", edge_h1_method(h));
    snprintf(s->url, sizeof s->url, "%s", edge_h1_str(h, h->url));
    const char *host = edge_h1_host(h);
    snprintf(s->host, sizeof s->host, "%s", host ? host : "(none)");
    s->chunked = edge_h1_chunked(h);
    s->has_body = edge_h1_has_body(h);
    s->keep_alive = edge_h1_keep_alive(h);
    s->expect = h->expect_continue;
    return s->refuse_with;
}

static void on_body(void *ctx, const char *d, size_t n)
{
    seen *s = ctx;
    assert_true(s->body_len + n <= sizeof s->body);
    memcpy(s->body + s->body_len, d, n);
    s->body_len += n;
}

static void on_end(void *ctx)
{
    ((seen *)ctx)->ends++;
}

static const edge_h1_cbs cbs = {on_head, on_body, on_end};

/* Feed text in pieces of step bytes (0 = whole), going on past each request's end as a
 * connection does. Returns the first refusal or 0. */
static int feed(seen *s, size_t max_head, uint64_t max_body, const char *text, size_t step)
{
    edge_h1 h;
    assert_int_equal(edge_h1_init(&h, max_head, max_body, &cbs, s), 0);
    size_t len = strlen(text), off = 0;
    int st = 0;
    while (off < len && st == 0) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        size_t pos = 0;
        while (pos < n && st == 0) {
            size_t used = 0;
            st = edge_h1_feed(&h, text + off + pos, n - pos, &used);
            pos += used;
            if (h.paused)
                edge_h1_next(&h);
            else if (used == 0)
                break;
        }
        off += n;
    }
    edge_h1_free(&h);
    return st;
}

static void test_get_every_split(void **state)
{
    (void)state;
    const char *req = "GET /a/b?c=d HTTP/1.1\r\nHost: app.example.com\r\nAccept: */*\r\n"
                      "X-Empty:\r\nUser-Agent: t\r\n\r\n";
    for (size_t step = 0; step <= 9; step++) {
        seen s = {0};
        assert_int_equal(feed(&s, 4096, 1000, req, step), 0);
        assert_int_equal(s.heads, 1);
        assert_int_equal(s.ends, 1);
        assert_string_equal(s.method, "GET");
        assert_string_equal(s.url, "/a/b?c=d");
        assert_string_equal(s.host, "app.example.com");
        assert_int_equal(s.has_body, 0);
        assert_int_equal(s.keep_alive, 1);
    }
}

static void test_bodies(void **state)
{
    (void)state;
    for (size_t step = 0; step <= 5; step++) {
        seen s = {0};
        assert_int_equal(feed(&s, 4096, 1000,
                              "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world", step), 0);
        assert_int_equal(s.body_len, 11);
        assert_memory_equal(s.body, "hello world", 11);
        assert_int_equal(s.chunked, 0);
        assert_int_equal(s.has_body, 1);

        seen c = {0};
        /* RFC 9112 §7.1: chunk sizes in hex, an extension, a trailer field */
        assert_int_equal(feed(&c, 4096, 1000,
                              "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                              "Expect: 100-continue\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\n"
                              "T: 1\r\n\r\n", step), 0);
        assert_int_equal(c.body_len, 11);
        assert_memory_equal(c.body, "hello world", 11);
        assert_int_equal(c.chunked, 1);
        assert_int_equal(c.expect, 1);
        assert_int_equal(c.ends, 1);
    }
}

static void test_pipelined_and_keep_alive(void **state)
{
    (void)state;
    seen s = {0};
    assert_int_equal(feed(&s, 4096, 1000,
                          "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n"
                          "Connection: close\r\n\r\n", 0), 0);
    assert_int_equal(s.heads, 2);
    assert_int_equal(s.ends, 2);
    assert_string_equal(s.url, "/2");
    assert_int_equal(s.keep_alive, 0);
    seen o = {0};
    assert_int_equal(feed(&o, 4096, 1000, "GET / HTTP/1.0\r\n\r\n", 0), 0);
    assert_string_equal(o.host, "(none)");   /* HTTP/1.0 may omit Host */
    assert_int_equal(o.keep_alive, 0);
}

static void refused(const char *req, int status)
{
    for (size_t step = 0; step <= 3; step++) {
        seen s = {0};
        int st = feed(&s, 1024, 100, req, step);
        if (st != status)
            fail_msg("step %zu: %d, want %d for %s", step, st, status, req);
        assert_int_equal(s.ends, 0);
    }
}

static void test_smuggling_refused(void **state)
{
    (void)state;
    /* RFC 9112 §6.1, §6.3 */
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nxx", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400);
}

static void test_malformed_refused(void **state)
{
    (void)state;
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n\n0\r\n\r\n", 400);
    refused("GET / HTTP/1.1\r\n\r\n", 400);                                  /* no Host */
    refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);           /* two */
    refused("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400);
    refused("GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505);
    refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    refused("G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    refused("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 400);   /* test_upgrade.c: websocket */
    refused("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 400);
}

static void test_limits(void **state)
{
    (void)state;
    char big[2048];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: h\r\nX: %01500d\r\n\r\n", 0);
    refused(big, 431);   /* head over 1024 */
    char many[8192] = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < EDGE_H1_MAX_HEADERS + 1; i++)
        strcat(many, "a:\r\n");
    strcat(many, "\r\n");
    seen s = {0};
    assert_int_equal(feed(&s, 8192, 100, many, 0), 431);   /* too many fields */
    refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n", 413);
    seen c = {0};
    /* chunked: refused when the count passes 100, not before */
    assert_int_equal(feed(&c, 1024, 100, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                                         "64\r\n" "0123456789012345678901234567890123456789"
                                         "0123456789012345678901234567890123456789"
                                         "01234567890123456789\r\n1\r\nx\r\n0\r\n\r\n", 0), 413);
    assert_int_equal(c.body_len, 100);
}

static void test_on_head_refusal_and_eof(void **state)
{
    (void)state;
    seen s = {.refuse_with = 404};
    assert_int_equal(feed(&s, 1024, 100, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0), 404);
    edge_h1 h;
    seen t = {0};
    assert_int_equal(edge_h1_init(&h, 1024, 100, &cbs, &t), 0);
    size_t used;
    assert_int_equal(edge_h1_feed(&h, "GET / HT", 8, &used), 0);
    assert_int_equal(edge_h1_in_request(&h), 1);
    assert_int_equal(edge_h1_eof(&h), 400);
    edge_h1_free(&h);
}

static void test_hop_by_hop(void **state)
{
    (void)state;
    assert_true(edge_hop_by_hop("Connection", 10));
    assert_true(edge_hop_by_hop("TRANSFER-ENCODING", 17));
    assert_true(edge_hop_by_hop("keep-alive", 10));
    assert_true(edge_hop_by_hop("Upgrade", 7));
    assert_false(edge_hop_by_hop("Content-Length", 14));
    assert_false(edge_hop_by_hop("Connectio", 9));
    assert_false(edge_hop_by_hop("Connections", 11));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_every_split),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_pipelined_and_keep_alive),
        cmocka_unit_test(test_smuggling_refused),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_on_head_refusal_and_eof),
        cmocka_unit_test(test_hop_by_hop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
