/*
 * See bench_floor.h. Each part mirrors the engine's own call sequence, so that the
 * difference between the engine's figure and this one is the TLS work alone:
 *   - X25519: the client's share set into a kept peer key, a fresh private value
 *     imported with a placeholder public half, X25519(k, 9) and X25519(k, peer)
 *     on one derivation context (src/tls/group_ecdh.c);
 *   - ML-KEM-768: encapsulation to the client's ek, with its modulus check;
 *   - ECDSA: SHA-256 of a CertificateVerify-sized input and a signature on a dup
 *     of a prepared signing context (src/tls/signature.c).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "bench_floor.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqify/kem.h"

const char *const bench_floor_part_names[BENCH_FLOOR_PARTS] = {
    "X25519 key pair and shared secret",
    "ML-KEM-768 encapsulation",
    "SHA-256 and ECDSA P-256 signature",
};

struct bench_floor {
    EVP_PKEY_CTX *import, *sign;
    EVP_PKEY *base, *peer;
    uint8_t peer_share[32];
    uint8_t ek[PQIFY_MLKEM768_EK_BYTES];
};

static const uint8_t nine[32] = {9};

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static EVP_PKEY *x25519_public(EVP_PKEY_CTX *import, const uint8_t pub[32])
{
    EVP_PKEY *k = NULL;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 32),
        OSSL_PARAM_construct_end(),
    };
    return EVP_PKEY_fromdata(import, &k, EVP_PKEY_PUBLIC_KEY, p) == 1 ? k : NULL;
}

bench_floor *bench_floor_new(const char *key_pem)
{
    bench_floor *f = calloc(1, sizeof *f);
    BIO *kb = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *key = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    uint8_t dk[PQIFY_MLKEM768_DK_BYTES];
    int ok = f != NULL && key != NULL;
    if (ok) {
        f->import = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
        f->sign = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        ok = f->import != NULL && EVP_PKEY_fromdata_init(f->import) == 1 && f->sign != NULL &&
             EVP_PKEY_sign_init(f->sign) == 1 && RAND_bytes(f->peer_share, 32) == 1 &&
             (f->base = x25519_public(f->import, nine)) != NULL &&
             (f->peer = x25519_public(f->import, f->peer_share)) != NULL &&
             pqify_kem_keypair(&pqify_kem_mlkem768, f->ek, sizeof f->ek, dk, sizeof dk) == 0;
    }
    OPENSSL_cleanse(dk, sizeof dk);
    EVP_PKEY_free(key);
    BIO_free(kb);
    if (!ok) {
        fprintf(stderr, "pqify bench handshake: set-up of the primitives-alone row failed\n");
        bench_floor_free(f);
        return NULL;
    }
    return f;
}

void bench_floor_free(bench_floor *f)
{
    if (f == NULL)
        return;
    EVP_PKEY_CTX_free(f->import);
    EVP_PKEY_CTX_free(f->sign);
    EVP_PKEY_free(f->base);
    EVP_PKEY_free(f->peer);
    free(f);
}

static int x25519_part(bench_floor *f)
{
    uint8_t k[32], pub[32], ss[32];
    size_t n = 32, m = 32;
    EVP_PKEY *mine = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, k, sizeof k),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)nine, 32),
        OSSL_PARAM_construct_end(),
    };
    int ok = EVP_PKEY_set1_encoded_public_key(f->peer, f->peer_share, 32) == 1 &&
             RAND_priv_bytes(k, sizeof k) == 1 &&
             EVP_PKEY_fromdata(f->import, &mine, EVP_PKEY_KEYPAIR, p) == 1 &&
             (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) != NULL &&
             EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, f->base, 0) == 1 &&
             EVP_PKEY_derive(ctx, pub, &n) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, f->peer, 0) == 1 &&
             EVP_PKEY_derive(ctx, ss, &m) == 1;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(ss, sizeof ss);
    return ok ? 0 : -1;
}

static int mlkem_part(bench_floor *f)
{
    uint8_t ct[PQIFY_MLKEM768_CT_BYTES], ss[32];
    int rc = pqify_kem_encaps(&pqify_kem_mlkem768, ct, sizeof ct, ss, sizeof ss, f->ek,
                              sizeof f->ek);
    OPENSSL_cleanse(ss, sizeof ss);
    return rc == 0 ? 0 : -1;
}

static int ecdsa_part(bench_floor *f)
{
    /* RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash */
    uint8_t tbs[64 + 33 + 1 + 32], digest[32], sig[80];
    size_t n = sizeof sig;
    SHA256_CTX h;
    memset(tbs, 0x20, sizeof tbs);
    SHA256_Init(&h);
    SHA256_Update(&h, tbs, sizeof tbs);
    SHA256_Final(digest, &h);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_dup(f->sign);
    int ok = ctx != NULL && EVP_PKEY_sign(ctx, sig, &n, digest, sizeof digest) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -1;
}

int bench_floor_run(bench_floor *f, uint64_t ns[BENCH_FLOOR_PARTS])
{
    static int (*const parts[BENCH_FLOOR_PARTS])(bench_floor *) = {x25519_part, mlkem_part,
                                                                   ecdsa_part};
    for (int i = 0; i < BENCH_FLOOR_PARTS; i++) {
        uint64_t t0 = thread_ns();
        if (parts[i](f) != 0)
            return -1;
        ns[i] += thread_ns() - t0;
    }
    return 0;
}
