/* The key store: private keys from PEM files and PKCS#11 tokens, found by SKI. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "internal.h"

/* RSA keys past this would not fit PQIFY_KEYLESS_MAX_RESULT */
#define KL_RSA_MIN_BITS 2048
#define KL_RSA_MAX_BITS (PQIFY_KEYLESS_MAX_RESULT * 8)
#define KL_MAX_KEY_FILE (1u << 20)

struct pqify_keyless_store {
    atomic_int refs;
    kl_key *keys; /* sorted by SKI */
    size_t n;
};

int pqify_keyless_ski(const void *pkey, uint8_t ski[PQIFY_KEYLESS_SKI_BYTES])
{
    X509_PUBKEY *xpk = NULL;
    const unsigned char *pk = NULL;
    int pk_len = 0;
    int ret = 0;
    ENSURE(pkey != NULL && ski != NULL, PQIFY_KEYLESS_ERR_ARG);
    /* RFC 5280 §4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING's value, as
     * gokeyless's GetSKI hashes it (unused-bits octet excluded) */
    ENSURE(X509_PUBKEY_set(&xpk, (EVP_PKEY *)pkey) == 1, PQIFY_KEYLESS_ERR_ARG);
    ENSURE(X509_PUBKEY_get0_param(NULL, &pk, &pk_len, NULL, xpk) == 1 && pk_len > 0,
           PQIFY_KEYLESS_ERR_ARG);
    SHA1(pk, (size_t)pk_len, ski);
out:
    X509_PUBKEY_free(xpk);
    return ret;
}

int kl_key_type(const EVP_PKEY *pkey, char *err, size_t cap)
{
    char group[64] = "";
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA: {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < KL_RSA_MIN_BITS || bits > KL_RSA_MAX_BITS) {
            kl_err(err, cap, "an RSA key of %d bits (the store takes %d to %d)", bits,
                   KL_RSA_MIN_BITS, KL_RSA_MAX_BITS);
            return 0;
        }
        return PQIFY_KEYLESS_KEY_RSA;
    }
    case EVP_PKEY_EC:
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), NULL) != 1)
            group[0] = 0;
        if (strcmp(group, "prime256v1") == 0)
            return PQIFY_KEYLESS_KEY_EC_P256;
        if (strcmp(group, "secp384r1") == 0)
            return PQIFY_KEYLESS_KEY_EC_P384;
        kl_err(err, cap, "an EC key on curve '%s' (the store takes P-256 and P-384)",
               group[0] ? group : "?");
        return 0;
    case EVP_PKEY_ED25519:
        return PQIFY_KEYLESS_KEY_ED25519;
    default:
        kl_err(err, cap, "a key of type %s (the store takes RSA, ECDSA P-256/P-384 and Ed25519)",
               EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
        return 0;
    }
}

int kl_keylist_add(kl_keylist *l, EVP_PKEY *pkey, int type, kl_token *tok, unsigned long handle,
                   const char *source, char *err, size_t cap)
{
    kl_key k;
    int ret = 0;
    memset(&k, 0, sizeof(k));
    if (pqify_keyless_ski(pkey, k.ski) < 0) {
        kl_err(err, cap, "%s: cannot encode the public key to compute its SKI", source);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        kl_key *nk = realloc(l->keys, ncap * sizeof(*nk));
        ENSURE(nk != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
        l->keys = nk;
        l->cap = ncap;
    }
    k.source = strdup(source);
    ENSURE(k.source != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    k.type = type;
    k.pkey = pkey;
    k.token = tok;
    k.handle = handle;
    k.max_sig = (size_t)EVP_PKEY_get_size(pkey);
    if (tok == NULL && (type == PQIFY_KEYLESS_KEY_EC_P256 || type == PQIFY_KEYLESS_KEY_EC_P384)) {
        /* a fetch-and-init per signature costs ~15% of an ECDSA P-256 sign; a dup does not */
        k.ecdsa = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (k.ecdsa == NULL || EVP_PKEY_sign_init(k.ecdsa) != 1) {
            EVP_PKEY_CTX_free(k.ecdsa);
            kl_err(err, cap, "%s: libcrypto cannot sign with this key", source);
            free(k.source);
            return PQIFY_KEYLESS_ERR_ARG;
        }
    }
    if (tok != NULL)
        kl_token_hold(tok);
    l->keys[l->n++] = k;
out:
    if (ret < 0)
        kl_err(err, cap, "%s: out of memory", source);
    return ret;
}

static void key_dispose(kl_key *k)
{
    EVP_PKEY_CTX_free(k->ecdsa);
    EVP_PKEY_free(k->pkey);
    if (k->token != NULL)
        kl_token_release(k->token);
    free(k->source);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

/* Read a file whole (bounded), so a .pem can be judged before it is parsed. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t cap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int ret = 0;
    if (f == NULL) {
        kl_err(err, cap, "%s: cannot open", path);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    buf = malloc(KL_MAX_KEY_FILE + 1);
    ENSURE(buf != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    n = fread(buf, 1, KL_MAX_KEY_FILE + 1, f);
    if (n > KL_MAX_KEY_FILE || ferror(f)) {
        kl_err(err, cap, "%s: %s", path, ferror(f) ? "read error" : "larger than 1 MiB");
        ret = PQIFY_KEYLESS_ERR_ARG;
        goto out;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    buf = NULL;
out:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, KL_MAX_KEY_FILE + 1);
        free(buf);
    }
    fclose(f);
    return ret;
}

static int load_key_file(const char *path, int must_hold_key, kl_keylist *l, char *err, size_t cap)
{
    char *data = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    char why[160] = "";
    int type, ret = 0;
    TRY(read_file(path, &data, &len, err, cap));
    if (strstr(data, "PRIVATE KEY-----") == NULL) {
        if (must_hold_key) {
            kl_err(err, cap, "%s: no PEM private key in it", path);
            ret = PQIFY_KEYLESS_ERR_ARG;
        }
        goto out; /* a certificate beside the keys */
    }
    bio = BIO_new_mem_buf(data, (int)len);
    ENSURE(bio != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (pkey == NULL) {
        kl_err(err, cap, "%s: cannot read the private key (malformed, or encrypted: the store "
                         "takes unencrypted PEM keys)", path);
        ret = PQIFY_KEYLESS_ERR_ARG;
        goto out;
    }
    type = kl_key_type(pkey, why, sizeof(why));
    if (type == 0) {
        kl_err(err, cap, "%s: %s", path, why);
        ret = PQIFY_KEYLESS_ERR_ARG;
        goto out;
    }
    TRY(kl_keylist_add(l, pkey, type, NULL, 0, path, err, cap));
    pkey = NULL;
out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (data != NULL) {
        OPENSSL_cleanse(data, len);
        free(data);
    }
    return ret;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* every *.key and *.pem in dir, in name order so loads are repeatable */
static int load_dir(const char *dir, kl_keylist *l, char *err, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int ret = 0;
    if (d == NULL) {
        kl_err(err, cap, "keys directory %s: cannot open", dir);
        return PQIFY_KEYLESS_ERR_ARG;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !(has_suffix(e->d_name, ".key") || has_suffix(e->d_name, ".pem")))
            continue;
        if (n == ncap) {
            char **nn = realloc(names, (ncap ? ncap * 2 : 16) * sizeof(*nn));
            ENSURE(nn != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
            names = nn;
            ncap = ncap ? ncap * 2 : 16;
        }
        names[n] = strdup(e->d_name);
        ENSURE(names[n] != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        ENSURE(snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path),
               PQIFY_KEYLESS_ERR_ARG);
        TRY(load_key_file(path, has_suffix(names[i], ".key"), l, err, cap));
    }
out:
    if (ret == PQIFY_KEYLESS_ERR_NO_MEMORY)
        kl_err(err, cap, "keys directory %s: out of memory", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ret;
}

static int cmp_keys(const void *a, const void *b)
{
    return memcmp(((const kl_key *)a)->ski, ((const kl_key *)b)->ski, PQIFY_KEYLESS_SKI_BYTES);
}

static void keylist_dispose(kl_keylist *l)
{
    for (size_t i = 0; i < l->n; i++)
        key_dispose(&l->keys[i]);
    free(l->keys);
    memset(l, 0, sizeof(*l));
}

pqify_keyless_store *pqify_keyless_store_load(const pqify_keyless_store_options *o, char *err,
                                              size_t cap)
{
    kl_keylist l = {0};
    pqify_keyless_store *s = NULL;
    int ret = 0;
    kl_err(err, cap, "%s", "");
    ENSURE(o != NULL, PQIFY_KEYLESS_ERR_ARG);
    if (o->dir != NULL)
        TRY(load_dir(o->dir, &l, err, cap));
    for (size_t i = 0; i < o->pkcs11_uri_count; i++)
        TRY(kl_pkcs11_load(o->pkcs11_uris[i], o->pkcs11_module, &l, err, cap));
    if (l.n > 1)
        qsort(l.keys, l.n, sizeof(*l.keys), cmp_keys);
    for (size_t i = 1; i < l.n; i++) {
        if (memcmp(l.keys[i - 1].ski, l.keys[i].ski, PQIFY_KEYLESS_SKI_BYTES) == 0) {
            kl_err(err, cap, "%s holds the same key as %s", l.keys[i].source, l.keys[i - 1].source);
            ret = PQIFY_KEYLESS_ERR_ARG;
            goto out;
        }
    }
    s = calloc(1, sizeof(*s));
    ENSURE(s != NULL, PQIFY_KEYLESS_ERR_NO_MEMORY);
    atomic_init(&s->refs, 1);
    s->keys = l.keys;
    s->n = l.n;
    memset(&l, 0, sizeof(l));
out:
    if (ret < 0 && err != NULL && cap != 0 && err[0] == 0)
        kl_err(err, cap, "key store: %s", pqify_keyless_strerror(ret));
    keylist_dispose(&l);
    return s;
}

void pqify_keyless_store_hold(pqify_keyless_store *s)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void pqify_keyless_store_release(pqify_keyless_store *s)
{
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n; i++)
        key_dispose(&s->keys[i]);
    free(s->keys);
    free(s);
}

size_t pqify_keyless_store_count(const pqify_keyless_store *s)
{
    return s == NULL ? 0 : s->n;
}

int pqify_keyless_store_key(const pqify_keyless_store *s, size_t i,
                            uint8_t ski[PQIFY_KEYLESS_SKI_BYTES], int *type, const char **source)
{
    if (s == NULL || i >= s->n)
        return PQIFY_KEYLESS_ERR_ARG;
    if (ski != NULL)
        memcpy(ski, s->keys[i].ski, PQIFY_KEYLESS_SKI_BYTES);
    if (type != NULL)
        *type = s->keys[i].type;
    if (source != NULL)
        *source = s->keys[i].source;
    return 0;
}

const kl_key *kl_store_find(const pqify_keyless_store *s, const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES])
{
    kl_key probe;
    if (s == NULL || s->n == 0)
        return NULL;
    memcpy(probe.ski, ski, PQIFY_KEYLESS_SKI_BYTES);
    return bsearch(&probe, s->keys, s->n, sizeof(*s->keys), cmp_keys);
}

int pqify_keyless_store_has(const pqify_keyless_store *s, const uint8_t ski[PQIFY_KEYLESS_SKI_BYTES])
{
    return ski != NULL && kl_store_find(s, ski) != NULL;
}
