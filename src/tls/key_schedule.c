/* RFC 8446 §7.1 key schedule: HKDF-Extract / Expand-Label over HMAC. */
#include <string.h>

#include "internal.h"

int tls_hkdf_extract(const tls_hash *h, const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                     size_t ikm_len, uint8_t *prk)
{
    /* RFC 5869 §2.2: a missing salt is HashLen zeros */
    static const uint8_t zeros[TLS_MAX_HASH];
    if (salt == NULL || salt_len == 0) {
        salt = zeros;
        salt_len = h->len;
    }
    tls_hmac_oneshot(h, salt, salt_len, ikm, ikm_len, prk);
    return 0;
}

int tls_hkdf_expand_label(const tls_hash *h, const uint8_t *secret, const char *label,
                          const uint8_t *context, size_t context_len, uint8_t *out, size_t out_len)
{
    int ret = 0;
    /* §7.1 HkdfLabel: u16 length, opaque label<7..255> = "tls13 " + Label, opaque context<0..255> */
    uint8_t info[2 + 1 + 255 + 1 + 255 + 1];
    uint8_t t[TLS_MAX_HASH];
    size_t label_len = strlen(label);
    size_t n = 0, done = 0;
    ENSURE(label_len + 6 <= 255 && context_len <= 255 && out_len <= 255 * h->len,
           PQIFY_TLS_ERR_INTERNAL);
    info[n++] = (uint8_t)(out_len >> 8);
    info[n++] = (uint8_t)out_len;
    info[n++] = (uint8_t)(6 + label_len);
    memcpy(info + n, "tls13 ", 6);
    n += 6;
    memcpy(info + n, label, label_len);
    n += label_len;
    info[n++] = (uint8_t)context_len;
    if (context_len != 0)
        memcpy(info + n, context, context_len);
    n += context_len;
    /* RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) | info | i) */
    uint8_t block[TLS_MAX_HASH + sizeof info];
    size_t tlen = 0;
    for (uint8_t i = 1; done < out_len; i++) {
        memcpy(block, t, tlen);
        memcpy(block + tlen, info, n);
        block[tlen + n] = i;
        tls_hmac_oneshot(h, secret, h->len, block, tlen + n + 1, t);
        tlen = h->len;
        size_t take = out_len - done < h->len ? out_len - done : h->len;
        memcpy(out + done, t, take);
        done += take;
    }
out:
    tls_zeroize(t, sizeof t);
    tls_zeroize(block, sizeof block);
    return ret;
}

int tls_derive_secret(const tls_hash *h, const uint8_t *secret, const char *label,
                      const uint8_t *transcript_hash, uint8_t *out)
{
    return tls_hkdf_expand_label(h, secret, label, transcript_hash, h->len, out, h->len);
}

int tls_ks_early(tls_key_schedule *ks, const tls_hash *h)
{
    static const uint8_t zeros[TLS_MAX_HASH];
    ks->hash = h;
    /* no PSK: IKM is HashLen zeros */
    return tls_hkdf_extract(h, NULL, 0, zeros, h->len, ks->secret);
}

int tls_ks_early_psk(tls_key_schedule *ks, const tls_hash *h, const uint8_t *psk, size_t psk_len)
{
    ks->hash = h;
    return tls_hkdf_extract(h, NULL, 0, psk, psk_len, ks->secret);
}

/* §7.1: Derive-Secret(., "derived", "") then Extract with the next input. */
static int advance(tls_key_schedule *ks, const uint8_t *ikm, size_t ikm_len)
{
    int ret = 0;
    uint8_t empty_hash[TLS_MAX_HASH], derived[TLS_MAX_HASH];
    tls_hash_oneshot(ks->hash, NULL, 0, empty_hash);
    TRY(tls_derive_secret(ks->hash, ks->secret, "derived", empty_hash, derived));
    TRY(tls_hkdf_extract(ks->hash, derived, ks->hash->len, ikm, ikm_len, ks->secret));
out:
    tls_zeroize(derived, sizeof derived);
    return ret;
}

int tls_ks_handshake(tls_key_schedule *ks, const uint8_t *shared, size_t shared_len)
{
    return advance(ks, shared, shared_len);
}

int tls_ks_master(tls_key_schedule *ks)
{
    static const uint8_t zeros[TLS_MAX_HASH];
    return advance(ks, zeros, ks->hash->len);
}

void tls_ks_wipe(tls_key_schedule *ks)
{
    tls_zeroize(ks->secret, sizeof ks->secret);
}

int tls_finished_mac(const tls_hash *h, const uint8_t *base_secret, const uint8_t *transcript_hash,
                     uint8_t *verify_data)
{
    int ret = 0;
    uint8_t finished_key[TLS_MAX_HASH];
    /* §4.4.4 */
    TRY(tls_hkdf_expand_label(h, base_secret, "finished", NULL, 0, finished_key, h->len));
    tls_hmac_oneshot(h, finished_key, h->len, transcript_hash, h->len, verify_data);
out:
    tls_zeroize(finished_key, sizeof finished_key);
    return ret;
}

int tls_next_traffic_secret(const tls_hash *h, uint8_t *secret)
{
    int ret = 0;
    uint8_t next[TLS_MAX_HASH];
    TRY(tls_hkdf_expand_label(h, secret, "traffic upd", NULL, 0, next, h->len));
    memcpy(secret, next, h->len);
out:
    tls_zeroize(next, sizeof next);
    return ret;
}
