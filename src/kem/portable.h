/* The portable backend's routines (see backend.h for their contracts). */
#ifndef PQIFY_KEM_PORTABLE_H
#define PQIFY_KEM_PORTABLE_H

#include "backend.h"

void pqify_ntt_portable(pqify_poly *a);
void pqify_invntt_portable(pqify_poly *a);
void pqify_basemul_acc_portable(pqify_poly *r, const pqify_poly *a, const pqify_poly *b,
                                unsigned k);
void pqify_tobytes_portable(uint8_t r[384], const pqify_poly *a);
void pqify_frombytes_portable(pqify_poly *r, const uint8_t a[384]);
void pqify_compress_portable(uint8_t *r, const pqify_poly *a, unsigned d);
void pqify_decompress_portable(pqify_poly *r, const uint8_t *a, unsigned d);
void pqify_gen_matrix_portable(pqify_poly *A, const uint8_t rho[32], unsigned k, int transposed);
void pqify_sample_cbd_portable(pqify_poly *r, unsigned count, const uint8_t sigma[32],
                               uint8_t nonce, unsigned eta);

#endif
