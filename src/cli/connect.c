/* pqify connect HOST:PORT: a TLS 1.3 client on the pqify engine that reports
 * what was negotiated and then relays stdin/stdout (docs/serve-connect.md).
 * The stderr line format is fixed: scripts and the interop tests parse it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "pqify/tls.h"
#include "tls_io.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pqify connect HOST:PORT [options]\n"
            "\n"
            "Open a TLS 1.3 connection, print what was negotiated to stderr, then relay\n"
            "stdin to the server and the server to stdout. On stdin EOF close_notify is\n"
            "sent and output is read until the server closes (at most --timeout more).\n"
            "\n"
            "  --ca FILE           trust anchors (PEM) for the server certificate\n"
            "                      (default: the system store)\n"
            "  --servername NAME   SNI and the name the certificate must match\n"
            "                      (default: HOST; an IP address is checked, not sent)\n"
            "  --cert FILE --key FILE   client certificate chain and key (mutual TLS)\n"
            "  --pq MODE           preferred (default) | required | off\n"
            "  --groups LIST       expert override, e.g. SecP256r1MLKEM768,X25519\n"
            "                      (key shares go to the first two; legacy groups only\n"
            "                      when named here)\n"
            "  --alpn LIST         ALPN protocols, e.g. h2,http/1.1\n"
            "  --ciphers LIST      TLS 1.3 suites in preference order\n"
            "  --timeout SEC       connect + handshake limit, and how long to wait for the\n"
            "                      server's close after stdin ends (default 10)\n"
            "  --resume            connect twice: the first connection waits for the\n"
            "                      server's session ticket and closes, the second\n"
            "                      resumes with it (still with a full key share) and\n"
            "                      relays as usual\n"
            "\n"
            "stderr on success:\n"
            "  connected version=TLSv1.3 group=NAME pq=yes|no hrr=yes|no cipher=NAME "
            "alpn=PROTO|- handshake_us=N resumed=yes|no\n"
            "  (with --resume: one such line per connection)\n"
            "Exit status: 0 after a clean close, 1 on any failure (one line says why),\n"
            "2 on a usage error.\n");
}

struct connect_args {
    const char *target, *servername;
    pqify_tls_options tls;
    int timeout_s;
    int resume;
};

static int parse_args(int argc, char **argv, struct connect_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int m = cli_shared_opt("connect", argc, argv, &i, &a->tls);
        if (m == 0)
            m = pqify_cli_value("connect", argc, argv, &i, "--servername", &a->servername);
        if (m < 0)
            return -1;
        if (m > 0)
            continue;
        if (strcmp(argv[i], "--resume") == 0) {
            a->resume = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "pqify connect: unknown option '%s'\n", argv[i]);
            return -1;
        } else if (a->target == NULL) {
            a->target = argv[i];
        } else {
            fprintf(stderr, "pqify connect: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
    }
    a->timeout_s = (int)(pqify_tls_options_handshake_ms(&a->tls) / 1000);
    if (a->target == NULL) {
        fprintf(stderr, "pqify connect: HOST:PORT is missing\n");
        return -1;
    }
    if ((a->tls.cert == NULL) != (a->tls.key == NULL)) {
        fprintf(stderr, "pqify connect: --cert and --key go together\n");
        return -1;
    }
    return 0;
}

#define STDOUT_FAILED (-3000)

/* Pass the pump's plaintext to stdout, from ev on, until it wants input; anything
 * the engine has to answer (KeyUpdate, alert) is left in p->out. Returns 0,
 * PQIFY_TLS_PEER_CLOSED, a negative TLS error, or STDOUT_FAILED. */
static int deliver(pqify_pump *p, pqify_pump_event ev)
{
    for (;; ev = pqify_pump_next(p)) {
        switch (ev) {
        case PQIFY_PUMP_DATA: {
            int w = cli_write_all(STDOUT_FILENO, p->plain.base, p->plain.len);
            pqify_tls_buf_consume(&p->plain, p->plain.len);
            if (w != 0) {
                fprintf(stderr, "pqify connect: writing to stdout failed: %s\n", strerror(errno));
                return STDOUT_FAILED;
            }
            break;
        }
        case PQIFY_PUMP_WANT_INPUT:
            return 0;
        case PQIFY_PUMP_PEER_CLOSED:
            return PQIFY_TLS_PEER_CLOSED;
        case PQIFY_PUMP_FAILED:
            return pqify_pump_error(p);
        default:
            return PQIFY_TLS_ERR_INTERNAL;   /* no signature is pending after the handshake */
        }
    }
}

/*
 * Send p->out, reading from the peer while the socket is not writable. An echo
 * peer that blocks on writing to us while we block on writing to it would
 * otherwise deadlock both sides once the socket buffers fill. Returns 0,
 * PQIFY_TLS_PEER_CLOSED (out still sent), CLI_IO_EOF, CLI_IO_SOCKET, a TLS
 * error or STDOUT_FAILED.
 */
static int send_out(int fd, pqify_pump *p)
{
    uint8_t buf[CLI_READ_CHUNK];
    int result = 0;
    while (p->out.len > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT | (result == 0 ? POLLIN : 0)};
        int n = poll(&pf, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CLI_IO_SOCKET;
        if (pf.revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = send(fd, p->out.base, p->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                pqify_tls_buf_consume(&p->out, (size_t)w);
            else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return CLI_IO_SOCKET;
        }
        if (result == 0 && (pf.revents & POLLIN)) {
            long got = cli_read(fd, buf, sizeof buf, 0);
            if (got == 0)
                return CLI_IO_EOF;
            if (got == -1)
                return CLI_IO_SOCKET;
            if (got > 0) {
                int rc = deliver(p, pqify_pump_feed(p, buf, (size_t)got));
                if (rc < 0 || rc == STDOUT_FAILED) {
                    (void)cli_flush(fd, &p->out);   /* it may hold our alert */
                    return rc;
                }
                result = rc;   /* PQIFY_TLS_PEER_CLOSED stops reading */
            }
        }
    }
    return result;
}

#define CLOSE_TIMEOUT (-3001)

/* Relay until the peer closes, or until close_wait_ms after our close_notify
 * (stdin's end) if it never does. Returns the process exit status. */
static int relay(int fd, pqify_pump *p, int close_wait_ms)
{
    uint8_t chunk[16384], buf[CLI_READ_CHUNK];
    int stdin_open = 1, status = 1, rc;
    int64_t close_deadline = 0;

    /* bytes that came with the server's last handshake flight come first */
    rc = deliver(p, pqify_pump_next(p));
    if (rc == 0 || rc == PQIFY_TLS_PEER_CLOSED) {
        int s = send_out(fd, p);
        rc = s != 0 ? s : rc;
    }
    while (rc == 0) {
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
        int wait_ms = -1;
        if (!stdin_open) {
            /* a server that never closes must not keep us forever */
            int64_t left = close_deadline - cli_now_ms();
            if (left <= 0) {
                rc = CLOSE_TIMEOUT;
                break;
            }
            wait_ms = (int)left;
        }
        int n = poll(pf, stdin_open ? 2 : 1, wait_ms);
        if (n == 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0) {
            rc = CLI_IO_SOCKET;
            break;
        }
        if (stdin_open && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                /* RFC 8446 §6.1: close_notify ends our direction only; keep
                 * reading what the peer still has to say. */
                stdin_open = 0;
                close_deadline = cli_now_ms() + close_wait_ms;
                rc = pqify_pump_close_notify(p);
            } else {
                rc = pqify_pump_send(p, chunk, (size_t)r);
            }
            int s = send_out(fd, p);
            if (rc == 0)
                rc = s;
            continue;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            long got = cli_read(fd, buf, sizeof buf, 0);
            if (got == -2)
                continue;
            if (got == 0) {
                rc = CLI_IO_EOF;
                break;
            }
            if (got < 0) {
                rc = CLI_IO_SOCKET;
                break;
            }
            rc = deliver(p, pqify_pump_feed(p, buf, (size_t)got));
            int s = send_out(fd, p);
            if (rc == 0)
                rc = s;
        }
    }

    if (rc == PQIFY_TLS_PEER_CLOSED) {
        /* Answer the peer's close_notify with ours before closing (§6.1). */
        if (stdin_open && pqify_pump_close_notify(p) == 0)
            (void)cli_flush(fd, &p->out);
        status = 0;
    } else if (rc == CLOSE_TIMEOUT) {
        fprintf(stderr, "pqify connect: the server did not close the connection within %d s "
                        "of our close_notify (stdin ended)\n", close_wait_ms / 1000);
    } else if (rc == CLI_IO_EOF) {
        fprintf(stderr, "pqify connect: the peer closed the connection without close_notify "
                        "(what it sent may be truncated)\n");
    } else if (rc == CLI_IO_SOCKET) {
        fprintf(stderr, "pqify connect: connection to the peer failed: %s\n", strerror(errno));
    } else if (rc != STDOUT_FAILED) {
        fprintf(stderr, "pqify connect: connection failed: %s\n", cli_strerror(rc));
    }
    return status;
}

static void report(const pqify_tls_conn *conn)
{
    pqify_tls_info info;
    pqify_tls_get_info(conn, &info);
    fprintf(stderr,
            "connected version=%s group=%s pq=%s hrr=%s cipher=%s alpn=%s handshake_us=%llu "
            "resumed=%s\n",
            info.version, info.group, info.is_pq ? "yes" : "no", info.hrr ? "yes" : "no",
            info.cipher, info.alpn[0] ? info.alpn : "-", (unsigned long long)info.handshake_us,
            info.resumed ? "yes" : "no");
}

/*
 * --resume, first connection: handshake, then read until the server's
 * NewSessionTicket arrives (it comes after the handshake, RFC 8446 §4.6.1), keep
 * the session, close cleanly. Returns 0 (session in blob) or 1 (reported).
 */
static int fetch_session(const struct connect_args *a, const pqify_tls_config *cfg,
                         const char *host, const char *port, uint8_t *blob, size_t cap,
                         size_t *blob_len)
{
    uint8_t buf[CLI_READ_CHUNK];
    pqify_pump p;
    const char *why = NULL;
    int fd = -1, status = 1, rc;
    if (pqify_pump_init(&p, cfg, 0) != 0) {
        fprintf(stderr, "pqify connect: cannot create the connection (out of memory)\n");
        goto done;
    }
    fd = cli_dial(host, port, a->timeout_s * 1000, &why);
    if (fd < 0) {
        fprintf(stderr, "pqify connect: cannot connect to %s: %s\n", a->target, why);
        goto done;
    }
    rc = cli_handshake(fd, &p, a->timeout_s * 1000);
    if (rc != 0) {
        fprintf(stderr, "pqify connect: handshake with %s failed: %s\n", a->target, cli_strerror(rc));
        goto done;
    }
    report(p.conn);
    int64_t deadline = cli_now_ms() + a->timeout_s * 1000;
    pqify_pump_event ev = pqify_pump_next(&p);
    for (;;) {
        for (; ev == PQIFY_PUMP_DATA; ev = pqify_pump_next(&p))
            pqify_tls_buf_consume(&p.plain, p.plain.len);   /* the second connection relays */
        rc = ev == PQIFY_PUMP_FAILED        ? pqify_pump_error(&p)
             : ev == PQIFY_PUMP_PEER_CLOSED ? PQIFY_TLS_PEER_CLOSED
                                            : 0;
        if (rc == 0 && cli_flush(fd, &p.out) != 0)
            rc = CLI_IO_SOCKET;
        if (rc != 0 || pqify_tls_get_session(p.conn, blob, cap, blob_len) == 0)
            break;
        int64_t left = deadline - cli_now_ms();
        long got = left > 0 ? cli_read(fd, buf, sizeof buf, (int)left) : -2;
        if (got == -2) {
            fprintf(stderr, "pqify connect: no session ticket from %s within %d s\n", a->target,
                    a->timeout_s);
            goto done;
        }
        if (got <= 0) {
            rc = got == 0 ? CLI_IO_EOF : CLI_IO_SOCKET;
            break;
        }
        ev = pqify_pump_feed(&p, buf, (size_t)got);
    }
    if (rc != 0) {
        (void)cli_flush(fd, &p.out);
        fprintf(stderr, "pqify connect: no session ticket from %s: %s\n", a->target,
                rc == PQIFY_TLS_PEER_CLOSED ? "the server closed first" : cli_strerror(rc));
        goto done;
    }
    if (pqify_pump_close_notify(&p) == 0)
        (void)cli_flush(fd, &p.out);
    status = 0;
done:
    if (fd >= 0)
        close(fd);
    pqify_pump_dispose(&p);
    return status;
}

int pqify_cmd_connect(int argc, char **argv)
{
    struct connect_args a;
    char host[256], port[16];
    pqify_tls_config *cfg = NULL;
    pqify_pump p;
    int fd = -1, status = 1, rc;
    const char *why = NULL;
    static uint8_t session[PQIFY_TLS_MAX_SESSION];
    size_t session_len = 0;

    if (pqify_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        return 2;
    }
    if (cli_split_hostport(a.target, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify connect: '%s' is not HOST:PORT\n", a.target);
        return 2;
    }
    /* A peer that goes away shows up as EPIPE from write(), reported in words. */
    signal(SIGPIPE, SIG_IGN);
    memset(&p, 0, sizeof p);   /* disposable before it is initialised */

    a.tls.server_name = a.servername ? a.servername : host;
    cfg = cli_tls_config("connect", &a.tls, 0);
    if (cfg == NULL)
        goto done;
    if (a.resume && fetch_session(&a, cfg, host, port, session, sizeof session, &session_len) != 0)
        goto done;
    if (pqify_pump_init(&p, cfg, 0) != 0) {
        fprintf(stderr, "pqify connect: cannot create the connection (out of memory)\n");
        goto done;
    }
    if (a.resume && pqify_tls_set_session(p.conn, session, session_len) != 1)
        fprintf(stderr, "pqify connect: the session cannot be offered; full handshake\n");
    fd = cli_dial(host, port, a.timeout_s * 1000, &why);
    if (fd < 0) {
        fprintf(stderr, "pqify connect: cannot connect to %s: %s\n", a.target, why);
        goto done;
    }
    rc = cli_handshake(fd, &p, a.timeout_s * 1000);
    if (rc != 0) {
        fprintf(stderr, "pqify connect: handshake with %s failed: %s\n", a.target, cli_strerror(rc));
        goto done;
    }

    report(p.conn);
    status = relay(fd, &p, a.timeout_s * 1000);

done:
    if (fd >= 0)
        close(fd);
    pqify_pump_dispose(&p);
    pqify_tls_config_free(cfg);
    memset(session, 0, sizeof session);   /* it held the resumption PSK */
    return status;
}
