/* Logging: exact logfmt and JSON lines, quoting and escaping, levels; python3's json
 * module reads every JSON line back. */
#include "net_test.h"

#include <fcntl.h>

#include "pqify/net/log.h"

#define TS 1796190453123ull   /* 2026-12-02T05:47:33.123Z */

static char *line(pqify_log_format f, pqify_log_level l, const char *msg, ...)
{
    va_list kv;
    va_start(kv, msg);
    size_t len;
    char *s = pqify_log_format_line(f, TS, l, msg, kv, &len);
    va_end(kv);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    assert_int_equal(s[len - 1], '\n');
    return s;
}

#define LINE(f, l, ...) line((f), (l), __VA_ARGS__, (const char *)NULL)

static void expect(char *got, const char *want)
{
    assert_string_equal(got, want);
    free(got);
}

static void test_logfmt_plain(void **state)
{
    (void)state;
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_INFO, "listening", "addr", "127.0.0.1:8443", "workers", "2"),
           "ts=2026-12-02T05:47:33.123Z level=info msg=listening addr=127.0.0.1:8443 workers=2\n");
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_ERROR, "x"),
           "ts=2026-12-02T05:47:33.123Z level=error msg=x\n");
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_DEBUG, "x"),
           "ts=2026-12-02T05:47:33.123Z level=debug msg=x\n");
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_WARN, "x"),
           "ts=2026-12-02T05:47:33.123Z level=warn msg=x\n");
}

static void test_logfmt_quoting(void **state)
{
    (void)state;
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_WARN, "handshake failed", "peer", "",
                "err", "the peer did not answer with TLS", "eq", "a=b", "q", "say \"hi\"",
                "nl", "a\nb\r\tc", "ctl", "\x01\x7f", "bs", "C:\\x", "utf8", "caf\xc3\xa9",
                "bad", "a\xff" "b\xc3", "nil", NULL),
           "ts=2026-12-02T05:47:33.123Z level=warn msg=\"handshake failed\" peer=\"\" "
           "err=\"the peer did not answer with TLS\" eq=\"a=b\" q=\"say \\\"hi\\\"\" "
           "nl=\"a\\nb\\r\\tc\" ctl=\"\\u0001\\u007f\" bs=\"C:\\\\x\" utf8=\"caf\xc3\xa9\" "
           "bad=\"a\xef\xbf\xbd" "b\xef\xbf\xbd\" nil=\"\"\n");
    /* keys: reserved names get a '_', characters logfmt cannot hold become '_' */
    expect(LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_INFO, "m", "msg", "1", "ts", "2", "level", "3",
                "a b=c\"", "4", "", "5", "tls.group", "X25519MLKEM768"),
           "ts=2026-12-02T05:47:33.123Z level=info msg=m _msg=1 _ts=2 _level=3 a_b_c_=4 _=5 "
           "tls.group=X25519MLKEM768\n");
}

static void test_long_value_cut(void **state)
{
    (void)state;
    /* 4095 'a' then a 2-byte character straddling the limit: the cut keeps whole characters */
    char *v = malloc(PQIFY_LOG_MAX_VALUE + 100);
    assert_non_null(v);
    memset(v, 'a', PQIFY_LOG_MAX_VALUE + 99);
    v[PQIFY_LOG_MAX_VALUE - 1] = (char)0xc3;
    v[PQIFY_LOG_MAX_VALUE] = (char)0xa9;
    v[PQIFY_LOG_MAX_VALUE + 99] = '\0';
    char *s = LINE(PQIFY_LOG_LOGFMT, PQIFY_LOG_INFO, "m", "v", v);
    const char *want_head = "ts=2026-12-02T05:47:33.123Z level=info msg=m v=\"";
    assert_memory_equal(s, want_head, strlen(want_head));
    const char *val = s + strlen(want_head);
    assert_int_equal(strlen(val), (PQIFY_LOG_MAX_VALUE - 1) + strlen("...\"\n"));
    assert_string_equal(val + PQIFY_LOG_MAX_VALUE - 1, "...\"\n");
    free(s);
    free(v);
}

static void test_json(void **state)
{
    (void)state;
    expect(LINE(PQIFY_LOG_JSON, PQIFY_LOG_INFO, "listening", "addr", "127.0.0.1:8443"),
           "{\"ts\":\"2026-12-02T05:47:33.123Z\",\"level\":\"info\",\"msg\":\"listening\","
           "\"addr\":\"127.0.0.1:8443\"}\n");
    /* Every hard case through python3's json module: it must parse each line, and the
     * values it reads must be the ones given (re-encoded as ASCII JSON to compare). */
    char *lines[3];
    lines[0] = LINE(PQIFY_LOG_JSON, PQIFY_LOG_WARN, "a \"b\"\n", "peer", "", "q", "say \"hi\"",
                    "nl", "a\nb\r\tc", "ctl", "\x01\x1f\x7f", "bs", "C:\\x", "utf8", "caf\xc3\xa9",
                    "bad", "a\xff" "b\xc3", "msg", "dup");
    lines[1] = LINE(PQIFY_LOG_JSON, PQIFY_LOG_ERROR, "", "surrogate", "\xed\xa0\x80",
                    "overlong", "\xc0\xaf", "four", "\xf0\x9f\x94\x92");
    lines[2] = LINE(PQIFY_LOG_JSON, PQIFY_LOG_DEBUG, "m");
    char all[4096] = "";
    for (int i = 0; i < 3; i++)
        strcat(all, lines[i]);
    char *out;
    int rc = nt_run(PYTHON3 " -c 'import json,sys\n"
                    "for l in sys.stdin: print(json.dumps(json.loads(l), ensure_ascii=True, sort_keys=True))'",
                    all, strlen(all), &out);
    if (rc != 0)
        fprintf(stderr, "python3 said: %s\non:\n%s", out, all);
    assert_int_equal(rc, 0);
    assert_string_equal(out,
        "{\"_msg\": \"dup\", \"bad\": \"a\\ufffdb\\ufffd\", \"bs\": \"C:\\\\x\", \"ctl\": \"\\u0001\\u001f\\u007f\", "
        "\"level\": \"warn\", \"msg\": \"a \\\"b\\\"\\n\", \"nl\": \"a\\nb\\r\\tc\", \"peer\": \"\", "
        "\"q\": \"say \\\"hi\\\"\", \"ts\": \"2026-12-02T05:47:33.123Z\", \"utf8\": \"caf\\u00e9\"}\n"
        "{\"four\": \"\\ud83d\\udd12\", \"level\": \"error\", \"msg\": \"\", \"overlong\": \"\\ufffd\\ufffd\", "
        "\"surrogate\": \"\\ufffd\\ufffd\\ufffd\", \"ts\": \"2026-12-02T05:47:33.123Z\"}\n"
        "{\"level\": \"debug\", \"msg\": \"m\", \"ts\": \"2026-12-02T05:47:33.123Z\"}\n");
    free(out);
    /* and json.tool, the checker the brief names, on one line */
    rc = nt_run(PYTHON3 " -m json.tool >/dev/null", lines[0], strlen(lines[0]), &out);
    assert_int_equal(rc, 0);
    free(out);
    for (int i = 0; i < 3; i++)
        free(lines[i]);
}

static void test_levels_and_fd(void **state)
{
    (void)state;
    pqify_log_level l;
    pqify_log_format f;
    assert_int_equal(pqify_log_level_parse("warn", &l), 0);
    assert_int_equal(l, PQIFY_LOG_WARN);
    assert_int_equal(pqify_log_level_parse("WARN", &l), PQIFY_ERR_ARG);
    assert_int_equal(pqify_log_level_parse(NULL, &l), PQIFY_ERR_ARG);
    assert_int_equal(pqify_log_format_parse("json", &f), 0);
    assert_int_equal(f, PQIFY_LOG_JSON);
    assert_int_equal(pqify_log_format_parse("text", &f), PQIFY_ERR_ARG);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pqify_log_setup(PQIFY_LOG_LOGFMT, PQIFY_LOG_WARN, fds[1]);
    assert_false(pqify_log_enabled(PQIFY_LOG_INFO));
    assert_true(pqify_log_enabled(PQIFY_LOG_ERROR));
    PQIFY_LOG(PQIFY_LOG_INFO, "hidden");
    PQIFY_LOG(PQIFY_LOG_WARN, "shown", "n", "1");
    pqify_log_setup(PQIFY_LOG_JSON, PQIFY_LOG_DEBUG, fds[1]);
    PQIFY_LOG(PQIFY_LOG_DEBUG, "json");
    pqify_log_setup(PQIFY_LOG_LOGFMT, PQIFY_LOG_INFO, 2);
    close(fds[1]);
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    close(fds[0]);
    /* ts= is the wall clock: check its shape, then the rest exactly */
    char *second = strchr(buf, '\n');
    assert_non_null(second);
    assert_int_equal(strncmp(buf, "ts=", 3), 0);
    assert_int_equal(buf[3 + 10], 'T');
    assert_int_equal(strncmp(buf + 27, " level=warn msg=shown n=1\n", 26), 0);
    assert_int_equal(strncmp(second + 1, "{\"ts\":\"", 7), 0);
    assert_string_equal(second + 1 + 7 + 24, "\",\"level\":\"debug\",\"msg\":\"json\"}\n");

    char u[21];
    assert_string_equal(pqify_log_u64(u, 0), "0");
    assert_string_equal(pqify_log_u64(u, UINT64_MAX), "18446744073709551615");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logfmt_plain),
        cmocka_unit_test(test_logfmt_quoting),
        cmocka_unit_test(test_long_value_cut),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_levels_and_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
