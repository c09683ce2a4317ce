/* Routes: origin URLs and matching (route.h). */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int fail(char *err, size_t cap, const char *text, const char *why)
{
    snprintf(err, cap, "'%s': %s", text, why);
    return -1;
}

static int valid_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == ':' || c == '_';
}

int edge_origin_parse(const char *text, edge_origin *o, char *err, size_t cap)
{
    static const char want[] = "expected http://HOST:PORT, https://HOST:PORT or unix:/path";
    memset(o, 0, sizeof *o);
    const char *rest;
    const char *default_port;
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        size_t n = strlen(path);
        if (n == 0 || path[0] != '/')
            return fail(err, cap, text, "unix: wants an absolute socket path (unix:/run/app.sock)");
        if (n >= sizeof o->path)
            return fail(err, cap, text, "the socket path is longer than 107 bytes");
        o->kind = EDGE_ORIGIN_UNIX;
        memcpy(o->path, path, n + 1);
        snprintf(o->authority, sizeof o->authority, "%s", path);
        return 0;
    }
    if (strncmp(text, "http://", 7) == 0) {
        o->kind = EDGE_ORIGIN_HTTP;
        rest = text + 7;
        default_port = "80";
    } else if (strncmp(text, "https://", 8) == 0) {
        o->kind = EDGE_ORIGIN_HTTPS;
        rest = text + 8;
        default_port = "443";
    } else {
        return fail(err, cap, text, want);
    }
    size_t n = strcspn(rest, "/");
    if (rest[n] == '/' && rest[n + 1] != '\0')
        return fail(err, cap, text, "an origin has no path (the request's path is kept)");
    const char *host = rest, *colon = NULL;
    size_t host_len = n;
    if (n > 0 && rest[0] == '[') {
        const char *close = memchr(rest, ']', n);
        if (close == NULL)
            return fail(err, cap, text, "an IPv6 address needs its closing ']'");
        host = rest + 1;
        host_len = (size_t)(close - host);
        if ((size_t)(close + 1 - rest) < n) {
            if (close[1] != ':')
                return fail(err, cap, text, want);
            colon = close + 1;
        }
    } else {
        colon = memchr(rest, ':', n);
        if (colon != NULL)
            host_len = (size_t)(colon - rest);
    }
    if (host_len == 0 || host_len >= sizeof o->host)
        return fail(err, cap, text, "no host, or a host over 255 bytes");
    for (size_t i = 0; i < host_len; i++)
        if (!valid_host_char(host[i]))
            return fail(err, cap, text, "the host has a character a host cannot have");
    memcpy(o->host, host, host_len);
    if (colon != NULL) {
        size_t pl = (size_t)(rest + n - colon - 1);
        if (pl == 0 || pl > 5)
            return fail(err, cap, text, "the port must be a number from 1 to 65535");
        unsigned long v = 0;
        for (size_t i = 0; i < pl; i++) {
            char c = colon[1 + i];
            if (c < '0' || c > '9')
                return fail(err, cap, text, "the port must be a number from 1 to 65535");
            v = v * 10 + (unsigned long)(c - '0');
        }
        if (v == 0 || v > 65535)
            return fail(err, cap, text, "the port must be a number from 1 to 65535");
        snprintf(o->port, sizeof o->port, "%lu", v);
    } else {
        snprintf(o->port, sizeof o->port, "%s", default_port);
    }
    snprintf(o->authority, sizeof o->authority, strchr(o->host, ':') ? "[%s]:%s" : "%s:%s",
             o->host, o->port);
    return 0;
}

int edge_hostname_check(const char *pattern, char *err, size_t cap)
{
    const char *p = pattern;
    if (p[0] == '*') {
        if (p[1] != '.' || p[2] == '\0') {
            snprintf(err, cap, "'%s': a wildcard stands for the leftmost label only (*.example.com)",
                     pattern);
            return -1;
        }
        p += 2;
    }
    if (*p == '\0' || strlen(p) > 253) {
        snprintf(err, cap, "'%s': not a hostname", pattern);
        return -1;
    }
    for (; *p; p++) {
        if (!valid_host_char(*p) || *p == ':' || *p == '*') {
            snprintf(err, cap, "'%s': not a hostname (no port, no '*' but as the first label)",
                     pattern);
            return -1;
        }
    }
    return 0;
}

/* The host without its port: "a.b:443" -> "a.b", "[::1]:443" -> "::1"-ish span. */
static size_t host_only(const char *host, size_t n, const char **start)
{
    *start = host;
    if (n > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', n);
        if (close != NULL) {
            *start = host + 1;
            return (size_t)(close - host - 1);
        }
        return n;
    }
    const char *colon = memchr(host, ':', n);
    return colon ? (size_t)(colon - host) : n;
}

static int eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int edge_hostname_match(const char *pattern, const char *host, size_t host_len)
{
    if (pattern == NULL)
        return 1;
    const char *h;
    size_t n = host_only(host, host_len, &h);
    if (n > 0 && h[n - 1] == '.')
        n--;   /* the root label's dot (RFC 1034 §3.1) names the same host */
    size_t pl = strlen(pattern);
    if (pattern[0] != '*')
        return pl == n && eq_nocase(pattern, h, n);
    /* "*.suffix": one non-empty label, then ".suffix". */
    size_t sl = pl - 1;   /* ".suffix" */
    if (n <= sl || !eq_nocase(pattern + 1, h + n - sl, sl))
        return 0;
    size_t label = n - sl;
    return memchr(h, '.', label) == NULL;
}

int edge_path_match(const char *prefix, const char *path)
{
    if (prefix == NULL)
        return 1;
    return strncmp(path, prefix, strlen(prefix)) == 0;
}
