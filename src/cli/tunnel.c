/* pqify tunnel: the connector (docs/tunnel.md), and `pqify tunnel ingress validate|rule`,
 * which check ingress rules as cloudflared's commands of the same name do. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <uv.h>

#include "cli.h"
#include "pqify/net/listener.h"
#include "pqify/net/service.h"
#include "pqify/net/tls_options.h"
#include "pqify/tunnel.h"

#define TN_MAX_EDGES PQIFY_TUNNEL_MAX_EDGES

/* ---- pqify tunnel ingress validate | rule ---- */

struct ingress_args {
    const char *config, *url;
};

static const struct pqify_opt ingress_opts[] = {
    {"--config", "FILE", PQIFY_OPT_STRING, offsetof(struct ingress_args, config), 0, 0, 0,
     "the tunnel.yaml holding the ingress: rules"},
};

static const struct pqify_cmd_spec validate_spec = {
    .name = "tunnel ingress validate",
    .usage = "tunnel ingress validate --config FILE\n",
    .about = "Check the ingress rules of a tunnel.yaml (and the rest of the file): print OK,\n"
             "or one line naming FILE:LINE: KEY and what is wrong, and exit 1.\n",
    .opts = ingress_opts,
    .n_opts = PQIFY_N_OPTS(ingress_opts),
};

static const struct pqify_cmd_spec rule_spec = {
    .name = "tunnel ingress rule",
    .usage = "tunnel ingress rule --config FILE URL\n",
    .about = "Which ingress rule a request for URL would match, and the origin it would go to.\n",
    .opts = ingress_opts,
    .n_opts = PQIFY_N_OPTS(ingress_opts),
    .operand = "URL",
    .operand_offset = offsetof(struct ingress_args, url),
};

static int load_rules(const char *cmd, const struct ingress_args *a, pqify_ingress **out)
{
    if (a->config == NULL) {
        fprintf(stderr, "pqify %s: --config FILE is required (see pqify %s --help)\n", cmd, cmd);
        return 2;
    }
    pqify_tunnel_file f;
    pqify_config *cfg;
    char err[768];
    if (pqify_tunnel_file_load(a->config, &f, &cfg, out, err, sizeof err) < 0) {
        fprintf(stderr, "pqify %s: %s\n", cmd, err);
        return 1;
    }
    pqify_config_free(cfg);   /* the compiled rules own copies */
    return 0;
}

static void print_rule(const pqify_ingress_rule *r)
{
    printf("Matched rule #%zu", r->index + 1);
    if (r->line > 0)
        printf(" (line %u)", r->line);
    printf("\n");
    if (r->hostname != NULL)
        printf("\thostname: %s%s\n", r->wildcard ? "*" : "", r->hostname);
    if (r->path != NULL)
        printf("\tpath: %s\n", r->path);
    printf("\tservice: %s\n", r->service);
}

/* "https://a.example.com:8443/x?y" -> host "a.example.com:8443", path "/x?y" */
static int split_url(const char *url, const char **host, size_t *host_len, const char **path)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return -1;
    const char *scheme_end = p;
    for (const char *s = url; s < scheme_end; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '+' ||
              *s == '-' || *s == '.'))
            return -1;
    *host = p + 3;
    size_t n = strcspn(*host, "/?#");
    if (n == 0)
        return -1;
    *host_len = n;
    *path = (*host)[n] == '/' ? *host + n : "/";
    return 0;
}

static int cmd_ingress(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "validate") != 0 && strcmp(argv[1], "rule") != 0)) {
        fprintf(stderr, "usage: pqify tunnel ingress validate --config FILE\n"
                        "       pqify tunnel ingress rule --config FILE URL\n");
        return pqify_wants_help(argc, argv) ? 0 : 2;
    }
    int validate = strcmp(argv[1], "validate") == 0;
    const struct pqify_cmd_spec *spec = validate ? &validate_spec : &rule_spec;
    if (pqify_wants_help(argc - 1, argv + 1)) {
        pqify_cli_help(spec, stdout);
        return 0;
    }
    struct ingress_args a = {0};
    if (pqify_cli_parse(spec, argc - 1, argv + 1, &a) != 0)
        return 2;
    const char *host = NULL, *path = NULL;
    size_t host_len = 0;
    if (!validate && (a.url == NULL || split_url(a.url, &host, &host_len, &path) < 0)) {
        fprintf(stderr, "pqify %s: expected a URL such as https://app.example.com/path, not '%s'\n", spec->name,
                a.url != NULL ? a.url : "");
        return 2;
    }
    pqify_ingress *in = NULL;
    int ret = load_rules(spec->name, &a, &in);
    if (ret != 0)
        return ret;
    if (validate) {
        printf("Validating rules from %s\nOK (%zu rule%s)\n", a.config, pqify_ingress_count(in),
               pqify_ingress_count(in) == 1 ? "" : "s");
    } else {
        printf("Using rules from %s\n", a.config);
        print_rule(pqify_ingress_match(in, host, host_len, path, strlen(path)));
    }
    pqify_ingress_free(in);
    return 0;
}

/* ---- pqify tunnel: the connector ---- */

struct tn_args {
    const char *config, *name, *url, *admin, *edge_help;
    pqify_tls_options tls;
    unsigned ha_connections, grace_s;
    int check_config;
};

#define A(field) offsetof(struct tn_args, field)
static const struct pqify_opt tn_opts[] = {
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "tunnel.yaml (tunnel, edge, ha_connections, tls:, admin:, ingress:);\nflags override the file"},
    {"--edge", "HOST:PORT", PQIFY_OPT_STRING, A(edge_help), 0, 0, 0,
     "an edge's tunnel listener (repeat for more edges)"},
    {"--name", "NAME", PQIFY_OPT_STRING, A(name), 0, 0, 0, "the tunnel's name (the CN of --cert)"},
    {"--url", "URL", PQIFY_OPT_STRING, A(url), 0, 0, 0,
     "one catch-all origin instead of ingress rules (http://, unix:, http_status:NNN)"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "client certificate naming the tunnel (PEM)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key (PEM)"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0, "CA of the edges' certificates"},
    {"--servername", "NAME", PQIFY_OPT_STRING, A(tls.server_name), 0, 0, 0,
     "name the edge certificate must carry (default: the edge's host)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--ha-connections", "N", PQIFY_OPT_UINT, A(ha_connections), 1, 64, 0, "connections to keep (default 4)"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready, /healthz on loopback (default off)"},
    {"--grace-period", "SECONDS", PQIFY_OPT_UINT, A(grace_s), 0, 3600, 0,
     "SIGTERM: time for requests in flight (default 30)"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0, "load the settings and TLS files, report, exit"},
};
#undef A

static const struct pqify_cmd_spec tn_spec = {
    .name = "tunnel",
    .usage = "tunnel --config tunnel.yaml\n"
             "       tunnel --edge HOST:PORT [--edge ...] --name NAME --cert F --key F --ca F --url URL\n"
             "       tunnel ingress validate|rule ...\n",
    .about = "Keep connections out to the edges over post-quantum mutual TLS and serve the\n"
             "requests the edges send back through them to private origins (docs/tunnel.md).\n",
    .opts = tn_opts,
    .n_opts = PQIFY_N_OPTS(tn_opts),
    .footer = "Signals: SIGHUP reloads the ingress rules of --config (connections and requests\n"
              "in flight stay); SIGTERM/SIGINT unregister, finish what is in flight within the\n"
              "grace period, close and exit 0.\n"
              "\n"
              "stderr:\n"
              "  listening on EDGES            (once, when dialling started)\n"
              "  pqify tunnel: registered connection=N edge=HOST:PORT group=G ...\n",
};

struct tn {
    struct tn_args a;
    const char *edges[TN_MAX_EDGES];
    size_t n_edges;
    pqify_config *file_cfg;
    pqify_tunnel_file file;
    pqify_ingress *ingress;
    uv_loop_t loop;
    pqify_tls_config *tls;
    pqify_tunnel_connector *conn;
    pqify_service svc;
    pqify_metrics *metrics;
    pqify_series *reloads;
};

/* --edge may repeat: take every one out of argv before the table parses the rest */
static int take_edges(struct tn *t, int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--edge") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "pqify tunnel: --edge needs a value (see pqify tunnel --help)\n");
                return -1;
            }
            v = argv[++i];
        } else if (strncmp(argv[i], "--edge=", 7) == 0)
            v = argv[i] + 7;
        if (v == NULL) {
            argv[out++] = argv[i];
            continue;
        }
        if (t->n_edges == TN_MAX_EDGES) {
            fprintf(stderr, "pqify tunnel: at most %d edges\n", TN_MAX_EDGES);
            return -1;
        }
        t->edges[t->n_edges++] = v;
    }
    *argc = out;
    return 0;
}

static int tn_parse(int argc, char **argv, struct tn *t)
{
    struct tn_args *a = &t->a;
    if (take_edges(t, &argc, argv) < 0 || pqify_cli_parse(&tn_spec, argc, argv, a) != 0)
        return 2;
    char err[768];
    if (a->config != NULL) {
        pqify_ingress *in = NULL;
        if (pqify_tunnel_file_load(a->config, &t->file, &t->file_cfg, &in, err, sizeof err) < 0) {
            fprintf(stderr, "pqify tunnel: %s\n", err);
            return 1;
        }
        const pqify_tunnel_file *f = &t->file;
        pqify_tls_options_fill_unset(&a->tls, &f->tls);
        if (a->name == NULL)
            a->name = f->tunnel;
        const char *const *e = f->edge.items;
        for (size_t i = 0; t->n_edges == 0 && i < f->edge.count; i++)
            t->edges[i] = e[i];
        if (t->n_edges == 0)
            t->n_edges = f->edge.count;
        if (a->ha_connections == 0)
            a->ha_connections = (unsigned)f->ha_connections;
        if (a->admin == NULL)
            a->admin = f->admin.listen;
        if (a->grace_s == 0)
            a->grace_s = f->grace_ms / 1000;
        if (a->url == NULL)
            t->ingress = in;
        else
            pqify_ingress_free(in);
    }
    if (a->url != NULL && (t->ingress = pqify_ingress_single(a->url, "--url", err, sizeof err)) == NULL) {
        fprintf(stderr, "pqify tunnel: %s\n", err);
        return 1;
    }
    if (a->ha_connections == 0)
        a->ha_connections = 4;
    if (a->grace_s == 0 && a->config == NULL)
        a->grace_s = 30;
    const char *missing = t->ingress == NULL ? "--url or ingress: rules in --config"
                          : t->n_edges == 0  ? "--edge (or edge: in --config)"
                          : a->name == NULL  ? "--name (or tunnel: in --config)"
                          : a->tls.cert == NULL || a->tls.key == NULL ? "--cert and --key (the tunnel's client certificate)"
                          : a->tls.ca == NULL ? "--ca (the edges' CA)"
                                              : NULL;
    if (missing != NULL) {
        fprintf(stderr, "pqify tunnel: %s is required (see pqify tunnel --help)\n", missing);
        return 2;
    }
    for (size_t i = 0; i < t->n_edges; i++) {
        char host[256], port[16];
        if (pqify_net_split_hostport(t->edges[i], host, sizeof host, port, sizeof port) != 0) {
            fprintf(stderr, "pqify tunnel: edge '%s' is not HOST:PORT\n", t->edges[i]);
            return 2;
        }
    }
    return 0;
}

static void tn_drained(void *arg)
{
    struct tn *t = arg;
    pqify_service_drained(&t->svc);
    fprintf(stderr, "pqify tunnel: drained\n");
}

static void tn_on_stop(void *ctx)
{
    struct tn *t = ctx;
    fprintf(stderr, "pqify tunnel: unregistering, finishing the requests in flight\n");
    pqify_tunnel_connector_drain(t->conn, tn_drained, t);
}

static void tn_on_deadline(void *ctx)
{
    struct tn *t = ctx;
    pqify_tunnel_connector_abort(t->conn);
}

static void tn_on_reload(void *ctx)
{
    struct tn *t = ctx;
    if (t->a.config == NULL || t->a.url != NULL) {
        fprintf(stderr, "pqify tunnel: SIGHUP: no --config rules to reload\n");
        return;
    }
    pqify_tunnel_file f;
    pqify_config *cfg;
    pqify_ingress *in;
    char err[768];
    if (pqify_tunnel_file_load(t->a.config, &f, &cfg, &in, err, sizeof err) < 0) {
        fprintf(stderr, "pqify tunnel: reload failed, the previous rules stay: %s\n", err);
        return;
    }
    if (pqify_config_reload_check(pqify_tunnel_settings, &t->file, &f, err, sizeof err) < 0)
        fprintf(stderr, "pqify tunnel: reload: %s; only the ingress rules were reloaded\n", err);
    pqify_config_free(cfg);
    size_t n = pqify_ingress_count(in);
    pqify_tunnel_connector_swap_ingress(t->conn, in);
    pqify_counter_add(t->reloads, 1);
    fprintf(stderr, "pqify tunnel: reloaded %zu ingress rules\n", n);
}

static int tn_ready_body(void *ctx, int draining, char *json, size_t cap)
{
    struct tn *t = ctx;
    pqify_tunnel_connector_ready_json(t->conn, draining, json, cap);
    return pqify_tunnel_connector_registered(t->conn) > 0;
}

static int run_connector(int argc, char **argv)
{
    static struct tn t; /* the loop's callbacks point into it */
    char err[768];
    int status = 1;
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&tn_spec, stdout);
        return 0;
    }
    memset(&t, 0, sizeof t);
    int ret = tn_parse(argc, argv, &t);
    if (ret != 0) {
        pqify_ingress_free(t.ingress);
        pqify_config_free(t.file_cfg);
        return ret;
    }
    char host[256], port[16];
    if (t.a.tls.server_name == NULL && pqify_net_split_hostport(t.edges[0], host, sizeof host, port, sizeof port) == 0)
        t.a.tls.server_name = host;
    t.tls = pqify_tls_options_build(&t.a.tls, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (t.tls == NULL) {
        fprintf(stderr, "pqify tunnel: tls.%s\n", err);
        goto done;
    }
    if (t.a.check_config) {
        fprintf(stderr, "pqify tunnel: %s is usable (tunnel %s, %zu ingress rules, %zu edges)\n",
                t.a.config ? t.a.config : "the command line", t.a.name, pqify_ingress_count(t.ingress), t.n_edges);
        status = 0;
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    t.metrics = pqify_metrics_new();
    pqify_metric *rel = t.metrics ? pqify_metrics_counter(t.metrics, "pqify_tunnel_reloads_total",
                                                          "Ingress reloads by SIGHUP that took effect.", NULL)
                                  : NULL;
    if (rel == NULL) {
        fprintf(stderr, "pqify tunnel: cannot declare the metrics\n");
        goto done;
    }
    t.reloads = pqify_metric_series(rel, 0, NULL);
    uv_loop_init(&t.loop);
    pqify_tunnel_connector_options co = {
        .name = t.a.name, .edges = t.edges, .n_edges = t.n_edges, .ha_connections = t.a.ha_connections,
        .tls = t.tls, .ingress = t.ingress, .metrics = t.metrics,
        .stream = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&t.a.tls),
                   .idle_timeout_ms = pqify_tls_options_idle_ms(&t.a.tls, 0)},
        .backoff_base_ms = 100, .backoff_cap_ms = 1000};
    t.ingress = NULL;   /* the connector's now */
    int ok = pqify_tunnel_connector_start(&t.loop, &co, &t.conn, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "pqify tunnel: %s\n", err);
    pqify_service_options svo = {.name = "tunnel", .admin = t.a.admin, .metrics = t.metrics,
                                 .grace_ms = t.a.grace_s * 1000u,
                                 .hooks = {.stop = tn_on_stop, .deadline = tn_on_deadline, .reload = tn_on_reload,
                                           .ctx = &t},
                                 .ready_body = tn_ready_body};
    if (ok && pqify_service_start(&t.svc, &t.loop, &svo, err, sizeof err) != 0) {
        fprintf(stderr, "pqify tunnel: %s\n", err);
        ok = 0;
    }
    if (!ok) {
        pqify_tunnel_connector_free(t.conn);
        t.conn = NULL;
        pqify_service_close_loop(&t.loop);
        goto done;
    }
    char edges[600] = "";
    for (size_t i = 0; i < t.n_edges; i++)
        snprintf(edges + strlen(edges), sizeof edges - strlen(edges), "%s%s", i ? "," : "", t.edges[i]);
    fprintf(stderr, "pqify tunnel: tunnel %s, %u connections to %s, pq=%s, mutual TLS\n", t.a.name,
            t.a.ha_connections, edges, t.a.tls.pq ? t.a.tls.pq : "required");
    pqify_service_announce(&t.svc, edges);
    uv_run(&t.loop, UV_RUN_DEFAULT);
    pqify_tunnel_connector_free(t.conn);
    t.conn = NULL;
    pqify_service_close_loop(&t.loop);
    status = 0;
done:
    pqify_ingress_free(t.ingress);
    pqify_tls_config_free(t.tls);
    pqify_metrics_free(t.metrics);
    pqify_config_free(t.file_cfg);
    return status;
}

int pqify_cmd_tunnel(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "ingress") == 0)
        return cmd_ingress(argc - 1, argv + 1);
    return run_connector(argc, argv);
}
