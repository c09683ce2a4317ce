/*
 * The tunnel's ingress rules (src/tunnel/ingress.c) on arbitrary tunnel.yaml bytes:
 * the settings table loads, the rules compile, and requests are matched. Beyond "no
 * crash, no leak": a failure is one line naming the file; compiled rules end in a
 * catch-all; every match returns a rule and the catch-all for a host and path no
 * other rule can match; every HTTP/HTTPS rule has a host and a port, every status is
 * 100..599. The same bytes as a certificate subject for the hub's tunnel name: a name
 * found is non-empty and fits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqify/tunnel.h"
#include "tunnel/internal.h"

#define CHECK(c)                                              \
    do {                                                      \
        if (!(c)) {                                           \
            fprintf(stderr, "check failed: %s\n", #c);       \
            abort();                                          \
        }                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void subject(const uint8_t *data, size_t size)
{
    char text[4097], name[64];
    size_t n = size < 4096 ? size : 4096;
    memcpy(text, data, n);
    text[n] = '\0';
    if (pqify_tunnel_subject_cn(text, name, sizeof name) == 0)
        CHECK(name[0] != '\0' && strlen(name) < sizeof name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    subject(data, size);
    pqify_tunnel_file f;
    char err[768];
    pqify_config *c = pqify_config_parse(pqify_tunnel_settings, &f, "fuzz.yaml", (const char *)data, size, err,
                                         sizeof err);
    if (c == NULL) {
        CHECK(strncmp(err, "fuzz.yaml", 9) == 0 && strchr(err, '\n') == NULL);
        return 0;
    }
    pqify_ingress *in = pqify_ingress_compile(f.ingress.items, f.ingress.count, "fuzz.yaml", err, sizeof err);
    if (in == NULL) {
        CHECK(strncmp(err, "fuzz.yaml", 9) == 0 && strchr(err, '\n') == NULL);
        pqify_config_free(c);
        return 0;
    }
    size_t n = pqify_ingress_count(in);
    CHECK(n == f.ingress.count && n >= 1);
    const pqify_ingress_rule *last = pqify_ingress_rule_at(in, n - 1);
    CHECK(last->hostname == NULL && last->path == NULL);
    for (size_t i = 0; i < n; i++) {
        const pqify_ingress_rule *r = pqify_ingress_rule_at(in, i);
        CHECK(r->index == i);
        if (r->kind == PQIFY_ORIGIN_HTTP || r->kind == PQIFY_ORIGIN_HTTPS)
            CHECK(r->host != NULL && r->host[0] != '\0' && r->port[0] != '\0');
        else if (r->kind == PQIFY_ORIGIN_STATUS)
            CHECK(r->status >= 100 && r->status <= 599);
        else
            CHECK(r->kind == PQIFY_ORIGIN_UNIX && r->unix_path[0] == '/');
    }
    /* the input's own bytes as a host and a path too */
    static const char *const hosts[] = {"example.com", "a.example.com:443", "[::1]:8080", "", "x."};
    static const char *const paths[] = {"/", "/a/b.png?x", "/ab12", ""};
    for (size_t h = 0; h < 5; h++)
        for (size_t p = 0; p < 4; p++)
            CHECK(pqify_ingress_match(in, hosts[h], strlen(hosts[h]), paths[p], strlen(paths[p])) != NULL);
    size_t half = size / 2;
    CHECK(pqify_ingress_match(in, (const char *)data, half, (const char *)data + half, size - half) != NULL);
    /* a host with a byte no hostname pattern allows: no rule with a hostname matches */
    const pqify_ingress_rule *r = pqify_ingress_match(in, "\x01", 1, "/", 1);
    CHECK(r->hostname == NULL);
    pqify_ingress_free(in);
    pqify_config_free(c);
    return 0;
}
