/*
 * ML-KEM against the Community Cryptography Test Vectors (CC0) in
 * ../shared/vectors/mlkem-cctv (see its README.md):
 *   intermediate/   one full KeyGen/Encaps/Decaps run per set: we check ek, dk
 *                   from (d, z), c and K from (ek, m), and Decaps(dk, c) = K.
 *                   Older copies of these files were made with the FIPS 203 draft
 *                   KeyGen, (rho, sigma) = G(d), where the final standard hashes
 *                   G(d || k) (Alg. 13 step 1). We tell the two apart with libcrypto's
 *                   SHA3-512 (rho is the tail of ek). A draft-era record cannot
 *                   match a correct ML-KEM KeyGen; but the draft KeyGen is the
 *                   round-3 Kyber KeyGen (G(d), same K-PKE with the CCTV/October
 *                   2023 XOF index order, same dk layout), so we compare the file's
 *                   ek/dk with pqify_kyberN_keypair_derand(d || z), and check of
 *                   ML-KEM's KeyGen(d, z) that rho = G(d || k) and the dk layout.
 *                   Encaps and Decaps did not change and are checked in full.
 *   unluckysample/  the same checks on seeds whose SampleNTT needs more than
 *                   575 bytes of SHAKE-128 output (FIPS 203 Alg. 7 loops until
 *                   256 coefficients are accepted).
 *   strcmp/         Decaps(dk, c) = K where the re-encryption differs from c
 *                   only after a zero byte (FIPS 203 Alg. 18 compares all bytes).
 *   modulus/        encapsulation keys with one coefficient >= q: encaps must fail
 *                   with PQIFY_ERR_INVALID_EK (FIPS 203 §7.2 modulus check).
 * The whole program skips (77) only when the vectors folder is absent.
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

typedef struct {
    int n;  /* 512, 768, 1024 */
    int k;  /* module rank */
    size_t ek_bytes, dk_bytes, ct_bytes;
    int (*keypair_derand)(uint8_t *, uint8_t *, const uint8_t *);
    int (*encaps)(uint8_t *, uint8_t *, const uint8_t *);
    int (*encaps_derand)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
    int (*decaps)(uint8_t *, const uint8_t *, const uint8_t *);
    const pqify_kem *table;
    const pqify_kem *kyber; /* same sizes; its KeyGen is the FIPS 203 draft's */
} mlkem_set;

#define MLKEM_SET(N)                                                                          \
    {N, (N) / 256, PQIFY_MLKEM##N##_EK_BYTES, PQIFY_MLKEM##N##_DK_BYTES,                      \
     PQIFY_MLKEM##N##_CT_BYTES, mlkem##N##_keypair_derand, mlkem##N##_encaps,                 \
     mlkem##N##_encaps_derand, mlkem##N##_decaps, &pqify_kem_mlkem##N, &pqify_kem_kyber##N}
static const mlkem_set k_sets[] = {MLKEM_SET(512), MLKEM_SET(768), MLKEM_SET(1024)};

static const char *g_dir; /* .../mlkem-cctv */
static int g_draft_keygen_records; /* records whose ek comes from the draft G(d) */

/* ---- "name = hex" files ---- */

/* The fields we use; any others (rho, A, s, ...) are intermediate values we skip. */
enum { F_D, F_Z, F_M, F_EK, F_DK, F_C, F_K, F_COUNT };
static const char *const k_field_names[F_COUNT] = {"d", "z", "m", "ek", "dk", "c", "K"};

typedef struct {
    uint8_t *v[F_COUNT];
    size_t len[F_COUNT];
    size_t line[F_COUNT];
} record;

static void record_clear(record *r)
{
    for (int i = 0; i < F_COUNT; i++) free(r->v[i]);
    memset(r, 0, sizeof *r);
}

typedef void (*record_fn)(const mlkem_set *s, const record *r, const char *path, int index,
                          int *failures);

static int field_index(const char *name, size_t len)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (strlen(k_field_names[i]) == len && memcmp(k_field_names[i], name, len) == 0) return i;
    }
    return -1;
}

/*
 * Read every record of a file and hand it to fn. A record ends when one of the
 * fields we use appears again, or at end of file. Returns the record count.
 */
static int for_each_record(const mlkem_set *s, const char *path, record_fn fn, int *failures)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) fail_msg("vectors folder present but %s cannot be opened", path);
    record r;
    memset(&r, 0, sizeof r);
    int records = 0, have_any = 0;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = kt_chomp(line, (size_t)got);
        const char *eq = strstr(line, " = ");
        if (len == 0 || line[0] == '#') continue;
        if (eq == NULL) fail_msg("%s:%zu: not a 'name = value' line", path, lineno);
        int fi = field_index(line, (size_t)(eq - line));
        if (fi < 0) continue;
        if (r.v[fi] != NULL) {
            fn(s, &r, path, records++, failures);
            record_clear(&r);
            have_any = 0;
        }
        const char *hex = eq + 3;
        size_t hex_len = len - (size_t)(hex - line);
        if (hex_len % 2 != 0) fail_msg("%s:%zu: odd-length hex", path, lineno);
        r.len[fi] = hex_len / 2;
        r.v[fi] = malloc(r.len[fi] + 1);
        assert_non_null(r.v[fi]);
        r.line[fi] = lineno;
        if (kt_unhex(r.v[fi], r.len[fi], hex, hex_len) != 0)
            fail_msg("%s:%zu: bad hex in field %s", path, lineno, k_field_names[fi]);
        have_any = 1;
    }
    if (have_any) fn(s, &r, path, records++, failures);
    record_clear(&r);
    free(line);
    fclose(f);
    return records;
}

static void need_field(const record *r, int fi, size_t len, const char *path, int index)
{
    if (r->v[fi] == NULL) fail_msg("%s record %d: no field %s", path, index, k_field_names[fi]);
    if (r->len[fi] != len)
        fail_msg("%s record %d (line %zu): field %s is %zu bytes, want %zu", path, index,
                 r->line[fi], k_field_names[fi], r->len[fi], len);
}

static void report(int *failures, const char *path, int index, const char *what)
{
    fprintf(stderr, "FAIL %s record %d: %s\n", path, index, what);
    (*failures)++;
}

/*
 * What can be checked of KeyGen(d, z) without a matching vector, with libcrypto
 * as the independent hash: rho = first half of G(d || k) ends ek (Alg. 13 steps
 * 1, 19), and dk = dk_PKE || ek || H(ek) || z (Alg. 16 step 3).
 */
static void check_keygen_structure(const mlkem_set *s, const uint8_t *ek, const uint8_t *dk,
                                   const uint8_t g_final[64], const uint8_t z[32],
                                   const char *path, int index, int *failures)
{
    size_t pke = s->dk_bytes - s->ek_bytes - 64;
    uint8_t h[32];
    unsigned int h_len = 0;
    assert_int_equal(EVP_Digest(ek, s->ek_bytes, h, &h_len, EVP_sha3_256(), NULL), 1);
    if (kt_check_bytes("rho at the end of ek vs G(d || k)", ek + s->ek_bytes - 32, g_final, 32))
        report(failures, path, index, "KeyGen(d, z): rho is not G(d || k)[0:32]");
    if (kt_check_bytes("ek inside dk", dk + pke, ek, s->ek_bytes))
        report(failures, path, index, "KeyGen(d, z): dk does not embed ek");
    if (kt_check_bytes("H(ek) inside dk vs SHA3-256(ek)", dk + pke + s->ek_bytes, h, 32))
        report(failures, path, index, "KeyGen(d, z): dk does not embed H(ek)");
    if (kt_check_bytes("z at the end of dk", dk + s->dk_bytes - 32, z, 32))
        report(failures, path, index, "KeyGen(d, z): dk does not end with z");
}

/* intermediate/ and unluckysample/: the full KeyGen, Encaps, Decaps run. */
static void check_full_run(const mlkem_set *s, const record *r, const char *path, int index,
                           int *failures)
{
    need_field(r, F_D, 32, path, index);
    need_field(r, F_Z, 32, path, index);
    need_field(r, F_M, 32, path, index);
    need_field(r, F_EK, s->ek_bytes, path, index);
    need_field(r, F_DK, s->dk_bytes, path, index);
    need_field(r, F_C, s->ct_bytes, path, index);
    need_field(r, F_K, PQIFY_KEM_SS_BYTES, path, index);

    uint8_t seed[PQIFY_KEM_SEED_BYTES], ss[PQIFY_KEM_SS_BYTES], ss2[PQIFY_KEM_SS_BYTES];
    uint8_t *ek = malloc(s->ek_bytes), *dk = malloc(s->dk_bytes), *ct = malloc(s->ct_bytes);
    assert_true(ek != NULL && dk != NULL && ct != NULL);
    memcpy(seed, r->v[F_D], 32);
    memcpy(seed + 32, r->v[F_Z], 32);

    /* Which KeyGen made the file's ek? rho is its last 32 bytes (Alg. 13 step 19). */
    uint8_t g_in[33], g_final[64], g_draft[64];
    unsigned int g_len = 0;
    memcpy(g_in, r->v[F_D], 32);
    g_in[32] = (uint8_t)s->k;
    assert_int_equal(EVP_Digest(g_in, 33, g_final, &g_len, EVP_sha3_512(), NULL), 1);
    assert_int_equal(EVP_Digest(g_in, 32, g_draft, &g_len, EVP_sha3_512(), NULL), 1);
    const uint8_t *rho = r->v[F_EK] + s->ek_bytes - 32;
    int final_keygen = memcmp(g_final, rho, 32) == 0;
    int draft_keygen = memcmp(g_draft, rho, 32) == 0;

    int rc = s->keypair_derand(ek, dk, seed);
    if (rc != 0) {
        report(failures, path, index, "keypair_derand failed");
    } else if (draft_keygen) {
        print_message("%s record %d: ek was made with the FIPS 203 draft KeyGen "
                      "(rho = G(d), not G(d || k)): compared with pqify's round-3 Kyber KeyGen "
                      "(= the draft's); ML-KEM KeyGen(d, z) checked for rho = G(d || k) "
                      "and the dk layout\n",
                      path, index);
        g_draft_keygen_records++;
        check_keygen_structure(s, ek, dk, g_final, r->v[F_Z], path, index, failures);
        if (s->kyber->keypair_derand(ek, dk, seed) != 0) {
            report(failures, path, index, "kyber keypair_derand failed");
        } else {
            if (kt_check_bytes("ek = draft KeyGen(d, z).ek (round-3 Kyber keypair)", ek,
                               r->v[F_EK], s->ek_bytes) != 0)
                report(failures, path, index, "draft-KeyGen ek differs");
            if (kt_check_bytes("dk = draft KeyGen(d, z).dk (round-3 Kyber keypair)", dk,
                               r->v[F_DK], s->dk_bytes) != 0)
                report(failures, path, index, "draft-KeyGen dk differs");
        }
    } else if (!final_keygen) {
        report(failures, path, index, "the file's ek is not derived from its d by G(d || k) "
                                      "or by the draft G(d): corrupted vector file?");
    } else {
        if (kt_check_bytes("ek = KeyGen(d, z).ek", ek, r->v[F_EK], s->ek_bytes) != 0)
            report(failures, path, index, "ek differs");
        if (kt_check_bytes("dk = KeyGen(d, z).dk", dk, r->v[F_DK], s->dk_bytes) != 0)
            report(failures, path, index, "dk differs");
    }
    /* Encaps and decaps from the file's keys, so one wrong step does not hide the next. */
    rc = s->encaps_derand(ct, ss, r->v[F_EK], r->v[F_M]);
    if (rc != 0) {
        fprintf(stderr, "  encaps_derand returned %d\n", rc);
        report(failures, path, index, "encaps_derand rejected a valid ek");
    } else {
        if (kt_check_bytes("c = Encaps(ek, m).c", ct, r->v[F_C], s->ct_bytes) != 0)
            report(failures, path, index, "c differs");
        if (kt_check_bytes("K = Encaps(ek, m).K", ss, r->v[F_K], sizeof ss) != 0)
            report(failures, path, index, "encaps K differs");
    }
    rc = s->decaps(ss2, r->v[F_C], r->v[F_DK]);
    if (rc != 0) {
        fprintf(stderr, "  decaps returned %d\n", rc);
        report(failures, path, index, "decaps rejected a valid dk");
    } else if (kt_check_bytes("K = Decaps(dk, c)", ss2, r->v[F_K], sizeof ss2) != 0) {
        report(failures, path, index, "decaps K differs");
    }
    free(ek);
    free(dk);
    free(ct);
}

/* strcmp/: only (dk, c, K). */
static void check_decaps_only(const mlkem_set *s, const record *r, const char *path, int index,
                              int *failures)
{
    need_field(r, F_DK, s->dk_bytes, path, index);
    need_field(r, F_C, s->ct_bytes, path, index);
    need_field(r, F_K, PQIFY_KEM_SS_BYTES, path, index);
    uint8_t ss[PQIFY_KEM_SS_BYTES];
    int rc = s->decaps(ss, r->v[F_C], r->v[F_DK]);
    if (rc != 0) {
        fprintf(stderr, "  decaps returned %d\n", rc);
        report(failures, path, index, "decaps rejected a valid dk");
    } else if (kt_check_bytes("K = Decaps(dk, c)", ss, r->v[F_K], sizeof ss) != 0) {
        report(failures, path, index, "decaps K differs");
    }
}

static void run_text_dir(const char *sub, record_fn fn)
{
    int total_failures = 0;
    for (size_t i = 0; i < sizeof k_sets / sizeof k_sets[0]; i++) {
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/%s/ML-KEM-%d.txt", g_dir, sub, k_sets[i].n);
        assert_true(n > 0 && (size_t)n < sizeof path);
        int failures = 0;
        int records = for_each_record(&k_sets[i], path, fn, &failures);
        print_message("%s: %d record(s), %d failure(s)\n", path, records, failures);
        if (records == 0) {
            fprintf(stderr, "FAIL %s: no records\n", path);
            failures++;
        }
        total_failures += failures;
    }
    assert_int_equal(total_failures, 0);
}

static void test_intermediate(void **state)
{
    (void)state;
    run_text_dir("intermediate", check_full_run);
}

static void test_unluckysample(void **state)
{
    (void)state;
    run_text_dir("unluckysample", check_full_run);
}

static void test_strcmp(void **state)
{
    (void)state;
    run_text_dir("strcmp", check_decaps_only);
}

/* modulus/: every key must be rejected, by encaps, encaps_derand and the table. */
static void test_modulus(void **state)
{
    (void)state;
    int total_failures = 0;
    for (size_t i = 0; i < sizeof k_sets / sizeof k_sets[0]; i++) {
        const mlkem_set *s = &k_sets[i];
        char path[4096], cmd[4200];
        int n = snprintf(path, sizeof path, "%s/modulus/ML-KEM-%d.txt.gz", g_dir, s->n);
        assert_true(n > 0 && (size_t)n < sizeof path);
        FILE *probe = fopen(path, "rb");
        if (probe == NULL) fail_msg("vectors folder present but %s cannot be opened", path);
        fclose(probe);
        if (strchr(path, '\'') != NULL) fail_msg("cannot quote %s for the shell", path);
        n = snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
        assert_true(n > 0 && (size_t)n < sizeof cmd);
        FILE *f = popen(cmd, "r");
        if (f == NULL) fail_msg("cannot run %s", cmd);

        uint8_t *ek = malloc(s->ek_bytes), *ct = malloc(s->ct_bytes);
        assert_true(ek != NULL && ct != NULL);
        uint8_t ss[PQIFY_KEM_SS_BYTES], m[PQIFY_KEM_MSG_BYTES];
        memset(m, 0x5a, sizeof m);
        char *line = NULL;
        size_t cap = 0, lineno = 0;
        ssize_t got;
        int failures = 0, keys = 0;
        while ((got = getline(&line, &cap, f)) >= 0) {
            lineno++;
            size_t len = kt_chomp(line, (size_t)got);
            if (len == 0) continue;
            if (kt_unhex(ek, s->ek_bytes, line, len) != 0) {
                fprintf(stderr, "FAIL %s:%zu: not %zu bytes of hex\n", path, lineno, s->ek_bytes);
                failures++;
                continue;
            }
            keys++;
            int rc1 = s->encaps(ct, ss, ek);
            int rc2 = s->encaps_derand(ct, ss, ek, m);
            int rc3 = pqify_kem_encaps(s->table, ct, s->ct_bytes, ss, sizeof ss, ek, s->ek_bytes);
            if (rc1 != PQIFY_ERR_INVALID_EK || rc2 != PQIFY_ERR_INVALID_EK ||
                rc3 != PQIFY_ERR_INVALID_EK) {
                if (failures < 5) {
                    fprintf(stderr,
                            "FAIL %s:%zu: invalid ek accepted or wrong error "
                            "(encaps %d, encaps_derand %d, pqify_kem_encaps %d; want %d)\n",
                            path, lineno, rc1, rc2, rc3, PQIFY_ERR_INVALID_EK);
                }
                failures++;
            }
        }
        free(line);
        int status = pclose(f);
        if (status != 0) {
            fprintf(stderr, "FAIL %s: gzip -dc exited with status %d\n", path, status);
            failures++;
        }
        if (keys == 0) {
            fprintf(stderr, "FAIL %s: no keys\n", path);
            failures++;
        }
        print_message("%s: %d invalid key(s), %d failure(s)\n", path, keys, failures);
        free(ek);
        free(ct);
        total_failures += failures;
    }
    assert_int_equal(total_failures, 0);
}

int main(void)
{
    const char *why = NULL;
    const char *vectors = kt_vectors_dir(&why);
    if (vectors == NULL) {
        fprintf(stderr, "test_cctv: SKIP: %s; the CCTV vectors cannot be checked\n", why);
        return KT_EXIT_SKIP;
    }
    static char dir[4096];
    int n = snprintf(dir, sizeof dir, "%s/mlkem-cctv", vectors);
    if (n <= 0 || (size_t)n >= sizeof dir) return 1;
    if (!kt_is_dir(dir)) {
        /* The folder exists but lacks the CCTV part: that is a broken copy, not an absent one. */
        fprintf(stderr, "test_cctv: FAIL: %s is present but has no mlkem-cctv/\n", vectors);
        return 1;
    }
    g_dir = dir;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intermediate),
        cmocka_unit_test(test_unluckysample),
        cmocka_unit_test(test_strcmp),
        cmocka_unit_test(test_modulus),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (g_draft_keygen_records > 0) {
        fprintf(stderr,
                "test_cctv: NOTE: %d intermediate/unluckysample record(s) use the FIPS 203 "
                "draft KeyGen; for those, ek/dk were compared with the round-3 Kyber "
                "KeyGen (identical to the draft's), and ML-KEM KeyGen(d, z) only for "
                "rho = G(d || k) and the dk layout (Encaps, Decaps in full). Files made "
                "with G(d || k), as C2SP CCTV now publishes, are compared in full.\n",
                g_draft_keygen_records);
    }
    return failed != 0;
}
