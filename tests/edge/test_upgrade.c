/* The edge's HTTP/1.1 parser (src/edge/http1.c) on protocol switches: a WebSocket
 * opening handshake (RFC 6455 §4.1: a GET without a body, Connection: upgrade,
 * Upgrade: websocket) is handed on as an upgrade and the bytes after its head are left
 * for the caller to relay; every other switch is refused with 400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

typedef struct seen {
    int heads, ends, upgrade;
} seen;

static int on_head(void *ctx, edge_h1 *h)
{
    seen *s = ctx;
    s->heads++;
    s->upgrade = edge_h1_upgrade(h);
    return 0;
}

static void on_body(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d, (void)n;
    fail_msg("an upgrade has no HTTP body");
}

static void on_end(void *ctx)
{
    ((seen *)ctx)->ends++;
}

static const edge_h1_cbs cbs = {on_head, on_body, on_end};

/* One feed of text; the status, what was used and what the callbacks saw. */
static int feed_once(const char *text, size_t len, size_t *used, seen *s)
{
    edge_h1 h;
    assert_int_equal(edge_h1_init(&h, 8192, 1 << 20, &cbs, s), 0);
    int st = edge_h1_feed(&h, text, len, used);
    edge_h1_free(&h);
    return st;
}

static void test_websocket_handed_on(void **state)
{
    (void)state;
    static const char head[] = "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                               "Upgrade: WebSocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";
    /* a masked text frame "Hello" (RFC 6455 §5.7) right behind the head */
    static const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    char text[512];
    size_t hl = sizeof head - 1, fl = sizeof frame - 1, used = 0;
    memcpy(text, head, hl);
    memcpy(text + hl, frame, fl);
    seen s = {0};
    assert_int_equal(feed_once(text, hl + fl, &used, &s), 0);
    assert_int_equal(s.heads, 1);
    assert_int_equal(s.upgrade, 1);
    assert_int_equal(s.ends, 1);
    assert_int_equal(used, hl);   /* the frame is the caller's to relay */
    /* a plain GET is no upgrade */
    seen p = {0};
    assert_int_equal(feed_once("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, &used, &p), 0);
    assert_int_equal(p.heads, 1);
    assert_int_equal(p.upgrade, 0);
}

static void refused(const char *text)
{
    seen s = {0};
    size_t used;
    int st = feed_once(text, strlen(text), &used, &s);
    if (st != 400 || s.heads != 0)
        fail_msg("got %d (heads %d), want 400 for %s", st, s.heads, text);
}

static void test_other_switches_refused(void **state)
{
    (void)state;
    refused("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    refused("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n");
    refused("POST / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    refused("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc");
    refused("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    refused("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_websocket_handed_on),
        cmocka_unit_test(test_other_switches_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
