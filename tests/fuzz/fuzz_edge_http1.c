/*
 * The edge's request parsing path (src/edge/http1.c, route.c) on arbitrary client
 * bytes, fed in pieces as TCP delivers them and going on past each request as a
 * keep-alive connection does: each head is routed (hostname patterns, path prefixes)
 * and the URL is parsed as an origin would be. Checks: the body handed on never
 * exceeds the limit, a refusal is one of the statuses the edge answers, and after a
 * refusal nothing more is parsed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "route.h"

#define CHECK(c)                                              \
    do {                                                      \
        if (!(c)) {                                           \
            fprintf(stderr, "check failed: %s\n", #c);       \
            abort();                                          \
        }                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY 4096u

static uint64_t body_seen;
static unsigned matched;

static int on_head(void *ctx, edge_h1 *h)
{
    (void)ctx;
    static const char *const patterns[] = {"app.example.com", "*.example.com", "localhost", NULL};
    const char *host = edge_h1_host(h);
    const char *path = edge_h1_str(h, h->url);
    CHECK(strlen(path) == h->url.len || memchr(path, '\0', h->url.len) != NULL);
    for (size_t i = 0; i < 4; i++)
        if (edge_hostname_match(patterns[i], host ? host : "", host ? strlen(host) : 0) &&
            edge_path_match(i == 0 ? "/api/" : NULL, path))
            matched++;
    edge_origin o;
    char err[256];
    (void)edge_origin_parse(path, &o, err, sizeof err);
    (void)edge_hostname_check(host ? host : "", err, sizeof err);
    for (size_t i = 0; i < h->n_hdrs; i++)
        (void)edge_hop_by_hop(edge_h1_str(h, h->name[i]), h->name[i].len);
    return 0;
}

static void on_body(void *ctx, const char *d, size_t n)
{
    (void)ctx, (void)d;
    body_seen += n;
}

static void on_end(void *ctx)
{
    (void)ctx;
    body_seen = 0;
}

static const edge_h1_cbs cbs = {on_head, on_body, on_end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;   /* the first byte picks the piece size */
    data++, size--;
    edge_h1 h;
    if (edge_h1_init(&h, 2048, MAX_BODY, &cbs, NULL) != 0)
        return 0;
    body_seen = 0;
    size_t off = 0;
    int st = 0;
    while (off < size && st == 0) {
        size_t n = size - off < step ? size - off : step;
        size_t pos = 0;
        while (pos < n && st == 0) {
            size_t used = 0;
            st = edge_h1_feed(&h, (const char *)data + off + pos, n - pos, &used);
            CHECK(used <= n - pos);
            CHECK(body_seen <= MAX_BODY);
            pos += used;
            if (h.paused)
                edge_h1_next(&h);
            else if (used == 0)
                break;
        }
        off += n;
    }
    CHECK(st == 0 || st == 400 || st == 413 || st == 431 || st == 505);
    if (st != 0) {
        size_t used = 1;
        CHECK(edge_h1_feed(&h, "GET / HTTP/1.1\r\n", 16, &used) == st && used == 0);
    }
    (void)edge_h1_eof(&h);
    edge_h1_free(&h);
    return 0;
}
