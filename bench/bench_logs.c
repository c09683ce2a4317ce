/*
 * pqify bench logs: the log pipeline's throughput (issue 11, "Speed"). The forwarder
 * (src/logs/forwarder.c) follows a file of JSON lines and sends it over TLS to the
 * receiver (src/logs/receiver.c) with the null sink, each on its own loop and thread
 * pinned to its own core; measured from the forwarder's start to the last ack. Twice
 * in the same run: X25519MLKEM768 (pq required) and X25519 (pq off), with each
 * stream's batch send duration (send to ack) p50/p99 and the handshake time.
 * Then once more over X25519MLKEM768 into the Kafka sink (src/logs/kafka), whose
 * brokers are librdkafka's mock cluster in this process: a chunk is acked only on the
 * delivery reports of all its events (acks=all), and the events counted in the
 * cluster afterwards (the topic's high watermark, from a client of its own) must be
 * the events read, or the run fails.
 * The spool sits on /dev/shm when it exists (its fsyncs would measure the disk).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bench.h"
#include "pqify/logs_forwarder.h"
#include "pqify/logs_kafka.h"
#include "pqify/logs_receiver.h"
#include "pqify/net/log.h"
#include "pqify/net/pair.h"

struct recv_side {
    uv_loop_t loop;
    uv_async_t stop;
    pqify_logrecv *r;
    pqify_logrecv_sink *sink;
    int cpu;
    double cpu_s;   /* the thread's CPU time (user + system) */
};

struct fwd_side {
    uv_loop_t loop;
    uv_timer_t watch;
    pqify_logfwd *f;
    uint64_t want_events;
    double *samples;
    size_t n_samples, cap_samples;
    int done;
};

/* CPU time (user + system) of RUSAGE_THREAD, or of RUSAGE_SELF: with Kafka the whole
 * process, where librdkafka's threads and the mock broker work for the pipeline too. */
static double cpu_seconds(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu(void)
{
    return cpu_seconds(RUSAGE_THREAD);
}

static void pin(int cpu)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)n, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void recv_drained(void *arg)
{
    struct recv_side *rs = arg;
    uv_close((uv_handle_t *)&rs->stop, NULL);
}

static void on_stop(uv_async_t *a)
{
    struct recv_side *rs = a->data;
    pqify_logrecv_drain(rs->r, recv_drained, rs);
}

static void *recv_thread(void *arg)
{
    struct recv_side *rs = arg;
    pin(rs->cpu);
    double c0 = thread_cpu();
    uv_run(&rs->loop, UV_RUN_DEFAULT);
    rs->cpu_s = thread_cpu() - c0;
    return NULL;
}

static void on_sample(void *ctx, double s)
{
    struct fwd_side *fs = ctx;
    if (fs->n_samples == fs->cap_samples) {
        size_t cap = fs->cap_samples ? fs->cap_samples * 2 : 1024;
        double *p = realloc(fs->samples, cap * sizeof *p);
        if (p == NULL)
            return;
        fs->samples = p;
        fs->cap_samples = cap;
    }
    fs->samples[fs->n_samples++] = s;
}

static void fwd_drained(void *arg)
{
    struct fwd_side *fs = arg;
    uv_close((uv_handle_t *)&fs->watch, NULL);
}

static void on_watch(uv_timer_t *t)
{
    struct fwd_side *fs = t->data;
    pqify_logfwd_stats st;
    pqify_logfwd_get_stats(fs->f, &st);
    if (!fs->done && st.events_acked >= fs->want_events) {
        fs->done = 1;
        uv_timer_stop(t);
        pqify_logfwd_drain(fs->f, fwd_drained, fs);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* librdkafka's mock cluster, one broker, with the bench's topic. */
struct kafka_mock {
    rd_kafka_t *owner;
    rd_kafka_mock_cluster_t *mc;
    char brokers[256];
};

#define KAFKA_TOPIC "logs.bench"
#define KAFKA_PARTITIONS 4

static int kafka_mock_start(struct kafka_mock *k)
{
    char err[512];
    memset(k, 0, sizeof *k);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    (void)rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    k->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (k->owner == NULL) {
        fprintf(stderr, "pqify bench logs: kafka: %s\n", err);
        return -1;
    }
    k->mc = rd_kafka_mock_cluster_new(k->owner, 1);
    if (k->mc == NULL ||
        rd_kafka_mock_topic_create(k->mc, KAFKA_TOPIC, KAFKA_PARTITIONS, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "pqify bench logs: cannot start librdkafka's mock cluster\n");
        return -1;
    }
    snprintf(k->brokers, sizeof k->brokers, "%s", rd_kafka_mock_cluster_bootstraps(k->mc));
    return 0;
}

static void kafka_mock_stop(struct kafka_mock *k)
{
    if (k->mc != NULL)
        rd_kafka_mock_cluster_destroy(k->mc);
    if (k->owner != NULL)
        rd_kafka_destroy(k->owner);
}

/* The events in the cluster: the sum of the topic's high watermarks (the topic is new,
 * so its offsets start at 0), asked by a client of its own, not the producer's count.
 * -1 when the cluster does not answer. */
static int64_t kafka_mock_count(const struct kafka_mock *k)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", k->brokers, err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", "pqify-bench-count", err, sizeof err) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (c == NULL)
        return -1;
    int64_t total = 0;
    for (int32_t p = 0; p < KAFKA_PARTITIONS && total >= 0; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(c, KAFKA_TOPIC, p, &lo, &hi, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            total = -1;
        else
            total += hi;   /* from 0: lo rises as the mock drops old segments */
    }
    rd_kafka_destroy(c);
    return total;
}

/* What a run measured, for the PQ / classical ratios. */
struct run_result {
    double mib_s, p50_ms, p99_ms, handshake_ms;
};

/* One run: returns 0, prints two lines and fills *res. kafka NULL: the null sink. */
static int run(const char *label, const char *groups, const char *pq, const char *cert,
               const char *key, const char *data, uint64_t bytes, uint64_t lines,
               const char *spool_root, const struct kafka_mock *kafka, struct run_result *res)
{
    char err[512], addr[300], host[64], port[16], spool[512];
    struct recv_side rs;
    struct fwd_side fs;
    memset(&rs, 0, sizeof rs);
    memset(&fs, 0, sizeof fs);
    pqify_tls_config *scfg = pqify_pair_config(1, cert, key, groups, pq);
    pqify_tls_config *ccfg = pqify_pair_config(0, cert, key, groups, pq);
    if (scfg == NULL || ccfg == NULL)
        return -1;
    uv_loop_init(&rs.loop);
    rs.cpu = 1;
    if (kafka != NULL) {
        /* the topic template names the mock's topic: the stream is "bench" */
        rs.sink = pqify_logrecv_kafka_sink_new(&rs.loop, kafka->brokers, "logs.{tag}", NULL, 0, 0,
                                               err, sizeof err);
        if (rs.sink == NULL) {
            fprintf(stderr, "pqify bench logs: kafka sink: %s\n", err);
            return -1;
        }
    } else {
        rs.sink = pqify_logrecv_null_sink_new();
    }
    pqify_logrecv_options ro = {.host = "127.0.0.1", .port = "0", .tls = scfg,
                                .max_chunk = 64u << 20, .sink = rs.sink};
    if (rs.sink == NULL || pqify_logrecv_start(&rs.loop, &ro, &rs.r, err, sizeof err) != 0) {
        fprintf(stderr, "pqify bench logs: receiver: %s\n", err);
        return -1;
    }
    uv_async_init(&rs.loop, &rs.stop, on_stop);
    rs.stop.data = &rs;
    pqify_logrecv_address(rs.r, addr, sizeof addr);
    if (sscanf(addr, "%63[^:]:%15s", host, port) != 2)
        return -1;
    pthread_t th;
    pthread_create(&th, NULL, recv_thread, &rs);

    pin(0);
    snprintf(spool, sizeof spool, "%s/spool-%s%s", spool_root, pq, kafka ? "-kafka" : "");
    uv_loop_init(&fs.loop);
    fs.want_events = lines;
    const char *targets[1] = {addr};
    pqify_logfwd_input in = {PQIFY_LOGFWD_FILE, data, "bench"};
    pqify_logfwd_options fo = {.targets = targets, .n_targets = 1, .tls = ccfg,
                               .spool_dir = spool, .spool_max_bytes = 1ull << 30,
                               .batch_bytes = 1u << 20, .batch_events = 100000, .batch_ms = 20,
                               .poll_ms = 20, .on_ack_sample = on_sample, .ctx = &fs};
    uint64_t t0 = uv_hrtime();
    double c0 = thread_cpu(), p0 = cpu_seconds(RUSAGE_SELF);
    if (pqify_logfwd_start(&fs.loop, &fo, &in, 1, &fs.f, err, sizeof err) != 0) {
        fprintf(stderr, "pqify bench logs: forwarder: %s\n", err);
        return -1;
    }
    uv_timer_init(&fs.loop, &fs.watch);
    fs.watch.data = &fs;
    uv_timer_start(&fs.watch, on_watch, 1, 1);
    uv_run(&fs.loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    double fwd_cpu = thread_cpu() - c0, proc_cpu = cpu_seconds(RUSAGE_SELF) - p0;
    pqify_logfwd_stats st;
    pqify_logfwd_get_stats(fs.f, &st);
    pqify_logfwd_free(fs.f);
    uv_run(&fs.loop, UV_RUN_DEFAULT);
    uv_loop_close(&fs.loop);
    uv_async_send(&rs.stop);
    pthread_join(th, NULL);
    pqify_logrecv_free(rs.r);
    uv_run(&rs.loop, UV_RUN_DEFAULT);
    uv_loop_close(&rs.loop);
    rs.sink->free(rs.sink);
    pqify_tls_config_free(ccfg);

    int64_t in_kafka = kafka != NULL ? kafka_mock_count(kafka) : 0;
    qsort(fs.samples, fs.n_samples, sizeof *fs.samples, cmp_d);
    res->mib_s = (double)bytes / (1 << 20) / secs;
    res->p50_ms = pct(fs.samples, fs.n_samples, 0.5) * 1e3;
    res->p99_ms = pct(fs.samples, fs.n_samples, 0.99) * 1e3;
    res->handshake_ms = (double)st.handshake_us / 1e3;
    printf("%-15s %-15s %8.1f MiB/s %10.0f events/s  batches %5zu  send p50 %7.2f ms  p99 %7.2f ms  handshake %6.2f ms\n",
           label, st.group, (double)bytes / (1 << 20) / secs, (double)lines / secs, fs.n_samples,
           pct(fs.samples, fs.n_samples, 0.5) * 1e3, pct(fs.samples, fs.n_samples, 0.99) * 1e3,
           (double)st.handshake_us / 1e3);
    /* On a shared machine the wall clock measures the neighbours too: the CPU each
     * side used says what one core of each would carry. */
    printf("%-15s cpu: forwarder %.2f s (%.1f MiB per cpu-second), receiver %.2f s (%.1f MiB per cpu-second), wall %.2f s\n",
           "", fwd_cpu, (double)bytes / (1 << 20) / (fwd_cpu > 0 ? fwd_cpu : 1), rs.cpu_s,
           (double)bytes / (1 << 20) / (rs.cpu_s > 0 ? rs.cpu_s : 1), secs);
    if (kafka != NULL)
        printf("%-15s kafka: %lld events in the mock cluster's topic %s, of %llu read%s; process cpu %.2f s "
               "(%.0f events per cpu-second, librdkafka's and the mock broker's threads included)\n", "",
               (long long)in_kafka, KAFKA_TOPIC, (unsigned long long)lines,
               in_kafka == (int64_t)lines ? "" : ": MISMATCH", proc_cpu,
               (double)lines / (proc_cpu > 0 ? proc_cpu : 1));
    free(fs.samples);
    return kafka != NULL && in_kafka != (int64_t)lines ? -1 : 0;
}

int pqify_bench_logs(int argc, char **argv)
{
    unsigned mib = 128;
    int no_kafka = 0, only_kafka = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            mib = 16;
        else if (strcmp(argv[i], "--no-kafka") == 0)
            no_kafka = 1;
        else if (strcmp(argv[i], "--kafka-only") == 0)
            only_kafka = 1;
        else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            mib = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: pqify bench logs [--mib N (default 128)] [--quick] [--no-kafka | --kafka-only]\n"
                   "  forwarder -> receiver (null sink), one core each, JSON lines over TLS:\n"
                   "  X25519MLKEM768 against X25519 in the same run; then X25519MLKEM768 into\n"
                   "  Kafka (librdkafka's mock cluster, in this process), events counted there.\n");
            return 0;
        }
    }
    if (mib == 0 || mib > 4096) {
        fprintf(stderr, "pqify bench logs: --mib between 1 and 4096\n");
        return 2;
    }
    pqify_log_setup(PQIFY_LOG_LOGFMT, PQIFY_LOG_WARN, 2);
    char root[256];
    struct stat st;
    snprintf(root, sizeof root, "%s/pqify-bench-logs.XXXXXX",
             stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(root) == NULL) {
        perror("pqify bench logs: mkdtemp");
        return 1;
    }
    char data[300];
    snprintf(data, sizeof data, "%s/access.log", root);
    FILE *fp = fopen(data, "w");
    if (fp == NULL)
        return 1;
    uint64_t bytes = 0, lines = 0, want = (uint64_t)mib << 20;
    while (bytes < want) {
        /* an edge access log line, about 200 bytes */
        int n = fprintf(fp,
                        "{\"ts\":\"2026-12-02T08:00:00.%06llu Z\",\"host\":\"www.example.com\",\"method\":\"GET\","
                        "\"path\":\"/api/v1/items/%llu\",\"status\":200,\"bytes\":%llu,\"ms\":%.3f,"
                        "\"ua\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"group\":\"X25519MLKEM768\"}\n",
                        (unsigned long long)(lines % 1000000), (unsigned long long)lines,
                        (unsigned long long)(lines * 7919 % 65536), (double)(lines % 1000) / 7.0);
        bytes += (uint64_t)n;
        lines++;
    }
    fclose(fp);
    char *cert = NULL, *key = NULL;
    if (pqify_bench_make_cert(&cert, &key) != 0)
        return 1;
    printf("pqify bench logs: %.1f MiB of JSON lines (%llu events), forwarder on core 0 -> receiver on core 1,\n"
           "null sink (then Kafka), zstd batches of 1 MiB, spool in %s\n\n",
           (double)bytes / (1 << 20), (unsigned long long)lines, root);
    struct run_result r_pq = {0}, r_cl = {0}, r_k = {0};
    int rc = only_kafka ? 0 : run("pq required", "X25519MLKEM768", "required", cert, key, data, bytes, lines, root, NULL, &r_pq);
    if (rc == 0 && !only_kafka)
        rc = run("pq off", "X25519", "off", cert, key, data, bytes, lines, root, NULL, &r_cl);
    if (rc == 0 && !only_kafka && r_cl.mib_s > 0 && r_cl.p50_ms > 0 && r_cl.p99_ms > 0 && r_cl.handshake_ms > 0)
        printf("%-15s X25519MLKEM768 / X25519 in this run: throughput %.2fx, send p50 %.2fx, p99 %.2fx, handshake %.2fx\n",
               "pq / classical", r_pq.mib_s / r_cl.mib_s, r_pq.p50_ms / r_cl.p50_ms,
               r_pq.p99_ms / r_cl.p99_ms, r_pq.handshake_ms / r_cl.handshake_ms);
    struct kafka_mock km;
    if (rc == 0 && !no_kafka) {
        rc = kafka_mock_start(&km);
        if (rc == 0)
            rc = run("kafka, pq", "X25519MLKEM768", "required", cert, key, data, bytes, lines, root, &km, &r_k);
        kafka_mock_stop(&km);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "pqify bench logs: could not remove %s\n", root);
    free(cert);
    free(key);
    return rc == 0 ? 0 : 1;
}
