/*
 * The admin endpoint's HTTP handling (src/net/admin.c, admin_http_*) on arbitrary
 * client bytes, fed in chunks as TCP would deliver them, with the production limits
 * and a small registry. Every reply must be a whole HTTP/1.1 response head; after the
 * connection is marked to close nothing more is read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_http.h"

/* checked in every build type (assert would vanish under NDEBUG) */
#define CHECK(c)                                              \
    do {                                                      \
        if (!(c)) {                                           \
            fprintf(stderr, "check failed: %s\n", #c);       \
            abort();                                          \
        }                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pqify_metrics *registry;
static int flip;

static int ready(void *arg, char *reason, size_t cap)
{
    (void)arg;
    if ((flip ^= 1) != 0)
        return 1;
    snprintf(reason, cap, "upstream \"x\" down\x01\xff");
    return 0;
}

/* Every reply in out starts "HTTP/1.1 NNN " and carries its Content-Length. */
static void check_replies(const textbuf *out)
{
    size_t off = 0;
    while (off < out->len) {
        const char *r = out->p + off;
        CHECK(out->len - off >= 13 && memcmp(r, "HTTP/1.1 ", 9) == 0);
        const char *end = strstr(r, "\r\n\r\n");
        CHECK(end != NULL);
        const char *cl = strstr(r, "Content-Length: ");
        CHECK(cl != NULL && cl < end);
        size_t body = (size_t)strtoul(cl + 16, NULL, 10);
        size_t head = (size_t)(end - r) + 4;
        /* HEAD replies carry the length but no body: find the next reply either way */
        if (off + head + body <= out->len && (off + head + body == out->len ||
                                               memcmp(out->p + off + head + body, "HTTP/1.1 ", 9) == 0))
            off += head + body;
        else
            off += head;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (registry == NULL) {
        registry = pqify_metrics_new();
        pqify_tls_metrics tm;
        if (pqify_tls_metrics_init(&tm, registry) != 0)
            abort();
        pqify_tls_info info = {.group = "X25519MLKEM768", .is_pq = 1, .handshake_us = 900};
        pqify_tls_metrics_handshake_info(&tm, &info, 1);
    }
    if (size == 0)
        return 0;
    /* first byte: chunk size; the rest: what the client sends */
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    pqify_admin_options o = {.metrics = registry, .ready = ready, .max_header_bytes = (size_t)1024};
    admin_http_limits(&o);
    admin_http h;
    admin_http_init(&h, &o);
    textbuf out = {0};
    int closing = 0;
    for (size_t off = 0; off < size && !closing; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        closing = admin_http_feed(&h, (const char *)data + off, n, &out, 0);
    }
    if (!closing)
        admin_http_timeout(&h, &out);
    CHECK(!out.failed);
    check_replies(&out);
    /* once closing, a further feed is refused without output */
    size_t before = out.len;
    CHECK(admin_http_feed(&h, "GET / HTTP/1.1\r\n\r\n", 18, &out, 0) == 1);
    CHECK(out.len == before);
    tb_free(&out);
    return 0;
}
