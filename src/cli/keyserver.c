/* pqify keyserver: the gokeyless key server over post-quantum mutual TLS
 * (docs/keyless.md). The work is src/keyless/server.c on the chassis; this file reads
 * the options (flags, or --config keyserver.yaml through src/net/config), loads the
 * keys, and wires signals and the admin endpoint: SIGHUP reloads the keys (a new
 * store swapped in), SIGTERM/SIGINT drain. Signing runs on libuv's thread pool
 * (--workers sets its size). */
#include <ctype.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli.h"
#include "pqify/keyless.h"
#include "pqify/keyless_client.h"
#include "pqify/keyless_server.h"
#include "pqify/net/config.h"
#include "pqify/net/listener.h"
#include "pqify/net/service.h"
#include "service_cmd.h"
#include "tls_io.h"

#define KS_DEFAULT_LISTEN "0.0.0.0:2407"
#define KS_DEFAULT_ADMIN "127.0.0.1:2406"
#define KS_GRACE_MS 10000u
#define KS_MAX_PKCS11 64

#define KS_MAX_UPSTREAMS 16
#define KS_MAX_UPSTREAM_SKIS 4096

struct ks_args {
    const char *listen, *config, *admin, *keys, *pkcs11, *pkcs11_module;
    pqify_tls_options tls;
    struct pqify_opt_list upstream;   /* --upstream: the default upstream's servers */
    pqify_tls_options up_tls;         /* the client side of the upstream hop */
    int check_config;
    unsigned workers, max_connections; /* 0 until given */
};

#define A(field) offsetof(struct ks_args, field)
static const struct pqify_opt ks_opts[] = {
    {"--listen", "HOST:PORT", PQIFY_OPT_STRING, A(listen), 0, 0, 0,
     "address to listen on (default " KS_DEFAULT_LISTEN "); port 0 picks a free port"},
    {"--keys", "DIR", PQIFY_OPT_STRING, A(keys), 0, 0, 0,
     "directory of PEM private keys (*.key, and *.pem holding a PRIVATE KEY)"},
    {"--pkcs11", "URI", PQIFY_OPT_STRING, A(pkcs11), 0, 0, 0,
     "RFC 7512 pkcs11: URI of keys on a token (more in --config)"},
    {"--pkcs11-module", "FILE", PQIFY_OPT_STRING, A(pkcs11_module), 0, 0, 0,
     "PKCS#11 module when the URI names none"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "the key server's certificate chain (PEM)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key (PEM)"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0,
     "CA that client certificates must chain to (mutual TLS is required)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready, /healthz on loopback (default " KS_DEFAULT_ADMIN "; 'off' = none)"},
    {"--workers", "N", PQIFY_OPT_UINT, A(workers), 1, 1024, 0,
     "signing threads (libuv's pool; default 4)"},
    {"--max-connections", "N", PQIFY_OPT_UINT, A(max_connections), 1, 1000000, 0,
     "connections served at once (default 10000)"},
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "YAML settings (listen, tls:, admin:, keys:, workers,\nmax_connections); flags override the file"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0,
     "load the settings, the TLS files and the keys, report, exit"},
    {"--upstream", "HOST:PORT", PQIFY_OPT_LIST, A(upstream), 0, 0, 0,
     "proxy mode: requests for keys not held here go to\nthis key server (repeat: failovers)"},
    {"--upstream-cert", "FILE", PQIFY_OPT_STRING, A(up_tls.cert), 0, 0, 0,
     "client certificate for the upstream hop (default --cert)"},
    {"--upstream-key", "FILE", PQIFY_OPT_STRING, A(up_tls.key), 0, 0, 0, "its key (default --key)"},
    {"--upstream-ca", "FILE", PQIFY_OPT_STRING, A(up_tls.ca), 0, 0, 0,
     "CA of the upstreams' certificates (default --ca)"},
    {"--upstream-servername", "NAME", PQIFY_OPT_STRING, A(up_tls.server_name), 0, 0, 0,
     "name checked in their certificates (default: the host)"},
};
#undef A

static const struct pqify_cmd_spec ks_spec = {
    .name = "keyserver",
    .usage = "keyserver --cert FILE --key FILE --ca FILE --keys DIR [options]\n"
             "       keyserver --config keyserver.yaml\n",
    .about = "Hold TLS private keys and sign for TLS servers that hold only certificates\n"
             "(the gokeyless protocol over post-quantum mutual TLS 1.3).\n",
    .opts = ks_opts,
    .n_opts = PQIFY_N_OPTS(ks_opts),
    .footer = "Signals: SIGHUP reloads the keys; SIGTERM/SIGINT stop accepting, answer what is\n"
              "in flight, close every connection with close_notify (within 10 s) and exit 0.\n"
              "\n"
              "stderr:\n"
              "  listening on HOST:PORT        (once, when ready)\n",
};

struct ks_keys {
    const char *dir, *pkcs11_module;
    pqify_config_list pkcs11;
};

struct ks_upstream_file {
    pqify_config_list servers, skis;
    int is_default;
};

static const pqify_setting ks_upstream_settings[] = {
    {.name = "servers", .type = PQIFY_SET_LIST, .offset = offsetof(struct ks_upstream_file, servers),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .min_items = 1, .max_items = 16,
     .flags = PQIFY_SET_REQUIRED, .help = "The upstream key server (HOST:PORT), then its failovers."},
    {.name = "skis", .type = PQIFY_SET_LIST, .offset = offsetof(struct ks_upstream_file, skis),
     .elem = PQIFY_SET_STRING, .elem_size = sizeof(const char *), .max_items = KS_MAX_UPSTREAM_SKIS,
     .help = "SKIs (40 hex digits) of the keys it holds."},
    {.name = "default", .type = PQIFY_SET_BOOL, .offset = offsetof(struct ks_upstream_file, is_default),
     .def = "false", .help = "It takes every key not held here nor listed by another upstream."},
    {0},
};

struct ks_file {
    pqify_tls_options tls;
    pqify_admin_config admin;
    struct ks_keys keys;
    pqify_config_list upstreams;
    pqify_tls_options upstream_tls;
    const char *listen;
    int64_t workers, max_connections;
};

static const pqify_setting ks_keys_settings[] = {
    {.name = "dir", .type = PQIFY_SET_STRING, .offset = offsetof(struct ks_keys, dir),
     .flags = PQIFY_SET_RELOAD, .help = "Directory of PEM private keys."},
    {.name = "pkcs11", .type = PQIFY_SET_LIST, .offset = offsetof(struct ks_keys, pkcs11),
     .elem = PQIFY_SET_STRING, .elem_size = sizeof(const char *), .max_items = KS_MAX_PKCS11,
     .flags = PQIFY_SET_RELOAD, .help = "RFC 7512 pkcs11: URIs of keys on tokens."},
    {.name = "pkcs11_module", .type = PQIFY_SET_STRING, .offset = offsetof(struct ks_keys, pkcs11_module),
     .flags = PQIFY_SET_RELOAD, .help = "PKCS#11 module for URIs that name none."},
    {0},
};

static const pqify_setting ks_settings[] = {
    PQIFY_SETTING_MAP("tls", struct ks_file, tls, pqify_tls_settings,
                      "TLS for the listener (ca: required; pq: required by default)."),
    PQIFY_SETTING_MAP("admin", struct ks_file, admin, pqify_admin_settings, "Admin endpoint."),
    PQIFY_SETTING_MAP("keys", struct ks_file, keys, ks_keys_settings, "Where the private keys are."),
    {.name = "upstreams", .type = PQIFY_SET_LIST, .offset = offsetof(struct ks_file, upstreams),
     .elem = PQIFY_SET_MAP, .sub = ks_upstream_settings, .elem_size = sizeof(struct ks_upstream_file),
     .max_items = KS_MAX_UPSTREAMS,
     .help = "Proxy mode: key servers that hold the keys not held here."},
    PQIFY_SETTING_MAP("upstream_tls", struct ks_file, upstream_tls, pqify_tls_settings,
                      "The client side of the upstream hop (default: tls: cert, key, ca)."),
    {.name = "listen", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(struct ks_file, listen),
     .def = KS_DEFAULT_LISTEN, .help = "Address to listen on."},
    {.name = "workers", .type = PQIFY_SET_INT, .offset = offsetof(struct ks_file, workers), .def = "4",
     .min = 1, .max = 1024, .help = "Signing threads."},
    {.name = "max_connections", .type = PQIFY_SET_INT,
     .offset = offsetof(struct ks_file, max_connections), .def = "10000", .min = 1, .max = 1000000,
     .help = "Connections served at once; more wait in the listen queue."},
    {0},
};

/* One upstream in proxy mode: its client and the SKIs it holds. */
struct ks_upstream {
    pqify_tls_config *tls;
    pqify_keyless_client *client;
    uint8_t (*skis)[PQIFY_KEYLESS_SKI_BYTES];
    size_t n_skis;
    int is_default;
    const char *servers[PQIFY_OPT_LIST_MAX];
    size_t n_servers;
};

struct ks {
    struct ks_args a;
    struct ks_upstream up[KS_MAX_UPSTREAMS + 1];
    size_t n_up;
    pqify_config *file_cfg;
    struct ks_file file;
    const char *uris[KS_MAX_PKCS11];
    size_t n_uris;
    uv_loop_t loop;
    pqify_tls_config *tls;
    pqify_keyless_server *srv;
    pqify_service svc;
    pqify_metrics *metrics;
    pqify_series *reloads, *keys;
};

static int ks_unhex_ski(const char *h, uint8_t ski[PQIFY_KEYLESS_SKI_BYTES])
{
    if (strlen(h) != 2 * PQIFY_KEYLESS_SKI_BYTES)
        return -1;
    for (size_t i = 0; i < PQIFY_KEYLESS_SKI_BYTES; i++) {
        unsigned v;
        if (!isxdigit((unsigned char)h[2 * i]) || !isxdigit((unsigned char)h[2 * i + 1]) ||
            sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        ski[i] = (uint8_t)v;
    }
    return 0;
}

static int ks_parse(int argc, char **argv, struct ks *k)
{
    struct ks_args *a = &k->a;
    if (pqify_cli_parse(&ks_spec, argc, argv, a) != 0)
        return -1;
    if (a->config != NULL) {
        char err[512];
        k->file_cfg = pqify_config_load(ks_settings, &k->file, a->config, err, sizeof err);
        if (k->file_cfg == NULL) {
            fprintf(stderr, "pqify keyserver: %s\n", err);
            return -1;
        }
        const struct ks_file *f = &k->file;
        pqify_tls_options_fill_unset(&a->tls, &f->tls);
        pqify_tls_options_fill_unset(&a->up_tls, &f->upstream_tls);
        const struct ks_upstream_file *uf = f->upstreams.items;
        for (size_t i = 0; i < f->upstreams.count; i++) {
            struct ks_upstream *u = &k->up[k->n_up++];
            for (size_t j = 0; j < uf[i].servers.count && j < PQIFY_OPT_LIST_MAX; j++)
                u->servers[u->n_servers++] = ((const char *const *)uf[i].servers.items)[j];
            u->is_default = uf[i].is_default;
            const char *const *sk = uf[i].skis.items;
            u->skis = calloc(uf[i].skis.count + 1, sizeof *u->skis);
            if (u->skis == NULL)
                return -1;
            for (size_t j = 0; j < uf[i].skis.count; j++, u->n_skis++)
                if (ks_unhex_ski(sk[j], u->skis[j]) != 0) {
                    fprintf(stderr, "pqify keyserver: %s: upstreams[%zu].skis[%zu]: '%s' is not 40 "
                                    "hex digits\n", a->config, i, j, sk[j]);
                    return -1;
                }
            if (u->n_skis == 0 && !u->is_default) {
                fprintf(stderr, "pqify keyserver: %s: upstreams[%zu]: give skis: or default: true\n",
                        a->config, i);
                return -1;
            }
        }
        if (a->listen == NULL)
            a->listen = f->listen;
        if (a->admin == NULL)
            a->admin = f->admin.listen ? f->admin.listen : "off";
        if (a->keys == NULL)
            a->keys = f->keys.dir;
        if (a->pkcs11_module == NULL)
            a->pkcs11_module = f->keys.pkcs11_module;
        const char *const *u = f->keys.pkcs11.items;
        for (size_t i = 0; i < f->keys.pkcs11.count && k->n_uris < KS_MAX_PKCS11; i++)
            k->uris[k->n_uris++] = u[i];
        if (a->workers == 0)
            a->workers = (unsigned)f->workers;
        if (a->max_connections == 0)
            a->max_connections = (unsigned)f->max_connections;
    }
    if (a->pkcs11 != NULL && k->n_uris < KS_MAX_PKCS11)
        k->uris[k->n_uris++] = a->pkcs11;
    if (a->upstream.n > 0) { /* --upstream: one more upstream, a default one */
        struct ks_upstream *u = &k->up[k->n_up++];
        for (unsigned j = 0; j < a->upstream.n; j++)
            u->servers[u->n_servers++] = a->upstream.v[j];
        u->is_default = 1;
    }
    if (a->listen == NULL)
        a->listen = KS_DEFAULT_LISTEN;
    if (a->admin == NULL)
        a->admin = KS_DEFAULT_ADMIN;
    if (a->workers == 0)
        a->workers = 4;
    if (a->max_connections == 0)
        a->max_connections = 10000;
    if (a->tls.cert == NULL || a->tls.key == NULL || a->tls.ca == NULL) {
        fprintf(stderr, "pqify keyserver: --cert, --key and --ca are required: clients must present "
                        "a certificate (mutual TLS) (see pqify keyserver --help)\n");
        return -1;
    }
    if (a->keys == NULL && k->n_uris == 0) {
        fprintf(stderr, "pqify keyserver: no keys: give --keys DIR or --pkcs11 URI (or keys: in "
                        "--config)\n");
        return -1;
    }
    return 0;
}

static pqify_keyless_store *ks_load_store(struct ks *k)
{
    pqify_keyless_store_options so = {.dir = k->a.keys, .pkcs11_uris = k->uris,
                                      .pkcs11_uri_count = k->n_uris,
                                      .pkcs11_module = k->a.pkcs11_module};
    char err[768];
    pqify_keyless_store *st = pqify_keyless_store_load(&so, err, sizeof err);
    if (st == NULL)
        fprintf(stderr, "pqify keyserver: %s\n", err);
    return st;
}

static void ks_drained(void *arg)
{
    struct ks *k = arg;
    pqify_service_drained(&k->svc);
    pqify_keyless_server_free(k->srv);
    k->srv = NULL;
}

static void ks_on_stop(void *ctx)
{
    struct ks *k = ctx;
    pqify_keyless_server_drain(k->srv, ks_drained, k);
}

static void ks_on_deadline(void *ctx)
{
    struct ks *k = ctx;
    if (k->srv != NULL)
        pqify_keyless_server_abort(k->srv);
}

static void ks_on_reload(void *ctx)
{
    struct ks *k = ctx;
    if (k->srv == NULL)
        return;
    pqify_keyless_store *st = ks_load_store(k);
    if (st == NULL) {
        fprintf(stderr, "pqify keyserver: reload failed; still signing with the previous keys\n");
        return;
    }
    pqify_keyless_server_swap_store(k->srv, st);
    pqify_gauge_set(k->keys, (double)pqify_keyless_store_count(st));
    pqify_keyless_store_release(st);
    pqify_counter_add(k->reloads, 1);
    fprintf(stderr, "pqify keyserver: reloaded %zu keys\n", pqify_keyless_store_count(st));
}

/* Proxy mode: one keyless client per upstream, over PQ mutual TLS (the hop's
 * credentials default to the listener's own cert, key and CA). */
static int ks_upstreams_open(struct ks *k, int check_only)
{
    pqify_tls_options o = k->a.up_tls;
    if (o.cert == NULL && o.key == NULL) {
        o.cert = k->a.tls.cert;
        o.key = k->a.tls.key;
    }
    if (o.ca == NULL)
        o.ca = k->a.tls.ca;
    for (size_t i = 0; i < k->n_up; i++) {
        struct ks_upstream *u = &k->up[i];
        char host[256], port[16], err[768];
        pqify_tls_options ou = o;
        if (pqify_net_split_hostport(u->servers[0], host, sizeof host, port, sizeof port) != 0) {
            fprintf(stderr, "pqify keyserver: upstream '%s' is not HOST:PORT\n", u->servers[0]);
            return -1;
        }
        if (ou.server_name == NULL)
            ou.server_name = host;
        u->tls = pqify_tls_options_build(&ou, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
        if (u->tls == NULL) {
            fprintf(stderr, "pqify keyserver: upstream_tls.%s\n", err);
            return -1;
        }
        if (check_only)
            continue;
        pqify_keyless_client_options co = {.servers = u->servers, .n_servers = u->n_servers,
                                           .tls = u->tls, .connections = 2};
        u->client = pqify_keyless_client_new(&co, err, sizeof err);
        if (u->client == NULL) {
            fprintf(stderr, "pqify keyserver: upstream %s: %s\n", u->servers[0], err);
            return -1;
        }
        fprintf(stderr, "pqify keyserver: upstream %s%s: %s\n", u->servers[0],
                u->n_servers > 1 ? " (and failovers)" : "",
                u->is_default ? "the default for keys not held here" : "listed keys");
    }
    return 0;
}

static void ks_upstreams_close(struct ks *k)
{
    for (size_t i = 0; i < k->n_up; i++) {
        pqify_keyless_client_free(k->up[i].client);
        pqify_tls_config_free(k->up[i].tls);
        free(k->up[i].skis);
    }
    k->n_up = 0;
}

int pqify_cmd_keyserver(int argc, char **argv)
{
    static struct ks k; /* large, and the loop's callbacks point into it */
    char host[256], port[16], err[768], addr[300];
    int status = 1;
    pqify_keyless_store *st = NULL;

    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&ks_spec, stdout);
        return 0;
    }
    memset(&k, 0, sizeof k);
    if (ks_parse(argc, argv, &k) != 0) {
        pqify_config_free(k.file_cfg);
        return 2;
    }
    if (cli_split_hostport(k.a.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify keyserver: '%s' is not HOST:PORT\n", k.a.listen);
        goto done;
    }
    k.tls = pqify_tls_options_build(&k.a.tls, 1, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (k.tls == NULL) {
        fprintf(stderr, "pqify keyserver: tls.%s\n", err);
        goto done;
    }
    st = ks_load_store(&k);
    if (st == NULL)
        goto done;
    if (ks_upstreams_open(&k, k.a.check_config) != 0)
        goto done;
    if (k.a.check_config) {
        fprintf(stderr, "pqify keyserver: %s is usable (%zu keys)\n",
                k.a.config ? k.a.config : "the command line", pqify_keyless_store_count(st));
        status = 0;
        goto done;
    }
    /* libuv sizes its pool from the environment at the first uv_queue_work. */
    char n[16];
    snprintf(n, sizeof n, "%u", k.a.workers);
    setenv("UV_THREADPOOL_SIZE", n, 1);
    signal(SIGPIPE, SIG_IGN);

    k.metrics = pqify_metrics_new();
    pqify_metric *rel = k.metrics ? pqify_metrics_counter(k.metrics, "pqify_keyless_reloads_total",
                                                          "Key reloads by SIGHUP that took effect.", NULL)
                                  : NULL;
    pqify_metric *keys = k.metrics ? pqify_metrics_gauge(k.metrics, "pqify_keyless_keys",
                                                         "Private keys held now.", NULL)
                                   : NULL;
    if (rel == NULL || keys == NULL) {
        fprintf(stderr, "pqify keyserver: cannot declare the metrics\n");
        goto done;
    }
    k.reloads = pqify_metric_series(rel, 0, NULL);
    k.keys = pqify_metric_series(keys, 0, NULL);
    pqify_gauge_set(k.keys, (double)pqify_keyless_store_count(st));

    uv_loop_init(&k.loop);
    pqify_keyless_upstream ups[KS_MAX_UPSTREAMS + 1];
    for (size_t i = 0; i < k.n_up; i++)
        ups[i] = (pqify_keyless_upstream){.client = k.up[i].client,
                                          .skis = (const uint8_t(*)[PQIFY_KEYLESS_SKI_BYTES])k.up[i].skis,
                                          .n_skis = k.up[i].n_skis,
                                          .is_default = k.up[i].is_default};
    pqify_keyless_server_options so = {
        .upstreams = ups, .n_upstreams = k.n_up,
        .host = host, .port = port, .tls = k.tls, .store = st, .metrics = k.metrics,
        .max_connections = k.a.max_connections,
        .stream = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&k.a.tls),
                   .idle_timeout_ms = pqify_tls_options_idle_ms(&k.a.tls, 1)}};
    int ok = pqify_keyless_server_start(&k.loop, &so, &k.srv, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "pqify keyserver: %s\n", err);
    pqify_service_options svo = {.name = "keyserver", .admin = k.a.admin, .metrics = k.metrics,
                                 .grace_ms = KS_GRACE_MS,
                                 .hooks = {ks_on_stop, ks_on_deadline, ks_on_reload, NULL, &k}};
    ok = ok && cli_service_start(&k.svc, &k.loop, &svo) == 0;
    if (!ok) {
        pqify_keyless_server_free(k.srv);
        k.srv = NULL;
        pqify_service_close_loop(&k.loop);
        goto done;
    }
    pqify_keyless_server_address(k.srv, addr, sizeof addr);
    fprintf(stderr, "pqify keyserver: %zu keys, %u workers, pq=%s, mutual TLS\n",
            pqify_keyless_store_count(st), k.a.workers, k.a.tls.pq ? k.a.tls.pq : "required");
    pqify_service_announce(&k.svc, addr);
    uv_run(&k.loop, UV_RUN_DEFAULT);
    pqify_service_close_loop(&k.loop);
    status = 0;

done:
    ks_upstreams_close(&k);
    pqify_keyless_store_release(st);
    pqify_tls_config_free(k.tls);
    pqify_metrics_free(k.metrics);
    pqify_config_free(k.file_cfg);
    return status;
}
