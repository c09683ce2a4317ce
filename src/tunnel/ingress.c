/* Ingress rules: which origin a request through the tunnel goes to (include/pqify/tunnel.h). */
#include "pqify/tunnel.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RULES 1000
#define MAX_PATH_MATCH 8192   /* longer request paths are cut for matching (HTTP/2 headers are bounded anyway) */

const pqify_setting pqify_ingress_rule_settings[] = {
    {.name = "line", .type = PQIFY_SET_LINE, .offset = offsetof(pqify_ingress_rule_cfg, line)},
    {.name = "hostname", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_ingress_rule_cfg, hostname),
     .min = 1, .max = 253, .help = "Host this rule matches: exact, or *.SUFFIX for one leftmost label; unset = every host."},
    {.name = "path", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_ingress_rule_cfg, path), .min = 1,
     .max = 1024, .help = "POSIX extended regular expression searched in the request path; unset = every path."},
    {.name = "service", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_ingress_rule_cfg, service),
     .min = 1, .max = 1024, .flags = PQIFY_SET_REQUIRED,
     .help = "Origin: http://HOST[:PORT], https://HOST[:PORT], unix:/PATH or http_status:NNN."},
    {.name = "originRequest", .type = PQIFY_SET_MAP, .offset = offsetof(pqify_ingress_rule_cfg, origin_request),
     .sub = (const pqify_setting[]){
         {.name = "connectTimeout", .type = PQIFY_SET_DURATION,
          .offset = offsetof(pqify_origin_request_cfg, connect_timeout_ms), .def = "30s", .min = 1, .max = 600000,
          .help = "How long a new connection to the origin may take."},
         {.name = "noTLSVerify", .type = PQIFY_SET_BOOL, .offset = offsetof(pqify_origin_request_cfg, no_tls_verify),
          .def = "false", .help = "https:// origin: accept any certificate (testing only)."},
         {.name = "httpHostHeader", .type = PQIFY_SET_STRING,
          .offset = offsetof(pqify_origin_request_cfg, http_host_header), .min = 1, .max = 255,
          .help = "Host header sent to the origin instead of the request's."},
         {.name = "keepAliveConnections", .type = PQIFY_SET_INT,
          .offset = offsetof(pqify_origin_request_cfg, keep_alive_connections), .def = "100", .min = 0,
          .max = 10000, .help = "Idle connections kept open to the origin."},
         {.name = "caPool", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_origin_request_cfg, ca_pool),
          .min = 1, .max = 4096, .help = "https:// origin: CA certificates (PEM file) it must chain to; unset = the system's."},
         {.name = "originServerName", .type = PQIFY_SET_STRING,
          .offset = offsetof(pqify_origin_request_cfg, origin_server_name), .min = 1, .max = 255,
          .help = "https:// origin: the name its certificate must carry (and SNI); unset = the service's host."},
         {0}},
     .help = "How the connector talks to this rule's origin."},
    {0},
};

struct pqify_ingress {
    size_t count;
    pqify_ingress_rule *rules;
    char **strings;   /* every copy the rules point into */
    size_t n_strings, cap_strings;
};

static const char *keep(pqify_ingress *in, const char *s, size_t n)
{
    if (in->n_strings == in->cap_strings) {
        size_t cap = in->cap_strings ? in->cap_strings * 2 : 16;
        char **p = realloc(in->strings, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        in->strings = p;
        in->cap_strings = cap;
    }
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    in->strings[in->n_strings++] = copy;
    return copy;
}

void pqify_ingress_free(pqify_ingress *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->count; i++)
        if (in->rules[i].path != NULL)
            regfree(&in->rules[i].path_re);
    for (size_t i = 0; i < in->n_strings; i++)
        free(in->strings[i]);
    free(in->strings);
    free(in->rules);
    free(in);
}

size_t pqify_ingress_count(const pqify_ingress *in) { return in->count; }

const pqify_ingress_rule *pqify_ingress_rule_at(const pqify_ingress *in, size_t i)
{
    return i < in->count ? &in->rules[i] : NULL;
}

/* ---- errors: "FILE:LINE: ingress[i].KEY: what" ---- */

typedef struct where {
    const char *file;     /* NULL: a flag, named by origin */
    const char *origin;
    unsigned line;
    size_t index;
    char *err;
    size_t cap;
} where;

__attribute__((format(printf, 3, 4))) static int fail(const where *w, const char *key, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->file == NULL)
        snprintf(w->err, w->cap, "%s: %s", w->origin, msg);
    else if (key == NULL)
        snprintf(w->err, w->cap, "%s:%u: ingress[%zu]: %s", w->file, w->line, w->index, msg);
    else
        snprintf(w->err, w->cap, "%s:%u: ingress[%zu].%s: %s", w->file, w->line, w->index, key, msg);
    return PQIFY_ERR_ARG;
}

/* ---- hostname patterns ---- */

/* RFC 1123 §2.1 labels: letters, digits, hyphens; not starting or ending with '-' */
static int valid_dns_name(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (!(isalnum(c) || c == '-' || c == '_') || (c == '-' && label == 0) || ++label > 63)
            return 0;
    }
    return label > 0 && s[n - 1] != '-';
}

static int compile_hostname(pqify_ingress *in, pqify_ingress_rule *r, const char *h, const where *w)
{
    size_t n = strlen(h);
    if (n == 1 && h[0] == '*')
        return 0;   /* cloudflared reads "*" as every host */
    if (memchr(h, ':', n) != NULL)
        return fail(w, "hostname", "a hostname has no port (the rule matches the host on any port)");
    const char *name = h;
    if (n >= 2 && h[0] == '*' && h[1] == '.') {
        r->wildcard = 1;
        name = h + 2;
    }
    if (memchr(name, '*', strlen(name)) != NULL)
        return fail(w, "hostname", "'*' may only stand for the whole leftmost label, as in *.example.com");
    if (!valid_dns_name(name, strlen(name)))
        return fail(w, "hostname", "'%s' is not a DNS name (letters, digits, '-' and '.')", h);
    char lower[256];
    size_t ln = strlen(name);
    for (size_t i = 0; i < ln; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[ln] = '\0';
    if (r->wildcard) {
        /* keep ".SUFFIX": a match is one non-empty label in front of it */
        memmove(lower + 1, lower, ln + 1);
        lower[0] = '.';
        ln++;
    }
    if ((r->hostname = keep(in, lower, ln)) == NULL)
        return fail(w, "hostname", "out of memory");
    return 0;
}

/* ---- services ---- */

static int parse_status(const char *code, int *out)
{
    if (strlen(code) != 3)
        return -1;
    int v = 0;
    for (int i = 0; i < 3; i++) {
        if (code[i] < '0' || code[i] > '9')
            return -1;
        v = v * 10 + (code[i] - '0');
    }
    if (v < 100 || v > 599)
        return -1;
    *out = v;
    return 0;
}

/* http(s)://HOST[:PORT][/]: RFC 3986 §3.2 authority, IPv6 in brackets; no user
 * info, no path (the request's path is kept), no query */
static int parse_http_url(pqify_ingress *in, pqify_ingress_rule *r, const char *rest, const char *def_port,
                          const where *w)
{
    size_t n = strlen(rest);
    if (n > 0 && rest[n - 1] == '/')
        n--;
    if (n == 0)
        return fail(w, "service", "'%s' has no host", r->service);
    if (memchr(rest, '/', n) != NULL || memchr(rest, '?', n) != NULL || memchr(rest, '#', n) != NULL)
        return fail(w, "service", "'%s' has a path or query; a service is only SCHEME://HOST[:PORT] (the request's own path is sent)",
                    r->service);
    if (memchr(rest, '@', n) != NULL)
        return fail(w, "service", "'%s' has user information, which a service cannot carry", r->service);
    const char *host = rest;
    size_t hlen = n;
    const char *port = NULL;
    size_t plen = 0;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', n);
        if (close == NULL)
            return fail(w, "service", "'%s': an IPv6 address needs its closing ']'", r->service);
        host = rest + 1;
        hlen = (size_t)(close - host);
        size_t after = (size_t)(close + 1 - rest);
        if (after < n) {
            if (rest[after] != ':')
                return fail(w, "service", "'%s': expected ':PORT' after the IPv6 address", r->service);
            port = rest + after + 1;
            plen = n - after - 1;
        }
    } else {
        const char *colon = memchr(rest, ':', n);
        if (colon != NULL) {
            hlen = (size_t)(colon - rest);
            port = colon + 1;
            plen = n - hlen - 1;
        }
    }
    if (hlen == 0)
        return fail(w, "service", "'%s' has no host", r->service);
    for (size_t i = 0; i < hlen; i++)
        if ((unsigned char)host[i] <= ' ' || (unsigned char)host[i] >= 0x7f)
            return fail(w, "service", "'%s': the host has a space or a non-ASCII byte", r->service);
    if (port != NULL) {
        unsigned v = 0;
        if (plen == 0 || plen > 5)
            return fail(w, "service", "'%s': the port must be a number from 1 to 65535", r->service);
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return fail(w, "service", "'%s': the port must be a number from 1 to 65535", r->service);
            v = v * 10 + (unsigned)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return fail(w, "service", "'%s': the port must be a number from 1 to 65535", r->service);
        snprintf(r->port, sizeof r->port, "%u", v);
    } else
        snprintf(r->port, sizeof r->port, "%s", def_port);
    if ((r->host = keep(in, host, hlen)) == NULL)
        return fail(w, "service", "out of memory");
    return 0;
}

static int compile_service(pqify_ingress *in, pqify_ingress_rule *r, const char *service, const where *w)
{
    if ((r->service = keep(in, service, strlen(service))) == NULL)
        return fail(w, "service", "out of memory");
    if (strncmp(service, "http_status:", 12) == 0) {
        r->kind = PQIFY_ORIGIN_STATUS;
        if (parse_status(service + 12, &r->status) < 0)
            return fail(w, "service", "'%s': the status must be a number from 100 to 599", service);
        return 0;
    }
    if (strncmp(service, "unix:", 5) == 0) {
        r->kind = PQIFY_ORIGIN_UNIX;
        const char *p = service + 5;
        size_t n = strlen(p);
        if (n == 0 || p[0] != '/')
            return fail(w, "service", "'%s': a unix: service needs an absolute socket path, as in unix:/run/app.sock",
                        service);
        if (n >= 108)   /* sockaddr_un.sun_path */
            return fail(w, "service", "'%s': the socket path is longer than 107 bytes", service);
        r->unix_path = r->service + 5;
        return 0;
    }
    if (strncasecmp(service, "http://", 7) == 0) {
        r->kind = PQIFY_ORIGIN_HTTP;
        return parse_http_url(in, r, service + 7, "80", w);
    }
    if (strncasecmp(service, "https://", 8) == 0) {
        r->kind = PQIFY_ORIGIN_HTTPS;
        return parse_http_url(in, r, service + 8, "443", w);
    }
    return fail(w, "service",
                "'%s' is not a service pqify tunnel serves: expected http://HOST[:PORT], https://HOST[:PORT], "
                "unix:/PATH or http_status:NNN",
                service);
}

static int compile_rule(pqify_ingress *in, pqify_ingress_rule *r, const pqify_ingress_rule_cfg *c, const where *w)
{
    r->index = w->index;
    r->line = c->line;
    if (c->hostname != NULL && compile_hostname(in, r, c->hostname, w) < 0)
        return PQIFY_ERR_ARG;
    if (c->path != NULL) {
        int rc = regcomp(&r->path_re, c->path, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[160];
            regerror(rc, &r->path_re, why, sizeof why);
            return fail(w, "path", "'%s' is not a POSIX extended regular expression: %s", c->path, why);
        }
        if ((r->path = keep(in, c->path, strlen(c->path))) == NULL) {
            regfree(&r->path_re);
            return fail(w, "path", "out of memory");
        }
    }
    if (compile_service(in, r, c->service, w) < 0)
        return PQIFY_ERR_ARG;
    r->connect_timeout_ms = c->origin_request.connect_timeout_ms;
    r->no_tls_verify = c->origin_request.no_tls_verify;
    r->keep_alive_connections = (unsigned)c->origin_request.keep_alive_connections;
    if (c->origin_request.http_host_header != NULL &&
        (r->http_host_header = keep(in, c->origin_request.http_host_header,
                                    strlen(c->origin_request.http_host_header))) == NULL)
        return fail(w, "originRequest.httpHostHeader", "out of memory");
    const pqify_origin_request_cfg *o = &c->origin_request;
    if (o->ca_pool != NULL && (r->ca_pool = keep(in, o->ca_pool, strlen(o->ca_pool))) == NULL)
        return fail(w, "originRequest.caPool", "out of memory");
    if (o->origin_server_name != NULL &&
        (r->origin_server_name = keep(in, o->origin_server_name, strlen(o->origin_server_name))) == NULL)
        return fail(w, "originRequest.originServerName", "out of memory");
    return 0;
}

static pqify_ingress *compile(const pqify_ingress_rule_cfg *rules, size_t count, where *w)
{
    if (count == 0) {
        if (w->file != NULL)
            snprintf(w->err, w->cap, "%s: ingress: no rules; the list needs at least its catch-all, as in "
                     "`ingress: [{service: http_status:404}]`", w->file);
        else
            snprintf(w->err, w->cap, "%s: no rule", w->origin);
        return NULL;
    }
    if (count > MAX_RULES) {
        snprintf(w->err, w->cap, "%s:%u: ingress: more than %u rules", w->file, rules[0].line, MAX_RULES);
        return NULL;
    }
    pqify_ingress *in = calloc(1, sizeof *in);
    if (in == NULL || (in->rules = calloc(count, sizeof *in->rules)) == NULL) {
        free(in);
        snprintf(w->err, w->cap, "ingress: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        w->index = i;
        w->line = rules[i].line;
        int ret = compile_rule(in, &in->rules[i], &rules[i], w);
        in->count = i + (ret == 0 || in->rules[i].path != NULL);   /* what free must release */
        if (ret < 0)
            goto fail;
        const pqify_ingress_rule *r = &in->rules[i];
        int catch_all = r->hostname == NULL && r->path == NULL;
        /* cloudflared's rule: the last rule must match every URL, and a rule that
         * matches every URL anywhere else would hide the rules after it */
        if (i + 1 == count && !catch_all) {
            fail(w, NULL, "the last rule must match every request (no hostname, no path), e.g. "
                          "`- service: http_status:404`; this one has a %s",
                 r->hostname != NULL ? "hostname" : "path");
            goto fail;
        }
        if (i + 1 < count && catch_all) {
            fail(w, NULL, "this rule matches every request, so the %zu rule%s after it would never match; only the "
                          "last rule may leave out both hostname and path",
                 count - i - 1, count - i - 1 == 1 ? "" : "s");
            goto fail;
        }
    }
    return in;
fail:
    pqify_ingress_free(in);
    return NULL;
}

pqify_ingress *pqify_ingress_compile(const pqify_ingress_rule_cfg *rules, size_t count, const char *file,
                                     char *err, size_t cap)
{
    where w = {.file = file != NULL ? file : "(config)", .err = err, .cap = cap};
    return compile(rules, count, &w);
}

pqify_ingress *pqify_ingress_single(const char *service, const char *origin, char *err, size_t cap)
{
    pqify_ingress_rule_cfg c = {.service = service,
                                .origin_request = {.connect_timeout_ms = 30000, .keep_alive_connections = 100}};
    where w = {.origin = origin, .err = err, .cap = cap};
    return compile(&c, 1, &w);
}

/* ---- matching ---- */

static int host_matches(const pqify_ingress_rule *r, const char *host, size_t n)
{
    size_t rn = strlen(r->hostname);
    if (!r->wildcard)
        return n == rn && strncasecmp(host, r->hostname, n) == 0;
    /* "*.example.com": exactly one non-empty label before ".example.com" */
    if (n <= rn || strncasecmp(host + (n - rn), r->hostname, rn) != 0)
        return 0;
    return memchr(host, '.', n - rn) == NULL;
}

/* The host without a port and a trailing dot: "a.example.com:443" -> "a.example.com",
 * "[::1]:8443" -> "[::1]" (RFC 3986 §3.2.2) */
static size_t bare_host(const char *host, size_t n)
{
    if (n > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', n);
        return close != NULL ? (size_t)(close - host) + 1 : n;
    }
    const char *colon = memchr(host, ':', n);
    if (colon != NULL)
        n = (size_t)(colon - host);
    if (n > 0 && host[n - 1] == '.')
        n--;
    return n;
}

const pqify_ingress_rule *pqify_ingress_match(const pqify_ingress *in, const char *host, size_t host_len,
                                              const char *path, size_t path_len)
{
    size_t hn = host != NULL ? bare_host(host, host_len) : 0;
    char p[MAX_PATH_MATCH + 1];
    size_t pn = 0;
    if (path != NULL) {
        const char *q = memchr(path, '?', path_len);
        pn = q != NULL ? (size_t)(q - path) : path_len;
        if (pn > MAX_PATH_MATCH)
            pn = MAX_PATH_MATCH;
        memcpy(p, path, pn);
    }
    p[pn] = '\0';
    /* a NUL inside the path would end the string early: match only up to it, which
     * can only make a rule's search see less (HTTP/2 forbids NUL in a :path anyway) */
    for (size_t i = 0; i + 1 < in->count; i++) {
        const pqify_ingress_rule *r = &in->rules[i];
        if (r->hostname != NULL && !host_matches(r, host, hn))
            continue;
        if (r->path != NULL && regexec(&r->path_re, p, 0, NULL, 0) != 0)
            continue;
        return r;
    }
    return &in->rules[in->count - 1];
}
