/* The key store: a directory of PEM keys indexed by the SKI gokeyless computes, checked
 * against the SKI openssl writes into a certificate; refused files named in words;
 * reload by building a new store while the old one is still held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyless_test.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    kt_tmpdir(dir, sizeof(dir), "kstore");
    return dir[0] != 0 && kt_make_keys(dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return kt_sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static pqify_keyless_store *load_dir(const char *d, char *err, size_t cap)
{
    pqify_keyless_store_options o = {.dir = d};
    return pqify_keyless_store_load(&o, err, cap);
}

static void test_skis_match_openssl(void **state)
{
    char err[512];
    pqify_keyless_store *s = load_dir(dir, err, sizeof(err));
    (void)state;
    assert_non_null(s);
    /* four *.key files; the *-cert.pem files hold no private key and are skipped */
    assert_int_equal(pqify_keyless_store_count(s), KT_NKEYS);
    for (int i = 0; i < KT_NKEYS; i++) {
        uint8_t want[20];
        int found = 0;
        assert_int_equal(kt_openssl_ski(dir, kt_key_names[i], want), 0);
        assert_true(pqify_keyless_store_has(s, want));
        for (size_t j = 0; j < pqify_keyless_store_count(s); j++) {
            uint8_t ski[20];
            int type;
            const char *src;
            assert_int_equal(pqify_keyless_store_key(s, j, ski, &type, &src), 0);
            if (memcmp(ski, want, 20) != 0)
                continue;
            found = 1;
            assert_non_null(strstr(src, kt_key_names[i]));
            static const int types[] = {PQIFY_KEYLESS_KEY_RSA, PQIFY_KEYLESS_KEY_EC_P256,
                                        PQIFY_KEYLESS_KEY_EC_P384, PQIFY_KEYLESS_KEY_ED25519};
            assert_int_equal(type, types[i]);
        }
        assert_true(found);
    }
    /* sorted by SKI, the lookup order */
    for (size_t j = 1; j < pqify_keyless_store_count(s); j++) {
        uint8_t a[20], b[20];
        assert_int_equal(pqify_keyless_store_key(s, j - 1, a, NULL, NULL), 0);
        assert_int_equal(pqify_keyless_store_key(s, j, b, NULL, NULL), 0);
        assert_true(memcmp(a, b, 20) < 0);
    }
    assert_int_equal(pqify_keyless_store_key(s, KT_NKEYS, NULL, NULL, NULL), PQIFY_KEYLESS_ERR_ARG);
    uint8_t zero[20] = {0};
    assert_false(pqify_keyless_store_has(s, zero));
    pqify_keyless_store_release(s);
}

/* traditional (RSA PRIVATE KEY, EC PRIVATE KEY) PEM and *.pem key files load too */
static void test_traditional_pem(void **state)
{
    char d[512], err[512];
    pqify_keyless_store *s;
    uint8_t want[20];
    (void)state;
    kt_tmpdir(d, sizeof(d), "ktrad");
    assert_int_equal(kt_sh("openssl rsa -in %s/rsa2048.key -traditional -out %s/a.key 2>/dev/null &&"
                           " openssl ec -in %s/p256.key -out %s/b.pem 2>/dev/null &&"
                           " grep -q 'BEGIN RSA PRIVATE KEY' %s/a.key && grep -q 'BEGIN EC PRIVATE KEY' %s/b.pem &&"
                           " echo not a key > %s/notes.txt",
                           dir, d, dir, d, d, d, d), 0);
    s = load_dir(d, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pqify_keyless_store_count(s), 2);
    assert_int_equal(kt_openssl_ski(dir, "rsa2048", want), 0);
    assert_true(pqify_keyless_store_has(s, want));
    assert_int_equal(kt_openssl_ski(dir, "p256", want), 0);
    assert_true(pqify_keyless_store_has(s, want));
    pqify_keyless_store_release(s);
    assert_int_equal(kt_sh("rm -rf '%s'", d), 0);
}

/* each refused directory: the words must name the file and what is wrong */
static void refused(const char *setup_cmd, const char *want1, const char *want2)
{
    char d[512], err[512];
    pqify_keyless_store *s;
    kt_tmpdir(d, sizeof(d), "kbad");
    /* the command reads the new directory as $D and the generated keys as $K */
    assert_int_equal(setenv("D", d, 1), 0);
    assert_int_equal(setenv("K", dir, 1), 0);
    assert_int_equal(kt_sh("%s", setup_cmd), 0);
    s = load_dir(d, err, sizeof(err));
    if (s != NULL || strstr(err, want1) == NULL || (want2 && strstr(err, want2) == NULL))
        fail_msg("setup '%s': got store %p, words '%s'", setup_cmd, (void *)s, err);
    assert_int_equal(kt_sh("rm -rf '%s'", d), 0);
}

static void test_refused(void **state)
{
    char err[512];
    (void)state;
    refused("echo hello > $D/junk.key", "junk.key", "no PEM private key");
    refused("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out $D/p521.key 2>/dev/null",
            "p521.key", "secp521r1");
    refused("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out $D/r1024.key 2>/dev/null",
            "r1024.key", "1024 bits");
    refused("openssl genpkey -algorithm X25519 -out $D/x.key 2>/dev/null", "x.key", "X25519");
    refused("openssl pkey -in $K/p256.key -aes128 -passout pass:x -out $D/enc.key 2>/dev/null", "enc.key",
            "encrypted");
    refused("cp $K/p256.key $D/one.key && cp $K/p256.key $D/two.key", "two.key", "same key as");
    refused("head -c 40 $K/rsa2048.key > $D/cut.key", "cut.key", "cannot read");
    assert_null(load_dir("/nonexistent/pqify-keys", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/pqify-keys"));
    assert_null(pqify_keyless_store_load(NULL, err, sizeof(err)));
}

/* an empty store is a valid store (a pure proxy holds no keys) */
static void test_empty(void **state)
{
    char d[512], err[512];
    pqify_keyless_store_options o = {0};
    pqify_keyless_store *s;
    (void)state;
    s = pqify_keyless_store_load(&o, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pqify_keyless_store_count(s), 0);
    pqify_keyless_store_release(s);
    kt_tmpdir(d, sizeof(d), "kempty");
    s = load_dir(d, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(pqify_keyless_store_count(s), 0);
    pqify_keyless_store_release(s);
    assert_int_equal(kt_sh("rm -rf '%s'", d), 0);
}

/* reload: a new store is built beside the old; the old serves its holders until released */
static void test_reload(void **state)
{
    char d[512], err[512];
    uint8_t rsa[20], ed[20];
    pqify_keyless_store *old, *cur;
    (void)state;
    kt_tmpdir(d, sizeof(d), "kreload");
    assert_int_equal(kt_openssl_ski(dir, "rsa2048", rsa), 0);
    assert_int_equal(kt_openssl_ski(dir, "ed25519", ed), 0);
    assert_int_equal(kt_sh("cp %s/rsa2048.key %s/", dir, d), 0);
    old = load_dir(d, err, sizeof(err));
    assert_non_null(old);
    pqify_keyless_store_hold(old); /* a request in flight */
    assert_int_equal(kt_sh("rm %s/rsa2048.key && cp %s/ed25519.key %s/", d, dir, d), 0);
    cur = load_dir(d, err, sizeof(err));
    assert_non_null(cur);
    pqify_keyless_store_release(old); /* the server swapped: its reference goes */
    assert_true(pqify_keyless_store_has(old, rsa)); /* still held by the request */
    assert_false(pqify_keyless_store_has(old, ed));
    assert_true(pqify_keyless_store_has(cur, ed));
    assert_false(pqify_keyless_store_has(cur, rsa));
    pqify_keyless_store_release(old); /* the request finished: freed (ASan sees any leak) */
    pqify_keyless_store_release(cur);
    pqify_keyless_store_release(NULL);
    assert_int_equal(kt_sh("rm -rf '%s'", d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skis_match_openssl), cmocka_unit_test(test_traditional_pem),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_empty), cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
