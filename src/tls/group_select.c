/*
 * The server's group choice: DESIGN.md "The post-quantum switch". A post-quantum group
 * wins whenever the client supports one, even at the cost of a HelloRetryRequest;
 * within a class, a group the client already sent a share for avoids the round trip.
 */
#include "conn.h"

static int in_list(tls_reader list, uint16_t id)
{
    uint16_t v;
    while (tls_read_u16(&list, &v) == 0)
        if (v == id)
            return 1;
    return 0;
}

static int find_share(tls_reader shares, uint16_t id, const uint8_t **share, size_t *share_len)
{
    uint16_t g;
    tls_reader s;
    while (tls_read_u16(&shares, &g) == 0 && tls_read_block(&shares, 2, &s) == 0)
        if (g == id) {
            *share = s.base;
            *share_len = s.len;
            return 1;
        }
    return 0;
}

int tls_select_group(const pqify_tls_config *cfg, tls_reader client_groups, tls_reader key_shares,
                     uint16_t *group, const uint8_t **share, size_t *share_len)
{
    uint16_t mine[TLS_MAX_GROUPS];
    size_t n = tls_config_groups(cfg, mine, TLS_MAX_GROUPS);
    *share = NULL;
    *share_len = 0;
    for (int want_pq = 1; want_pq >= 0; want_pq--) {
        int first = -1;
        for (size_t i = 0; i < n; i++) {
            if (pqify_tls_group_is_pq(mine[i]) != want_pq || !in_list(client_groups, mine[i]))
                continue;
            if (find_share(key_shares, mine[i], share, share_len)) {
                *group = mine[i];
                return 0;
            }
            if (first < 0)
                first = (int)i;
        }
        if (first >= 0) {
            *group = mine[first];
            return 0;   /* no share: HelloRetryRequest */
        }
    }
    return cfg->pq == PQIFY_PQ_REQUIRED ? PQIFY_TLS_ERR_NO_PQ_GROUP : PQIFY_TLS_ERR_NO_COMMON_GROUP;
}
