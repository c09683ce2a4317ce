/* The forwarder's spool: order, acks, the byte bound (full -> pause), restart recovery,
 * torn and stray files, and real crashes: a child that _exit()s inside write() (its
 * SIGXFSZ handler, set off by RLIMIT_FSIZE mid-batch) and a child SIGKILLed while
 * spooling in a loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pqify/logs.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(g_dir, "/tmp/pqify_spool_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void chunk_of(int i, char c[PQIFY_FWD_CHUNK_ID_LEN + 1])
{
    snprintf(c, PQIFY_FWD_CHUNK_ID_LEN + 1, "chunk%019d", i);
}

/* Batch i: len bytes of "b<i>." repeated. */
static size_t payload_of(int i, uint8_t *p, size_t len)
{
    char unit[16];
    int ul = snprintf(unit, sizeof unit, "b%d.", i);
    for (size_t k = 0; k < len; k++)
        p[k] = (uint8_t)unit[k % (size_t)ul];
    return len;
}

static void put(pqify_spool *sp, int i, size_t len)
{
    char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], err[256] = "";
    uint8_t *p = malloc(len ? len : 1);
    uint64_t id;
    payload_of(i, p, len);
    chunk_of(i, chunk);
    int r = pqify_spool_put(sp, chunk, p, len, &id, err, sizeof err);
    if (r != 0)
        fail_msg("put %d: %s %s", i, pqify_logs_strerror(r), err);
    free(p);
}

/* The spool holds exactly batches want[0..n) in this order, each intact. */
static void expect(pqify_spool *sp, const int *want, size_t n, size_t len_of_each)
{
    pqify_spool_stats st;
    pqify_spool_stat(sp, &st);
    assert_int_equal(st.batches, n);
    for (size_t k = 0; k < n; k++) {
        char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1], wc[PQIFY_FWD_CHUNK_ID_LEN + 1];
        uint8_t *data = NULL, *w;
        size_t len = 0;
        uint64_t id;
        assert_int_equal(pqify_spool_get(sp, k, &id, chunk, &data, &len), 0);
        chunk_of(want[k], wc);
        assert_string_equal(chunk, wc);
        if (len_of_each)
            assert_int_equal(len, len_of_each);
        w = malloc(len ? len : 1);
        payload_of(want[k], w, len);
        assert_memory_equal(data, w, len);
        free(w);
        free(data);
    }
    assert_int_equal(pqify_spool_get(sp, n, NULL, (char[25]){0}, &(uint8_t *){NULL}, &(size_t){0}),
                     PQIFY_LOGS_ERR_NOT_FOUND);
}

static void test_order_ack_restart(void **state)
{
    (void)state;
    char err[256], chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
    pqify_spool *sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    assert_non_null(sp);
    for (int i = 0; i < 5; i++)
        put(sp, i, 1000);
    expect(sp, (int[]){0, 1, 2, 3, 4}, 5, 1000);
    chunk_of(2, chunk);
    assert_int_equal(pqify_spool_ack(sp, chunk, 24), 0);
    assert_int_equal(pqify_spool_ack(sp, chunk, 24), PQIFY_LOGS_ERR_NOT_FOUND);
    expect(sp, (int[]){0, 1, 3, 4}, 4, 1000);
    pqify_spool_close(sp);
    sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    assert_non_null(sp);
    expect(sp, (int[]){0, 1, 3, 4}, 4, 1000);
    put(sp, 5, 10); /* after a restart, new batches still sort last */
    chunk_of(0, chunk);
    assert_int_equal(pqify_spool_ack(sp, chunk, 24), 0);
    pqify_spool_close(sp);
    sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    expect(sp, (int[]){1, 3, 4, 5}, 4, 0);
    pqify_spool_close(sp);
}

static void test_full_means_pause(void **state)
{
    (void)state;
    char err[256], chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
    uint8_t p[1000];
    pqify_spool_stats st;
    /* three 1040-byte files fit in 3200 bytes, a fourth does not */
    pqify_spool *sp = pqify_spool_open(g_dir, 3200, err, sizeof err);
    for (int i = 0; i < 3; i++)
        put(sp, i, 1000);
    chunk_of(3, chunk);
    payload_of(3, p, sizeof p);
    assert_int_equal(pqify_spool_put(sp, chunk, p, sizeof p, NULL, err, sizeof err),
                     PQIFY_LOGS_ERR_SPOOL_FULL);
    pqify_spool_stat(sp, &st);
    assert_int_equal(st.batches, 3);
    assert_true(st.bytes <= st.max_bytes);
    /* a batch that could never fit is a different error */
    uint8_t big[4000] = {0};
    assert_int_equal(pqify_spool_put(sp, chunk, big, sizeof big, NULL, err, sizeof err),
                     PQIFY_LOGS_ERR_TOO_LARGE);
    chunk_of(0, chunk);
    assert_int_equal(pqify_spool_ack(sp, chunk, 24), 0);
    put(sp, 3, 1000);
    expect(sp, (int[]){1, 2, 3}, 3, 1000);
    pqify_spool_close(sp);
}

static int count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        n += l > s && strcmp(de->d_name + l - s, suffix) == 0;
    }
    closedir(d);
    return n;
}

static void file_path(char *out, size_t cap, uint64_t seq, const char *suffix)
{
    snprintf(out, cap, "%s/%016llx%s", g_dir, (unsigned long long)seq, suffix);
}

static void test_torn_and_stray_files(void **state)
{
    (void)state;
    char err[256], path[256];
    pqify_spool_stats st;
    pqify_spool *sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    for (int i = 0; i < 4; i++)
        put(sp, i, 500);
    pqify_spool_close(sp);
    /* seq 4 (batch 3) cut short, seq 2 (batch 1) with one byte flipped, a stray .tmp */
    file_path(path, sizeof path, 4, ".batch");
    assert_int_equal(truncate(path, 300), 0);
    file_path(path, sizeof path, 2, ".batch");
    int fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "X", 1, 200), 1);
    close(fd);
    file_path(path, sizeof path, 9, ".tmp");
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_int_equal(write(fd, "PQSPOOL1", 8), 8);
    close(fd);

    sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    assert_non_null(sp);
    pqify_spool_stat(sp, &st);
    assert_int_equal(st.dropped_torn, 2);
    expect(sp, (int[]){0, 2}, 2, 500);
    assert_int_equal(count_suffix(g_dir, ".torn"), 2); /* kept aside, not resent */
    assert_int_equal(count_suffix(g_dir, ".tmp"), 0);
    put(sp, 7, 10); /* does not reuse the stray .tmp's sequence */
    pqify_spool_close(sp);
    file_path(path, sizeof path, 10, ".batch");
    assert_int_equal(access(path, F_OK), 0);
}

static void on_xfsz(int sig)
{
    (void)sig;
    _exit(3);
}

/* The child's 4th batch passes RLIMIT_FSIZE inside write(): SIGXFSZ, _exit(3). */
static void test_child_exits_mid_write(void **state)
{
    (void)state;
    char err[256];
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {3500, 3500};
        pqify_spool *sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
        signal(SIGXFSZ, on_xfsz);
        if (!sp || setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(1);
        for (int i = 1; i <= 5; i++) { /* files of 1040, 2040, 3040, 4040 ... bytes */
            char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
            static uint8_t p[5000];
            payload_of(i, p, (size_t)i * 1000);
            chunk_of(i, chunk);
            if (pqify_spool_put(sp, chunk, p, (size_t)i * 1000, NULL, err, sizeof err) != 0)
                _exit(2);
        }
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 3); /* died inside the 4th write */
    assert_int_equal(count_suffix(g_dir, ".tmp"), 1);
    assert_int_equal(count_suffix(g_dir, ".batch"), 3);

    pqify_spool *sp = pqify_spool_open(g_dir, 1 << 20, err, sizeof err);
    assert_non_null(sp);
    pqify_spool_stats s;
    pqify_spool_stat(sp, &s);
    assert_int_equal(s.dropped_torn, 0);
    expect(sp, (int[]){1, 2, 3}, 3, 0);
    assert_int_equal(count_suffix(g_dir, ".tmp"), 0);
    pqify_spool_close(sp);
}

/* SIGKILL at an unplanned point of a spooling loop: everything recovered is whole and
 * in order, nothing reported written is missing. */
static void test_child_killed_while_spooling(void **state)
{
    (void)state;
    char err[256];
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        pqify_spool *sp = pqify_spool_open(g_dir, 1ull << 30, err, sizeof err);
        static uint8_t p[20000];
        if (!sp)
            _exit(1);
        for (int i = 0; i < 100000; i++) {
            char chunk[PQIFY_FWD_CHUNK_ID_LEN + 1];
            size_t len = 1000 + (size_t)(i * 7919) % 19000;
            payload_of(i, p, len);
            chunk_of(i, chunk);
            if (pqify_spool_put(sp, chunk, p, len, NULL, err, sizeof err) != 0)
                _exit(2);
            if (write(pfd[1], &i, sizeof i) != sizeof i)
                _exit(3);
        }
        _exit(0);
    }
    close(pfd[1]);
    int last = -1, v;
    for (int k = 0; k < 30 && read(pfd[0], &v, sizeof v) == sizeof v; k++)
        last = v;
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    while (read(pfd[0], &v, sizeof v) == sizeof v) /* reported before the kill landed */
        last = v;
    close(pfd[0]);
    assert_true(last >= 29);

    pqify_spool *sp = pqify_spool_open(g_dir, 1ull << 30, err, sizeof err);
    assert_non_null(sp);
    pqify_spool_stats s;
    pqify_spool_stat(sp, &s);
    assert_int_equal(s.dropped_torn, 0);
    /* every reported batch is there; at most one more (renamed before it could report) */
    assert_true(s.batches == (uint64_t)last + 1 || s.batches == (uint64_t)last + 2);
    int *want = malloc(s.batches * sizeof *want);
    for (uint64_t i = 0; i < s.batches; i++)
        want[i] = (int)i;
    expect(sp, want, s.batches, 0);
    free(want);
    assert_int_equal(count_suffix(g_dir, ".tmp"), 0);
    pqify_spool_close(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_ack_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_means_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_and_stray_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_exits_mid_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_killed_while_spooling, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
