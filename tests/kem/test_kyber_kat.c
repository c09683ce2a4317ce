/*
 * Round-3 Kyber known-answer tests, regenerated from scratch.
 *
 * The round-3 submission's KAT generator seeds the NIST AES-256-CTR DRBG
 * (SP 800-90A CTR_DRBG without derivation function, as in the submission's
 * rng.c) with the bytes 0..47, draws 100 48-byte seeds, and for each seed
 * re-seeds the DRBG and runs crypto_kem_keypair then crypto_kem_enc, which
 * draw 32 + 32 bytes and 32 bytes from randombytes(). We replay exactly those
 * draws into pqify_kyberN_{keypair,encaps}_derand, print the .rsp text the
 * generator prints, and compare its SHA-256 with the published hash of the
 * submission's file (../shared/vectors/README.md). This part needs no file and
 * never skips. The implicit-rejection key for corrupted ciphertexts, which the
 * KAT files do not cover, is checked against libcrypto's SHAKE-256 and SHA3-256.
 * When ../shared/vectors is present, the text is also compared line by line
 * with the files, to point at the first wrong value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "kem_test_util.h"
#include "pqify/kem.h"

#define KAT_CASES 100
#define DRBG_SEED_BYTES 48

/* ---- NIST AES-256-CTR DRBG (the submission's rng.c behaviour) ---- */

static EVP_CIPHER *g_aes256_ecb;  /* fetched once per process */
static EVP_CIPHER_CTX *g_aes_ctx;

typedef struct {
    uint8_t key[32];
    uint8_t v[16];
} kat_drbg;

static void aes256_ecb_block(const uint8_t key[32], const uint8_t in[16], uint8_t out[16])
{
    int outl = 0;
    assert_int_equal(EVP_EncryptInit_ex2(g_aes_ctx, g_aes256_ecb, key, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_set_padding(g_aes_ctx, 0), 1);
    assert_int_equal(EVP_EncryptUpdate(g_aes_ctx, out, &outl, in, 16), 1);
    assert_int_equal(outl, 16);
}

/* V is a 128-bit big-endian counter. */
static void drbg_increment_v(kat_drbg *d)
{
    for (int j = 15; j >= 0; j--) {
        if (d->v[j] == 0xff) {
            d->v[j] = 0x00;
        } else {
            d->v[j]++;
            break;
        }
    }
}

/* CTR_DRBG_Update (SP 800-90A §10.2.1.2) with seedlen = 48 bytes. */
static void drbg_update(kat_drbg *d, const uint8_t provided[DRBG_SEED_BYTES])
{
    uint8_t temp[DRBG_SEED_BYTES];
    for (int i = 0; i < 3; i++) {
        drbg_increment_v(d);
        aes256_ecb_block(d->key, d->v, temp + 16 * i);
    }
    if (provided != NULL) {
        for (int i = 0; i < DRBG_SEED_BYTES; i++) temp[i] ^= provided[i];
    }
    memcpy(d->key, temp, 32);
    memcpy(d->v, temp + 32, 16);
}

/* randombytes_init(entropy, NULL, 256): no personalization string. */
static void drbg_init(kat_drbg *d, const uint8_t entropy[DRBG_SEED_BYTES])
{
    memset(d->key, 0, sizeof d->key);
    memset(d->v, 0, sizeof d->v);
    drbg_update(d, entropy);
}

/* randombytes(): whole blocks, a partial last block, then one Update per call. */
static void drbg_bytes(kat_drbg *d, uint8_t *out, size_t len)
{
    uint8_t block[16];
    while (len > 0) {
        drbg_increment_v(d);
        aes256_ecb_block(d->key, d->v, block);
        size_t n = len < 16 ? len : 16;
        memcpy(out, block, n);
        out += n;
        len -= n;
    }
    drbg_update(d, NULL);
}

/* ---- the three parameter sets ---- */

typedef struct {
    const char *name;     /* CRYPTO_ALGNAME, printed in the header line */
    const char *file;     /* the submission's file name */
    const char *sha256;   /* published SHA-256 of that file */
    size_t pk_bytes, sk_bytes, ct_bytes;
    int (*keypair_derand)(uint8_t *, uint8_t *, const uint8_t *);
    int (*encaps_derand)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
    int (*decaps)(uint8_t *, const uint8_t *, const uint8_t *);
} kat_set;

static int kyber512_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t *c)
{ return pqify_kyber512_keypair_derand(pk, sk, c); }
static int kyber512_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *c)
{ return pqify_kyber512_encaps_derand(ct, ss, pk, c); }
static int kyber512_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
{ return pqify_kyber512_decaps(ss, ct, sk); }
static int kyber768_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t *c)
{ return pqify_kyber768_keypair_derand(pk, sk, c); }
static int kyber768_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *c)
{ return pqify_kyber768_encaps_derand(ct, ss, pk, c); }
static int kyber768_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
{ return pqify_kyber768_decaps(ss, ct, sk); }
static int kyber1024_keypair_derand(uint8_t *pk, uint8_t *sk, const uint8_t *c)
{ return pqify_kyber1024_keypair_derand(pk, sk, c); }
static int kyber1024_encaps_derand(uint8_t *ct, uint8_t *ss, const uint8_t *pk, const uint8_t *c)
{ return pqify_kyber1024_encaps_derand(ct, ss, pk, c); }
static int kyber1024_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
{ return pqify_kyber1024_decaps(ss, ct, sk); }

/* Hashes: ../shared/vectors/README.md (SHA-256 of the round-3 submission's files). */
static const kat_set k_sets[] = {
    {"Kyber512", "PQCkemKAT_1632.rsp",
     "e9c2bd37133fcb40772f81559f14b1f58dccd1c816701be9ba6214d43baf4547",
     PQIFY_KYBER512_PK_BYTES, PQIFY_KYBER512_SK_BYTES, PQIFY_KYBER512_CT_BYTES,
     kyber512_keypair_derand, kyber512_encaps_derand, kyber512_decaps},
    {"Kyber768", "PQCkemKAT_2400.rsp",
     "a1e122cad3c24bc51622e4c242d8b8acbcd3f618fee4220400605ca8f9ea02c2",
     PQIFY_KYBER768_PK_BYTES, PQIFY_KYBER768_SK_BYTES, PQIFY_KYBER768_CT_BYTES,
     kyber768_keypair_derand, kyber768_encaps_derand, kyber768_decaps},
    {"Kyber1024", "PQCkemKAT_3168.rsp",
     "89248f2f33f7f4f7051729111f3049c409a933ec904aedadf035f30fa5646cd5",
     PQIFY_KYBER1024_PK_BYTES, PQIFY_KYBER1024_SK_BYTES, PQIFY_KYBER1024_CT_BYTES,
     kyber1024_keypair_derand, kyber1024_encaps_derand, kyber1024_decaps},
};

/* ---- .rsp text ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < t->cap - t->len);
    t->len += (size_t)n;
}

/* fprintBstr of the generator: label, uppercase hex, newline ("00" if empty). */
static void text_bytes(text *t, const char *label, const uint8_t *b, size_t len)
{
    text_printf(t, "%s", label);
    assert_true(t->cap - t->len > 2 * len + 3);
    if (len == 0) {
        text_printf(t, "00");
    } else {
        kt_hex(t->buf + t->len, b, len, 1);
        t->len += 2 * len;
    }
    text_printf(t, "\n");
}

/*
 * Regenerate the whole .rsp file for one set into a new buffer (caller frees).
 * Every decaps must give back the encapsulated key; failures are counted in
 * *decaps_failures with the first case printed.
 */
static text generate_rsp(const kat_set *s, int *decaps_failures)
{
    text t;
    t.cap = 2 + 64 + KAT_CASES * (64 + 2 * (DRBG_SEED_BYTES + s->pk_bytes + s->sk_bytes +
                                             s->ct_bytes + PQIFY_KEM_SS_BYTES));
    t.buf = malloc(t.cap);
    t.len = 0;
    assert_non_null(t.buf);
    *decaps_failures = 0;

    uint8_t entropy[DRBG_SEED_BYTES];
    for (int i = 0; i < DRBG_SEED_BYTES; i++) entropy[i] = (uint8_t)i;
    kat_drbg outer;
    drbg_init(&outer, entropy);
    /* The generator draws all 100 seeds first (its .req pass). */
    uint8_t seeds[KAT_CASES][DRBG_SEED_BYTES];
    for (int i = 0; i < KAT_CASES; i++) drbg_bytes(&outer, seeds[i], DRBG_SEED_BYTES);

    uint8_t *pk = malloc(s->pk_bytes), *sk = malloc(s->sk_bytes), *ct = malloc(s->ct_bytes);
    assert_true(pk != NULL && sk != NULL && ct != NULL);
    uint8_t ss[PQIFY_KEM_SS_BYTES], ss2[PQIFY_KEM_SS_BYTES];

    text_printf(&t, "# %s\n\n", s->name);
    for (int i = 0; i < KAT_CASES; i++) {
        kat_drbg d;
        uint8_t kcoins[PQIFY_KEM_SEED_BYTES], ecoins[PQIFY_KEM_MSG_BYTES];
        drbg_init(&d, seeds[i]);
        /* Two separate randombytes() calls (indcpa seed, then z): each call
         * ends with a DRBG update, so this is not one 64-byte draw. */
        drbg_bytes(&d, kcoins, 32);
        drbg_bytes(&d, kcoins + 32, 32);
        drbg_bytes(&d, ecoins, 32);

        text_printf(&t, "count = %d\n", i);
        text_bytes(&t, "seed = ", seeds[i], DRBG_SEED_BYTES);
        assert_int_equal(s->keypair_derand(pk, sk, kcoins), 0);
        text_bytes(&t, "pk = ", pk, s->pk_bytes);
        text_bytes(&t, "sk = ", sk, s->sk_bytes);
        assert_int_equal(s->encaps_derand(ct, ss, pk, ecoins), 0);
        text_bytes(&t, "ct = ", ct, s->ct_bytes);
        text_bytes(&t, "ss = ", ss, sizeof ss);
        text_printf(&t, "\n");

        assert_int_equal(s->decaps(ss2, ct, sk), 0);
        if (memcmp(ss, ss2, sizeof ss) != 0) {
            if (*decaps_failures == 0) {
                fprintf(stderr, "%s count = %d: decaps does not return the encapsulated key\n",
                        s->name, i);
                kt_print_hex("encaps ss", ss, sizeof ss, sizeof ss);
                kt_print_hex("decaps ss", ss2, sizeof ss2, sizeof ss2);
            }
            (*decaps_failures)++;
        }
    }
    free(pk);
    free(sk);
    free(ct);
    return t;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
    assert_int_equal(mdlen, 32);
    kt_hex(out, md, 32, 0);
}

/* ---- tests ---- */

/*
 * The DRBG alone: the first seed every round-3 KAT file prints (count = 0) is
 * the first 48-byte draw after seeding with 0..47. If this fails, the test's
 * DRBG is wrong, not the KEM.
 */
static void test_drbg_first_seed(void **state)
{
    (void)state;
    static const char want[] = "061550234D158C5EC95595FE04EF7A25767F2E24CC2BC479"
                               "D09D86DC9ABCFDE7056A8C266F9EF97ED08541DBD2E1FFA1";
    uint8_t entropy[DRBG_SEED_BYTES], seed[DRBG_SEED_BYTES];
    char got[2 * DRBG_SEED_BYTES + 1];
    for (int i = 0; i < DRBG_SEED_BYTES; i++) entropy[i] = (uint8_t)i;
    kat_drbg d;
    drbg_init(&d, entropy);
    drbg_bytes(&d, seed, sizeof seed);
    kt_hex(got, seed, sizeof seed, 1);
    assert_string_equal(got, want);
}

static void check_hash(const kat_set *s)
{
    int decaps_failures = 0;
    text t = generate_rsp(s, &decaps_failures);
    char got[65];
    sha256_hex(t.buf, t.len, got);
    if (strcmp(got, s->sha256) != 0) {
        fprintf(stderr,
                "%s: SHA-256 of the regenerated %s is %s, published %s "
                "(%zu bytes of text; the line-by-line test shows where it differs "
                "when ../shared/vectors is present)\n",
                s->name, s->file, got, s->sha256, t.len);
    }
    free(t.buf);
    assert_int_equal(decaps_failures, 0);
    assert_string_equal(got, s->sha256);
}

static void test_hash_kyber512(void **state) { (void)state; check_hash(&k_sets[0]); }
static void test_hash_kyber768(void **state) { (void)state; check_hash(&k_sets[1]); }
static void test_hash_kyber1024(void **state) { (void)state; check_hash(&k_sets[2]); }

/*
 * Round-3 implicit rejection, checked with libcrypto's hashes rather than
 * pqify's: for a ciphertext c' that fails re-encryption, the round-3 reference
 * returns K = SHAKE-256(z || SHA3-256(c')), z being the last 32 bytes of sk.
 * Keys and ciphertexts come from the KAT DRBG (first 10 cases), with one bit
 * of c flipped at a position that moves through the whole ciphertext.
 */
static void check_rejection(const kat_set *s)
{
    uint8_t entropy[DRBG_SEED_BYTES], seed[DRBG_SEED_BYTES];
    for (int i = 0; i < DRBG_SEED_BYTES; i++) entropy[i] = (uint8_t)i;
    kat_drbg outer;
    drbg_init(&outer, entropy);
    uint8_t *pk = malloc(s->pk_bytes), *sk = malloc(s->sk_bytes), *ct = malloc(s->ct_bytes);
    assert_true(pk != NULL && sk != NULL && ct != NULL);
    int failures = 0;
    for (int i = 0; i < 10; i++) {
        kat_drbg d;
        uint8_t kcoins[PQIFY_KEM_SEED_BYTES], ecoins[PQIFY_KEM_MSG_BYTES];
        uint8_t ss[PQIFY_KEM_SS_BYTES], ss_bad[PQIFY_KEM_SS_BYTES], want[PQIFY_KEM_SS_BYTES];
        uint8_t z_hc[64];
        unsigned int len = 0;
        drbg_bytes(&outer, seed, sizeof seed);
        drbg_init(&d, seed);
        drbg_bytes(&d, kcoins, 32);
        drbg_bytes(&d, kcoins + 32, 32);
        drbg_bytes(&d, ecoins, 32);
        assert_int_equal(s->keypair_derand(pk, sk, kcoins), 0);
        assert_int_equal(s->encaps_derand(ct, ss, pk, ecoins), 0);

        size_t bit = ((size_t)i * 8 * s->ct_bytes) / 10 + (size_t)i;
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memcpy(z_hc, sk + s->sk_bytes - 32, 32);
        assert_int_equal(EVP_Digest(ct, s->ct_bytes, z_hc + 32, &len, EVP_sha3_256(), NULL), 1);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        assert_non_null(md);
        assert_int_equal(EVP_DigestInit_ex(md, EVP_shake256(), NULL), 1);
        assert_int_equal(EVP_DigestUpdate(md, z_hc, sizeof z_hc), 1);
        assert_int_equal(EVP_DigestFinalXOF(md, want, sizeof want), 1);
        EVP_MD_CTX_free(md);

        assert_int_equal(s->decaps(ss_bad, ct, sk), 0);
        if (kt_check_bytes("rejection K vs SHAKE-256(z || SHA3-256(c'))", ss_bad, want,
                           sizeof want) != 0) {
            fprintf(stderr, "%s: KAT count = %d with bit %zu of ct flipped\n", s->name, i, bit);
            failures++;
        }
    }
    free(pk);
    free(sk);
    free(ct);
    assert_int_equal(failures, 0);
}

static void test_reject_kyber512(void **state) { (void)state; check_rejection(&k_sets[0]); }
static void test_reject_kyber768(void **state) { (void)state; check_rejection(&k_sets[1]); }
static void test_reject_kyber1024(void **state) { (void)state; check_rejection(&k_sets[2]); }

/* Compare with the submission's file; report the first differing line. */
static void check_file(const kat_set *s)
{
    const char *why = NULL;
    const char *dir = kt_vectors_dir(&why);
    if (dir == NULL) {
        print_message("%s: line-by-line comparison skipped: %s\n", s->name, why);
        skip();
    }
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/kyber-r3/%s", dir, s->file);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("%s: vectors folder present but %s cannot be opened", s->name, path);

    int decaps_failures = 0;
    text t = generate_rsp(s, &decaps_failures);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got_len;
    size_t pos = 0, lineno = 0;
    int differ = 0, count = -1;
    while ((got_len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (strncmp(line, "count = ", 8) == 0) count = atoi(line + 8);
        const char *ours = t.buf + pos;
        const char *nl = memchr(ours, '\n', t.len - pos);
        size_t ours_len = nl != NULL ? (size_t)(nl - ours) + 1 : t.len - pos;
        if (ours_len != (size_t)got_len || memcmp(ours, line, ours_len) != 0) {
            size_t col = 0;
            while (col < ours_len && col < (size_t)got_len && ours[col] == line[col]) col++;
            /* Show the field name and a window around the first differing column. */
            const char *eq = memchr(line, '=', (size_t)got_len);
            int name_len = eq != NULL ? (int)(eq - line) : 0;
            size_t from = col > 20 ? col - 20 : 0;
            size_t file_rest = (size_t)got_len > from ? (size_t)got_len - from : 0;
            size_t ours_rest = ours_len > from ? ours_len - from : 0;
            fprintf(stderr,
                    "%s: first difference with %s at line %zu (count = %d, field '%.*s'), "
                    "column %zu\n"
                    "  file [col %zu..]: %.*s\n  ours [col %zu..]: %.*s\n",
                    s->name, path, lineno, count, name_len, line, col + 1, from + 1,
                    (int)(file_rest > 64 ? 64 : file_rest), line + from, from + 1,
                    (int)(ours_rest > 64 ? 64 : ours_rest), ours + from);
            differ = 1;
            break;
        }
        pos += ours_len;
    }
    if (!differ && pos != t.len) {
        fprintf(stderr, "%s: %s ends at line %zu but the regenerated text goes on\n", s->name,
                path, lineno);
        differ = 1;
    }
    free(line);
    fclose(f);
    free(t.buf);
    assert_int_equal(decaps_failures, 0);
    assert_false(differ);
    assert_int_equal(lineno, 2 + 7 * KAT_CASES);
}

static void test_file_kyber512(void **state) { (void)state; check_file(&k_sets[0]); }
static void test_file_kyber768(void **state) { (void)state; check_file(&k_sets[1]); }
static void test_file_kyber1024(void **state) { (void)state; check_file(&k_sets[2]); }

static int setup(void **state)
{
    (void)state;
    g_aes256_ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
    g_aes_ctx = EVP_CIPHER_CTX_new();
    if (g_aes256_ecb == NULL || g_aes_ctx == NULL) {
        fprintf(stderr, "cannot fetch AES-256-ECB from libcrypto\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_CIPHER_CTX_free(g_aes_ctx);
    EVP_CIPHER_free(g_aes256_ecb);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drbg_first_seed),
        cmocka_unit_test(test_hash_kyber512),
        cmocka_unit_test(test_hash_kyber768),
        cmocka_unit_test(test_hash_kyber1024),
        cmocka_unit_test(test_reject_kyber512),
        cmocka_unit_test(test_reject_kyber768),
        cmocka_unit_test(test_reject_kyber1024),
        cmocka_unit_test(test_file_kyber512),
        cmocka_unit_test(test_file_kyber768),
        cmocka_unit_test(test_file_kyber1024),
    };
    /* Without the vectors folder the file comparisons report SKIPPED inside
     * cmocka's output, while the self-contained hash checks still pass or fail
     * the program: a skip must not hide that they ran. */
    return cmocka_run_group_tests(tests, setup, teardown) != 0;
}
