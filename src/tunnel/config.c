/* tunnel.yaml: the connector's settings table (include/pqify/tunnel.h, docs/tunnel.md). */
#include "pqify/tunnel.h"

#include <stdio.h>

const pqify_setting pqify_tunnel_settings[] = {
    {.name = "tunnel", .type = PQIFY_SET_STRING, .offset = offsetof(pqify_tunnel_file, tunnel), .min = 1,
     .max = 63, .help = "The tunnel's name (the edge's routes say `tunnel: NAME`); it must be the CN or a DNS SAN of tls.cert."},
    {.name = "edge", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_tunnel_file, edge),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .max_items = PQIFY_TUNNEL_MAX_EDGES,
     .help = "HOST:PORT of each edge's tunnel listener; connections are spread over them."},
    {.name = "ha_connections", .type = PQIFY_SET_INT, .offset = offsetof(pqify_tunnel_file, ha_connections),
     .def = "4", .min = 1, .max = 64, .help = "Connections kept to the edges."},
    {.name = "grace_period", .type = PQIFY_SET_DURATION, .offset = offsetof(pqify_tunnel_file, grace_ms),
     .def = "30s", .min = 0, .max = 3600000,
     .help = "SIGTERM: how long requests in flight may take to finish."},
    PQIFY_SETTING_MAP("tls", pqify_tunnel_file, tls, pqify_tls_settings,
                      "TLS to the edges: cert and key (the client certificate naming the tunnel), ca (the edges' CA); pq: required by default."),
    PQIFY_SETTING_MAP("admin", pqify_tunnel_file, admin, pqify_admin_settings, "Admin endpoint (/ready, /metrics)."),
    {.name = "ingress", .type = PQIFY_SET_LIST, .offset = offsetof(pqify_tunnel_file, ingress),
     .elem = PQIFY_SET_MAP, .elem_size = sizeof(pqify_ingress_rule_cfg), .sub = pqify_ingress_rule_settings,
     .flags = PQIFY_SET_RELOAD, .help = "Rules, first match wins; the last matches everything (SIGHUP reloads them)."},
    {0},
};

int pqify_tunnel_file_load(const char *path, pqify_tunnel_file *file, pqify_config **cfg, pqify_ingress **ingress,
                           char *err, size_t cap)
{
    *cfg = pqify_config_load(pqify_tunnel_settings, file, path, err, cap);
    if (*cfg == NULL)
        return PQIFY_ERR_ARG;
    *ingress = pqify_ingress_compile(file->ingress.items, file->ingress.count, path, err, cap);
    if (*ingress == NULL) {
        pqify_config_free(*cfg);
        *cfg = NULL;
        return PQIFY_ERR_ARG;
    }
    return 0;
}
