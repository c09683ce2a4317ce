/* RFC 8446 §5.2-5.3 record protection: AEAD with a per-record nonce, inner content type. */
#include <string.h>

#include "internal.h"

int tls_traffic_set(tls_traffic *t, const tls_suite *suite, const uint8_t *secret, int encrypt)
{
    int ret = 0;
    uint8_t key[TLS_MAX_KEY];
    const tls_hash *h = suite->hash;
    if (t->ctx == NULL)
        t->ctx = EVP_CIPHER_CTX_new();
    ENSURE(t->ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    if (secret != t->secret)
        memcpy(t->secret, secret, h->len);
    /* §7.3 traffic key calculation */
    TRY(tls_hkdf_expand_label(h, t->secret, "key", NULL, 0, key, suite->key_len));
    TRY(tls_hkdf_expand_label(h, t->secret, "iv", NULL, 0, t->iv, TLS_IV_LEN));
    ENSURE(EVP_CipherInit_ex(t->ctx, suite->cipher, NULL, key, NULL, encrypt) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    t->suite = suite;
    t->seq = 0;
    t->active = 1;
out:
    tls_zeroize(key, sizeof key);
    return ret;
}

int tls_traffic_update(tls_traffic *t, int encrypt)
{
    int ret = 0;
    ENSURE(t->active, PQIFY_TLS_ERR_INTERNAL);
    TRY(tls_next_traffic_secret(t->suite->hash, t->secret));
    TRY(tls_traffic_set(t, t->suite, t->secret, encrypt));
out:
    return ret;
}

void tls_traffic_wipe(tls_traffic *t)
{
    /* EVP_CIPHER_CTX_free cleanses the expanded key schedule */
    EVP_CIPHER_CTX_free(t->ctx);
    tls_zeroize(t, sizeof *t);
}

/* §5.3: the 64-bit sequence number, left-padded, XORed into the static IV */
static void make_nonce(const tls_traffic *t, uint8_t nonce[TLS_IV_LEN])
{
    memcpy(nonce, t->iv, TLS_IV_LEN);
    for (size_t i = 0; i < 8; i++)
        nonce[TLS_IV_LEN - 1 - i] ^= (uint8_t)(t->seq >> (8 * i));
}

int tls_record_seal(tls_traffic *t, uint8_t type, const uint8_t *data, size_t len,
                    pqify_tls_buf *out)
{
    int ret = 0;
    uint8_t nonce[TLS_IV_LEN];
    int n = 0;
    ENSURE(t->active && len <= TLS_MAX_PLAINTEXT, PQIFY_TLS_ERR_INTERNAL);
    /* §5.3: the sequence number must not wrap */
    ENSURE(t->seq != UINT64_MAX, PQIFY_TLS_ERR_SEQUENCE_LIMIT);
    size_t body = len + 1 + TLS_AEAD_TAG;
    TRY(tls_buf_reserve(out, TLS_RECORD_HEADER + body));
    uint8_t *rec = out->base + out->len;
    /* §5.2: outer type is application_data, legacy version 0x0303 */
    rec[0] = TLS_CT_APPDATA;
    rec[1] = 3;
    rec[2] = 3;
    rec[3] = (uint8_t)(body >> 8);
    rec[4] = (uint8_t)body;
    uint8_t *p = rec + TLS_RECORD_HEADER;
    if (len != 0)
        memmove(p, data, len);
    p[len] = type;
    make_nonce(t, nonce);
    ENSURE(EVP_CipherInit_ex(t->ctx, NULL, NULL, NULL, nonce, 1) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(t->ctx, NULL, &n, rec, TLS_RECORD_HEADER) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(t->ctx, p, &n, p, (int)(len + 1)) == 1 && (size_t)n == len + 1,
           PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherFinal_ex(t->ctx, p + len + 1, &n) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_AEAD_GET_TAG, TLS_AEAD_TAG, p + len + 1) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    out->len += TLS_RECORD_HEADER + body;
    t->seq++;
out:
    return ret;
}

int tls_record_open(tls_traffic *t, uint8_t *record, size_t record_len, uint8_t *type, size_t *len)
{
    int ret = 0;
    uint8_t nonce[TLS_IV_LEN];
    int n = 0;
    ENSURE(t->active && record_len >= TLS_RECORD_HEADER, PQIFY_TLS_ERR_INTERNAL);
    size_t body = record_len - TLS_RECORD_HEADER;
    ENSURE(body <= TLS_MAX_CIPHERTEXT, PQIFY_TLS_ERR_RECORD_OVERFLOW);
    ENSURE(record[0] == TLS_CT_APPDATA, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    /* at least the inner type byte and the tag */
    ENSURE(body >= 1 + TLS_AEAD_TAG, PQIFY_TLS_ERR_BAD_RECORD_MAC);
    ENSURE(t->seq != UINT64_MAX, PQIFY_TLS_ERR_SEQUENCE_LIMIT);
    uint8_t *p = record + TLS_RECORD_HEADER;
    size_t clen = body - TLS_AEAD_TAG;
    /* §5.4: TLSInnerPlaintext (content, type, padding) is at most 2^14 + 1 bytes,
     * padding included: a short message padded past that is record_overflow too */
    ENSURE(clen <= TLS_MAX_PLAINTEXT + 1, PQIFY_TLS_ERR_RECORD_OVERFLOW);
    make_nonce(t, nonce);
    ENSURE(EVP_CipherInit_ex(t->ctx, NULL, NULL, NULL, nonce, 0) == 1, PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_AEAD_SET_TAG, TLS_AEAD_TAG, p + clen) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(t->ctx, NULL, &n, record, TLS_RECORD_HEADER) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    ENSURE(EVP_CipherUpdate(t->ctx, p, &n, p, (int)clen) == 1, PQIFY_TLS_ERR_BAD_RECORD_MAC);
    ENSURE(EVP_CipherFinal_ex(t->ctx, p + clen, &n) == 1, PQIFY_TLS_ERR_BAD_RECORD_MAC);
    t->seq++;
    /* §5.4: strip zero padding; the inner type is the last non-zero byte */
    size_t i = clen;
    while (i > 0 && p[i - 1] == 0)
        i--;
    ENSURE(i > 0, PQIFY_TLS_ERR_UNEXPECTED_MESSAGE);
    *type = p[i - 1];
    *len = i - 1;
    ENSURE(*len <= TLS_MAX_PLAINTEXT, PQIFY_TLS_ERR_RECORD_OVERFLOW);
out:
    return ret;
}

int tls_record_plain(uint8_t type, const uint8_t *data, size_t len, pqify_tls_buf *out)
{
    int ret = 0;
    size_t done = 0;
    do {
        size_t n = len - done > TLS_MAX_PLAINTEXT ? TLS_MAX_PLAINTEXT : len - done;
        TRY(tls_write_u8(out, type));
        TRY(tls_write_u16(out, 0x0303));
        TRY(tls_write_u16(out, (uint16_t)n));
        TRY(tls_write_bytes(out, data + done, n));
        done += n;
    } while (done < len);
out:
    return ret;
}
