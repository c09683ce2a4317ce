/* pqify keyless layer: shared internals. Public pqify headers, libcrypto and p11-kit only. */
#ifndef PQIFY_KEYLESS_INTERNAL_H
#define PQIFY_KEYLESS_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../tls/cursor.h"
#include "pqify/keyless.h"

/* Error flow as in src/tls (STYLE.md): `int ret = 0`, one `out:` label. */
#define TRY(expr)              \
    do {                       \
        int try_ret_ = (expr); \
        if (try_ret_ < 0) {    \
            ret = try_ret_;    \
            goto out;          \
        }                      \
    } while (0)
#define ENSURE(cond, err)      \
    do {                       \
        if (!(cond)) {         \
            ret = (err);       \
            goto out;          \
        }                      \
    } while (0)

#define MUST_USE PQIFY_MUST_USE
/* A short read (the tls layer's reader, src/tls/cursor.h) is keyless's TRUNCATED. */
#define TRY_READ(expr) ENSURE((expr) == 0, PQIFY_KEYLESS_ERR_TRUNCATED)

/* ---- cursors: the only way wire bytes are read or written. Reading is the tls
 * layer's tls_reader (src/tls/cursor.h); the writer (cursor.c) is keyless's own. ---- */

/* A writer over a caller's fixed buffer: nothing is allocated, overflow is an error. */
typedef struct kl_writer {
    uint8_t *base;
    size_t cap, len;
} kl_writer;

void kl_writer_init(kl_writer *w, uint8_t *base, size_t cap);
MUST_USE int kl_write_bytes(kl_writer *w, const void *p, size_t n);
MUST_USE int kl_write_zeros(kl_writer *w, size_t n);
MUST_USE int kl_write_u8(kl_writer *w, uint8_t v);
MUST_USE int kl_write_u16(kl_writer *w, uint16_t v);
MUST_USE int kl_write_u32(kl_writer *w, uint32_t v);
/* tag(1) len(u16) data: one item */
MUST_USE int kl_write_item(kl_writer *w, uint8_t tag, const void *data, size_t n);

/* ---- the store's keys (store.c, pkcs11.c) ---- */
typedef struct kl_token kl_token; /* one logged-in PKCS#11 token (pkcs11.c) */

typedef struct kl_key {
    uint8_t ski[PQIFY_KEYLESS_SKI_BYTES];
    int type;               /* enum pqify_keyless_key_type */
    EVP_PKEY *pkey;         /* the private key (file) or the public key (token) */
    EVP_PKEY_CTX *ecdsa;    /* file EC keys: sign_init done once, dup'd per signature */
    kl_token *token;        /* NULL for a file key */
    unsigned long handle;   /* the private key object on the token */
    size_t max_sig;         /* bytes a signature (or decrypt output) can take */
    char *source;           /* the file path or the URI, for logs */
} kl_key;

const kl_key *kl_store_find(const pqify_keyless_store *s, const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES]);

/* words into err (never fails; truncates) */
void kl_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* the key's type from an EVP_PKEY, or 0 (with words) when the store does not take it */
int kl_key_type(const EVP_PKEY *pkey, char *err, size_t cap);

/* A growable list of keys a loader appends to (store.c). */
typedef struct kl_keylist {
    kl_key *keys;
    size_t n, cap;
} kl_keylist;
MUST_USE int kl_keylist_add(kl_keylist *l, EVP_PKEY *pkey, int type, kl_token *tok,
                            unsigned long handle, const char *source, char *err, size_t cap);

/* PKCS#11 (pkcs11.c): load every private key a URI names. */
MUST_USE int kl_pkcs11_load(const char *uri, const char *default_module, kl_keylist *l, char *err,
                            size_t cap);
/* sign or decrypt on the token; out_len in: capacity, out: bytes written */
MUST_USE int kl_pkcs11_sign(const kl_key *k, unsigned long mech, const void *mech_param,
                            size_t mech_param_len, const uint8_t *in, size_t in_len, uint8_t *out,
                            size_t *out_len);
MUST_USE int kl_pkcs11_decrypt_raw(const kl_key *k, const uint8_t *in, size_t in_len, uint8_t *out,
                                   size_t *out_len);
void kl_token_release(kl_token *t);
void kl_token_hold(kl_token *t);

#endif
