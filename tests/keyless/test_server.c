/*
 * The key server over the real TLS stream (src/keyless/server.c on src/net): a C
 * client on the same libuv loop speaks the gokeyless codec to it over mutual TLS,
 * and every signature is verified with libcrypto against public keys the openssl
 * CLI wrote (not the store). Keys, CA and certificates come from the openssl CLI.
 *  - 10,000 pipelined requests over one connection (ECDSA P-256, Ed25519, RSA-PSS,
 *    ping; 1,200 outstanding at a time), ids matched one to one, answers seen out of order, at most 1024 in
 *    flight and the connection held (not read) when the limit is reached;
 *  - an unknown SKI answers error 2; a malformed packet error 7, then the close;
 *  - the hop negotiates X25519MLKEM768; a client without a certificate and a
 *    classical-only client (pq off) get no answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "keyless/keyless_test.h"
#include "pqify/keyless_server.h"
#include "pqify/net/tls_options.h"

#define N_PIPELINED 10000
#define LOOP_BOUND_MS 120000

static char dir[512];
static pqify_tls_config *srv_cfg;
static pqify_keyless_store *store;
static EVP_PKEY *pub[KT_NKEYS];
static uint8_t ski[KT_NKEYS][20];

enum { K_RSA = 0, K_P256 = 1, K_P384 = 2, K_ED = 3 };

struct run {
    uv_loop_t loop;
    uv_timer_t bound;
    pqify_metrics *metrics;
    pqify_keyless_server *srv;
    pqify_tls_config *cli_cfg;
    uv_connect_t creq;
    uv_tcp_t *tcp;
    pqify_stream *s;
    void (*on_ready)(struct run *r);
    void (*on_packet)(struct run *r, const pqify_keyless_packet *p);
    uint8_t *in;
    size_t in_len, in_cap;
    int handshook, closed, close_status, timed_out;
    char group[64];
    /* the pipelined run */
    uint8_t *seen;
    unsigned answers, out_of_order, bad, last_id, next_id;
    pqify_keyless_server_stats st;
    /* small cases */
    pqify_keyless_packet last;
    uint8_t last_payload[64];
    unsigned n_packets;
};

static int setup(void **state)
{
    (void)state;
    char keys[600];
    kt_tmpdir(dir, sizeof dir, "kserver");
    assert_true(dir[0] != 0);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    assert_int_equal(kt_sh("mkdir -p %s", keys), 0);
    if (kt_make_keys(keys) != 0)
        fail_msg("openssl could not make the keys");
    /* A CA, the key server's certificate and a client's, all P-256. */
    assert_int_equal(
        kt_sh("cd %s && printf 'subjectAltName=DNS:localhost\\n' > san.ext && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
              "-keyout ca.key -out ca.pem -subj /CN=test-ca -days 2 2>/dev/null && "
              "for n in server client; do "
              "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key "
              "-out $n.csr -subj /CN=$n 2>/dev/null && "
              "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
              "-extfile san.ext -out $n.pem 2>/dev/null || exit 1; "
              "done",
              dir),
        0);
    for (int i = 0; i < KT_NKEYS; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s.pub", keys, kt_key_names[i]);
        pub[i] = kt_read_pubkey(p);
        assert_non_null(pub[i]);
        assert_int_equal(kt_openssl_ski(keys, kt_key_names[i], ski[i]), 0);
        snprintf(p, sizeof p, "%s/%s.pub", keys, kt_key_names[i]);
    }
    /* .pub files are public keys: move them out so the directory holds only keys */
    assert_int_equal(kt_sh("mkdir -p %s/pub && mv %s/*.pub %s/pub/", dir, keys, dir), 0);
    char err[512], cert[600], key[600], ca[600];
    pqify_keyless_store_options so = {.dir = keys};
    store = pqify_keyless_store_load(&so, err, sizeof err);
    if (store == NULL)
        fail_msg("store: %s", err);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    pqify_tls_options o = {.cert = cert, .key = key, .ca = ca};
    srv_cfg = pqify_tls_options_build(&o, 1, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (srv_cfg == NULL)
        fail_msg("server TLS: %s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < KT_NKEYS; i++)
        EVP_PKEY_free(pub[i]);
    pqify_keyless_store_release(store);
    pqify_tls_config_free(srv_cfg);
    if (dir[0] != 0)
        kt_sh("rm -rf %s", dir);
    return 0;
}

/* ---- the client side ---------------------------------------------------------------- */

static void on_bound(uv_timer_t *t)
{
    struct run *r = t->data;
    r->timed_out = 1;
    if (r->s != NULL)
        pqify_stream_abort(r->s);
    pqify_keyless_server_abort(r->srv);
}

static void c_handshake(pqify_stream *s, void *ctx)
{
    struct run *r = ctx;
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(s), &info);
    snprintf(r->group, sizeof r->group, "%s", info.group);
    r->handshook = 1;
    r->on_ready(r);
}

static void c_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    (void)s;
    struct run *r = ctx;
    if (r->in_len + len > r->in_cap) {
        r->in_cap = (r->in_len + len) * 2;
        r->in = realloc(r->in, r->in_cap);
        assert_non_null(r->in);
    }
    memcpy(r->in + r->in_len, data, len);
    r->in_len += len;
    size_t off = 0;
    for (;;) {
        size_t n = pqify_keyless_frame_len(r->in + off, r->in_len - off);
        if (n == 0 || n > r->in_len - off)
            break;
        pqify_keyless_packet p;
        assert_int_equal(pqify_keyless_decode(r->in + off, n, &p), 0);
        r->on_packet(r, &p);
        off += n;
    }
    memmove(r->in, r->in + off, r->in_len - off);
    r->in_len -= off;
}

static void drained(void *arg)
{
    struct run *r = arg;
    uv_timer_stop(&r->bound);
    uv_close((uv_handle_t *)&r->bound, NULL);
}

static void c_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct run *r = ctx;
    r->s = NULL;
    r->closed = 1;
    r->close_status = status;
    pqify_keyless_server_drain(r->srv, drained, r);
}

static const pqify_stream_cbs client_cbs = {c_handshake, c_data, NULL, c_close};

static void on_connected(uv_connect_t *req, int status)
{
    struct run *r = req->data;
    assert_int_equal(status, 0);
    pqify_stream_opts so = {0};
    assert_int_equal(pqify_stream_connect(&r->loop, r->tcp, r->cli_cfg, &so, &client_cbs, r, &r->s), 0);
}

/* Start a key server on a free port, connect a client with these credentials, run
 * the loop until both are closed (bounded). */
static void run(struct run *r, const char *cert, const char *key, const char *pq)
{
    char err[512], addr[128], cpath[600], kpath[600], ca[600];
    assert_int_equal(uv_loop_init(&r->loop), 0);
    r->metrics = pqify_metrics_new();
    assert_non_null(r->metrics);
    pqify_keyless_server_options so = {.host = "127.0.0.1", .port = "0", .tls = srv_cfg,
                                       .store = store, .metrics = r->metrics};
    if (pqify_keyless_server_start(&r->loop, &so, &r->srv, err, sizeof err) != 0)
        fail_msg("server: %s", err);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    pqify_tls_options co = {.ca = ca, .server_name = "localhost", .pq = pq};
    if (cert != NULL) {
        snprintf(cpath, sizeof cpath, "%s/%s", dir, cert);
        snprintf(kpath, sizeof kpath, "%s/%s", dir, key);
        co.cert = cpath;
        co.key = kpath;
    }
    r->cli_cfg = pqify_tls_options_build(&co, 0, PQIFY_PQ_PREFERRED, err, sizeof err);
    if (r->cli_cfg == NULL)
        fail_msg("client TLS: %s", err);
    pqify_keyless_server_address(r->srv, addr, sizeof addr);
    const char *colon = strrchr(addr, ':');
    struct sockaddr_in sin;
    assert_int_equal(uv_ip4_addr("127.0.0.1", atoi(colon + 1), &sin), 0);
    r->tcp = malloc(sizeof *r->tcp);
    assert_non_null(r->tcp);
    uv_tcp_init(&r->loop, r->tcp);
    r->creq.data = r;
    assert_int_equal(uv_tcp_connect(&r->creq, r->tcp, (const struct sockaddr *)&sin, on_connected), 0);
    uv_timer_init(&r->loop, &r->bound);
    r->bound.data = r;
    uv_timer_start(&r->bound, on_bound, LOOP_BOUND_MS, 0);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    pqify_keyless_server_get_stats(r->srv, &r->st);
    pqify_keyless_server_free(r->srv);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    pqify_tls_config_free(r->cli_cfg);
    pqify_metrics_free(r->metrics);
    free(r->in);
    assert_false(r->timed_out);
}

static void send_packet(struct run *r, const pqify_keyless_packet *p)
{
    uint8_t buf[PQIFY_KEYLESS_MAX_PACKET];
    size_t n;
    assert_int_equal(pqify_keyless_encode(p, buf, sizeof buf, &n), 0);
    assert_int_equal(pqify_stream_send(r->s, buf, n), 0);
}

/* ---- 10,000 pipelined ------------------------------------------------------------- */

/* Request i: what it asks and of which key (a fixed mix, RSA slow, the rest fast). */
static void request_of(unsigned id, uint8_t *op, int *k, uint8_t payload[32])
{
    static const uint8_t ops[4] = {PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256, PQIFY_KEYLESS_OP_ED25519_SIGN,
                                   PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256, PQIFY_KEYLESS_OP_PING};
    static const int keys[4] = {K_P256, K_ED, K_RSA, -1};
    unsigned m = id % 16 == 0 ? 2 : id % 7 == 0 ? 3 : id % 2; /* RSA 1 in 16, ping 1 in 7 */
    *op = ops[m];
    *k = keys[m];
    char msg[32];
    snprintf(msg, sizeof msg, "request %u", id);
    SHA256((const uint8_t *)msg, strlen(msg), payload);
}

static int verify(int k, uint8_t op, const uint8_t digest[32], const uint8_t *sig, size_t len)
{
    int ok = 0;
    if (op == PQIFY_KEYLESS_OP_ED25519_SIGN) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = m != NULL && EVP_DigestVerifyInit(m, NULL, NULL, NULL, pub[k]) == 1 &&
             EVP_DigestVerify(m, sig, len, digest, 32) == 1;
        EVP_MD_CTX_free(m);
        return ok;
    }
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub[k], NULL);
    ok = c != NULL && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1;
    if (ok && op == PQIFY_KEYLESS_OP_RSA_PSS_SIGN_SHA256)
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_PKEY_verify(c, sig, len, digest, 32) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* The client keeps WINDOW requests outstanding: more than the server's 1024 (so it
 * must hold reading), yet few enough that the client's own write queue stays under
 * the stream's high-water mark. A client that queued all 10,000 at once would stop
 * reading its answers (the stream's write backpressure) while the server, its
 * answers unread, stopped reading too: both sides of a pipelined protocol must
 * bound what they have outstanding. */
#define WINDOW 1200u

static void send_request(struct run *r, unsigned id)
{
    {
        uint8_t op, digest[32];
        int k;
        request_of(id, &op, &k, digest);
        pqify_keyless_packet p;
        pqify_keyless_packet_init(&p, id, op);
        p.payload.data = digest;
        p.payload.len = 32;
        if (k >= 0)
            memcpy(p.ski, ski[k], 20);
        send_packet(r, &p);
    }
}

static void pipelined_ready(struct run *r)
{
    for (r->next_id = 1; r->next_id <= WINDOW; r->next_id++)
        send_request(r, r->next_id);
}

static void pipelined_packet(struct run *r, const pqify_keyless_packet *p)
{
    if (p->id < 1 || p->id > N_PIPELINED || r->seen[p->id]) {
        r->bad++;
        return;
    }
    r->seen[p->id] = 1;
    if (p->id < r->last_id)
        r->out_of_order++;
    r->last_id = p->id;
    uint8_t op, digest[32];
    int k;
    request_of(p->id, &op, &k, digest);
    if (op == PQIFY_KEYLESS_OP_PING) {
        if (p->opcode != PQIFY_KEYLESS_OP_PONG || p->payload.len != 32 ||
            memcmp(p->payload.data, digest, 32) != 0)
            r->bad++;
    } else if (p->opcode != PQIFY_KEYLESS_OP_RESPONSE ||
               !verify(k, op, digest, p->payload.data, p->payload.len)) {
        r->bad++;
    }
    if (++r->answers == N_PIPELINED)
        pqify_stream_close(r->s);
    else if (r->next_id <= N_PIPELINED)
        send_request(r, r->next_id++);
}

static void test_pipelined_10000(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.seen = calloc(N_PIPELINED + 1, 1);
    assert_non_null(r.seen);
    r.on_ready = pipelined_ready;
    r.on_packet = pipelined_packet;
    run(&r, "client.pem", "client.key", NULL);
    free(r.seen);
    print_message("answers %u, out of order %u, most in flight %u, holds %llu\n", r.answers,
                  r.out_of_order, r.st.max_in_flight, (unsigned long long)r.st.holds);
    assert_string_equal(r.group, "X25519MLKEM768");
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.answers, N_PIPELINED);
    /* Out of order: RSA signs (1 in 16) take ~50x an ECDSA sign on a pool of 4. */
    assert_true(r.out_of_order > 0);
    /* Backpressure: with 1,200 outstanding the server never had more than 1024 on
     * the pool, and stopped reading to keep it so. */
    assert_true(r.st.max_in_flight <= PQIFY_KEYLESS_PENDING_PER_CONN);
    assert_true(r.st.holds > 0);
    assert_int_equal(r.close_status, 0);
}

/* ---- small cases ---------------------------------------------------------------- */

static void one_ready_unknown_ski(struct run *r)
{
    pqify_keyless_packet p;
    uint8_t digest[32] = {1};
    pqify_keyless_packet_init(&p, 77, PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256);
    p.payload.data = digest;
    p.payload.len = 32;
    memset(p.ski, 0xab, 20);
    send_packet(r, &p);
}

static void keep_packet(struct run *r, const pqify_keyless_packet *p)
{
    r->n_packets++;
    r->last = *p;
    size_t n = p->payload.len < sizeof r->last_payload ? p->payload.len : sizeof r->last_payload;
    if (n > 0)
        memcpy(r->last_payload, p->payload.data, n);
    r->last.payload.data = r->last_payload;
    if (r->on_ready == one_ready_unknown_ski)
        pqify_stream_close(r->s);
}

static void test_unknown_ski(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.on_ready = one_ready_unknown_ski;
    r.on_packet = keep_packet;
    run(&r, "client.pem", "client.key", NULL);
    assert_string_equal(r.group, "X25519MLKEM768");
    assert_int_equal(r.n_packets, 1);
    assert_int_equal(r.last.id, 77);
    assert_int_equal(r.last.opcode, PQIFY_KEYLESS_OP_ERROR);
    assert_int_equal(r.last.payload.len, 1);
    assert_int_equal(r.last_payload[0], PQIFY_KEYLESS_E_KEY_NOT_FOUND);
}

static void one_ready_malformed(struct run *r)
{
    /* A ping, then a packet whose only item runs past the body (length mismatch):
     * the ping is answered, the bad packet gets 7 with its id, then the server closes. */
    pqify_keyless_packet p;
    pqify_keyless_packet_init(&p, 5, PQIFY_KEYLESS_OP_PING);
    send_packet(r, &p);
    uint8_t bad[8 + 4] = {1, 0, 0, 4, 0, 0, 0, 9, PQIFY_KEYLESS_TAG_OPCODE, 0, 9, 0xF1};
    assert_int_equal(pqify_stream_send(r->s, bad, sizeof bad), 0);
}

static void test_malformed_then_close(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.on_ready = one_ready_malformed;
    r.on_packet = keep_packet;
    run(&r, "client.pem", "client.key", NULL);
    assert_int_equal(r.n_packets, 2);   /* pong, then the error; then the server closed */
    assert_int_equal(r.last.id, 9);
    assert_int_equal(r.last.opcode, PQIFY_KEYLESS_OP_ERROR);
    assert_int_equal(r.last_payload[0], PQIFY_KEYLESS_E_FORMAT);
    assert_int_equal(r.close_status, 0); /* closed by the server with close_notify */
}

static void ping_ready(struct run *r)
{
    pqify_keyless_packet p;
    pqify_keyless_packet_init(&p, 1, PQIFY_KEYLESS_OP_PING);
    send_packet(r, &p);
}

static void test_no_client_cert(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.on_ready = ping_ready;
    r.on_packet = keep_packet;
    run(&r, NULL, NULL, NULL);
    assert_int_equal(r.n_packets, 0);      /* never answered */
    assert_int_not_equal(r.close_status, 0);
}

static void test_classical_client_refused(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.on_ready = ping_ready;
    r.on_packet = keep_packet;
    run(&r, "client.pem", "client.key", "off");
    assert_false(r.handshook);
    assert_int_equal(r.n_packets, 0);
    assert_int_not_equal(r.close_status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_ski),
        cmocka_unit_test(test_malformed_then_close),
        cmocka_unit_test(test_no_client_cert),
        cmocka_unit_test(test_classical_client_refused),
        cmocka_unit_test(test_pipelined_10000),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
