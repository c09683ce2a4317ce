/* The backend tables and the one-time choice between them. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fips202.h"
#include "portable.h"
#include "pqify/kem.h"

static int portable_available(void) { return 1; }

const pqify_kem_ops pqify_kem_ops_portable = {
    .name = "portable",
    .available = portable_available,
    .keccakf1600 = pqify_keccakf1600_portable,
    .keccakf1600_x4 = pqify_keccakf1600_x4_portable,
    .ntt = pqify_ntt_portable,
    .invntt = pqify_invntt_portable,
    .basemul_acc = pqify_basemul_acc_portable,
    .tobytes = pqify_tobytes_portable,
    .frombytes = pqify_frombytes_portable,
    .compress = pqify_compress_portable,
    .decompress = pqify_decompress_portable,
    .gen_matrix = pqify_gen_matrix_portable,
    .sample_cbd = pqify_sample_cbd_portable,
};

#ifdef PQIFY_KEM_HAVE_AVX2
/* The AVX2 table with its Keccak on AVX-512VL (x86_64/backend_avx2.c). */
extern const pqify_kem_ops pqify_kem_ops_avx512;
#endif

/* Fastest first: the default is the first available entry. */
static const pqify_kem_ops *const all_ops[] = {
#ifdef PQIFY_KEM_HAVE_AVX2
    &pqify_kem_ops_avx512,
    &pqify_kem_ops_avx2,
#endif
    &pqify_kem_ops_portable,
};

const pqify_kem_ops *pqify_kem_ops_active = &pqify_kem_ops_portable;

static const pqify_kem_ops *find_ops(const char *name)
{
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (strcmp(all_ops[i]->name, name) == 0 && all_ops[i]->available())
            return all_ops[i];
    return NULL;
}

int pqify_kem_set_backend(const char *name)
{
    if (name == NULL)
        return PQIFY_ERR_ARG;
    const pqify_kem_ops *ops = find_ops(name);
    if (ops == NULL)
        return PQIFY_ERR_BACKEND;
    pqify_kem_ops_active = ops;
    return PQIFY_OK;
}

const char *pqify_kem_backend(void)
{
    return pqify_kem_ops_active->name;
}

/*
 * Picked once, before main(), so no caller ever races the choice. The kem
 * layer does no I/O, so a bad PQIFY_KEM_BACKEND value cannot be reported
 * here; it leaves the default, and pqify_kem_backend() tells what is active.
 */
__attribute__((constructor)) static void pick_backend(void)
{
    for (size_t i = 0; i < sizeof all_ops / sizeof all_ops[0]; i++)
        if (all_ops[i]->available()) {
            pqify_kem_ops_active = all_ops[i];
            break;
        }
    const char *env = getenv("PQIFY_KEM_BACKEND");
    if (env != NULL && *env != '\0') {
        const pqify_kem_ops *ops = find_ops(env);
        if (ops != NULL)
            pqify_kem_ops_active = ops;
    }
}
