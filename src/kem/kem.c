/*
 * The KEMs on top of K-PKE: ML-KEM (FIPS 203 §6/§7, Alg. 16-18 with the
 * §7.2/§7.3 input checks) and round-3 Kyber (its CCA transform), plus the
 * public table and the length-checked calls.
 */
#include <ctype.h>
#include <string.h>

#include "ct.h"
#include "fips202.h"
#include "kpke.h"
#include "pqify/kem.h"

/* dk layout (both variants): dk_pke (384k) || ek || H(ek) || z. */
static inline const uint8_t *dk_ek(const pqify_kpke_params *p, const uint8_t *dk) { return dk + 384 * p->k; }
static inline const uint8_t *dk_h(const pqify_kpke_params *p, const uint8_t *dk) { return dk + 384 * p->k + p->ek_bytes; }
static inline const uint8_t *dk_z(const pqify_kpke_params *p, const uint8_t *dk) { return dk_h(p, dk) + 32; }

static void dk_assemble(const pqify_kpke_params *p, uint8_t *dk, const uint8_t *ek,
                        const uint8_t z[32])
{
    uint8_t *tail = dk + 384 * p->k;
    memcpy(tail, ek, p->ek_bytes);
    pqify_sha3_256(tail + p->ek_bytes, ek, p->ek_bytes);
    memcpy(tail + p->ek_bytes + 32, z, 32);
}

/* ---- ML-KEM ------------------------------------------------------------- */

/* Alg. 16: seed = d || z; K-PKE.KeyGen hashes d || k (Alg. 13 line 1). */
static int mlkem_keypair_derand(const pqify_kpke_params *p, uint8_t *ek, uint8_t *dk,
                                const uint8_t seed[64])
{
    uint8_t d_k[33];
    memcpy(d_k, seed, 32);
    d_k[32] = (uint8_t)p->k;
    pqify_kpke_keygen(p, ek, dk, d_k, sizeof d_k);
    dk_assemble(p, dk, ek, seed + 32);
    pqify_zeroize(d_k, sizeof d_k);
    return PQIFY_OK;
}

/* Alg. 17, after the §7.2 modulus check. */
static int mlkem_encaps_derand(const pqify_kpke_params *p, uint8_t *ct, uint8_t ss[32],
                               const uint8_t *ek, const uint8_t m[32])
{
    if (!pqify_kpke_ek_ok(p, ek)) {
        pqify_zeroize(ss, 32); /* no stale bytes a careless caller could use */
        return PQIFY_ERR_INVALID_EK;
    }
    uint8_t m_h[64], K_r[64];
    memcpy(m_h, m, 32);
    pqify_sha3_256(m_h + 32, ek, p->ek_bytes);
    pqify_sha3_512(K_r, m_h, sizeof m_h);
    pqify_kpke_encrypt(p, ct, ek, m, K_r + 32);
    memcpy(ss, K_r, 32);
    pqify_zeroize(m_h, sizeof m_h);
    pqify_zeroize(K_r, sizeof K_r);
    return PQIFY_OK;
}

/*
 * Decaps core shared by both variants: m' = Decrypt, (K', r') = G(m' || h),
 * c' = Encrypt(ek, m', r'); returns 0xFF when c' != c. The comparison reads
 * all of c and the result only ever feeds a masked select.
 */
static uint8_t fo_reencrypt(const pqify_kpke_params *p, uint8_t K_r[64], const uint8_t *ct,
                            const uint8_t *dk)
{
    uint8_t m_h[64];
    uint8_t ct2[PQIFY_MLKEM1024_CT_BYTES];
    pqify_kpke_decrypt(p, m_h, dk, ct);
    memcpy(m_h + 32, dk_h(p, dk), 32);
    pqify_sha3_512(K_r, m_h, sizeof m_h);
    pqify_kpke_encrypt(p, ct2, dk_ek(p, dk), m_h, K_r + 32);
    uint8_t fail = pqify_ct_compare(ct, ct2, p->ct_bytes);
    pqify_zeroize(m_h, sizeof m_h);
    pqify_zeroize(ct2, sizeof ct2);
    return fail;
}

/*
 * Alg. 18 after the §7.3 check: implicit rejection K_bar = J(z || c).
 * H(ek) for the §7.3 check (ek and H(ek) are public parts of dk) and J are
 * independent sponges of about nine blocks each at the same rate 136, so
 * they share the backend's 4-way permutation instead of running in turn.
 */
static int mlkem_decaps(const pqify_kpke_params *p, uint8_t ss[32], const uint8_t *ct,
                        const uint8_t *dk)
{
    uint8_t h[32], K_r[64], K_bar[32];
    const pqify_keccak_job jobs[2] = {
        { .in = { dk_ek(p, dk), NULL }, .inlen = { p->ek_bytes, 0 }, .out = h, .outlen = 32,
          .rate = PQIFY_SHA3_256_RATE, .dsep = 0x06 },
        { .in = { dk_z(p, dk), ct }, .inlen = { 32, p->ct_bytes }, .out = K_bar, .outlen = 32,
          .rate = PQIFY_SHAKE256_RATE, .dsep = 0x1F },
    };
    pqify_keccak_x2(jobs);
    if (pqify_ct_compare(h, dk_h(p, dk), 32) != 0) {
        pqify_zeroize(K_bar, sizeof K_bar);
        pqify_zeroize(ss, 32);
        return PQIFY_ERR_INVALID_DK;
    }

    uint8_t fail = fo_reencrypt(p, K_r, ct, dk);
    memcpy(ss, K_r, 32);
    pqify_ct_cmov(ss, K_bar, 32, fail);
    pqify_zeroize(K_r, sizeof K_r);
    pqify_zeroize(K_bar, sizeof K_bar);
    return PQIFY_OK;
}

/* ---- Round-3 Kyber -------------------------------------------------------- */

/* coins = 32 bytes for indcpa_keypair (hashed by G alone) || z. */
static int kyber_keypair_derand(const pqify_kpke_params *p, uint8_t *pk, uint8_t *sk,
                                const uint8_t coins[64])
{
    pqify_kpke_keygen(p, pk, sk, coins, 32);
    dk_assemble(p, sk, pk, coins + 32);
    return PQIFY_OK;
}

/* K = SHAKE-256(K_bar || H(c)), the round-3 KDF. */
static void kyber_kdf(uint8_t ss[32], uint8_t K_hc[64], const uint8_t *ct, size_t ct_bytes)
{
    pqify_sha3_256(K_hc + 32, ct, ct_bytes);
    pqify_shake256(ss, 32, K_hc, 64);
}

/* Round 3: m = H(coins), (K_bar, r) = G(m || H(pk)), K = KDF(K_bar || H(c)). */
static int kyber_encaps_derand(const pqify_kpke_params *p, uint8_t *ct, uint8_t ss[32],
                               const uint8_t *pk, const uint8_t coins[32])
{
    uint8_t m_h[64], K_r[64];
    pqify_sha3_256(m_h, coins, 32);
    pqify_sha3_256(m_h + 32, pk, p->ek_bytes);
    pqify_sha3_512(K_r, m_h, sizeof m_h);
    pqify_kpke_encrypt(p, ct, pk, m_h, K_r + 32);
    kyber_kdf(ss, K_r, ct, p->ct_bytes);
    pqify_zeroize(m_h, sizeof m_h);
    pqify_zeroize(K_r, sizeof K_r);
    return PQIFY_OK;
}

/* Round 3 rejection: K = KDF(z || H(c)) when c' != c. No input checks in round 3. */
static int kyber_decaps(const pqify_kpke_params *p, uint8_t ss[32], const uint8_t *ct,
                        const uint8_t *sk)
{
    uint8_t K_r[64];
    uint8_t fail = fo_reencrypt(p, K_r, ct, sk);
    pqify_ct_cmov(K_r, dk_z(p, sk), 32, fail);
    kyber_kdf(ss, K_r, ct, p->ct_bytes);
    pqify_zeroize(K_r, sizeof K_r);
    return PQIFY_OK;
}

/* ---- Randomised wrappers ---------------------------------------------------- */

static int with_seed64(int (*f)(const pqify_kpke_params *, uint8_t *, uint8_t *, const uint8_t *),
                       const pqify_kpke_params *p, uint8_t *ek, uint8_t *dk)
{
    uint8_t seed[64];
    int rc = pqify_randombytes(seed, sizeof seed);
    if (rc == PQIFY_OK)
        rc = f(p, ek, dk, seed);
    pqify_zeroize(seed, sizeof seed);
    return rc;
}

static int with_coins32(int (*f)(const pqify_kpke_params *, uint8_t *, uint8_t *,
                                 const uint8_t *, const uint8_t *),
                        const pqify_kpke_params *p, uint8_t *ct, uint8_t *ss, const uint8_t *ek)
{
    uint8_t m[32];
    int rc = pqify_randombytes(m, sizeof m);
    if (rc == PQIFY_OK)
        rc = f(p, ct, ss, ek, m);
    pqify_zeroize(m, sizeof m);
    if (rc != PQIFY_OK)
        pqify_zeroize(ss, 32);
    return rc;
}

/* ---- Public entry points, one instantiation per set -------------------------- */

#define NONNULL2(a, b) ((a) != NULL && (b) != NULL)
#define NONNULL3(a, b, c) ((a) != NULL && (b) != NULL && (c) != NULL)
#define NONNULL4(a, b, c, d) ((a) != NULL && (b) != NULL && (c) != NULL && (d) != NULL)

/* Array parameters repeat the public prototypes (kem.h) exactly. */
#define EKB(U, N, E) PQIFY_##U##N##_##E##_BYTES
#define DEFINE_KEM(PFX, U, EK, DK, N, KP, EN, DE)                                       \
    int pqify_##PFX##N##_keypair_derand(uint8_t ek[EKB(U, N, EK)],                     \
                                        uint8_t dk[EKB(U, N, DK)],                     \
                                        const uint8_t seed[PQIFY_KEM_SEED_BYTES])      \
    {                                                                                  \
        if (!NONNULL3(ek, dk, seed))                                                   \
            return PQIFY_ERR_ARG;                                                      \
        return KP(&pqify_params##N, ek, dk, seed);                                     \
    }                                                                                  \
    int pqify_##PFX##N##_keypair(uint8_t ek[EKB(U, N, EK)], uint8_t dk[EKB(U, N, DK)]) \
    {                                                                                  \
        if (!NONNULL2(ek, dk))                                                         \
            return PQIFY_ERR_ARG;                                                      \
        return with_seed64(KP, &pqify_params##N, ek, dk);                              \
    }                                                                                  \
    int pqify_##PFX##N##_encaps_derand(uint8_t ct[EKB(U, N, CT)],                      \
                                       uint8_t ss[PQIFY_KEM_SS_BYTES],                 \
                                       const uint8_t ek[EKB(U, N, EK)],                \
                                       const uint8_t m[PQIFY_KEM_MSG_BYTES])           \
    {                                                                                  \
        if (!NONNULL4(ct, ss, ek, m))                                                  \
            return PQIFY_ERR_ARG;                                                      \
        return EN(&pqify_params##N, ct, ss, ek, m);                                    \
    }                                                                                  \
    int pqify_##PFX##N##_encaps(uint8_t ct[EKB(U, N, CT)], uint8_t ss[PQIFY_KEM_SS_BYTES], \
                                const uint8_t ek[EKB(U, N, EK)])                       \
    {                                                                                  \
        if (!NONNULL3(ct, ss, ek))                                                     \
            return PQIFY_ERR_ARG;                                                      \
        return with_coins32(EN, &pqify_params##N, ct, ss, ek);                         \
    }                                                                                  \
    int pqify_##PFX##N##_decaps(uint8_t ss[PQIFY_KEM_SS_BYTES],                        \
                                const uint8_t ct[EKB(U, N, CT)],                       \
                                const uint8_t dk[EKB(U, N, DK)])                       \
    {                                                                                  \
        if (!NONNULL3(ss, ct, dk))                                                     \
            return PQIFY_ERR_ARG;                                                      \
        return DE(&pqify_params##N, ss, ct, dk);                                       \
    }

DEFINE_KEM(mlkem, MLKEM, EK, DK, 512, mlkem_keypair_derand, mlkem_encaps_derand, mlkem_decaps)
DEFINE_KEM(mlkem, MLKEM, EK, DK, 768, mlkem_keypair_derand, mlkem_encaps_derand, mlkem_decaps)
DEFINE_KEM(mlkem, MLKEM, EK, DK, 1024, mlkem_keypair_derand, mlkem_encaps_derand, mlkem_decaps)
DEFINE_KEM(kyber, KYBER, PK, SK, 512, kyber_keypair_derand, kyber_encaps_derand, kyber_decaps)
DEFINE_KEM(kyber, KYBER, PK, SK, 768, kyber_keypair_derand, kyber_encaps_derand, kyber_decaps)
DEFINE_KEM(kyber, KYBER, PK, SK, 1024, kyber_keypair_derand, kyber_encaps_derand, kyber_decaps)

#define KEM_ROW(VAR, NAME, ISML, PFX, N, SZ)                                           \
    const pqify_kem VAR = {                                                            \
        .name = NAME,                                                                  \
        .is_mlkem = ISML,                                                              \
        .ek_bytes = PQIFY_MLKEM##SZ##_EK_BYTES,                                        \
        .dk_bytes = PQIFY_MLKEM##SZ##_DK_BYTES,                                        \
        .ct_bytes = PQIFY_MLKEM##SZ##_CT_BYTES,                                        \
        .ss_bytes = PQIFY_KEM_SS_BYTES,                                                \
        .keypair = pqify_##PFX##N##_keypair,                                           \
        .keypair_derand = pqify_##PFX##N##_keypair_derand,                             \
        .encaps = pqify_##PFX##N##_encaps,                                             \
        .encaps_derand = pqify_##PFX##N##_encaps_derand,                               \
        .decaps = pqify_##PFX##N##_decaps,                                             \
    };

KEM_ROW(pqify_kem_mlkem512, "ML-KEM-512", 1, mlkem, 512, 512)
KEM_ROW(pqify_kem_mlkem768, "ML-KEM-768", 1, mlkem, 768, 768)
KEM_ROW(pqify_kem_mlkem1024, "ML-KEM-1024", 1, mlkem, 1024, 1024)
KEM_ROW(pqify_kem_kyber512, "Kyber512", 0, kyber, 512, 512)
KEM_ROW(pqify_kem_kyber768, "Kyber768", 0, kyber, 768, 768)
KEM_ROW(pqify_kem_kyber1024, "Kyber1024", 0, kyber, 1024, 1024)

const pqify_kem *const pqify_kems[] = {
    &pqify_kem_mlkem512, &pqify_kem_mlkem768, &pqify_kem_mlkem1024,
    &pqify_kem_kyber512, &pqify_kem_kyber768, &pqify_kem_kyber1024, NULL,
};

/* Compare ignoring case, '-' and '_': "ML-KEM-768" matches "mlkem768". */
static int name_matches(const char *canon, const char *name)
{
    for (;;) {
        while (*canon == '-' || *canon == '_')
            canon++;
        while (*name == '-' || *name == '_')
            name++;
        if (*canon == '\0' || *name == '\0')
            return *canon == *name;
        if (tolower((unsigned char)*canon) != tolower((unsigned char)*name))
            return 0;
        canon++;
        name++;
    }
}

const pqify_kem *pqify_kem_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; pqify_kems[i] != NULL; i++)
        if (name_matches(pqify_kems[i]->name, name))
            return pqify_kems[i];
    return NULL;
}

int pqify_kem_keypair(const pqify_kem *kem, uint8_t *ek, size_t ek_len, uint8_t *dk,
                      size_t dk_len)
{
    if (kem == NULL || ek == NULL || dk == NULL)
        return PQIFY_ERR_ARG;
    if (ek_len != kem->ek_bytes || dk_len != kem->dk_bytes)
        return PQIFY_ERR_LENGTH;
    return kem->keypair(ek, dk);
}

int pqify_kem_encaps(const pqify_kem *kem, uint8_t *ct, size_t ct_len, uint8_t *ss,
                     size_t ss_len, const uint8_t *ek, size_t ek_len)
{
    if (kem == NULL || ct == NULL || ss == NULL || ek == NULL)
        return PQIFY_ERR_ARG;
    if (ct_len != kem->ct_bytes || ss_len != kem->ss_bytes || ek_len != kem->ek_bytes)
        return PQIFY_ERR_LENGTH;
    return kem->encaps(ct, ss, ek);
}

int pqify_kem_decaps(const pqify_kem *kem, uint8_t *ss, size_t ss_len, const uint8_t *ct,
                     size_t ct_len, const uint8_t *dk, size_t dk_len)
{
    if (kem == NULL || ss == NULL || ct == NULL || dk == NULL)
        return PQIFY_ERR_ARG;
    if (ss_len != kem->ss_bytes || ct_len != kem->ct_bytes || dk_len != kem->dk_bytes)
        return PQIFY_ERR_LENGTH;
    return kem->decaps(ss, ct, dk);
}

int pqify_kem_check_ek(const pqify_kem *kem, const uint8_t *ek, size_t ek_len)
{
    if (kem == NULL || ek == NULL)
        return PQIFY_ERR_ARG;
    if (ek_len != kem->ek_bytes)
        return PQIFY_ERR_LENGTH;
    if (!kem->is_mlkem)
        return PQIFY_OK;
    const pqify_kpke_params *p = kem->ek_bytes == PQIFY_MLKEM512_EK_BYTES ? &pqify_params512
                                 : kem->ek_bytes == PQIFY_MLKEM768_EK_BYTES ? &pqify_params768
                                                                            : &pqify_params1024;
    return pqify_kpke_ek_ok(p, ek) ? PQIFY_OK : PQIFY_ERR_INVALID_EK;
}
