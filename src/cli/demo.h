/* pqify demo's fleet: a test PKI, the services as child processes of the demo
 * (this same binary), and the measurements taken through them (demo_fleet.c). */
#ifndef PQIFY_CLI_DEMO_H
#define PQIFY_CLI_DEMO_H

#include <stddef.h>
#include <sys/types.h>

/* DIR/ca.pem; DIR/server.{pem,key} (DNS:localhost, IP:127.0.0.1, serverAuth: the
 * internal services' certificate); DIR/client.{pem,key} (clientAuth, CN
 * pqify-demo-client: the edge's keyless client and the tunnel connector, whose
 * name that CN is); DIR/edge.pem, the edge's public certificate, whose key is
 * written only to DIR/keys/edge.key, the key server's folder. ECDSA P-256, made
 * with libcrypto; 0 or -1. */
int demo_pki(const char *dir);

/* A service the demo started: its pid, its log (stderr), the port from its
 * `listening on` line and the admin port from its announce line. */
struct demo_proc {
    pid_t pid;
    char name[24];
    char log[512];
    int port, admin;
};

/* The path of NAME beside this binary (pqify-kafka beside pqify); 0, or -1 when
 * there is no such executable. */
int demo_sibling(const char *name, char *out, size_t cap);

/* Start `EXE ARGV...` (exe NULL: this binary) with stderr to DIR/NAME.log and wait
 * (at most 15 s) for its `listening on` line; 0 or -1 (words on stderr). The child
 * is registered for demo_stop_all. p->port is the port of that line (0 when it
 * names a Unix socket). */
int demo_start(struct demo_proc *p, const char *exe, const char *dir, const char *name,
               char *const argv[]);

/* Run `EXE ARGV...` (exe NULL: this binary) to its end: stdin from stdin_file
 * (NULL: /dev/null), stdout to out_file (NULL: /dev/null), stderr to err_file;
 * killed after timeout_s. Returns its exit status, or -1. */
int demo_run(const char *exe, char *const argv[], const char *stdin_file, const char *out_file,
             const char *err_file, unsigned timeout_s);

/* SIGKILL to the tool demo_run is waiting for, if any; then SIGTERM to every
 * started service by pid, the last started first, each waited for (5 s, then
 * SIGKILL). Async-signal-safe: the Ctrl-C handler calls it. */
void demo_stop_all(void);

/* GET http://127.0.0.1:PORT/PATH (an admin endpoint): the body in buf (NUL
 * terminated); its length, or -1. */
long demo_http_get(int port, const char *path, char *buf, size_t cap);

/* The value of the first Prometheus sample whose line starts with `prefix`
 * (a name and, if wanted, the start of its labels); NAN if absent. */
double demo_metric(const char *text, const char *prefix);

/* Fig. 1: n TLS handshakes per group over loopback TCP to HOST 127.0.0.1:port,
 * alternating X25519MLKEM768 and X25519, each timed from connect() to the
 * client's Finished (µs) into pq_us[] and classical_us[]. 0 or -1. */
int demo_handshakes(int port, const char *ca, size_t n, double *pq_us, double *classical_us);

/* Every series of pqify_tls_handshakes_total{role=ROLE,...} in a /metrics page:
 * the group, pq and hrr of the one with most handshakes, how many groups had any,
 * the total count and the mean handshake time (µs) of pqify_tls_handshake_duration_seconds
 * for that group; 0, or -1 when the service counted no handshake in that role. */
struct demo_hs {
    char group[64];
    int pq, hrr, groups;
    double count, mean_us;
};
int demo_metric_handshakes(const char *text, const char *role, struct demo_hs *h);

/* Remove DIR and everything under it (no symlink followed). Async-signal-safe
 * (open, getdents64, unlinkat: no malloc), so the Ctrl-C handler may call it. */
void demo_rmtree(const char *dir);

/* n GETs to the edge at 127.0.0.1:port (SNI and Host localhost, verified against
 * ca) on one pqify TLS connection: HTTP/1.1 one after the other on keep-alive, or
 * (h2) HTTP/2, every request a stream, all in flight together (demo_client.c).
 * What the client's own connection said goes to r; 0, or -1 with words on stderr. */
struct demo_get_result {
    char group[64], alpn[32];
    int is_pq, hrr;
    double handshake_us;
    size_t sent, ok, body_bytes;   /* ok: answered 200 */
};
int demo_https_gets(int port, const char *ca, int h2, size_t n, struct demo_get_result *r);

/* Table 1: seconds per operation, medians of interleaved rounds; each ratio is
 * the median over the rounds of (encaps / derive of the same round), so that a
 * burst of load on the machine hits both sides of a ratio alike. */
struct demo_kex_costs {
    double kyber512_encaps, p256_ecdh, mlkem768_encaps, x25519_ecdh;
    double kyber512_per_p256, mlkem768_per_x25519;
};
int demo_kex_costs(int quick, struct demo_kex_costs *c);

#endif
