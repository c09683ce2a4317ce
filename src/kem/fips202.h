/*
 * SHA-3 and SHAKE (FIPS 202), incremental: init, absorb any number of times,
 * then squeeze any number of times (absorbing after the first squeeze is not
 * allowed). The permutation comes from the active backend table.
 */
#ifndef PQIFY_KEM_FIPS202_H
#define PQIFY_KEM_FIPS202_H

#include <stddef.h>
#include <stdint.h>

/* FIPS 202 §3.2.5 round constants RC[ir], shared by every Keccak backend. */
extern const uint64_t pqify_keccak_rc[24];

#define PQIFY_SHAKE128_RATE 168
#define PQIFY_SHAKE256_RATE 136
#define PQIFY_SHA3_256_RATE 136
#define PQIFY_SHA3_512_RATE 72

typedef struct {
    uint64_t s[25];
    unsigned pos;       /* bytes absorbed into, or squeezed from, the current block */
    unsigned rate;      /* bytes */
    uint8_t dsep;       /* domain separation + first pad bit: 0x06 SHA-3, 0x1F SHAKE */
    uint8_t squeezing;
} pqify_keccak_ctx;

void pqify_keccak_init(pqify_keccak_ctx *ctx, unsigned rate, uint8_t dsep);
void pqify_keccak_absorb(pqify_keccak_ctx *ctx, const uint8_t *in, size_t len);
/* Pads and switches to squeezing on the first call. */
void pqify_keccak_squeeze(pqify_keccak_ctx *ctx, uint8_t *out, size_t len);

static inline void pqify_shake128_init(pqify_keccak_ctx *ctx) { pqify_keccak_init(ctx, PQIFY_SHAKE128_RATE, 0x1F); }
static inline void pqify_shake256_init(pqify_keccak_ctx *ctx) { pqify_keccak_init(ctx, PQIFY_SHAKE256_RATE, 0x1F); }
static inline void pqify_sha3_256_init(pqify_keccak_ctx *ctx) { pqify_keccak_init(ctx, PQIFY_SHA3_256_RATE, 0x06); }
static inline void pqify_sha3_512_init(pqify_keccak_ctx *ctx) { pqify_keccak_init(ctx, PQIFY_SHA3_512_RATE, 0x06); }

void pqify_sha3_256(uint8_t out[32], const uint8_t *in, size_t len);
void pqify_sha3_512(uint8_t out[64], const uint8_t *in, size_t len);
void pqify_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen);
void pqify_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t inlen);

/*
 * Two independent sponges run side by side in lanes 0 and 1 of one
 * keccakf1600_x4 state, so each x4 call advances both (lanes 2 and 3 are
 * idle). Each job hashes in[0] || in[1] with its own rate and suffix and
 * writes outlen bytes; the outputs equal two separate one-shot calls bit for
 * bit. Lengths are public; the data may be secret (nothing branches on it).
 * On a backend whose x4 is four single permutations (portable) this just
 * runs the two sponges one after the other, which costs fewer permutations.
 */
typedef struct {
    const uint8_t *in[2];
    size_t inlen[2];
    uint8_t *out;
    size_t outlen;
    unsigned rate;  /* a multiple of 8, at most PQIFY_SHAKE128_RATE */
    uint8_t dsep;
} pqify_keccak_job;

void pqify_keccak_x2(const pqify_keccak_job job[2]);

/* The portable permutation (also the portable backend's table entry). */
void pqify_keccakf1600_portable(uint64_t st[25]);
void pqify_keccakf1600_x4_portable(uint64_t st[4 * 25]);

/* Wipes the state (it may hold secret input). */
void pqify_keccak_wipe(pqify_keccak_ctx *ctx);

#endif
