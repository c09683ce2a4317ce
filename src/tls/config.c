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
    if (RAND_bytes(cfg->ticket_secret, sizeof cfg->ticket_secret) != 1) {
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

static void free_chain(pqify_tls_config *cfg)
{
    /* i2d_X509 allocated them: libcrypto's allocator, which an application may
     * have replaced (CRYPTO_set_mem_functions) */
    for (size_t i = 0; i < cfg->n_certs; i++)
        OPENSSL_free(cfg->cert_der[i]);
    cfg->n_certs = 0;
    X509_free(cfg->leaf);
    cfg->leaf = NULL;
}

void pqify_tls_config_free(pqify_tls_config *cfg)
{
    if (cfg == NULL)
        return;
    free_chain(cfg);
    EVP_PKEY_CTX_free(cfg->ecdsa_sign);
    EVP_PKEY_free(cfg->key);   /* libcrypto cleanses private key material */
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
        if (ret == PQIFY_TLS_ERR_CONFIG) {
            /* name the file in front of what the loader said */
            char words[sizeof cfg->err_detail];
            snprintf(words, sizeof words, "%s", cfg->err_detail);
            (void)config_error(cfg, "%s: %s", path, words);
        }
    }
    return ret;
}

static int check_key_matches(pqify_tls_config *cfg)
{
    if (cfg->leaf != NULL && cfg->key != NULL && X509_check_private_key(cfg->leaf, cfg->key) != 1) {
        ERR_clear_error();
        return config_error(cfg, "the private key does not match the certificate's public key "
                                 "(a key and certificate from different pairs)");
    }
    return 0;
}

int pqify_tls_config_set_cert_chain_pem(pqify_tls_config *cfg, const char *pem, size_t len)
{
    int ret = 0;
    X509 *x = NULL;
    BIO *bio = NULL;
    ENSURE(cfg != NULL && pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    cfg->err_detail[0] = 0;
    free_chain(cfg);
    bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE(bio != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (cfg->n_certs == TLS_MAX_CERTS) {
            ret = config_error(cfg, "the certificate chain has more than %d certificates "
                                    "(leaf and intermediates; leave the root out)", TLS_MAX_CERTS);
            goto out;
        }
        uint8_t *der = NULL;
        int n = i2d_X509(x, &der);
        if (n <= 0) {
            ret = config_error(cfg, "certificate %zu of the chain cannot be encoded", cfg->n_certs + 1);
            goto out;
        }
        cfg->cert_der[cfg->n_certs] = der;
        cfg->cert_der_len[cfg->n_certs] = (size_t)n;
        cfg->n_certs++;
        if (cfg->leaf == NULL) {
            cfg->leaf = x;
            x = NULL;
        }
        X509_free(x);
        x = NULL;
    }
    if (cfg->n_certs == 0) {
        ret = config_error(cfg, "no PEM certificate in it (want -----BEGIN CERTIFICATE-----)");
        goto out;
    }
    TRY(check_key_matches(cfg));
out:
    X509_free(x);
    BIO_free(bio);
    ERR_clear_error();
    if (ret < 0 && cfg != NULL)
        free_chain(cfg);
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
    BIO *bio = NULL;
    ENSURE(cfg != NULL && pem != NULL && len < INT32_MAX, PQIFY_TLS_ERR_ARG);
    cfg->err_detail[0] = 0;
    bio = BIO_new_mem_buf(pem, (int)len);
    ENSURE(bio != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL) {
        ret = config_error(cfg, "no readable PEM private key in it (an encrypted key needs "
                                "decrypting first: openssl pkey -in KEY -out PLAIN)");
        goto out;
    }
    EVP_PKEY_CTX_free(cfg->ecdsa_sign);
    cfg->ecdsa_sign = NULL;
    EVP_PKEY_free(cfg->key);
    cfg->key = key;
    memset(cfg->key_schemes, 0, sizeof cfg->key_schemes);
    if (tls_schemes_for_key(key, cfg->key_schemes, TLS_MAX_KEY_SCHEMES) == 0) {
        char why[300];
        tls_key_unusable_reason(key, why, sizeof why);
        ret = config_error(cfg, "the private key cannot sign TLS 1.3: %s", why);
        goto out;
    }
    /* NULL (also on failure) only means the general path signs */
    cfg->ecdsa_sign = tls_ecdsa_sign_template(key);
    TRY(check_key_matches(cfg));
out:
    BIO_free(bio);
    ERR_clear_error();
    return ret;
}

int pqify_tls_config_set_key_file(pqify_tls_config *cfg, const char *path)
{
    return cfg == NULL || path == NULL ? PQIFY_TLS_ERR_ARG
                                       : with_file(cfg, path, pqify_tls_config_set_key_pem);
}

int pqify_tls_config_set_signer(pqify_tls_config *cfg, const pqify_tls_signer *signer)
{
    if (cfg == NULL || signer == NULL || signer->sign == NULL || signer->n_schemes == 0)
        return PQIFY_TLS_ERR_ARG;
    cfg->signer = *signer;
    cfg->have_signer = 1;
    return 0;
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
