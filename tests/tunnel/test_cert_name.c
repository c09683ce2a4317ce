/* The tunnel name from a certificate subject (src/tunnel/cert_name.c): the CN wherever
 * it sits, escapes, and every way to have no usable name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/internal.h"

static void test_names(void **state)
{
    (void)state;
    char out[18];   /* 17 characters and the NUL */
    assert_int_equal(pqify_tunnel_subject_cn("CN=office", out, sizeof out), 0);
    assert_string_equal(out, "office");
    assert_int_equal(pqify_tunnel_subject_cn("O=Acme,CN=pqify-test-client", out, sizeof out), 0);
    assert_string_equal(out, "pqify-test-client");
    assert_int_equal(pqify_tunnel_subject_cn("CN=a\\,b,O=x", out, sizeof out), 0);
    assert_string_equal(out, "a,b");
    assert_int_equal(pqify_tunnel_subject_cn("O=x\\,CN=fake,CN=real", out, sizeof out), 0);   /* the escaped one is no RDN */
    assert_string_equal(out, "real");
    assert_int_equal(pqify_tunnel_subject_cn("OU=CN=x", out, sizeof out), -1);   /* "CN=" inside another value */
    assert_int_equal(pqify_tunnel_subject_cn("", out, sizeof out), -1);
    assert_int_equal(pqify_tunnel_subject_cn("O=x", out, sizeof out), -1);
    assert_int_equal(pqify_tunnel_subject_cn("CN=,O=x", out, sizeof out), -1);
    assert_int_equal(pqify_tunnel_subject_cn("CN=a-name-too-long-for-18-bytes", out, sizeof out), -1);   /* never cut */
    assert_int_equal(pqify_tunnel_subject_cn("CN=seventeen-chars", out, sizeof out), 0);
    assert_string_equal(out, "seventeen-chars");
    assert_int_equal(pqify_tunnel_subject_cn("CN=trailing\\", out, sizeof out), 0);
    assert_string_equal(out, "trailing\\");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
