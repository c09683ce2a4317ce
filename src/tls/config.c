/* Connection configuration: identity, trust, pq mode and lists. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <time.h>

#include "internal.h"

static const uint16_t default_groups[] = {0x11EC, 0x11EB, 0x11ED, 0x0201, 0x0202,
                                          0x0200, 0x001D, 0x0017, 0x0018};

pqify_tls_config *pqify_tls_config_new(void)
{
    if (tls_crypto_init() < 0)
        return NULL;
    pqify_tls_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        return NULL;
    cfg->pq = PQIFY_PQ_PREFERRED;
    cfg->verify_peer = 1;
    cfg->require_client_cert = 1;
    cfg->ciphers[0] = 0x1301;
    cfg->ciphers[1] = 0x1302;
    cfg->ciphers[2] = 0x1303;
    cfg->n_ciphers = 3;
    cfg->tickets = 1;
    cfg->ticket_lifetime_s = 7200;
    cfg->ticket_rotation_s = 7200;
    cfg->ids = calloc(1, sizeof *cfg->ids);
    cfg->n_ids = cfg->cap_ids = 1;
    if (cfg->ids == NULL || RAND_bytes(cfg->ticket_secret, sizeof cfg->ticket_secret) != 1) {
        free(cfg->ids);
        free(cfg);
        return NULL;
    }
    return cfg;
}

/* PQIFY_TLS_ERR_CONFIG with words for pqify_tls_config_error_detail */
static int config_error(pqify_tls_config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int config_error(pqify_tls_config *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->err_detail, sizeof cfg->err_detail, fmt, ap);
    va_end(ap);
    return PQIFY_TLS_ERR_CONFIG;
}

const char *pqify_tls_config_error_detail(const pqify_tls_config *cfg)
{
    return cfg == NULL ? "" : cfg->err_detail;
}

static void free_chain(tls_identity *id)
{
    /* i2d_X509 allocated them: libcrypto's allocator, which an application may
     * have replaced (CRYPTO_set_mem_functions) */
    for (size_t i = 0; i < id->n_certs; i++)
        OPENSSL_free(id->cert_der[i]);
    id->n_certs = 0;
    X509_free(id->leaf);
    id->leaf = NULL;
    free(id->names);
    id->names = NULL;
    id->n_names = 0;
}

static void free_identity(tls_identity *id)
{
    free_chain(id);
    EVP_PKEY_CTX_free(id->ecdsa_sign);
    EVP_PKEY_free(id->key);   /* libcrypto cleanses private key material */
    tls_zeroize(id, sizeof *id);
}

void pqify_tls_config_free(pqify_tls_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_ids; i++)
        free_identity(&cfg->ids[i]);
    free(cfg->ids);
    X509_STORE_free(cfg->store);
    tls_session_cache_free(cfg->cache);
    tls_zeroize(cfg, sizeof *cfg);
    free(cfg);
}

static int read_file(pqify_tls_config *cfg, const char *path, char **data, size_t *len)
{
    int ret = 0;
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    long n = -1;
    if (f == NULL) {
        ret = config_error(cfg, "%s: %s", path, strerror(errno));
        goto out;
    }
    /* A directory opens and "seeks" to LONG_MAX on Linux: say what it is instead. */
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        ret = config_error(cfg, "%s: cannot read it (%s)", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = config_error(cfg, "%s: %s", path,
                           S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        goto out;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        ret = config_error(cfg, "%s: cannot read it (%s)", path, strerror(errno));
        goto out;
    }
    if (n >= (1L << 24)) {
        ret = config_error(cfg, "%s: %ld bytes, over the 16 MiB a PEM file may have", path, n);
        goto out;
    }
    p = malloc((size_t)n + 1);
    ENSURE(p != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    if (fread(p, 1, (size_t)n, f) != (size_t)n) {
        ret = config_error(cfg, "%s: cannot read it (%s)", path, strerror(errno));
        goto out;
    }
    p[n] = 0;
    *data = p;
    *len = (size_t)n;
    p = NULL;
out:
    free(p);
    if (f != NULL)
        fclose(f);
    return ret;
}

/* name the file in front of what a loader said */
static void prefix_detail(pqify_tls_config *cfg, const char *path)
{
    char words[sizeof cfg->err_detail];
    snprintf(words, sizeof words, "%s", cfg->err_detail);
    (void)config_error(cfg, "%s: %s", path, words);
}

/* Files go through the PEM loaders; keys are wiped after parsing. */
static int with_file(pqify_tls_config *cfg, const char *path,
                     int (*load)(pqify_tls_config *, const char *, size_t))
{
    char *data = NULL;
    size_t len = 0;
    cfg->err_detail[0] = 0;
    int ret = read_file(cfg, path, &data, &len);
    if (ret == 0) {
        ret = load(cfg, data, len);
        tls_zeroize(data, len);
        free(data);
        if (ret == PQIFY_TLS_ERR_CONFIG)
            prefix_detail(cfg, path);
    }
    return ret;
}

static int check_key_matches(pqify_tls_config *cfg, const tls_identity *id)
{
    if (id->leaf != NULL && id->key != NULL && X509_check_private_key(id->leaf, id->key) != 1) {
        ERR_clear_error();
        return config_error(cfg, "the private key does not match the certificate's public key "
                                 "(a key and certificate from different pairs)");
    }
    return 0;
}

/* The union of every identity's schemes, for filtering a peer's list before the
 * identity is chosen (handshake_auth.c). TLS defines far fewer than
 * TLS_MAX_ALL_SCHEMES; a signer listing more keeps its first ones, as the peer's
 * list is kept to TLS_MAX_PEER_SCHEMES anyway. */
static void update_all_schemes(pqify_tls_config *cfg)
{
    uint16_t all[TLS_MAX_ALL_SCHEMES];
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_ids; i++) {
        const uint16_t *mine;
        size_t n_mine;
        tls_identity_schemes(&cfg->ids[i], &mine, &n_mine);
        for (size_t j = 0; j < n_mine; j++) {
            int seen = mine[j] == 0;
            for (size_t k = 0; k < n; k++)
                seen |= all[k] == mine[j];
            if (!seen && n < TLS_MAX_ALL_SCHEMES)
                all[n++] = mine[j];
        }
    }
    memcpy(cfg->all_schemes, all, n * sizeof all[0]);
    cfg->n_all_schemes = n;
}

static int load_chain(pqify_tls_config *cfg, tls_identity *id, const char *pem, size_t len)
{
    int ret = 0;
    X509 *x = NULL;
    BIO *bio = NULL;
    ENSURE(pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    free_chain(id);
    bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE(bio != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (id->n_certs == TLS_MAX_CERTS) {
            ret = config_error(cfg, "the certificate chain has more than %d certificates "
                                    "(leaf and intermediates; leave the root out)", TLS_MAX_CERTS);
            goto out;
        }
        uint8_t *der = NULL;
        int n = i2d_X509(x, &der);
        if (n <= 0) {
            ret = config_error(cfg, "certificate %zu of the chain cannot be encoded", id->n_certs + 1);
            goto out;
        }
        id->cert_der[id->n_certs] = der;
        id->cert_der_len[id->n_certs] = (size_t)n;
        id->n_certs++;
        if (id->leaf == NULL) {
            id->leaf = x;
            x = NULL;
        }
        X509_free(x);
        x = NULL;
    }
    if (id->n_certs == 0) {
        ret = config_error(cfg, "no PEM certificate in it (want -----BEGIN CERTIFICATE-----)");
        goto out;
    }
    TRY(tls_identity_read_names(id));
    TRY(check_key_matches(cfg, id));
out:
    X509_free(x);
    BIO_free(bio);
    ERR_clear_error();
    if (ret < 0)
        free_chain(id);
    return ret;
}

static int load_key(pqify_tls_config *cfg, tls_identity *id, const char *pem, size_t len)
{
    int ret = 0;
    BIO *bio = NULL;
    ENSURE(pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE(bio != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL) {
        ret = config_error(cfg, "no readable PEM private key in it (an encrypted key needs "
                                "decrypting first: openssl pkey -in KEY -out PLAIN)");
        goto out;
    }
    EVP_PKEY_CTX_free(id->ecdsa_sign);
    id->ecdsa_sign = NULL;
    EVP_PKEY_free(id->key);
    id->key = key;
    memset(id->key_schemes, 0, sizeof id->key_schemes);
    if (tls_schemes_for_key(key, id->key_schemes, TLS_MAX_KEY_SCHEMES) == 0) {
        char why[300];
        tls_key_unusable_reason(key, why, sizeof why);
        ret = config_error(cfg, "the private key cannot sign TLS 1.3: %s", why);
        goto out;
    }
    /* NULL (also on failure) only means the general path signs */
    id->ecdsa_sign = tls_ecdsa_sign_template(key);
    TRY(check_key_matches(cfg, id));
out:
    BIO_free(bio);
    ERR_clear_error();
    return ret;
}

int pqify_tls_config_set_cert_chain_pem(pqify_tls_config *cfg, const char *pem, size_t len)
{
    int ret = 0;
    ENSURE(cfg != NULL && pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    cfg->err_detail[0] = 0;
    TRY(load_chain(cfg, &cfg->ids[0], pem, len));
out:
    return ret;
}

int pqify_tls_config_set_cert_chain_file(pqify_tls_config *cfg, const char *path)
{
    return cfg == NULL || path == NULL ? PQIFY_TLS_ERR_ARG
                                       : with_file(cfg, path, pqify_tls_config_set_cert_chain_pem);
}

int pqify_tls_config_set_key_pem(pqify_tls_config *cfg, const char *pem, size_t len)
{
    int ret = 0;
    ENSURE(cfg != NULL && pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    cfg->err_detail[0] = 0;
    ret = load_key(cfg, &cfg->ids[0], pem, len);
    /* the key stays set even when it does not match, as before identities */
    update_all_schemes(cfg);
out:
    return ret;
}

int pqify_tls_config_set_key_file(pqify_tls_config *cfg, const char *path)
{
    return cfg == NULL || path == NULL ? PQIFY_TLS_ERR_ARG
                                       : with_file(cfg, path, pqify_tls_config_set_key_pem);
}

static int signer_ok(const pqify_tls_signer *signer)
{
    return signer != NULL && signer->sign != NULL && signer->n_schemes != 0 && signer->schemes != NULL;
}

int pqify_tls_config_set_signer(pqify_tls_config *cfg, const pqify_tls_signer *signer)
{
    if (cfg == NULL || !signer_ok(signer))
        return PQIFY_TLS_ERR_ARG;
    cfg->ids[0].signer = *signer;
    cfg->ids[0].have_signer = 1;
    update_all_schemes(cfg);
    return 0;
}

/* A signer's schemes must be ones the certificate's key type can make: a keyless
 * signer that claims RSA-PSS for an ECDSA certificate would be chosen for clients
 * that then fail its signature (decrypt_error) instead of getting another identity. */
static int check_signer_fits(pqify_tls_config *cfg, const tls_identity *id)
{
    uint16_t fit[TLS_MAX_KEY_SCHEMES] = {0};
    EVP_PKEY *pub = X509_get0_pubkey(id->leaf);
    size_t n_fit = pub == NULL ? 0 : tls_schemes_for_key(pub, fit, TLS_MAX_KEY_SCHEMES);
    ERR_clear_error();
    for (size_t i = 0; i < id->signer.n_schemes; i++) {
        int ok = 0;
        for (size_t j = 0; j < n_fit; j++)
            ok |= fit[j] == id->signer.schemes[i];
        if (!ok)
            return config_error(cfg, "the signer offers signature scheme 0x%04x, which the "
                                     "certificate's public key cannot make",
                                id->signer.schemes[i]);
    }
    return 0;
}

/* Parse one whole identity into id (empty on entry); the file names, when given,
 * prefix the words of a failure. */
static int load_identity(pqify_tls_config *cfg, tls_identity *id, const char *chain, size_t chain_len,
                         const char *key, size_t key_len, const pqify_tls_signer *signer,
                         const char *chain_path, const char *key_path)
{
    int ret = load_chain(cfg, id, chain, chain_len);
    if (ret == PQIFY_TLS_ERR_CONFIG && chain_path != NULL)
        prefix_detail(cfg, chain_path);
    if (ret < 0)
        return ret;
    if (key != NULL) {
        ret = load_key(cfg, id, key, key_len);
        if (ret == PQIFY_TLS_ERR_CONFIG && key_path != NULL)
            prefix_detail(cfg, key_path);
        return ret;
    }
    id->signer = *signer;
    id->have_signer = 1;
    ret = check_signer_fits(cfg, id);
    if (ret == PQIFY_TLS_ERR_CONFIG && chain_path != NULL)
        prefix_detail(cfg, chain_path);
    return ret;
}

static int add_loaded_identity(pqify_tls_config *cfg, tls_identity *id)
{
    const tls_identity *first = &cfg->ids[0];
    /* the first identity added fills an empty identity 0 (the default) */
    if (first->n_certs == 0 && first->key == NULL && !first->have_signer) {
        cfg->ids[0] = *id;
        update_all_schemes(cfg);
        return 0;
    }
    if (cfg->n_ids == PQIFY_TLS_MAX_IDENTITIES)
        return config_error(cfg, "more than %d certificates (identities) in one config",
                            PQIFY_TLS_MAX_IDENTITIES);
    if (cfg->n_ids == cfg->cap_ids) {
        size_t cap = cfg->cap_ids * 2;
        tls_identity *ids = calloc(cap, sizeof *ids);
        if (ids == NULL)
            return PQIFY_TLS_ERR_NO_MEMORY;
        memcpy(ids, cfg->ids, cfg->n_ids * sizeof *ids);
        tls_zeroize(cfg->ids, cfg->n_ids * sizeof *ids);
        free(cfg->ids);
        cfg->ids = ids;
        cfg->cap_ids = cap;
    }
    cfg->ids[cfg->n_ids] = *id;
    cfg->n_ids++;
    update_all_schemes(cfg);
    return (int)cfg->n_ids - 1;
}

static int add_identity(pqify_tls_config *cfg, const char *chain, size_t chain_len, const char *key,
                        size_t key_len, const pqify_tls_signer *signer, const char *chain_path,
                        const char *key_path)
{
    tls_identity id;
    memset(&id, 0, sizeof id);
    int ret = load_identity(cfg, &id, chain, chain_len, key, key_len, signer, chain_path, key_path);
    if (ret == 0)
        ret = add_loaded_identity(cfg, &id);
    if (ret < 0)
        free_identity(&id);
    else
        tls_zeroize(&id, sizeof id);   /* now owned by cfg->ids */
    return ret;
}

int pqify_tls_config_add_identity(pqify_tls_config *cfg, const char *chain_pem, size_t chain_len,
                                  const char *key_pem, size_t key_len,
                                  const pqify_tls_signer *signer)
{
    if (cfg == NULL || chain_pem == NULL || chain_len >= INT32_MAX || key_len >= INT32_MAX ||
        (key_pem == NULL) == (signer == NULL) || (signer != NULL && !signer_ok(signer)))
        return PQIFY_TLS_ERR_ARG;
    cfg->err_detail[0] = 0;
    return add_identity(cfg, chain_pem, chain_len, key_pem, key_len, signer, NULL, NULL);
}

int pqify_tls_config_add_identity_files(pqify_tls_config *cfg, const char *chain_path,
                                        const char *key_path, const pqify_tls_signer *signer)
{
    int ret = 0;
    char *chain = NULL, *key = NULL;
    size_t chain_len = 0, key_len = 0;
    if (cfg == NULL || chain_path == NULL || (key_path == NULL) == (signer == NULL) ||
        (signer != NULL && !signer_ok(signer)))
        return PQIFY_TLS_ERR_ARG;
    cfg->err_detail[0] = 0;
    TRY(read_file(cfg, chain_path, &chain, &chain_len));
    if (key_path != NULL)
        TRY(read_file(cfg, key_path, &key, &key_len));
    ret = add_identity(cfg, chain, chain_len, key, key_len, signer, chain_path, key_path);
out:
    free(chain);
    tls_zeroize(key, key_len);
    free(key);
    return ret;
}

size_t pqify_tls_config_identities(const pqify_tls_config *cfg)
{
    return cfg == NULL ? 0 : cfg->n_ids;
}

int pqify_tls_config_set_ca_pem(pqify_tls_config *cfg, const char *pem, size_t len)
{
    int ret = 0;
    BIO *bio = NULL;
    X509 *x = NULL;
    X509_STORE *store = NULL;
    size_t n = 0;
    ENSURE(cfg != NULL && pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    cfg->err_detail[0] = 0;
    store = X509_STORE_new();
    bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE(store != NULL && bio != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, x) != 1) {
            ret = config_error(cfg, "CA certificate %zu cannot be added to the trust store", n + 1);
            goto out;
        }
        X509_free(x);
        x = NULL;
        n++;
    }
    if (n == 0) {
        ret = config_error(cfg, "no PEM CA certificate in it (want -----BEGIN CERTIFICATE-----)");
        goto out;
    }
    X509_STORE_free(cfg->store);
    cfg->store = store;
    store = NULL;
    cfg->have_ca = 1;
out:
    X509_free(x);
    X509_STORE_free(store);
    BIO_free(bio);
    return ret;
}

int pqify_tls_config_set_ca_file(pqify_tls_config *cfg, const char *path)
{
    return cfg == NULL || path == NULL ? PQIFY_TLS_ERR_ARG
                                       : with_file(cfg, path, pqify_tls_config_set_ca_pem);
}

void pqify_tls_config_set_require_client_cert(pqify_tls_config *cfg, int require)
{
    if (cfg != NULL)
        cfg->require_client_cert = require != 0;
}

void pqify_tls_config_set_verify_peer(pqify_tls_config *cfg, int verify)
{
    if (cfg != NULL)
        cfg->verify_peer = verify != 0;
}

int pqify_tls_pq_mode_parse(const char *word, pqify_pq_mode *mode)
{
    if (word == NULL || mode == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (strcasecmp(word, "preferred") == 0)
        *mode = PQIFY_PQ_PREFERRED;
    else if (strcasecmp(word, "required") == 0)
        *mode = PQIFY_PQ_REQUIRED;
    else if (strcasecmp(word, "off") == 0)
        *mode = PQIFY_PQ_OFF;
    else
        return PQIFY_TLS_ERR_ARG;
    return 0;
}

const char *pqify_tls_pq_mode_name(pqify_pq_mode mode)
{
    switch (mode) {
    case PQIFY_PQ_PREFERRED: return "preferred";
    case PQIFY_PQ_REQUIRED: return "required";
    case PQIFY_PQ_OFF: return "off";
    }
    return "unknown";
}

int pqify_tls_config_set_pq(pqify_tls_config *cfg, pqify_pq_mode mode)
{
    if (cfg == NULL || (mode != PQIFY_PQ_PREFERRED && mode != PQIFY_PQ_REQUIRED && mode != PQIFY_PQ_OFF))
        return PQIFY_TLS_ERR_ARG;
    cfg->pq = mode;
    return 0;
}

/* Split "a,b,c" and call each(name, len) for every non-empty item. */
static int split_list(const char *list, int (*each)(void *, const char *, size_t), void *ctx)
{
    int ret = 0;
    const char *p = list;
    while (*p != 0) {
        const char *e = strchr(p, ',');
        size_t n = e == NULL ? strlen(p) : (size_t)(e - p);
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0)
            TRY(each(ctx, p, n));
        if (e == NULL)
            break;
        p = e + 1;
    }
out:
    return ret;
}

static int add_group(void *ctx, const char *name, size_t n)
{
    pqify_tls_config *cfg = ctx;
    char tmp[64];
    if (n >= sizeof tmp || cfg->n_override_groups >= TLS_MAX_GROUPS)
        return PQIFY_TLS_ERR_CONFIG;
    memcpy(tmp, name, n);
    tmp[n] = 0;
    int id = pqify_tls_group_id(tmp);
    if (id < 0)
        return PQIFY_TLS_ERR_CONFIG;
    for (size_t i = 0; i < cfg->n_override_groups; i++)
        if (cfg->override_groups[i] == id)
            return 0;
    cfg->override_groups[cfg->n_override_groups++] = (uint16_t)id;
    return 0;
}

int pqify_tls_config_set_groups(pqify_tls_config *cfg, const char *names)
{
    if (cfg == NULL)
        return PQIFY_TLS_ERR_ARG;
    cfg->n_override_groups = 0;
    if (names == NULL)
        return 0;
    int ret = split_list(names, add_group, cfg);
    if (ret < 0)
        cfg->n_override_groups = 0;
    return ret;
}

static int add_alpn(void *ctx, const char *name, size_t n)
{
    pqify_tls_config *cfg = ctx;
    if (n > 255 || cfg->alpn_len + 1 + n > sizeof cfg->alpn)
        return PQIFY_TLS_ERR_CONFIG;
    cfg->alpn[cfg->alpn_len++] = (uint8_t)n;
    memcpy(cfg->alpn + cfg->alpn_len, name, n);
    cfg->alpn_len += n;
    return 0;
}

int pqify_tls_config_set_alpn(pqify_tls_config *cfg, const char *list)
{
    if (cfg == NULL)
        return PQIFY_TLS_ERR_ARG;
    cfg->alpn_len = 0;
    if (list == NULL)
        return 0;
    int ret = split_list(list, add_alpn, cfg);
    if (ret < 0)
        cfg->alpn_len = 0;
    return ret;
}

int pqify_tls_config_set_server_name(pqify_tls_config *cfg, const char *name)
{
    if (cfg == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (name == NULL) {
        cfg->server_name[0] = 0;
        return 0;
    }
    size_t n = strlen(name);
    if (n >= sizeof cfg->server_name)
        return PQIFY_TLS_ERR_CONFIG;
    memcpy(cfg->server_name, name, n + 1);
    return 0;
}

static int add_cipher(void *ctx, const char *name, size_t n)
{
    pqify_tls_config *cfg = ctx;
    static const uint16_t ids[] = {0x1301, 0x1302, 0x1303};
    for (size_t i = 0; i < 3; i++) {
        const char *s = pqify_tls_cipher_name(ids[i]);
        if (strlen(s) == n && strncasecmp(s, name, n) == 0) {
            for (size_t j = 0; j < cfg->n_ciphers; j++)
                if (cfg->ciphers[j] == ids[i])
                    return 0;
            cfg->ciphers[cfg->n_ciphers++] = ids[i];
            return 0;
        }
    }
    return PQIFY_TLS_ERR_CONFIG;
}

int pqify_tls_config_set_ciphers(pqify_tls_config *cfg, const char *list)
{
    if (cfg == NULL)
        return PQIFY_TLS_ERR_ARG;
    if (list == NULL || *list == 0) {
        cfg->ciphers[0] = 0x1301;
        cfg->ciphers[1] = 0x1302;
        cfg->ciphers[2] = 0x1303;
        cfg->n_ciphers = 3;
        return 0;
    }
    cfg->n_ciphers = 0;
    int ret = split_list(list, add_cipher, cfg);
    if (ret == 0 && cfg->n_ciphers == 0)
        ret = PQIFY_TLS_ERR_CONFIG;
    if (ret < 0 && pqify_tls_config_set_ciphers(cfg, NULL) < 0)
        ret = PQIFY_TLS_ERR_INTERNAL;
    return ret;
}

static int mode_allows(pqify_pq_mode mode, uint16_t id)
{
    int pq = pqify_tls_group_is_pq(id);
    return mode == PQIFY_PQ_PREFERRED || (mode == PQIFY_PQ_REQUIRED ? pq : !pq);
}

size_t tls_config_groups(const pqify_tls_config *cfg, uint16_t *ids, size_t max)
{
    const uint16_t *src = cfg->n_override_groups ? cfg->override_groups : default_groups;
    size_t n_src = cfg->n_override_groups ? cfg->n_override_groups
                                          : sizeof default_groups / sizeof default_groups[0];
    size_t n = 0;
    for (size_t i = 0; i < n_src && n < max; i++)
        if (mode_allows(cfg->pq, src[i]))
            ids[n++] = src[i];
    return n;
}

/*
 * DESIGN.md "The post-quantum switch": preferred sends the first (PQ) group and the
 * first classical one, so a classical server needs no HelloRetryRequest.
 */
size_t tls_config_share_groups(const pqify_tls_config *cfg, uint16_t *ids, size_t max)
{
    uint16_t all[TLS_MAX_GROUPS];
    size_t n_all = tls_config_groups(cfg, all, TLS_MAX_GROUPS), n = 0;
    if (n_all == 0 || max == 0)
        return 0;
    ids[n++] = all[0];
    if (cfg->pq == PQIFY_PQ_PREFERRED && pqify_tls_group_is_pq(all[0]) && max > 1)
        for (size_t i = 1; i < n_all; i++)
            if (!pqify_tls_group_is_pq(all[i])) {
                ids[n++] = all[i];
                break;
            }
    return n;
}

int pqify_tls_config_set_tickets(pqify_tls_config *cfg, unsigned n)
{
    if (cfg == NULL || n > 16)
        return PQIFY_TLS_ERR_ARG;
    cfg->tickets = n;
    return 0;
}

int pqify_tls_config_set_ticket_lifetime(pqify_tls_config *cfg, uint32_t seconds)
{
    /* §4.6.1: ticket_lifetime MUST NOT exceed 604800 seconds (7 days) */
    if (cfg == NULL || seconds == 0 || seconds > 604800)
        return PQIFY_TLS_ERR_ARG;
    cfg->ticket_lifetime_s = seconds;
    return 0;
}

int pqify_tls_config_set_ticket_rotation(pqify_tls_config *cfg, uint32_t seconds)
{
    if (cfg == NULL || seconds == 0)
        return PQIFY_TLS_ERR_ARG;
    cfg->ticket_rotation_s = seconds;
    return 0;
}

int pqify_tls_config_set_ticket_secret(pqify_tls_config *cfg, const uint8_t *secret, size_t len)
{
    if (cfg == NULL || secret == NULL || len != sizeof cfg->ticket_secret)
        return PQIFY_TLS_ERR_ARG;
    memcpy(cfg->ticket_secret, secret, len);
    return 0;
}

void pqify_tls_config_set_clock(pqify_tls_config *cfg, uint64_t (*now_ms)(void *ctx), void *ctx)
{
    if (cfg == NULL)
        return;
    cfg->clock = now_ms;
    cfg->clock_ctx = ctx;
}

uint64_t tls_config_now_ms(const pqify_tls_config *cfg)
{
    if (cfg->clock != NULL)
        return cfg->clock(cfg->clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
