/* Timing, pinning, statistics and loopback sockets shared by the benchmarks. */
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static cpu_set_t saved_set;
static int saved;

int pqify_bench_pin(void)
{
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return -1;
    if (!saved) {
        if (sched_getaffinity(0, sizeof saved_set, &saved_set) != 0)
            return -1;
        saved = 1;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        return -1;
    return cpu;
}

void pqify_bench_unpin(void)
{
    if (saved) {
        (void)sched_setaffinity(0, sizeof saved_set, &saved_set);
        saved = 0;
    }
}

uint64_t pqify_bench_now_ns(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC is read from the vDSO (tens of ns here), far below any
     * operation measured; it never jumps with wall-clock changes. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between the two nearest order statistics. */
static double quantile(const double *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo + 1 >= n)
        return sorted[n - 1];
    double frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

struct pqify_bench_stats pqify_bench_summarise(double *samples, size_t n)
{
    qsort(samples, n, sizeof samples[0], cmp_double);
    struct pqify_bench_stats s = {
        .median = quantile(samples, n, 0.5),
        .q1 = quantile(samples, n, 0.25),
        .q3 = quantile(samples, n, 0.75),
    };
    return s;
}

uint16_t pqify_bench_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int pqify_bench_tcp_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
