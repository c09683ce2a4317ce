/* Helpers for the net tests: run a program on some input and read what it prints;
 * run a libuv loop until a flag or a bound in time. */
#ifndef PQIFY_NET_TEST_H
#define PQIFY_NET_TEST_H

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
#include <uv.h>

/* Write text to a temporary file; returns its path (static storage per call site is
 * not needed: the caller frees). */
static inline char *nt_temp_file(const char *text, size_t len, const char *suffix)
{
    char *path = malloc(64);
    assert_non_null(path);
    snprintf(path, 64, "/tmp/pqify-net-test-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Run a shell command with text on its stdin; returns its exit status and puts what
 * it printed (stdout and stderr) in *out (malloc'd, NUL-terminated). */
static inline int nt_run(const char *cmd, const char *text, size_t len, char **out)
{
    char *in = nt_temp_file(text, len, ".in");
    char *full = malloc(strlen(cmd) + 200);
    assert_non_null(full);
    sprintf(full, "( %s ) < %s 2>&1", cmd, in);   /* the whole pipeline reads the file */
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[n] = '\0';
    int status = pclose(p);
    unlink(in);
    free(in);
    free(full);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}


static void nt_on_bound(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *flag becomes non-zero or ms pass; returns *flag. Every test
 * loop is bounded in time, so a bug fails the test instead of hanging it. */
static inline int nt_run_until(uv_loop_t *loop, const volatile int *flag, uint64_t ms)
{
    uv_timer_t bound;
    int expired = 0;
    uv_timer_init(loop, &bound);
    bound.data = &expired;
    uv_timer_start(&bound, nt_on_bound, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&bound, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

/* Runs the loop for ms (to let things that must NOT happen have their chance). */
static inline void nt_run_for(uv_loop_t *loop, uint64_t ms)
{
    static const int never = 0;
    (void)nt_run_until(loop, &never, ms);
}

/* Closes every handle still open and runs the loop until they are released. */
static void nt_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static inline void nt_loop_close(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    uv_walk(loop, nt_close_walk, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

#endif
