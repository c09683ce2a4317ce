/* Blocking socket glue shared by `pqify serve` and `pqify connect`: the engine
 * is I/O-free (include/pqify/tls.h), so the CLI moves its bytes with poll(2).
 * Kept in the cli layer on purpose: services use src/net/ (libuv) instead. */
#ifndef PQIFY_CLI_TLS_IO_H
#define PQIFY_CLI_TLS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pqify/net/tls_options.h"
#include "pqify/tls.h"

/* Received bytes the engine has not consumed yet (a TLS record can arrive in
 * pieces, and bytes after the handshake belong to pqify_tls_receive). */
struct cli_inbuf {
    uint8_t data[65536];
    size_t len;
};

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

/* Read what is available into in (after its current bytes), waiting at most
 * timeout_ms (-1 = forever). Returns bytes read, 0 on EOF, -1 on error,
 * -2 on timeout. */
long cli_read_some(int fd, struct cli_inbuf *in, int timeout_ms);
/* Drop the first n bytes of in. */
void cli_inbuf_consume(struct cli_inbuf *in, size_t n);

/*
 * Run the handshake to completion over fd. Returns 0, a negative pqify error
 * (already flushed to the peer, alert included), or one of the CLI_IO_* codes
 * below. Bytes received after the handshake stay in in for pqify_tls_receive.
 */
#define CLI_IO_EOF (-2000)      /* the peer closed TCP mid-handshake */
#define CLI_IO_TIMEOUT (-2001)  /* no progress within the timeout */
#define CLI_IO_SOCKET (-2002)   /* read/write failed (errno says why) */
int cli_handshake(int fd, pqify_tls_conn *conn, int is_server, int timeout_ms,
                  struct cli_inbuf *in, pqify_tls_buf *out);

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
