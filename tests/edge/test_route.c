/* Routes (src/edge/route.c): origin URLs, hostname patterns, path prefixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

static int host_match(const char *pattern, const char *host)
{
    return edge_hostname_match(pattern, host, strlen(host));
}

static void test_origins(void **state)
{
    (void)state;
    edge_origin o;
    char err[300];
    assert_int_equal(edge_origin_parse("http://10.0.0.5:8080", &o, err, sizeof err), 0);
    assert_int_equal(o.kind, EDGE_ORIGIN_HTTP);
    assert_string_equal(o.host, "10.0.0.5");
    assert_string_equal(o.port, "8080");
    assert_string_equal(o.authority, "10.0.0.5:8080");
    assert_int_equal(edge_origin_parse("https://app.internal/", &o, err, sizeof err), 0);
    assert_int_equal(o.kind, EDGE_ORIGIN_HTTPS);
    assert_string_equal(o.port, "443");
    assert_int_equal(edge_origin_parse("http://[::1]:81", &o, err, sizeof err), 0);
    assert_string_equal(o.host, "::1");
    assert_string_equal(o.authority, "[::1]:81");
    assert_int_equal(edge_origin_parse("unix:/run/app.sock", &o, err, sizeof err), 0);
    assert_int_equal(o.kind, EDGE_ORIGIN_UNIX);
    assert_string_equal(o.path, "/run/app.sock");

    static const char *const bad[] = {"ftp://a", "http://", "http://a:0", "http://a:65536",
                                      "http://a:8x", "http://a/path", "unix:", "unix:rel.sock",
                                      "http://[::1", "http://a b", "10.0.0.5:80", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        err[0] = '\0';
        if (edge_origin_parse(bad[i], &o, err, sizeof err) == 0)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(err, bad[i]));   /* the words name what was given */
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    longpath[156] = '\0';
    assert_int_equal(edge_origin_parse(longpath, &o, err, sizeof err), -1);
}

static void test_hostnames(void **state)
{
    (void)state;
    assert_true(host_match("app.example.com", "app.example.com"));
    assert_true(host_match("app.example.com", "APP.Example.COM:8443"));
    assert_true(host_match("app.example.com", "app.example.com."));
    assert_false(host_match("app.example.com", "app.example.co"));
    assert_false(host_match("app.example.com", "xapp.example.com"));
    assert_true(host_match("*.example.com", "a.example.com"));
    assert_true(host_match("*.example.com", "A-1.EXAMPLE.com:443"));
    assert_false(host_match("*.example.com", "example.com"));
    assert_false(host_match("*.example.com", "a.b.example.com"));
    assert_false(host_match("*.example.com", ".example.com"));
    assert_false(host_match("*.example.com", "aexample.com"));
    assert_true(host_match(NULL, "anything"));
    assert_false(host_match("localhost", ""));
    assert_true(host_match("::1", "[::1]:443"));

    char err[200];
    assert_int_equal(edge_hostname_check("*.example.com", err, sizeof err), 0);
    assert_int_equal(edge_hostname_check("a.*.com", err, sizeof err), -1);
    assert_int_equal(edge_hostname_check("*example.com", err, sizeof err), -1);
    assert_int_equal(edge_hostname_check("*.", err, sizeof err), -1);
    assert_int_equal(edge_hostname_check("a.com:443", err, sizeof err), -1);
    assert_int_equal(edge_hostname_check("", err, sizeof err), -1);
}

static void test_paths(void **state)
{
    (void)state;
    assert_true(edge_path_match("/api/", "/api/v1"));
    assert_true(edge_path_match("/api/", "/api/"));
    assert_false(edge_path_match("/api/", "/api"));
    assert_false(edge_path_match("/api/", "/apix/"));
    assert_true(edge_path_match(NULL, "/"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_hostnames),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
