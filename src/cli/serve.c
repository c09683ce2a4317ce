/* pqify serve: a TLS 1.3 echo (or tiny HTTPS) server on the pqify engine that
 * reports, per connection, what was negotiated (docs/serve-connect.md).
 * The stderr line formats are fixed: scripts and the interop tests parse them.
 * Each connection is served in a forked child (or inline with --once), so one
 * slow client cannot stall the others and the loop stays simple. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "pqify/tls.h"
#include "tls_io.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pqify serve --listen HOST:PORT --cert FILE --key FILE [options]\n"
            "\n"
            "Accept TLS 1.3 connections, print what each negotiated to stderr, then echo\n"
            "the data back (or answer HTTP requests with --www).\n"
            "\n"
            "  --listen HOST:PORT  address to listen on; port 0 picks a free port\n"
            "  --cert FILE         certificate chain (PEM, leaf first)\n"
            "  --key FILE          private key (PEM: ECDSA P-256/P-384, RSA, Ed25519)\n"
            "  --ca FILE           require client certificates that chain to FILE\n"
            "  --pq MODE           preferred (default) | required | off\n"
            "  --groups LIST       expert override of the group preference\n"
            "                      (legacy groups only when named here)\n"
            "  --alpn LIST         ALPN protocols accepted, in preference order\n"
            "  --ciphers LIST      TLS 1.3 suites in preference order\n"
            "  --www               answer each HTTP request with 200 and a page of facts\n"
            "  --once              serve one connection, then exit with its status\n"
            "  --timeout SEC       handshake limit per connection (default 10)\n"
            "\n"
            "stderr:\n"
            "  listening on HOST:PORT                       (once, when ready)\n"
            "  accepted peer=ADDR version=TLSv1.3 group=NAME pq=yes|no hrr=yes|no "
            "cipher=NAME client_cert=SUBJECT|- resumed=yes|no\n"
            "                      (one session ticket is issued per handshake)\n"
            "  pqify serve: handshake with ADDR failed: WHY  (on failure)\n");
}

struct serve_args {
    const char *listen;
    pqify_tls_options tls;
    int www, once, timeout_s;
};

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int m = cli_shared_opt("serve", argc, argv, &i, &a->tls);
        if (m == 0)
            m = pqify_cli_value("serve", argc, argv, &i, "--listen", &a->listen);
        if (m < 0)
            return -1;
        if (m > 0)
            continue;
        if (!strcmp(argv[i], "--www")) {
            a->www = 1;
        } else if (!strcmp(argv[i], "--once")) {
            a->once = 1;
        } else {
            fprintf(stderr, "pqify serve: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    a->timeout_s = (int)(pqify_tls_options_handshake_ms(&a->tls) / 1000);
    if (a->listen == NULL || a->tls.cert == NULL || a->tls.key == NULL) {
        fprintf(stderr, "pqify serve: --listen, --cert and --key are required\n");
        return -1;
    }
    return 0;
}

/* The facts of one connection, as printed on the `accepted` line. */
struct facts {
    char line[1024];
    char alpn[256];
    char server_name[256];
    unsigned long long handshake_us;
    int resumed;
};

static void describe(const pqify_tls_conn *conn, const char *peer, struct facts *f)
{
    pqify_tls_info info;
    pqify_tls_get_info(conn, &info);
    snprintf(f->line, sizeof f->line,
             "accepted peer=%s version=%s group=%s pq=%s hrr=%s cipher=%s client_cert=%s", peer,
             info.version, info.group, info.is_pq ? "yes" : "no", info.hrr ? "yes" : "no",
             info.cipher, info.peer_cert && info.peer_subject[0] ? info.peer_subject : "-");
    f->resumed = info.resumed;
    snprintf(f->alpn, sizeof f->alpn, "%s", info.alpn[0] ? info.alpn : "-");
    snprintf(f->server_name, sizeof f->server_name, "%s", info.server_name[0] ? info.server_name : "-");
    f->handshake_us = (unsigned long long)info.handshake_us;
}

/* --www: the end of an HTTP/1.1 request head, or 0 while incomplete. */
static size_t request_head_len(const uint8_t *p, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' && p[i] == '\n')
            return i + 1;
    return 0;
}

/* Value of a header in a request head (case-insensitive name), copied into
 * out; 0 if found. */
static int header_value(const uint8_t *head, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 < len; i++) {
        if ((i == 0 || head[i - 1] == '\n') && !strncasecmp((const char *)head + i, name, nl) &&
            head[i + nl] == ':') {
            size_t j = i + nl + 1, k = 0;
            while (j < len && head[j] == ' ')
                j++;
            while (j < len && head[j] != '\r' && head[j] != '\n' && k + 1 < cap)
                out[k++] = (char)head[j++];
            out[k] = '\0';
            return 0;
        }
    }
    return -1;
}

/* Escape <, > and & so a certificate subject cannot inject markup. */
static void html_escape(const char *s, char *out, size_t cap)
{
    size_t k = 0;
    for (; *s && k + 6 < cap; s++) {
        const char *rep = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : NULL;
        if (rep != NULL) {
            size_t rl = strlen(rep);
            memcpy(out + k, rep, rl);
            k += rl;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

/* Answer one request head with the page of facts. Returns 1 if the client
 * asked to close after it, 0 to keep the connection, negative on error. */
static int answer_http(pqify_tls_conn *conn, int fd, const struct facts *f, const uint8_t *head,
                       size_t head_len, pqify_tls_buf *out)
{
    char body[2560], esc[1536], sni[768], conn_hdr[64] = "";
    int http10 = head_len >= 8 && memmem(head, head_len, "HTTP/1.0\r\n", 10) != NULL;
    int close_after = http10;

    if (header_value(head, head_len, "Connection", conn_hdr, sizeof conn_hdr) == 0)
        close_after = !strcasecmp(conn_hdr, "close") || (http10 && strcasecmp(conn_hdr, "keep-alive"));
    html_escape(f->line + strlen("accepted "), esc, sizeof esc);
    html_escape(f->server_name, sni, sizeof sni);
    /* Counted now, not at the handshake: a peer may have updated its keys. */
    pqify_tls_info now;
    pqify_tls_get_info(conn, &now);
    int blen = snprintf(body, sizeof body,
                        "<!doctype html>\n<html><head><title>pqify serve</title></head><body>\n"
                        "<h1>pqify serve</h1>\n<pre>%s alpn=%s server_name=%s handshake_us=%llu "
                        "key_updates_received=%llu key_updates_sent=%llu</pre>\n"
                        "</body></html>\n",
                        esc, f->alpn, sni, f->handshake_us,
                        (unsigned long long)now.key_updates_received,
                        (unsigned long long)now.key_updates_sent);
    if (blen < 0 || (size_t)blen >= sizeof body)
        return PQIFY_TLS_ERR_INTERNAL;
    char hdr[256];
    int hlen = snprintf(hdr, sizeof hdr,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                        "Content-Length: %d\r\nConnection: %s\r\n\r\n",
                        blen, close_after ? "close" : "keep-alive");
    int rc = pqify_tls_send(conn, out, hdr, (size_t)hlen);
    if (rc == 0)
        rc = pqify_tls_send(conn, out, body, (size_t)blen);
    if (cli_flush(fd, out) != 0 && rc == 0)
        rc = CLI_IO_SOCKET;
    return rc < 0 ? rc : close_after;
}

/* After the handshake: echo, or serve HTTP requests. Returns the status. */
static int serve_data(int fd, pqify_tls_conn *conn, const char *peer, const struct facts *f, int www,
                      struct cli_inbuf *in, pqify_tls_buf *out)
{
    pqify_tls_buf plain;
    uint8_t req[8192];
    size_t req_len = 0, skip_body = 0;
    int status = 1, rc = 0;

    pqify_tls_buf_init(&plain, NULL, 0);
    for (;;) {
        if (in->len > 0) {
            size_t n = in->len;
            rc = pqify_tls_receive(conn, &plain, in->data, &n, out);
            cli_inbuf_consume(in, n);
            if (cli_flush(fd, out) != 0 && rc >= 0)
                rc = CLI_IO_SOCKET;
            if (rc < 0)
                goto failed;
            if (plain.len > 0 && !www) {
                int s = pqify_tls_send(conn, out, plain.base, plain.len);
                pqify_tls_buf_consume(&plain, plain.len);
                if (cli_flush(fd, out) != 0 && s == 0)
                    s = CLI_IO_SOCKET;
                if (s < 0) {
                    rc = s;
                    goto failed;
                }
            }
            while (www && plain.len > 0) {
                /* Discard a request body announced by Content-Length. */
                size_t take = skip_body < plain.len ? skip_body : plain.len;
                pqify_tls_buf_consume(&plain, take);
                skip_body -= take;
                if (plain.len == 0)
                    break;
                take = sizeof req - req_len < plain.len ? sizeof req - req_len : plain.len;
                memcpy(req + req_len, plain.base, take);
                req_len += take;
                pqify_tls_buf_consume(&plain, take);
                size_t head;
                while ((head = request_head_len(req, req_len)) > 0) {
                    char cl[32];
                    if (header_value(req, head, "Content-Length", cl, sizeof cl) == 0)
                        skip_body = (size_t)strtoull(cl, NULL, 10);
                    int close_after = answer_http(conn, fd, f, req, head, out);
                    if (close_after < 0) {
                        rc = close_after;
                        goto failed;
                    }
                    memmove(req, req + head, req_len - head);
                    req_len -= head;
                    if (close_after)
                        goto close;
                    take = skip_body < req_len ? skip_body : req_len;
                    memmove(req, req + take, req_len - take);
                    req_len -= take;
                    skip_body -= take;
                }
                if (req_len == sizeof req) {
                    fprintf(stderr, "pqify serve: %s sent an HTTP request head over %zu bytes\n", peer,
                            sizeof req);
                    goto close;
                }
            }
            if (rc == PQIFY_TLS_PEER_CLOSED)
                goto close;
        }
        long got = cli_read_some(fd, in, -1);
        if (got == 0) {
            fprintf(stderr, "pqify serve: %s closed the connection without close_notify\n", peer);
            goto out;
        }
        if (got < 0) {
            fprintf(stderr, "pqify serve: reading from %s failed: %s\n", peer, strerror(errno));
            goto out;
        }
    }

close:
    /* RFC 8446 §6.1: answer (or send) close_notify before closing. */
    if (pqify_tls_close_notify(conn, out) == 0)
        (void)cli_flush(fd, out);
    status = 0;
    goto out;
failed:
    fprintf(stderr, "pqify serve: connection with %s failed: %s\n", peer, cli_strerror(rc));
out:
    pqify_tls_buf_dispose(&plain);
    return status;
}

static int serve_one(int fd, const pqify_tls_config *cfg, const char *peer, const struct serve_args *a)
{
    static struct cli_inbuf in;
    pqify_tls_buf out;
    struct facts f;
    int status = 1;

    in.len = 0;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_conn *conn = pqify_tls_conn_new(cfg, 1);
    if (conn == NULL) {
        fprintf(stderr, "pqify serve: cannot create a connection for %s\n", peer);
        goto done;
    }
    int rc = cli_handshake(fd, conn, 1, a->timeout_s * 1000, &in, &out);
    if (rc != 0) {
        fprintf(stderr, "pqify serve: handshake with %s failed: %s\n", peer, cli_strerror(rc));
        goto done;
    }
    describe(conn, peer, &f);
    fprintf(stderr, "%s resumed=%s\n", f.line, f.resumed ? "yes" : "no");
    status = serve_data(fd, conn, peer, &f, a->www, &in, &out);
done:
    pqify_tls_conn_free(conn);
    pqify_tls_buf_dispose(&out);
    return status;
}

int pqify_cmd_serve(int argc, char **argv)
{
    struct serve_args a;
    char host[256], port[16], addr[300];
    pqify_tls_config *cfg = NULL;
    int lfd = -1, status = 1;
    const char *why = NULL;

    if (pqify_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc, argv, &a) != 0) {
        usage(stderr);
        return 2;
    }
    if (cli_split_hostport(a.listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify serve: '%s' is not HOST:PORT\n", a.listen);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Children are not waited for: the kernel reaps them (POSIX SIG_IGN). */
    if (!a.once)
        signal(SIGCHLD, SIG_IGN);

    cfg = cli_tls_config("serve", &a.tls, 1);
    if (cfg == NULL)
        goto done;
    lfd = cli_listen(host, port, &why);
    if (lfd < 0) {
        fprintf(stderr, "pqify serve: cannot listen on %s: %s\n", a.listen, why);
        goto done;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) != 0) {
        fprintf(stderr, "pqify serve: getsockname: %s\n", strerror(errno));
        goto done;
    }
    cli_format_addr((struct sockaddr *)&ss, addr, sizeof addr);
    fprintf(stderr, "listening on %s\n", addr);

    for (;;) {
        struct sockaddr_storage peer_ss;
        socklen_t psl = sizeof peer_ss;
        int cfd = accept4(lfd, (struct sockaddr *)&peer_ss, &psl, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "pqify serve: accept: %s\n", strerror(errno));
            goto done;
        }
        char peer[300];
        cli_format_addr((struct sockaddr *)&peer_ss, peer, sizeof peer);
        if (a.once) {
            close(lfd);
            lfd = -1;
            status = serve_one(cfd, cfg, peer, &a);
            close(cfd);
            goto done;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            int s = serve_one(cfd, cfg, peer, &a);
            close(cfd);
            pqify_tls_config_free(cfg);
            _exit(s);
        }
        if (pid < 0)
            fprintf(stderr, "pqify serve: fork: %s (dropping %s)\n", strerror(errno), peer);
        close(cfd);
    }

done:
    if (lfd >= 0)
        close(lfd);
    pqify_tls_config_free(cfg);
    return status;
}
