/*
 * KEM halves of key exchange: ML-KEM (FIPS 203) and round-3 Kyber through pqify_kem.
 * A handshake has one randomness source, libcrypto's RAND_bytes (also ECDH keys,
 * randoms, cookies): the KEM's _derand entry points take its coins, and the kem
 * layer's own getrandom(2) is not used here.
 */
#include <openssl/rand.h>

#include "internal.h"

static int kem_client_share(const tls_kx_part *p, tls_group_state *st, uint8_t *share)
{
    uint8_t seed[PQIFY_KEM_SEED_BYTES];   /* ML-KEM d || z; Kyber's keypair coins */
    int r = RAND_bytes(seed, sizeof seed) == 1 ? p->kem->keypair_derand(share, st->dk, seed)
                                                : PQIFY_ERR_RNG;
    tls_zeroize(seed, sizeof seed);
    if (r < 0)
        return r == PQIFY_ERR_RNG ? PQIFY_TLS_ERR_RNG : PQIFY_TLS_ERR_INTERNAL;
    st->dk_len = p->kem->dk_bytes;
    return 0;
}

static int kem_server_exchange(const tls_kx_part *p, const uint8_t *client_share,
                               uint8_t *server_share, uint8_t *secret)
{
    uint8_t m[PQIFY_KEM_MSG_BYTES];   /* FIPS 203 Alg. 17's m; Kyber's encaps coins */
    int r = RAND_bytes(m, sizeof m) == 1
                ? p->kem->encaps_derand(server_share, secret, client_share, m)
                : PQIFY_ERR_RNG;
    tls_zeroize(m, sizeof m);
    /* FIPS 203 §7.2 modulus check failed: DESIGN.md asks for illegal_parameter */
    if (r == PQIFY_ERR_INVALID_EK)
        return PQIFY_TLS_ERR_BAD_EK;
    if (r < 0) {
        tls_zeroize(secret, PQIFY_KEM_SS_BYTES);
        return r == PQIFY_ERR_RNG ? PQIFY_TLS_ERR_RNG : PQIFY_TLS_ERR_INTERNAL;
    }
    return 0;
}

static int kem_client_finish(const tls_kx_part *p, tls_group_state *st, const uint8_t *server_share,
                             uint8_t *secret)
{
    if (st->dk_len != p->kem->dk_bytes)
        return PQIFY_TLS_ERR_INTERNAL;
    /* a bad ciphertext of the right length is not an error: implicit rejection */
    int r = pqify_kem_decaps(p->kem, secret, PQIFY_KEM_SS_BYTES, server_share, p->kem->ct_bytes,
                             st->dk, st->dk_len);
    return r < 0 ? PQIFY_TLS_ERR_INTERNAL : 0;
}

#define KEM_PART(var, nm, k, ek, ct)                                                          \
    const tls_kx_part var = {nm,   ek, ct, PQIFY_KEM_SS_BYTES, NULL, &k, kem_client_share,    \
                             kem_server_exchange, kem_client_finish}

KEM_PART(tls_part_mlkem512, "ML-KEM-512", pqify_kem_mlkem512, PQIFY_MLKEM512_EK_BYTES,
         PQIFY_MLKEM512_CT_BYTES);
KEM_PART(tls_part_mlkem768, "ML-KEM-768", pqify_kem_mlkem768, PQIFY_MLKEM768_EK_BYTES,
         PQIFY_MLKEM768_CT_BYTES);
KEM_PART(tls_part_mlkem1024, "ML-KEM-1024", pqify_kem_mlkem1024, PQIFY_MLKEM1024_EK_BYTES,
         PQIFY_MLKEM1024_CT_BYTES);
KEM_PART(tls_part_kyber512, "Kyber512", pqify_kem_kyber512, PQIFY_KYBER512_PK_BYTES,
         PQIFY_KYBER512_CT_BYTES);
KEM_PART(tls_part_kyber768, "Kyber768", pqify_kem_kyber768, PQIFY_KYBER768_PK_BYTES,
         PQIFY_KYBER768_CT_BYTES);
