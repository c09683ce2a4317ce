/*
 * pqify.so, the OpenSSL 3 provider: internal types shared by its files.
 *
 * An algorithm is one KEM part (pqify's ML-KEM) and at most one ECDH part
 * (libcrypto's X25519, P-256 or P-384), concatenated in wire order without length
 * prefixes (DESIGN.md "Groups"): the public key, the ciphertext and the shared
 * secret all put the parts in the same order. Nothing here includes src/tls or
 * libssl: only the kem layer and libcrypto.
 */
#ifndef PQIFY_PROVIDER_H
#define PQIFY_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "pqify/kem.h"

/* ---- errors: 0 or a negative code, turned into an OpenSSL error at the boundary ---- */
#define PQP_OK 0
#define PQP_ERR_LENGTH (-1)    /* a public key, private key or ciphertext of the wrong size */
#define PQP_ERR_EK (-2)        /* FIPS 203 §7.2 modulus check failed */
#define PQP_ERR_POINT (-3)     /* a P-256/P-384 point not uncompressed or not on the curve */
#define PQP_ERR_X25519 (-4)    /* an X25519 value of small order: the secret would be zero */
#define PQP_ERR_NO_KEY (-5)    /* the key has no public (or private) half for this operation */
#define PQP_ERR_RNG (-6)
#define PQP_ERR_LIBCRYPTO (-7) /* libcrypto failed (memory, or an internal error) */

#define PQP_TRY(expr)                                                                         \
    do {                                                                                      \
        if ((ret = (expr)) < 0)                                                               \
            goto out;                                                                         \
    } while (0)
#define PQP_ENSURE(cond, err)                                                                 \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            ret = (err);                                                                      \
            goto out;                                                                         \
        }                                                                                     \
    } while (0)

/* Raises an OpenSSL error (ERR_LIB_PROV) saying in words what failed; returns 0. */
int pqp_raise(int err, const char *alg);

/* ---- the ECDH halves (ecdh.c) ---- */
enum pqp_curve { PQP_NO_CURVE = -1, PQP_X25519 = 0, PQP_P256, PQP_P384, PQP_N_CURVES };

#define PQP_MAX_POINT 97   /* P-384 uncompressed */
#define PQP_MAX_ECDH_PRIV 48
#define PQP_MAX_ECDH_SECRET 48

size_t pqp_curve_point_len(enum pqp_curve c);  /* 32, 65, 97 */
size_t pqp_curve_priv_len(enum pqp_curve c);   /* 32, 32, 48 */
size_t pqp_curve_secret_len(enum pqp_curve c); /* 32, 32, 48 */

/* The checks a received public value must pass (DESIGN.md "Groups"): exact length;
 * P-256/P-384 uncompressed and on the curve; X25519 not of small order (RFC 7748
 * §6.1: exactly the values whose shared secret is all zero). */
int pqp_ecdh_check_public(enum pqp_curve c, const uint8_t *pub, size_t len);

/* A fresh key pair: *key (caller frees), its public value and its private scalar. */
int pqp_ecdh_keypair(enum pqp_curve c, EVP_PKEY **key, uint8_t *pub, uint8_t *priv);

/* A key object from a private scalar (and its public value, which is kept as given). */
int pqp_ecdh_from_private(enum pqp_curve c, const uint8_t *priv, const uint8_t *pub,
                          EVP_PKEY **key);

/* secret = ECDH(mine, peer's public value); the peer value is checked first. */
int pqp_ecdh_derive(enum pqp_curve c, EVP_PKEY *mine, const uint8_t *peer_pub, uint8_t *secret);

/* Frees the calling thread's cached libcrypto contexts. */
void pqp_ecdh_thread_cleanup(void);

/* ---- the algorithms (algs.c) ---- */
typedef struct pqp_alg {
    const char *name;        /* the algorithm (keymgmt and KEM) name */
    const char *names;       /* every name OpenSSL knows it by, ':'-separated */
    const pqify_kem *kem;
    enum pqp_curve curve;    /* PQP_NO_CURVE: ML-KEM alone */
    int ecdh_first;          /* 1: the ECDH part comes first on the wire */
    unsigned secbits;
    uint16_t group_id;       /* IANA TLS NamedGroup */
    const char *group_name;  /* TLS group name, as OpenSSL 3.5 and IANA spell it */
} pqp_alg;

/* OSSL_ALGORITHM wants constant names: pqp_algs[] and the tables use these. The
 * order of pqp_algs[] is the order of the keymgmt and KEM tables. */
#define PQP_NAMES_X25519MLKEM768 "X25519MLKEM768"
#define PQP_NAMES_SECP256R1MLKEM768 "SecP256r1MLKEM768"
#define PQP_NAMES_SECP384R1MLKEM1024 "SecP384r1MLKEM1024"
#define PQP_NAMES_MLKEM512 "ML-KEM-512:MLKEM512:id-alg-ml-kem-512:2.16.840.1.101.3.4.4.1"
#define PQP_NAMES_MLKEM768 "ML-KEM-768:MLKEM768:id-alg-ml-kem-768:2.16.840.1.101.3.4.4.2"
#define PQP_NAMES_MLKEM1024 "ML-KEM-1024:MLKEM1024:id-alg-ml-kem-1024:2.16.840.1.101.3.4.4.3"

extern const pqp_alg pqp_algs[];
extern const size_t pqp_n_algs;

size_t pqp_alg_pub_len(const pqp_alg *a);    /* client share */
size_t pqp_alg_ct_len(const pqp_alg *a);     /* server share */
size_t pqp_alg_priv_len(const pqp_alg *a);   /* ML-KEM dk and ECDH scalar, wire order */
size_t pqp_alg_secret_len(const pqp_alg *a);
/* offsets of the KEM and ECDH parts within a public key / ciphertext / secret */
size_t pqp_alg_kem_at(const pqp_alg *a, size_t ecdh_len);
size_t pqp_alg_ecdh_at(const pqp_alg *a, size_t kem_len);

#define PQP_MAX_PUB (PQP_MAX_POINT + PQIFY_MLKEM1024_EK_BYTES)
#define PQP_MAX_DK PQIFY_MLKEM1024_DK_BYTES

/* ---- keys (keymgmt.c) ---- */
typedef struct pqp_key {
    const pqp_alg *alg;
    int has_pub, has_priv;
    uint8_t pub[PQP_MAX_PUB];        /* the encoded public key, wire order */
    uint8_t dk[PQP_MAX_DK];          /* ML-KEM decapsulation key (secret) */
    uint8_t ecdh_priv[PQP_MAX_ECDH_PRIV]; /* the ECDH scalar (secret) */
    EVP_PKEY *ecdh;                  /* my ECDH key, when has_priv */
} pqp_key;

extern const OSSL_ALGORITHM pqp_keymgmt_algorithms[];
extern const OSSL_ALGORITHM pqp_kem_algorithms[];
extern const OSSL_DISPATCH pqp_kem_functions[];

#endif
