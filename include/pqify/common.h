/* pqify: error codes shared by every layer. */
#ifndef PQIFY_COMMON_H
#define PQIFY_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PQIFY_MUST_USE __attribute__((warn_unused_result))
#else
#define PQIFY_MUST_USE
#endif

/* Every pqify function that can fail returns 0 or one of these (negative). */
enum pqify_err {
    PQIFY_OK = 0,
    /* kem layer: -1 .. -19 */
    PQIFY_ERR_INVALID_EK = -1,     /* FIPS 203 §7.2 input check failed */
    PQIFY_ERR_INVALID_DK = -2,     /* FIPS 203 §7.3 input check failed */
    PQIFY_ERR_RNG = -3,            /* the system RNG failed; no key was made */
    PQIFY_ERR_ARG = -4,            /* a NULL pointer or a bad argument */
    PQIFY_ERR_BACKEND = -5,        /* a backend was asked for that this CPU lacks */
    PQIFY_ERR_LENGTH = -6,         /* a buffer has the wrong length for this KEM */
    /* tls layer and above use -100 and below (see tls.h) */
};

/* A short English phrase for an error code; never NULL. */
const char *pqify_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
