/*
 * The negative corpus over loopback TCP against a running `pqify serve`
 * (tests/interop/hostile_serve.sh starts one server per variant):
 *
 *   tls_negative_tcp VARIANT PORT CA.pem [CLIENT.pem CLIENT.key]
 *
 * Every server-role case of negative_corpus.h for that variant is sent on its own
 * connection; the alert that comes back is checked (raw cases: in clear; forged
 * cases: decrypted by the pqify client that forged them), and after every case a
 * good client must complete a handshake and get its data echoed, so the server is
 * alive and still serving. Every read waits at most 5 seconds, so nothing hangs.
 * Prints one line per failure and a summary; exits 1 on any failure.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "negative_corpus.h"

#define READ_TIMEOUT_MS 5000

static int port;

typedef struct tcp_io {
    int fd;
    int eof;
} tcp_io;

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void tcp_send(void *ctx, const uint8_t *p, size_t n)
{
    tcp_io *t = ctx;
    while (n > 0) {
        ssize_t w = send(t->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* the server may already have closed: its alert is still to read */
        p += w;
        n -= (size_t)w;
    }
}

static size_t tcp_recv(void *ctx, pqify_tls_buf *into)
{
    tcp_io *t = ctx;
    uint8_t buf[65536];
    if (t->eof)
        return 0;
    struct pollfd pfd = {.fd = t->fd, .events = POLLIN};
    int r = poll(&pfd, 1, READ_TIMEOUT_MS);
    if (r <= 0) {
        t->eof = 1;   /* timeout: treated as the end, and the check will say what is missing */
        return 0;
    }
    ssize_t n = recv(t->fd, buf, sizeof buf, 0);
    if (n <= 0) {
        t->eof = 1;
        return 0;
    }
    if (tls_write_bytes(into, buf, (size_t)n) != 0)
        nc_die("buf");
    return (size_t)n;
}

static int failures, checks;

static void fail(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const char *name, const char *fmt, ...)
{
    va_list ap;
    failures++;
    printf("FAIL [%s]: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* a raw case: the bytes, then the server's answer until it closes */
static void run_raw(const nc_case *k)
{
    tcp_io t = {tcp_connect(), 0};
    if (t.fd < 0) {
        fail(k->name, "cannot connect");
        return;
    }
    tcp_send(&t, k->bytes, k->len);
    pqify_tls_buf in;
    pqify_tls_buf_init(&in, NULL, 0);
    if (k->err == 0) {
        /* legal: the ServerHello must come back; then we hang up */
        while (nc_first_record(in.base, in.len) == 0 && tcp_recv(&t, &in) > 0) {
        }
        if (nc_first_record(in.base, in.len) == 0 || in.base[0] != TLS_CT_HANDSHAKE)
            fail(k->name, "no ServerHello (%zu bytes)", in.len);
        else
            checks++;
    } else {
        while (tcp_recv(&t, &in) > 0) {
        }
        if (!t.eof) {
            fail(k->name, "server did not close within %d ms", READ_TIMEOUT_MS);
        } else if (k->sealed_alert) {
            /* the alert follows the server's flight, under its key: check that an
             * encrypted record ends the stream and the server closed */
            size_t off = 0, last = 0, n;
            while ((n = nc_first_record(in.base + off, in.len - off)) != 0) {
                last = off;
                off += n;
            }
            if (off != in.len || in.len == 0 || in.base[last] != TLS_CT_APPDATA)
                fail(k->name, "no protected alert at the end (%zu bytes)", in.len);
            else
                checks++;
        } else {
            int alert = nc_plain_alert(&in);
            if (alert != k->alert)
                fail(k->name, "alert %d, want %d", alert, k->alert);
            else
                checks++;
        }
    }
    pqify_tls_buf_dispose(&in);
    close(t.fd);
}

static void run_forged(const nc_case *k, const pqify_tls_config *ccfg)
{
    tcp_io t = {tcp_connect(), 0};
    if (t.fd < 0) {
        fail(k->name, "cannot connect");
        return;
    }
    nc_io io = {&t, tcp_send, tcp_recv};
    nc_result res;
    nc_run_forged(k, ccfg, &io, &res);
    if (res.why[0] != 0)
        fail(k->name, "%s", res.why);
    else if (k->err == 0 && !res.echoed)
        fail(k->name, "no echo after a legal case (alert %d)", res.alert);
    else if (k->err != 0 && res.alert != k->alert)
        fail(k->name, "alert %d, want %d", res.alert, k->alert);
    else
        checks++;
    close(t.fd);
}

/* a good client right after: handshake, "ping" echoed */
static void good_client(const char *after, const pqify_tls_config *ccfg)
{
    tcp_io t = {tcp_connect(), 0};
    pqify_tls_conn *c = pqify_tls_conn_new(ccfg, 0);
    pqify_tls_buf out, in, plain;
    pqify_tls_buf_init(&out, NULL, 0);
    pqify_tls_buf_init(&in, NULL, 0);
    pqify_tls_buf_init(&plain, NULL, 0);
    size_t zero = 0;
    int ret = t.fd < 0 ? -1 : pqify_tls_handshake(c, NULL, &zero, &out);
    for (int rounds = 0; rounds < 64 && ret == PQIFY_TLS_IN_PROGRESS; rounds++) {
        tcp_send(&t, out.base, out.len);
        out.len = 0;
        in.len = 0;
        if (tcp_recv(&t, &in) == 0)
            break;
        size_t used = in.len;
        ret = pqify_tls_handshake(c, in.base, &used, &out);
        if (ret == 0 && used < in.len) {
            size_t rest = in.len - used;
            if (pqify_tls_receive(c, &plain, in.base + used, &rest, &out) < 0)
                ret = -1;
        }
    }
    if (ret == 0) {
        tcp_send(&t, out.base, out.len);   /* our Finished */
        out.len = 0;
        if (pqify_tls_send(c, &out, "ping", 4) == 0)
            tcp_send(&t, out.base, out.len);
        out.len = 0;
        for (int rounds = 0; rounds < 64 && plain.len < 4; rounds++) {
            in.len = 0;
            if (tcp_recv(&t, &in) == 0)
                break;
            size_t used = in.len;
            if (pqify_tls_receive(c, &plain, in.base, &used, &out) < 0)
                break;
        }
    }
    if (ret != 0 || plain.len != 4 || memcmp(plain.base, "ping", 4) != 0)
        fail(after, "the next good client failed: %d (%s)", ret, ret < 0 ? pqify_tls_strerror(ret) : "no answer");
    else
        checks++;
    pqify_tls_buf_dispose(&out);
    pqify_tls_buf_dispose(&in);
    pqify_tls_buf_dispose(&plain);
    pqify_tls_conn_free(c);
    if (t.fd >= 0)
        close(t.fd);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: tls_negative_tcp VARIANT PORT CA.pem [CLIENT.pem CLIENT.key]\n");
        return 2;
    }
    int variant = -1;
    for (int i = 0; i < NC_SRV_N; i++)
        if (strcmp(argv[1], nc_server_names[i]) == 0)
            variant = i;
    port = atoi(argv[2]);
    if (variant < 0 || port <= 0 || port > 65535) {
        fprintf(stderr, "tls_negative_tcp: bad variant or port\n");
        return 2;
    }
    pqify_tls_config *ccfg = pqify_tls_config_new();
    if (ccfg == NULL || pqify_tls_config_set_ca_file(ccfg, argv[3]) != 0 ||
        (argc == 6 && (pqify_tls_config_set_cert_chain_file(ccfg, argv[4]) != 0 ||
                       pqify_tls_config_set_key_file(ccfg, argv[5]) != 0))) {
        fprintf(stderr, "tls_negative_tcp: cannot load the client's PEM files\n");
        return 2;
    }
    const char *vec = getenv("PQIFY_VECTORS_DIR");
    char probe[4096];
    if (vec != NULL) {
        snprintf(probe, sizeof probe, "%s/mlkem-cctv/modulus/ML-KEM-512.txt.gz", vec);
        if (access(probe, R_OK) != 0)
            vec = NULL;
    }
    /* issue 16, dev1: a client whose first hello the server answers with a HRR */
    pqify_tls_config *ccfg_hrr = pqify_tls_config_new();
    if (ccfg_hrr == NULL || pqify_tls_config_set_ca_file(ccfg_hrr, argv[3]) != 0 ||
        pqify_tls_config_set_groups(ccfg_hrr, "x25519,X25519MLKEM768") != 0) {
        fprintf(stderr, "tls_negative_tcp: cannot make the HelloRetryRequest client\n");
        return 2;
    }
    nc_corpus c = {0};
    /* over TCP a sample of the modulus-check keys: the first two and every 97th */
    nc_corpus_build(&c, vec, 2);
    size_t ran = 0;
    for (size_t i = 0; i < c.n; i++) {
        const nc_case *k = &c.cases[i];
        if ((int)k->server != variant)
            continue;
        ran++;
        if (k->forge != NULL)
            run_forged(k, k->hrr_early_data ? ccfg_hrr : ccfg);
        else
            run_raw(k);
        good_client(k->name, ccfg);
    }
    printf("%s: %zu cases over TCP, %d checks passed, %d failed\n", argv[1], ran, checks, failures);
    nc_corpus_free(&c);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(ccfg_hrr);
    return failures == 0 && ran > 0 ? 0 : 1;
}
