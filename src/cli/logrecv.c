/* pqify logrecv: the log pipeline's receiver (issue 11, docs/logs.md). Fluentd Forward
 * protocol v1 over pqify TLS on the service chassis (src/net): each connection a TLS
 * stream whose bytes feed the streaming decoder; each chunk's events become JSON lines
 * that the file sink writes and fsyncs on libuv's thread pool (never on the loop), and
 * only then is {"ack": chunk} sent (at-least-once: a chunk is never acked before it is
 * durable). While a connection's chunk waits on the sink, that connection is not read
 * (backpressure reaches the sender through TCP); a failing sink (disk full) is retried
 * every second without acking, so nothing is lost and the sender keeps its copy.
 * Hostile input closes only its own connection, with a log line naming why. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
/* librdkafka links libssl, which the production `pqify` never links (DESIGN.md): the
 * Kafka sink is built into the separate `pqify-kafka` binary (PQIFY_WITH_KAFKA). */
#ifdef PQIFY_WITH_KAFKA
#include <librdkafka/rdkafka.h>
#else
typedef struct rd_kafka_s rd_kafka_t;
#endif
#include <uv.h>

#include "cli.h"
#include "pqify/logs.h"
#include "pqify/net/config.h"
#include "pqify/net/listener.h"
#include "pqify/net/log.h"
#include "pqify/net/metrics.h"
#include "pqify/net/service.h"
#include "pqify/net/stream.h"
#include "pqify/tls.h"
#include "tls_io.h"

#define DEFAULT_LISTEN "0.0.0.0:24224"
#define DEFAULT_GRACE_S 10
#define DEFAULT_MAX_CHUNK (8u << 20)
#define SINK_RETRY_MS 1000
#define UNSET UINT_MAX
#define DEFAULT_TOPIC "logs.{tag}"
#define KAFKA_POLL_MS 5
#define KAFKA_MAX_TOPIC 249

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
     "where events go: one JSON-lines file per stream in DIR, or\nKafka (librdkafka: idempotent, acks=all) at BROKERS\n(host:port,...)"},
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
     "YAML settings (tls:, admin:, listen, sink, max_chunk_bytes,\nmax_file_bytes, max_connections); flags override the file"},
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
    if (a->config != NULL) {
        char err[512];
        loaded_config = pqify_config_load(recv_settings, &file_settings, a->config, err, sizeof err);
        if (loaded_config == NULL) {
            fprintf(stderr, "pqify logrecv: %s\n", err);
            return -1;
        }
        apply_file(a, &file_settings);
    } else if (a->check_config) {
        fprintf(stderr, "pqify logrecv: --check-config needs --config FILE\n");
        return -1;
    }
    if (a->tls.cert == NULL || a->tls.key == NULL) {
        fprintf(stderr, "pqify logrecv: --cert and --key are required (see pqify logrecv --help)\n");
        return -1;
    }
    if (a->sink == NULL ||
        !((strncmp(a->sink, "file:", 5) == 0 && a->sink[5] != '\0') ||
          (strncmp(a->sink, "kafka:", 6) == 0 && a->sink[6] != '\0'))) {
        fprintf(stderr, "pqify logrecv: --sink '%s': expected file:DIR or kafka:BROKERS\n",
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

/* ---- the TLS configuration; SIGHUP swaps it, connections keep theirs ---------------- */

struct shared_cfg {
    pqify_tls_config *cfg;
    int refs;   /* one loop: no atomics needed */
};

static struct shared_cfg *cfg_build(const struct recv_args *a)
{
    pqify_tls_config *cfg = cli_tls_config("logrecv", &a->tls, 1);
    if (cfg == NULL)
        return NULL;
    struct shared_cfg *sc = malloc(sizeof *sc);
    if (sc == NULL) {
        pqify_tls_config_free(cfg);
        return NULL;
    }
    sc->cfg = cfg;
    sc->refs = 1;
    return sc;
}

static void cfg_put(struct shared_cfg *sc)
{
    if (sc != NULL && --sc->refs == 0) {
        pqify_tls_config_free(sc->cfg);
        free(sc);
    }
}

/* ---- the receiver ------------------------------------------------------------------- */

struct conn;

struct recv_srv {
    struct recv_args a;
    uv_loop_t *loop;
    pqify_stream_opts sopts;
    pqify_listener *listener;
    pqify_file_sink *sink;
    pthread_mutex_t sink_mu;
    rd_kafka_t *rk;            /* the Kafka sink: one idempotent producer */
    uv_timer_t kpoll;          /* delivery reports are served on the loop */
    int kpoll_open;   /* the sink is used from the thread pool */
    struct shared_cfg *cfg;
    struct conn *conns;
    unsigned n_conns;
    int stopping, deadline, finished;
    pqify_service svc;
    struct {
        pqify_metrics *m;
        pqify_tls_metrics tls;
        pqify_metric *events, *bytes;
        pqify_series *open, *acked, *latency, *sink_errors, *rejected;
    } met;
};

struct conn {
    struct conn *prev, *next;
    struct recv_srv *srv;
    pqify_stream *s;          /* NULL once closed */
    struct shared_cfg *sc;
    pqify_fwd_decoder *dec;
    uint8_t *in;              /* plaintext received, not yet fed to the decoder */
    size_t in_len, in_cap;
    size_t msg_bytes;         /* wire bytes of the message being decoded */
    struct job *job;          /* the chunk at the sink; the connection waits for it */
    int established, draining;
    char peer[64];
};

struct job {
    uv_work_t req;
    uv_timer_t retry;
    struct conn *c;
    char *tag;
    size_t tag_len;
    msgpack_sbuffer lines;
    char chunk[128];
    size_t chunk_len;         /* 0: no ack asked */
    size_t n_events, wire_bytes;
    size_t k_next, k_pending; /* Kafka: next line to produce, deliveries awaited */
    int k_failed, retry_wait;
    uint64_t start_ns;
    unsigned attempts;
    int rc;
    char err[640];
};

static void conn_process(struct conn *c);
static void srv_maybe_finish(struct recv_srv *srv);

static void conn_free(struct conn *c)
{
    struct recv_srv *srv = c->srv;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    srv->n_conns--;
    pqify_fwd_decoder_free(c->dec);
    cfg_put(c->sc);
    free(c->in);
    free(c);
    srv_maybe_finish(srv);
}

static void job_free(struct job *j)
{
    msgpack_sbuffer_destroy(&j->lines);
    free(j->tag);
    free(j);
}

static void sink_work(uv_work_t *req)
{
    struct job *j = req->data;
    struct recv_srv *srv = j->c->srv;
    pthread_mutex_lock(&srv->sink_mu);
    j->rc = pqify_file_sink_append(srv->sink, j->tag, j->tag_len, (const uint8_t *)j->lines.data,
                                   j->lines.size, j->err, sizeof j->err);
    pthread_mutex_unlock(&srv->sink_mu);
}

static void sink_done(uv_work_t *req, int status);
static int kafka_submit(struct job *j);

/* Hand a job to the sink: the file sink on the thread pool, or the Kafka producer. */
static int sink_submit(struct job *j)
{
    j->req.data = j;
    if (j->c->srv->rk != NULL)
        return kafka_submit(j);
    return uv_queue_work(j->c->srv->loop, &j->req, sink_work, sink_done);
}

static void retry_closed(uv_handle_t *h)
{
    struct job *j = h->data;
    struct conn *c = j->c;
    j->retry_wait = 0;
    if (c->s == NULL) {   /* the sender went away: it still holds the chunk unacked */
        c->job = NULL;
        job_free(j);
        conn_free(c);
        return;
    }
    if (sink_submit(j) != 0) {
        c->job = NULL;
        job_free(j);
        pqify_stream_abort(c->s);
    }
}

static void retry_fire(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, retry_closed);
}

static void sink_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct conn *c = j->c;
    struct recv_srv *srv = c->srv;
    if (status != 0) {
        j->rc = PQIFY_LOGS_ERR_IO;
        snprintf(j->err, sizeof j->err, "the sink job was cancelled");
    }
    if (j->rc != 0) {
        pqify_counter_add(srv->met.sink_errors, 1);
        int permanent = j->rc == PQIFY_LOGS_ERR_BAD_TAG;
        if (j->attempts++ == 0 || permanent)
            PQIFY_LOG(PQIFY_LOG_ERROR, permanent ? "sink refused the chunk" : "sink failed; not acked, retrying every second",
                      "peer", c->peer, "error", j->err);
        if (permanent || c->s == NULL || srv->deadline) {
            c->job = NULL;
            job_free(j);
            if (c->s != NULL)
                pqify_stream_close(c->s);
            else
                conn_free(c);
            return;
        }
        uv_timer_init(srv->loop, &j->retry);
        j->retry.data = j;
        j->retry_wait = 1;
        uv_timer_start(&j->retry, retry_fire, SINK_RETRY_MS, 0);
        return;
    }
    if (j->attempts > 0)
        PQIFY_LOG(PQIFY_LOG_INFO, "sink recovered", "peer", c->peer);
    c->job = NULL;
    const char *lv[1] = {j->tag};
    pqify_counter_add(pqify_metric_series(srv->met.events, 1, lv), j->n_events);
    pqify_counter_add(pqify_metric_series(srv->met.bytes, 1, lv), j->wire_bytes);
    if (c->s != NULL && j->chunk_len > 0) {
        msgpack_sbuffer ack;
        msgpack_sbuffer_init(&ack);
        if (pqify_fwd_encode_ack((const uint8_t *)j->chunk, j->chunk_len, &ack) == 0 &&
            pqify_stream_send(c->s, ack.data, ack.size) == 0) {
            pqify_counter_add(srv->met.acked, 1);
            pqify_histogram_observe(srv->met.latency,
                                    (double)(uv_hrtime() - j->start_ns) / 1e9);
        }
        msgpack_sbuffer_destroy(&ack);
    }
    job_free(j);
    if (c->s == NULL) {
        conn_free(c);
        return;
    }
    conn_process(c);
}

/* ---- the Kafka sink ------------------------------------------------------------------ */
#ifdef PQIFY_WITH_KAFKA

/* The topic of a stream: the template with {tag} replaced, characters Kafka refuses in
 * a topic name (legal: [A-Za-z0-9._-], at most 249) replaced by '_'. */
static void kafka_topic(const char *tmpl, const char *tag, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *p = tmpl; *p != '\0' && k + 1 < cap;) {
        if (strncmp(p, "{tag}", 5) == 0) {
            for (const char *t = tag; *t != '\0' && k + 1 < cap; t++) {
                char ch = *t;
                int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
                out[k++] = ok ? ch : '_';
            }
            p += 5;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
}

static void kafka_maybe_complete(struct job *j)
{
    if (j->k_pending > 0 || (j->k_next < j->lines.size && !j->k_failed))
        return;
    j->rc = j->k_failed ? PQIFY_LOGS_ERR_IO : 0;
    sink_done(&j->req, 0);
}

/* Produces the job's lines from k_next on, one message per event. 1 when the local
 * queue is full (the poll timer carries on), 0 otherwise. */
static int kafka_produce(struct job *j)
{
    struct recv_srv *srv = j->c->srv;
    char topic[KAFKA_MAX_TOPIC + 1];
    kafka_topic(srv->a.topic, j->tag, topic, sizeof topic);
    while (j->k_next < j->lines.size && !j->k_failed) {
        const char *line = j->lines.data + j->k_next;
        const char *nl = memchr(line, '\n', j->lines.size - j->k_next);
        size_t len = nl != NULL ? (size_t)(nl - line) : j->lines.size - j->k_next;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            srv->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)line, len), RD_KAFKA_V_KEY(j->tag, j->tag_len),
            RD_KAFKA_V_OPAQUE(j), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return 1;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            j->k_failed = 1;
            snprintf(j->err, sizeof j->err, "kafka topic %s: %s", topic, rd_kafka_err2str(e));
            break;
        }
        j->k_pending++;
        j->k_next += len + (nl != NULL);
    }
    kafka_maybe_complete(j);
    return 0;
}

static int kafka_submit(struct job *j)
{
    j->k_next = 0;
    j->k_pending = 0;
    j->k_failed = 0;
    j->err[0] = '\0';
    (void)kafka_produce(j);
    return 0;
}

/* Delivery reports, served by rd_kafka_poll on the loop: the chunk is acked once every
 * one of its messages is acknowledged by the brokers (acks=all). */
static void kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk, (void)opaque;
    struct job *j = msg->_private;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && !j->k_failed) {
        j->k_failed = 1;
        snprintf(j->err, sizeof j->err, "kafka topic %s: %s", rd_kafka_topic_name(msg->rkt),
                 rd_kafka_err2str(msg->err));
    }
    j->k_pending--;
    kafka_maybe_complete(j);
}

static void kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)opaque;
    PQIFY_LOG(PQIFY_LOG_WARN, "kafka", "error", rd_kafka_err2name((rd_kafka_resp_err_t)err),
              "reason", reason);
}

static void kafka_poll(uv_timer_t *t)
{
    struct recv_srv *srv = t->data;
    rd_kafka_poll(srv->rk, 0);
    /* jobs stopped by a full local queue carry on */
    for (struct conn *c = srv->conns; c != NULL; c = c->next)
        if (c->job != NULL && c->job->k_next < c->job->lines.size && !c->job->k_failed &&
            !c->job->retry_wait)
            if (kafka_produce(c->job) == 1)
                break;
}

/* check_only: the properties are checked and nothing connects (--check-config);
 * the result is then NULL on success too, with *ok set. */
static rd_kafka_t *kafka_open(const struct recv_args *a, const pqify_config_list *props,
                              int check_only, int *ok)
{
    *ok = 0;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* At-least-once without duplicates from the producer's own retries. */
    const char *fixed[][2] = {{"bootstrap.servers", a->sink + 6},
                              {"enable.idempotence", "true"},
                              {"acks", "all"},
                              {"linger.ms", "5"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "pqify logrecv: kafka %s: %s\n", fixed[i][0], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    const char **items = props->items;
    for (size_t i = 0; i < props->count; i++) {
        char name[256];
        const char *eq = strchr(items[i], '=');
        if (eq == NULL || eq == items[i] || (size_t)(eq - items[i]) >= sizeof name) {
            fprintf(stderr, "pqify logrecv: kafka: '%s' is not name=value\n", items[i]);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        memcpy(name, items[i], (size_t)(eq - items[i]));
        name[eq - items[i]] = '\0';
        if (rd_kafka_conf_set(conf, name, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "pqify logrecv: kafka: %s\n", err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (check_only) {
        rd_kafka_conf_destroy(conf);
        *ok = 1;
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "pqify logrecv: kafka: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    *ok = rk != NULL;
    return rk;
}

#else
static int kafka_submit(struct job *j)
{
    (void)j;
    return -1;   /* unreachable: without Kafka no producer is ever made */
}

static void kafka_poll(uv_timer_t *t)
{
    (void)t;
}

static rd_kafka_t *kafka_open(const struct recv_args *a, const pqify_config_list *props,
                              int check_only, int *ok)
{
    (void)a, (void)props, (void)check_only;
    fprintf(stderr, "pqify logrecv: --sink kafka: is served by `pqify-kafka logrecv` (librdkafka "
                    "links libssl, which pqify never links)\n");
    *ok = 0;
    return NULL;
}
#endif

static void reject(struct conn *c, const char *why, const char *detail)
{
    pqify_counter_add(c->srv->met.rejected, 1);
    PQIFY_LOG(PQIFY_LOG_WARN, "closing connection", "peer", c->peer, "reason", why, "detail", detail);
    c->in_len = 0;
    pqify_stream_abort(c->s);
}

/* One decoded chunk of events: JSON lines now (the message points into the decoder),
 * the write and fsync on the thread pool. */
static int start_job(struct conn *c, const pqify_fwd_msg *m)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -1;
    msgpack_sbuffer_init(&j->lines);
    j->c = c;
    j->start_ns = uv_hrtime();
    j->n_events = m->n_events;
    j->wire_bytes = c->msg_bytes;
    j->tag = malloc(m->tag.len + 1);
    if (j->tag == NULL) {
        job_free(j);
        return -1;
    }
    memcpy(j->tag, m->tag.ptr, m->tag.len);
    j->tag[m->tag.len] = '\0';
    j->tag_len = m->tag.len;
    if (m->chunk.ptr != NULL) {
        if (m->chunk.len == 0 || m->chunk.len >= sizeof j->chunk) {
            job_free(j);
            reject(c, "chunk id is empty or longer than 127 bytes", "");
            return 1;
        }
        memcpy(j->chunk, m->chunk.ptr, m->chunk.len);
        j->chunk_len = m->chunk.len;
    }
    for (size_t i = 0; i < m->n_events; i++) {
        if (pqify_logs_event_json(m->tag, &m->events[i], &j->lines) != 0) {
            job_free(j);
            return -1;
        }
    }
    if (m->n_events == 0) {   /* nothing to make durable: ack at once */
        c->job = j;
        j->req.data = j;
        sink_done(&j->req, 0);
        return 1;
    }
    c->job = j;
    if (sink_submit(j) != 0) {
        c->job = NULL;
        job_free(j);
        return -1;
    }
    return 1;
}

/* Feed buffered plaintext to the decoder until a chunk goes to the sink (then wait
 * for it, not reading) or the bytes run out (then read again). */
static void conn_process(struct conn *c)
{
    while (c->s != NULL && c->job == NULL && c->in_len > 0) {
        const uint8_t *p = c->in;
        size_t len = c->in_len;
        pqify_fwd_msg m;
        int rc = pqify_fwd_decode(c->dec, &p, &len, &m);
        size_t used = c->in_len - len;
        c->msg_bytes += used;
        memmove(c->in, c->in + used, len);
        c->in_len = len;
        if (rc < 0) {
            char detail[64];
            snprintf(detail, sizeof detail, "%zu bytes buffered", pqify_fwd_decoder_buffered(c->dec));
            reject(c, pqify_logs_strerror(rc), detail);
            return;
        }
        if (rc == 0)
            break;
        size_t wire = c->msg_bytes;
        c->msg_bytes = 0;
        if (m.kind == PQIFY_FWD_HEARTBEAT)
            continue;
        if (m.kind != PQIFY_FWD_EVENTS) {
            reject(c, "unexpected Forward message (no shared key is configured)", "");
            return;
        }
        c->msg_bytes = wire;
        int r = start_job(c, &m);
        c->msg_bytes = 0;
        if (r < 0) {
            reject(c, "out of memory", "");
            return;
        }
    }
    if (c->s == NULL)
        return;
    if (c->job == NULL && c->draining) {
        pqify_stream_close(c->s);
        return;
    }
    pqify_stream_hold_reading(c->s, c->job != NULL || c->draining);
}

/* ---- stream callbacks ---------------------------------------------------------------- */

static void on_handshake(pqify_stream *s, void *ctx)
{
    struct conn *c = ctx;
    c->established = 1;
    pqify_tls_metrics_handshake(&c->srv->met.tls, pqify_stream_conn(s), 1);
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    PQIFY_LOG(PQIFY_LOG_INFO, "accepted", "peer", c->peer, "group", info.group, "pq",
              info.is_pq ? "yes" : "no", "client_cert",
              info.peer_cert && info.peer_subject[0] ? info.peer_subject : "-");
    if (c->srv->stopping)
        pqify_stream_close(s);
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    struct conn *c = ctx;
    if (c->s == NULL)
        return;
    if (c->in_len + len > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 16384;
        while (cap < c->in_len + len)
            cap *= 2;
        uint8_t *n = realloc(c->in, cap);
        if (n == NULL) {
            reject(c, "out of memory", "");
            return;
        }
        c->in = n;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    conn_process(c);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    struct conn *c = ctx;
    struct recv_srv *srv = c->srv;
    (void)s;
    pqify_gauge_add(srv->met.open, -1);
    if (!c->established) {
        if (status != PQIFY_STREAM_ABORTED)
            PQIFY_LOG(PQIFY_LOG_WARN, "handshake failed", "peer", c->peer, "error",
                      pqify_stream_strerror(status));
    } else if (status != 0 && status != PQIFY_STREAM_ABORTED) {
        PQIFY_LOG(PQIFY_LOG_INFO, "connection closed", "peer", c->peer, "why",
                  pqify_stream_strerror(status));
    }
    c->s = NULL;
    if (srv->listener != NULL)
        pqify_listener_done(srv->listener);
    if (c->job == NULL)
        conn_free(c);   /* else the job's completion frees it */
}

static const pqify_stream_cbs recv_cbs = {on_handshake, on_data, NULL, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    struct recv_srv *srv = ctx;
    struct conn *c = calloc(1, sizeof *c);
    pqify_fwd_limits lim = {.max_message = srv->a.max_chunk};
    if (c != NULL)
        c->dec = pqify_fwd_decoder_new(PQIFY_FWD_SERVER, &lim);
    if (c == NULL || c->dec == NULL) {
        free(c);
        close(fd);
        pqify_listener_done(l);
        return;
    }
    c->srv = srv;
    pqify_net_format_addr(peer, c->peer, sizeof c->peer);
    c->sc = srv->cfg;
    c->sc->refs++;
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    if (pqify_stream_accept(srv->loop, fd, c->sc->cfg, &srv->sopts, &recv_cbs, c, &c->s) != 0) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "cannot create a connection", "peer", c->peer);
        c->s = NULL;
        pqify_listener_done(l);
        conn_free(c);
        return;
    }
    pqify_gauge_add(srv->met.open, 1);
}

/* ---- stop, drain, reload ----------------------------------------------------------- */

static void srv_maybe_finish(struct recv_srv *srv)
{
    if (!srv->stopping || srv->n_conns > 0 || srv->finished)
        return;
    srv->finished = 1;
    pqify_service_drained(&srv->svc);
    if (srv->kpoll_open) {
        srv->kpoll_open = 0;
        uv_close((uv_handle_t *)&srv->kpoll, NULL);
    }
}

static void on_stop_signal(void *ctx)
{
    struct recv_srv *srv = ctx;
    srv->stopping = 1;
    if (srv->listener != NULL) {
        pqify_listener_free(srv->listener);
        srv->listener = NULL;
    }
    /* Chunks already received are written and acked; then close_notify. */
    for (struct conn *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->s == NULL)
            continue;
        if (!c->established) {
            pqify_stream_abort(c->s);
            continue;
        }
        c->draining = 1;
        conn_process(c);
    }
    srv_maybe_finish(srv);
}

static void on_deadline(void *ctx)
{
    struct recv_srv *srv = ctx;
    srv->deadline = 1;
    for (struct conn *c = srv->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->s != NULL)
            pqify_stream_abort(c->s);
    }
}

static void on_reload(void *ctx)
{
    struct recv_srv *srv = ctx;
    struct shared_cfg *fresh = cfg_build(&srv->a);
    if (fresh == NULL) {
        PQIFY_LOG(PQIFY_LOG_ERROR, "reload failed; still serving the previous certificate");
        return;
    }
    cfg_put(srv->cfg);
    srv->cfg = fresh;
    PQIFY_LOG(PQIFY_LOG_INFO, "reloaded", "cert", srv->a.tls.cert, "key", srv->a.tls.key);
}

static int metrics_init(struct recv_srv *srv)
{
    static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    pqify_metrics *m = pqify_metrics_new();
    if (m == NULL)
        return -1;
    srv->met.m = m;
    srv->met.events = pqify_metrics_counter(m, "pqify_logrecv_events_total",
                                            "Events made durable in the sink, per stream (tag).", "stream");
    srv->met.bytes = pqify_metrics_counter(m, "pqify_logrecv_bytes_total",
                                           "Forward protocol bytes received, per stream (tag).", "stream");
    pqify_metric *open = pqify_metrics_gauge(m, "pqify_logrecv_connections", "Connections open now.", NULL);
    pqify_metric *acked = pqify_metrics_counter(m, "pqify_logrecv_chunks_acked_total",
                                                "Chunks acknowledged after the sink made them durable.", NULL);
    pqify_metric *lat = pqify_metrics_histogram(m, "pqify_logrecv_ack_latency_seconds",
                                                "From a chunk decoded to its ack sent.", NULL,
                                                lat_bounds, sizeof lat_bounds / sizeof lat_bounds[0]);
    pqify_metric *errs = pqify_metrics_counter(m, "pqify_logrecv_sink_errors_total",
                                               "Sink writes that failed (the chunk was not acked).", NULL);
    pqify_metric *rej = pqify_metrics_counter(m, "pqify_logrecv_rejected_total",
                                              "Connections closed for hostile or malformed input.", NULL);
    if (srv->met.events == NULL || srv->met.bytes == NULL || open == NULL || acked == NULL ||
        lat == NULL || errs == NULL || rej == NULL || pqify_tls_metrics_init(&srv->met.tls, m) != 0)
        return -1;
    srv->met.open = pqify_metric_series(open, 0, NULL);
    srv->met.acked = pqify_metric_series(acked, 0, NULL);
    srv->met.latency = pqify_metric_series(lat, 0, NULL);
    srv->met.sink_errors = pqify_metric_series(errs, 0, NULL);
    srv->met.rejected = pqify_metric_series(rej, 0, NULL);
    return 0;
}

int pqify_cmd_logrecv(int argc, char **argv)
{
    struct recv_srv srv;
    char host[256], port[16], addr[300], err[512];
    int status = 1;
    uv_loop_t loop;

    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&recv_spec, stdout);
        return 0;
    }
    memset(&srv, 0, sizeof srv);
    if (parse_args(argc, argv, &srv.a) != 0) {
        pqify_config_free(loaded_config);
        return 2;
    }
    if (cli_split_hostport(srv.a.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify logrecv: '%s' is not HOST:PORT\n", srv.a.listen);
        pqify_config_free(loaded_config);
        return 2;
    }
    srv.cfg = cfg_build(&srv.a);
    if (srv.cfg == NULL)
        goto done;
    if (strncmp(srv.a.sink, "kafka:", 6) == 0) {
        int kok;
        srv.rk = kafka_open(&srv.a, &file_settings.kafka, srv.a.check_config, &kok);
        if (!kok)
            goto done;
    } else {
        srv.sink = pqify_file_sink_open(srv.a.sink + 5, (uint64_t)file_settings.max_file_bytes,
                                        err, sizeof err);
        if (srv.sink == NULL) {
            fprintf(stderr, "pqify logrecv: sink %s: %s\n", srv.a.sink, err);
            goto done;
        }
    }
    if (srv.a.check_config) {
        fprintf(stderr, "pqify logrecv: %s is usable\n", srv.a.config);
        status = 0;
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&srv.sink_mu, NULL);
    if (metrics_init(&srv) != 0) {
        fprintf(stderr, "pqify logrecv: cannot declare the metrics\n");
        goto done;
    }
    srv.sopts.handshake_timeout_ms = pqify_tls_options_handshake_ms(&srv.a.tls);
    srv.sopts.idle_timeout_ms = pqify_tls_options_idle_ms(&srv.a.tls, 1);
    uv_loop_init(&loop);
    srv.loop = &loop;
    pqify_listener_opts lo = {.host = host, .port = port, .max_connections = srv.a.max_connections};
    if (srv.rk != NULL) {
        uv_timer_init(&loop, &srv.kpoll);
        srv.kpoll.data = &srv;
        uv_timer_start(&srv.kpoll, kafka_poll, KAFKA_POLL_MS, KAFKA_POLL_MS);
        srv.kpoll_open = 1;
    }
    int ok = pqify_listener_open(&loop, &lo, on_accept, &srv, &srv.listener, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "pqify logrecv: %s\n", err);
    pqify_service_options svo = {.name = "logrecv", .admin = srv.a.admin, .metrics = srv.met.m,
                                 .grace_ms = DEFAULT_GRACE_S * 1000,
                                 .hooks = {on_stop_signal, on_deadline, on_reload, NULL, &srv}};
    if (ok && pqify_service_start(&srv.svc, &loop, &svo, err, sizeof err) != 0) {
        fprintf(stderr, "pqify logrecv: %s\n", err);
        ok = 0;
    }
    if (ok) {
        pqify_listener_address(srv.listener, addr, sizeof addr);
        pqify_service_announce(&srv.svc, addr);
        uv_run(&loop, UV_RUN_DEFAULT);
        status = 0;
    }
    if (srv.listener != NULL)
        pqify_listener_free(srv.listener);
    srv.listener = NULL;
    pqify_service_close_loop(&loop);

done:
    pqify_file_sink_close(srv.sink);
    if (srv.rk != NULL) {
        /* every chunk acked was delivered already: nothing of value is lost here */
#ifdef PQIFY_WITH_KAFKA
        rd_kafka_flush(srv.rk, 5000);
        rd_kafka_destroy(srv.rk);
#endif
    }
    cfg_put(srv.cfg);
    pqify_metrics_free(srv.met.m);
    pqify_config_free(loaded_config);
    loaded_config = NULL;
    return status;
}
