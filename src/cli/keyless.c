/* pqify keyless ping|sign: one request to a key server over post-quantum mutual TLS
 * (docs/keyless.md), on a chassis TLS stream. The request and answer go through the
 * keyless codec; the answer must carry the request's id. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "cli.h"
#include "pqify/keyless.h"
#include "pqify/net/listener.h"
#include "pqify/net/stream.h"
#include "pqify/net/tls_options.h"

#define KL_DEADLINE_MS 10000u
#define KL_ID 1u

struct kl_args {
    const char *server, *ski, *op, *payload;
    pqify_tls_options tls;
    unsigned count;
};

#define A(field) offsetof(struct kl_args, field)
static const struct pqify_opt kl_opts[] = {
    {"--cert", "FILE", PQIFY_OPT_STRING, A(tls.cert), 0, 0, 0, "client certificate (PEM; the key server requires one)"},
    {"--key", "FILE", PQIFY_OPT_STRING, A(tls.key), 0, 0, 0, "its private key"},
    {"--ca", "FILE", PQIFY_OPT_STRING, A(tls.ca), 0, 0, 0, "CA the key server's certificate must chain to"},
    {"--servername", "NAME", PQIFY_OPT_STRING, A(tls.server_name), 0, 0, 0,
     "name to check in its certificate (default: the host)"},
    {"--pq", "MODE", PQIFY_OPT_STRING, A(tls.pq), 0, 0, 0, "required (default) | preferred | off"},
    {"--ski", "HEX", PQIFY_OPT_STRING, A(ski), 0, 0, 0, "sign: the key's SKI (40 hex digits)"},
    {"--op", "NAME", PQIFY_OPT_STRING, A(op), 0, 0, 0,
     "sign: ecdsa-sha256, rsa-pss-sha256, ed25519, rsa-sha256 ... (as in /metrics)"},
    {"--payload", "HEX", PQIFY_OPT_STRING, A(payload), 0, 0, 0,
     "sign: the digest (or the message for ed25519), in hex"},
    {"--count", "N", PQIFY_OPT_UINT, A(count), 100, 10000000, 0,
     "bench: ECDSA P-256 signs at 64 in flight (default 20000)"},
};
#undef A

static const struct pqify_cmd_spec kl_spec = {
    .name = "keyless",
    .usage = "keyless ping HOST:PORT --cert FILE --key FILE --ca FILE\n"
             "       keyless sign HOST:PORT --cert FILE --key FILE --ca FILE --ski HEX --op NAME "
             "--payload HEX\n"
             "       keyless bench HOST:PORT --cert FILE --key FILE --ca FILE --ski HEX (a P-256 key)\n",
    .about = "Ask a key server (pqify keyserver, gokeyless) for a pong or a signature.\n",
    .opts = kl_opts,
    .n_opts = PQIFY_N_OPTS(kl_opts),
    .operand = "HOST:PORT",
    .operand_offset = offsetof(struct kl_args, server),
    .footer = "stdout: ping: 'pong in MS ms group NAME'; sign: the signature in hex;\n"
              "bench: ECDSA P-256 signs/s through one connection at 64 in flight against raw\n"
              "libcrypto signing on one core, and p50/p99 latency at 1 and 64 in flight.\n"
              "Exit 0 on an answer, 1 on an error answer or a failure.\n",
};

struct kl_run {
    uv_loop_t loop;
    uv_timer_t deadline;
    uv_connect_t creq;
    uv_tcp_t *tcp;
    pqify_tls_config *cfg;
    pqify_stream *s;
    uint8_t req[PQIFY_KEYLESS_MAX_PACKET];
    size_t req_len;
    uint8_t in[PQIFY_KEYLESS_MAX_PACKET];
    size_t in_len;
    uint64_t t0;
    int is_ping, status, answered;
    char group[64];
    /* bench */
    int bench;
    unsigned phase, window, total, sent, done, failed;
    uint64_t *sent_at;   /* by id */
    double *lat;         /* ms, in answer order */
    uint64_t phase_t0;
    double rate[2], p50[2], p99[2];
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Request id goes out: the same encoded packet with its id rewritten (header bytes 4..7). */
static void bench_send(struct kl_run *r)
{
    unsigned id = ++r->sent;
    r->req[4] = (uint8_t)(id >> 24);
    r->req[5] = (uint8_t)(id >> 16);
    r->req[6] = (uint8_t)(id >> 8);
    r->req[7] = (uint8_t)id;
    r->sent_at[id] = uv_hrtime();
    if (pqify_stream_send(r->s, r->req, r->req_len) != 0)
        pqify_stream_abort(r->s);
}

static void bench_phase(struct kl_run *r)
{
    r->window = r->phase == 0 ? 1 : 64;
    r->sent = r->done = 0;
    r->phase_t0 = uv_hrtime();
    for (unsigned i = 0; i < r->window && r->sent < r->total; i++)
        bench_send(r);
}

static void bench_answer(struct kl_run *r, const pqify_keyless_packet *p)
{
    if (p->id == 0 || p->id > r->sent || p->opcode != PQIFY_KEYLESS_OP_RESPONSE) {
        r->failed++;
        pqify_stream_close(r->s);
        return;
    }
    r->lat[r->done++] = (double)(uv_hrtime() - r->sent_at[p->id]) / 1e6;
    if (r->done < r->total) {
        if (r->sent < r->total)
            bench_send(r);
        return;
    }
    double secs = (double)(uv_hrtime() - r->phase_t0) / 1e9;
    qsort(r->lat, r->total, sizeof r->lat[0], cmp_double);
    r->rate[r->phase] = r->total / secs;
    r->p50[r->phase] = r->lat[r->total / 2];
    r->p99[r->phase] = r->lat[(size_t)((double)r->total * 0.99)];
    if (r->phase == 0) {
        r->phase = 1;
        r->total *= 10;
        bench_phase(r);
    } else {
        r->status = 0;
        pqify_stream_close(r->s);
    }
}

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(h);
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

static void kl_handshake(pqify_stream *s, void *ctx)
{
    struct kl_run *r = ctx;
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    snprintf(r->group, sizeof r->group, "%s", info.group);
    r->t0 = uv_hrtime();
    if (r->bench) {
        bench_phase(r);
        return;
    }
    if (pqify_stream_send(s, r->req, r->req_len) != 0)
        pqify_stream_abort(s);
}

static void kl_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    struct kl_run *r = ctx;
    if (r->answered || len > sizeof r->in - r->in_len) {
        pqify_stream_abort(s);
        return;
    }
    memcpy(r->in + r->in_len, data, len);
    r->in_len += len;
    if (r->bench) {
        size_t off = 0;
        for (;;) {
            size_t m = pqify_keyless_frame_len(r->in + off, r->in_len - off);
            if (m == 0 || m > r->in_len - off)
                break;
            pqify_keyless_packet bp;
            if (pqify_keyless_decode(r->in + off, m, &bp) != 0) {
                r->failed++;
                pqify_stream_abort(s);
                return;
            }
            off += m;
            bench_answer(r, &bp);
            if (r->s == NULL || r->status == 0 || r->failed)
                break;
        }
        memmove(r->in, r->in + off, r->in_len - off);
        r->in_len -= off;
        return;
    }
    size_t n = pqify_keyless_frame_len(r->in, r->in_len);
    if (n == 0 || n > r->in_len)
        return;
    pqify_keyless_packet p;
    r->answered = 1;
    if (pqify_keyless_decode(r->in, n, &p) != 0 || p.id != KL_ID) {
        fprintf(stderr, "pqify keyless: the answer is malformed or carries another id\n");
    } else if (p.opcode == PQIFY_KEYLESS_OP_ERROR) {
        uint8_t code = p.payload.len == 1 ? p.payload.data[0] : 0;
        fprintf(stderr, "pqify keyless: the key server answered error %u (%s)\n", code,
                pqify_keyless_wire_error_name(code));
    } else if (r->is_ping && p.opcode == PQIFY_KEYLESS_OP_PONG) {
        printf("pong in %.3f ms group %s\n", (double)(uv_hrtime() - r->t0) / 1e6, r->group);
        r->status = 0;
    } else if (!r->is_ping && p.opcode == PQIFY_KEYLESS_OP_RESPONSE) {
        for (size_t i = 0; i < p.payload.len; i++)
            printf("%02x", p.payload.data[i]);
        printf("\n");
        r->status = 0;
    } else {
        fprintf(stderr, "pqify keyless: unexpected answer opcode 0x%02x\n", p.opcode);
    }
    pqify_stream_close(s);
}

static void kl_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct kl_run *r = ctx;
    r->s = NULL;
    if (!r->answered && !r->bench)
        fprintf(stderr, "pqify keyless: no answer: %s\n", pqify_stream_strerror(status));
    if (r->bench && r->status != 0)
        fprintf(stderr, "pqify keyless bench: stopped after %u answers (%u bad): %s\n", r->done,
                r->failed, pqify_stream_strerror(status));
    uv_timer_stop(&r->deadline);
    uv_close((uv_handle_t *)&r->deadline, NULL);
}

static const pqify_stream_cbs kl_cbs = {kl_handshake, kl_data, NULL, kl_close};

static void kl_connected(uv_connect_t *req, int status)
{
    struct kl_run *r = req->data;
    if (status != 0) {
        fprintf(stderr, "pqify keyless: cannot connect: %s\n", uv_strerror(status));
        uv_close((uv_handle_t *)r->tcp, (uv_close_cb)free);
        uv_close((uv_handle_t *)&r->deadline, NULL);
        return;
    }
    pqify_stream_opts so = {.handshake_timeout_ms = KL_DEADLINE_MS};
    if (pqify_stream_connect(&r->loop, r->tcp, r->cfg, &so, &kl_cbs, r, &r->s) != 0) {
        fprintf(stderr, "pqify keyless: cannot start TLS\n");
        uv_close((uv_handle_t *)&r->deadline, NULL);
    }
}

static void kl_timeout(uv_timer_t *t)
{
    struct kl_run *r = t->data;
    fprintf(stderr, "pqify keyless: no answer within %u s\n", KL_DEADLINE_MS / 1000);
    if (r->s != NULL)
        pqify_stream_abort(r->s);
}

/* Signs per second of libcrypto alone on this thread for about a second: ECDSA P-256
 * over a SHA-256 digest, the operation the key server does per request. */
static double raw_p256_rate(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    EVP_PKEY_CTX *c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
    uint8_t dg[32] = {1}, sig[128];
    unsigned n = 0;
    double rate = 0;
    if (c != NULL && EVP_PKEY_sign_init(c) == 1) {
        uint64_t t0 = uv_hrtime(), t;
        do {
            for (int i = 0; i < 100; i++, n++) {
                size_t sl = sizeof sig;
                if (EVP_PKEY_sign(c, sig, &sl, dg, sizeof dg) != 1)
                    goto out;
            }
            t = uv_hrtime();
        } while (t - t0 < 1000000000ull);
        rate = n / ((double)(t - t0) / 1e9);
    }
out:
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(k);
    return rate;
}

int pqify_cmd_keyless(int argc, char **argv)
{
    static struct kl_run r;
    struct kl_args a;
    char host[256], port[16], err[768];
    if (argc < 2 || pqify_wants_help(argc, argv)) {
        pqify_cli_help(&kl_spec, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    r.status = 1;
    if (strcmp(argv[1], "ping") == 0)
        r.is_ping = 1;
    else if (strcmp(argv[1], "bench") == 0)
        r.bench = 1;
    else if (strcmp(argv[1], "sign") != 0)
        return pqify_cli_unknown("keyless", argv[1]);
    if (pqify_cli_parse(&kl_spec, argc - 1, argv + 1, &a) != 0)
        return 2;
    if (a.server == NULL || a.tls.cert == NULL || a.tls.key == NULL || a.tls.ca == NULL) {
        fprintf(stderr, "pqify keyless: HOST:PORT, --cert, --key and --ca are required (see pqify "
                        "keyless --help)\n");
        return 2;
    }
    if (pqify_net_split_hostport(a.server, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "pqify keyless: '%s' is not HOST:PORT\n", a.server);
        return 2;
    }
    pqify_keyless_packet p;
    uint8_t payload[1024];
    size_t plen = 0;
    if (r.bench) {
        /* ECDSA P-256 over a fixed digest: the server's cost is the sign, as in a handshake */
        a.op = "ecdsa-sha256";
        a.payload = "8e1f0c6b4ad8a1b34f2a3b9d5c6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80";
        r.total = (a.count ? a.count : 20000) / 10;
        r.sent_at = calloc((size_t)r.total * 10 + 1, sizeof *r.sent_at);
        r.lat = calloc((size_t)r.total * 10, sizeof *r.lat);
        if (r.sent_at == NULL || r.lat == NULL)
            return 1;
    }
    if (r.is_ping) {
        pqify_keyless_packet_init(&p, KL_ID, PQIFY_KEYLESS_OP_PING);
    } else {
        uint8_t op = 0;
        for (unsigned o = 1; o < 0xF0 && op == 0; o++)
            if (a.op != NULL && strcmp(pqify_keyless_op_name((uint8_t)o), a.op) == 0)
                op = (uint8_t)o;
        size_t skl = 0;
        pqify_keyless_packet_init(&p, KL_ID, op);
        if (op == 0 || a.ski == NULL || a.payload == NULL ||
            unhex(a.ski, p.ski, sizeof p.ski, &skl) != 0 || skl != PQIFY_KEYLESS_SKI_BYTES ||
            unhex(a.payload, payload, sizeof payload, &plen) != 0) {
            fprintf(stderr, "pqify keyless: sign needs --op NAME (as in /metrics), --ski (40 hex "
                            "digits) and --payload HEX\n");
            return 2;
        }
        p.opcode = op;
        p.payload.data = payload;
        p.payload.len = plen;
    }
    if (pqify_keyless_encode(&p, r.req, sizeof r.req, &r.req_len) != 0)
        return 1;
    if (a.tls.server_name == NULL)
        a.tls.server_name = host;
    r.cfg = pqify_tls_options_build(&a.tls, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (r.cfg == NULL) {
        fprintf(stderr, "pqify keyless: --%s\n", err);
        return 1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        fprintf(stderr, "pqify keyless: cannot resolve %s\n", host);
        pqify_tls_config_free(r.cfg);
        return 1;
    }
    uv_loop_init(&r.loop);
    uv_timer_init(&r.loop, &r.deadline);
    r.deadline.data = &r;
    uv_timer_start(&r.deadline, kl_timeout, KL_DEADLINE_MS, 0);
    r.tcp = malloc(sizeof *r.tcp);
    r.creq.data = &r;
    int inited = r.tcp != NULL && uv_tcp_init(&r.loop, r.tcp) == 0;
    if (!inited || uv_tcp_connect(&r.creq, r.tcp, ai->ai_addr, kl_connected) != 0) {
        fprintf(stderr, "pqify keyless: cannot connect to %s\n", a.server);
        if (inited)
            uv_close((uv_handle_t *)r.tcp, (uv_close_cb)free);
        else
            free(r.tcp);
        uv_close((uv_handle_t *)&r.deadline, NULL);
    }
    freeaddrinfo(ai);
    if (r.bench)
        uv_timer_start(&r.deadline, kl_timeout, 600000, 0);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    pqify_tls_config_free(r.cfg);
    if (r.bench && r.status == 0) {
        double raw = raw_p256_rate();
        printf("raw libcrypto ECDSA P-256 sign, one core: %.0f signs/s\n", raw);
        printf("keyless 1 in flight:  %.0f signs/s  p50 %.3f ms  p99 %.3f ms  (%u signs)\n",
               r.rate[0], r.p50[0], r.p99[0], r.total / 10);
        printf("keyless 64 in flight: %.0f signs/s  p50 %.3f ms  p99 %.3f ms  (%u signs, %.2fx raw, "
               "one PQ mTLS connection, group %s)\n",
               r.rate[1], r.p50[1], r.p99[1], r.total, raw > 0 ? r.rate[1] / raw : 0.0, r.group);
    }
    free(r.sent_at);
    free(r.lat);
    return r.status;
}
