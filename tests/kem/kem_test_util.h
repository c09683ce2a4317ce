/*
 * Small helpers shared by the KEM tests that read external data: hex coding,
 * locating ../shared/vectors, and byte comparisons that say where two values
 * first differ. Everything is static so each test program takes what it uses.
 */
#ifndef PQIFY_TESTS_KEM_TEST_UTIL_H
#define PQIFY_TESTS_KEM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pqify/kem.h"

/* Exit code CTest reads as "skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define KT_EXIT_SKIP 77

static inline int kt_hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode exactly 2*out_len hex digits from hex[0..hex_len). Returns 0 or -1. */
static inline int kt_unhex(uint8_t *out, size_t out_len, const char *hex, size_t hex_len)
{
    if (hex_len != 2 * out_len) return -1;
    for (size_t i = 0; i < out_len; i++) {
        int hi = kt_hexval((unsigned char)hex[2 * i]);
        int lo = kt_hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Encode len bytes as hex into out (2*len+1 bytes); upper selects A-F. */
static inline void kt_hex(char *out, const uint8_t *in, size_t len, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Print "label: <hex>" to stderr, at most max bytes, for failure reports. */
static inline void kt_print_hex(const char *label, const uint8_t *in, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    fprintf(stderr, "  %s (%zu bytes): ", label, len);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x", in[i]);
    fprintf(stderr, "%s\n", n < len ? "..." : "");
}

/*
 * Compare got with want. On a mismatch print what, the first differing offset
 * and a window of both values around it, and return -1; 0 if equal.
 */
static inline int kt_check_bytes(const char *what, const uint8_t *got, const uint8_t *want,
                                 size_t len)
{
    size_t i = 0;
    while (i < len && got[i] == want[i]) i++;
    if (i == len) return 0;
    size_t from = i >= 8 ? i - 8 : 0;
    size_t n = len - from < 40 ? len - from : 40;
    fprintf(stderr, "  %s differs at byte %zu of %zu\n", what, i, len);
    kt_print_hex("got  [from]", got + from, n, n);
    kt_print_hex("want [from]", want + from, n, n);
    return -1;
}

/*
 * The external vectors folder (optional): $PQIFY_VECTORS_DIR, which CTest sets.
 * Returns NULL (with the reason in why) when it is unset or not a directory.
 */
static inline const char *kt_vectors_dir(const char **why)
{
    const char *dir = getenv("PQIFY_VECTORS_DIR");
    struct stat st;
    if (dir == NULL || dir[0] == '\0') {
        *why = "PQIFY_VECTORS_DIR is not set (run the test through ctest)";
        return NULL;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *why = "the optional vectors folder (../shared/vectors) is absent";
        return NULL;
    }
    *why = NULL;
    return dir;
}

static inline int kt_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Strip a trailing "\n" or "\r\n"; returns the new length. */
static inline size_t kt_chomp(char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    return len;
}

/* ML-KEM-N's calls with plain pointer parameters, for tables that hold the
 * three parameter sets side by side (mlkem512_encaps and so on). */
#define KT_WRAP_MLKEM(N)                                                                      \
    static inline int mlkem##N##_keypair_derand(uint8_t *ek, uint8_t *dk, const uint8_t *seed)\
    { return pqify_mlkem##N##_keypair_derand(ek, dk, seed); }                                 \
    static inline int mlkem##N##_encaps(uint8_t *ct, uint8_t *ss, const uint8_t *ek)          \
    { return pqify_mlkem##N##_encaps(ct, ss, ek); }                                           \
    static inline int mlkem##N##_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *ek,   \
                                               const uint8_t *m)                              \
    { return pqify_mlkem##N##_encaps_derand(ct, ss, ek, m); }                                 \
    static inline int mlkem##N##_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *dk)    \
    { return pqify_mlkem##N##_decaps(ss, ct, dk); }
KT_WRAP_MLKEM(512)
KT_WRAP_MLKEM(768)
KT_WRAP_MLKEM(1024)

#endif
