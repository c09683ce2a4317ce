/*
 * The connector's origins: one pqify_http_origin (src/net/http_origin.c) per distinct
 * origin of the ingress rules, made on first use. What is the tunnel's own stays here:
 * an ingress rule's originRequest (connectTimeout, keepAliveConnections, and for
 * https:// caPool, originServerName, noTLSVerify) becomes the pool's options and TLS
 * config; httpHostHeader is applied by the connector to the head it serialises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "pqify/net/tls_options.h"

typedef struct origin_entry {
    struct origin_entry *next;
    char key[700];
    pqify_http_origin *o;
} origin_entry;

struct origin_pool {
    uv_loop_t *loop;
    origin_entry *list;
};

int pqify_tunnel_hop_header(const uint8_t *name, size_t len)
{
    static const char *const hop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "te", "trailer", "proxy-authenticate", "proxy-authorization"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        if (strlen(hop[i]) == len && strncasecmp((const char *)name, hop[i], len) == 0)
            return 1;
    return 0;
}

origin_pool *origin_pool_new(uv_loop_t *loop)
{
    origin_pool *p = calloc(1, sizeof *p);
    if (p != NULL)
        p->loop = loop;
    return p;
}

void origin_pool_free(origin_pool *p)
{
    if (p == NULL)
        return;
    while (p->list != NULL) {
        origin_entry *e = p->list;
        p->list = e->next;
        pqify_http_origin_free(e->o);   /* running requests keep their connections */
        free(e);
    }
    free(p);
}

/* Rules that agree on everything a connection depends on share its pool. */
static void make_key(const pqify_ingress_rule *rule, char *key, size_t cap)
{
    if (rule->kind == PQIFY_ORIGIN_UNIX)
        snprintf(key, cap, "unix %s|%u|%u", rule->unix_path, rule->connect_timeout_ms,
                 rule->keep_alive_connections);
    else
        snprintf(key, cap, "%s %s %s|%s|%s|%d|%u|%u", rule->kind == PQIFY_ORIGIN_HTTPS ? "tls" : "tcp",
                 rule->host, rule->port, rule->ca_pool ? rule->ca_pool : "",
                 rule->origin_server_name ? rule->origin_server_name : "", rule->no_tls_verify,
                 rule->connect_timeout_ms, rule->keep_alive_connections);
}

pqify_http_origin *origin_pool_get(origin_pool *p, const pqify_ingress_rule *rule, char *err, size_t cap)
{
    char key[700];
    make_key(rule, key, sizeof key);
    for (origin_entry *e = p->list; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->o;
    pqify_http_origin_opts o = {.host = rule->host, .port = rule->port, .path = rule->unix_path,
                                .connect_timeout_ms = rule->connect_timeout_ms,
                                .idle_max = rule->keep_alive_connections};
    o.kind = rule->kind == PQIFY_ORIGIN_UNIX    ? PQIFY_HTTP_ORIGIN_UNIX
             : rule->kind == PQIFY_ORIGIN_HTTPS ? PQIFY_HTTP_ORIGIN_HTTPS
                                                : PQIFY_HTTP_ORIGIN_HTTP;
    if (rule->kind == PQIFY_ORIGIN_HTTPS) {
        /* no caPool: the system's trust store (the engine's default); pq preferred */
        const char *name = rule->origin_server_name != NULL ? rule->origin_server_name : rule->host;
        pqify_tls_options to = {.ca = rule->ca_pool, .server_name = name, .pq = "preferred", .alpn = "http/1.1"};
        char why[400];
        o.tls = pqify_tls_options_build(&to, 0, PQIFY_PQ_PREFERRED, why, sizeof why);
        if (o.tls == NULL) {
            snprintf(err, cap, "TLS to the origin: %s", why);
            return NULL;
        }
        if (rule->no_tls_verify)
            pqify_tls_config_set_verify_peer(o.tls, 0);
        o.own_tls = 1;
    }
    origin_entry *e = calloc(1, sizeof *e);
    if (e == NULL || (e->o = pqify_http_origin_new(p->loop, &o)) == NULL) {
        free(e);
        if (o.own_tls)
            pqify_tls_config_free(o.tls);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    snprintf(e->key, sizeof e->key, "%s", key);
    e->next = p->list;
    p->list = e;
    return e->o;
}
