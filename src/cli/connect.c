/* pqify connect HOST:PORT: a TLS 1.3 client on the pqify engine that reports
 * what was negotiated and then relays stdin/stdout (docs/serve-connect.md).
 * The stderr line format is fixed: scripts and the interop tests parse it. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
            "sent and output is read until the server closes.\n"
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
            "  --timeout SEC       connect + handshake limit (default 10)\n"
            "\n"
            "stderr on success:\n"
            "  connected version=TLSv1.3 group=NAME pq=yes|no hrr=yes|no cipher=NAME "
            "alpn=PROTO|- handshake_us=N\n"
            "Exit status: 0 after a clean close, 1 on any failure (one line says why),\n"
            "2 on a usage error.\n");
}

struct connect_args {
    const char *target, *servername;
    struct cli_tls_opts tls;
    int timeout_s;
};

static int parse_args(int argc, char **argv, struct connect_args *a)
{
    memset(a, 0, sizeof *a);
    a->timeout_s = 10;
    for (int i = 1; i < argc; i++) {
        int missing = 0;
        const char *v;
        if ((v = cli_opt(argc, argv, &i, "--ca", &missing)) != NULL)
            a->tls.ca = v;
        else if ((v = cli_opt(argc, argv, &i, "--servername", &missing)) != NULL)
            a->servername = v;
        else if ((v = cli_opt(argc, argv, &i, "--cert", &missing)) != NULL)
            a->tls.cert = v;
        else if ((v = cli_opt(argc, argv, &i, "--key", &missing)) != NULL)
            a->tls.key = v;
        else if ((v = cli_opt(argc, argv, &i, "--pq", &missing)) != NULL)
            a->tls.pq = v;
        else if ((v = cli_opt(argc, argv, &i, "--groups", &missing)) != NULL)
            a->tls.groups = v;
        else if ((v = cli_opt(argc, argv, &i, "--alpn", &missing)) != NULL)
            a->tls.alpn = v;
        else if ((v = cli_opt(argc, argv, &i, "--ciphers", &missing)) != NULL)
            a->tls.ciphers = v;
        else if ((v = cli_opt(argc, argv, &i, "--timeout", &missing)) != NULL) {
            a->timeout_s = atoi(v);
            if (a->timeout_s <= 0 || a->timeout_s > 3600) {
                fprintf(stderr, "pqify connect: --timeout takes 1..3600 seconds\n");
                return -1;
            }
        } else if (missing) {
            fprintf(stderr, "pqify connect: %s needs a value\n", argv[i]);
            return -1;
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

/* Decrypt what is buffered and pass the plaintext to stdout. Returns 0,
 * PQIFY_TLS_PEER_CLOSED, or a negative error (-1: stdout failed). */
static int pump_in(pqify_tls_conn *conn, int fd, struct cli_inbuf *in, pqify_tls_buf *plain,
                   pqify_tls_buf *out)
{
    size_t n = in->len;
    int rc = pqify_tls_receive(conn, plain, in->data, &n, out);
    cli_inbuf_consume(in, n);
    if (cli_flush(fd, out) != 0 && rc >= 0)
        rc = CLI_IO_SOCKET;
    if (plain->len > 0) {
        if (cli_write_all(STDOUT_FILENO, plain->base, plain->len) != 0) {
            fprintf(stderr, "pqify connect: writing to stdout failed: %s\n", strerror(errno));
            pqify_tls_buf_consume(plain, plain->len);
            return -1;
        }
        pqify_tls_buf_consume(plain, plain->len);
    }
    return rc;
}

/* Relay until the peer closes. Returns the process exit status. */
static int relay(int fd, pqify_tls_conn *conn, struct cli_inbuf *in, pqify_tls_buf *out)
{
    pqify_tls_buf plain;
    uint8_t chunk[16384];
    int stdin_open = 1, status = 1, rc;

    pqify_tls_buf_init(&plain, NULL, 0);
    if (in->len > 0) {
        rc = pump_in(conn, fd, in, &plain, out);
        if (rc == PQIFY_TLS_PEER_CLOSED)
            goto peer_closed;
        if (rc == -1)
            goto out;
        if (rc < 0)
            goto tls_failed;
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
        int n = poll(p, stdin_open ? 2 : 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "pqify connect: poll: %s\n", strerror(errno));
            goto out;
        }
        if (stdin_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                /* RFC 8446 §6.1: close_notify ends our direction only; keep
                 * reading what the peer still has to say. */
                stdin_open = 0;
                rc = pqify_tls_close_notify(conn, out);
                if (cli_flush(fd, out) != 0 || rc < 0) {
                    fprintf(stderr, "pqify connect: sending close_notify failed: %s\n",
                            rc < 0 ? pqify_tls_strerror(rc) : strerror(errno));
                    goto out;
                }
            } else {
                rc = pqify_tls_send(conn, out, chunk, (size_t)r);
                if (cli_flush(fd, out) != 0 && rc == 0) {
                    fprintf(stderr, "pqify connect: sending failed: %s\n", strerror(errno));
                    goto out;
                }
                if (rc < 0)
                    goto tls_failed;
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            long got = cli_read_some(fd, in, 0);
            if (got == -2)
                continue;
            if (got < 0) {
                fprintf(stderr, "pqify connect: reading from the peer failed: %s\n", strerror(errno));
                goto out;
            }
            if (got == 0) {
                fprintf(stderr, "pqify connect: the peer closed the connection without close_notify "
                                "(what it sent may be truncated)\n");
                goto out;
            }
            rc = pump_in(conn, fd, in, &plain, out);
            if (rc == PQIFY_TLS_PEER_CLOSED)
                goto peer_closed;
            if (rc == -1)
                goto out;
            if (rc < 0)
                goto tls_failed;
        }
    }

peer_closed:
    if (stdin_open) {
        /* Answer the peer's close_notify with ours before closing (§6.1). */
        if (pqify_tls_close_notify(conn, out) == 0)
            (void)cli_flush(fd, out);
    }
    status = 0;
    goto out;
tls_failed:
    fprintf(stderr, "pqify connect: connection failed: %s\n", cli_strerror(rc));
out:
    pqify_tls_buf_dispose(&plain);
    return status;
}

int pqify_cmd_connect(int argc, char **argv)
{
    struct connect_args a;
    char host[256], port[16];
    pqify_tls_config *cfg = NULL;
    pqify_tls_conn *conn = NULL;
    pqify_tls_buf out;
    static struct cli_inbuf in;
    int fd = -1, status = 1, rc;
    const char *why = NULL;

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
    pqify_tls_buf_init(&out, NULL, 0);
    in.len = 0;

    cfg = pqify_tls_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "pqify connect: out of memory\n");
        goto done;
    }
    if (cli_apply_opts(cfg, &a.tls, "connect") != 0)
        goto done;
    rc = pqify_tls_config_set_server_name(cfg, a.servername ? a.servername : host);
    if (rc != 0) {
        fprintf(stderr, "pqify connect: --servername: %s\n", pqify_tls_strerror(rc));
        goto done;
    }
    conn = pqify_tls_conn_new(cfg, 0);
    if (conn == NULL) {
        fprintf(stderr, "pqify connect: cannot create the connection (out of memory)\n");
        goto done;
    }
    fd = cli_dial(host, port, a.timeout_s * 1000, &why);
    if (fd < 0) {
        fprintf(stderr, "pqify connect: cannot connect to %s: %s\n", a.target, why);
        goto done;
    }
    rc = cli_handshake(fd, conn, 0, a.timeout_s * 1000, &in, &out);
    if (rc != 0) {
        fprintf(stderr, "pqify connect: handshake with %s failed: %s\n", a.target, cli_strerror(rc));
        goto done;
    }

    pqify_tls_info info;
    pqify_tls_get_info(conn, &info);
    fprintf(stderr, "connected version=%s group=%s pq=%s hrr=%s cipher=%s alpn=%s handshake_us=%llu\n",
            info.version, info.group, info.is_pq ? "yes" : "no", info.hrr ? "yes" : "no",
            info.cipher, info.alpn[0] ? info.alpn : "-", (unsigned long long)info.handshake_us);
    status = relay(fd, conn, &in, &out);

done:
    if (fd >= 0)
        close(fd);
    pqify_tls_conn_free(conn);
    pqify_tls_config_free(cfg);
    pqify_tls_buf_dispose(&out);
    return status;
}
