/* edge.yaml's settings table (STYLE.md "Configuration is a table") and the checks the
 * table cannot make (origin URLs, hostname patterns). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pqify/edge.h"
#include "pqify/keyless_client.h"
#include "route.h"

static const pqify_setting keyless_settings[] = {
    {.name = "servers", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_edge_keyless_config, servers),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .min_items = 1,
     .max_items = PQIFY_KEYLESS_CLIENT_MAX_SERVERS, .flags = PQIFY_SET_RELOAD,
     .help = "Key servers (HOST:PORT) in failover order; the certificate's key lives there."},
    {.name = "cert", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_keyless_config, tls.cert),
     .flags = PQIFY_SET_RELOAD, .help = "Client certificate for the hop (key servers require mutual TLS)."},
    {.name = "key", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_keyless_config, tls.key),
     .flags = PQIFY_SET_RELOAD, .help = "Its private key."},
    {.name = "ca", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_keyless_config, tls.ca),
     .flags = PQIFY_SET_RELOAD, .help = "CA the key servers' certificates chain to."},
    {.name = "pq", .type = PQIFY_SET_ENUM, .offset = offsetof(pqify_edge_keyless_config, tls.pq),
     .words = (const char *const[]){"required", "preferred", "off", NULL}, .flags = PQIFY_SET_RELOAD,
     .help = "The hop's post-quantum mode (default required)."},
    {.name = "server_name", .type = PQIFY_SET_STRING,
     .offset = offsetof(pqify_edge_keyless_config, tls.server_name), .flags = PQIFY_SET_RELOAD,
     .help = "Name checked in the key servers' certificates (default: the first server's host)."},
    {0},
};

static const pqify_setting cert_settings[] = {
    {.name = "cert", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_cert_config, cert),
     .flags = PQIFY_SET_RELOAD | PQIFY_SET_REQUIRED, .help = "Certificate chain, PEM file (leaf first)."},
    {.name = "key", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_cert_config, key),
     .flags = PQIFY_SET_RELOAD, .help = "Its private key, PEM file (or keyless:)."},
    PQIFY_SETTING_MAP("keyless", pqify_edge_cert_config, keyless, keyless_settings,
                      "Sign through key servers instead of key (docs/keyless.md)."),
    {0},
};

static const pqify_setting route_settings[] = {
    {.name = "hostname", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_route_config, hostname),
     .min = 1, .max = 255, .flags = PQIFY_SET_RELOAD,
     .help = "Host it matches: exact, or *.example.com for one leftmost label; unset = any."},
    {.name = "path", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_route_config, path),
     .min = 1, .max = 1024, .flags = PQIFY_SET_RELOAD,
     .help = "Path prefix it matches (/api/); unset = any."},
    {.name = "origin", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_route_config, origin),
     .min = 1, .max = 1024, .flags = PQIFY_SET_RELOAD,
     .help = "http://HOST:PORT, https://HOST:PORT (verified with origin_ca) or unix:/path."},
    {.name = "tunnel", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_route_config, tunnel),
     .min = 1, .max = 255, .flags = PQIFY_SET_RELOAD,
     .help = "Instead of origin: the tunnel (its connectors' certificate CN) that serves it."},
    {0},
};

static const pqify_setting tunnels_settings[] = {
    {.name = "listen", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(pqify_edge_tunnels_config, listen),
     .help = "Where pqify tunnel connectors dial in (HOST:PORT)."},
    {.name = "cert", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_tunnels_config, tls.cert),
     .help = "This listener's certificate chain (PEM)."},
    {.name = "key", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_tunnels_config, tls.key),
     .help = "Its private key (PEM)."},
    {.name = "ca", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_tunnels_config, tls.ca),
     .help = "CA the connectors' client certificates must chain to (mutual TLS, pq required)."},
    {.name = "wait_for_connection", .type = PQIFY_SET_DURATION,
     .offset = offsetof(pqify_edge_tunnels_config, wait_for_connection_ms), .def = "2s", .min = 0, .max = 60000,
     .help = "A request to a tunnel with no registered connection (its connector restarting) waits this long "
             "for one, then 502; 0 = 502 at once."},
    {0},
};

static const pqify_setting limit_settings[] = {
    {.name = "max_header_bytes", .type = PQIFY_SET_INT, .offset = offsetof(pqify_edge_limits, max_header_bytes),
     .def = "16384", .min = 1024, .max = 1048576, .flags = PQIFY_SET_RELOAD,
     .help = "Request line and headers (HTTP/2: names and values): over it, 431."},
    {.name = "max_body_bytes", .type = PQIFY_SET_INT, .offset = offsetof(pqify_edge_limits, max_body_bytes),
     .def = "1073741824", .min = 0, .max = INT64_MAX, .flags = PQIFY_SET_RELOAD,
     .help = "Request body: over it, 413."},
    {.name = "header_timeout", .type = PQIFY_SET_DURATION, .offset = offsetof(pqify_edge_limits, header_timeout_ms),
     .def = "10s", .min = 100, .max = 3600000, .flags = PQIFY_SET_RELOAD,
     .help = "HTTP/1.1: a request's head must arrive within it (else 408); an idle keep-alive connection closes."},
    {.name = "idle_timeout", .type = PQIFY_SET_DURATION, .offset = offsetof(pqify_edge_limits, idle_timeout_ms),
     .def = "60s", .min = 100, .max = 86400000, .flags = PQIFY_SET_RELOAD,
     .help = "A connection with no traffic for this long is closed (close_notify)."},
    {.name = "origin_connect_timeout", .type = PQIFY_SET_DURATION,
     .offset = offsetof(pqify_edge_limits, origin_connect_timeout_ms), .def = "5s", .min = 100,
     .max = 600000, .flags = PQIFY_SET_RELOAD, .help = "No connection (and handshake) to the origin by then: 502."},
    {.name = "origin_timeout", .type = PQIFY_SET_DURATION, .offset = offsetof(pqify_edge_limits, origin_timeout_ms),
     .def = "60s", .min = 100, .max = 3600000, .flags = PQIFY_SET_RELOAD,
     .help = "The origin's response head must come within it of the last byte sent: else 504."},
    {0},
};

static const pqify_setting alog_settings[] = {
    {.name = "file", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_access_log_config, file),
     .min = 1, .max = 4096, .help = "Append one JSON line per request to this file."},
    {.name = "logfwd", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_access_log_config, logfwd),
     .min = 6, .max = 113,
     .help = "unix:/path of pqify logfwd's --socket input; lines it cannot take are dropped (counted)."},
    {0},
};

const pqify_setting pqify_edge_settings[] = {
    {.name = "listen", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_edge_config, listen),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .max_items = PQIFY_EDGE_MAX_LISTEN,
     .help = "Public addresses (HOST:PORT); default [0.0.0.0:443]."},
    PQIFY_SETTING_MAP("admin", pqify_edge_config, admin, pqify_admin_settings, "Admin endpoint."),
    PQIFY_SETTING_MAP("tls", pqify_edge_config, tls, pqify_tls_settings,
                      "TLS for the listeners (pq: preferred by default; alpn h2,http/1.1)."),
    {.name = "certificates", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_edge_config, certificates),
     .elem = PQIFY_SET_MAP, .sub = cert_settings, .elem_size = sizeof(pqify_edge_cert_config),
     .max_items = PQIFY_EDGE_MAX_CERTS, .flags = PQIFY_SET_RELOAD,
     .help = "Certificates chosen by SNI (their subjectAltNames); the first is the default."},
    {.name = "routes", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_edge_config, routes),
     .elem = PQIFY_SET_MAP, .sub = route_settings, .elem_size = sizeof(pqify_edge_route_config),
     .max_items = PQIFY_EDGE_MAX_ROUTES, .flags = PQIFY_SET_RELOAD,
     .help = "Routes, first match wins."},
    PQIFY_SETTING_MAP("limits", pqify_edge_config, limits, limit_settings, "Request limits."),
    PQIFY_SETTING_MAP("access_log", pqify_edge_config, access_log, alog_settings,
                      "One JSON line per request, to a file or to pqify logfwd."),
    PQIFY_SETTING_MAP("tunnels", pqify_edge_config, tunnels, tunnels_settings,
                      "The listener of pqify tunnel connectors (docs/tunnel.md); needs a restart."),
    {.name = "origin_ca", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_edge_config, origin_ca),
     .min = 1, .max = 4096, .flags = PQIFY_SET_RELOAD,
     .help = "CA certificates (PEM) that https:// origins are verified with."},
    {.name = "max_connections", .type = PQIFY_SET_INT, .offset = offsetof(pqify_edge_config, max_connections),
     .def = "10000", .min = 1, .max = 1000000, .help = "Client connections at once; more wait in the listen queue."},
    {.name = "grace", .type = PQIFY_SET_DURATION, .offset = offsetof(pqify_edge_config, grace_ms),
     .def = "10s", .min = 0, .max = 3600000, .help = "SIGTERM: how long requests in flight may finish."},
    {0},
};

int pqify_edge_config_check(const pqify_edge_config *c, char *err, size_t cap)
{
    char why[400];
    const pqify_edge_route_config *r = c->routes.items;
    if (c->tunnels.listen != NULL &&
        (c->tunnels.tls.cert == NULL || c->tunnels.tls.key == NULL || c->tunnels.tls.ca == NULL)) {
        snprintf(err, cap, "tunnels: cert, key and ca are required with listen (connectors are "
                           "admitted by mutual TLS)");
        return PQIFY_ERR_ARG;
    }
    for (size_t i = 0; i < c->routes.count; i++) {
        edge_origin o;
        if ((r[i].origin == NULL) == (r[i].tunnel == NULL)) {
            snprintf(err, cap, "routes[%zu]: give origin or tunnel, exactly one", i);
            return PQIFY_ERR_ARG;
        }
        if (r[i].tunnel != NULL && c->tunnels.listen == NULL) {
            snprintf(err, cap, "routes[%zu].tunnel: '%s' needs tunnels: {listen, cert, key, ca}, "
                               "where its connectors dial in", i, r[i].tunnel);
            return PQIFY_ERR_ARG;
        }
        if (r[i].tunnel != NULL) {
            if (r[i].hostname != NULL && edge_hostname_check(r[i].hostname, why, sizeof why) != 0) {
                snprintf(err, cap, "routes[%zu].hostname: %s", i, why);
                return PQIFY_ERR_ARG;
            }
            if (r[i].path != NULL && r[i].path[0] != '/') {
                snprintf(err, cap, "routes[%zu].path: '%s' must start with '/'", i, r[i].path);
                return PQIFY_ERR_ARG;
            }
            continue;
        }
        if (edge_origin_parse(r[i].origin, &o, why, sizeof why) != 0) {
            snprintf(err, cap, "routes[%zu].origin: %s", i, why);
            return PQIFY_ERR_ARG;
        }
        if (o.kind == EDGE_ORIGIN_HTTPS && c->origin_ca == NULL) {
            snprintf(err, cap, "routes[%zu].origin: an https:// origin needs origin_ca (the CA it is "
                               "verified with)", i);
            return PQIFY_ERR_ARG;
        }
        if (r[i].hostname != NULL && edge_hostname_check(r[i].hostname, why, sizeof why) != 0) {
            snprintf(err, cap, "routes[%zu].hostname: %s", i, why);
            return PQIFY_ERR_ARG;
        }
        if (r[i].path != NULL && r[i].path[0] != '/') {
            snprintf(err, cap, "routes[%zu].path: '%s' must start with '/'", i, r[i].path);
            return PQIFY_ERR_ARG;
        }
    }
    const pqify_edge_cert_config *ce = c->certificates.items;
    for (size_t i = 0; i < c->certificates.count; i++) {
        const pqify_edge_keyless_config *k = &ce[i].keyless;
        int kl = k->servers.count > 0;
        if ((ce[i].key != NULL) == kl) {
            snprintf(err, cap, "certificates[%zu] (%s): give key or keyless: (its key on key "
                               "servers), exactly one", i, ce[i].cert);
            return PQIFY_ERR_ARG;
        }
        if (!kl && (k->tls.cert || k->tls.key || k->tls.ca || k->tls.pq || k->tls.server_name)) {
            snprintf(err, cap, "certificates[%zu].keyless: servers is required", i);
            return PQIFY_ERR_ARG;
        }
        if (kl && (k->tls.cert == NULL || k->tls.key == NULL || k->tls.ca == NULL)) {
            snprintf(err, cap, "certificates[%zu].keyless: cert, key and ca are required (key "
                               "servers require mutual TLS)", i);
            return PQIFY_ERR_ARG;
        }
    }
    if (c->certificates.count == 1 && c->tls.cert != NULL) {
        snprintf(err, cap, "certificates: give the certificate either in tls: (cert, key) or in "
                           "certificates:, not both");
        return PQIFY_ERR_ARG;
    }
    return 0;
}
