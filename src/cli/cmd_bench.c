/*
 * pqify bench <what>: runs pqify-bench, built and installed beside pqify. The
 * benchmarks live in their own executable because they link libssl (the
 * baseline) and define malloc (the allocation counter); the production binary
 * does neither (DESIGN.md "Layers").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

/* Says why pqify-bench could not be run; returns 1. */
static int cannot_run(const char *cmd, const char *path, int err)
{
    fprintf(stderr, "pqify %s: cannot run %s: %s (pqify-bench is built and installed beside "
                    "the pqify binary)\n", cmd, path, strerror(err));
    return 1;
}

int pqify_run_bench(const char *cmd, char **argv, int wait_for_it)
{
    char path[PATH_MAX + 16];
    if (pqify_cli_sibling_path("pqify-bench", path, sizeof path) != 0) {
        fprintf(stderr, "pqify %s: cannot find this program's directory (/proc/self/exe): %s\n",
                cmd, strerror(errno));
        return 1;
    }
    if (access(path, X_OK) != 0)
        return cannot_run(cmd, path, errno);
    fflush(NULL);
    if (!wait_for_it) {
        execv(path, argv);
        return cannot_run(cmd, path, errno);
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "pqify %s: fork: %s\n", cmd, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execv(path, argv);
        cannot_run(cmd, path, errno);
        _exit(127);
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR)
            return 1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
}

int pqify_cmd_bench(int argc, char **argv)
{
    (void)argc;
    static char name[] = "pqify-bench";
    argv[0] = name;   /* argv[argc] is NULL, as execv wants */
    return pqify_run_bench("bench", argv, 0);
}
