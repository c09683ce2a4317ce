/*
 * In-process pqify client and server joined in memory (the net layer's pqify_pair),
 * for `pqify bench handshake`'s idle-connection memory and bulk throughput.
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#include "pqify/net/pair.h"
#include "pqify/net/selfsigned.h"

int pqify_bench_make_cert(char **cert_pem, char **key_pem)
{
    return pqify_selfsigned_p256("pqify-bench", cert_pem, key_pem);
}

pqify_tls_config *pqify_bench_config(int is_server, const char *cert_pem, const char *key_pem,
                                     const char *groups, const char *pq)
{
    pqify_tls_config *cfg = pqify_tls_config_new();
    pqify_pq_mode mode = PQIFY_PQ_PREFERRED;
    if (cfg == NULL)
        return NULL;
    if ((pq != NULL && (pqify_tls_pq_mode_parse(pq, &mode) != 0 ||
                        pqify_tls_config_set_pq(cfg, mode) != 0)) ||
        pqify_tls_config_set_groups(cfg, groups) != 0 ||
        pqify_tls_config_set_ciphers(cfg, "TLS_AES_128_GCM_SHA256") != 0)
        goto fail;
    if (is_server) {
        /* No session tickets: a full handshake is what is timed (the resumed row
         * turns them back on), as on the libssl baseline. */
        if (pqify_tls_config_set_cert_chain_pem(cfg, cert_pem, strlen(cert_pem)) != 0 ||
            pqify_tls_config_set_key_pem(cfg, key_pem, strlen(key_pem)) != 0 ||
            pqify_tls_config_set_tickets(cfg, 0) != 0)
            goto fail;
    } else {
        /* The server's CPU is what is measured; the self-signed test certificate is
         * not checked (a verifying client would only add client-side latency). */
        pqify_tls_config_set_verify_peer(cfg, 0);
    }
    return cfg;
fail:
    pqify_tls_config_free(cfg);
    return NULL;
}

int pqify_bench_pair_connect(const pqify_tls_config *client_cfg,
                             const pqify_tls_config *server_cfg, pqify_tls_conn **client,
                             pqify_tls_conn **server, struct pqify_bench_pair_result *res)
{
    pqify_pair pair;
    memset(res, 0, sizeof *res);
    *client = *server = NULL;
    uint64_t t0 = pqify_bench_now_ns();
    int rc = pqify_pair_init(&pair, client_cfg, server_cfg);
    if (rc == 0)
        rc = pqify_pair_handshake(&pair);
    res->ns = pqify_bench_now_ns() - t0;
    res->client_hello_bytes = pair.client_hello_bytes;
    res->client_to_server = pair.client_to_server;
    res->server_to_client = pair.server_to_client;
    if (rc != 0) {
        res->client_err = pair.client.conn ? pqify_tls_error(pair.client.conn) : rc;
        res->server_err = pair.server.conn ? pqify_tls_error(pair.server.conn) : rc;
        pqify_pair_dispose(&pair);
        return -1;
    }
    pqify_tls_info info;
    pqify_tls_get_info(pair.client.conn, &info);
    res->group_id = info.group_id;
    res->is_pq = info.is_pq;
    res->hrr = info.hrr;
    /* the caller keeps the established connections; the pumps' buffers go */
    *client = pair.client.conn;
    *server = pair.server.conn;
    pair.client.conn = pair.server.conn = NULL;
    pqify_pair_dispose(&pair);
    return 0;
}

int pqify_bench_pair_handshake(const pqify_tls_config *client_cfg,
                               const pqify_tls_config *server_cfg,
                               struct pqify_bench_pair_result *res)
{
    pqify_tls_conn *c, *s;
    int rc = pqify_bench_pair_connect(client_cfg, server_cfg, &c, &s, res);
    pqify_tls_conn_free(c);
    pqify_tls_conn_free(s);
    return rc;
}
