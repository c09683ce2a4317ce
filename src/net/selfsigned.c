/* A self-signed P-256 identity made in the process (include/pqify/net/selfsigned.h). */
#include "pqify/net/selfsigned.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static char *bio_to_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

int pqify_selfsigned_p256(const char *cn, char **cert_pem, char **key_pem)
{
    int ok = 0;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = NULL;
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    *cert_pem = *key_pem = NULL;
    if (key == NULL || x == NULL || cb == NULL || kb == NULL)
        goto out;
    name = X509_get_subject_name(x);
    /* RFC 5280 §4.1: v3, a serial, an hour of clock skew allowed, a day of life */
    if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    if (PEM_write_bio_X509(cb, x) != 1 ||
        PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    *cert_pem = bio_to_string(cb);
    *key_pem = bio_to_string(kb);
    ok = *cert_pem != NULL && *key_pem != NULL;
out:
    if (!ok) {
        free(*cert_pem);
        if (*key_pem != NULL)
            OPENSSL_cleanse(*key_pem, strlen(*key_pem));
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}
