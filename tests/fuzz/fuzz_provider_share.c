/*
 * libFuzzer: the provider's decoding of key shares, ciphertexts and raw keys
 * (src/provider), registered as a built-in provider in its own library context
 * and driven through EVP exactly as libssl 3.0 drives it.
 * Input: selector byte (algorithm = sel % 6, operation = sel / 6 % 4), then bytes:
 *   0  the bytes as a client share (EVP_PKEY_set1_encoded_public_key); a share the
 *      provider accepts must then encapsulate;
 *   1  the bytes as a ciphertext, decapsulated with a fixed key pair;
 *   2  a valid share with the bytes XORed in from an offset given by the first two
 *      bytes (reaches the checks behind the length and modulus tests);
 *   3  the bytes as PRIV_KEY and PUB_KEY for EVP_PKEY_fromdata (the first two bytes
 *      say where they split).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx);

static const char *const algs[] = {"X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024",
                                   "ML-KEM-512",     "ML-KEM-768",        "ML-KEM-1024"};
#define N_ALGS 6

static OSSL_LIB_CTX *lib;
static EVP_PKEY *fixed[N_ALGS];            /* key pairs for decapsulation */
static uint8_t valid_share[N_ALGS][1700];  /* their public keys */
static size_t valid_len[N_ALGS];

static void setup(void)
{
    lib = OSSL_LIB_CTX_new();
    if (lib == NULL || !OSSL_PROVIDER_add_builtin(lib, "pqify", OSSL_provider_init) ||
        OSSL_PROVIDER_load(lib, "pqify") == NULL)
        abort();
    for (int i = 0; i < N_ALGS; i++) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(lib, algs[i], NULL);
        uint8_t *p = NULL;
        if (c == NULL || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &fixed[i]) != 1)
            abort();
        EVP_PKEY_CTX_free(c);
        valid_len[i] = EVP_PKEY_get1_encoded_public_key(fixed[i], &p);
        if (valid_len[i] == 0 || valid_len[i] > sizeof valid_share[i])
            abort();
        memcpy(valid_share[i], p, valid_len[i]);
        OPENSSL_free(p);
    }
}

static EVP_PKEY *peer_from(int a, const uint8_t *share, size_t len)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(lib, algs[a], NULL);
    if (c == NULL || EVP_PKEY_paramgen_init(c) != 1 || EVP_PKEY_paramgen(c, &k) != 1)
        abort();
    EVP_PKEY_CTX_free(c);
    if (EVP_PKEY_set1_encoded_public_key(k, share, len) != 1) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* an accepted share has passed every check: encapsulation cannot fail */
static void must_encapsulate(EVP_PKEY *k)
{
    uint8_t ct[1700], ss[128];
    size_t ct_len = sizeof ct, ss_len = sizeof ss;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(lib, k, NULL);
    if (c == NULL || EVP_PKEY_encapsulate_init(c, NULL) != 1 ||
        EVP_PKEY_encapsulate(c, ct, &ct_len, ss, &ss_len) != 1)
        __builtin_trap();
    EVP_PKEY_CTX_free(c);
}

static void decapsulate(int a, const uint8_t *ct, size_t len)
{
    uint8_t ss[128];
    size_t ss_len = sizeof ss;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(lib, fixed[a], NULL);
    if (c == NULL || EVP_PKEY_decapsulate_init(c, NULL) != 1)
        abort();
    (void)EVP_PKEY_decapsulate(c, ss, &ss_len, ct, len);
    EVP_PKEY_CTX_free(c);
}

static void from_data(int a, const uint8_t *d, size_t n)
{
    if (n < 2)
        return;
    size_t split = ((size_t)d[0] << 8 | d[1]) % (n - 1);
    const uint8_t *rest = d + 2;
    size_t rest_len = n - 2;
    if (split > rest_len)
        split = rest_len;
    EVP_PKEY *k = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)rest, split),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)(rest + split),
                                          rest_len - split),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(lib, algs[a], NULL);
    if (c == NULL || EVP_PKEY_fromdata_init(c) != 1)
        abort();
    if (EVP_PKEY_fromdata(c, &k, EVP_PKEY_KEYPAIR, params) == 1)
        must_encapsulate(k);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (lib == NULL)
        setup();
    if (size < 1)
        return 0;
    int a = data[0] % N_ALGS, op = data[0] / N_ALGS % 4;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    EVP_PKEY *k;
    switch (op) {
    case 0:
        if ((k = peer_from(a, d, n)) != NULL)
            must_encapsulate(k);
        EVP_PKEY_free(k);
        break;
    case 1:
        decapsulate(a, d, n);
        break;
    case 2: {
        uint8_t share[1700];
        if (n < 2)
            return 0;
        size_t at = ((size_t)d[0] << 8 | d[1]) % valid_len[a];
        memcpy(share, valid_share[a], valid_len[a]);
        for (size_t i = 2; i < n && at + i - 2 < valid_len[a]; i++)
            share[at + i - 2] ^= d[i];
        if ((k = peer_from(a, share, valid_len[a])) != NULL)
            must_encapsulate(k);
        EVP_PKEY_free(k);
        break;
    }
    default:
        from_data(a, d, n);
        break;
    }
    return 0;
}
