/*
 * The baseline of `pqify bench handshake`: a TLS 1.3 server on Debian's libssl 3.0.
 * Only bench/ links libssl (OpenSSL::SSL); the engine never does. The rest of the
 * benchmark sees it through these calls, so that libssl's types stay in one file.
 */
#ifndef PQIFY_BENCH_LIBSSL_H
#define PQIFY_BENCH_LIBSSL_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/net/pump.h"
#include "pqify/tls.h"

typedef struct bench_libssl bench_libssl;

/* A server context: TLS 1.3 only, TLS_AES_128_GCM_SHA256, the one group named in
 * OpenSSL's spelling ("X25519", "P-256"), no session tickets (a full handshake is
 * what is measured). NULL on failure (message on stderr). */
bench_libssl *bench_libssl_new(const char *cert_pem, const char *key_pem, const char *group);
void bench_libssl_free(bench_libssl *s);

/* Server connections on memory BIOs: the caller moves their bytes (the TCP run of
 * the bench over its socket, or a pqify client in memory), so that libssl's own
 * calls can be timed without the socket's syscalls. */
typedef struct bench_libssl_conn bench_libssl_conn;
/* SSL_new on memory BIOs, in the accept state; NULL on failure. */
bench_libssl_conn *bench_libssl_conn_new(bench_libssl *s);
/* The bench's server exchange, as far as the bytes received so far let it go:
 * feed in[0 .. in_len) (all of it is taken), run the handshake, then read one
 * byte of application data and answer it. What libssl wrote (even on failure:
 * an alert) is appended to out at *out_len, up to cap. Returns 1 when the answer
 * was written, 0 when more input is needed, -1 on failure. */
int bench_libssl_serve_step(bench_libssl_conn *c, const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t cap, size_t *out_len);
/* Handshake one against a pqify client pump (client_cfg; initialised here, the
 * caller disposes of it) in memory; NULL on failure (client already disposed). */
bench_libssl_conn *bench_libssl_accept_mem(bench_libssl *s, const pqify_tls_config *client_cfg,
                                           pqify_pump *client);
void bench_libssl_conn_free(bench_libssl_conn *c);
/* Nonzero: bench_libssl_accept_mem toggles callgrind's collection around the
 * server calls (bench/callgrind/hs_callgrind.c runs with --collect-atstart=no). */
extern int bench_libssl_callgrind;
/* Seal `total` bytes in writes of `chunk` and open them at the pqify client, then
 * the reverse; CPU ns spent by libssl in each direction. 0 or -1. */
int bench_libssl_bulk(bench_libssl_conn *c, pqify_pump *client, size_t total, size_t chunk,
                      uint64_t *seal_ns, uint64_t *open_ns);

#endif
