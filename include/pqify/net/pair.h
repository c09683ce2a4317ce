/*
 * A pqify client and server joined in memory: two engine pumps, the bytes one
 * leaves to send fed straight to the other (no sockets, one thread). For tests,
 * the bench and `pqify demo`.
 */
#ifndef PQIFY_NET_PAIR_H
#define PQIFY_NET_PAIR_H

#include <stddef.h>

#include "pqify/net/pump.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pqify_pair {
    pqify_pump client, server;
    size_t client_hello_bytes;                  /* the client's first flight, in records */
    size_t client_to_server, server_to_client;  /* bytes moved so far */
} pqify_pair;

/* Both pumps; 0 or PQIFY_TLS_ERR_NO_MEMORY (then the pair is disposable). */
PQIFY_MUST_USE int pqify_pair_init(pqify_pair *p, const pqify_tls_config *client_cfg,
                                   const pqify_tls_config *server_cfg);
/* Runs the handshake to the end, and hands over what the server sends right
 * after it (session tickets). 0, or the error of the side that failed first
 * (pqify_pump_error of each side says more). */
PQIFY_MUST_USE int pqify_pair_handshake(pqify_pair *p);
void pqify_pair_dispose(pqify_pair *p);

/* A config for one side of a pair: groups (expert list, NULL = defaults), pq
 * ("preferred", "required", "off" or NULL), TLS_AES_128_GCM_SHA256; a server gets
 * the certificate and sends no session tickets, a client does not verify the
 * certificate. NULL on failure. */
pqify_tls_config *pqify_pair_config(int is_server, const char *cert_pem, const char *key_pem,
                                    const char *groups, const char *pq);

#ifdef __cplusplus
}
#endif
#endif
