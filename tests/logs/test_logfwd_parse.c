/* The forwarder's two parsers: the socket's JSON lines into msgpack (the expected bytes
 * are built with msgpack-c's packer, not by the code under test; RFC 8259's examples
 * and its negative cases), and the checkpoint file (torn, overflowing, malformed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pqify/logs_forwarder.h"

static void expect_json(const char *json, void (*build)(msgpack_packer *))
{
    msgpack_sbuffer got, want;
    msgpack_packer pk;
    msgpack_sbuffer_init(&got);
    msgpack_sbuffer_init(&want);
    msgpack_packer_init(&pk, &want, msgpack_sbuffer_write);
    build(&pk);
    assert_int_equal(pqify_logs_json_to_msgpack(json, strlen(json), &got), 0);
    assert_int_equal(got.size, want.size);
    assert_memory_equal(got.data, want.data, want.size);
    msgpack_sbuffer_destroy(&got);
    msgpack_sbuffer_destroy(&want);
}

#define S(pk, lit) msgpack_pack_str_with_body(pk, lit, sizeof(lit) - 1)

static void b_access(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    S(pk, "host");
    S(pk, "a.example");
    S(pk, "status");
    msgpack_pack_uint64(pk, 200);
    S(pk, "ms");
    msgpack_pack_double(pk, 1.25);
    S(pk, "neg");
    msgpack_pack_int64(pk, -7);
    S(pk, "h2");
    msgpack_pack_true(pk);
    S(pk, "ref");
    msgpack_pack_nil(pk);
}

static void b_nested(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    S(pk, "a");
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_map(pk, 0);
    msgpack_pack_array(pk, 0);
    S(pk, "b");
    msgpack_pack_map(pk, 1);
    S(pk, "c");
    msgpack_pack_false(pk);
}

static void b_escapes(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    S(pk, "s");
    /* RFC 8259 §7: \" \\ \/ \b \f \n \r \t, U+00E9, U+1D11E (a surrogate pair), a lone
     * high surrogate as U+FFFD */
    S(pk, "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9d\x84\x9e\xef\xbf\xbdx");
}

static void b_numbers(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    S(pk, "big");
    msgpack_pack_uint64(pk, UINT64_MAX);
    S(pk, "min");
    msgpack_pack_int64(pk, INT64_MIN);
    S(pk, "over");
    msgpack_pack_double(pk, 18446744073709551616.0);
    S(pk, "e");
    msgpack_pack_double(pk, 1e-3);
    S(pk, "z");
    msgpack_pack_uint64(pk, 0);
}

static void json_good(void **state)
{
    (void)state;
    expect_json("{\"host\":\"a.example\",\"status\":200,\"ms\":1.25,\"neg\":-7,\"h2\":true,\"ref\":null}",
                b_access);
    expect_json(" \t{ \"a\" : [1, {}, []], \"b\": {\"c\": false} }\r\n", b_nested);
    expect_json("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud834\\udd1e\\ud800x\"}", b_escapes);
    expect_json("{\"big\":18446744073709551615,\"min\":-9223372036854775808,"
                "\"over\":18446744073709551616,\"e\":1E-3,\"z\":0}",
                b_numbers);
}

static void json_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "[]", "\"s\"", "1", "null", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":tru}",
        "{\"a\":\"x\ny\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"open}",
        "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":[1 2]}", "{'a':1}", "{\"a\":NaN}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        int rc = pqify_logs_json_to_msgpack(bad[i], strlen(bad[i]), &out);
        if (rc != PQIFY_LOGS_ERR_SHAPE)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(out.size, 0);   /* nothing half-written */
        msgpack_sbuffer_destroy(&out);
    }
    /* 32 levels deep is the bound (PQIFY_FWD_MAX_DEPTH): 32 objects pass, 33 do not */
    char deep[200];
    for (int levels = 32; levels <= 33; levels++) {
        size_t n = 0;
        for (int i = 0; i < levels - 1; i++)
            n += (size_t)sprintf(deep + n, "{\"a\":");
        n += (size_t)sprintf(deep + n, "{}");
        for (int i = 0; i < levels - 1; i++)
            deep[n++] = '}';
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        int rc = pqify_logs_json_to_msgpack(deep, n, &out);
        assert_int_equal(rc, levels <= 32 ? 0 : PQIFY_LOGS_ERR_SHAPE);
        msgpack_sbuffer_destroy(&out);
    }
}

static void offsets_good(void **state)
{
    (void)state;
    const char *t = "pqify-logfwd-offsets 1\n"
                    "2049 131 18446744073709551615 /var/log/app.log\n"
                    "0 1 0 /path with spaces\n"
                    "5 6 7 \n";
    pqify_logfwd_offset e[4];
    size_t n;
    assert_int_equal(pqify_logfwd_offsets_parse((const uint8_t *)t, strlen(t), e, 4, &n), 0);
    assert_int_equal(n, 3);
    assert_true(e[0].dev == 2049 && e[0].ino == 131 && e[0].offset == UINT64_MAX);
    assert_string_equal(e[0].path, "/var/log/app.log");
    assert_string_equal(e[1].path, "/path with spaces");
    assert_string_equal(e[2].path, "");
    const char *empty = "pqify-logfwd-offsets 1\n";
    assert_int_equal(pqify_logfwd_offsets_parse((const uint8_t *)empty, strlen(empty), e, 4, &n), 0);
    assert_int_equal(n, 0);
}

static void offsets_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "pqify-logfwd-offsets 2\n",
        "pqify-logfwd-offsets 1",                                     /* no newline */
        "pqify-logfwd-offsets 1\n1 2 3 /a",                           /* torn last line */
        "pqify-logfwd-offsets 1\n1 2 /a\n",                           /* a field short */
        "pqify-logfwd-offsets 1\n1 2 18446744073709551616 /a\n",      /* overflows */
        "pqify-logfwd-offsets 1\n-1 2 3 /a\n",
        "pqify-logfwd-offsets 1\n1  2 3 /a\n",
        "pqify-logfwd-offsets 1\n1 2 3\n",
        "pqify-logfwd-offsets 1\n1 2 3 /a\n1 2 3 /b\n1 2 3 /c\n",     /* more than cap (2) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pqify_logfwd_offset e[2];
        size_t n;
        if (pqify_logfwd_offsets_parse((const uint8_t *)bad[i], strlen(bad[i]), e, 2, &n) !=
            PQIFY_LOGS_ERR_CORRUPT)
            fail_msg("accepted case %zu", i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_good),
        cmocka_unit_test(json_bad),
        cmocka_unit_test(offsets_good),
        cmocka_unit_test(offsets_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
