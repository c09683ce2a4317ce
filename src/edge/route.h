/*
 * Routes (pure, fuzzable): an origin URL parsed once, and the first route whose
 * hostname and path prefix match a request. Hostnames compare without case (RFC 9110
 * §4.2.3) and without the port; "*.example.com" stands for exactly one label
 * ("a.example.com", never "example.com" nor "a.b.example.com").
 */
#ifndef PQIFY_EDGE_ROUTE_H
#define PQIFY_EDGE_ROUTE_H

#include <stddef.h>

enum edge_origin_kind { EDGE_ORIGIN_HTTP = 1, EDGE_ORIGIN_HTTPS, EDGE_ORIGIN_UNIX };

typedef struct edge_origin {
    enum edge_origin_kind kind;
    char host[256];      /* http/https: the host (no brackets) */
    char port[8];
    char path[108];      /* unix: the socket's path (sun_path's size) */
    char authority[280]; /* what Via and logs call it: host:port or the socket path */
} edge_origin;

/* "http://HOST[:PORT][/]", "https://HOST[:PORT][/]", "unix:/path". 0, or -1 with err
 * in words ("expected http://HOST:PORT, https://HOST:PORT or unix:/path"). */
int edge_origin_parse(const char *text, edge_origin *o, char *err, size_t cap);

/* A hostname pattern: exact ("app.example.com") or "*.suffix". 0 or -1 (err). */
int edge_hostname_check(const char *pattern, char *err, size_t cap);
/* 1 if host (from Host or :authority, maybe with ":port") matches pattern. NULL
 * pattern matches every host. */
int edge_hostname_match(const char *pattern, const char *host, size_t host_len);
/* 1 if path starts with prefix (NULL prefix: every path). */
int edge_path_match(const char *prefix, const char *path);

#endif
