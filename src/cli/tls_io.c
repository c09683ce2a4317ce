/* Blocking socket glue for `pqify serve` and `pqify connect` (see tls_io.h). */
#include "tls_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_split_hostport(const char *arg, char *host, size_t host_cap, char *port, size_t port_cap)
{
    const char *colon;
    const char *h = arg;
    size_t hlen;

    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = arg + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - arg);
    }
    if (hlen == 0 || hlen >= host_cap || strlen(colon + 1) == 0 || strlen(colon + 1) >= port_cap)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static struct addrinfo *resolve(const char *host, const char *port, int passive, const char **why)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return NULL;
    }
    return res;
}

int cli_listen(const char *host, const char *port, const char **why)
{
    struct addrinfo *res = resolve(host, port, 1, why);
    if (res == NULL)
        return -1;
    int fd = -1;
    *why = "no usable address";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        *why = strerror(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int cli_dial(const char *host, const char *port, int timeout_ms, const char **why)
{
    struct addrinfo *res = resolve(host, port, 0, why);
    if (res == NULL)
        return -1;
    int fd = -1;
    *why = "no usable address";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        if (!ok && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int n;
            do {
                n = poll(&p, 1, timeout_ms);
            } while (n < 0 && errno == EINTR);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                ok = 1;
            else
                errno = n == 0 ? ETIMEDOUT : (soerr ? soerr : errno);
        }
        if (ok) {
            /* Back to blocking: every wait below goes through poll(2) anyway. */
            int fl = fcntl(fd, F_GETFL);
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        *why = strerror(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

void cli_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof ip);
        port = ntohs(in4->sin_port);
        snprintf(out, cap, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", ip, port);
    } else {
        snprintf(out, cap, "?");
    }
}

int cli_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                (void)poll(&pf, 1, 1000);
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_flush(int fd, pqify_tls_buf *out)
{
    if (out->len == 0)
        return 0;
    int rc = cli_write_all(fd, out->base, out->len);
    pqify_tls_buf_consume(out, out->len);
    return rc;
}

long cli_read(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    for (;;) {
        int n = poll(&pf, 1, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return -2;
        break;
    }
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : (long)n;
    }
}

int cli_handshake(int fd, pqify_pump *p, int timeout_ms)
{
    int64_t deadline = cli_now_ms() + timeout_ms;
    uint8_t buf[CLI_READ_CHUNK];
    pqify_pump_event ev = pqify_pump_next(p);   /* a client's ClientHello */

    for (;;) {
        int flushed = cli_flush(fd, &p->out);
        if (ev == PQIFY_PUMP_FAILED)
            return pqify_pump_error(p);
        if (ev == PQIFY_PUMP_HANDSHAKE_DONE)
            return 0;
        if (flushed != 0)
            return CLI_IO_SOCKET;
        /* the CLI's signers answer at once: WANT_SIGNATURE cannot happen here */
        if (ev != PQIFY_PUMP_WANT_INPUT)
            return PQIFY_TLS_ERR_INTERNAL;
        int64_t left = deadline - cli_now_ms();
        if (left <= 0)
            return CLI_IO_TIMEOUT;
        long got = cli_read(fd, buf, sizeof buf, (int)left);
        if (got == 0)
            return CLI_IO_EOF;
        if (got == -2)
            return CLI_IO_TIMEOUT;
        if (got < 0)
            return CLI_IO_SOCKET;
        ev = pqify_pump_feed(p, buf, (size_t)got);
    }
}

const char *cli_strerror(int err)
{
    switch (err) {
    case CLI_IO_EOF:
        return "the peer closed the connection during the handshake (no alert)";
    case CLI_IO_TIMEOUT:
        return "the handshake timed out";
    case CLI_IO_SOCKET:
        return strerror(errno);
    default:
        return pqify_tls_strerror(err);
    }
}

int cli_shared_opt(const char *cmd, int argc, char **argv, int *i, pqify_tls_options *o)
{
    const struct {
        const char *name;
        const char **slot;
    } opts[] = {
        {"--cert", &o->cert},     {"--key", &o->key},   {"--ca", &o->ca},
        {"--pq", &o->pq},         {"--groups", &o->groups}, {"--alpn", &o->alpn},
        {"--ciphers", &o->ciphers},
    };
    int m;
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
        if ((m = pqify_cli_value(cmd, argc, argv, i, opts[k].name, opts[k].slot)) != 0)
            return m;
    const char *v;
    unsigned long n;
    if ((m = pqify_cli_value(cmd, argc, argv, i, "--timeout", &v)) != 0) {
        if (m < 0 || pqify_cli_uint(cmd, "--timeout", v, 1, 3600, &n) != 0)
            return -1;
        o->handshake_timeout_ms = (unsigned)n * 1000u;
        return 1;
    }
    return 0;
}

pqify_tls_config *cli_tls_config(const char *cmd, const pqify_tls_options *o, int is_server)
{
    /* the builder's words start with the option's name; here it is a flag */
    static const char *const fields[] = {"cert", "key", "ca", "pq", "groups", "alpn", "ciphers"};
    char err[768];
    pqify_tls_config *cfg = pqify_tls_options_build(o, is_server, PQIFY_PQ_PREFERRED, err, sizeof err);
    if (cfg != NULL)
        return cfg;
    const char *flag = "", *rest = err;
    if (strncmp(err, "server_name", 11) == 0) {
        flag = "--servername";
        rest = err + 11;
    }
    for (size_t k = 0; k < sizeof fields / sizeof fields[0] && flag[0] == '\0'; k++) {
        size_t n = strlen(fields[k]);
        if (strncmp(err, fields[k], n) == 0 && err[n] == ' ')
            flag = "--";
    }
    fprintf(stderr, "pqify %s: %s%s\n", cmd, flag, rest);
    return NULL;
}
