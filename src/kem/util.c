/* System randomness, zeroization and error strings. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "pqify/kem.h"

int pqify_randombytes(uint8_t *buf, size_t len)
{
    if (buf == NULL && len != 0)
        return PQIFY_ERR_ARG;
    size_t done = 0;
    while (done < len) {
        /* getrandom(2) returns at most 32 MiB per call and may be interrupted. */
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* Never hand out a partly filled buffer as a key. */
            pqify_zeroize(buf, len);
            return PQIFY_ERR_RNG;
        }
        if (n == 0) {
            pqify_zeroize(buf, len);
            return PQIFY_ERR_RNG;
        }
        done += (size_t)n;
    }
    return PQIFY_OK;
}

/*
 * memset followed by an empty asm that claims to read the memory: the
 * compiler must assume the zeros are observed, so it cannot drop the store.
 */
void pqify_zeroize(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    memset(p, 0, len);
#if defined(__GNUC__) || defined(__clang__)
    __asm__ __volatile__("" : : "r"(p) : "memory");
#else
    volatile unsigned char *v = p;
    for (size_t i = 0; i < len; i++)
        v[i] = 0;
#endif
}

const char *pqify_strerror(int err)
{
    switch (err) {
    case PQIFY_OK: return "success";
    case PQIFY_ERR_INVALID_EK: return "invalid encapsulation key (FIPS 203 modulus check)";
    case PQIFY_ERR_INVALID_DK: return "invalid decapsulation key (FIPS 203 hash check)";
    case PQIFY_ERR_RNG: return "system random number generator failed";
    case PQIFY_ERR_ARG: return "invalid argument";
    case PQIFY_ERR_BACKEND: return "KEM backend not available on this CPU";
    case PQIFY_ERR_LENGTH: return "wrong buffer length for this KEM";
    default: return "unknown error";
    }
}
