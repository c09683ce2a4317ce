/* Blocking socket glue shared by `pqify serve` and `pqify connect`: the engine
 * is I/O-free (include/pqify/tls.h), so the CLI moves its bytes with poll(2).
 * Kept in the cli layer on purpose: services use src/net/ (libuv) instead. */
#ifndef PQIFY_CLI_TLS_IO_H
#define PQIFY_CLI_TLS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pqify/net/pump.h"
#include "pqify/net/tls_options.h"
#include "pqify/tls.h"

/* "host:port" or "[v6]:port" split into host and port strings; 0 or -1. */
int cli_split_hostport(const char *arg, char *host, size_t host_cap, char *port, size_t port_cap);

/* A listening TCP socket on host:port (port may be "0"); fd or -1 with *why set. */
int cli_listen(const char *host, const char *port, const char **why);
/* Dial host:port within timeout_ms; fd or -1 with *why set. */
int cli_dial(const char *host, const char *port, int timeout_ms, const char **why);
/* "ip:port" ("[ip]:port" for IPv6) of a socket address. */
void cli_format_addr(const struct sockaddr *sa, char *out, size_t cap);

/* Write everything (poll on EAGAIN, retry on EINTR); 0 or -1. */
int cli_write_all(int fd, const void *buf, size_t len);
/* Send and drop the engine's pending output; 0 or -1. */
int cli_flush(int fd, pqify_tls_buf *out);

/* Read what is available into buf, waiting at most timeout_ms (-1 = forever).
 * Returns bytes read, 0 on EOF, -1 on error, -2 on timeout. */
long cli_read(int fd, uint8_t *buf, size_t cap, int timeout_ms);

/* What one read(2) takes: the largest TLS record (RFC 8446 §5.2) and more. */
#define CLI_READ_CHUNK 32768

/*
 * Run p's handshake to completion over fd (include/pqify/net/pump.h). Returns 0,
 * a negative pqify error (already flushed to the peer, alert included), or one of
 * the CLI_IO_* codes below. Bytes received after the handshake stay in the pump
 * for its next pqify_pump_next.
 */
#define CLI_IO_EOF (-2000)      /* the peer closed TCP mid-handshake */
#define CLI_IO_TIMEOUT (-2001)  /* no progress within the timeout */
#define CLI_IO_SOCKET (-2002)   /* read/write failed (errno says why) */
int cli_handshake(int fd, pqify_pump *p, int timeout_ms);

/* Words for a cli_handshake/relay result (pqify errors and CLI_IO_* codes). */
const char *cli_strerror(int err);

/* The config for o (include/pqify/net/tls_options.h), or NULL after printing
 * "pqify <cmd>: --<option> ...: <why>". */
pqify_tls_config *cli_tls_config(const char *cmd, const pqify_tls_options *o, int is_server);

/* Monotonic milliseconds. */
int64_t cli_now_ms(void);

/* The options serve and connect share: the pqify_tls_options fields they take
 * and --timeout (1..3600 seconds, into handshake_timeout_ms), each parsed with pqify_cli_value (cli.h). Returns 1 when
 * argv[*i] was one of them (*i left on its value, as pqify_cli_value does), 0
 * when it was not, and -1 after printing "pqify <cmd>: ..." when its value is
 * missing or out of range. */
int cli_shared_opt(const char *cmd, int argc, char **argv, int *i, pqify_tls_options *o);

#endif
