/* Helpers shared by the keyless tests: the gokeyless vectors, hex, temp dirs, commands. */
#ifndef PQIFY_KEYLESS_TEST_H
#define PQIFY_KEYLESS_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pqify/keyless.h"

#define KT_SKIP 77

static inline int kt_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* hex text -> bytes; -1 on a bad digit or when it does not fit */
static inline int kt_unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);
    while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r' || hex[n - 1] == ' '))
        n--;
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = kt_hexval(hex[2 * i]), lo = kt_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

/* the path of the gokeyless vectors, or NULL when ../shared/vectors is absent */
static inline const char *kt_vectors_file(void)
{
    static char path[4096];
    const char *dir = getenv("PQIFY_VECTORS_DIR");
    FILE *f;
    if (dir == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/keyless/gokeyless-wire.txt", dir);
    f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    fclose(f);
    return path;
}

/* name=hex from the vectors file; -1 if the name is not there */
static inline int kt_vector(const char *name, uint8_t *out, size_t cap, size_t *len)
{
    static char line[8192];
    const char *path = kt_vectors_file();
    size_t nl = strlen(name);
    int ret = -1;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, nl) == 0 && line[nl] == '=') {
            ret = kt_unhex(line + nl + 1, out, cap, len);
            break;
        }
    }
    fclose(f);
    return ret;
}

/* run a shell command; its exit status */
static inline int kt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int kt_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 ? -1 : (st >> 8) & 0xff;
}

/* the first line a command prints (trailing newline cut); -1 if it fails */
static inline int kt_sh_line(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int kt_sh_line(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    FILE *p;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    out[0] = 0;
    if (fgets(out, (int)cap, p) == NULL)
        out[0] = 0;
    char rest[256];
    while (fgets(rest, sizeof(rest), p) != NULL) {
    }
    int st = pclose(p);
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = 0;
    return st == 0 ? 0 : -1;
}

/* a fresh temp dir (mkdtemp); the test removes it */
static inline void kt_tmpdir(char *out, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(out, cap, "%s/pqify-%s-XXXXXX", base, tag);
    if (mkdtemp(out) == NULL)
        out[0] = 0;
}

static inline EVP_PKEY *kt_read_pubkey(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = NULL;
    if (f == NULL)
        return NULL;
    k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static inline EVP_PKEY *kt_read_privkey(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = NULL;
    if (f == NULL)
        return NULL;
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}

static inline void kt_to_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = 0;
}

#endif

/* ---- keys made by the openssl CLI (an implementation independent of the store) ---- */
#define KT_NKEYS 4
static const char *const kt_key_names[KT_NKEYS] = {"rsa2048", "p256", "p384", "ed25519"};
static const char *const kt_key_algs[KT_NKEYS] = {
    "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
    "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
    "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
    "-algorithm ED25519",
};

/* DIR/NAME.key (PKCS#8), DIR/NAME-cert.pem (self-signed, SKI by openssl's default
 * method 1 hash) and DIR/NAME.pub for each key; -1 on any failure */
static inline int kt_make_keys(const char *dir)
{
    for (int i = 0; i < KT_NKEYS; i++) {
        const char *n = kt_key_names[i];
        if (kt_sh("openssl genpkey %s -out %s/%s.key 2>/dev/null && "
                  "openssl req -x509 -new -key %s/%s.key -subj /CN=%s -days 2 -out %s/%s-cert.pem "
                  "2>/dev/null && openssl pkey -in %s/%s.key -pubout -out %s/%s.pub 2>/dev/null",
                  kt_key_algs[i], dir, n, dir, n, n, dir, n, dir, n, dir, n) != 0)
            return -1;
    }
    return 0;
}

/* the SKI `openssl x509 -ext subjectKeyIdentifier` prints for DIR/NAME-cert.pem */
static inline int kt_openssl_ski(const char *dir, const char *name, uint8_t ski[20])
{
    char line[256], hex[64];
    size_t j = 0, n = 0;
    if (kt_sh_line(line, sizeof(line),
                   "openssl x509 -in %s/%s-cert.pem -noout -ext subjectKeyIdentifier | sed -n 2p",
                   dir, name) < 0)
        return -1;
    for (size_t i = 0; line[i] != 0 && j + 1 < sizeof(hex); i++)
        if (kt_hexval(line[i]) >= 0)
            hex[j++] = line[i];
    hex[j] = 0;
    return kt_unhex(hex, ski, 20, &n) == 0 && n == 20 ? 0 : -1;
}
