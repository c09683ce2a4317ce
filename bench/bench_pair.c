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
