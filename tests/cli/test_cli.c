/*
 * The pqify binary as a user runs it: help texts, usage errors (exit 2), and a
 * quick `pqify bench kem` whose table must hold every KEM and both ECDH rows with
 * figures that parse, the same for `pqify bench handshake --quick` and the demo's
 * handshake table. Timings are never asserted: only that they are there, that
 * the sizes are FIPS 203's and that the allocation counter counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef PQIFY_EXE
#error "PQIFY_EXE (the path of the pqify binary) must be defined by the build"
#endif

/* The same test as bench/alloc_count.c: sanitizer runtimes own malloc, so the
 * binary prints n/a there, and only there. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer) || __has_feature(hwaddress_sanitizer)
#define SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(__SANITIZE_HWADDRESS__)
#define SANITIZED 1
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

struct result {
    int status; /* exit status, or -1 if it did not exit normally */
    char *out, *err;
};

static char *slurp(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

static int temp_fd(void)
{
    char name[] = "/tmp/pqify-cli-test-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    unlink(name);
    return fd;
}

/* Runs pqify with the given arguments (NULL-terminated), capturing both streams. */
static struct result run(const char *arg0, ...)
{
    const char *argv[16] = {PQIFY_EXE};
    size_t n = 1;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
        assert_true(n + 1 < sizeof argv / sizeof argv[0]);
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;

    int out = temp_fd(), err = temp_fd();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execv(PQIFY_EXE, (char *const *)argv);
        _exit(127);
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    struct result r = {
        .status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1,
        .out = slurp(out),
        .err = slurp(err),
    };
    close(out);
    close(err);
    if (r.status == 127)
        fail_msg("cannot run %s", PQIFY_EXE);
    return r;
}

static void done(struct result *r)
{
    free(r->out);
    free(r->err);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

static void test_top_help(void **state)
{
    (void)state;
    const char *spellings[] = {"--help", "-h", "help"};
    for (size_t i = 0; i < 3; i++) {
        struct result r = run(spellings[i], NULL);
        assert_int_equal(r.status, 0);
        expect_in(r.out, "usage: pqify <command>");
        expect_in(r.out, "bench");
        expect_in(r.out, "demo");
        done(&r);
    }
}

static void test_command_help(void **state)
{
    (void)state;
    struct result r = run("bench", "--help", NULL);
    assert_int_equal(r.status, 0);
    expect_in(r.out, "usage: pqify bench <what>");
    expect_in(r.out, "kem");
    done(&r);

    r = run("bench", "kem", "--help", NULL);
    assert_int_equal(r.status, 0);
    expect_in(r.out, "usage: pqify bench kem");
    expect_in(r.out, "--runs N");
    expect_in(r.out, "--backend NAME");
    expect_in(r.out, "--json");
    done(&r);

    /* --help wins over anything else on the line, even an unknown option. */
    r = run("bench", "kem", "--bogus", "-h", NULL);
    assert_int_equal(r.status, 0);
    expect_in(r.out, "usage: pqify bench kem");
    done(&r);

    r = run("demo", "--help", NULL);
    assert_int_equal(r.status, 0);
    expect_in(r.out, "usage: pqify demo");
    done(&r);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct result r = run(NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "usage: pqify");
    done(&r);

    r = run("no-such-command", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "unknown command 'no-such-command'");
    assert_string_equal(r.out, "");
    done(&r);

    r = run("bench", NULL);
    assert_int_equal(r.status, 2);
    done(&r);

    r = run("bench", "no-such-bench", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "unknown benchmark 'no-such-bench'");
    done(&r);

    r = run("bench", "kem", "--no-such-option", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "unknown option '--no-such-option'");
    assert_string_equal(r.out, "");
    done(&r);

    r = run("bench", "kem", "--runs", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "--runs needs a value");
    done(&r);

    const char *bad_runs[] = {"abc", "-3", "0", "12x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_runs / sizeof bad_runs[0]; i++) {
        r = run("bench", "kem", "--runs", bad_runs[i], NULL);
        assert_int_equal(r.status, 2);
        expect_in(r.err, "--runs wants a whole number");
        done(&r);
    }

    r = run("bench", "kem", "--quick", "--backend", "no-such-backend", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "backend 'no-such-backend'");
    done(&r);

    r = run("demo", "--bogus", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "unknown option '--bogus'");
    done(&r);

    /* serve and connect parse --timeout like every other number: no atoi */
    const char *bad_timeouts[] = {"10x", "0", "3601", "-1"};
    for (size_t i = 0; i < sizeof bad_timeouts / sizeof bad_timeouts[0]; i++) {
        r = run("connect", "127.0.0.1:1", "--timeout", bad_timeouts[i], NULL);
        assert_int_equal(r.status, 2);
        expect_in(r.err, "--timeout wants a whole number from 1 to 3600");
        done(&r);
        r = run("serve", "--listen", "127.0.0.1:0", "--timeout", bad_timeouts[i], NULL);
        assert_int_equal(r.status, 2);
        expect_in(r.err, "--timeout wants a whole number from 1 to 3600");
        done(&r);
    }
    r = run("connect", "127.0.0.1:1", "--timeout", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "--timeout needs a value");
    done(&r);
}

/* Every command's options come from one table (src/cli/cli.h): --help lists each
 * of them and -h, and a wrong option or a missing value reads the same in all. */
static void test_option_tables(void **state)
{
    (void)state;
    static const struct {
        const char *cmd[3];            /* the command words */
        const char *name;              /* as in messages */
        const char *options[6];        /* some of what --help must list */
        const char *valued;            /* an option that takes a value */
    } cmds[] = {
        {{"serve"}, "serve", {"--listen HOST:PORT", "--cert FILE", "--pq MODE", "--www", "--timeout SEC"}, "--cert"},
        {{"connect"}, "connect", {"--servername NAME", "--resume", "--alpn LIST", "--timeout SEC"}, "--ca"},
        {{"scan"}, "scan", {"--insecure", "--json", "--timeout SEC", "--ca FILE"}, "--servername"},
        {{"demo"}, "demo", {"--quick"}, NULL},
        {{"bench", "kem"}, "bench kem", {"--runs N", "--backend NAME", "--json", "--quick"}, "--runs"},
        {{"bench", "handshake"}, "bench handshake", {"--rounds N", "--per-round N", "--quick"}, "--rounds"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *const *w = cmds[i].cmd;
        struct result r = w[1] ? run(w[0], w[1], "--help", NULL) : run(w[0], "--help", NULL);
        assert_int_equal(r.status, 0);
        char want[128];
        snprintf(want, sizeof want, "usage: pqify %s", cmds[i].name);
        if (strncmp(r.out, want, strlen(want)) != 0)
            fail_msg("%s --help starts with: %.60s", cmds[i].name, r.out);
        expect_in(r.out, "\noptions:\n");
        expect_in(r.out, "\n  -h, --help          print this text\n");
        for (size_t k = 0; k < 6 && cmds[i].options[k]; k++) {
            snprintf(want, sizeof want, "\n  %s ", cmds[i].options[k]);
            expect_in(r.out, want);
        }
        done(&r);

        r = w[1] ? run(w[0], w[1], "--bogus", NULL) : run(w[0], "--bogus", NULL);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        snprintf(want, sizeof want, "pqify %s: unknown option '--bogus' (see pqify %s --help)\n",
                 cmds[i].name, cmds[i].name);
        assert_string_equal(r.err, want);
        done(&r);

        if (cmds[i].valued == NULL)
            continue;
        r = w[1] ? run(w[0], w[1], cmds[i].valued, NULL) : run(w[0], cmds[i].valued, NULL);
        assert_int_equal(r.status, 2);
        snprintf(want, sizeof want, "pqify %s: %s needs a value (see pqify %s --help)\n",
                 cmds[i].name, cmds[i].valued, cmds[i].name);
        assert_string_equal(r.err, want);
        done(&r);
    }
    /* a flag takes no value; "--name=value" is the valued options' other spelling */
    struct result r = run("serve", "--www=yes", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "unknown option '--www=yes'");
    done(&r);
    r = run("bench", "kem", "--runs=0", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "pqify bench kem: --runs wants a whole number from 1 to 1000000, not '0'");
    done(&r);
}

/* ---- parsing the table ---- */

struct row {
    double ns[3], x[3];
    unsigned long client, server;
    int allocs_na;
    double allocs[3];
};

static int parse_number(const char **p, double *v, int allow_star)
{
    char *end;
    errno = 0;
    *v = strtod(*p, &end);
    if (end == *p || errno != 0 || !isfinite(*v))
        return -1;
    if (allow_star && *end == '*')
        end++;
    if (*end != ' ' && *end != '\0' && *end != '\n')
        return -1;
    *p = end;
    return 0;
}

/* Finds the row that starts with name and parses every field of it. */
static void parse_row(const char *table, const char *name, int is_ecdh, struct row *row)
{
    size_t n = strlen(name);
    const char *line = table;
    while (line != NULL && !(strncmp(line, name, n) == 0 && line[n] == ' ')) {
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    if (line == NULL)
        fail_msg("no row for %s in:\n%s", name, table);
    const char *p = line + n;
    for (int op = 0; op < 3; op++) {
        if (parse_number(&p, &row->ns[op], is_ecdh && op == 1) != 0 ||
            parse_number(&p, &row->x[op], 0) != 0)
            fail_msg("%s: ns or ratio %d does not parse: %.120s", name, op, line);
        assert_true(row->ns[op] > 0.0);
        assert_true(row->x[op] > 0.0);
    }
    double c = 0.0, s = 0.0;
    if (parse_number(&p, &c, 0) != 0 || parse_number(&p, &s, 0) != 0)
        fail_msg("%s: byte counts do not parse: %.120s", name, line);
    row->client = (unsigned long)c;
    row->server = (unsigned long)s;
    row->allocs_na = 0;
    for (int op = 0; op < 3; op++) {
        while (*p == ' ')
            p++;
        if (strncmp(p, "n/a", 3) == 0) {
            row->allocs_na = 1;
            p += 3;
        } else if (parse_number(&p, &row->allocs[op], 0) != 0 || row->allocs[op] < 0) {
            fail_msg("%s: allocations %d do not parse: %.120s", name, op, line);
        }
    }
    while (*p == ' ')
        p++;
    if (*p != '\n')
        fail_msg("%s: unexpected trailing text: %.120s", name, line);
}

/* FIPS 203 Table 3 (and the round-3 Kyber sizes, which are the same):
 * the client sends ek, the server the ciphertext. */
static const struct {
    const char *name;
    unsigned long ek, ct;
} kems[] = {
    {"ML-KEM-512", 800, 768},   {"ML-KEM-768", 1184, 1088}, {"ML-KEM-1024", 1568, 1568},
    {"Kyber512", 800, 768},     {"Kyber768", 1184, 1088},   {"Kyber1024", 1568, 1568},
};

static void check_ecdh_rows(const char *out);

static void check_kem_table(const char *all)
{
    /* Rows come after the column header; prose above it may start with any word. */
    const char *out = strstr(all, "\nalgorithm ");
    if (out == NULL)
        fail_msg("no table header in:\n%s", all);
    for (size_t i = 0; i < sizeof kems / sizeof kems[0]; i++) {
        struct row row;
        parse_row(out, kems[i].name, 0, &row);
        assert_int_equal(row.client, kems[i].ek);
        assert_int_equal(row.server, kems[i].ct);
        assert_int_equal(row.allocs_na, SANITIZED);
        /* The kem layer never allocates (STYLE.md): counted, not assumed. */
        for (int op = 0; op < 3 && !row.allocs_na; op++)
            assert_true(row.allocs[op] == 0.0);
    }
    check_ecdh_rows(out);
}

/* out: from the column header on. */
static void check_ecdh_rows(const char *out)
{
    struct row x25519, p256;
    parse_row(out, "X25519", 1, &x25519);
    parse_row(out, "P-256", 1, &p256);
    /* RFC 8446 §4.2.8.2: X25519 shares are 32 bytes, P-256 an uncompressed point. */
    assert_int_equal(x25519.client, 32);
    assert_int_equal(x25519.server, 32);
    assert_int_equal(p256.client, 65);
    assert_int_equal(p256.server, 65);
    /* X25519 derive is the unit, so its ratio is 1 by construction; the check is on
     * the arithmetic and the layout, not on a timing. */
    assert_true(fabs(x25519.x[2] - 1.0) < 0.005);
    assert_int_equal(x25519.allocs_na, SANITIZED);
    assert_int_equal(p256.allocs_na, SANITIZED);
    /* EVP_PKEY_keygen returns a new EVP_PKEY: a counter that saw no allocation
     * there would be counting nothing. */
    if (!SANITIZED) {
        assert_true(x25519.allocs[0] >= 1.0);
        assert_true(p256.allocs[0] >= 1.0);
    }
}

/* --backend all with two or more backends: one row per KEM operation, an ns/x pair
 * per backend, then a speed-up per later backend, then allocations. */
static void check_multi_table(const char *out, size_t n_backends)
{
    static const char *const ops[] = {"keygen", "encaps", "decaps"};
    const char *table = strstr(out, "\nalgorithm ");
    assert_non_null(table);
    for (size_t i = 0; i < sizeof kems / sizeof kems[0]; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "\n%s ", kems[i].name);
        const char *line = strstr(table, needle);
        if (line == NULL)
            fail_msg("no rows for %s in:\n%s", kems[i].name, out);
        line += strlen(needle);
        for (int op = 0; op < 3; op++) {
            const char *p = line;
            while (*p == ' ')
                p++;
            if (strncmp(p, ops[op], strlen(ops[op])) != 0)
                fail_msg("%s: expected the %s row: %.120s", kems[i].name, ops[op], line);
            p += strlen(ops[op]);
            for (size_t b = 0; b < n_backends; b++) {
                double ns, x;
                if (parse_number(&p, &ns, 0) != 0 || parse_number(&p, &x, 0) != 0 || ns <= 0 ||
                    x <= 0)
                    fail_msg("%s %s: backend %zu does not parse: %.120s", kems[i].name, ops[op],
                             b, line);
            }
            for (size_t b = 1; b < n_backends; b++) {
                char *end;
                double up = strtod(p, &end);
                if (end == p || *end != 'x' || !(up > 0))
                    fail_msg("%s %s: speed-up does not parse: %.120s", kems[i].name, ops[op],
                             line);
                p = end + 1;
            }
            while (*p == ' ')
                p++;
            if (SANITIZED)
                assert_true(strncmp(p, "n/a\n", 4) == 0);
            else
                assert_true(strncmp(p, "0\n", 2) == 0);
            line = strchr(p, '\n') + 1;
        }
    }
}

static void test_bench_kem_quick(void **state)
{
    (void)state;
    struct result r = run("bench", "kem", "--quick", NULL);
    if (r.status != 0)
        fail_msg("pqify bench kem --quick exited %d:\n%s", r.status, r.err);
    expect_in(r.out, "31 runs per figure");
    /* A container may forbid sched_setaffinity; the header must say either way. */
    assert_true(strstr(r.out, "; pinned to CPU ") != NULL || strstr(r.out, "; not pinned") != NULL);
    check_kem_table(r.out);
    expect_in(r.out, "Kyber512 encaps / P-256 derive");
    /* Every backend with targets shows them with a verdict. */
    if (strstr(r.out, "no targets are set") == NULL) {
        const char *t = strstr(r.out, "ML-KEM-768 in X25519 derives");
        assert_non_null(t);
        t = strstr(t, "target <= ");
        assert_non_null(t);
        assert_true(strstr(t, "  ok\n") != NULL || strstr(t, "  MISSED\n") != NULL);
    }
    done(&r);
}

static void test_bench_kem_options(void **state)
{
    (void)state;
    struct result r = run("bench", "kem", "--quick", "--runs=7", "--backend", "portable", NULL);
    if (r.status != 0)
        fail_msg("exited %d:\n%s", r.status, r.err);
    expect_in(r.out, "backend: portable; 7 runs per figure");
    check_kem_table(r.out);
    done(&r);

    r = run("bench", "kem", "--quick", "--runs", "5", "--backend", "all", NULL);
    if (r.status != 0)
        fail_msg("exited %d:\n%s", r.status, r.err);
    expect_in(r.out, "5 runs per figure");
    if (strstr(r.out, "backends: ") != NULL) {
        /* Count the backends named in the header. */
        const char *h = strstr(r.out, "backends: ") + strlen("backends: ");
        size_t n = 1;
        for (; *h != ';' && *h != '\0'; h++)
            n += *h == ' ';
        assert_true(n >= 2);
        expect_in(r.out, "speed-up");
        check_multi_table(r.out, n);
        const char *ecdh = strstr(r.out, "classical reference");
        assert_non_null(ecdh);
        ecdh = strstr(ecdh, "\nalgorithm ");
        assert_non_null(ecdh);
        check_ecdh_rows(ecdh);
    } else {
        check_kem_table(r.out); /* one backend on this CPU: the single layout */
    }
    done(&r);

    r = run("bench", "kem", "--quick", "--runs", "5", "--json", NULL);
    if (r.status != 0)
        fail_msg("exited %d:\n%s", r.status, r.err);
    assert_true(r.out[0] == '{');
    assert_true(strcmp(r.out + strlen(r.out) - 2, "}\n") == 0);
    for (size_t i = 0; i < sizeof kems / sizeof kems[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"algorithm\":\"%s\"", kems[i].name);
        expect_in(r.out, key);
    }
    expect_in(r.out, "\"algorithm\":\"X25519\"");
    expect_in(r.out, "\"algorithm\":\"P-256\"");
    expect_in(r.out, SANITIZED ? "\"allocs_counted\":false" : "\"allocs_counted\":true");
    done(&r);
}

static void test_demo_quick(void **state)
{
    (void)state;
    /* the report in a folder of its own (the default is ./pqify-demo-report) */
    char out[] = "/tmp/pqify-cli-demo.XXXXXX";
    assert_non_null(mkdtemp(out));
    struct result r = run("demo", "--quick", "--out", out, NULL);
    static const char *const files[] = {"report.html", "table1.svg", "fig1.svg", "fig2.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        if (r.status == 0 && access(path, R_OK) != 0)
            fail_msg("pqify demo --quick --out %s wrote no %s", out, files[i]);
        unlink(path);
    }
    rmdir(out);
    if (r.status != 0)
        fail_msg("pqify demo --quick exited %d:\n%s", r.status, r.err);
    expect_in(r.out, "== step 1/");
    expect_in(r.out, "== step 2/");
    check_kem_table(r.out);
    /* Step 3: one local handshake per group, with the group the pair agreed on. */
    expect_in(r.out, "== step 3/8: a TLS 1.3 handshake per group");
    static const struct {
        const char *label, *group, *pq, *hrr;
        size_t min_c2s; /* the client's share alone */
    } rows[] = {
        {"X25519MLKEM768", "X25519MLKEM768", "yes", "no", 1216},
        {"SecP256r1MLKEM768", "SecP256r1MLKEM768", "yes", "no", 1249},
        {"SecP384r1MLKEM1024", "SecP384r1MLKEM1024", "yes", "no", 1665},
        {"X25519", "x25519", "no", "no", 32},
        {"P-256", "secp256r1", "no", "no", 65},
        {"P256Kyber512 (legacy)", "P256Kyber512", "yes", "no", 865},
        {"default -> P-256 hybrid only", "SecP256r1MLKEM768", "yes", "yes", 1216 + 1249},
    };
    const char *table = strstr(r.out, "offered -> server");
    assert_non_null(table);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char head[64];
        snprintf(head, sizeof head, "\n%s ", rows[i].label);
        const char *line = strstr(table, head);
        if (line == NULL)
            fail_msg("demo row %s missing:\n%s", rows[i].label, table);
        char group[64], pq[8], hrr[8];
        size_t c2s, s2c;
        double us, ratio;
        line += strlen(head);
        if (sscanf(line, "%63s %7s %7s %zu %zu %lf %lfx", group, pq, hrr, &c2s, &s2c, &us,
                   &ratio) != 7)
            fail_msg("demo row %s does not parse: %.120s", rows[i].label, line);
        assert_string_equal(group, rows[i].group);
        assert_string_equal(pq, rows[i].pq);
        assert_string_equal(hrr, rows[i].hrr);
        assert_true(c2s >= rows[i].min_c2s && s2c > 0 && us > 0 && ratio > 0);
    }
    done(&r);
}

/* `line` starts with `what`, then a ratio "1.23x", then (after spaces) `then`. */
static void expect_ratio(const char *line, const char *what, const char *then)
{
    double ratio;
    int after = -1;
    if (line == NULL)
        fail_msg("ratio line '%s' missing", what);
    const char *rest = line + strlen(what);
    if (strncmp(line, what, strlen(what)) != 0 || sscanf(rest, " %lfx%n", &ratio, &after) != 1 ||
        after < 0 || !(ratio > 0))
        fail_msg("ratio line does not parse: %.100s", line);
    rest += after + strspn(rest + after, " ");
    if (strncmp(rest, then, strlen(then)) != 0)
        fail_msg("'%s' expected after the ratio: %.100s", then, line);
}

/* `pqify bench handshake --quick`: every row is there and its figures parse. */
static void test_bench_handshake_quick(void **state)
{
    (void)state;
    struct result r = run("bench", "handshake", "--quick", NULL);
    if (r.status != 0)
        fail_msg("pqify bench handshake --quick exited %d:\n%s\n%s", r.status, r.out, r.err);
    expect_in(r.out, "2 rounds x 4 handshakes per row");
    expect_in(r.out, "baseline: OpenSSL 3.");
    static const struct {
        const char *server, *group, *pq;
    } rows[] = {
        {"pqify", "X25519MLKEM768", "yes"},     {"pqify", "x25519", "no"},
        {"pqify", "SecP256r1MLKEM768", "yes"},  {"pqify", "secp256r1", "no"},
        {"pqify", "SecP384r1MLKEM1024", "yes"}, {"pqify", "MLKEM768", "yes"},
        {"pqify", "X25519Kyber768Draft00", "yes"},
        {"libssl", "x25519", "no"},             {"libssl", "secp256r1", "no"},
        {"pqify", "resumed:X25519MLKEM768", "yes"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char head[64];
        snprintf(head, sizeof head, "\n%-7s %-22s ", rows[i].server, rows[i].group);
        const char *line = strstr(r.out, head);
        if (line == NULL)
            fail_msg("row '%s' missing:\n%s", head + 1, r.out);
        char pq[8], hrr[8];
        double cpu, engine, rate, p50, p99;
        size_t c2s, s2c;
        if (sscanf(line + strlen(head), "%7s %lf %lf %lf %lf %lf %7s %zu %zu", pq, &cpu, &engine,
                   &rate, &p50, &p99, hrr, &c2s, &s2c) != 9)
            fail_msg("row '%s' does not parse: %.120s", head + 1, line + 1);
        assert_string_equal(pq, rows[i].pq);
        assert_string_equal(hrr, "no");
        assert_true(cpu > 0 && rate > 0 && p50 > 0 && p99 >= p50 && c2s > 0 && s2c > 0);
        /* the engine's spans lie inside the connection's span on the same clock,
         * round by round, so their medians keep that order too */
        if (!(engine > 0 && engine <= cpu))
            fail_msg("row '%s': engine_us/hs %.1f not within (0, cpu_us/hs %.1f]", head + 1,
                     engine, cpu);
    }
    /* the resumed row skips the certificate: fewer bytes from the server (the
     * bench itself fails when a handshake of that row did not resume) */
    const char *full = strstr(r.out, "\npqify   X25519MLKEM768 ");
    const char *res = strstr(r.out, "\npqify   resumed:X25519MLKEM768 ");
    size_t full_s2c = 0, res_s2c = 0;
    assert_non_null(full);
    assert_non_null(res);
    assert_int_equal(sscanf(full + 1, "%*s %*s %*s %*f %*f %*f %*f %*f %*s %*u %zu", &full_s2c),
                     1);
    assert_int_equal(sscanf(res + 1, "%*s %*s %*s %*f %*f %*f %*f %*f %*s %*u %zu", &res_s2c), 1);
    assert_true(res_s2c < full_s2c);

    const char *mem = strstr(r.out, "memory per idle established server connection");
    assert_non_null(mem);
    for (size_t i = 0; i < 2; i++) {
        const char *who = i == 0 ? "\n  pqify " : "\n  libssl ";
        const char *line = strstr(mem, who);
        assert_non_null(line);
        double bytes;
        if (SANITIZED)
            expect_in(line, "n/a");
        else if (sscanf(line + strlen(who), " %lf bytes", &bytes) != 1 || bytes <= 0)
            fail_msg("memory line does not parse: %.100s", line + 1);
    }
    const char *bulk = strstr(r.out, "MB/s of application data per core");
    assert_non_null(bulk);
    for (size_t i = 0; i < 2; i++) {
        const char *who = i == 0 ? "\n  pqify " : "\n  libssl ";
        const char *line = strstr(bulk, who);
        double send, recv;
        assert_non_null(line);
        if (sscanf(line + strlen(who), " send %lf receive %lf", &send, &recv) != 2 ||
            !(send > 0 && recv > 0))
            fail_msg("bulk line does not parse: %.100s", line + 1);
    }
    /* the primitives-alone lines: one figure per primitive, their sum and its
     * ratio, and what is left for pqify's TLS work (it may be negative) */
    const char *fl = strstr(r.out, "\nthe primitives alone");
    assert_non_null(fl);
    static const char *const prims[] = {"X25519 key pair and shared secret",
                                        "ML-KEM-768 encapsulation",
                                        "SHA-256 and ECDSA P-256 signature"};
    double sum = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *line = strstr(fl, prims[i]);
        double us = 0;
        if (line == NULL || sscanf(line + strlen(prims[i]), " %lf", &us) != 1 || !(us > 0))
            fail_msg("primitive line '%s' missing or unparsable:\n%s", prims[i], fl);
        sum += us;
    }
    const char *together = strstr(fl, "\n  together ");
    double all = 0, of_libssl = 0, tls_work = 0, left = 0;
    if (together == NULL ||
        sscanf(together, " together %lf = %lfx of libssl", &all, &of_libssl) != 2 ||
        !(all > 0 && of_libssl > 0) || fabs(all - sum) > 0.25 /* four roundings to 0.1 */)
        fail_msg("'together' line missing, unparsable or not the sum (%.1f):\n%s", sum, fl);
    const char *work = strstr(fl, "TLS work (engine_us/hs - together): ");
    if (work == NULL || sscanf(work, "TLS work (engine_us/hs - together): %lf us; the 0.50x\n"
                                     "  target leaves %lf us", &tls_work, &left) != 2)
        fail_msg("TLS-work line missing or unparsable:\n%s", fl);

    /* the two CPU targets are judged on engine_us/hs; the same ratios of
     * cpu_us/hs follow as information, without a verdict */
    const char *t = strstr(r.out, "\ntargets (ratios of engine_us/hs");
    const char *info = strstr(r.out, "\nthe same ratios of cpu_us/hs");
    if (t == NULL || info == NULL || info < t)
        fail_msg("targets, then the cpu_us/hs ratios, expected:\n%s", r.out);
    static const char *const targets[] = {"pqify X25519MLKEM768 / libssl X25519",
                                          "pqify X25519MLKEM768 / pqify X25519",
                                          "pqify idle connection - record buffer"};
    for (size_t i = 0; i < 3; i++) {
        const char *line = strstr(t, targets[i]);
        if (line == NULL || line > info)
            fail_msg("target line '%s' missing:\n%s", targets[i], t);
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        int verdict = (end - line > 6 && strncmp(end - 6, "MISSED", 6) == 0) ||
                      (end - line > 2 && strncmp(end - 2, "ok", 2) == 0);
        if (!verdict && !(i == 2 && SANITIZED))
            fail_msg("target line without ok/MISSED: %.*s", (int)(end - line), line);
        if (i < 2) {
            expect_ratio(line, targets[i], "target <= ");
            expect_ratio(strstr(info, targets[i]), targets[i], "\n");
        }
    }
    done(&r);
}

static void test_scan_usage(void **state)
{
    (void)state;
    struct result r = run("scan", "--help", NULL);
    assert_int_equal(r.status, 0);
    expect_in(r.out, "usage: pqify scan HOST:PORT");
    done(&r);
    r = run("scan", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "HOST:PORT is missing");
    done(&r);
    r = run("scan", "127.0.0.1:1", "--ca", "x.pem", "--insecure", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "--ca and --insecure exclude each other");
    done(&r);
    r = run("scan", "no-port", NULL);
    assert_int_equal(r.status, 2);
    expect_in(r.err, "is not HOST:PORT");
    done(&r);
    r = run("scan", "127.0.0.1:1", "--timeout", "0", NULL);
    assert_int_equal(r.status, 2);
    done(&r);
    r = run("bench", "handshake", "--rounds", "0", NULL);
    assert_int_equal(r.status, 2);
    done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_help),        cmocka_unit_test(test_command_help),
        cmocka_unit_test(test_usage_errors),    cmocka_unit_test(test_option_tables),
        cmocka_unit_test(test_bench_kem_quick),
        cmocka_unit_test(test_bench_kem_options), cmocka_unit_test(test_demo_quick),
        cmocka_unit_test(test_bench_handshake_quick), cmocka_unit_test(test_scan_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
