/*
 * NamedGroups as plug-ins (DESIGN.md "Groups"). Every group is one part or two parts
 * concatenated in wire order, without length prefixes; the shared secret is the
 * parts' secrets in the same order. No group is a special case in the handshake.
 */
#include <string.h>
#include <strings.h>

#include "internal.h"

static size_t parts_client_len(const tls_group *g)
{
    return g->first->client_share_len + (g->second ? g->second->client_share_len : 0);
}

static size_t parts_server_len(const tls_group *g)
{
    return g->first->server_share_len + (g->second ? g->second->server_share_len : 0);
}

size_t tls_group_client_share_len(const tls_group *g)
{
    return parts_client_len(g);
}

size_t tls_group_server_share_len(const tls_group *g)
{
    return parts_server_len(g);
}

static int has_kem(const tls_group *g)
{
    return g->first->kem != NULL || (g->second != NULL && g->second->kem != NULL);
}

static int generic_client_share(const tls_group *g, tls_group_state *st, uint8_t *share,
                                size_t *share_len)
{
    int ret = 0;
    TRY(g->first->client_share(g->first, st, share));
    if (g->second != NULL)
        TRY(g->second->client_share(g->second, st, share + g->first->client_share_len));
    *share_len = parts_client_len(g);
out:
    return ret;
}

static int generic_server_exchange(const tls_group *g, const uint8_t *client_share,
                                   size_t client_share_len, uint8_t *server_share,
                                   size_t *server_share_len, uint8_t *secret, size_t *secret_len)
{
    int ret = 0;
    /* an exact length, so truncated and padded shares both fail before any parsing */
    ENSURE(client_share_len == parts_client_len(g), PQIFY_TLS_ERR_BAD_KEY_SHARE);
    TRY(g->first->server_exchange(g->first, client_share, server_share, secret));
    if (g->second != NULL)
        TRY(g->second->server_exchange(g->second, client_share + g->first->client_share_len,
                                       server_share + g->first->server_share_len,
                                       secret + g->first->secret_len));
    *server_share_len = parts_server_len(g);
    *secret_len = g->first->secret_len + (g->second ? g->second->secret_len : 0);
out:
    if (ret < 0)
        tls_zeroize(secret, TLS_MAX_GROUP_SECRET);
    return ret;
}

static int generic_client_finish(const tls_group *g, tls_group_state *st,
                                 const uint8_t *server_share, size_t server_share_len,
                                 uint8_t *secret, size_t *secret_len)
{
    int ret = 0;
    /* DESIGN.md: the client checks the ciphertext length -> illegal_parameter */
    ENSURE(server_share_len == parts_server_len(g),
           has_kem(g) ? PQIFY_TLS_ERR_BAD_CT : PQIFY_TLS_ERR_BAD_KEY_SHARE);
    TRY(g->first->client_finish(g->first, st, server_share, secret));
    if (g->second != NULL)
        TRY(g->second->client_finish(g->second, st, server_share + g->first->server_share_len,
                                     secret + g->first->secret_len));
    *secret_len = g->first->secret_len + (g->second ? g->second->secret_len : 0);
out:
    if (ret < 0)
        tls_zeroize(secret, TLS_MAX_GROUP_SECRET);
    return ret;
}

#define GROUP(id, nm, pq, legacy, a, b)                                                       \
    {id, nm, pq, legacy, a, b, generic_client_share, generic_server_exchange,                 \
     generic_client_finish}

/* Table order is the default preference order. */
static const tls_group groups[] = {
    GROUP(0x11EC, "X25519MLKEM768", 1, 0, &tls_part_mlkem768, &tls_part_x25519),
    GROUP(0x11EB, "SecP256r1MLKEM768", 1, 0, &tls_part_p256, &tls_part_mlkem768),
    GROUP(0x11ED, "SecP384r1MLKEM1024", 1, 0, &tls_part_p384, &tls_part_mlkem1024),
    GROUP(0x0201, "MLKEM768", 1, 0, &tls_part_mlkem768, NULL),
    GROUP(0x0202, "MLKEM1024", 1, 0, &tls_part_mlkem1024, NULL),
    GROUP(0x0200, "MLKEM512", 1, 0, &tls_part_mlkem512, NULL),
    GROUP(0x001D, "x25519", 0, 0, &tls_part_x25519, NULL),
    GROUP(0x0017, "secp256r1", 0, 0, &tls_part_p256, NULL),
    GROUP(0x0018, "secp384r1", 0, 0, &tls_part_p384, NULL),
    GROUP(0x6399, "X25519Kyber768Draft00", 1, 1, &tls_part_x25519, &tls_part_kyber768),
    GROUP(0xFE30, "X25519Kyber512Draft00", 1, 1, &tls_part_x25519, &tls_part_kyber512),
    GROUP(0xFE32, "P256Kyber768Draft00", 1, 1, &tls_part_p256, &tls_part_kyber768),
    GROUP(0x2F3A, "P256Kyber512", 1, 1, &tls_part_p256, &tls_part_kyber512),
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

const tls_group *tls_group_by_id(uint16_t id)
{
    for (size_t i = 0; i < N_GROUPS; i++)
        if (groups[i].id == id)
            return &groups[i];
    return NULL;
}

void tls_group_state_wipe(tls_group_state *st)
{
    EVP_PKEY_free(st->ecdh);
    tls_zeroize(st, sizeof *st);
}

const char *pqify_tls_group_name(uint16_t id)
{
    const tls_group *g = tls_group_by_id(id);
    return g == NULL ? NULL : g->name;
}

int pqify_tls_group_id(const char *name)
{
    static const struct {
        const char *alias;
        uint16_t id;
    } aliases[] = {
        {"X25519", 0x001D}, {"P-256", 0x0017}, {"prime256v1", 0x0017},
        {"P-384", 0x0018},  {"ML-KEM-512", 0x0200}, {"ML-KEM-768", 0x0201},
        {"ML-KEM-1024", 0x0202},
    };
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < N_GROUPS; i++)
        if (strcasecmp(name, groups[i].name) == 0)
            return groups[i].id;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0)
            return aliases[i].id;
    return -1;
}

int pqify_tls_group_is_pq(uint16_t id)
{
    const tls_group *g = tls_group_by_id(id);
    return g != NULL && g->is_pq;
}

int pqify_tls_group_is_legacy(uint16_t id)
{
    const tls_group *g = tls_group_by_id(id);
    return g != NULL && g->is_legacy;
}

size_t pqify_tls_groups_all(uint16_t *ids, size_t max)
{
    for (size_t i = 0; i < N_GROUPS && i < max; i++)
        ids[i] = groups[i].id;
    return N_GROUPS;
}
