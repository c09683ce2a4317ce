/* TLS options below the CLI (issue 9, contract 1): the CLI flags and the YAML tls:
 * block fill this one struct; pqify_tls_options_build makes the engine config. */
#ifndef PQIFY_NET_TLS_OPTIONS_H
#define PQIFY_NET_TLS_OPTIONS_H

#include <stddef.h>

#include "pqify/tls.h"

typedef struct pqify_tls_options {
    const char *cert, *key, *ca;   /* PEM files; ca on a server = mutual TLS */
    const char *pq;                /* "preferred"|"required"|"off"; NULL = role default */
    const char *groups, *alpn, *server_name, *ciphers;  /* NULL = engine default */
    unsigned handshake_timeout_ms; /* 0 = default (10 s) */
    unsigned idle_timeout_ms;      /* 0 = default (300 s server, none client) */
} pqify_tls_options;
/* NULL on failure, with err holding words like "cert /x.pem: No such file". */
pqify_tls_config *pqify_tls_options_build(const pqify_tls_options *o, int is_server,
                                          pqify_pq_mode default_pq, char *err, size_t cap);

#endif
