/* pqify demo's fleet: a test PKI, the services as child processes of the demo
 * (this same binary), and the measurements taken through them (demo_fleet.c). */
#ifndef PQIFY_CLI_DEMO_H
#define PQIFY_CLI_DEMO_H

#include <stddef.h>
#include <sys/types.h>

/* DIR/ca.pem, DIR/server.{pem,key} (DNS:localhost, IP:127.0.0.1, serverAuth, with
 * its SKI) and DIR/client.{pem,key} (clientAuth), ECDSA P-256, made with
 * libcrypto; 0 or -1. */
int demo_pki(const char *dir);
/* DIR/keys/edge.key is server.key again: the key the demo's key server signs
 * with. demo_ski_hex: the subject key identifier of a certificate, in hex (the key
 * server's name for its key); demo_verify_digest: an ECDSA signature of a SHA-256
 * digest, checked against the certificate's key. 0 or -1. */
int demo_ski_hex(const char *cert_pem, char hex[41]);
int demo_verify_digest(const char *cert_pem, const unsigned char *digest, size_t dlen,
                       const unsigned char *sig, size_t slen);

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
 * (at most 15 s) for its listening line; 0 or -1 (words on stderr). The child is
 * registered for demo_stop_all. */
int demo_start(struct demo_proc *p, const char *exe, const char *dir, const char *name,
               char *const argv[]);

/* Run `EXE ARGV...` (exe NULL: this binary) to its end: stdin from stdin_file
 * (NULL: /dev/null), stdout to out_file (NULL: /dev/null), stderr to err_file;
 * killed after timeout_s. Returns its exit status, or -1. */
int demo_run(const char *exe, char *const argv[], const char *stdin_file, const char *out_file,
             const char *err_file, unsigned timeout_s);

/* SIGTERM to every started service by pid, the last started first, each waited
 * for (5 s, then SIGKILL). Async-signal-safe: the Ctrl-C handler calls it. */
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

/* Fig. 2: n Forward batches of `events` events each over one X25519MLKEM768 and
 * one X25519 connection to logrecv at port, alternating; for batch i, t[i] the
 * seconds since the first was sent and d[i] the milliseconds from its first byte
 * written to its ack read. One batch per stream goes first, untimed: it makes the
 * stream's Kafka topic. 0 or -1. */
int demo_batches(int port, const char *ca, size_t n, size_t events, double *pq_t, double *pq_ms,
                 double *cl_t, double *cl_ms);

/* Table 1: seconds per operation, medians of interleaved rounds; each ratio is
 * the median over the rounds of (encaps / derive of the same round), so that a
 * burst of load on the machine hits both sides of a ratio alike. */
struct demo_kex_costs {
    double kyber512_encaps, p256_ecdh, mlkem768_encaps, x25519_ecdh;
    double kyber512_per_p256, mlkem768_per_x25519;
};
int demo_kex_costs(int quick, struct demo_kex_costs *c);

#endif
