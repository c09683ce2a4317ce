/* pqify: one multi-call binary. `pqify <command> [options]`, `pqify <command> --help`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* One line per command; `pqify --help` lists them in this order. */
static const struct pqify_command commands[] = {
    {"demo", "show what post-quantum TLS costs, step by step", pqify_cmd_demo},
    {"bench", "measure the KEMs and the handshakes (pqify against libssl 3.0)", pqify_cmd_bench},
    {"serve", "TLS 1.3 echo/HTTPS server that reports the negotiated group", pqify_cmd_serve},
    {"keyserver", "keyless key server: signs for TLS servers over PQ mutual TLS", pqify_cmd_keyserver},
    {"keyless", "ask a key server: ping, sign", pqify_cmd_keyless},
    {"connect", "TLS 1.3 client: report the negotiated group, relay stdin/stdout", pqify_cmd_connect},
    {"scan", "which key-exchange groups a TLS server accepts, and whether it prefers PQ", pqify_cmd_scan},
    {"logrecv", "receive logs (Fluentd Forward over PQ TLS) into a sink, acked when durable", pqify_cmd_logrecv},
    {"logfwd", "forward stdin as a log stream to logrecv; spooled until acked", pqify_cmd_logfwd},
    {"tunnel", "connector: serve private origins to the edge over PQ mutual TLS; ingress rules", pqify_cmd_tunnel},
#ifdef PQIFY_WITH_KAFKA
    {"kafka-mock", "librdkafka's mock Kafka cluster, for the demo and tests (plaintext)", pqify_cmd_kafka_mock},
    {"kafka-count", "read a Kafka topic from its beginning and count its messages", pqify_cmd_kafka_count},
#endif
    {"edge", "public PQ TLS terminator and reverse proxy (HTTP/1.1, HTTP/2) to origins", pqify_cmd_edge},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pqify <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`pqify <command> --help` describes one command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pqify: unknown %s '%s'\n", argv[1][0] == '-' ? "option" : "command",
            argv[1]);
    usage(stderr);
    return 2;
}
