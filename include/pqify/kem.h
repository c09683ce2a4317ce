/*
 * pqify KEMs: ML-KEM (FIPS 203) and round-3 Kyber.
 *
 * Callers own all memory: nothing here allocates, and nothing does I/O except
 * reading the system RNG (getrandom(2)) in the non-_derand functions.
 * Every function returns 0 or a negative PQIFY_ERR_* code.
 */
#ifndef PQIFY_KEM_H
#define PQIFY_KEM_H

#include <stddef.h>
#include <stdint.h>

#include "pqify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PQIFY_KEM_SS_BYTES 32
#define PQIFY_KEM_SEED_BYTES 64   /* keypair_derand: d || z */
#define PQIFY_KEM_MSG_BYTES 32    /* encaps_derand: m (ML-KEM) or coins (Kyber) */

/* FIPS 203 Table 3 sizes. Round-3 Kyber uses the same sizes. */
#define PQIFY_MLKEM512_EK_BYTES 800
#define PQIFY_MLKEM512_DK_BYTES 1632
#define PQIFY_MLKEM512_CT_BYTES 768
#define PQIFY_MLKEM768_EK_BYTES 1184
#define PQIFY_MLKEM768_DK_BYTES 2400
#define PQIFY_MLKEM768_CT_BYTES 1088
#define PQIFY_MLKEM1024_EK_BYTES 1568
#define PQIFY_MLKEM1024_DK_BYTES 3168
#define PQIFY_MLKEM1024_CT_BYTES 1568

#define PQIFY_KYBER512_PK_BYTES PQIFY_MLKEM512_EK_BYTES
#define PQIFY_KYBER512_SK_BYTES PQIFY_MLKEM512_DK_BYTES
#define PQIFY_KYBER512_CT_BYTES PQIFY_MLKEM512_CT_BYTES
#define PQIFY_KYBER768_PK_BYTES PQIFY_MLKEM768_EK_BYTES
#define PQIFY_KYBER768_SK_BYTES PQIFY_MLKEM768_DK_BYTES
#define PQIFY_KYBER768_CT_BYTES PQIFY_MLKEM768_CT_BYTES
#define PQIFY_KYBER1024_PK_BYTES PQIFY_MLKEM1024_EK_BYTES
#define PQIFY_KYBER1024_SK_BYTES PQIFY_MLKEM1024_DK_BYTES
#define PQIFY_KYBER1024_CT_BYTES PQIFY_MLKEM1024_CT_BYTES

#define PQIFY_DECLARE_MLKEM(N)                                                        \
    PQIFY_MUST_USE int pqify_mlkem##N##_keypair(uint8_t ek[PQIFY_MLKEM##N##_EK_BYTES],\
                                                uint8_t dk[PQIFY_MLKEM##N##_DK_BYTES]);\
    PQIFY_MUST_USE int pqify_mlkem##N##_keypair_derand(                               \
        uint8_t ek[PQIFY_MLKEM##N##_EK_BYTES], uint8_t dk[PQIFY_MLKEM##N##_DK_BYTES], \
        const uint8_t seed[PQIFY_KEM_SEED_BYTES]);                                    \
    PQIFY_MUST_USE int pqify_mlkem##N##_encaps(uint8_t ct[PQIFY_MLKEM##N##_CT_BYTES], \
                                               uint8_t ss[PQIFY_KEM_SS_BYTES],        \
                                               const uint8_t ek[PQIFY_MLKEM##N##_EK_BYTES]);\
    PQIFY_MUST_USE int pqify_mlkem##N##_encaps_derand(                                \
        uint8_t ct[PQIFY_MLKEM##N##_CT_BYTES], uint8_t ss[PQIFY_KEM_SS_BYTES],        \
        const uint8_t ek[PQIFY_MLKEM##N##_EK_BYTES], const uint8_t m[PQIFY_KEM_MSG_BYTES]);\
    PQIFY_MUST_USE int pqify_mlkem##N##_decaps(uint8_t ss[PQIFY_KEM_SS_BYTES],        \
                                               const uint8_t ct[PQIFY_MLKEM##N##_CT_BYTES],\
                                               const uint8_t dk[PQIFY_MLKEM##N##_DK_BYTES]);

#define PQIFY_DECLARE_KYBER(N)                                                        \
    PQIFY_MUST_USE int pqify_kyber##N##_keypair(uint8_t pk[PQIFY_KYBER##N##_PK_BYTES],\
                                                uint8_t sk[PQIFY_KYBER##N##_SK_BYTES]);\
    PQIFY_MUST_USE int pqify_kyber##N##_keypair_derand(                               \
        uint8_t pk[PQIFY_KYBER##N##_PK_BYTES], uint8_t sk[PQIFY_KYBER##N##_SK_BYTES], \
        const uint8_t coins[PQIFY_KEM_SEED_BYTES]);                                   \
    PQIFY_MUST_USE int pqify_kyber##N##_encaps(uint8_t ct[PQIFY_KYBER##N##_CT_BYTES], \
                                               uint8_t ss[PQIFY_KEM_SS_BYTES],        \
                                               const uint8_t pk[PQIFY_KYBER##N##_PK_BYTES]);\
    PQIFY_MUST_USE int pqify_kyber##N##_encaps_derand(                                \
        uint8_t ct[PQIFY_KYBER##N##_CT_BYTES], uint8_t ss[PQIFY_KEM_SS_BYTES],        \
        const uint8_t pk[PQIFY_KYBER##N##_PK_BYTES], const uint8_t coins[PQIFY_KEM_MSG_BYTES]);\
    PQIFY_MUST_USE int pqify_kyber##N##_decaps(uint8_t ss[PQIFY_KEM_SS_BYTES],        \
                                               const uint8_t ct[PQIFY_KYBER##N##_CT_BYTES],\
                                               const uint8_t sk[PQIFY_KYBER##N##_SK_BYTES]);

/*
 * ML-KEM: keypair_derand takes seed = d || z (FIPS 203 Alg. 16), encaps_derand
 * takes m (Alg. 17). encaps fails with PQIFY_ERR_INVALID_EK when ek fails the
 * modulus check; decaps fails with PQIFY_ERR_INVALID_DK when dk's embedded
 * hash H(ek) does not match. A bad ciphertext is not an error: decaps returns
 * the implicit-rejection key.
 * On INVALID_EK, INVALID_DK and RNG errors the shared secret output is zeroed;
 * on ARG and LENGTH errors no output is touched.
 */
PQIFY_DECLARE_MLKEM(512)
PQIFY_DECLARE_MLKEM(768)
PQIFY_DECLARE_MLKEM(1024)

/*
 * Round-3 Kyber (the 2022 deployments). The _derand inputs are exactly the bytes
 * the round-3 reference draws from randombytes(), in order: keypair 32 bytes for
 * the IND-CPA seed then 32 for z; encaps 32 bytes that it then hashes.
 */
PQIFY_DECLARE_KYBER(512)
PQIFY_DECLARE_KYBER(768)
PQIFY_DECLARE_KYBER(1024)

/* One row per KEM, for the TLS layer and the benchmarks. */
typedef struct pqify_kem {
    const char *name;        /* "ML-KEM-768", "Kyber512", ... */
    int is_mlkem;            /* 1 for FIPS 203, 0 for round-3 Kyber */
    size_t ek_bytes, dk_bytes, ct_bytes, ss_bytes;
    int (*keypair)(uint8_t *ek, uint8_t *dk);
    int (*keypair_derand)(uint8_t *ek, uint8_t *dk, const uint8_t *seed64);
    int (*encaps)(uint8_t *ct, uint8_t *ss, const uint8_t *ek);
    int (*encaps_derand)(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m32);
    int (*decaps)(uint8_t *ss, const uint8_t *ct, const uint8_t *dk);
} pqify_kem;

extern const pqify_kem pqify_kem_mlkem512, pqify_kem_mlkem768, pqify_kem_mlkem1024;
extern const pqify_kem pqify_kem_kyber512, pqify_kem_kyber768, pqify_kem_kyber1024;

/* NULL-terminated list of all six, ML-KEM first. */
extern const pqify_kem *const pqify_kems[];

/*
 * Length-checked calls through the table, for callers holding wire data (TLS).
 * Every length is checked before anything is read or written; a wrong one fails
 * with PQIFY_ERR_LENGTH. Otherwise they behave as the functions above.
 */
PQIFY_MUST_USE int pqify_kem_keypair(const pqify_kem *kem, uint8_t *ek, size_t ek_len,
                                     uint8_t *dk, size_t dk_len);
PQIFY_MUST_USE int pqify_kem_encaps(const pqify_kem *kem, uint8_t *ct, size_t ct_len,
                                    uint8_t *ss, size_t ss_len, const uint8_t *ek, size_t ek_len);
PQIFY_MUST_USE int pqify_kem_decaps(const pqify_kem *kem, uint8_t *ss, size_t ss_len,
                                    const uint8_t *ct, size_t ct_len, const uint8_t *dk, size_t dk_len);

/*
 * The input check a holder of a peer's encapsulation key makes before using it
 * (FIPS 203 §7.2: the length, then the modulus check), for callers that must
 * refuse a bad key when it arrives rather than at encapsulation (the OpenSSL
 * provider). Round-3 Kyber has no modulus check: only its length is checked.
 * Returns 0, PQIFY_ERR_ARG, PQIFY_ERR_LENGTH or PQIFY_ERR_INVALID_EK.
 */
PQIFY_MUST_USE int pqify_kem_check_ek(const pqify_kem *kem, const uint8_t *ek, size_t ek_len);

/* Look a KEM up by name ("ML-KEM-768", "mlkem768", "Kyber512", "kyber512"); NULL if unknown. */
const pqify_kem *pqify_kem_by_name(const char *name);

/* Fill buf from getrandom(2); PQIFY_ERR_RNG if the kernel cannot. */
PQIFY_MUST_USE int pqify_randombytes(uint8_t *buf, size_t len);

/* Overwrite len bytes in a way the compiler cannot remove. */
void pqify_zeroize(void *p, size_t len);

/*
 * Pick the implementation of the hot KEM routines: "portable" or "avx2".
 * The choice is made once at start-up from the environment variable
 * PQIFY_KEM_BACKEND (unknown or unavailable values leave the default, the
 * fastest available); call this only while no other thread uses the KEMs.
 * Returns PQIFY_ERR_BACKEND if the name is unknown or this CPU lacks it.
 */
PQIFY_MUST_USE int pqify_kem_set_backend(const char *name);

/* The name of the active backend ("portable", "avx2"); never NULL. */
const char *pqify_kem_backend(void);

#ifdef __cplusplus
}
#endif
#endif
