/*
 * keyless_load: drives the keyless client library (keyless_client.h) against real
 * key servers for the end-to-end tests (tests/e2e/keyless_*.sh), which start, kill
 * and restart the servers. Every signature is verified here with libcrypto against
 * a public key the openssl CLI wrote, and every request's completions are counted.
 *
 *   keyless_load sign N SERVERS CA CERT KEY SKI PUB.pem
 *       N ECDSA P-256 (or Ed25519, by the key) signs over distinct messages, all
 *       submitted at once; after the first N/3 answers it prints "midway" (the
 *       script kills the server then) and goes on.
 *   keyless_load unknown 1 SERVERS CA CERT KEY SKI -     one sign for an SKI nobody holds
 *   keyless_load nocert 1 SERVERS CA - - SKI -           a client without a certificate
 * SERVERS is HOST:PORT[,HOST:PORT...]. The last line sums up; exit 0 only when every
 * request was answered exactly once and (sign) every signature verified.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pqify/keyless_client.h"
#include "pqify/net/tls_options.h"

#define MAX_N 100000u
#define WAIT_S 120

static unsigned n_req;
static atomic_uint *completions;   /* per request: how many times done ran */
static atomic_uint answered, verified, errors, first_error;
static atomic_uint wire_error;
static unsigned max_done, out_of_order; /* on the client's one thread */
static EVP_PKEY *pub;
static int is_ed;
static uint8_t (*msgs)[32];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static int verify(unsigned i, const uint8_t *sig, size_t len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL &&
             EVP_DigestVerifyInit(m, NULL, is_ed ? NULL : EVP_sha256(), NULL, pub) == 1 &&
             EVP_DigestVerify(m, sig, len, msgs[i], sizeof msgs[i]) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static void on_done(void *arg, const pqify_keyless_reply *r)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    atomic_fetch_add(&completions[i], 1);
    if (i < max_done)
        out_of_order++; /* answered after a request submitted later */
    else
        max_done = i;
    if (r->status != 0) {
        atomic_fetch_add(&errors, 1);
        unsigned zero = 0;
        atomic_compare_exchange_strong(&first_error, &zero, (unsigned)-r->status);
    } else if (r->opcode == PQIFY_KEYLESS_OP_ERROR) {
        atomic_store(&wire_error, r->error);
        atomic_fetch_add(&errors, 1);
    } else if (r->opcode == PQIFY_KEYLESS_OP_RESPONSE && pub != NULL && verify(i, r->payload, r->len)) {
        atomic_fetch_add(&verified, 1);
    }
    unsigned a = atomic_fetch_add(&answered, 1) + 1;
    if (a == n_req / 3 && n_req >= 3) {
        printf("midway %u\n", a);
        fflush(stdout);
    }
    if (a == n_req) {
        pthread_mutex_lock(&mu);
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
}

static int unhex(const char *h, uint8_t *out, size_t n)
{
    if (strlen(h) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: keyless_load sign|unknown|nocert N SERVERS CA CERT KEY SKI PUB\n");
        return 2;
    }
    const char *mode = argv[1];
    n_req = (unsigned)strtoul(argv[2], NULL, 10);
    if (n_req == 0 || n_req > MAX_N)
        return 2;
    char *servers_arg = argv[3];
    const char *servers[PQIFY_KEYLESS_CLIENT_MAX_SERVERS];
    size_t n_srv = 0;
    for (char *t = strtok(servers_arg, ","); t != NULL && n_srv < PQIFY_KEYLESS_CLIENT_MAX_SERVERS;
         t = strtok(NULL, ","))
        servers[n_srv++] = t;
    int nocert = strcmp(mode, "nocert") == 0;
    pqify_tls_options o = {.ca = argv[4], .server_name = "localhost"};
    if (!nocert) {
        o.cert = argv[5];
        o.key = argv[6];
    }
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES];
    if (unhex(argv[7], ski, sizeof ski) != 0) {
        fprintf(stderr, "keyless_load: SKI must be 40 hex digits\n");
        return 2;
    }
    if (strcmp(argv[8], "-") != 0) {
        FILE *f = fopen(argv[8], "r");
        pub = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (pub == NULL) {
            fprintf(stderr, "keyless_load: cannot read %s\n", argv[8]);
            return 2;
        }
        is_ed = EVP_PKEY_get_id(pub) == EVP_PKEY_ED25519;
    }
    char err[512];
    pqify_tls_config *cfg = pqify_tls_options_build(&o, 0, PQIFY_PQ_REQUIRED, err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "keyless_load: %s\n", err);
        return 2;
    }
    completions = calloc(n_req, sizeof *completions);
    msgs = calloc(n_req, sizeof *msgs);
    if (completions == NULL || msgs == NULL)
        return 1;
    pqify_keyless_client_options co = {
        .servers = servers,
        .n_servers = n_srv,
        .tls = cfg,
        .connections = 2,
        /* from submit, and all 10,000 are submitted at once: long enough for the whole
         * run on a loaded sanitizer build, restart included; nocert waits for nothing */
        .deadline_ms = nocert ? 3000 : 110000,
        .connect_timeout_ms = 2000,
        .backoff_base_ms = 20,
        .backoff_cap_ms = 500,
    };
    pqify_keyless_client *c = pqify_keyless_client_new(&co, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "keyless_load: %s\n", err);
        return 1;
    }
    uint8_t op = is_ed ? PQIFY_KEYLESS_OP_ED25519_SIGN : PQIFY_KEYLESS_OP_ECDSA_SIGN_SHA256;
    for (unsigned i = 0; i < n_req; i++) {
        uint8_t m[32];
        /* distinct messages: a signature of one cannot pass for another's */
        memset(m, 0, sizeof m);
        memcpy(m, &i, sizeof i);
        memcpy(m + 8, "pqify keyless load", 18);
        memcpy(msgs[i], m, sizeof m);
        uint8_t dg[32];
        unsigned dl = 0;
        const uint8_t *payload = msgs[i];
        if (!is_ed) {
            EVP_Digest(m, sizeof m, dg, &dl, EVP_sha256(), NULL);
            payload = dg;
        }
        int rc = pqify_keyless_client_submit(c, op, ski, payload, 32, on_done, (void *)(uintptr_t)i);
        if (rc != 0) {
            fprintf(stderr, "keyless_load: submit %u: %s\n", i, pqify_keyless_strerror(rc));
            return 1;
        }
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_S;
    pthread_mutex_lock(&mu);
    while (atomic_load(&answered) < n_req)
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&mu);
    pqify_keyless_client_stats st;
    pqify_keyless_client_get_stats(c, &st);
    unsigned up = pqify_keyless_client_up(c);
    pqify_keyless_client_free(c); /* anything unanswered completes now, with ERR_CLOSED */
    unsigned once = 0, twice = 0, never = 0;
    for (unsigned i = 0; i < n_req; i++) {
        unsigned k = atomic_load(&completions[i]);
        once += k == 1;
        twice += k > 1;
        never += k == 0;
    }
    printf("requests %u answered-once %u twice %u never %u verified %u errors %u wire-error %u "
           "resent %llu drops %llu connects %llu expired %llu up %u\n"
           "out-of-order %u\n",
           n_req, once, twice, never, atomic_load(&verified), atomic_load(&errors),
           atomic_load(&wire_error), (unsigned long long)st.resent, (unsigned long long)st.drops,
           (unsigned long long)st.connects, (unsigned long long)st.expired, up, out_of_order);
    if (atomic_load(&first_error) != 0)
        printf("first error: %s\n", pqify_keyless_strerror(-(int)atomic_load(&first_error)));
    pqify_tls_config_free(cfg);
    EVP_PKEY_free(pub);
    free(completions);
    free(msgs);
    if (once != n_req)
        return 1;
    if (strcmp(mode, "sign") == 0)
        return atomic_load(&verified) == n_req ? 0 : 1;
    return 0; /* unknown, nocert: the script checks the words */
}
