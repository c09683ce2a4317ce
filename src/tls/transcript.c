/* RFC 8446 §4.4.1 transcript hash. Both candidate hashes run until ServerHello picks one. */
#include "internal.h"

int tls_transcript_init(tls_transcript *t)
{
    int ret = 0;
    TRY(tls_crypto_init());
    t->chosen = NULL;
    t->sha256 = EVP_MD_CTX_new();
    t->sha384 = EVP_MD_CTX_new();
    ENSURE(t->sha256 != NULL && t->sha384 != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(EVP_DigestInit_ex(t->sha256, tls_sha256()->md, NULL) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_DigestInit_ex(t->sha384, tls_sha384()->md, NULL) == 1, PQIFY_TLS_ERR_INTERNAL);
out:
    return ret;
}

void tls_transcript_free(tls_transcript *t)
{
    EVP_MD_CTX_free(t->sha256);
    EVP_MD_CTX_free(t->sha384);
    t->sha256 = t->sha384 = NULL;
}

int tls_transcript_update(tls_transcript *t, const uint8_t *p, size_t n)
{
    if (t->sha256 != NULL && EVP_DigestUpdate(t->sha256, p, n) != 1)
        return PQIFY_TLS_ERR_INTERNAL;
    if (t->sha384 != NULL && EVP_DigestUpdate(t->sha384, p, n) != 1)
        return PQIFY_TLS_ERR_INTERNAL;
    return 0;
}

int tls_transcript_choose(tls_transcript *t, const tls_hash *h)
{
    if (h == tls_sha256()) {
        EVP_MD_CTX_free(t->sha384);
        t->sha384 = NULL;
    } else if (h == tls_sha384()) {
        EVP_MD_CTX_free(t->sha256);
        t->sha256 = NULL;
    } else {
        return PQIFY_TLS_ERR_INTERNAL;
    }
    t->chosen = h;
    return 0;
}

static EVP_MD_CTX *chosen_ctx(const tls_transcript *t)
{
    return t->chosen == tls_sha256() ? t->sha256 : t->sha384;
}

int tls_transcript_hash(const tls_transcript *t, uint8_t *out)
{
    int ret = 0;
    unsigned int n = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    ENSURE(copy != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(t->chosen != NULL, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_MD_CTX_copy_ex(copy, chosen_ctx(t)) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_DigestFinal_ex(copy, out, &n) == 1 && n == t->chosen->len, PQIFY_TLS_ERR_INTERNAL);
out:
    EVP_MD_CTX_free(copy);
    return ret;
}

int tls_transcript_hrr_restart(tls_transcript *t)
{
    int ret = 0;
    uint8_t h[TLS_MAX_HASH];
    /* §4.4.1: message_hash || 00 00 Hash.length || Hash(ClientHello1) */
    uint8_t prefix[4] = {TLS_HS_MESSAGE_HASH, 0, 0, (uint8_t)t->chosen->len};
    TRY(tls_transcript_hash(t, h));
    ENSURE(EVP_DigestInit_ex(chosen_ctx(t), t->chosen->md, NULL) == 1, PQIFY_TLS_ERR_INTERNAL);
    TRY(tls_transcript_update(t, prefix, sizeof prefix));
    TRY(tls_transcript_update(t, h, t->chosen->len));
out:
    return ret;
}

int tls_transcript_hash_with(const tls_transcript *t, const tls_hash *h, const uint8_t *extra,
                             size_t n, uint8_t *out)
{
    int ret = 0;
    unsigned int len = 0;
    EVP_MD_CTX *src = h == tls_sha256() ? t->sha256 : h == tls_sha384() ? t->sha384 : NULL;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();
    ENSURE(copy != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(src != NULL, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_MD_CTX_copy_ex(copy, src) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_DigestUpdate(copy, extra, n) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_DigestFinal_ex(copy, out, &len) == 1 && len == h->len, PQIFY_TLS_ERR_INTERNAL);
out:
    EVP_MD_CTX_free(copy);
    return ret;
}
