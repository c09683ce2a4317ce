/*
 * logrecv's Kafka sink (librdkafka), moved from src/cli unchanged in behaviour: one
 * idempotent producer (enable.idempotence, acks=all), each event one message keyed by
 * the tag on the topic made from the template; a chunk is done when the delivery
 * report of its last message arrives, failed if any delivery failed (after
 * librdkafka's own retries). Delivery reports are served on the loop by a poll timer,
 * which also carries on chunks stopped by a full local queue.
 * librdkafka links libssl, which the production `pqify` never links: this file is its
 * own library (pqify_logs_kafka), linked only into `pqify-kafka` and the bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "pqify/logs_kafka.h"
#include "pqify/net/log.h"

#define KAFKA_POLL_MS 5
#define KAFKA_MAX_TOPIC 249
#define MAX_WAITING 100000
#define PRODUCE_BATCH 1024
/* Chunks of one connection in the producer at once: the next is converted to JSON and
 * enqueued while the brokers acknowledge the previous ones (one at a time, a chunk
 * waited for its round trip before the next was even decoded). */
#define KAFKA_DEPTH 8   /* messages handed to rd_kafka_produce_batch at once */
#define MAX_TOPICS 256   /* topic handles kept; past that, looked up by name per message */

/* priv[] of a chunk: the next byte of lines to produce, deliveries awaited, failed */
enum { K_NEXT, K_PENDING, K_FAILED, K_QUEUED };

struct kafka_sink {
    pqify_logrecv_sink base;
    rd_kafka_t *rk;
    char *topic_tmpl;
    uv_timer_t poll;
    int poll_open;
    pqify_logrecv_chunk **waiting;   /* stopped by a full local queue, in order */
    size_t n_waiting, cap_waiting;
    struct {
        char name[KAFKA_MAX_TOPIC + 1];
        rd_kafka_topic_t *rkt;
    } *topics;                        /* handles by name: producev by name looks the
                                         topic up (under a lock) for every message */
    size_t n_topics;
    rd_kafka_message_t *batch;        /* PRODUCE_BATCH messages being enqueued */
};

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

static void maybe_complete(pqify_logrecv_chunk *c)
{
    if (c->priv[K_PENDING] > 0 || (c->priv[K_NEXT] < c->len && !c->priv[K_FAILED]))
        return;
    c->rc = c->priv[K_FAILED] ? PQIFY_LOGS_ERR_IO : 0;
    pqify_logrecv_chunk_done(c);
}

/* The topic's handle, made once; NULL past MAX_TOPICS (then producev names it). */
static rd_kafka_topic_t *topic_handle(struct kafka_sink *s, const char *topic)
{
    for (size_t i = 0; i < s->n_topics; i++)
        if (strcmp(s->topics[i].name, topic) == 0)
            return s->topics[i].rkt;
    if (s->n_topics == MAX_TOPICS)
        return NULL;
    if (s->topics == NULL && (s->topics = calloc(MAX_TOPICS, sizeof *s->topics)) == NULL)
        return NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, topic, NULL);
    if (rkt == NULL)
        return NULL;
    snprintf(s->topics[s->n_topics].name, sizeof s->topics[s->n_topics].name, "%s", topic);
    s->topics[s->n_topics++].rkt = rkt;
    return rkt;
}

/* One event's line at byte off of the chunk: its length, and where the next starts. */
static size_t line_at(const pqify_logrecv_chunk *c, size_t off, size_t *next)
{
    const char *line = (const char *)c->lines + off;
    const char *nl = memchr(line, '\n', c->len - off);
    size_t len = nl != NULL ? (size_t)(nl - line) : c->len - off;
    *next = off + len + (nl != NULL);
    return len;
}

static void produce_failed(pqify_logrecv_chunk *c, const char *topic, rd_kafka_resp_err_t e)
{
    if (c->priv[K_FAILED])
        return;
    c->priv[K_FAILED] = 1;
    snprintf(c->err, sizeof c->err, "kafka topic %s: %s", topic, rd_kafka_err2str(e));
}

/* Up to PRODUCE_BATCH events from K_NEXT through rd_kafka_produce_batch: one lock of
 * the topic and one wake-up of the broker thread for them all, where producev takes
 * them per message (the receiver's profile into Kafka). After a full local queue
 * librdkafka refuses every later message of the call, so what went in is a prefix
 * (other errors fail the chunk). 1 when the queue was full. */
static int produce_some(struct kafka_sink *s, pqify_logrecv_chunk *c, rd_kafka_topic_t *rkt,
                        const char *topic)
{
    size_t n = 0;
    for (size_t off = c->priv[K_NEXT], next; off < c->len && n < PRODUCE_BATCH; off = next) {
        rd_kafka_message_t *m = &s->batch[n++];
        memset(m, 0, sizeof *m);
        m->payload = (void *)(c->lines + off);
        m->len = line_at(c, off, &next);
        m->key = (void *)c->tag;
        m->key_len = c->tag_len;
        m->_private = c;
    }
    rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, 0, s->batch, (int)n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = s->batch[i].err;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            c->priv[K_PENDING]++;
            if (!c->priv[K_FAILED])
                (void)line_at(c, (size_t)((const uint8_t *)s->batch[i].payload - c->lines), &c->priv[K_NEXT]);
        } else if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !c->priv[K_FAILED]) {
            return 1;
        } else {
            produce_failed(c, topic, e);
        }
    }
    return 0;
}

/* Produces the chunk's lines from K_NEXT on, one message per event. 1 when the local
 * queue is full (the poll timer carries on), 0 otherwise. The values point into the
 * chunk's lines, not copied: the chunk lives until the delivery report of its last
 * message (maybe_complete), so librdkafka reads them while they are valid. */
static int produce(struct kafka_sink *s, pqify_logrecv_chunk *c)
{
    char topic[KAFKA_MAX_TOPIC + 1];
    kafka_topic(s->topic_tmpl, c->tag, topic, sizeof topic);
    rd_kafka_topic_t *rkt = topic_handle(s, topic);
    while (c->priv[K_NEXT] < c->len && !c->priv[K_FAILED]) {
        if (rkt != NULL && s->batch != NULL) {
            if (produce_some(s, c, rkt, topic) == 1)
                return 1;
            continue;
        }
        size_t next;
        size_t len = line_at(c, c->priv[K_NEXT], &next);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)(c->lines + c->priv[K_NEXT]), len),
            RD_KAFKA_V_KEY((void *)c->tag, c->tag_len), RD_KAFKA_V_OPAQUE(c), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return 1;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            produce_failed(c, topic, e);
            break;
        }
        c->priv[K_PENDING]++;
        c->priv[K_NEXT] = next;
    }
    maybe_complete(c);
    return 0;
}

static int kafka_submit(pqify_logrecv_sink *base, pqify_logrecv_chunk *c)
{
    struct kafka_sink *s = (struct kafka_sink *)base;
    if (s->n_waiting > 0 || produce(s, c) == 1) {   /* in order behind the others */
        if (s->n_waiting == s->cap_waiting) {
            size_t cap = s->cap_waiting ? s->cap_waiting * 2 : 64;
            pqify_logrecv_chunk **w = cap > MAX_WAITING ? NULL : realloc(s->waiting, cap * sizeof *w);
            if (w == NULL)
                return -1;
            s->waiting = w;
            s->cap_waiting = cap;
        }
        s->waiting[s->n_waiting++] = c;
    }
    return 0;
}

/* Delivery reports, served by rd_kafka_poll on the loop: the chunk is durable once every
 * one of its messages is acknowledged by the brokers (acks=all). */
static void kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk, (void)opaque;
    pqify_logrecv_chunk *c = msg->_private;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && !c->priv[K_FAILED]) {
        c->priv[K_FAILED] = 1;
        snprintf(c->err, sizeof c->err, "kafka topic %s: %s", rd_kafka_topic_name(msg->rkt),
                 rd_kafka_err2str(msg->err));
    }
    c->priv[K_PENDING]--;
    maybe_complete(c);
}

static void kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk, (void)opaque;
    PQIFY_LOG(PQIFY_LOG_WARN, "kafka", "error", rd_kafka_err2name((rd_kafka_resp_err_t)err),
              "reason", reason);
}

static void kafka_poll(uv_timer_t *t)
{
    struct kafka_sink *s = t->data;
    rd_kafka_poll(s->rk, 0);
    /* chunks stopped by a full local queue carry on, oldest first */
    size_t done = 0;
    while (done < s->n_waiting && produce(s, s->waiting[done]) == 0)
        done++;
    if (done == 0)
        return;   /* nothing moved (and waiting may not be allocated yet) */
    memmove(s->waiting, s->waiting + done, (s->n_waiting - done) * sizeof *s->waiting);
    s->n_waiting -= done;
}

static void kafka_quiesce(pqify_logrecv_sink *base)
{
    struct kafka_sink *s = (struct kafka_sink *)base;
    if (s->poll_open) {
        s->poll_open = 0;
        uv_close((uv_handle_t *)&s->poll, NULL);
    }
}

static void kafka_free(pqify_logrecv_sink *base)
{
    struct kafka_sink *s = (struct kafka_sink *)base;
    /* every chunk acked was delivered already: nothing of value is lost here */
    rd_kafka_flush(s->rk, 5000);
    for (size_t i = 0; i < s->n_topics; i++)
        rd_kafka_topic_destroy(s->topics[i].rkt);
    free(s->topics);
    free(s->batch);
    rd_kafka_destroy(s->rk);
    free(s->waiting);
    free(s->topic_tmpl);
    free(s);
}

pqify_logrecv_sink *pqify_logrecv_kafka_sink_new(uv_loop_t *loop, const char *brokers,
                                                 const char *topic, const char *const *props,
                                                 size_t n_props, int check_only, char *err,
                                                 size_t cap)
{
    char e[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* At-least-once without duplicates from the producer's own retries. */
    const char *fixed[][2] = {{"bootstrap.servers", brokers},
                              {"enable.idempotence", "true"},
                              {"acks", "all"},
                              {"linger.ms", "5"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, cap, "kafka %s: %s", fixed[i][0], e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (size_t i = 0; i < n_props; i++) {
        char name[256];
        const char *eq = strchr(props[i], '=');
        if (eq == NULL || eq == props[i] || (size_t)(eq - props[i]) >= sizeof name) {
            snprintf(err, cap, "kafka: '%s' is not name=value", props[i]);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
        memcpy(name, props[i], (size_t)(eq - props[i]));
        name[eq - props[i]] = '\0';
        if (rd_kafka_conf_set(conf, name, eq + 1, e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, cap, "kafka: %s", e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (check_only) {
        rd_kafka_conf_destroy(conf);
        err[0] = '\0';
        return NULL;   /* usable: the caller tells by the empty err */
    }
    struct kafka_sink *s = calloc(1, sizeof *s);
    if (s == NULL || (s->topic_tmpl = strdup(topic)) == NULL) {
        free(s);
        rd_kafka_conf_destroy(conf);
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (s->rk == NULL) {
        snprintf(err, cap, "kafka: %s", e);
        rd_kafka_conf_destroy(conf);
        free(s->topic_tmpl);
        free(s);
        return NULL;
    }
    s->batch = malloc(PRODUCE_BATCH * sizeof *s->batch);   /* NULL: per message */
    s->base.submit = kafka_submit;
    s->base.depth = KAFKA_DEPTH;
    s->base.quiesce = kafka_quiesce;
    s->base.free = kafka_free;
    uv_timer_init(loop, &s->poll);
    s->poll.data = s;
    uv_timer_start(&s->poll, kafka_poll, KAFKA_POLL_MS, KAFKA_POLL_MS);
    s->poll_open = 1;
    return &s->base;
}
