/*
 * TLS options below the CLI (DESIGN.md "The service chassis": one shared `tls:`
 * block). The CLI's flags and every YAML file fill the same struct; one call turns
 * it into a pqify_tls_config, or into words that name what is wrong.
 */
#ifndef PQIFY_NET_TLS_OPTIONS_H
#define PQIFY_NET_TLS_OPTIONS_H

#include <stddef.h>

#include "pqify/tls.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Strings are borrowed: whoever fills the struct owns them. NULL = not set. */
typedef struct pqify_tls_options {
    const char *cert, *key, *ca;   /* PEM files; ca on a server = mutual TLS */
    const char *pq;                /* "preferred"|"required"|"off"; NULL = role default */
    const char *groups, *alpn, *server_name, *ciphers;  /* NULL = engine default */
    unsigned handshake_timeout_ms; /* 0 = default (10 s) */
    unsigned idle_timeout_ms;      /* 0 = default (300 s server, none client) */
} pqify_tls_options;

#define PQIFY_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u
#define PQIFY_TLS_DEFAULT_SERVER_IDLE_TIMEOUT_MS 300000u

/*
 * A config for one role, or NULL with err (cap bytes, always terminated) holding
 * words that start with the option's name, e.g. "cert /x.pem: No such file or
 * directory", "key /k.pem: does not match the certificate in /c.pem",
 * "pq must be preferred, required or off (got 'sometimes')". Callers prefix where
 * the option came from ("--", "file.yaml:12: tls."). A server needs cert (and key,
 * unless the caller sets a signer on the config afterwards); a client's cert and
 * key go together; server_name is the client's SNI and the name it checks (a
 * server ignores it). The timeouts are not part of the engine's config: the
 * transport reads them with the two functions below.
 */
pqify_tls_config *pqify_tls_options_build(const pqify_tls_options *o, int is_server,
                                          pqify_pq_mode default_pq, char *err, size_t cap);

/* Flags override the file (DESIGN.md "The service chassis"): every field of o the
 * command line left unset (NULL string, 0 timeout) takes the file's value. */
void pqify_tls_options_fill_unset(pqify_tls_options *o, const pqify_tls_options *file);

/* The timeouts with their defaults applied; idle 0 means none. */
unsigned pqify_tls_options_handshake_ms(const pqify_tls_options *o);
unsigned pqify_tls_options_idle_ms(const pqify_tls_options *o, int is_server);

#ifdef __cplusplus
}
#endif
#endif
