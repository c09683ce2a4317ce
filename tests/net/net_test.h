/* Helpers for the net tests: run a program on some input and read what it prints. */
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

#endif
