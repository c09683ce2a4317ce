/*
 * The provider's algorithms and TLS groups (DESIGN.md "Groups"). The names are
 * OpenSSL 3.5's, so that configuration written for 3.5 works on 3.0 with pqify.so.
 */
#include <openssl/err.h>
#include <openssl/proverr.h>

#include "provider.h"

const pqp_alg pqp_algs[] = {
    /* draft-ietf-tls-ecdhe-mlkem §3: X25519MLKEM768 puts ML-KEM first, the others ECDH */
    {"X25519MLKEM768", PQP_NAMES_X25519MLKEM768, &pqify_kem_mlkem768, PQP_X25519, 0, 192, 0x11EC,
     "X25519MLKEM768"},
    {"SecP256r1MLKEM768", PQP_NAMES_SECP256R1MLKEM768, &pqify_kem_mlkem768, PQP_P256, 1, 192, 0x11EB,
     "SecP256r1MLKEM768"},
    {"SecP384r1MLKEM1024", PQP_NAMES_SECP384R1MLKEM1024, &pqify_kem_mlkem1024, PQP_P384, 1, 256, 0x11ED,
     "SecP384r1MLKEM1024"},
    /* draft-connolly-tls-mlkem-key-agreement: ML-KEM alone */
    {"ML-KEM-512", PQP_NAMES_MLKEM512,
     &pqify_kem_mlkem512, PQP_NO_CURVE, 0, 128, 0x0200, "MLKEM512"},
    {"ML-KEM-768", PQP_NAMES_MLKEM768,
     &pqify_kem_mlkem768, PQP_NO_CURVE, 0, 192, 0x0201, "MLKEM768"},
    {"ML-KEM-1024", PQP_NAMES_MLKEM1024,
     &pqify_kem_mlkem1024, PQP_NO_CURVE, 0, 256, 0x0202, "MLKEM1024"},
};
const size_t pqp_n_algs = sizeof pqp_algs / sizeof pqp_algs[0];

static size_t point_len(const pqp_alg *a)
{
    return a->curve == PQP_NO_CURVE ? 0 : pqp_curve_point_len(a->curve);
}

size_t pqp_alg_pub_len(const pqp_alg *a)
{
    return a->kem->ek_bytes + point_len(a);
}

/* ECDH's "ciphertext" is the ephemeral public value: the same length as the share */
size_t pqp_alg_ct_len(const pqp_alg *a)
{
    return a->kem->ct_bytes + point_len(a);
}

size_t pqp_alg_priv_len(const pqp_alg *a)
{
    return a->kem->dk_bytes + (a->curve == PQP_NO_CURVE ? 0 : pqp_curve_priv_len(a->curve));
}

size_t pqp_alg_secret_len(const pqp_alg *a)
{
    return a->kem->ss_bytes + (a->curve == PQP_NO_CURVE ? 0 : pqp_curve_secret_len(a->curve));
}

size_t pqp_alg_kem_at(const pqp_alg *a, size_t ecdh_len)
{
    return a->ecdh_first ? ecdh_len : 0;
}

size_t pqp_alg_ecdh_at(const pqp_alg *a, size_t kem_len)
{
    return a->ecdh_first ? 0 : kem_len;
}

int pqp_raise(int err, const char *alg)
{
    switch (err) {
    case PQP_ERR_LENGTH:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_KEY_LENGTH, "pqify %s: wrong length", alg);
        break;
    case PQP_ERR_EK:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_KEY,
                       "pqify %s: ML-KEM key fails the FIPS 203 modulus check", alg);
        break;
    case PQP_ERR_POINT:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_KEY,
                       "pqify %s: EC point not uncompressed or not on the curve", alg);
        break;
    case PQP_ERR_X25519:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_INVALID_KEY,
                       "pqify %s: X25519 value of small order (all-zero secret)", alg);
        break;
    case PQP_ERR_NO_KEY:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_MISSING_KEY, "pqify %s: key half missing", alg);
        break;
    case PQP_ERR_RNG:
        ERR_raise_data(ERR_LIB_PROV, PROV_R_FAILED_TO_GENERATE_KEY,
                       "pqify %s: the random number generator failed", alg);
        break;
    default:
        ERR_raise_data(ERR_LIB_PROV, ERR_R_INTERNAL_ERROR, "pqify %s: libcrypto failed", alg);
        break;
    }
    return 0;
}
