/*
 * The primitives that an X25519MLKEM768 server handshake with an ECDSA P-256
 * certificate cannot avoid, done alone the way the engine does them through
 * libcrypto and the kem layer: what is left of a handshake when the TLS work is
 * taken away. `pqify bench handshake` times them where a handshake would run them,
 * to show how much of the engine's CPU is TLS work and how much is this floor.
 */
#ifndef PQIFY_BENCH_FLOOR_H
#define PQIFY_BENCH_FLOOR_H

#include <stdint.h>

enum { BENCH_FLOOR_X25519, BENCH_FLOOR_MLKEM, BENCH_FLOOR_ECDSA, BENCH_FLOOR_PARTS };
extern const char *const bench_floor_part_names[BENCH_FLOOR_PARTS];

typedef struct bench_floor bench_floor;

/* key_pem: the server's ECDSA P-256 key. NULL on failure (message on stderr). */
bench_floor *bench_floor_new(const char *key_pem);
void bench_floor_free(bench_floor *f);
/* One server handshake's primitives; ns[part] grows by each one's thread CPU time. */
int bench_floor_run(bench_floor *f, uint64_t ns[BENCH_FLOOR_PARTS]);

#endif
