/* Commands of the pqify binary. Each gets argv starting at its own name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error). */
#ifndef PQIFY_CLI_H
#define PQIFY_CLI_H

struct pqify_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int pqify_cmd_demo(int argc, char **argv);
int pqify_cmd_bench(int argc, char **argv);

/* 1 if argv holds --help or -h (the caller prints its usage and returns 0). */
int pqify_wants_help(int argc, char **argv);

#endif
