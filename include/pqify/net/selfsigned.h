/*
 * A throwaway identity made in the process (libcrypto): a self-signed ECDSA P-256
 * certificate and its key as PEM, for in-memory pairs (`pqify demo`, the bench,
 * tests). Never a production identity: it is valid for one day and chains to
 * nothing.
 */
#ifndef PQIFY_NET_SELFSIGNED_H
#define PQIFY_NET_SELFSIGNED_H

#ifdef __cplusplus
extern "C" {
#endif

/* cn: the subject's common name. *cert_pem and *key_pem are malloc'd strings the
 * caller frees (the key's after wiping it); 0, or -1 with both NULL. */
int pqify_selfsigned_p256(const char *cn, char **cert_pem, char **key_pem);

#ifdef __cplusplus
}
#endif
#endif
