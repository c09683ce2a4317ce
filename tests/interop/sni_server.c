/*
 * A test server for SNI (tests/interop/sni.sh): one pqify_tls_config holding
 * every CERT:KEY pair given (identity 0 first, the default), driven through the
 * net layer's engine pump over blocking loopback sockets. Per connection it
 * prints "identity=N sni=NAME" to stdout, sends "identity N\n" to the client and
 * closes with close_notify. Prints "listening on 127.0.0.1:PORT" when ready;
 * serves at most 64 connections, each under a 10 s socket timeout.
 * Usage: sni_server CERT:KEY [CERT:KEY ...]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pqify/net/pump.h"
#include "pqify/tls.h"

static int send_all(int fd, pqify_tls_buf *out)
{
    while (out->len > 0) {
        ssize_t n = send(fd, out->base, out->len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        pqify_tls_buf_consume(out, (size_t)n);
    }
    return 0;
}

static void serve_one(const pqify_tls_config *cfg, int fd)
{
    pqify_pump p;
    uint8_t buf[32768];
    if (pqify_pump_init(&p, cfg, 1) != 0)
        return;
    pqify_pump_event ev = PQIFY_PUMP_WANT_INPUT;
    /* bounded: each read waits at most the socket timeout */
    for (int round = 0; round < 64 && ev == PQIFY_PUMP_WANT_INPUT; round++) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        ev = pqify_pump_feed(&p, buf, (size_t)n);
        if (send_all(fd, &p.out) != 0)
            break;
    }
    if (ev == PQIFY_PUMP_HANDSHAKE_DONE) {
        pqify_tls_info info;
        char line[64];
        pqify_tls_get_info(p.conn, &info);
        printf("identity=%d sni=%s\n", info.identity, info.server_name[0] ? info.server_name : "-");
        fflush(stdout);
        snprintf(line, sizeof line, "identity %d\n", info.identity);
        if (pqify_pump_send(&p, line, strlen(line)) == 0 && pqify_pump_close_notify(&p) == 0)
            (void)send_all(fd, &p.out);
    } else {
        printf("failed: %s\n", pqify_tls_strerror(pqify_pump_error(&p)));
        fflush(stdout);
        (void)send_all(fd, &p.out);
    }
    pqify_pump_dispose(&p);
}

int main(int argc, char **argv)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    if (argc < 2 || cfg == NULL) {
        fprintf(stderr, "usage: sni_server CERT:KEY [CERT:KEY ...]\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        char cert[1024];
        const char *colon = strchr(argv[i], ':');
        if (colon == NULL || (size_t)(colon - argv[i]) >= sizeof cert) {
            fprintf(stderr, "sni_server: want CERT:KEY, got %s\n", argv[i]);
            return 2;
        }
        memcpy(cert, argv[i], (size_t)(colon - argv[i]));
        cert[colon - argv[i]] = 0;
        int r = pqify_tls_config_add_identity_files(cfg, cert, colon + 1, NULL);
        if (r != i - 1) {
            fprintf(stderr, "sni_server: %s: %s (%s)\n", argv[i], pqify_tls_strerror(r),
                    pqify_tls_config_error_detail(cfg));
            return 1;
        }
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("sni_server: listen");
        return 1;
    }
    fprintf(stderr, "listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
    for (int n = 0; n < 64; n++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = {10, 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        serve_one(cfg, fd);
        close(fd);
    }
    close(ls);
    pqify_tls_config_free(cfg);
    return 0;
}
