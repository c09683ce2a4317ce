/* Events as JSON lines, read back by Python's json module (strict: it refuses raw
 * control characters and bad escapes), and compared with what the JSON must say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "pqify/logs.h"

typedef void (*build_fn)(msgpack_packer *pk);

static void str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str_with_body(pk, s, n);
}
#define S(pk, lit) str(pk, lit, sizeof(lit) - 1)

static void rec_escapes(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    S(pk, "ctl");
    S(pk, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/");
    S(pk, "utf8");
    S(pk, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8"); /* é € 😀 U+2028 */
    S(pk, "bad");
    /* lone continuation, overlong '/', surrogate D800, F5, truncated 3-byte */
    S(pk, "x\x80y\xc0\xafz\xed\xa0\x80w\xf5v\xe2\x82");
    S(pk, "nul");
    S(pk, "a\0b");
}

static void rec_types(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 12);
    S(pk, "bin");
    msgpack_pack_bin_with_body(pk, "\x00\xff\x10hello", 8);
    S(pk, "ext");
    msgpack_pack_ext_with_body(pk, "\x01\x02\x03", 3, 5);
    S(pk, "f");
    msgpack_pack_double(pk, 1.5);
    S(pk, "nan");
    msgpack_pack_double(pk, NAN);
    S(pk, "inf");
    msgpack_pack_double(pk, -INFINITY);
    S(pk, "big");
    msgpack_pack_double(pk, 1e300);
    S(pk, "u64");
    msgpack_pack_uint64(pk, UINT64_MAX);
    S(pk, "i64");
    msgpack_pack_int64(pk, INT64_MIN);
    S(pk, "arr");
    msgpack_pack_array(pk, 4);
    msgpack_pack_nil(pk);
    msgpack_pack_true(pk);
    msgpack_pack_false(pk);
    msgpack_pack_map(pk, 0);
    msgpack_pack_int(pk, 7); /* integer key */
    S(pk, "seven");
    msgpack_pack_nil(pk); /* nil key */
    msgpack_pack_int(pk, 0);
    msgpack_pack_array(pk, 1); /* array key */
    S(pk, "k\"");
    msgpack_pack_int(pk, 1);
}

static void rec_empty(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}

static const struct {
    build_fn build;
    const char *tag;
    int64_t sec;
    uint32_t nsec;
    const char *want; /* json.dumps(..., sort_keys=True) of what Python read */
} cases[] = {
    {rec_escapes, "app.web", 1700000000, 5,
     "{\"record\": {\"bad\": \"x\\ufffdy\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffdw\\ufffdv\\ufffd\\ufffd\", "
     "\"ctl\": \"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\", \"nul\": \"a\\u0000b\", "
     "\"utf8\": \"\\u00e9\\u20ac\\ud83d\\ude00\\u2028\"}, \"tag\": \"app.web\", "
     "\"time\": \"F:1700000000.000000005\"}"},
    {rec_types, "t\n\x01", 0, 999999999,
     "{\"record\": {\"7\": \"seven\", \"[\\\"k\\\\\\\"\\\"]\": 1, \"arr\": [null, true, false, {}], "
     "\"big\": \"F:1.0000000000000001e+300\", \"bin\": \"AP8QaGVsbG8=\", "
     "\"ext\": {\"base64\": \"AQID\", \"ext\": 5}, \"f\": \"F:1.5\", "
     "\"i64\": -9223372036854775808, \"inf\": null, \"nan\": null, \"null\": 0, "
     "\"u64\": 18446744073709551615}, \"tag\": \"t\\n\\u0001\", \"time\": \"F:0.999999999\"}"},
    {rec_empty, "e", 1, 0, "{\"record\": {}, \"tag\": \"e\", \"time\": \"F:1.000000000\"}"},
    {rec_empty, "n", -5, 1, "{\"record\": {}, \"tag\": \"n\", \"time\": \"F:-5.000000001\"}"},
};

static const char *PY =
    "import json,sys\n"
    "for line in open(sys.argv[1], encoding='utf-8', errors='strict'):\n"
    "    assert line.endswith('\\n') and line.count('\\n') == 1\n"
    "    o = json.loads(line, parse_float=lambda s: 'F:' + s,\n"
    "                   parse_constant=lambda s: (_ for _ in ()).throw(ValueError(s)))\n"
    "    print(json.dumps(o, sort_keys=True))\n";

static void test_json_lines_read_by_python(void **state)
{
    (void)state;
    char path[] = "/tmp/pqify_json_XXXXXX", cmd[512], line[4096];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "wb"), *py;
    size_t n = sizeof cases / sizeof cases[0];

    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer rec, out;
        msgpack_packer pk;
        msgpack_unpacked u;
        size_t off = 0;
        pqify_fwd_event ev;
        pqify_fwd_bytes tag = {(const uint8_t *)cases[i].tag, strlen(cases[i].tag)};

        msgpack_sbuffer_init(&rec);
        msgpack_sbuffer_init(&out);
        msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
        cases[i].build(&pk);
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, rec.data, rec.size, &off), MSGPACK_UNPACK_SUCCESS);
        ev.sec = cases[i].sec;
        ev.nsec = cases[i].nsec;
        ev.event_time = 1;
        ev.record = &u.data;
        assert_int_equal(pqify_logs_event_json(tag, &ev, &out), 0);
        assert_int_equal(fwrite(out.data, 1, out.size, f), out.size);
        msgpack_unpacked_destroy(&u);
        msgpack_sbuffer_destroy(&rec);
        msgpack_sbuffer_destroy(&out);
    }
    fclose(f);
    char pyfile[] = "/tmp/pqify_json_py_XXXXXX";
    int pfd = mkstemp(pyfile);
    assert_int_equal(write(pfd, PY, strlen(PY)), (ssize_t)strlen(PY));
    close(pfd);
    snprintf(cmd, sizeof cmd, "python3 %s %s", pyfile, path);
    py = popen(cmd, "r");
    assert_non_null(py);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(fgets(line, sizeof line, py));
        line[strcspn(line, "\n")] = 0;
        assert_string_equal(line, cases[i].want);
    }
    assert_null(fgets(line, sizeof line, py));
    assert_int_equal(pclose(py), 0);
    unlink(path);
    unlink(pyfile);
}

/* A string longer than json_string's block of 4096 bytes, with escapes, an invalid byte
 * and a two-byte sequence that straddles the block's end (it starts at byte 4095):
 * Python rebuilds the expected text on its own. */
#define LONG_PREFIX "xxxx"
#define LONG_UNIT "ab\"\xc3\xa9\x01\xff"
#define LONG_UNITS 2000

static void test_json_long_string(void **state)
{
    (void)state;
    size_t unit = sizeof(LONG_UNIT) - 1, n = 4 + unit * LONG_UNITS;
    char *s = malloc(n), path[] = "/tmp/pqify_json_long_XXXXXX", cmd[768], line[64];
    assert_non_null(s);
    memcpy(s, LONG_PREFIX, 4);
    for (size_t i = 0; i < LONG_UNITS; i++)
        memcpy(s + 4 + i * unit, LONG_UNIT, unit);
    msgpack_sbuffer rec, out;
    msgpack_packer pk;
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_sbuffer_init(&rec);
    msgpack_sbuffer_init(&out);
    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    S(&pk, "s");
    str(&pk, s, n);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, rec.data, rec.size, &off), MSGPACK_UNPACK_SUCCESS);
    pqify_fwd_event ev = {.sec = 1, .nsec = 2, .event_time = 1, .record = &u.data};
    pqify_fwd_bytes tag = {(const uint8_t *)"long", 4};
    assert_int_equal(pqify_logs_event_json(tag, &ev, &out), 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, out.data, out.size), (ssize_t)out.size);
    close(fd);
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import json,sys; o=json.loads(open(sys.argv[1],encoding='utf-8').read());"
             " print(o['record']['s'] == 'xxxx' + 'ab\\\"\\u00e9\\x01\\ufffd' * %d)\" %s",
             LONG_UNITS, path);
    FILE *py = popen(cmd, "r");
    assert_non_null(py);
    assert_non_null(fgets(line, sizeof line, py));
    assert_string_equal(line, "True\n");
    assert_int_equal(pclose(py), 0);
    unlink(path);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&rec);
    msgpack_sbuffer_destroy(&out);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_read_by_python),
        cmocka_unit_test(test_json_long_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
