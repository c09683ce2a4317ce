/* Commands of the pqify binary. Each gets argv starting at its own name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef PQIFY_CLI_H
#define PQIFY_CLI_H

#include <stddef.h>

struct pqify_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int pqify_cmd_demo(int argc, char **argv);
int pqify_cmd_bench(int argc, char **argv);
int pqify_cmd_serve(int argc, char **argv);
int pqify_cmd_connect(int argc, char **argv);
int pqify_cmd_scan(int argc, char **argv);

/* pqify-bench beside this binary: its path (0, or -1), and running it with argv
 * (argv[0] its name): exec'd in place, or waited for (wait_for_it = 1, returning
 * its exit status). A missing pqify-bench is said in words; then 1. */
int pqify_bench_path(char *out, size_t cap);
int pqify_run_bench(const char *cmd, char **argv, int wait_for_it);

/* 1 if argv holds --help or -h (the caller prints its usage and returns 0). */
int pqify_wants_help(int argc, char **argv);

/*
 * Option helpers, so that every command parses and complains alike.
 *
 * pqify_cli_value: if argv[*i] is "--name VALUE" or "--name=VALUE", sets *value,
 * leaves *i on the last argument it used (the value, or the "--name=VALUE" word)
 * and returns 1, so that the caller's `for (...; i++)` steps past it; returns 0,
 * *i and *value untouched, if argv[*i] is anything else; returns -1 after printing
 * "pqify <cmd>: --name needs a value (see pqify <cmd> --help)" if the value is
 * missing. Every command parses its valued options with it.
 */
int pqify_cli_value(const char *cmd, int argc, char **argv, int *i, const char *name,
                    const char **value);

/* Parses a decimal in [min, max] into *out; 0 ok, -1 (error printed) otherwise. */
int pqify_cli_uint(const char *cmd, const char *option, const char *text, unsigned long min,
                   unsigned long max, unsigned long *out);

/* Prints "pqify <cmd>: unknown option 'arg' (see pqify <cmd> --help)" and returns 2. */
int pqify_cli_unknown(const char *cmd, const char *arg);

#endif
