/* Certificate chain and name checks through libcrypto's X509 store (RFC 5280, RFC 6125). */
#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "internal.h"

int tls_is_ip_literal(const char *name)
{
    uint8_t tmp[16];
    return inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;
}

static int map_verify_error(int e)
{
    switch (e) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return PQIFY_TLS_ERR_CERT_EXPIRED;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return PQIFY_TLS_ERR_CERT_NAME;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return PQIFY_TLS_ERR_UNKNOWN_CA;
    default:
        return PQIFY_TLS_ERR_BAD_CERT;
    }
}

/* The system trust store, loaded once per process for clients without a CA file. */
static X509_STORE *system_store;
static pthread_once_t system_once = PTHREAD_ONCE_INIT;

static void load_system_store(void)
{
    X509_STORE *s = X509_STORE_new();
    if (s != NULL && X509_STORE_set_default_paths(s) != 1) {
        X509_STORE_free(s);
        s = NULL;
    }
    system_store = s;
}

int tls_x509_verify(const pqify_tls_config *cfg, STACK_OF(X509) *chain, const char *name,
                    int peer_is_server)
{
    int ret = 0;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = cfg->store;
    ENSURE(sk_X509_num(chain) > 0, PQIFY_TLS_ERR_BAD_CERT);
    if (store == NULL) {
        /* a client with no CA configured trusts the system store */
        ENSURE(pthread_once(&system_once, load_system_store) == 0 && system_store != NULL,
               PQIFY_TLS_ERR_INTERNAL);
        store = system_store;
    }
    untrusted = sk_X509_new_null();
    ctx = X509_STORE_CTX_new();
    ENSURE(untrusted != NULL && ctx != NULL, PQIFY_TLS_ERR_NO_MEMORY);
    for (int i = 1; i < sk_X509_num(chain); i++)
        ENSURE(sk_X509_push(untrusted, sk_X509_value(chain, i)) > 0, PQIFY_TLS_ERR_NO_MEMORY);
    ENSURE(X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    ENSURE(X509_STORE_CTX_set_purpose(ctx, peer_is_server ? X509_PURPOSE_SSL_SERVER
                                                          : X509_PURPOSE_SSL_CLIENT) == 1,
           PQIFY_TLS_ERR_INTERNAL);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    if (name != NULL && name[0] != 0) {
        if (tls_is_ip_literal(name))
            ENSURE(X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1, PQIFY_TLS_ERR_INTERNAL);
        else
            ENSURE(X509_VERIFY_PARAM_set1_host(param, name, 0) == 1, PQIFY_TLS_ERR_INTERNAL);
    }
    if (X509_verify_cert(ctx) != 1)
        ret = map_verify_error(X509_STORE_CTX_get_error(ctx));
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    return ret;
}
