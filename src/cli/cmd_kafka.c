/*
 * pqify-kafka kafka-mock | kafka-count: a Kafka for the demo and a reader that
 * counts what reached it. Only in pqify-kafka (PQIFY_WITH_KAFKA): librdkafka
 * links libssl, which pqify never links.
 *   kafka-mock: librdkafka's mock cluster (rdkafka_mock.h, a real Kafka-protocol
 *     broker in this process, plaintext), `listening on BOOTSTRAP` on stderr,
 *     until SIGTERM/SIGINT.
 *   kafka-count: reads TOPIC from its beginning (every partition) and prints
 *     `read N messages from TOPIC`; exits 0 once it has read --expect messages
 *     and no more arrived within a second, 1 otherwise (at --timeout).
 */
#ifdef PQIFY_WITH_KAFKA
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

struct mock_args {
    unsigned brokers, partitions;
    const char *topic;
};

static const struct pqify_opt mock_opts[] = {
    {"--brokers", "N", PQIFY_OPT_UINT, offsetof(struct mock_args, brokers), 1, 9, 0, "brokers (default 1)"},
    {"--topic", "NAME", PQIFY_OPT_STRING, offsetof(struct mock_args, topic), 0, 0, 0,
     "create this topic at start (others are created on first use)"},
    {"--partitions", "N", PQIFY_OPT_UINT, offsetof(struct mock_args, partitions), 1, 64, 0,
     "its partitions (default 1)"},
};

static const struct pqify_cmd_spec mock_spec = {
    .name = "kafka-mock",
    .usage = "kafka-mock [--brokers N] [--topic NAME [--partitions N]]\n",
    .about = "Run librdkafka's mock Kafka cluster (plaintext, in memory) for demos and tests.\n",
    .opts = mock_opts,
    .n_opts = PQIFY_N_OPTS(mock_opts),
    .footer = "stderr: `listening on HOST:PORT,...` (the bootstrap servers) once ready;\n"
              "SIGTERM/SIGINT stop it.\n",
};

int pqify_cmd_kafka_mock(int argc, char **argv)
{
    struct mock_args a = {.brokers = 1, .partitions = 1};
    char err[512];
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&mock_spec, stdout);
        return 0;
    }
    if (pqify_cli_parse(&mock_spec, argc, argv, &a) != 0)
        return 2;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "pqify kafka-mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)a.brokers);
    if (mc == NULL) {
        fprintf(stderr, "pqify kafka-mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (a.topic != NULL)
        e = rd_kafka_mock_topic_create(mc, a.topic, (int)a.partitions, (int)a.brokers);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "pqify kafka-mock: topic %s: %s\n", a.topic, rd_kafka_err2str(e));
    } else {
        struct sigaction sa = {.sa_handler = on_stop};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        fprintf(stderr, "listening on %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        while (!stop)
            pause();
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : 1;
}

struct count_args {
    const char *brokers, *topic;
    unsigned expect, timeout_s;
};

static const struct pqify_opt count_opts[] = {
    {"--brokers", "HOST:PORT,...", PQIFY_OPT_STRING, offsetof(struct count_args, brokers), 0, 0, 0,
     "bootstrap servers"},
    {"--topic", "NAME", PQIFY_OPT_STRING, offsetof(struct count_args, topic), 0, 0, 0, "the topic to read"},
    {"--expect", "N", PQIFY_OPT_UINT, offsetof(struct count_args, expect), 0, 100000000, 0,
     "messages expected"},
    {"--timeout", "SEC", PQIFY_OPT_UINT, offsetof(struct count_args, timeout_s), 1, 3600, 0,
     "give up after this long (default 30)"},
};

static const struct pqify_cmd_spec count_spec = {
    .name = "kafka-count",
    .usage = "kafka-count --brokers HOST:PORT,... --topic NAME --expect N [--timeout SEC]\n",
    .about = "Read a topic from its beginning and count its messages.\n",
    .opts = count_opts,
    .n_opts = PQIFY_N_OPTS(count_opts),
    .footer = "stdout: `read N messages from TOPIC`; exit 0 when N is --expect.\n",
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every partition of topic, from its first offset; 0 or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    int rc = -1;
    if (t != NULL && rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rc = rd_kafka_assign(rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (t != NULL)
        rd_kafka_topic_destroy(t);
    return rc;
}

int pqify_cmd_kafka_count(int argc, char **argv)
{
    struct count_args a = {.timeout_s = 30};
    char err[512];
    if (pqify_wants_help(argc, argv)) {
        pqify_cli_help(&count_spec, stdout);
        return 0;
    }
    if (pqify_cli_parse(&count_spec, argc, argv, &a) != 0)
        return 2;
    if (a.brokers == NULL || a.topic == NULL) {
        fprintf(stderr, "pqify kafka-count: --brokers and --topic are required\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", a.brokers, err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", "pqify-kafka-count", err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "pqify kafka-count: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "pqify kafka-count: %s\n", err);
        return 1;
    }
    unsigned long n = 0;
    double deadline = now_s() + a.timeout_s, quiet_until = 0;
    if (assign_all(rk, a.topic) != 0) {
        fprintf(stderr, "pqify kafka-count: cannot read the partitions of %s at %s\n", a.topic, a.brokers);
    } else {
        /* past --expect, a second more without messages: more would show there */
        while (now_s() < deadline && (n < a.expect || now_s() < quiet_until)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (m == NULL)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && ++n == a.expect)
                quiet_until = now_s() + 1.0;
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("read %lu messages from %s\n", n, a.topic);
    return n == a.expect ? 0 : 1;
}
#else
/* pqify itself has no Kafka commands; ISO C wants a declaration in every file. */
typedef int pqify_cli_no_kafka;
#endif
