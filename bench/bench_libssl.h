/*
 * The baseline of `pqify bench handshake`: a TLS 1.3 server on Debian's libssl 3.0.
 * Only bench/ links libssl (OpenSSL::SSL); the engine never does. The rest of the
 * benchmark sees it through these calls, so that libssl's types stay in one file.
 */
#ifndef PQIFY_BENCH_LIBSSL_H
#define PQIFY_BENCH_LIBSSL_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/tls.h"

typedef struct bench_libssl bench_libssl;

/* A server context: TLS 1.3 only, TLS_AES_128_GCM_SHA256, the one group named in
 * OpenSSL's spelling ("X25519", "P-256"), no session tickets (a full handshake is
 * what is measured). NULL on failure (message on stderr). */
bench_libssl *bench_libssl_new(const char *cert_pem, const char *key_pem, const char *group);
void bench_libssl_free(bench_libssl *s);

/* One connection on a connected blocking socket: handshake, read one byte of
 * application data, answer one byte. 0 or -1. */
int bench_libssl_serve_one(bench_libssl *s, int fd);

/* In-memory libssl server connections against pqify clients (client_cfg). */
typedef struct bench_libssl_conn bench_libssl_conn;
/* Handshake one; NULL on failure. *server_ns (may be NULL) gets the thread CPU
 * time spent in libssl's server calls (SSL_new, SSL_do_handshake). */
bench_libssl_conn *bench_libssl_accept_mem(bench_libssl *s, const pqify_tls_config *client_cfg,
                                           pqify_tls_conn **client, uint64_t *server_ns);
void bench_libssl_conn_free(bench_libssl_conn *c);
/* Nonzero: bench_libssl_accept_mem toggles callgrind's collection around the
 * server calls (bench/callgrind/hs_callgrind.c runs with --collect-atstart=no). */
extern int bench_libssl_callgrind;
/* Seal `total` bytes in writes of `chunk` and open them at the pqify client, then
 * the reverse; CPU ns spent by libssl in each direction. 0 or -1. */
int bench_libssl_bulk(bench_libssl_conn *c, pqify_tls_conn *client, size_t total, size_t chunk,
                      uint64_t *seal_ns, uint64_t *open_ns);

#endif
