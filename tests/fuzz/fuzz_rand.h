/*
 * Deterministic RAND_bytes for the full-handshake harnesses and the seed generator.
 * The engine calls libcrypto's RAND_bytes for ClientHello.random, ServerHello.random
 * and the HelloRetryRequest cookie; a definition in the executable takes precedence
 * over the shared libcrypto one, so those bytes repeat from run to run and a
 * recorded second ClientHello still carries the cookie the server expects.
 * The engine's KEM coins come from RAND_bytes too (group_kem.c), so ML-KEM and Kyber
 * keys repeat as well. (Key generation inside libcrypto stays random: the harnesses
 * cope with that, see fuzz_server.c and fuzz_client.c.)
 * Include from exactly one file per executable.
 */
#ifndef PQIFY_FUZZ_RAND_H
#define PQIFY_FUZZ_RAND_H

#include <stdint.h>

static uint64_t fuzz_rand_state;

static inline void fuzz_rand_reset(void)
{
    fuzz_rand_state = 0x243f6a8885a308d3u;
}

int RAND_bytes(unsigned char *buf, int num);
int RAND_bytes(unsigned char *buf, int num)
{
    for (int i = 0; i < num; i++) {
        /* splitmix64: not a CSPRNG, only a repeatable stream for fuzzing */
        uint64_t z = (fuzz_rand_state += 0x9e3779b97f4a7c15u);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        buf[i] = (unsigned char)(z ^ (z >> 31));
    }
    return 1;
}

#endif
