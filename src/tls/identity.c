/*
 * Server identities chosen by SNI (tls.h "identities"): which names a certificate
 * answers for, and which identity a ClientHello gets.
 *
 * The names are the leaf's subjectAltName dNSName entries only (RFC 6125 §6.4.4:
 * the subject CN is not consulted when a SAN is present, and we never consult it).
 * A wildcard is a whole leftmost label "*" (RFC 6125 §6.4.3; "f*.x" is no wildcard)
 * matching exactly one label, over at least two labels ("*.test" is refused, as
 * browsers do). Names compare as ASCII, case-insensitively (RFC 4343); an entry
 * that is not a plain ASCII host name never matches.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "internal.h"

#define TLS_MAX_NAME 253   /* RFC 1035 §2.3.4, without the trailing dot */

static int is_ldh(uint8_t ch)
{
    /* RFC 1123 §2.1 host names; no '_', which certificate checkers refuse under a
     * wildcard (a name we answer for must verify at the client) */
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

/* Lowercase a host name into out (TLS_MAX_NAME + 1 bytes); 0 if it is not one:
 * empty, too long, a trailing dot (RFC 6066 §3 forbids it in SNI), an empty label,
 * a label over 63, or a byte outside letters, digits, '-' (and the wildcard
 * label when allow_wildcard). */
static int normalize_name(const uint8_t *in, size_t len, int allow_wildcard, char *out)
{
    size_t label = 0;
    if (len == 0 || len > TLS_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = in[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (uint8_t)(ch - 'A' + 'a');
        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (ch == '*') {
            /* only as the whole leftmost label */
            if (!allow_wildcard || i != 0 || len < 2 || in[1] != '.')
                return 0;
            label++;
        } else {
            if (!is_ldh(ch) || ++label > 63)
                return 0;
        }
        out[i] = (char)ch;
    }
    if (label == 0)
        return 0;
    out[len] = 0;
    /* "*.test": a wildcard over a single label (a whole top-level domain) */
    if (out[0] == '*' && strchr(out + 2, '.') == NULL)
        return 0;
    return 1;
}

int tls_identity_read_names(tls_identity *id)
{
    int ret = 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(id->leaf, NID_subject_alt_name, NULL, NULL);
    size_t cap = 0, used = 0, n = 0;
    char *names = NULL;
    free(id->names);
    id->names = NULL;
    id->n_names = 0;
    for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS)
            continue;
        cap += (size_t)ASN1_STRING_length(g->d.dNSName) + 1;
    }
    if (cap == 0)
        goto out;
    names = malloc(cap);
    ENSURE(names != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        char one[TLS_MAX_NAME + 1];
        if (g->type != GEN_DNS)
            continue;
        const uint8_t *p = ASN1_STRING_get0_data(g->d.dNSName);
        size_t len = (size_t)ASN1_STRING_length(g->d.dNSName);
        /* an embedded NUL or anything but a plain host name is never matched */
        if (!normalize_name(p, len, 1, one))
            continue;
        memcpy(names + used, one, len + 1);
        used += len + 1;
        n++;
    }
    id->names = names;
    id->n_names = n;
    names = NULL;
out:
    free(names);
    GENERAL_NAMES_free(sans);
    ERR_clear_error();
    return ret;
}

int tls_name_matches(const char *name, const char *san)
{
    if (san[0] != '*')
        return strcmp(name, san) == 0;
    /* "*.rest": one non-empty label, then ".rest" exactly */
    const char *dot = strchr(name, '.');
    return dot != NULL && dot != name && strcmp(dot, san + 1) == 0;
}

int tls_identity_ready(const tls_identity *id)
{
    return id->n_certs > 0 && (id->key != NULL || id->have_signer);
}

void tls_identity_schemes(const tls_identity *id, const uint16_t **mine, size_t *n_mine)
{
    *mine = id->have_signer ? id->signer.schemes : id->key_schemes;
    *n_mine = id->have_signer ? id->signer.n_schemes : TLS_MAX_KEY_SCHEMES;
}

static int can_sign(const tls_identity *id, const uint16_t *peer, size_t n_peer)
{
    const uint16_t *mine;
    size_t n_mine;
    tls_identity_schemes(id, &mine, &n_mine);
    for (size_t i = 0; i < n_mine; i++)
        for (size_t j = 0; mine[i] != 0 && j < n_peer; j++)
            if (mine[i] == peer[j])
                return 1;
    return 0;
}

/* 2: an exact SAN match, 1: a wildcard one, 0: none */
static int match_kind(const tls_identity *id, const char *name)
{
    int best = 0;
    const char *san = id->names;
    for (size_t i = 0; i < id->n_names; i++, san += strlen(san) + 1)
        if (tls_name_matches(name, san))
            best = best > 1 || san[0] != '*' ? 2 : 1;
    return best;
}

int tls_choose_identity(const pqify_tls_config *cfg, const uint8_t *sni, size_t sni_len,
                        const uint16_t *peer_schemes, size_t n_peer_schemes, size_t *index,
                        int *by_name)
{
    char name[TLS_MAX_NAME + 1];
    int named = 0;
    *by_name = 0;
    /* exact names first, then wildcards, each in config order; among them the first
     * identity that can sign a scheme the client accepts (an ECDSA and an RSA chain
     * for one name serve both kinds of client) */
    if (sni != NULL && normalize_name(sni, sni_len, 0, name))
        for (int kind = 2; kind >= 1; kind--)
            for (size_t i = 0; i < cfg->n_ids; i++) {
                if (!tls_identity_ready(&cfg->ids[i]) || match_kind(&cfg->ids[i], name) != kind)
                    continue;
                named = 1;
                if (can_sign(&cfg->ids[i], peer_schemes, n_peer_schemes)) {
                    *index = i;
                    *by_name = 1;
                    return 0;
                }
            }
    /* a name some identity answers for, but none of them can sign for this client,
     * fails like a single identity would; no name (or no match) is the default's */
    if (named || !can_sign(&cfg->ids[0], peer_schemes, n_peer_schemes))
        return PQIFY_TLS_ERR_NO_COMMON_SIGALG;
    *index = 0;
    return 0;
}
