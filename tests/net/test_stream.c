/*
 * The TLS stream on libuv (net/stream.h), over real loopback sockets: echo and a
 * graceful close both ways, the handshake and idle timeouts, backpressure pausing
 * reads, a fatal alert that reaches a peer whose junk was never read (shutdown and
 * drain instead of a RST), and an asynchronous signer answered from another thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include "net/net_test.h"
#include "tls/tls_test.h"
#include "pqify/net/dialer.h"
#include "pqify/net/listener.h"
#include "pqify/net/stream.h"

static tt_ca ca;
static tt_identity server_id;
static EVP_PKEY *server_key;

static int setup(void **state)
{
    (void)state;
    tt_ca_new(&ca, "pqify stream CA");
    tt_identity_new(&server_id, &ca, "P-256", "server.test", "DNS:server.test", -1, 365);
    server_key = tt_pem_read_key(&server_id.key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(server_key);
    tt_identity_free(&server_id);
    tt_ca_free(&ca);
    return 0;
}

/* ---- one side of a test connection ------------------------------------------------ */

struct side {
    pqify_stream *s;
    int handshakes, closed, status;
    uint8_t got[1 << 16];
    size_t got_len;
    int echo;                 /* send back what arrives */
    int close_after_echo;
    struct env *env;
};

struct env {
    uv_loop_t loop;
    pqify_listener *listener;
    pqify_dialer *dialer;
    pqify_tls_config *scfg, *ccfg;
    pqify_stream_opts sopts;
    struct side server, client;
    unsigned port;
    int raw_accepted;         /* accept without a stream (the raw tests) */
};

static void on_handshake(pqify_stream *s, void *ctx)
{
    (void)s;
    ((struct side *)ctx)->handshakes++;
}

static void on_data(pqify_stream *s, const uint8_t *data, size_t len, void *ctx)
{
    struct side *sd = ctx;
    size_t take = len < sizeof sd->got - sd->got_len ? len : sizeof sd->got - sd->got_len;
    memcpy(sd->got + sd->got_len, data, take);
    sd->got_len += take;
    if (sd->echo)
        assert_int_equal(pqify_stream_send(s, data, len), 0);
}

static void on_close(pqify_stream *s, int status, void *ctx)
{
    (void)s;
    struct side *sd = ctx;
    sd->closed = 1;
    sd->status = status;
    sd->s = NULL;
}

static const pqify_stream_cbs side_cbs = {on_handshake, on_data, NULL, on_close};

static void on_accept(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    struct env *e = ctx;
    pqify_listener_done(l);
    assert_int_equal(pqify_stream_accept(&e->loop, fd, e->scfg, &e->sopts, &side_cbs, &e->server,
                                         &e->server.s),
                     0);
}

static void on_dialled(pqify_dialer *d, int status, uv_tcp_t *tcp, void *ctx)
{
    (void)d;
    struct env *e = ctx;
    assert_int_equal(status, 0);
    pqify_stream_opts co = {.handshake_timeout_ms = 5000};
    assert_int_equal(pqify_stream_connect(&e->loop, tcp, e->ccfg, &co, &side_cbs, &e->client,
                                          &e->client.s),
                     0);
}

static void env_start(struct env *e, pqify_tls_config *scfg)
{
    memset(e, 0, sizeof *e);
    uv_loop_init(&e->loop);
    e->scfg = scfg;
    e->ccfg = tt_client_config(&ca, "server.test");
    char err[256];
    pqify_listener_opts lo = {.host = "127.0.0.1", .port = "0"};
    assert_int_equal(pqify_listener_open(&e->loop, &lo, on_accept, e, &e->listener, err, sizeof err), 0);
    e->port = pqify_listener_port(e->listener);
}

static void env_dial(struct env *e)
{
    char port[16];
    snprintf(port, sizeof port, "%u", e->port);
    pqify_dialer_opts o = {.host = "127.0.0.1", .port = port, .max_attempts = 1};
    e->dialer = pqify_dialer_new(&e->loop, &o, on_dialled, e);
    assert_int_equal(pqify_dialer_start(e->dialer), 0);
}

static void env_end(struct env *e)
{
    if (e->server.s != NULL)
        pqify_stream_abort(e->server.s);
    if (e->client.s != NULL)
        pqify_stream_abort(e->client.s);
    pqify_listener_free(e->listener);
    pqify_dialer_free(e->dialer);
    nt_loop_close(&e->loop);
    pqify_tls_config_free(e->scfg);
    pqify_tls_config_free(e->ccfg);
}

static void echo_and_graceful_close(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, tt_server_config(&server_id));
    e.server.echo = 1;
    env_dial(&e);
    assert_true(nt_run_until(&e.loop, &e.client.handshakes, 10000));
    assert_true(nt_run_until(&e.loop, &e.server.handshakes, 10000));
    pqify_tls_info info;
    pqify_tls_get_info(pqify_stream_conn(e.client.s), &info);
    assert_string_equal(info.group, "X25519MLKEM768");
    assert_true(strncmp(pqify_stream_peer(e.server.s), "127.0.0.1:", 10) == 0);

    static const char msg[] = "over libuv, through the pump";
    assert_int_equal(pqify_stream_send(e.client.s, msg, sizeof msg), 0);
    while (e.client.got_len < sizeof msg && nt_run_until(&e.loop, &e.client.closed, 50) == 0 &&
           e.client.got_len < sizeof msg)
        ;
    assert_int_equal(e.client.got_len, sizeof msg);
    assert_memory_equal(e.client.got, msg, sizeof msg);

    /* Client closes: both sides end with status 0 (close_notify each way). */
    pqify_stream_close(e.client.s);
    assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
    assert_true(nt_run_until(&e.loop, &e.client.closed, 5000));
    assert_int_equal(e.server.status, 0);
    assert_int_equal(e.client.status, 0);
    env_end(&e);
}

static void idle_timeout_closes_with_close_notify(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, tt_server_config(&server_id));
    e.sopts.idle_timeout_ms = 200;
    env_dial(&e);
    assert_true(nt_run_until(&e.loop, &e.server.closed, 10000));
    assert_int_equal(e.server.status, PQIFY_STREAM_IDLE_TIMEOUT);
    assert_int_equal(e.server.handshakes, 1);
    /* The client saw close_notify, not a bare FIN: a graceful close (0). */
    assert_true(nt_run_until(&e.loop, &e.client.closed, 5000));
    assert_int_equal(e.client.status, 0);
    env_end(&e);
}

/* A raw TCP peer on the test's thread (blocking socket). */
/* rcvbuf > 0 fixes the socket's receive buffer before connect, which turns off the
 * kernel's autotuning (net.ipv4.tcp_rmem may let a silent reader's socket swallow
 * many MiB, and a test of backpressure would see none). */
static int raw_connect_rcvbuf(unsigned port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int raw_connect(unsigned port)
{
    return raw_connect_rcvbuf(port, 0);
}

static void handshake_timeout_drops_a_slow_peer(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, tt_server_config(&server_id));
    e.sopts.handshake_timeout_ms = 200;
    int fd = raw_connect(e.port);
    assert_int_equal(write(fd, "\x16", 1), 1);   /* one byte of a record, then silence */
    assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
    assert_int_equal(e.server.status, PQIFY_STREAM_HANDSHAKE_TIMEOUT);
    assert_int_equal(e.server.handshakes, 0);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);   /* closed on the peer */
    close(fd);
    env_end(&e);
}

/* A malformed ClientHello followed by junk the server never reads: the
 * decode_error alert must still arrive, then an orderly FIN, not a RST. */
static void fatal_alert_reaches_the_peer(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, tt_server_config(&server_id));
    int fd = raw_connect(e.port);
    static uint8_t bytes[200000];
    /* handshake record, ClientHello of length 1: its body cannot be parsed */
    static const uint8_t bad[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00};
    memcpy(bytes, bad, sizeof bad);
    memset(bytes + sizeof bad, 0x17, sizeof bytes - sizeof bad);
    /* Send in the background so the junk piles up unread on the server. */
    size_t sent = 0;
    while (sent < sizeof bytes) {
        struct pollfd pf = {fd, POLLOUT, 0};
        nt_run_for(&e.loop, 5);
        if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLOUT)) {
            ssize_t n = send(fd, bytes + sent, sizeof bytes - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0)
                break;
            sent += (size_t)n;
        }
        if (e.server.closed)
            break;
    }
    assert_true(nt_run_until(&e.loop, &e.server.closed, 5000) || 1);
    uint8_t alert[7];
    size_t got = 0;
    while (got < sizeof alert) {
        nt_run_for(&e.loop, 5);
        ssize_t n = recv(fd, alert + got, sizeof alert - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            break;
    }
    assert_int_equal(got, 7);
    assert_int_equal(alert[0], 0x15);        /* alert record */
    assert_int_equal(alert[5], 2);           /* fatal */
    assert_int_equal(alert[6], pqify_tls_alert_of(PQIFY_TLS_ERR_DECODE));
    /* Then end of stream, not ECONNRESET. */
    char c;
    ssize_t n;
    do {
        nt_run_for(&e.loop, 5);
        n = recv(fd, &c, 1, MSG_DONTWAIT);
    } while (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    assert_int_equal(n, 0);
    close(fd);
    assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
    assert_int_equal(e.server.status, PQIFY_TLS_ERR_DECODE);
    env_end(&e);
}

/* ---- backpressure: a TLS client on its own thread that stops reading ------------ */

struct slow_client {
    unsigned port;
    pqify_tls_config *cfg;
    volatile int handshaken, may_read, done;
    size_t received;
    int pattern_ok;
};

static void write_all(int fd, pqify_tls_buf *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t n = write(fd, out->base + off, out->len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    pqify_tls_buf_consume(out, out->len);
}

static void *slow_client_main(void *arg)
{
    struct slow_client *c = arg;
    int fd = raw_connect_rcvbuf(c->port, 64 * 1024);
    pqify_pump p;
    assert_int_equal(pqify_pump_init(&p, c->cfg, 0), 0);
    pqify_pump_event ev = pqify_pump_next(&p);
    uint8_t buf[16384];
    c->pattern_ok = 1;
    for (;;) {
        write_all(fd, &p.out);
        if (ev == PQIFY_PUMP_HANDSHAKE_DONE) {
            c->handshaken = 1;
            while (!c->may_read)
                usleep(1000);
            ev = pqify_pump_next(&p);
            continue;
        }
        if (ev == PQIFY_PUMP_DATA) {
            for (size_t i = 0; i < p.plain.len; i++)
                if (p.plain.base[i] != (uint8_t)((c->received + i) * 7))
                    c->pattern_ok = 0;
            c->received += p.plain.len;
            pqify_tls_buf_consume(&p.plain, p.plain.len);
            ev = pqify_pump_next(&p);
            continue;
        }
        if (ev != PQIFY_PUMP_WANT_INPUT)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        ev = pqify_pump_feed(&p, buf, (size_t)n);
    }
    write_all(fd, &p.out);
    pqify_pump_dispose(&p);
    close(fd);
    c->done = 1;
    return NULL;
}

/* More than the server's send buffer can ever hold (net.core.wmem_max, 4 MiB here)
 * on top of the client's fixed 64 KiB receive buffer. */
#define FLOOD (16u << 20)

static void backpressure_pauses_reading(void **state)
{
    (void)state;
    struct env e;
    env_start(&e, tt_server_config(&server_id));
    e.sopts.write_high_water = 64 * 1024;
    struct slow_client c = {.port = e.port, .cfg = e.ccfg};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_client_main, &c), 0);
    assert_true(nt_run_until(&e.loop, &e.server.handshakes, 10000));
    static uint8_t chunk[16384];
    size_t sent = 0;
    while (sent < FLOOD) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (uint8_t)((sent + i) * 7);
        assert_int_equal(pqify_stream_send(e.server.s, chunk, sizeof chunk), 0);
        sent += sizeof chunk;
    }
    /* The client reads nothing yet: far more than 64 KiB wait, reading is paused. */
    assert_true(pqify_stream_queued(e.server.s) > 64 * 1024);
    assert_true(pqify_stream_read_paused(e.server.s));
    c.may_read = 1;
    while (pqify_stream_queued(e.server.s) > 0 && !e.server.closed)
        nt_run_for(&e.loop, 10);
    assert_int_equal(pqify_stream_queued(e.server.s), 0);
    assert_false(pqify_stream_read_paused(e.server.s));   /* resumed once drained */
    pqify_stream_close(e.server.s);
    assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
    for (int i = 0; i < 500 && !c.done; i++)
        nt_run_for(&e.loop, 10);
    pthread_join(th, NULL);
    assert_int_equal(c.received, FLOOD);
    assert_true(c.pattern_ok);
    assert_int_equal(e.server.status, 0);
    env_end(&e);
}

/* ---- asynchronous signer on another thread ---------------------------------------- */

static int pending_sign(void *ctx, uint16_t scheme, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
                        size_t cap, size_t *sig_len)
{
    (void)ctx, (void)scheme, (void)tbs, (void)tbs_len, (void)sig, (void)cap, (void)sig_len;
    return PQIFY_TLS_SIGN_PENDING;
}

static const uint16_t p256_schemes[] = {0x0403};

struct sign_job {
    pqify_stream_signature *h;
    uint8_t tbs[1024];
    size_t tbs_len;
    int fail;
};

/* The "key server": libcrypto's ECDSA, not the engine's, after a delay. */
static void *signer_main(void *arg)
{
    struct sign_job *j = arg;
    usleep(50000);
    if (j->fail) {
        pqify_stream_signature_post(j->h, NULL, 0, "key server said no");
        return NULL;
    }
    uint8_t sig[PQIFY_TLS_MAX_SIGNATURE];
    size_t n = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, server_key) == 1 &&
             EVP_DigestSign(md, sig, &n, j->tbs, j->tbs_len) == 1;
    EVP_MD_CTX_free(md);
    pqify_stream_signature_post(j->h, ok ? sig : NULL, ok ? n : 0, "libcrypto failed");
    return NULL;
}

static struct sign_job job;
static pthread_t signer_thread;
static int signer_started;

static void on_want_signature(pqify_stream *s, void *ctx)
{
    (void)ctx;
    uint16_t scheme;
    const uint8_t *tbs;
    size_t len;
    assert_int_equal(pqify_stream_signature_request(s, &scheme, &tbs, &len), 0);
    assert_int_equal(scheme, 0x0403);
    assert_true(len <= sizeof job.tbs);
    memcpy(job.tbs, tbs, len);
    job.tbs_len = len;
    job.h = pqify_stream_signature_begin(s);
    assert_non_null(job.h);
    assert_int_equal(pthread_create(&signer_thread, NULL, signer_main, &job), 0);
    signer_started = 1;
}

static pqify_stream_cbs async_cbs = {on_handshake, on_data, on_want_signature, on_close};

static void on_accept_async(pqify_listener *l, int fd, const struct sockaddr *peer, void *ctx)
{
    (void)peer;
    struct env *e = ctx;
    pqify_listener_done(l);
    assert_int_equal(pqify_stream_accept(&e->loop, fd, e->scfg, &e->sopts, &async_cbs, &e->server,
                                         &e->server.s),
                     0);
}

static void async_signature(int fail)
{
    struct env e;
    pqify_tls_signer signer = {NULL, p256_schemes, 1, pending_sign};
    pqify_tls_config *scfg = pqify_tls_config_new();
    assert_int_equal(pqify_tls_config_set_cert_chain_pem(scfg, server_id.chain.data, server_id.chain.len), 0);
    assert_int_equal(pqify_tls_config_set_signer(scfg, &signer), 0);
    env_start(&e, scfg);
    /* reopen the listener with the async accept callback */
    pqify_listener_free(e.listener);
    char err[256];
    pqify_listener_opts lo = {.host = "127.0.0.1", .port = "0"};
    assert_int_equal(pqify_listener_open(&e.loop, &lo, on_accept_async, &e, &e.listener, err, sizeof err), 0);
    e.port = pqify_listener_port(e.listener);
    memset(&job, 0, sizeof job);
    job.fail = fail;
    signer_started = 0;
    env_dial(&e);
    if (!fail) {
        assert_true(nt_run_until(&e.loop, &e.client.handshakes, 10000));
        assert_true(nt_run_until(&e.loop, &e.server.handshakes, 10000));
        pqify_stream_close(e.client.s);
        assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
        assert_int_equal(e.server.status, 0);
    } else {
        assert_true(nt_run_until(&e.loop, &e.client.closed, 10000));
        assert_int_equal(e.client.status, PQIFY_TLS_ERR_PEER_ALERT - 80);   /* internal_error */
        assert_true(nt_run_until(&e.loop, &e.server.closed, 5000));
        assert_int_equal(e.server.status, PQIFY_TLS_ERR_SIGN);
        assert_int_equal(e.client.handshakes, 0);
    }
    assert_true(signer_started);
    pthread_join(signer_thread, NULL);
    env_end(&e);
}

static void async_signer_resumes_on_the_loop(void **state)
{
    (void)state;
    async_signature(0);
}

static void async_signer_failure_sends_internal_error(void **state)
{
    (void)state;
    async_signature(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_and_graceful_close),
        cmocka_unit_test(idle_timeout_closes_with_close_notify),
        cmocka_unit_test(handshake_timeout_drops_a_slow_peer),
        cmocka_unit_test(fatal_alert_reaches_the_peer),
        cmocka_unit_test(backpressure_pauses_reading),
        cmocka_unit_test(async_signer_resumes_on_the_loop),
        cmocka_unit_test(async_signer_failure_sends_internal_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
