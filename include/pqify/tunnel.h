/*
 * The tunnel (DESIGN.md "Services"): a connector inside a private network dials out
 * to the edge over post-quantum mutual TLS, and the edge sends requests back through
 * it to origins that have no public address.
 *
 * This header holds the ingress rules: which origin a request goes to, in
 * cloudflared's config.yml shape (docs/tunnel.md):
 *
 *   ingress:
 *     - hostname: app.example.com          # exact, or "*.example.com" (one leftmost label)
 *       path: ^/api/                       # POSIX extended regular expression on the path
 *       service: http://127.0.0.1:8080     # http://, https://, unix:/path, http_status:NNN
 *       originRequest: {connectTimeout: 5s, noTLSVerify: false,
 *                       httpHostHeader: app.internal, keepAliveConnections: 100}
 *     - service: http_status:404           # the last rule matches everything
 *
 * Rules are read through the chassis's settings table (pqify_ingress_rule_settings,
 * a LIST of MAP) and then compiled: every check that spans a rule (the service's
 * form, the regular expression, the hostname pattern) or the list (the last rule is a
 * catch-all, no catch-all before it) names FILE:LINE: ingress[i].KEY. Compiled rules
 * are immutable: a reload compiles a new set and swaps it in, so a request in flight
 * keeps the rule it matched.
 */
#ifndef PQIFY_TUNNEL_H
#define PQIFY_TUNNEL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"
#include "pqify/net/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ingress rules as the file writes them (filled by the settings table) ---- */

typedef struct pqify_origin_request_cfg {
    unsigned connect_timeout_ms;       /* connectTimeout, default 30s */
    int no_tls_verify;                 /* noTLSVerify: https:// origins unverified */
    const char *http_host_header;      /* httpHostHeader: Host sent to the origin */
    int64_t keep_alive_connections;    /* keepAliveConnections: idle origin connections kept */
} pqify_origin_request_cfg;

typedef struct pqify_ingress_rule_cfg {
    unsigned line;                     /* where the rule starts in its file */
    const char *hostname, *path, *service;
    pqify_origin_request_cfg origin_request;
} pqify_ingress_rule_cfg;

/* The table of one rule; a service's table holds
 *   {.name = "ingress", .type = PQIFY_SET_LIST, .elem = PQIFY_SET_MAP,
 *    .elem_size = sizeof(pqify_ingress_rule_cfg), .sub = pqify_ingress_rule_settings} */
extern const pqify_setting pqify_ingress_rule_settings[];

/* ---- compiled rules ---- */

typedef enum pqify_origin_kind {
    PQIFY_ORIGIN_HTTP = 1,     /* http://HOST[:PORT] */
    PQIFY_ORIGIN_HTTPS,        /* https://HOST[:PORT], pqify TLS, verified unless noTLSVerify */
    PQIFY_ORIGIN_UNIX,         /* unix:/path: HTTP/1.1 over a Unix socket */
    PQIFY_ORIGIN_STATUS,       /* http_status:NNN, answered by the connector itself */
} pqify_origin_kind;

typedef struct pqify_ingress_rule {
    size_t index;              /* 0-based position in the list */
    unsigned line;             /* 0 when the rule came from flags (--url) */
    const char *hostname;      /* lower case; NULL = every host */
    int wildcard;              /* hostname is "*.SUFFIX": hostname points at ".SUFFIX" */
    const char *path;          /* the expression as written; NULL = every path */
    regex_t path_re;
    const char *service;       /* as written */
    pqify_origin_kind kind;
    const char *host;          /* HTTP/HTTPS: the host (no brackets) */
    char port[6];              /* HTTP/HTTPS: "80", "443" or as written */
    const char *unix_path;     /* UNIX */
    int status;                /* STATUS: 100..599 */
    unsigned connect_timeout_ms;
    int no_tls_verify;
    const char *http_host_header;   /* NULL = the request's own */
    unsigned keep_alive_connections;
} pqify_ingress_rule;

typedef struct pqify_ingress pqify_ingress;

/*
 * Compile rules (count items of pqify_ingress_rule_cfg) read from file (its name for
 * errors). NULL with err "FILE:LINE: ingress[i].KEY: what" (or "FILE: ingress: ..."
 * when the list is empty). The result owns copies of every string.
 */
pqify_ingress *pqify_ingress_compile(const pqify_ingress_rule_cfg *rules, size_t count, const char *file,
                                     char *err, size_t cap);
/* One catch-all rule to service (`pqify tunnel --url`); errors name origin ("--url"). */
pqify_ingress *pqify_ingress_single(const char *service, const char *origin, char *err, size_t cap);
void pqify_ingress_free(pqify_ingress *in);

size_t pqify_ingress_count(const pqify_ingress *in);
const pqify_ingress_rule *pqify_ingress_rule_at(const pqify_ingress *in, size_t i);

/*
 * The first rule matching a request: host is the request's authority (a port and a
 * trailing dot are ignored, case does not matter), path its path (a query after '?'
 * is not part of it, as cloudflared matches the URL's path). Never NULL: the last
 * rule matches everything.
 */
const pqify_ingress_rule *pqify_ingress_match(const pqify_ingress *in, const char *host, size_t host_len,
                                              const char *path, size_t path_len);

/* ---- tunnel.yaml: the connector's file (docs/tunnel.md) ---- */

#define PQIFY_TUNNEL_MAX_EDGES 16

typedef struct pqify_tunnel_file {
    const char *tunnel;              /* the tunnel's name, as the edge's routes say it */
    pqify_config_list edge;          /* HOST:PORT of each edge's tunnel listener (const char *) */
    int64_t ha_connections;
    unsigned grace_ms;
    pqify_tls_options tls;
    pqify_admin_config admin;
    pqify_config_list ingress;       /* of pqify_ingress_rule_cfg */
} pqify_tunnel_file;

extern const pqify_setting pqify_tunnel_settings[];

/*
 * Load a tunnel.yaml and compile its ingress rules: 0 with *cfg (owning the
 * strings of file) and *ingress, or PQIFY_ERR_ARG with err naming FILE:LINE: KEY.
 */
PQIFY_MUST_USE int pqify_tunnel_file_load(const char *path, pqify_tunnel_file *file, pqify_config **cfg,
                                          pqify_ingress **ingress, char *err, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
