/* logrecv's Kafka sink (src/logs/kafka/, librdkafka). Its own library, pqify_logs_kafka:
 * librdkafka links libssl, which the production `pqify` never links, so only
 * `pqify-kafka` and the bench use it. */
#ifndef PQIFY_LOGS_KAFKA_H
#define PQIFY_LOGS_KAFKA_H

#include <stddef.h>
#include <uv.h>

#include "pqify/logs_receiver.h"

#ifdef __cplusplus
extern "C" {
#endif

/* brokers "host:port,..."; topic a template with {tag}; props "name=value" passed to
 * librdkafka (after the fixed enable.idempotence=true, acks=all). With check_only the
 * properties are checked and nothing connects: NULL with err empty means usable.
 * Otherwise NULL with err in words on failure. */
pqify_logrecv_sink *pqify_logrecv_kafka_sink_new(uv_loop_t *loop, const char *brokers,
                                                 const char *topic, const char *const *props,
                                                 size_t n_props, int check_only, char *err,
                                                 size_t cap);

#ifdef __cplusplus
}
#endif
#endif
