/*
 * Deterministic cost of one server handshake, in memory: run under
 *   valgrind --tool=callgrind --collect-atstart=no bench/callgrind/pqify_hs_callgrind GROUP
 * GROUP is a pqify group name, or "libssl:X25519" for the libssl 3.0 server.
 * A few warm-up handshakes fill libcrypto's caches (fetches, method stores) the
 * way a long-running server has them; then exactly one handshake is collected,
 * only while the server's calls run (conn_new, every handshake call, conn_free;
 * SSL_new and SSL_do_handshake for libssl). The client's work is not counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/callgrind.h>

#include "bench.h"
#include "pqify/net/pair.h"
#include "bench_libssl.h"
#include "pqify/net/pump.h"
#include "pqify/tls.h"

#define WARMUP 3

static void collect(int on)
{
    static int state;
    if (on != state)
        CALLGRIND_TOGGLE_COLLECT;
    state = on;
}

static int pqify_one(const pqify_tls_config *ccfg, const pqify_tls_config *scfg, int measured)
{
    int ret = -1, sinit;
    pqify_pump c, s;
    int cinit = pqify_pump_init(&c, ccfg, 0);
    collect(measured);
    sinit = pqify_pump_init(&s, scfg, 1);
    collect(0);
    if (cinit != 0 || sinit != 0)
        goto out;
    pqify_pump_event cev = pqify_pump_next(&c), sev = PQIFY_PUMP_WANT_INPUT;
    for (int flight = 0; flight < 4 && sev != PQIFY_PUMP_HANDSHAKE_DONE; flight++) {
        if (cev != PQIFY_PUMP_WANT_INPUT && cev != PQIFY_PUMP_HANDSHAKE_DONE)
            break;
        collect(measured);
        sev = pqify_pump_feed(&s, c.out.base, c.out.len);
        collect(0);
        pqify_tls_buf_consume(&c.out, c.out.len);
        if (sev == PQIFY_PUMP_FAILED || s.out.len == 0)
            break;
        cev = pqify_pump_feed(&c, s.out.base, s.out.len);
        pqify_tls_buf_consume(&s.out, s.out.len);
    }
    if (sev == PQIFY_PUMP_HANDSHAKE_DONE && pqify_pump_established(&c))
        ret = 0;
out:
    pqify_pump_dispose(&c);
    collect(measured);
    pqify_pump_dispose(&s);
    collect(0);
    return ret;
}

int main(int argc, char **argv)
{
    char *cert = NULL, *key = NULL;
    int ret = 1;
    if (argc != 2) {
        fprintf(stderr, "usage: %s GROUP | libssl:X25519\n", argv[0]);
        return 2;
    }
    const char *g = argv[1];
    int libssl = strncmp(g, "libssl:", 7) == 0;
    pqify_tls_config *ccfg = NULL, *scfg = NULL;
    bench_libssl *ls = NULL;
    if (pqify_bench_make_cert(&cert, &key) != 0)
        goto out;
    ccfg = pqify_pair_config(0, NULL, NULL, libssl ? "X25519" : g, NULL);
    if (libssl)
        ls = bench_libssl_new(cert, key, g + 7);
    else
        scfg = pqify_pair_config(1, cert, key, g, NULL);
    if (ccfg == NULL || (scfg == NULL && ls == NULL))
        goto out;
    for (int i = 0; i <= WARMUP; i++) {
        if (libssl) {
            pqify_pump c;
            bench_libssl_callgrind = i == WARMUP;
            bench_libssl_conn *o = bench_libssl_accept_mem(ls, ccfg, &c);
            bench_libssl_callgrind = 0;
            if (o == NULL)
                goto out;
            collect(i == WARMUP);
            bench_libssl_conn_free(o);
            collect(0);
            pqify_pump_dispose(&c);
        } else if (pqify_one(ccfg, scfg, i == WARMUP) != 0) {
            goto out;
        }
    }
    ret = 0;
out:
    if (ret != 0)
        fprintf(stderr, "%s: handshake failed\n", g);
    pqify_tls_config_free(ccfg);
    pqify_tls_config_free(scfg);
    bench_libssl_free(ls);
    free(cert);
    free(key);
    return ret;
}
