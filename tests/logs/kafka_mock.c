/* A test helper (not a test): librdkafka's own mock cluster in this process, driven
 * from stdin, so end-to-end tests can point `pqify logrecv --sink kafka:...` and kcat
 * at a Kafka that needs no JVM, and inject faults.
 *   logs_kafka_mock BROKERS      prints "bootstraps HOST:PORT,..." then reads commands:
 *     topic NAME PARTITIONS      create a topic (replication = BROKERS)
 *     down ID | up ID            a broker refuses / accepts connections (-1 = all)
 *     errors N CODE              the next N Produce requests fail with CODE
 *   and exits at EOF. Each command is answered "ok" or "error WHY". */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PRODUCE 0

int main(int argc, char **argv)
{
    char err[512], line[512];
    int brokers = argc > 1 ? atoi(argv[1]) : 1;
    if (brokers < 1 || brokers > 9) {
        fprintf(stderr, "usage: logs_kafka_mock BROKERS (1..9)\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "logs_kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (mc == NULL) {
        fprintf(stderr, "logs_kafka_mock: cannot start the mock cluster\n");
        return 1;
    }
    printf("bootstraps %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL) {
        char name[256];
        int a, b;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (sscanf(line, "topic %255s %d", name, &a) == 2)
            e = rd_kafka_mock_topic_create(mc, name, a, brokers);
        else if (sscanf(line, "down %d", &a) == 1)
            e = rd_kafka_mock_broker_set_down(mc, a);
        else if (sscanf(line, "up %d", &a) == 1)
            e = rd_kafka_mock_broker_set_up(mc, a);
        else if (sscanf(line, "errors %d %d", &a, &b) == 2 && a > 0) {
            rd_kafka_resp_err_t *errs = calloc((size_t)a, sizeof *errs);
            for (int i = 0; i < a; i++)
                errs[i] = (rd_kafka_resp_err_t)b;
            rd_kafka_mock_push_request_errors_array(mc, API_PRODUCE, (size_t)a, errs);
            free(errs);
        } else {
            printf("error unknown command\n");
            fflush(stdout);
            continue;
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            printf("error %s\n", rd_kafka_err2str(e));
        else
            printf("ok\n");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
