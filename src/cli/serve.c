/* pqify serve: a TLS 1.3 echo (or tiny HTTPS) server on the pqify engine that
 * reports, per connection, what was negotiated (docs/serve-connect.md).
 * The stderr line formats are fixed: scripts and the interop tests parse them.
 *
 * It runs on the service chassis (src/net): one process, N loops (--workers) on
 * SO_REUSEPORT sockets, each connection a TLS stream with handshake and idle
 * timeouts, a connection cap, SIGTERM/SIGINT drain and SIGHUP certificate reload.
 * HTTP (--www) is parsed by http-parser, never by hand. */
#include <errno.h>
#include <limits.h>
#include <http_parser.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "pqify/keyless_client.h"
#include "pqify/net/config.h"
#include "pqify/net/conn_set.h"
#include "pqify/net/listener.h"
#include "pqify/net/metrics.h"
#include "pqify/net/service.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"
#include "service_cmd.h"
#include "tls_io.h"

#define DEFAULT_MAX_CONNECTIONS 10000
#define DEFAULT_GRACE_S 10
/* The longest request head --www reads (request line and headers); more is 431. */
#define WWW_MAX_HEAD 8192

/* --keyless: the served certificate's key lives on key servers; these are the
 * servers and the client side of the hop to them (docs/keyless.md). */
struct serve_keyless {
    struct pqify_opt_list servers;
    pqify_tls_options tls;   /* cert, key, ca, pq (default required), server_name */
};

struct serve_args {
    const char *listen, *config, *admin;
    pqify_tls_options tls;
    struct serve_keyless keyless;
    int www, once, check_config;
    unsigned idle_s, max_connections, workers; /* UNSET until given */
};
#define UNSET UINT_MAX   /* an option the command line did not give */

#define A(field) offsetof(struct serve_args, field)
static const struct pqify_opt serve_opts[] = {
    {"--listen", "HOST:PORT", PQIFY_OPT_STRING, A(listen), 0, 0, 0,
     "address to listen on; port 0 picks a free port"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0,
     "certificate chain (PEM, leaf first)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0,
     "private key (PEM: ECDSA P-256/P-384, RSA, Ed25519)"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0,
     "require client certificates that chain to FILE"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "preferred (default) | required | off"},
    {"--groups", "LIST", PQIFY_OPT_STRING, A(tls.groups), 0, 0, 0,
     "expert override of the group preference\n(legacy groups only when named here)"},
    {"--alpn", "LIST", PQIFY_OPT_STRING, A(tls.alpn), 0, 0, 0,
     "ALPN protocols accepted, in preference order\n(with --www: http/1.1, the only protocol it answers)"},
    {"--ciphers", "LIST", PQIFY_OPT_STRING, A(tls.ciphers), 0, 0, 0,
     "TLS 1.3 suites in preference order"},
    {"--www", NULL, PQIFY_OPT_FLAG, A(www), 0, 0, 0,
     "answer each HTTP/1.1 request with 200 and a page of facts"},
    {"--once", NULL, PQIFY_OPT_FLAG, A(once), 0, 0, 0,
     "serve one connection, then exit with its status"},
    {"--timeout", "SEC", PQIFY_OPT_UINT, A(tls.handshake_timeout_ms), 1, 3600, 1000,
     "handshake limit per connection (default 10)"},
    {"--idle-timeout", "SEC", PQIFY_OPT_UINT, A(idle_s), 0, 86400, 0,
     "close an established connection idle this long\n(default 300; 0 = never)"},
    {"--max-connections", "N", PQIFY_OPT_UINT, A(max_connections), 1, 1000000, 0,
     "connections served at once (default 10000); more wait\nin the listen queue"},
    {"--workers", "N", PQIFY_OPT_UINT, A(workers), 1, 256, 0,
     "event loops on SO_REUSEPORT sockets (default: one per core)"},
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "YAML settings (tls:, admin:, listen, www, max_connections,\nworkers); flags override the file"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0,
     "load --config, report, and exit (0 when usable)"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready and /healthz on a loopback address"},
    {"--keyless", "HOST:PORT", PQIFY_OPT_LIST, A(keyless.servers), 0, 0, 0,
     "sign with the key server here instead of --key (repeat:\nthe next ones take over when it is down)"},
    {"--keyless-cert", "FILE", PQIFY_OPT_STRING, A(keyless.tls.cert), 0, 0, 0,
     "client certificate for the key server hop (mutual TLS)"},
    {"--keyless-key", "FILE", PQIFY_OPT_STRING, A(keyless.tls.key), 0, 0, 0, "its private key"},
    {"--keyless-ca", "FILE", PQIFY_OPT_STRING, A(keyless.tls.ca), 0, 0, 0,
     "CA the key servers' certificates must chain to"},
    {"--keyless-pq", "MODE", PQIFY_OPT_STRING, A(keyless.tls.pq), 0, 0, 0,
     "the hop's pq mode: required (default) | preferred | off"},
    {"--keyless-servername", "NAME", PQIFY_OPT_STRING, A(keyless.tls.server_name), 0, 0, 0,
     "name to check in the key servers' certificates\n(default: the first --keyless host)"},
};
#undef A

static const struct pqify_cmd_spec serve_spec = {
    .name = "serve",
    .usage = "serve --listen HOST:PORT --cert FILE --key FILE [options]\n"
             "       serve --listen HOST:PORT --cert FILE --keyless HOST:PORT --keyless-cert FILE "
             "--keyless-key FILE --keyless-ca FILE [options]\n",
    .about = "Accept TLS 1.3 connections, print what each negotiated to stderr, then echo\n"
             "the data back (or answer HTTP requests with --www).\n",
    .opts = serve_opts,
    .n_opts = PQIFY_N_OPTS(serve_opts),
    .footer = "Signals: SIGTERM/SIGINT stop accepting, close every connection with\n"
              "close_notify (within 10 s) and exit 0; SIGHUP reloads --cert and --key for new\n"
              "connections while established ones carry on.\n"
              "\n"
              "stderr:\n"
              "  listening on HOST:PORT                       (once, when ready)\n"
              "  accepted peer=ADDR version=TLSv1.3 group=NAME pq=yes|no hrr=yes|no "
              "cipher=NAME client_cert=SUBJECT|- resumed=yes|no\n"
              "                      (one session ticket is issued per handshake)\n"
              "  pqify serve: handshake with ADDR failed: WHY  (on failure)\n",
};


/* keyless: in the file: the servers and the hop's TLS. */
struct serve_file_keyless {
    pqify_config_list servers;
    pqify_tls_options tls;
};

static const pqify_setting serve_keyless_settings[] = {
    {.name = "servers", .type = PQIFY_SET_LIST, .offset = offsetof(struct serve_file_keyless, servers),
     .elem = PQIFY_SET_HOSTPORT, .elem_size = sizeof(const char *), .min_items = 1,
     .max_items = PQIFY_OPT_LIST_MAX,
     .help = "Key servers (HOST:PORT) in failover order; the certificate's key lives there."},
    {.name = "cert", .type = PQIFY_SET_STRING, .offset = offsetof(struct serve_file_keyless, tls.cert),
     .help = "Client certificate for the hop (PEM; key servers require mutual TLS)."},
    {.name = "key", .type = PQIFY_SET_STRING, .offset = offsetof(struct serve_file_keyless, tls.key),
     .help = "Its private key."},
    {.name = "ca", .type = PQIFY_SET_STRING, .offset = offsetof(struct serve_file_keyless, tls.ca),
     .help = "CA the key servers' certificates chain to."},
    {.name = "pq", .type = PQIFY_SET_ENUM, .offset = offsetof(struct serve_file_keyless, tls.pq),
     .words = (const char *const[]){"required", "preferred", "off", NULL},
     .help = "The hop's post-quantum mode (default required)."},
    {.name = "server_name", .type = PQIFY_SET_STRING,
     .offset = offsetof(struct serve_file_keyless, tls.server_name),
     .help = "Name checked in the key servers' certificates (default: the first server's host)."},
    {0},
};

/* What --config may hold: the shared tls: and admin: blocks and serve's own keys. */
struct serve_file {
    pqify_tls_options tls;
    pqify_admin_config admin;
    struct serve_file_keyless keyless;
    const char *listen;
    int www;
    int64_t max_connections, workers;
};

static const pqify_setting serve_settings[] = {
    PQIFY_SETTING_MAP("tls", struct serve_file, tls, pqify_tls_settings, "TLS for the listener."),
    PQIFY_SETTING_MAP("admin", struct serve_file, admin, pqify_admin_settings, "Admin endpoint."),
    PQIFY_SETTING_MAP("keyless", struct serve_file, keyless, serve_keyless_settings,
                      "Sign through key servers instead of tls.key (docs/keyless.md)."),
    {.name = "listen", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(struct serve_file, listen),
     .help = "Address to listen on (HOST:PORT; port 0 picks a free port)."},
    {.name = "www", .type = PQIFY_SET_BOOL, .offset = offsetof(struct serve_file, www), .def = "false",
     .help = "Answer each HTTP/1.1 request with a page of facts instead of echoing."},
    {.name = "max_connections", .type = PQIFY_SET_INT,
     .offset = offsetof(struct serve_file, max_connections), .def = "10000", .min = 1, .max = 1000000,
     .help = "Connections served at once; more wait in the listen queue."},
    {.name = "workers", .type = PQIFY_SET_INT, .offset = offsetof(struct serve_file, workers),
     .def = "0", .min = 0, .max = 256, .help = "Event loops on SO_REUSEPORT sockets; 0 = one per core."},
    {0},
};

/* The file fills what the flags left unset. */
static void apply_file(struct serve_args *a, const struct serve_file *f)
{
    pqify_tls_options_fill_unset(&a->tls, &f->tls);
    pqify_tls_options_fill_unset(&a->keyless.tls, &f->keyless.tls);
    if (a->keyless.servers.n == 0)
        for (size_t i = 0; i < f->keyless.servers.count && i < PQIFY_OPT_LIST_MAX; i++)
            a->keyless.servers.v[a->keyless.servers.n++] = ((const char **)f->keyless.servers.items)[i];
    if (a->idle_s == UNSET && f->tls.idle_timeout_ms != 0)
        a->idle_s = f->tls.idle_timeout_ms / 1000u;
    if (a->listen == NULL)
        a->listen = f->listen;
    if (a->admin == NULL)
        a->admin = f->admin.listen;
    a->www |= f->www;
    if (a->max_connections == UNSET)
        a->max_connections = (unsigned)f->max_connections;
    if (a->workers == UNSET)
        a->workers = (unsigned)f->workers;
}

static pqify_config *loaded_config;

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    memset(a, 0, sizeof *a);
    a->idle_s = a->max_connections = a->workers = UNSET;
    if (pqify_cli_parse(&serve_spec, argc, argv, a) != 0)
        return -1;
    static struct serve_file file;
    if (cli_config_load("serve", serve_settings, &file, a->config, a->check_config, 0,
                        &loaded_config) != 0)
        return -1;
    if (loaded_config != NULL)
        apply_file(a, &file);
    if (a->keyless.servers.n > 0) {
        if (a->tls.key != NULL) {
            fprintf(stderr, "pqify serve: --key and --keyless exclude each other: with --keyless the "
                            "key lives on the key server\n");
            return -1;
        }
        if (a->keyless.tls.cert == NULL || a->keyless.tls.key == NULL || a->keyless.tls.ca == NULL) {
            fprintf(stderr, "pqify serve: --keyless needs --keyless-cert, --keyless-key and "
                            "--keyless-ca (key servers require mutual TLS)\n");
            return -1;
        }
    } else if (a->keyless.tls.cert || a->keyless.tls.key || a->keyless.tls.ca || a->keyless.tls.pq) {
        fprintf(stderr, "pqify serve: --keyless-cert, --keyless-key, --keyless-ca and --keyless-pq "
                        "need --keyless HOST:PORT\n");
        return -1;
    }
    if (a->listen == NULL || a->tls.cert == NULL ||
        (a->tls.key == NULL && a->keyless.servers.n == 0)) {
        fprintf(stderr, "pqify serve: --listen, --cert and --key are required (or --keyless instead "
                        "of --key) (see pqify serve --help)\n");
        return -1;
    }
    if (a->www) {
        /* --www answers HTTP/1.1 only: agreeing to h2 by ALPN and then answering
         * HTTP/1.1 breaks every h2 client (RFC 7301 §3.2). */
        if (a->tls.alpn == NULL)
            a->tls.alpn = "http/1.1";
        else if (strstr(a->tls.alpn, "h2") != NULL) {
            fprintf(stderr, "pqify serve: --alpn '%s': --www answers HTTP/1.1 only, so it "
                            "must not offer h2\n", a->tls.alpn);
            return -1;
        }
    }
    a->tls.idle_timeout_ms = a->idle_s != UNSET ? a->idle_s * 1000u : 0;
    if (a->max_connections == UNSET)
        a->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (a->workers == UNSET || a->workers == 0) {
        unsigned cores = uv_available_parallelism();
        a->workers = cores > 0 ? cores : 1;
    }
    if (a->once)
        a->workers = 1;
    return 0;
}

/* ---- the configuration every worker shares; SIGHUP swaps it ------------------------- */

/* A config is immutable once used; a connection keeps the one it started with
 * until it closes (established connections survive a reload). */
struct shared_cfg {
    pqify_tls_config *cfg;
    pqify_keyless_remote_key *rk;  /* --keyless: the certificate's key on the key server */
    atomic_int refs;
};

/* --keyless: the one client (its own thread) every worker's handshakes sign through. */
static pqify_keyless_client *keyless_client;

static pthread_mutex_t cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shared_cfg *current_cfg;
/* Tickets survive a reload and are accepted by every worker. */
static uint8_t ticket_secret[32];

static struct shared_cfg *cfg_get(void)
{
    pthread_mutex_lock(&cfg_mu);
    struct shared_cfg *sc = current_cfg;
    atomic_fetch_add(&sc->refs, 1);
    pthread_mutex_unlock(&cfg_mu);
    return sc;
}

static void cfg_put(struct shared_cfg *sc)
{
    if (sc != NULL && atomic_fetch_sub(&sc->refs, 1) == 1) {
        pqify_tls_config_free(sc->cfg);
        pqify_keyless_remote_key_free(sc->rk);
        free(sc);
    }
}

static struct shared_cfg *cfg_build(const struct serve_args *a)
{
    pqify_tls_config *cfg = cli_tls_config("serve", &a->tls, 1);
    if (cfg == NULL)
        return NULL;
    pqify_keyless_remote_key *rk = NULL;
    if (keyless_client != NULL) {
        char err[600];
        rk = pqify_keyless_remote_key_new(keyless_client, a->tls.cert, err, sizeof err);
        if (rk == NULL || pqify_tls_config_set_signer(cfg, pqify_keyless_signer(rk)) != 0) {
            fprintf(stderr, "pqify serve: --cert %s\n", rk == NULL ? err : "cannot take the keyless signer");
            pqify_keyless_remote_key_free(rk);
            pqify_tls_config_free(cfg);
            return NULL;
        }
    }
    if (pqify_tls_config_set_ticket_secret(cfg, ticket_secret, sizeof ticket_secret) != 0) {
        pqify_keyless_remote_key_free(rk);
        pqify_tls_config_free(cfg);
        fprintf(stderr, "pqify serve: cannot set the ticket secret\n");
        return NULL;
    }
    struct shared_cfg *sc = malloc(sizeof *sc);
    if (sc == NULL) {
        pqify_keyless_remote_key_free(rk);
        pqify_tls_config_free(cfg);
        return NULL;
    }
    sc->cfg = cfg;
    sc->rk = rk;
    atomic_init(&sc->refs, 1);
    return sc;
}

/* ---- workers and connections ------------------------------------------------------ */

struct server;

struct worker {
    struct server *srv;
    unsigned index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t control;          /* stop / deadline / "a worker finished" */
    pqify_listener *listener;
    pqify_conn_set conns;        /* its gauge: pqify_serve_connections, shared */
    int stopping, deadline, done;
};

struct server {
    struct serve_args a;
    pqify_stream_opts sopts;
    struct worker *w;
    unsigned n_workers;
    atomic_int stop, deadline;
    atomic_uint workers_running;
    pqify_service svc;           /* on worker 0's loop */
    int svc_open;
    int once_status;
    struct {
        pqify_metrics *m;
        pqify_tls_metrics tls;
        pqify_series *open, *accepted, *failed, *reloads;
    } met;
};

/* Declared once at start-up; a NULL family is a programming error (metrics.h). */
static int metrics_init(struct server *srv)
{
    pqify_metrics *m = pqify_metrics_new();
    if (m == NULL)
        return -1;
    srv->met.m = m;
    pqify_metric *open = pqify_metrics_gauge(m, "pqify_serve_connections",
                                             "Connections open now (handshaking or established).", NULL);
    pqify_metric *acc = pqify_metrics_counter(m, "pqify_serve_accepted_total",
                                              "TCP connections accepted.", NULL);
    pqify_metric *fail = pqify_metrics_counter(m, "pqify_serve_handshake_failures_total",
                                               "Handshakes that failed or timed out.", NULL);
    pqify_metric *rel = pqify_metrics_counter(m, "pqify_serve_reloads_total",
                                              "Certificate reloads by SIGHUP that took effect.", NULL);
    if (open == NULL || acc == NULL || fail == NULL || rel == NULL ||
        pqify_tls_metrics_init(&srv->met.tls, m) != 0)
        return -1;
    srv->met.open = pqify_metric_series(open, 0, NULL);
    srv->met.accepted = pqify_metric_series(acc, 0, NULL);
    srv->met.failed = pqify_metric_series(fail, 0, NULL);
    srv->met.reloads = pqify_metric_series(rel, 0, NULL);
    return 0;
}

/* The facts of one connection, as printed on the `accepted` line (--www keeps
 * them for its page; echo keeps nothing after the line). */
struct facts {
    char line[1024];
    char alpn[256];
    char server_name[256];
    unsigned long long handshake_us;
    int resumed;
};

struct www {
    http_parser parser;
    size_t head_bytes;
    int keep_alive;
    struct facts f;
};

struct conn {
    pqify_conn_link link;
    struct worker *w;
    pqify_stream *s;
    struct shared_cfg *sc;
    struct www *www;             /* --www only, after the handshake */
    int established;
};

static void describe(const pqify_tls_conn *conn, const char *peer, struct facts *f)
{
    pqify_tls_info info;
    pqify_tls_get_info(conn, &info);
    snprintf(f->line, sizeof f->line,
             "accepted peer=%s version=%s group=%s pq=%s hrr=%s cipher=%s client_cert=%s", peer,
             info.version, info.group, info.is_pq ? "yes" : "no", info.hrr ? "yes" : "no",
             info.cipher, info.peer_cert && info.peer_subject[0] ? info.peer_subject : "-");
    f->resumed = info.resumed;
    snprintf(f->alpn, sizeof f->alpn, "%s", info.alpn[0] ? info.alpn : "-");
    snprintf(f->server_name, sizeof f->server_name, "%s", info.server_name[0] ? info.server_name : "-");
    f->handshake_us = (unsigned long long)info.handshake_us;
}

/* Escape <, > and & so a certificate subject cannot inject markup. */
static void html_escape(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 6 < cap; s++) {
        const char *rep = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;
        if (rep != NULL) {
            size_t rl = strlen(rep);
            memcpy(out + k, rep, rl);
            k += rl;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

/* ---- --www: HTTP/1.1 through http-parser ---------------------------------------------- */

static int www_count(http_parser *p, const char *at, size_t len)
{
    (void)at;
    struct conn *c = p->data;
    c->www->head_bytes += len;
    /* Returning non-zero stops the parser: HPE_CB_*, answered with 431. */
    return c->www->head_bytes > WWW_MAX_HEAD;
}

static int www_begin(http_parser *p)
{
    ((struct conn *)p->data)->www->head_bytes = 0;
    return 0;
}

static int www_headers_done(http_parser *p)
{
    struct conn *c = p->data;
    c->www->keep_alive = http_should_keep_alive(p);
    return 0;
}

static int www_answer(http_parser *p)
{
    struct conn *c = p->data;
    const struct facts *f = &c->www->f;
    char body[2560], esc[1536], sni[768], hdr[256];
    html_escape(f->line + strlen("accepted "), esc, sizeof esc);
    html_escape(f->server_name, sni, sizeof sni);
    /* Counted now, not at the handshake: a peer may have updated its keys. */
    pqify_tls_info now;
    pqify_tls_get_info(pqify_stream_conn(c->s), &now);
    int blen = snprintf(body, sizeof body,
                        "<!doctype html>\n<html><head><title>pqify serve</title></head><body>\n"
                        "<h1>pqify serve</h1>\n<pre>%s alpn=%s server_name=%s handshake_us=%llu "
                        "key_updates_received=%llu key_updates_sent=%llu</pre>\n"
                        "</body></html>\n",
                        esc, f->alpn, sni, f->handshake_us,
                        (unsigned long long)now.key_updates_received,
                        (unsigned long long)now.key_updates_sent);
    if (blen < 0 || (size_t)blen >= sizeof body)
        return 1;
    int keep = c->www->keep_alive;
    int hlen = snprintf(hdr, sizeof hdr,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                        "Content-Length: %d\r\nConnection: %s\r\n\r\n",
                        blen, keep ? "keep-alive" : "close");
    if (pqify_stream_send(c->s, hdr, (size_t)hlen) != 0 ||
        pqify_stream_send(c->s, body, (size_t)blen) != 0)
        return 1;
    if (!keep) {
        pqify_stream_close(c->s);
        return 1;   /* stop parsing: nothing after this request is answered */
    }
    return 0;
}

static const http_parser_settings www_settings = {
    .on_message_begin = www_begin,
    .on_url = www_count,
    .on_header_field = www_count,
    .on_header_value = www_count,
    .on_headers_complete = www_headers_done,
    .on_message_complete = www_answer,
};

static void www_refuse(struct conn *c, const char *status, const char *why)
{
    char resp[160];
    int n = snprintf(resp, sizeof resp, "HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                     status);
    fprintf(stderr, "pqify serve: %s %s\n", pqify_stream_peer(c->s), why);
    if (pqify_stream_send(c->s, resp, (size_t)n) == 0)
        pqify_stream_close(c->s);
}

static void www_data(struct conn *c, const uint8_t *data, size_t len)
{
    http_parser *p = &c->www->parser;
    if (HTTP_PARSER_ERRNO(p) != HPE_OK)
        return;   /* answered and closing */
    size_t used = http_parser_execute(p, &www_settings, (const char *)data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(p);
    if (e == HPE_OK && p->upgrade) {
        www_refuse(c, "400 Bad Request", "asked for a protocol upgrade, which --www does not do");
        return;
    }
    if (e == HPE_OK || e == HPE_CB_message_complete)
        return;
    (void)used;
    if (e == HPE_HEADER_OVERFLOW || e == HPE_CB_url || e == HPE_CB_header_field ||
        e == HPE_CB_header_value) {
        char why[96];
        snprintf(why, sizeof why, "sent an HTTP request head over %d bytes", WWW_MAX_HEAD);
        www_refuse(c, "431 Request Header Fields Too Large", why);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "sent a malformed HTTP request: %s", http_errno_description(e));
    www_refuse(c, "400 Bad Request", why);
}

/* ---- stream callbacks ---------------------------------------------------------------- */

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct conn *c = ctx;
    c->established = 1;
    pqify_tls_metrics_handshake(&c->w->srv->met.tls, pqify_stream_conn(s), 1);
    if (c->w->srv->a.www) {
        c->www = calloc(1, sizeof *c->www);
        if (c->www == NULL) {
            pqify_stream_abort(s);
            return;
        }
        http_parser_init(&c->www->parser, HTTP_REQUEST);
        c->www->parser.data = c;
        describe(pqify_stream_conn(s), pqify_stream_peer(s), &c->www->f);
        fprintf(stderr, "%s resumed=%s\n", c->www->f.line, c->www->f.resumed ? "yes" : "no");
    } else {
        struct facts f;
        describe(pqify_stream_conn(s), pqify_stream_peer(s), &f);
        fprintf(stderr, "%s resumed=%s\n", f.line, f.resumed ? "yes" : "no");
    }
    if (c->w->stopping)
        pqify_stream_close(s);   /* finished its handshake during the drain */
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    struct conn *c = ctx;
    if (c->www != NULL)
        www_data(c, data, len);
    else if (pqify_stream_send(s, data, len) != 0)
        pqify_stream_close(s);
}

static void worker_maybe_done(struct worker *w);

static void on_close(pqify_stream *s, int status, void *ctx)
{
    struct conn *c = ctx;
    struct worker *w = c->w;
    const char *peer = pqify_stream_peer(s);
    pqify_conn_set_closed(&w->conns, &c->link);
    if (!c->established) {
        if (status != PQIFY_STREAM_ABORTED) {
            pqify_counter_add(w->srv->met.failed, 1);
            /* The words the blocking server used (cli_strerror), for scripts. */
            const char *why = status == PQIFY_STREAM_HANDSHAKE_TIMEOUT ? cli_strerror(CLI_IO_TIMEOUT)
                              : status == PQIFY_STREAM_EOF             ? cli_strerror(CLI_IO_EOF)
                                                                       : pqify_stream_strerror(status);
            fprintf(stderr, "pqify serve: handshake with %s failed: %s\n", peer, why);
        }
    } else if (status == PQIFY_STREAM_EOF) {
        fprintf(stderr, "pqify serve: %s closed the connection without close_notify\n", peer);
    } else if (status == PQIFY_STREAM_IDLE_TIMEOUT) {
        fprintf(stderr, "pqify serve: %s was idle for %u s: closed with close_notify\n", peer,
                pqify_tls_options_idle_ms(&w->srv->a.tls, 1) / 1000);
    } else if (status != 0 && status != PQIFY_STREAM_ABORTED) {
        fprintf(stderr, "pqify serve: connection with %s failed: %s\n", peer,
                pqify_stream_strerror(status));
    }
    if (w->srv->a.once)
        w->srv->once_status = c->established && status == 0 ? 0 : 1;
    pqify_conn_set_remove(&w->conns, &c->link);
    if (w->listener != NULL)
        pqify_listener_done(w->listener);
    cfg_put(c->sc);
    free(c->www);
    free(c);
    if (w->srv->a.once) {
        atomic_store(&w->srv->stop, 1);
        w->stopping = 1;
    }
    worker_maybe_done(w);
}

/* --keyless: the handshake waits for CertificateVerify from the key server. */
static void on_want_signature(pqify_stream *s, void *ctx)
{
    struct conn *c = ctx;
    if (c->sc->rk != NULL)
        pqify_keyless_sign_stream(s, c->sc->rk);
}

static const pqify_stream_cbs serve_cbs = {on_handshake, on_data, on_want_signature, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    struct worker *w = ctx;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->w = w;
    c->sc = cfg_get();
    if (pqify_stream_accept(&w->loop, fd, c->sc->cfg, &w->srv->sopts, &serve_cbs, c, &c->s) != 0) {
        char addr[64];
        pqify_net_format_addr(peer, addr, sizeof addr);
        fprintf(stderr, "pqify serve: cannot create a connection for %s\n", addr);
        cfg_put(c->sc);
        free(c);
        pqify_listener_done(l);
        return;
    }
    pqify_counter_add(w->srv->met.accepted, 1);
    pqify_conn_set_add(&w->conns, &c->link, c, &c->s);
    if (w->srv->a.once) {
        /* --once: this is the one connection; nobody else gets in. */
        pqify_listener_free(w->listener);
        w->listener = NULL;
    }
}

/* ---- stop and drain ----------------------------------------------------------------- */

static void on_control_closed(uv_handle_t *h)
{
    (void)h;
}

static void worker_maybe_done(struct worker *w)
{
    if (!w->stopping || pqify_conn_set_count(&w->conns) > 0 || w->done)
        return;
    w->done = 1;
    struct server *srv = w->srv;
    if (atomic_fetch_sub(&srv->workers_running, 1) == 1 && srv->svc_open) {
        /* The last worker out: worker 0's loop may end too (the service closed). */
        uv_async_send(&srv->w[0].control);
    }
    if (w->index != 0)
        uv_close((uv_handle_t *)&w->control, on_control_closed);
    else
        uv_async_send(&w->control);
}

static void conn_close(void *conn)
{
    pqify_stream_close(((struct conn *)conn)->s);
}

static void worker_stop(struct worker *w)
{
    if (!w->stopping) {
        w->stopping = 1;
        if (w->listener != NULL) {
            pqify_listener_free(w->listener);
            w->listener = NULL;
        }
        /* Established connections end with close_notify; handshakes still in
         * progress are not work yet and are dropped. worker_maybe_done (below, and
         * as each connection closes) ends the worker: --once stops it too. */
        pqify_conn_set_drain(&w->conns, conn_close, NULL, NULL);
    }
    if (atomic_load(&w->srv->deadline) && !w->deadline) {
        w->deadline = 1;
        pqify_conn_set_abort(&w->conns);
    }
    worker_maybe_done(w);
}

static void on_control(uv_async_t *h)
{
    struct worker *w = h->data;
    struct server *srv = w->srv;
    if (atomic_load(&srv->stop))
        worker_stop(w);
    if (w->index == 0 && atomic_load(&srv->workers_running) == 0) {
        if (srv->svc_open) {
            srv->svc_open = 0;
            pqify_service_drained(&srv->svc);
        }
        if (!uv_is_closing((uv_handle_t *)&w->control))
            uv_close((uv_handle_t *)&w->control, on_control_closed);
    }
}

static void broadcast(struct server *srv)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        uv_async_send(&srv->w[i].control);
}

static void on_stop_signal(void *ctx)
{
    struct server *srv = ctx;
    atomic_store(&srv->stop, 1);
    broadcast(srv);
}

static void on_deadline(void *ctx)
{
    struct server *srv = ctx;
    atomic_store(&srv->stop, 1);
    atomic_store(&srv->deadline, 1);
    broadcast(srv);
}

static void on_reload(void *ctx)
{
    struct server *srv = ctx;
    struct shared_cfg *fresh = cfg_build(&srv->a);
    if (fresh == NULL) {
        fprintf(stderr, "pqify serve: reload failed; still serving the previous certificate\n");
        return;
    }
    pthread_mutex_lock(&cfg_mu);
    struct shared_cfg *old = current_cfg;
    current_cfg = fresh;
    pthread_mutex_unlock(&cfg_mu);
    cfg_put(old);
    pqify_counter_add(srv->met.reloads, 1);
    fprintf(stderr, "pqify serve: reloaded %s and %s\n", srv->a.tls.cert,
            srv->a.tls.key ? srv->a.tls.key : "its key server's SKI");
}

static void worker_thread(void *arg)
{
    struct worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

static int worker_open(struct server *srv, unsigned i, const char *host, const char *port)
{
    struct worker *w = &srv->w[i];
    char err[300];
    w->srv = srv;
    w->index = i;
    w->conns.open = srv->met.open;
    uv_loop_init(&w->loop);
    uv_async_init(&w->loop, &w->control, on_control);
    w->control.data = w;
    unsigned long per = (srv->a.max_connections + srv->n_workers - 1) / srv->n_workers;
    pqify_listener_opts lo = {.host = host, .port = port, .max_connections = (unsigned)per,
                              .reuseport = srv->n_workers > 1};
    if (pqify_listener_open(&w->loop, &lo, on_accept, w, &w->listener, err, sizeof err) != 0) {
        fprintf(stderr, "pqify serve: %s\n", err);
        return -1;
    }
    return 0;
}

/* --keyless: the hop's client config, then (unless only checking) the client. */
static int keyless_open(struct serve_args *a, pqify_tls_config **cfg_out, int check_only)
{
    char host[256], port[16], err[768];
    pqify_tls_options o = a->keyless.tls;
    if (pqify_net_split_hostport(a->keyless.servers.v[0], host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify serve: --keyless '%s' is not HOST:PORT\n", a->keyless.servers.v[0]);
        return -1;
    }
    if (o.server_name == NULL)
        o.server_name = host;
    pqify_tls_config *cfg = pqify_tls_options_build(&o, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "pqify serve: --keyless-%s\n", err);
        return -1;
    }
    *cfg_out = cfg;
    if (check_only)
        return 0;
    pqify_keyless_client_options co = {
        .servers = a->keyless.servers.v,
        .n_servers = a->keyless.servers.n,
        .tls = cfg,
        .connections = 2,
        .deadline_ms = pqify_tls_options_handshake_ms(&a->tls),
    };
    keyless_client = pqify_keyless_client_new(&co, err, sizeof err);
    if (keyless_client == NULL) {
        fprintf(stderr, "pqify serve: %s\n", err);
        return -1;
    }
    fprintf(stderr, "pqify serve: keyless: signing through %s%s (pq %s)\n", a->keyless.servers.v[0],
            a->keyless.servers.n > 1 ? " and its failovers" : "", o.pq ? o.pq : "required");
    return 0;
}

int pqify_cmd_serve(int argc, char **argv)
{
    struct server srv;
    char host[256], port[16], addr[300];
    int status = 1;

    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&serve_spec, stdout);
        return 0;
    }
    memset(&srv, 0, sizeof srv);
    if (parse_args(argc, argv, &srv.a) != 0)
        return 2;
    if (cli_split_hostport(srv.a.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify serve: '%s' is not HOST:PORT\n", srv.a.listen);
        return 2;
    }
    pqify_tls_config *kl_cfg = NULL;
    if (srv.a.keyless.servers.n > 0 && keyless_open(&srv.a, &kl_cfg, srv.a.check_config) != 0) {
        pqify_config_free(loaded_config);
        return 1;
    }
    if (srv.a.check_config) {
        pqify_tls_config *cfg = cli_tls_config("serve", &srv.a.tls, 1);
        pqify_tls_config_free(kl_cfg);
        if (cfg == NULL) {
            pqify_config_free(loaded_config);
            return 1;
        }
        pqify_tls_config_free(cfg);
        fprintf(stderr, "pqify serve: %s is usable\n", srv.a.config);
        pqify_config_free(loaded_config);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (metrics_init(&srv) != 0) {
        fprintf(stderr, "pqify serve: cannot declare the metrics\n");
        goto done;
    }
    if (getrandom(ticket_secret, sizeof ticket_secret, 0) != (ssize_t)sizeof ticket_secret) {
        fprintf(stderr, "pqify serve: the kernel CSPRNG failed\n");
        return 1;
    }
    current_cfg = cfg_build(&srv.a);
    if (current_cfg == NULL)
        goto done;
    srv.sopts.handshake_timeout_ms = pqify_tls_options_handshake_ms(&srv.a.tls);
    srv.sopts.idle_timeout_ms = pqify_tls_options_idle_ms(&srv.a.tls, 1);
    srv.n_workers = (unsigned)srv.a.workers;
    srv.w = calloc(srv.n_workers, sizeof *srv.w);
    if (srv.w == NULL)
        goto done;

    /* Worker 0 binds first (port 0 becomes a real port); the others share it. */
    unsigned opened = 0;
    int ok = worker_open(&srv, 0, host, port) == 0;
    opened = 1;
    if (ok) {
        pqify_listener_address(srv.w[0].listener, addr, sizeof addr);
        char real_port[16];
        snprintf(real_port, sizeof real_port, "%u", pqify_listener_port(srv.w[0].listener));
        for (unsigned i = 1; ok && i < srv.n_workers; i++, opened++)
            ok = worker_open(&srv, i, host, real_port) == 0;
    }
    pqify_service_options svo = {.name = "serve", .admin = srv.a.admin, .metrics = srv.met.m,
                                 .grace_ms = DEFAULT_GRACE_S * 1000,
                                 .hooks = {on_stop_signal, on_deadline, on_reload, NULL, &srv}};
    ok = ok && cli_service_start(&srv.svc, &srv.w[0].loop, &svo) == 0;
    if (!ok) {
        for (unsigned i = 0; i < opened; i++)
            pqify_service_close_loop(&srv.w[i].loop);
        goto done;
    }
    srv.svc_open = 1;
    atomic_init(&srv.workers_running, srv.n_workers);
    pqify_service_announce(&srv.svc, addr);

    for (unsigned i = 1; i < srv.n_workers; i++)
        uv_thread_create(&srv.w[i].thread, worker_thread, &srv.w[i]);
    uv_run(&srv.w[0].loop, UV_RUN_DEFAULT);
    for (unsigned i = 1; i < srv.n_workers; i++)
        uv_thread_join(&srv.w[i].thread);
    for (unsigned i = 0; i < srv.n_workers; i++)
        pqify_service_close_loop(&srv.w[i].loop);
    status = srv.a.once ? srv.once_status : 0;

done:
    free(srv.w);
    cfg_put(current_cfg);
    current_cfg = NULL;
    /* after the workers: a handshake still waiting on a signature holds its loop open
     * until the client answers it (by its deadline at the latest) */
    pqify_keyless_client_free(keyless_client);
    keyless_client = NULL;
    pqify_tls_config_free(kl_cfg);
    pqify_metrics_free(srv.met.m);
    pqify_config_free(loaded_config);
    loaded_config = NULL;
    return status;
}
