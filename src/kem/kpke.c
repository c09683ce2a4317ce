/* K-PKE (FIPS 203 §5, Alg. 13-15), one code path for k = 2, 3, 4. */
#include <string.h>

#include "arith.h"
#include "backend.h"
#include "ct.h"
#include "fips202.h"
#include "kpke.h"

#define PARAMS(K, E1, DU, DV)                                                         \
    {.k = K, .eta1 = E1, .eta2 = 2, .du = DU, .dv = DV, .ek_bytes = 384 * K + 32,      \
     .dk_bytes = 768 * K + 96, .ct_bytes = 32 * (DU * K + DV)}

/* FIPS 203 Table 2. */
const pqify_kpke_params pqify_params512 = PARAMS(2, 3, 10, 4);
const pqify_kpke_params pqify_params768 = PARAMS(3, 2, 10, 4);
const pqify_kpke_params pqify_params1024 = PARAMS(4, 2, 11, 5);

#define OPS (pqify_kem_ops_active)

static void poly_add(pqify_poly *r, const pqify_poly *a)
{
    for (unsigned i = 0; i < PQIFY_N; i++)
        r->coeffs[i] = (int16_t)(r->coeffs[i] + a->coeffs[i]);
}

static void poly_tomont(pqify_poly *r)
{
    for (unsigned i = 0; i < PQIFY_N; i++)
        r->coeffs[i] = pqify_fqmul(r->coeffs[i], PQIFY_MONT_R2);
}

void pqify_kpke_keygen(const pqify_kpke_params *p, uint8_t *ek, uint8_t *dk_pke,
                       const uint8_t *g_in, size_t g_in_len)
{
    const unsigned k = p->k;
    uint8_t rho_sigma[64];
    pqify_poly A[PQIFY_KMAX * PQIFY_KMAX];
    pqify_poly se[2 * PQIFY_KMAX]; /* s^ = se[0..k), e^ = se[k..2k) */
    pqify_poly t;

    pqify_sha3_512(rho_sigma, g_in, g_in_len);
    const uint8_t *rho = rho_sigma, *sigma = rho_sigma + 32;
    /* rho is public (it ends up in ek), so SampleNTT may reject on it. */
    PQIFY_CT_DECLASSIFY(rho_sigma, 32);

    OPS->gen_matrix(A, rho, k, 0);
    /* Alg. 13 lines 8-15: s with N = 0..k-1, then e with N = k..2k-1, same eta1. */
    OPS->sample_cbd(se, 2 * k, sigma, 0, p->eta1);
    for (unsigned i = 0; i < 2 * k; i++)
        OPS->ntt(&se[i]);

    for (unsigned i = 0; i < k; i++) {
        /* basemul_acc leaves R^-1; tomont cancels it so t^ is plain. */
        OPS->basemul_acc(&t, &A[i * k], se, k);
        poly_tomont(&t);
        poly_add(&t, &se[k + i]);
        OPS->tobytes(ek + 384 * i, &t);
        OPS->tobytes(dk_pke + 384 * i, &se[i]);
    }
    memcpy(ek + 384 * k, rho, 32);

    pqify_zeroize(rho_sigma, sizeof rho_sigma);
    pqify_zeroize(se, sizeof se);
    pqify_zeroize(&t, sizeof t);
}

void pqify_kpke_encrypt(const pqify_kpke_params *p, uint8_t *ct, const uint8_t *ek,
                        const uint8_t m[32], const uint8_t r[32])
{
    const unsigned k = p->k;
    pqify_poly At[PQIFY_KMAX * PQIFY_KMAX];
    pqify_poly t_hat[PQIFY_KMAX];
    pqify_poly y[PQIFY_KMAX];
    pqify_poly e12[PQIFY_KMAX + 1]; /* e1 = e12[0..k), e2 = e12[k] */
    pqify_poly u, mu;

    for (unsigned i = 0; i < k; i++)
        OPS->frombytes(&t_hat[i], ek + 384 * i);
    OPS->gen_matrix(At, ek + 384 * k, k, 1);

    /* Alg. 14 lines 9-17: y with N = 0..k-1 (eta1), e1 with k..2k-1, e2 with 2k (eta2). */
    OPS->sample_cbd(y, k, r, 0, p->eta1);
    OPS->sample_cbd(e12, k + 1, r, (uint8_t)k, p->eta2);
    for (unsigned i = 0; i < k; i++)
        OPS->ntt(&y[i]);

    for (unsigned i = 0; i < k; i++) {
        OPS->basemul_acc(&u, &At[i * k], y, k);
        OPS->invntt(&u);
        poly_add(&u, &e12[i]);
        OPS->compress(ct + 32 * p->du * i, &u, p->du);
    }

    OPS->basemul_acc(&u, t_hat, y, k);
    OPS->invntt(&u);
    poly_add(&u, &e12[k]);
    OPS->decompress(&mu, m, 1);
    poly_add(&u, &mu);
    OPS->compress(ct + 32 * p->du * k, &u, p->dv);

    pqify_zeroize(y, sizeof y);
    pqify_zeroize(e12, sizeof e12);
    pqify_zeroize(&u, sizeof u);
    pqify_zeroize(&mu, sizeof mu);
}

void pqify_kpke_decrypt(const pqify_kpke_params *p, uint8_t m[32], const uint8_t *dk_pke,
                        const uint8_t *ct)
{
    const unsigned k = p->k;
    pqify_poly u[PQIFY_KMAX];
    pqify_poly s_hat[PQIFY_KMAX];
    pqify_poly v, w;

    for (unsigned i = 0; i < k; i++) {
        OPS->decompress(&u[i], ct + 32 * p->du * i, p->du);
        OPS->ntt(&u[i]);
        OPS->frombytes(&s_hat[i], dk_pke + 384 * i);
    }
    OPS->decompress(&v, ct + 32 * p->du * k, p->dv);

    /* Alg. 15 line 6: w = v - NTT^-1(s^T o NTT(u)). */
    OPS->basemul_acc(&w, s_hat, u, k);
    OPS->invntt(&w);
    for (unsigned i = 0; i < PQIFY_N; i++)
        w.coeffs[i] = (int16_t)(v.coeffs[i] - w.coeffs[i]);
    OPS->compress(m, &w, 1);

    pqify_zeroize(s_hat, sizeof s_hat);
    pqify_zeroize(u, sizeof u);
    pqify_zeroize(&v, sizeof v);
    pqify_zeroize(&w, sizeof w);
}

int pqify_kpke_ek_ok(const pqify_kpke_params *p, const uint8_t *ek)
{
    pqify_poly t;
    uint8_t again[384];
    for (unsigned i = 0; i < p->k; i++) {
        OPS->frombytes(&t, ek + 384 * i);
        OPS->tobytes(again, &t);
        if (memcmp(again, ek + 384 * i, 384) != 0)
            return 0;
    }
    return 1;
}
