/* RFC 8446 §4.4.1 transcript hash. Both candidate hashes run until the suite picks one. */
#include "internal.h"

int tls_transcript_init(tls_transcript *t)
{
    int ret = 0;
    TRY(tls_crypto_init());
    t->chosen = NULL;
    tls_hash_init(&t->sha256, tls_sha256());
    tls_hash_init(&t->sha384, tls_sha384());
out:
    return ret;
}

/* The transcript covers handshake messages, not keys; wiped all the same, as the
 * messages include the peers' certificates and extensions. */
void tls_transcript_free(tls_transcript *t)
{
    tls_zeroize(t, sizeof *t);
}

static int running(const tls_transcript *t, const tls_hash *h)
{
    return t->chosen == NULL || t->chosen == h;
}

int tls_transcript_update(tls_transcript *t, const uint8_t *p, size_t n)
{
    if (running(t, tls_sha256()))
        tls_hash_update(&t->sha256, p, n);
    if (running(t, tls_sha384()))
        tls_hash_update(&t->sha384, p, n);
    return 0;
}

int tls_transcript_choose(tls_transcript *t, const tls_hash *h)
{
    if (h != tls_sha256() && h != tls_sha384())
        return PQIFY_TLS_ERR_INTERNAL;
    t->chosen = h;
    return 0;
}

static const tls_hash_ctx *ctx_of(const tls_transcript *t, const tls_hash *h)
{
    if (!running(t, h))
        return NULL;
    return h == tls_sha256() ? &t->sha256 : h == tls_sha384() ? &t->sha384 : NULL;
}

int tls_transcript_hash(const tls_transcript *t, uint8_t *out)
{
    if (t->chosen == NULL)
        return PQIFY_TLS_ERR_INTERNAL;
    return tls_transcript_hash_with(t, t->chosen, NULL, 0, out);
}

int tls_transcript_hrr_restart(tls_transcript *t)
{
    int ret = 0;
    uint8_t h[TLS_MAX_HASH];
    /* §4.4.1: message_hash || 00 00 Hash.length || Hash(ClientHello1) */
    uint8_t prefix[4] = {TLS_HS_MESSAGE_HASH, 0, 0, 0};
    TRY(tls_transcript_hash(t, h));
    prefix[3] = (uint8_t)t->chosen->len;
    tls_hash_init(t->chosen == tls_sha256() ? &t->sha256 : &t->sha384, t->chosen);
    TRY(tls_transcript_update(t, prefix, sizeof prefix));
    TRY(tls_transcript_update(t, h, t->chosen->len));
out:
    return ret;
}

int tls_transcript_hash_with(const tls_transcript *t, const tls_hash *h, const uint8_t *extra,
                             size_t n, uint8_t *out)
{
    const tls_hash_ctx *src = ctx_of(t, h);
    if (src == NULL)
        return PQIFY_TLS_ERR_INTERNAL;
    tls_hash_ctx copy = *src;
    tls_hash_update(&copy, extra, n);
    tls_hash_final(&copy, out);
    return 0;
}
