/*
 * The benches' server processes (bench_nginx.c): a scratch folder, a process started
 * with its output in that folder and optionally pinned to a CPU, waiting for its
 * loopback port, its CPU time read from /proc, and stopping it by PID. Debian's nginx
 * is started this way from a generated one-process configuration, by the edge,
 * provider and tunnel benches.
 */
#ifndef PQIFY_BENCH_NGINX_H
#define PQIFY_BENCH_NGINX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A process a bench started: its name for messages, its PID (-1: none) and the
 * loopback port it serves. */
struct pqify_bench_proc {
    const char *name;
    pid_t pid;
    uint16_t port;
};

/* A process's CPU time so far: ticks = utime + stime of /proc/PID/stat (every thread,
 * clock ticks), ns = the run time of /proc/PID/task/ * /schedstat summed (ns; threads
 * that ended are not in it). 0 or -1. */
int pqify_bench_cpu(pid_t pid, unsigned long long *ticks, unsigned long long *ns);

/* mkdtemp of /tmp/pqify-bench-WHAT.XXXXXX into dir; 0 or -1. */
int pqify_bench_dir_make(char *dir, size_t cap, const char *what);
/* Removes dir and everything in it. */
void pqify_bench_dir_remove(const char *dir);
/* Writes text to dir/name; 0 or -1. */
int pqify_bench_put(const char *dir, const char *name, const char *text);

/* fork + exec argv with stdout and stderr appended to dir/log, pinned to cpu (-1: not
 * pinned), with env ("NAME=VALUE", or NULL) added. The PID, or -1. */
pid_t pqify_bench_spawn(const char *dir, char *const argv[], int cpu, const char *log, const char *env);
/* Waits up to 10 s for 127.0.0.1:p->port to accept; 0, or -1 (the process ended or
 * never listened; a message naming dir went to stderr). */
int pqify_bench_wait_port(struct pqify_bench_proc *p, const char *dir);
/* SIGTERM, then waits for it (PID only). */
void pqify_bench_stop(struct pqify_bench_proc *p);

/* Debian's nginx: /usr/sbin/nginx when it is there, else "nginx" from PATH. */
const char *pqify_bench_nginx_binary(void);
/* Writes dir/NAME.conf: one process (master_process off, daemon off), its pid and error
 * log in dir (NAME.pid, NAME.err), every temp path in dir, access_log off, and
 * http { http_body } around the caller's servers and upstreams. 0 or -1. */
int pqify_bench_nginx_conf(const char *dir, const char *name, const char *http_body);
/* Starts nginx on dir/NAME.conf (output in NAME.log), env as for pqify_bench_spawn,
 * and waits for p->port. 0, or -1 with its error log on stderr. */
int pqify_bench_nginx_start(struct pqify_bench_proc *p, const char *nginx, const char *dir, const char *name,
                            int cpu, const char *env);

/* h2load (pinned to CPU 1) to https://127.0.0.1:port/small.txt: n requests over 8
 * connections, HTTP/1.1 keep-alive (h1) or HTTP/2 with 16 streams each; its output in
 * dir/h2load.out, its per-request log (--log-file: start us, status, duration us) in
 * log_file when not NULL. n when all n answered 2xx (seconds: its "finished in"),
 * else -1. */
long pqify_bench_h2load(const char *dir, uint16_t port, int h1, unsigned n, const char *log_file, double *seconds);

/* The http{} bodies both proxy benches use (out holds up to cap bytes). An origin
 * serving dir's files on 127.0.0.1:port, keep-alive, and when tls_port is not 0 also
 * over TLS 1.3 (X25519) and HTTP/2 there with dir/cert.pem and dir/key.pem. */
void pqify_bench_nginx_origin(char *out, size_t cap, const char *dir, uint16_t port, uint16_t tls_port);
/* A TLS-terminating reverse proxy on listen_port (TLS 1.3, X25519, HTTP/1.1 and
 * HTTP/2, dir/cert.pem and dir/key.pem, no session resumption) to 127.0.0.1:
 * upstream_port over keep-alive HTTP/1.1 (proxy_pass, up to keepalive idle upstream
 * connections). */
void pqify_bench_nginx_proxy(char *out, size_t cap, const char *dir, uint16_t listen_port, uint16_t upstream_port,
                             unsigned keepalive);

#endif
