/* Two pumps joined in memory (include/pqify/net/pair.h). */
#include "pqify/net/pair.h"

#include <string.h>

int pqify_pair_init(pqify_pair *p, const pqify_tls_config *client_cfg,
                    const pqify_tls_config *server_cfg)
{
    memset(p, 0, sizeof *p);
    int c = pqify_pump_init(&p->client, client_cfg, 0);
    int s = pqify_pump_init(&p->server, server_cfg, 1);
    return c != 0 ? c : s;
}

void pqify_pair_dispose(pqify_pair *p)
{
    pqify_pump_dispose(&p->client);
    pqify_pump_dispose(&p->server);
}

/* Feeds what `from` has to send to `to`; returns `to`'s event once the
 * handshake notices are taken. Plaintext is not expected here and is dropped. */
static pqify_pump_event carry(pqify_pump *from, pqify_pump *to, size_t *count)
{
    size_t len = from->out.len;
    *count += len;
    pqify_pump_event ev = pqify_pump_feed(to, from->out.base, len);
    pqify_tls_buf_consume(&from->out, len);
    while (ev == PQIFY_PUMP_HANDSHAKE_DONE || ev == PQIFY_PUMP_DATA) {
        pqify_tls_buf_consume(&to->plain, to->plain.len);
        ev = pqify_pump_next(to);
    }
    return ev;
}

int pqify_pair_handshake(pqify_pair *p)
{
    int first = 0;   /* the first failure; the other side then fails on its alert */
    pqify_pump_event cev = pqify_pump_next(&p->client), sev = PQIFY_PUMP_WANT_INPUT;
    if (cev == PQIFY_PUMP_FAILED)
        first = pqify_pump_error(&p->client);
    p->client_hello_bytes = p->client.out.len;
    /* a flight each way per round; HelloRetryRequest and client auth take 4 */
    for (int round = 0; round < 8; round++) {
        if (cev != PQIFY_PUMP_WANT_INPUT || sev != PQIFY_PUMP_WANT_INPUT)
            break;
        if (p->client.out.len == 0 && p->server.out.len == 0)
            break;
        if (p->client.out.len > 0 &&
            (sev = carry(&p->client, &p->server, &p->client_to_server)) == PQIFY_PUMP_FAILED &&
            first == 0)
            first = pqify_pump_error(&p->server);
        if (p->server.out.len > 0 && cev == PQIFY_PUMP_WANT_INPUT &&
            (cev = carry(&p->server, &p->client, &p->server_to_client)) == PQIFY_PUMP_FAILED &&
            first == 0)
            first = pqify_pump_error(&p->client);
    }
    if (first != 0)
        return first;
    if (!pqify_pump_established(&p->client) || !pqify_pump_established(&p->server))
        return PQIFY_TLS_ERR_INTERNAL;   /* no progress: cannot happen between two pqify ends */
    return 0;
}

pqify_tls_config *pqify_pair_config(int is_server, const char *cert_pem, const char *key_pem,
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
        /* No session tickets: every handshake is a full one (a caller that
         * times resumption turns them back on). */
        if (pqify_tls_config_set_cert_chain_pem(cfg, cert_pem, strlen(cert_pem)) != 0 ||
            pqify_tls_config_set_key_pem(cfg, key_pem, strlen(key_pem)) != 0 ||
            pqify_tls_config_set_tickets(cfg, 0) != 0)
            goto fail;
    } else {
        /* The peer is the throwaway identity of pqify_selfsigned_p256: nothing to
         * verify it against (and a verifying client would only add latency). */
        pqify_tls_config_set_verify_peer(cfg, 0);
    }
    return cfg;
fail:
    pqify_tls_config_free(cfg);
    return NULL;
}
