/* pqify logrecv: the log pipeline's receiver (issue 11, docs/logs.md). The work is
 * src/logs/receiver.c on the chassis (a chunk acked only once its sink made it
 * durable); this file reads the options (flags, or --config logrecv.yaml through
 * src/net/config), opens the sink (file; Kafka in `pqify-kafka`, whose librdkafka
 * links libssl) and runs the receiver through the service runner: SIGHUP reloads the
 * certificate and key, SIGTERM/SIGINT drain. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* librdkafka links libssl, which the production `pqify` never links (DESIGN.md): the
 * Kafka sink is built into the separate `pqify-kafka` binary (PQIFY_WITH_KAFKA). */
#ifdef PQIFY_WITH_KAFKA
#include "pqify/logs_kafka.h"
#endif
#include <uv.h>

#include "cli.h"
#include "pqify/logs.h"
#include "pqify/logs_receiver.h"
#include "pqify/net/config.h"
#include "pqify/net/listener.h"
#include "pqify/net/log.h"
#include "pqify/net/metrics.h"
#include "pqify/net/service.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"
#include "service_cmd.h"
#include "tls_io.h"

#define DEFAULT_LISTEN "0.0.0.0:24224"
#define DEFAULT_GRACE_S 10
#define DEFAULT_MAX_CHUNK (8u << 20)
#define UNSET UINT_MAX
#define DEFAULT_TOPIC "logs.{tag}"

struct recv_args {
    const char *listen, *config, *admin, *sink, *topic;
    pqify_tls_options tls;
    int check_config;
    unsigned idle_s, max_chunk, max_connections;
};

#define A(field) offsetof(struct recv_args, field)
static const struct pqify_opt recv_opts[] = {
    {"--listen", "HOST:PORT", PQIFY_OPT_STRING, A(listen), 0, 0, 0,
     "address to listen on (default 0.0.0.0:24224); port 0 picks a free port"},
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "certificate chain (PEM, leaf first)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "private key (PEM)"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0,
     "require client certificates that chain to FILE (mutual TLS)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0,
     "required (default) | preferred (for agents without PQ) | off"},
    {"--sink", "file:DIR", PQIFY_OPT_STRING, A(sink), 0, 0, 0,
     "where events go: one JSON-lines file per stream in DIR, or\nKafka (librdkafka: idempotent, acks=all) at BROKERS\n(host:port,...), or null (benchmarks only: nothing kept)"},
    {"--topic", "TEMPLATE", PQIFY_OPT_STRING, A(topic), 0, 0, 0,
     "Kafka topic per stream; {tag} is the stream (default logs.{tag})"},
    {"--max-chunk", "BYTES", PQIFY_OPT_UINT, A(max_chunk), 1024, 1u << 30, 0,
     "largest Forward message accepted (default 8 MiB); larger closes\nthe connection"},
    {"--idle-timeout", "SEC", PQIFY_OPT_UINT, A(idle_s), 0, 86400, 0,
     "close a connection idle this long (default 300; 0 = never)"},
    {"--max-connections", "N", PQIFY_OPT_UINT, A(max_connections), 1, 1000000, 0,
     "connections served at once (default 10000)"},
    {"--admin", "HOST:PORT", PQIFY_OPT_STRING, A(admin), 0, 0, 0,
     "/metrics, /ready and /healthz on a loopback address"},
    {"--config", "FILE", PQIFY_OPT_STRING, A(config), 0, 0, 0,
     "YAML settings (tls:, admin:, listen, sink, security:,\nmax_chunk_bytes, max_file_bytes, max_connections); flags override\nthe file"},
    {"--check-config", NULL, PQIFY_OPT_FLAG, A(check_config), 0, 0, 0,
     "load --config, report, and exit (0 when usable)"},
};
#undef A

static const struct pqify_cmd_spec recv_spec = {
    .name = "logrecv",
    .usage = "logrecv --cert FILE --key FILE --sink file:DIR|kafka:BROKERS [options]\n",
    .about = "Receive logs over the Fluentd Forward protocol v1 on post-quantum TLS and\n"
             "write them to a sink; a chunk is acknowledged only once it is durable.\n",
    .opts = recv_opts,
    .n_opts = PQIFY_N_OPTS(recv_opts),
    .footer = "Signals: SIGTERM/SIGINT stop accepting, finish the chunks received (written and\n"
              "acked), close every connection with close_notify and exit 0 (within 10 s);\n"
              "SIGHUP reloads the certificate and key for new connections.\n"
              "\n"
              "stderr: `listening on HOST:PORT` once ready, then logfmt lines.\n",
};

struct recv_file {
    pqify_tls_options tls;
    pqify_admin_config admin;
    const char *listen, *sink, *topic;
    pqify_config_list kafka;   /* "property=value" strings for librdkafka */
    cli_fwd_security security;
    int64_t max_chunk_bytes, max_file_bytes, max_connections;
};

static const pqify_setting recv_settings[] = {
    PQIFY_SETTING_MAP("tls", struct recv_file, tls, pqify_tls_settings,
                      "TLS for the listener (pq: required unless set)."),
    PQIFY_SETTING_MAP("admin", struct recv_file, admin, pqify_admin_settings, "Admin endpoint."),
    {.name = "listen", .type = PQIFY_SET_HOSTPORT, .offset = offsetof(struct recv_file, listen),
     .help = "Address to listen on (HOST:PORT), default 0.0.0.0:24224."},
    {.name = "sink", .type = PQIFY_SET_STRING, .offset = offsetof(struct recv_file, sink),
     .min = 1, .max = 4096,
     .help = "file:DIR (one JSON-lines file per stream in DIR) or kafka:BROKERS."},
    {.name = "topic", .type = PQIFY_SET_STRING, .offset = offsetof(struct recv_file, topic),
     .min = 1, .max = 249, .help = "Kafka topic template; {tag} is the stream (default logs.{tag})."},
    {.name = "kafka", .type = PQIFY_SET_LIST, .offset = offsetof(struct recv_file, kafka),
     .elem = PQIFY_SET_STRING, .elem_size = sizeof(const char *), .max_items = 256,
     .help = "librdkafka properties as \"name=value\" strings, passed through (e.g. compression.type=zstd)."},
    CLI_FWD_SECURITY_SETTING(struct recv_file, security),
    {.name = "max_chunk_bytes", .type = PQIFY_SET_INT,
     .offset = offsetof(struct recv_file, max_chunk_bytes), .def = "8388608", .min = 1024,
     .max = 1073741824, .help = "Largest Forward message accepted; larger closes the connection."},
    {.name = "max_file_bytes", .type = PQIFY_SET_INT,
     .offset = offsetof(struct recv_file, max_file_bytes), .def = "67108864", .min = 4096,
     .max = INT64_MAX, .help = "The file sink rotates a stream's file at this size."},
    {.name = "max_connections", .type = PQIFY_SET_INT,
     .offset = offsetof(struct recv_file, max_connections), .def = "10000", .min = 1,
     .max = 1000000, .help = "Connections served at once; more wait in the listen queue."},
    {0},
};

static pqify_config *loaded_config;
static struct recv_file file_settings;

static void apply_file(struct recv_args *a, const struct recv_file *f)
{
    pqify_tls_options_fill_unset(&a->tls, &f->tls);
    if (a->idle_s == UNSET && f->tls.idle_timeout_ms != 0)
        a->idle_s = f->tls.idle_timeout_ms / 1000u;
    if (a->listen == NULL)
        a->listen = f->listen;
    if (a->admin == NULL)
        a->admin = f->admin.listen;
    if (a->sink == NULL)
        a->sink = f->sink;
    if (a->topic == NULL)
        a->topic = f->topic;
    if (a->max_chunk == 0)
        a->max_chunk = (unsigned)f->max_chunk_bytes;
    if (a->max_connections == 0)
        a->max_connections = (unsigned)f->max_connections;
}

static int parse_args(int argc, char **argv, struct recv_args *a)
{
    memset(a, 0, sizeof *a);
    a->idle_s = UNSET;
    file_settings.max_file_bytes = 64 << 20;
    if (pqify_cli_parse(&recv_spec, argc, argv, a) != 0)
        return -1;
    if (cli_config_load("logrecv", recv_settings, &file_settings, a->config, a->check_config, 0,
                        &loaded_config) != 0)
        return -1;
    if (loaded_config != NULL)
        apply_file(a, &file_settings);
    if (a->tls.cert == NULL || a->tls.key == NULL) {
        fprintf(stderr, "pqify logrecv: --cert and --key are required (see pqify logrecv --help)\n");
        return -1;
    }
    if (a->sink == NULL ||
        !((strncmp(a->sink, "file:", 5) == 0 && a->sink[5] != '\0') || strcmp(a->sink, "null") == 0 ||
          (strncmp(a->sink, "kafka:", 6) == 0 && a->sink[6] != '\0'))) {
        fprintf(stderr, "pqify logrecv: --sink '%s': expected file:DIR, kafka:BROKERS or null\n",
                a->sink ? a->sink : "");
        return -1;
    }
    if (a->topic == NULL)
        a->topic = DEFAULT_TOPIC;
    if (strstr(a->topic, "{tag}") == NULL) {
        fprintf(stderr, "pqify logrecv: --topic '%s' has no {tag}: every stream would share "
                        "one topic\n", a->topic);
        return -1;
    }
    if (a->listen == NULL)
        a->listen = DEFAULT_LISTEN;
    /* Logs are an internal hop: no classical fallback unless the operator asks. */
    if (a->tls.pq == NULL)
        a->tls.pq = "required";
    a->tls.idle_timeout_ms = a->idle_s != UNSET ? a->idle_s * 1000u : 0;
    if (a->max_chunk == 0)
        a->max_chunk = DEFAULT_MAX_CHUNK;
    if (a->max_connections == 0)
        a->max_connections = 10000;
    return 0;
}


struct recv_proc {
    struct recv_args a;
    uv_loop_t loop;
    pqify_logrecv_sink *sink;
    pqify_logrecv *r;
    pqify_metrics *metrics;
    pqify_service svc;
};

static pqify_logrecv_sink *open_sink(struct recv_proc *p, int check_only, int *usable)
{
    char err[512];
    *usable = 0;
    if (strncmp(p->a.sink, "kafka:", 6) == 0) {
#ifdef PQIFY_WITH_KAFKA
        pqify_logrecv_sink *s = pqify_logrecv_kafka_sink_new(
            &p->loop, p->a.sink + 6, p->a.topic, file_settings.kafka.items,
            file_settings.kafka.count, check_only, err, sizeof err);
        if (s == NULL && (!check_only || err[0] != '\0'))
            fprintf(stderr, "pqify logrecv: %s\n", err);
        *usable = s != NULL || (check_only && err[0] == '\0');
        return s;
#else
        (void)check_only;
        fprintf(stderr, "pqify logrecv: --sink kafka: is served by `pqify-kafka logrecv` (librdkafka "
                        "links libssl, which pqify never links)\n");
        return NULL;
#endif
    }
    if (strcmp(p->a.sink, "null") == 0) {
        pqify_logrecv_sink *s = pqify_logrecv_null_sink_new();
        *usable = s != NULL;
        return s;
    }
    pqify_logrecv_sink *s = pqify_logrecv_file_sink_new(&p->loop, p->a.sink + 5,
                                                        (uint64_t)file_settings.max_file_bytes, err, sizeof err);
    if (s == NULL)
        fprintf(stderr, "pqify logrecv: sink %s: %s\n", p->a.sink, err);
    *usable = s != NULL;
    return s;
}

static void on_drained(void *ctx)
{
    struct recv_proc *p = ctx;
    pqify_service_drained(&p->svc);
}

static void on_stop_signal(void *ctx)
{
    struct recv_proc *p = ctx;
    pqify_logrecv_drain(p->r, on_drained, p);
}

static void on_deadline(void *ctx)
{
    struct recv_proc *p = ctx;
    pqify_logrecv_abort(p->r);
}

static void on_reload(void *ctx)
{
    struct recv_proc *p = ctx;
    pqify_tls_config *cfg = cli_tls_config("logrecv", &p->a.tls, 1);
    if (cfg == NULL) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reload failed; still serving the previous certificate");
        return;
    }
    pqify_logrecv_swap_tls(p->r, cfg);
    PQIFY_LOG(PQIFY_LOG_INFO, "reloaded", "cert", p->a.tls.cert, "key", p->a.tls.key);
}

int pqify_cmd_logrecv(int argc, char **argv)
{
    struct recv_proc *p;
    char host[256], port[16], addr[300], err[512];
    int status = 1;

    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&recv_spec, stdout);
        return 0;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return 1;
    if (parse_args(argc, argv, &p->a) != 0) {
        status = 2;
        goto done;
    }
    if (cli_split_hostport(p->a.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify logrecv: '%s' is not HOST:PORT\n", p->a.listen);
        status = 2;
        goto done;
    }
    pqify_tls_config *cfg = cli_tls_config("logrecv", &p->a.tls, 1);
    if (cfg == NULL)
        goto done;
    uv_loop_init(&p->loop);
    int usable;
    p->sink = open_sink(p, p->a.check_config, &usable);
    if (p->a.check_config) {
        pqify_tls_config_free(cfg);
        if (usable)
            fprintf(stderr, "pqify logrecv: %s is usable\n", p->a.config);
        status = usable ? 0 : 1;
        goto close_loop;
    }
    if (p->sink == NULL) {
        pqify_tls_config_free(cfg);
        goto close_loop;
    }
    signal(SIGPIPE, SIG_IGN);
    p->metrics = pqify_metrics_new();
    pqify_logrecv_options o = {
        .host = host, .port = port, .tls = cfg,
        .stream = {.handshake_timeout_ms = pqify_tls_options_handshake_ms(&p->a.tls),
                   .idle_timeout_ms = pqify_tls_options_idle_ms(&p->a.tls, 1)},
        .max_chunk = p->a.max_chunk, .max_connections = p->a.max_connections,
        .sink = p->sink, .metrics = p->metrics,
        .shared_key = file_settings.security.shared_key,
    };
    char hostname[256];
    o.self_hostname = cli_fwd_self_hostname(&file_settings.security, hostname, sizeof hostname);
    int ok = p->metrics != NULL && pqify_logrecv_start(&p->loop, &o, &p->r, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "pqify logrecv: %s\n", p->metrics ? err : "out of memory");
    pqify_service_options svo = {.name = "logrecv", .admin = p->a.admin, .metrics = p->metrics,
                                 .grace_ms = DEFAULT_GRACE_S * 1000,
                                 .hooks = {on_stop_signal, on_deadline, on_reload, NULL, p}};
    ok = ok && cli_service_start(&p->svc, &p->loop, &svo) == 0;
    if (ok) {
        pqify_logrecv_address(p->r, addr, sizeof addr);
        pqify_service_announce(&p->svc, addr);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        status = 0;
    }
    if (p->sink->quiesce != NULL)
        p->sink->quiesce(p->sink);
    pqify_logrecv_free(p->r);
close_loop:
    pqify_service_close_loop(&p->loop);
    if (p->sink != NULL && p->sink->free != NULL)
        p->sink->free(p->sink);
done:
    pqify_metrics_free(p->metrics);
    pqify_config_free(loaded_config);
    loaded_config = NULL;
    free(p);
    return status;
}
