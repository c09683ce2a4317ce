/* pqify edge: the post-quantum TLS terminator and reverse proxy (docs/edge.md). The
 * work is src/edge on the chassis; this file reads the options (flags, or --config
 * edge.yaml through src/net/config, flags overriding the file), and wires the service
 * runner: SIGHUP re-reads the file (routes, certificate), SIGTERM drains. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli.h"
#include "pqify/edge.h"
#include "pqify/net/config.h"
#include "pqify/net/service.h"

#define EDGE_DEFAULT_LISTEN "0.0.0.0:443"
#define EDGE_DEFAULT_ADMIN "127.0.0.1:9101"

struct edge_args {
    const char *listen, *config, *admin, *pq, *origin_ca, *access_log;
    pqify_tls_options tls;
    int check_config;
};

#define A(field) offsetof(struct edge_args, field)
static const struct pqify_opt edge_opts[] = {
    {"--listen", "HOST:PORT", PQIFY_OPT_STRING, A(listen), 0, 0, 0,
     "public address (default " EDGE_DEFAULT_LISTEN "); port 0 picks a free port"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "certificate chain (PEM)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key (PEM)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "preferred (default) | required | off"},
    {"--route", "HOST[/PATH]=ORIGIN", PQIFY_OPT_STRING, 0, 0, 0, 0,
     "a route (repeat; first match wins; replaces the file's routes);\nHOST '*' = any host, "
     "'*.example.com' one label; ORIGIN http://H:P,\nhttps://H:P or unix:/path"},
    {"--origin-ca", "FILE", PQIFY_OPT_STRING, A(origin_ca), 0, 0, 0,
     "CA that https:// origins are verified with"},
    {"--access-log", "FILE", PQIFY_OPT_STRING, A(access_log), 0, 0, 0,
     "one JSON line per request appended to FILE"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready, /healthz on loopback (default " EDGE_DEFAULT_ADMIN "; 'off' = none)"},
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "YAML settings (docs/edge.md); flags override the file"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0,
     "load the settings, the certificate and the routes, report, exit"},
};
#undef A

static const struct pqify_cmd_spec edge_spec = {
    .name = "edge",
    .usage = "edge --config edge.yaml\n"
             "       edge --listen HOST:PORT --cert FILE --key FILE --route HOST[/PATH]=ORIGIN ...\n",
    .about = "Terminate public TLS 1.3 (post-quantum preferred; HTTP/1.1 and HTTP/2 by ALPN)\n"
             "and proxy each request to the origin of the first route that matches.\n",
    .opts = edge_opts,
    .n_opts = PQIFY_N_OPTS(edge_opts),
    .footer = "Signals: SIGHUP re-reads --config (routes, certificates) for new connections and\n"
              "requests; SIGTERM/SIGINT stop accepting, finish requests in flight (grace), exit 0.\n"
              "\n"
              "stderr:\n"
              "  listening on HOST:PORT        (once per listener, when ready)\n",
};

#define MAX_FLAG_ROUTES PQIFY_EDGE_MAX_ROUTES

struct edge_cli {
    struct edge_args a;
    pqify_config *file_cfg;
    pqify_edge_config cfg;
    pqify_edge_route_config routes[MAX_FLAG_ROUTES];
    char *route_text[MAX_FLAG_ROUTES];
    size_t n_routes;
    const char *listen_one[1];
    uv_loop_t loop;
    pqify_edge *edge;
    pqify_service svc;
    pqify_metrics *metrics;
};

/* "HOST[/PATH]=ORIGIN" into a route (the text is copied and kept). */
static int parse_route(struct edge_cli *k, const char *arg)
{
    if (k->n_routes == MAX_FLAG_ROUTES) {
        fprintf(stderr, "pqify edge: more than %d --route\n", MAX_FLAG_ROUTES);
        return -1;
    }
    char *t = strdup(arg);
    char *eq = t ? strchr(t, '=') : NULL;
    if (eq == NULL || eq == t || eq[1] == '\0') {
        fprintf(stderr, "pqify edge: --route '%s': expected HOST[/PATH]=ORIGIN\n", arg);
        free(t);
        return -1;
    }
    *eq = '\0';
    pqify_edge_route_config *r = &k->routes[k->n_routes];
    r->origin = eq + 1;
    char *slash = strchr(t, '/');
    if (slash != NULL) {
        /* keep the '/' for the path: move the host one byte left is not possible, so
         * the path is a copy */
        char *path = strdup(slash);
        *slash = '\0';
        if (path == NULL) {
            free(t);
            return -1;
        }
        r->path = path;
    }
    r->hostname = !strcmp(t, "*") ? NULL : t;
    k->route_text[k->n_routes++] = t;
    return 0;
}

/* argv without the --route flags (which may repeat), collected into k. */
static int take_routes(struct edge_cli *k, int argc, char **argv, char **out)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--route") && i + 1 < argc) {
            if (parse_route(k, argv[++i]) != 0)
                return -1;
        } else if (!strncmp(argv[i], "--route=", 8)) {
            if (parse_route(k, argv[i] + 8) != 0)
                return -1;
        } else {
            out[n++] = argv[i];
        }
    }
    out[n] = NULL;
    return n;
}

/* The file (if any) then the flags over it. */
static int load(struct edge_cli *k, pqify_edge_config *cfg, pqify_config **file_cfg)
{
    char err[700];
    const struct edge_args *a = &k->a;
    memset(cfg, 0, sizeof *cfg);
    *file_cfg = NULL;
    if (a->config != NULL) {
        *file_cfg = pqify_config_load(pqify_edge_settings, cfg, a->config, err, sizeof err);
        if (*file_cfg == NULL) {
            fprintf(stderr, "pqify edge: %s\n", err);
            return -1;
        }
    } else {
        /* the table's defaults, from an empty document */
        *file_cfg = pqify_config_parse(pqify_edge_settings, cfg, "(flags)", "{}", 2, err, sizeof err);
        if (*file_cfg == NULL) {
            fprintf(stderr, "pqify edge: %s\n", err);
            return -1;
        }
    }
    pqify_tls_options flags = a->tls;
    pqify_tls_options_fill_unset(&flags, &cfg->tls);
    if (a->tls.cert != NULL) {
        /* a certificate on the command line replaces the file's list */
        cfg->certificates.count = 0;
    }
    cfg->tls = flags;
    if (a->listen != NULL) {
        k->listen_one[0] = a->listen;
        cfg->listen.items = (void *)k->listen_one;
        cfg->listen.count = 1;
    }
    if (k->n_routes > 0) {
        cfg->routes.items = k->routes;
        cfg->routes.count = k->n_routes;
    }
    if (a->origin_ca != NULL)
        cfg->origin_ca = a->origin_ca;
    if (a->access_log != NULL) {
        cfg->access_log.file = a->access_log;
        cfg->access_log.logfwd = NULL;
    }
    if (pqify_edge_config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "pqify edge: %s%s%s\n", a->config ? a->config : "", a->config ? ": " : "", err);
        return -1;
    }
    return 0;
}

static void on_drained(void *arg)
{
    struct edge_cli *k = arg;
    pqify_service_drained(&k->svc);
    pqify_edge_free(k->edge);
    k->edge = NULL;
}

static void on_stop(void *ctx)
{
    struct edge_cli *k = ctx;
    if (k->edge != NULL)
        pqify_edge_drain(k->edge, on_drained, k);
}

static void on_deadline(void *ctx)
{
    struct edge_cli *k = ctx;
    if (k->edge != NULL)
        pqify_edge_abort(k->edge);
}

static void on_reload(void *ctx)
{
    struct edge_cli *k = ctx;
    if (k->edge == NULL)
        return;
    pqify_edge_config fresh;
    pqify_config *fc = NULL;
    char err[700];
    if (load(k, &fresh, &fc) != 0) {
        pqify_config_free(fc);
        fprintf(stderr, "pqify edge: reload failed; still serving the previous routes and certificate\n");
        return;
    }
    if (pqify_config_reload_check(pqify_edge_settings, &k->cfg, &fresh, err, sizeof err) != 0 ||
        pqify_edge_reload(k->edge, &fresh, err, sizeof err) != 0) {
        fprintf(stderr, "pqify edge: reload failed: %s; still serving the previous routes and certificate\n", err);
        pqify_config_free(fc);
        return;
    }
    pqify_config_free(k->file_cfg);
    k->file_cfg = fc;
    k->cfg = fresh;
    fprintf(stderr, "pqify edge: reloaded: %zu routes\n", fresh.routes.count);
}

int pqify_cmd_edge(int argc, char **argv)
{
    static struct edge_cli k;
    char err[700];
    int status = 1;
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&edge_spec, stdout);
        return 0;
    }
    memset(&k, 0, sizeof k);
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (rest == NULL)
        return 1;
    int n = take_routes(&k, argc, argv, rest);
    if (n < 0 || pqify_cli_parse(&edge_spec, n, rest, &k.a) != 0) {
        status = 2;
        goto done;
    }
    if (load(&k, &k.cfg, &k.file_cfg) != 0)
        goto done;
    if (k.cfg.routes.count == 0)
        fprintf(stderr, "pqify edge: no routes: every request will be answered 404\n");
    const char *admin = k.a.admin ? k.a.admin : k.cfg.admin.listen ? k.cfg.admin.listen
                                               : k.a.config ? "off" : EDGE_DEFAULT_ADMIN;
    signal(SIGPIPE, SIG_IGN);
    k.metrics = pqify_metrics_new();
    if (k.metrics == NULL)
        goto done;
    uv_loop_init(&k.loop);
    if (pqify_edge_start(&k.loop, &k.cfg, k.metrics, &k.edge, err, sizeof err) != 0) {
        fprintf(stderr, "pqify edge: %s\n", err);
        pqify_service_close_loop(&k.loop);
        goto done;
    }
    if (k.a.check_config) {
        fprintf(stderr, "pqify edge: %s is usable (%zu routes)\n",
                k.a.config ? k.a.config : "the command line", k.cfg.routes.count);
        pqify_edge_free(k.edge);
        k.edge = NULL;
        pqify_service_close_loop(&k.loop);
        status = 0;
        goto done;
    }
    pqify_service_options so = {.name = "edge", .admin = admin, .metrics = k.metrics,
                                .grace_ms = k.cfg.grace_ms,
                                .hooks = {on_stop, on_deadline, on_reload, NULL, &k}};
    if (pqify_service_start(&k.svc, &k.loop, &so, err, sizeof err) != 0) {
        fprintf(stderr, "pqify edge: %s\n", err);
        pqify_edge_free(k.edge);
        k.edge = NULL;
        pqify_service_close_loop(&k.loop);
        goto done;
    }
    fprintf(stderr, "pqify edge: %zu routes, pq=%s, alpn %s\n", k.cfg.routes.count,
            k.cfg.tls.pq ? k.cfg.tls.pq : "preferred", k.cfg.tls.alpn ? k.cfg.tls.alpn : "h2,http/1.1");
    const pqify_edge_cert_config *ce = k.cfg.certificates.items;
    for (size_t i = 0; i < k.cfg.certificates.count; i++)
        fprintf(stderr, "pqify edge: certificate %zu %s%s: %s%s\n", i, ce[i].cert,
                i == 0 ? " (the default)" : "", ce[i].key ? "local key" : "keyless through ",
                ce[i].key ? "" : ((const char *const *)ce[i].keyless.servers.items)[0]);
    char addr[300];
    pqify_edge_address(k.edge, 0, addr, sizeof addr);
    pqify_service_announce(&k.svc, addr);
    for (size_t i = 1; i < PQIFY_EDGE_MAX_LISTEN; i++) {
        pqify_edge_address(k.edge, i, addr, sizeof addr);
        if (addr[0] != '\0')
            fprintf(stderr, "pqify edge: listening on %s\n", addr);
    }
    uv_run(&k.loop, UV_RUN_DEFAULT);
    pqify_service_close_loop(&k.loop);
    status = 0;
done:
    pqify_metrics_free(k.metrics);
    pqify_config_free(k.file_cfg);
    for (size_t i = 0; i < k.n_routes; i++) {
        free(k.route_text[i]);
        free((char *)k.routes[i].path);
    }
    free(rest);
    return status;
}
