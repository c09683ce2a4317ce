/*
 * K-PKE (FIPS 203 §5) for all parameter sets at run time, shared by ML-KEM
 * and round-3 Kyber: the two differ only in the FO wrapper (kem.c) and in
 * what seeds K-PKE.KeyGen's G.
 */
#ifndef PQIFY_KEM_KPKE_H
#define PQIFY_KEM_KPKE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    unsigned k, eta1, eta2, du, dv;
    size_t ek_bytes;  /* 384k + 32 */
    size_t dk_bytes;  /* KEM dk: 768k + 96 */
    size_t ct_bytes;  /* 32 (du k + dv) */
} pqify_kpke_params;

extern const pqify_kpke_params pqify_params512, pqify_params768, pqify_params1024;

/*
 * (rho, sigma) = G(g_in). ML-KEM passes d || k (33 bytes, Alg. 13 line 1);
 * round-3 Kyber passes the 32-byte seed alone. Writes ek (384k+32 bytes) and
 * the K-PKE dk (384k bytes).
 */
void pqify_kpke_keygen(const pqify_kpke_params *p, uint8_t *ek, uint8_t *dk_pke,
                       const uint8_t *g_in, size_t g_in_len);
/* FIPS 203 Alg. 14. ek must already be known to decode (see modulus check). */
void pqify_kpke_encrypt(const pqify_kpke_params *p, uint8_t *ct, const uint8_t *ek,
                        const uint8_t m[32], const uint8_t r[32]);
/* FIPS 203 Alg. 15. */
void pqify_kpke_decrypt(const pqify_kpke_params *p, uint8_t m[32], const uint8_t *dk_pke,
                        const uint8_t *ct);
/* FIPS 203 §7.2 modulus check: 1 if ByteEncode_12(ByteDecode_12(t^)) == t^. ek is public. */
int pqify_kpke_ek_ok(const pqify_kpke_params *p, const uint8_t *ek);

#endif
