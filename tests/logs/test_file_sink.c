/* The file sink: appends and fsyncs per stream, rotates by size, keeps tags inside its
 * directory, and on a full disk reports the chunk as not durable with the file cut back
 * to its last whole chunk, so a retry after space returns writes the chunk once.
 * Disk full is a real 64 KiB tmpfs (mount(2); we run as root) and, separately, a
 * RLIMIT_FSIZE limit (EFBIG), which works without privileges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pqify/logs.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(g_dir, "/tmp/pqify_sink_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "%s/tmpfs", g_dir);
    (void)umount2(cmd, MNT_DETACH); /* still mounted if a check failed */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The whole file, NUL-terminated; *len its size. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *b;
    long n;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static void append_ok(pqify_file_sink *s, const char *tag, const char *lines)
{
    char err[256] = "";
    int r = pqify_file_sink_append(s, tag, strlen(tag), (const uint8_t *)lines, strlen(lines), err,
                                   sizeof err);
    if (r != 0)
        fail_msg("append: %s (%s)", err, pqify_logs_strerror(r));
}

static void test_append_and_streams(void **state)
{
    (void)state;
    char err[256];
    pqify_file_sink *s = pqify_file_sink_open(g_dir, 0, err, sizeof err);
    assert_non_null(s);
    append_ok(s, "app.web", "{\"a\":1}\n");
    append_ok(s, "app.db", "{\"b\":1}\n");
    append_ok(s, "app.web", "{\"a\":2}\n{\"a\":3}\n");
    char *web = slurp(g_dir, "app.web.jsonl", NULL), *db = slurp(g_dir, "app.db.jsonl", NULL);
    assert_string_equal(web, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
    assert_string_equal(db, "{\"b\":1}\n");
    free(web);
    free(db);
    /* a tag cannot climb out or hide: '/' and a leading '.' are escaped */
    append_ok(s, "../x/y", "{}\n");
    char *esc = slurp(g_dir, "%2E.%2Fx%2Fy.jsonl", NULL);
    assert_non_null(esc);
    free(esc);
    assert_int_equal(pqify_file_sink_append(s, "", 0, (const uint8_t *)"{}\n", 3, err, sizeof err),
                     PQIFY_LOGS_ERR_BAD_TAG);
    pqify_file_sink_close(s);
    /* a new sink continues the same file */
    s = pqify_file_sink_open(g_dir, 0, err, sizeof err);
    append_ok(s, "app.db", "{\"b\":2}\n");
    db = slurp(g_dir, "app.db.jsonl", NULL);
    assert_string_equal(db, "{\"b\":1}\n{\"b\":2}\n");
    free(db);
    pqify_file_sink_close(s);
    assert_null(pqify_file_sink_open("/nonexistent/dir", 0, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir: No such file or directory"));
}

static void test_rotation(void **state)
{
    (void)state;
    char err[256], line[64];
    pqify_file_sink *s = pqify_file_sink_open(g_dir, 100, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < 10; i++) { /* 10 chunks of 40 bytes: two per file */
        snprintf(line, sizeof line, "{\"seq\":%02d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}\n", i);
        assert_int_equal(strlen(line), 40);
        append_ok(s, "r", line);
    }
    pqify_file_sink_close(s);
    for (int f = 1; f <= 5; f++) {
        char name[32], want[128];
        snprintf(name, sizeof name, f < 5 ? "r.jsonl.%d" : "r.jsonl", f);
        snprintf(want, sizeof want,
                 "{\"seq\":%02d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}\n{\"seq\":%02d,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}\n",
                 2 * f - 2, 2 * f - 1);
        char *got = slurp(g_dir, name, NULL);
        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
    }
    /* a restarted sink does not reuse a rotated name */
    s = pqify_file_sink_open(g_dir, 100, err, sizeof err);
    append_ok(s, "r", "{\"seq\":10,\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}\n");
    char *r5 = slurp(g_dir, "r.jsonl.5", NULL);
    assert_non_null(r5);
    free(r5);
    pqify_file_sink_close(s);
}

/* Appends 3000-byte chunks until the disk says no; checks the file holds exactly the
 * whole chunks reported durable; frees room with free_room(); retries the failed chunk. */
static void fill_and_recover(const char *dir, void (*free_room)(void), int want_err)
{
    char err[256] = "", chunk[3000];
    pqify_file_sink *s = pqify_file_sink_open(dir, 1 << 30, err, sizeof err);
    int ok = 0, r = 0;
    size_t len;
    assert_non_null(s);
    for (int i = 0; i < 100; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk - 1);
        chunk[sizeof chunk - 1] = '\n';
        r = pqify_file_sink_append(s, "full", 4, (const uint8_t *)chunk, sizeof chunk, err, sizeof err);
        if (r != 0)
            break;
        ok++;
    }
    assert_int_equal(r, PQIFY_LOGS_ERR_NOSPACE);
    assert_true(ok > 0);
    assert_non_null(strstr(err, strerror(want_err)));
    assert_non_null(strstr(err, "full.jsonl"));
    char *b = slurp(dir, "full.jsonl", &len);
    assert_int_equal(len, (size_t)ok * sizeof chunk); /* the partial chunk was cut back */
    for (int i = 0; i < ok; i++)
        assert_int_equal(b[(size_t)i * sizeof chunk], 'a' + i % 26);
    free(b);
    free_room();
    /* the retry of the failed chunk lands once */
    r = pqify_file_sink_append(s, "full", 4, (const uint8_t *)chunk, sizeof chunk, err, sizeof err);
    if (r != 0)
        fail_msg("retry: %s", err);
    b = slurp(dir, "full.jsonl", &len);
    assert_int_equal(len, (size_t)(ok + 1) * sizeof chunk);
    assert_int_equal(b[(size_t)ok * sizeof chunk], 'a' + ok % 26);
    assert_int_equal(b[len - 1], '\n');
    free(b);
    pqify_file_sink_close(s);
}

static char g_tmpfs[80];

static void remove_filler(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/filler", g_tmpfs);
    assert_int_equal(unlink(p), 0);
}

static void test_disk_full_tmpfs(void **state)
{
    (void)state;
    char p[128];
    snprintf(g_tmpfs, sizeof g_tmpfs, "%s/tmpfs", g_dir);
    assert_int_equal(mkdir(g_tmpfs, 0700), 0);
    if (mount("tmpfs", g_tmpfs, "tmpfs", 0, "size=64k") != 0) {
        /* the RLIMIT_FSIZE test below still runs; say why this one could not */
        print_message("tmpfs mount refused (%s): disk full tested with RLIMIT_FSIZE only\n",
                      strerror(errno));
        skip();
    }
    print_message("disk full: a 64 KiB tmpfs at %s\n", g_tmpfs);
    /* 16 KiB of filler that free_room() deletes */
    snprintf(p, sizeof p, "%s/filler", g_tmpfs);
    FILE *f = fopen(p, "wb");
    static char fill[16384];
    assert_int_equal(fwrite(fill, 1, sizeof fill, f), sizeof fill);
    fclose(f);
    fill_and_recover(g_tmpfs, remove_filler, ENOSPC);
    assert_int_equal(umount(g_tmpfs), 0);
}

static void raise_fsize(void)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void test_disk_full_rlimit(void **state)
{
    (void)state;
    struct rlimit rl = {40000, RLIM_INFINITY};
    signal(SIGXFSZ, SIG_IGN); /* write() then fails with EFBIG instead of killing us */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
    fill_and_recover(g_dir, raise_fsize, EFBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_tmpfs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_rlimit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
